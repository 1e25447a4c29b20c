"""Batch runner: ledger, resume, faults, Dask parity."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest

from hounsfield.batch import BatchOptions, Ledger, read_cases, run_batch
from hounsfield.batch.worker import file_checksums
from hounsfield.data.anatomy import thorax_phantom
from hounsfield.io import write

N_CASES = 6


def _phantom_file(path: Path, seed: int) -> None:
    ct, _ = thorax_phantom(shape=(40, 48, 48), spacing_mm=(7.5, 6.25, 6.25),
                           noise_hu=5.0 + seed, seed=seed)
    write(ct, path)


@pytest.fixture(scope="module")
def inputs(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("batch_inputs")
    for seed in range(N_CASES):
        _phantom_file(folder / f"case{seed}.nii.gz", seed)
    return folder


def _options(out: Path, **overrides) -> BatchOptions:
    return BatchOptions("segment", out, ("--structures", "body,lungs"), workers=2,
                        progress=False, **overrides)


def _label_checksums(out: Path) -> dict[str, str]:
    rows = {row["case_id"]: row for row in Ledger(out / "ledger.sqlite").rows()}
    return {case_id: json.loads(row["checksums"])["labels.nii.gz"]
            for case_id, row in rows.items() if row["status"] in ("done", "skipped")}


def test_corrupt_case_fails_alone_and_resume_runs_only_what_changed(inputs, tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    for source in inputs.iterdir():
        (folder / source.name).write_bytes(source.read_bytes())
    (folder / "case3.nii.gz").write_bytes(b"not a NIfTI file")
    out = tmp_path / "out"
    counts = run_batch(read_cases(folder), _options(out))
    assert counts["done"] == 5 and counts["failed"] == 1
    ledger = Ledger(out / "ledger.sqlite")
    (failed_id, error), = ledger.failures()
    assert failed_id == "case3" and "case3.nii.gz" in error and "\n" not in error
    done = {row["case_id"]: row for row in ledger.rows() if row["status"] == "done"}
    for case_id, row in done.items():
        checksums = json.loads(row["checksums"])
        assert (out / "cases" / case_id / "labels.nii.gz").is_file()
        assert set(checksums) >= {"labels.nii.gz", "labels.json"}
        assert row["peak_memory_mb"] > 10 and row["duration_s"] > 0
    assert not (out / "cases" / "case3").exists()
    assert (out / "ledger.csv").read_text().count("\n") == N_CASES + 1
    ledger.close()

    counts = run_batch(read_cases(folder), _options(out))  # nothing changed: nothing runs
    assert counts == {"pending": 0, "running": 0, "done": 0, "failed": 1, "skipped": 5}

    _phantom_file(folder / "case3.nii.gz", 3)
    started_before = {r["case_id"]: r["started_at"] for r in Ledger(out / "ledger.sqlite").rows()}
    counts = run_batch(read_cases(folder), _options(out))
    assert counts == {"pending": 0, "running": 0, "done": 1, "failed": 0, "skipped": 5}
    started_after = {r["case_id"]: r["started_at"] for r in Ledger(out / "ledger.sqlite").rows()}
    changed = {k for k in started_after if started_after[k] != started_before[k]}
    assert changed == {"case3"}


def test_force_and_changed_options_rerun(inputs, tmp_path):
    cases = read_cases(inputs)[:2]
    out = tmp_path / "out"
    run_batch(cases, _options(out))
    assert run_batch(cases, _options(out, force=True))["done"] == 2
    changed = BatchOptions("segment", out, ("--structures", "body"), workers=2, progress=False)
    assert run_batch(cases, changed)["done"] == 2


def test_dead_worker_is_retried_then_failed(inputs, tmp_path):
    out = tmp_path / "out"
    options = _options(out, memory_limit_mb=1.0, retry=1)  # every case is killed at once
    counts = run_batch(read_cases(inputs)[:1], options)
    assert counts["failed"] == 1
    row, = Ledger(out / "ledger.sqlite").rows()
    assert row["attempts"] == 2 and "memory limit" in row["error"]
    assert list((out / "cases").iterdir()) == []


def _driver(inputs: Path, out: Path, *extra: str) -> subprocess.Popen:
    command = [sys.executable, "-m", "hounsfield", "batch", "segment", str(inputs), "-o",
               str(out), "--workers", "1", "--no-progress", "--structures", "body,lungs", *extra]
    return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)


@pytest.mark.slow
def test_driver_killed_mid_run_leaves_no_false_done_and_resumes(inputs, tmp_path):
    out = tmp_path / "out"
    driver = _driver(inputs, out)
    ledger_path = out / "ledger.sqlite"
    deadline = time.time() + 60
    while time.time() < deadline:
        if ledger_path.exists() and Ledger(ledger_path).counts()["done"] >= 2:
            break
        time.sleep(0.05)
    os.killpg(driver.pid, signal.SIGKILL)  # the driver and its workers, mid-run
    driver.wait()
    rows = Ledger(ledger_path).rows()
    assert 2 <= sum(row["status"] == "done" for row in rows) < N_CASES
    for row in rows:
        if row["status"] == "done":
            recorded = json.loads(row["checksums"])
            assert file_checksums(out / "cases" / row["case_id"]) == recorded
    assert _driver(inputs, out).wait() == 0
    counts = Ledger(ledger_path).counts()
    assert counts["done"] + counts["skipped"] == N_CASES
    assert not list((out / "cases").glob(".tmp-*"))


@pytest.mark.slow
def test_dask_local_cluster_matches_local_pool_and_survives_a_dead_worker(inputs, tmp_path):
    local_out, dask_out = tmp_path / "local", tmp_path / "dask"
    cases = read_cases(inputs)
    run_batch(cases, _options(local_out))
    distributed = pytest.importorskip("distributed")
    pool_options = _options(dask_out, dask_local=True)
    from hounsfield.batch.distributed import DaskPool

    killed = []

    def kill_one_worker(case_id: str) -> None:
        if not killed and pool.client is not None:
            pids = pool.client.run(os.getpid)
            victim = sorted(pids.values())[0]
            os.kill(victim, signal.SIGKILL)
            killed.append(victim)

    from hounsfield.batch import runner

    pool = DaskPool(None, 2, retry=2)
    original = runner._pool
    runner._pool = lambda options: pool
    original_record = Ledger.record

    def record_then_kill(self, result):
        original_record(self, result)
        kill_one_worker(result.case_id)

    Ledger.record = record_then_kill
    try:
        counts = run_batch(cases, pool_options)
    finally:
        runner._pool, Ledger.record = original, original_record
    assert killed and counts["done"] == N_CASES, Ledger(dask_out / "ledger.sqlite").failures()
    assert isinstance(distributed.__version__, str)
    local, dask = _label_checksums(local_out), _label_checksums(dask_out)
    assert local == dask and len(local) == N_CASES
    for case_id in local:  # gzip headers hold no time stamp: same bytes, same voxels
        a = np.asarray(nib.load(local_out / "cases" / case_id / "labels.nii.gz").dataobj)
        b = np.asarray(nib.load(dask_out / "cases" / case_id / "labels.nii.gz").dataobj)
        assert np.array_equal(a, b)
