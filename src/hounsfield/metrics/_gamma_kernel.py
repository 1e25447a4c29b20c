"""The gamma search: shells of evaluation points and the numba kernel that walks them.

The kernel works on 3D grids (1D and 2D doses get leading axes of length 1,
with zero offsets along them), coordinates in mm, evaluation axes uniformly
spaced and increasing. The public entry point, with the conventions and the
validation, is :func:`hounsfield.metrics.dose.gamma_index`.
"""

from __future__ import annotations

import math
from collections.abc import Iterator

import numba
import numpy as np

#: Shell offsets evaluated per kernel call; bounds memory on long searches.
_OFFSETS_PER_BATCH = 400_000
#: Most points finish within δr: the first batch is small, later ones grow.
_FIRST_BATCH_OFFSETS = 5_000


@numba.njit(inline="always")
def _lower_node(position, first, inverse_step, size):
    """Index of the grid node at or below position, kept where a node above exists."""
    if size < 2:
        return 0
    index = int(math.floor((position - first) * inverse_step))
    return min(max(index, 0), size - 2)


@numba.njit(inline="always")
def _interpolate(dose, axes, inverse_steps, z, y, x):
    """Trilinear evaluation dose at (z, y, x) mm; inf outside the grid (edges included)."""
    az, ay, ax = axes
    nz, ny, nx = dose.shape
    if not (az[0] <= z <= az[nz - 1] and ay[0] <= y <= ay[ny - 1] and ax[0] <= x <= ax[nx - 1]):
        return np.inf
    k = _lower_node(z, az[0], inverse_steps[0], nz)
    j = _lower_node(y, ay[0], inverse_steps[1], ny)
    i = _lower_node(x, ax[0], inverse_steps[2], nx)
    k1, j1, i1 = min(k + 1, nz - 1), min(j + 1, ny - 1), min(i + 1, nx - 1)
    wz = (z - az[k]) * inverse_steps[0] if nz > 1 else 0.0
    wy = (y - ay[j]) * inverse_steps[1] if ny > 1 else 0.0
    wx = (x - ax[i]) * inverse_steps[2] if nx > 1 else 0.0
    c00 = dose[k, j, i] * (1 - wz) + dose[k1, j, i] * wz
    c01 = dose[k, j, i1] * (1 - wz) + dose[k1, j, i1] * wz
    c10 = dose[k, j1, i] * (1 - wz) + dose[k1, j1, i] * wz
    c11 = dose[k, j1, i1] * (1 - wz) + dose[k1, j1, i1] * wz
    c0 = c00 * (1 - wy) + c10 * wy
    c1 = c01 * (1 - wy) + c11 * wy
    return c0 * (1 - wx) + c1 * wx


@numba.njit(inline="always")
def _interpolate_from_node(flat_dose, base, strides, fractions, n):
    """Trilinear dose at flat node index ``base`` shifted by shell offset n (inside the grid)."""
    step_z, step_y, step_x = strides[0], strides[1], strides[2]
    fz, fy, fx = fractions[n, 0], fractions[n, 1], fractions[n, 2]
    c00 = flat_dose[base] * (1 - fz) + flat_dose[base + step_z] * fz
    c01 = flat_dose[base + step_x] * (1 - fz) + flat_dose[base + step_z + step_x] * fz
    c10 = flat_dose[base + step_y] * (1 - fz) + flat_dose[base + step_z + step_y] * fz
    c11 = (flat_dose[base + step_y + step_x] * (1 - fz)
           + flat_dose[base + step_z + step_y + step_x] * fz)
    c0 = c00 * (1 - fy) + c10 * fy
    c1 = c01 * (1 - fy) + c11 * fy
    return c0 * (1 - fx) + c1 * fx


@numba.njit(fastmath={"nnan", "nsz", "contract"})
def _smallest_from_node(flat_dose, node, reference_dose, node_offsets, fractions, strides,
                        start, stop):
    """Smallest |evaluation - reference| over shell points start:stop around a grid node."""
    smallest = np.inf
    for n in range(start, stop):
        value = _interpolate_from_node(flat_dose, node + node_offsets[n], strides, fractions, n)
        smallest = min(smallest, abs(value - reference_dose))
    return smallest


@numba.njit(inline="always")
def _ball_inside(axes, point, radius):
    """True when every point within radius (mm) of point lies strictly inside the grid."""
    for a in range(3):
        axis = axes[a]
        if axis.size > 1:
            margin = 1e-9 * (axis[1] - axis[0])
            if point[a] - radius <= axis[0] + margin or point[a] + radius >= axis[-1] - margin:
                return False
    return True


