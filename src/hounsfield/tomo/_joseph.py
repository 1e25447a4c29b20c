"""Joseph's ray-driven projector: numba kernels for A (forward) and its exact adjoint Aᵀ.

Every ray is traced in continuous index space along its driving axis, one
index plane per step, with linear (2D) or bilinear (3D) interpolation in the
other axes; each sample is weighted by the world length of one step. Images
arrive *padded* with zero voxels (PAD_BEFORE before and PAD_AFTER after the
data on every axis), so the inner loops need no bounds tests: outside the
grid the image is zero and border samples interpolate against that zero,
which keeps forward and adjoint exact transposes.

Parallel layout and memory, beyond the caller's arrays:

* forward kernels split the rays over threads (blocks of detector columns,
  or (view, detector row) pairs in 3D) and write each projection value once;
  the only scratch is one slice-length accumulator per task when a stack of
  slices is projected.
* 2D adjoint: the image is held twice, as rows along y and rows along x, so
  that every sample of a ray lies in the row of its plane; threads own
  disjoint chunks of planes, and the two arrays are added at the end
  (two padded images of scratch). A ray's sample floors and fractions are
  computed first for the whole ray (vectorised), then scattered.
* 2D adjoint of parallel beams on x86 CPUs with AVX-512, when the rays of a
  view lie at least a pixel apart on its planes: pixel by pixel instead
  (:func:`adjoint_2d_pixels`), each pixel summing the two nearest rays of
  every view, sampled exactly where the forward projector samples them
  (scratch: the padded ray shares and crossing points, views × columns).
* stack and 3D adjoints split the *image* into slabs along array axis 0 and
  run even slabs, then odd slabs, in parallel. Each slab task walks every
  ray but scatters only the samples whose axis-0 coordinate falls in its
  slab (:func:`slab_range`); a sample writes at most one index below and two
  above its slab (counting float32 rounding at the edge), so slabs at least
  ``MIN_SLAB`` thick that run together never touch the same voxel. The
  scratch is the one padded accumulator: no per-thread copies.

Ray set-up happens in continuous *index space* of the image: a point is
given by its fractional array indices (axis 0, axis 1[, axis 2]), so voxel
centres sit on integers whatever the spacing or direction of the grid. The
scan's per-view vectors arrive already mapped into that space (see
:func:`hounsfield.tomo.project._index_space_vectors`), packed as
``vectors[view, row]`` with the rows named below.

A ray ``start + t·e`` is traced along its *driving axis* ``a`` (the largest
|component| of ``e``): sample ``k`` lies on the index plane ``a = k``, where
the other coordinates are ``p_b(k) = p_b0 + k·slope_b``, stored in *padded*
coordinates (unpadded + 1). The ray is clipped beforehand to the planes where
every ``p_b`` lies in ``[0, n_b + 1]``, the support of the interpolated image.

The set-up functions are compiled *without* fastmath on purpose: forward and
adjoint call them with the same arguments and must get bit-identical ray
weights and sample ranges (that is what makes the adjoint exact), and the
adjoint's slab partition relies on a pure function giving the same answer for
the bound that two neighbouring slabs share. They live in this module with
the kernels because numba's on-disk cache does not notice edits to functions
imported from another file.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

from . import _backproject_kernels

#: Rows of the per-view vector array ``vectors[view, row, axis]``.
SOURCE, DETECTOR, U, V, ARC_ALONG, ARC_TANGENT, ARC_RISE = range(7)
N_VECTOR_ROWS = 7

#: A finite stand-in for infinity: fastmath kernels must never see inf.
BIG = 1e30
#: Slopes below this are treated as zero (the ray lies in one index plane).
SLOPE_EPS = 1e-12


@njit(cache=True)
def detector_pixel_2d(vectors, gamma_step, view, col, n_cols, curved):
    """Index-space centre (axis 0, axis 1) of detector column ``col`` of ``view``."""
    offset = col - 0.5 * (n_cols - 1)
    if curved:
        gamma = offset * gamma_step[view]
        cos_g, sin_g = math.cos(gamma), math.sin(gamma)
        p0 = vectors[view, SOURCE, 0] + cos_g * vectors[view, ARC_ALONG, 0] \
            + sin_g * vectors[view, ARC_TANGENT, 0]
        p1 = vectors[view, SOURCE, 1] + cos_g * vectors[view, ARC_ALONG, 1] \
            + sin_g * vectors[view, ARC_TANGENT, 1]
        return p0, p1
    return (vectors[view, DETECTOR, 0] + offset * vectors[view, U, 0],
            vectors[view, DETECTOR, 1] + offset * vectors[view, U, 1])


@njit(cache=True)
def _pixel_component(vectors, view, axis, row_offset, col_offset, cos_g, sin_g, curved):
    if curved:
        value = (vectors[view, SOURCE, axis] + vectors[view, ARC_RISE, axis]
                 + cos_g * vectors[view, ARC_ALONG, axis]
                 + sin_g * vectors[view, ARC_TANGENT, axis])
    else:
        value = vectors[view, DETECTOR, axis] + col_offset * vectors[view, U, axis]
    return value + row_offset * vectors[view, V, axis]


@njit(cache=True)
def detector_pixel_3d(vectors, gamma_step, view, row, col, n_rows, n_cols, curved):
    """Index-space centre (axis 0, 1, 2) of detector pixel (row, col) of ``view``."""
    row_offset = row - 0.5 * (n_rows - 1)
    col_offset = col - 0.5 * (n_cols - 1)
    cos_g, sin_g = 1.0, 0.0
    if curved:
        gamma = col_offset * gamma_step[view]
        cos_g, sin_g = math.cos(gamma), math.sin(gamma)
    return (_pixel_component(vectors, view, 0, row_offset, col_offset, cos_g, sin_g, curved),
            _pixel_component(vectors, view, 1, row_offset, col_offset, cos_g, sin_g, curved),
            _pixel_component(vectors, view, 2, row_offset, col_offset, cos_g, sin_g, curved))


@njit(cache=True)
def clip_to_band(lo, hi, p0, slope, top):
    """Narrow the sample range [lo, hi] to the k where ``0 <= p0 + k·slope <= top``."""
    if slope > SLOPE_EPS:
        lo = max(lo, -p0 / slope)
        hi = min(hi, (top - p0) / slope)
    elif slope < -SLOPE_EPS:
        lo = max(lo, (top - p0) / slope)
        hi = min(hi, -p0 / slope)
    elif p0 < 0.0 or p0 > top:
        hi = lo - 1.0
    return lo, hi


@njit(cache=True)
def segment_range(start_a, e_a, t_min, t_max, n_a):
    """Planes k in [0, n_a - 1] reached by ``start + t·e`` for t in [t_min, t_max]."""
    k_first = start_a + t_min * e_a
    k_last = start_a + t_max * e_a
    return max(0.0, min(k_first, k_last)), min(n_a - 1.0, max(k_first, k_last))


@njit(cache=True)
def integer_range(lo, hi):
    """First and last integer in [lo, hi]; an empty range is (0, -1)."""
    if hi < lo:
        return 0, -1
    return int(math.ceil(lo)), int(math.floor(hi))


@njit(cache=True)
def world_length(metric, e0, e1, e2):
    """Length in mm of the index-space vector e, ``sqrt(eᵀ G e)`` with G the grid's metric."""
    if metric.shape[0] == 2:
        squared = metric[0, 0] * e0 * e0 + 2.0 * metric[0, 1] * e0 * e1 + metric[1, 1] * e1 * e1
    else:
        squared = (metric[0, 0] * e0 * e0 + metric[1, 1] * e1 * e1 + metric[2, 2] * e2 * e2
                   + 2.0 * (metric[0, 1] * e0 * e1 + metric[0, 2] * e0 * e2
                            + metric[1, 2] * e1 * e2))
    return math.sqrt(squared)


