"""Shape of a binary mask in millimetres: surface mesh, area, diameters, sphericity.

The surface of a voxel mask is the marching-cubes mesh of its signed
distance map, smoothed by Taubin's filter:

1. Each voxel next to the boundary gets the distance (mm) from its centre to
   the nearest voxel centre on the other side, positive inside and negative
   outside; marching cubes (``skimage.measure.marching_cubes`` with the
   spacing) places the surface at its zero. On thick slices this puts the
   surface where the in-plane neighbours say it is, not halfway between
   slices.
2. Taubin's λ|μ filter (λ = 0.5, μ = -0.53, 10 passes; Taubin 1995) removes
   the remaining voxel steps.
3. Smoothing still shrinks objects only a few voxels across, so every vertex
   is moved along its normal by the one distance that makes the mesh enclose
   the mask's volume (voxel count × voxel volume).

The marching-cubes mesh of the bare binary mask overestimates the area of a
smooth surface by 8–20 % (the stairs of the voxels). This mesh is within
about 4 % of the exact area of ellipsoids on isotropic and anisotropic grids
(2.5 × 0.7 × 0.7 mm) alike (within 1.5 % for those over ten voxels across),
and within 5 % for a ball three voxels across.

Mesh vertices are in millimetres in the mask's own array frame
(``index × spacing``, axes (z, y, x)); lengths and areas are the same in the
world frame, whose axes differ only by a rotation.
"""

from __future__ import annotations

import math

import numba
import numpy as np

from ..metrics._mask_input import check_spacing

__all__ = ["surface_mesh", "mesh_area_mm2", "max_diameter", "sphericity", "shape_measures",
           "in_plane_axes"]

_TAUBIN_LAMBDA, _TAUBIN_MU, _TAUBIN_PASSES = 0.5, -0.53, 10
_CROSSINGS_PER_CHUNK = 1 << 20
#: Offsets checked per edge voxel, relative to the box's size, above which the
#: exact distance transform of the whole box is the cheaper way to the distances.
_SEARCH_PER_VOXEL = 40


# -- signed distance next to the boundary ------------------------------------------------


def _offsets_by_distance(spacing_mm) -> tuple[np.ndarray, np.ndarray]:
    """Voxel offsets (n, 3) within one voxel diagonal, nearest first, and their lengths (mm)."""
    spacing = np.asarray(spacing_mm, dtype=float)
    diagonal = float(np.linalg.norm(spacing))
    reach = np.ceil(diagonal / spacing - 1e-9).astype(int)
    grid = np.stack(np.meshgrid(*[np.arange(-r, r + 1) for r in reach], indexing="ij"), -1)
    offsets = grid.reshape(-1, 3)
    lengths = np.linalg.norm(offsets * spacing, axis=1)
    keep = (lengths > 0) & (lengths <= diagonal + 1e-9)
    order = np.argsort(lengths[keep], kind="stable")
    return offsets[keep][order].astype(np.int64), lengths[keep][order]


@numba.njit(cache=True, nogil=True)
def _distances_across(mask, flat, offsets, lengths):
    """Distance (mm) from each voxel in ``flat`` to the nearest voxel centre across the boundary.

    The search over ``offsets`` (nearest first) stops at the first voxel of the
    other value; none within reach gives the last offset's length.
    """
    nz, ny, nx = mask.shape
    out = np.full(flat.size, lengths[-1])
    for m in range(flat.size):
        k, rest = divmod(flat[m], ny * nx)
        j, i = divmod(rest, nx)
        inside = mask[k, j, i]
        for n in range(offsets.shape[0]):
            kk, jj, ii = k + offsets[n, 0], j + offsets[n, 1], i + offsets[n, 2]
            if 0 <= kk < nz and 0 <= jj < ny and 0 <= ii < nx and mask[kk, jj, ii] != inside:
                out[m] = lengths[n]
                break
    return out


