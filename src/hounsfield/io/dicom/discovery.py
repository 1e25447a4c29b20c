"""Finding DICOM series in a file or a folder tree, from headers only.

:func:`scan_dicom` groups image files by SeriesInstanceUID into
:class:`DicomSeries`; non-image objects (structure sets, reports,
segmentations, presentation states, DICOMDIR) are counted by kind, and
files that are not DICOM or cannot be read are counted with the first few
problems kept for messages.
"""

from __future__ import annotations

import os
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from pydicom.dataset import Dataset

from ...errors import InputError
from .headers import read_header, sop_class_name
from .progress import with_progress
from .values import frame_count, optional_int, strings

__all__ = ["DicomSeries", "DicomScan", "scan_dicom", "NON_IMAGE_MODALITIES"]

#: Modalities of objects that carry no image volume.
NON_IMAGE_MODALITIES = frozenset({
    "RTSTRUCT", "RTPLAN", "RTRECORD", "RTDOSE", "SR", "SEG", "PR", "KO", "REG", "RWV",
    "DOC", "AU", "ECG", "HD", "PLAN", "FID",
})

#: How many unreadable files are remembered by name and reason.
MAX_PROBLEMS_KEPT = 5


@dataclass
class DicomSeries:
    """One image series: its files, with what is needed to choose and read it.

    Attributes
    ----------
    series_uid : str
        SeriesInstanceUID ('' when the files have none).
    modality : str
        'CT', 'MR', ... ('' when missing).
    description : str
        SeriesDescription.
    series_number : int or None
        SeriesNumber.
    files : list of Path
        The image files, in the order found.
    n_frames : int
        Number of 2D images: one per single-frame file, NumberOfFrames
        per multi-frame file.
    image_type : tuple of str
        ImageType of the first file, e.g. ('ORIGINAL', 'PRIMARY', 'AXIAL').
    sop_class : str
        Name of the SOP class of the first file, e.g. 'CT Image Storage'.
    headers : dict
        Path → header (pixel data not read), kept so that reading the
        series does not parse the headers again.
    """

    series_uid: str
    modality: str
    description: str
    series_number: int | None
    files: list[Path] = field(default_factory=list)
    n_frames: int = 0
    image_type: tuple[str, ...] = ()
    sop_class: str = ""
    headers: dict[Path, Dataset] = field(default_factory=dict, repr=False, compare=False)

    @property
    def is_multiframe(self) -> bool:
        """True when one file holds several frames (e.g. Enhanced CT)."""
        return self.n_frames > len(self.files)

    def summary(self) -> str:
        """One line naming the series: UID, modality, number, description, size.

        >>> DicomSeries("1.2.3", "CT", "chest", 2, n_frames=20).summary()
        "1.2.3 (CT #2 'chest', 20 images)"
        """
        number = "" if self.series_number is None else f" #{self.series_number}"
        described = f" {self.description!r}" if self.description else ""
        return (f"{self.series_uid} ({self.modality or '?'}{number}{described}, "
                f"{self.n_frames} images)")

    def add(self, path: Path, header: Dataset) -> None:
        """Add one file of this series."""
        self.files.append(path)
        self.headers[path] = header
        self.n_frames += frame_count(header)


