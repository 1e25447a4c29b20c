"""Lesion-wise detection metrics: hand-computed cases for every match rule."""

import math

import numpy as np
import pytest

from hounsfield.metrics.detection import (
    CONVENTIONS,
    MATCH_RULES,
    label_lesions,
    lesion_detection,
    pool_detections,
)

SHAPE = (12, 6, 6)


def block(z0, z1, shape=SHAPE):
    """A 4×4 in-plane square (rows and columns 1..4) on slices z0..z1-1: 16 voxels a slice."""
    mask = np.zeros(shape, bool)
    mask[z0:z1, 1:5, 1:5] = True
    return mask


def counts(result):
    return result.tp, result.fp, result.fn


# -- two lesions, one missed ----------------------------------------------------------------


@pytest.mark.parametrize("match", MATCH_RULES)
def test_two_lesions_one_missed_every_rule(match):
    reference = block(0, 3) | block(6, 9)
    prediction = block(0, 3)
    result = lesion_detection(prediction, reference, match=match)
    assert (result.n_reference, result.n_predicted) == (2, 1)
    assert counts(result) == (1, 0, 1)
    assert result.recall == 0.5 and result.precision == 1.0
    assert result.f1 == pytest.approx(1 / (1 + 0.5))  # ISLES'22: tp / (tp + (fp + fn) / 2)
    assert result.fn_volume_ml == pytest.approx(48 / 1000)  # 1 mm voxels by default
    assert result.fp_volume_ml == 0.0
    assert result.lesion_count_difference == 1


# -- one reference lesion split into two predictions ------------------------------------------

# Reference: slices 0-9 (160 voxels). Predictions: slices 0-3 (64) and 5-9 (80), apart.
# IoU with the reference: 64/160 = 0.4 and 80/160 = 0.5 exactly; of their union 144/160.
SPLIT_REFERENCE = block(0, 10)
SPLIT_PREDICTION = block(0, 4) | block(5, 10)


def test_split_overlap_rule_counts_the_lesion_once_without_false_positive():
    result = lesion_detection(SPLIT_PREDICTION, SPLIT_REFERENCE, match="overlap")
    assert counts(result) == (1, 0, 0)
    assert result.f1 == 1.0 and result.precision == 1.0
    assert result.matched_pairs == ((1, 1), (1, 2))


def test_split_iou_exactly_half_strict_and_not_strict_differ():
    strict = lesion_detection(SPLIT_PREDICTION, SPLIT_REFERENCE, match="iou", strict=True)
    loose = lesion_detection(SPLIT_PREDICTION, SPLIT_REFERENCE, match="iou", strict=False)
    assert counts(strict) == (0, 2, 1)
    assert counts(loose) == (1, 1, 0)
    assert loose.matched_pairs == ((1, 2),)


def test_split_lits_merges_the_predictions_and_counts_the_extra_piece_as_fp():
    result = lesion_detection(SPLIT_PREDICTION, SPLIT_REFERENCE, **CONVENTIONS["lits"])
    assert counts(result) == (1, 1, 0)  # LiTS: fp = n_predicted - tp
    assert result.precision == 0.5 and result.recall == 1.0
    assert result.matched_pairs == ((1, 1), (1, 2))


def test_iou_exactly_half_single_pair():
    reference = np.zeros((1, 1, 8), bool)
    reference[0, 0, 0:4] = True
    prediction = np.zeros_like(reference)
    prediction[0, 0, 0:2] = True  # IoU 2/4
    for rule in ("iou", "hungarian", "lits"):
        assert lesion_detection(prediction, reference, match=rule, strict=True).tp == 0
        assert lesion_detection(prediction, reference, match=rule, strict=False).tp == 1


# -- two reference lesions merged into one prediction -----------------------------------------

# References: slices 0-3 and 5-8 (64 voxels each). Prediction: slices 0-8 (144 voxels).
MERGE_REFERENCE = block(0, 4) | block(5, 9)
MERGE_PREDICTION = block(0, 9)


def test_merge_overlap_rule_detects_both():
    result = lesion_detection(MERGE_PREDICTION, MERGE_REFERENCE, match="overlap")
    assert counts(result) == (2, 0, 0)
    assert result.lesion_count_difference == 1


def test_merge_iou_rule_detects_neither():
    result = lesion_detection(MERGE_PREDICTION, MERGE_REFERENCE, match="iou")  # 64/144 each
    assert counts(result) == (0, 1, 2)


def test_merge_lits_detects_the_group_once():
    # LiTS merges the two references (one prediction overlaps both most): IoU 128/144.
    result = lesion_detection(MERGE_PREDICTION, MERGE_REFERENCE, **CONVENTIONS["lits"])
    assert counts(result) == (1, 0, 1)
    assert result.matched_pairs == ((1, 1), (2, 1))


