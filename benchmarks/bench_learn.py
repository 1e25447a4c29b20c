"""The shipped sparse60 model against FBP and TV-PDHG on held-out slices, and its speed.

1. Held-out slices of the example chest CT (array indices 0–39, the inferior
   30 % that training never saw), 60-view fan-beam scans as the model was
   trained on: PSNR, SSIM and MAE inside the body for FBP, TV-PDHG (100
   iterations, its weight tuned on three training slices: 60, 90, 120) and
   the network, in the same run.
2. Inference time per 512×512 slice on this CPU (min and median of 5 runs
   over a batch of 4 slices).
3. Inputs it was not trained for, reported as they come out: the anatomical
   thorax phantom on the chest CT's pixel grid (60 views) and a low-dose 720-view scan (dose 0.1).

    .venv/bin/python benchmarks/bench_learn.py [--slices 0:40] [-o bench-learn]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import numpy as np
import torch

from hounsfield.data import example_chest_ct
from hounsfield.data.anatomy import thorax_phantom
from hounsfield.learn.checkpoints import load_model
from hounsfield.learn.evaluation import evaluate_enhancement, tune_tv_weight
from hounsfield.learn.inference import enhance_slices
from hounsfield.simulate import ScanSettings

TUNING_SLICES = [60, 90, 120]


def evaluate(name, ct, model, settings, slices, tv_weight, output: Path) -> dict:
    started = time.perf_counter()
    result = evaluate_enhancement(ct, lambda fbp: enhance_slices(model, fbp), settings,
                                  slices=slices, tv_weight=tv_weight, progress=True)
    result.to_json(output / f"{name}.json")
    result.figure(output / f"{name}.png")
    print(f"\n{name}: {settings.summary()}, {len(result.slices)} slices, TV weight "
          f"{tv_weight:.4g}, {time.perf_counter() - started:.0f} s")
    print(_table(result.summary()))
    return result.summary()


def _table(summary: dict) -> str:
    lines = [f"{'method':<8} {'PSNR dB':>8} {'SSIM':>6} {'MAE HU':>7}"]
    for method, means in summary.items():
        lines.append(f"{method:<8} {means['psnr_db']:8.2f} {means['ssim']:6.3f} "
                     f"{means['mae_hu']:7.1f}")
    network = summary["network"]
    lines.append(f"network − FBP {network['psnr_gain_over_fbp_db']:+.2f} dB, "
                 f"network − TV {network['psnr_gain_over_tv_db']:+.2f} dB")
    return "\n".join(lines)


def inference_seconds(model, runs: int = 5, batch: int = 4) -> tuple[float, float]:
    slices = np.random.default_rng(0).normal(0, 300, (batch, 512, 512)).astype(np.float32)
    enhance_slices(model, slices, batch_size=batch)  # warm-up
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        enhance_slices(model, slices, batch_size=batch)
        times.append((time.perf_counter() - started) / batch)
    return min(times), statistics.median(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--slices", default="0:40", help="held-out slices START:STOP")
    parser.add_argument("-o", "--output", type=Path, default=Path("bench-learn"))
    args = parser.parse_args()
    args.output.mkdir(parents=True, exist_ok=True)
    start, stop = (int(v) for v in args.slices.split(":"))
    ct, _ = example_chest_ct()
    model = load_model("sparse60")
    sparse = ScanSettings.from_dict(model.metadata["scan"]).replace(n_views=60)
    weight = tune_tv_weight(ct, sparse, TUNING_SLICES)
    report = {"torch_threads": torch.get_num_threads(), "tv_weight_sparse60": weight}
    report["held_out"] = evaluate("held_out", ct, model, sparse, range(start, stop), weight,
                                  args.output)
    best, median = inference_seconds(model)
    report["inference_s_per_slice"] = {"min": best, "median": median}
    print(f"\ninference per 512×512 slice: min {best:.3f} s, median {median:.3f} s "
          f"({torch.get_num_threads()} threads)")
    phantom, _ = thorax_phantom(shape=(6, 512, 512), spacing_mm=(2.5, 0.703125, 0.703125))
    phantom_weight = tune_tv_weight(phantom, sparse, [0])
    report["phantom"] = evaluate("phantom", phantom, model, sparse, range(1, 6),
                                 phantom_weight, args.output)
    low_dose = ScanSettings.from_dict(model.metadata["scan"]).replace(dose_fraction=0.1)
    dose_weight = tune_tv_weight(ct, low_dose, TUNING_SLICES)
    report["low_dose"] = evaluate("low_dose", ct, model, low_dose, range(start, stop, 8),
                                  dose_weight, args.output)
    (args.output / "bench_learn.json").write_text(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
