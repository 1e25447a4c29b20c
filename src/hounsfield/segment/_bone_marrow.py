"""Marrow of a bone mask, the spinal canal left open, and the clean-up of its surface.

A threshold leaves out most of the marrow: fatty marrow reads −100…100 HU,
cellular marrow 50–150 HU. The holes the cortex encloses in an axial slice,
up to :data:`MARROW_MAX_MM2` (a humeral head), are marrow, and so are the
voids closed in 3D, but for the spinal canal: as large as a vertebral body's
marrow and as dark, it is told apart by its place only. The caller finds its
centre in each slice; the holes around that centre stay open out to
_CANAL_RADIUS_MM, so a vertebral body's marrow joined to the canal through
the basivertebral foramen is still filled. Marrow behind a cortical ring
open by up to twice _OPEN_RING_MM is added too, not the bridges that close
the ring.

The surface is cleaned last. A voxel on the in-plane surface below
_EDGE_HU holds mostly soft tissue, taken along by the threshold (partial
volume) or by a closing, and is dropped. Where the pixels are fine (up to
_VOTE_SPACING_MM), a majority vote over each voxel's 3×3 in-plane
neighbourhood then smooths the noise out of the threshold's surface.
"""

from __future__ import annotations

import fill_voids
import numpy as np
from scipy import ndimage

from ._morphology import bounding_box, close_mm

__all__ = ["APART_MM", "MARROW_MAX_MM2", "fill_holes_by_area", "smoothed_surface",
           "with_marrow"]

#: Slice distance (mm) that keeps 3D morphology within each axial slice.
APART_MM = 1000.0
#: Largest axial area (mm²) of marrow enclosed by a cortical ring.
MARROW_MAX_MM2 = 4000.0
#: In-plane closing (mm) that bridges a bone's open cortical ring before its marrow is filled.
_OPEN_RING_MM = 4.0
#: Radius (mm) around the canal's centre whose holes are the canal, and the largest
#: distance (mm) of the canal's voxels from its centre.
_CANAL_SEED_MM = 3.0
_CANAL_RADIUS_MM = 12.0
#: Lowest CT number (HU) of a voxel on the bone's in-plane surface.
_EDGE_HU = 200.0
#: Largest pixel size (mm) at which the surface is smoothed by a majority vote.
_VOTE_SPACING_MM = 1.0


def with_marrow(bone: np.ndarray, canal, spacing_mm) -> np.ndarray:
    """``bone`` with the marrow of its slices and its 3D voids filled, the spinal canal not.

    Parameters
    ----------
    bone : numpy.ndarray
        bool (z, y, x) mask of cortical and trabecular bone, axial slices along
        the first axis.
    canal : numpy.ndarray or None
        (z, 2) float (row, col) of the spinal canal's centre in each slice;
        None when the scan shows no canal.
    spacing_mm : sequence of 3 floats
        Voxel size (z, y, x) in mm.

    Returns
    -------
    numpy.ndarray
        bool, ``bone.shape``: ``bone`` and its marrow.

    Examples
    --------
    Two rings in one slice, the right one around the canal's centre:

    >>> bone = np.zeros((1, 12, 24), bool)
    >>> bone[0, 2:10, 2:10] = bone[0, 2:10, 14:22] = True
    >>> bone[0, 4:8, 4:8] = bone[0, 4:8, 16:20] = False
    >>> filled = with_marrow(bone, np.array([[5.5, 17.5]]), (2.5, 1.0, 1.0))
    >>> bool(filled[0, 5, 5]), bool(filled[0, 5, 17])
    (True, False)
    """
    if not bone.any():
        return bone
    marrow, canal_space = _marrow_and_canal(bone, canal, spacing_mm)
    ring = close_mm(bone, _OPEN_RING_MM, (APART_MM, *spacing_mm[1:]))
    ring_marrow, ring_canal = _marrow_and_canal(ring, canal, spacing_mm)
    filled = bone | marrow | (ring_marrow & ~ring)
    return fill_voids.fill(filled) & ~canal_space & ~ring_canal


def smoothed_surface(bone: np.ndarray, hu: np.ndarray, spacing_mm) -> np.ndarray:
    """``bone`` without faint in-plane surface voxels, smoothed by a majority vote.

    A voxel of ``bone`` with a 4-neighbour outside it in its slice is kept
    from _EDGE_HU up. Where the pixels measure at most _VOTE_SPACING_MM, a
    voxel is then bone when at least 5 of its 3×3 in-plane neighbourhood are.

    Parameters
    ----------
    bone : numpy.ndarray
        bool (z, y, x) mask.
    hu : numpy.ndarray
        CT numbers (HU) of ``bone.shape``.
    spacing_mm : sequence of 3 floats
        Voxel size (z, y, x) in mm.

    Returns
    -------
    numpy.ndarray
        bool, ``bone.shape``.

    Examples
    --------
    A 400 HU square with a 170 HU partial-volume rim on 2 mm pixels (no vote):

    >>> hu = np.zeros((1, 9, 9), np.float32)
    >>> hu[0, 1:8, 1:8] = 170.0
    >>> hu[0, 2:7, 2:7] = 400.0
    >>> int(smoothed_surface(hu >= 150.0, hu, (2.5, 2.0, 2.0)).sum())
    25
    """
    inner = bone.copy()
    for axis in (1, 2):
        for shift in (1, -1):
            inner &= _shifted(bone, shift, axis, fill=True)
    bone = bone & (inner | (hu >= _EDGE_HU))
    if max(float(s) for s in spacing_mm[1:]) > _VOTE_SPACING_MM:
        return bone
    votes = bone.astype(np.uint8)
    for axis in (1, 2):
        votes = votes + _shifted(votes, 1, axis) + _shifted(votes, -1, axis)
    return votes >= 5