def test_undetected_lits_merge_counts_zero_not_minus_its_size():
    # A prediction 8×8 in-plane over slices 0-8: 576 voxels, group IoU 128/576.
    prediction = np.zeros((12, 10, 10), bool)
    prediction[0:9, 1:9, 1:9] = True
    reference = np.zeros_like(prediction)
    reference[:, :6, :6] = MERGE_REFERENCE
    result = lesion_detection(prediction, reference, **CONVENTIONS["lits"])
    assert counts(result) == (0, 1, 2)


def test_lits_references_owned_by_one_prediction_form_one_group():
    # Reference A (slices 0-5) and B (slices 7-11); prediction P covers A and one slice of B.
    reference = block(0, 6) | block(7, 12)
    prediction = np.zeros(SHAPE, bool)
    prediction[0:8, 1:5, 1:5] = True
    result = lesion_detection(prediction, reference, match="lits", connectivity=6)
    # P owns both A and B (it is their largest overlap), so they form one group:
    # IoU = (96 + 16) / (128 + 96 + 80 - 112) = 112/192 > 0.5, one TP.
    assert counts(result) == (1, 0, 1)


def test_lits_each_reference_belongs_to_the_prediction_overlapping_it_most():
    # A (slices 0-5) and B (slices 7-11). P1 covers A and one slice of B; P2 covers
    # three slices of B. B belongs to P2, so P1 is judged on A alone: IoU 96/128.
    reference = block(0, 6) | block(7, 12)
    prediction = np.zeros(SHAPE, bool)
    prediction[0:8, 1:5, 1:5] = True
    prediction[9:12, 1:5, 1:5] = True
    result = lesion_detection(prediction, reference, match="lits", connectivity=6)
    assert counts(result) == (2, 0, 0)  # P2 with B: IoU 48/80
    assert result.matched_pairs == ((1, 1), (2, 2))


# -- empty cases ------------------------------------------------------------------------------


@pytest.mark.parametrize("match", MATCH_RULES)
def test_empty_reference(match):
    prediction = block(0, 2) | block(5, 6)
    result = lesion_detection(prediction, np.zeros(SHAPE, bool), match=match)
    assert (result.n_reference, result.n_predicted) == (0, 2)
    assert counts(result) == (0, 2, 0)
    assert math.isnan(result.recall)
    assert result.precision == 0.0 and result.f1 == 0.0
    assert result.fp_volume_ml == pytest.approx(48 / 1000)
    assert result.volume_difference_ml == pytest.approx(48 / 1000)


@pytest.mark.parametrize("match", MATCH_RULES)
def test_empty_prediction(match):
    result = lesion_detection(np.zeros(SHAPE, bool), block(0, 2), match=match)
    assert counts(result) == (0, 0, 1)
    assert result.recall == 0.0 and math.isnan(result.precision) and result.f1 == 0.0
    assert result.fn_volume_ml == pytest.approx(32 / 1000)


@pytest.mark.parametrize("match", MATCH_RULES)
def test_both_empty(match):
    empty = np.zeros(SHAPE, bool)
    result = lesion_detection(empty, empty, match=match)
    assert counts(result) == (0, 0, 0)
    assert math.isnan(result.recall) and math.isnan(result.precision)
    assert result.f1 == 1.0  # ISLES'22 empty_value
    assert math.isnan(lesion_detection(empty, empty, f1_when_empty=math.nan).f1)
    assert result.volume_difference_ml == 0.0 and result.fp_volume_ml == 0.0


# -- volumes ----------------------------------------------------------------------------------


def test_anisotropic_spacing_volumes_in_ml():
    spacing_mm = (2.5, 0.7, 0.8)  # 1.4 mm³ = 0.0014 ml a voxel
    reference = block(0, 2)  # 32 voxels, missed
    prediction = np.zeros(SHAPE, bool)
    prediction[6, 1:3, 1:3] = True  # 4 voxels, no overlap
    result = lesion_detection(prediction, reference, spacing_mm)
    assert result.fn_volume_ml == pytest.approx(32 * 0.0014)
    assert result.fp_volume_ml == pytest.approx(4 * 0.0014)
    assert result.reference_volume_ml == pytest.approx(32 * 0.0014)
    assert result.predicted_volume_ml == pytest.approx(4 * 0.0014)
    assert result.volume_difference_ml == pytest.approx(28 * 0.0014)


def test_fp_and_fn_volumes_count_only_components_without_any_overlap():
    reference = block(0, 4) | block(8, 10)  # 64 + 32 voxels
    prediction = block(3, 6)  # touches the first reference lesion only: 48 voxels
    result = lesion_detection(prediction, reference, match="iou")
    assert counts(result) == (0, 1, 2)  # IoU 16/96: no match
    assert result.fp_volume_ml == 0.0  # but it touches a lesion: not autoPET FP volume
    assert result.fn_volume_ml == pytest.approx(32 / 1000)


# -- greedy versus Hungarian ------------------------------------------------------------------


