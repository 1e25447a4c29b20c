"""Batch runner overhead: `segment` over 8 cases, batch against a direct loop.

Two case sets: 8 thorax phantoms of 64 × 96 × 96 voxels (a fraction of a
second each) and 8 crops of 40 slices of the example chest CT (512 × 512,
seconds each). The direct loop calls the verb in one warm process; the
batch runs each case in its own process forked from a warmed fork server.
The runner's cost splits into a start-up paid once per run (fork server,
warm-up, plan) and an overhead per case:

    start-up = first case's start − run start
    overhead per case = (batch time, 1 worker − start-up − direct time) / cases
    outside the verb = (batch time, 1 worker − start-up − verb times in the ledger) / cases

The second is insensitive to the verb's own run-to-run noise on a busy machine.

Run: python benchmarks/bench_batch.py [--phantoms-only]
"""

import sys
import tempfile
import time
from pathlib import Path

from hounsfield.batch import BatchOptions, Ledger, read_cases, run_batch
from hounsfield.cli import main
from hounsfield.data.anatomy import thorax_phantom
from hounsfield.io import write

N_CASES = 8
CHEST_SLICES = 40


def make_phantom_cases(folder: Path) -> None:
    for seed in range(N_CASES):
        ct, _ = thorax_phantom(shape=(64, 96, 96), spacing_mm=(4.5, 3.3, 3.3), noise_hu=10,
                               seed=seed)
        write(ct, folder / f"case{seed}.nii.gz")


def make_chest_cases(folder: Path) -> None:
    from hounsfield.data import example_chest_ct

    ct, _ = example_chest_ct()
    step = (ct.shape[0] - CHEST_SLICES) // (N_CASES - 1)
    for index in range(N_CASES):
        lower = index * step
        crop = ct.crop((lower, 0, 0), (lower + CHEST_SLICES, *ct.shape[1:]))
        write(crop, folder / f"chest{index}.nii.gz")


def bench(name: str, make_cases, root: Path, worker_counts=(1, 2)) -> None:
    inputs = root / name
    inputs.mkdir()
    make_cases(inputs)
    cases = read_cases(inputs)
    main(["segment", str(cases[0].inputs[0]), "-o", str(root / f"{name}-warm")])
    start = time.perf_counter()
    for case in cases:
        main(["segment", case.inputs[0], "-o", str(root / f"{name}-direct" / case.case_id)])
    direct_s = time.perf_counter() - start
    print(f"[{name}] direct loop: {direct_s:.2f} s ({direct_s / N_CASES:.2f} s per case)")
    timings = {}
    for workers in worker_counts:
        out = root / f"{name}-batch{workers}"
        options = BatchOptions("segment", out, workers=workers, progress=False)
        started_at = time.time()
        start = time.perf_counter()
        run_batch(cases, options)
        timings[workers] = time.perf_counter() - start
        rows = Ledger(out / "ledger.sqlite").rows()
        startup_s = min(row["started_at"] for row in rows) - started_at
        verb_s = sum(row["duration_s"] for row in rows)
        print(f"[{name}] batch, {workers} worker(s): {timings[workers]:.2f} s "
              f"(start-up {startup_s:.2f} s), {N_CASES / timings[workers] * 3600:.0f} cases/h")
        if workers == 1:
            overhead = (timings[1] - startup_s - direct_s) / N_CASES
            print(f"[{name}] runner overhead per case (1 worker vs direct): "
                  f"{overhead * 1000:.0f} ms ({overhead / (direct_s / N_CASES) * 100:.1f} %)")
            outside = (timings[1] - startup_s - verb_s) / N_CASES
            print(f"[{name}] runner time outside the verb per case: {outside * 1000:.0f} ms "
                  f"({outside / (verb_s / N_CASES) * 100:.1f} % of the verb in the batch)")
    if 1 in timings and 2 in timings:
        print(f"[{name}] speed-up 2 vs 1 worker: {timings[1] / timings[2]:.2f}x")


def main_bench() -> None:
    root = Path(tempfile.mkdtemp(prefix="bench_batch_"))
    bench("phantoms", make_phantom_cases, root)
    if "--phantoms-only" not in sys.argv:
        bench("chest", make_chest_cases, root, worker_counts=(1,))


if __name__ == "__main__":
    main_bench()
