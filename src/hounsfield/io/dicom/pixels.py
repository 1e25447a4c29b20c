"""Decoding pixel data and applying the rescale: frames → float32 values.

Compressed transfer syntaxes (JPEG, JPEG-LS, JPEG 2000, RLE) are decoded by
pydicom's pixel data handlers (pylibjpeg and its plugins).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from pydicom.dataset import Dataset

from ...errors import InputError
from .frames import Frame
from .headers import read_dataset
from .progress import with_progress


def load_frames(frames: Sequence[Frame], progress: bool = False) -> np.ndarray:
    """Rescaled values of ``frames``, in their order, as an (n, rows, columns) float32 array.

    Each file is read and decoded once, however many of the frames it holds.
    Values are ``stored × RescaleSlope + RescaleIntercept``, computed in
    float64 and rounded once to float32.

    Raises
    ------
    InputError
        Naming the file, when it is truncated, cannot be decoded (with the
        transfer syntax) or is not a single-channel image of the expected size.
    """
    first = frames[0]
    values = np.empty((len(frames), first.rows, first.columns), dtype=np.float32)
    slots: dict[Path, list[int]] = {}
    for slot, frame in enumerate(frames):
        slots.setdefault(frame.path, []).append(slot)
    for path in with_progress(list(slots), "Reading DICOM pixels", progress):
        stored = decode_pixels(path, read_dataset(path))
        for slot in slots[path]:
            frame = frames[slot]
            index = frame.frame_index or 0
            if index >= len(stored):
                raise InputError(f"pixel data holds {len(stored)} frames, fewer than "
                                 f"NumberOfFrames", path)
            image = stored[index]
            if image.shape != (frame.rows, frame.columns):
                raise InputError(f"pixel data of shape {image.shape} does not match Rows × "
                                 f"Columns {frame.rows} × {frame.columns}", path)
            values[slot] = image.astype(np.float64) * frame.slope + frame.intercept
    return values


def decode_pixels(path: Path, dataset: Dataset) -> np.ndarray:
    """Stored pixel values of a data set as an (frames, rows, columns) array."""
    samples = int(dataset.get("SamplesPerPixel", 1) or 1)
    if samples != 1:
        raise InputError(f"colour images (SamplesPerPixel {samples}) are not supported", path)
    if not any(k in dataset for k in ("PixelData", "FloatPixelData", "DoubleFloatPixelData")):
        raise InputError("no pixel data", path)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            stored = dataset.pixel_array
    except Exception as error:  # each pixel handler raises its own types
        raise _decoding_error(path, dataset, error) from None
    if stored.ndim == 2:
        return stored[np.newaxis]
    if stored.ndim != 3:
        raise InputError(f"pixel data of shape {stored.shape} is not a grey-level image", path)
    return stored


def _decoding_error(path: Path, dataset: Dataset, error: Exception) -> InputError:
    reason = (str(error).strip().splitlines() or [type(error).__name__])[0]
    if "less than expected" in reason or "too short" in reason.lower():
        return InputError(f"truncated DICOM file ({reason})", path)
    meta = getattr(dataset, "file_meta", None)
    syntax = meta.get("TransferSyntaxUID") if meta is not None else None
    name = getattr(syntax, "name", "") or "unknown transfer syntax"
    return InputError(f"cannot decode pixel data with transfer syntax {name} ({syntax}): "
                      f"{reason}", path)