def test_hungarian_finds_two_matches_where_greedy_finds_one():
    # One slice, rows 0-3. A: columns 0-9 (40). Q: columns 0-1 (8), inside A.
    # P: columns 5-19 (60), covering the right half of A and all of B.
    # B: rows 0-1, columns 16-19 (8). IoU(A,P) = 20/80 = 0.25, IoU(A,Q) = 8/40 = 0.2,
    # IoU(B,P) = 8/60. Greedy takes A-P first and strands Q and B; Hungarian
    # maximises the sum with A-Q + B-P = 0.333.
    reference = np.zeros((1, 4, 20), bool)
    reference[0, :, 0:10] = True
    reference[0, 0:2, 16:20] = True
    prediction = np.zeros_like(reference)
    prediction[0, :, 0:2] = True
    prediction[0, :, 5:20] = True
    greedy = lesion_detection(prediction, reference, match="iou", iou_threshold=0.1)
    hungarian = lesion_detection(prediction, reference, match="hungarian", iou_threshold=0.1)
    assert counts(greedy) == (1, 1, 1)
    assert counts(hungarian) == (2, 0, 0)
    assert set(hungarian.matched_pairs) == {(1, 1), (2, 2)}


# -- connectivity, 2D, conventions, pooling ----------------------------------------------------


def test_connectivity_decides_what_one_lesion_is():
    diagonal = np.zeros((3, 3, 3), bool)
    diagonal[0, 0, 0] = diagonal[1, 1, 1] = True
    assert label_lesions(diagonal, 26)[1] == 1
    assert label_lesions(diagonal, 18)[1] == 2
    assert label_lesions(diagonal, 6)[1] == 2
    result = lesion_detection(diagonal, diagonal, connectivity=6)
    assert (result.n_reference, result.tp) == (2, 2)


def test_two_dimensional_masks():
    reference = np.zeros((6, 6), bool)
    reference[0, 0] = reference[1, 1] = True
    result = lesion_detection(reference, reference, spacing_mm=(0.5, 0.5), connectivity=4)
    assert result.n_reference == 2 and result.tp == 2
    assert result.reference_volume_ml == pytest.approx(2 * 0.25 / 1000)


def test_every_convention_runs():
    for settings in CONVENTIONS.values():
        assert lesion_detection(SPLIT_PREDICTION, SPLIT_REFERENCE, **settings).tp == 1


def test_inputs_are_not_modified():
    prediction, reference = SPLIT_PREDICTION.copy(), SPLIT_REFERENCE.astype(np.uint8) * 3
    before = reference.copy()
    lesion_detection(prediction, reference, match="lits")
    assert np.array_equal(prediction, SPLIT_PREDICTION) and np.array_equal(reference, before)


def test_pool_detections_sums_counts_and_averages_per_case():
    cases = [
        lesion_detection(block(0, 3), block(0, 3) | block(6, 9)),  # tp 1, fn 1
        lesion_detection(block(0, 2) | block(5, 6), np.zeros(SHAPE, bool)),  # fp 2
    ]
    pooled = pool_detections(cases)
    assert (pooled["tp"], pooled["fp"], pooled["fn"], pooled["n_cases"]) == (1, 2, 1, 2)
    assert pooled["fp_per_case"] == 1.0
    assert pooled["recall"] == 0.5 and pooled["precision"] == pytest.approx(1 / 3)
    assert pooled["f1"] == pytest.approx(1 / (1 + 1.5))
    assert pooled["mean_f1"] == pytest.approx((2 / 3 + 0) / 2)
    with pytest.raises(ValueError, match="results"):
        pool_detections([])


def test_as_dict_has_unit_named_keys():
    values = lesion_detection(SPLIT_PREDICTION, SPLIT_REFERENCE).as_dict()
    for key in ("tp", "fp", "fn", "recall", "precision", "f1", "fp_volume_ml", "fn_volume_ml",
                "lesion_count_difference", "volume_difference_ml"):
        assert key in values


# -- validation ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"connectivity": 8}, r"connectivity must be one of \(6, 18, 26\) for 3D masks, got 8"),
    ({"match": "greedy"}, "match must be one of"),
    ({"iou_threshold": 1.5}, r"iou_threshold must be a number in \[0, 1\], got 1.5"),
    ({"spacing_mm": (1.0, -1.0, 1.0)}, "spacing_mm must be 3 positive finite numbers"),
    ({"spacing_mm": (1.0, 1.0)}, "spacing_mm must be 3 positive"),
])
def test_invalid_parameters_are_named(kwargs, message):
    with pytest.raises(ValueError, match=message):
        lesion_detection(SPLIT_PREDICTION, SPLIT_REFERENCE, **kwargs)


def test_shape_mismatch_and_dimension_are_rejected():
    with pytest.raises(ValueError, match=r"prediction must have the reference's shape"):
        lesion_detection(np.zeros((2, 2, 2)), np.zeros((2, 2, 3)))
    with pytest.raises(ValueError, match=r"prediction must be a 2D or 3D array, got shape \(4,\)"):
        lesion_detection(np.zeros(4), np.zeros((2, 2)))
