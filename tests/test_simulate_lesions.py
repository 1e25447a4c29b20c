"""Synthetic lesions: truth against analytic shapes, measurement, click segmentation, errors."""

import math
import warnings

import numpy as np
import pytest

from hounsfield.data.anatomy import thorax_phantom
from hounsfield.errors import HounsfieldWarning
from hounsfield.labels import LabelTable
from hounsfield.measure import measure_lesion
from hounsfield.metrics import dice
from hounsfield.segment._morphology import erode_mm
from hounsfield.segment.click import click
from hounsfield.simulate.lesions import (
    _axial_axes_exact,
    _axial_axes_on_grid,
    _make_shape,
    _texture,
    _volume_ml,
    insert_lesion,
)
from hounsfield.volume import AXIAL_LPS, Volume

LIVER_HU = 60.0  # the thorax phantom's liver


@pytest.fixture(scope="module")
def phantom():
    """The thorax phantom on its default grid (3 × 2.5 × 2.5 mm)."""
    return thorax_phantom()


@pytest.fixture(scope="module")
def fine_liver():
    """The phantom on a 1.5 × 1 × 1 mm grid around the liver (for lobulated shapes)."""
    return thorax_phantom((40, 80, 80), (1.5, 1.0, 1.0), center_mm=(-45.0, -5.0, 60.0))


def _diagonal_mm(volume: Volume) -> float:
    return float(np.linalg.norm(volume.spacing_mm))


# -- ellipsoids in the phantom's liver --------------------------------------------------------


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_ellipsoid_in_the_liver_matches_its_truth(phantom, seed):
    ct, labels = phantom
    liver = labels.array == labels.labels.id_of("liver")
    before = ct.array.copy()
    with warnings.catch_warnings():
        warnings.simplefilter("error", HounsfieldWarning)
        new, lesion = insert_lesion(ct, labels, "liver", diameter_mm=(24.0, 18.0, 15.0),
                                    rotation_deg=(10.0, 20.0, 30.0), seed=seed)
    assert np.array_equal(ct.array, before)  # the input is not modified
    assert new.same_grid(ct) and new.array.dtype == np.float32
    assert lesion.mask.any() and not np.any(lesion.mask & ~liver)
    assert lesion.organ == "liver" and lesion.shape == "ellipsoid" and lesion.seed == seed

    assert lesion.volume_ml == pytest.approx(4 / 3 * math.pi * 12 * 9 * 7.5 / 1000, rel=1e-12)
    mask_ml = lesion.voxel_count * ct.voxel_volume_ml
    assert mask_ml == pytest.approx(lesion.volume_ml, rel=0.04)
    assert lesion.diameters_mm == pytest.approx((24.0, 18.0, 15.0))
    assert lesion.longest_diameter_mm == pytest.approx(24.0)

    measured = measure_lesion(new, lesion.mask)
    tolerance = _diagonal_mm(ct)
    assert abs(measured.long_axis_mm - lesion.axial_long_axis_mm) <= tolerance
    assert abs(measured.short_axis_mm - lesion.axial_short_axis_mm) <= tolerance

    assert lesion.organ_hu == LIVER_HU and lesion.hu == LIVER_HU - 40.0
    changed = ct.index_to_world(np.argwhere(new.array != ct.array))
    assert np.linalg.norm(changed - lesion.center_mm, axis=1).max() <= 12.0 + 3.0 + tolerance
    assert new.meta["synthetic_lesions"] == [lesion.to_dict()]


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_mean_hu_of_the_core_is_the_organ_hu_plus_the_contrast(phantom, seed):
    """A 30 mm lesion: its core (voxels two layers in) holds some 450 voxels, so the mean of
    a 10 HU texture with 2 mm correlation is known to about ±1.3 HU (SD)."""
    ct, labels = phantom
    new, lesion = insert_lesion(ct, labels, "liver", diameter_mm=30.0, seed=seed)
    core = erode_mm(lesion.mask, 3.0, ct.spacing_mm)
    assert float(new.array[core].mean()) == pytest.approx(LIVER_HU - 40.0, abs=3.0)
    assert float(new.array[core].std()) == pytest.approx(10.0, rel=0.2)


def test_absolute_hu_and_sharp_edge_without_texture(phantom):
    ct, labels = phantom
    new, lesion = insert_lesion(ct, labels, "liver", diameter_mm=20.0, hu=100.0, margin_mm=0.0,
                                texture_hu=0.0, seed=4)
    assert lesion.hu == 100.0 and lesion.hu_contrast == pytest.approx(100.0 - LIVER_HU)
    core = erode_mm(lesion.mask, 3.0, ct.spacing_mm)
    assert np.all(new.array[core] == 100.0)
    # partial volume: edge voxels lie between the liver's and the lesion's HU
    edge = lesion.mask & ~core
    assert np.all((new.array[edge] >= LIVER_HU) & (new.array[edge] <= 100.0))
    assert np.any((new.array[edge] > LIVER_HU) & (new.array[edge] < 100.0))


