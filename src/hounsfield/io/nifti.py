"""NIfTI (.nii, .nii.gz) through nibabel, converting NIfTI's RAS frame to LPS and back.

A Volume's affine maps array indices (k, j, i) to LPS; NIfTI's maps (i, j, k)
to RAS. The two differ by reversing the index order and negating x and y.
"""

from __future__ import annotations

import numpy as np

from ..errors import InputError
from ..volume import Volume
from .paths import atomic_output

_RAS_FROM_LPS = np.diag([-1.0, -1.0, 1.0])


def _geometry_from_affine(affine: np.ndarray, path) -> dict:
    linear = _RAS_FROM_LPS @ affine[:3, :3][:, ::-1]
    spacing = np.linalg.norm(linear, axis=0)
    if np.any(spacing == 0):
        raise InputError("NIfTI affine has a zero-length axis", path)
    direction = linear / spacing
    if not np.allclose(direction.T @ direction, np.eye(3), atol=1e-4):
        raise InputError("NIfTI affine is sheared; only rotations and scalings are supported", path)
    return {"spacing_mm": tuple(spacing), "origin_mm": tuple(_RAS_FROM_LPS @ affine[:3, 3]),
            "direction": direction}


def nifti_affine(volume: Volume) -> np.ndarray:
    """The NIfTI (i, j, k) → RAS mm affine of a Volume."""
    affine = np.eye(4)
    affine[:3, :3] = _RAS_FROM_LPS @ (volume.direction * np.asarray(volume.spacing_mm))[:, ::-1]
    affine[:3, 3] = _RAS_FROM_LPS @ np.asarray(volume.origin_mm)
    return affine


def _voxels(image, path) -> np.ndarray:
    """Stored values with the header's scaling applied (float32 when scaled)."""
    raw = np.asanyarray(image.dataobj.get_unscaled())
    slope, inter = image.dataobj.slope, image.dataobj.inter
    if raw.ndim == 4 and raw.shape[3] == 1:
        raw = raw[..., 0]
    if raw.ndim == 2:
        raise InputError(f"2D image of shape {raw.shape}; a 3D volume is needed", path)
    if raw.ndim != 3:
        raise InputError(f"{raw.ndim}D image of shape {raw.shape}; a single 3D volume is needed",
                         path)
    if slope == 1 and inter == 0:
        return raw
    return (raw.astype(np.float64) * slope + inter).astype(np.float32)


def read_nifti(path) -> tuple[np.ndarray, dict]:
    """Voxels (z, y, x) and geometry of a NIfTI file; the caller chooses the dtype.

    Returns the array in the file's stored type (scaled values as float32) and
    a dict of Volume geometry keywords.
    """
    import nibabel as nib

    try:
        image = nib.load(str(path))
        data = _voxels(image, path)
    except InputError:
        raise
    except Exception as error:
        raise InputError(f"cannot read NIfTI file ({_first_line(error)})", path) from None
    geometry = _geometry_from_affine(image.affine, path)
    return np.ascontiguousarray(data.transpose(2, 1, 0)), geometry


def write_nifti(volume: Volume, path, array: np.ndarray) -> None:
    """Write ``array`` (the Volume's voxels, already in the dtype to store) to NIfTI atomically."""
    import nibabel as nib

    image = nib.Nifti1Image(np.asarray(array).transpose(2, 1, 0), nifti_affine(volume))
    image.header.set_xyzt_units("mm")
    image.set_qform(image.affine, code=1)
    image.set_sform(image.affine, code=1)
    image.header.set_slope_inter(1.0, 0.0)
    with atomic_output(path) as tmp:
        nib.save(image, str(tmp))


def _first_line(error: Exception) -> str:
    text = str(error).strip().splitlines()
    return text[0] if text else type(error).__name__