class DicomScan(list):
    """The image series found by :func:`scan_dicom` (a list of :class:`DicomSeries`).

    Besides the series, it remembers what else was found, for messages.

    Attributes
    ----------
    root : Path
        The file or folder scanned.
    n_files : int
        Files looked at.
    non_image : Counter
        Non-image DICOM objects by kind ('RTSTRUCT', 'SR', 'DICOMDIR', ...).
    n_unreadable : int
        Files that are not DICOM or could not be read.
    problems : list of (Path, str)
        The first few of those, with a one-line reason each.
    """

    def __init__(self, root: Path, series=()):
        super().__init__(series)
        self.root = Path(root)
        self.n_files = 0
        self.non_image: Counter[str] = Counter()
        self.n_unreadable = 0
        self.problems: list[tuple[Path, str]] = []

    def note_problem(self, path: Path, reason: str) -> None:
        self.n_unreadable += 1
        if len(self.problems) < MAX_PROBLEMS_KEPT:
            self.problems.append((path, reason))

    def describe_unreadable(self) -> str:
        """'2 unreadable files (first: a/x.dcm: not a DICOM file)', or ''."""
        if not self.n_unreadable:
            return ""
        path, reason = self.problems[0]
        plural = "s" if self.n_unreadable > 1 else ""
        return f"{self.n_unreadable} unreadable file{plural} (first: {path}: {reason})"


def scan_dicom(path: str | Path, progress: bool = False) -> DicomScan:
    """Find the DICOM image series in a file or a folder (searched recursively).

    Only headers are read. Hidden files and folders (names starting with
    '.') are skipped.

    Parameters
    ----------
    path : str or Path
        A DICOM file or a folder.
    progress : bool
        Show a progress bar (on stderr) when there are many files.

    Returns
    -------
    DicomScan
        A list of :class:`DicomSeries` in order of SeriesNumber then UID, with
        the counts of non-image objects and unreadable files.

    Raises
    ------
    InputError
        When ``path`` does not exist.

    Examples
    --------
    >>> from pydicom.data import get_testdata_file
    >>> found = scan_dicom(get_testdata_file("CT_small.dcm"))
    >>> [(s.modality, s.n_frames) for s in found]
    [('CT', 1)]
    """
    root = Path(path)
    if not root.exists():
        raise InputError("no such file or folder", root)
    files = [root] if root.is_file() else list_files(root)
    scan = DicomScan(root)
    scan.n_files = len(files)
    by_uid: dict[str, DicomSeries] = {}
    for file in with_progress(files, "Reading DICOM headers", progress):
        _add_file(scan, by_uid, file)
    scan.extend(sorted(by_uid.values(), key=_listing_order))
    return scan


def list_files(folder: Path) -> list[Path]:
    """Regular files under ``folder``, recursively, sorted, without hidden ones."""
    found = []
    for directory, subdirectories, names in os.walk(folder):
        subdirectories[:] = sorted(d for d in subdirectories if not d.startswith("."))
        found += [Path(directory, n) for n in sorted(names) if not n.startswith(".")]
    return [f for f in found if f.is_file()]


def _add_file(scan: DicomScan, by_uid: dict[str, DicomSeries], file: Path) -> None:
    try:
        header = read_header(file)
    except InputError as error:
        scan.note_problem(file, error.problem)
        return
    kind = non_image_kind(header)
    if kind:
        scan.non_image[kind] += 1
        return
    uid = str(header.get("SeriesInstanceUID", ""))
    if uid not in by_uid:
        by_uid[uid] = _new_series(uid, header)
    by_uid[uid].add(file, header)


def non_image_kind(header: Dataset) -> str:
    """'' for an image; otherwise what the object is ('RTSTRUCT', 'DICOMDIR', ...)."""
    modality = str(header.get("Modality", "")).upper()
    if modality in NON_IMAGE_MODALITIES:
        return modality
    if sop_class_name(header) == "Media Storage Directory Storage":
        return "DICOMDIR"
    if "Rows" not in header or "Columns" not in header:
        return modality or "non-image object"
    return ""


def _new_series(uid: str, header: Dataset) -> DicomSeries:
    return DicomSeries(
        series_uid=uid,
        modality=str(header.get("Modality", "")),
        description=str(header.get("SeriesDescription", "")),
        series_number=optional_int(header, "SeriesNumber"),
        image_type=strings(header.get("ImageType")),
        sop_class=sop_class_name(header),
    )


def _listing_order(series: DicomSeries):
    number = series.series_number if series.series_number is not None else float("inf")
    return (number, series.series_uid)
