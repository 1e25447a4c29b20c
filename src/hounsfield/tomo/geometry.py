"""Scan geometry as one model: per-view source/ray, detector centre and detector axes.

Every geometry is a list of views. Each view gives, in the tomography frame
(x, y[, z]) in mm (the Volume's LPS world frame when a Volume is projected):

* ``source``: the X-ray source position (cone and fan beams), or for parallel
  beams the unit direction in which the rays travel;
* ``detector``: the centre of the detector;
* ``u``: the step from one detector column to the next (length = column
  spacing in mm);
* ``v`` (3D only): the step from one detector row to the next.

This is ASTRA's "vec" geometry. Detector pixel ``(row r, column c)`` is
centred at ``detector + (c - (n_cols-1)/2) u + (r - (n_rows-1)/2) v``. A
curved (cylindrical) detector keeps ``detector`` and ``u`` as the centre and
tangent of the arc about the source: column c lies at fan angle
``(c - (n_cols-1)/2) |u| / sdd`` from the central ray. In 3D the cylinder's
axis is the line through the source along ``v``; a detector centre off the
source's plane (a row offset) lifts the whole cylinder along that axis.

Constructors follow one convention: at angle θ the parallel rays travel along
``(-sin θ, cos θ)`` and the detector axis is ``(cos θ, sin θ)``, so that a
parallel sinogram is the Radon transform ``p(θ, s) = ∫ f(s e_θ + t e_θ⊥) dt``;
a fan/cone source sits at ``sod · (sin θ, -cos θ)`` and the detector on the
opposite side at ``(sdd - sod) · (-sin θ, cos θ)``. The rotation axis is z
through the origin. Projections are stored (views, detector) in 2D and
(views, rows, columns) in 3D.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

__all__ = ["Geometry", "parallel_beam", "fan_beam", "cone_beam", "parallel_beam_3d", "from_vectors"]

_KINDS = ("parallel", "cone")


def _positive(value, name: str) -> float:
    value = float(value)
    if not value > 0 or not np.isfinite(value):
        raise ValueError(f"{name} must be a positive number of mm, got {value!r}")
    return value


def _count(value, name: str) -> int:
    if int(value) != value or int(value) < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


def _views(array, name: str, n_views: int, ndim: int) -> np.ndarray:
    array = np.asarray(array, dtype=float)
    if array.shape != (n_views, ndim) or not np.all(np.isfinite(array)):
        raise ValueError(f"{name} must be a finite array of shape ({n_views}, {ndim}), "
                         f"got shape {array.shape}")
    return array


@dataclass(frozen=True, eq=False)
class Geometry:
    """Per-view vectors of a parallel, fan or cone-beam scan (see the module docstring).

    Parameters
    ----------
    kind : 'parallel' or 'cone'
        'cone' with ``ndim=2`` is a fan beam.
    source : (n_views, ndim) array
        Source positions in mm ('cone'), or unit ray directions ('parallel').
    detector, u : (n_views, ndim) arrays
        Detector centres and column steps, mm.
    v : (n_views, 3) array, optional
        Row steps, mm (3D only).
    det_shape : tuple
        ``(n_cols,)`` in 2D, ``(n_rows, n_cols)`` in 3D.
    curved : bool
        Cylindrical detector (fan and cone beams only).
    angles_rad : (n_views,) array, optional
        Rotation angles of circular scans, kept for analytic reconstruction.
    sod_mm, sdd_mm : float, optional
        Source–origin and source–detector distances of circular scans.
    """

    kind: str
    source: np.ndarray
    detector: np.ndarray
    u: np.ndarray
    v: np.ndarray | None = None
    det_shape: tuple = ()
    curved: bool = False
    angles_rad: np.ndarray | None = None
    sod_mm: float | None = None
    sdd_mm: float | None = None
    ndim: int = field(init=False)

    def __post_init__(self):
        if self.kind not in _KINDS:
            raise ValueError(f"kind must be one of {_KINDS}, got {self.kind!r}")
        source = np.atleast_2d(np.asarray(self.source, dtype=float))
        n_views, ndim = source.shape
        if ndim not in (2, 3):
            raise ValueError(f"vectors must have 2 or 3 components, got {ndim}")
        object.__setattr__(self, "ndim", ndim)
        object.__setattr__(self, "source", _views(source, "source", n_views, ndim))
        object.__setattr__(self, "detector", _views(self.detector, "detector", n_views, ndim))
        object.__setattr__(self, "u", _views(self.u, "u", n_views, ndim))
        det_shape = tuple(_count(n, "det_shape") for n in np.atleast_1d(self.det_shape))
        if len(det_shape) != ndim - 1:
            raise ValueError(f"det_shape must have {ndim - 1} entries for a {ndim}D geometry, "
                             f"got {self.det_shape!r}")
        object.__setattr__(self, "det_shape", det_shape)
        if ndim == 3:
            if self.v is None:
                raise ValueError("a 3D geometry needs v, the detector row step")
            object.__setattr__(self, "v", _views(self.v, "v", n_views, 3))
        elif self.v is not None:
            raise ValueError("a 2D geometry has no v (detector row step)")
        if self.kind == "parallel":
            norms = np.linalg.norm(self.source, axis=1, keepdims=True)
            object.__setattr__(self, "source", self.source / norms)
            if self.curved:
                raise ValueError("a parallel beam has no curved detector")
        if self.curved and self.sdd_mm is None:
            raise ValueError("a curved detector needs sdd_mm, the radius of its arc")
        if self.angles_rad is not None:
            angles = np.asarray(self.angles_rad, dtype=float).reshape(-1)
            if angles.shape != (n_views,):
                raise ValueError(f"angles_rad must have {n_views} entries, got {angles.shape}")
            object.__setattr__(self, "angles_rad", angles)

    # -- shape ------------------------------------------------------------------

    @property
    def n_views(self) -> int:
        return self.source.shape[0]

    @property
    def projection_shape(self) -> tuple:
        """Shape of the projections: (views, cols) in 2D, (views, rows, cols) in 3D."""
        return (self.n_views, *self.det_shape)

    @property
    def is_fan(self) -> bool:
        return self.kind == "cone" and self.ndim == 2

    def __repr__(self) -> str:
        name = "fan" if self.is_fan else self.kind
        curved = ", curved" if self.curved else ""
        return (f"Geometry({name}, {self.ndim}D, views={self.n_views}, "
                f"det_shape={self.det_shape}{curved})")

    def select_views(self, views) -> Geometry:
        """The scan restricted to some views (indices or a slice), in the order given.

        >>> half = parallel_beam(180, 64).select_views(slice(0, 180, 2))
        >>> half.projection_shape, round(float(np.rad2deg(half.angles_rad[1])), 6)
        ((90, 64), 2.0)
        """
        indices = np.arange(self.n_views)[views] if isinstance(views, slice) else np.asarray(views)
        if indices.ndim != 1 or indices.size == 0 or not np.issubdtype(indices.dtype, np.integer):
            raise ValueError(f"views must be a non-empty 1D sequence of integers, got {views!r}")
        if indices.min() < 0 or indices.max() >= self.n_views:
            raise ValueError(f"views must lie in [0, {self.n_views - 1}], "
                             f"got {indices.min()}..{indices.max()}")

        def pick(array):
            return None if array is None else array[indices]

        return Geometry(self.kind, self.source[indices], self.detector[indices],
                        self.u[indices], pick(self.v), det_shape=self.det_shape,
                        curved=self.curved, angles_rad=pick(self.angles_rad),
                        sod_mm=self.sod_mm, sdd_mm=self.sdd_mm)

    # -- rays ---------------------------------------------------------------------

    def pixel_centers(self, view: int | None = None) -> np.ndarray:
        """Detector pixel centres in mm: (views, *det_shape, ndim), or one view's."""
        views = slice(None) if view is None else slice(view, view + 1)
        columns = np.arange(self.det_shape[-1]) - (self.det_shape[-1] - 1) / 2
        centre, u = self.detector[views], self.u[views]
        if self.curved:
            points = self._arc_points(views, columns)
        else:
            points = centre[:, None, :] + columns[None, :, None] * u[:, None, :]
        if self.ndim == 3:
            rows = np.arange(self.det_shape[0]) - (self.det_shape[0] - 1) / 2
            row_steps = rows[None, :, None, None] * self.v[views][:, None, None, :]
            points = points[:, None, :, :] + row_steps
        return points if view is None else points[0]

    def arc_rise(self, views: slice = slice(None)) -> np.ndarray:
        """Lift of the detector centre along ``v`` off the source's plane: (views, ndim), mm.

        The source's plane is the one through the source perpendicular to
        ``v``; a curved detector's arc lies this far above it. Zeros in 2D.

        >>> g = cone_beam(4, (8, 16), 2.0, sod_mm=100, sdd_mm=200, offsets=(0.0, 3.0),
        ...               curved=True)
        >>> g.arc_rise()[0].tolist()
        [0.0, 0.0, 3.0]
        """
        central = self.detector[views] - self.source[views]
        if self.v is None:
            return np.zeros_like(central)
        v_unit = self.v[views] / np.linalg.norm(self.v[views], axis=1, keepdims=True)
        return np.einsum("ij,ij->i", central, v_unit)[:, None] * v_unit

    def _arc_points(self, views: slice, columns: np.ndarray) -> np.ndarray:
        source, u = self.source[views], self.u[views]
        du = np.linalg.norm(u, axis=1, keepdims=True)
        gamma = columns[None, :] * du / self.sdd_mm
        rise = self.arc_rise(views)
        central = self.detector[views] - source - rise
        radius = np.linalg.norm(central, axis=1, keepdims=True)
        along = central / radius
        tangent = u / du
        arc = (np.cos(gamma)[..., None] * along[:, None, :]
               + np.sin(gamma)[..., None] * tangent[:, None, :])
        return (source + rise)[:, None, :] + radius[:, None, :] * arc

    def rays(self) -> tuple[np.ndarray, np.ndarray]:
        """(starts, directions) of every ray, each of shape (*projection_shape, ndim).

        For cone and fan beams a ray starts at the source and its direction
        points to the pixel centre; for parallel beams it passes through the
        pixel centre along the beam direction. Directions are unit vectors.
        """
        pixels = self.pixel_centers()
        expand = (slice(None),) + (None,) * (self.ndim - 1)
        if self.kind == "parallel":
            directions = np.broadcast_to(self.source[expand], pixels.shape)
            return pixels, directions.copy()
        starts = np.broadcast_to(self.source[expand], pixels.shape).copy()
        directions = pixels - starts
        return starts, directions / np.linalg.norm(directions, axis=-1, keepdims=True)

    # -- serialisation ------------------------------------------------------------

    def to_dict(self) -> dict:
        data = {"kind": self.kind, "ndim": self.ndim, "det_shape": list(self.det_shape),
                "curved": self.curved, "source": self.source.tolist(),
                "detector": self.detector.tolist(), "u": self.u.tolist()}
        if self.v is not None:
            data["v"] = self.v.tolist()
        for key in ("sod_mm", "sdd_mm"):
            if getattr(self, key) is not None:
                data[key] = getattr(self, key)
        if self.angles_rad is not None:
            data["angles_rad"] = self.angles_rad.tolist()
        return data

    @classmethod
    def from_dict(cls, data: dict) -> Geometry:
        known = {"kind", "source", "detector", "u", "v", "det_shape", "curved", "angles_rad",
                 "sod_mm", "sdd_mm"}
        return cls(**{key: value for key, value in data.items() if key in known})

    def save(self, path) -> None:
        """Write the geometry as JSON (atomically)."""
        from ..io.paths import atomic_write_text

        atomic_write_text(path, json.dumps(self.to_dict()))

    @classmethod
    def load(cls, path) -> Geometry:
        """Read a geometry written by :meth:`save`."""
        from ..errors import InputError

        try:
            return cls.from_dict(json.loads(Path(path).read_text(encoding="utf-8")))
        except (OSError, ValueError, KeyError, TypeError) as error:
            raise InputError(f"not a hounsfield geometry ({error})", path) from None


