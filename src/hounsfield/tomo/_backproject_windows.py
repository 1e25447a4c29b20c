"""2D backprojection by windows: permutes instead of gathers (x86 CPUs with AVX-512).

Gathers cost about a cycle per element on current x86 CPUs. Along an image
row the detector coordinates of consecutive pixels move by less than a
sample or two per pixel, so the samples that 16 neighbouring pixels read
lie within a window of 32 consecutive samples: two vector loads, and one
in-register permute (vpermi2ps) per operand hand each pixel its pair of
samples. Vector lanes are pixels and views are the loop around them; a
group whose window would be wider (steep or strongly magnified views)
falls back to scalar code. The intrinsics below emit that step in LLVM IR;
the results equal the gather kernels' up to the order of the sums.
"""

from __future__ import annotations

import numpy as np
from llvmlite import binding as llvm
from llvmlite import ir
from numba import njit, prange, types
from numba.core import cgutils, config
from numba.extending import intrinsic

from ._backproject_kernels import (
    PAD_AFTER,
    VIEWS_PER_PASS,
    _clamp,
    _fan_angle,
    _row_starts,
    _rows_per_task,
    _task_rows,
)

#: Pixels per window step (one vector of float32).
WINDOW_LANES = 16
#: Consecutive samples one window step loads.
WINDOW = 2 * WINDOW_LANES

_F32, _I32, _I64 = ir.FloatType(), ir.IntType(32), ir.IntType(64)
_VF, _VI = ir.VectorType(_F32, WINDOW_LANES), ir.VectorType(_I32, WINDOW_LANES)


def _windows_available() -> bool:
    """True where the window kernels can be compiled: numba targets this CPU, which has AVX-512."""
    if config.CPU_NAME not in (None, "host") or config.CPU_FEATURES is not None:
        return False
    try:
        return bool(llvm.get_host_cpu_features().get("avx512f", False))
    except RuntimeError:  # llvmlite cannot read the features of this host
        return False


#: Whether this process backprojects 2D scans with the window kernels (else with gathers).
WINDOWS = _windows_available()


def _ir_splat(builder, scalar):
    """A vector with ``scalar`` in every lane."""
    vector = ir.VectorType(scalar.type, WINDOW_LANES)
    single = builder.insert_element(ir.Constant(vector, ir.Undefined), scalar,
                                    ir.Constant(_I32, 0))
    return builder.shuffle_vector(single, ir.Constant(vector, ir.Undefined),
                                  ir.Constant(_VI, [0] * WINDOW_LANES))


def _ir_call(builder, name, *args):
    """Call the LLVM intrinsic ``name`` whose result has the type of its first argument."""
    function_type = ir.FunctionType(args[0].type, [arg.type for arg in args])
    return builder.call(cgutils.get_or_insert_function(builder.module, function_type, name),
                        list(args))


def _ir_fma(builder, a, b, c):
    return _ir_call(builder, "llvm.fma.v16f32", a, b, c)


def _ir_max(builder, a, b):
    return builder.select(builder.fcmp_ordered(">", a, b), a, b)


def _ir_clamp(builder, value, top):
    """``min(max(value, 0), top)`` lane by lane, as :func:`_clamp`."""
    low = _ir_max(builder, value, ir.Constant(_VF, [0.0] * WINDOW_LANES))
    high = _ir_splat(builder, top)
    return builder.select(builder.fcmp_ordered("<", low, high), low, high)


def _ir_pixels(builder, first):
    """x index of every lane as float32: first, first + 1, …, first + 15."""
    base = _ir_splat(builder, builder.sitofp(first, _F32))
    return builder.fadd(base, ir.Constant(_VF, [float(lane) for lane in range(WINDOW_LANES)]))


def _ir_array(context, builder, sig, args, index):
    """Pointer to the first element of array argument ``index``."""
    return context.make_array(sig.args[index])(context, builder, args[index]).data