def _grow(flags: np.ndarray, combine) -> np.ndarray:
    """``combine`` (np.bitwise_or or np.bitwise_and) of each voxel's 3×3×3 neighbourhood.

    Neighbours beyond the array's edge are left out.
    """
    for axis in range(flags.ndim):
        grown = flags.copy()
        lower = [slice(None)] * flags.ndim
        upper = [slice(None)] * flags.ndim
        lower[axis], upper[axis] = slice(None, -1), slice(1, None)
        combine(grown[tuple(upper)], flags[tuple(lower)], out=grown[tuple(upper)])
        combine(grown[tuple(lower)], flags[tuple(upper)], out=grown[tuple(lower)])
        flags = grown
    return flags


def _edge_voxels(mask: np.ndarray) -> np.ndarray:
    """True where a voxel's 26-neighbourhood holds both values of a 0/1 uint8 mask."""
    return (_grow(mask, np.bitwise_or) & ~_grow(mask, np.bitwise_and) & 1).astype(bool)


def _signed_distance(mask: np.ndarray, spacing_mm) -> tuple[np.ndarray, np.ndarray]:
    """Signed distance (mm; + inside) to the nearest voxel centre across the boundary.

    Exact at the edge voxels (those with a 26-neighbour across the boundary,
    returned as the second array); every other voxel gets ± one voxel
    diagonal. Only those voxels' signs matter: every corner of a cube that
    marching cubes cuts is an edge voxel.
    """
    mask = np.ascontiguousarray(mask, dtype=np.uint8)
    offsets, lengths = _offsets_by_distance(spacing_mm)
    edge = _edge_voxels(mask)
    distance = np.where(mask.astype(bool), lengths[-1], -lengths[-1])
    flat = np.flatnonzero(edge)
    inside = mask.ravel()[flat].astype(bool)
    if len(offsets) * flat.size > _SEARCH_PER_VOXEL * mask.size:
        # Very anisotropic voxels make the local search long: two whole transforms are cheaper.
        import edt

        anisotropy = tuple(float(s) for s in spacing_mm)
        across = np.where(inside, edt.edt(mask, anisotropy=anisotropy, black_border=False,
                                          parallel=1).ravel()[flat],
                          edt.edt(1 - mask, anisotropy=anisotropy, black_border=False,
                                  parallel=1).ravel()[flat])
    else:
        across = _distances_across(mask, flat, offsets, lengths)
    distance.ravel()[flat] = np.where(inside, across, -across)
    return distance, edge


# -- Taubin smoothing -------------------------------------------------------------------


@numba.njit(cache=True, nogil=True)
def _taubin(vertices, faces, passes, lam, mu):
    """Taubin's λ|μ smoothing with uniform weights over the mesh's edges."""
    n = vertices.shape[0]
    degree = np.zeros(n)
    for f in range(faces.shape[0]):
        for c in range(3):
            degree[faces[f, c]] += 2.0
    smooth = vertices.copy()
    total = np.empty_like(smooth)
    for _ in range(passes):
        for factor in (lam, mu):
            total[:] = 0.0
            for f in range(faces.shape[0]):
                a, b, c = faces[f, 0], faces[f, 1], faces[f, 2]
                for axis in range(3):
                    va, vb, vc = smooth[a, axis], smooth[b, axis], smooth[c, axis]
                    total[a, axis] += vb + vc
                    total[b, axis] += va + vc
                    total[c, axis] += va + vb
            for v in range(n):
                if degree[v] > 0:
                    for axis in range(3):
                        smooth[v, axis] += factor * (total[v, axis] / degree[v] - smooth[v, axis])
    return smooth


# -- volume of a mesh ------------------------------------------------------------------------


