"""Binary morphology in millimetres, connected components and slice-wise filling.

Erosion, dilation, opening and closing are thresholds of Euclidean distance
transforms computed with the voxel spacing (``edt``), so a radius in mm means
the same thing on any grid and costs one linear-time pass whatever its size.
"""

from __future__ import annotations

import cc3d
import edt
import fill_voids
import numpy as np


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
    return _distance_inside_mm(mask, spacing_mm, edge_is_outside) > radius_mm


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
    grown[box] = _distance_outside_mm(mask[box], spacing_mm) <= radius_mm
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
    grown = dilate_mm(mask, radius_mm, spacing_mm)
    outside = _distance_outside_mm(~grown, spacing_mm)
    return (outside > radius_mm) | mask


def component_labels(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """26-connected components of ``mask`` and the voxel count of each label (0 for background).

    Examples
    --------
    >>> labels, counts = component_labels(np.array([[[1, 0, 1, 1]]], bool))
    >>> labels.tolist(), counts.tolist()
    ([[[1, 0, 2, 2]]], [0, 1, 2])
    """
    labels = cc3d.connected_components(np.ascontiguousarray(mask, dtype=np.uint8),
                                       connectivity=26)
    counts = np.bincount(labels.ravel())
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
    for k in np.nonzero(mask.any(axis=(1, 2)))[0]:
        filled[k] = fill_voids.fill(mask[k])
    return filled


def bounding_box(mask: np.ndarray, margin_vox=(0, 0, 0)) -> tuple[slice, ...]:
    """Slices of the smallest box around ``mask``'s voxels, widened by ``margin_vox``."""
    box = []
    for axis in range(mask.ndim):
        other = tuple(a for a in range(mask.ndim) if a != axis)
        present = np.nonzero(mask.any(axis=other))[0]
        low = max(int(present[0]) - margin_vox[axis], 0)
        high = min(int(present[-1]) + 1 + margin_vox[axis], mask.shape[axis])
        box.append(slice(low, high))
    return tuple(box)
