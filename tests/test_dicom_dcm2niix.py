"""Agreement with dcm2niix: the same DICOM input gives the same voxels at the same places.

dcm2niix writes NIfTI (RAS, index order i, j, k, often with the rows flipped);
both images are brought to the closest canonical orientation with nibabel
before comparing, so no array layout is assumed.
"""

from __future__ import annotations

import shutil
import subprocess

import nibabel as nib
import numpy as np
import pytest
from pydicom.data import get_testdata_file
from scipy.spatial.transform import Rotation

from hounsfield.io.dicom import read_dicom, write_dicom_series
from hounsfield.volume import Volume

AFFINE_TOLERANCE_MM = 1e-3

#: LPS → RAS for world points, and (i, j, k) → (k, j, i) for homogeneous indices.
LPS_TO_RAS = np.diag([-1.0, -1.0, 1.0, 1.0])
IJK_TO_KJI = np.eye(4)[[2, 1, 0, 3]]


def as_nifti(volume: Volume) -> nib.Nifti1Image:
    """Our Volume as nibabel sees NIfTI: array (i, j, k), affine to RAS."""
    return nib.Nifti1Image(volume.array.transpose(2, 1, 0), LPS_TO_RAS @ volume.affine @ IJK_TO_KJI)


def dcm2niix(binary, dicom_folder, tmp_path) -> nib.Nifti1Image:
    """Convert a folder holding one series into tmp_path/out (never into the input)."""
    out = tmp_path / "dcm2niix-out"
    out.mkdir()
    command = [str(binary), "-z", "n", "-b", "n", "-o", str(out), "-f", "converted",
               str(dicom_folder)]
    result = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    converted = sorted(out.glob("*.nii"))
    assert [p.name for p in converted] == ["converted.nii"], result.stdout
    return nib.load(converted[0])


def compare(ours: Volume, theirs: nib.Nifti1Image, ignore_slice_spacing=False) -> float:
    """Assert identical values and affines within tolerance; return the max affine difference."""
    a = nib.as_closest_canonical(as_nifti(ours))
    b = nib.as_closest_canonical(theirs)
    assert a.shape == b.shape[:3]
    np.testing.assert_array_equal(a.get_fdata(), b.get_fdata().reshape(a.shape))
    difference = np.abs(a.affine - b.affine)
    if ignore_slice_spacing:  # a lone slice: its depth is a matter of convention
        difference[:, a.shape.index(1)] = 0
    worst = float(difference.max())
    assert worst < AFFINE_TOLERANCE_MM, (a.affine, b.affine)
    return worst


def single_file_folder(tmp_path, name):
    folder = tmp_path / "in"
    folder.mkdir()
    shutil.copy(get_testdata_file(name), folder)
    return folder


def test_ct_small_matches_dcm2niix(tmp_path, dcm2niix_binary):
    folder = single_file_folder(tmp_path, "CT_small.dcm")
    compare(read_dicom(folder), dcm2niix(dcm2niix_binary, folder, tmp_path))


def test_enhanced_ct_matches_dcm2niix(tmp_path, dcm2niix_binary):
    folder = single_file_folder(tmp_path, "eCT_Supplemental.dcm")
    compare(read_dicom(folder), dcm2niix(dcm2niix_binary, folder, tmp_path))


def test_jpeg2000_ct_matches_dcm2niix_in_plane(tmp_path, dcm2niix_binary):
    """dcm2niix gives a lone slice SpacingBetweenSlices (20 mm) as depth, we SliceThickness (5)."""
    folder = single_file_folder(tmp_path, "693_J2KR.dcm")
    compare(read_dicom(folder), dcm2niix(dcm2niix_binary, folder, tmp_path),
            ignore_slice_spacing=True)


def oblique(volume: Volume) -> Volume:
    rotation = Rotation.from_euler("xyz", [12, -20, 30], degrees=True).as_matrix()
    return Volume(volume.array, spacing_mm=volume.spacing_mm, origin_mm=(-40.5, 12.25, -210.0),
                  direction=rotation @ volume.direction)


@pytest.mark.real
@pytest.mark.parametrize("variant", ["as is", "oblique", "slope 0.5"])
def test_written_chest_series_matches_dcm2niix(tmp_path, dcm2niix_binary, dicom_chest_crop,
                                               variant):
    volume = oblique(dicom_chest_crop) if variant == "oblique" else dicom_chest_crop
    slope = 0.5 if variant == "slope 0.5" else 1.0
    if slope != 1.0:
        volume = volume.with_array(volume.array + 0.5 * (volume.array % 2))  # half-HU values
    folder = tmp_path / "series"
    write_dicom_series(volume, folder, rescale_slope=slope)
    ours = read_dicom(folder)
    assert np.array_equal(ours.reorient(volume.orientation).array, volume.array)
    theirs = dcm2niix(dcm2niix_binary, folder, tmp_path)
    if slope != 1.0:
        assert theirs.dataobj.slope == pytest.approx(0.5)  # dcm2niix keeps the slope in scl_slope
    compare(ours, theirs)