@njit(cache=True)
def ray_2d(vectors, gamma_step, view, col, n_cols, is_cone, curved):
    """(start, direction e, t_min, t_max) of one 2D ray in index space.

    Cone (fan) rays run from the source (t = 0) to the pixel (t = 1);
    parallel rays are whole lines through the pixel.
    """
    p0, p1 = detector_pixel_2d(vectors, gamma_step, view, col, n_cols, curved)
    if is_cone:
        s0, s1 = vectors[view, SOURCE, 0], vectors[view, SOURCE, 1]
        return s0, s1, p0 - s0, p1 - s1, 0.0, 1.0
    return p0, p1, vectors[view, SOURCE, 0], vectors[view, SOURCE, 1], -BIG, BIG


@njit(cache=True)
def ray_3d(vectors, gamma_step, view, row, col, n_rows, n_cols, is_cone, curved):
    """((start), (direction e), t_min, t_max) of one 3D ray in index space."""
    p0, p1, p2 = detector_pixel_3d(vectors, gamma_step, view, row, col, n_rows, n_cols, curved)
    if is_cone:
        s0, s1, s2 = vectors[view, SOURCE, 0], vectors[view, SOURCE, 1], vectors[view, SOURCE, 2]
        return (s0, s1, s2), (p0 - s0, p1 - s1, p2 - s2), 0.0, 1.0
    direction = (vectors[view, SOURCE, 0], vectors[view, SOURCE, 1], vectors[view, SOURCE, 2])
    return (p0, p1, p2), direction, -BIG, BIG


