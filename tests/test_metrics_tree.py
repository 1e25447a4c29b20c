"""ATM'22 tree metrics on synthetic Y-shaped trees."""

import math

import numpy as np
import pytest

from hounsfield.metrics.tree import (
    branches,
    centreline,
    keep_largest_component,
    parse_airway,
    tree_metrics,
)

TUBE_SHAPE = (40, 32, 48)


def tube(start, end, radius, shape=TUBE_SHAPE):
    """Voxels within ``radius`` of the segment start-end (index coordinates)."""
    points = np.stack(np.indices(shape), axis=-1).astype(float)
    a, b = np.asarray(start, float), np.asarray(end, float)
    t = np.clip((points - a) @ (b - a) / ((b - a) @ (b - a)), 0.0, 1.0)
    return np.linalg.norm(points - (a + t[..., None] * (b - a)), axis=-1) <= radius


@pytest.fixture(scope="module")
def y_tree():
    """Trunk along z, two arms, and a short side spur on the trunk (under 5 skeleton voxels)."""
    tree = tube((3, 16, 24), (20, 16, 24), 2.5)
    tree |= tube((20, 16, 24), (36, 16, 10), 2.5)
    tree |= tube((20, 16, 24), (36, 16, 38), 2.5)
    tree |= tube((11, 16, 24), (11, 22, 24), 1.5)
    return tree


