"""The anatomical thorax phantom: labels, CT numbers, anatomy in LPS, table, lesions, noise."""

import numpy as np
import pytest
from scipy import ndimage

from hounsfield.data.phantoms import (
    THORAX_LABEL_TISSUE,
    THORAX_TISSUE_HU,
    Lesion,
    body_mask,
    example_lesions,
    lesion_truth,
    thorax_phantom,
)
from hounsfield.labels import totalsegmentator_table
from hounsfield.volume import AXIAL_LPS

CORE_LABELS = [
    "body", "subcutaneous_fat", "skeletal_muscle", "torso_fat", "lung_left", "lung_right",
    "trachea", "bronchus_left", "bronchus_right", "heart", "aorta", "esophagus", "liver",
    "kidney_left", "kidney_right", "spleen", "sternum", "spinal_cord", "intervertebral_discs",
    "table", "vertebrae_T5", "vertebrae_L1", "rib_left_5", "rib_right_5",
]
ONE_TISSUE_LABELS = [
    "body", "subcutaneous_fat", "skeletal_muscle", "torso_fat", "heart", "aorta", "esophagus",
    "liver", "kidney_left", "kidney_right", "spleen", "spinal_cord", "intervertebral_discs",
    "table", "rib_left_5", "rib_right_11",
]


@pytest.fixture(scope="module")
def phantom():
    return thorax_phantom(lesions=example_lesions())


def mask_of(labels, name):
    return labels.array == labels.labels.id_of(name)


def centroid_mm(labels, name):
    """LPS world (x, y, z) of a label's centroid."""
    return labels.index_to_world(np.argwhere(mask_of(labels, name)).mean(axis=0))


def test_default_grid_geometry(phantom):
    ct, labels = phantom
    assert ct.shape == (96, 128, 128) and ct.spacing_mm == (3.0, 2.5, 2.5)
    assert ct.array.dtype == np.float32 and np.issubdtype(labels.array.dtype, np.integer)
    assert ct.same_grid(labels) and ct.orientation == "LPS"
    np.testing.assert_array_equal(ct.direction, AXIAL_LPS)
    np.testing.assert_allclose(ct.index_to_world(np.array(ct.shape) / 2 - 0.5), (0, 10, 144))


def test_expected_labels_are_present(phantom):
    _, labels = phantom
    names = set(labels.labels.names)
    assert set(CORE_LABELS) <= names
    assert {f"vertebrae_T{n}" for n in range(1, 13)} | {"vertebrae_L1", "vertebrae_L2"} <= names
    assert {f"rib_{side}_{n}" for side in ("left", "right") for n in range(1, 13)} <= names
    assert {"lesion_1", "lesion_2"} <= names
    present = set(np.unique(labels.array)) - {0}
    assert present == set(labels.labels.ids)  # the table lists exactly what is painted


def test_totalsegmentator_names_keep_their_ids(phantom):
    _, labels = phantom
    reference = totalsegmentator_table()
    shared = [name for name in labels.labels.names if name in reference]
    assert len(shared) >= 40
    for name in shared:
        assert labels.labels.id_of(name) == reference.id_of(name)


@pytest.mark.parametrize("name", ONE_TISSUE_LABELS)
def test_one_tissue_labels_have_their_nominal_hu(phantom, name):
    ct, labels = phantom
    nominal = THORAX_TISSUE_HU[THORAX_LABEL_TISSUE[name]]
    values = ct.array[mask_of(labels, name)]
    assert values.mean() == pytest.approx(nominal, abs=0.5)
    assert labels.meta["nominal_hu"][name] == nominal


