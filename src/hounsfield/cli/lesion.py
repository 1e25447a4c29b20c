"""`hounsfield lesion CT --click x,y,z -o DIR`: segment lesions from clicks and measure them.

Each ``--click`` is one LPS world point (mm) inside one lesion; ``--exclude``
points remove what a click wrongly took in. Writes ``DIR/lesions.nii.gz``
(one id per lesion, with its table) and ``DIR/lesions.json`` (RECIST axes,
volume, HU, place and distances to pleura, airways and, with ``--vessels``,
vessels), and prints a table.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from rich.table import Table

from ..errors import InputError
from ..io import read, write
from ..io.paths import atomic_write_text
from ..labels import LabelTable
from ..measure import measure_lesion
from ..metrics.aggregate import json_safe
from ..segment import Segmentation
from ..segment.click import click
from .common import add_read_options, check_output_outside_input, console, parse_point_mm

HELP = "segment lesions from clicks (LPS mm) and measure them: RECIST axes, volume, HU, distances"


def add_arguments(parser) -> None:
    parser.add_argument("ct", type=Path, help="DICOM folder or file, NIfTI, NRRD or MHA")
    parser.add_argument("--click", action="append", required=True, metavar="X,Y,Z",
                        help="a point inside a lesion, LPS world mm (repeat for more lesions; "
                             "write --click=-12,40,-300 when x is negative)")
    parser.add_argument("--exclude", action="append", default=[], metavar="X,Y,Z",
                        help="a point in a region wrongly taken in (applies to every lesion)")
    parser.add_argument("--labels", type=Path,
                        help="a label map (any grid) to name the organ and lobe a lesion lies in")
    parser.add_argument("--vessels", action="store_true",
                        help="also segment lung vessels for the distance to the nearest vessel")
    parser.add_argument("-o", "--output", type=Path, required=True, help="output folder")
    add_read_options(parser)


def _table(measurements: list[dict]) -> Table:
    table = Table(title="lesions", title_justify="left")
    for column in ("lesion", "long × short mm", "volume ml", "HU mean", "location", "side",
                   "≥10 mm short"):
        table.add_column(column, justify="left" if column in ("lesion", "location") else "right")
    for index, m in enumerate(measurements, start=1):
        table.add_row(f"lesion_{index}", f"{m['long_axis_mm']:.1f} × {m['short_axis_mm']:.1f}",
                      f"{m['volume_ml']:.2f}", f"{m['hu_mean']:.0f}", str(m["location"] or "–"),
                      m["laterality"], "yes" if m["lymph_node_short_axis_ge_10mm"] else "no")
    return table


def run(args) -> int:
    check_output_outside_input(args.output, args.ct)
    points = [parse_point_mm(text) for text in args.click]
    excluded = [parse_point_mm(text) for text in args.exclude]
    ct = read(args.ct, series=args.series, allow_modality=args.allow_modality, need_3d=True,
              progress=True)
    labels = read(args.labels, labels=True) if args.labels else None
    with console.status("segmenting the lesions"):
        try:
            masks = [click(ct, [point], exclude_points_mm=excluded) for point in points]
        except ValueError as error:
            raise InputError(str(error), args.ct) from None
    with console.status("segmenting lungs and airways for the distances"):
        segmentation = Segmentation(ct)
        left, right = segmentation.lungs
        context = {"labels": labels, "body": segmentation.body, "lungs": left | right,
                   "airways": segmentation.airway_tree.mask,
                   "vessels": segmentation.lung_vessels if args.vessels else None}
        measurements = [measure_lesion(ct, mask, **context).to_dict() for mask in masks
                        if mask.any()]
    if len(measurements) < len(masks):
        raise InputError("a click found no lesion around it (empty region)", args.ct)
    array = np.zeros(ct.shape, np.uint8)
    for index, mask in enumerate(masks, start=1):
        array[mask] = index
    table = LabelTable.from_names({i: f"lesion_{i}" for i in range(1, len(masks) + 1)})
    write(ct.with_array(array, labels=table), args.output / "lesions.nii.gz")
    document = [{"name": f"lesion_{i}", "click_mm": list(p), **m}
                for i, (p, m) in enumerate(zip(points, measurements, strict=True), start=1)]
    atomic_write_text(args.output / "lesions.json", json.dumps(json_safe(document), indent=1))
    console.print(_table(measurements))
    console.print(f"wrote {args.output / 'lesions.nii.gz'} and {args.output / 'lesions.json'}")
    return 0
