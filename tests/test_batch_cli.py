"""Batch from the command line: Ctrl-C, status, manifests, DICOM series cases, analyze."""

import csv
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from hounsfield.batch import BatchOptions, Ledger, read_cases, run_batch
from hounsfield.batch.warmup import warm_up
from hounsfield.batch.worker import file_checksums
from hounsfield.cli import main
from hounsfield.data.anatomy import thorax_phantom
from hounsfield.io import read, write
from hounsfield.io.dicom import write_dicom_series

SHAPE, SPACING_MM = (40, 48, 48), (7.5, 6.25, 6.25)
SLOW_STRUCTURES = "body,lungs,tissues"


def _phantom(seed: int):
    ct, _ = thorax_phantom(shape=SHAPE, spacing_mm=SPACING_MM, noise_hu=5.0, seed=seed)
    return ct.with_array(np.round(ct.array).astype(np.float32))  # integral HU: DICOM-exact


@pytest.fixture(scope="module")
def inputs(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("batch_cli_inputs")
    for seed in range(4):
        write(_phantom(seed), folder / f"case{seed}.nii.gz")
    return folder


@pytest.fixture(scope="module")
def slow_inputs(tmp_path_factory) -> Path:
    """Six cases that take long enough (about a second each) for Ctrl-C to find one running."""
    folder = tmp_path_factory.mktemp("batch_cli_slow_inputs")
    for seed in range(6):
        ct, _ = thorax_phantom(shape=(48, 160, 160), spacing_mm=(6.25, 1.875, 1.875),
                               noise_hu=5.0, seed=seed)
        write(ct, folder / f"case{seed}.nii.gz")
    return folder


def _label_names(case_dir: Path) -> set[str]:
    return {entry["name"] for entry in json.loads((case_dir / "labels.json").read_text())}


def _labels(case_dir: Path) -> np.ndarray:
    return read(case_dir / "labels.nii.gz").array


def _driver(inputs: Path, out: Path, structures: str = "body,lungs") -> subprocess.Popen:
    command = [sys.executable, "-m", "hounsfield", "batch", "segment", str(inputs), "-o",
               str(out), "--workers", "1", "--no-progress", "--structures", structures]
    # A shell's background job ignores SIGINT, and Python then keeps ignoring it: restore it.
    return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            start_new_session=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))


def _wait_for(condition, timeout_s: float = 60.0) -> None:
    deadline = time.time() + timeout_s
    while time.time() < deadline:
        if condition():
            return
        time.sleep(0.02)
    raise AssertionError("timed out waiting for the batch")


def _counts(ledger_path: Path) -> dict[str, int]:
    if not ledger_path.exists():
        return {}
    ledger = Ledger(ledger_path)
    try:
        return ledger.counts()
    finally:
        ledger.close()


@pytest.mark.slow
def test_ctrl_c_puts_running_cases_back_and_the_next_run_resumes(slow_inputs, tmp_path):
    out, ledger_path = tmp_path / "out", tmp_path / "out" / "ledger.sqlite"
    driver = _driver(slow_inputs, out, SLOW_STRUCTURES)
    _wait_for(lambda: _counts(ledger_path).get("done", 0) >= 1
              and _counts(ledger_path).get("running", 0) == 1)
    os.killpg(driver.pid, signal.SIGINT)  # what Ctrl-C in a terminal sends
    _, stderr = driver.communicate(timeout=60)
    assert driver.returncode == 130, stderr.decode()
    rows = Ledger(ledger_path).rows()
    statuses = [row["status"] for row in rows]
    assert "running" not in statuses and "pending" in statuses
    assert 1 <= statuses.count("done") < len(rows)
    _check_done_outputs(out, rows)  # a case moved in but not yet recorded simply runs again
    assert not list((out / "cases").glob(".tmp-*"))
    resumed = _driver(slow_inputs, out, SLOW_STRUCTURES)
    assert resumed.wait(timeout=120) == 0
    counts = _counts(ledger_path)
    assert counts["done"] + counts["skipped"] == 6 and counts["skipped"] == statuses.count("done")
    _check_done_outputs(out, Ledger(ledger_path).rows())


def _check_done_outputs(out: Path, rows: list[dict]) -> None:
    for row in rows:
        if row["status"] in ("done", "skipped"):
            assert file_checksums(out / "cases" / row["case_id"]) == json.loads(row["checksums"])


def test_status_prints_counts_failures_and_throughput(inputs, tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "good.nii.gz").write_bytes((inputs / "case0.nii.gz").read_bytes())
    (folder / "broken.nii.gz").write_bytes(b"not a NIfTI file")
    out = tmp_path / "out"
    assert main(["batch", "segment", str(folder), "-o", str(out), "--workers", "1",
                 "--no-progress", "--structures", "body"]) == 1
    status = subprocess.run(
        [sys.executable, "-m", "hounsfield", "batch", "status", str(out), "--csv",
         str(tmp_path / "ledger.csv")], capture_output=True, text=True,
        env={**os.environ, "COLUMNS": "400"})
    assert status.returncode == 0, status.stderr
    text = status.stderr
    assert re.search(r"done\W+1\b", text) and re.search(r"failed\W+1\b", text)
    assert re.search(r"pending\W+0\b", text)
    failure = next(line for line in text.splitlines() if line.startswith("failed broken:"))
    assert "broken.nii.gz" in failure
    per_hour = float(re.search(r"throughput (\d+) cases/h", text).group(1))
    ledger = Ledger(out / "ledger.sqlite")
    rows = ledger.rows()
    span_s = max(r["ended_at"] for r in rows) - min(r["started_at"] for r in rows)
    assert per_hour == pytest.approx(2 / span_s * 3600, abs=1)
    with open(tmp_path / "ledger.csv", newline="") as file:
        exported = {row["case_id"]: row["status"] for row in csv.DictReader(file)}
    assert exported == {"good": "done", "broken": "failed"}
    assert main(["batch", "status", str(tmp_path / "nowhere")]) == 2