def test_mixed_labels_hold_their_parts(phantom):
    ct, labels = phantom
    for lung in ("lung_left", "lung_right"):
        values = ct.array[mask_of(labels, lung)]
        assert np.median(values) == -850.0
        assert (values == 40.0).mean() > 0.005  # vessels belong to the lung label
        assert values.mean() == pytest.approx(-850.0, abs=50.0)
    for airway in ("trachea", "bronchus_left", "bronchus_right"):
        values = ct.array[mask_of(labels, airway)]
        assert np.median(values) == -1000.0 and values.max() == 50.0  # lumen and wall
    for bone in ("vertebrae_T8", "vertebrae_L1", "sternum"):
        values = set(np.unique(ct.array[mask_of(labels, bone)]))
        assert values == {250.0, 1000.0}  # cancellous core, cortical shell
    outside = ct.array[labels.array == 0]
    assert set(np.unique(outside)) == {-1000.0}


def test_organs_in_their_lps_places(phantom):
    _, labels = phantom
    c = {name: centroid_mm(labels, name) for name in CORE_LABELS}
    x, y, z = 0, 1, 2
    assert c["liver"][x] < -20 and c["spleen"][x] > 20  # liver on the patient's right (-x)
    assert c["lung_left"][x] > 20 and c["lung_right"][x] < -20
    assert c["kidney_left"][x] > 20 and c["kidney_right"][x] < -20
    assert c["heart"][x] > 0 and c["heart"][y] < 0  # anterior-left
    assert c["sternum"][y] < c["heart"][y] < c["aorta"][y] < c["vertebrae_T5"][y]
    assert c["sternum"][y] < -60 and c["spinal_cord"][y] > c["vertebrae_T5"][y] > 20
    assert c["kidney_left"][y] > 20 and c["spleen"][y] > 0  # posterior organs
    for lung in ("lung_left", "lung_right"):
        for organ in ("liver", "spleen", "kidney_left", "kidney_right"):
            assert c[lung][z] > c[organ][z] + 50  # lungs above the abdomen
    assert abs(c["trachea"][x]) < 2 and c["trachea"][z] > c["heart"][z]
    assert c["bronchus_left"][x] > 10 and c["bronchus_right"][x] < -10
    assert c["table"][y] > 100  # below a supine patient: posterior


def test_spine_runs_from_t1_down_to_l2(phantom):
    _, labels = phantom
    names = [f"vertebrae_T{n}" for n in range(1, 13)] + ["vertebrae_L1", "vertebrae_L2"]
    heights = [centroid_mm(labels, name)[2] for name in names]
    assert all(np.diff(heights) < -10)
    _, row, col = np.round(labels.world_to_index([0.0, 45.0, 0.0])).astype(int)  # body centres
    column = [labels.labels.name_of(i) for i in labels.array[::-1, row, col]]  # top down
    runs = [name for k, name in enumerate(column) if k == 0 or name != column[k - 1]]
    assert runs[0::2] == ["vertebrae_C7"] + names + ["vertebrae_L3"]  # cut by the field of view
    assert set(runs[1::2]) == {"intervertebral_discs"}  # a disc between every two bodies
    left, right = centroid_mm(labels, "rib_left_5"), centroid_mm(labels, "rib_right_5")
    assert left[2] == pytest.approx(right[2]) and left[0] == pytest.approx(-right[0])
    assert left[2] < centroid_mm(labels, "vertebrae_T5")[2]  # ribs slope down from their vertebra


def test_lungs_inside_the_body_and_clear_of_the_table(phantom):
    _, labels = phantom
    body = body_mask(labels)
    filled = ndimage.binary_fill_holes(body)
    lungs = mask_of(labels, "lung_left") | mask_of(labels, "lung_right")
    assert lungs.sum() > 50_000 and np.all(filled[lungs])
    assert not np.any(ndimage.binary_dilation(lungs, iterations=2) & (labels.array == 0))
    table = mask_of(labels, "table")
    distance_mm = ndimage.distance_transform_edt(~table, sampling=labels.spacing_mm)
    assert distance_mm[lungs].min() > 30.0


def test_table_lies_outside_the_body(phantom):
    ct, labels = phantom
    table, body = mask_of(labels, "table"), body_mask(labels)
    assert table.sum() > 10_000 and not np.any(table & body)
    assert not np.any(ndimage.binary_dilation(body, iterations=1) & table)  # an air gap
    rows_of_table = np.nonzero(table.any(axis=(0, 2)))[0]
    rows_of_body = np.nonzero(body.any(axis=(0, 2)))[0]
    assert rows_of_table.min() > rows_of_body.max()  # +y (posterior) below the patient
    assert ct.array[table].mean() > 200  # bone-like: a threshold alone keeps it


