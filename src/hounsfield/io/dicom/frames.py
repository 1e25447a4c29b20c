"""Frames: one 2D image each, with where it lies and how to rescale it.

Classic series give one frame per file; Enhanced multi-frame files give one
per frame (see :mod:`.enhanced`). Everything downstream (sorting, checks,
resampling) works on frames and never asks which kind of file they came from.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from pydicom.dataset import Dataset

from ...errors import InputError
from .values import frame_count, numbers, optional_number, positive_or_none, strings


@dataclass(frozen=True)
class Frame:
    """One 2D image of a series.

    Attributes
    ----------
    path : Path
        File holding the pixels.
    frame_index : int or None
        Index of the frame in a multi-frame file; None for single-frame files.
    position_mm : tuple of 3 floats
        ImagePositionPatient: LPS (x, y, z) mm of the centre of the first pixel.
    orientation : tuple of 6 floats
        ImageOrientationPatient: LPS direction of increasing column index
        (along a row), then of increasing row index (down a column).
    pixel_spacing_mm : tuple of 2 floats
        PixelSpacing: distance between rows, then between columns, in mm.
    rows, columns : int
        Image size.
    slope, intercept : float
        Rescale: value = stored × slope + intercept.
    thickness_mm : float or None
        SliceThickness.
    spacing_between_mm : float or None
        SpacingBetweenSlices.
    instance_uid : str
        SOPInstanceUID (with the frame number for multi-frame files): equal
        for the same image found twice.
    image_type : tuple of str
        ImageType (or FrameType), e.g. ('ORIGINAL', 'PRIMARY', 'AXIAL').
    """

    path: Path
    frame_index: int | None
    position_mm: tuple[float, float, float]
    orientation: tuple[float, ...]
    pixel_spacing_mm: tuple[float, float]
    rows: int
    columns: int
    slope: float = 1.0
    intercept: float = 0.0
    thickness_mm: float | None = None
    spacing_between_mm: float | None = None
    instance_uid: str = ""
    image_type: tuple[str, ...] = ()

    @property
    def name(self) -> str:
        """The file name, with the frame number for multi-frame files ('ct.dcm frame 3')."""
        if self.frame_index is None:
            return self.path.name
        return f"{self.path.name} frame {self.frame_index + 1}"

    @property
    def is_localizer(self) -> bool:
        return "LOCALIZER" in (t.upper() for t in self.image_type)


def classic_frame(path: Path, header: Dataset) -> Frame:
    """The frame of a single-frame image file (CT Image Storage, MR Image Storage, ...)."""
    return Frame(
        path=path,
        frame_index=None,
        position_mm=numbers(header, "ImagePositionPatient", 3, path),
        orientation=numbers(header, "ImageOrientationPatient", 6, path),
        pixel_spacing_mm=numbers(header, "PixelSpacing", 2, path),
        rows=int(header.Rows),
        columns=int(header.Columns),
        slope=optional_number(header, "RescaleSlope", 1.0),
        intercept=optional_number(header, "RescaleIntercept", 0.0),
        thickness_mm=positive_or_none(optional_number(header, "SliceThickness")),
        spacing_between_mm=positive_or_none(optional_number(header, "SpacingBetweenSlices")),
        instance_uid=str(header.get("SOPInstanceUID", "")),
        image_type=strings(header.get("ImageType")),
    )


def frames_of_file(path: Path, header: Dataset) -> list[Frame]:
    """All frames of one image file, classic or Enhanced multi-frame."""
    from .enhanced import enhanced_frames, is_enhanced

    if is_enhanced(header):
        return enhanced_frames(path, header)
    n_frames = frame_count(header)
    if n_frames > 1:
        raise InputError(f"multi-frame image ({n_frames} frames) without per-frame positions "
                         "(functional groups) is not supported", path)
    return [classic_frame(path, header)]
