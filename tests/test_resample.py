"""Resampling to a spacing and onto another grid: geometry, exactness, label maps."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from hounsfield.labels import LabelTable
from hounsfield.resample import resample_like, resample_to_spacing
from hounsfield.volume import AXIAL_LPS, Volume

OBLIQUE = Rotation.from_euler("xyz", [10, -6, 25], degrees=True).as_matrix() @ AXIAL_LPS
#: world (x, y, z) mm → value: a linear function, reproduced exactly by linear interpolation
SLOPE, OFFSET = np.array([0.5, -0.25, 0.75]), 3.0


def ramp(points_mm: np.ndarray) -> np.ndarray:
    return points_mm @ SLOPE + OFFSET


def ramp_volume(shape=(12, 14, 10), spacing_mm=(2.0, 1.0, 1.5), direction=OBLIQUE,
                origin_mm=(-6.0, 4.0, -9.0)) -> Volume:
    vol = Volume(np.zeros(shape, np.float32), spacing_mm=spacing_mm, origin_mm=origin_mm,
                 direction=direction)
    return vol.with_array(ramp(vol.index_to_world(np.indices(shape).transpose(1, 2, 3, 0)))
                          .astype(np.float32))


def world_points(vol: Volume) -> np.ndarray:
    return vol.index_to_world(np.indices(vol.shape).transpose(1, 2, 3, 0))


def source_index(result: Volume, source: Volume) -> np.ndarray:
    """Fractional index in ``source`` of each voxel centre of ``result``; shape (z, y, x, 3)."""
    return source.world_to_index(world_points(result))


def inside(index: np.ndarray, shape, low: float, high: float) -> np.ndarray:
    return np.all((index >= low) & (index <= np.array(shape) - 1 + high), axis=-1)


def label_volume(dtype=np.uint8) -> Volume:
    rng = np.random.default_rng(3)
    coarse = rng.choice(np.array([0, 2, 5, 7]), size=(3, 4, 4))
    array = np.kron(coarse, np.ones((3, 3, 3), int)).astype(dtype)
    table = LabelTable.from_names({2: "liver", 5: "spleen", 7: "aorta"})
    return Volume(array, spacing_mm=(2.5, 0.8, 0.8), origin_mm=(10, -20, 30), direction=OBLIQUE,
                  labels=table)


# -- resample_to_spacing: grid ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("shape", "spacing", "new_spacing", "expected"),
    [
        ((10, 20, 20), (2.5, 0.5, 0.5), (1.0, 1.0, 1.0), (25, 10, 10)),
        ((7, 9, 11), (1.0, 1.0, 1.0), (3.0, 3.0, 3.0), (2, 3, 4)),
        ((8, 10, 12), (1.0, 0.7, 0.9), 2.0, (4, 4, 5)),
        ((1, 5, 6), (5.0, 1.0, 1.0), (10.0, 1.0, 1.0), (1, 5, 6)),
        ((3, 4, 5), (1.0, 1.0, 1.0), (100.0, 0.5, 1.0), (1, 8, 5)),
    ],
)
def test_new_shape_is_the_extent_over_the_spacing_rounded(shape, spacing, new_spacing, expected):
    vol = Volume(np.zeros(shape, np.float32), spacing_mm=spacing)
    out = resample_to_spacing(vol, new_spacing)
    assert out.shape == expected
    np.testing.assert_allclose(out.spacing_mm, np.broadcast_to(new_spacing, 3))


@pytest.mark.parametrize("shape", [(8, 10, 12), (7, 9, 11)])
@pytest.mark.parametrize("new_spacing", [(0.5, 0.5, 0.5), (2.0, 1.4, 1.8), (3.0, 0.8, 1.1)])
def test_field_of_view_stays_centred(shape, new_spacing):
    vol = Volume(np.zeros(shape, np.float32), spacing_mm=(1.0, 0.7, 0.9), origin_mm=(5, -7, 11),
                 direction=OBLIQUE)
    out = resample_to_spacing(vol, new_spacing)
    centre = vol.index_to_world((np.array(vol.shape) - 1) / 2)
    np.testing.assert_allclose(out.index_to_world((np.array(out.shape) - 1) / 2), centre,
                               atol=1e-9)
    np.testing.assert_allclose(out.direction, vol.direction)


@pytest.mark.parametrize("new_spacing", [(2.0, 1.4, 1.8), (0.5, 0.35, 0.3), (4.0, 0.7, 0.45)])
def test_outer_voxel_edges_stay_put_when_the_extent_divides_evenly(new_spacing):
    vol = Volume(np.zeros((8, 10, 12), np.float32), spacing_mm=(1.0, 0.7, 0.9),
                 origin_mm=(5, -7, 11), direction=OBLIQUE)
    out = resample_to_spacing(vol, new_spacing)
    np.testing.assert_allclose(out.extent_mm, vol.extent_mm)
    first_edge = np.full(3, -0.5)
    np.testing.assert_allclose(out.index_to_world(first_edge), vol.index_to_world(first_edge),
                               atol=1e-9)
    np.testing.assert_allclose(out.index_to_world(np.array(out.shape) - 0.5),
                               vol.index_to_world(np.array(vol.shape) - 0.5), atol=1e-9)


def test_origin_moves_by_half_the_change_in_spacing_by_hand():
    vol = Volume(np.zeros((10, 10, 10), np.float32), origin_mm=(0.0, 0.0, 0.0))
    out = resample_to_spacing(vol, (2.0, 1.0, 0.5))
    # first voxel edge stays at -0.5 mm: centres at -0.5 + new_spacing / 2
    assert out.origin_mm == pytest.approx((-0.25, 0.0, 0.5))


# -- resample_to_spacing: values ------------------------------------------------------------


@pytest.mark.parametrize("new_spacing", [(1.0, 0.8, 1.2), (3.0, 2.0, 2.5), (0.7, 0.45, 0.6)])
def test_linear_interpolation_reproduces_a_ramp_exactly_in_the_interior(new_spacing):
    vol = ramp_volume()
    out = resample_to_spacing(vol, new_spacing)
    interior = inside(source_index(out, vol), vol.shape, 0.0, 0.0)
    assert interior.sum() > 50
    np.testing.assert_allclose(out.array[interior], ramp(world_points(out))[interior], atol=2e-4)


@pytest.mark.parametrize("direction", [AXIAL_LPS, OBLIQUE], ids=["axial", "oblique"])
@pytest.mark.parametrize("spacing", [(1.0, 1.0, 1.0), (2.5, 0.7, 0.9)])
def test_halving_the_resolution_averages_each_2x2x2_block(direction, spacing):
    rng = np.random.default_rng(5)
    array = rng.normal(0, 100, size=(8, 10, 12)).astype(np.float32)
    vol = Volume(array, spacing_mm=spacing, origin_mm=(3, 1, 4), direction=direction)
    out = resample_to_spacing(vol, 2 * np.array(spacing))
    blocks = array.reshape(4, 2, 5, 2, 6, 2).mean(axis=(1, 3, 5))
    np.testing.assert_allclose(out.array, blocks, atol=1e-3)


def test_downsampling_keeps_the_mean_of_a_ramp():
    vol = ramp_volume(shape=(12, 14, 10), direction=AXIAL_LPS)
    out = resample_to_spacing(vol, (6.0, 2.0, 3.0))
    assert out.shape == (4, 7, 5)
    assert out.array.mean() == pytest.approx(vol.array.mean(), abs=1e-3)


def test_downsampling_keeps_the_mean_of_noise():
    rng = np.random.default_rng(6)
    vol = Volume(rng.normal(40, 20, size=(16, 32, 32)).astype(np.float32), spacing_mm=(2, 1, 1))
    out = resample_to_spacing(vol, (4.0, 2.0, 2.0))
    assert out.array.mean() == pytest.approx(vol.array.mean(), abs=1e-3)
    assert out.array.std() < 0.5 * vol.array.std()  # averaging 8 voxels: std / √8


def test_resampling_onto_its_own_grid_changes_nothing():
    vol = ramp_volume()
    same = resample_like(vol, vol)
    np.testing.assert_array_equal(same.array, vol.array)
    assert resample_to_spacing(vol, vol.spacing_mm).same_grid(vol, tol_mm=1e-9)


@pytest.mark.parametrize("dtype", [np.int16, np.float64, np.uint8, np.float32])
def test_images_come_back_as_float32(dtype):
    vol = Volume(np.full((4, 4, 4), 7, dtype), spacing_mm=1.0)
    for interpolation in (None, "linear", "bspline"):
        out = resample_to_spacing(vol, 0.5, interpolation=interpolation)
        assert out.array.dtype == np.float32
        np.testing.assert_allclose(out.array, 7.0, atol=1e-4)


def test_nearest_keeps_the_dtype_and_only_source_values():
    vol = Volume(np.random.default_rng(8).normal(size=(5, 6, 7)), direction=OBLIQUE)
    out = resample_to_spacing(vol, (0.6, 1.7, 0.8), interpolation="nearest")
    assert out.array.dtype == np.float64
    assert np.isin(out.array, vol.array).all()


def test_resample_leaves_the_source_alone_and_copies_meta():
    vol = ramp_volume()
    vol.meta["kind"] = "ct"
    before = vol.array.copy()
    out = resample_to_spacing(vol, 1.0)
    out.meta["kind"] = "changed"
    np.testing.assert_array_equal(vol.array, before)
    assert vol.meta == {"kind": "ct"}
    assert vol.spacing_mm == (2.0, 1.0, 1.5)


def test_volume_resample_method_is_resample_to_spacing():
    vol = ramp_volume()
    a, b = vol.resample((1.0, 2.0, 3.0)), resample_to_spacing(vol, (1.0, 2.0, 3.0))
    assert a.same_grid(b, tol_mm=0) and np.array_equal(a.array, b.array)


@pytest.mark.parametrize("spacing", [0.0, -1.0, (1.0, 0.0, 1.0), np.nan])
def test_non_positive_spacing_is_rejected(spacing):
    with pytest.raises(ValueError, match="spacing_mm"):
        resample_to_spacing(ramp_volume(), spacing)


@pytest.mark.parametrize("interpolation", ["cubic", "Linear", ""])
def test_unknown_interpolation_is_rejected(interpolation):
    with pytest.raises(ValueError, match="interpolation"):
        resample_to_spacing(ramp_volume(), 1.0, interpolation=interpolation)


# -- label maps ---------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [np.uint8, np.int16, np.uint16, np.int32])
@pytest.mark.parametrize("new_spacing", [(0.9, 0.5, 1.3), (5.0, 1.6, 1.6)])
def test_label_maps_stay_integer_without_new_ids(dtype, new_spacing):
    labels = label_volume(dtype)
    out = resample_to_spacing(labels, new_spacing)
    assert out.array.dtype == dtype
    assert set(np.unique(out.array)) <= {0, 2, 5, 7}
    assert out.labels == labels.labels


def test_label_map_values_are_the_nearest_source_voxel():
    labels = label_volume()
    reference = Volume(np.zeros((9, 11, 10)), spacing_mm=(1.3, 1.1, 0.9), origin_mm=(12, -19, 31))
    out = resample_like(labels, reference)
    index = source_index(out, labels)
    interior = inside(index, labels.shape, 0.0, 0.0)
    assert interior.sum() > 50
    nearest = np.round(index[interior]).astype(int)
    np.testing.assert_array_equal(out.array[interior], labels.array[tuple(nearest.T)])


def test_label_map_is_zero_outside():
    labels = label_volume()
    labels.array[...] = 5
    reference = Volume(np.zeros((6, 6, 6)), spacing_mm=2.0, origin_mm=(-30, -60, 0))
    out = resample_like(labels, reference)
    outside = ~inside(source_index(out, labels), labels.shape, -0.5 + 1e-3, 0.5 - 1e-3)
    assert outside.any()
    np.testing.assert_array_equal(out.array[outside], 0)


def test_a_label_map_can_be_interpolated_linearly_when_asked():
    out = resample_to_spacing(label_volume(), 0.7, interpolation="linear")
    assert out.array.dtype == np.float32
    assert not set(np.unique(out.array)) <= {0, 2, 5, 7}


def test_boolean_masks_stay_boolean():
    mask = Volume(label_volume().array == 5, spacing_mm=(2.5, 0.8, 0.8), direction=OBLIQUE)
    out = resample_to_spacing(mask, 1.0, interpolation="nearest")
    assert out.array.dtype == bool and out.array.any()


# -- resample_like --------------------------------------------------------------------------


@pytest.mark.parametrize("degrees", [0.0, 15.0, -33.0])
def test_resample_like_samples_a_ramp_at_the_reference_world_positions(degrees):
    source = ramp_volume(shape=(20, 24, 22), spacing_mm=(1.0, 1.0, 1.0))
    turn = Rotation.from_euler("zy", [degrees, degrees / 2], degrees=True).as_matrix()
    reference = Volume(np.zeros((14, 16, 15), np.int16), spacing_mm=(1.3, 1.1, 0.9),
                       origin_mm=np.array(source.origin_mm) + [2.3, -1.7, 0.9],
                       direction=turn @ source.direction)
    out = resample_like(source, reference)
    assert out.same_grid(reference) and out.array.dtype == np.float32
    interior = inside(source_index(out, source), source.shape, 0.0, 0.0)
    assert interior.sum() > 100
    np.testing.assert_allclose(out.array[interior], ramp(world_points(out))[interior], atol=2e-4)


def test_resample_like_fills_outside_with_the_darkest_value():
    source = ramp_volume(shape=(6, 6, 6), spacing_mm=1.0, direction=AXIAL_LPS)
    source.array[2, 2, 2] = -1024.0
    reference = Volume(np.zeros((8, 8, 8)), spacing_mm=2.0, origin_mm=(-9.0, -4.0, -20.0))
    out = resample_like(source, reference)
    index = source_index(out, source)
    outside = ~inside(index, source.shape, -0.5 - 1e-3, 0.5 + 1e-3)
    assert outside.sum() > 10 and (~outside).sum() > 10
    np.testing.assert_array_equal(out.array[outside], -1024.0)


def test_resample_like_keeps_source_labels_not_reference_labels():
    labels = label_volume()
    reference = Volume(np.zeros((4, 4, 4), np.uint8), labels=LabelTable.from_names({1: "x"}))
    assert resample_like(labels, reference).labels == labels.labels


def test_volume_resample_like_method_is_resample_like():
    source = ramp_volume()
    reference = Volume(np.zeros((5, 5, 5)), spacing_mm=1.7, origin_mm=(-3, 5, -8))
    a, b = source.resample_like(reference), resample_like(source, reference)
    assert a.same_grid(reference) and np.array_equal(a.array, b.array)
