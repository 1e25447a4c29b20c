"""Surface elements of a binary mask, as the surface-distance conventions define them.

Two surfaces are in use:

* **Border voxels** (MONAI, MetricsReloaded, medpy): the voxels of the mask
  that a binary erosion with the connectivity-1 cross removes, with
  everything outside the array counted as background (scipy's
  ``binary_erosion`` default). Each counts once.
* **Corner surfels** (DeepMind's surface-distance): points of the grid of
  voxel corners whose 2×2×2 (2D: 2×2) neighbourhood of voxels is neither all
  foreground nor all background. Each carries the area in mm² (2D: length
  in mm) of the marching-cubes (marching-squares) surface that passes
  through its neighbourhood cell.

Masks are 3D 0/1 ``uint8`` arrays, read inside a box (a tuple of slices)
that holds the mask with a margin of background or the array's edge on every
side, so that outside the box is background. A 2D image travels as a
``(1, H, W)`` array with ``planar=True``, where axis 0 is not a spatial axis.
Surfaces are returned on the box's grid: border voxels on its voxels, corner
surfels on its corners (one more along each spatial axis).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numba
import numpy as np

__all__ = ["Surface", "voxel_border_surface", "corner_surfel_surface", "corner_area_table"]


@dataclass(frozen=True)
class Surface:
    """Surface elements on a grid.

    ``flags`` is non-zero at surface elements (the grid that distances look up),
    ``points`` their (z, y, x) grid indices in C order, ``codes`` their
    neighbourhood codes (corner surfels) or None (border voxels).
    """

    flags: np.ndarray
    points: np.ndarray
    codes: np.ndarray | None


# -- border voxels --------------------------------------------------------------------


def _origin_and_shape(box) -> tuple[int, int, int, int, int, int]:
    return (*(b.start for b in box), *(b.stop - b.start for b in box))


@numba.njit(cache=True, nogil=True)
def _border_voxel_flags(image, z0, y0, x0, nz, ny, nx, through_axis0):
    """1 where a 0/1 voxel is set and one of its 4 (6 through axis 0) neighbours is not."""
    flags = np.empty((nz, ny, nx), np.uint8)
    for z in range(nz):
        edge_slice = through_axis0 and (z == 0 or z == nz - 1)
        for y in range(ny):
            row, out = image[z0 + z, y0 + y, x0:x0 + nx], flags[z, y]
            if edge_slice or y == 0 or y == ny - 1 or nx < 3:
                out[:] = row  # outside the box is background: every set voxel is border
                continue
            up, down = image[z0 + z, y0 + y - 1, x0:x0 + nx], image[z0 + z, y0 + y + 1, x0:x0 + nx]
            back, front = row, row
            if through_axis0:
                back = image[z0 + z - 1, y0 + y, x0:x0 + nx]
                front = image[z0 + z + 1, y0 + y, x0:x0 + nx]
            out[0], out[nx - 1] = row[0], row[nx - 1]
            for x in range(1, nx - 1):
                inner = row[x - 1] & row[x + 1] & up[x] & down[x] & back[x] & front[x]
                out[x] = row[x] & (inner ^ 1)
    return flags


@numba.njit(cache=True, nogil=True)
def _unravel(flat, ny, nx):
    points = np.empty((flat.size, 3), np.int32)
    for i in range(flat.size):
        zy, points[i, 2] = divmod(flat[i], nx)
        points[i, 0], points[i, 1] = divmod(zy, ny)
    return points


def _flagged_points(flags: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Flat indices and (z, y, x) int32 indices of the non-zero elements, in C order."""
    flat = np.flatnonzero(flags != 0)  # a bool mask: numpy's fast path for nonzero
    return flat, _unravel(flat, flags.shape[1], flags.shape[2])


def voxel_border_surface(image: np.ndarray, box, planar: bool) -> Surface:
    """Border voxels (erosion by the connectivity-1 cross) of a 0/1 ``uint8`` mask in ``box``."""
    flags = _border_voxel_flags(image, *_origin_and_shape(box), not planar)
    return Surface(flags, _flagged_points(flags)[1], None)


# -- corner surfels -------------------------------------------------------------------

# A corner's code has bit 7 - (4a + 2b + c) set when voxel (k-1+a, j-1+b, i-1+c)
# is foreground: surface-distance's neighbour code. In 2D only a = 1 exists.
# The kernels build it axis by axis: a row's "pairs" hold the bits of voxels
# x - 1 and x; four pair rows make a row of codes.


@numba.njit(inline="always")
def _pair_row(row, out):
    nx = row.size
    out[0], out[nx] = row[0], row[nx - 1] << 1
    for x in range(1, nx):
        out[x] = (row[x - 1] << 1) | row[x]


