"""Axis-aligned sampling grids shared by the phantoms.

A grid is described per *world* axis (x, y[, z]) by the 1D array of its voxel
centre coordinates in mm; array axes are the world axes reversed, so that
images are indexed (y, x) and volumes (z, y, x).
"""

from __future__ import annotations

import itertools

import numpy as np


def centred_axes(shape, spacing_mm, center_mm) -> list[np.ndarray]:
    """Voxel-centre coordinates per world axis of a grid centred on ``center_mm``.

    ``shape`` and ``spacing_mm`` are in array order, ``center_mm`` in world
    order (x, y[, z]); the result is in world order.
    """
    world_shape, world_spacing = shape[::-1], spacing_mm[::-1]
    return [c + (np.arange(n) - (n - 1) / 2.0) * s
            for n, s, c in zip(world_shape, world_spacing, center_mm, strict=True)]


def index_box(axes, lower_mm, upper_mm) -> tuple[slice, ...] | None:
    """Array-order slices of the voxels whose centres lie in [lower_mm, upper_mm].

    Returns None when the box holds no voxel centre.
    """
    ranges = []
    for coords, lo, hi in zip(axes, lower_mm, upper_mm, strict=True):
        start = int(np.searchsorted(coords, lo, side="left"))
        stop = int(np.searchsorted(coords, hi, side="right"))
        if stop <= start:
            return None
        ranges.append(slice(start, stop))
    return tuple(ranges[::-1])


def open_grid(axes, box) -> list[np.ndarray]:
    """World coordinates (x, y[, z]) of the voxels in ``box``, as broadcastable open grids."""
    ndim = len(axes)
    grids = []
    for world_axis, coords in enumerate(axes):
        array_axis = ndim - 1 - world_axis
        shape = [1] * ndim
        shape[array_axis] = -1
        grids.append(coords[box[array_axis]].reshape(shape))
    return grids


def subvoxel_offsets(supersample: int, spacing_mm) -> np.ndarray:
    """Offsets (k**ndim, ndim), world order, of the k×k(×k) sub-voxel centres from the centre."""
    fractions = (np.arange(supersample) + 0.5) / supersample - 0.5
    world_spacing = np.asarray(spacing_mm, dtype=float)[::-1]
    return np.array(list(itertools.product(fractions, repeat=len(world_spacing)))) * world_spacing
