"""Voxel-driven backprojection kernels for analytic reconstruction (FBP, FDK).

Every kernel adds, for each image pixel (voxel), the filtered projections of
all views interpolated at the pixel's detector coordinate: linearly along
the detector in 2D, bilinearly in 3D. The caller prepares per-view maps from
*array index* space to detector coordinates (see :mod:`._fbp_geometry`), so
the kernels work for any grid spacing, origin and direction. The module also
holds the pixel-driven form of Joseph's adjoint for parallel beams
(:func:`parallel_joseph_2d`, used by :mod:`._joseph`), which shares the 2D
machinery.

Layout, chosen for speed on CPUs with wide SIMD:

* threads split image rows (2D) or slices along array axis 0 (3D); each
  output pixel is written once, by one thread: no write races;
* per row, every view's map is reduced to a start value and a slope along
  array axis -1 (x), in small per-thread arrays;
* projections arrive zero padded, one column (row) before and two after
  (:data:`PAD_BEFORE`, :data:`PAD_AFTER`), and detector coordinates are
  clamped into the padded range: outside the detector the projection reads
  as zero with no branch in the loop. Coordinates are padded ones
  (detector index + :data:`PAD_BEFORE`);
* 2D, on x86 CPUs with AVX-512 (:data:`._backproject_windows.WINDOWS`): vector lanes are 16
  neighbouring pixels of a row, and the samples they need are permuted out
  of a window of 32 consecutive samples held in two registers (see the
  section on windows below): no gathers;
* 3D, and 2D elsewhere: the innermost loop runs over *views* and sums into a
  scalar, so it has no stores and the compiler vectorises it with gathers
  (a loop over pixels with a ``row[i] +=`` store does not vectorise: the
  store might alias the gathered projections); each padded sample is packed
  with its slope to the next column into one uint64 (:func:`pack_pairs`),
  so that a linear interpolation gathers one 64-bit word instead of two
  floats (gathers cost per element).

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


@intrinsic
def _low(typingctx, pair):
    """The float32 in the low half of a uint64 (see :func:`_pack`)."""
    signature = types.float32(types.uint64)

    def codegen(context, builder, sig, args):
        return builder.bitcast(builder.trunc(args[0], ir.IntType(32)), ir.FloatType())

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
def _linear_near(pairs, offset, position):
    """:func:`_linear` for a row starting at a 32-bit ``offset`` (cheaper gathers)."""
    floor = np.int32(position)  # truncation is the floor: position >= 0
    return _interpolate(pairs[np.uint32(offset) + np.uint32(floor)], position - np.float32(floor))


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
#
# Loop order, for the caches: a task owns a block of image rows; it sweeps
# the views in passes of VIEWS_PER_PASS, and each pass runs over all rows of
# the block. The samples one pixel gathers from the views of a pass (a cache
# line each) then stay in L1 from one pixel to the next, and those the pass
# reads for the whole block stay in L2. Offsets within a pass are 32-bit.

#: Views per pass over a task's image rows.
VIEWS_PER_PASS = 64
#: Most image rows per parallel task.
ROWS_PER_TASK = 32
#: Fewest parallel tasks while there are rows enough (keeps many-core machines busy).
MIN_TASKS = 32


@njit(cache=True)
def _rows_per_task(n_rows):
    """Rows per task: ROWS_PER_TASK, or fewer so that there are MIN_TASKS tasks."""
    return max(1, min(ROWS_PER_TASK, n_rows // MIN_TASKS))


@njit(cache=True)
def _task_rows(task, n_blocks, block, ny):
    """(slice, first row, end row) of a task over blocks of ``block`` rows."""
    z, first = task // n_blocks, (task % n_blocks) * block
    return z, first, min(first + block, ny)


@njit(cache=True)
def _pass_samples(pairs, z, first_view):
    """The packed samples of the views of one pass, flat, and how many views it holds."""
    count = min(VIEWS_PER_PASS, pairs.shape[1] - first_view)
    return pairs[z, first_view:first_view + count].reshape(-1), count


@njit(parallel=True, fastmath=True, cache=True, error_model="numpy")
def _parallel_2d_gathers(pairs, column_map, out):
    """:func:`parallel_2d` with gathers of packed pairs."""
    n_slices, n_views, n_pad = pairs.shape
    ny, nx = out.shape[1], out.shape[2]
    top = np.float32(n_pad - PAD_AFTER)
    slopes = column_map[:, 1].astype(np.float32)
    block = _rows_per_task(ny * n_slices)
    n_blocks = (ny + block - 1) // block
    for task in prange(n_slices * n_blocks):
        z, first_row, end_row = _task_rows(task, n_blocks, block, ny)
        out[z, first_row:end_row] = 0.0
        starts = np.empty(VIEWS_PER_PASS, np.float32)
        for first_view in range(0, n_views, VIEWS_PER_PASS):
            samples, count = _pass_samples(pairs, z, first_view)
            maps = column_map[first_view:first_view + count]
            view_slopes = slopes[first_view:first_view + count]
            for j in range(first_row, end_row):
                _row_starts(maps, j, starts)
                row = out[z, j]
                for i in range(nx):
                    x = np.float32(i)
                    total = np.float32(0.0)
                    for view in range(count):
                        column = _clamp(starts[view] + view_slopes[view] * x, top)
                        total += _linear_near(samples, view * n_pad, column)
                    row[i] += total


@njit(parallel=True, fastmath=True, cache=True, error_model="numpy")
def _fan_flat_2d_gathers(pairs, numerator, denominator, out):
    """:func:`fan_flat_2d` with gathers of packed pairs."""
    n_slices, n_views, n_pad = pairs.shape
    ny, nx = out.shape[1], out.shape[2]
    top = np.float32(n_pad - PAD_AFTER)
    num_slopes = numerator[:, 1].astype(np.float32)
    den_slopes = denominator[:, 1].astype(np.float32)
    block = _rows_per_task(ny * n_slices)
    n_blocks = (ny + block - 1) // block
    for task in prange(n_slices * n_blocks):
        z, first_row, end_row = _task_rows(task, n_blocks, block, ny)
        out[z, first_row:end_row] = 0.0
        num_starts = np.empty(VIEWS_PER_PASS, np.float32)
        den_starts = np.empty(VIEWS_PER_PASS, np.float32)
        for first_view in range(0, n_views, VIEWS_PER_PASS):
            samples, count = _pass_samples(pairs, z, first_view)
            views = slice(first_view, first_view + count)
            num_maps, den_maps = numerator[views], denominator[views]
            view_num_slopes, view_den_slopes = num_slopes[views], den_slopes[views]
            for j in range(first_row, end_row):
                _row_starts(num_maps, j, num_starts)
                _row_starts(den_maps, j, den_starts)
                row = out[z, j]
                for i in range(nx):
                    x = np.float32(i)
                    total = np.float32(0.0)
                    for view in range(count):
                        inverse = np.float32(1.0) / (den_starts[view] + view_den_slopes[view] * x)
                        column = _clamp((num_starts[view] + view_num_slopes[view] * x) * inverse,
                                        top)
                        total += inverse * inverse * _linear_near(samples, view * n_pad, column)
                    row[i] += total


@njit(parallel=True, fastmath=True, cache=True, error_model="numpy")
def _fan_curved_2d_gathers(pairs, tangent_map, along_map, column_scale, column_offset, out):
    """:func:`fan_curved_2d` with gathers of packed pairs."""
    n_slices, n_views, n_pad = pairs.shape
    ny, nx = out.shape[1], out.shape[2]
    top = np.float32(n_pad - PAD_AFTER)
    tan_slopes = tangent_map[:, 1].astype(np.float32)
    along_slopes = along_map[:, 1].astype(np.float32)
    scales = column_scale.astype(np.float32)
    offsets = column_offset.astype(np.float32)
    block = _rows_per_task(ny * n_slices)
    n_blocks = (ny + block - 1) // block
    for task in prange(n_slices * n_blocks):
        z, first_row, end_row = _task_rows(task, n_blocks, block, ny)
        out[z, first_row:end_row] = 0.0
        tan_starts = np.empty(VIEWS_PER_PASS, np.float32)
        along_starts = np.empty(VIEWS_PER_PASS, np.float32)
        for first_view in range(0, n_views, VIEWS_PER_PASS):
            samples, count = _pass_samples(pairs, z, first_view)
            views = slice(first_view, first_view + count)
            tan_maps, along_maps = tangent_map[views], along_map[views]
            view_tan_slopes, view_along_slopes = tan_slopes[views], along_slopes[views]
            view_scales, view_offsets = scales[views], offsets[views]
            for j in range(first_row, end_row):
                _row_starts(tan_maps, j, tan_starts)
                _row_starts(along_maps, j, along_starts)
                row = out[z, j]
                for i in range(nx):
                    x = np.float32(i)
                    total = np.float32(0.0)
                    for view in range(count):
                        across = tan_starts[view] + view_tan_slopes[view] * x
                        along = along_starts[view] + view_along_slopes[view] * x
                        column = _clamp(_fan_angle(across, along) * view_scales[view]
                                        + view_offsets[view], top)
                        weight = np.float32(1.0) / (across * across + along * along)
                        total += weight * _linear_near(samples, view * n_pad, column)
                    row[i] += total


# -- 2D entry points: windows where the CPU has them, gathers elsewhere ---------------------


@njit(parallel=True, cache=True)
def unpack_values(pairs):
    """The samples of packed pairs (:func:`pack_pairs`): their low halves, as float32."""
    flat = pairs.reshape(-1)
    values = np.empty(flat.size, np.float32)
    for k in prange(flat.size):
        values[k] = _low(flat[k])
    return values.reshape(pairs.shape)


def _windows():
    """The window kernels' module, imported when first needed (it imports this one)."""
    from . import _backproject_windows

    return _backproject_windows


