"""Overlap metrics: hand-computed values, MetricsReloaded's figures, empty-mask policy, checks."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from scipy import ndimage

from hounsfield.metrics import (
    EmptyMaskWarning,
    cldice,
    dice,
    iou,
    precision,
    sensitivity,
    volume_difference_ml,
    volume_difference_percent,
)
from hounsfield.volume import Volume


def _slabs(shape=(6, 5, 4)):
    """ref: slices 0-1; pred: slices 1-3 — |P∩R| = 1, |P| = 3, |R| = 2 slices."""
    ref, pred = np.zeros(shape, bool), np.zeros(shape, bool)
    ref[0:2], pred[1:4] = True, True
    return pred, ref


def test_hand_computed_values():
    pred, ref = _slabs()
    assert dice(pred, ref) == pytest.approx(2 * 1 / (3 + 2))
    assert iou(pred, ref) == pytest.approx(1 / 4)
    assert sensitivity(pred, ref) == pytest.approx(1 / 2)
    assert precision(pred, ref) == pytest.approx(1 / 3)
    assert volume_difference_ml(pred, ref, (2.0, 1.0, 5.0)) == pytest.approx(20 * 10 / 1000)
    assert volume_difference_percent(pred, ref) == pytest.approx(50.0)
    assert volume_difference_ml(ref, pred, (2.0, 1.0, 5.0)) == pytest.approx(-0.2)


@pytest.mark.parametrize("dtype", [bool, np.uint8, np.int32, np.float32])
def test_any_dtype_non_zero_is_foreground(dtype):
    pred, ref = _slabs()
    assert dice(pred.astype(dtype) * 3, ref.astype(dtype)) == pytest.approx(0.4)


def test_dice_and_iou_are_related():
    rng = np.random.default_rng(0)
    pred, ref = rng.random((20, 20, 20)) < 0.3, rng.random((20, 20, 20)) < 0.4
    d, j = dice(pred, ref), iou(pred, ref)
    assert d == pytest.approx(2 * j / (1 + j))
    assert dice(pred, ref) == dice(ref, pred)


def test_metricsreloaded_figures():
    # MetricsReloaded test_pairwise_measures.py: Figure 10 (DSC 0.862, IoU 0.76) and
    # SN 2.9 (F1 = DSC 0.86 and 0.94, 1D).
    ref, pred = np.zeros((11, 11)), np.zeros((11, 11))
    ref[3:8, 3:8] = 1
    pred[3:8, 3:8] = 1
    pred[5, 1:10] = 1
    pred[1:10, 5] = 1
    assert round(dice(pred, ref), 3) == 0.862
    assert round(iou(pred, ref), 2) == 0.76
    pred_1 = np.r_[np.ones(45), np.zeros(5), np.ones(10), np.zeros(40)]
    ref_1 = np.r_[np.ones(50), np.zeros(50)]
    pred_2 = np.r_[np.ones(81), np.zeros(9), np.ones(2), np.zeros(8)]
    ref_2 = np.r_[np.ones(90), np.zeros(10)]
    assert (round(dice(pred_1, ref_1), 2), round(dice(pred_2, ref_2), 2)) == (0.86, 0.94)


def _sn_2_14():
    """MetricsReloaded's clDice figure SN 2.14 (Pitfalls paper p53): ref and two predictions."""
    ref = np.zeros((24, 24))
    for rows, cols in [((1, 10), (7, 12)), ((10, 12), (3, 19)), ((12, 15), (3, 5)),
                       ((12, 15), (15, 19)), ((14, 20), (15, 17)), ((14, 15), (1, 5)),
                       ((14, 17), (2, 3)), ((14, 19), (4, 5)), ((17, 18), (4, 8)),
                       ((14, 15), (15, 24)), ((12, 15), (22, 23)), ((14, 17), (21, 22)),
                       ((17, 20), (5, 6)), ((17, 22), (12, 13)), ((19, 20), (12, 17)),
                       ((18, 19), (15, 20)), ((17, 18), (19, 20))]:
        ref[slice(*rows), slice(*cols)] = 1
    first = np.zeros((24, 24))
    first[1:10, 7:12] = 1
    first[10:12, 3:15] = 1
    second = ref.copy()
    for rows, cols in [((10, 14), (3, 4)), ((10, 11), (3, 9)), ((10, 11), (10, 19)),
                       ((1, 11), (7, 9)), ((1, 11), (10, 12)), ((10, 14), (18, 19)),
                       ((12, 14), (15, 17)), ((14, 19), (15, 16))]:
        second[slice(*rows), slice(*cols)] = 0
    return ref, first, second


def test_cldice_reproduces_metricsreloaded_figure():
    ref, first, second = _sn_2_14()
    assert cldice(first, ref) == pytest.approx(0.475)  # MetricsReloaded: 0.475
    assert cldice(second, ref) == pytest.approx(0.78)  # MetricsReloaded: 0.78


