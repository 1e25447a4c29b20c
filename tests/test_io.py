"""NIfTI, NRRD and MetaImage: exact round trips, the RAS↔LPS conversion and bad files."""

from __future__ import annotations

import nibabel as nib
import numpy as np
import pytest
import SimpleITK as sitk
from scipy.spatial.transform import Rotation

import hounsfield as hf
from hounsfield.errors import InputError
from hounsfield.io import label_table_paths
from hounsfield.io.paths import atomic_output
from hounsfield.labels import LabelTable

SUFFIXES = [".nii", ".nii.gz", ".nrrd", ".nhdr", ".mha", ".mhd"]


def oblique_volume(shape=(5, 6, 7), dtype=np.float32, seed=0) -> hf.Volume:
    rng = np.random.default_rng(seed)
    rotation = Rotation.from_euler("xyz", [7, -12, 25], degrees=True).as_matrix()
    array = (rng.normal(0, 300, shape)).astype(dtype)
    return hf.Volume(array, spacing_mm=(2.5, 0.7, 0.8), origin_mm=(-120.5, 33.25, -401.0),
                     direction=rotation @ hf.volume.AXIAL_LPS)


@pytest.mark.parametrize("suffix", SUFFIXES)
@pytest.mark.parametrize("shape", [(5, 6, 7), (4, 8, 3)])
def test_image_round_trip_is_bit_identical(tmp_path, suffix, shape):
    volume = oblique_volume(shape)
    path = hf.write(volume, tmp_path / f"ct{suffix}")
    back = hf.read(path)
    assert back.array.dtype == np.float32
    assert np.array_equal(back.array.view(np.uint32), volume.array.view(np.uint32))
    np.testing.assert_allclose(back.affine, volume.affine, atol=1e-4)


@pytest.mark.parametrize("suffix", [".nii.gz", ".nrrd", ".mha"])
def test_integral_hu_are_stored_as_int16_and_read_back_exactly(tmp_path, suffix):
    volume = oblique_volume()
    volume.array[:] = np.round(volume.array)
    path = hf.write(volume, tmp_path / f"ct{suffix}")
    assert sitk.ReadImage(str(path)).GetPixelID() == sitk.sitkInt16
    assert np.array_equal(hf.read(path).array, volume.array)


@pytest.mark.parametrize("suffix", [".nii.gz", ".nrrd", ".mha"])
def test_label_map_round_trip_keeps_ids_and_table(tmp_path, suffix):
    ids = np.random.default_rng(1).integers(0, 4, (6, 5, 4)).astype(np.uint16)
    table = LabelTable.from_names({1: "lung_left", 2: "lung_right", 3: "trachea"})
    volume = hf.Volume(ids, spacing_mm=(3, 1, 1), labels=table)
    path = hf.write(volume, tmp_path / f"seg{suffix}")
    assert all(p.exists() for p in label_table_paths(path))
    back = hf.read(path)
    assert back.labels == table
    assert back.array.dtype == np.uint8 and np.array_equal(back.array, ids)


def test_label_map_without_table_gets_generic_names(tmp_path):
    nib.save(nib.Nifti1Image(np.array([[[0, 2], [5, 0]]] * 2, np.int32), np.eye(4)),
             tmp_path / "seg.nii")
    volume = hf.read(tmp_path / "seg.nii", labels=True)
    assert volume.labels.names == ["label_2", "label_5"]


def test_nifti_ras_is_converted_to_lps(tmp_path):
    affine = np.array([[-0.7, 0, 0, 166.0], [0, 0.7, 0, -187.6], [0, 0, 2.5, -340.0], [0, 0, 0, 1]])
    data = np.arange(4 * 5 * 6, dtype=np.int16).reshape(4, 5, 6)  # (i, j, k)
    nib.save(nib.Nifti1Image(data, affine), tmp_path / "ct.nii.gz")
    volume = hf.read(tmp_path / "ct.nii.gz")
    i, j, k = 3, 1, 4
    ras = affine @ [i, j, k, 1]
    np.testing.assert_allclose(volume.index_to_world([k, j, i]), [-ras[0], -ras[1], ras[2]])
    assert volume.array[k, j, i] == data[i, j, k]
    assert volume.orientation == "LAS"


