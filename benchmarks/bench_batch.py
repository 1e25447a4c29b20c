"""Batch runner throughput: `segment` over 8 phantom cases with 1 and 2 workers.

Compares with calling the verb directly in a loop in one process; the
runner's overhead per case is (batch time × workers − direct time) / cases
for 1 worker. Run: python benchmarks/bench_batch.py
"""

import tempfile
import time
from pathlib import Path

from hounsfield.batch import BatchOptions, read_cases, run_batch
from hounsfield.cli import main
from hounsfield.data.anatomy import thorax_phantom
from hounsfield.io import write

N_CASES = 8


def make_cases(folder: Path) -> None:
    for seed in range(N_CASES):
        ct, _ = thorax_phantom(shape=(64, 96, 96), spacing_mm=(4.5, 3.3, 3.3), noise_hu=10,
                               seed=seed)
        write(ct, folder / f"case{seed}.nii.gz")


def main_bench() -> None:
    root = Path(tempfile.mkdtemp(prefix="bench_batch_"))
    inputs = root / "in"
    inputs.mkdir()
    make_cases(inputs)
    cases = read_cases(inputs)
    main(["segment", str(cases[0].inputs[0]), "-o", str(root / "warm")])  # imports, caches
    start = time.perf_counter()
    for case in cases:
        main(["segment", case.inputs[0], "-o", str(root / "direct" / case.case_id)])
    direct_s = time.perf_counter() - start
    print(f"direct loop: {direct_s:.2f} s, {N_CASES / direct_s * 3600:.0f} cases/h")
    timings = {}
    for workers in (1, 2):
        options = BatchOptions("segment", root / f"batch{workers}", workers=workers,
                               progress=False)
        start = time.perf_counter()
        run_batch(cases, options)
        timings[workers] = time.perf_counter() - start
        print(f"batch, {workers} worker(s): {timings[workers]:.2f} s, "
              f"{N_CASES / timings[workers] * 3600:.0f} cases/h")
    overhead = (timings[1] - direct_s) / N_CASES
    print(f"speed-up 2 vs 1 worker: {timings[1] / timings[2]:.2f}x")
    print(f"runner overhead per case (1 worker vs direct): {overhead * 1000:.0f} ms "
          f"({overhead / (direct_s / N_CASES) * 100:.1f} %)")


if __name__ == "__main__":
    main_bench()
