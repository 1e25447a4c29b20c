"""Analytic phantoms: sums of ellipses (2D) or ellipsoids (3D) with exact line integrals.

Coordinates are world millimetres: (x, y) for ellipses, (x, y, z) for
ellipsoids, with the axes of an axial slice (x → patient left, y → posterior,
z → superior). Rasterized images are indexed (y, x) and volumes (z, y, x), so
that ``image[j, i]`` lies at ``(x_i, y_j)``, as everywhere in hounsfield.

Each shape adds its ``value`` inside it. Values are whatever unit the caller
chose — attenuation μ in 1/mm for projection work, in which case line
integrals are dimensionless (mm × 1/mm): -ln of the fraction of a
monochromatic beam that the ray transmits.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import ClassVar

import numpy as np

from ..volume import Volume
from . import _checks, _grid

__all__ = ["Ellipse", "Ellipsoid", "EllipsoidPhantom"]

_POINTS_PER_CHUNK = 1 << 20


class _Quadric:
    """Geometry shared by :class:`Ellipse` and :class:`Ellipsoid`: a unit ball mapped affinely."""

    ndim: ClassVar[int]
    center_mm: tuple[float, ...]
    semi_axes_mm: tuple[float, ...]
    value: float

    @property
    def rotation(self) -> np.ndarray:  # pragma: no cover - defined by subclasses
        raise NotImplementedError

    @property
    def to_unit_ball(self) -> np.ndarray:
        """Matrix M with ``M @ (p - center)`` in the unit ball exactly when p is inside."""
        return self.rotation.T / np.asarray(self.semi_axes_mm)[:, None]

    def radius_sq(self, *coords) -> np.ndarray:
        """Squared normalised radius at world points given per axis (arrays that broadcast)."""
        offsets = [c - c0 for c, c0 in zip(coords, self.center_mm, strict=True)]
        total = 0.0
        for row in self.to_unit_ball:
            component = sum(m * d for m, d in zip(row, offsets, strict=True))
            total = total + component * component
        return total

    def contains(self, *coords) -> np.ndarray:
        """True at world points (given per axis) inside or on the boundary."""
        return self.radius_sq(*coords) <= 1.0

    def bounds_mm(self) -> tuple[np.ndarray, np.ndarray]:
        """Lower and upper corners (world order) of the axis-aligned bounding box."""
        half = np.linalg.norm(self.rotation * np.asarray(self.semi_axes_mm), axis=1)
        center = np.asarray(self.center_mm)
        return center - half, center + half

    @property
    def measure(self) -> float:
        """Area (mm², ellipse) or volume (mm³, ellipsoid)."""
        unit_ball = math.pi if self.ndim == 2 else 4.0 * math.pi / 3.0
        return unit_ball * math.prod(self.semi_axes_mm)

    def chord_lengths(self, sources, directions, t_min, t_max) -> np.ndarray:
        """Length (mm) of {source + t·direction : t_min <= t <= t_max} inside the shape.

        ``directions`` are unit vectors, so t is a length in mm.
        """
        unit = self.to_unit_ball
        start = (sources - np.asarray(self.center_mm)) @ unit.T
        step = directions @ unit.T
        a = np.einsum("...i,...i->...", step, step)
        b = np.einsum("...i,...i->...", start, step)
        c = np.einsum("...i,...i->...", start, start) - 1.0
        root = np.sqrt(np.maximum(b * b - a * c, 0.0))
        enter, leave = (-b - root) / a, (-b + root) / a
        clipped = np.minimum(leave, t_max) - np.maximum(enter, t_min)
        # 2·root/a is the whole chord without the cancellation of leave - enter.
        whole = (enter >= t_min) & (leave <= t_max)
        return np.maximum(np.where(whole, 2.0 * root / a, clipped), 0.0)

    def _checked(self, center, semi_axes, value) -> None:
        name = type(self).__name__
        object.__setattr__(self, "center_mm", _checks.float_tuple(
            center, f"{name}.center_mm", self.ndim))
        object.__setattr__(self, "semi_axes_mm", _checks.float_tuple(
            semi_axes, f"{name}.semi_axes_mm", self.ndim, positive=True))
        object.__setattr__(self, "value", _checks.float_tuple(value, f"{name}.value", 1)[0])


def _rotation_2d(angle: float) -> np.ndarray:
    cos, sin = math.cos(angle), math.sin(angle)
    return np.array([[cos, -sin], [sin, cos]])


def _rotation_about(axis: int, angle: float) -> np.ndarray:
    """3D rotation by ``angle`` about world axis 0, 1 or 2 (right-handed)."""
    rotation = np.eye(3)
    others = [a for a in range(3) if a != axis]
    if axis == 1:
        others = others[::-1]
    rotation[np.ix_(others, others)] = _rotation_2d(angle)
    return rotation


@dataclass(frozen=True)
class Ellipse(_Quadric):
    """An ellipse that adds ``value`` inside it.

    Parameters
    ----------
    center_mm : 2 floats
        Centre (x, y) in mm.
    semi_axes_mm : 2 floats
        Semi-axes in mm, along the ellipse's own first and second axes.
    angle_rad : float
        Angle of the first axis in radians, turning from +x toward +y.
    value : float
        Additive value inside (e.g. μ in 1/mm).

    Examples
    --------
    >>> disc = Ellipse((0.0, 0.0), (2.0, 1.0), value=0.5)
    >>> round(disc.measure, 4), bool(disc.contains(1.9, 0.0)), bool(disc.contains(0.0, 1.1))
    (6.2832, True, False)
    """

    ndim: ClassVar[int] = 2
    center_mm: tuple[float, float]
    semi_axes_mm: tuple[float, float]
    angle_rad: float = 0.0
    value: float = 1.0

    def __post_init__(self):
        self._checked(self.center_mm, self.semi_axes_mm, self.value)
        object.__setattr__(self, "angle_rad", _checks.float_tuple(
            self.angle_rad, "Ellipse.angle_rad", 1)[0])

    @property
    def rotation(self) -> np.ndarray:
        """2×2 matrix whose columns are the ellipse's axes in world coordinates."""
        return _rotation_2d(self.angle_rad)

    def moved(self, angle_rad: float = 0.0, offset_mm=(0.0, 0.0)) -> Ellipse:
        """Turned about the origin by ``angle_rad`` (+x toward +y), then shifted by offset_mm."""
        center = _rotation_2d(angle_rad) @ np.asarray(self.center_mm) + np.asarray(offset_mm)
        return replace(self, center_mm=tuple(center), angle_rad=self.angle_rad + angle_rad)

    def scaled(self, length_factor: float = 1.0, value_factor: float = 1.0) -> Ellipse:
        """Lengths (centre, semi-axes) times ``length_factor``, value times ``value_factor``."""
        return replace(self, center_mm=tuple(np.multiply(self.center_mm, length_factor)),
                       semi_axes_mm=tuple(np.multiply(self.semi_axes_mm, length_factor)),
                       value=self.value * value_factor)


