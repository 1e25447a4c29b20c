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

An *offset* ("half-fan") detector reaches farther on one side of the central
ray than on the other, by more than a column: its rays on the long side have
no measured conjugate. Wang's redundancy weights (:mod:`.weights`) make its
projections fall smoothly to zero at the short edge, but their ramp-filtered
rows do not: they are filtered and backprojected on the detector extended
with zero columns on its short side to the mirror of the long edge
(:attr:`CircularScan.extra_columns`).
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
    short_edge_rad : float or None
        Offset detectors: the fan angle (in the sense of rotation) of the
        short side's outermost column, the smallest reach over the views;
        None for a centred detector.
    extra_columns : (int, int)
        Zero columns to add before the first and after the last column of
        each filtered row so that the detector covers the mirror image of
        its long side ((0, 0) for a centred detector).
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
    short_edge_rad: float | None = None
    extra_columns: tuple = (0, 0)

    @property
    def curved(self) -> bool:
        return bool(self.geometry.curved)

    @property
    def filtered_columns(self) -> int:
        """Columns of a filtered row: the detector's, plus the extra ones of an offset detector."""
        return self.geometry.det_shape[-1] + sum(self.extra_columns)

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
    short_edge = _short_edge(fan_angles)
    extra = (0, 0) if short_edge is None else _mirror_columns(column)
    return CircularScan(geometry, "fan" if geometry.ndim == 2 else "cone", angles, steps, arc,
                        fan_angles, float(u_length.mean()), radius, distance, column,
                        _row_heights(geometry), short_edge, extra)


def _short_edge(fan_angles: np.ndarray) -> float | None:
    """Fan angle of an offset detector's short edge, common to all views; None if centred.

    Offset: the rays reach farther on one side of the central ray than on
    the other by more than one column (a quarter-column shift for denser
    sampling leaves a detector centred).
    """
    if fan_angles.shape[1] < 2:
        return None
    low, high = fan_angles.min(axis=1), fan_angles.max(axis=1)
    column_rad = (high - low) / (fan_angles.shape[1] - 1)
    excess = high + low  # how much farther the positive side reaches than the negative one
    if np.all(np.abs(excess) <= column_rad):
        return None
    long_side = np.sign(excess)
    if np.any(long_side != long_side[0]):
        raise ValueError("the detector offset must keep to one side of the central ray in "
                         "every view")
    reach = np.where(long_side > 0, -low, high)  # how far the short side passes the centre
    if np.any(reach < column_rad):
        worst = int(np.argmin(reach - column_rad))
        raise ValueError(
            f"an offset detector must cover the central ray (source → rotation axis) with at "
            f"least one column to spare; its columns span fan angles "
            f"{np.rad2deg(low[worst]):.4g}° to {np.rad2deg(high[worst]):.4g}° in view {worst} "
            f"(one column ≈ {np.rad2deg(column_rad[worst]):.3g}°): reduce the offset")
    return float(-long_side[0] * reach.min())


def _mirror_columns(column: np.ndarray) -> tuple[int, int]:
    """Columns to add (before, after) so that every view's detector covers its mirror image.

    ``column`` holds the column coordinates from the central ray (mm on flat
    detectors, radians on curved ones), increasing with the column index;
    the conjugate of a ray at coordinate c is at -c.
    """
    step = column[:, 1] - column[:, 0]
    excess = (column[:, 0] + column[:, -1]) / step  # columns by which the ends are off-centre
    before = int(np.ceil(max(0.0, excess.max()) - 1e-6))
    after = int(np.ceil(max(0.0, -excess.min()) - 1e-6))
    return before, after


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
    column_shift = (n_cols - 1) / 2 + PAD_BEFORE + scan.extra_columns[0]
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
        # A voxel at in-plane distance L from the source and height z above its plane meets
        # the cylinder at height z·sdd/L, which lies (z·sdd/L - rise)/|v| rows from the centre.
        v_length = np.linalg.norm(geometry.v, axis=1)
        v_unit = geometry.v / v_length[:, None]
        rise = np.einsum("vi,vi->v", geometry.detector - source, v_unit)
        height = _homogeneous_rows(v_unit * (sdd / v_length)[:, None], source)
        maps["height_map"] = height @ to_world
        maps["row_offset"] = (geometry.det_shape[0] - 1) / 2 + PAD_BEFORE - rise / v_length
    return maps