@numba.njit(cache=True, nogil=True)
def _volume_area_normals(vertices, faces):
    """Signed enclosed volume (divergence theorem; sign = winding), area and vertex normals.

    A vertex's normal is the unit sum of its faces' area vectors.
    """
    normals = np.zeros_like(vertices)
    volume, area = 0.0, 0.0
    for f in range(faces.shape[0]):
        a, b, c = faces[f, 0], faces[f, 1], faces[f, 2]
        ux, uy, uz = (vertices[b, 0] - vertices[a, 0], vertices[b, 1] - vertices[a, 1],
                      vertices[b, 2] - vertices[a, 2])
        vx, vy, vz = (vertices[c, 0] - vertices[a, 0], vertices[c, 1] - vertices[a, 1],
                      vertices[c, 2] - vertices[a, 2])
        nx, ny, nz = uy * vz - uz * vy, uz * vx - ux * vz, ux * vy - uy * vx
        area += 0.5 * math.sqrt(nx * nx + ny * ny + nz * nz)
        volume += (vertices[a, 0] * nx + vertices[a, 1] * ny + vertices[a, 2] * nz) / 6.0
        for corner in (a, b, c):
            normals[corner, 0] += nx
            normals[corner, 1] += ny
            normals[corner, 2] += nz
    for v in range(vertices.shape[0]):
        length = math.sqrt(normals[v, 0] ** 2 + normals[v, 1] ** 2 + normals[v, 2] ** 2)
        if length > 0:
            for axis in range(3):
                normals[v, axis] /= length
    return volume, area, normals


@numba.njit(inline="always")
def _det(x, y, z):
    """x · (y × z) of three 3-vectors (rows of a 3×3 determinant)."""
    return (x[0] * (y[1] * z[2] - y[2] * z[1]) - x[1] * (y[0] * z[2] - y[2] * z[0])
            + x[2] * (y[0] * z[1] - y[1] * z[0]))


@numba.njit(cache=True, nogil=True)
def _offset_volume_polynomial(vertices, faces, normals):
    """Coefficients c0..c3 of V(d) = c0 + c1 d + c2 d² + c3 d³, the signed volume of the mesh
    with every vertex moved by d along its normal.

    Each triangle adds det(a + d·A, b + d·B, c + d·C) / 6, a cubic in d by the
    multilinearity of the determinant.
    """
    c0 = c1 = c2 = c3 = 0.0
    for f in range(faces.shape[0]):
        a, b, c = vertices[faces[f, 0]], vertices[faces[f, 1]], vertices[faces[f, 2]]
        na, nb, nc = normals[faces[f, 0]], normals[faces[f, 1]], normals[faces[f, 2]]
        c0 += _det(a, b, c)
        c1 += _det(na, b, c) + _det(a, nb, c) + _det(a, b, nc)
        c2 += _det(na, nb, c) + _det(na, b, nc) + _det(a, nb, nc)
        c3 += _det(na, nb, nc)
    return c0 / 6.0, c1 / 6.0, c2 / 6.0, c3 / 6.0


def _enclosing(vertices: np.ndarray, faces: np.ndarray, volume_mm3: float) -> np.ndarray:
    """Vertices moved along their normals by one distance so that the mesh encloses volume_mm3.

    The enclosed volume is a cubic polynomial of that distance; its real root
    nearest to the first-order step (volume change / area) is the distance.
    """
    faces = np.ascontiguousarray(faces, dtype=np.int64)
    signed, area, normals = _volume_area_normals(vertices, faces)
    if area <= 0 or signed == 0:
        return vertices
    c0, c1, c2, c3 = _offset_volume_polynomial(vertices, faces, normals)
    target = math.copysign(volume_mm3, signed)
    roots = np.roots([c3, c2, c1, c0 - target])
    real = roots[np.abs(roots.imag) <= 1e-9 * (1.0 + np.abs(roots.real))].real
    if real.size == 0:
        return vertices
    first_order = (target - c0) / c1 if c1 else 0.0
    step = float(real[np.argmin(np.abs(real - first_order))])
    return vertices + step * normals


# -- public ------------------------------------------------------------------------------


