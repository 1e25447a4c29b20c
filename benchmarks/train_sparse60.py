"""Train the shipped sparse60 model: 60-view fan-beam FBP → clean, on the example chest CT.

Data: the example chest CT's superior 70 % of slices (array indices 40–132,
z from −240 to −10 mm); its inferior 30 % (indices 0–39) are held out for
``benchmarks/bench_learn.py``. Within the training slices the trainer keeps
the most superior 10 % for validation curves (no model selection).

Writes OUT/run (the run folder), OUT/sparse60.safetensors and
OUT/sparse60.json (the model card: command, data, seed, configuration,
seconds per step, device, validation metrics). Copy both into
``src/hounsfield/learn/weights/`` to ship them.

    python benchmarks/train_sparse60.py --device cuda --steps 12000 -o /tmp/sparse60
    python benchmarks/train_sparse60.py --device cpu --steps 20 --time-only   # s/step here
    python benchmarks/train_sparse60.py --device cpu --steps 6000 --warmup 200 --lr 5e-4 \
        --init-from sparse60 -o /tmp/tuned      # fine-tune the shipped model further

``--refine sparse60`` trains the second network of a consistency cascade
(:mod:`hounsfield.learn.cascade`) on the output of the given model's first
network, fixed; the card records that model's own training as ``first_stage``::

    python benchmarks/train_sparse60.py --device cpu --refine sparse60 --base-channels 8 \
        --steps 5000 --warmup 300 -o /tmp/cascade

``--time-budget-s S`` first times 60 steps, then trains as many steps as
fit into S seconds (a multiple of 1000, at most ``--steps``); the model
card records the steps taken.

``--chest-npz`` reads the CT from an .npz (hu int16, spacing_mm, origin_mm,
direction) instead of fetching it, for machines without the package registry.
"""

from __future__ import annotations

import argparse
import json
import platform
import shutil
import sys
import time
from pathlib import Path

import numpy as np
import torch

from hounsfield import Volume
from hounsfield.learn.checkpoints import load_model
from hounsfield.learn.training import TrainingConfig, train

#: First training slice (array index): slices below it are the held-out inferior 30 %.
FIRST_TRAINING_SLICE = 40


def chest_ct(npz: Path | None) -> Volume:
    if npz is None:
        from hounsfield.data import example_chest_ct

        return example_chest_ct()[0]
    data = np.load(npz)
    return Volume(data["hu"].astype(np.float32), spacing_mm=tuple(data["spacing_mm"]),
                  origin_mm=tuple(data["origin_mm"]), direction=data["direction"])


def save_npz(ct: Volume, path: Path) -> None:
    """The CT as int16 HU (exact for this CT's integer values) with its geometry."""
    hu = np.clip(np.round(ct.array), -1024, 3071).astype(np.int16)
    np.savez_compressed(path, hu=hu, spacing_mm=np.array(ct.spacing_mm),
                        origin_mm=np.array(ct.origin_mm), direction=ct.direction)


def training_slices(ct: Volume) -> Volume:
    """The superior 70 %: array index 0 is the most inferior slice of the example."""
    if ct.direction[2, 0] <= 0:
        raise ValueError("expected slices ordered from inferior to superior")
    return ct.crop((FIRST_TRAINING_SLICE, 0, 0), ct.shape)


