"""`hounsfield segment`: one label map on the input grid, its table, split masks, bad options."""

from __future__ import annotations

import json

import numpy as np
import pytest

import hounsfield as hf
from hounsfield.cli import main
from hounsfield.data.anatomy import thorax_phantom
from hounsfield.metrics import dice


@pytest.fixture(scope="module")
def phantom_files(tmp_path_factory):
    ct, labels = thorax_phantom(shape=(64, 96, 96), spacing_mm=(4.5, 3.4, 3.4))
    folder = tmp_path_factory.mktemp("input")
    return hf.write(ct, folder / "ct.nii.gz"), labels


def test_segment_writes_labels_and_table_on_the_input_grid(capsys, phantom_files, tmp_path):
    path, reference = phantom_files
    assert main(["segment", str(path), "-o", str(tmp_path / "seg"), "--split"]) == 0
    labels = hf.read(tmp_path / "seg" / "labels.nii.gz")
    table = json.loads((tmp_path / "seg" / "labels.json").read_text())
    assert {entry["name"] for entry in table} == {
        "body", "subcutaneous_fat", "torso_fat", "skeletal_muscle", "intermuscular_fat",
        "skeleton", "lung_left", "lung_right", "trachea", "bronchus_left", "bronchus_right"}
    assert labels.same_grid(hf.read(path))
    for name in ("lung_left", "lung_right"):
        ours = labels.array == labels.labels.id_of(name)
        assert dice(ours, reference.array == reference.labels.id_of(name)) > 0.95
        split = hf.read(tmp_path / "seg" / f"{name}.nii.gz", labels=True).array > 0
        assert np.array_equal(split, ours)
    assert "lung_left" in capsys.readouterr().err


def test_structures_option_limits_the_output(phantom_files, tmp_path):
    path, _ = phantom_files
    assert main(["segment", str(path), "-o", str(tmp_path / "seg"), "--structures", "body"]) == 0
    assert hf.read(tmp_path / "seg" / "labels.nii.gz").labels.names == ["body"]


def test_unknown_structure_exits_2(capsys, phantom_files, tmp_path):
    path, _ = phantom_files
    code = main(["segment", str(path), "-o", str(tmp_path / "seg"), "--structures", "liver"])
    assert code == 2 and "unknown structure(s) liver" in capsys.readouterr().err
    assert not (tmp_path / "seg").exists()