@dataclass(frozen=True)
class Ellipsoid(_Quadric):
    """An ellipsoid that adds ``value`` inside it.

    Parameters
    ----------
    center_mm : 3 floats
        Centre (x, y, z) in mm.
    semi_axes_mm : 3 floats
        Semi-axes in mm along the ellipsoid's own axes.
    angles_rad : 3 floats
        Euler angles (phi, theta, psi) in radians, z–x–z convention: the
        ellipsoid's axes are the columns of Rz(phi) · Rx(theta) · Rz(psi).
        With theta = psi = 0, phi turns the first axis from +x toward +y as
        :attr:`Ellipse.angle_rad` does.
    value : float
        Additive value inside (e.g. μ in 1/mm).

    Examples
    --------
    >>> ball = Ellipsoid((0.0, 0.0, 0.0), (1.0, 1.0, 1.0))
    >>> round(ball.measure, 4)
    4.1888
    """

    ndim: ClassVar[int] = 3
    center_mm: tuple[float, float, float]
    semi_axes_mm: tuple[float, float, float]
    angles_rad: tuple[float, float, float] = (0.0, 0.0, 0.0)
    value: float = 1.0

    def __post_init__(self):
        self._checked(self.center_mm, self.semi_axes_mm, self.value)
        object.__setattr__(self, "angles_rad", _checks.float_tuple(
            self.angles_rad, "Ellipsoid.angles_rad", 3))

    @property
    def rotation(self) -> np.ndarray:
        """3×3 matrix whose columns are the ellipsoid's axes in world coordinates."""
        phi, theta, psi = self.angles_rad
        return _rotation_about(2, phi) @ _rotation_about(0, theta) @ _rotation_about(2, psi)

    def moved(self, angle_rad: float = 0.0, offset_mm=(0.0, 0.0, 0.0)) -> Ellipsoid:
        """Turned about the z axis by ``angle_rad`` (+x toward +y), then shifted by offset_mm."""
        center = _rotation_about(2, angle_rad) @ np.asarray(self.center_mm) + np.asarray(offset_mm)
        phi, theta, psi = self.angles_rad
        return replace(self, center_mm=tuple(center), angles_rad=(phi + angle_rad, theta, psi))

    def scaled(self, length_factor: float = 1.0, value_factor: float = 1.0) -> Ellipsoid:
        """Lengths (centre, semi-axes) times ``length_factor``, value times ``value_factor``."""
        return replace(self, center_mm=tuple(np.multiply(self.center_mm, length_factor)),
                       semi_axes_mm=tuple(np.multiply(self.semi_axes_mm, length_factor)),
                       value=self.value * value_factor)


