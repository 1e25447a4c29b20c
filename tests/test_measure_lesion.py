"""Lesion measurement: RECIST on rotated and oblique ellipsoids, phantom lesions, distances."""

from __future__ import annotations

import dataclasses
import itertools
import math

import numpy as np
import pytest

from _helpers import grid_around, rotation
from hounsfield.data.analytic import Ellipsoid
from hounsfield.data.anatomy import example_lesions, lesion_truth, thorax_phantom
from hounsfield.errors import HounsfieldWarning
from hounsfield.labels import LabelTable
from hounsfield.measure import (
    distance_between_masks_mm,
    distance_to_surface_mm,
    measure_lesion,
    recist_axes,
)
from hounsfield.volume import Volume


def rasterize(solid: Ellipsoid, grid: Volume) -> np.ndarray:
    """True at the voxels whose centres lie inside the ellipsoid."""
    index = np.stack(np.meshgrid(*[np.arange(n) for n in grid.shape], indexing="ij"), -1)
    world = grid.index_to_world(index.reshape(-1, 3))
    return solid.contains(*world.T).reshape(grid.shape)


def lesion_on(grid: Volume, solid: Ellipsoid, hu: float = 35.0):
    mask = rasterize(solid, grid)
    ct = grid.with_array(np.where(mask, hu, -850.0).astype(np.float32))
    return ct, mask


# -- RECIST -------------------------------------------------------------------------------------


@pytest.mark.parametrize("angle_rad", [0.0, 0.45, 1.2])
def test_recist_of_ellipsoid_turned_in_the_axial_plane(angle_rad):
    solid = Ellipsoid((10.0, -20.0, 50.0), (15.0, 7.0, 9.0), (angle_rad, 0.0, 0.0))
    grid = grid_around(solid.center_mm, 36.0, (2.0, 0.7, 0.7))
    ct, mask = lesion_on(grid, solid)
    axes = recist_axes(mask, ct)
    diagonal = math.hypot(0.7, 0.7)
    assert abs(axes["long_axis_mm"] - 30.0) < diagonal
    assert abs(axes["short_axis_mm"] - 14.0) < diagonal
    assert abs(axes["axial_slice_z_mm"] - 50.0) <= 1.0  # the slice through the centre
    first, second = np.asarray(axes["long_axis_ends_mm"])
    direction = (second - first)[:2] / np.linalg.norm(second - first)
    assert abs(abs(direction @ [math.cos(angle_rad), math.sin(angle_rad)]) - 1.0) < 0.01
    low, high = np.asarray(axes["short_axis_ends_mm"])
    assert abs((high - low) @ (second - first)) < 1e-6  # perpendicular


def test_recist_on_an_oblique_grid_uses_the_patient_axial_plane():
    # The voxel grid is tilted 30° and more: its slices cut the ellipsoid far from axially.
    solid = Ellipsoid((-30.0, 15.0, 80.0), (15.0, 8.0, 5.0), (0.6, 0.0, 0.0))
    direction = rotation((0.3, 0.55, 0.25))[:, ::-1]
    spacing = (1.2, 0.6, 0.6)
    grid = grid_around(solid.center_mm, 36.0, spacing, direction)
    ct, mask = lesion_on(grid, solid)
    axes = recist_axes(mask, ct)
    diagonal = float(np.linalg.norm(spacing))
    assert abs(axes["long_axis_mm"] - 30.0) < diagonal
    assert abs(axes["short_axis_mm"] - 16.0) < diagonal
    ends = np.asarray(axes["long_axis_ends_mm"] + axes["short_axis_ends_mm"])
    assert np.all(ends[:, 2] == axes["axial_slice_z_mm"])  # all four ends in one axial plane


