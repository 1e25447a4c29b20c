"""`hounsfield info PATH`: what is in a file or folder, without patient identifiers."""

from __future__ import annotations

import json
from pathlib import Path

from rich.table import Table

from ..io import read
from ..io.paths import format_of
from ..summary import describe
from .common import add_read_options, console

HELP = "describe a CT file or DICOM folder (series, shape, spacing, orientation, HU range)"


def add_arguments(parser) -> None:
    parser.add_argument("path", type=Path, help="DICOM folder or file, NIfTI, NRRD or MetaImage")
    add_read_options(parser)
    parser.add_argument("--labels", action="store_true", help="read the file as a label map")
    parser.add_argument("--phi", action="store_true",
                        help="also show patient identifiers (name, ID, birth date, dates)")
    parser.add_argument("--json", action="store_true", help="print JSON instead of tables")


def _series_table(series_list, chosen_uid: str) -> Table:
    table = Table(title="DICOM series found", title_justify="left")
    for column in ("", "number", "modality", "description", "files", "series UID"):
        table.add_column(column)
    for series in series_list:
        mark = "→" if series.series_uid == chosen_uid else ""
        table.add_row(mark, str(series.series_number or ""), series.modality or "?",
                      series.description or "", str(len(series.files)), series.series_uid)
    return table


def _facts_table(facts: dict) -> Table:
    table = Table(show_header=False, box=None)
    for key, value in facts.items():
        table.add_row(key, json.dumps(value) if not isinstance(value, str) else value)
    return table


def run(args) -> int:
    dicom_series = []
    if format_of(args.path).startswith("dicom") and args.path.exists():
        from ..io.dicom import scan_dicom

        dicom_series = scan_dicom(args.path, progress=not args.json)
    volume = read(args.path, labels=args.labels or None, series=args.series,
                  allow_modality=args.allow_modality, progress=not args.json)
    facts = {"path": str(args.path), **describe(volume)}
    if dicom_series:
        facts["series_found"] = [
            {"series_uid": s.series_uid, "series_number": s.series_number,
             "modality": s.modality, "description": s.description, "files": len(s.files)}
            for s in dicom_series]
        facts["chosen_series_uid"] = volume.meta.get("series_uid")
    if args.phi:
        facts["phi"] = volume.meta.get("phi", {})
    if args.json:
        print(json.dumps(facts, indent=1, default=str))
        return 0
    if dicom_series:
        console.print(_series_table(dicom_series, facts["chosen_series_uid"]))
        facts = {k: v for k, v in facts.items() if k not in ("series_found", "chosen_series_uid")}
    console.print(_facts_table(facts))
    return 0
