"""What analytic reconstruction needs to know about a circular scan, read off its per-view vectors.

:func:`circular_scan` checks that a :class:`~.geometry.Geometry` is a
circular scan about the z axis (FBP and FDK assume one) and derives, per
view: the rotation angle, the angular quadrature step, the source–axis and
source–detector distances, and per detector column the fan angle. The
backprojection maps of :func:`backprojection_maps` take each image (voxel)
index to its padded detector coordinate, as :mod:`._backproject_kernels`
expects.

Conventions (whatever the geometry's own orientation): angles are measured
in the sense of rotation, so that the conjugate of the ray at view angle β
and fan angle γ is the ray at β + π + 2γ and fan angle -γ (Parker's
convention); a detector is flat or a cylinder about the source, perpendicular
to the central ray (source → rotation axis).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ._backproject_kernels import PAD_BEFORE
from .geometry import Geometry
from .grid import ImageGrid

#: Relative tolerance of the circular-scan checks (distances, perpendicularity).
_TOLERANCE = 1e-3


@dataclass(frozen=True, eq=False)
class CircularScan:
    """Per-view facts of a circular scan (see the module docstring).

    Attributes
    ----------
    geometry : Geometry
    beam : {'parallel', 'fan', 'cone'}
    angles_rad : (views,) unwrapped rotation angles, increasing in the sense of rotation
    steps_rad : (views,) angular quadrature weight of each view
    arc_rad : float
        Angular range covered: views × mean step.
    fan_angles_rad : (views, cols)
        Fan angle of every column in the sense of rotation (zeros for parallel beams).
    pitch_mm : float
        Column pitch for the ramp filter (arc length on curved detectors;
        for parallel beams the pitch perpendicular to the rays).
    source_radius_mm, detector_distance_mm : (views,) arrays or None
        Source–axis distance R and source–detector distance D along the
        central ray (fan and cone beams).
    column_mm : (views, cols) array or None
        Flat detectors: column centre from the central ray's foot, mm.
        Curved ones: fan angle from the central ray toward +u, radians.
    row_mm : (views, rows) array or None
        Cone beams: row centre height above the source's plane, mm.
    """

    geometry: Geometry
    beam: str
    angles_rad: np.ndarray
    steps_rad: np.ndarray
    arc_rad: float
    fan_angles_rad: np.ndarray
    pitch_mm: float
    source_radius_mm: np.ndarray | None = None
    detector_distance_mm: np.ndarray | None = None
    column_mm: np.ndarray | None = None
    row_mm: np.ndarray | None = None

    @property
    def curved(self) -> bool:
        return bool(self.geometry.curved)

    @property
    def half_fan_rad(self) -> float:
        """Largest |fan angle| of a column centre (0 for parallel beams)."""
        return float(np.abs(self.fan_angles_rad).max())


def circular_scan(geometry: Geometry, *, ndim: int) -> CircularScan:
    """Check that ``geometry`` is a circular scan of ``ndim`` dimensions and read its facts."""
    if not isinstance(geometry, Geometry):
        raise TypeError(f"geometry must be a hounsfield Geometry, got {type(geometry).__name__}")
    if geometry.ndim != ndim:
        wanted = "a 2D parallel or fan beam" if ndim == 2 else "a 3D cone beam"
        other = "fdk" if ndim == 2 else "fbp"
        raise ValueError(f"geometry must be {wanted}, got {geometry!r} (use {other} for it)")
    if geometry.n_views < 2:
        raise ValueError(f"geometry must have at least 2 views, got {geometry.n_views}")
    if geometry.kind == "parallel":
        if ndim == 3:
            raise ValueError("fdk needs a cone beam; reconstruct 3D parallel beams slice by "
                             "slice with fbp")
        return _parallel_scan(geometry)
    return _divergent_scan(geometry)


# -- angles -----------------------------------------------------------------------------


def _rotation(in_plane_angles: np.ndarray) -> tuple[np.ndarray, np.ndarray, float, int]:
    """Unwrapped angles made increasing, per-view steps, arc, and rotation sense (+1 = CCW)."""
    angles = np.unwrap(in_plane_angles)
    sense = 1 if angles[-1] > angles[0] else -1
    angles = sense * angles
    if not np.all(np.diff(angles) > 0):
        raise ValueError("geometry views must be in the order of rotation (monotonic angles)")
    steps = np.gradient(angles)
    arc = (angles[-1] - angles[0]) * len(angles) / (len(angles) - 1)
    return angles, steps, float(arc), sense


def _parallel_scan(geometry: Geometry) -> CircularScan:
    rays = geometry.source  # unit ray directions (-sin θ, cos θ)
    angles, steps, arc, _ = _rotation(np.arctan2(-rays[:, 0], rays[:, 1]))
    dual = _parallel_dual(geometry)
    pitch = 1.0 / np.linalg.norm(dual, axis=1)
    if np.ptp(pitch) > _TOLERANCE * pitch.mean():
        raise ValueError("geometry must keep one detector pitch across views for fbp")
    return CircularScan(geometry, "parallel", angles, steps, arc,
                        np.zeros((geometry.n_views, geometry.det_shape[-1])), float(pitch.mean()))


def _parallel_dual(geometry: Geometry) -> np.ndarray:
    """u* per view: u*·u = 1 and u*·ray = 0, so that column = u*·(x - detector)."""
    normal = np.stack([-geometry.source[:, 1], geometry.source[:, 0]], axis=1)
    along_u = np.einsum("vi,vi->v", normal, geometry.u)
    if np.any(np.abs(along_u) < 1e-9 * np.linalg.norm(geometry.u, axis=1)):
        raise ValueError("geometry has a detector parallel to its rays")
    return normal / along_u[:, None]


# -- fan and cone beams ------------------------------------------------------------------


def _unit(vectors: np.ndarray) -> np.ndarray:
    return vectors / np.linalg.norm(vectors, axis=-1, keepdims=True)


def _cross_2d(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return a[..., 0] * b[..., 1] - a[..., 1] * b[..., 0]


def _divergent_scan(geometry: Geometry) -> CircularScan:
    source_xy = geometry.source[:, :2]
    radius = np.linalg.norm(source_xy, axis=1)
    if np.ptp(radius) > _TOLERANCE * radius.mean():
        raise ValueError("geometry must be a circular scan (one source–axis distance) for "
                         f"analytic reconstruction; got {radius.min():.6g}–{radius.max():.6g} mm")
    if geometry.ndim == 3:
        _check_cone_axes(geometry)
    central = -source_xy / radius[:, None]
    angles, steps, arc, sense = _rotation(np.arctan2(source_xy[:, 0], -source_xy[:, 1]))
    columns = np.arange(geometry.det_shape[-1]) - (geometry.det_shape[-1] - 1) / 2
    u_xy = geometry.u[:, :2]
    u_length = np.linalg.norm(geometry.u, axis=1)
    # +1 where +u turns counterclockwise from the central ray: fan angles toward +u, in the
    # sense of rotation, are then side · sense · angle.
    side = np.sign(_cross_2d(central, u_xy))
    to_detector = (geometry.detector - geometry.source)[:, :2]
    if geometry.curved:
        distance, column = _curved_columns(geometry, central, to_detector, u_length, columns)
        fan = column
    else:
        distance, column = _flat_columns(geometry, central, to_detector, u_xy, u_length, columns)
        fan = np.arctan2(column, distance[:, None])
    fan_angles = (side * sense)[:, None] * fan
    return CircularScan(geometry, "fan" if geometry.ndim == 2 else "cone", angles, steps, arc,
                        fan_angles, float(u_length.mean()), radius, distance, column,
                        _row_heights(geometry))


def _row_heights(geometry: Geometry) -> np.ndarray | None:
    """Height (mm) of every detector row above the source's plane, (views, rows); None in 2D."""
    if geometry.ndim == 2:
        return None
    offsets = np.arange(geometry.det_shape[0]) - (geometry.det_shape[0] - 1) / 2
    height = geometry.detector[:, 2] - geometry.source[:, 2]
    return height[:, None] + offsets[None, :] * np.linalg.norm(geometry.v, axis=1)[:, None]