@njit(cache=True)
def setup_2d(start0, start1, e0, e1, t_min, t_max, n0, n1, metric):
    """Joseph parameters of a 2D ray: (axis a, p0, slope, weight mm, k_first, k_last).

    ``p0 + k·slope`` is the padded coordinate of the other axis on plane k;
    ``weight`` is the world length of one step between planes.
    """
    if abs(e0) >= abs(e1):
        axis, start_a, start_b, e_a, e_b, n_a, n_b = 0, start0, start1, e0, e1, n0, n1
    else:
        axis, start_a, start_b, e_a, e_b, n_a, n_b = 1, start1, start0, e1, e0, n1, n0
    slope = e_b / e_a
    p0 = start_b - start_a * slope + 1.0
    weight = world_length(metric, e0, e1, 0.0) / abs(e_a)
    lo, hi = segment_range(start_a, e_a, t_min, t_max, n_a)
    lo, hi = clip_to_band(lo, hi, p0, slope, n_b + 1.0)
    k_first, k_last = integer_range(lo, hi)
    return axis, p0, slope, weight, k_first, k_last


@njit(cache=True)
def setup_3d(start, e, t_min, t_max, shape, metric):
    """Joseph parameters of a 3D ray.

    Returns (a, b, c, pb0, slope_b, pc0, slope_c, weight mm, k_first, k_last):
    the driving axis a, the interpolated axes b < c with their padded
    coordinates ``p0 + k·slope`` on plane k.
    """
    axis = 0
    if abs(e[1]) > abs(e[axis]):
        axis = 1
    if abs(e[2]) > abs(e[axis]):
        axis = 2
    b, c = (1, 2) if axis == 0 else ((0, 2) if axis == 1 else (0, 1))
    slope_b, slope_c = e[b] / e[axis], e[c] / e[axis]
    pb0 = start[b] - start[axis] * slope_b + 1.0
    pc0 = start[c] - start[axis] * slope_c + 1.0
    weight = world_length(metric, e[0], e[1], e[2]) / abs(e[axis])
    lo, hi = segment_range(start[axis], e[axis], t_min, t_max, shape[axis])
    lo, hi = clip_to_band(lo, hi, pb0, slope_b, shape[b] + 1.0)
    lo, hi = clip_to_band(lo, hi, pc0, slope_c, shape[c] + 1.0)
    k_first, k_last = integer_range(lo, hi)
    return axis, b, c, pb0, slope_b, pc0, slope_c, weight, k_first, k_last


@njit(cache=True)
def count_below(bound, q, g, k_first, k_last):
    """How many samples k in [k_first, k_last] have ``q + k·g < bound``."""
    n = k_last - k_first + 1
    if abs(g) <= SLOPE_EPS:
        return n if q < bound else 0
    # Clamped before rounding: math.ceil/floor return integers, which must not overflow.
    crossing = min(max((bound - q) / g, k_first - 1.0), k_last + 1.0)
    if g > 0.0:
        count = math.ceil(crossing) - k_first
    else:
        count = k_last - math.floor(crossing)
    return min(max(count, 0), n)


@njit(cache=True)
def slab_range(bound_lo, bound_hi, q, g, k_first, k_last):
    """The samples k of a ray whose axis-0 coordinate ``q + k·g`` is in [bound_lo, bound_hi).

    Neighbouring slabs share a bound, and :func:`count_below` is a pure
    function of it, so the slabs split each ray's samples exactly.
    """
    if k_last < k_first:
        return 0, -1
    below_lo = count_below(bound_lo, q, g, k_first, k_last)
    below_hi = count_below(bound_hi, q, g, k_first, k_last)
    if g < -SLOPE_EPS:  # the coordinate falls with k: "below" is a suffix
        return k_last + 1 - below_hi, k_last - below_lo
    return k_first + below_lo, k_first + below_hi - 1