@pytest.mark.parametrize("suffix", [".nii.gz", ".nrrd", ".mha"])
def test_geometry_agrees_with_simpleitk_reader(tmp_path, suffix):
    path = hf.write(oblique_volume(), tmp_path / f"ct{suffix}")
    image = sitk.ReadImage(str(path))
    volume = hf.read(path)
    for index in [(0, 0, 0), (4, 1, 6), (2, 5, 3)]:
        expected = image.TransformContinuousIndexToPhysicalPoint(index[::-1])
        np.testing.assert_allclose(volume.index_to_world(index), expected, atol=1e-4)


def test_nan_voxels_are_refused_with_count(tmp_path):
    data = np.zeros((4, 4, 4), np.float32)
    data[1, 2, 3] = np.nan
    nib.save(nib.Nifti1Image(data, np.eye(4)), tmp_path / "nan.nii.gz")
    with pytest.raises(InputError, match=r"nan\.nii\.gz: 1 voxels are NaN or infinite"):
        hf.read(tmp_path / "nan.nii.gz")


@pytest.mark.parametrize("suffix", [".nii", ".nrrd"])
def test_2d_image_is_refused(tmp_path, suffix):
    sitk.WriteImage(sitk.Image(16, 16, sitk.sitkInt16), str(tmp_path / f"flat{suffix}"))
    with pytest.raises(InputError, match=f"flat{suffix}: 2D image"):
        hf.read(tmp_path / f"flat{suffix}")


def test_4d_image_is_refused(tmp_path):
    nib.save(nib.Nifti1Image(np.zeros((4, 4, 4, 3), np.int16), np.eye(4)), tmp_path / "t.nii")
    with pytest.raises(InputError, match="4D image"):
        hf.read(tmp_path / "t.nii")


def test_single_slice_is_read_but_refused_when_3d_needed(tmp_path):
    nib.save(nib.Nifti1Image(np.zeros((8, 8, 1), np.int16), np.eye(4)), tmp_path / "one.nii")
    assert hf.read(tmp_path / "one.nii").shape == (1, 8, 8)
    with pytest.raises(InputError, match="one.nii: single-slice image of shape"):
        hf.read(tmp_path / "one.nii", need_3d=True)


@pytest.mark.parametrize("name", ["broken.nii.gz", "broken.nrrd", "broken.mha"])
def test_truncated_file_is_refused(tmp_path, name):
    good = hf.write(oblique_volume((20, 20, 20)), tmp_path / ("good" + name[6:]))
    (tmp_path / name).write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    with pytest.raises(InputError, match=name.replace(".", r"\.")) as caught:
        hf.read(tmp_path / name)
    assert "\n" not in str(caught.value)


def test_missing_path_is_refused(tmp_path):
    with pytest.raises(InputError, match="nothing.nii: no such file or folder"):
        hf.read(tmp_path / "nothing.nii")


def test_unknown_output_format_is_refused(tmp_path):
    with pytest.raises(InputError, match="cannot write this format"):
        hf.write(oblique_volume(), tmp_path / "ct.png")


def test_atomic_output_leaves_nothing_when_writing_fails(tmp_path):
    with pytest.raises(RuntimeError), atomic_output(tmp_path / "out.nii.gz") as tmp:
        tmp.write_bytes(b"half")
        raise RuntimeError("writer died")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.real
def test_example_ct_round_trips_through_every_format(tmp_path, chest_ct):
    ct, labels = chest_ct
    crop = ct.crop((60, 200, 180), (70, 260, 260))
    for suffix in (".nii.gz", ".nrrd", ".mha"):
        back = hf.read(hf.write(crop, tmp_path / f"ct{suffix}"))
        assert np.array_equal(back.array, crop.array)
        np.testing.assert_allclose(back.affine, crop.affine, atol=1e-4)