@numba.njit(cache=True, nogil=True)
def _corner_codes(image, z0, y0, x0, nz, ny, nx, planar):
    """Neighbour code at corners whose neighbourhood is mixed, 0 elsewhere (box's corners)."""
    layers = 1 if planar else nz + 1  # a planar image is voxel layer 0 seen from corner layer 0
    full = 15 if planar else 255
    codes = np.empty((layers, ny + 1, nx + 1), np.uint8)
    zero = np.zeros(nx + 1, np.uint8)
    below = np.zeros((ny, nx + 1), np.uint8)  # pair rows of voxel layer cz - 1
    above = np.zeros((ny, nx + 1), np.uint8)  # pair rows of voxel layer cz
    for cz in range(layers):
        below, above = above, below
        if cz < nz:
            for y in range(ny):
                _pair_row(image[z0 + cz, y0 + y, x0:x0 + nx], above[y])
        else:
            above[:] = 0
        for cy in range(ny + 1):
            r00 = below[cy - 1] if cy >= 1 else zero
            r01 = below[cy] if cy < ny else zero
            r10 = above[cy - 1] if cy >= 1 else zero
            r11 = above[cy] if cy < ny else zero
            out = codes[cz, cy]
            for cx in range(nx + 1):  # a single output keeps the loop vectorised
                code = (r00[cx] << 6) | (r01[cx] << 4) | (r10[cx] << 2) | r11[cx]
                out[cx] = code * ((code != 0) & (code != full))
    return codes


def corner_surfel_surface(image: np.ndarray, box, planar: bool) -> Surface:
    """Corner surfels of a 0/1 ``uint8`` mask in ``box``, on the box's grid of corners.

    Corner ``k`` along an axis lies between voxels ``k - 1`` and ``k``. The
    flags are the surfels' neighbour codes (non-zero exactly on the surface).
    """
    codes = _corner_codes(image, *_origin_and_shape(box), planar)
    flat, points = _flagged_points(codes)
    return Surface(codes, points, codes.ravel()[flat])


# -- surfel areas -----------------------------------------------------------------------


def _cube_of(code: int) -> np.ndarray:
    bits = [(code >> (7 - i)) & 1 for i in range(8)]
    return np.array(bits, dtype=float).reshape(2, 2, 2)


@lru_cache(maxsize=1)
def _triangle_area_vectors() -> np.ndarray:
    """(256, 5, 3) area vectors, in voxel units, of each code's marching-cubes triangles.

    Classic marching cubes (Lorensen & Cline) cuts the cell around its
    foreground corners; for codes with more than four foreground corners the
    background corners are cut instead, so that a code and its complement
    (the same surface seen from the other side) get the same triangles. This
    is the triangulation behind surface-distance's lookup table.
    """
    from skimage.measure import marching_cubes

    vectors = np.zeros((256, 5, 3))
    for code in range(1, 255):
        cube = _cube_of(code if bin(code).count("1") <= 4 else 255 - code)
        vertices, faces, _, _ = marching_cubes(cube, 0.5, method="lorensen")
        corners = np.round(vertices.astype(float) * 2) / 2  # exact edge midpoints
        triangles = corners[faces]
        area_vectors = 0.5 * np.cross(triangles[:, 1] - triangles[:, 0],
                                      triangles[:, 2] - triangles[:, 0])
        vectors[code, : len(area_vectors)] = area_vectors
    return vectors


@lru_cache(maxsize=1)
def _segment_vectors() -> np.ndarray:
    """(16, 2, 2) marching-squares segments (as vectors, voxel units) of each 2D code."""
    from skimage.measure import find_contours

    vectors = np.zeros((16, 2, 2))
    for code in range(1, 15):
        square = np.array([(code >> (3 - i)) & 1 for i in range(4)], float).reshape(2, 2)
        for n, contour in enumerate(find_contours(square, 0.5)):
            vectors[code, n] = contour[-1] - contour[0]
    return vectors


@lru_cache(maxsize=64)
def corner_area_table(spacing_mm: tuple[float, ...]) -> np.ndarray:
    """Surfel area (mm², 3D) or contour length (mm, 2D) for every neighbour code.

    A triangle's area vector scales with the cofactors of the spacing:
    component ``a`` by the product of the other two spacings.
    """
    spacing = np.asarray(spacing_mm, dtype=float)
    if spacing.size == 2:
        return np.linalg.norm(_segment_vectors() * spacing, axis=-1).sum(axis=-1)
    cofactors = np.array([spacing[1] * spacing[2], spacing[0] * spacing[2],
                          spacing[0] * spacing[1]])
    return np.linalg.norm(_triangle_area_vectors() * cofactors, axis=-1).sum(axis=-1)


# -- cropping -------------------------------------------------------------------------------


def foreground_extent(mask: np.ndarray) -> np.ndarray | None:
    """(ndim, 2) first and last foreground index along each axis; None when empty."""
    along_0 = np.flatnonzero(mask.any(axis=tuple(range(1, mask.ndim))))
    if along_0.size == 0:
        return None
    slab = mask[along_0[0]: along_0[-1] + 1]
    extent = [(along_0[0], along_0[-1])]
    for axis in range(1, mask.ndim):
        others = tuple(a for a in range(mask.ndim) if a != axis)
        found = np.flatnonzero(slab.any(axis=others))
        extent.append((found[0], found[-1]))
    return np.array(extent, dtype=np.int64)


def padded_box(extents, shape, margin: int = 1) -> tuple[slice, ...]:
    """Slices around the union of the non-None extents, grown by ``margin`` within ``shape``."""
    extents = [e for e in extents if e is not None]
    low = np.min([e[:, 0] for e in extents], axis=0) - margin
    high = np.max([e[:, 1] for e in extents], axis=0) + margin + 1
    return tuple(slice(max(int(lo), 0), min(int(hi), n)) for lo, hi, n in zip(low, high, shape,
                                                                            strict=True))
