"""Voxel-driven backprojection kernels for analytic reconstruction (FBP, FDK).

Every kernel adds, for each image pixel (voxel), the filtered projections of
all views interpolated at the pixel's detector coordinate: linearly along
the detector in 2D, bilinearly in 3D. The caller prepares per-view maps from
*array index* space to detector coordinates (see :mod:`._fbp_geometry`), so
the kernels work for any grid spacing, origin and direction.

Layout, chosen for speed on CPUs with wide SIMD gathers:

* threads split image rows (2D) or slices along array axis 0 (3D); each
  output pixel is written once, by one thread: no write races;
* per row, every view's map is reduced to a start value and a slope along
  array axis -1 (x), in small per-thread arrays;
* the innermost loop runs over *views* and sums into a scalar, so it has no
  stores and the compiler vectorises it with gathers (a loop over pixels
  with a ``row[i] +=`` store does not vectorise: the store might alias the
  gathered projections);
* projections arrive zero padded, one column (row) before and two after
  (:data:`PAD_BEFORE`, :data:`PAD_AFTER`), and detector coordinates are
  clamped into the padded range: outside the detector the projection reads
  as zero with no branch in the loop. Coordinates are padded ones
  (detector index + :data:`PAD_BEFORE`);
* each padded sample is packed with its slope to the next column into one
  uint64 (:func:`pack_pairs`), so that a linear interpolation gathers one
  64-bit word instead of two floats (gathers cost per element).

Weights: parallel beams add the filtered value; flat fan/cone beams weight
it by ``1 / den²`` (``den`` the pixel's depth along the central ray, mm);
curved detectors by ``1 / L²`` (``L`` the in-plane source–pixel distance).
Per-view constants (angular step, distances) are folded into the filtered
projections beforehand.

The fan angle on curved detectors needs atan; numba's math.atan does not
vectorise without Intel SVML, so :func:`_fan_angle` is a float32 polynomial
(atan(r) on [0, 1] with r = min/max of the two legs, then π/2 - atan(r) above
45°; error below 1e-7 rad).
"""

from __future__ import annotations

import numpy as np
from llvmlite import ir
from numba import njit, prange, types
from numba.extending import intrinsic

#: Zero samples before and after each padded detector row (and column in 3D).
PAD_BEFORE, PAD_AFTER = 1, 2
#: Largest padded projection (rows × columns) that the 3D kernels index exactly.
MAX_VIEW_SAMPLES = 1 << 24

_PI_2 = np.float32(np.pi / 2)
# atan(r) ≈ r · P(r²) on [0, 1], P fitted here at Chebyshev nodes (max error 7.5e-8 rad).
_ATAN_COEFFICIENTS = tuple(np.float32(c) for c in (
    0.9999998977538579, -0.3333195972432595, 0.19969235394813656, -0.14016585042156376,
    0.09906096896236152, -0.05936710079137182, 0.02416618952361012, -0.00466877330798461))


@njit(fastmath=True, inline="always", error_model="numpy")
def _fan_angle(across, along):
    """atan2(across, along) for along > 0, with one division and selects only (vectorises)."""
    magnitude = abs(across)
    ratio = min(magnitude, along) / max(magnitude, along)
    square = ratio * ratio
    c0, c1, c2, c3, c4, c5, c6, c7 = _ATAN_COEFFICIENTS
    poly = ratio * (c0 + square * (c1 + square * (c2 + square * (c3 + square * (
        c4 + square * (c5 + square * (c6 + square * c7)))))))
    angle = _PI_2 - poly if magnitude > along else poly
    return -angle if across < np.float32(0.0) else angle


@njit(fastmath=True, inline="always", error_model="numpy")
def _clamp(value, top):
    return min(max(value, np.float32(0.0)), top)


@intrinsic
def _pack(typingctx, value, slope):
    """(float32 value, float32 slope) → uint64 with the value's bits low, the slope's high."""
    signature = types.uint64(types.float32, types.float32)

    def codegen(context, builder, sig, args):
        word = ir.IntType(64)
        low = builder.zext(builder.bitcast(args[0], ir.IntType(32)), word)
        high = builder.zext(builder.bitcast(args[1], ir.IntType(32)), word)
        return builder.or_(low, builder.shl(high, ir.Constant(word, 32)))

    return signature, codegen