def window_rows(padded_length: int) -> bool:
    """Whether the window kernels run here on rows of ``padded_length`` samples (≥ WINDOW)."""
    windows = _windows()
    return windows.WINDOWS and padded_length >= windows.WINDOW


def _use_windows(padded_shape) -> bool:
    return window_rows(padded_shape[-1])


def _samples(data) -> np.ndarray:
    """Float32 padded samples from packed pairs or from float32 samples."""
    if data.dtype == np.uint64:
        return unpack_values(data)
    return np.ascontiguousarray(data, dtype=np.float32)


def _pairs(data) -> np.ndarray:
    """Packed pairs (:func:`pack_pairs`) from float32 samples or from packed pairs."""
    return data if data.dtype == np.uint64 else pack_pairs(np.ascontiguousarray(data, np.float32))


def parallel_2d(pairs, column_map, out):
    """Parallel beam: padded column = column_map[v] · (j, i, 1).

    ``pairs`` (slices, views, padded columns): packed pairs (:func:`pack_pairs`)
    or the float32 padded samples; ``out`` (slices, ny, nx) float32 is overwritten.
    """
    if _use_windows(pairs.shape):
        _windows()._parallel_2d_windows(_samples(pairs), column_map, out)
    else:
        _parallel_2d_gathers(_pairs(pairs), column_map, out)


