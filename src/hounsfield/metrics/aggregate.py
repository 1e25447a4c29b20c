"""Summaries of per-case metric rows: mean, sd, median, IQR and how many values were NaN.

Undefined values — NaN, or the infinite distance some conventions give for
an empty mask — are skipped and counted (``nan_count``), never turned into
numbers.
"""

from __future__ import annotations

import math
from collections import defaultdict

import numpy as np

ID_KEYS = ("case", "label", "name")


def metric_keys(rows: list[dict]) -> list[str]:
    """Numeric keys of the rows, in first-seen order, without the identifying ones."""
    keys: dict[str, None] = {}
    for row in rows:
        for key, value in row.items():
            if key not in ID_KEYS and isinstance(value, (int, float, np.number)) \
                    and not isinstance(value, bool):
                keys.setdefault(key)
    return list(keys)


def describe_values(values) -> dict:
    """Statistics of one metric's values, NaN and ±inf skipped and counted.

    >>> describe_values([1.0, 2.0, float("inf"), float("nan")])["nan_count"]
    2
    >>> describe_values([1.0, 2.0, 3.0, 4.0])["iqr"]
    1.5
    """
    array = np.asarray(list(values), dtype=float)
    finite = array[np.isfinite(array)]
    stats = {"n": int(array.size), "nan_count": int(array.size - finite.size)}
    if finite.size == 0:
        return stats | dict.fromkeys(("mean", "sd", "median", "q1", "q3", "iqr"), math.nan)
    q1, median, q3 = np.percentile(finite, [25, 50, 75])
    return stats | {"mean": float(finite.mean()),
                    "sd": float(finite.std(ddof=1)) if finite.size > 1 else math.nan,
                    "median": float(median), "q1": float(q1), "q3": float(q3),
                    "iqr": float(q3 - q1)}


def summarize(rows: list[dict]) -> dict:
    """{'per_label': {name: {metric: stats}}, 'overall': {metric: stats}}."""
    keys = metric_keys(rows)
    by_label: dict[str, list[dict]] = defaultdict(list)
    for row in rows:
        by_label[str(row.get("name", row.get("label", "")))].append(row)
    def stats_of(group):
        return {key: describe_values(row.get(key, math.nan) for row in group) for key in keys}
    return {"per_label": {name: stats_of(group) for name, group in by_label.items()},
            "overall": stats_of(rows)}


def json_safe(value):
    """Rows and summaries with NaN and ±inf as None (null), which JSON readers accept."""
    if isinstance(value, dict):
        return {key: json_safe(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(item) for item in value]
    if isinstance(value, (float, np.floating)) and not math.isfinite(value):
        return None
    return value.item() if isinstance(value, np.generic) else value