@pytest.mark.parametrize("short_axis_mm, enlarged", [(9.9, False), (10.1, True)])
def test_lymph_node_rule_at_ten_millimetres(short_axis_mm, enlarged):
    solid = Ellipsoid((0.0, 0.0, 0.0), (6.0, short_axis_mm / 2, 2.0), (0.3, 0.0, 0.0))
    grid = grid_around(solid.center_mm, (5.0, 12.0, 13.0), (1.0, 0.03, 0.03))
    ct, mask = lesion_on(grid, solid)
    found = measure_lesion(ct, mask)
    assert found.short_axis_mm == pytest.approx(short_axis_mm, abs=0.05)
    assert found.lymph_node_short_axis_ge_10mm is enlarged
    assert found.to_dict()["lymph_node_short_axis_ge_10mm"] is enlarged
    assert dataclasses.replace(found, short_axis_mm=10.0).lymph_node_short_axis_ge_10mm


# -- the thorax phantom ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def phantom_lesions():
    ct, labels = thorax_phantom(lesions=example_lesions())
    found = {truth.name: (truth, measure_lesion(ct, labels.array == truth.label_id,
                                                labels=labels))
             for truth in lesion_truth(example_lesions())}
    return ct, labels, found


@pytest.mark.parametrize("name, location", [("lesion_1", "lung_right"), ("lesion_2", "liver")])
def test_phantom_lesion_sizes_place_and_hu(phantom_lesions, name, location):
    ct, _, found = phantom_lesions
    truth, lesion = found[name]
    in_plane = math.hypot(*ct.spacing_mm[1:])
    assert abs(lesion.long_axis_mm - truth.axial_long_axis_mm) < in_plane
    assert abs(lesion.short_axis_mm - truth.axial_short_axis_mm) < in_plane
    assert abs(lesion.longest_diameter_3d_mm - truth.longest_diameter_mm) < np.linalg.norm(
        ct.spacing_mm)
    assert lesion.volume_ml == pytest.approx(truth.volume_ml, rel=0.03)
    assert lesion.hu_mean == truth.hu and lesion.hu_sd == 0.0
    assert lesion.hu_histogram["counts"] == [lesion.voxel_count]
    assert lesion.sphericity == pytest.approx(1.0, abs=0.05)
    assert np.allclose(lesion.centroid_mm, truth.center_mm, atol=1.0)
    assert lesion.location == location and lesion.lobe is None
    assert lesion.laterality == "right" and lesion.laterality_reference == "label map"


def test_phantom_nodule_distances(phantom_lesions):
    _, labels, found = phantom_lesions
    truth, nodule = found["lesion_1"]
    # The nodule (centre x = -75 mm, radius 8) lies 17 mm in from the right lung's
    # ellipsoid (centre x = -68, semi-axis 60: surface x = -128) along x; the torso
    # wall cuts the lung closer still.
    assert 0.0 < nodule.distance_to_pleura_mm < 128 - 75 - 8
    airway = np.isin(labels.array, [labels.labels.id_of(n)
                                    for n in ("trachea", "bronchus_left", "bronchus_right")])
    lesion = labels.array == truth.label_id
    assert nodule.distance_to_airway_mm == distance_between_masks_mm(lesion, airway,
                                                                     labels.spacing_mm)
    assert nodule.distance_to_vessel_mm is not None  # the aorta is labelled


@pytest.mark.real
@pytest.mark.slow
def test_nodule_in_the_real_left_upper_lobe(chest_ct):
    ct, labels = chest_ct
    lobe = labels.array == labels.labels.id_of("lung_upper_lobe_left")
    centre = np.argwhere(lobe).mean(axis=0).round()
    k, j, i = np.ogrid[:ct.shape[0], :ct.shape[1], :ct.shape[2]]
    spacing = ct.spacing_mm
    nodule = (((k - centre[0]) * spacing[0]) ** 2 + ((j - centre[1]) * spacing[1]) ** 2
              + ((i - centre[2]) * spacing[2]) ** 2) <= 6.0 ** 2
    assert (nodule & lobe).sum() == nodule.sum()  # a 12 mm nodule inside the lobe
    found = measure_lesion(ct, nodule, labels=labels)
    assert (found.location, found.lobe) == ("lung_upper_lobe_left", "lung_upper_lobe_left")
    assert found.laterality == "left"  # the scan is stored LAS: world x must be read right
    assert abs(found.long_axis_mm - 12.0) < math.hypot(*spacing[1:])
    assert 0 < found.distance_to_pleura_mm < found.distance_to_airway_mm