@intrinsic
def _interpolate(typingctx, pair, frac):
    """value + frac · slope of a packed (value, slope) pair."""
    signature = types.float32(types.uint64, types.float32)

    def codegen(context, builder, sig, args):
        half = ir.IntType(32)
        value = builder.bitcast(builder.trunc(args[0], half), ir.FloatType())
        high = builder.lshr(args[0], ir.Constant(ir.IntType(64), 32))
        slope = builder.bitcast(builder.trunc(high, half), ir.FloatType())
        return builder.fadd(value, builder.fmul(args[1], slope))

    return signature, codegen


@njit(parallel=True, cache=True)
def pack_pairs(padded):
    """Pack each sample with its slope to the next along the last axis: (value, next - value).

    The kernels gather one 64-bit pair per linear interpolation instead of
    two 32-bit samples, which is markedly faster on CPUs whose gathers cost
    per element. The last sample of each row gets slope 0 (it is padding).
    """
    rows = padded.reshape(-1, padded.shape[-1])
    pairs = np.empty(rows.shape, np.uint64)
    n = rows.shape[1]
    for row in prange(rows.shape[0]):
        for k in range(n - 1):
            pairs[row, k] = _pack(rows[row, k], rows[row, k + 1] - rows[row, k])
        pairs[row, n - 1] = _pack(rows[row, n - 1], np.float32(0.0))
    return pairs.reshape(padded.shape)


@njit(fastmath=True, inline="always", error_model="numpy")
def _linear(pairs, base, position):
    """Linear interpolation at padded ``position`` (≥ 0) of the row starting at ``base``."""
    floor = np.floor(position)
    return _interpolate(pairs[base + np.uintp(floor)], position - floor)


@njit(fastmath=True, inline="always", error_model="numpy")
def _bilinear(pairs, base, row_length, row, col):
    """Bilinear interpolation at padded (row, col) ≥ 0 of the view starting at ``base``.

    The offset within the view is formed in float32 (one conversion, no 64-bit
    multiply): exact while a padded view has fewer than 2**24 samples
    (:data:`MAX_VIEW_SAMPLES`).
    """
    row_floor = np.floor(row)
    col_floor = np.floor(col)
    col_frac = col - col_floor
    at = base + np.uintp(row_floor * row_length + col_floor)
    top = _interpolate(pairs[at], col_frac)
    bottom = _interpolate(pairs[at + np.uintp(row_length)], col_frac)
    return top + (row - row_floor) * (bottom - top)


@njit(cache=True)
def _row_starts(maps, row, starts):
    """``maps[v, 0]·row + maps[v, -1]``, the value at x index 0 of each view's map, in float32."""
    for view in range(maps.shape[0]):
        starts[view] = maps[view, 0] * row + maps[view, maps.shape[1] - 1]


@njit(cache=True)
def _view_bases(n_views, first_view, view_size):
    bases = np.empty(n_views, np.uintp)
    for view in range(n_views):
        bases[view] = np.uintp((first_view + view) * view_size)
    return bases


# -- 2D: stacks of sinograms (slices, views, padded columns) → (slices, ny, nx) ---------------


@njit(parallel=True, fastmath=True, cache=True, error_model="numpy")
def parallel_2d(pairs, column_map, out):
    """Parallel beam: padded column = column_map[v] · (j, i, 1)."""
    n_slices, n_views, n_pad = pairs.shape
    ny, nx = out.shape[1], out.shape[2]
    flat = pairs.reshape(-1)
    top = np.float32(n_pad - PAD_AFTER)
    slopes = column_map[:, 1].astype(np.float32)
    for task in prange(n_slices * ny):
        z, j = task // ny, task % ny
        starts = np.empty(n_views, np.float32)
        _row_starts(column_map, j, starts)
        bases = _view_bases(n_views, z * n_views, n_pad)
        for i in range(nx):
            x = np.float32(i)
            total = np.float32(0.0)
            for view in range(n_views):
                column = _clamp(starts[view] + slopes[view] * x, top)
                total += _linear(flat, bases[view], column)
            out[z, j, i] = total


