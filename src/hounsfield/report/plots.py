"""Plots of evaluation results."""

from __future__ import annotations

import math
from pathlib import Path

from ..io.paths import atomic_output
from ..metrics.aggregate import metric_keys

_DEFAULT_METRICS = ("dice", "hd95_mm", "nsd_1mm", "f1", "mae_hu", "psnr_db", "ssim")


def metric_boxplot(rows: list[dict], path, metrics=None, max_labels: int = 40) -> Path:
    """A PNG with one panel per metric and one box per label (NaN values left out).

    Shows the headline metrics that the rows have (Dice, HD95, NSD, F1,
    MAE/PSNR/SSIM) unless ``metrics`` names others; at most ``max_labels``
    labels, in the rows' order.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    available = metric_keys(rows)
    chosen = [m for m in (metrics or _DEFAULT_METRICS) if m in available] or available[:3]
    names = list(dict.fromkeys(str(r.get("name", r.get("label"))) for r in rows))[:max_labels]
    figure, axes = plt.subplots(len(chosen), 1, squeeze=False,
                                figsize=(max(6, 0.35 * len(names) + 2), 2.6 * len(chosen)))
    for axis, metric in zip(axes[:, 0], chosen, strict=True):
        data = [[r[metric] for r in rows if str(r.get("name", r.get("label"))) == name
                 and isinstance(r.get(metric), (int, float)) and not math.isnan(r[metric])]
                for name in names]
        axis.boxplot(data, tick_labels=names, showfliers=True)
        axis.set_ylabel(metric)
        axis.tick_params(axis="x", rotation=90 if len(names) > 6 else 0, labelsize=7)
    return save_figure(figure, path)


def hu_histograms(ct, labels, path, *, names=None, range_hu=(-1024.0, 1500.0),
                  bin_hu: float = 10.0, max_labels: int = 12) -> Path:
    """A PNG of the HU distribution of each label (fraction of its voxels per bin), in its colour.

    ``labels`` is a label map on ``ct``'s grid; ``names`` picks labels (default:
    the ``max_labels`` largest present). Bins are ``bin_hu`` wide over ``range_hu``.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    array, hu = np.asarray(labels.array), np.asarray(ct.array)
    counts = np.bincount(array.ravel())
    present = [lab for lab in labels.labels if lab.id < len(counts) and counts[lab.id] > 0]
    if names is not None:
        present = [lab for lab in present if lab.name in names]
    present = sorted(present, key=lambda lab: -counts[lab.id])[:max_labels]
    edges = np.arange(range_hu[0], range_hu[1] + bin_hu, bin_hu)
    figure, axis = plt.subplots(figsize=(10, 4))
    for label in present:
        histogram, _ = np.histogram(hu[array == label.id], bins=edges)
        axis.plot(0.5 * (edges[1:] + edges[:-1]), histogram / max(histogram.sum(), 1),
                  color=np.array(label.color) / 255, label=label.name, linewidth=1.4)
    axis.set_xlabel("CT number (HU)")
    axis.set_ylabel(f"fraction of voxels per {bin_hu:g} HU")
    axis.legend(fontsize=7, ncol=2)
    return save_figure(figure, path)


def save_figure(figure, path) -> Path:
    """Write a figure as PNG (atomically), close it and return the path."""
    import matplotlib.pyplot as plt

    figure.tight_layout()
    path = Path(path)
    with atomic_output(path) as tmp:
        figure.savefig(tmp, dpi=100, format="png")
    plt.close(figure)
    return path