def line_y(arm_length, trunk_length=20, spur_length=0):
    """A one-voxel-thick Y in one slice: vertical trunk, two diagonal arms, optional spur."""
    size = trunk_length + arm_length + 2
    tree = np.zeros((3, size, 2 * arm_length + 3), bool)
    column = arm_length + 1
    tree[1, 0:trunk_length, column] = True
    junction_row = trunk_length - 1
    for step in range(1, arm_length + 1):
        tree[1, junction_row + step, column - step] = True
        tree[1, junction_row + step, column + step] = True
    for step in range(1, spur_length + 1):  # sideways off the middle of the trunk
        tree[1, trunk_length // 2, column + step] = True
    return tree


# -- branches ----------------------------------------------------------------------------------


def test_line_y_has_three_branches_and_every_voxel_labelled():
    skeleton = line_y(arm_length=8)
    labels, n = branches(skeleton)
    assert n == 3
    assert np.all(labels[skeleton] > 0) and np.all(labels[~skeleton] == 0)
    # Junction voxel (three neighbours) goes to the nearest piece, the trunk.
    assert sorted(np.bincount(labels[skeleton])[1:].tolist()) == [8, 8, 20]


def test_short_spur_is_dropped_but_splits_the_trunk_until_refined():
    skeleton = line_y(arm_length=8, spur_length=3)
    labels, n = branches(skeleton)
    assert n == 4  # trunk halves and two arms; the 3-voxel spur is not a branch
    assert np.bincount(labels[skeleton])[1:].sum() == skeleton.sum()
    assert parse_airway(skeleton, skeleton, refine=False)[1] == 4
    refined, n_refined = parse_airway(skeleton, skeleton)
    assert n_refined == 3
    assert sorted(np.bincount(refined[skeleton])[1:].tolist()) == [8, 8, 23]


def test_skeleton_end_on_the_array_border_counts_as_junction_as_in_atm():
    # scipy's mirroring border makes a voxel in a one-slice array its own neighbour.
    flat = line_y(arm_length=8)[1:2]
    assert branches(flat)[1] == 0


def test_spur_of_five_voxels_is_a_branch_and_splits_the_trunk():
    labels, n = branches(line_y(arm_length=8, spur_length=6))
    assert n == 5  # two trunk halves, the spur, two arms


def test_min_voxels_drops_short_arms():
    labels, n = branches(line_y(arm_length=4), min_voxels=5)
    # The 4-voxel arms are dropped; the trunk alone remains and takes all voxels.
    assert n == 1


def test_empty_and_tiny_skeletons_have_no_branch():
    assert branches(np.zeros((3, 3, 3), bool))[1] == 0
    dot = np.zeros((3, 3, 3), bool)
    dot[1, 1, 1] = True
    labels, n = branches(dot)
    assert n == 0 and labels.sum() == 0


# -- tree metrics on a tube tree ----------------------------------------------------------------


def test_perfect_prediction(y_tree):
    result = tree_metrics(y_tree, y_tree)
    assert result["n_branches"] == 3  # the spur is dropped, the trunk not split by it
    assert result["tree_length_detected"] == 1.0 and result["branches_detected"] == 1.0
    assert result["precision"] == 1.0 and result["dice"] == 1.0


def test_without_refinement_the_spur_splits_the_trunk(y_tree):
    result = tree_metrics(y_tree, y_tree, refine_branches=False)
    assert result["n_branches"] == 4 and result["branches_detected"] == 1.0


def test_prediction_missing_one_arm(y_tree):
    prediction = y_tree.copy()
    prediction[23:, :, 30:] = False  # the right arm beyond the junction
    result = tree_metrics(prediction, y_tree)
    assert result["n_branches_detected"] == 2
    assert result["branches_detected"] == pytest.approx(2 / 3)
    assert 0.5 < result["tree_length_detected"] < 1.0
    assert result["precision"] == 1.0 and result["dice"] < 1.0


def test_largest_component_step_removes_a_disconnected_blob(y_tree):
    prediction = y_tree.copy()
    prediction[30:36, 26:30, 20:26] = True  # far from the tree
    kept = tree_metrics(prediction, y_tree, largest_component=True)
    raw = tree_metrics(prediction, y_tree, largest_component=False)
    assert kept["precision"] == 1.0 and kept["dice"] == 1.0
    assert raw["precision"] < 1.0
    assert kept["tree_length_detected"] == raw["tree_length_detected"] == 1.0


def test_largest_component_uses_face_connectivity_by_default():
    mask = np.zeros((1, 4, 4), bool)
    mask[0, 0, 0] = mask[0, 1, 1] = mask[0, 2, 1] = True
    assert keep_largest_component(mask).sum() == 2
    assert keep_largest_component(mask, connectivity=26).sum() == 3


# -- 80 % rule --------------------------------------------------------------------------------


@pytest.mark.parametrize(("removed", "detected"), [(19, True), (20, True), (21, False)])
def test_branch_detected_from_80_percent_of_its_skeleton(removed, detected):
    reference = line_y(arm_length=100)
    assert np.array_equal(centreline(reference), reference)  # a line is its own skeleton
    labels, _ = branches(reference)
    left_arm = labels[1, 20, 100]  # first voxel of the left arm, next to the junction
    arm_voxels = np.argwhere(labels == left_arm)
    assert len(arm_voxels) == 100
    tip_first = arm_voxels[np.argsort(arm_voxels[:, 2])]
    prediction = reference.copy()
    prediction[tuple(tip_first[:removed].T)] = False  # 81 %, 80 %, 79 % of the arm left
    result = tree_metrics(prediction, reference, largest_component=False)
    assert result["n_branches"] == 3
    assert result["n_branches_detected"] == (3 if detected else 2)


def test_detected_fraction_is_a_parameter():
    reference = line_y(arm_length=10)  # arms on rows 20-29
    prediction = reference.copy()
    prediction[1, 25:, :] = False  # half of each arm
    default = tree_metrics(prediction, reference, largest_component=False)
    half = tree_metrics(prediction, reference, largest_component=False, detected_fraction=0.5)
    assert default["n_branches_detected"] == 1 and half["n_branches_detected"] == 3


# -- lengths, spacing, empty cases, validation --------------------------------------------------


def test_lengths_use_spacing():
    line = np.zeros((3, 3, 11), bool)
    line[1, 1, :] = True
    result = tree_metrics(line, line, spacing_mm=(1.0, 1.0, 0.5))
    assert result["reference_length_mm"] == pytest.approx(5.0)
    assert result["detected_length_mm"] == pytest.approx(5.0)
    diagonal = np.zeros((4, 4, 4), bool)
    for i in range(4):
        diagonal[i, i, i] = True
    assert tree_metrics(diagonal, diagonal, spacing_mm=(2.0, 1.0, 1.0))[
        "reference_length_mm"] == pytest.approx(3 * math.sqrt(6.0))


def test_precomputed_reference_skeleton_is_used():
    reference = np.zeros((5, 5, 20), bool)
    reference[1:4, 1:4, 1:19] = True
    skeleton = np.zeros_like(reference)
    skeleton[2, 2, 2:18] = True
    result = tree_metrics(reference, reference, reference_skeleton=skeleton)
    assert result["n_branches"] == 1 and result["reference_length_mm"] == pytest.approx(15.0)


def test_empty_reference_and_empty_prediction():
    empty = np.zeros((5, 5, 5), bool)
    both = tree_metrics(empty, empty)
    assert math.isnan(both["tree_length_detected"]) and math.isnan(both["branches_detected"])
    assert math.isnan(both["precision"]) and math.isnan(both["dice"])
    assert both["n_branches"] == 0
    reference = empty.copy()
    reference[2, 2, :] = True
    missed = tree_metrics(empty, reference)
    assert missed["tree_length_detected"] == 0.0 and missed["branches_detected"] == 0.0
    assert math.isnan(missed["precision"]) and missed["dice"] == 0.0


def test_validation_messages_name_the_parameter():
    mask = np.zeros((4, 4, 4), bool)
    with pytest.raises(ValueError, match="prediction must have the reference's shape"):
        tree_metrics(mask, np.zeros((4, 4, 5), bool))
    with pytest.raises(ValueError, match=r"prediction must be a 3D array \(z, y, x\), got shape"):
        tree_metrics(np.zeros((4, 4)), np.zeros((4, 4)))
    with pytest.raises(ValueError, match=r"detected_fraction must be a number in \[0, 1\]"):
        tree_metrics(mask, mask, detected_fraction=80)
    with pytest.raises(ValueError, match="spacing_mm must be 3 positive"):
        tree_metrics(mask, mask, spacing_mm=(1, 1))
    with pytest.raises(ValueError, match="connectivity must be one of"):
        tree_metrics(mask, mask, connectivity=4)
    with pytest.raises(ValueError, match="min_voxels must be an integer >= 1, got 0"):
        branches(mask, min_voxels=0)
    with pytest.raises(ValueError, match="reference_skeleton must have the reference's shape"):
        tree_metrics(mask, mask, reference_skeleton=np.zeros((2, 2, 2)))
