"""The batch ledger: one SQLite file, ``OUT/ledger.sqlite``, one row per case.

Only the driver writes it, each change in its own transaction. The file is
in WAL mode with ``synchronous=NORMAL``: a committed change survives the
driver being killed, and on a power loss the last few changes may roll back
(never corrupt the file). That is safe here because a change lost that way
only makes a finished case look unfinished, so it runs again; it saves an
fsync per change, two per case. A case is
``pending``, ``running``, ``done``, ``failed`` or ``skipped`` (done before
with the same config hash). A ``running`` row left by a driver that died is
run again: its outputs were never recorded.
"""

from __future__ import annotations

import csv
import json
import sqlite3
import time
from pathlib import Path

from .worker import CaseResult

STATUSES = ("pending", "running", "done", "failed", "skipped")
COLUMNS = ("case_id", "status", "config_hash", "started_at", "ended_at", "duration_s",
           "peak_memory_mb", "attempts", "checksums", "error")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS cases (
    case_id TEXT PRIMARY KEY, status TEXT NOT NULL, config_hash TEXT,
    started_at REAL, ended_at REAL, duration_s REAL, peak_memory_mb REAL,
    attempts INTEGER DEFAULT 0, checksums TEXT, error TEXT, input_error INTEGER DEFAULT 0
);
"""


class Ledger:
    """The per-case record of a batch output folder.

    Examples
    --------
    >>> import tempfile
    >>> ledger = Ledger(tempfile.mkdtemp() + "/ledger.sqlite")
    >>> ledger.plan({"a": "h1", "b": "h2"})
    ['a', 'b']
    >>> ledger.counts()["pending"]
    2
    """

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self._db = sqlite3.connect(self.path, isolation_level=None, timeout=30)
        self._db.row_factory = sqlite3.Row
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(_SCHEMA)

    def close(self) -> None:
        self._db.close()

    def _write(self, sql: str, parameters=()) -> None:
        with self._db:  # one transaction per change
            self._db.execute("BEGIN IMMEDIATE")
            self._db.execute(sql, parameters)

    def rows(self) -> list[dict]:
        """Every case's row, in id order."""
        return [dict(row) for row in self._db.execute("SELECT * FROM cases ORDER BY case_id")]

    def plan(self, hashes: dict[str, str], force: bool = False,
             outputs_present=lambda case_id, checksums: True) -> list[str]:
        """Mark the cases to run as pending and the others as skipped; return those to run.

        A case is skipped when it is done with the same config hash and its
        recorded outputs are still there (``outputs_present``). A case whose
        input the verb refused stays failed until its config hash (which
        covers its input files) changes; other failures are run again.
        """
        known = {row["case_id"]: row for row in self.rows()}
        to_run = []
        with self._db:
            self._db.execute("BEGIN IMMEDIATE")
            for case_id, config in hashes.items():
                row = known.get(case_id)
                unchanged = (row is not None and row["status"] in ("done", "skipped")
                             and row["config_hash"] == config
                             and outputs_present(case_id, json.loads(row["checksums"] or "{}")))
                refused = (row is not None and row["status"] == "failed"
                           and row["input_error"] and row["config_hash"] == config)
                if refused and not force:
                    continue
                if unchanged and not force:
                    self._db.execute("UPDATE cases SET status='skipped' WHERE case_id=?",
                                     (case_id,))
                    continue
                to_run.append(case_id)
                self._db.execute(
                    "INSERT INTO cases (case_id, status, config_hash, attempts) "
                    "VALUES (?, 'pending', ?, 0) ON CONFLICT(case_id) DO UPDATE SET "
                    "status='pending', config_hash=excluded.config_hash, attempts=0, error=NULL",
                    (case_id, config))
        return to_run

    def mark_running(self, case_id: str) -> None:
        self._write("UPDATE cases SET status='running', started_at=?, attempts=attempts+1 "
                    "WHERE case_id=?", (time.time(), case_id))

    def mark_pending(self, case_id: str) -> None:
        self._write("UPDATE cases SET status='pending' WHERE case_id=?", (case_id,))

    def record(self, result: CaseResult) -> None:
        """Record a finished case as done (with its checksums) or failed (with its error)."""
        self._write(
            "UPDATE cases SET status=?, started_at=?, ended_at=?, duration_s=?, peak_memory_mb=?, "
            "attempts=?, checksums=?, error=?, input_error=? WHERE case_id=?",
            ("done" if result.ok else "failed", result.started_at, result.ended_at,
             result.duration_s, result.peak_memory_mb, result.attempts,
             json.dumps(result.checksums, sort_keys=True) if result.ok else None,
             None if result.ok else result.error, int(result.input_error), result.case_id))

    def counts(self) -> dict[str, int]:
        """Number of cases in each status."""
        counts = dict.fromkeys(STATUSES, 0)
        for row in self._db.execute("SELECT status, COUNT(*) AS n FROM cases GROUP BY status"):
            counts[row["status"]] = row["n"]
        return counts

    def failures(self) -> list[tuple[str, str]]:
        """(case id, one-line error) of every failed case."""
        return [(row["case_id"], row["error"] or "") for row in self._db.execute(
            "SELECT case_id, error FROM cases WHERE status='failed' ORDER BY case_id")]

    def throughput(self) -> tuple[float | None, float | None]:
        """(cases per hour, ETA in s of the pending and running cases) over the finished ones.

        Throughput is the finished cases over the time from the first start to
        the last end, so parallel workers count as they should.
        """
        row = self._db.execute(
            "SELECT COUNT(*) AS n, MIN(started_at) AS first, MAX(ended_at) AS last FROM cases "
            "WHERE status IN ('done', 'failed') AND ended_at IS NOT NULL").fetchone()
        if not row["n"] or row["last"] <= row["first"]:
            return None, None
        per_hour = row["n"] / (row["last"] - row["first"]) * 3600
        counts = self.counts()
        remaining = counts["pending"] + counts["running"]
        return per_hour, remaining / per_hour * 3600

    def export_csv(self, path: str | Path) -> None:
        """Write every row to a CSV file (checksums as JSON text)."""
        with open(path, "w", newline="") as file:
            writer = csv.DictWriter(file, fieldnames=COLUMNS)
            writer.writeheader()
            for row in self.rows():
                writer.writerow({key: row[key] for key in COLUMNS})