# -- constructors -------------------------------------------------------------------


def _angles(n_angles: int, arc_deg: float, start_deg: float) -> np.ndarray:
    n_angles = _count(n_angles, "n_angles")
    if not 0 < arc_deg <= 360:
        raise ValueError(f"arc_deg must be in (0, 360], got {arc_deg!r}")
    return np.deg2rad(start_deg + arc_deg * np.arange(n_angles) / n_angles)


def _circle_vectors(angles: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Unit detector axis (cos θ, sin θ) and beam direction (-sin θ, cos θ) per angle."""
    axis = np.stack([np.cos(angles), np.sin(angles)], axis=1)
    beam = np.stack([-np.sin(angles), np.cos(angles)], axis=1)
    return axis, beam


def _circle_vectors_3d(angles: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Detector axis and beam direction in the x–y plane, and the rotation axis z, per angle."""
    axis2, beam2 = _circle_vectors(angles)
    zeros = np.zeros((len(angles), 1))
    up = np.tile([0.0, 0.0, 1.0], (len(angles), 1))
    return np.hstack([axis2, zeros]), np.hstack([beam2, zeros]), up


def _pitches(det_spacing_mm) -> tuple[float, float]:
    """(row, column) detector pitch in mm from one value or a pair."""
    pair = np.broadcast_to(np.asarray(det_spacing_mm, float), (2,))
    return _positive(pair[0], "det_spacing_mm"), _positive(pair[1], "det_spacing_mm")


def _detector_frame(beam: np.ndarray, axis: np.ndarray, sod: float, sdd: float,
                    offset: float, curved: bool) -> tuple[np.ndarray, np.ndarray]:
    """Detector centre and unit column direction of a circular scan, shifted by ``offset`` mm.

    A flat detector slides along its axis. A curved one slides along its arc
    (``offset`` is an arc length), so that every column stays on the circle of
    radius ``sdd`` about the source and the column pitch stays an arc length.
    """
    if not curved:
        return (sdd - sod) * beam + offset * axis, axis
    gamma = offset / sdd
    along = np.cos(gamma) * beam + np.sin(gamma) * axis
    tangent = np.cos(gamma) * axis - np.sin(gamma) * beam
    return -sod * beam + sdd * along, tangent


def parallel_beam(n_angles: int, n_det: int, det_spacing_mm: float = 1.0, arc_deg: float = 180.0,
                  *, start_deg: float = 0.0, det_offset_mm: float = 0.0) -> Geometry:
    """A 2D parallel-beam scan: ``n_angles`` views evenly over ``arc_deg``.

    >>> g = parallel_beam(180, 256, 1.0)
    >>> g.projection_shape, round(float(np.rad2deg(g.angles_rad[1])), 6)
    ((180, 256), 1.0)
    """
    angles = _angles(n_angles, arc_deg, start_deg)
    axis, beam = _circle_vectors(angles)
    spacing = _positive(det_spacing_mm, "det_spacing_mm")
    return Geometry("parallel", beam, det_offset_mm * axis, spacing * axis,
                    det_shape=(_count(n_det, "n_det"),), angles_rad=angles)


def fan_beam(n_angles: int, n_det: int, det_spacing_mm: float, sod_mm: float, sdd_mm: float,
             arc_deg: float = 360.0, curved: bool = False, det_offset_mm: float = 0.0,
             *, start_deg: float = 0.0) -> Geometry:
    """A 2D fan-beam scan on a circle, flat or curved (cylindrical) detector.

    ``det_spacing_mm`` is the pixel pitch on the detector (arc length for a
    curved one); ``det_offset_mm`` shifts the detector along its axis (along
    its arc, as an arc length, for a curved one).

    >>> g = fan_beam(360, 512, 1.0, sod_mm=500, sdd_mm=1000)
    >>> g.source[0].tolist(), g.detector[0].tolist()
    ([0.0, -500.0], [0.0, 500.0])
    """
    sod, sdd = _positive(sod_mm, "sod_mm"), _positive(sdd_mm, "sdd_mm")
    if sdd <= sod:
        raise ValueError(f"sdd_mm ({sdd}) must exceed sod_mm ({sod})")
    angles = _angles(n_angles, arc_deg, start_deg)
    axis, beam = _circle_vectors(angles)
    spacing = _positive(det_spacing_mm, "det_spacing_mm")
    detector, column = _detector_frame(beam, axis, sod, sdd, float(det_offset_mm), curved)
    return Geometry("cone", -sod * beam, detector, spacing * column,
                    det_shape=(_count(n_det, "n_det"),), curved=curved,
                    angles_rad=angles, sod_mm=sod, sdd_mm=sdd)


def cone_beam(n_angles: int, det_shape, det_spacing_mm, sod_mm: float, sdd_mm: float,
              arc_deg: float = 360.0, offsets=(0.0, 0.0), *, curved: bool = False,
              start_deg: float = 0.0) -> Geometry:
    """A circular cone-beam scan about the z axis.

    Parameters
    ----------
    det_shape : (n_rows, n_cols)
    det_spacing_mm : float or (row, column) pitch in mm
    offsets : (column, row) detector shifts in mm, along u and v (the column
        shift of a curved detector is an arc length along its arc; its row
        shift lifts the cylinder along the rotation axis)

    >>> g = cone_beam(360, (256, 256), 1.5, sod_mm=750, sdd_mm=1200)
    >>> g.projection_shape
    (360, 256, 256)
    """
    sod, sdd = _positive(sod_mm, "sod_mm"), _positive(sdd_mm, "sdd_mm")
    if sdd <= sod:
        raise ValueError(f"sdd_mm ({sdd}) must exceed sod_mm ({sod})")
    row_pitch, col_pitch = _pitches(det_spacing_mm)
    angles = _angles(n_angles, arc_deg, start_deg)
    axis, beam, up = _circle_vectors_3d(angles)
    col_offset, row_offset = (float(o) for o in offsets)
    detector, column = _detector_frame(beam, axis, sod, sdd, col_offset, curved)
    detector = detector + row_offset * up
    n_rows, n_cols = (_count(n, "det_shape") for n in det_shape)
    return Geometry("cone", -sod * beam, detector, col_pitch * column, row_pitch * up,
                    det_shape=(n_rows, n_cols), curved=curved, angles_rad=angles,
                    sod_mm=sod, sdd_mm=sdd)


def parallel_beam_3d(n_angles: int, det_shape, det_spacing_mm=1.0, arc_deg: float = 180.0,
                     *, start_deg: float = 0.0) -> Geometry:
    """A 3D parallel-beam scan about the z axis (rows along z).

    >>> parallel_beam_3d(90, (16, 64)).projection_shape
    (90, 16, 64)
    """
    row_pitch, col_pitch = _pitches(det_spacing_mm)
    angles = _angles(n_angles, arc_deg, start_deg)
    axis, beam, up = _circle_vectors_3d(angles)
    n_rows, n_cols = (_count(n, "det_shape") for n in det_shape)
    return Geometry("parallel", beam, np.zeros_like(beam), col_pitch * axis, row_pitch * up,
                    det_shape=(n_rows, n_cols), angles_rad=angles)


def from_vectors(*, detector, u, det_shape, source=None, ray=None, v=None,
                 curved: bool = False, sdd_mm: float | None = None) -> Geometry:
    """Any trajectory from per-view vectors: give ``source`` (cone/fan) or ``ray`` (parallel).

    >>> g = from_vectors(source=[[0, -500, 0]], detector=[[0, 500, 0]], u=[[1, 0, 0]],
    ...                  v=[[0, 0, 1]], det_shape=(2, 3))
    >>> g.kind, g.projection_shape
    ('cone', (1, 2, 3))
    """
    if (source is None) == (ray is None):
        raise ValueError("give exactly one of source (cone/fan beam) and ray (parallel beam)")
    kind = "cone" if source is not None else "parallel"
    return Geometry(kind, source if source is not None else ray, detector, u, v,
                    det_shape=tuple(np.atleast_1d(det_shape)), curved=curved, sdd_mm=sdd_mm)
