"""What a DICOM series says about itself, split into facts and patient identifiers.

Patient identifiers go only into ``meta["phi"]``; everything else in meta is
safe to print, log or write.
"""

from __future__ import annotations

from pydicom.dataset import Dataset

from .discovery import DicomSeries
from .values import optional_number, strings

#: Elements that identify a patient, a visit or a place: kept only under meta["phi"].
PHI_KEYWORDS = (
    "PatientName", "PatientID", "OtherPatientIDs", "PatientBirthDate", "PatientSex",
    "PatientAge", "PatientWeight", "PatientSize", "PatientAddress", "AccessionNumber",
    "StudyID", "StudyInstanceUID", "StudyDate", "StudyTime", "SeriesDate", "SeriesTime",
    "AcquisitionDate", "AcquisitionTime", "AcquisitionDateTime", "ContentDate", "ContentTime",
    "InstitutionName", "InstitutionAddress", "InstitutionalDepartmentName",
    "ReferringPhysicianName", "PerformingPhysicianName", "OperatorsName", "StationName",
    "DeviceSerialNumber", "StudyDescription",
)


def phi_of(header: Dataset) -> dict[str, str]:
    """Patient and visit identifiers present in ``header``, as strings."""
    found = {}
    for keyword in PHI_KEYWORDS:
        value = header.get(keyword)
        if value not in (None, ""):
            found[keyword] = str(value)
    return found


def acquisition_of(header: Dataset) -> dict:
    """Scanner facts useful downstream (kVp, kernel, thickness...), without identifiers."""
    facts = {
        "manufacturer": str(header.get("Manufacturer", "")),
        "model": str(header.get("ManufacturerModelName", "")),
        "kvp": optional_number(header, "KVP"),
        "convolution_kernel": "\\".join(strings(header.get("ConvolutionKernel"))),
        "slice_thickness_mm": optional_number(header, "SliceThickness"),
        "body_part": str(header.get("BodyPartExamined", "")),
    }
    return {key: value for key, value in facts.items() if value not in (None, "")}


def value_units(modality: str, header: Dataset) -> str:
    """'HU' for CT (unless the header names other units), else RescaleType or 'unspecified'."""
    rescale_type = str(header.get("RescaleType", "")).strip()
    if rescale_type and rescale_type.upper() != "US":
        return rescale_type
    return "HU" if modality.upper() == "CT" else "unspecified"


def series_meta(series: DicomSeries, header: Dataset) -> dict:
    """meta of a Volume read from ``series`` (its first header), before gaps and warnings."""
    return {
        "source_format": "dicom",
        "modality": series.modality,
        "units": value_units(series.modality, header),
        "series_uid": series.series_uid,
        "series_description": series.description,
        "series_number": series.series_number,
        "sop_class": series.sop_class,
        "image_type": list(series.image_type),
        "n_files": len(series.files),
        "acquisition": acquisition_of(header),
        "phi": phi_of(header),
    }
