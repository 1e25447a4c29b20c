"""Reading real DICOM files (pydicom's and pydicom-data's test files) and refusing bad ones."""

from __future__ import annotations

import json
import shutil
import warnings

import numpy as np
import pydicom
import pytest
from pydicom.data import get_testdata_file
from pydicom.encaps import encapsulate
from pydicom.uid import JPEG2000Lossless

from hounsfield.errors import InputError
from hounsfield.io.dicom import read_dicom, read_header, scan_dicom


def sample_file(name: str):
    path = get_testdata_file(name)
    assert path is not None, f"pydicom test file {name} is missing (install pydicom-data)"
    return path


def rescaled(dataset) -> np.ndarray:
    """pydicom's own stored values × slope + intercept."""
    slope = float(dataset.get("RescaleSlope", 1))
    intercept = float(dataset.get("RescaleIntercept", 0))
    return dataset.pixel_array.astype(np.float64) * slope + intercept


def copy_into(tmp_path, name, new_name=None):
    folder = tmp_path / "in"
    folder.mkdir(exist_ok=True)
    return shutil.copy(sample_file(name), folder / (new_name or name))


def assert_one_line_naming(error: InputError, name: str):
    message = str(error)
    assert "\n" not in message
    assert name in message


# -- values and geometry ----------------------------------------------------------------


def test_ct_small_values_and_geometry_match_the_header():
    path = sample_file("CT_small.dcm")
    dataset = pydicom.dcmread(path)
    ct = read_dicom(path)
    assert ct.shape == (1, 128, 128)
    assert ct.array.dtype == np.float32
    np.testing.assert_array_equal(ct.array[0], rescaled(dataset))
    assert ct.origin_mm == pytest.approx([float(v) for v in dataset.ImagePositionPatient])
    rows_mm, columns_mm = (float(v) for v in dataset.PixelSpacing)
    assert ct.spacing_mm == pytest.approx((float(dataset.SliceThickness), rows_mm, columns_mm))
    np.testing.assert_allclose(ct.direction, [[0, 0, 1], [0, 1, 0], [1, 0, 0]], atol=1e-6)
    assert ct.meta["modality"] == "CT" and ct.meta["units"] == "HU"
    assert ct.meta["slice_gaps"]["regular"] is True
    assert ct.meta["warnings"] == []


def test_patient_identifiers_are_only_under_phi():
    ct = read_dicom(sample_file("CT_small.dcm"))
    phi = ct.meta["phi"]
    assert phi["PatientName"] == "CompressedSamples^CT1"
    assert phi["InstitutionName"] == "JFK IMAGING CENTER"
    rest = json.dumps({k: v for k, v in ct.meta.items() if k != "phi"}, default=str)
    for value in (phi["PatientName"], phi["PatientID"], phi["InstitutionName"]):
        assert value not in rest


@pytest.mark.parametrize("name", ["693_UNCR.dcm", "693_UNCI.dcm", "693_J2KR.dcm", "693_J2KI.dcm"])
def test_compressed_ct_decodes_like_pydicom(name):
    path = sample_file(name)
    ct = read_dicom(path)
    np.testing.assert_array_equal(ct.array[0], rescaled(pydicom.dcmread(path)))


def test_lossless_jpeg2000_equals_the_uncompressed_file():
    lossless = read_dicom(sample_file("693_J2KR.dcm"))
    uncompressed = read_dicom(sample_file("693_UNCR.dcm"))
    np.testing.assert_array_equal(lossless.array, uncompressed.array)
    np.testing.assert_allclose(lossless.affine, uncompressed.affine)


@pytest.mark.parametrize("name", ["MR_small_RLE.dcm", "MR_small_jpeg_ls_lossless.dcm",
                                  "MR_small_jp2klossless.dcm", "MR_small_bigendian.dcm",
                                  "MR_small_implicit.dcm"])