def surface_mesh(mask: np.ndarray, spacing_mm) -> tuple[np.ndarray, np.ndarray]:
    """Smooth closed surface of a non-empty 3D mask: vertices (mm) and triangles.

    The mask is padded with one voxel of background, so a mask cut by its
    array's edge is closed there by a cap. See the module notes for the method.

    Parameters
    ----------
    mask : ndarray, 3D
        Non-zero inside.
    spacing_mm : 3 floats
        Voxel size (z, y, x) in mm.

    Returns
    -------
    vertices : ndarray (n, 3)
        ``(k, j, i) × spacing`` in mm of the unpadded array (array frame).
    faces : ndarray (m, 3)
        Vertex indices of each triangle.

    Examples
    --------
    >>> ball = np.add.outer(np.add.outer(np.arange(-8, 9) ** 2, np.arange(-8, 9) ** 2),
    ...                     np.arange(-8, 9) ** 2) <= 36
    >>> vertices, faces = surface_mesh(ball, (1.0, 1.0, 1.0))
    >>> area_mm2 = mesh_area_mm2(vertices, faces)
    >>> bool(abs(area_mm2 / (4 * np.pi * 6.0 ** 2) - 1) < 0.05)
    True
    """
    from skimage.measure import marching_cubes

    mask = np.asarray(mask)
    if mask.ndim != 3:
        raise ValueError(f"mask must be a 3D array, got shape {mask.shape}")
    spacing = check_spacing(spacing_mm, 3)
    padded = np.pad(mask != 0, 1)
    if not padded.any():
        raise ValueError("mask is empty: it has no surface")
    distance, edge = _signed_distance(padded, spacing)
    # Cubes whose lowest corner is not an edge voxel hold no surface: skip them.
    vertices, faces, _, _ = marching_cubes(distance, 0.0, spacing=spacing, mask=edge)
    vertices = _taubin(vertices.astype(np.float64), faces.astype(np.int64), _TAUBIN_PASSES,
                       _TAUBIN_LAMBDA, _TAUBIN_MU)
    volume_mm3 = float(np.count_nonzero(padded)) * float(np.prod(spacing))
    return _enclosing(vertices, faces, volume_mm3) - np.asarray(spacing), faces


def mesh_area_mm2(vertices: np.ndarray, faces: np.ndarray) -> float:
    """Total area (mm²) of a triangle mesh with vertices in mm.

    Examples
    --------
    >>> square = [[0, 0, 0], [2, 0, 0], [2, 3, 0], [0, 3, 0]]
    >>> mesh_area_mm2(square, [[0, 1, 2], [0, 2, 3]])
    6.0
    """
    vertices = np.ascontiguousarray(vertices, dtype=np.float64)
    faces = np.ascontiguousarray(faces, dtype=np.int64)
    return float(_volume_area_normals(vertices, faces)[1])


def _hull_points(points: np.ndarray) -> np.ndarray:
    """The vertices of the convex hull of points (all points if the hull is degenerate)."""
    from scipy.spatial import ConvexHull, QhullError

    if len(points) <= points.shape[1] + 1:
        return points
    try:
        return points[ConvexHull(points).vertices]
    except QhullError:  # flat or collinear points: every point is a candidate
        return points


@numba.njit(cache=True, nogil=True)
def _farthest_pair(points):
    """Indices of the two points farthest apart, and their squared distance (all pairs)."""
    best, first, second = -1.0, 0, 0
    for a in range(points.shape[0]):
        for b in range(a + 1, points.shape[0]):
            squared = 0.0
            for axis in range(points.shape[1]):
                step = points[a, axis] - points[b, axis]
                squared += step * step
            if squared > best:
                best, first, second = squared, a, b
    return first, second, max(best, 0.0)


def _candidates_for_diameter(points: np.ndarray) -> np.ndarray:
    """The points that can end the longest pair: far enough from the centroid.

    With R the largest distance from the centroid c and L a lower bound of the
    diameter D, both ends a, b of the longest pair have |a - c| >= D - R >= L - R.
    """
    centre = points.mean(axis=0)
    radius = np.linalg.norm(points - centre, axis=1)
    start = points[np.argmax(radius)]
    lower = float(np.linalg.norm(points - start, axis=1).max())  # a pair's length: D >= lower
    return np.ascontiguousarray(points[radius >= lower - radius.max() - 1e-9 * (1.0 + lower)])