def config(args, n_slices: int) -> TrainingConfig:
    return TrainingConfig(task="sparse-view", views=60, steps=args.steps, batch_size=args.batch,
                          patch_size=args.patch, base_channels=args.base_channels,
                          depth=args.depth, loss=args.loss, learning_rate=args.lr,
                          start_deg=(0.0, 360.0), items=args.items_per_slice * n_slices,
                          warmup_steps=min(args.warmup, args.steps // 10),
                          validation_fraction=0.1, validation_items=8,
                          validate_every=max(args.steps // 40, 20),
                          checkpoint_every=max(args.steps // 4, 1), seed=0, device=args.device,
                          init_from=args.init_from, refine=args.refine, cache_gb=args.cache_gb)


def seconds_per_step(log: list[dict]) -> float:
    """From the log's elapsed times, leaving out the first row (simulation, compilation)."""
    if len(log) < 2:
        return log[-1]["elapsed_s"] / log[-1]["step"]
    return (log[-1]["elapsed_s"] - log[0]["elapsed_s"]) / (log[-1]["step"] - log[0]["step"])


def steps_within(args, ct: Volume) -> int:
    """Steps (multiple of 1000, at most args.steps) that fit in the time budget."""
    timing = argparse.Namespace(**{**vars(args), "steps": 60})
    run = train(training_slices(ct), config(timing, training_slices(ct).shape[0]),
                args.output / "timing", progress=False)
    per_step = seconds_per_step(run.log)
    steps = int(args.time_budget_s / per_step) // 1000 * 1000
    print(f"timing: {per_step * 1000:.1f} ms per step -> {steps} steps", flush=True)
    return max(min(steps, args.steps), 1000)


def cpu_name() -> str:
    cpuinfo = Path("/proc/cpuinfo")
    names = [line.split(":", 1)[1].strip() for line in
             (cpuinfo.read_text().splitlines() if cpuinfo.exists() else [])
             if line.startswith("model name")]
    return f"{names[0] if names else platform.machine()}, {torch.get_num_threads()} threads"


def training_record(name: str | None) -> dict | None:
    """A model's own training record (its card): the start of a fine-tuning, a first stage."""
    if name is None:
        return None
    path = load_model(name).path
    card = path.with_suffix(".json")
    record = json.loads(card.read_text()) if card.exists() else {}
    keep = ("command", "configuration", "device", "torch", "seconds_per_step", "wall_seconds",
            "validation", "started_from", "cpu_comparison", "held_out")
    return {"model": str(name), "steps": record.get("configuration", {}).get("steps"),
            **{key: record[key] for key in keep if key in record}}


def model_card(args, run, config: TrainingConfig, ct: Volume, wall_s: float) -> dict:
    device = torch.cuda.get_device_name() if config.device.startswith("cuda") else cpu_name()
    return {
        "name": "sparse60",
        "task": "sparse-view, 60 views per turn, fan beam (curved detector, 595/1085.6 mm), "
                "any start angle, noise-free, 70 keV, Hann-windowed FBP"
                + ("; a consistency cascade: first network, half a Hann-FBP data-consistency "
                   "step, second network" if config.refine else ""),
        "command": "python benchmarks/train_sparse60.py " + " ".join(sys.argv[1:]),
        "data": {"ct": "hounsfield.data.example_chest_ct() (512×512×133, 0.70×0.70×2.5 mm)",
                 "training_slices": f"array indices {FIRST_TRAINING_SLICE}–{ct.shape[0] - 1} "
                                    "(superior 70 %), of which the most superior 10 % validate",
                 "held_out_slices": f"array indices 0–{FIRST_TRAINING_SLICE - 1} (inferior 30 %)"},
        "seed": config.seed,
        "configuration": json.loads(config.to_json()),
        "device": device,
        "torch": torch.__version__,
        "seconds_per_step": seconds_per_step(run.log),
        "wall_seconds": wall_s,
        "validation": {"loss": run.validation_loss, "psnr_db": run.validation_psnr_db},
        "started_from": training_record(config.init_from),
        "first_stage": training_record(config.refine),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-o", "--output", type=Path, default=Path("sparse60-training"))
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--steps", type=int, default=12000)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--patch", type=int, default=256)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--base-channels", type=int, default=16)
    parser.add_argument("--depth", type=int, default=4)
    parser.add_argument("--loss", default="mse")
    parser.add_argument("--warmup", type=int, default=500, help="warm-up steps (at most 10 %%)")
    parser.add_argument("--init-from", help="fine-tune this trained model (name or path)")
    parser.add_argument("--refine", help="train a cascade's second network on this model's "
                                         "output (name or path)")
    parser.add_argument("--items-per-slice", type=int, default=8,
                        help="training pairs per slice, each scanned from a random start angle")
    parser.add_argument("--cache-gb", type=float, default=6.0,
                        help="memory for simulated items (a cascade's items take 4 MB each)")
    parser.add_argument("--chest-npz", type=Path)
    parser.add_argument("--save-npz", type=Path,
                        help="write the example chest CT as --chest-npz reads it, and stop")
    parser.add_argument("--time-only", action="store_true",
                        help="measure seconds per step and write no model")
    parser.add_argument("--time-budget-s", type=float,
                        help="train as many steps (multiple of 1000) as fit, after timing 60")
    args = parser.parse_args()
    ct = chest_ct(args.chest_npz)
    if args.save_npz:
        save_npz(ct, args.save_npz)
        return 0
    if args.time_budget_s:
        args.steps = steps_within(args, ct)
    run_config = config(args, training_slices(ct).shape[0])
    started = time.perf_counter()
    run = train(training_slices(ct), run_config, args.output / "run", progress=sys.stderr.isatty())
    wall_s = time.perf_counter() - started
    card = model_card(args, run, run_config, ct, wall_s)
    print(json.dumps({k: card[k] for k in ("device", "seconds_per_step", "wall_seconds",
                                           "validation")}, indent=1))
    if not args.time_only:
        shutil.copyfile(run.model_path, args.output / "sparse60.safetensors")
        (args.output / "sparse60.json").write_text(json.dumps(card, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
