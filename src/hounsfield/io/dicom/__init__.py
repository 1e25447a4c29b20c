"""DICOM: find series, choose one, read it as a Volume; write a Volume as a CT series.

>>> from pydicom.data import get_testdata_file
>>> found = scan_dicom(get_testdata_file("CT_small.dcm"))
>>> ct = read_dicom(get_testdata_file("CT_small.dcm"), series=choose_series(found))
>>> ct.meta["modality"], ct.array.dtype
('CT', dtype('float32'))

Modules, one idea each: :mod:`.headers` (opening one file safely),
:mod:`.discovery` (series in a folder), :mod:`.choose` (which series),
:mod:`.frames` and :mod:`.enhanced` (2D images with their geometry),
:mod:`.stack` (order, gaps, tilt and their thresholds), :mod:`.regrid`
(resampling), :mod:`.pixels` (decoding and rescale), :mod:`.assemble`
(frames → grid), :mod:`.meta` (facts and patient identifiers),
:mod:`.reader` and :mod:`.writer` (the public entry points).
"""

from .choose import choose_series
from .discovery import DicomScan, DicomSeries, scan_dicom
from .headers import read_header
from .reader import read_dicom, read_series
from .writer import write_dicom_series

__all__ = ["DicomScan", "DicomSeries", "scan_dicom", "choose_series", "read_dicom",
           "read_series", "read_header", "write_dicom_series"]
