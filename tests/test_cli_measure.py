"""`hounsfield measure`: statistics JSON with units in every key, per-slice rows, bad input."""

from __future__ import annotations

import json
import re

import pytest

import hounsfield as hf
from _helpers import one_error_line
from hounsfield.cli import main
from hounsfield.data.anatomy import thorax_phantom
from hounsfield.measure import label_statistics

#: Keys without a unit: counts, ids, ratios; HU values start with 'hu_'.
UNIT_KEY = re.compile(r"^(hu_.*|.*_(ml|mm|mm2|count)|label_id|sphericity)$")


@pytest.fixture(scope="module")
def phantom_files(tmp_path_factory):
    ct, labels = thorax_phantom(shape=(32, 48, 48), spacing_mm=(9.0, 6.7, 6.7), noise_hu=5.0)
    folder = tmp_path_factory.mktemp("input")
    return hf.write(ct, folder / "ct.nii.gz"), hf.write(labels, folder / "labels.nii.gz")



def test_measure_writes_statistics_with_units_in_every_key(capsys, phantom_files, tmp_path):
    ct_path, labels_path = phantom_files
    output = tmp_path / "out" / "stats.json"
    assert main(["measure", str(ct_path), str(labels_path), "-o", str(output)]) == 0
    document = json.loads(output.read_text())
    expected = label_statistics(hf.read(ct_path), hf.read(labels_path))
    assert document["statistics"] == json.loads(json.dumps(expected))
    for entry in document["statistics"].values():
        assert all(UNIT_KEY.match(key) for key in entry), sorted(entry)
    assert document["notes"] == [] and "per_slice" not in document
    err = capsys.readouterr().err
    assert "lung_left" in err and "volume ml" in err


def test_per_slice_rows_and_chosen_names(phantom_files, tmp_path):
    ct_path, labels_path = phantom_files
    output = tmp_path / "stats.json"
    code = main(["measure", str(ct_path), str(labels_path), "-o", str(output),
                 "--names", "liver,spleen", "--per-slice", "skeletal_muscle"])
    document = json.loads(output.read_text())
    assert code == 0 and list(document["statistics"]) == ["spleen", "liver"]
    rows = document["per_slice"]
    assert len(rows) == 32
    assert set(rows[0]) == {"slice_index", "z_mm", "skeletal_muscle_area_mm2",
                            "skeletal_muscle_hu_mean"}
    assert max(row["skeletal_muscle_area_mm2"] for row in rows) > 1000.0


def test_labels_on_another_grid_are_noted(capsys, phantom_files, tmp_path):
    ct_path, labels_path = phantom_files
    labels = hf.read(labels_path)
    moved = hf.write(labels.resample((9.0, 5.0, 5.0)), tmp_path / "fine_labels.nii.gz")
    output = tmp_path / "stats.json"
    assert main(["measure", str(ct_path), str(moved), "-o", str(output), "--names", "liver"]) == 0
    notes = json.loads(output.read_text())["notes"]
    assert len(notes) == 1 and "resampled" in notes[0]
    assert "warning" in capsys.readouterr().err


def test_missing_file_is_one_line_error(capsys, phantom_files, tmp_path):
    _, labels_path = phantom_files
    output = tmp_path / "stats.json"
    code = main(["measure", str(tmp_path / "nothing.nii.gz"), str(labels_path), "-o", str(output)])
    assert code == 2 and "no such file" in one_error_line(capsys.readouterr().err)
    assert not output.exists()


def test_unknown_label_name_is_one_line_error(capsys, phantom_files, tmp_path):
    ct_path, labels_path = phantom_files
    code = main(["measure", str(ct_path), str(labels_path), "-o", str(tmp_path / "s.json"),
                 "--per-slice", "psoas"])
    assert code == 2 and "psoas" in one_error_line(capsys.readouterr().err)


def test_output_inside_input_folder_is_refused(capsys, phantom_files):
    ct_path, labels_path = phantom_files
    folder = ct_path.parent
    before = sorted(folder.iterdir())
    code = main(["measure", str(folder), str(labels_path), "-o", str(folder / "stats.json")])
    assert code == 2 and "inside the input folder" in one_error_line(capsys.readouterr().err)
    assert sorted(folder.iterdir()) == before


def test_label_table_option_names_the_labels(phantom_files, tmp_path):
    ct_path, labels_path = phantom_files
    table = hf.read(labels_path).labels
    renamed = hf.LabelTable.from_names({label.id: f"organ_{label.id}" for label in table})
    renamed.save(tmp_path / "names.json")
    output = tmp_path / "stats.json"
    liver_id = table.id_of("liver")
    code = main(["measure", str(ct_path), str(labels_path), "-o", str(output),
                 "--label-table", str(tmp_path / "names.json"), "--names", f"organ_{liver_id}"])
    statistics = json.loads(output.read_text())["statistics"]
    assert code == 0 and list(statistics) == [f"organ_{liver_id}"]
    assert statistics[f"organ_{liver_id}"]["label_id"] == liver_id