def _ir_add_window(context, builder, sig, args, position, value):
    """Add ``value(frac, lookup)`` for 16 positions into ``acc[first:first + 16]``.

    ``args`` starts with (samples, offset, limit, acc, first): a flat float32
    array, the offset of the view's row in it, the largest window start in
    the row (its length - WINDOW) and the float32 accumulator row.
    ``lookup(table[, table_offset])`` returns the samples of a flat float32
    table (whose view row starts at ``table_offset``, default ``offset``)
    at and after each position's floor. Returns i1: whether
    the window held every lane's samples (else nothing is added and the
    caller adds these pixels itself).
    """
    acc = _ir_array(context, builder, sig, args, 3)
    offset, limit, first = args[1], args[2], args[4]
    floor = builder.fptosi(position, _VI)  # truncation is the floor: positions are clamped ≥ 0
    frac = builder.fsub(position, builder.sitofp(floor, _VF))
    at_first = builder.extract_element(floor, ir.Constant(_I32, 0))
    at_last = builder.extract_element(floor, ir.Constant(_I32, WINDOW_LANES - 1))
    start = builder.select(builder.icmp_signed("<", at_first, at_last), at_first, at_last)
    start = builder.sext(start, _I64)
    start = builder.select(builder.icmp_signed("<", start, limit), start, limit)
    local = builder.sub(floor, _ir_splat(builder, builder.trunc(start, _I32)))
    outside = builder.icmp_unsigned(">", local, ir.Constant(_VI, [WINDOW - 2] * WINDOW_LANES))
    mask = ir.IntType(WINDOW_LANES)
    fits = builder.icmp_unsigned("==", builder.bitcast(outside, mask), ir.Constant(mask, 0))
    with builder.if_then(fits, likely=True):
        next_local = builder.add(local, ir.Constant(_VI, [1] * WINDOW_LANES))

        def lookup(table, table_offset=offset):
            window = builder.bitcast(builder.gep(table, [builder.add(table_offset, start)]),
                                     _VF.as_pointer())
            low = builder.load(window, align=4)
            high = builder.load(builder.gep(window, [ir.Constant(_I64, 1)]), align=4)
            permute = "llvm.x86.avx512.vpermi2var.ps.512"
            return (_ir_call(builder, permute, low, local, high),
                    _ir_call(builder, permute, low, next_local, high))

        target = builder.bitcast(builder.gep(acc, [first]), _VF.as_pointer())
        total = builder.fadd(builder.load(target, align=4), value(builder, frac, lookup))
        builder.store(total, target, align=4)
    return fits


def _ir_linear(builder, frac, samples):
    """Linear interpolation (as :func:`_linear_at`): ``samples`` is (here, after)."""
    here, after = samples
    return _ir_fma(builder, frac, builder.fsub(after, here), here)


@intrinsic
def _window_parallel(typingctx, samples, offset, limit, acc, first, start, slope, top):
    """Linear interpolation at clamp(start + slope·x): parallel beams (see _ir_add_window)."""
    signature = types.boolean(samples, offset, limit, acc, first, *3 * [types.float32])

    def codegen(context, builder, sig, args):
        start, slope, top = args[5:]
        pixels = _ir_pixels(builder, args[4])
        position = _ir_fma(builder, _ir_splat(builder, slope), pixels, _ir_splat(builder, start))
        samples = _ir_array(context, builder, sig, args, 0)

        def linear(builder, frac, lookup):
            return _ir_linear(builder, frac, lookup(samples))

        return _ir_add_window(context, builder, sig, args, _ir_clamp(builder, position, top),
                              linear)

    return signature, codegen


@intrinsic
def _window_flat(typingctx, samples, offset, limit, acc, first, num_start, num_slope, den_start,
                 den_slope, top):
    """Flat fan beams: interpolation at clamp(num/den), weighted by 1/den² (see fan_flat_2d)."""
    signature = types.boolean(samples, offset, limit, acc, first, *5 * [types.float32])

    def codegen(context, builder, sig, args):
        num_start, num_slope, den_start, den_slope, top = args[5:]
        pixels = _ir_pixels(builder, args[4])
        numerator = _ir_fma(builder, _ir_splat(builder, num_slope), pixels,
                            _ir_splat(builder, num_start))
        denominator = _ir_fma(builder, _ir_splat(builder, den_slope), pixels,
                              _ir_splat(builder, den_start))
        inverse = builder.fdiv(ir.Constant(_VF, [1.0] * WINDOW_LANES), denominator)
        position = _ir_clamp(builder, builder.fmul(numerator, inverse), top)

        samples = _ir_array(context, builder, sig, args, 0)

        def weighted(builder, frac, lookup):
            return builder.fmul(builder.fmul(inverse, inverse),
                                _ir_linear(builder, frac, lookup(samples)))

        return _ir_add_window(context, builder, sig, args, position, weighted)

    return signature, codegen


