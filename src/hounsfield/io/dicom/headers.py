"""Opening one DICOM file safely: a header, or a full data set, or a one-line InputError.

DICOM files may lack the 128-byte preamble and 'DICM' prefix (old scanners
and PACS exports write the bare data set). pydicom reads those only with
``force=True``, which also "parses" any other file as garbage, so forcing is
tried only when the first bytes look like the start of a data set (group
0002 or 0008 in either byte order).

A file cut short is not an error for pydicom: it returns the elements it
managed to read. :func:`read_header` checks that an image file still holds
all of its pixel data and calls it a "truncated DICOM file" otherwise.
"""

from __future__ import annotations

import struct
import warnings
from pathlib import Path
from typing import BinaryIO

import pydicom
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.errors import InvalidDicomError
from pydicom.uid import (
    DeflatedExplicitVRLittleEndian,
    ExplicitVRBigEndian,
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
)

from ...errors import InputError

#: Elements larger than this are not read while scanning headers (bytes).
DEFER_SIZE_BYTES = 4096

#: Groups that a bare data set (no preamble) starts with: file meta or identifying.
_FIRST_GROUPS = (0x0002, 0x0008)

#: Pixel data, float pixel data, double float pixel data.
_PIXEL_TAGS = ((0x7FE0, 0x0010), (0x7FE0, 0x0008), (0x7FE0, 0x0009))

#: Explicit VRs whose length field has 4 bytes (after 2 reserved bytes).
_LONG_VRS = {b"OB", b"OW", b"OF", b"OD", b"OL", b"OV", b"UN"}

_UNDEFINED_LENGTH = 0xFFFFFFFF


def read_header(path: str | Path) -> Dataset:
    """The header of one DICOM file, without its pixel data.

    Parameters
    ----------
    path : str or Path
        A DICOM file, with or without preamble.

    Returns
    -------
    Dataset
        All elements before the pixel data; elements over
        :data:`DEFER_SIZE_BYTES` are read only when accessed.

    Raises
    ------
    InputError
        "not a DICOM file", "truncated DICOM file (...)" or
        "unreadable DICOM file (...)", naming ``path``.

    Examples
    --------
    >>> from pydicom.data import get_testdata_file
    >>> read_header(get_testdata_file("CT_small.dcm")).Modality
    'CT'
    """
    path = Path(path)
    with _open(path) as file:
        dataset = _parse(file, path, stop_before_pixels=True)
        _check_pixel_data_complete(dataset, file, path)
    return dataset


def read_dataset(path: str | Path) -> Dataset:
    """A whole DICOM file, pixel data included (decoded later by ``pixel_array``)."""
    path = Path(path)
    with _open(path) as file:
        return _parse(file, path, stop_before_pixels=False)


def _open(path: Path) -> BinaryIO:
    try:
        return open(path, "rb")
    except OSError as error:
        raise InputError(f"cannot open file ({error.strerror or error})", path) from None


def _parse(file: BinaryIO, path: Path, *, stop_before_pixels: bool) -> Dataset:
    options = {"stop_before_pixels": stop_before_pixels,
               "defer_size": DEFER_SIZE_BYTES if stop_before_pixels else None}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pydicom warns about every oddity of real files
        try:
            try:
                dataset = pydicom.dcmread(file, **options)
            except InvalidDicomError:
                file.seek(0)
                if not looks_like_bare_dataset(file.read(8)):
                    raise InputError("not a DICOM file", path) from None
                file.seek(0)
                dataset = pydicom.dcmread(file, force=True, **options)
                _set_transfer_syntax_from_encoding(dataset)
        except InputError:
            raise
        except Exception as error:  # pydicom raises many types for corrupt files
            raise InputError(f"unreadable DICOM file ({_one_line(error)})", path) from None
    if not _has_identity(dataset):
        raise InputError("not a DICOM file", path)
    return dataset


