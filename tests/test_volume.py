"""Volume: construction, geometry (index ↔ LPS world), SimpleITK, crops, derived volumes."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import SimpleITK as sitk
from scipy.spatial.transform import Rotation

from hounsfield.labels import LabelTable
from hounsfield.volume import AXIAL_LPS, Volume

#: Direction of the usual NIfTI layout seen in LPS: columns toward R, rows toward A, slices S.
RAS = np.array([[0.0, 0.0, -1.0], [0.0, -1.0, 0.0], [1.0, 0.0, 0.0]])
#: A coronal DICOM series: columns toward L, rows toward I, slices toward P.
CORONAL = np.array([[0.0, 0.0, 1.0], [1.0, 0.0, 0.0], [0.0, -1.0, 0.0]])


def oblique(degrees=(17.0, -23.0, 31.0)) -> np.ndarray:
    """AXIAL_LPS turned by a rotation about x, y and z: an oblique (gantry-tilted) scan."""
    return Rotation.from_euler("xyz", degrees, degrees=True).as_matrix() @ AXIAL_LPS


DIRECTIONS = {"axial": AXIAL_LPS, "ras": RAS, "coronal": CORONAL, "oblique": oblique()}


def make_volume(shape=(5, 6, 7), dtype=np.float32, direction=AXIAL_LPS, seed=0, **geometry):
    rng = np.random.default_rng(seed)
    array = (rng.normal(size=shape) * 300).astype(dtype)
    geometry.setdefault("spacing_mm", (2.5, 0.7, 0.9))
    geometry.setdefault("origin_mm", (-120.5, 33.0, 871.25))
    return Volume(array, direction=direction, **geometry)


# -- construction ---------------------------------------------------------------


def test_default_geometry_is_an_axial_lps_unit_grid():
    vol = Volume(np.zeros((2, 3, 4)))
    assert vol.spacing_mm == (1.0, 1.0, 1.0)
    assert vol.origin_mm == (0.0, 0.0, 0.0)
    np.testing.assert_array_equal(vol.direction, AXIAL_LPS)
    assert vol.orientation == "LPS"
    assert vol.shape == (2, 3, 4)


def test_axial_lps_maps_slice_row_column_to_s_p_l():
    # array axis 0 (slice) → +z (S), axis 1 (row) → +y (P), axis 2 (column) → +x (L)
    np.testing.assert_array_equal(AXIAL_LPS[:, 0], [0, 0, 1])
    np.testing.assert_array_equal(AXIAL_LPS[:, 1], [0, 1, 0])
    np.testing.assert_array_equal(AXIAL_LPS[:, 2], [1, 0, 0])


def test_default_direction_is_not_shared_between_volumes():
    a, b = Volume(np.zeros((1, 1, 1))), Volume(np.zeros((1, 1, 1)))
    a.direction[0, 0] = 5.0
    np.testing.assert_array_equal(b.direction, AXIAL_LPS)
    np.testing.assert_array_equal(AXIAL_LPS[:, 2], [1, 0, 0])


def test_direction_passed_in_is_copied():
    direction = oblique()
    vol = Volume(np.zeros((2, 2, 2)), direction=direction)
    direction[:] = 0.0
    np.testing.assert_allclose(vol.direction, oblique())


def test_scalar_spacing_applies_to_every_axis():
    assert Volume(np.zeros((2, 2, 2)), spacing_mm=2.0).spacing_mm == (2.0, 2.0, 2.0)


def test_geometry_is_stored_as_python_floats():
    vol = Volume(np.zeros((2, 2, 2)), spacing_mm=np.array([1, 2, 3]), origin_mm=[4, 5, 6])
    assert vol.spacing_mm == (1.0, 2.0, 3.0) and vol.origin_mm == (4.0, 5.0, 6.0)
    assert all(type(v) is float for v in vol.spacing_mm + vol.origin_mm)


@pytest.mark.parametrize("shape", [(4, 4), (4,), (2, 3, 4, 1), ()])
def test_array_that_is_not_3d_is_rejected(shape):
    with pytest.raises(ValueError, match="array"):
        Volume(np.zeros(shape))


@pytest.mark.parametrize("spacing", [0.0, -1.0, (1.0, 0.0, 1.0), (1.0, 1.0, -0.5)])
def test_non_positive_spacing_is_rejected(spacing):
    with pytest.raises(ValueError, match="spacing_mm"):
        Volume(np.zeros((2, 2, 2)), spacing_mm=spacing)


@pytest.mark.parametrize("spacing", [(1.0, np.nan, 1.0), (np.inf, 1, 1), (1.0, 2.0), "abc"])
def test_malformed_spacing_is_rejected_by_name(spacing):
    with pytest.raises(ValueError, match="spacing_mm"):
        Volume(np.zeros((2, 2, 2)), spacing_mm=spacing)


@pytest.mark.parametrize("origin", [(0.0, np.nan, 0.0), (1.0, 2.0), (1, 2, 3, 4)])
def test_malformed_origin_is_rejected_by_name(origin):
    with pytest.raises(ValueError, match="origin_mm"):
        Volume(np.zeros((2, 2, 2)), origin_mm=origin)


@pytest.mark.parametrize(
    "direction",
    [
        2.0 * np.eye(3),  # not unit length
        [[1, 0.2, 0], [0, 1, 0], [0, 0, 1]],  # not orthogonal
        np.zeros((3, 3)),
        np.full((3, 3), np.nan),
        np.eye(2),  # wrong shape
        np.eye(4),
    ],
    ids=["scaled", "sheared", "zero", "nan", "2x2", "4x4"],
)
def test_direction_that_is_not_orthonormal_3x3_is_rejected(direction):
    with pytest.raises(ValueError, match="direction"):
        Volume(np.zeros((2, 2, 2)), direction=direction)


def test_left_handed_direction_is_accepted():
    # AXIAL_LPS swaps x and z: a reflection (det -1), and the most common direction of all.
    assert np.linalg.det(AXIAL_LPS) == pytest.approx(-1.0)
    assert Volume(np.zeros((2, 2, 2)), direction=np.eye(3)).orientation == "SPL"


# -- index ↔ world --------------------------------------------------------------


def test_index_to_world_worked_by_hand():
    vol = Volume(np.zeros((4, 5, 6)), spacing_mm=(2.5, 0.7, 0.5), origin_mm=(-10, 20, 30))
    # index (k, j, i) = (2, 3, 4): x = -10 + 4 * 0.5, y = 20 + 3 * 0.7, z = 30 + 2 * 2.5
    np.testing.assert_allclose(vol.index_to_world([2, 3, 4]), [-8.0, 22.1, 35.0])
    np.testing.assert_allclose(vol.world_to_index([-8.0, 22.1, 35.0]), [2, 3, 4])


def test_index_to_world_of_ras_volume_by_hand():
    # RAS: columns go toward R (−x), rows toward A (−y), slices toward S (+z).
    vol = Volume(np.zeros((4, 5, 6)), spacing_mm=(3.0, 2.0, 1.0), origin_mm=(5, 6, 7),
                 direction=RAS)
    np.testing.assert_allclose(vol.index_to_world([1, 1, 1]), [4.0, 4.0, 10.0])


def test_affine_worked_by_hand():
    vol = Volume(np.zeros((4, 5, 6)), spacing_mm=(2.5, 0.7, 0.5), origin_mm=(-10, 20, 30))
    expected = [[0, 0, 0.5, -10], [0, 0.7, 0, 20], [2.5, 0, 0, 30], [0, 0, 0, 1]]
    np.testing.assert_allclose(vol.affine, expected)


@pytest.mark.parametrize("name", DIRECTIONS)
def test_affine_agrees_with_index_to_world(name):
    vol = make_volume(direction=DIRECTIONS[name])
    index = np.random.default_rng(1).uniform(-3, 10, size=(50, 3))
    homogeneous = np.c_[index, np.ones(len(index))] @ vol.affine.T
    np.testing.assert_allclose(homogeneous[:, :3], vol.index_to_world(index), atol=1e-9)
    np.testing.assert_array_equal(homogeneous[:, 3], 1.0)


@pytest.mark.parametrize("name", DIRECTIONS)
def test_world_to_index_inverts_index_to_world(name):
    vol = make_volume(direction=DIRECTIONS[name])
    points = np.random.default_rng(2).uniform(-500, 500, size=(100, 3))
    np.testing.assert_allclose(vol.index_to_world(vol.world_to_index(points)), points, atol=1e-9)
    index = np.random.default_rng(3).uniform(-5, 50, size=(100, 3))
    np.testing.assert_allclose(vol.world_to_index(vol.index_to_world(index)), index, atol=1e-9)


def test_world_to_index_is_exact_for_a_direction_rounded_as_in_a_file():
    # Headers store direction cosines to ~6 digits: accepted (1e-4), so not quite orthonormal.
    direction = np.round(oblique(), 5) + 3e-5
    vol = Volume(np.zeros((2, 2, 2)), spacing_mm=0.5, origin_mm=(-250, -250, 1000),
                 direction=direction)
    index = np.array([[133.0, 511.0, 511.0], [0.0, 256.0, 3.0]])
    np.testing.assert_allclose(vol.world_to_index(vol.index_to_world(index)), index, atol=1e-9)


def test_index_to_world_broadcasts_over_leading_axes():
    vol = make_volume(direction=oblique())
    index = np.random.default_rng(4).uniform(0, 5, size=(2, 3, 4, 3))
    world = vol.index_to_world(index)
    assert world.shape == (2, 3, 4, 3)
    np.testing.assert_allclose(world[1, 2, 3], vol.index_to_world(index[1, 2, 3]))


def test_neighbouring_voxels_are_one_spacing_apart_along_their_direction():
    vol = make_volume(direction=oblique())
    start = vol.index_to_world([1, 2, 3])
    for axis in range(3):
        step = np.zeros(3)
        step[axis] = 1
        delta = vol.index_to_world([1, 2, 3] + step) - start
        np.testing.assert_allclose(delta, vol.spacing_mm[axis] * vol.direction[:, axis])


# -- SimpleITK --------------------------------------------------------------------


@pytest.mark.parametrize("shape", [(3, 5, 7), (4, 6, 8), (1, 2, 9)])
@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int16, np.uint8, np.int32, np.uint16])
def test_sitk_round_trip_keeps_array_bit_identical(shape, dtype):
    vol = make_volume(shape, dtype=dtype, direction=oblique())
    back = Volume.from_sitk(vol.to_sitk())
    assert back.array.dtype == vol.array.dtype
    np.testing.assert_array_equal(back.array, vol.array)
    assert back.array.tobytes() == vol.array.tobytes()


@pytest.mark.parametrize("name", DIRECTIONS)
def test_sitk_round_trip_keeps_geometry(name):
    vol = make_volume(direction=DIRECTIONS[name])
    back = Volume.from_sitk(vol.to_sitk())
    np.testing.assert_allclose(back.spacing_mm, vol.spacing_mm, rtol=1e-12)
    np.testing.assert_allclose(back.origin_mm, vol.origin_mm, rtol=1e-12)
    np.testing.assert_allclose(back.direction, vol.direction, atol=1e-12)
    assert back.same_grid(vol, tol_mm=1e-9)
    assert back.orientation == vol.orientation


@pytest.mark.parametrize("name", DIRECTIONS)
def test_sitk_physical_points_agree_with_index_to_world(name):
    vol = make_volume((4, 5, 6), direction=DIRECTIONS[name])
    image = vol.to_sitk()
    assert image.GetSize() == (6, 5, 4)  # SimpleITK sizes and indices are (i, j, k)
    for k, j, i in [(0, 0, 0), (3, 4, 5), (1, 0, 2), (2, 3, 0)]:
        expected = image.TransformContinuousIndexToPhysicalPoint((float(i), float(j), float(k)))
        np.testing.assert_allclose(vol.index_to_world([k, j, i]), expected, atol=1e-9)
        assert image.GetPixel(i, j, k) == vol.array[k, j, i]
    fractional = (2.25, 1.5, 0.75)  # (i, j, k)
    expected = image.TransformContinuousIndexToPhysicalPoint(fractional)
    np.testing.assert_allclose(vol.index_to_world(fractional[::-1]), expected, atol=1e-9)


def test_sitk_and_volume_agree_on_world_to_index():
    vol = make_volume((4, 5, 6), direction=oblique())
    image = vol.to_sitk()
    point = (-110.0, 40.0, 875.0)
    expected_ijk = image.TransformPhysicalPointToContinuousIndex(point)
    np.testing.assert_allclose(vol.world_to_index(point), expected_ijk[::-1], atol=1e-9)


def test_from_sitk_reads_an_image_built_with_sitk():
    image = sitk.Image(6, 5, 4, sitk.sitkInt16)  # size (i, j, k)
    image.SetSpacing((0.5, 0.7, 2.5))
    image.SetOrigin((1.0, 2.0, 3.0))
    image.SetPixel(5, 1, 2, 42)
    vol = Volume.from_sitk(image)
    assert vol.shape == (4, 5, 6)
    assert vol.spacing_mm == (2.5, 0.7, 0.5)
    assert vol.origin_mm == (1.0, 2.0, 3.0)
    assert vol.array[2, 1, 5] == 42 and vol.array.sum() == 42
    assert vol.orientation == "LPS"
    np.testing.assert_allclose(vol.index_to_world([2, 1, 5]), [3.5, 2.7, 8.0])


def test_from_sitk_passes_labels_through():
    table = LabelTable.from_names({1: "liver"})
    vol = Volume.from_sitk(make_volume(dtype=np.uint8).to_sitk(), labels=table)
    assert vol.labels is table and vol.is_label_map


def test_from_sitk_rejects_a_2d_image():
    with pytest.raises(ValueError, match="3D"):
        Volume.from_sitk(sitk.Image(4, 4, sitk.sitkFloat32))


@pytest.mark.parametrize(
    ("dtype", "sitk_dtype"), [(bool, np.uint8), (np.float16, np.float32), (">i2", np.int16)]
)
def test_to_sitk_converts_dtypes_sitk_lacks_without_changing_values(dtype, sitk_dtype):
    array = (np.arange(60).reshape(3, 4, 5) % 3).astype(dtype)
    image = Volume(array).to_sitk()
    values = sitk.GetArrayFromImage(image)
    assert values.dtype == sitk_dtype
    np.testing.assert_array_equal(values, array)


def test_to_sitk_of_a_non_contiguous_array():
    base = np.arange(4 * 6 * 8, dtype=np.float32).reshape(4, 6, 8)
    view = base[:, ::-2, 1::3]
    back = Volume.from_sitk(Volume(view).to_sitk())
    np.testing.assert_array_equal(back.array, view)


# -- sizes ------------------------------------------------------------------------


def test_extent_and_voxel_volume_by_hand():
    vol = Volume(np.zeros((10, 20, 30)), spacing_mm=(2.5, 0.5, 0.8))
    np.testing.assert_allclose(vol.extent_mm, (25.0, 10.0, 24.0))
    assert vol.voxel_volume_ml == pytest.approx(0.001)  # 2.5 × 0.5 × 0.8 mm³ = 1 mm³


def test_extent_spans_voxel_edges_not_centres():
    vol = make_volume((4, 5, 6), direction=oblique())
    first_edge = vol.index_to_world([-0.5, -0.5, -0.5])
    last_edge = vol.index_to_world(np.array(vol.shape) - 0.5)
    diagonal = np.linalg.norm(last_edge - first_edge)
    assert diagonal == pytest.approx(np.linalg.norm(vol.extent_mm))


# -- crops --------------------------------------------------------------------------


@pytest.mark.parametrize("name", DIRECTIONS)
def test_crop_keeps_every_voxel_at_its_world_position(name):
    vol = make_volume((6, 7, 8), direction=DIRECTIONS[name])
    lower, upper = np.array([1, 2, 3]), np.array([4, 7, 5])
    cropped = vol.crop(lower, upper)
    assert cropped.shape == (3, 5, 2)
    for index in itertools.product(*(range(n) for n in cropped.shape)):
        source = np.array(index) + lower
        assert cropped.array[index] == vol.array[tuple(source)]
        np.testing.assert_allclose(cropped.index_to_world(index), vol.index_to_world(source),
                                   atol=1e-9)
    assert cropped.spacing_mm == vol.spacing_mm
    np.testing.assert_array_equal(cropped.direction, vol.direction)


def test_crop_clips_bounds_to_the_array():
    vol = make_volume((6, 7, 8))
    cropped = vol.crop((-3, 2, 5), (4, 100, 8))
    assert cropped.shape == (4, 5, 3)
    np.testing.assert_array_equal(cropped.array, vol.array[0:4, 2:7, 5:8])
    np.testing.assert_allclose(cropped.origin_mm, vol.index_to_world([0, 2, 5]))


def test_crop_copies_the_voxels_and_meta():
    vol = make_volume()
    vol.meta["modality"] = "CT"
    cropped = vol.crop((0, 0, 0), (2, 2, 2))
    cropped.array[:] = 0
    cropped.meta["modality"] = "MR"
    assert vol.array[:2, :2, :2].any()
    assert vol.meta["modality"] == "CT"


def test_crop_to_mask_margin_in_mm_with_anisotropic_spacing():
    vol = Volume(np.zeros((20, 30, 25)), spacing_mm=(2.5, 0.7, 1.0), origin_mm=(7, -3, 11))
    mask = np.zeros(vol.shape, bool)
    mask[8:10, 10:14, 5:9] = True
    cropped = vol.crop_to_mask(mask, margin_mm=3.0)
    # 3 mm is ceil(3/2.5) = 2 slices, ceil(3/0.7) = 5 rows, 3 columns on each side
    assert cropped.shape == (2 + 4, 4 + 10, 4 + 6)
    np.testing.assert_allclose(cropped.origin_mm, vol.index_to_world([6, 5, 2]))


@pytest.mark.parametrize("margin_mm", [0.0, 0.5, 1.0, 2.4, 2.5, 7.0])
def test_crop_to_mask_keeps_every_voxel_within_the_margin_and_little_more(margin_mm):
    vol = make_volume((20, 30, 25), spacing_mm=(2.5, 0.7, 1.0), direction=oblique())
    mask = np.zeros(vol.shape, bool)
    mask[9, 12:14, 10] = True
    cropped = vol.crop_to_mask(mask, margin_mm)
    lower = np.round(vol.world_to_index(cropped.origin_mm)).astype(int)
    upper = lower + np.array(cropped.shape)
    first, last = np.array([9, 12, 10]), np.array([9, 13, 10])
    spacing = np.array(vol.spacing_mm)
    # every voxel within margin_mm (along each axis) of the mask's box is kept ...
    assert np.all((first - lower) * spacing >= margin_mm - 1e-9)
    assert np.all((upper - 1 - last) * spacing >= margin_mm - 1e-9)
    # ... and less than one voxel more
    assert np.all((first - lower) * spacing < margin_mm + spacing)
    assert np.all((upper - 1 - last) * spacing < margin_mm + spacing)
    np.testing.assert_array_equal(cropped.array, vol.array[tuple(map(slice, lower, upper))])


def test_crop_to_mask_without_margin_is_the_bounding_box():
    vol = make_volume((9, 10, 11))
    mask = np.zeros(vol.shape, bool)
    for point in [(2, 7, 3), (5, 1, 9), (3, 4, 4)]:
        mask[point] = True
    cropped = vol.crop_to_mask(mask)
    assert cropped.shape == (4, 7, 7)
    np.testing.assert_array_equal(cropped.array, vol.array[2:6, 1:8, 3:10])


def test_crop_to_mask_stops_at_the_array_border():
    vol = make_volume((6, 7, 8))
    mask = np.zeros(vol.shape, bool)
    mask[0, 6, 3] = True
    cropped = vol.crop_to_mask(mask, margin_mm=100.0)
    assert cropped.shape == vol.shape
    assert cropped.same_grid(vol)


def test_crop_to_mask_of_a_label_map_keeps_labels():
    table = LabelTable.from_names({3: "trachea"})
    labels = np.zeros((6, 7, 8), np.uint8)
    labels[2:4, 3, 3:6] = 3
    vol = Volume(labels, spacing_mm=(2.0, 1.0, 1.0), labels=table)
    cropped = vol.crop_to_mask(labels == 3, margin_mm=1.0)
    assert cropped.labels == table
    assert (cropped.array == 3).sum() == (labels == 3).sum()


def test_crop_to_mask_rejects_an_empty_mask():
    vol = make_volume()
    with pytest.raises(ValueError, match="empty"):
        vol.crop_to_mask(np.zeros(vol.shape, bool))


def test_crop_to_mask_rejects_a_mask_of_another_shape():
    vol = make_volume((5, 6, 7))
    with pytest.raises(ValueError, match="mask shape"):
        vol.crop_to_mask(np.ones((7, 6, 5), bool))


@pytest.mark.parametrize("margin_mm", [-1.0, np.nan, np.inf])
def test_crop_to_mask_rejects_a_bad_margin(margin_mm):
    vol = make_volume()
    with pytest.raises(ValueError, match="margin_mm"):
        vol.crop_to_mask(np.ones(vol.shape, bool), margin_mm)


# -- grids and derived volumes --------------------------------------------------------


def test_same_grid_of_an_identical_geometry():
    vol = make_volume(direction=oblique())
    twin = Volume(np.zeros(vol.shape, np.uint8), spacing_mm=vol.spacing_mm,
                  origin_mm=np.array(vol.origin_mm) + 1e-6, direction=vol.direction)
    assert vol.same_grid(twin) and twin.same_grid(vol)


@pytest.mark.parametrize(
    ("change", "same_within_1mm"),
    [
        ({"shape": (5, 6, 8)}, False),
        ({"origin_mm": (-120.5, 33.0, 871.35)}, True),
        ({"spacing_mm": (2.5, 0.7, 0.91)}, True),
        ({"direction": oblique((17.0, -23.0, 31.1))}, True),
        ({"direction": oblique() * [1, 1, -1]}, False),
    ],
    ids=["shape", "origin", "spacing", "rotation", "flip"],
)
def test_same_grid_detects_a_different_grid(change, same_within_1mm):
    vol = make_volume(direction=oblique())
    geometry = {"shape": vol.shape, "spacing_mm": vol.spacing_mm, "origin_mm": vol.origin_mm,
                "direction": vol.direction} | change
    other = Volume(np.zeros(geometry.pop("shape")), **geometry)
    assert not vol.same_grid(other)
    assert vol.same_grid(other, tol_mm=1.0) == same_within_1mm


def test_with_array_keeps_geometry_and_labels():
    table = LabelTable.from_names({1: "spleen"})
    vol = make_volume(direction=oblique(), dtype=np.uint8)
    vol.labels = table
    vol.meta["source"] = "test"
    new = vol.with_array(np.ones(vol.shape, np.uint8))
    assert new.same_grid(vol, tol_mm=0) and new.labels is table
    assert new.meta == {"source": "test"} and new.meta is not vol.meta
    assert new.direction is not vol.direction


def test_with_array_applies_changes_including_meta():
    vol = make_volume(dtype=np.uint8)
    vol.labels = LabelTable.from_names({1: "spleen"})
    new = vol.with_array(vol.array.astype(np.float32), labels=None, meta={"kind": "distance"})
    assert new.labels is None and not new.is_label_map
    assert new.meta == {"kind": "distance"}


def test_with_array_rejects_another_shape():
    vol = make_volume((5, 6, 7))
    with pytest.raises(ValueError, match="shape"):
        vol.with_array(np.zeros((7, 6, 5)))


def test_repr_of_an_image():
    vol = Volume(np.zeros((2, 3, 4), np.float32), spacing_mm=(2.5, 0.7, 0.7))
    assert repr(vol) == (
        "Volume(shape=(2, 3, 4), spacing_mm=(2.5, 0.7, 0.7), orientation='LPS', dtype=float32)"
    )


def test_repr_of_a_label_map_counts_its_labels():
    table = LabelTable.from_names({1: "spleen", 5: "liver"})
    vol = Volume(np.zeros((2, 3, 4), np.uint8), direction=RAS, labels=table)
    assert repr(vol) == (
        "Volume(shape=(2, 3, 4), spacing_mm=(1, 1, 1), orientation='RAS', dtype=uint8, labels=2)"
    )


def test_repr_never_prints_patient_identifiers():
    vol = Volume(np.zeros((1, 1, 1)), meta={"phi": {"PatientName": "Doe^Jane"}})
    assert "Doe" not in repr(vol)


def test_volumes_compare_by_identity():
    vol = Volume(np.zeros((2, 2, 2)))
    assert vol == vol and vol != Volume(np.zeros((2, 2, 2)))