@intrinsic
def _window_listed(typingctx, samples, offset, limit, acc, first, positions, weights):
    """Interpolation at given (clamped) positions, times given weights (see fan_curved_2d)."""
    signature = types.boolean(samples, offset, limit, acc, first, positions, weights)

    def codegen(context, builder, sig, args):
        def lanes(index):
            data = _ir_array(context, builder, sig, args, index)
            at = builder.bitcast(builder.gep(data, [args[4]]), _VF.as_pointer())
            return builder.load(at, align=4)

        position, weight = lanes(5), lanes(6)
        samples = _ir_array(context, builder, sig, args, 0)

        def weighted(builder, frac, lookup):
            return builder.fmul(weight, _ir_linear(builder, frac, lookup(samples)))

        return _ir_add_window(context, builder, sig, args, position, weighted)

    return signature, codegen


@intrinsic
def _window_joseph(typingctx, shares, offset, limit, acc, first, ray_starts, ray_offset, start,
                   slope, top, ray_slope, plane_x, plane, pixel_x, pixel):
    """Joseph's adjoint for parallel beams (see parallel_joseph_2d).

    clamp(start + slope·x) locates each pixel among the rays (padded ray
    index; ``ray_starts`` has its view row at ``ray_offset``); the two rays
    around it are sampled on the pixel's plane
    ``k = plane_x·x + plane`` at ``ray_starts + k·ray_slope``, exactly as the
    forward projector samples them, and add their shares times
    ``max(0, 1 - |m - sample|)``, m = ``pixel_x·x + pixel`` the pixel's padded
    coordinate along the plane.
    """
    signature = types.boolean(shares, offset, limit, acc, first, ray_starts, ray_offset,
                              *8 * [types.float32])

    def codegen(context, builder, sig, args):
        start, slope, top, ray_slope, plane_x, plane, pixel_x, pixel = args[7:]
        pixels = _ir_pixels(builder, args[4])
        position = _ir_fma(builder, _ir_splat(builder, slope), pixels, _ir_splat(builder, start))
        plane_index = _ir_fma(builder, _ir_splat(builder, plane_x), pixels,
                              _ir_splat(builder, plane))
        coordinate = _ir_fma(builder, _ir_splat(builder, pixel_x), pixels,
                             _ir_splat(builder, pixel))
        step = _ir_splat(builder, ray_slope)
        one = ir.Constant(_VF, [1.0] * WINDOW_LANES)
        zero = ir.Constant(_VF, [0.0] * WINDOW_LANES)
        share_table = _ir_array(context, builder, sig, args, 0)
        start_table = _ir_array(context, builder, sig, args, 5)

        def weight(ray_start):
            sample = _ir_fma(builder, plane_index, step, ray_start)
            distance = _ir_call(builder, "llvm.fabs.v16f32", builder.fsub(coordinate, sample))
            return _ir_max(builder, builder.fsub(one, distance), zero)

        def joseph(builder, frac, lookup):
            share_here, share_after = lookup(share_table)
            start_here, start_after = lookup(start_table, args[6])
            near = builder.fmul(weight(start_here), share_here)
            return _ir_fma(builder, weight(start_after), share_after, near)

        return _ir_add_window(context, builder, sig, args, _ir_clamp(builder, position, top),
                              joseph)

    return signature, codegen


@njit(fastmath=True, inline="always", error_model="numpy")
def _linear_at(samples, offset, position):
    """Linear interpolation of float32 samples at padded ``position`` ≥ 0 of a row."""
    floor = np.int32(position)
    here = samples[offset + floor]
    return here + (position - np.float32(floor)) * (samples[offset + floor + 1] - here)


@njit(fastmath=True, inline="always", error_model="numpy")
def _joseph_at(shares, offset, ray_starts, ray_offset, column, plane, ray_slope, coordinate):
    """:func:`_window_joseph` for one pixel."""
    ray = np.int64(column)
    total = np.float32(0.0)
    for at in range(ray, ray + 2):
        sample = ray_starts[ray_offset + at] + plane * ray_slope
        weight = max(np.float32(1.0) - abs(coordinate - sample), np.float32(0.0))
        total += weight * shares[offset + at]
    return total


@njit(cache=True)
def _lanes(nx):
    """Row length rounded up to whole window steps."""
    return (nx + WINDOW_LANES - 1) // WINDOW_LANES * WINDOW_LANES


