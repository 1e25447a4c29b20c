"""`hounsfield segment CT -o DIR`: weight-free segmentation into one label map.

Writes ``DIR/labels.nii.gz`` on the input's grid with its table as
``DIR/labels.json`` (a list of {"id", "name", "color"}) and a 3D Slicer
colour table, and with ``--split`` one ``DIR/<name>.nii.gz`` mask per label.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from rich.table import Table

from ..errors import InputError
from ..io import read, write
from ..io.paths import atomic_write_text
from ..segment import DEFAULT_STRUCTURES, STRUCTURES, checked_structures, segment
from .common import add_read_options, check_output_outside_input, console

HELP = ("segment body, lungs, airways, bones, tissues and lung vessels without trained weights; "
        "writes one label map")


def add_arguments(parser) -> None:
    parser.add_argument("ct", type=Path, help="DICOM folder or file, NIfTI, NRRD or MHA")
    parser.add_argument("-o", "--output", type=Path, required=True, help="output folder")
    parser.add_argument("--structures", default=",".join(DEFAULT_STRUCTURES),
                        help=f"comma-separated, from: {', '.join(STRUCTURES)} "
                             f"(default: {','.join(DEFAULT_STRUCTURES)})")
    parser.add_argument("--split", action="store_true", help="also write one mask per label")
    add_read_options(parser)


def _volumes_table(labels) -> Table:
    table = Table(title="segmented structures", title_justify="left")
    table.add_column("label")
    table.add_column("volume ml", justify="right")
    counts = np.bincount(labels.array.ravel(), minlength=max(labels.labels.ids) + 1)
    for label in labels.labels:
        table.add_row(label.name, f"{counts[label.id] * labels.voxel_volume_ml:.1f}")
    return table


def run(args) -> int:
    check_output_outside_input(args.output, args.ct)
    try:
        structures = checked_structures(s.strip() for s in args.structures.split(",")
                                        if s.strip())
    except ValueError as error:
        raise InputError(str(error)) from None
    ct = read(args.ct, series=args.series, allow_modality=args.allow_modality, need_3d=True,
              progress=True)
    with console.status("segmenting"):
        labels = segment(ct, structures)
    write(labels, args.output / "labels.nii.gz")
    atomic_write_text(args.output / "labels.json",
                      json.dumps(labels.labels.to_dict()["labels"], indent=1))
    if args.split:
        for label in labels.labels:
            mask = (labels.array == label.id).astype(np.uint8)
            write(ct.with_array(mask), args.output / f"{label.name}.nii.gz")
    console.print(_volumes_table(labels))
    console.print(f"wrote {args.output / 'labels.nii.gz'} and {args.output / 'labels.json'}")
    return 0
