"""read_dicom: a DICOM file or folder → one Volume (HU for CT)."""

from __future__ import annotations

import warnings
from pathlib import Path

from ...errors import HounsfieldWarning, InputError
from ...volume import Volume
from .assemble import grid_from_frames
from .choose import choose_series
from .discovery import DicomSeries, scan_dicom
from .frames import Frame, frames_of_file
from .headers import read_header
from .meta import series_meta

__all__ = ["read_dicom", "read_series"]


def read_dicom(path: str | Path, *, series: str | int | DicomSeries | None = None,
               allow_modality: bool = False, progress: bool = False) -> Volume:
    """Read one DICOM series as a Volume.

    Parameters
    ----------
    path : str or Path
        A folder, searched recursively, or one DICOM file, read on its own
        (a single slice, or a multi-frame image).
    series : str, int or DicomSeries, optional
        Which series to read when there are several: SeriesInstanceUID, a
        unique prefix of it, or the SeriesNumber; or a series from
        :func:`scan_dicom`. By default the CT series with the most images.
    allow_modality : bool
        Read a series that is not CT. Rescale is applied but the values are
        not HU (``meta["units"]`` says what they are).
    progress : bool
        Show progress bars on stderr while reading many files.

    Returns
    -------
    Volume
        float32 values indexed (slice, row, column), slices sorted along
        the slice normal, geometry in LPS mm. ``meta`` holds modality,
        series_uid, series_description, series_number, n_files,
        slice_gaps (regular, median_gap_mm, max_deviation_mm, resampled),
        gantry_tilt_deg, units, acquisition, warnings and, only under
        ``meta["phi"]``, patient identifiers.

    Raises
    ------
    InputError
        One line naming the file (or folder) and the problem.

    Warns
    -----
    HounsfieldWarning
        For anything repaired: uneven or missing slices resampled, gantry
        tilt corrected, duplicates or localizers dropped, unreadable files
        skipped. The same messages are in ``meta["warnings"]``.

    Examples
    --------
    >>> from pydicom.data import get_testdata_file
    >>> ct = read_dicom(get_testdata_file("CT_small.dcm"))
    >>> ct.shape, ct.spacing_mm, ct.meta["units"]
    ((1, 128, 128), (5.0, 0.661468, 0.661468), 'HU')
    """
    path = Path(path)
    if not path.exists():
        raise InputError("no such file or folder", path)
    skipped = ""
    if isinstance(series, DicomSeries):
        chosen = choose_series([series], allow_modality=allow_modality, path=path)
    else:
        scan = scan_dicom(path, progress=progress)
        chosen = choose_series(scan, series_uid=series, allow_modality=allow_modality, path=path)
        skipped = scan.describe_unreadable()
    volume = read_series(chosen, source=path, progress=progress)
    if skipped:
        _warn(volume, f"skipped {skipped}")
    return volume


def read_series(series: DicomSeries, *, source: str | Path | None = None,
                progress: bool = False) -> Volume:
    """Read a series found by :func:`scan_dicom`, without checking its modality.

    ``source`` names what the user gave, for messages about the whole series.
    """
    frames = series_frames(series)
    source = Path(source) if source is not None else frames[0].path.parent
    grid = grid_from_frames(frames, source, progress)
    volume = Volume(grid.array, spacing_mm=grid.spacing_mm, origin_mm=grid.origin_mm,
                    direction=grid.direction)
    header = series.headers.get(series.files[0]) or read_header(series.files[0])
    volume.meta.update(series_meta(series, header))
    volume.meta.update({"slice_gaps": grid.gaps.summary(), "gantry_tilt_deg": grid.tilt_deg,
                        "warnings": []})
    for message in grid.warnings:
        _warn(volume, message)
    return volume


def series_frames(series: DicomSeries) -> list[Frame]:
    """Every frame of every file of ``series``, using the headers it kept."""
    if not series.files:
        raise InputError("the series has no files", None)
    frames: list[Frame] = []
    for path in series.files:
        header = series.headers.get(path)
        frames += frames_of_file(path, header if header is not None else read_header(path))
    return frames


def _warn(volume: Volume, message: str) -> None:
    volume.meta.setdefault("warnings", []).append(message)
    warnings.warn(message, HounsfieldWarning, stacklevel=3)