@dataclass(frozen=True)
class EllipsoidPhantom:
    """A sum of ellipses (2D) or ellipsoids (3D), known exactly everywhere.

    Parameters
    ----------
    shapes : sequence of Ellipse, or sequence of Ellipsoid
        The shapes; the phantom's value at a point is the sum of the values
        of the shapes that contain it.
    fov_mm : float, optional
        Side of the square (cube) centred on the origin that the phantom is
        meant to be seen in; :meth:`rasterize` covers it by default. When
        omitted, twice the largest distance of the shapes' bounding boxes from
        the origin along an axis.
    name : str
        A label for reports and reprs.

    Examples
    --------
    >>> phantom = EllipsoidPhantom([Ellipse((0.0, 0.0), (40.0, 20.0), value=0.02)])
    >>> image = phantom.rasterize((64, 64), spacing_mm=2.0, supersample=4)
    >>> round(float(image.sum()) * 4.0, 1), round(phantom.integral(), 1)
    (50.3, 50.3)
    >>> round(float(phantom.line_integrals([-100.0, 0.0], directions=[1.0, 0.0])), 12)
    1.6
    """

    shapes: tuple
    fov_mm: float | None = None
    name: str = ""
    ndim: int = field(init=False)

    def __post_init__(self):
        shapes = tuple(self.shapes)
        kinds = {type(s) for s in shapes}
        if not shapes or not kinds <= {Ellipse} and not kinds <= {Ellipsoid}:
            _checks.reject("shapes", [type(s).__name__ for s in shapes][:4],
                           "a non-empty sequence of only Ellipse or only Ellipsoid")
        object.__setattr__(self, "shapes", shapes)
        object.__setattr__(self, "ndim", shapes[0].ndim)
        if self.fov_mm is not None:
            object.__setattr__(self, "fov_mm", _checks.float_tuple(
                self.fov_mm, "fov_mm", 1, positive=True)[0])

    def __repr__(self) -> str:
        kind = "ellipses" if self.ndim == 2 else "ellipsoids"
        name = f"{self.name!r}, " if self.name else ""
        return f"EllipsoidPhantom({name}{len(self.shapes)} {kind}, fov_mm={self.fov_mm})"

    # -- exact quantities -------------------------------------------------------

    def integral(self) -> float:
        """∫ f over the plane (value·mm²) or space (value·mm³): Σ value · area or volume."""
        return float(sum(s.value * s.measure for s in self.shapes))

    def value_at(self, points_mm) -> np.ndarray:
        """Exact phantom values at world points of shape (..., ndim), in (x, y[, z]) mm."""
        points = _checks.points_array(points_mm, "points_mm", self.ndim)
        coords = np.moveaxis(points, -1, 0)
        return sum(s.value * s.contains(*coords) for s in self.shapes) + np.zeros(points.shape[:-1])

    def line_integrals(self, sources_mm, directions=None, *, targets_mm=None) -> np.ndarray:
        """Exact integrals of the phantom along straight lines or segments.

        Parameters
        ----------
        sources_mm : array (..., ndim)
            Points (x, y[, z]) in mm on each line, or the segments' start points.
        directions : array (..., ndim), optional
            Direction of each line (normalised here). The integral runs over
            the whole line through the source, both ways.
        targets_mm : array (..., ndim), optional
            End points of segments; the integral runs from source to target.
            Give exactly one of ``directions`` and ``targets_mm``.

        Returns
        -------
        ndarray (...)
            ∫ f dl in value·mm (dimensionless when values are μ in 1/mm). The
            leading shapes of the inputs broadcast.

        Examples
        --------
        >>> ball = EllipsoidPhantom([Ellipsoid((0, 0, 0), (10, 10, 10), value=0.02)])
        >>> rays = ball.line_integrals([0, 0, -50], targets_mm=[[0, 0, 50], [0, 0, 0]])
        >>> rays.round(12).tolist()  # through the whole ball, then to its centre
        [0.4, 0.2]
        """
        sources, unit, t_min, t_max = self._rays(sources_mm, directions, targets_mm)
        total = np.zeros(np.broadcast_shapes(sources.shape, unit.shape)[:-1])
        for shape in self.shapes:
            total += shape.value * shape.chord_lengths(sources, unit, t_min, t_max)
        return total

    def parallel_sinogram(self, angles_rad, detector_positions_mm) -> np.ndarray:
        """Exact 2D parallel-beam sinogram (Radon transform) of an ellipse phantom.

        The ray at angle θ and detector position s is the line
        ``{p : p · (cos θ, sin θ) = s}``, travelled along ``(-sin θ, cos θ)``.
        An ellipse with semi-axes (a, b), first axis at angle α and centre c
        contributes ``2 v a b sqrt(r² - t²) / r²`` where ``|t| < r``, with
        ``t = s - c · (cos θ, sin θ)`` and ``r² = a² cos²(θ-α) + b² sin²(θ-α)``.

        Parameters
        ----------
        angles_rad : array (n_angles,)
            Projection angles θ in radians.
        detector_positions_mm : array (n_detectors,)
            Signed distances s of the rays from the origin, in mm.

        Returns
        -------
        ndarray (n_angles, n_detectors)
            Line integrals in value·mm.

        Examples
        --------
        >>> disc = EllipsoidPhantom([Ellipse((0.0, 0.0), (10.0, 10.0), value=0.02)])
        >>> disc.parallel_sinogram([0.0, 1.0], [0.0, 6.0]).round(3).tolist()
        [[0.4, 0.32], [0.4, 0.32]]
        """
        if self.ndim != 2:
            _checks.reject("phantom", self, "a 2D (ellipse) phantom for parallel_sinogram; "
                           "use line_integrals for 3D rays")
        angles = _checks.finite_array(angles_rad, "angles_rad").reshape(-1, 1)
        positions = _checks.finite_array(detector_positions_mm, "detector_positions_mm")
        positions = positions.reshape(1, -1)
        sinogram = np.zeros((angles.shape[0], positions.shape[1]))
        for e in self.shapes:
            a, b = e.semi_axes_mm
            offset = positions - (e.center_mm[0] * np.cos(angles) + e.center_mm[1] * np.sin(angles))
            r_sq = (a * np.cos(angles - e.angle_rad)) ** 2 + (b * np.sin(angles - e.angle_rad)) ** 2
            sinogram += 2 * e.value * a * b * np.sqrt(np.maximum(r_sq - offset**2, 0.0)) / r_sq
        return sinogram

    # -- sampling ---------------------------------------------------------------

    def rasterize(self, shape, spacing_mm=None, *, center_mm=None, supersample: int = 1,
                  dtype=np.float32):
        """Sample the phantom on a grid centred on ``center_mm``.

        Parameters
        ----------
        shape : 2 or 3 ints
            Grid size in array order: (ny, nx) or (nz, ny, nx).
        spacing_mm : float or ndim floats, optional
            Voxel size in array order, mm. Default: ``fov_mm / shape`` per
            axis, so that the grid covers the phantom's field of view.
        center_mm : ndim floats, optional
            World point (x, y[, z]) at the centre of the grid; default origin.
            With an even size the centre falls between two voxel centres.
        supersample : int
            1 samples each voxel at its centre. k > 1 gives each voxel the
            mean over k×k(×k) evenly spaced sub-voxel points: its partial-volume
            value, with an error of order 1/k in a boundary voxel that mostly
            averages out along a boundary. Only voxels that a boundary may
            cross are supersampled, so k = 4..8 stays cheap.
        dtype : numpy dtype
            Of the result (float32 by default).

        Returns
        -------
        ndarray (ny, nx) for 2D phantoms, :class:`~hounsfield.volume.Volume` for 3D
            The image indexed (y, x), or a Volume (z, y, x) with axial LPS
            direction and the grid's spacing and origin.

        Examples
        --------
        >>> phantom = EllipsoidPhantom([Ellipse((0.0, 0.0), (1.0, 1.0))], fov_mm=4.0)
        >>> phantom.rasterize((4, 4)).astype(int).tolist()
        [[0, 0, 0, 0], [0, 1, 1, 0], [0, 1, 1, 0], [0, 0, 0, 0]]
        """
        shape = _checks.int_tuple(shape, "shape", self.ndim)
        spacing = self._spacing(shape, spacing_mm)
        center = _checks.float_tuple(0.0 if center_mm is None else center_mm, "center_mm",
                                     self.ndim)
        supersample = _checks.positive_int(supersample, "supersample")
        axes = _grid.centred_axes(shape, spacing, center)
        image = np.zeros(shape)
        for quadric in self.shapes:
            _add_quadric(image, quadric, axes, spacing, supersample)
        image = image.astype(dtype)
        if self.ndim == 2:
            return image
        origin = tuple(float(a[0]) for a in axes)
        meta = {"phantom": self.name or "ellipsoids", "supersample": supersample}
        return Volume(image, spacing_mm=spacing, origin_mm=origin, meta=meta)

    # -- derived phantoms ---------------------------------------------------------

    def translated(self, offset_mm) -> EllipsoidPhantom:
        """The phantom shifted by ``offset_mm`` (x, y[, z])."""
        offset = _checks.float_tuple(offset_mm, "offset_mm", self.ndim)
        return replace(self, shapes=tuple(s.moved(0.0, offset) for s in self.shapes))

    def rotated(self, angle_rad: float) -> EllipsoidPhantom:
        """The phantom turned about the origin (the z axis in 3D) from +x toward +y."""
        angle = _checks.float_tuple(angle_rad, "angle_rad", 1)[0]
        return replace(self, shapes=tuple(s.moved(angle) for s in self.shapes))

    def scaled(self, length_factor: float = 1.0, value_factor: float = 1.0) -> EllipsoidPhantom:
        """Lengths (and fov_mm) times ``length_factor``, values times ``value_factor``."""
        length = _checks.float_tuple(length_factor, "length_factor", 1, positive=True)[0]
        value = _checks.float_tuple(value_factor, "value_factor", 1)[0]
        fov = None if self.fov_mm is None else self.fov_mm * length
        return replace(self, shapes=tuple(s.scaled(length, value) for s in self.shapes),
                       fov_mm=fov)

    # -- helpers ------------------------------------------------------------------

    def _spacing(self, shape, spacing_mm) -> tuple[float, ...]:
        if spacing_mm is not None:
            return _checks.float_tuple(spacing_mm, "spacing_mm", self.ndim, positive=True)
        fov = self.fov_mm
        if fov is None:
            corners = [np.abs(np.concatenate(s.bounds_mm())) for s in self.shapes]
            fov = 2.0 * float(np.max(corners))
        return tuple(fov / n for n in shape)

    def _rays(self, sources_mm, directions, targets_mm):
        if (directions is None) == (targets_mm is None):
            _checks.reject("directions / targets_mm", (directions, targets_mm),
                           "exactly one of the two given")
        sources = _checks.points_array(sources_mm, "sources_mm", self.ndim)
        if directions is not None:
            vectors = _checks.points_array(directions, "directions", self.ndim)
            lengths = np.linalg.norm(vectors, axis=-1, keepdims=True)
            if np.any(lengths == 0):
                _checks.reject("directions", "a zero vector", "non-zero vectors")
            return sources, vectors / lengths, -np.inf, np.inf
        vectors = _checks.points_array(targets_mm, "targets_mm", self.ndim) - sources
        lengths = np.linalg.norm(vectors, axis=-1, keepdims=True)
        unit = vectors / np.where(lengths > 0, lengths, 1.0)
        return sources, unit, 0.0, lengths[..., 0]


