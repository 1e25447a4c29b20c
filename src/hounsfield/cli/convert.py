"""`hounsfield convert IN OUT`: any readable CT or label map to NIfTI, NRRD or MetaImage."""

from __future__ import annotations

from pathlib import Path

from ..io import read, write
from ..io.paths import output_format_of
from .common import add_read_options, check_output_outside_input, console

HELP = "convert a DICOM series, NIfTI, NRRD or MetaImage to .nii(.gz), .nrrd or .mha"


def add_arguments(parser) -> None:
    parser.add_argument("input", type=Path, help="DICOM folder or file, NIfTI, NRRD or MetaImage")
    parser.add_argument("output", type=Path, help="output file: .nii, .nii.gz, .nrrd, .mha, .mhd")
    add_read_options(parser)
    parser.add_argument("--labels", action="store_true",
                        help="treat the input as a label map (integer ids)")


def run(args) -> int:
    output_format_of(args.output)
    check_output_outside_input(args.output, args.input)
    volume = read(args.input, labels=args.labels or None, series=args.series,
                  allow_modality=args.allow_modality, progress=True)
    write(volume, args.output)
    console.print(f"wrote {args.output}  {volume!r}")
    return 0
