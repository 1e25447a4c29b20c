"""Slice-stack geometry: thresholds on both sides, tilt angles, interpolation and shifts."""

from __future__ import annotations

import numpy as np
import pytest

from hounsfield.io.dicom import stack
from hounsfield.io.dicom.regrid import interpolate_along_normal, shift_slices_in_plane


def depths_with_gap(gap_factor, median=2.5, count=12, at=5):
    gaps = np.full(count - 1, median)
    gaps[at] = gap_factor * median
    return np.concatenate([[0.0], np.cumsum(gaps)])


@pytest.mark.parametrize("factor, verdict", [
    (1.0, "regular"), (2.0, "resample"), (2.49, "resample"), (2.51, "refuse"), (3.0, "refuse"),
    (0.76, "resample"), (0.74, "refuse"), (1.3, "resample"),
])
def test_gap_thresholds(factor, verdict):
    report = stack.classify_gaps(depths_with_gap(factor))
    assert report.verdict == verdict
    assert report.median_gap_mm == pytest.approx(2.5)
    if verdict == "refuse":
        assert report.worst == 5


@pytest.mark.parametrize("deviation, regular", [(0.0009, True), (0.0011, False)])
def test_regular_tolerance_is_a_thousandth_of_a_millimetre(deviation, regular):
    depths = depths_with_gap(1 + deviation / 2.5)
    assert stack.classify_gaps(depths).regular is regular


def test_single_slice_and_missing_count():
    assert stack.classify_gaps([4.0]).verdict == "single"
    assert stack.classify_gaps([4.0]).summary()["median_gap_mm"] is None
    assert stack.missing_slices([2.5, 5.0, 7.4, 2.6], 2.5) == 1 + 2


def test_uniform_depths_keep_the_ends_and_fill_the_holes():
    targets = stack.uniform_depths(depths_with_gap(2.0), 2.5)
    assert len(targets) == 13
    np.testing.assert_allclose(np.diff(targets), 2.5)


@pytest.mark.parametrize("angle", [0.0, 0.5, 15.0, 30.0])
def test_tilt_angle_of_a_sheared_stack(angle):
    depths = np.arange(10) * 1.25
    offsets = np.column_stack([depths * np.tan(np.radians(angle)), np.zeros(10)])
    assert stack.tilt_angle_deg(depths, offsets) == pytest.approx(angle, abs=1e-9)


def test_slice_axes_clean_rounding_and_refuse_non_orthogonal():
    axes = stack.slice_axes([1, 0, 0, 0.0004, 0.9999999, 0])
    assert axes.row_cosine @ axes.column_cosine == pytest.approx(0, abs=1e-12)
    assert np.linalg.norm(axes.column_cosine) == pytest.approx(1)
    with pytest.raises(ValueError, match="not two orthogonal unit vectors"):
        stack.slice_axes([1, 0, 0, 0.1, 1, 0])
    np.testing.assert_allclose(stack.slice_axes([0, 1, 0, 0, 0, -1]).normal, [-1, 0, 0])


def test_order_ignores_input_order_and_groups_duplicates():
    positions = np.array([[0, 0, 5.0], [0, 0, -2.5], [0, 0, 0.0], [0, 0, 5.0]])
    order = stack.order_along_normal(positions, [0, 0, 1])
    assert order.tolist() == [1, 2, 0, 3]
    depths = stack.depths_along(positions[order], [0, 0, 1])
    assert stack.same_position_groups(depths) == [[0], [1], [2, 3]]


def test_interpolation_is_exact_at_slices_and_linear_between():
    slices = np.stack([np.full((2, 2), v, np.float32) for v in (0.0, 10.0, 40.0)])
    result = interpolate_along_normal(slices, [0.0, 1.0, 3.0], [0.0, 0.5, 1.0, 2.0, 3.0])
    assert result[:, 0, 0].tolist() == [0.0, 5.0, 10.0, 25.0, 40.0]
    assert result.dtype == np.float32


def test_in_plane_shift_moves_each_slice_by_its_offset():
    image = np.zeros((5, 5), np.float32)
    image[2, 2] = 100.0
    slices = np.stack([image, image, image])
    shifted, margin = shift_slices_in_plane(slices, [[0, 0], [1, 0], [-2, 1.5]], fill=0.0)
    assert margin.tolist() == [2, 0]
    assert shifted.shape == (3, 5 + 3, 5 + 2)
    assert shifted[0, 4, 2] == 100.0       # first slice: only the margin before it
    assert shifted[1, 5, 2] == 100.0       # one row further down
    assert shifted[2, 2, 3] == shifted[2, 2, 4] == 50.0  # two rows up, 1.5 columns right
    assert shifted.sum(axis=(1, 2)).tolist() == [100.0, 100.0, 100.0]
