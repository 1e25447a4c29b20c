"""File-format detection and atomic output (temporary file, then rename)."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

from ..errors import InputError

NIFTI_SUFFIXES = (".nii", ".nii.gz")
ITK_SUFFIXES = (".nrrd", ".nhdr", ".mha", ".mhd")
DICOM_SUFFIXES = (".dcm", ".dicom", ".ima")


def format_of(path: str | Path) -> str:
    """'nifti', 'itk', 'dicom' or 'dicom-folder' from a path's suffix or type.

    >>> format_of("ct.nii.gz"), format_of("ct.MHA")
    ('nifti', 'itk')
    """
    path = Path(path)
    name = path.name.lower()
    if path.is_dir():
        return "dicom-folder"
    if name.endswith(NIFTI_SUFFIXES):
        return "nifti"
    if name.endswith(ITK_SUFFIXES):
        return "itk"
    return "dicom"


def output_format_of(path: str | Path) -> str:
    """Format to write from an output path's suffix; refuses what cannot be written."""
    name = Path(path).name.lower()
    if name.endswith(NIFTI_SUFFIXES):
        return "nifti"
    if name.endswith(ITK_SUFFIXES):
        return "itk"
    raise InputError("cannot write this format; use .nii, .nii.gz, .nrrd, .mha or .mhd", path)


def strip_suffix(path: str | Path) -> Path:
    """The path without its image suffix ('ct.nii.gz' → 'ct')."""
    path = Path(path)
    for suffix in NIFTI_SUFFIXES[::-1] + ITK_SUFFIXES + DICOM_SUFFIXES:
        if path.name.lower().endswith(suffix):
            return path.with_name(path.name[: -len(suffix)])
    return path


@contextlib.contextmanager
def atomic_output(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it into place only on success.

    The temporary name keeps the real suffix so that writers that choose the
    format by suffix still work.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix="-" + path.name)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        tmp_path.chmod(0o666 & ~_umask())  # mkstemp makes 0600; give the usual permissions
        os.replace(tmp_path, path)
    finally:
        tmp_path.unlink(missing_ok=True)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write_text(path: str | Path, text: str) -> None:
    """Write text to ``path`` atomically."""
    with atomic_output(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    """Write bytes to ``path`` atomically."""
    with atomic_output(path) as tmp:
        tmp.write_bytes(data)
