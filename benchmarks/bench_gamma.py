"""Time hounsfield's gamma index against pymedphys.gamma on a smooth 3D dose.

The reference dose is a sum of 6 Gaussians (60 Gy peak) on a cubic grid of
2 mm voxels; the evaluated dose is the same sum shifted by 1 mm along x and
scaled by 1.02. Both tools run 3 %/3 mm global gamma, a 10 % lower dose
cutoff and interp_fraction 10. Printed: min and median wall time of each, their
ratio, both pass rates (γ ≤ 1) and the largest |Δγ|.

    python benchmarks/bench_gamma.py                     # 50³ and 100³, 3 runs each
    python benchmarks/bench_gamma.py --shift-mm 3 --scale 1.04   # a case with failures
    python benchmarks/bench_gamma.py --sizes 150 --peer-repeats 0  # ours only

Both tools compile numba kernels on first use: a 12³ case runs first, untimed.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

from hounsfield.metrics.dose import gamma_index, gamma_pass_rate

SPACING_MM = 2.0
SHIFT_MM = 1.0
SCALE = 1.02
CRITERIA = {"dose_percent_threshold": 3, "distance_mm_threshold": 3}
OPTIONS = {"lower_percent_dose_cutoff": 10, "interp_fraction": 10}


def gaussian_sum_dose(size: int, shift_x_mm: float = 0.0, seed: int = 7) -> np.ndarray:
    """Sum of 6 Gaussian blobs on a size³ grid of SPACING_MM voxels (unnormalised).

    Centres and widths (σ 12-22 % of the grid's extent) scale with the grid,
    so that about 38 % of the points lie above a 10 % cutoff at any size.
    """
    rng = np.random.default_rng(seed)
    extent_mm = size * SPACING_MM
    axis = np.arange(size) * SPACING_MM
    z, y, x = np.meshgrid(axis, axis, axis - shift_x_mm, indexing="ij", sparse=True)
    dose = np.zeros((size, size, size))
    for _ in range(6):
        centre = rng.uniform(0.3, 0.7, size=3) * extent_mm
        sigma = rng.uniform(0.12, 0.22) * extent_mm
        weight = rng.uniform(0.5, 1.0)
        dose += weight * np.exp(-((z - centre[0]) ** 2 + (y - centre[1]) ** 2
                                  + (x - centre[2]) ** 2) / (2 * sigma**2))
    return dose


def make_case(size: int, shift_mm: float = SHIFT_MM, scale: float = SCALE):
    """(reference, evaluation, axes): Gaussian sum and its shifted, scaled copy, 60 Gy peak."""
    reference = gaussian_sum_dose(size)
    peak = reference.max()
    evaluation = scale * gaussian_sum_dose(size, shift_x_mm=shift_mm)
    axes = tuple(np.arange(size) * SPACING_MM for _ in range(3))
    return 60 * reference / peak, 60 * evaluation / peak, axes


def run_ours(reference, evaluation, axes):
    return gamma_index(reference, evaluation, **CRITERIA, reference_axes_mm=axes,
                       evaluation_axes_mm=axes, **OPTIONS)


def run_peer(reference, evaluation, axes):
    import pymedphys

    return pymedphys.gamma(axes, reference, axes, evaluation, CRITERIA["dose_percent_threshold"],
                           CRITERIA["distance_mm_threshold"], **OPTIONS)


def timed(function, repeats: int, *args):
    seconds, result = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        result = function(*args)
        seconds.append(time.perf_counter() - start)
    return result, min(seconds), statistics.median(seconds)


def report(size: int, repeats: int, peer_repeats: int, shift_mm: float, scale: float) -> None:
    reference, evaluation, axes = make_case(size, shift_mm, scale)
    computed = np.count_nonzero(reference >= OPTIONS["lower_percent_dose_cutoff"] / 100 * 60)
    print(f"\n{size}³ grid, {SPACING_MM} mm voxels, evaluation shifted {shift_mm} mm and "
          f"scaled {scale}; {computed} points above the cutoff")
    ours, ours_min, ours_median = timed(run_ours, repeats, reference, evaluation, axes)
    print(f"  hounsfield  min {ours_min:8.3f} s  median {ours_median:8.3f} s  ({repeats} runs)"
          f"  pass rate {gamma_pass_rate(ours):.4f} %")
    if peer_repeats == 0:
        return
    peer, peer_min, peer_median = timed(run_peer, peer_repeats, reference, evaluation, axes)
    both = ~np.isnan(peer)
    print(f"  pymedphys   min {peer_min:8.3f} s  median {peer_median:8.3f} s  "
          f"({peer_repeats} runs)  pass rate {gamma_pass_rate(peer):.4f} %")
    print(f"  ratio pymedphys / hounsfield: min {peer_min / ours_min:.1f}x, "
          f"median {peer_median / ours_median:.1f}x")
    print(f"  max |Δγ| {np.abs(ours[both] - peer[both]).max():.2e}; same NaN pattern "
          f"{np.array_equal(both, ~np.isnan(ours))}; pass rates equal (γ ≤ 1, γ < 1) "
          f"{gamma_pass_rate(ours) == gamma_pass_rate(peer)}, "
          f"{gamma_pass_rate(ours, pass_rule='<') == gamma_pass_rate(peer, pass_rule='<')}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[50, 100])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--peer-repeats", type=int, default=3,
                        help="pymedphys runs per size (0: do not run it)")
    parser.add_argument("--peer-max-size", type=int, default=100,
                        help="run pymedphys only on grids up to this size")
    parser.add_argument("--shift-mm", type=float, default=SHIFT_MM)
    parser.add_argument("--scale", type=float, default=SCALE)
    args = parser.parse_args()
    warm_up = make_case(12)  # numba compiles (or loads its cache) here, outside the timings
    run_ours(*warm_up)
    if args.peer_repeats > 0:
        run_peer(*warm_up)
    for size in args.sizes:
        peer_repeats = args.peer_repeats if size <= args.peer_max_size else 0
        report(size, args.repeats, peer_repeats, args.shift_mm, args.scale)


if __name__ == "__main__":
    main()
