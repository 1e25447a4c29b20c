"""Slice montages: axial, coronal and sagittal views in display windows, with label overlays.

Views follow the radiological convention: axial slices seen from the feet
(patient's right on the image's left, anterior at the top), coronal seen
from the front, sagittal seen from the patient's left (anterior on the left).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..io.paths import atomic_output
from ..window import apply_window

VIEWS = ("axial", "coronal", "sagittal")


def orthogonal_slices(volume, center_index=None) -> dict[str, tuple[np.ndarray, float]]:
    """The three central slices of a Volume as display arrays with their pixel aspect.

    Returns {view: (2D array with rows top→bottom, height/width of one pixel)}.
    The volume is reoriented to LPS first, so oblique or flipped scans show
    the same way up.
    """
    lps = volume.reorient("LPS")
    a = lps.array
    k, j, i = (np.asarray(a.shape) // 2 if center_index is None
               else np.clip(np.asarray(center_index, int), 0, np.asarray(a.shape) - 1))
    dz, dy, dx = lps.spacing_mm
    return {
        "axial": (a[k], dy / dx),
        "coronal": (a[::-1, j, :], dz / dx),
        "sagittal": (a[::-1, :, i], dz / dy),
    }


def axial_for_display(image: np.ndarray, direction) -> np.ndarray:
    """An axial slice of a scan with ``direction`` turned to the radiological view.

    >>> las = np.diag([1.0, -1.0, 1.0])[:, ::-1]  # array axes (z, y, x): y runs anterior
    >>> axial_for_display(np.array([[1, 2], [3, 4]]), las).tolist()
    [[3, 4], [1, 2]]
    """
    from ..volume import Volume

    return Volume(np.asarray(image)[None], direction=direction).reorient("LPS").array[0]


def _overlay_rgba(label_slice: np.ndarray, labels) -> np.ndarray:
    colours = np.zeros((int(label_slice.max()) + 1, 4), np.float32)
    for label in labels:
        if label.id < len(colours):
            colours[label.id] = (*(c / 255 for c in label.color), 0.45)
    return colours[label_slice]


def montage(ct, path, *, windows=("lung", "mediastinum"), labels=None, title: str = "",
            dpi: int = 110) -> Path:
    """Write a PNG grid: one row per window (and one with the label overlay), one column per view.

    Parameters
    ----------
    ct : Volume
        CT in HU.
    path : str or Path
        The PNG to write (atomically).
    windows : sequence of str or (level, width)
        Display windows, one row each.
    labels : Volume, optional
        Label map on the CT's grid; adds a row with coloured labels over the
        last window.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    views = orthogonal_slices(ct)
    label_views = orthogonal_slices(labels) if labels is not None else None
    rows = [(w, False) for w in windows] + ([(windows[-1], True)] if labels is not None else [])
    figure, axes = plt.subplots(len(rows), 3, figsize=(12, 4 * len(rows)), squeeze=False,
                                facecolor="black")
    for row, (window, overlay) in enumerate(rows):
        for column, view in enumerate(VIEWS):
            image, aspect = views[view]
            axis = axes[row, column]
            axis.imshow(apply_window(image, window), cmap="gray", vmin=0, vmax=1, aspect=aspect,
                        interpolation="bilinear")
            if overlay:
                axis.imshow(_overlay_rgba(label_views[view][0], labels.labels), aspect=aspect,
                            interpolation="nearest")
            name = window if isinstance(window, str) else "W{1:g} L{0:g}".format(*window)
            axis.set_title(f"{view} · {name}{' + labels' if overlay else ''}", color="white")
            axis.axis("off")
    if title:
        figure.suptitle(title, color="white")
    figure.tight_layout()
    path = Path(path)
    with atomic_output(path) as tmp:
        figure.savefig(tmp, dpi=dpi, facecolor="black", format="png")
    plt.close(figure)
    return path
