"""VerSe landmark identification and world-mm centroids."""

import math

import numpy as np
import pytest

from hounsfield.metrics.landmarks import centroids_mm, landmark_identification
from hounsfield.volume import Volume

# Vertebral bodies 30 mm apart along z (mm); labels as VerSe: 20 = L1, 21 = L2, ...
SPINE = {20: (0.0, 0.0, 0.0), 21: (0.0, 0.0, 30.0), 22: (0.0, 0.0, 60.0)}


def shifted(points, dz):
    return {label: (x, y, z + dz) for label, (x, y, z) in points.items()}


def test_exact_match():
    result = landmark_identification(SPINE, SPINE)
    assert result["identification_rate"] == 1.0 and result["n_identified"] == 3
    assert result["distance_mm"] == {20: 0.0, 21: 0.0, 22: 0.0}
    assert result["mean_distance_mm"] == 0.0 and result["mean_distance_identified_mm"] == 0.0


@pytest.mark.parametrize(("offset_mm", "identified"), [(19.9, True), (20.0, True), (20.1, False)])
def test_20_mm_limit_is_inclusive(offset_mm, identified):
    reference = {1: (0.0, 0.0, 0.0), 2: (0.0, 0.0, 100.0)}
    predicted = {1: (0.0, offset_mm, 0.0), 2: (0.0, 0.0, 100.0)}
    result = landmark_identification(reference, predicted)
    assert result["identified"][1] is identified
    assert result["distance_mm"][1] == pytest.approx(offset_mm)
    assert result["identification_rate"] == (1.0 if identified else 0.5)


def test_swapped_labels_are_not_identified_even_within_20_mm():
    reference = {1: (0.0, 0.0, 0.0), 2: (0.0, 0.0, 15.0)}
    predicted = {1: (0.0, 0.0, 14.0), 2: (0.0, 0.0, 1.0)}  # each 14 mm from its own
    result = landmark_identification(reference, predicted)
    assert result["identified"] == {1: False, 2: False}
    assert result["identification_rate"] == 0.0
    assert result["mean_distance_mm"] == pytest.approx(14.0)
    assert math.isnan(result["mean_distance_identified_mm"])


def test_missing_predictions_count_as_not_identified():
    predicted = {20: SPINE[20], 21: SPINE[21]}
    result = landmark_identification(SPINE, predicted)
    assert result["identification_rate"] == pytest.approx(2 / 3)
    assert result["missing"] == [22] and result["identified"][22] is False


def test_closest_is_searched_among_shared_labels_only():
    # Predicted L1 lies 1 mm from L3, which has no prediction: VerSe ignores L3
    # when looking for the closest, so L1 (19 mm from its own) is identified.
    reference = {1: (0.0, 0.0, 0.0), 3: (0.0, 0.0, 20.0)}
    predicted = {1: (0.0, 0.0, 19.0)}
    assert landmark_identification(reference, predicted)["identified"] == {1: True, 3: False}


def test_extra_predictions_change_nothing():
    predicted = {**shifted(SPINE, 3.0), 99: SPINE[21], 23: (0.0, 0.0, 90.0)}
    result = landmark_identification(SPINE, predicted)
    assert result["identification_rate"] == 1.0
    assert result["extra"] == [23, 99] and result["n_predicted"] == 5
    assert result["mean_distance_mm"] == pytest.approx(3.0)


def test_empty_inputs():
    nothing = landmark_identification({}, SPINE)
    assert math.isnan(nothing["identification_rate"]) and nothing["n_reference"] == 0
    none_predicted = landmark_identification(SPINE, {})
    assert none_predicted["identification_rate"] == 0.0
    assert math.isnan(none_predicted["mean_distance_mm"])


def test_max_distance_is_a_parameter():
    predicted = shifted(SPINE, 5.0)
    assert landmark_identification(SPINE, predicted, max_distance_mm=4.0)[
        "identification_rate"] == 0.0


@pytest.mark.parametrize(("reference", "predicted", "message"), [
    (SPINE, {5: (1.0, 2.0)}, r"predicted\[5\] must be 3 finite numbers \(x, y, z\) mm"),
    ({1: (0.0, math.nan, 0.0)}, SPINE, r"reference\[1\] must be 3 finite numbers"),
])
def test_invalid_points_are_named(reference, predicted, message):
    with pytest.raises(ValueError, match=message):
        landmark_identification(reference, predicted)


def test_invalid_containers_and_limits():
    with pytest.raises(TypeError, match="reference must be a dict"):
        landmark_identification([(0, 0, 0)], SPINE)
    with pytest.raises(ValueError, match="max_distance_mm must be a number >= 0, got -1"):
        landmark_identification(SPINE, SPINE, max_distance_mm=-1)


# -- centroids ------------------------------------------------------------------------------------


def label_map():
    array = np.zeros((10, 20, 30), np.int16)
    array[2:6, 4:10, 5:17] = 7  # index centre (3.5, 6.5, 10.5)
    array[7:9, 15:19, 20:28] = 3  # index centre (7.5, 16.5, 23.5)
    return Volume(array, spacing_mm=(2.5, 0.7, 0.8), origin_mm=(-10.0, 5.0, 100.0))


def test_centroids_are_world_mm_of_the_mean_voxel_centre():
    volume = label_map()
    centroids = centroids_mm(volume)
    assert sorted(centroids) == [3, 7]
    expected = volume.index_to_world([3.5, 6.5, 10.5])
    np.testing.assert_allclose(centroids[7], expected)
    # Axial LPS: x = origin_x + 0.8 * column, y = origin_y + 0.7 * row, z = origin_z + 2.5 * slice.
    np.testing.assert_allclose(centroids[3], (-10 + 0.8 * 23.5, 5 + 0.7 * 16.5, 100 + 2.5 * 7.5))


def test_centroids_follow_the_direction_matrix():
    array = np.zeros((3, 3, 3), np.uint8)
    array[0, 0, 2] = 1
    # Columns run toward -x (patient right): voxel column 2 lies at x = -2 * 2 mm.
    direction = np.array([[0.0, 0.0, -1.0], [0.0, 1.0, 0.0], [1.0, 0.0, 0.0]])
    flipped = Volume(array, spacing_mm=2.0, direction=direction)
    np.testing.assert_allclose(centroids_mm(flipped)[1], (-4.0, 0.0, 0.0))


def test_centroids_at_1_mm_stay_within_a_millimetre():
    volume = label_map()
    native, isotropic = centroids_mm(volume), centroids_mm(volume, isotropic_mm=1.0)
    for label in native:
        assert np.linalg.norm(np.subtract(native[label], isotropic[label])) < 1.0


def test_centroids_label_selection_and_validation():
    volume = label_map()
    assert list(centroids_mm(volume, labels=[7, 5])) == [7]
    with pytest.raises(ValueError, match="isotropic_mm must be a positive number of mm, got 0"):
        centroids_mm(volume, isotropic_mm=0)
    with pytest.raises(TypeError, match="label_volume must be a hounsfield Volume"):
        centroids_mm(volume.array)
    with pytest.raises(ValueError, match="label_volume must hold integer labels"):
        centroids_mm(volume.with_array(volume.array.astype(np.float32)))
