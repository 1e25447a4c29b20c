"""The shipped sparse60 model against FBP and TV-PDHG on held-out slices, and its speed.

1. Held-out slices of the example chest CT (array indices 0–39, the inferior
   30 % that training never saw), 60-view fan-beam scans as the model was
   trained on: PSNR, SSIM and MAE inside the body for FBP, TV-PDHG (100
   iterations, its weight tuned on three training slices: 60, 90, 120) and
   the network, in the same run.
2. Inference time per 512×512 slice on this CPU (min and median of 5 runs
   over 4 held-out slices' 60-view scans, one slice per pass): the whole
   model from FBP and line integrals (a cascade: both networks and the
   consistency step), and its first network alone.
3. Inputs it was not trained for, reported as they come out: the anatomical
   thorax phantom on the chest CT's pixel grid (60 views) and a low-dose 720-view scan
   (dose 0.1; TV with 30 iterations, its weight tuned on slice 90).

The network runs in bfloat16 where the CPU computes it natively (as
``hounsfield enhance`` does); ``--no-amp`` runs it in float32.

    .venv/bin/python benchmarks/bench_learn.py [--slices 0:40] [--only speed] [--no-amp] \
        [-o bench-learn]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import torch

from hounsfield.data import example_chest_ct
from hounsfield.data.anatomy import thorax_phantom
from hounsfield.learn.cascade import first_stage
from hounsfield.learn.checkpoints import load_model
from hounsfield.learn.evaluation import evaluate_enhancement, tune_tv_weight
from hounsfield.learn.inference import enhance_slices, evaluation_enhancer
from hounsfield.simulate import ScanSettings, simulate_scan
from hounsfield.simulate.nict import centred_grid
from hounsfield.tomo import Projector

TUNING_SLICES = [60, 90, 120]
PARTS = ("held-out", "speed", "phantom", "low-dose")


def evaluate(name, ct, network, settings, slices, tv_weight, output: Path,
             tv_iterations: int = 100) -> dict:
    """Scores of FBP, TV and ``network`` = (enhancer, with_sinograms) of evaluation_enhancer."""
    started = time.perf_counter()
    enhancer, with_sinograms = network
    result = evaluate_enhancement(ct, enhancer, settings, slices=slices, tv_weight=tv_weight,
                                  tv_iterations=tv_iterations, with_sinograms=with_sinograms,
                                  progress=True)
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


def inference_seconds(run, runs: int = 5) -> tuple[float, float]:
    """Seconds per slice of ``run(i)`` (slice i alone) over 4 slices: (min, median) of runs."""
    run(0)  # warm-up
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        for i in range(4):
            run(i)
        times.append((time.perf_counter() - started) / 4)
    return min(times), statistics.median(times)


def held_out(ct, network, settings, slices, output: Path) -> dict:
    weight = tune_tv_weight(ct, settings, TUNING_SLICES)
    return {"tv_weight": weight,
            **evaluate("held_out", ct, network, settings, slices, weight, output)}


def speed(ct, model, settings, amp: bool) -> dict:
    four = ct.crop((5, 0, 0), (9, *ct.shape[1:]))
    scan = simulate_scan(four, settings, keep_sinogram=True)
    projector = Projector(scan.geometry, centred_grid(four).axial_slice())
    fbp = scan.degraded.array
    enhancer, with_sinograms = evaluation_enhancer(model, amp=amp)
    measured = (lambda i: (scan.sinogram[i:i + 1], projector)) if with_sinograms \
        else (lambda i: ())
    report = {"threads": torch.get_num_threads()}
    for name, run in (("model", lambda i: enhancer(fbp[i:i + 1], *measured(i))),
                      ("first_network", lambda i: enhance_slices(first_stage(model),
                                                                 fbp[i:i + 1], amp=amp))):
        best, median = inference_seconds(run)
        report[name] = {"min_s": best, "median_s": median}
        print(f"\ninference per 512×512 slice, {name.replace('_', ' ')}: min {best:.3f} s, "
              f"median {median:.3f} s ({torch.get_num_threads()} threads)")
    return report


def phantom_case(network, settings, output: Path) -> dict:
    phantom, _ = thorax_phantom(shape=(6, 512, 512), spacing_mm=(2.5, 0.703125, 0.703125))
    weight = tune_tv_weight(phantom, settings, [0])
    return evaluate("phantom", phantom, network, settings, range(1, 6), weight, output)


def low_dose_case(ct, network, scan: dict, slices, output: Path) -> dict:
    settings = ScanSettings.from_dict(scan).replace(dose_fraction=0.1)
    # 720 views make each TV run 12 times longer: 30 iterations, tuned on one slice.
    weight = tune_tv_weight(ct, settings, TUNING_SLICES[1:2], iterations=30)
    return evaluate("low_dose", ct, network, settings, slices[::8], weight, output,
                    tv_iterations=30)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--slices", default="0:40", help="held-out slices START:STOP")
    parser.add_argument("-o", "--output", type=Path, default=Path("bench-learn"))
    parser.add_argument("--only", choices=PARTS, nargs="+", help="run only these parts")
    parser.add_argument("--no-amp", action="store_true", help="run the network in float32")
    args = parser.parse_args()
    args.output.mkdir(parents=True, exist_ok=True)
    start, stop = (int(v) for v in args.slices.split(":"))
    slices = range(start, stop)
    ct, _ = example_chest_ct()
    model = load_model("sparse60")
    sparse = ScanSettings.from_dict(model.metadata["scan"]).replace(n_views=60)
    network = evaluation_enhancer(model, amp=not args.no_amp)
    parts = {"held-out": lambda: held_out(ct, network, sparse, slices, args.output),
             "speed": lambda: speed(ct, model, sparse, not args.no_amp),
             "phantom": lambda: phantom_case(network, sparse, args.output),
             "low-dose": lambda: low_dose_case(ct, network, model.metadata["scan"], slices,
                                               args.output)}
    report = {name: parts[name]() for name in (args.only or PARTS)}
    (args.output / "bench_learn.json").write_text(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
