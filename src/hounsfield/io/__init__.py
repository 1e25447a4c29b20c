"""Reading and writing CT volumes and label maps.

``read`` takes a DICOM folder or file, NIfTI, NRRD or MetaImage and returns a
:class:`~hounsfield.volume.Volume` in LPS with HU as float32 (images) or
integer ids with their LabelTable (label maps). ``write`` writes NIfTI, NRRD
or MetaImage atomically; a label map's table goes beside it as
``NAME_labels.json`` and ``NAME_labels.ctbl`` (3D Slicer colour table).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import InputError
from ..labels import LabelTable
from ..volume import Volume
from .paths import format_of, output_format_of, strip_suffix

__all__ = ["read", "write", "label_table_paths"]


def label_table_paths(image_path) -> tuple[Path, Path]:
    """The sidecar files of a label map: (NAME_labels.json, NAME_labels.ctbl)."""
    stem = strip_suffix(image_path)
    return stem.with_name(stem.name + "_labels.json"), stem.with_name(stem.name + "_labels.ctbl")


def _existing_label_table(path) -> LabelTable | None:
    for sidecar in label_table_paths(path):
        if sidecar.exists():
            try:
                return LabelTable.load(sidecar)
            except (ValueError, KeyError) as error:
                raise InputError(f"cannot read label table ({error})", sidecar) from None
    return None


def _as_label_array(array: np.ndarray, path) -> np.ndarray:
    if not np.issubdtype(array.dtype, np.integer):
        if not np.all(np.isfinite(array)) or np.any(array != np.round(array)):
            raise InputError("label map holds non-integer values", path)
    if array.size and array.min() < 0:
        raise InputError(f"label map holds negative ids (min {array.min()})", path)
    top = int(array.max()) if array.size else 0
    dtype = np.uint8 if top < 2**8 else np.uint16 if top < 2**16 else np.uint32
    return array.astype(dtype, copy=False)


def _as_image_array(array: np.ndarray, path) -> np.ndarray:
    image = array.astype(np.float32, copy=False)
    bad = int(np.count_nonzero(~np.isfinite(image)))
    if bad:
        raise InputError(f"{bad} voxels are NaN or infinite", path)
    return image


def _read_file(path, fmt: str):
    if fmt == "nifti":
        from .nifti import read_nifti

        return read_nifti(path)
    from .itk import read_itk

    return read_itk(path)


def read(path, *, labels: bool | None = None, series: str | None = None,
         allow_modality: bool = False, need_3d: bool = False, progress: bool = False) -> Volume:
    """Read a CT image or a label map.

    Parameters
    ----------
    path : str or Path
        A DICOM folder (searched recursively) or file, or a .nii/.nii.gz,
        .nrrd/.nhdr or .mha/.mhd file.
    labels : bool, optional
        True to read a label map (integer ids, with the LabelTable found
        beside the file); False for an image (float32); None decides by the
        presence of a ``NAME_labels.json``/``.ctbl`` sidecar.
    series : str, optional
        DICOM only: the SeriesInstanceUID (or a unique prefix, or the
        SeriesNumber) to read when a folder holds several series.
    allow_modality : bool
        DICOM only: read a non-CT series (values are then not HU).
    need_3d : bool
        Refuse single-slice images (any axis of length 1), for work that
        needs a 3D volume.
    progress : bool
        Show a progress bar while reading many DICOM files.

    Raises
    ------
    InputError
        With the file and the problem, for anything that cannot be read.

    Examples
    --------
    >>> ct = read("chest.nii.gz")            # doctest: +SKIP
    >>> ct.orientation, ct.spacing_mm        # doctest: +SKIP
    ('LAS', (2.5, 0.703125, 0.703125))
    """
    path = Path(path)
    if not path.exists():
        raise InputError("no such file or folder", path)
    fmt = format_of(path)
    if fmt.startswith("dicom"):
        from .dicom import read_dicom

        if labels:
            raise InputError("label maps are read from NIfTI, NRRD or MetaImage, not DICOM", path)
        volume = read_dicom(path, series=series, allow_modality=allow_modality,
                            progress=progress)
    else:
        array, geometry = _read_file(path, fmt)
        table = _existing_label_table(path)
        if labels or (labels is None and table is not None):
            volume = Volume(_as_label_array(array, path), labels=table or _table_for(array),
                            **geometry)
        else:
            volume = Volume(_as_image_array(array, path), **geometry)
        volume.meta.update({"source_format": fmt})
    if need_3d and min(volume.shape) < 2:
        raise InputError(f"single-slice image of shape {volume.shape}; a 3D volume is needed",
                         path)
    return volume


def _table_for(array: np.ndarray) -> LabelTable:
    """A table naming each id present 'label_N', for label maps without a sidecar."""
    ids = [int(i) for i in np.unique(array) if i > 0]
    return LabelTable.from_names({i: f"label_{i}" for i in ids})


def _array_to_store(volume: Volume) -> np.ndarray:
    """Labels in the smallest unsigned type; integral float images as int16 when exact."""
    array = volume.array
    if volume.is_label_map:
        return _as_label_array(array, None)
    if not np.issubdtype(array.dtype, np.floating) or array.size == 0:
        return array
    if array.min() >= -32768 and array.max() <= 32767 and np.all(array == np.round(array)):
        return array.astype(np.int16)
    return array


def write(volume: Volume, path) -> Path:
    """Write a Volume to .nii/.nii.gz, .nrrd/.nhdr or .mha/.mhd, atomically.

    Voxel values round-trip exactly (integral HU are stored as int16); a
    label map's LabelTable is written beside it as JSON and as a 3D Slicer
    colour table. Returns the path written.

    >>> write(ct, "out/ct.nii.gz")           # doctest: +SKIP
    PosixPath('out/ct.nii.gz')
    """
    path = Path(path)
    fmt = output_format_of(path)
    array = _array_to_store(volume)
    if fmt == "nifti":
        from .nifti import write_nifti

        write_nifti(volume, path, array)
    else:
        from .itk import write_itk

        write_itk(volume, path, array)
    if volume.labels is not None:
        for sidecar in label_table_paths(path):
            volume.labels.save(sidecar)
    return path
