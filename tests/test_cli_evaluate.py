"""`hounsfield evaluate` and the per-case rows behind it."""

from __future__ import annotations

import csv
import json
import math

import numpy as np
import pytest

import hounsfield as hf
from hounsfield.cli import main
from hounsfield.labels import LabelTable
from hounsfield.metrics import dice, surface_metrics
from hounsfield.metrics.cases import (
    airway_rows,
    detection_rows,
    image_rows,
    landmark_rows,
    segmentation_rows,
)

TABLE = LabelTable.from_names({1: "liver", 2: "spleen"})


def label_volume(shift: int = 0, spacing=(2.0, 1.0, 1.0)) -> hf.Volume:
    array = np.zeros((12, 20, 20), np.uint8)
    array[2:8, 3 + shift:10 + shift, 3:10] = 1
    array[3:9, 12:17, 11 + shift:17] = 2
    return hf.Volume(array, spacing_mm=spacing, labels=TABLE)


@pytest.fixture
def case_folders(tmp_path):
    for folder, shift in (("ref", 0), ("pred", 1)):
        for case in ("a", "b"):
            volume = label_volume(shift if case == "a" else 0)
            hf.write(volume, tmp_path / folder / f"{case}.nii.gz")
    return tmp_path / "pred", tmp_path / "ref"


def test_segmentation_rows_equal_the_metric_functions():
    ref, pred = label_volume(0), label_volume(1)
    rows = segmentation_rows(pred, ref, "a", names={1: "liver", 2: "spleen"})
    assert [(r["label"], r["name"]) for r in rows] == [(1, "liver"), (2, "spleen")]
    for row in rows:
        p, r = pred.array == row["label"], ref.array == row["label"]
        assert row["dice"] == pytest.approx(dice(p, r))
        expected = surface_metrics(p, r, ref.spacing_mm)
        for key in ("hd_mm", "hd95_mm", "assd_mm", "nsd_1mm"):
            assert row[key] == pytest.approx(expected[key])
        assert row["volume_ref_ml"] == pytest.approx(r.sum() * 2e-3)
        assert row["iou"] == pytest.approx((p & r).sum() / (p | r).sum())


def test_prediction_on_another_grid_is_resampled_with_a_warning():
    ref = label_volume(0)
    pred = ref.resample((1.0, 1.0, 1.0))
    with pytest.warns(hf.HounsfieldWarning, match="resampled onto the reference grid"):
        rows = segmentation_rows(pred, ref, "a")
    assert all(row["dice"] > 0.9 for row in rows)


def test_absent_label_gives_undefined_values_not_zero():
    ref = label_volume(0)
    pred = ref.with_array(np.where(ref.array == 2, 0, ref.array).astype(np.uint8))
    with pytest.warns(hf.HounsfieldWarning):
        row = segmentation_rows(pred, ref, "a", labels=[2])[0]
    assert row["dice"] == 0.0 and math.isnan(row["precision"])
    assert not math.isfinite(row["hd95_mm"])  # inf under the default (deepmind) convention


def test_detection_rows_count_lesions():
    ref = label_volume(0)
    pred = ref.with_array((ref.array == 1).astype(np.uint8))
    row = detection_rows(pred, ref, "a", convention="isles22")[0]
    assert (row["tp"], row["fp"], row["fn"]) == (1, 0, 1)


def test_image_rows_reproduce_synthrad_figures():
    ref = hf.Volume(np.zeros((8, 8, 8), np.float32))
    row = image_rows(ref.with_array(ref.array + 100), ref, "a")[0]
    assert row["mae_hu"] == pytest.approx(100.0)
    assert row["psnr_db"] == pytest.approx(32.093, abs=1e-3)