@njit(parallel=True, fastmath=True, cache=True, error_model="numpy")
def fan_flat_2d(pairs, numerator, denominator, out):
    """Flat-detector fan beam: padded column = num/den, weight 1/den² (den = depth, mm)."""
    n_slices, n_views, n_pad = pairs.shape
    ny, nx = out.shape[1], out.shape[2]
    flat = pairs.reshape(-1)
    top = np.float32(n_pad - PAD_AFTER)
    num_slopes = numerator[:, 1].astype(np.float32)
    den_slopes = denominator[:, 1].astype(np.float32)
    for task in prange(n_slices * ny):
        z, j = task // ny, task % ny
        num_starts = np.empty(n_views, np.float32)
        den_starts = np.empty(n_views, np.float32)
        _row_starts(numerator, j, num_starts)
        _row_starts(denominator, j, den_starts)
        bases = _view_bases(n_views, z * n_views, n_pad)
        for i in range(nx):
            x = np.float32(i)
            total = np.float32(0.0)
            for view in range(n_views):
                inverse = np.float32(1.0) / (den_starts[view] + den_slopes[view] * x)
                column = _clamp((num_starts[view] + num_slopes[view] * x) * inverse, top)
                total += inverse * inverse * _linear(flat, bases[view], column)
            out[z, j, i] = total


@njit(parallel=True, fastmath=True, cache=True, error_model="numpy")
def fan_curved_2d(pairs, tangent_map, along_map, column_scale, column_offset, out):
    """Curved-detector fan beam: padded column = atan(t/a)·scale + offset, weight 1/(t² + a²)."""
    n_slices, n_views, n_pad = pairs.shape
    ny, nx = out.shape[1], out.shape[2]
    flat = pairs.reshape(-1)
    top = np.float32(n_pad - PAD_AFTER)
    tan_slopes = tangent_map[:, 1].astype(np.float32)
    along_slopes = along_map[:, 1].astype(np.float32)
    scales = column_scale.astype(np.float32)
    offsets = column_offset.astype(np.float32)
    for task in prange(n_slices * ny):
        z, j = task // ny, task % ny
        tan_starts = np.empty(n_views, np.float32)
        along_starts = np.empty(n_views, np.float32)
        _row_starts(tangent_map, j, tan_starts)
        _row_starts(along_map, j, along_starts)
        bases = _view_bases(n_views, z * n_views, n_pad)
        for i in range(nx):
            x = np.float32(i)
            total = np.float32(0.0)
            for view in range(n_views):
                across = tan_starts[view] + tan_slopes[view] * x
                along = along_starts[view] + along_slopes[view] * x
                column = _clamp(_fan_angle(across, along) * scales[view] + offsets[view], top)
                weight = np.float32(1.0) / (across * across + along * along)
                total += weight * _linear(flat, bases[view], column)
            out[z, j, i] = total


# -- 3D cone beam: (views, padded rows, padded columns) → (nz, ny, nx) ---------------------


@njit(cache=True)
def _plane_starts(maps, k, j, starts):
    """``maps[v] · (k, j, 0, 1)`` for every view, in float32."""
    for view in range(maps.shape[0]):
        starts[view] = maps[view, 0] * k + maps[view, 1] * j + maps[view, 3]


@njit(fastmath=True, inline="always", error_model="numpy")
def _flat_ray(den_start, den_slope, col_start, col_slope, x, col_top):
    """(1/den, padded column) of a voxel on a flat detector."""
    inverse = np.float32(1.0) / (den_start + den_slope * x)
    return inverse, _clamp((col_start + col_slope * x) * inverse, col_top)


@njit(fastmath=True, inline="always", error_model="numpy")
def _curved_ray(tan_start, tan_slope, along_start, along_slope, scale, offset, x, col_top):
    """(1/L, padded column) of a voxel on a cylindrical detector (L in-plane distance)."""
    across = tan_start + tan_slope * x
    along = along_start + along_slope * x
    inverse = np.float32(1.0) / np.sqrt(across * across + along * along)
    return inverse, _clamp(_fan_angle(across, along) * scale + offset, col_top)


