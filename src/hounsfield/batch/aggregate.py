"""One table across the cases of a batch: statistics (analyze) or metrics (evaluate).

Rows come from each done case's ``stats.json`` (one row per structure) or
``metrics.csv`` (its rows), with ``case_id`` first. Written as
``OUT/combined.csv`` and, when pyarrow is installed, ``OUT/combined.parquet``.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

AGGREGATED_VERBS = ("analyze", "evaluate")


def _stats_rows(case_id: str, case_dir: Path) -> list[dict]:
    path = case_dir / "stats.json"
    if not path.is_file():
        return []
    stats = json.loads(path.read_text())
    return [{"case_id": case_id, "structure": name,
             **{k: v for k, v in entry.items() if not isinstance(v, dict | list)}}
            for name, entry in stats.items()]


def _metric_rows(case_id: str, case_dir: Path) -> list[dict]:
    path = case_dir / "metrics.csv"
    if not path.is_file():
        return []
    with open(path, newline="") as file:
        return [{"case_id": case_id, **row} for row in csv.DictReader(file)]


def combined_rows(verb: str, cases_dir: Path, case_ids: list[str]) -> list[dict]:
    """The combined rows of ``case_ids`` (in that order) for ``verb``.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> cases = pathlib.Path(tempfile.mkdtemp())
    >>> (cases / "a").mkdir()
    >>> _ = (cases / "a" / "stats.json").write_text('{"lung": {"volume_ml": 5.0}}')
    >>> combined_rows("analyze", cases, ["a"])
    [{'case_id': 'a', 'structure': 'lung', 'volume_ml': 5.0}]
    """
    rows_of = _stats_rows if verb == "analyze" else _metric_rows
    return [row for case_id in case_ids for row in rows_of(case_id, cases_dir / case_id)]


def write_combined(rows: list[dict], output: Path) -> list[Path]:
    """Write ``combined.csv`` (and ``combined.parquet`` with pyarrow); return the paths."""
    if not rows:
        return []
    columns = list(dict.fromkeys(key for row in rows for key in row))
    csv_path = output / "combined.csv"
    with open(csv_path, "w", newline="") as file:
        writer = csv.DictWriter(file, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)
    written = [csv_path]
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError:
        return written
    table = pa.table({column: [row.get(column) for row in rows] for column in columns})
    pq.write_table(table, output / "combined.parquet")
    return [*written, output / "combined.parquet"]
