"""Orientation codes and exact reorientation."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from hounsfield.labels import LabelTable
from hounsfield.orient import orientation_code, reorient
from hounsfield.volume import AXIAL_LPS, Volume

#: All 48 codes: each of L/R, P/A, S/I once, in any order.
ALL_CODES = [
    "".join(letters)
    for pairs in itertools.permutations(["LR", "PA", "SI"])
    for letters in itertools.product(*pairs)
]
WORLD_AXIS = {"L": 0, "R": 0, "P": 1, "A": 1, "S": 2, "I": 2}
SIGN = {"L": 1, "R": -1, "P": 1, "A": -1, "S": 1, "I": -1}


def direction_of(code: str) -> np.ndarray:
    """Direction matrix (columns = array axes z, y, x) of an exact orientation code."""
    direction = np.zeros((3, 3))
    for array_axis, letter in zip((2, 1, 0), code, strict=True):  # code is (i, j, k)
        direction[WORLD_AXIS[letter], array_axis] = SIGN[letter]
    return direction


def tilted(degrees, axis="x") -> np.ndarray:
    return Rotation.from_euler(axis, degrees, degrees=True).as_matrix() @ AXIAL_LPS


def is_valid_code(code: str) -> bool:
    return len(code) == 3 and sorted(WORLD_AXIS[c] for c in code) == [0, 1, 2]


@pytest.fixture(params=[(3, 4, 5), (4, 1, 6)], ids=["odd-even-odd", "singleton-row"])
def volume(request):
    """Distinct spacing per axis, an oblique direction, random int values."""
    rng = np.random.default_rng(7)
    direction = Rotation.from_euler("xyz", [12, -8, 20], degrees=True).as_matrix() @ AXIAL_LPS
    return Volume(rng.integers(-1000, 1000, size=request.param).astype(np.int16),
                  spacing_mm=(2.5, 0.7, 1.1), origin_mm=(-40.0, 12.5, 300.0),
                  direction=direction, meta={"series": "a"})


def test_there_are_48_distinct_valid_codes():
    assert len(set(ALL_CODES)) == 48 and all(is_valid_code(c) for c in ALL_CODES)


# -- orientation_code ---------------------------------------------------------------


def test_axial_dicom_is_lps():
    assert orientation_code(AXIAL_LPS) == "LPS"


def test_usual_nifti_layout_is_ras():
    ras = np.array([[0.0, 0.0, -1.0], [0.0, -1.0, 0.0], [1.0, 0.0, 0.0]])
    assert orientation_code(ras) == "RAS"


def test_coronal_dicom_series():
    # ImageOrientationPatient rows (1,0,0), columns (0,0,-1); slices along their cross product +y.
    coronal = np.array([[0.0, 0.0, 1.0], [1.0, 0.0, 0.0], [0.0, -1.0, 0.0]])
    assert orientation_code(coronal) == "LIP"


def test_identity_direction_means_array_axes_are_x_y_z():
    # array axis 0 (slice) is +x (L), 1 (row) +y (P), 2 (column) +z (S)
    assert orientation_code(np.eye(3)) == "SPL"


@pytest.mark.parametrize("code", ALL_CODES)
def test_code_of_an_exact_direction(code):
    assert orientation_code(direction_of(code)) == code


@pytest.mark.parametrize("degrees", [-40.0, -15.0, 5.0, 30.0, 44.0])
@pytest.mark.parametrize("axis", ["x", "y", "z"])
def test_oblique_scan_gets_the_nearest_code(degrees, axis):
    assert orientation_code(tilted(degrees, axis)) == "LPS"


def test_oblique_past_45_degrees_changes_axis():
    # tilted 60° about x (toward the patient's head): rows now run mostly along ∓z
    assert orientation_code(tilted(60.0, "x")) == "LSA"
    assert orientation_code(tilted(-60.0, "x")) == "LIP"


@pytest.mark.parametrize("axis", ["x", "y", "z"])
def test_exact_45_degree_oblique_still_gets_a_valid_code(axis):
    code = orientation_code(tilted(45.0, axis))
    assert is_valid_code(code)
    unmoved = {"x": (0, "L"), "y": (1, "P"), "z": (2, "S")}[axis]  # (position in code, letter)
    assert code[unmoved[0]] == unmoved[1]


def test_every_rotation_gets_a_valid_code_with_matching_signs():
    rotations = Rotation.random(300, random_state=11).as_matrix()
    for rotation in rotations:
        direction = rotation @ AXIAL_LPS
        code = orientation_code(direction)
        assert is_valid_code(code), (code, direction)
        for letter, array_axis in zip(code, (2, 1, 0), strict=True):
            assert np.sign(direction[WORLD_AXIS[letter], array_axis]) == SIGN[letter]


def test_dominant_cosines_decide_the_code():
    # every column has a cosine > 0.8 with one world axis: that axis is the answer
    rotations = Rotation.random(300, random_state=12).as_matrix()
    for rotation in rotations:
        direction = rotation @ AXIAL_LPS
        if np.abs(direction).max(axis=0).min() > 0.8:
            code = orientation_code(direction)
            for letter, array_axis in zip(code, (2, 1, 0), strict=True):
                assert abs(direction[WORLD_AXIS[letter], array_axis]) > 0.8


def test_volume_orientation_uses_orientation_code():
    assert Volume(np.zeros((1, 1, 1)), direction=direction_of("AIR")).orientation == "AIR"


# -- reorient -------------------------------------------------------------------------


def test_reorient_lps_to_ras_by_hand():
    vol = Volume(np.arange(24).reshape(2, 3, 4), spacing_mm=(2.0, 3.0, 4.0))
    ras = reorient(vol, "RAS")
    np.testing.assert_array_equal(ras.array, vol.array[:, ::-1, ::-1])
    # the new first voxel is the old [0, 2, 3]: x = 3 * 4 mm, y = 2 * 3 mm
    assert ras.origin_mm == (12.0, 6.0, 0.0)
    assert ras.spacing_mm == (2.0, 3.0, 4.0)
    np.testing.assert_array_equal(ras.direction, direction_of("RAS"))


def test_reorient_to_array_axes_x_y_z_by_hand():
    vol = Volume(np.arange(24).reshape(2, 3, 4), spacing_mm=(2.0, 3.0, 4.0), origin_mm=(1, 2, 3))
    spl = reorient(vol, "SPL")
    np.testing.assert_array_equal(spl.array, vol.array.transpose(2, 1, 0))
    assert spl.spacing_mm == (4.0, 3.0, 2.0)
    assert spl.origin_mm == (1.0, 2.0, 3.0)
    np.testing.assert_array_equal(spl.direction, np.eye(3))


@pytest.mark.parametrize("code", ALL_CODES)
def test_reorient_to_every_code_and_back_is_bit_identical(volume, code):
    there = reorient(volume, code)
    assert there.orientation == code
    back = reorient(there, volume.orientation)
    assert back.array.dtype == volume.array.dtype
    assert back.array.tobytes() == volume.array.tobytes()
    assert back.spacing_mm == volume.spacing_mm
    np.testing.assert_allclose(back.origin_mm, volume.origin_mm, atol=1e-9)
    np.testing.assert_allclose(back.direction, volume.direction, atol=1e-12)


@pytest.mark.parametrize("code", ALL_CODES)
def test_reorient_keeps_every_value_at_its_world_position(volume, code):
    moved = reorient(volume, code)
    index = np.indices(moved.shape).reshape(3, -1).T
    source = volume.world_to_index(moved.index_to_world(index))
    np.testing.assert_allclose(source, np.round(source), atol=1e-9)  # lands on voxel centres
    source = np.round(source).astype(int)
    assert sorted(map(tuple, source)) == sorted(np.ndindex(volume.shape))  # a bijection
    np.testing.assert_array_equal(moved.array[tuple(index.T)], volume.array[tuple(source.T)])


@pytest.mark.parametrize("code", ALL_CODES)
def test_reorient_moves_spacing_with_its_axis(volume, code):
    moved = reorient(volume, code)
    pairs = sorted(zip(moved.shape, moved.spacing_mm, strict=True))
    assert pairs == sorted(zip(volume.shape, volume.spacing_mm, strict=True))
    assert moved.same_grid(reorient(moved, code), tol_mm=1e-12)


def test_reorient_to_the_current_code_changes_nothing(volume):
    same = reorient(volume, volume.orientation)
    assert same.array.tobytes() == volume.array.tobytes()
    assert same.same_grid(volume, tol_mm=1e-12)


def test_reorient_keeps_labels_meta_and_copies_meta(volume):
    volume.labels = LabelTable.from_names({1: "aorta"})
    moved = reorient(volume, "RAS")
    assert moved.labels == volume.labels
    moved.meta["series"] = "b"
    assert volume.meta == {"series": "a"}


def test_reorient_returns_a_contiguous_array_and_leaves_the_source(volume):
    before = volume.array.copy()
    moved = reorient(volume, "AIR")
    assert moved.array.flags.c_contiguous
    moved.array[...] = 0
    np.testing.assert_array_equal(volume.array, before)


def test_reorient_accepts_lower_case(volume):
    assert reorient(volume, "ras").orientation == "RAS"


def test_reorient_of_a_45_degree_oblique(volume):
    vol = Volume(volume.array, direction=tilted(45.0, "x"))
    moved = reorient(vol, "RAS")
    assert moved.orientation == "RAS"
    assert reorient(moved, vol.orientation).array.tobytes() == vol.array.tobytes()


def test_volume_reorient_method_defaults_to_lps():
    vol = Volume(np.arange(8).reshape(2, 2, 2), direction=direction_of("RAS"))
    assert vol.reorient().orientation == "LPS"
    np.testing.assert_array_equal(vol.reorient().array, vol.array[:, ::-1, ::-1])


@pytest.mark.parametrize("code", ["LLS", "XYZ", "LP", "", "LPSI", "LPX", "RLA", "SS", 5, None])
def test_invalid_codes_are_rejected(volume, code):
    with pytest.raises(ValueError, match="orientation code"):
        reorient(volume, code)
