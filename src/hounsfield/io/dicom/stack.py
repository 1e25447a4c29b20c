"""Geometry of a stack of slices: order, gaps and tilt, from positions alone.

Slices are ordered by their position along the slice normal (the cross
product of the row and column cosines of ImageOrientationPatient), never by
InstanceNumber or file name. The gaps between neighbouring slices then
decide what the reader does:

=================================================  =========================================
all gaps within ``REGULAR_TOLERANCE_MM`` (1e-3 mm)  regular: used as they are
  of the median gap
every gap between ``MIN_GAP_FACTOR`` (0.75) and     uneven or a single missing slice:
  ``MAX_GAP_FACTOR`` (2.5) times the median gap     resampled onto a uniform grid (warning)
anything else                                       refused (InputError naming the gap)
=================================================  =========================================

So one missing slice (a gap of 2× the median) is interpolated from its two
neighbours, while two missing neighbours (3×) are refused, as are
overlapping or interleaved stacks (a gap under 0.75× the median).

Gantry tilt shows as slice positions that drift sideways, within the slice
plane, as they advance along the normal. The tilt angle is the angle between
the normal and the line through the slice positions (least squares);
above ``TILT_TOLERANCE_DEG`` (0.01°) the reader shifts each slice in its
own plane (see :mod:`.regrid`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: Largest deviation of a gap from the median gap for a regular stack (mm).
REGULAR_TOLERANCE_MM = 1e-3
#: Smallest gap that may be resampled, as a fraction of the median gap.
MIN_GAP_FACTOR = 0.75
#: Largest gap that may be resampled, as a multiple of the median gap.
MAX_GAP_FACTOR = 2.5
#: Slices closer than this along the normal are at the same position (mm).
SAME_POSITION_MM = 1e-3
#: Smallest angle between the stack and the slice normal treated as gantry tilt (degrees).
TILT_TOLERANCE_DEG = 0.01
#: Largest departure of ImageOrientationPatient from orthonormal unit vectors.
ORTHONORMAL_TOLERANCE = 1e-3


@dataclass(frozen=True)
class SliceAxes:
    """Orthonormal axes of the slice plane, in LPS.

    Attributes
    ----------
    row_cosine : (3,) array
        Direction of increasing column index (ImageOrientationPatient[0:3]).
    column_cosine : (3,) array
        Direction of increasing row index (ImageOrientationPatient[3:6]).
    normal : (3,) array
        row_cosine × column_cosine.
    """

    row_cosine: np.ndarray
    column_cosine: np.ndarray
    normal: np.ndarray

    @property
    def direction(self) -> np.ndarray:
        """Volume direction for arrays indexed (slice, row, column)."""
        return np.column_stack([self.normal, self.column_cosine, self.row_cosine])


def slice_axes(orientation) -> SliceAxes:
    """Orthonormal slice axes from ImageOrientationPatient.

    Small rounding in the header is removed (Gram–Schmidt); larger errors
    raise ValueError.

    >>> axes = slice_axes([1, 0, 0, 0, 1, 0])
    >>> axes.normal.tolist()
    [0.0, 0.0, 1.0]
    """
    values = np.asarray(orientation, dtype=float)
    row, column = values[:3], values[3:6]
    if (abs(np.linalg.norm(row) - 1) > ORTHONORMAL_TOLERANCE
            or abs(np.linalg.norm(column) - 1) > ORTHONORMAL_TOLERANCE
            or abs(row @ column) > ORTHONORMAL_TOLERANCE):
        raise ValueError(f"ImageOrientationPatient {values.tolist()} is not two orthogonal "
                         "unit vectors")
    row = row / np.linalg.norm(row)
    column = column - (column @ row) * row
    column /= np.linalg.norm(column)
    return SliceAxes(row, column, np.cross(row, column))


def depths_along(positions_mm, normal) -> np.ndarray:
    """Signed distance (mm) of each position along ``normal``."""
    return np.asarray(positions_mm, dtype=float) @ np.asarray(normal, dtype=float)


def order_along_normal(positions_mm, normal) -> np.ndarray:
    """Indices that sort positions along the normal (stable for equal positions)."""
    return np.argsort(depths_along(positions_mm, normal), kind="stable")


def same_position_groups(depths_mm) -> list[list[int]]:
    """Runs of sorted depths closer than :data:`SAME_POSITION_MM`, as lists of indices.

    >>> same_position_groups([0.0, 2.5, 2.5, 5.0])
    [[0], [1, 2], [3]]
    """
    groups: list[list[int]] = []
    for index, depth in enumerate(depths_mm):
        if groups and depth - depths_mm[groups[-1][0]] < SAME_POSITION_MM:
            groups[-1].append(index)
        else:
            groups.append([index])
    return groups


def in_plane_offsets(positions_mm, axes: SliceAxes) -> np.ndarray:
    """Offset (mm) of each slice from the first within the slice plane.

    Returns an (n, 2) array: along the column cosine (rows), then along the
    row cosine (columns). Zero for a stack without tilt.
    """
    relative = np.asarray(positions_mm, dtype=float) - np.asarray(positions_mm[0], dtype=float)
    return np.column_stack([relative @ axes.column_cosine, relative @ axes.row_cosine])


def tilt_angle_deg(depths_mm, offsets_mm) -> float:
    """Angle (degrees) between the slice normal and the line through the slice positions.

    >>> float(round(tilt_angle_deg([0, 1, 2], [[0, 0], [1, 0], [2, 0]]), 6))
    45.0
    """
    depths = np.asarray(depths_mm, dtype=float) - depths_mm[0]
    offsets = np.asarray(offsets_mm, dtype=float)
    scale = float(depths @ depths)
    if scale == 0.0:
        return 0.0
    drift_per_mm = (depths @ offsets) / scale
    return float(np.degrees(np.arctan(np.linalg.norm(drift_per_mm))))


@dataclass(frozen=True)
class GapReport:
    """How evenly a sorted stack is spaced.

    Attributes
    ----------
    gaps_mm : array
        Distance between neighbouring slices along the normal.
    median_gap_mm : float
    max_deviation_mm : float
        Largest ``|gap - median|``.
    verdict : str
        'single' (one slice), 'regular', 'resample' or 'refuse'.
    worst : int or None
        Index i of the gap (between slices i and i+1) furthest outside the
        resampling band, when refused.
    """

    gaps_mm: np.ndarray
    median_gap_mm: float
    max_deviation_mm: float
    verdict: str
    worst: int | None = None

    @property
    def regular(self) -> bool:
        return self.verdict in ("single", "regular")

    def summary(self) -> dict:
        """The meta['slice_gaps'] entry (median None for a single slice)."""
        median = None if self.verdict == "single" else self.median_gap_mm
        return {"regular": self.regular, "median_gap_mm": median,
                "max_deviation_mm": self.max_deviation_mm,
                "resampled": self.verdict == "resample"}


def classify_gaps(depths_mm) -> GapReport:
    """Judge the gaps of sorted, distinct slice depths (mm) against the thresholds above.

    >>> classify_gaps([0, 2.5, 5, 7.5]).verdict
    'regular'
    >>> classify_gaps([0, 2.5, 7.5, 10]).verdict     # one slice missing
    'resample'
    >>> classify_gaps([0, 2.5, 10, 12.5, 15]).verdict  # two missing
    'refuse'
    """
    depths = np.asarray(depths_mm, dtype=float)
    if depths.size < 2:
        return GapReport(np.zeros(0), 0.0, 0.0, "single")
    gaps = np.diff(depths)
    median = float(np.median(gaps))
    deviation = float(np.max(np.abs(gaps - median)))
    if deviation <= REGULAR_TOLERANCE_MM:
        return GapReport(gaps, median, deviation, "regular")
    ratio = gaps / median
    outside = np.maximum(MIN_GAP_FACTOR - ratio, 0) + np.maximum(ratio - MAX_GAP_FACTOR, 0)
    if np.any(outside > 0):
        return GapReport(gaps, median, deviation, "refuse", int(np.argmax(outside)))
    return GapReport(gaps, median, deviation, "resample")


def missing_slices(gaps_mm, median_gap_mm: float) -> int:
    """Slices presumed missing: each gap counts as a whole number of median gaps.

    >>> missing_slices([2.5, 5.0, 2.4, 2.6], 2.5)
    1
    """
    steps = np.round(np.asarray(gaps_mm, dtype=float) / median_gap_mm)
    return int(np.sum(np.maximum(steps - 1, 0)))


def uniform_depths(depths_mm, median_gap_mm: float) -> np.ndarray:
    """A uniform grid from the first to the last depth, one slice per slice present or missing.

    The end slices keep their exact positions. Jittered gaps do not change
    the number of slices; a gap of about twice the median adds one.

    >>> uniform_depths([0, 2.5, 7.5, 10], 2.5).tolist()
    [0.0, 2.5, 5.0, 7.5, 10.0]
    """
    depths = np.asarray(depths_mm, dtype=float)
    count = len(depths) + missing_slices(np.diff(depths), median_gap_mm)
    return np.linspace(depths[0], depths[-1], count)
