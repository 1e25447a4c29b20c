"""Weight-free segmentation and the whole analysis on the real chest CT: time, memory, Dice.

Each structure of ``hounsfield.segment`` is timed on the 512×512×133 example
chest CT (the body once, then each structure on top of it, as
``Segmentation`` shares it), with its Dice against the reference labels;
then ``analyze`` (segment → measure → report) end to end, with the size of
its HTML report. Peak memory is the process's maximum resident set size.

TotalSegmentator cannot run here (no weights without a hub). Its own
documentation (the 3D Slicer extension's README) gives, on a CPU, tens of
minutes (40–50) for a full-resolution 'total' segmentation and under a
minute for the 3 mm '--fast' model.

    .venv/bin/python benchmarks/bench_segment.py
"""

from __future__ import annotations

import resource
import tempfile
import time
from pathlib import Path

import numpy as np

from hounsfield.analysis import analyze
from hounsfield.data import example_chest_ct
from hounsfield.metrics import dice
from hounsfield.segment import Segmentation

LEFT_LOBES = ("lung_upper_lobe_left", "lung_lower_lobe_left")
RIGHT_LOBES = ("lung_upper_lobe_right", "lung_middle_lobe_right", "lung_lower_lobe_right")
BONES = ("sternum", "scapula_left", "scapula_right", "clavicula_left", "clavicula_right",
         "humerus_left", "humerus_right")


def union(labels, keep) -> np.ndarray:
    """Mask of the reference labels whose name ``keep(name)`` accepts."""
    return np.isin(labels.array, [lab.id for lab in labels.labels if keep(lab.name)])


def peak_gb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2


def main() -> None:
    ct, labels = example_chest_ct()
    segmentation = Segmentation(ct)
    steps = [
        ("body", lambda: segmentation.body, None),
        ("lungs", lambda: segmentation.lungs,
         lambda r: f"Dice left {dice(r[0], union(labels, LEFT_LOBES.__contains__)):.4f}, "
                   f"right {dice(r[1], union(labels, RIGHT_LOBES.__contains__)):.4f}"),
        ("airways", lambda: segmentation.airway_tree,
         lambda r: f"trachea Dice {dice(r.trachea, union(labels, 'trachea'.__eq__)):.4f}"),
        ("bones", lambda: segmentation.skeleton,
         lambda r: "skeleton Dice {:.4f}".format(dice(r, union(
             labels, lambda n: n.startswith(("vertebrae_", "rib_")) or n in BONES)))),
        ("tissues", lambda: segmentation.tissues, None),
        ("vessels", lambda: segmentation.lung_vessels, None),
    ]
    print(f"{'structure':10s} {'time s':>8s}  agreement")
    total = 0.0
    for name, compute, score in steps:
        start = time.perf_counter()
        result = compute()
        elapsed = time.perf_counter() - start
        total += elapsed if name != "vessels" else 0.0
        print(f"{name:10s} {elapsed:8.2f}  {score(result) if score else ''}")
    print(f"all but vessels: {total:.1f} s (goal < 15 s); body + lungs: "
          f"{_lungs_alone(ct):.1f} s from scratch (goal < 5 s); peak {peak_gb():.2f} GB")
    with tempfile.TemporaryDirectory() as folder:
        start = time.perf_counter()
        analyze(ct, folder, given_labels=labels)
        elapsed = time.perf_counter() - start
        html_mb = (Path(folder) / "report.html").stat().st_size / 1e6
    print(f"analyze (segment, measure, report): {elapsed:.1f} s (goal < 30 s), "
          f"report.html {html_mb:.2f} MB (goal < 5 MB), peak {peak_gb():.2f} GB")


def _lungs_alone(ct) -> float:
    start = time.perf_counter()
    Segmentation(ct).lungs  # noqa: B018 (computing the cached masks is what is timed)
    return time.perf_counter() - start


if __name__ == "__main__":
    main()