# -- place and side -------------------------------------------------------------------------


def small_scene():
    """A left and a right 'lung' with lobe labels and a body, 1 mm voxels."""
    ids = np.zeros((20, 40, 60), np.uint8)
    ids[:, 5:35, 2:58] = 1  # body
    ids[2:18, 10:30, 6:26] = 2  # lung_upper_lobe_right (x < 30: patient's right)
    ids[2:18, 10:30, 34:54] = 3  # lung_upper_lobe_left
    table = LabelTable.from_names({1: "body", 2: "lung_upper_lobe_right",
                                   3: "lung_upper_lobe_left"})
    labels = Volume(ids, labels=table)
    return labels.with_array(np.where(ids >= 2, -850.0, 40.0).astype(np.float32), labels=None), \
        labels


def test_lobe_location_laterality_and_pleura_from_labels():
    ct, labels = small_scene()
    lesion = np.zeros(ct.shape, bool)
    lesion[8:11, 18:21, 12:15] = True  # in the right lobe, 6 voxels from its x = 5 side
    found = measure_lesion(ct, lesion, labels=labels)
    assert found.location == "lung_upper_lobe_right" and found.lobe == "lung_upper_lobe_right"
    assert found.laterality == "right"
    assert found.distance_to_pleura_mm == 6.0  # x = 6..11 lie between lesion and outside
    assert found.distance_to_airway_mm is None and found.distance_to_vessel_mm is None


def test_laterality_midline_and_world_x_fallback():
    ct, labels = small_scene()
    body = labels.array >= 1
    across = np.zeros(ct.shape, bool)
    across[8:11, 18:21, 28:32] = True  # the body's midline is x = 29.5
    assert measure_lesion(ct, across, body=body).laterality == "midline"
    left = np.zeros(ct.shape, bool)
    left[8:11, 18:21, 40:43] = True
    found = measure_lesion(ct, left, body=body)
    assert (found.laterality, found.laterality_reference) == ("left", "body mask")
    shifted = Volume(ct.array, origin_mm=(-50.0, 0.0, 0.0))  # x = -10..-8 mm: right of x = 0
    found = measure_lesion(shifted, left)
    assert (found.laterality, found.laterality_reference) == ("right", "world x = 0")


def test_lesion_on_another_grid_is_resampled_with_a_warning():
    ct, _ = small_scene()
    coarse = np.zeros((10, 20, 30), np.uint8)
    coarse[4:6, 9:11, 6:8] = 1
    lesion = Volume(coarse, spacing_mm=2.0, origin_mm=(0.5, 0.5, 0.5))
    with pytest.warns(HounsfieldWarning, match="lesion"):
        found = measure_lesion(ct, lesion)
    assert found.voxel_count == 64


def test_bad_lesions_are_refused():
    ct, _ = small_scene()
    with pytest.raises(ValueError, match="empty"):
        measure_lesion(ct, np.zeros(ct.shape, bool))
    with pytest.raises(ValueError, match="shape"):
        measure_lesion(ct, np.ones((2, 2, 2), bool))


# -- distances -------------------------------------------------------------------------------


def brute_force_gap_mm(a, b, spacing) -> float:
    """Shortest distance between the voxel boxes of two masks, over all pairs."""
    pa, pb = np.argwhere(a), np.argwhere(b)
    steps = np.maximum(np.abs(pa[:, None, :] - pb[None, :, :]) - 1, 0) * np.asarray(spacing)
    return float(np.sqrt((steps ** 2).sum(-1)).min())


