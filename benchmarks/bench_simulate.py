"""Time paired-data simulation on the full example chest CT (512 × 512 × 133, 0.70 × 0.70 × 2.5 mm).

Cases (each one :func:`hounsfield.simulate.simulate_scan` of the whole CT,
reconstructed on its own grid; the default fan beam of a clinical scanner,
curved detector, Hann-windowed FBP):

* ``sparse``: 60 views per turn, noise-free (a sparse-view training pair);
* ``lowdose``: 720 views per turn, dose 0.1 (15 000 photons per detector
  pixel per view, Poisson and electronic noise).

Printed per case: wall time, peak memory that numpy allocated during the
case (tracemalloc), the process's peak resident memory so far
(getrusage), and the PSNR of the pair (SynthRAD2023 convention). The kernels
compile (or load from numba's cache) in an untimed warm-up on two slices.

    python benchmarks/bench_simulate.py                    # both cases, full CT
    python benchmarks/bench_simulate.py --cases sparse --slices 20
"""

from __future__ import annotations

import argparse
import resource
import time
import tracemalloc

from hounsfield.data import example_chest_ct
from hounsfield.metrics import psnr_db
from hounsfield.simulate import ScanSettings, simulate_scan

CASES = {
    "sparse": ScanSettings(n_views=60, seed=0),
    "lowdose": ScanSettings(n_views=720, dose_fraction=0.1, seed=0),
}


def measure(ct, settings: ScanSettings) -> dict:
    """Wall time, tracemalloc peak and PSNR of one simulated scan of ``ct``."""
    tracemalloc.start()
    tracemalloc.reset_peak()
    start = time.perf_counter()
    scan = simulate_scan(ct, settings)
    seconds = time.perf_counter() - start
    peak_bytes = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return {"seconds": seconds, "peak_mib": peak_bytes / 2**20,
            "maxrss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            "psnr_db": psnr_db(scan.degraded.array, scan.reference.array)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", nargs="+", choices=sorted(CASES), default=list(CASES))
    parser.add_argument("--slices", type=int, default=None,
                        help="simulate only the first N slices (default: all 133)")
    args = parser.parse_args()
    ct, _ = example_chest_ct()
    if args.slices is not None:
        ct = ct.crop((0, 0, 0), (args.slices, *ct.shape[1:]))
    warm_up = ct.crop((0, 0, 0), (2, *ct.shape[1:]))
    for settings in CASES.values():
        simulate_scan(warm_up, settings.replace(n_views=30))
    print(f"chest CT {ct.shape}, spacing {ct.spacing_mm} mm")
    print(f"{'case':>8} | {'settings':<42} | {'s':>7} | {'s/slice':>7} | {'numpy peak MiB':>14} | "
          f"{'maxrss MiB':>10} | {'PSNR dB':>7}")
    for name in args.cases:
        settings = CASES[name]
        result = measure(ct, settings)
        print(f"{name:>8} | {settings.summary():<42} | {result['seconds']:7.1f} | "
              f"{result['seconds'] / ct.shape[0]:7.3f} | {result['peak_mib']:14.0f} | "
              f"{result['maxrss_mib']:10.0f} | {result['psnr_db']:7.2f}")


if __name__ == "__main__":
    main()
