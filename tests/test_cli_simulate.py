"""`hounsfield simulate`: the paired dataset's layout, dataset.json, manifest checksums, errors."""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pytest

import hounsfield as hf
from _helpers import one_error_line, run_cli
from hounsfield.cli import main
from hounsfield.simulate.nict import ScanSettings


def tiny_ct(offset_hu: float) -> hf.Volume:
    """Two axial slices of a water-like square in air (4 mm pixels), with a bone rod."""
    hu = np.full((2, 32, 32), -1000.0, np.float32)
    hu[:, 8:24, 8:24] = offset_hu
    hu[:, 12:15, 18:21] = 1000.0
    return hf.Volume(hu, spacing_mm=(5.0, 4.0, 4.0), origin_mm=(-60.0, -70.0, 30.0))


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    folder = tmp_path_factory.mktemp("input")
    return [hf.write(tiny_ct(hu), folder / f"{name}.nii.gz")
            for name, hu in (("case-a", 0.0), ("case b", 40.0))]


@pytest.fixture(scope="module")
def dataset(inputs, tmp_path_factory):
    output = tmp_path_factory.mktemp("out") / "pairs"
    assert main(["simulate", *map(str, inputs), "-o", str(output), "--views", "30",
                 "--dose", "0.5", "--seed", "5"]) == 0
    return output


def test_layout_is_images_labels_dataset_and_manifest(dataset):
    files = sorted(p.relative_to(dataset).as_posix() for p in dataset.rglob("*") if p.is_file())
    assert files == ["dataset.json", "imagesTr/case-a_0000.nii.gz", "imagesTr/case_b_0000.nii.gz",
                     "labelsTr/case-a.nii.gz", "labelsTr/case_b.nii.gz", "manifest.json"]


def test_dataset_json_lists_the_pairs(dataset):
    description = json.loads((dataset / "dataset.json").read_text())
    assert description["numTraining"] == 2
    assert description["channel_names"] == {"0": "CT"}
    assert description["file_ending"] == ".nii.gz"
    assert description["training"][0] == {"image": "./imagesTr/case-a_0000.nii.gz",
                                          "label": "./labelsTr/case-a.nii.gz"}
    for pair in description["training"]:
        assert (dataset / pair["image"]).exists() and (dataset / pair["label"]).exists()


def test_manifest_holds_settings_seeds_and_true_checksums(dataset, inputs):
    manifest = json.loads((dataset / "manifest.json").read_text())
    cases = manifest["cases"]
    assert [case["case"] for case in cases] == ["case-a", "case_b"]
    assert [case["seed"] for case in cases] == [5, 6]
    assert [case["source"] for case in cases] == [str(path) for path in inputs]
    for case in cases:
        settings = ScanSettings.from_dict(case["settings"])
        assert (settings.n_views, settings.dose_fraction, settings.seed) == (30, 0.5, case["seed"])
        for relative, digest in case["sha256"].items():
            assert hashlib.sha256((dataset / relative).read_bytes()).hexdigest() == digest


def test_pairs_lie_on_the_input_grid_and_the_target_is_the_input(dataset, inputs):
    ct = hf.read(inputs[0])
    target = hf.read(dataset / "labelsTr" / "case-a.nii.gz")
    degraded = hf.read(dataset / "imagesTr" / "case-a_0000.nii.gz")
    assert target.same_grid(ct) and degraded.same_grid(ct)
    assert np.array_equal(target.array, ct.array)
    water = degraded.array[:, 10:15, 10:15]
    assert abs(float(water.mean())) < 60.0 and float(water.std()) > 1.0  # noisy water


def test_summary_table_names_every_case(inputs, tmp_path, capsys):
    code, _, err = run_cli(capsys, "simulate", inputs[0], "-o", tmp_path / "d", "--arc-deg",
                           "150", "--views", "90")
    assert code == 0
    assert "case-a" in err and "PSNR dB" in err and "wrote 1 input/target pair," in err


def test_same_seed_gives_identical_files(inputs, tmp_path):
    for name in ("one", "two"):
        assert main(["simulate", str(inputs[0]), "-o", str(tmp_path / name), "--views", "30",
                     "--dose", "0.3", "--seed", "3"]) == 0
    digests = [json.loads((tmp_path / name / "manifest.json").read_text())["cases"][0]["sha256"]
               for name in ("one", "two")]
    assert digests[0] == digests[1]


def test_cbct_option_writes_a_cone_beam_pair(inputs, tmp_path):
    assert main(["simulate", str(inputs[0]), "-o", str(tmp_path / "c"), "--cbct",
                 "--views", "40"]) == 0
    settings = json.loads((tmp_path / "c" / "manifest.json").read_text())["cases"][0]["settings"]
    assert (settings["geometry"], settings["n_views"], settings["scatter_to_primary"]) == \
        ("cone", 40, 0.5)


@pytest.mark.parametrize("extra, message", [
    ([], "say how to degrade the scans"),
    (["--views", "1"], "n_views must be an integer >= 2, got 1"),
    (["--dose", "-0.5"], "dose_fraction must be None (noise-free) or a positive number"),
])
def test_bad_options_exit_2_with_one_line(inputs, tmp_path, capsys, extra, message):
    code, _, err = run_cli(capsys, "simulate", inputs[0], "-o", tmp_path / "d", *extra)
    assert code == 2 and message in one_error_line(err)
    assert not (tmp_path / "d").exists()


def test_output_inside_the_input_folder_is_refused(inputs, capsys):
    folder = inputs[0].parent
    code, _, err = run_cli(capsys, "simulate", folder, "-o", folder / "pairs", "--views", "30")
    assert code == 2 and "inside the input folder" in one_error_line(err)


def test_existing_dataset_needs_overwrite(inputs, tmp_path, capsys):
    argv = ["simulate", inputs[0], "-o", tmp_path / "d", "--views", "30"]
    assert run_cli(capsys, *argv)[0] == 0
    code, _, err = run_cli(capsys, *argv)
    assert code == 2 and "already holds a dataset" in one_error_line(err)
    assert run_cli(capsys, *argv, "--overwrite")[0] == 0


def test_inputs_with_the_same_name_are_refused(inputs, tmp_path, capsys):
    copy = tmp_path / "other" / inputs[0].name
    hf.write(hf.read(inputs[0]), copy)
    code, _, err = run_cli(capsys, "simulate", inputs[0], copy, "-o", tmp_path / "d",
                           "--views", "30")
    assert code == 2 and "share the case name(s) case-a" in one_error_line(err)


def test_missing_input_exits_2(tmp_path, capsys):
    code, _, err = run_cli(capsys, "simulate", tmp_path / "nope.nii.gz", "-o", tmp_path / "d",
                           "--views", "30")
    assert code == 2 and "no such file" in one_error_line(err)
