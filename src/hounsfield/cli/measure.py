"""`hounsfield measure CT LABELS -o stats.json`: volume, HU and shape of every label.

Writes one JSON document: ``statistics`` (label name → values, units in
every key; null where a label is absent), ``per_slice`` with
``--per-slice NAMES`` (area and mean HU of those labels in every CT slice),
``notes`` (e.g. that the labels were resampled onto the CT grid) and the
``ct`` and ``labels`` paths. Prints a table of volume and HU per label.
Label names come from the table beside the label map (``NAME_labels.json``),
or from ``--label-table``.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

from rich.table import Table

from ..errors import HounsfieldWarning, InputError
from ..io import read
from ..io.paths import atomic_write_text
from ..labels import LabelTable
from ..measure import label_statistics, per_slice_statistics
from .common import add_read_options, check_output_outside_input, console

HELP = "volume, HU statistics, position and shape of every label; writes JSON"


def add_arguments(parser) -> None:
    parser.add_argument("ct", type=Path, help="CT: DICOM folder or file, NIfTI, NRRD or MHA")
    parser.add_argument("labels", type=Path, help="label map: NIfTI, NRRD or MHA")
    parser.add_argument("-o", "--output", type=Path, required=True, help="JSON file to write")
    parser.add_argument("--label-table", type=Path,
                        help="label names: a LabelTable .json or Slicer .ctbl (default: the "
                             "table beside the label map, else label_<id>)")
    parser.add_argument("--names", help="comma-separated label names to measure (default: all)")
    parser.add_argument("--per-slice", metavar="NAMES",
                        help="comma-separated label names: area and mean HU in every slice")
    add_read_options(parser)


def _name_list(text: str | None) -> list[str] | None:
    if text is None:
        return None
    return [name.strip() for name in text.split(",") if name.strip()]


def _check_output(output: Path, inputs) -> None:
    if output.is_dir():
        raise InputError("output is a folder; give a file name such as stats.json", output)
    for path in inputs:
        check_output_outside_input(output, path)


def _label_table(path: Path) -> LabelTable:
    if not path.is_file():
        raise InputError("no such file", path)
    try:
        return LabelTable.load(path)
    except (ValueError, KeyError, TypeError) as error:
        raise InputError(f"cannot read label table ({error})", path) from None


def _check_names(names: list[str] | None, labels, option: str) -> None:
    known = set(labels.labels.names) if labels.labels is not None else set()
    unknown = [n for n in names or () if n not in known]
    if unknown:
        raise InputError(f"{option}: no label named {', '.join(unknown)} in this label map")


def _statistics_table(statistics: dict) -> Table:
    table = Table(title="label statistics", title_justify="left")
    for column, justify in (("label", "left"), ("volume ml", "right"), ("HU mean ± sd", "right")):
        table.add_column(column, justify=justify)
    absent = 0
    for name, entry in statistics.items():
        if not entry["voxel_count"]:
            absent += 1
            continue
        hu = "-" if entry["hu_mean"] is None else f"{entry['hu_mean']:.1f} ± {entry['hu_sd']:.1f}"
        table.add_row(name, f"{entry['volume_ml']:.2f}", hu)
    if absent:
        table.caption = f"{absent} label(s) of the table absent from the label map"
    return table


def run(args) -> int:
    _check_output(args.output, (args.ct, args.labels))
    ct = read(args.ct, labels=False, series=args.series, allow_modality=args.allow_modality,
              need_3d=True, progress=True)
    labels = read(args.labels, labels=True, need_3d=True)
    if args.label_table is not None:
        labels.labels = _label_table(args.label_table)
    names, per_slice = _name_list(args.names), _name_list(args.per_slice)
    _check_names(names, labels, "--names")
    _check_names(per_slice, labels, "--per-slice")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", HounsfieldWarning)
        with console.status("measuring"):
            statistics = label_statistics(ct, labels, names=names)
            rows = per_slice_statistics(ct, labels, per_slice) if per_slice else None
    for caught_warning in caught:  # still shown, as every warning is
        warnings.warn(caught_warning.message, stacklevel=1)
    notes = list(dict.fromkeys(str(w.message) for w in caught
                               if issubclass(w.category, HounsfieldWarning)))
    document = {"ct": str(args.ct), "labels": str(args.labels), "notes": notes,
                "statistics": statistics}
    if rows is not None:
        document["per_slice"] = rows
    atomic_write_text(args.output, json.dumps(document, indent=1, allow_nan=False))
    console.print(_statistics_table(statistics))
    console.print(f"wrote {args.output}")
    return 0