# -- kernels ------------------------------------------------------------------------------

#: Detector columns per parallel task in 2D.
COLUMN_BLOCK = 32
#: Thinnest slab (in padded axis-0 indices) that keeps concurrent slabs apart.
MIN_SLAB = 4
#: Zero voxels before and after the image along every padded axis.
PAD_BEFORE, PAD_AFTER = 1, 2


# -- inner loops (one ray) ----------------------------------------------------------------
#
# Sample positions are float32. The ray was clipped in float64 to padded
# coordinates in [0, n + 1]; float32 rounding can move a sample by far less
# than a voxel, so truncation gives an index in [0, n + 1] and its neighbour
# at most n + 2, which PAD_AFTER = 2 keeps inside the array without a test.
# Indices are unsigned, which spares numba's negative-index wraparound on
# every load and store (5–15 % faster).


@njit(fastmath=True, cache=True)
def _row_sum(flat, p0, slope, row_length, k_first, k_last):
    """Σ_k of the image interpolated at ``p0 + k·slope`` along row k + 1."""
    total = np.float32(0.0)
    start, step = np.float32(p0), np.float32(slope)
    row, row_step = np.uint64((k_first + 1) * row_length), np.uint64(row_length)
    for k in range(k_first, k_last + 1):
        p = start + np.float32(k) * step
        i = np.int32(p)
        frac = p - np.float32(i)
        index = row + np.uint64(i)
        here = flat[index]
        total += here + frac * (flat[index + np.uint64(1)] - here)
        row += row_step
    return total


@njit(fastmath=True, cache=True)
def _row_spread(flat, p0, slope, row_length, k_first, k_last, share, floors, fracs):
    """The transpose of :func:`_row_sum`: add ``share`` times each sample's weights.

    Two passes: the samples' floors and fractions first, into the scratch
    arrays ``floors`` and ``fracs`` (a loop that vectorises), then the
    scattered adds, which then need no float-to-integer conversions (the
    bottleneck of a single pass).
    """
    start, step, share = np.float32(p0), np.float32(slope), np.float32(share)
    for t in range(k_last - k_first + 1):
        p = start + np.float32(k_first + t) * step
        i = np.int32(p)
        floors[t] = i
        fracs[t] = p - np.float32(i)
    row, row_step = np.uint64((k_first + 1) * row_length), np.uint64(row_length)
    for t in range(k_last - k_first + 1):
        part = share * fracs[t]
        index = row + np.uint64(floors[t])
        flat[index] += share - part
        flat[index + np.uint64(1)] += part
        row += row_step


@njit(fastmath=True, cache=True)
def _stack_sum(flat, p0, slope, stride_a, stride_b, k_first, k_last, n_slices, total):
    """:func:`_row_sum` for every slice of a stack stored slices-last, into ``total``."""
    start, step = np.float32(p0), np.float32(slope)
    total[:] = 0.0
    for k in range(k_first, k_last + 1):
        p = start + np.float32(k) * step
        i = np.int32(p)
        w_next = p - np.float32(i)
        w_here = np.float32(1.0) - w_next
        here = np.uint64(((k + 1) * stride_a + i * stride_b) * n_slices)
        after = here + np.uint64(stride_b * n_slices)
        for z in range(n_slices):
            total[z] += w_here * flat[here + np.uint64(z)] + w_next * flat[after + np.uint64(z)]


@njit(fastmath=True, cache=True)
def _stack_spread(flat, p0, slope, stride_a, stride_b, k_first, k_last, n_slices, shares):
    """The transpose of :func:`_stack_sum`."""
    start, step = np.float32(p0), np.float32(slope)
    for k in range(k_first, k_last + 1):
        p = start + np.float32(k) * step
        i = np.int32(p)
        w_next = p - np.float32(i)
        w_here = np.float32(1.0) - w_next
        here = np.uint64(((k + 1) * stride_a + i * stride_b) * n_slices)
        after = here + np.uint64(stride_b * n_slices)
        for z in range(n_slices):
            flat[here + np.uint64(z)] += w_here * shares[z]
            flat[after + np.uint64(z)] += w_next * shares[z]


