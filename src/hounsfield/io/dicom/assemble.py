"""Frames → one regular 3D grid: the logic shared by classic and Enhanced series.

Steps, in order: drop localizers mixed into the series, check that all
frames share size, orientation and pixel spacing, sort along the slice
normal, judge the gaps (refusing before any pixel is decoded), decode and
rescale, merge slices found twice, correct gantry tilt, and resample uneven
gaps. Thresholds are those of :mod:`.stack`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ...errors import InputError
from . import stack
from .frames import Frame
from .pixels import load_frames
from .regrid import interpolate_along_normal, shift_slices_in_plane

#: Frames agree on orientation and pixel spacing within these tolerances.
ORIENTATION_TOLERANCE = 1e-4
PIXEL_SPACING_TOLERANCE_MM = 1e-4


@dataclass
class Grid:
    """A regular grid of values with its geometry and what was done to get it."""

    array: np.ndarray
    spacing_mm: tuple[float, float, float]
    origin_mm: tuple[float, float, float]
    direction: np.ndarray
    gaps: stack.GapReport
    tilt_deg: float
    warnings: list[str] = field(default_factory=list)


def grid_from_frames(frames: Sequence[Frame], source: Path, progress: bool = False) -> Grid:
    """Sort, check, decode, rescale and regularise frames of one series.

    Parameters
    ----------
    frames : list of Frame
        All frames of the series, in any order.
    source : Path
        What the user asked to read, for messages about the whole series.
    progress : bool
        Show a progress bar while decoding many files.

    Raises
    ------
    InputError
        Inconsistent frames, slices at one position with different pixels,
        gaps too uneven to resample, or pixel data that cannot be decoded.
    """
    notes: list[str] = []
    frames = _without_localizers(list(frames), notes)
    _check_consistent(frames)
    axes = _axes(frames[0])
    frames = [frames[i] for i in stack.order_along_normal(_positions(frames), axes.normal)]
    depths = stack.depths_along(_positions(frames), axes.normal)
    groups = stack.same_position_groups(depths)
    gaps = stack.classify_gaps(depths[[g[0] for g in groups]])
    if gaps.verdict == "refuse":
        raise InputError(_describe_refused_gap(gaps, frames, groups), source)
    values = load_frames(frames, progress)
    keep = _merge_same_positions(values, frames, groups, notes)
    if len(keep) < len(frames):
        frames, values, depths = [frames[i] for i in keep], values[keep], depths[keep]
    values, origin, tilt = _correct_tilt(values, frames, depths, axes, notes)
    values, spacing_z = _regularise(values, depths, gaps, frames[0], notes)
    row_mm, column_mm = frames[0].pixel_spacing_mm
    return Grid(values, (spacing_z, row_mm, column_mm), tuple(origin), axes.direction, gaps,
                tilt, notes)


def _positions(frames: Sequence[Frame]) -> np.ndarray:
    return np.array([f.position_mm for f in frames], dtype=float)


def _axes(frame: Frame) -> stack.SliceAxes:
    try:
        return stack.slice_axes(frame.orientation)
    except ValueError as error:
        raise InputError(str(error), frame.path) from None


def _without_localizers(frames: list[Frame], notes: list[str]) -> list[Frame]:
    """Scouts sometimes share the series UID of the axial images; they are not slices."""
    kept = [f for f in frames if not f.is_localizer]
    if kept and len(kept) < len(frames):
        dropped = len(frames) - len(kept)
        notes.append(f"ignored {dropped} localizer image{'s' if dropped > 1 else ''} "
                     "(ImageType LOCALIZER) in the series")
        return kept
    return frames


def _check_consistent(frames: Sequence[Frame]) -> None:
    first = frames[0]
    for frame in frames[1:]:
        if (frame.rows, frame.columns) != (first.rows, first.columns):
            _inconsistent("Rows × Columns", f"{frame.rows} × {frame.columns}",
                          f"{first.rows} × {first.columns}", first, frame)
        if not np.allclose(frame.orientation, first.orientation, atol=ORIENTATION_TOLERANCE):
            _inconsistent("ImageOrientationPatient", list(frame.orientation),
                          list(first.orientation), first, frame)
        if not np.allclose(frame.pixel_spacing_mm, first.pixel_spacing_mm,
                           atol=PIXEL_SPACING_TOLERANCE_MM):
            _inconsistent("PixelSpacing", list(frame.pixel_spacing_mm),
                          list(first.pixel_spacing_mm), first, frame)


def _inconsistent(keyword: str, value, expected, first: Frame, frame: Frame):
    raise InputError(f"{keyword} {value} differs from {expected} in {first.name} of the same "
                     "series; read one stack at a time", frame.path)


def _describe_refused_gap(gaps: stack.GapReport, frames: Sequence[Frame],
                          groups: list[list[int]]) -> str:
    i = gaps.worst
    gap, median = float(gaps.gaps_mm[i]), gaps.median_gap_mm
    before, after = frames[groups[i][0]], frames[groups[i + 1][0]]
    ratio = gap / median
    missing = f" (about {round(ratio) - 1} slices missing)" if ratio >= 1.5 else ""
    return (f"slice gaps too uneven to resample: the gap of {gap:.3f} mm between "
            f"{before.name} and {after.name} is {ratio:.2f}× the median gap {median:.3f} mm"
            f"{missing}; only gaps of {stack.MIN_GAP_FACTOR}× to {stack.MAX_GAP_FACTOR}× "
            "the median are resampled")


def _merge_same_positions(values: np.ndarray, frames: Sequence[Frame],
                          groups: list[list[int]], notes: list[str]) -> list[int]:
    """Indices to keep: one slice per position; exact duplicates dropped, others refused."""
    keep, dropped = [], []
    for group in groups:
        first = group[0]
        for other in group[1:]:
            same_place = np.allclose(frames[other].position_mm, frames[first].position_mm,
                                     atol=stack.SAME_POSITION_MM)
            if not (same_place and np.array_equal(values[other], values[first])):
                raise InputError(
                    f"two different images at the same slice position: {frames[first].name} "
                    f"and {frames[other].name}; the series may mix acquisitions or time "
                    "points (choose one with a series of its own)", frames[other].path)
            dropped.append(frames[other].name)
        keep.append(first)
    if dropped:
        shown = ", ".join(dropped[:3]) + (", ..." if len(dropped) > 3 else "")
        notes.append(f"dropped {len(dropped)} duplicate slice{'s' if len(dropped) > 1 else ''} "
                     f"(same position and pixels as another): {shown}")
    return keep


def _correct_tilt(values: np.ndarray, frames: Sequence[Frame], depths: np.ndarray,
                  axes: stack.SliceAxes, notes: list[str]):
    """Shift slices in-plane when their positions drift sideways (gantry tilt)."""
    positions = _positions(frames)
    origin = positions[0]
    offsets_mm = stack.in_plane_offsets(positions, axes)
    tilt = stack.tilt_angle_deg(depths, offsets_mm) if len(frames) > 1 else 0.0
    if tilt <= stack.TILT_TOLERANCE_DEG:
        return values, origin, tilt
    offsets_px = offsets_mm / np.asarray(frames[0].pixel_spacing_mm)
    fill = float(values.min())
    values, margin = shift_slices_in_plane(values, offsets_px, fill)
    row_mm, column_mm = frames[0].pixel_spacing_mm
    origin = (origin - margin[0] * row_mm * axes.column_cosine
              - margin[1] * column_mm * axes.row_cosine)
    notes.append(f"gantry tilt of {tilt:.2f}° corrected: each slice was shifted within its "
                 f"plane (linear interpolation) onto a {values.shape[1]} × {values.shape[2]} "
                 "grid perpendicular to the slices")
    return values, origin, tilt


def _regularise(values: np.ndarray, depths: np.ndarray, gaps: stack.GapReport, first: Frame,
                notes: list[str]):
    """(values on evenly spaced slices, slice spacing in mm)."""
    if gaps.verdict == "single":
        return values, first.thickness_mm or first.spacing_between_mm or 1.0
    if gaps.verdict == "regular":
        return values, float(depths[-1] - depths[0]) / (len(depths) - 1)
    targets = stack.uniform_depths(depths, gaps.median_gap_mm)
    resampled = interpolate_along_normal(values, depths, targets)
    spacing = float(targets[1] - targets[0])
    missing = stack.missing_slices(gaps.gaps_mm, gaps.median_gap_mm)
    missing_text = f", about {missing} slice{'s' if missing > 1 else ''} missing" if missing else ""
    notes.append(f"uneven slice gaps (median {gaps.median_gap_mm:.3f} mm, largest deviation "
                 f"{gaps.max_deviation_mm:.3f} mm{missing_text}): resampled {len(depths)} "
                 f"slices onto {len(targets)} slices {spacing:.3f} mm apart "
                 "(linear interpolation)")
    return resampled, spacing
