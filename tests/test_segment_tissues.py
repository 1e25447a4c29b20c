"""Body-composition tissues: skeletal muscle, subcutaneous, torso and intermuscular fat."""

from __future__ import annotations

import math
import time

import numpy as np
import pytest

from hounsfield.data.anatomy import thorax_phantom
from hounsfield.metrics.overlap import dice
from hounsfield.segment import segment_body
from hounsfield.segment.tissues import (
    FAT_HU,
    MUSCLE_HU,
    TISSUE_NAMES,
    segment_tissues,
    tissue_areas_per_slice,
    tissue_volumes,
)
from hounsfield.volume import Volume

# -- concentric cylinders: exact volumes ------------------------------------------------------

SLICES, SLICE_MM, PIXEL_MM = 6, 5.0, 1.5
#: Outer radii (mm) of skin, subcutaneous fat, muscle wall and the fat inside it.
SKIN_R, FAT_R, MUSCLE_R, INNER_R = 120.0, 117.0, 100.0, 85.0
SKIN_HU, FAT_VALUE_HU, MUSCLE_VALUE_HU = 30.0, -100.0, 50.0


def _ring_ml(outer_mm: float, inner_mm: float = 0.0) -> float:
    """Exact volume (ml) of a ring of the cylinders' height."""
    return math.pi * (outer_mm**2 - inner_mm**2) * SLICES * SLICE_MM / 1000.0


def _cylinders(shape_yx=(200, 200), centre_mm=(0.0, 0.0)) -> tuple[Volume, np.ndarray]:
    """A trunk of concentric cylinders (skin, fat, muscle, fat) in air; and the radius map."""
    rows, cols = (np.arange(n) * PIXEL_MM - (n - 1) * PIXEL_MM / 2.0 for n in shape_yx)
    radius = np.hypot(rows[:, None] - centre_mm[0], cols[None, :] - centre_mm[1])
    slab = np.select([radius < INNER_R, radius < MUSCLE_R, radius < FAT_R, radius < SKIN_R],
                     [FAT_VALUE_HU, MUSCLE_VALUE_HU, FAT_VALUE_HU, SKIN_HU], -1000.0)
    hu = np.repeat(slab[None].astype(np.float32), SLICES, axis=0)
    return Volume(hu, spacing_mm=(SLICE_MM, PIXEL_MM, PIXEL_MM)), radius


def _volumes_ml(ct: Volume, tissues) -> dict[str, float]:
    return {name: float(mask.sum()) * ct.voxel_volume_ml for name, mask in tissues.items()}


def test_cylinders_give_their_exact_volumes():
    ct, _ = _cylinders()
    got = _volumes_ml(ct, segment_tissues(ct))
    expected = {"subcutaneous_fat": _ring_ml(FAT_R, MUSCLE_R),
                "skeletal_muscle": _ring_ml(MUSCLE_R, INNER_R), "torso_fat": _ring_ml(INNER_R)}
    for name, volume_ml in expected.items():
        assert got[name] == pytest.approx(volume_ml, rel=0.02), name
    assert got["intermuscular_fat"] < 0.01 * expected["torso_fat"]