def test_every_transfer_syntax_gives_the_same_mr_values(name):
    reference = read_dicom(sample_file("MR_small.dcm"), allow_modality=True)
    other = read_dicom(sample_file(name), allow_modality=True)
    np.testing.assert_array_equal(other.array, reference.array)
    np.testing.assert_allclose(other.affine, reference.affine)
    assert other.meta["units"] != "HU"


def test_enhanced_ct_frames_are_sorted_along_the_normal():
    path = sample_file("eCT_Supplemental.dcm")
    dataset = pydicom.dcmread(path)
    ct = read_dicom(path)
    assert ct.shape == (2, 512, 512)
    assert ct.meta["sop_class"] == "Enhanced CT Image Storage"
    # IOP [-1,0,0, 0,1,0]: the normal points to -z (inferior), so z = -149 comes first.
    normal = np.cross([-1, 0, 0], [0, 1, 0])
    np.testing.assert_allclose(ct.direction[:, 0], normal)
    positions = [[float(v) for v in item.PlanePositionSequence[0].ImagePositionPatient]
                 for item in dataset.PerFrameFunctionalGroupsSequence]
    first = int(np.argmax([p[2] for p in positions]))
    assert ct.origin_mm == pytest.approx(positions[first])
    assert ct.spacing_mm[0] == pytest.approx(10.0)
    shared = dataset.SharedFunctionalGroupsSequence[0].PixelValueTransformationSequence[0]
    expected = dataset.pixel_array.astype(np.float64) * float(shared.RescaleSlope) + float(
        shared.RescaleIntercept)
    np.testing.assert_array_equal(ct.array[0], expected[first])
    np.testing.assert_array_equal(ct.array[1], expected[1 - first])


def test_file_without_preamble_or_suffix_reads_like_the_original(tmp_path):
    original = sample_file("CT_small.dcm")
    raw = open(original, "rb").read()
    # preamble (128) + 'DICM' (4) + group length element (12) + the rest of the meta group
    meta_length = int(pydicom.dcmread(original).file_meta.FileMetaInformationGroupLength)
    bare = tmp_path / "IM0001"
    bare.write_bytes(raw[132 + 12 + meta_length:])
    with pytest.raises(pydicom.errors.InvalidDicomError):
        pydicom.dcmread(bare)  # not readable without force
    np.testing.assert_array_equal(read_dicom(bare).array, read_dicom(original).array)


# -- refusals ------------------------------------------------------------------------------


def test_text_file_named_dcm_is_not_dicom(tmp_path):
    path = tmp_path / "x.dcm"
    path.write_text("hello, I am a text file\n" * 20)
    with pytest.raises(InputError, match="not a DICOM file") as caught:
        read_dicom(path)
    assert_one_line_naming(caught.value, "x.dcm")
    assert caught.value.path == path


@pytest.mark.parametrize("fraction", [0.5, 0.05])
def test_truncated_file_is_refused_naming_it(tmp_path, fraction):
    raw = open(sample_file("CT_small.dcm"), "rb").read()
    path = tmp_path / "cut.dcm"
    path.write_bytes(raw[: int(len(raw) * fraction)])
    with pytest.raises(InputError, match="truncated DICOM file") as caught:
        read_dicom(tmp_path)
    assert_one_line_naming(caught.value, "cut.dcm")


def test_truncated_real_mr_file_is_refused():
    with pytest.raises(InputError, match="truncated DICOM file") as caught:
        read_dicom(sample_file("MR_truncated.dcm"), allow_modality=True)
    assert_one_line_naming(caught.value, "MR_truncated.dcm")


def test_several_broken_files_name_the_first_and_count_the_rest(tmp_path):
    for name in ("a.dcm", "b.dcm", "c.dcm"):
        (tmp_path / name).write_text("not dicom")
    with pytest.raises(InputError, match="not a DICOM file") as caught:
        read_dicom(tmp_path)
    assert_one_line_naming(caught.value, "a.dcm")
    assert "2 other unreadable files" in str(caught.value)


