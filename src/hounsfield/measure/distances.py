"""Distances in millimetres between masks, and from a mask to another mask's surface.

A voxel is the box of its spacing around its centre, so two masks that
share a face, an edge or a corner are 0 mm apart, and masks with one empty
voxel between them along x are one x spacing apart. The distance between
two masks is the shortest distance between their voxel boxes: for voxels
whose indices differ by ``d`` along each axis it is
``sqrt(sum((max(|d| - 1, 0) * spacing) ** 2))``, which is the distance
between the centre of one and the nearest voxel centre of the other mask
grown by one voxel in all 26 directions. That is what is computed, with the
Euclidean distance transform (``edt``, anisotropic spacing), inside a box
around the first mask that grows until it holds the answer.
"""

from __future__ import annotations

import edt
import numpy as np

from ..segment._morphology import bounding_box

__all__ = ["distance_between_masks_mm", "distance_to_surface_mm"]

_FIRST_MARGIN_MM = 16.0


def _checked_masks(a, b, spacing_mm, names) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    a, b = (m if m.dtype == bool else m != 0 for m in (np.asarray(a), np.asarray(b)))
    if a.ndim != 3 or a.shape != b.shape:
        raise ValueError(f"{names[0]} and {names[1]} must be 3D masks of one shape, got "
                         f"{a.shape} and {b.shape}")
    spacing = np.broadcast_to(np.asarray(spacing_mm, dtype=float), (3,)).copy()
    if not np.all(np.isfinite(spacing) & (spacing > 0)):
        raise ValueError(f"spacing_mm must be three positive numbers (z, y, x) in mm, "
                         f"got {spacing_mm!r}")
    return a, b, spacing


def _grown_by_one(mask: np.ndarray) -> np.ndarray:
    """The mask grown by one voxel in all 26 directions."""
    grown = mask.copy()
    for axis in range(3):
        step = grown.copy()
        lower = [slice(None)] * 3
        upper = [slice(None)] * 3
        lower[axis], upper[axis] = slice(None, -1), slice(1, None)
        step[tuple(upper)] |= grown[tuple(lower)]
        step[tuple(lower)] |= grown[tuple(upper)]
        grown = step
    return grown


def _box_distance(a: np.ndarray, b: np.ndarray, spacing: np.ndarray, box) -> float | None:
    """Distance from a to b seen inside ``box``; None when b has no voxel there."""
    near = b[box]
    if not near.any():
        return None
    # The grown voxel nearest to a voxel of a lies between the two, so inside the box.
    target = _grown_by_one(near)
    if (target & a[box]).any():
        return 0.0
    distance = edt.edt(np.ascontiguousarray(~target, dtype=np.uint8),
                       anisotropy=tuple(float(s) for s in spacing), black_border=False,
                       parallel=1)
    return float(distance[a[box]].min())


def distance_between_masks_mm(a, b, spacing_mm) -> float | None:
    """Shortest distance (mm) between the voxels of two masks; 0 when they touch or overlap.

    See the module notes: voxels are boxes, so adjacent masks are 0 mm apart.

    Parameters
    ----------
    a, b : ndarray, 3D
        Masks of one shape (non-zero inside).
    spacing_mm : float or 3 floats
        Voxel size (z, y, x) in mm.

    Returns
    -------
    float or None
        None when either mask is empty.

    Examples
    --------
    >>> a = np.zeros((1, 1, 8), bool); b = a.copy()
    >>> a[0, 0, 0] = True; b[0, 0, 4] = True
    >>> distance_between_masks_mm(a, b, (1.0, 1.0, 0.5))
    1.5
    """
    a, b, spacing = _checked_masks(a, b, spacing_mm, ("a", "b"))
    if not a.any() or not b.any():
        return None
    margin_mm = _FIRST_MARGIN_MM
    while True:
        margin = np.ceil(margin_mm / spacing).astype(int)
        box = bounding_box(a, margin)
        whole = all(s.start == 0 and s.stop == n for s, n in zip(box, a.shape, strict=True))
        found = _box_distance(a, b, spacing, box)
        # A voxel of b outside the box is at least one margin from every voxel of a.
        reach = float(np.min(margin * spacing))
        if found is not None and (whole or found <= reach):
            return found
        if whole:  # pragma: no cover - b is not empty, so the whole array finds it
            return None
        margin_mm *= 3.0


def distance_to_surface_mm(a, mask, spacing_mm) -> float | None:
    """Shortest distance (mm) from mask ``a`` to the surface of ``mask``.

    The surface separates ``mask`` from the rest of the array (the array's
    own edge is not part of it). When ``a`` lies inside ``mask`` this is the
    distance to the nearest voxel outside it (for the pleura: from a nodule
    to the outside of the lungs); when ``a`` lies outside, the distance to
    ``mask``; 0 when ``a`` has voxels on both sides or touches the other side.

    Parameters
    ----------
    a, mask : ndarray, 3D
        Masks of one shape (non-zero inside).
    spacing_mm : float or 3 floats
        Voxel size (z, y, x) in mm.

    Returns
    -------
    float or None
        None when ``a`` is empty or ``mask`` has no surface in the array
        (empty, or filling it).

    Examples
    --------
    >>> lung = np.zeros((1, 1, 20), bool); lung[0, 0, 2:18] = True
    >>> nodule = np.zeros_like(lung); nodule[0, 0, 6:9] = True
    >>> distance_to_surface_mm(nodule, lung, 1.0)
    4.0
    """
    a, inside, spacing = _checked_masks(a, mask, spacing_mm, ("a", "mask"))
    if not a.any() or not inside.any() or inside.all():
        return None
    if not (a & inside).any():
        return distance_between_masks_mm(a, inside, spacing)
    if not (a & ~inside).any():
        return distance_between_masks_mm(a, ~inside, spacing)
    return 0.0
