"""Metric rows for one case: segmentation (per label), lesion detection, or synthetic-CT images.

Each function takes Volumes (so spacing comes with the voxels) and returns a
list of rows ``{"case", "label", "name", <metric>: value}`` whose metric keys
carry their unit (``hd95_mm``, ``nsd_1mm``, ``volume_difference_ml``).
"""

from __future__ import annotations

import math
import warnings

import numpy as np

from ..errors import HounsfieldWarning
from .detection import CONVENTIONS as DETECTION_CONVENTIONS
from .detection import lesion_detection
from .image import image_metrics
from .landmarks import centroids_mm, landmark_identification
from .surface import DEFAULT_CONVENTION, multilabel_surface_metrics
from .tree import tree_metrics

TASKS = ("segmentation", "detection", "image", "airway", "landmarks")


def on_reference_grid(pred, ref, case: str):
    """The prediction on the reference's grid: resampled (nearest for labels) when they differ."""
    if pred.same_grid(ref, tol_mm=1e-3):
        return pred
    warnings.warn(f"{case}: prediction resampled onto the reference grid", HounsfieldWarning,
                  stacklevel=2)
    return pred.resample_like(ref)


def _overlap_counts(pred: np.ndarray, ref: np.ndarray, n: int):
    """Per-label voxel counts of pred, ref and their intersection, in one pass each."""
    pred_counts = np.bincount(pred.ravel(), minlength=n)[:n]
    ref_counts = np.bincount(ref.ravel(), minlength=n)[:n]
    both = np.bincount(ref[pred == ref].ravel(), minlength=n)[:n]
    return pred_counts, ref_counts, both


def _ratio(numerator: float, denominator: float) -> float:
    return numerator / denominator if denominator else math.nan


def segmentation_rows(pred, ref, case: str, *, labels=None, names=None,
                      convention: str = DEFAULT_CONVENTION, percentile: float = 95.0,
                      tolerance_mm: float = 1.0) -> list[dict]:
    """Per-label overlap, volume and surface metrics of two label-map Volumes.

    Undefined values (a distance to an empty mask, Dice of two empty masks)
    are NaN, as :func:`~hounsfield.metrics.surface.surface_metrics` documents.
    """
    pred = on_reference_grid(pred, ref, case)
    pred_ids, ref_ids = pred.array.astype(np.int64), ref.array.astype(np.int64)
    if labels is None:
        labels = sorted(set(np.unique(ref_ids).tolist()) | set(np.unique(pred_ids).tolist()) - {0})
    labels = [int(label) for label in labels if int(label) != 0]
    surface = multilabel_surface_metrics(pred_ids, ref_ids, ref.spacing_mm, labels,
                                         convention=convention, percentile=percentile,
                                         tolerance_mm=tolerance_mm)
    n = max([*labels, int(pred_ids.max(initial=0)), int(ref_ids.max(initial=0))]) + 1
    pred_counts, ref_counts, both = _overlap_counts(pred_ids, ref_ids, n)
    voxel_ml = ref.voxel_volume_ml
    rows = []
    for label in labels:
        p, r, tp = int(pred_counts[label]), int(ref_counts[label]), int(both[label])
        row = {"case": case, "label": label, "name": (names or {}).get(label, f"label_{label}"),
               "dice": surface[label]["dice"], "iou": _ratio(tp, p + r - tp),
               "sensitivity": _ratio(tp, r),
               "precision": _ratio(tp, p), "volume_pred_ml": p * voxel_ml,
               "volume_ref_ml": r * voxel_ml, "volume_difference_ml": (p - r) * voxel_ml,
               "volume_difference_percent": _ratio(100.0 * (p - r), r)}
        rows.append(row | surface[label])
    return rows


def detection_rows(pred, ref, case: str, *, convention: str = "isles22") -> list[dict]:
    """Lesion-wise detection of two lesion masks (any label > 0 is lesion), one row."""
    if convention not in DETECTION_CONVENTIONS:
        raise ValueError(f"detection convention must be one of {sorted(DETECTION_CONVENTIONS)}, "
                         f"got {convention!r}")
    pred = on_reference_grid(pred, ref, case)
    result = lesion_detection(pred.array > 0, ref.array > 0, ref.spacing_mm,
                              **DETECTION_CONVENTIONS[convention]).as_dict()
    result.pop("matched_pairs", None)
    return [{"case": case, "label": 1, "name": "lesions"} | result]


def image_rows(pred, ref, case: str, *, mask=None, convention: str = "synthrad2023") -> list[dict]:
    """MAE/PSNR/SSIM of a synthetic CT against the reference CT, inside a mask, one row."""
    pred = on_reference_grid(pred, ref, case)
    inside = None if mask is None else on_reference_grid(mask, ref, case).array > 0
    scores = image_metrics(pred.array, ref.array, inside, convention=convention)
    return [{"case": case, "label": 0, "name": "image"} | scores]


def airway_rows(pred, ref, case: str) -> list[dict]:
    """ATM'22 tree length and branches detected of two airway masks (label > 0), one row."""
    pred = on_reference_grid(pred, ref, case)
    scores = tree_metrics(pred.array > 0, ref.array > 0, ref.spacing_mm)
    return [{"case": case, "label": 1, "name": "airway"} | scores]


def landmark_rows(pred, ref, case: str, *, names=None) -> list[dict]:
    """VerSe identification of label centroids (computed at 1 mm), one row per reference label.

    Each row holds ``identified`` (1 or 0) and ``distance_mm`` (NaN when the
    label was not predicted); the case's identification rate is the mean of
    ``identified``.
    """
    reference = centroids_mm(ref, isotropic_mm=1.0)
    predicted = centroids_mm(pred, isotropic_mm=1.0)
    result = landmark_identification(reference, predicted)
    return [{"case": case, "label": label, "name": (names or {}).get(label, f"label_{label}"),
             "identified": float(result["identified"][label]),
             "distance_mm": result["distance_mm"].get(label, math.nan)}
            for label in sorted(reference)]