def test_cldice_of_a_tube_cut_short():
    # Lee's skeleton of a 3×3 bar runs along its axis; a half-length prediction keeps
    # topology precision 1 and about half the sensitivity.
    ref, pred = np.zeros((5, 5, 20), bool), np.zeros((5, 5, 20), bool)
    ref[1:4, 1:4, 2:18] = True
    pred[1:4, 1:4, 2:10] = True
    value = cldice(pred, ref)
    assert 0.6 < value < 0.72
    assert cldice(ref, ref) == 1.0


def test_cldice_crop_equals_full_skeletons():
    from skimage.morphology import skeletonize

    grid = np.random.default_rng(4).standard_normal((30, 40, 40))
    pred = ndimage.gaussian_filter(grid, 2) > 0.05
    ref = ndimage.gaussian_filter(np.roll(grid, 2, axis=2), 2) > 0.0
    pred_skeleton, ref_skeleton = skeletonize(pred), skeletonize(ref)
    precision_ = np.count_nonzero(pred_skeleton & ref) / np.count_nonzero(pred_skeleton)
    sensitivity_ = np.count_nonzero(ref_skeleton & pred) / np.count_nonzero(ref_skeleton)
    expected = 2 * precision_ * sensitivity_ / (precision_ + sensitivity_)
    assert cldice(pred, ref) == pytest.approx(expected, rel=1e-12)


# -- empty masks ------------------------------------------------------------------------------

UNDEFINED_WHEN = [  # (metric, keyword, pred empty?, ref empty?)
    (dice, "empty_both", True, True),
    (iou, "empty_both", True, True),
    (cldice, "empty_both", True, True),
    (sensitivity, "empty_ref", False, True),
    (sensitivity, "empty_ref", True, True),
    (precision, "empty_pred", True, False),
    (precision, "empty_pred", True, True),
    (volume_difference_percent, "empty_ref", False, True),
]


@pytest.mark.parametrize("metric, keyword, pred_empty, ref_empty", UNDEFINED_WHEN)
def test_undefined_cases_warn_and_follow_the_parameter(metric, keyword, pred_empty, ref_empty):
    pred, ref = _slabs()
    pred, ref = pred & (not pred_empty), ref & (not ref_empty)
    with pytest.warns(EmptyMaskWarning, match="liver, case 3: .*empty"):
        assert math.isnan(metric(pred, ref, name="liver, case 3"))
    with pytest.warns(EmptyMaskWarning):
        assert metric(pred, ref, **{keyword: 1.0}) == 1.0


@pytest.mark.parametrize("metric", [dice, iou, cldice, sensitivity])
def test_defined_zeros_do_not_warn(metric):
    pred, ref = _slabs()
    with warnings.catch_warnings():
        warnings.simplefilter("error", EmptyMaskWarning)
        assert metric(pred & False, ref) == 0.0


def test_precision_and_volume_zeros_do_not_warn():
    pred, ref = _slabs()
    with warnings.catch_warnings():
        warnings.simplefilter("error", EmptyMaskWarning)
        assert precision(pred, ref & False) == 0.0
        assert volume_difference_ml(pred & False, ref & False, (1, 1, 1)) == 0.0
        assert volume_difference_percent(pred & False, ref) == -100.0


# -- inputs ------------------------------------------------------------------------------------


def test_volumes_are_accepted_and_carry_spacing():
    pred, ref = _slabs()
    assert dice(Volume(pred), Volume(ref)) == pytest.approx(0.4)
    assert volume_difference_ml(Volume(pred, (2, 1, 5)), Volume(ref, (2, 1, 5))) == \
        pytest.approx(0.2)
    with pytest.raises(ValueError, match="differs from the Volume's"):
        volume_difference_ml(Volume(pred, (2, 1, 5)), ref, (1, 1, 1))


@pytest.mark.parametrize("call, message", [
    (lambda p, r: dice(p, r[:-1]), r"pred and ref must have the same shape, got \(6, 5, 4\)"),
    (lambda p, r: dice(p, r, empty_both="one"), "empty_both must be a number"),
    (lambda p, r: sensitivity(p, r, empty_ref=None), "empty_ref must be a number"),
    (lambda p, r: volume_difference_ml(p, r), "spacing_mm is required"),
    (lambda p, r: volume_difference_ml(p, r, (1, -1, 1)), "positive finite"),
    (lambda p, r: volume_difference_ml(p[0], r[0], (1, 1)), "must be a 3D array"),
    (lambda p, r: dice(p.astype(str), r), "boolean or numeric"),
    (lambda p, r: cldice(p[None], r[None]), "2D or 3D"),
])
def test_invalid_input_is_refused_with_a_named_parameter(call, message):
    pred, ref = _slabs()
    with pytest.raises(ValueError, match=message):
        call(pred, ref)
