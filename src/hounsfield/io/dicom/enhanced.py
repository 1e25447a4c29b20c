"""Frames of Enhanced multi-frame images (Enhanced CT/MR/PET Image Storage).

Each attribute a frame needs lives in a functional group macro, found in the
frame's item of PerFrameFunctionalGroupsSequence or, when shared by all
frames, in the one item of SharedFunctionalGroupsSequence:

=============================================  ===========================================
PlanePositionSequence                          ImagePositionPatient
PlaneOrientationSequence                       ImageOrientationPatient
PixelMeasuresSequence                          PixelSpacing, SliceThickness,
                                               SpacingBetweenSlices
PixelValueTransformationSequence               RescaleSlope, RescaleIntercept
CTImageFrameTypeSequence / MRImageFrameType…   FrameType
=============================================  ===========================================
"""

from __future__ import annotations

from pathlib import Path

from pydicom.dataset import Dataset

from ...errors import InputError
from .frames import Frame
from .values import frame_count, numbers, optional_number, positive_or_none, strings

_FRAME_TYPE_SEQUENCES = ("CTImageFrameTypeSequence", "MRImageFrameTypeSequence",
                         "PETFrameTypeSequence")


def is_enhanced(header: Dataset) -> bool:
    """True for multi-frame images described by functional groups."""
    return any(k in header for k in ("PerFrameFunctionalGroupsSequence",
                                     "SharedFunctionalGroupsSequence"))


def enhanced_frames(path: Path, header: Dataset) -> list[Frame]:
    """One :class:`Frame` per frame of an Enhanced multi-frame file."""
    n_frames = frame_count(header)
    per_frame = list(header.get("PerFrameFunctionalGroupsSequence") or [])
    shared = header.get("SharedFunctionalGroupsSequence") or [Dataset()]
    if per_frame and len(per_frame) != n_frames:
        raise InputError(f"PerFrameFunctionalGroupsSequence has {len(per_frame)} items for "
                         f"{n_frames} frames", path)
    return [_frame(path, header, index, per_frame[index] if per_frame else Dataset(), shared[0])
            for index in range(n_frames)]


def _macro(frame_groups: Dataset, shared_groups: Dataset, sequence: str) -> Dataset | None:
    """The first item of a functional group sequence, per frame first, then shared."""
    for groups in (frame_groups, shared_groups):
        items = groups.get(sequence)
        if items:
            return items[0]
    return None


def _required(frame_groups, shared_groups, sequence, keyword, count, path, index):
    macro = _macro(frame_groups, shared_groups, sequence)
    if macro is None:
        raise InputError(f"frame {index + 1} has no {sequence}: cannot place it in space", path)
    return numbers(macro, keyword, count, path)


def _frame(path: Path, header: Dataset, index: int, groups: Dataset, shared: Dataset) -> Frame:
    measures = _macro(groups, shared, "PixelMeasuresSequence")
    rescale = _macro(groups, shared, "PixelValueTransformationSequence")
    frame_type = next((m for m in (_macro(groups, shared, s) for s in _FRAME_TYPE_SEQUENCES)
                       if m is not None), None)
    # Legacy converted files may keep the rescale at the top level.
    rescale = rescale if rescale is not None else header
    return Frame(
        path=path,
        frame_index=index,
        position_mm=_required(groups, shared, "PlanePositionSequence", "ImagePositionPatient",
                              3, path, index),
        orientation=_required(groups, shared, "PlaneOrientationSequence",
                              "ImageOrientationPatient", 6, path, index),
        pixel_spacing_mm=_required(groups, shared, "PixelMeasuresSequence", "PixelSpacing", 2,
                                   path, index),
        rows=int(header.Rows),
        columns=int(header.Columns),
        slope=optional_number(rescale, "RescaleSlope", 1.0),
        intercept=optional_number(rescale, "RescaleIntercept", 0.0),
        thickness_mm=positive_or_none(optional_number(measures, "SliceThickness")),
        spacing_between_mm=positive_or_none(optional_number(measures, "SpacingBetweenSlices")),
        instance_uid=f"{header.get('SOPInstanceUID', '')}#{index + 1}",
        image_type=strings(frame_type.get("FrameType") if frame_type is not None
                           else header.get("ImageType")),
    )
