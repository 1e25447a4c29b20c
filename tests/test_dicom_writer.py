"""write_dicom_series: valid, anonymous files that read back to the same Volume."""

from __future__ import annotations

import numpy as np
import pydicom
import pytest
from scipy.spatial.transform import Rotation

from hounsfield.io.dicom import read_dicom, write_dicom_series
from hounsfield.io.dicom.writer import quantize
from hounsfield.volume import AXIAL_LPS, Volume


def oblique_phantom(hu_phantom: Volume) -> Volume:
    rotation = Rotation.from_euler("zyx", [25, -10, 8], degrees=True).as_matrix()
    return Volume(hu_phantom.array, spacing_mm=hu_phantom.spacing_mm,
                  origin_mm=(-61.25, 7.5, -300.125), direction=rotation @ AXIAL_LPS)


def test_files_are_valid_anonymous_ct_slices(tmp_path, hu_phantom):
    files = write_dicom_series(hu_phantom, tmp_path, series_description="phantom",
                               series_number=7)
    assert [f.name for f in files] == [f"IM{k:05d}.dcm" for k in range(1, 17)]
    datasets = [pydicom.dcmread(f) for f in files]  # no force: preamble and meta present
    first = datasets[0]
    assert first.SOPClassUID == pydicom.uid.CTImageStorage
    assert first.file_meta.TransferSyntaxUID == pydicom.uid.ExplicitVRLittleEndian
    assert first.PatientName == "Anonymous" and first.PatientBirthDate == ""
    assert (first.SeriesDescription, first.SeriesNumber) == ("phantom", 7)
    assert len({d.SeriesInstanceUID for d in datasets}) == 1
    assert len({d.SOPInstanceUID for d in datasets}) == 16
    for uid in (first.SeriesInstanceUID, first.StudyInstanceUID, first.SOPInstanceUID):
        assert uid.is_valid
    assert [d.InstanceNumber for d in datasets] == list(range(1, 17))
    assert first.pixel_array.dtype == np.int16
    assert (float(first.RescaleSlope), float(first.RescaleIntercept)) == (1.0, 0.0)
    assert [float(v) for v in first.PixelSpacing] == [0.8, 0.75]
    assert [float(v) for v in datasets[3].ImagePositionPatient] == [-20.0, -30.0, 107.5]
    assert not list(tmp_path.glob(".tmp-*")), "temporary files left behind"


def test_given_uids_and_names_are_used(tmp_path, hu_phantom):
    names = [f"slice-{k}" for k in range(16)][::-1]
    files = write_dicom_series(hu_phantom, tmp_path, series_uid="1.2.3.4", study_uid="1.2.3",
                               filenames=names)
    assert [f.name for f in files] == names
    dataset = pydicom.dcmread(files[0])
    assert (dataset.SeriesInstanceUID, dataset.StudyInstanceUID) == ("1.2.3.4", "1.2.3")


@pytest.mark.parametrize("make", ["axial", "oblique"])
def test_round_trip_is_exact(tmp_path, hu_phantom, make):
    volume = hu_phantom if make == "axial" else oblique_phantom(hu_phantom)
    write_dicom_series(volume, tmp_path)
    back = read_dicom(tmp_path)
    np.testing.assert_array_equal(back.array, volume.array)
    np.testing.assert_allclose(back.affine, volume.affine, atol=1e-4)


def test_slices_against_the_normal_read_back_in_normal_order(tmp_path, hu_phantom):
    """A Volume whose slice axis opposes row × column reads back flipped, same world."""
    flipped = hu_phantom.reorient("LPI")
    write_dicom_series(flipped, tmp_path)
    back = read_dicom(tmp_path)
    assert back.orientation == "LPS"
    np.testing.assert_array_equal(back.array, hu_phantom.array)
    np.testing.assert_allclose(back.affine, hu_phantom.affine, atol=1e-4)


def test_non_unit_slope_rounds_to_its_steps(tmp_path, hu_phantom):
    values = hu_phantom.array + np.float32(0.3)
    write_dicom_series(hu_phantom.with_array(values), tmp_path, rescale_slope=0.5)
    dataset = pydicom.dcmread(sorted(tmp_path.iterdir())[0])
    assert float(dataset.RescaleSlope) == 0.5
    back = read_dicom(tmp_path)
    np.testing.assert_array_equal(back.array, np.round(values * 2) / 2)


def test_values_beyond_int16_get_an_intercept(tmp_path, hu_phantom):
    values = hu_phantom.array * 100 + 70000  # 13000 .. 35900: above int16
    write_dicom_series(hu_phantom.with_array(values), tmp_path)
    assert float(pydicom.dcmread(sorted(tmp_path.iterdir())[0]).RescaleIntercept) != 0
    np.testing.assert_array_equal(read_dicom(tmp_path).array, values)


def test_mr_modality_writes_mr_storage(tmp_path, hu_phantom):
    files = write_dicom_series(hu_phantom, tmp_path, modality="mr")
    assert pydicom.dcmread(files[0]).SOPClassUID == pydicom.uid.MRImageStorage
    assert read_dicom(tmp_path, allow_modality=True).meta["modality"] == "MR"


@pytest.mark.parametrize("options, message", [
    ({"modality": "PT"}, "modality must be one of"),
    ({"filenames": ["a", "b"]}, "16 distinct names"),
    ({"filenames": [f"sub/{k}" for k in range(16)]}, "without folders"),
    ({"rescale_slope": 0.0}, "rescale_slope must be a positive number"),
])
def test_bad_options_are_refused(tmp_path, hu_phantom, options, message):
    with pytest.raises(ValueError, match=message):
        write_dicom_series(hu_phantom, tmp_path, **options)


def test_values_that_cannot_be_stored_are_refused():
    with pytest.raises(ValueError, match="too wide for int16"):
        quantize(np.array([-40000.0, 40000.0]), 1.0)
    with pytest.raises(ValueError, match="NaN"):
        quantize(np.array([0.0, np.nan]), 1.0)
    stored, intercept = quantize(np.array([-40000.0, 40000.0]), 2.0)
    np.testing.assert_array_equal(stored * 2.0 + intercept, [-40000.0, 40000.0])