def test_empty_folder(tmp_path):
    with pytest.raises(InputError, match="no files found") as caught:
        read_dicom(tmp_path)
    assert_one_line_naming(caught.value, str(tmp_path))


def test_missing_path():
    with pytest.raises(InputError, match="no such file or folder") as caught:
        read_dicom("/no/such/scan")
    assert_one_line_naming(caught.value, "/no/such/scan")


def test_folder_with_only_a_structure_set(tmp_path):
    copy_into(tmp_path, "rtstruct.dcm")
    with pytest.raises(InputError, match="no image series: found 1 RTSTRUCT") as caught:
        read_dicom(tmp_path / "in")
    assert_one_line_naming(caught.value, "in")


def test_mr_is_refused_unless_allowed():
    path = sample_file("MR_small.dcm")
    with pytest.raises(InputError, match=r"modality MR, expected CT \(use --allow-modality") \
            as caught:
        read_dicom(path)
    assert_one_line_naming(caught.value, "MR_small.dcm")
    mr = read_dicom(path, allow_modality=True)
    assert mr.meta["modality"] == "MR" and mr.shape == (1, 64, 64)
    np.testing.assert_array_equal(mr.array[0], rescaled(pydicom.dcmread(path)))


def test_multiframe_without_frame_positions_is_refused():
    with pytest.raises(InputError, match="without per-frame positions") as caught:
        read_dicom(sample_file("emri_small.dcm"), allow_modality=True)
    assert_one_line_naming(caught.value, "emri_small.dcm")


def test_undecodable_pixel_data_names_file_and_transfer_syntax(tmp_path):
    dataset = pydicom.dcmread(sample_file("CT_small.dcm"))
    dataset.PixelData = encapsulate([b"\x00\x01garbage" * 40])
    dataset.file_meta.TransferSyntaxUID = JPEG2000Lossless
    path = tmp_path / "broken_j2k.dcm"
    dataset.save_as(path, enforce_file_format=True)
    with pytest.raises(InputError, match="cannot decode pixel data") as caught:
        read_dicom(path)
    assert_one_line_naming(caught.value, "broken_j2k.dcm")
    assert "JPEG 2000" in str(caught.value)


def test_missing_geometry_is_refused(tmp_path):
    dataset = pydicom.dcmread(sample_file("CT_small.dcm"))
    del dataset.ImagePositionPatient
    path = tmp_path / "nowhere.dcm"
    dataset.save_as(path, enforce_file_format=True)
    with pytest.raises(InputError, match="missing ImagePositionPatient") as caught:
        read_dicom(path)
    assert_one_line_naming(caught.value, "nowhere.dcm")


def test_header_reader_skips_pixels_and_rejects_text(tmp_path):
    header = read_header(sample_file("CT_small.dcm"))
    assert "PixelData" not in header and header.Rows == 128
    (tmp_path / "notes.txt").write_text("plain text")
    with pytest.raises(InputError, match="not a DICOM file"):
        read_header(tmp_path / "notes.txt")


def test_scan_counts_what_it_cannot_use(tmp_path):
    copy_into(tmp_path, "CT_small.dcm")
    copy_into(tmp_path, "rtstruct.dcm")
    (tmp_path / "in" / "README").write_text("exported by a PACS")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        found = scan_dicom(tmp_path / "in")
    assert [s.modality for s in found] == ["CT"]
    assert found.n_files == 3
    assert dict(found.non_image) == {"RTSTRUCT": 1}
    assert found.n_unreadable == 1
    assert found.problems == [(tmp_path / "in" / "README", "not a DICOM file")]


def test_deflated_transfer_syntax_is_read(tmp_path):
    dataset = pydicom.dcmread(sample_file("CT_small.dcm"))
    dataset.file_meta.TransferSyntaxUID = pydicom.uid.DeflatedExplicitVRLittleEndian
    path = tmp_path / "deflated.dcm"
    dataset.save_as(path, enforce_file_format=True)
    np.testing.assert_array_equal(read_dicom(path).array[0], rescaled(dataset))