@njit(fastmath=True, cache=True)
def _volume_sum(flat, pb0, slope_b, pc0, slope_c, strides, k_first, k_last):
    """Σ_k of the volume interpolated bilinearly on plane k at (pb, pc) = p0 + k·slope."""
    stride_a, stride_b, stride_c = np.uint64(strides[0]), np.uint64(strides[1]), \
        np.uint64(strides[2])
    total = np.float32(0.0)
    start_b, step_b = np.float32(pb0), np.float32(slope_b)
    start_c, step_c = np.float32(pc0), np.float32(slope_c)
    for k in range(k_first, k_last + 1):
        kf = np.float32(k)
        pb, pc = start_b + kf * step_b, start_c + kf * step_c
        ib, ic = np.int32(pb), np.int32(pc)
        fb, fc = pb - np.float32(ib), pc - np.float32(ic)
        index = np.uint64(k + 1) * stride_a + np.uint64(ib) * stride_b \
            + np.uint64(ic) * stride_c
        v00, v01 = flat[index], flat[index + stride_c]
        v10, v11 = flat[index + stride_b], flat[index + stride_b + stride_c]
        near = v00 + fc * (v01 - v00)
        far = v10 + fc * (v11 - v10)
        total += near + fb * (far - near)
    return total


@njit(fastmath=True, cache=True)
def _volume_spread(flat, pb0, slope_b, pc0, slope_c, strides, k_first, k_last, share):
    """The transpose of :func:`_volume_sum`."""
    stride_a, stride_b, stride_c = np.uint64(strides[0]), np.uint64(strides[1]), \
        np.uint64(strides[2])
    share = np.float32(share)
    start_b, step_b = np.float32(pb0), np.float32(slope_b)
    start_c, step_c = np.float32(pc0), np.float32(slope_c)
    for k in range(k_first, k_last + 1):
        kf = np.float32(k)
        pb, pc = start_b + kf * step_b, start_c + kf * step_c
        ib, ic = np.int32(pb), np.int32(pc)
        fb, fc = pb - np.float32(ib), pc - np.float32(ic)
        index = np.uint64(k + 1) * stride_a + np.uint64(ib) * stride_b \
            + np.uint64(ic) * stride_c
        far = share * fb
        near = share - far
        flat[index] += near - near * fc
        flat[index + stride_c] += near * fc
        flat[index + stride_b] += far - far * fc
        flat[index + stride_b + stride_c] += far * fc


# -- 2D: one image, stored twice so that planes are rows -----------------------------------
#
# ``rows_y`` is the padded image (y, x) and ``rows_x`` its padded transpose
# (x, y): a ray driven along y reads plane k as row k + 1 of ``rows_y``, a ray
# driven along x as row k + 1 of ``rows_x``. Every sample then touches one row
# of one array, which lets the adjoint split the planes over threads with no
# overlap at all.


@njit(parallel=True, fastmath=True, cache=True)
def forward_2d(rows_y, rows_x, vectors, gamma_step, metric, is_cone, curved, out):
    """Projections ``out`` (views, cols) of an image given as ``rows_y`` and ``rows_x``."""
    n_views, n_cols = out.shape
    n_y, n_x = rows_y.shape[0] - 3, rows_y.shape[1] - 3
    flat_y, flat_x = rows_y.reshape(-1), rows_x.reshape(-1)
    n_blocks = (n_cols + COLUMN_BLOCK - 1) // COLUMN_BLOCK
    for job in prange(n_views * n_blocks):
        view, first = job // n_blocks, (job % n_blocks) * COLUMN_BLOCK
        for col in range(first, min(first + COLUMN_BLOCK, n_cols)):
            s0, s1, e0, e1, t_min, t_max = ray_2d(vectors, gamma_step, view, col, n_cols,
                                                  is_cone, curved)
            axis, p0, slope, weight, k_first, k_last = setup_2d(
                s0, s1, e0, e1, t_min, t_max, n_y, n_x, metric)
            if axis == 0:
                total = _row_sum(flat_y, p0, slope, rows_y.shape[1], k_first, k_last)
            else:
                total = _row_sum(flat_x, p0, slope, rows_x.shape[1], k_first, k_last)
            out[view, col] = np.float32(weight) * total


def adjoint_2d(projections, vectors, gamma_step, metric, is_cone, curved, n_chunks, rows_y,
               rows_x):
    """Add Aᵀ ``projections`` into zeroed ``rows_y`` and ``rows_x`` (sum them afterwards).

    Parallel beams whose rays lie at least a pixel apart on the planes they
    are sampled on are backprojected pixel by pixel where the CPU allows
    (:func:`adjoint_2d_pixels`, all into ``rows_y``); other scans ray by ray
    (:func:`adjoint_2d_rays`).
    """
    n_cols = projections.shape[1]
    plan = None if is_cone or curved else parallel_pixel_plan(vectors, metric, n_cols)
    if plan is None or not _backproject_kernels.window_rows(n_cols + PAD_BEFORE + PAD_AFTER):
        adjoint_2d_rays(projections, vectors, gamma_step, metric, is_cone, curved, n_chunks,
                        rows_y, rows_x)
        return
    adjoint_2d_pixels(projections, vectors, plan, rows_y)