def test_lesions_are_labelled_with_exact_truth(phantom):
    ct, labels = phantom
    truths = lesion_truth(example_lesions())
    assert [t.name for t in truths] == ["lesion_1", "lesion_2"]
    assert truths[1].axial_long_axis_mm == truths[1].axial_short_axis_mm == 24.0
    assert labels.meta["lesions"][1]["volume_ml"] == pytest.approx(truths[1].volume_ml)
    for truth in truths:
        mask = mask_of(labels, truth.name)
        assert labels.labels.id_of(truth.name) == truth.label_id
        assert truth.volume_ml == pytest.approx(np.pi / 6 * truth.longest_diameter_mm**3 / 1000)
        assert mask.sum() * labels.voxel_volume_ml == pytest.approx(truth.volume_ml, rel=0.05)
        np.testing.assert_allclose(centroid_mm(labels, truth.name), truth.center_mm, atol=0.6)
        assert np.all(ct.array[mask] == truth.hu)


@pytest.mark.parametrize("diameter_mm", [20.0, 30.0, (20.0, 26.0, 33.0)])
def test_lesion_voxel_volume_near_analytic(diameter_mm):
    lesion = Lesion((-58.3, -21.1, 71.4), diameter_mm, hu=10.0)
    _, labels = thorax_phantom(lesions=[lesion])
    count = mask_of(labels, "lesion_1").sum()
    assert count * labels.voxel_volume_ml == pytest.approx(lesion.volume_ml, rel=0.05)


def test_small_lesion_volume_is_unbiased_over_positions():
    rng = np.random.default_rng(7)
    ratios = []
    for _ in range(8):
        lesion = Lesion((-60.0, -20.0, 70.0) + rng.uniform(-2, 2, 3), 15.0, hu=10.0)
        _, labels = thorax_phantom((24, 32, 32), center_mm=lesion.center_mm, lesions=[lesion])
        count = mask_of(labels, "lesion_1").sum()
        ratios.append(count * labels.voxel_volume_ml / lesion.volume_ml)
    assert np.mean(ratios) == pytest.approx(1.0, abs=0.03)
    assert max(abs(np.array(ratios) - 1)) < 0.12


def test_partial_volume_ct_recovers_lesion_volume():
    lesion = Lesion((-60.0, -20.0, 70.0), 18.0, hu=20.0)
    ct, labels = thorax_phantom((14, 16, 16), center_mm=lesion.center_mm, lesions=[lesion],
                                supersample=4)
    liver_hu = THORAX_TISSUE_HU["liver"]
    assert set(labels.labels.names) == {"liver", "lesion_1"}
    fraction = (liver_hu - ct.array.astype(float)) / (liver_hu - lesion.hu)
    assert fraction.sum() * labels.voxel_volume_ml == pytest.approx(lesion.volume_ml, rel=0.01)
    assert 0 < ((fraction > 0.01) & (fraction < 0.99)).sum()  # mixed voxels exist


def test_partial_volume_keeps_labels_and_bounds():
    plain_ct, plain_labels = thorax_phantom((24, 32, 32), (12.0, 10.0, 10.0))
    ct, labels = thorax_phantom((24, 32, 32), (12.0, 10.0, 10.0), supersample=2)
    np.testing.assert_array_equal(labels.array, plain_labels.array)
    assert ct.array.min() >= -1000 and ct.array.max() <= 1000
    changed = ct.array != plain_ct.array
    assert 0.05 < changed.mean() < 0.8  # only boundary voxels mix