def _add_quadric(image, quadric, axes, spacing, supersample) -> None:
    """Add ``quadric.value`` × (covered fraction of each voxel) to ``image``."""
    lower, upper = quadric.bounds_mm()
    reach = 0.0 if supersample == 1 else np.asarray(spacing[::-1]) / 2.0
    box = _grid.index_box(axes, lower - reach, upper + reach)
    if box is None:
        return
    grids = _grid.open_grid(axes, box)
    radius_sq = quadric.radius_sq(*grids)
    if supersample == 1:
        fraction = (radius_sq <= 1.0).astype(float)
    else:
        fraction = _covered_fraction(quadric, grids, radius_sq, spacing, supersample)
    image[box] += quadric.value * fraction


def _covered_fraction(quadric, grids, radius_sq, spacing, supersample) -> np.ndarray:
    """Sub-voxel coverage, computed only where the boundary can cross the voxel.

    Within a voxel the normalised radius changes by at most ``margin`` (half
    the voxel's edges mapped into the unit ball), so voxels farther than that
    from radius 1 are wholly in or out.
    """
    radius = np.sqrt(radius_sq)
    half_edges = np.asarray(spacing[::-1]) / 2.0
    margin = float(np.sum(np.linalg.norm(quadric.to_unit_ball, axis=0) * half_edges))
    fraction = (radius <= 1.0 - margin).astype(float)
    edge = np.nonzero(np.abs(radius - 1.0) < margin)
    if edge[0].size == 0:
        return fraction
    centres = np.stack([np.broadcast_to(g, radius.shape)[edge] for g in grids], axis=-1)
    offsets = _grid.subvoxel_offsets(supersample, spacing)
    fraction[edge] = _subsampled_fraction(quadric, centres, offsets)
    return fraction


def _subsampled_fraction(quadric, centres, offsets) -> np.ndarray:
    """Fraction of ``centres + offsets`` inside the quadric, per centre, in bounded memory."""
    chunk = max(1, _POINTS_PER_CHUNK // len(offsets))
    result = np.empty(len(centres))
    for start in range(0, len(centres), chunk):
        points = centres[start:start + chunk, None, :] + offsets[None, :, :]
        inside = quadric.contains(*np.moveaxis(points, -1, 0))
        result[start:start + chunk] = inside.mean(axis=1)
    return result