def adjoint_2d_pixels(projections, vectors, plan, rows_y):
    """Aᵀ ``projections`` of a parallel beam into zeroed ``rows_y``, pixel by pixel.

    Each pixel takes the share of the two rays of every view that pass
    within a pixel of it on its plane; their samples are placed as
    :func:`setup_2d` and the forward kernels place them (same float32
    arithmetic from the same start), so the result is the exact transpose
    of :func:`forward_2d` up to the order of the sums.
    """
    column_map, ray_slope, by_rows, weight = plan
    n_views, n_cols = projections.shape
    padded = PAD_BEFORE + n_cols + PAD_AFTER
    shares = np.zeros((1, n_views, padded), np.float32)
    shares[0, :, PAD_BEFORE:-PAD_AFTER] = weight[:, None] * projections
    ray_starts = np.zeros((n_views, padded), np.float32)
    parallel_ray_starts(vectors, by_rows, ray_starts)
    interior = rows_y[None, PAD_BEFORE:-PAD_AFTER, PAD_BEFORE:-PAD_AFTER]
    _backproject_kernels.parallel_joseph_2d(shares, ray_starts, column_map, ray_slope, by_rows,
                                            interior)


def parallel_pixel_plan(vectors, metric, n_cols):
    """Per-view facts for backprojecting a parallel beam pixel by pixel, or None.

    On the planes of its driving axis a (rows for a = 0, columns for a = 1),
    the ray through detector column c of a view meets plane k at padded
    coordinate ``p0 + c·Δ + k·slope`` (:func:`setup_2d`), and Joseph's
    adjoint gives pixel m of that plane the ray's share times
    ``max(0, 1 - |m - p|)``. Inverting, the pixel lies at ray coordinate
    ``(m - p0 - k·slope) / Δ``, an affine map of its indices; when
    ``|Δ| ≥ 1`` for every view, the two rays around that coordinate are
    the only ones that reach the pixel.

    Returns ``(column_map, ray_slope, by_rows, weight)``: maps (views, 3)
    from (j, i, 1) to the ray coordinate padded by one, the rays' float32
    slope as the forward kernels use it, whether each view's planes are
    rows, and the step length of its rays (mm); None when some view's rays
    are closer than a pixel (or the detector is parallel to the rays).
    """
    e, detector, u = vectors[:, SOURCE], vectors[:, DETECTOR], vectors[:, U]
    by_rows = np.abs(e[:, 0]) >= np.abs(e[:, 1])  # driving axis 0, as setup_2d decides
    a, b = np.where(by_rows, 0, 1), np.where(by_rows, 1, 0)
    views = np.arange(len(e))
    slope = e[views, b] / e[views, a]
    delta = u[views, b] - u[views, a] * slope
    if not np.all(np.abs(delta) >= 1.0 - 1e-6):  # a third ray would add at most 1e-6 of its share
        return None
    first_ray = detector[views, b] - detector[views, a] * slope + 1.0 - 0.5 * (n_cols - 1) * delta
    along, across = 1.0 / delta, -slope / delta  # per unit of the plane's axis, of its index
    column_map = np.empty((len(e), 3))
    column_map[:, 0] = np.where(by_rows, across, along)
    column_map[:, 1] = np.where(by_rows, along, across)
    column_map[:, 2] = (1.0 - first_ray) / delta + 1.0
    length = np.sqrt(np.einsum("vi,ij,vj->v", e, metric, e))
    return column_map, slope.astype(np.float32), by_rows, length / np.abs(e[views, a])