@njit(parallel=True, fastmath=True, cache=True, error_model="numpy")
def _parallel_2d_windows(samples, column_map, out):
    """:func:`parallel_2d` with windows; ``samples`` float32 (slices, views, padded columns)."""
    n_slices, n_views, n_pad = samples.shape
    ny, nx = out.shape[1], out.shape[2]
    flat = samples.reshape(-1)
    top, limit = np.float32(n_pad - PAD_AFTER), n_pad - WINDOW
    slopes = column_map[:, 1].astype(np.float32)
    width = _lanes(nx)
    block = _rows_per_task(ny * n_slices)
    n_blocks = (ny + block - 1) // block
    for task in prange(n_slices * n_blocks):
        z, first_row, end_row = _task_rows(task, n_blocks, block, ny)
        acc = np.zeros((end_row - first_row, width), np.float32)
        starts = np.empty(VIEWS_PER_PASS, np.float32)
        for first_view in range(0, n_views, VIEWS_PER_PASS):
            count = min(VIEWS_PER_PASS, n_views - first_view)
            for j in range(first_row, end_row):
                _row_starts(column_map[first_view:first_view + count], j, starts)
                row = acc[j - first_row]
                for view in range(count):
                    offset = ((z * n_views) + first_view + view) * n_pad
                    start, slope = starts[view], slopes[first_view + view]
                    for first in range(0, width, WINDOW_LANES):
                        if not _window_parallel(flat, offset, limit, row, first, start, slope,
                                                top):
                            for i in range(first, first + WINDOW_LANES):
                                column = _clamp(start + slope * np.float32(i), top)
                                row[i] += _linear_at(flat, offset, column)
        out[z, first_row:end_row] = acc[:, :nx]


@njit(parallel=True, fastmath=True, cache=True, error_model="numpy")
def _parallel_joseph_2d_windows(shares, ray_starts, column_map, ray_slope, by_rows, out):
    """:func:`parallel_joseph_2d` with windows."""
    n_slices, n_views, n_pad = shares.shape
    ny, nx = out.shape[1], out.shape[2]
    flat, starts_flat = shares.reshape(-1), ray_starts.reshape(-1)
    top, limit = np.float32(n_pad - PAD_AFTER), n_pad - WINDOW
    slopes = column_map[:, 1].astype(np.float32)
    ray_slopes = ray_slope.astype(np.float32)
    zero, one = np.float32(0.0), np.float32(1.0)
    width = _lanes(nx)
    block = _rows_per_task(ny * n_slices)
    n_blocks = (ny + block - 1) // block
    for task in prange(n_slices * n_blocks):
        z, first_row, end_row = _task_rows(task, n_blocks, block, ny)
        acc = np.zeros((end_row - first_row, width), np.float32)
        starts = np.empty(VIEWS_PER_PASS, np.float32)
        for first_view in range(0, n_views, VIEWS_PER_PASS):
            count = min(VIEWS_PER_PASS, n_views - first_view)
            for j in range(first_row, end_row):
                _row_starts(column_map[first_view:first_view + count], j, starts)
                row = acc[j - first_row]
                for view in range(count):
                    v = first_view + view
                    offset, ray_offset = ((z * n_views) + v) * n_pad, v * n_pad
                    # Rows are the planes of views driven along y, columns those of the others;
                    # plane index and pixel coordinate are plane_x·x + plane, pixel_x·x + pixel.
                    if by_rows[v]:
                        plane_x, plane, pixel_x, pixel = zero, np.float32(j), one, one
                    else:
                        plane_x, plane, pixel_x, pixel = one, zero, zero, np.float32(j + 1)
                    for first in range(0, width, WINDOW_LANES):
                        if not _window_joseph(flat, offset, limit, row, first, starts_flat,
                                              ray_offset, starts[view], slopes[v], top,
                                              ray_slopes[v], plane_x, plane, pixel_x, pixel):
                            for i in range(first, first + WINDOW_LANES):
                                x = np.float32(i)
                                column = _clamp(starts[view] + slopes[v] * x, top)
                                row[i] += _joseph_at(flat, offset, starts_flat, ray_offset,
                                                     column, plane_x * x + plane, ray_slopes[v],
                                                     pixel_x * x + pixel)
        out[z, first_row:end_row] = acc[:, :nx]