def fill_holes_by_area(mask: np.ndarray, spacing_mm, ranges) -> np.ndarray:
    """``mask`` with each axial slice's 2D holes filled when their area (mm²) is in a range.

    Parameters
    ----------
    mask : numpy.ndarray
        bool (z, y, x) mask.
    spacing_mm : sequence of 3 floats
        Voxel size (z, y, x) in mm.
    ranges : sequence of (float, float)
        Closed intervals of hole area (mm²) to fill.

    Returns
    -------
    numpy.ndarray
        bool, ``mask.shape``.

    Examples
    --------
    >>> ring = np.ones((1, 5, 5), bool); ring[0, 1:4, 1:4] = False
    >>> int(fill_holes_by_area(ring, (1.0, 1.0, 1.0), [(0.0, 8.0)]).sum())
    16
    >>> int(fill_holes_by_area(ring, (1.0, 1.0, 1.0), [(0.0, 9.0)]).sum())
    25
    """
    pixel_mm2 = float(spacing_mm[1]) * float(spacing_mm[2])
    filled = mask.copy()
    for k in np.nonzero(mask.any(axis=(1, 2)))[0]:
        labels, count = ndimage.label(fill_voids.fill(mask[k]) & ~mask[k])
        if count == 0:
            continue
        areas = np.bincount(labels.ravel()) * pixel_mm2
        wanted = np.zeros(areas.shape, dtype=bool)
        for low, high in ranges:
            wanted |= (areas >= low) & (areas <= high)
        wanted[0] = False
        filled[k] |= wanted[labels]
    return filled


def _marrow_and_canal(bone: np.ndarray, canal, spacing_mm) -> tuple[np.ndarray, np.ndarray]:
    """The 2D holes of ``bone``'s slices up to MARROW_MAX_MM2, split into marrow and canal."""
    marrow, canal_space = np.zeros_like(bone), np.zeros_like(bone)
    pixel_mm2 = float(spacing_mm[1]) * float(spacing_mm[2])
    for k in np.nonzero(bone.any(axis=(1, 2)))[0]:
        box = bounding_box(bone[k])
        labels, count = ndimage.label(fill_voids.fill(bone[k][box]) & ~bone[k][box])
        if count == 0:
            continue
        small = np.bincount(labels.ravel()) * pixel_mm2 <= MARROW_MAX_MM2
        small[0] = False
        marrow[k][box] = small[labels]
        if canal is not None:
            centre = (canal[k][0] - box[0].start, canal[k][1] - box[1].start)
            canal_space[k][box] = _canal_in_holes(labels, small, centre, spacing_mm)
            marrow[k][box] &= ~canal_space[k][box]
    return marrow, canal_space


def _canal_in_holes(labels: np.ndarray, small: np.ndarray, centre, spacing_mm) -> np.ndarray:
    """The part of a slice's labelled holes (those ``small``) that is the canal at ``centre``.

    The holes within _CANAL_SEED_MM of the canal's (row, col) centre hold it,
    up to _CANAL_RADIUS_MM from the centre: a vertebral body's marrow joined
    to the canal through the basivertebral foramen lies farther in front.
    """
    reach = tuple(slice(max(int(c - _CANAL_RADIUS_MM / s), 0),
                        max(int(c + _CANAL_RADIUS_MM / s) + 2, 0))
                  for c, s in zip(centre, spacing_mm[1:], strict=True))
    rows, cols = np.indices(labels.shape)[(slice(None), *reach)]
    distance_mm = np.hypot((rows - centre[0]) * spacing_mm[1], (cols - centre[1]) * spacing_mm[2])
    near = labels[reach]
    touched = np.unique(near[distance_mm <= _CANAL_SEED_MM])
    canal = np.zeros(labels.shape, dtype=bool)
    canal[reach] = np.isin(near, touched[small[touched]]) & (distance_mm <= _CANAL_RADIUS_MM)
    return canal


def _shifted(array: np.ndarray, shift: int, axis: int, *, fill=0) -> np.ndarray:
    """``array`` moved by ``shift`` (±1) voxels along ``axis``; the vacated layer is ``fill``."""
    moved = np.full_like(array, fill)
    source = [slice(None)] * array.ndim
    target = [slice(None)] * array.ndim
    source[axis] = slice(None, -1) if shift > 0 else slice(1, None)
    target[axis] = slice(1, None) if shift > 0 else slice(None, -1)
    moved[tuple(target)] = array[tuple(source)]
    return moved