def max_diameter(points_mm) -> tuple[float, np.ndarray, np.ndarray]:
    """Largest distance between two of the points, and the two points.

    Exact: the farthest pair lies on the convex hull, and every pair of hull
    vertices is compared.

    Parameters
    ----------
    points_mm : array (n, d)
        Points in mm (d = 2 or 3), n >= 1.

    Returns
    -------
    diameter_mm : float
    first, second : ndarray (d,)
        The two points that are that far apart.

    Examples
    --------
    >>> length, a, b = max_diameter([[0, 0], [3, 0], [0, 4], [1, 1]])
    >>> length, sorted([a.tolist(), b.tolist()])
    (5.0, [[0.0, 4.0], [3.0, 0.0]])
    """
    points = np.asarray(points_mm, dtype=float)
    if points.ndim != 2 or len(points) == 0:
        raise ValueError(f"points_mm must be a non-empty (n, d) array, got shape {points.shape}")
    hull = _candidates_for_diameter(_hull_points(points))
    first, second, squared = _farthest_pair(hull)
    return math.sqrt(squared), hull[first].copy(), hull[second].copy()


def sphericity(volume_mm3: float, area_mm2: float) -> float | None:
    """Wadell's sphericity π^(1/3) (6V)^(2/3) / A: 1 for a ball, less for any other shape.

    None when the area is not positive. With the volume that a closed mesh
    encloses and that mesh's area (as :func:`shape_measures` has them) it is
    at most 1.

    Examples
    --------
    >>> round(sphericity(4 / 3 * np.pi * 8.0, 4 * np.pi * 4.0), 12)
    1.0
    """
    if not area_mm2 > 0:
        return None
    return float(math.pi ** (1 / 3) * (6.0 * volume_mm3) ** (2 / 3) / area_mm2)


def shape_measures(mask: np.ndarray, spacing_mm, direction=None) -> dict:
    """Surface area, maximum 3D diameter (with its end points) and sphericity of a mask.

    Parameters
    ----------
    mask : ndarray, 3D
        Non-zero inside; not empty.
    spacing_mm : 3 floats
        Voxel size (z, y, x) in mm.
    direction : (3, 3) array, optional
        The Volume's direction; with it the end points are turned into world
        axes (x, y, z), still relative to the centre of voxel [0, 0, 0] of
        ``mask`` (add its world position).

    Returns
    -------
    dict
        ``surface_area_mm2``, ``max_diameter_mm``, ``sphericity`` (from the
        voxel volume, count × voxel volume) and ``diameter_ends_mm`` (2 × 3
        points: array frame (z, y, x) mm, or world offsets with ``direction``).

    Examples
    --------
    >>> ball = np.add.outer(np.add.outer(np.arange(-6, 7) ** 2, np.arange(-6, 7) ** 2),
    ...                     np.arange(-6, 7) ** 2) <= 25
    >>> m = shape_measures(ball, (1.0, 1.0, 1.0))
    >>> bool(10.0 < m["max_diameter_mm"] < 11.0), round(m["sphericity"], 1)
    (True, 1.0)
    """
    spacing = np.asarray(check_spacing(spacing_mm, 3))
    vertices, faces = surface_mesh(mask, spacing)
    area = mesh_area_mm2(vertices, faces)
    diameter, first, second = max_diameter(vertices)
    ends = np.stack([first, second])
    if direction is not None:
        ends = ends @ np.asarray(direction, dtype=float).T
    volume = float(np.count_nonzero(mask)) * float(np.prod(spacing))
    return {"surface_area_mm2": area, "max_diameter_mm": diameter,
            "sphericity": sphericity(volume, area), "diameter_ends_mm": ends}


# -- diameters in a plane ------------------------------------------------------------------


