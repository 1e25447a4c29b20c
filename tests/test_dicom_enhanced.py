"""Enhanced multi-frame CT: the same sorting, rescale and gap logic as classic series."""

from __future__ import annotations

import numpy as np
import pydicom
import pytest
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import EnhancedCTImageStorage, ExplicitVRLittleEndian, generate_uid

from hounsfield.errors import HounsfieldWarning, InputError
from hounsfield.io.dicom import read_dicom, write_dicom_series
from hounsfield.volume import Volume


def item(**attributes) -> Dataset:
    dataset = Dataset()
    for keyword, value in attributes.items():
        setattr(dataset, keyword, value)
    return dataset


def enhanced_ct(volume: Volume, path, frame_order, slopes, rescale_shared=False):
    """Write ``volume`` as one Enhanced CT file, frames in ``frame_order`` with per-frame slopes."""
    ds = Dataset()
    ds.SOPClassUID, ds.SOPInstanceUID = EnhancedCTImageStorage, generate_uid()
    ds.Modality, ds.SeriesInstanceUID, ds.StudyInstanceUID = "CT", generate_uid(), generate_uid()
    ds.SeriesNumber, ds.SeriesDescription = 4, "enhanced phantom"
    ds.ImageType = ["ORIGINAL", "PRIMARY", "AXIAL", "NONE"]
    ds.NumberOfFrames = len(frame_order)
    ds.Rows, ds.Columns = volume.shape[1:]
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 1
    orientation = [*volume.direction[:, 2], *volume.direction[:, 1]]
    shared = item(
        PlaneOrientationSequence=[item(ImageOrientationPatient=[f"{v:.10f}" for v in orientation])],
        PixelMeasuresSequence=[item(PixelSpacing=list(volume.spacing_mm[1:]),
                                    SliceThickness=volume.spacing_mm[0])])
    if rescale_shared:
        shared.PixelValueTransformationSequence = [
            item(RescaleSlope=slopes[0], RescaleIntercept=-1024, RescaleType="HU")]
    per_frame, stored = [], []
    for k, slope in zip(frame_order, slopes, strict=True):
        position = volume.index_to_world([k, 0, 0])
        groups = item(PlanePositionSequence=[item(ImagePositionPatient=[f"{v:.6f}" for v in
                                                                        position])])
        if not rescale_shared:
            groups.PixelValueTransformationSequence = [
                item(RescaleSlope=slope, RescaleIntercept=-1024, RescaleType="HU")]
        per_frame.append(groups)
        stored.append(np.round((volume.array[k] + 1024) / slope).astype("<i2"))
    ds.SharedFunctionalGroupsSequence = [shared]
    ds.PerFrameFunctionalGroupsSequence = per_frame
    ds.PixelData = np.stack(stored).tobytes()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.MediaStorageSOPClassUID = EnhancedCTImageStorage
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.save_as(path, enforce_file_format=True)
    return path


@pytest.fixture
def shuffled(hu_phantom):
    return np.random.default_rng(3).permutation(hu_phantom.shape[0])


@pytest.mark.parametrize("rescale_shared", [False, True])
def test_shuffled_frames_read_like_the_classic_series(tmp_path, hu_phantom, shuffled,
                                                      rescale_shared):
    slopes = [1.0 if rescale_shared else (0.5 if k % 2 else 1.0) for k in shuffled]
    path = enhanced_ct(hu_phantom, tmp_path / "enhanced.dcm", shuffled, slopes, rescale_shared)
    enhanced = read_dicom(path)
    assert enhanced.meta["sop_class"] == "Enhanced CT Image Storage"
    assert enhanced.meta["n_files"] == 1
    np.testing.assert_array_equal(enhanced.array, hu_phantom.array)
    np.testing.assert_allclose(enhanced.affine, hu_phantom.affine, atol=1e-4)
    write_dicom_series(hu_phantom, tmp_path / "classic")
    classic = read_dicom(tmp_path / "classic")
    np.testing.assert_array_equal(enhanced.array, classic.array)
    assert enhanced.same_grid(classic)


def test_per_frame_slopes_are_applied_frame_by_frame(tmp_path, hu_phantom, shuffled):
    slopes = [0.5 if k == shuffled[0] else 1.0 for k in shuffled]
    path = enhanced_ct(hu_phantom, tmp_path / "enhanced.dcm", shuffled, slopes)
    raw = pydicom.dcmread(path).pixel_array
    first = int(shuffled[0])
    assert np.array_equal(raw[0], np.round((hu_phantom.array[first] + 1024) / 0.5))
    np.testing.assert_array_equal(read_dicom(path).array[first], hu_phantom.array[first])


def test_missing_frame_is_interpolated_as_in_classic_series(tmp_path, hu_phantom):
    order = [k for k in range(16) if k != 9]
    path = enhanced_ct(hu_phantom, tmp_path / "enhanced.dcm", order, [1.0] * 15)
    with pytest.warns(HounsfieldWarning, match="about 1 slice missing"):
        ct = read_dicom(path)
    np.testing.assert_allclose(ct.array, hu_phantom.array, atol=1e-3)


def test_frames_without_position_are_refused(tmp_path, hu_phantom):
    path = enhanced_ct(hu_phantom, tmp_path / "enhanced.dcm", range(16), [1.0] * 16)
    dataset = pydicom.dcmread(path)
    del dataset.PerFrameFunctionalGroupsSequence[3].PlanePositionSequence
    dataset.save_as(path, enforce_file_format=True)
    with pytest.raises(InputError, match="frame 4 has no PlanePositionSequence") as caught:
        read_dicom(path)
    assert "enhanced.dcm" in str(caught.value)