@pytest.mark.parametrize("seed", range(4))
def test_distance_between_masks_equals_brute_force(seed):
    rng = np.random.default_rng(seed)
    a, b = np.zeros((2, 12, 30, 40), bool)
    for mask in (a, b):
        for _ in range(3):
            k, j, i = rng.integers(0, (12, 30, 40))
            mask[k, j, i:i + 3] = True
    spacing = (2.5, 0.7, 0.9)
    expected = 0.0 if (a & b).any() else brute_force_gap_mm(a, b, spacing)
    assert distance_between_masks_mm(a, b, spacing) == pytest.approx(expected, abs=1e-5)


def test_distance_between_masks_hand_cases():
    a, b = np.zeros((2, 3, 3, 80), bool)
    a[1, 1, 0] = True
    for i, expected in [(1, 0.0), (2, 0.5), (75, 37.0)]:  # touching, one voxel, far (box grows)
        b[:] = False
        b[1, 1, i] = True
        assert distance_between_masks_mm(a, b, (1.0, 1.0, 0.5)) == pytest.approx(expected)
    b[:] = False
    b[2, 2, 1] = True  # corner neighbour
    assert distance_between_masks_mm(a, b, 1.0) == 0.0
    assert distance_between_masks_mm(a, np.zeros_like(a), 1.0) is None


def test_distance_to_surface_inside_outside_and_across():
    lung = np.zeros((9, 9, 40), bool)
    lung[:, :, 10:30] = True
    lesion = np.zeros_like(lung)
    lesion[3:6, 3:6, 14:17] = True
    # Four 2 mm voxels of the lung (x = 10..13) lie between the lesion and the outside.
    assert distance_to_surface_mm(lesion, lung, (1.0, 1.0, 2.0)) == 8.0
    outside = np.zeros_like(lung)
    outside[4, 4, 33:35] = True
    assert distance_to_surface_mm(outside, lung, 1.0) == 3.0
    across = np.zeros_like(lung)
    across[4, 4, 28:32] = True
    assert distance_to_surface_mm(across, lung, 1.0) == 0.0
    assert distance_to_surface_mm(lesion, np.ones_like(lung), 1.0) is None


def test_pleural_distance_of_a_sphere_near_a_flat_lung_surface():
    spacing = (1.5, 0.8, 0.8)
    grid = grid_around((0.0, 0.0, 0.0), 40.0, spacing)
    x = grid.index_to_world(np.stack(np.meshgrid(*[np.arange(n) for n in grid.shape],
                                                 indexing="ij"), -1))[..., 0]
    lungs = x < 12.0
    for gap_mm in (2.0, 5.5):
        solid = Ellipsoid((12.0 - 6.0 - gap_mm, 0.0, 0.0), (6.0, 6.0, 6.0))
        ct, mask = lesion_on(grid, solid)
        found = measure_lesion(ct, mask, lungs=lungs)
        assert abs(found.distance_to_pleura_mm - gap_mm) < max(spacing)


def test_measurement_to_dict_has_units_in_keys():
    ct, _ = small_scene()
    lesion = np.zeros(ct.shape, bool)
    lesion[8:11, 18:21, 12:15] = True
    data = measure_lesion(ct, lesion, hu_bin_width=25.0).to_dict()
    unitless = {"voxel_count", "sphericity", "location", "lobe", "laterality",
                "laterality_reference", "lymph_node_short_axis_ge_10mm"}
    for key in data:
        assert key in unitless or key.startswith("hu_") or key.endswith(("_mm", "_ml", "_mm2"))
    assert data["hu_histogram"] == {"edges_hu": [-850.0, -825.0], "counts": [27]}
    assert list(itertools.chain(*data["long_axis_ends_mm"]))  # plain lists of numbers
