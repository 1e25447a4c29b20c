"""Options and helpers that several verbs share."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console

from ..errors import InputError

console = Console(stderr=True, highlight=False)


def add_read_options(parser) -> None:
    """--series and --allow-modality, for verbs that read a CT."""
    parser.add_argument("--series", metavar="UID",
                        help="DICOM: SeriesInstanceUID (or unique prefix, or SeriesNumber) to read")
    parser.add_argument("--allow-modality", action="store_true",
                        help="DICOM: read a series that is not CT (values are then not HU)")


def check_output_outside_input(output: Path, input_path: Path) -> None:
    """Refuse an output inside an input folder: inputs are never written to."""
    input_dir = input_path.resolve() if input_path.is_dir() else None
    if input_dir is not None and output.resolve().is_relative_to(input_dir):
        raise InputError("output would be written inside the input folder; choose another place",
                         output)


def parse_point_mm(text: str) -> tuple[float, float, float]:
    """A point 'x,y,z' (LPS world mm) given on the command line."""
    try:
        x, y, z = (float(v) for v in text.split(","))
    except ValueError:
        raise InputError(f"a click must be three numbers x,y,z in mm (LPS), got {text!r}") \
            from None
    return x, y, z