@numba.njit(inline="always")
def _smallest_difference(dose, axes, inverse_steps, point, node, reference_dose, shells,
                         shell):
    """Smallest |evaluation - reference| dose over one shell; inf if no point is inside.

    ``shells`` is (offsets_mm, starts, radii_mm, node_offsets, fractions, strides).
    A reference point on an evaluation node (``node >= 0``, its flat index)
    whose shell lies inside the grid takes the fast path: a precomputed node
    offset and interpolation fractions per shell point. Other points add the
    offset in mm and test the bounds, as pymedphys does.
    """
    offsets, starts, radii, node_offsets, fractions, strides = shells
    if node >= 0 and _ball_inside(axes, point, radii[shell]):
        return _smallest_from_node(dose.ravel(), node, reference_dose, node_offsets, fractions,
                                   strides, starts[shell], starts[shell + 1])
    smallest = np.inf
    for n in range(starts[shell], starts[shell + 1]):
        value = _interpolate(dose, axes, inverse_steps, point[0] + offsets[n, 0],
                             point[1] + offsets[n, 1], point[2] + offsets[n, 2])
        smallest = min(smallest, abs(value - reference_dose))
    return smallest


@numba.njit(parallel=True, cache=True)
def search_shells(active, points_mm, point_nodes, reference_dose, dose_tolerance,
                  distance_mm_threshold, evaluation_dose, axes_z, axes_y, axes_x, offsets_mm,
                  shell_starts, shell_radii_mm, node_offsets, fractions, strides, gamma, done):
    """Lower gamma[i] over the given shells for each active reference point i.

    A shell of radius d gives ``sqrt((m / tolerance)^2 + (d / DTA)^2)`` with
    ``m`` the smallest |dose difference| on it and ``tolerance`` the dose
    that counts as one (δD). A point is done, and ``done[i]`` set, once its
    gamma is at most ``d / DTA``: no farther shell can lower it. ``gamma`` and
    ``done`` are updated in place.
    """
    axes = (axes_z, axes_y, axes_x)
    shells = (offsets_mm, shell_starts, shell_radii_mm, node_offsets, fractions, strides)
    inverse_steps = np.empty(3)
    for a in range(3):
        axis = axes[a]
        inverse_steps[a] = 1.0 / (axis[1] - axis[0]) if axis.size > 1 else 0.0
    for n in numba.prange(active.size):
        i = active[n]
        current = gamma[i]
        for shell in range(shell_radii_mm.size):
            distance_term = shell_radii_mm[shell] / distance_mm_threshold
            smallest = _smallest_difference(evaluation_dose, axes, inverse_steps, points_mm[i],
                                            point_nodes[i], reference_dose[i], shells, shell)
            if smallest < np.inf:
                dose_term = smallest / dose_tolerance[i]
                current = min(current, math.sqrt(dose_term**2 + distance_term**2))
            if current <= distance_term:
                done[i] = True
                break
        gamma[i] = current


# -- driver: shells in batches, node offsets -------------------------------------------------


def search_gamma(points_mm, reference_values, dose_normalisation, evaluation, evaluation_axes,
                 options) -> np.ndarray:
    """γ per point (inf where no evaluation point was met), batch of shells after batch.

    ``points_mm`` (n, 3) are the reference points (leading zero columns for
    1D and 2D grids), ``reference_values`` their doses, ``dose_normalisation``
    the dose that percentages refer to at each, ``options`` the checked
    options of :func:`hounsfield.metrics.dose.gamma_index`.
    """
    ndim = evaluation.ndim
    dose_3d = np.ascontiguousarray(evaluation.reshape((1,) * (3 - ndim) + evaluation.shape),
                                   dtype=np.float64)
    axes_3d = [np.zeros(1)] * (3 - ndim) + [np.asarray(a, np.float64) for a in evaluation_axes]
    gamma = np.full(len(points_mm), np.inf)
    done = np.zeros(len(points_mm), dtype=bool)
    active = np.arange(len(points_mm))
    distance_mm = options["distance_mm_threshold"]
    dose_tolerance = dose_normalisation * (options["dose_percent_threshold"] / 100)
    nodes = _nodes_of_points(points_mm, axes_3d)
    limit_mm = _search_limit_mm(points_mm, axes_3d, distance_mm, options["max_gamma"])
    for offsets, starts, radii in _shell_batches(ndim, distance_mm, options["interp_fraction"],
                                                 limit_mm):
        node_offsets, fractions, strides = _offsets_in_nodes(offsets, axes_3d)
        search_shells(active, points_mm, nodes, reference_values, dose_tolerance, distance_mm,
                      dose_3d, *axes_3d, offsets, starts, radii, node_offsets, fractions,
                      strides, gamma, done)
        active = active[~done[active]]
        if active.size == 0:
            break
    return gamma


