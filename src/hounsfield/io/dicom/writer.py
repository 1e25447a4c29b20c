"""write_dicom_series: a Volume → one DICOM file per slice (CT or MR Image Storage).

Values are stored as int16 with ``value = stored × RescaleSlope +
RescaleIntercept``; the intercept is 0 when the values fit, otherwise an
integer that shifts them into range. Patient fields are anonymous. Each file
is written atomically (temporary file, then rename).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

import numpy as np
import pydicom
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import (
    PYDICOM_IMPLEMENTATION_UID,
    CTImageStorage,
    ExplicitVRLittleEndian,
    MRImageStorage,
    generate_uid,
)
from pydicom.valuerep import DSfloat

from ...volume import Volume
from ..paths import atomic_output

__all__ = ["write_dicom_series"]

_SOP_CLASSES = {"CT": CTImageStorage, "MR": MRImageStorage}
_INT16 = (-32768, 32767)


def write_dicom_series(volume: Volume, folder: str | Path, *,
                       series_description: str = "hounsfield export", modality: str = "CT",
                       series_uid: str | None = None, study_uid: str | None = None,
                       series_number: int = 1, rescale_slope: float = 1.0,
                       filenames: Sequence[str] | None = None) -> list[Path]:
    """Write a Volume as a DICOM series, one file per slice (array axis 0).

    Parameters
    ----------
    volume : Volume
        Values (HU for CT) indexed (z, y, x); any orthonormal direction.
    folder : str or Path
        Created if needed. Files of the same name are replaced.
    series_description : str
    modality : {'CT', 'MR'}
        Writes CT Image Storage or MR Image Storage.
    series_uid, study_uid : str, optional
        Generated (``pydicom.uid.generate_uid``) when not given.
    series_number : int
    rescale_slope : float
        Value step of the stored integers: values are rounded to multiples
        of it (1.0 keeps integral HU exact).
    filenames : list of str, optional
        One name per slice, in array order; default ``IM00001.dcm``, ...

    Returns
    -------
    list of Path
        The files written, in array order.

    Raises
    ------
    ValueError
        Unknown modality, wrong number of file names, non-finite values,
        or values spanning more than 65536 steps of ``rescale_slope``.

    Examples
    --------
    >>> import tempfile
    >>> vol = Volume(np.full((3, 4, 4), -1000.0, np.float32), spacing_mm=(2.5, 0.7, 0.7))
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     files = write_dicom_series(vol, folder)
    ...     print(len(files), files[0].name)
    3 IM00001.dcm
    """
    modality = modality.upper()
    if modality not in _SOP_CLASSES:
        raise ValueError(f"modality must be one of {sorted(_SOP_CLASSES)}, got {modality!r}")
    if not (np.isfinite(rescale_slope) and rescale_slope > 0):
        raise ValueError(f"rescale_slope must be a positive number, got {rescale_slope!r}")
    names = _file_names(volume.shape[0], filenames)
    stored, intercept = quantize(volume.array, rescale_slope)
    shared = _series_dataset(volume, modality, series_description, series_number,
                             series_uid or generate_uid(), study_uid or generate_uid())
    shared.RescaleSlope = _ds(rescale_slope)
    shared.RescaleIntercept = _ds(intercept)
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    return [_write_slice(shared, volume, k, stored[k], folder / name)
            for k, name in enumerate(names)]


def quantize(values: np.ndarray, slope: float) -> tuple[np.ndarray, int]:
    """int16 stored values and an integer intercept with ``stored × slope + intercept ≈ values``.

    >>> stored, intercept = quantize(np.array([-1024.0, 40000.0]), 1.0)
    >>> intercept, (stored * 1.0 + intercept).tolist()
    (19488, [-1024.0, 40000.0])
    """
    values = np.asarray(values, dtype=np.float64)
    if not np.all(np.isfinite(values)):
        raise ValueError("cannot write NaN or infinite values to DICOM")
    low, high = (float(values.min()), float(values.max())) if values.size else (0.0, 0.0)
    lowest = int(np.ceil(high - _INT16[1] * slope))   # smallest intercept that fits the top
    highest = int(np.floor(low - _INT16[0] * slope))  # largest that fits the bottom
    if lowest > highest:
        raise ValueError(f"values span {low:g} to {high:g}: too wide for int16 with rescale "
                         f"slope {slope:g}; pass a larger rescale_slope")
    intercept = 0 if lowest <= 0 <= highest else (lowest + highest) // 2
    stored = np.clip(np.round((values - intercept) / slope), *_INT16).astype(np.int16)
    return stored, intercept


def _file_names(count: int, filenames: Sequence[str] | None) -> list[str]:
    if filenames is None:
        return [f"IM{k + 1:05d}.dcm" for k in range(count)]
    names = [str(n) for n in filenames]
    if len(names) != count or len(set(names)) != count:
        raise ValueError(f"filenames must be {count} distinct names, one per slice; "
                         f"got {len(names)} ({len(set(names))} distinct)")
    if any(Path(n).name != n for n in names):
        raise ValueError("filenames must be plain names, without folders")
    return names


def _ds(value: float) -> DSfloat:
    return DSfloat(float(value), auto_format=True)


def _series_dataset(volume: Volume, modality: str, description: str, number: int,
                    series_uid: str, study_uid: str) -> Dataset:
    """The attributes shared by every slice of the series."""
    now = datetime.now()
    ds = Dataset()
    ds.SpecificCharacterSet = "ISO_IR 192"
    ds.ImageType = ["DERIVED", "SECONDARY", "AXIAL"]
    ds.SOPClassUID = _SOP_CLASSES[modality]
    ds.Modality = modality
    ds.Manufacturer = "hounsfield"
    ds.SeriesDescription = description
    ds.SeriesNumber = int(number)
    ds.StudyInstanceUID = study_uid
    ds.SeriesInstanceUID = series_uid
    ds.FrameOfReferenceUID = generate_uid()
    ds.PositionReferenceIndicator = ""
    ds.StudyID = ""
    ds.StudyDate = ds.SeriesDate = ds.ContentDate = now.strftime("%Y%m%d")
    ds.StudyTime = ds.SeriesTime = ds.ContentTime = now.strftime("%H%M%S")
    ds.AccessionNumber = ""
    ds.ReferringPhysicianName = ""
    ds.PatientName = "Anonymous"
    ds.PatientID = "anonymous"
    ds.PatientBirthDate = ""
    ds.PatientSex = ""
    ds.AcquisitionNumber = 1
    ds.ImageOrientationPatient = [_ds(v) for v in
                                  (*volume.direction[:, 2], *volume.direction[:, 1])]
    ds.PixelSpacing = [_ds(volume.spacing_mm[1]), _ds(volume.spacing_mm[2])]
    ds.SliceThickness = _ds(volume.spacing_mm[0])
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.Rows, ds.Columns = volume.shape[1], volume.shape[2]
    ds.BitsAllocated = ds.BitsStored = 16
    ds.HighBit = 15
    ds.PixelRepresentation = 1
    if modality == "CT":
        ds.RescaleType = "HU"
        ds.KVP = ""
    else:
        ds.ScanningSequence, ds.SequenceVariant, ds.ScanOptions = "RM", "NONE", ""
        ds.MRAcquisitionType = "3D"
        ds.EchoTime = ds.RepetitionTime = ""
        ds.EchoTrainLength = ""
    return ds


def _write_slice(shared: Dataset, volume: Volume, index: int, stored: np.ndarray,
                 path: Path) -> Path:
    ds = Dataset()
    ds.update(shared)
    ds.SOPInstanceUID = generate_uid()
    ds.InstanceNumber = index + 1
    position = volume.index_to_world([index, 0, 0])
    ds.ImagePositionPatient = [_ds(v) for v in position]
    ds.SliceLocation = _ds(position @ volume.direction[:, 0])
    ds.PixelData = np.ascontiguousarray(stored, dtype="<i2").tobytes()
    ds.file_meta = _file_meta(ds)
    with atomic_output(path) as tmp:
        pydicom.dcmwrite(tmp, ds, enforce_file_format=True)
    return path


def _file_meta(ds: Dataset) -> FileMetaDataset:
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = ds.SOPClassUID
    meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    meta.ImplementationClassUID = PYDICOM_IMPLEMENTATION_UID
    return meta