def fan_flat_2d(pairs, numerator, denominator, out):
    """Flat-detector fan beam: padded column = num/den, weight 1/den² (den = depth, mm).

    Arrays as in :func:`parallel_2d`.
    """
    if _use_windows(pairs.shape):
        _windows()._fan_flat_2d_windows(_samples(pairs), numerator, denominator, out)
    else:
        _fan_flat_2d_gathers(_pairs(pairs), numerator, denominator, out)


def fan_curved_2d(pairs, tangent_map, along_map, column_scale, column_offset, out):
    """Curved-detector fan beam: padded column = atan(t/a)·scale + offset, weight 1/(t² + a²).

    Arrays as in :func:`parallel_2d`.
    """
    maps = (tangent_map, along_map, column_scale, column_offset)
    if _use_windows(pairs.shape):
        _windows()._fan_curved_2d_windows(_samples(pairs), *maps, out)
    else:
        _fan_curved_2d_gathers(_pairs(pairs), *maps, out)


def parallel_joseph_2d(shares, ray_starts, column_map, ray_slope, by_rows, out):
    """Joseph's adjoint for parallel beams, pixel by pixel (x86 with AVX-512 only).

    ``shares`` (slices, views, padded rays) float32: each ray's value times
    its step length, zero padded like detector rows; ``ray_starts`` (views,
    padded rays) float32: where each ray crosses plane 0 (the forward
    projector's p0, see :mod:`._joseph`). A pixel's padded ray coordinate is
    column_map[v] · (j, i, 1); the two rays around it (rays of a view lie at
    least a pixel apart on its planes) are sampled on the pixel's plane at
    ``ray_starts + plane·ray_slope[v]`` (planes are rows where ``by_rows[v]``,
    else columns) and add their shares times ``max(0, 1 - |distance|)``.
    ``out`` (slices, ny, nx) is overwritten.
    """
    if not _use_windows(shares.shape):
        raise ValueError("parallel_joseph_2d needs AVX-512 and rows of at least "
                         f"{_windows().WINDOW} padded rays")
    _windows()._parallel_joseph_2d_windows(np.ascontiguousarray(shares, np.float32),
                                np.ascontiguousarray(ray_starts, np.float32), column_map,
                                ray_slope, by_rows, out)


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