@njit(parallel=True, fastmath=True, cache=True, error_model="numpy")
def cone_flat(pairs, column_map, row_map, denominator, out):
    """Flat-detector cone beam: padded (row, column) = (row·x̃, column·x̃)/den, weight 1/den²."""
    n_views, n_rows, n_cols = pairs.shape
    nz, ny, nx = out.shape
    flat = pairs.reshape(-1)
    row_top = np.float32(n_rows - PAD_AFTER)
    col_top = np.float32(n_cols - PAD_AFTER)
    row_length = np.float32(n_cols)
    col_slopes = column_map[:, 2].astype(np.float32)
    row_slopes = row_map[:, 2].astype(np.float32)
    den_slopes = denominator[:, 2].astype(np.float32)
    bases = _view_bases(n_views, 0, n_rows * n_cols)
    for k in prange(nz):
        col_starts = np.empty(n_views, np.float32)
        row_starts = np.empty(n_views, np.float32)
        den_starts = np.empty(n_views, np.float32)
        for j in range(ny):
            _plane_starts(column_map, k, j, col_starts)
            _plane_starts(row_map, k, j, row_starts)
            _plane_starts(denominator, k, j, den_starts)
            for i in range(nx):
                x = np.float32(i)
                total = np.float32(0.0)
                for view in range(n_views):
                    inverse, column = _flat_ray(den_starts[view], den_slopes[view],
                                                col_starts[view], col_slopes[view], x, col_top)
                    row = _clamp((row_starts[view] + row_slopes[view] * x) * inverse, row_top)
                    value = _bilinear(flat, bases[view], row_length, row, column)
                    total += inverse * inverse * value
                out[k, j, i] = total


