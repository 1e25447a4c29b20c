"""Click-to-segment: phantom lesions, a lesion joined to a vessel by a thin neck, exclude clicks."""

import warnings

import numpy as np
import pytest

from hounsfield.data.anatomy import example_lesions, lesion_truth, thorax_phantom
from hounsfield.errors import HounsfieldWarning
from hounsfield.metrics import dice
from hounsfield.segment._morphology import component_labels
from hounsfield.segment.click import click
from hounsfield.volume import Volume

# -- the thorax phantom's lesions -------------------------------------------------------------


@pytest.fixture(scope="module")
def phantom():
    """Noisy phantom (15 HU) with a 16 mm lung nodule and a 24 mm liver lesion (contrast 40 HU)."""
    lesions = example_lesions()
    ct, labels = thorax_phantom(lesions=lesions, noise_hu=15.0)
    return ct, labels, lesion_truth(lesions)


@pytest.mark.parametrize("which", [0, 1])
def test_one_click_at_a_lesion_centre_segments_it(phantom, which):
    ct, labels, truths = phantom
    truth = truths[which]
    reference = labels.array == truth.label_id
    with warnings.catch_warnings():
        warnings.simplefilter("error", HounsfieldWarning)
        mask = click(ct, truth.center_mm)
    volume_ml = mask.sum() * ct.voxel_volume_ml
    assert dice(mask, reference) >= 0.85, truth.name
    assert volume_ml == pytest.approx(truth.volume_ml, rel=0.10), truth.name


def test_clicks_on_a_fine_grid_segment_the_lesion(phantom):
    """0.7 mm pixels, 1.25 mm slices, partial volume, around the liver lesion (noise 20 HU)."""
    truth = phantom[2][1]
    ct, labels = thorax_phantom((40, 80, 80), (1.25, 0.7, 0.7), lesions=example_lesions(),
                                noise_hu=20.0, supersample=2, center_mm=truth.center_mm)
    mask = click(ct, truth.center_mm)
    assert dice(mask, labels.array == truth.label_id) >= 0.9
    assert mask.sum() * ct.voxel_volume_ml == pytest.approx(truth.volume_ml, rel=0.10)


def test_a_high_contrast_outline_is_not_pulled_in_by_the_smoothing():
    """A lung nodule (880 HU above the lung) with partial volume: grown on the raw image at last."""
    truth = lesion_truth(example_lesions())[0]
    ct, labels = thorax_phantom((24, 40, 40), lesions=example_lesions(), noise_hu=15.0,
                                supersample=3, center_mm=truth.center_mm)
    assert dice(click(ct, truth.center_mm), labels.array == truth.label_id) >= 0.98


def test_several_clicks_in_one_lesion_give_one_connected_mask(phantom):
    ct, labels, truths = phantom
    truth = truths[1]
    centre = np.asarray(truth.center_mm)
    points = [centre, centre + (5.0, 0.0, 0.0), centre + (0.0, -4.0, 3.0)]
    mask = click(ct, points)
    _, counts = component_labels(mask)
    assert np.count_nonzero(counts) == 1
    assert dice(mask, labels.array == truth.label_id) >= 0.85


def test_clicks_in_two_lesions_give_both(phantom):
    ct, labels, truths = phantom
    mask = click(ct, [t.center_mm for t in truths])
    for truth in truths:
        own = labels.array == truth.label_id
        assert dice(mask & own, own) >= 0.85
    _, counts = component_labels(mask)
    assert np.count_nonzero(counts) == 2


# -- a lesion joined to a vessel of the same density by a thin neck --------------------------

SPACING_MM = (2.0, 0.8, 0.8)
SHAPE = (40, 112, 112)
LESION_RADIUS_MM, TUBE_RADIUS_MM, NECK_RADIUS_MM = 8.0, 3.0, 1.2
TUBE_Y_MM = 14.0


@pytest.fixture(scope="module")
def necked_lesion():
    """A 16 mm sphere at the origin, a 6 mm tube along x at y = 14 mm, a 2.4 mm neck between.

    All at 40 HU in lung (-850 HU) with 15 HU noise; returns (ct, lesion, tube, neck).
    """
    axes = [(np.arange(n) - n / 2) * s for n, s in zip(SHAPE, SPACING_MM, strict=True)]
    z, y, x = np.meshgrid(*axes, indexing="ij")
    lesion = x**2 + y**2 + z**2 <= LESION_RADIUS_MM**2
    tube = (y - TUBE_Y_MM) ** 2 + z**2 <= TUBE_RADIUS_MM**2
    neck = (x**2 + z**2 <= NECK_RADIUS_MM**2) & (y > 0) & (y < TUBE_Y_MM)
    hu = np.where(lesion | tube | neck, 40.0, -850.0)
    hu += np.random.default_rng(0).normal(0.0, 15.0, SHAPE)
    origin = (axes[2][0], axes[1][0], axes[0][0])
    ct = Volume(hu.astype(np.float32), spacing_mm=SPACING_MM, origin_mm=origin)
    return ct, lesion, tube, neck & ~lesion & ~tube