@njit(parallel=True, fastmath=True, cache=True, error_model="numpy")
def _fan_flat_2d_windows(samples, numerator, denominator, out):
    """:func:`fan_flat_2d` with windows; ``samples`` float32 (slices, views, padded columns)."""
    n_slices, n_views, n_pad = samples.shape
    ny, nx = out.shape[1], out.shape[2]
    flat = samples.reshape(-1)
    top, limit = np.float32(n_pad - PAD_AFTER), n_pad - WINDOW
    num_slopes = numerator[:, 1].astype(np.float32)
    den_slopes = denominator[:, 1].astype(np.float32)
    width = _lanes(nx)
    block = _rows_per_task(ny * n_slices)
    n_blocks = (ny + block - 1) // block
    for task in prange(n_slices * n_blocks):
        z, first_row, end_row = _task_rows(task, n_blocks, block, ny)
        acc = np.zeros((end_row - first_row, width), np.float32)
        num_starts = np.empty(VIEWS_PER_PASS, np.float32)
        den_starts = np.empty(VIEWS_PER_PASS, np.float32)
        for first_view in range(0, n_views, VIEWS_PER_PASS):
            count = min(VIEWS_PER_PASS, n_views - first_view)
            views = slice(first_view, first_view + count)
            for j in range(first_row, end_row):
                _row_starts(numerator[views], j, num_starts)
                _row_starts(denominator[views], j, den_starts)
                row = acc[j - first_row]
                for view in range(count):
                    offset = ((z * n_views) + first_view + view) * n_pad
                    num_start, num_slope = num_starts[view], num_slopes[first_view + view]
                    den_start, den_slope = den_starts[view], den_slopes[first_view + view]
                    for first in range(0, width, WINDOW_LANES):
                        if not _window_flat(flat, offset, limit, row, first, num_start,
                                            num_slope, den_start, den_slope, top):
                            for i in range(first, first + WINDOW_LANES):
                                x = np.float32(i)
                                inverse = np.float32(1.0) / (den_start + den_slope * x)
                                column = _clamp((num_start + num_slope * x) * inverse, top)
                                row[i] += inverse * inverse * _linear_at(flat, offset, column)
        out[z, first_row:end_row] = acc[:, :nx]


@njit(parallel=True, fastmath=True, cache=True, error_model="numpy")
def _fan_curved_2d_windows(samples, tangent_map, along_map, column_scale, column_offset, out):
    """:func:`fan_curved_2d` with windows; positions and weights are listed per row first."""
    n_slices, n_views, n_pad = samples.shape
    ny, nx = out.shape[1], out.shape[2]
    flat = samples.reshape(-1)
    top, limit = np.float32(n_pad - PAD_AFTER), n_pad - WINDOW
    tan_slopes = tangent_map[:, 1].astype(np.float32)
    along_slopes = along_map[:, 1].astype(np.float32)
    scales = column_scale.astype(np.float32)
    offsets = column_offset.astype(np.float32)
    width = _lanes(nx)
    block = _rows_per_task(ny * n_slices)
    n_blocks = (ny + block - 1) // block
    for task in prange(n_slices * n_blocks):
        z, first_row, end_row = _task_rows(task, n_blocks, block, ny)
        acc = np.zeros((end_row - first_row, width), np.float32)
        positions = np.empty(width, np.float32)
        weights = np.empty(width, np.float32)
        tan_starts = np.empty(VIEWS_PER_PASS, np.float32)
        along_starts = np.empty(VIEWS_PER_PASS, np.float32)
        for first_view in range(0, n_views, VIEWS_PER_PASS):
            count = min(VIEWS_PER_PASS, n_views - first_view)
            views = slice(first_view, first_view + count)
            for j in range(first_row, end_row):
                _row_starts(tangent_map[views], j, tan_starts)
                _row_starts(along_map[views], j, along_starts)
                row = acc[j - first_row]
                for view in range(count):
                    v = first_view + view
                    for i in range(width):
                        x = np.float32(i)
                        across = tan_starts[view] + tan_slopes[v] * x
                        along = along_starts[view] + along_slopes[v] * x
                        positions[i] = _clamp(_fan_angle(across, along) * scales[v] + offsets[v],
                                              top)
                        weights[i] = np.float32(1.0) / (across * across + along * along)
                    offset = ((z * n_views) + v) * n_pad
                    for first in range(0, width, WINDOW_LANES):
                        if not _window_listed(flat, offset, limit, row, first, positions, weights):
                            for i in range(first, first + WINDOW_LANES):
                                row[i] += weights[i] * _linear_at(flat, offset, positions[i])
        out[z, first_row:end_row] = acc[:, :nx]