def _check_cone_axes(geometry: Geometry) -> None:
    v_unit = _unit(geometry.v)
    if np.any(np.abs(v_unit[:, 2]) < 1 - _TOLERANCE):
        raise ValueError("fdk needs detector rows along the rotation (z) axis: v ∥ z")
    if np.any(np.abs(_unit(geometry.u)[:, 2]) > _TOLERANCE):
        raise ValueError("fdk needs detector columns perpendicular to the rotation (z) axis")
    if np.ptp(geometry.source[:, 2]) > _TOLERANCE * np.linalg.norm(geometry.source[0]):
        raise ValueError("fdk needs a circular source orbit in one plane (no helix)")
    if geometry.curved:
        height = geometry.detector[:, 2] - geometry.source[:, 2]
        if np.any(np.abs(height) > _TOLERANCE * geometry.sdd_mm):
            raise ValueError("fdk supports curved detectors without a row offset only")


def _flat_columns(geometry, central, to_detector, u_xy, u_length, columns):
    """(D, column positions from the central ray's foot in mm) of a flat detector."""
    if np.any(np.abs(np.einsum("vi,vi->v", _unit(u_xy), central)) > _TOLERANCE):
        raise ValueError("analytic reconstruction needs a flat detector perpendicular to the "
                         "central ray (source → rotation axis); this one is tilted")
    distance = np.einsum("vi,vi->v", to_detector, central)
    foot_offset = np.einsum("vi,vi->v", to_detector, _unit(u_xy))
    column = foot_offset[:, None] + columns[None, :] * u_length[:, None]
    return distance, column


