"""Binary morphology in millimetres, connected components and slice-wise filling.

Erosion, dilation, opening and closing use the ball of all voxel offsets within
the radius at the voxel spacing, so a radius in mm means the same thing on any
grid. A small ball is applied row by row (shifted logical ors of the mask, a few
dozen passes); a large one, or one with an offset within rounding of its
radius, as a threshold of a Euclidean distance transform (``edt``: one
linear-time pass whatever the radius). Both give the same masks.
"""

from __future__ import annotations

import cc3d
import edt
import fill_voids
import numpy as np

#: Most passes over the array for which the row-wise ball beats a distance transform.
_MAX_ROW_PASSES = 160
#: Relative margin around the squared radius inside which an offset counts as a tie.
_TIE_MARGIN = 1e-3
#: Cell size (mm) of the coarse grid on which :func:`closer_to_first` decides most voxels.
_COARSE_CELL_MM = 2.5
#: Allowance (mm) for the rounding of single-precision distances.
_ROUNDING_MM = 0.01
#: Labels counted at a time by :func:`component_labels`.
_COUNT_CHUNK = 1 << 18


def _distance_inside_mm(mask: np.ndarray, spacing_mm, edge_is_outside: bool) -> np.ndarray:
    """Distance (mm) of each voxel of ``mask`` to the nearest voxel outside it.

    With ``edge_is_outside`` the voxels beyond the array edge count as outside.
    """
    return edt.edt(np.ascontiguousarray(mask, dtype=np.uint8),
                   anisotropy=tuple(float(s) for s in spacing_mm),
                   black_border=edge_is_outside, parallel=0)


def _distance_outside_mm(mask: np.ndarray, spacing_mm) -> np.ndarray:
    """Distance (mm) of each voxel outside ``mask`` to the nearest voxel of it (0 inside)."""
    if not mask.any():
        return np.full(mask.shape, np.inf, dtype=np.float32)
    return edt.edt(np.ascontiguousarray(~mask, dtype=np.uint8),
                   anisotropy=tuple(float(s) for s in spacing_mm), black_border=False,
                   parallel=0)


def erode_mm(mask: np.ndarray, radius_mm: float, spacing_mm, *,
             edge_is_outside: bool = False) -> np.ndarray:
    """Erosion of a boolean mask by a ball of ``radius_mm`` (mm).

    By default the mask is taken to go on beyond the array edge (a body cut by
    the scan's first slice is not eroded there); ``edge_is_outside`` erodes from
    the edge too.

    Examples
    --------
    >>> mask = np.zeros((1, 9, 9), bool); mask[0, 2:7, 2:7] = True
    >>> int(erode_mm(mask, 1.0, (1.0, 1.0, 1.0)).sum())
    9
    >>> int(erode_mm(mask, 1.0, (1.0, 1.0, 1.0), edge_is_outside=True).sum())
    0
    """
    rows = _ball_rows(radius_mm, spacing_mm)
    if rows is None:
        return _distance_inside_mm(mask, spacing_mm, edge_is_outside) > radius_mm
    mask = np.asarray(mask, dtype=bool)
    eroded = np.zeros(mask.shape, dtype=bool)
    if not mask.any():
        return eroded
    # One voxel of the outside around the mask's box stands in for all the outside beyond it.
    box = bounding_box(mask, (1,) * mask.ndim)
    eroded[box] = ~_dilate_rows(~mask[box], rows, edge_is_outside)
    return eroded


def dilate_mm(mask: np.ndarray, radius_mm: float, spacing_mm) -> np.ndarray:
    """Dilation of a boolean mask by a ball of ``radius_mm`` (mm).

    Examples
    --------
    >>> mask = np.zeros((1, 5, 5), bool); mask[0, 2, 2] = True
    >>> int(dilate_mm(mask, 1.0, (1.0, 1.0, 1.0)).sum())
    5
    """
    grown = np.zeros(mask.shape, dtype=bool)
    if not mask.any():
        return grown
    # Only the mask's box widened by the radius can change: skip the rest of the volume.
    margin = tuple(int(np.ceil(radius_mm / s)) + 1 for s in spacing_mm)
    box = bounding_box(mask, margin)
    rows = _ball_rows(radius_mm, spacing_mm)
    if rows is None:
        grown[box] = _distance_outside_mm(mask[box], spacing_mm) <= radius_mm
    else:
        grown[box] = _dilate_rows(mask[box], rows, False)
    return grown


def open_mm(mask: np.ndarray, radius_mm: float, spacing_mm) -> np.ndarray:
    """Opening (erosion then dilation) by a ball of ``radius_mm`` (mm): removes thin parts.

    Examples
    --------
    >>> mask = np.zeros((1, 11, 11), bool); mask[0, 3:8, 3:8] = True; mask[0, 5, 8:] = True
    >>> opened = open_mm(mask, 1.5, (1.0, 1.0, 1.0))
    >>> bool(opened[0, 5, 5]), bool(opened[0, 5, 9])
    (True, False)
    """
    return dilate_mm(erode_mm(mask, radius_mm, spacing_mm), radius_mm, spacing_mm) & mask