def test_noise_has_the_requested_sd_and_follows_the_seed():
    shape, spacing = (24, 48, 48), (12.0, 6.7, 6.7)
    clean, _ = thorax_phantom(shape, spacing)
    noisy, _ = thorax_phantom(shape, spacing, noise_hu=25.0, seed=11)
    again, _ = thorax_phantom(shape, spacing, noise_hu=25.0, seed=11)
    other, _ = thorax_phantom(shape, spacing, noise_hu=25.0, seed=12)
    noise = noisy.array.astype(float) - clean.array
    assert noise.std() == pytest.approx(25.0, rel=0.02) and abs(noise.mean()) < 0.5
    np.testing.assert_array_equal(noisy.array, again.array)
    assert not np.array_equal(noisy.array, other.array)
    assert noisy.meta["noise_hu"] == 25.0 and noisy.meta["seed"] == 11


def test_noisy_label_means_stay_near_nominal():
    ct, labels = thorax_phantom((48, 64, 64), (6.0, 5.0, 5.0), noise_hu=20.0, seed=3)
    for name in ("liver", "heart", "subcutaneous_fat", "skeletal_muscle"):
        nominal = labels.meta["nominal_hu"][name]
        assert ct.array[mask_of(labels, name)].mean() == pytest.approx(nominal, abs=3.0)


@pytest.mark.parametrize("shape, spacing_mm", [
    ((48, 65, 63), (6.0, 5.0, 5.0)),
    ((33, 64, 80), (9.0, 5.0, 4.0)),
    ((97, 129, 127), (3.0, 2.5, 2.5)),
])
def test_odd_even_and_anisotropic_grids(shape, spacing_mm):
    ct, labels = thorax_phantom(shape, spacing_mm)
    assert ct.shape == labels.shape == shape and ct.spacing_mm == spacing_mm
    assert {"lung_left", "lung_right", "liver", "heart", "spleen", "table"} <= set(
        labels.labels.names)
    assert centroid_mm(labels, "liver")[0] < 0 < centroid_mm(labels, "spleen")[0]
    liver = ct.array[mask_of(labels, "liver")]
    assert liver.mean() == pytest.approx(60.0, abs=0.5)
    mirrored = labels.array[:, :, ::-1]
    lungs_left, lungs_right = mask_of(labels, "lung_left"), mirrored == labels.labels.id_of(
        "lung_right")
    overlap = (lungs_left & lungs_right).sum() / lungs_left.sum()
    assert overlap > 0.6  # the lungs mirror each other roughly about the midline x = 0


def test_tissue_hu_overrides():
    ct, labels = thorax_phantom((24, 32, 32), (12.0, 10.0, 10.0), tissue_hu={"aorta": 40.0})
    assert ct.array[mask_of(labels, "aorta")].mean() == pytest.approx(40.0)
    assert labels.meta["nominal_hu"]["aorta"] == 40.0


@pytest.mark.parametrize("kwargs, words", [
    ({"shape": (10, 10)}, "shape must be 3 integers"),
    ({"spacing_mm": (1.0, 0.0, 1.0)}, "spacing_mm must be"),
    ({"noise_hu": -1.0}, "noise_hu must be"),
    ({"supersample": 0}, "supersample must be"),
    ({"lesions": [((0, 0, 0), 10.0)]}, "lesions must be"),
    ({"tissue_hu": {"bone": 500.0}}, "tissue_hu must be"),
    ({"center_mm": (0.0, np.nan, 0.0)}, "center_mm must be"),
])
def test_bad_parameters_are_named(kwargs, words):
    with pytest.raises(ValueError, match=words):
        thorax_phantom(**kwargs)


def test_bad_lesion_is_named():
    with pytest.raises(ValueError, match="Lesion.diameter_mm must be"):
        Lesion((0.0, 0.0, 0.0), -3.0)


def test_ellipsoidal_lesion_truth_has_axial_axes():
    truth = lesion_truth([Lesion((0.0, 0.0, 150.0), (12.0, 30.0, 40.0))])[0]
    assert (truth.axial_long_axis_mm, truth.axial_short_axis_mm) == (30.0, 12.0)
    assert truth.longest_diameter_mm == 40.0
    assert truth.volume_ml == pytest.approx(np.pi / 6 * 12 * 30 * 40 / 1000)
