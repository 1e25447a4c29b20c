"""The `hounsfield` command: verbs, one-line errors with exit codes, inputs never written to."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest

import hounsfield as hf
from _helpers import one_error_line, run_cli


@pytest.fixture
def ct_file(tmp_path):
    array = np.full((6, 24, 20), -1000, np.float32)
    array[1:5, 4:20, 4:16] = 40.0
    folder = tmp_path / "input"
    return hf.write(hf.Volume(array, spacing_mm=(3, 1.5, 1.5)), folder / "ct.nii.gz")


def listing(folder):
    return sorted(p.relative_to(folder) for p in folder.rglob("*"))



def test_info_prints_geometry_as_json(capsys, ct_file):
    code, out, _ = run_cli(capsys, "info", ct_file, "--json")
    facts = json.loads(out)
    assert code == 0
    assert facts["shape_zyx"] == [6, 24, 20]
    assert facts["spacing_mm_zyx"] == [3.0, 1.5, 1.5]
    assert facts["orientation"] == "LPS"
    assert facts["value_range"] == [-1000.0, 40.0]


def test_info_table_output(capsys, ct_file):
    code, _, err = run_cli(capsys, "info", ct_file)
    assert code == 0 and "shape_zyx" in err and "[6, 24, 20]" in err


def test_convert_writes_an_exact_copy_and_leaves_input_alone(capsys, ct_file, tmp_path):
    before = listing(ct_file.parent)
    code, _, _ = run_cli(capsys, "convert", ct_file, tmp_path / "out" / "ct.nrrd")
    assert code == 0
    assert np.array_equal(hf.read(tmp_path / "out" / "ct.nrrd").array, hf.read(ct_file).array)
    assert listing(ct_file.parent) == before


def test_analyze_writes_the_report_folder_even_without_lungs(capsys, ct_file, tmp_path):
    out = tmp_path / "report"
    code, _, err = run_cli(capsys, "analyze", ct_file, "-o", out)
    assert code == 0, err
    assert (out / "montage.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    findings = json.loads((out / "findings.json").read_text())
    assert findings["study"]["shape_zyx"] == [6, 24, 20]
    assert "no lungs found" in err
    assert str(out / "report.html") in err.replace("\n", "")



def test_missing_path_exits_2_with_one_line(capsys, tmp_path):
    code, _, err = run_cli(capsys, "info", tmp_path / "absent.nii.gz")
    assert code == 2
    expected = f"hounsfield: error: {tmp_path / 'absent.nii.gz'}: no such file or folder"
    assert one_error_line(err) == expected


def test_text_file_named_dcm_exits_2(capsys, tmp_path):
    (tmp_path / "x.dcm").write_text("this is not DICOM\n")
    code, _, err = run_cli(capsys, "info", tmp_path / "x.dcm")
    assert code == 2
    assert "x.dcm" in one_error_line(err) and "not a DICOM file" in err


def test_nan_nifti_exits_2(capsys, tmp_path):
    data = np.zeros((4, 4, 4), np.float32)
    data[0, 0, 0] = np.nan
    nib.save(nib.Nifti1Image(data, np.eye(4)), tmp_path / "nan.nii.gz")
    code, _, err = run_cli(capsys, "convert", tmp_path / "nan.nii.gz", tmp_path / "out.nrrd")
    assert code == 2 and "NaN" in one_error_line(err)
    assert not (tmp_path / "out.nrrd").exists()


def test_single_slice_given_to_analyze_exits_2(capsys, tmp_path):
    nib.save(nib.Nifti1Image(np.zeros((8, 8, 1), np.int16), np.eye(4)), tmp_path / "one.nii")
    code, _, err = run_cli(capsys, "analyze", tmp_path / "one.nii", "-o", tmp_path / "r")
    assert code == 2 and "a 3D volume is needed" in one_error_line(err)


def test_output_inside_input_folder_is_refused(capsys, ct_file):
    folder = ct_file.parent
    before = listing(folder)
    code, _, err = run_cli(capsys, "analyze", folder, "-o", folder / "report")
    assert code == 2 and "inside the input folder" in one_error_line(err)
    assert listing(folder) == before


def test_internal_error_exits_1_and_debug_shows_traceback(capsys, ct_file, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("simulated bug")

    monkeypatch.setattr("hounsfield.cli.info.describe", broken)
    code, _, err = run_cli(capsys, "info", ct_file)
    assert code == 1 and "internal error: RuntimeError: simulated bug" in one_error_line(err)
    assert "Traceback" not in err
    code, _, err = run_cli(capsys, "info", ct_file, "--debug")
    assert code == 1 and "Traceback" in err


@pytest.mark.parametrize("command", [[sys.executable, "-m", "hounsfield"],
                                     [str(Path(sys.executable).with_name("hounsfield"))]])
def test_console_script_runs(command):
    result = subprocess.run([*command, "--version"], capture_output=True, text=True)
    assert result.returncode == 0 and result.stdout.startswith("hounsfield ")


def dicom_bad_inputs(tmp_path):
    """(path, expected words) for each DICOM input the command line must refuse."""
    from pydicom.data import get_testdata_file

    empty = tmp_path / "empty"
    empty.mkdir()
    rtstruct_only = tmp_path / "rtstruct_only"
    rtstruct_only.mkdir()
    shutil.copy(get_testdata_file("rtstruct.dcm"), rtstruct_only / "rs.dcm")
    truncated = tmp_path / "cut.dcm"
    truncated.write_bytes(Path(get_testdata_file("CT_small.dcm")).read_bytes()[:3000])
    return [(empty, "no files found"), (rtstruct_only, "no image series"),
            (truncated, "truncated DICOM file"),
            (Path(get_testdata_file("MR_small.dcm")), "modality MR, expected CT")]


def test_dicom_bad_inputs_exit_2_with_one_line(capsys, tmp_path):
    for path, words in dicom_bad_inputs(tmp_path):
        code, _, err = run_cli(capsys, "info", path)
        assert code == 2, (path, err)
        line = one_error_line(err)
        assert words in line and path.name in line


def test_mr_reads_when_allowed(capsys):
    from pydicom.data import get_testdata_file

    code, _, _ = run_cli(capsys, "info", get_testdata_file("MR_small.dcm"), "--allow-modality")
    assert code == 0