def _curved_columns(geometry, central, to_detector, u_length, columns):
    """(arc radius, fan angle of each column from the central ray toward +u), curved detector."""
    sdd = float(geometry.sdd_mm)
    arc_radius = np.linalg.norm(to_detector, axis=1)
    if np.any(np.abs(arc_radius - sdd) > _TOLERANCE * sdd):
        raise ValueError(f"a curved detector must be an arc of radius sdd_mm = {sdd} about the "
                         f"source; got detector centres {arc_radius.min():.6g}–"
                         f"{arc_radius.max():.6g} mm from it")
    along = _unit(to_detector)
    tangent = _unit(geometry.u[:, :2])
    if np.any(np.abs(np.einsum("vi,vi->v", along, tangent)) > _TOLERANCE):
        raise ValueError("a curved detector's u must be tangent to its arc at the detector centre")
    toward_u = np.sign(_cross_2d(central, tangent))
    centre_angle = np.arctan2(toward_u * _cross_2d(central, along),
                              np.einsum("vi,vi->v", central, along))
    column = centre_angle[:, None] + columns[None, :] * (u_length / sdd)[:, None]
    return np.full(geometry.n_views, sdd), column


# -- backprojection maps -------------------------------------------------------------------


def _homogeneous_rows(linear: np.ndarray, point: np.ndarray) -> np.ndarray:
    """World rows ``linear · (x - point)`` as homogeneous rows (…, ndim + 1)."""
    constant = -np.einsum("...i,...i->...", linear, point)
    return np.concatenate([linear, constant[..., None]], axis=-1)


