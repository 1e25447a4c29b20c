"""Shared fixtures."""

from __future__ import annotations

import pytest

from hounsfield.errors import DataUnavailableError


@pytest.fixture(scope="session")
def chest_ct():
    """(ct, labels) of the example chest CT; skipped loudly if the registry is unreachable."""
    from hounsfield.data import example_chest_ct

    try:
        return example_chest_ct()
    except DataUnavailableError as error:
        pytest.skip(f"REAL DATA UNAVAILABLE: {error}")


# -- DICOM fixtures ---------------------------------------------------------------


@pytest.fixture(scope="session")
def dicom_chest_crop(chest_ct):
    """A 20 × 64 × 64 crop of the example chest CT (HU) through the mediastinum and lungs."""
    return chest_ct[0].crop((56, 224, 200), (76, 288, 264))


@pytest.fixture
def hu_phantom():
    """A small axial CT Volume whose integral HU are linear in the voxel index.

    Linear values make linear interpolation exact, so resampled slices can be
    checked against the truth; every voxel value is distinct along z.
    """
    import numpy as np

    from hounsfield.volume import Volume

    k, j, i = np.meshgrid(np.arange(16), np.arange(40), np.arange(36), indexing="ij")
    return Volume((8 * k + j - 2 * i - 500).astype(np.float32), spacing_mm=(2.5, 0.8, 0.75),
                  origin_mm=(-20.0, -30.0, 100.0))


@pytest.fixture(scope="session")
def dcm2niix_binary():
    """The dcm2niix executable of the dev extra (venv bin first, then PATH)."""
    import os
    import shutil
    import sys
    from pathlib import Path

    search = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
    found = shutil.which("dcm2niix", path=search)
    if found is None:
        pytest.skip("DCM2NIIX MISSING: the agreement tests need the dcm2niix binary of the "
                    "dev extra (pip install -e '.[dev]')")
    return Path(found)