def _nodes_of_points(points_mm, axes_3d) -> np.ndarray:
    """Flat index of the evaluation node at each point, -1 where a point is off the nodes."""
    nodes = np.zeros(len(points_mm), dtype=np.int64)
    on_node = np.ones(len(points_mm), dtype=bool)
    stride = 1
    for axis in reversed(range(3)):
        coordinates = axes_3d[axis]
        if coordinates.size > 1:
            index = np.rint((points_mm[:, axis] - coordinates[0])
                            / (coordinates[1] - coordinates[0])).astype(np.int64)
            inside = (index >= 0) & (index < coordinates.size)
            index = np.clip(index, 0, coordinates.size - 1)
            on_node &= inside & (coordinates[index] == points_mm[:, axis])
            nodes += index * stride
        stride *= coordinates.size
    return np.where(on_node, nodes, -1)


def _offsets_in_nodes(offsets_mm, axes_3d):
    """Shell offsets as (flat node offset, fractional position (z, y, x), flat strides)."""
    shape = [coordinates.size for coordinates in axes_3d]
    strides = np.array([shape[1] * shape[2], shape[2], 1], dtype=np.int64)
    node_offsets = np.zeros(len(offsets_mm), dtype=np.int64)
    fractions = np.zeros_like(offsets_mm)
    for axis, coordinates in enumerate(axes_3d):
        if coordinates.size < 2:
            strides[axis] = 0
            continue
        position = offsets_mm[:, axis] / (coordinates[1] - coordinates[0])
        whole = np.floor(position)
        fractions[:, axis] = position - whole
        node_offsets += whole.astype(np.int64) * strides[axis]
    return node_offsets, fractions, strides


def _search_limit_mm(points_mm, axes_3d, distance_mm, max_gamma) -> float:
    """Largest shell radius worth searching: max_gamma · δr, or the farthest grid corner."""
    if max_gamma is not None:
        return max_gamma * distance_mm
    lows = np.array([axis[0] for axis in axes_3d])
    highs = np.array([axis[-1] for axis in axes_3d])
    farthest = np.maximum(np.abs(points_mm - lows), np.abs(points_mm - highs))
    return float(np.sqrt((farthest**2).sum(axis=1)).max())


def _shell_batches(ndim: int, distance_mm: float, interp_fraction: float,
                   limit_mm: float) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """(offsets (n, 3) mm, shell start indices, shell radii mm), batch after batch."""
    step_mm = distance_mm / interp_fraction
    offsets, radii, budget = [], [], _FIRST_BATCH_OFFSETS
    for radius in _search_radii(distance_mm, step_mm, limit_mm):
        shell = _shell_offsets(ndim, radius, step_mm)
        offsets.append(np.pad(shell, ((0, 0), (3 - ndim, 0))))
        radii.append(radius)
        # most points finish within δr: a small first batch, larger ones for the rest
        if sum(len(o) for o in offsets) >= budget and radius >= distance_mm:
            yield _as_batch(offsets, radii)
            offsets, radii, budget = [], [], min(2 * budget, _OFFSETS_PER_BATCH)
    if radii:
        yield _as_batch(offsets, radii)


def _as_batch(offsets, radii):
    starts = np.concatenate([[0], np.cumsum([len(o) for o in offsets])]).astype(np.int64)
    return np.ascontiguousarray(np.concatenate(offsets)), starts, np.array(radii)


def _search_radii(distance_mm: float, step_mm: float, limit_mm: float) -> Iterator[float]:
    """0, s, 2s, ... accumulated in float64, δr itself inserted, up to limit_mm."""
    radius, passed_threshold = 0.0, False
    while radius <= limit_mm:
        yield radius
        radius += step_mm
        if not passed_threshold and radius >= distance_mm:
            radius, passed_threshold = distance_mm, True


def _shell_offsets(ndim: int, radius: float, step_mm: float) -> np.ndarray:
    """Points at distance radius (mm) in 1, 2 or 3 dimensions, no gap wider than step_mm."""
    if ndim == 1:
        return np.array([[0.0]]) if radius == 0 else np.array([[radius], [-radius]])
    if ndim == 2:
        angles = _angles_around(2 * np.pi * radius, step_mm)
        return np.column_stack([radius * np.cos(angles), radius * np.sin(angles)])
    rows = []
    for elevation in np.linspace(0, np.pi, int(np.ceil(np.pi * radius / step_mm)) + 1):
        azimuths = _angles_around(2 * np.pi * (radius * np.sin(elevation)), step_mm)
        rows.append(np.column_stack([
            radius * np.sin(elevation) * np.cos(azimuths),
            radius * np.sin(elevation) * np.sin(azimuths),
            radius * np.cos(elevation) * np.ones_like(azimuths),
        ]))
    return np.concatenate(rows)


def _angles_around(circumference_mm: float, step_mm: float) -> np.ndarray:
    """ceil(circumference / step) + 1 equally spaced angles in [0, 2π)."""
    count = int(np.ceil(circumference_mm / step_mm)) + 1
    return np.linspace(0, 2 * np.pi, count + 1)[:-1]
