"""Putting irregular slice stacks onto a regular grid.

Two corrections, both linear interpolation:

* :func:`interpolate_along_normal`: slices at uneven depths → slices at
  uniform depths, each interpolated between its two neighbours.
* :func:`shift_slices_in_plane`: gantry tilt. Each slice keeps its own plane
  and is shifted within it by its sideways offset from the first slice, as
  dcm2niix does, so that the stack becomes a box perpendicular to the slices.
  The in-plane grid grows to hold every shifted slice, so no acquired pixel
  is lost; the new margin is filled with the darkest value of the stack.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage


def interpolate_along_normal(slices: np.ndarray, depths_mm, target_depths_mm) -> np.ndarray:
    """Linearly interpolate sorted slices at ``depths_mm`` to ``target_depths_mm``.

    Parameters
    ----------
    slices : (n, rows, columns) array
        Slices sorted by increasing depth.
    depths_mm : (n,) array
        Their depths along the normal, increasing.
    target_depths_mm : (m,) array
        Depths to interpolate at, within ``[depths_mm[0], depths_mm[-1]]``.

    Returns
    -------
    (m, rows, columns) float32 array

    Examples
    --------
    >>> stack = np.stack([np.zeros((1, 1)), np.full((1, 1), 4.0)])
    >>> interpolate_along_normal(stack, [0.0, 2.0], [0.0, 0.5, 2.0]).ravel().tolist()
    [0.0, 1.0, 4.0]
    """
    depths = np.asarray(depths_mm, dtype=float)
    targets = np.asarray(target_depths_mm, dtype=float)
    upper = np.clip(np.searchsorted(depths, targets, side="right"), 1, len(depths) - 1)
    lower = upper - 1
    weight = np.clip((targets - depths[lower]) / (depths[upper] - depths[lower]), 0.0, 1.0)
    result = np.empty((len(targets),) + slices.shape[1:], dtype=np.float32)
    for k, (a, b, w) in enumerate(zip(lower, upper, weight, strict=True)):
        if w == 0.0:
            result[k] = slices[a]
        elif w == 1.0:
            result[k] = slices[b]
        else:
            result[k] = (1.0 - w) * slices[a].astype(np.float64) + w * slices[b]
    return result


def shift_slices_in_plane(slices: np.ndarray, offsets_px, fill: float):
    """Shift each slice by its in-plane offset, on a grid that holds all of them.

    Parameters
    ----------
    slices : (n, rows, columns) array
    offsets_px : (n, 2) array
        Where each slice's first pixel lies, in (row, column) pixels,
        relative to the first slice's first pixel.
    fill : float
        Value for pixels that no slice covers.

    Returns
    -------
    shifted : (n, rows + extra_rows, columns + extra_columns) float32 array
    margin_px : (2,) int array
        Rows and columns added before the original first pixel: the new
        grid's first pixel lies ``margin_px`` pixels before the first slice's.

    Examples
    --------
    >>> stack = np.stack([np.array([[1.0, 2.0]]), np.array([[1.0, 2.0]])])
    >>> shifted, margin = shift_slices_in_plane(stack, [[0, 0], [0, 1]], fill=0.0)
    >>> shifted[:, 0].tolist(), margin.tolist()
    ([[1.0, 2.0, 0.0], [0.0, 1.0, 2.0]], [0, 0])
    """
    offsets = np.asarray(offsets_px, dtype=float)
    before = np.ceil(np.maximum(-offsets.min(axis=0), 0) - 1e-6).astype(int)
    after = np.ceil(np.maximum(offsets.max(axis=0), 0) - 1e-6).astype(int)
    pad = ((before[0], after[0]), (before[1], after[1]))
    shape = (len(slices), slices.shape[1] + before[0] + after[0],
             slices.shape[2] + before[1] + after[1])
    result = np.empty(shape, dtype=np.float32)
    for k, (image, offset) in enumerate(zip(slices, offsets, strict=True)):
        padded = np.pad(image.astype(np.float32), pad, constant_values=fill)
        result[k] = ndimage.shift(padded, offset, order=1, mode="constant", cval=fill)
    return result, before