def close_mm(mask: np.ndarray, radius_mm: float, spacing_mm) -> np.ndarray:
    """Closing (dilation then erosion) by a ball of ``radius_mm`` (mm): bridges narrow gaps.

    Examples
    --------
    >>> mask = np.zeros((1, 9, 9), bool); mask[0, 2:7, 2:7] = True; mask[0, 4, 4] = False
    >>> bool(close_mm(mask, 1.5, (1.0, 1.0, 1.0))[0, 4, 4])
    True
    """
    return erode_mm(dilate_mm(mask, radius_mm, spacing_mm), radius_mm, spacing_mm) | mask


def closer_to_first(first: np.ndarray, second: np.ndarray, spacing_mm,
                    where: np.ndarray | None = None) -> np.ndarray:
    """Where the nearest voxel of ``first`` is no farther (mm) than the nearest of ``second``.

    Both masks must be non-empty. Only the voxels of ``where`` (all by default)
    are decided; the others are False. Distances between the cells of a coarse
    grid (about ``_COARSE_CELL_MM`` wide) settle every cell whose two distances
    differ by more than the cells' size can account for; distances on the voxel
    grid, in the smallest box that holds the nearest voxels of both masks,
    settle the rest. The answer is that of two full-grid distance transforms.

    Examples
    --------
    >>> first = np.zeros((1, 1, 9), bool); second = first.copy()
    >>> first[0, 0, 0] = second[0, 0, 6] = True
    >>> closer_to_first(first, second, (1.0, 1.0, 1.0)).astype(int).tolist()
    [[[1, 1, 1, 1, 0, 0, 0, 0, 0]]]
    """
    where = np.ones(first.shape, dtype=bool) if where is None else where
    factor = tuple(max(1, round(_COARSE_CELL_MM / float(s))) for s in spacing_mm)
    cell_mm = tuple(f * float(s) for f, s in zip(factor, spacing_mm, strict=True))
    # A voxel lies within `half_cell` of its cell's centre: a distance between cells
    # differs from the distance between voxels in them by at most twice that.
    half_cell = float(np.sqrt(sum(((f - 1) / 2 * float(s)) ** 2
                                  for f, s in zip(factor, spacing_mm, strict=True))))
    to_first = _distance_outside_mm(_coarsen(first, factor), cell_mm)
    to_second = _distance_outside_mm(_coarsen(second, factor), cell_mm)
    margin = 4 * half_cell + _ROUNDING_MM
    closer = where & _refine(to_first < to_second - margin, factor, first.shape)
    unsure_cells = np.abs(to_first - to_second) <= margin
    unsure = where & _refine(unsure_cells, factor, first.shape)
    if not unsure.any():
        return closer
    reach_mm = (np.maximum(to_first, to_second)[unsure_cells & _coarsen(unsure, factor)].max()
                + 2 * half_cell + _ROUNDING_MM)
    box = bounding_box(unsure, tuple(int(np.ceil(reach_mm / float(s))) for s in spacing_mm))
    nearer = (_distance_outside_mm(first[box], spacing_mm)
              <= _distance_outside_mm(second[box], spacing_mm))
    closer[box] = np.where(unsure[box], nearer, closer[box])
    return closer


def _coarsen(mask: np.ndarray, factor) -> np.ndarray:
    """Cells of ``factor`` voxels per axis, True where they hold a voxel of ``mask``."""
    cells = np.pad(mask, [(0, -n % f) for n, f in zip(mask.shape, factor, strict=True)])
    for axis, f in enumerate(factor):
        # Or-ing strided views beats numpy's any over a reshaped axis of a few elements.
        views = [cells[(slice(None),) * axis + (slice(i, None, f),)] for i in range(f)]
        cells = views[0].copy()
        for view in views[1:]:
            cells |= view
    return cells


def _refine(cells: np.ndarray, factor, shape) -> np.ndarray:
    """Cell values repeated onto the voxels of a grid of ``shape``."""
    for axis, f in enumerate(factor):
        cells = np.repeat(cells, f, axis=axis)
    return cells[tuple(slice(0, n) for n in shape)]