def test_ellipsoid_on_an_oblique_grid_is_the_same_world_shape():
    direction = AXIAL_LPS @ np.linalg.qr(np.array([[1.0, 0.3, 0.1], [-0.2, 1.0, 0.25],
                                                  [0.1, -0.3, 1.0]]))[0]
    ct = Volume(np.full((40, 56, 56), 50.0, np.float32), spacing_mm=(1.5, 1.0, 1.2),
                origin_mm=(-30.0, -25.0, 10.0), direction=direction)
    labels = Volume(np.ones(ct.shape, np.uint8), spacing_mm=ct.spacing_mm,
                    origin_mm=ct.origin_mm, direction=direction,
                    labels=LabelTable.from_names({1: "liver"}))
    centre = ct.index_to_world((np.asarray(ct.shape) - 1) / 2)
    new, lesion = insert_lesion(ct, labels, "liver", diameter_mm=(22.0, 14.0, 12.0),
                                rotation_deg=(0.0, 0.0, 30.0), center_mm=centre)
    # the same ellipsoid written independently: long axis 30° from world x toward y
    offset = ct.index_to_world(np.argwhere(np.ones(ct.shape, bool))) - centre
    along = np.array([math.cos(math.pi / 6), math.sin(math.pi / 6), 0.0])
    across = np.array([-math.sin(math.pi / 6), math.cos(math.pi / 6), 0.0])
    inside = ((offset @ along / 11) ** 2 + (offset @ across / 7) ** 2
              + (offset[:, 2] / 6) ** 2 <= 1).reshape(ct.shape)
    assert np.array_equal(lesion.mask, inside)
    assert lesion.axial_long_axis_mm == pytest.approx(22.0)
    assert lesion.axial_short_axis_mm == pytest.approx(14.0)
    measured = measure_lesion(new, lesion.mask)
    assert abs(measured.long_axis_mm - 22.0) <= _diagonal_mm(ct)
    assert abs(measured.short_axis_mm - 14.0) <= _diagonal_mm(ct)
    assert np.allclose(measured.centroid_mm, centre, atol=0.5)


def test_labels_on_another_grid_are_resampled_with_a_warning(phantom):
    ct, _ = phantom
    _, coarse = thorax_phantom((48, 64, 64), (6.0, 5.0, 5.0))
    with pytest.warns(HounsfieldWarning, match="another grid"):
        _, lesion = insert_lesion(ct, coarse, "liver", diameter_mm=15.0, seed=1)
    liver = coarse.resample_like(ct, interpolation="nearest").array == coarse.labels.id_of("liver")
    assert lesion.mask.any() and not np.any(lesion.mask & ~liver)


def test_texture_has_the_asked_sd_and_correlation_length():
    texture = _texture((64, 64, 64), (1.0, 1.0, 1.0), 10.0, 2.0, np.random.default_rng(0))
    assert float(texture.std()) == pytest.approx(10.0, rel=0.05)
    assert abs(float(texture.mean())) < 0.5
    lag = 2  # voxels = 2 mm: the autocorrelation of a Gaussian of SD 2 mm is exp(-1/2) there
    correlation = float((texture[..., lag:] * texture[..., :-lag]).mean() / texture.var())
    assert correlation == pytest.approx(math.exp(-0.5), abs=0.05)


# -- lobulated shapes ---------------------------------------------------------------------


def test_grid_axes_and_quadrature_volume_agree_with_the_exact_ellipsoid():
    rng = np.random.default_rng(0)
    shape = _make_shape((0, 0, 0), np.array([24.0, 16.0, 10.0]), (25.0, 40.0, 15.0),
                        "ellipsoid", 0.0, rng)
    assert _axial_axes_on_grid(shape) == pytest.approx(_axial_axes_exact(shape), abs=0.05)


def test_lobulated_volume_by_quadrature_matches_a_fine_grid_count():
    shape = _make_shape((0, 0, 0), np.array([20.0, 16.0, 14.0]), (0, 0, 0), "lobulated", 0.3,
                        np.random.default_rng(5))
    step = 0.3
    axis = np.arange(-16.0, 16.0 + step / 2, step)
    z, y, x = np.meshgrid(axis, axis, axis, indexing="ij")
    points = np.stack([x.ravel(), y.ravel(), z.ravel()], axis=1)
    grid_ml = np.count_nonzero(shape.signed_distance_mm(points) <= 0) * step ** 3 / 1000
    assert _volume_ml(shape) == pytest.approx(grid_ml, rel=0.003)
    assert _volume_ml(shape) != pytest.approx(4 / 3 * math.pi * 10 * 8 * 7 / 1000, rel=0.01)


