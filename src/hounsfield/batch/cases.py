"""Cases of a batch: found in a folder or read from a CSV/JSON manifest.

A case is one unit of work: an id, the input paths the verb reads and the
options of this case alone. In a folder, each image file (NIfTI, NRRD,
MetaImage, a lone DICOM file) and each sub-folder holding DICOM files is a
case named after it. A manifest lists cases explicitly:

* CSV with columns ``case_id``, ``input`` (several paths separated by ``;``)
  and optionally ``options`` (command-line options, shell-quoted);
* JSON: a list of ``{"case_id": ..., "inputs": [...], "options": [...]}``.

Relative paths in a manifest are relative to the manifest's folder.
"""

from __future__ import annotations

import csv
import json
import re
import shlex
from dataclasses import dataclass
from pathlib import Path

from ..errors import InputError
from ..io.paths import DICOM_SUFFIXES, ITK_SUFFIXES, NIFTI_SUFFIXES, strip_suffix

IMAGE_SUFFIXES = NIFTI_SUFFIXES + ITK_SUFFIXES + DICOM_SUFFIXES
_CASE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


@dataclass(frozen=True)
class Case:
    """One case: ``case_id`` names its output folder ``OUT/cases/<case_id>``.

    Examples
    --------
    >>> Case("p01", ("scans/p01.nii.gz",)).inputs
    ('scans/p01.nii.gz',)
    """

    case_id: str
    inputs: tuple[str, ...]
    options: tuple[str, ...] = ()

    def __post_init__(self):
        if not _CASE_ID.match(self.case_id):
            raise InputError(f"case id {self.case_id!r} must be letters, digits, '.', '_' or '-' "
                             "and start with a letter or digit")


def case_id_of(path: Path) -> str:
    """A case id from a file or folder name: its stem, other characters as '_'.

    >>> case_id_of(Path("data/patient 01.nii.gz"))
    'patient_01'
    """
    stem = strip_suffix(path).name
    return re.sub(r"[^A-Za-z0-9._-]", "_", stem).lstrip("._-") or "case"


def _is_dicom_folder(folder: Path) -> bool:
    for entry in folder.iterdir():
        if entry.is_file() and (entry.suffix.lower() in DICOM_SUFFIXES or not entry.suffix):
            with open(entry, "rb") as file:
                file.seek(128)
                if file.read(4) == b"DICM" or entry.suffix.lower() in DICOM_SUFFIXES:
                    return True
    return False


def folder_cases(folder: Path) -> list[Case]:
    """Each image file and each DICOM sub-folder of ``folder`` as a case, sorted by id."""
    cases = []
    for entry in sorted(folder.iterdir()):
        if entry.name.startswith("."):
            continue
        is_image = entry.is_file() and entry.name.lower().endswith(IMAGE_SUFFIXES)
        if is_image or (entry.is_dir() and _is_dicom_folder(entry)):
            cases.append(Case(case_id_of(entry), (str(entry),)))
    _check_unique(cases, folder)
    if not cases:
        raise InputError("no CT files or DICOM series found", folder)
    return cases


def _check_unique(cases: list[Case], source: Path) -> None:
    seen = set()
    for case in cases:
        if case.case_id in seen:
            raise InputError(f"case id {case.case_id!r} appears twice", source)
        seen.add(case.case_id)


def _resolved(path: str, base: Path) -> str:
    return str(Path(path) if Path(path).is_absolute() else base / path)


def _csv_cases(manifest: Path) -> list[Case]:
    with open(manifest, newline="") as file:
        rows = list(csv.DictReader(file))
    if not rows or not {"case_id", "input"} <= set(rows[0]):
        raise InputError("a CSV manifest needs the columns case_id and input", manifest)
    return [Case(row["case_id"].strip(),
                 tuple(_resolved(p.strip(), manifest.parent)
                       for p in row["input"].split(";") if p.strip()),
                 tuple(shlex.split(row.get("options") or "")))
            for row in rows]


def _json_cases(manifest: Path) -> list[Case]:
    entries = json.loads(manifest.read_text())
    if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
        raise InputError("a JSON manifest is a list of {case_id, inputs, options}", manifest)
    cases = []
    for entry in entries:
        inputs = entry.get("inputs", entry.get("input", []))
        inputs = [inputs] if isinstance(inputs, str) else inputs
        options = entry.get("options", [])
        options = shlex.split(options) if isinstance(options, str) else options
        cases.append(Case(str(entry.get("case_id", "")),
                          tuple(_resolved(p, manifest.parent) for p in inputs),
                          tuple(str(o) for o in options)))
    return cases


def read_cases(source: str | Path) -> list[Case]:
    """The cases of a folder or of a ``.csv``/``.json`` manifest.

    Parameters
    ----------
    source : path
        A folder of CT files and DICOM series, or a manifest.

    Returns
    -------
    list of Case
        In folder order (sorted by name) or manifest order.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (folder / "b.nii.gz").write_bytes(b""); _ = (folder / "a.nrrd").write_bytes(b"")
    >>> [case.case_id for case in read_cases(folder)]
    ['a', 'b']
    """
    source = Path(source)
    if source.is_dir():
        return folder_cases(source)
    if not source.is_file():
        raise InputError("no such folder or manifest", source)
    suffix = source.suffix.lower()
    if suffix not in (".csv", ".json"):
        raise InputError("inputs must be a folder or a .csv or .json manifest", source)
    try:
        cases = _csv_cases(source) if suffix == ".csv" else _json_cases(source)
    except (json.JSONDecodeError, csv.Error, UnicodeDecodeError) as error:
        raise InputError(f"unreadable manifest: {error}", source) from None
    _check_unique(cases, source)
    if not cases:
        raise InputError("the manifest lists no cases", source)
    return cases