@njit(cache=True)
def parallel_ray_starts(vectors, by_rows, out):
    """p0 of :func:`setup_2d` for every ray of a parallel beam, as float32 in ``out[:, 1:-2]``.

    The same float64 operations as :func:`detector_pixel_2d` and
    :func:`setup_2d` (flat detectors), so that the pixel-driven adjoint
    samples each ray where the forward does.
    """
    n_cols = out.shape[1] - PAD_BEFORE - PAD_AFTER
    middle = 0.5 * (n_cols - 1)
    for view in range(out.shape[0]):
        a = 0 if by_rows[view] else 1
        b = 1 - a
        slope = vectors[view, SOURCE, b] / vectors[view, SOURCE, a]
        detector_a, detector_b = vectors[view, DETECTOR, a], vectors[view, DETECTOR, b]
        u_a, u_b = vectors[view, U, a], vectors[view, U, b]
        row = out[view, PAD_BEFORE:]
        for col in range(n_cols):
            offset = col - middle  # as detector_pixel_2d
            start_a, start_b = detector_a + offset * u_a, detector_b + offset * u_b
            row[col] = start_b - start_a * slope + 1.0


@njit(parallel=True, fastmath=True, cache=True)
def adjoint_2d_rays(projections, vectors, gamma_step, metric, is_cone, curved, n_chunks, rows_y,
                    rows_x):
    """:func:`adjoint_2d` ray by ray, for any scan.

    Task c owns the c-th chunk of planes (rows) of both arrays and walks
    every ray, spreading only its samples on those planes.
    """
    n_views, n_cols = projections.shape
    n_y, n_x = rows_y.shape[0] - 3, rows_y.shape[1] - 3
    flat_y, flat_x = rows_y.reshape(-1), rows_x.reshape(-1)
    for chunk in prange(n_chunks):
        floors = np.empty(max(n_y, n_x), np.int32)
        fracs = np.empty(max(n_y, n_x), np.float32)
        for view in range(n_views):
            for col in range(n_cols):
                value = projections[view, col]
                if value == 0.0:
                    continue
                s0, s1, e0, e1, t_min, t_max = ray_2d(vectors, gamma_step, view, col, n_cols,
                                                      is_cone, curved)
                axis, p0, slope, weight, k_first, k_last = setup_2d(
                    s0, s1, e0, e1, t_min, t_max, n_y, n_x, metric)
                n_planes = n_y if axis == 0 else n_x
                k_first = max(k_first, chunk * n_planes // n_chunks)
                k_last = min(k_last, (chunk + 1) * n_planes // n_chunks - 1)
                if axis == 0:
                    _row_spread(flat_y, p0, slope, rows_y.shape[1], k_first, k_last,
                                weight * value, floors, fracs)
                else:
                    _row_spread(flat_x, p0, slope, rows_x.shape[1], k_first, k_last,
                                weight * value, floors, fracs)


# -- 2D scan of a stack of slices (slices innermost) --------------------------------------


@njit(parallel=True, fastmath=True, cache=True)
def forward_batch(padded, vectors, gamma_step, metric, is_cone, curved, out):
    """Projections ``out`` (slices, views, cols) of a padded (y, x, slices) stack."""
    n_slices, n_views, n_cols = out.shape
    sizes = (padded.shape[0] - 3, padded.shape[1] - 3)
    strides = (padded.shape[1], 1)
    flat = padded.reshape(-1)
    n_blocks = (n_cols + COLUMN_BLOCK - 1) // COLUMN_BLOCK
    for job in prange(n_views * n_blocks):
        view, first = job // n_blocks, (job % n_blocks) * COLUMN_BLOCK
        total = np.empty(n_slices, np.float32)
        for col in range(first, min(first + COLUMN_BLOCK, n_cols)):
            s0, s1, e0, e1, t_min, t_max = ray_2d(vectors, gamma_step, view, col, n_cols,
                                                  is_cone, curved)
            axis, p0, slope, weight, k_first, k_last = setup_2d(
                s0, s1, e0, e1, t_min, t_max, sizes[0], sizes[1], metric)
            _stack_sum(flat, p0, slope, strides[axis], strides[1 - axis], k_first, k_last,
                       n_slices, total)
            for z in range(n_slices):
                out[z, view, col] = np.float32(weight) * total[z]


@njit(fastmath=True, cache=True)
def _adjoint_batch_slab(projections, vectors, gamma_step, metric, is_cone, curved, bound_lo,
                        bound_hi, padded):
    n_slices, n_views, n_cols = projections.shape
    sizes = (padded.shape[0] - 3, padded.shape[1] - 3)
    strides = (padded.shape[1], 1)
    flat = padded.reshape(-1)
    shares = np.empty(n_slices, np.float32)
    for view in range(n_views):
        for col in range(n_cols):
            s0, s1, e0, e1, t_min, t_max = ray_2d(vectors, gamma_step, view, col, n_cols,
                                                  is_cone, curved)
            axis, p0, slope, weight, k_first, k_last = setup_2d(
                s0, s1, e0, e1, t_min, t_max, sizes[0], sizes[1], metric)
            q, g = (1.0, 1.0) if axis == 0 else (p0, slope)
            k_first, k_last = slab_range(bound_lo, bound_hi, q, g, k_first, k_last)
            if k_last < k_first:
                continue
            for z in range(n_slices):
                shares[z] = np.float32(weight) * projections[z, view, col]
            _stack_spread(flat, p0, slope, strides[axis], strides[1 - axis], k_first, k_last,
                          n_slices, shares)


@njit(parallel=True, fastmath=True, cache=True)
def adjoint_batch(projections, vectors, gamma_step, metric, is_cone, curved, slab_bounds,
                  padded):
    """Add Aᵀ ``projections`` (slices, views, cols) into the zeroed padded stack ``padded``."""
    n_slabs = slab_bounds.size - 1
    for phase in range(2):
        for task in prange((n_slabs - phase + 1) // 2):
            slab = 2 * task + phase
            _adjoint_batch_slab(projections, vectors, gamma_step, metric, is_cone, curved,
                                slab_bounds[slab], slab_bounds[slab + 1], padded)


# -- 3D ------------------------------------------------------------------------------------


@njit(parallel=True, fastmath=True, cache=True)
def forward_3d(padded, vectors, gamma_step, metric, is_cone, curved, out):
    """Projections ``out`` (views, rows, cols) of a padded (z, y, x) volume."""
    n_views, n_rows, n_cols = out.shape
    sizes = (padded.shape[0] - 3, padded.shape[1] - 3, padded.shape[2] - 3)
    all_strides = (padded.shape[1] * padded.shape[2], padded.shape[2], 1)
    flat = padded.reshape(-1)
    for job in prange(n_views * n_rows):
        view, row = job // n_rows, job % n_rows
        for col in range(n_cols):
            start, e, t_min, t_max = ray_3d(vectors, gamma_step, view, row, col, n_rows, n_cols,
                                            is_cone, curved)
            a, b, c, pb0, slope_b, pc0, slope_c, weight, k_first, k_last = setup_3d(
                start, e, t_min, t_max, sizes, metric)
            strides = (all_strides[a], all_strides[b], all_strides[c])
            total = _volume_sum(flat, pb0, slope_b, pc0, slope_c, strides, k_first, k_last)
            out[view, row, col] = np.float32(weight) * total


@njit(fastmath=True, cache=True)
def _adjoint_3d_slab(projections, vectors, gamma_step, metric, is_cone, curved, bound_lo,
                     bound_hi, padded):
    n_views, n_rows, n_cols = projections.shape
    sizes = (padded.shape[0] - 3, padded.shape[1] - 3, padded.shape[2] - 3)
    all_strides = (padded.shape[1] * padded.shape[2], padded.shape[2], 1)
    flat = padded.reshape(-1)
    for view in range(n_views):
        for row in range(n_rows):
            for col in range(n_cols):
                value = projections[view, row, col]
                if value == 0.0:
                    continue
                start, e, t_min, t_max = ray_3d(vectors, gamma_step, view, row, col, n_rows,
                                                n_cols, is_cone, curved)
                a, b, c, pb0, slope_b, pc0, slope_c, weight, k_first, k_last = setup_3d(
                    start, e, t_min, t_max, sizes, metric)
                # b < c, so axis 0 is either the driving axis or b.
                q, g = (1.0, 1.0) if a == 0 else (pb0, slope_b)
                k_first, k_last = slab_range(bound_lo, bound_hi, q, g, k_first, k_last)
                strides = (all_strides[a], all_strides[b], all_strides[c])
                _volume_spread(flat, pb0, slope_b, pc0, slope_c, strides, k_first, k_last,
                               weight * value)


@njit(parallel=True, fastmath=True, cache=True)
def adjoint_3d(projections, vectors, gamma_step, metric, is_cone, curved, slab_bounds, padded):
    """Add Aᵀ ``projections`` (views, rows, cols) into the zeroed padded volume ``padded``."""
    n_slabs = slab_bounds.size - 1
    for phase in range(2):
        for task in prange((n_slabs - phase + 1) // 2):
            slab = 2 * task + phase
            _adjoint_3d_slab(projections, vectors, gamma_step, metric, is_cone, curved,
                             slab_bounds[slab], slab_bounds[slab + 1], padded)