def backprojection_maps(scan: CircularScan, grid: ImageGrid) -> dict:
    """Per-view maps from homogeneous array indices to padded detector coordinates.

    Returns the keyword arguments of the matching kernel of
    :mod:`._backproject_kernels` other than ``filtered`` and ``out``. Each
    map is an array (views, grid.ndim + 1) of float64, applied to (index…, 1).
    """
    geometry = scan.geometry
    to_world = grid.index_to_world_matrix
    if grid.ndim != geometry.ndim:
        raise ValueError(f"grid must be {geometry.ndim}D for this geometry, got {grid.ndim}D")
    n_cols = geometry.det_shape[-1]
    column_shift = (n_cols - 1) / 2 + PAD_BEFORE
    if scan.beam == "parallel":
        dual = _parallel_dual(geometry)
        rows = _homogeneous_rows(dual, geometry.detector)
        rows[:, -1] += column_shift
        return {"column_map": rows @ to_world}
    if scan.curved:
        return _curved_maps(scan, to_world, column_shift)
    return _flat_maps(scan, to_world, column_shift)


def _in_plane(vectors: np.ndarray, ndim: int) -> np.ndarray:
    """In-plane (x, y) part of 2D or 3D vectors, as ``ndim`` components (z zeroed)."""
    flat = vectors.copy()
    if ndim == 3:
        flat[:, 2] = 0.0
    return flat


def _flat_maps(scan: CircularScan, to_world: np.ndarray, column_shift: float) -> dict:
    geometry, ndim = scan.geometry, scan.geometry.ndim
    source = geometry.source
    central = _unit(_in_plane(-source, ndim))
    distance = scan.detector_distance_mm[:, None]
    u_length = np.linalg.norm(geometry.u, axis=1)[:, None]
    u_unit = geometry.u / u_length
    # A point x, r = x - source, meets the detector at source + (D / ĉ·r) r, which lies
    # (D (û·r) / (ĉ·r) - û·(detector - source)) / |u| columns from the detector centre.
    centre_offset = np.einsum("vi,vi->v", geometry.detector - source, u_unit)[:, None]
    denominator = _homogeneous_rows(central, source)
    column = _homogeneous_rows(distance / u_length * u_unit, source)
    column += (column_shift - centre_offset / u_length) * denominator
    maps = {"denominator": denominator @ to_world}
    if ndim == 2:
        maps["numerator"] = column @ to_world
        return maps
    v_length = np.linalg.norm(geometry.v, axis=1)[:, None]
    v_unit = geometry.v / v_length
    row_shift = (geometry.det_shape[0] - 1) / 2 + PAD_BEFORE
    centre_height = np.einsum("vi,vi->v", geometry.detector - source, v_unit)[:, None]
    row = _homogeneous_rows(distance / v_length * v_unit, source)
    row += (row_shift - centre_height / v_length) * denominator
    maps["column_map"] = column @ to_world
    maps["row_map"] = row @ to_world
    return maps


def _curved_maps(scan: CircularScan, to_world: np.ndarray, column_shift: float) -> dict:
    geometry, ndim = scan.geometry, scan.geometry.ndim
    source = geometry.source
    along = _unit(_in_plane(geometry.detector - source, ndim))
    tangent = _unit(_in_plane(geometry.u, ndim))
    sdd = float(geometry.sdd_mm)
    u_length = np.linalg.norm(geometry.u, axis=1)
    column_scale = sdd / u_length
    column_offset = np.full(geometry.n_views, column_shift)
    maps = {"tangent_map": _homogeneous_rows(tangent, source) @ to_world,
            "along_map": _homogeneous_rows(along, source) @ to_world,
            "column_scale": column_scale, "column_offset": column_offset}
    if ndim == 3:
        v_length = np.linalg.norm(geometry.v, axis=1)
        v_unit = geometry.v / v_length[:, None]
        height = _homogeneous_rows(v_unit * (sdd / v_length)[:, None], source)
        maps["height_map"] = height @ to_world
        maps["row_offset"] = np.full(geometry.n_views, (geometry.det_shape[0] - 1) / 2
                                     + PAD_BEFORE)
    return maps
