"""NRRD and MetaImage (.nrrd, .nhdr, .mha, .mhd) through SimpleITK.

SimpleITK's frame is LPS, as the Volume's is, so only the axis order is
reversed. Detached-header formats (.mhd + .raw, .nhdr + .raw.gz) are
written into a temporary folder and moved into place file by file.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np

from ..errors import InputError
from ..volume import Volume


def read_itk(path) -> tuple[np.ndarray, dict]:
    """Voxels (z, y, x) in the stored type and Volume geometry keywords."""
    import SimpleITK as sitk

    try:
        image = sitk.ReadImage(str(path))
    except Exception as error:
        message = str(error).strip().splitlines()
        reason = message[-1] if message else type(error).__name__
        raise InputError(f"cannot read image file ({reason.strip()})", path) from None
    if image.GetNumberOfComponentsPerPixel() != 1:
        raise InputError(f"{image.GetNumberOfComponentsPerPixel()}-component pixels; "
                         "a scalar image is needed", path)
    if image.GetDimension() == 2:
        raise InputError(f"2D image of size {image.GetSize()}; a 3D volume is needed", path)
    if image.GetDimension() != 3:
        raise InputError(f"{image.GetDimension()}D image; a 3D volume is needed", path)
    volume = Volume.from_sitk(image)
    return volume.array, {"spacing_mm": volume.spacing_mm, "origin_mm": volume.origin_mm,
                          "direction": volume.direction}


def write_itk(volume: Volume, path, array: np.ndarray) -> None:
    """Write ``array`` with the Volume's geometry, compressed and atomically."""
    import SimpleITK as sitk

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    image = Volume(array, volume.spacing_mm, volume.origin_mm, volume.direction).to_sitk()
    with tempfile.TemporaryDirectory(dir=path.parent, prefix=".tmp-") as tmp:
        sitk.WriteImage(image, str(Path(tmp) / path.name), True)
        written = sorted(Path(tmp).iterdir(), key=lambda p: p.name == path.name)
        for part in written:  # data files first, the header last
            part.replace(path.parent / part.name)