def test_without_leak_control_the_lesion_leaks_into_the_vessel(necked_lesion):
    ct, lesion, tube, _ = necked_lesion
    mask = click(ct, (0.0, 0.0, 0.0), max_radius_mm=40.0, leak_control=False)
    reach = np.linalg.norm(ct.index_to_world(np.argwhere(tube)), axis=1) <= 40.0 - 2.0
    assert (mask & tube).sum() >= 0.9 * np.count_nonzero(reach)
    assert dice(mask, lesion) < 0.8


def test_leak_control_cuts_the_neck(necked_lesion):
    ct, lesion, tube, _ = necked_lesion
    mask = click(ct, (0.0, 0.0, 0.0), max_radius_mm=40.0)
    assert not (mask & tube).any()
    assert dice(mask, lesion) >= 0.95


def test_an_exclude_click_on_the_vessel_removes_it(necked_lesion):
    ct, lesion, tube, neck = necked_lesion
    mask = click(ct, (0.0, 0.0, 0.0), max_radius_mm=40.0, leak_control=False,
                 exclude_points_mm=[(25.0, TUBE_Y_MM, 0.0)])
    assert not (mask & tube).any()
    assert (mask & neck).sum() <= 0.5 * neck.sum()
    assert dice(mask, lesion) >= 0.95


def test_an_exclude_click_outside_the_region_changes_nothing(necked_lesion):
    ct, _, _, _ = necked_lesion
    plain = click(ct, (0.0, 0.0, 0.0), max_radius_mm=40.0)
    excluded = click(ct, (0.0, 0.0, 0.0), max_radius_mm=40.0,
                     exclude_points_mm=[(0.0, -25.0, 0.0)])
    assert (plain == excluded).all()


def test_a_click_in_a_structure_larger_than_the_reach_warns_and_clips(necked_lesion):
    ct, _, tube, _ = necked_lesion
    with pytest.warns(HounsfieldWarning, match="max_radius_mm"):
        mask = click(ct, (0.0, TUBE_Y_MM, 0.0), max_radius_mm=20.0)
    click_mm = np.array([0.0, TUBE_Y_MM, 0.0])
    assert np.linalg.norm(ct.index_to_world(np.argwhere(mask)) - click_mm, axis=1).max() <= 20.0
    tube_mm = ct.index_to_world(np.argwhere(tube))
    in_reach = np.linalg.norm(tube_mm - click_mm, axis=1) <= 20.0 - 2.0
    assert mask[tube].sum() >= 0.9 * np.count_nonzero(in_reach)


# -- input -------------------------------------------------------------------------------------


def test_a_click_outside_the_grid_names_the_point_and_the_extent():
    ct = Volume(np.zeros((10, 20, 20), np.float32), spacing_mm=(2.0, 1.0, 1.0),
                origin_mm=(-10.0, -10.0, 100.0))
    with pytest.raises(ValueError, match=r"points_mm\[1\] = \(0\.0, 0\.0, 50\.0\) mm") as error:
        click(ct, [(0.0, 0.0, 110.0), (0.0, 0.0, 50.0)])
    assert "x -10.5 to 9.5, y -10.5 to 9.5, z 99.0 to 119.0 mm" in str(error.value)
    with pytest.raises(ValueError, match="exclude_points_mm"):
        click(ct, (0.0, 0.0, 110.0), exclude_points_mm=(0.0, 30.0, 110.0))


@pytest.mark.parametrize("kwargs, message", [
    ({"points_mm": []}, "points_mm"),
    ({"points_mm": [(1.0, 2.0)]}, "points_mm"),
    ({"points_mm": (np.nan, 0.0, 0.0)}, "points_mm"),
    ({"max_radius_mm": 0.0}, "max_radius_mm"),
    ({"tolerance_sd": -1.0}, "tolerance_sd"),
    ({"smoothing_mm": float("inf")}, "smoothing_mm"),
    ({"seed_radius_mm": True}, "seed_radius_mm"),
])
def test_bad_input_is_rejected(kwargs, message):
    ct = Volume(np.zeros((5, 5, 5), np.float32))
    kwargs = {"points_mm": (2.0, 2.0, 2.0), **kwargs}
    with pytest.raises(ValueError, match=message):
        click(ct, **kwargs)


def test_click_needs_a_volume():
    with pytest.raises(TypeError, match="Volume"):
        click(np.zeros((5, 5, 5)), (2.0, 2.0, 2.0))


def test_click_does_not_change_the_volume(necked_lesion):
    ct = necked_lesion[0]
    before = ct.array.copy()
    click(ct, (0.0, 0.0, 0.0), max_radius_mm=30.0)
    assert (ct.array == before).all()