@njit(parallel=True, fastmath=True, cache=True, error_model="numpy")
def cone_flat_axial(pairs, column_map, row_map, denominator, out):
    """:func:`cone_flat` for grids whose axis 0 is the rotation axis, two slices at a time.

    Column and depth do not depend on the slice then (their maps have no
    axis-0 term), so slices k and k + 1 share them and differ in the row only.
    """
    n_views, n_rows, n_cols = pairs.shape
    nz, ny, nx = out.shape
    flat = pairs.reshape(-1)
    row_top = np.float32(n_rows - PAD_AFTER)
    col_top = np.float32(n_cols - PAD_AFTER)
    row_length = np.float32(n_cols)
    col_slopes = column_map[:, 2].astype(np.float32)
    row_slopes = row_map[:, 2].astype(np.float32)
    den_slopes = denominator[:, 2].astype(np.float32)
    bases = _view_bases(n_views, 0, n_rows * n_cols)
    for pair in prange((nz + 1) // 2):
        first, second = 2 * pair, min(2 * pair + 1, nz - 1)
        col_starts = np.empty(n_views, np.float32)
        den_starts = np.empty(n_views, np.float32)
        first_rows = np.empty(n_views, np.float32)
        second_rows = np.empty(n_views, np.float32)
        for j in range(ny):
            _plane_starts(column_map, first, j, col_starts)
            _plane_starts(denominator, first, j, den_starts)
            _plane_starts(row_map, first, j, first_rows)
            _plane_starts(row_map, second, j, second_rows)
            for i in range(nx):
                x = np.float32(i)
                first_total = np.float32(0.0)
                second_total = np.float32(0.0)
                for view in range(n_views):
                    inverse, column = _flat_ray(den_starts[view], den_slopes[view],
                                                col_starts[view], col_slopes[view], x, col_top)
                    weight = inverse * inverse
                    lift = row_slopes[view] * x
                    row = _clamp((first_rows[view] + lift) * inverse, row_top)
                    first_total += weight * _bilinear(flat, bases[view], row_length, row, column)
                    row = _clamp((second_rows[view] + lift) * inverse, row_top)
                    second_total += weight * _bilinear(flat, bases[view], row_length, row, column)
                out[first, j, i] = first_total
                out[second, j, i] = second_total


@njit(parallel=True, fastmath=True, cache=True, error_model="numpy")
def cone_curved(pairs, tangent_map, height_map, along_map, column_scale, column_offset,
                row_offset, out):
    """Cylindrical-detector cone beam.

    With t, h, a the maps' values (in-plane across, scaled height, in-plane
    along, relative to the source): padded column = atan(t/a)·scale + offset,
    padded row = h / sqrt(t² + a²) + row offset, weight 1/(t² + a²).
    """
    n_views, n_rows, n_cols = pairs.shape
    nz, ny, nx = out.shape
    flat = pairs.reshape(-1)
    row_top = np.float32(n_rows - PAD_AFTER)
    col_top = np.float32(n_cols - PAD_AFTER)
    row_length = np.float32(n_cols)
    tan_slopes = tangent_map[:, 2].astype(np.float32)
    height_slopes = height_map[:, 2].astype(np.float32)
    along_slopes = along_map[:, 2].astype(np.float32)
    scales = column_scale.astype(np.float32)
    col_offsets = column_offset.astype(np.float32)
    row_offsets = row_offset.astype(np.float32)
    bases = _view_bases(n_views, 0, n_rows * n_cols)
    for k in prange(nz):
        tan_starts = np.empty(n_views, np.float32)
        height_starts = np.empty(n_views, np.float32)
        along_starts = np.empty(n_views, np.float32)
        for j in range(ny):
            _plane_starts(tangent_map, k, j, tan_starts)
            _plane_starts(height_map, k, j, height_starts)
            _plane_starts(along_map, k, j, along_starts)
            for i in range(nx):
                x = np.float32(i)
                total = np.float32(0.0)
                for view in range(n_views):
                    inverse, column = _curved_ray(tan_starts[view], tan_slopes[view],
                                                  along_starts[view], along_slopes[view],
                                                  scales[view], col_offsets[view], x, col_top)
                    height = height_starts[view] + height_slopes[view] * x
                    row = _clamp(height * inverse + row_offsets[view], row_top)
                    value = _bilinear(flat, bases[view], row_length, row, column)
                    total += inverse * inverse * value
                out[k, j, i] = total


@njit(parallel=True, fastmath=True, cache=True, error_model="numpy")
def cone_curved_axial(pairs, tangent_map, height_map, along_map, column_scale, column_offset,
                      row_offset, out):
    """:func:`cone_curved` for grids whose axis 0 is the rotation axis, two slices at a time."""
    n_views, n_rows, n_cols = pairs.shape
    nz, ny, nx = out.shape
    flat = pairs.reshape(-1)
    row_top = np.float32(n_rows - PAD_AFTER)
    col_top = np.float32(n_cols - PAD_AFTER)
    row_length = np.float32(n_cols)
    tan_slopes = tangent_map[:, 2].astype(np.float32)
    height_slopes = height_map[:, 2].astype(np.float32)
    along_slopes = along_map[:, 2].astype(np.float32)
    scales = column_scale.astype(np.float32)
    col_offsets = column_offset.astype(np.float32)
    row_offsets = row_offset.astype(np.float32)
    bases = _view_bases(n_views, 0, n_rows * n_cols)
    for pair in prange((nz + 1) // 2):
        first, second = 2 * pair, min(2 * pair + 1, nz - 1)
        tan_starts = np.empty(n_views, np.float32)
        along_starts = np.empty(n_views, np.float32)
        first_heights = np.empty(n_views, np.float32)
        second_heights = np.empty(n_views, np.float32)
        for j in range(ny):
            _plane_starts(tangent_map, first, j, tan_starts)
            _plane_starts(along_map, first, j, along_starts)
            _plane_starts(height_map, first, j, first_heights)
            _plane_starts(height_map, second, j, second_heights)
            for i in range(nx):
                x = np.float32(i)
                first_total = np.float32(0.0)
                second_total = np.float32(0.0)
                for view in range(n_views):
                    inverse, column = _curved_ray(tan_starts[view], tan_slopes[view],
                                                  along_starts[view], along_slopes[view],
                                                  scales[view], col_offsets[view], x, col_top)
                    weight = inverse * inverse
                    lift = height_slopes[view] * x
                    row = _clamp((first_heights[view] + lift) * inverse + row_offsets[view],
                                 row_top)
                    first_total += weight * _bilinear(flat, bases[view], row_length, row, column)
                    row = _clamp((second_heights[view] + lift) * inverse + row_offsets[view],
                                 row_top)
                    second_total += weight * _bilinear(flat, bases[view], row_length, row, column)
                out[first, j, i] = first_total
                out[second, j, i] = second_total