def _perpendicular_extent(edges: np.ndarray, origin, along, across) -> tuple[float, float, float]:
    """Longest segment across the contour perpendicular to ``along``: (length, t, s_low).

    Edges (m, 2, 2) are contour segments in mm. Along the line at position t
    (mm on ``along`` from ``origin``) the extent is from the lowest to the
    highest crossing on ``across``. The extent is piecewise linear in t with
    breaks only at vertices, so the vertices' positions are the only
    candidates for the maximum.
    """
    t_edges = (edges - origin) @ along  # (m, 2)
    s_edges = (edges - origin) @ across
    candidates = np.unique(t_edges)
    best = (0.0, float(candidates[0]), float(s_edges.min()))
    rows = max(1, _CROSSINGS_PER_CHUNK // len(edges))
    t_low, t_high = t_edges.min(axis=1), t_edges.max(axis=1)
    run = t_edges[:, 1] - t_edges[:, 0]
    for start in range(0, len(candidates), rows):
        t = candidates[start:start + rows, None]
        hits = (t >= t_low) & (t <= t_high)
        fraction = np.where(run != 0, (t - t_edges[:, 0]) / np.where(run != 0, run, 1.0), 0.0)
        s = s_edges[:, 0] + fraction * (s_edges[:, 1] - s_edges[:, 0])
        s_high = np.where(hits, s, -np.inf).max(axis=1)
        # A segment along t (run 0) crosses the line along its whole length.
        s_high = np.maximum(s_high, np.where(hits & (run == 0), s_edges[:, 1], -np.inf).max(1))
        s_low = np.where(hits, s, np.inf).min(axis=1)
        s_low = np.minimum(s_low, np.where(hits & (run == 0), s_edges[:, 1], np.inf).min(1))
        extent = s_high - s_low
        n = int(np.argmax(extent))
        if extent[n] > best[0]:
            best = (float(extent[n]), float(t[n, 0]), float(s_low[n]))
    return best


def in_plane_axes(contours) -> dict | None:
    """Long axis and perpendicular short axis of closed 2D contours (RECIST's two diameters).

    Parameters
    ----------
    contours : sequence of arrays (n, 2)
        Closed polygons (first point repeated last, as
        ``skimage.measure.find_contours`` gives them), in mm, in one plane.

    Returns
    -------
    dict or None
        ``long_axis_mm``: the largest distance between two contour points
        (exact, over the convex hull's vertices); ``short_axis_mm``: the
        longest line perpendicular to the long axis from the first to the last
        contour crossing (for a convex outline, the width across the long
        axis); ``long_axis_ends`` and ``short_axis_ends`` (2 × 2 points).
        None when there are no contour points.

    Examples
    --------
    >>> angle = np.linspace(0, 2 * np.pi, 721)
    >>> ellipse = np.stack([10 * np.cos(angle), 4 * np.sin(angle)], axis=1)
    >>> axes = in_plane_axes([ellipse])
    >>> round(axes["long_axis_mm"], 3), round(axes["short_axis_mm"], 3)
    (20.0, 8.0)
    """
    contours = [np.asarray(c, dtype=float).reshape(-1, 2) for c in contours]
    contours = [c for c in contours if len(c)]
    if not contours:
        return None
    points = np.concatenate(contours)
    long_axis, first, second = max_diameter(points)
    if long_axis == 0:
        return {"long_axis_mm": 0.0, "short_axis_mm": 0.0,
                "long_axis_ends": np.stack([first, second]),
                "short_axis_ends": np.stack([first, second])}
    along = (second - first) / long_axis
    across = np.array([-along[1], along[0]])
    edges = np.concatenate([np.stack([c[:-1], c[1:]], axis=1) if len(c) > 1
                            else np.stack([c, c], axis=1) for c in contours])
    short_axis, t, s_low = _perpendicular_extent(edges, first, along, across)
    start = first + t * along + s_low * across
    return {"long_axis_mm": long_axis, "short_axis_mm": short_axis,
            "long_axis_ends": np.stack([first, second]),
            "short_axis_ends": np.stack([start, start + short_axis * across])}