def test_gap_in_the_muscle_wall_keeps_inner_fat_out_of_the_subcutaneous_layer():
    ct, radius = _cylinders()
    cols = (np.arange(ct.shape[2]) - (ct.shape[2] - 1) / 2.0) * PIXEL_MM
    gap = (radius >= INNER_R) & (radius < MUSCLE_R) & (np.abs(cols)[None, :] < 12.0)
    gap &= (np.arange(ct.shape[1]) < ct.shape[1] // 2)[:, None]
    ct.array[:, gap] = FAT_VALUE_HU  # a 24 mm gap, through the whole wall, on one side
    got = _volumes_ml(ct, segment_tissues(ct))
    gap_ml = float(gap.sum()) * SLICES * ct.voxel_volume_ml
    assert got["subcutaneous_fat"] <= _ring_ml(FAT_R, MUSCLE_R) + gap_ml
    assert got["torso_fat"] == pytest.approx(_ring_ml(INNER_R), rel=0.03)


def test_an_organ_against_the_wall_is_not_muscle():
    ct, radius = _cylinders()
    rows, cols = (np.arange(n) * PIXEL_MM - (n - 1) * PIXEL_MM / 2.0 for n in ct.shape[1:])
    organ = (np.hypot(rows[:, None] - 40.0, cols[None, :]) < 45.0) & (radius < INNER_R)
    ct.array[:, organ] = 60.0  # a liver-like organ filling the inside up to the wall
    tissues = segment_tissues(ct)
    organ_3d = np.broadcast_to(organ, ct.shape)
    assert (tissues["skeletal_muscle"] & organ_3d).sum() < 0.02 * organ_3d.sum()
    muscle_ml = _volumes_ml(ct, tissues)["skeletal_muscle"]
    assert muscle_ml == pytest.approx(_ring_ml(MUSCLE_R, INNER_R), rel=0.02)


def test_fat_and_muscle_of_an_arm_are_never_torso_fat():
    arm_centre_mm = (0.0, 190.0)
    ct, radius = _cylinders(shape_yx=(200, 300), centre_mm=(0.0, -40.0))
    rows, cols = (np.arange(n) * PIXEL_MM - (n - 1) * PIXEL_MM / 2.0 for n in ct.shape[1:])
    arm_radius = np.hypot(rows[:, None] - arm_centre_mm[0], cols[None, :] - arm_centre_mm[1] + 40)
    arm = np.select([arm_radius < 10.0, arm_radius < 30.0, arm_radius < 37.0, arm_radius < 40.0],
                    [1000.0, MUSCLE_VALUE_HU, FAT_VALUE_HU, SKIN_HU], np.nan)
    ct.array[:, ~np.isnan(arm)] = arm[~np.isnan(arm)]
    body = np.asarray(ct.array) > -500  # the arm is a body part of its own on these slices
    tissues = segment_tissues(ct, body=body)
    in_arm = np.broadcast_to(arm_radius < 40.0, ct.shape)
    arm_fat = np.broadcast_to((arm_radius >= 30.0) & (arm_radius < 37.0), ct.shape)
    arm_muscle = np.broadcast_to((arm_radius >= 10.0) & (arm_radius < 30.0), ct.shape)
    assert not (tissues["torso_fat"] & in_arm).any()
    assert (tissues["subcutaneous_fat"] & arm_fat).sum() >= 0.98 * arm_fat.sum()
    assert (tissues["skeletal_muscle"] & arm_muscle).sum() >= 0.95 * arm_muscle.sum()
    assert _volumes_ml(ct, tissues)["torso_fat"] == pytest.approx(_ring_ml(INNER_R), rel=0.02)


# -- thorax phantom: exact labels ---------------------------------------------------------------


@pytest.fixture(scope="module")
def phantom():
    """(ct, labels, tissues) of the default thorax phantom with 10 HU of noise."""
    ct, labels = thorax_phantom(noise_hu=10.0)
    return ct, labels, segment_tissues(ct)


@pytest.mark.parametrize("name", ["subcutaneous_fat", "torso_fat", "skeletal_muscle"])
def test_phantom_tissues_match_its_labels(phantom, name):
    # Fair: at 10 HU of noise every voxel of the phantom's fat (-100 HU) and muscle
    # (50 HU) lies inside its CT-number range, so the HU windows lose nothing. The
    # phantom's muscle includes the diaphragm, which lies inside the cavity here.
    ct, labels, tissues = phantom
    reference = labels.array == labels.labels.id_of(name)
    assert dice(tissues[name], reference) >= 0.9


def test_phantom_has_almost_no_intermuscular_fat(phantom):
    # The phantom has no fat between muscles: what is called so is misplaced torso fat.
    ct, labels, tissues = phantom
    torso_fat = labels.array == labels.labels.id_of("torso_fat")
    assert tissues["intermuscular_fat"].sum() < 0.05 * torso_fat.sum()


def test_tissues_are_disjoint_and_inside_the_body(phantom):
    ct, labels, tissues = phantom
    stacked = np.stack([tissues[name] for name in TISSUE_NAMES])
    assert stacked.sum(axis=0).max() <= 1
    assert not (stacked.any(axis=0) & ~segment_body(ct)).any()


def test_ct_numbers_stay_inside_each_tissue_range():
    ct, _ = thorax_phantom((32, 96, 96), (9.0, 3.5, 3.5), noise_hu=80.0)
    tissues = segment_tissues(ct)
    hu = np.asarray(ct.array)
    for name, (low, high) in (("skeletal_muscle", MUSCLE_HU), ("subcutaneous_fat", FAT_HU),
                              ("torso_fat", FAT_HU), ("intermuscular_fat", FAT_HU)):
        values = hu[tissues[name]]
        assert values.size > 0, name
        assert values.min() >= low and values.max() <= high, name


def test_custom_ranges_are_respected():
    ct, _ = thorax_phantom((32, 96, 96), (9.0, 3.5, 3.5), noise_hu=30.0)
    tissues = segment_tissues(ct, muscle_hu=(0.0, 100.0), fat_hu=(-150.0, -50.0))
    muscle = np.asarray(ct.array)[tissues["skeletal_muscle"]]
    fat = np.asarray(ct.array)[tissues["subcutaneous_fat"]]
    assert muscle.min() >= 0.0 and muscle.max() <= 100.0
    assert fat.min() >= -150.0 and fat.max() <= -50.0


def test_given_masks_are_used():
    ct, labels = thorax_phantom((32, 96, 96), (9.0, 3.5, 3.5), noise_hu=10.0)
    names = labels.labels
    lungs = np.isin(labels.array, [names.id_of("lung_left"), names.id_of("lung_right")])
    bone_names = [n for n in names.names if n.startswith(("vertebrae_", "rib_")) or n == "sternum"]
    bones = np.isin(labels.array, [names.id_of(n) for n in bone_names])
    body = segment_body(ct)
    tissues = segment_tissues(ct, body=body, lungs=lungs, bones=bones)
    reference = labels.array == names.id_of("skeletal_muscle")
    assert dice(tissues["skeletal_muscle"], reference) >= 0.9
    assert not (tissues["torso_fat"] & ~body).any()


# -- areas and volumes ------------------------------------------------------------------------


def test_slice_areas_add_up_to_the_volumes(phantom):
    ct, _, tissues = phantom
    rows = tissue_areas_per_slice(ct, tissues)
    volumes = tissue_volumes(ct, tissues)
    assert [row["slice_index"] for row in rows] == list(range(ct.shape[0]))
    assert [row["z_mm"] for row in rows] == pytest.approx(
        [ct.index_to_world([k, 0, 0])[2] for k in range(ct.shape[0])])
    for name in TISSUE_NAMES:
        area_ml = sum(row[f"{name}_area_cm2"] for row in rows) * ct.spacing_mm[0] / 10.0
        assert area_ml == pytest.approx(volumes[name]["volume_ml"], rel=1e-9)
        hu = np.asarray(ct.array, dtype=np.float64)[tissues[name]]
        assert volumes[name]["hu_mean"] == pytest.approx(hu.mean(), abs=1e-3)


def test_areas_and_volumes_by_hand():
    hu = np.array([[[-100.0, -50.0], [40.0, 60.0]], [[-80.0, 0.0], [10.0, 20.0]]], np.float32)
    ct = Volume(hu, spacing_mm=(2.0, 5.0, 10.0), origin_mm=(0.0, 0.0, 30.0))
    fat = hu < -40
    rows = tissue_areas_per_slice(ct, {"fat": fat})
    assert rows[0] == {"slice_index": 0, "z_mm": 30.0, "fat_area_cm2": 1.0, "fat_hu_mean": -75.0}
    assert rows[1] == {"slice_index": 1, "z_mm": 32.0, "fat_area_cm2": 0.5, "fat_hu_mean": -80.0}
    volume = tissue_volumes(ct, {"fat": fat})["fat"]
    assert volume["volume_ml"] == pytest.approx(0.3)
    assert volume["hu_mean"] == pytest.approx(-230 / 3)
    top_only = np.zeros(hu.shape, bool)
    top_only[1, 1, 1] = True
    row = tissue_areas_per_slice(ct, {"one": top_only})[0]
    assert row["one_area_cm2"] == 0.0 and math.isnan(row["one_hu_mean"])
    empty = tissue_volumes(ct, {"none": np.zeros(hu.shape, bool)})["none"]
    assert empty["volume_ml"] == 0.0 and math.isnan(empty["hu_mean"])


# -- edge cases and input checks ------------------------------------------------------------


def test_empty_body_gives_empty_masks():
    ct = Volume(np.full((3, 16, 16), -1000.0, np.float32))
    tissues = segment_tissues(ct)
    assert set(tissues) == set(TISSUE_NAMES)
    assert all(mask.shape == ct.shape and not mask.any() for mask in tissues.values())


@pytest.mark.parametrize("shape", [(1, 1, 1), (1, 3, 2), (2, 5, 7)])
def test_tiny_inputs_do_not_crash(shape):
    ct = Volume(np.full(shape, 40.0, np.float32), spacing_mm=(3.0, 0.7, 0.7))
    tissues = segment_tissues(ct, body=np.ones(shape, bool))
    assert all(mask.shape == shape for mask in tissues.values())


def test_other_in_plane_orientations_give_the_same_tissues():
    ct, _ = thorax_phantom((24, 80, 96), (12.0, 4.0, 4.0), noise_hu=10.0)
    reference = segment_tissues(ct)
    flipped = ct.reorient("LAS")  # rows run from back to front
    swapped = Volume(np.swapaxes(ct.array, 1, 2).copy(), spacing_mm=(12.0, 4.0, 4.0),
                     origin_mm=ct.origin_mm, direction=ct.direction[:, [0, 2, 1]])
    for other, undo in ((flipped, lambda m: m[:, ::-1]), (swapped, lambda m: np.swapaxes(m, 1, 2))):
        tissues = segment_tissues(other)
        for name in TISSUE_NAMES:
            assert dice(undo(tissues[name]), reference[name], empty_both=1.0) >= 0.98, name


def test_bad_inputs_are_refused_with_the_parameter_named():
    ct, _ = thorax_phantom((8, 32, 32), (20.0, 10.0, 10.0))
    with pytest.raises(TypeError, match="ct must be a hounsfield Volume"):
        segment_tissues(np.zeros((4, 4, 4)))
    with pytest.raises(ValueError, match="muscle_hu"):
        segment_tissues(ct, muscle_hu=(150.0, -29.0))
    with pytest.raises(ValueError, match="fat_hu must lie below muscle_hu"):
        segment_tissues(ct, fat_hu=(-190.0, 0.0))
    with pytest.raises(ValueError, match="body must be a mask of the CT's shape"):
        segment_tissues(ct, body=np.ones((2, 2, 2), bool))
    with pytest.raises(TypeError, match="lungs must be a boolean"):
        segment_tissues(ct, lungs=np.zeros(ct.shape, np.float32))
    with pytest.raises(ValueError, match="wall_thickness_mm must be a positive"):
        segment_tissues(ct, wall_thickness_mm=-1.0)
    sagittal = Volume(np.zeros((4, 4, 4), np.float32), direction=np.eye(3))  # axis 0 along x
    with pytest.raises(ValueError, match="axial slices"):
        segment_tissues(sagittal)
    with pytest.raises(TypeError, match="tissues must be a non-empty dict"):
        tissue_volumes(ct, {})


# -- the real chest CT ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def chest_tissues(chest_ct):
    """(ct, labels, tissues, seconds) of the example chest CT."""
    ct, labels = chest_ct
    body = segment_body(ct)
    start = time.perf_counter()
    tissues = segment_tissues(ct, body=body)
    return ct, labels, tissues, time.perf_counter() - start


def _reference(labels: Volume, *names: str) -> np.ndarray:
    return np.isin(labels.array, [labels.labels.id_of(name) for name in names])


@pytest.mark.real
@pytest.mark.slow
def test_chest_ct_muscle_covers_the_paraspinal_muscles(chest_tissues):
    ct, labels, tissues, seconds = chest_tissues
    autochthon = _reference(labels, "autochthon_left", "autochthon_right")
    covered = (tissues["skeletal_muscle"] & autochthon).sum() / autochthon.sum()
    print(f"\nautochthon covered by skeletal_muscle: {covered:.3f}; "
          f"segment_tissues on {ct.shape}: {seconds:.2f} s")
    assert covered >= 0.8


@pytest.mark.real
@pytest.mark.slow
def test_chest_ct_tissues_stay_out_of_the_organs(chest_tissues):
    ct, labels, tissues, _ = chest_tissues
    inner = _reference(labels, "heart", "liver", "lung_upper_lobe_left", "lung_lower_lobe_left",
                       "lung_upper_lobe_right", "lung_middle_lobe_right",
                       "lung_lower_lobe_right")
    assert (tissues["subcutaneous_fat"] & inner).sum() * ct.voxel_volume_ml < 1.0
    organs = _reference(labels, "heart", "liver", "spleen", "kidney_left", "kidney_right",
                        "stomach", "colon", "pancreas", "small_bowel", "duodenum", "aorta",
                        "esophagus", "spinal_cord")
    muscle = tissues["skeletal_muscle"]
    assert (muscle & organs).sum() < 0.04 * muscle.sum()


@pytest.mark.real
@pytest.mark.slow
def test_chest_ct_volumes_and_the_L1_level(chest_tissues):
    ct, labels, tissues, _ = chest_tissues
    hu = np.asarray(ct.array)
    for name, (low, high) in (("skeletal_muscle", MUSCLE_HU), ("torso_fat", FAT_HU)):
        values = hu[tissues[name]]
        assert values.min() >= low and values.max() <= high
    volumes = tissue_volumes(ct, tissues)
    l1 = _reference(labels, "vertebrae_L1")
    level = int(round(np.nonzero(l1)[0].mean()))
    row = tissue_areas_per_slice(ct, tissues)[level]
    print("\n" + "\n".join(f"{name}: {v['volume_ml']:.0f} ml, {v['hu_mean']:.1f} HU"
                           for name, v in volumes.items()))
    print(f"L1 (slice {level}, z {row['z_mm']:.1f} mm): " + ", ".join(
        f"{name} {row[name + '_area_cm2']:.1f} cm² {row[name + '_hu_mean']:.1f} HU"
        for name in TISSUE_NAMES))
    assert all(volumes[name]["volume_ml"] > 100.0 for name in TISSUE_NAMES)
    assert 40.0 < row["skeletal_muscle_area_cm2"] < 250.0
    assert row["subcutaneous_fat_area_cm2"] > 10.0 and row["torso_fat_area_cm2"] > 10.0
