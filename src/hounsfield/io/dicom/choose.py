"""Choosing the series to read among those found by :func:`scan_dicom`."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from ...errors import InputError
from .discovery import DicomScan, DicomSeries

__all__ = ["choose_series"]

#: The modality read without asking.
EXPECTED_MODALITY = "CT"


def choose_series(series: Sequence[DicomSeries], series_uid: str | int | None = None,
                  allow_modality: bool = False, path: str | Path | None = None) -> DicomSeries:
    """The series to read: the one asked for, or the CT series with the most images.

    Parameters
    ----------
    series : list of DicomSeries
        As returned by :func:`scan_dicom`.
    series_uid : str or int, optional
        The SeriesInstanceUID, a prefix of it that matches one series, or the
        SeriesNumber.
    allow_modality : bool
        Accept a series that is not CT (its values are then not HU).
    path : str or Path, optional
        What was scanned, for messages; by default the scan's root.

    Returns
    -------
    DicomSeries

    Raises
    ------
    InputError
        When nothing readable was found, when ``series_uid`` matches no
        series or several, or when the series is not CT and
        ``allow_modality`` is False.

    Notes
    -----
    Among several candidates the one with the most images wins; ties go to
    the lowest SeriesNumber, then to the smallest UID, so the choice does
    not depend on the order of files on disk.

    Examples
    --------
    >>> a = DicomSeries("1.2.1", "CT", "scout", 1, n_frames=2)
    >>> b = DicomSeries("1.2.2", "CT", "chest", 2, n_frames=120)
    >>> choose_series([a, b]).description
    'chest'
    >>> choose_series([a, b], series_uid="1").description
    'scout'
    """
    if path is None:
        path = series.root if isinstance(series, DicomScan) else None
    if not series:
        raise _nothing_found(series, path)
    candidates = list(series) if series_uid is None else [_match(series, series_uid, path)]
    if not allow_modality:
        expected = [s for s in candidates if s.modality.upper() == EXPECTED_MODALITY]
        if not expected:
            raise _wrong_modality(candidates, path)
        candidates = expected
    return min(candidates, key=_preference)


def _preference(series: DicomSeries):
    number = series.series_number if series.series_number is not None else float("inf")
    return (-series.n_frames, number, series.series_uid)


def _match(series: Sequence[DicomSeries], wanted: str | int, path) -> DicomSeries:
    wanted = str(wanted).strip()
    exact = [s for s in series if s.series_uid == wanted]
    by_prefix = [s for s in series if wanted and s.series_uid.startswith(wanted)]
    by_number = [s for s in series if str(s.series_number) == wanted]
    for matches in (exact, by_prefix, by_number):
        if len(matches) == 1:
            return matches[0]
    listing = "; ".join(s.summary() for s in series)
    if len(by_prefix) > 1 or len(by_number) > 1:
        raise InputError(f"series {wanted!r} is ambiguous: it matches several of {listing}", path)
    raise InputError(f"no series matches {wanted!r}; found {listing}", path)


def _wrong_modality(candidates: Sequence[DicomSeries], path) -> InputError:
    modalities = ", ".join(sorted({s.modality or "unknown" for s in candidates}))
    return InputError(f"modality {modalities}, expected {EXPECTED_MODALITY} "
                      "(use --allow-modality to read it anyway)", path)


def _nothing_found(scan: Sequence[DicomSeries], path) -> InputError:
    """The most useful message when no image series was found."""
    if not isinstance(scan, DicomScan):
        return InputError("no image series found", path)
    if scan.n_files == 0:
        return InputError("no files found", path)
    if not scan.non_image and scan.n_unreadable:
        first_path, reason = scan.problems[0]
        others = scan.n_unreadable - 1
        more = f" (and {others} other unreadable file{'s' if others > 1 else ''})" if others else ""
        return InputError(reason + more, first_path)
    found = ", ".join(f"{n} {kind}" for kind, n in sorted(scan.non_image.items()))
    unreadable = scan.describe_unreadable()
    details = "; ".join(part for part in (found, unreadable) if part)
    return InputError(f"no image series: found {details}", path)