@pytest.mark.parametrize("seed", [0, 1])
def test_lobulated_lesion_truth_agrees_with_its_mask(fine_liver, seed):
    ct, labels = fine_liver
    liver = labels.array == labels.labels.id_of("liver")
    new, lesion = insert_lesion(ct, labels, "liver", diameter_mm=20.0, shape="lobulated",
                                lobulation=0.3, seed=seed)
    assert not np.any(lesion.mask & ~liver)
    assert lesion.voxel_count * ct.voxel_volume_ml == pytest.approx(lesion.volume_ml, rel=0.02)
    measured = measure_lesion(new, lesion.mask)
    assert measured.long_axis_mm == pytest.approx(lesion.axial_long_axis_mm, rel=0.04)
    assert measured.short_axis_mm == pytest.approx(lesion.axial_short_axis_mm, rel=0.04)
    assert measured.longest_diameter_3d_mm == pytest.approx(lesion.longest_diameter_mm, rel=0.04)
    assert max(lesion.diameters_mm) <= lesion.longest_diameter_mm + 1e-9


def test_lobulated_shapes_are_reproducible_and_differ_between_seeds(fine_liver):
    ct, labels = fine_liver
    centre = (-45.0, -5.0, 60.0)

    def insert(seed, shape="lobulated"):
        return insert_lesion(ct, labels, "liver", diameter_mm=18.0, shape=shape,
                             lobulation=0.3, center_mm=centre, seed=seed)

    first, again, other = insert(7), insert(7), insert(8)
    assert np.array_equal(first[0].array, again[0].array)
    assert first[1].to_dict() == again[1].to_dict()
    assert np.array_equal(first[1].mask, again[1].mask)
    assert dice(first[1].mask, other[1].mask) < 0.95
    assert first[1].axial_long_axis_mm != pytest.approx(other[1].axial_long_axis_mm, rel=1e-3)
    ellipsoid = insert(7, "ellipsoid")[1]
    assert dice(first[1].mask, ellipsoid.mask) < 0.95


# -- the real chest CT --------------------------------------------------------------------


@pytest.mark.real
def test_click_finds_a_lesion_inserted_in_the_real_liver(chest_ct):
    ct, labels = chest_ct
    lower, upper = (20, 240, 150), (52, 360, 330)  # the liver's middle, 80 × 84 × 127 mm
    ct, labels = ct.crop(lower, upper), labels.crop(lower, upper)
    new, lesion = insert_lesion(ct, labels, "liver", diameter_mm=15.0, hu_contrast=-50.0, seed=0)
    assert lesion.hu_contrast == pytest.approx(-50.0)
    found = click(new, [lesion.center_mm])
    volume_error = found.sum() * ct.voxel_volume_ml / lesion.volume_ml - 1
    assert dice(found, lesion.mask) >= 0.8
    assert abs(volume_error) <= 0.2


# -- errors -----------------------------------------------------------------------------


def test_unknown_organ_lists_the_known_names(phantom):
    ct, labels = phantom
    with pytest.raises(ValueError, match=r"unknown organ 'livr'.*liver.*lung_left"):
        insert_lesion(ct, labels, "livr")


def test_a_lesion_too_big_for_its_organ_is_refused(phantom):
    ct, labels = phantom
    with pytest.raises(ValueError, match="does not fit inside organ 'spleen'"):
        insert_lesion(ct, labels, "spleen", diameter_mm=80.0)


@pytest.mark.parametrize("change, message", [
    ({"diameter_mm": -5.0}, "diameter_mm must be one or three finite numbers > 0"),
    ({"diameter_mm": (10.0, float("nan"), 10.0)}, "diameter_mm"),
    ({"diameter_mm": "big"}, "diameter_mm"),
    ({"hu_contrast": float("nan")}, "hu_contrast must be a finite number"),
    ({"hu": float("inf")}, "hu must be a finite number"),
    ({"shape": "cube"}, "shape must be one of"),
    ({"lobulation": 0.8}, r"lobulation must be in \[0.0, 0.5\]"),
    ({"margin_mm": -1.0}, "margin_mm must be >= 0"),
    ({"texture_hu": float("nan")}, "texture_hu"),
    ({"texture_mm": 0.0}, "texture_mm must be > 0"),
    ({"rotation_deg": (0.0, 0.0)}, "rotation_deg"),
    ({"seed": -1}, "seed must be an integer >= 0"),
    ({"center_mm": (0.0, 0.0, 0.0)}, "does not lie inside organ 'liver'"),
    ({"diameter_mm": 0.5, "center_mm": (-45.0, -5.0, 60.0)}, "too small for the CT's voxels"),
])
def test_bad_parameters_are_refused_with_a_clear_message(phantom, change, message):
    ct, labels = phantom
    with pytest.raises(ValueError, match=message):
        insert_lesion(ct, labels, "liver", **change)


def test_bad_inputs_are_refused(phantom):
    ct, labels = phantom
    with pytest.raises(TypeError, match="ct must be a hounsfield Volume"):
        insert_lesion(ct.array, labels, "liver")
    plain = Volume(labels.array, spacing_mm=labels.spacing_mm, origin_mm=labels.origin_mm)
    with pytest.raises(ValueError, match="labels must be a label map"):
        insert_lesion(ct, plain, "liver")