def looks_like_bare_dataset(head: bytes) -> bool:
    """True when ``head`` could start a DICOM data set written without preamble.

    >>> looks_like_bare_dataset(bytes([0x08, 0, 0x05, 0, 0x43, 0x53, 0x0A, 0]))
    True
    >>> looks_like_bare_dataset(b"hello world")
    False
    """
    if len(head) < 8:
        return False
    little = struct.unpack("<H", head[:2])[0]
    big = struct.unpack(">H", head[:2])[0]
    return little in _FIRST_GROUPS or big in _FIRST_GROUPS


def _has_identity(dataset: Dataset) -> bool:
    """A real DICOM object names its SOP class (or at least its modality or image size)."""
    meta = getattr(dataset, "file_meta", None)
    in_meta = meta is not None and "MediaStorageSOPClassUID" in meta
    return in_meta or any(k in dataset for k in ("SOPClassUID", "Modality", "Rows"))


def _set_transfer_syntax_from_encoding(dataset: Dataset) -> None:
    """Bare data sets have no file meta; pixel decoding needs the transfer syntax."""
    meta = getattr(dataset, "file_meta", None)
    if meta is not None and "TransferSyntaxUID" in meta:
        return
    implicit, little = dataset.original_encoding
    syntax = (ImplicitVRLittleEndian if implicit else
              ExplicitVRLittleEndian if little else ExplicitVRBigEndian)
    dataset.file_meta = meta if meta is not None else FileMetaDataset()
    dataset.file_meta.TransferSyntaxUID = syntax


def expects_pixel_data(dataset: Dataset) -> bool:
    """True for image objects: they have Rows, or an '... Image Storage' SOP class."""
    if "Rows" in dataset:
        return True
    return sop_class_name(dataset).endswith("Image Storage")


def sop_class_name(dataset: Dataset) -> str:
    """Name of the SOP class ('CT Image Storage'), from the data set or its file meta."""
    uid = dataset.get("SOPClassUID")
    if uid is None and getattr(dataset, "file_meta", None) is not None:
        uid = dataset.file_meta.get("MediaStorageSOPClassUID")
    return str(getattr(uid, "name", "") or uid or "")


def _check_pixel_data_complete(dataset: Dataset, file: BinaryIO, path: Path) -> None:
    """After a stop-before-pixels read, ``file`` stands at the pixel data element (if any)."""
    if not expects_pixel_data(dataset) or _is_deflated(dataset):
        return
    start = file.tell()
    header = file.read(12)
    size = file.seek(0, 2)
    element = _pixel_element(header, dataset)
    if element is None:
        raise InputError("truncated DICOM file (the pixel data is missing)", path)
    header_bytes, length = element
    remaining = size - start - header_bytes
    if length != _UNDEFINED_LENGTH and remaining < length:
        raise InputError(f"truncated DICOM file (pixel data has {max(remaining, 0)} of "
                         f"{length} bytes)", path)


def _is_deflated(dataset: Dataset) -> bool:
    """Deflated files are read through a decompressor: the file position means nothing."""
    meta = getattr(dataset, "file_meta", None)
    return meta is not None and meta.get("TransferSyntaxUID") == DeflatedExplicitVRLittleEndian


def _pixel_element(header: bytes, dataset: Dataset) -> tuple[int, int] | None:
    """(header size, value length) of a pixel data element header, or None if not one."""
    if len(header) < 8:
        return None
    implicit, little = dataset.original_encoding
    order = "<" if little in (True, None) else ">"
    if struct.unpack(order + "HH", header[:4]) not in _PIXEL_TAGS:
        return None
    if implicit:
        return 8, struct.unpack(order + "L", header[4:8])[0]
    if header[4:6] in _LONG_VRS:
        if len(header) < 12:
            return None
        return 12, struct.unpack(order + "L", header[8:12])[0]
    return 8, struct.unpack(order + "H", header[6:8])[0]


def _one_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return f"{type(error).__name__}: {text[0]}" if text else type(error).__name__