def component_labels(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """26-connected components of ``mask`` and the voxel count of each label (0 for background).

    Examples
    --------
    >>> labels, counts = component_labels(np.array([[[1, 0, 1, 1]]], bool))
    >>> labels.tolist(), counts.tolist()
    ([[[1, 0, 2, 2]]], [0, 1, 2])
    """
    if mask.dtype == bool:
        mask = np.ascontiguousarray(mask).view(np.uint8)
    labels, count = cc3d.connected_components(np.ascontiguousarray(mask, dtype=np.uint8),
                                              connectivity=26, return_N=True)
    counts = np.zeros(count + 1, dtype=np.int64)
    # In chunks: np.bincount widens its whole input to 64-bit integers first.
    flat = labels.reshape(-1)
    for start in range(0, flat.size, _COUNT_CHUNK):
        counts += np.bincount(flat[start:start + _COUNT_CHUNK], minlength=count + 1)
    counts[0] = 0
    return labels, counts


def largest_component(mask: np.ndarray) -> np.ndarray:
    """The largest 26-connected component of ``mask`` (empty if ``mask`` is).

    Examples
    --------
    >>> largest_component(np.array([[[1, 0, 1, 1]]], bool)).astype(int).tolist()
    [[[0, 0, 1, 1]]]
    """
    labels, counts = component_labels(mask)
    if counts.max(initial=0) == 0:
        return np.zeros(mask.shape, dtype=bool)
    return labels == int(np.argmax(counts))


def fill_holes_per_slice(mask: np.ndarray) -> np.ndarray:
    """Fill the 2D holes of each axial slice (axis 0) of ``mask``.

    Examples
    --------
    >>> ring = np.ones((1, 3, 3), bool); ring[0, 1, 1] = False
    >>> bool(fill_holes_per_slice(ring)[0, 1, 1])
    True
    """
    filled = mask.copy()
    if not mask.any():
        return filled
    # Around the mask's box all is background, open to each slice's edge: fill the box only.
    box = bounding_box(mask)
    for k in range(box[0].start, box[0].stop):
        filled[k][box[1:]] = fill_voids.fill(mask[k][box[1:]])
    return filled


def bounding_box(mask: np.ndarray, margin_vox=(0, 0, 0)) -> tuple[slice, ...]:
    """Slices of the smallest box around ``mask``'s voxels, widened by ``margin_vox``."""
    box = []
    # Projecting out one leading axis at a time reads the whole mask only twice.
    projection = mask
    for axis in range(mask.ndim):
        present = np.nonzero(projection.any(axis=tuple(range(1, projection.ndim))))[0]
        low = max(int(present[0]) - margin_vox[axis], 0)
        high = min(int(present[-1]) + 1 + margin_vox[axis], mask.shape[axis])
        box.append(slice(low, high))
        if axis < mask.ndim - 1:
            projection = projection.any(axis=0)
    return tuple(box)


def _ball_rows(radius_mm: float, spacing_mm) -> dict[tuple[int, ...], int] | None:
    """The ball of ``radius_mm`` as rows along the last axis, or None where rows do not pay.

    Returns ``{offset along the other axes (voxels): half-width along the last
    axis (voxels)}`` over the offsets whose length is at most ``radius_mm``.
    None for a radius that is not positive and finite, a ball with more rows
    than :data:`_MAX_ROW_PASSES` allows, and a ball with an offset whose length
    lies within rounding of the radius, where only the distance transform's own
    arithmetic gives its answer.
    """
    radius_mm, spacing_mm = float(radius_mm), [float(s) for s in spacing_mm]
    if not (np.isfinite(radius_mm) and radius_mm > 0
            and all(np.isfinite(s) and s > 0 for s in spacing_mm)):
        return None
    reach = [int(radius_mm // s) + 1 for s in spacing_mm]
    if 2 * reach[-1] + np.prod([2 * k + 1 for k in reach[:-1]]) > 4 * _MAX_ROW_PASSES:
        return None
    axes = [np.arange(-k, k + 1) * s for k, s in zip(reach, spacing_mm, strict=True)]
    squared = sum(a**2 for a in np.meshgrid(*axes, indexing="ij", sparse=True))
    if np.any(np.abs(squared - radius_mm**2) <= _TIE_MARGIN * radius_mm**2):
        return None
    # Along the last axis the offsets inside the ball run from -width to +width.
    lengths = np.count_nonzero(squared <= radius_mm**2, axis=-1)
    rows = {tuple(int(i) - k for i, k in zip(index, reach, strict=False)): int(lengths[index]) // 2
            for index in zip(*np.nonzero(lengths), strict=True)}
    if len(rows) + 2 * max(rows.values()) > _MAX_ROW_PASSES:
        return None
    return rows


def _dilate_rows(mask: np.ndarray, rows: dict[tuple[int, ...], int],
                 outside: bool) -> np.ndarray:
    """Dilation of ``mask`` by the rows of :func:`_ball_rows`; beyond the edge is ``outside``."""
    reach = [max(abs(offset[axis]) for offset in rows) for axis in range(mask.ndim - 1)]
    reach.append(max(rows.values()))
    padded = np.pad(mask, [(k, k) for k in reach], constant_values=outside)
    last, length = reach[-1], mask.shape[-1]
    run = padded[..., last:last + length].copy()
    grown = np.zeros(mask.shape, dtype=bool)
    width = 0
    for half_width in sorted(set(rows.values())):
        while width < half_width:
            width += 1
            run |= padded[..., last - width:last - width + length]
            run |= padded[..., last + width:last + width + length]
        for offset, row_width in rows.items():
            if row_width == half_width:
                grown |= run[tuple(slice(k + d, k + d + n)
                                   for k, d, n in zip(reach, offset, mask.shape, strict=False))]
    return grown
