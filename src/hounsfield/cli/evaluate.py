"""`hounsfield evaluate --pred P --ref R`: challenge metrics per case and label, with summaries.

P and R are files or folders; folders are matched by case name (the file
name without its image suffix). Writes JSON (``rows`` and ``summary``;
undefined values as null), CSV and a box plot, and prints a summary table.
"""

from __future__ import annotations

import csv
import io
import json
import warnings
from pathlib import Path

from rich.progress import track
from rich.table import Table

from ..errors import HounsfieldWarning, InputError
from ..io import read
from ..io.paths import ITK_SUFFIXES, NIFTI_SUFFIXES, atomic_write_text, strip_suffix
from ..labels import LabelTable
from ..metrics.aggregate import ID_KEYS, json_safe, metric_keys, summarize
from ..metrics.cases import (
    TASKS,
    airway_rows,
    detection_rows,
    image_rows,
    landmark_rows,
    segmentation_rows,
)
from ..metrics.surface import CONVENTIONS as SURFACE_CONVENTIONS
from ..metrics.surface import DEFAULT_CONVENTION
from .common import console

HELP = "evaluate predictions against references (Dice, HD95, NSD, detection, MAE/PSNR/SSIM)"


def add_arguments(parser) -> None:
    parser.add_argument("--pred", type=Path, required=True, help="prediction file or folder")
    parser.add_argument("--ref", type=Path, required=True, help="reference file or folder")
    parser.add_argument("--task", choices=TASKS, default="segmentation")
    parser.add_argument("--labels", help="comma-separated label ids to evaluate (default: all)")
    parser.add_argument("--label-map", type=Path,
                        help="label names: a LabelTable .json or Slicer .ctbl")
    parser.add_argument("--metrics", help="comma-separated metric keys to keep (e.g. "
                        "dice,hd95_mm,nsd_1mm; default: all the task computes)")
    parser.add_argument("--convention", help=f"segmentation: {', '.join(SURFACE_CONVENTIONS)} "
                        f"(default {DEFAULT_CONVENTION}); detection: isles22, autopet, lits; "
                        "image: synthrad2023, synthrad2025")
    parser.add_argument("--percentile", type=float, default=95.0, help="Hausdorff percentile")
    parser.add_argument("--tolerance-mm", type=float, default=1.0, help="NSD tolerance in mm")
    parser.add_argument("--mask", type=Path, help="image task: mask file or folder")
    parser.add_argument("--json", type=Path, help="write rows and summary as JSON")
    parser.add_argument("--csv", type=Path, help="write rows as CSV")
    parser.add_argument("--plot", type=Path, help="write a box plot PNG")


def _image_files(folder: Path) -> dict[str, Path]:
    suffixes = NIFTI_SUFFIXES + ITK_SUFFIXES
    return {strip_suffix(p).name: p for p in sorted(folder.iterdir())
            if p.is_file() and p.name.lower().endswith(suffixes)}


def match_cases(pred: Path, ref: Path) -> list[tuple[str, Path, Path]]:
    """(case, prediction, reference) triples; folders are matched by case name."""
    for path in (pred, ref):
        if not path.exists():
            raise InputError("no such file or folder", path)
    if pred.is_file() and ref.is_file():
        return [(strip_suffix(ref).name, pred, ref)]
    if pred.is_file() != ref.is_file():
        raise InputError("give two files or two folders", pred)
    preds, refs = _image_files(pred), _image_files(ref)
    missing = sorted(set(refs) - set(preds))
    if missing:
        warnings.warn(f"{len(missing)} reference case(s) have no prediction "
                      f"(first: {missing[0]})", HounsfieldWarning, stacklevel=2)
    cases = [(name, preds[name], refs[name]) for name in sorted(set(refs) & set(preds))]
    if not cases:
        raise InputError("no case name appears in both folders", pred)
    return cases


def _names(args, reference) -> dict[int, str]:
    table = LabelTable.load(args.label_map) if args.label_map else reference.labels
    return {} if table is None else {label.id: label.name for label in table}


def _rows_of_case(args, case: str, pred_path: Path, ref_path: Path) -> list[dict]:
    if args.task == "image":
        ref, pred = read(ref_path, labels=False), read(pred_path, labels=False)
        mask = None
        if args.mask:
            mask_path = args.mask if args.mask.is_file() else _image_files(args.mask).get(case)
            mask = read(mask_path, labels=True) if mask_path else None
        return image_rows(pred, ref, case, mask=mask, convention=args.convention or "synthrad2023")
    ref, pred = read(ref_path, labels=True), read(pred_path, labels=True)
    if args.task == "detection":
        return detection_rows(pred, ref, case, convention=args.convention or "isles22")
    if args.task == "airway":
        return airway_rows(pred, ref, case)
    if args.task == "landmarks":
        return landmark_rows(pred, ref, case, names=_names(args, ref))
    labels = [int(x) for x in args.labels.split(",")] if args.labels else None
    return segmentation_rows(pred, ref, case, labels=labels, names=_names(args, ref),
                             convention=args.convention or DEFAULT_CONVENTION,
                             percentile=args.percentile, tolerance_mm=args.tolerance_mm)


def _keep_metrics(rows: list[dict], wanted: list[str]) -> list[dict]:
    unknown = sorted(set(wanted) - set(metric_keys(rows)))
    if unknown:
        raise InputError(f"unknown metric(s) {', '.join(unknown)}; this task gives "
                         f"{', '.join(metric_keys(rows))}")
    return [{k: v for k, v in row.items() if k in ID_KEYS or k in wanted} for row in rows]


def rows_to_csv(rows: list[dict]) -> str:
    keys = list(ID_KEYS) + metric_keys(rows)
    text = io.StringIO()
    writer = csv.DictWriter(text, fieldnames=keys, extrasaction="ignore")
    writer.writeheader()
    writer.writerows(rows)
    return text.getvalue()


def _summary_table(summary: dict, keys: list[str]) -> Table:
    table = Table(title="evaluation summary (all cases and labels)", title_justify="left")
    for column in ("metric", "mean", "sd", "median", "IQR", "n", "NaN"):
        table.add_column(column, justify="right" if column != "metric" else "left")
    for key in keys:
        stats = summary["overall"][key]
        table.add_row(key, *(f"{stats[s]:.4g}" for s in ("mean", "sd", "median", "iqr")),
                      str(stats["n"]), str(stats["nan_count"]))
    return table


def run(args) -> int:
    cases = match_cases(args.pred, args.ref)
    rows = []
    for case, pred_path, ref_path in track(cases, description="evaluating", console=console,
                                           disable=len(cases) < 2):
        rows += _rows_of_case(args, case, pred_path, ref_path)
    if args.metrics:
        rows = _keep_metrics(rows, args.metrics.split(","))
    summary = summarize(rows)
    if args.json:
        document = json_safe({"rows": rows, "summary": summary})
        atomic_write_text(args.json, json.dumps(document, indent=1, allow_nan=False))
    if args.csv:
        atomic_write_text(args.csv, rows_to_csv(rows))
    if args.plot:
        from ..report.plots import metric_boxplot

        metric_boxplot(rows, args.plot)
    console.print(_summary_table(summary, metric_keys(rows)))
    written = [str(p) for p in (args.json, args.csv, args.plot) if p]
    console.print(f"{len(cases)} case(s), {len(rows)} row(s)"
                  + (f"; wrote {', '.join(written)}" if written else ""))
    return 0