def _check_per_case_options(out: Path) -> None:
    assert _label_names(out / "cases" / "only_body") == {"body"}
    assert _label_names(out / "cases" / "with_lungs") >= {"body", "lung_left", "lung_right"}


def test_csv_manifest_with_per_case_options(inputs, tmp_path):
    manifest = tmp_path / "cases.csv"
    manifest.write_text("case_id,input,options\n"
                        f"only_body,{inputs / 'case0.nii.gz'},--structures body\n"
                        f"with_lungs,{inputs / 'case1.nii.gz'},\"--structures 'body,lungs'\"\n")
    cases = read_cases(manifest)
    assert cases[1].options == ("--structures", "body,lungs")
    out = tmp_path / "out"
    counts = run_batch(cases, BatchOptions("segment", out, workers=2, progress=False))
    assert counts["done"] == 2
    _check_per_case_options(out)


def test_json_manifest_with_relative_inputs_and_per_case_options(inputs, tmp_path):
    (tmp_path / "scans").mkdir()
    for name in ("case0.nii.gz", "case1.nii.gz"):
        (tmp_path / "scans" / name).write_bytes((inputs / name).read_bytes())
    manifest = tmp_path / "cases.json"
    manifest.write_text(json.dumps([
        {"case_id": "only_body", "inputs": ["scans/case0.nii.gz"],
         "options": ["--structures", "body"]},
        {"case_id": "with_lungs", "inputs": "scans/case1.nii.gz",
         "options": "--structures body,lungs"}]))
    out = tmp_path / "out"
    assert main(["batch", "segment", str(manifest), "-o", str(out), "--workers", "2",
                 "--no-progress"]) == 0
    _check_per_case_options(out)
    row = {r["case_id"]: r for r in Ledger(out / "ledger.sqlite").rows()}["only_body"]
    assert row["status"] == "done"


def test_dicom_series_folder_is_a_case_and_segments_like_its_nifti(tmp_path):
    ct = _phantom(7)
    folder = tmp_path / "in"
    write_dicom_series(ct, folder / "patient 7")
    write(ct, folder / "same.nii.gz")
    cases = read_cases(folder)
    assert [case.case_id for case in cases] == ["patient_7", "same"]
    out = tmp_path / "out"
    counts = run_batch(cases, BatchOptions("segment", out, ("--structures", "body,lungs"),
                                           workers=2, progress=False))
    assert counts["done"] == 2
    from_dicom, from_nifti = _labels(out / "cases" / "patient_7"), _labels(out / "cases" / "same")
    assert from_dicom.shape == SHAPE and (from_dicom > 0).sum() > 1000
    assert np.array_equal(from_dicom, from_nifti)


def test_batch_analyze_writes_one_combined_row_per_structure_per_case(inputs, tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    for name in ("case0.nii.gz", "case1.nii.gz"):
        (folder / name).write_bytes((inputs / name).read_bytes())
    out = tmp_path / "out"
    assert main(["batch", "analyze", str(folder), "-o", str(out), "--workers", "2",
                 "--no-progress", "--structures", "body,lungs"]) == 0
    with open(out / "combined.csv", newline="") as file:
        rows = list(csv.DictReader(file))
    expected = []
    for case_id in ("case0", "case1"):
        stats = json.loads((out / "cases" / case_id / "stats.json").read_text())
        assert len(stats) >= 2
        expected += [(case_id, structure) for structure in stats]
    assert [(row["case_id"], row["structure"]) for row in rows] == expected
    assert len(set(expected)) == len(expected)
    assert list(rows[0])[:2] == ["case_id", "structure"]


def test_warm_up_runs_the_verb_on_a_tiny_phantom_and_reports_refusals():
    assert warm_up("segment", ("--structures", "body"))
    assert not warm_up("segment", ("--structures", "no_such_structure"))


def test_parallel_kernels_run_in_cases_forked_from_the_warm_server(tmp_path):
    """The DRR kernels are numba-parallel: the warm fork server must still fork usable cases."""
    for seed in (1, 2):
        write(_phantom(seed), tmp_path / "in" / f"case{seed}.nii.gz")
    options = BatchOptions("drr", tmp_path / "out", verb_options=(
        "--detector", "40", "48", "--pixel-mm", "8"), workers=1, file_name="drr.npy",
        progress=False)
    counts = run_batch(read_cases(tmp_path / "in"), options)
    assert counts["done"] == 2 and counts["failed"] == 0