def test_cli_writes_json_csv_and_plot(capsys, case_folders, tmp_path):
    pred, ref = case_folders
    code = main(["evaluate", "--pred", str(pred), "--ref", str(ref), "--json",
                 str(tmp_path / "e.json"), "--csv", str(tmp_path / "e.csv"), "--plot",
                 str(tmp_path / "e.png")])
    assert code == 0
    result = json.loads((tmp_path / "e.json").read_text())
    assert [(r["case"], r["name"]) for r in result["rows"]] == [
        ("a", "liver"), ("a", "spleen"), ("b", "liver"), ("b", "spleen")]
    assert result["rows"][2]["dice"] == 1.0 and result["rows"][0]["dice"] < 1.0
    assert result["summary"]["per_label"]["liver"]["dice"]["n"] == 2
    with open(tmp_path / "e.csv") as file:
        header = next(csv.reader(file))
    assert header[:4] == ["case", "label", "name", "dice"] and "hd95_mm" in header
    assert (tmp_path / "e.png").read_bytes()[:4] == b"\x89PNG"
    assert "hd95_mm" in capsys.readouterr().err


def test_cli_json_writes_undefined_values_as_null(case_folders, tmp_path):
    pred, ref = case_folders
    hf.write(label_volume(0).with_array(np.zeros((12, 20, 20), np.uint8)),
             pred / "a.nii.gz")
    main(["evaluate", "--pred", str(pred), "--ref", str(ref), "--json", str(tmp_path / "e.json")])
    result = json.loads((tmp_path / "e.json").read_text())
    assert result["rows"][0]["hd95_mm"] is None
    assert result["summary"]["per_label"]["liver"]["hd95_mm"]["nan_count"] == 1


def test_cli_label_subset_and_convention(case_folders, tmp_path):
    pred, ref = case_folders
    code = main(["evaluate", "--pred", str(pred), "--ref", str(ref), "--labels", "2",
                 "--convention", "monai", "--tolerance-mm", "2",
                 "--json", str(tmp_path / "e.json")])
    rows = json.loads((tmp_path / "e.json").read_text())["rows"]
    assert code == 0 and {r["label"] for r in rows} == {2} and "nsd_2mm" in rows[0]


def test_cli_folders_without_common_cases_exit_2(capsys, tmp_path):
    hf.write(label_volume(), tmp_path / "ref" / "a.nii.gz")
    hf.write(label_volume(), tmp_path / "pred" / "b.nii.gz")
    code = main(["evaluate", "--pred", str(tmp_path / "pred"), "--ref", str(tmp_path / "ref")])
    assert code == 2 and "no case name appears in both folders" in capsys.readouterr().err


def test_landmark_rows_identify_centroids_within_20mm():
    ref = label_volume(0, spacing=(1.0, 1.0, 1.0))
    pred = label_volume(1, spacing=(1.0, 1.0, 1.0))
    rows = landmark_rows(pred, ref, "a", names={1: "vertebrae_L1", 2: "vertebrae_L2"})
    assert [r["identified"] for r in rows] == [1.0, 1.0]
    assert rows[0]["distance_mm"] == pytest.approx(1.0)


def test_airway_rows_report_tree_metrics():
    tube = np.zeros((40, 12, 12), np.uint8)
    tube[2:38, 5:8, 5:8] = 1
    ref = hf.Volume(tube)
    row = airway_rows(ref, ref, "a")[0]
    assert row["tree_length_detected"] == 1.0 and row["dice"] == 1.0


def test_cli_keeps_only_the_requested_metrics(case_folders, tmp_path, capsys):
    pred, ref = case_folders
    code = main(["evaluate", "--pred", str(pred), "--ref", str(ref), "--metrics",
                 "dice,hd95_mm", "--csv", str(tmp_path / "e.csv")])
    assert code == 0
    assert (tmp_path / "e.csv").read_text().splitlines()[0] == "case,label,name,dice,hd95_mm"
    code = main(["evaluate", "--pred", str(pred), "--ref", str(ref), "--metrics", "nope"])
    assert code == 2 and "unknown metric(s) nope" in capsys.readouterr().err
