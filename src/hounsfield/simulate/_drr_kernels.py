"""numba kernels of the DRR renderer: Joseph's ray march through one cone-beam view.

Every detector pixel casts one ray from the source. As in
:mod:`hounsfield.tomo._joseph` (the shared projector, which these kernels
agree with), the ray is traced in continuous *index space* of the volume
along its driving axis ``a`` (the largest |component| of its direction), one
index plane per sample, interpolating bilinearly in the other two axes
``b < c``; each sample is weighted by the world length of one step, in mm.
Volumes arrive *padded* with zero voxels (``PAD_BEFORE`` before and
``PAD_AFTER`` after the data on every axis), so the inner loops need no
bounds tests and border samples interpolate against zero.

Two kernels share the ray set-up and the marching order:

* :func:`render_line_integrals` sums the interpolated attenuation: the DRR.
* :func:`render_label_path_lengths` walks the same samples through a map of
  *channel indices* (0 for nothing) and adds each of the four bilinear
  weights to the channel of its voxel, so that channel ``k`` receives exactly
  the line integral of the binary mask of label ``k`` (μ = 1 per mm): its
  projected thickness in mm. All labels cost one march.

Detector rows are split over threads; every pixel is written by one thread.
Within a row, the rays that share a driving axis march *together*, plane by
plane: neighbouring rays read neighbouring voxels of one plane, so memory is
read in order (about twice as fast as ray after ray), and the label kernel's
additions to neighbouring rays' sums do not wait on each other. Each ray
still adds its own samples in the order of k. The set-up functions are
compiled without fastmath so that both kernels see bit-identical sample
ranges and weights.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

from ..tomo._joseph import clip_to_band

#: Zero voxels before and after the volume along every padded axis.
PAD_BEFORE, PAD_AFTER = 1, 2


# -- padding --------------------------------------------------------------------------


@njit(parallel=True, cache=True)
def pad_attenuation(hu, mu_water_per_mm, padded):
    """Write μ = μ_water (1 + HU/1000), clipped at 0, into the interior of zeroed ``padded``."""
    scale = np.float32(mu_water_per_mm / 1000.0)
    offset = np.float32(mu_water_per_mm)
    zero = np.float32(0.0)
    n0, n1, n2 = hu.shape
    for k in prange(n0):
        for j in range(n1):
            for i in range(n2):
                mu = offset + scale * np.float32(hu[k, j, i])
                padded[k + PAD_BEFORE, j + PAD_BEFORE, i + PAD_BEFORE] = max(mu, zero)


@njit(parallel=True, cache=True)
def pad_channels(labels, channel_of_id, padded):
    """Write the channel index of every voxel's label id into the interior of zeroed ``padded``.

    Ids outside ``channel_of_id`` (negative or too large) get channel 0.
    """
    n0, n1, n2 = labels.shape
    n_ids = channel_of_id.size
    for k in prange(n0):
        for j in range(n1):
            for i in range(n2):
                label = np.int64(labels[k, j, i])
                if 0 <= label < n_ids:
                    padded[k + PAD_BEFORE, j + PAD_BEFORE, i + PAD_BEFORE] = channel_of_id[label]


@njit(cache=True)
def count_ids(labels, n_ids):
    """Voxel count of every id in [0, n_ids); others are not counted."""
    counts = np.zeros(n_ids, np.int64)
    for value in labels.ravel():
        label = np.int64(value)
        if 0 <= label < n_ids:
            counts[label] += 1
    return counts


# -- ray set-up (float64, no fastmath) -----------------------------------------------------


@njit(cache=True)
def _ray(view, row, col, n_rows, n_cols):
    """(start, direction) in index space of the ray to pixel (row, col); t runs 0 → 1."""
    row_offset = row - 0.5 * (n_rows - 1)
    col_offset = col - 0.5 * (n_cols - 1)
    source, detector, u, v = view[0], view[1], view[2], view[3]
    e0 = detector[0] + col_offset * u[0] + row_offset * v[0] - source[0]
    e1 = detector[1] + col_offset * u[1] + row_offset * v[1] - source[1]
    e2 = detector[2] + col_offset * u[2] + row_offset * v[2] - source[2]
    return (source[0], source[1], source[2]), (e0, e1, e2)


@njit(cache=True)
def _world_length(metric, e0, e1, e2):
    """Length in mm of the index-space vector e, ``sqrt(eᵀ G e)``."""
    squared = (metric[0, 0] * e0 * e0 + metric[1, 1] * e1 * e1 + metric[2, 2] * e2 * e2
               + 2.0 * (metric[0, 1] * e0 * e1 + metric[0, 2] * e0 * e2 + metric[1, 2] * e1 * e2))
    return math.sqrt(squared)


@njit(cache=True)
def _setup(start, e, shape, metric):
    """Joseph parameters of a ray segment ``start + t·e``, t in [0, 1].

    Returns (a, b, c, pb0, slope_b, pc0, slope_c, weight mm, k_first, k_last):
    the driving axis a, the interpolated axes b < c with their padded
    coordinates ``p0 + k·slope`` on plane k, and the planes sampled.
    """
    a = 0
    if abs(e[1]) > abs(e[a]):
        a = 1
    if abs(e[2]) > abs(e[a]):
        a = 2
    b, c = (1, 2) if a == 0 else ((0, 2) if a == 1 else (0, 1))
    slope_b, slope_c = e[b] / e[a], e[c] / e[a]
    pb0 = start[b] - start[a] * slope_b + PAD_BEFORE
    pc0 = start[c] - start[a] * slope_c + PAD_BEFORE
    weight = _world_length(metric, e[0], e[1], e[2]) / abs(e[a])
    end_a = start[a] + e[a]
    lo = max(0.0, min(start[a], end_a))
    hi = min(shape[a] - 1.0, max(start[a], end_a))
    lo, hi = clip_to_band(lo, hi, pb0, slope_b, shape[b] + 1.0)
    lo, hi = clip_to_band(lo, hi, pc0, slope_c, shape[c] + 1.0)
    if hi < lo:
        return a, b, c, pb0, slope_b, pc0, slope_c, weight, 0, -1
    return a, b, c, pb0, slope_b, pc0, slope_c, weight, int(math.ceil(lo)), int(math.floor(hi))


# -- one detector row at a time ------------------------------------------------------------------
#
# The rays of a row are set up first into arrays, one entry per column:
# ``axis`` (driving axis), ``coefs`` (4, cols) float32 rows pb0, slope_b, pc0,
# slope_c, ``weight`` (step length, mm) and the planes ``k_first..k_last``.
# Rays that share a driving axis (a *run* of columns) then march together.
#
# Sample positions are float32; the ray was clipped in float64 to padded
# coordinates in [0, n + 1], so truncation gives an index in [0, n + 1] and its
# neighbour at most n + 2, inside the padding. Unsigned indices spare numba's
# negative-index wraparound on every load.


@njit(cache=True)
def _row_setup(view, metric, shape, row, n_rows, axis, coefs, weight, k_first, k_last):
    """Joseph parameters of every ray of detector row ``row``, into the row arrays."""
    n_cols = axis.size
    for col in range(n_cols):
        start, e = _ray(view, row, col, n_rows, n_cols)
        a, _, _, pb0, slope_b, pc0, slope_c, step, first, last = _setup(start, e, shape, metric)
        axis[col] = a
        coefs[0, col], coefs[1, col], coefs[2, col], coefs[3, col] = pb0, slope_b, pc0, slope_c
        weight[col], k_first[col], k_last[col] = step, first, last


@njit(cache=True)
def _run_end(axis, first):
    """One past the last column of the run of equal driving axes that starts at ``first``."""
    last = first + 1
    while last < axis.size and axis[last] == axis[first]:
        last += 1
    return last


@njit(cache=True)
def _strides(shape, a):
    """Unsigned strides (a, b, c) of a padded (z, y, x) array for driving axis a."""
    strides = (shape[1] * shape[2], shape[2], 1)
    b, c = (1, 2) if a == 0 else ((0, 2) if a == 1 else (0, 1))
    return np.uint64(strides[a]), np.uint64(strides[b]), np.uint64(strides[c])


@njit(cache=True)
def _plane_span(k_first, k_last):
    """The planes that any ray of a run samples (k_min > k_max when none does)."""
    k_min, k_max = 1 << 30, -1
    for col in range(k_first.size):
        if k_first[col] <= k_last[col]:
            k_min, k_max = min(k_min, k_first[col]), max(k_max, k_last[col])
    return k_min, k_max


@njit(fastmath=True, cache=True)
def _march(flat, strides, coefs, k_first, k_last, totals):
    """Sum the interpolated samples of a run of rays into ``totals``, plane by plane."""
    sa, sb, sc = strides
    start_b, step_b, start_c, step_c = coefs[0], coefs[1], coefs[2], coefs[3]
    totals[:] = 0.0
    k_min, k_max = _plane_span(k_first, k_last)
    for k in range(k_min, k_max + 1):
        kf = np.float32(k)
        plane = np.uint64(k + PAD_BEFORE) * sa
        for col in range(totals.size):
            if k < k_first[col] or k > k_last[col]:
                continue
            pb, pc = start_b[col] + kf * step_b[col], start_c[col] + kf * step_c[col]
            ib, ic = np.int32(pb), np.int32(pc)
            fb, fc = pb - np.float32(ib), pc - np.float32(ic)
            index = plane + np.uint64(ib) * sb + np.uint64(ic) * sc
            v00, v01 = flat[index], flat[index + sc]
            v10, v11 = flat[index + sb], flat[index + sb + sc]
            near = v00 + fc * (v01 - v00)
            far = v10 + fc * (v11 - v10)
            totals[col] += near + fb * (far - near)


@njit(fastmath=True, cache=True)
def _march_channels(flat, strides, coefs, k_first, k_last, sums):
    """Add the bilinear weights of a run of rays to ``sums[channel, col]``, plane by plane.

    A sample whose four voxels share a channel adds 1 (the sum of its
    weights) at once; others add each weight to its voxel's channel.
    """
    sa, sb, sc = strides
    start_b, step_b, start_c, step_c = coefs[0], coefs[1], coefs[2], coefs[3]
    one = np.float32(1.0)
    k_min, k_max = _plane_span(k_first, k_last)
    for k in range(k_min, k_max + 1):
        kf = np.float32(k)
        plane = np.uint64(k + PAD_BEFORE) * sa
        for col in range(k_first.size):
            if k < k_first[col] or k > k_last[col]:
                continue
            pb, pc = start_b[col] + kf * step_b[col], start_c[col] + kf * step_c[col]
            ib, ic = np.int32(pb), np.int32(pc)
            fb, fc = pb - np.float32(ib), pc - np.float32(ic)
            index = plane + np.uint64(ib) * sb + np.uint64(ic) * sc
            c00, c01 = flat[index], flat[index + sc]
            c10, c11 = flat[index + sb], flat[index + sb + sc]
            if c00 == c01 and c00 == c10 and c00 == c11:
                sums[c00, col] += one
            else:
                near, far = one - fb, fb
                sums[c00, col] += near * (one - fc)
                sums[c01, col] += near * fc
                sums[c10, col] += far * (one - fc)
                sums[c11, col] += far * fc


# -- kernels ------------------------------------------------------------------------------------


@njit(parallel=True, fastmath=True, cache=True)
def render_line_integrals(padded, view, metric, out):
    """Line integrals ``out`` (rows, cols) through the padded (z, y, x) volume ``padded``.

    ``view`` is (4, 3): source, detector centre, column step u and row step v
    in the volume's unpadded index space; ``metric`` its 3 × 3 Gram matrix.
    """
    n_rows, n_cols = out.shape
    shape = (padded.shape[0] - 3, padded.shape[1] - 3, padded.shape[2] - 3)
    flat = padded.reshape(-1)
    for row in prange(n_rows):
        axis, coefs = np.empty(n_cols, np.int64), np.empty((4, n_cols), np.float32)
        weight, totals = np.empty(n_cols, np.float32), np.empty(n_cols, np.float32)
        k_first, k_last = np.empty(n_cols, np.int32), np.empty(n_cols, np.int32)
        _row_setup(view, metric, shape, row, n_rows, axis, coefs, weight, k_first, k_last)
        first = 0
        while first < n_cols:
            last = _run_end(axis, first)
            _march(flat, _strides(padded.shape, axis[first]), coefs[:, first:last],
                   k_first[first:last], k_last[first:last], totals[first:last])
            first = last
        for col in range(n_cols):
            out[row, col] = weight[col] * totals[col]


@njit(parallel=True, fastmath=True, cache=True)
def render_label_path_lengths(padded, n_channels, view, metric, out):
    """Path length (mm) of every ray in every channel: ``out`` (channels, rows, cols), zeroed.

    ``padded`` holds channel indices, 1..n_channels, 0 for voxels counted in
    no channel; ``out[k - 1]`` receives channel k.
    """
    n_rows, n_cols = out.shape[1], out.shape[2]
    shape = (padded.shape[0] - 3, padded.shape[1] - 3, padded.shape[2] - 3)
    flat = padded.reshape(-1)
    for row in prange(n_rows):
        axis, coefs = np.empty(n_cols, np.int64), np.empty((4, n_cols), np.float32)
        weight = np.empty(n_cols, np.float32)
        k_first, k_last = np.empty(n_cols, np.int32), np.empty(n_cols, np.int32)
        sums = np.zeros((n_channels + 1, n_cols), np.float32)
        _row_setup(view, metric, shape, row, n_rows, axis, coefs, weight, k_first, k_last)
        first = 0
        while first < n_cols:
            last = _run_end(axis, first)
            _march_channels(flat, _strides(padded.shape, axis[first]), coefs[:, first:last],
                            k_first[first:last], k_last[first:last], sums[:, first:last])
            first = last
        for channel in range(1, n_channels + 1):
            for col in range(n_cols):
                if sums[channel, col] != 0.0:
                    out[channel - 1, row, col] = weight[col] * sums[channel, col]
