"""DICOM element values as plain Python numbers and strings, tolerant of empty or odd values."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from pydicom.dataset import Dataset

from ...errors import InputError


def strings(value) -> tuple[str, ...]:
    """A value of multiplicity 1..n (or None) as a tuple of str.

    >>> strings(None), strings("AXIAL"), strings(["ORIGINAL", "PRIMARY"])
    ((), ('AXIAL',), ('ORIGINAL', 'PRIMARY'))
    """
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    return tuple(str(v) for v in value)


def optional_int(dataset: Dataset, keyword: str) -> int | None:
    """An integer element, or None when missing, empty or not an integer."""
    try:
        return int(dataset[keyword].value) if keyword in dataset else None
    except (TypeError, ValueError):
        return None


def frame_count(dataset: Dataset) -> int:
    """NumberOfFrames, at least 1."""
    return max(optional_int(dataset, "NumberOfFrames") or 1, 1)


def optional_number(dataset: Dataset | None, keyword: str, default: float | None = None):
    """A numeric element as float, or ``default`` when missing, empty or not a number."""
    if dataset is None or keyword not in dataset:
        return default
    try:
        value = float(dataset[keyword].value)
    except (TypeError, ValueError):
        return default
    return value if np.isfinite(value) else default


def positive_or_none(value: float | None) -> float | None:
    return value if value is not None and value > 0 else None


def numbers(dataset: Dataset, keyword: str, count: int, path: Path) -> tuple[float, ...]:
    """A required numeric element as ``count`` finite floats, or a one-line InputError."""
    if keyword not in dataset or dataset[keyword].value in (None, ""):
        raise InputError(f"missing {keyword}: cannot place the image in space", path)
    value = dataset[keyword].value
    values = [value] if isinstance(value, (int, float, str)) else list(value)
    try:
        floats = tuple(float(v) for v in values)
    except (TypeError, ValueError):
        raise InputError(f"{keyword} is not numeric: {values!r}", path) from None
    if len(floats) != count or not all(np.isfinite(floats)):
        raise InputError(f"{keyword} must be {count} finite numbers, got {values!r}", path)
    return floats
