"""Lesion-wise detection metrics with the conventions of ISLES'22, autoPET and LiTS.

A *lesion* is a connected component of a binary mask (any non-zero voxel is
lesion). Components are found with connected-components-3d; ``connectivity``
is 6, 18 or 26 in 3D (faces; faces + edges; faces + edges + corners) and 4 or
8 in 2D. The default, 26, is ISLES'22's. Component labels run 1..n in C
(raster) order, the order ``scipy.ndimage.label`` gives, and every tie below
is broken by that order.

Match rules (``match=``), each counting ``tp`` (detected reference lesions),
``fp`` (false-positive predicted components) and ``fn`` (missed reference
lesions):

``"overlap"``
    ISLES'22 (``compute_lesion_f1_score`` in ezequieldlrosa/isles22,
    utils/eval_utils.py). A reference lesion is detected when any of its
    voxels is predicted; a predicted component is a false positive when none
    of its voxels is reference. Not one-to-one: a split lesion counts once
    with no false positive, and two merged lesions both count as detected.
``"iou"``
    One-to-one: pairs whose IoU passes ``iou_threshold`` (``>`` when
    ``strict``, ``>=`` otherwise), taken greedily from the highest IoU down.
    For a strict threshold of 0.5 or more a pair is unique anyway.
``"hungarian"``
    One-to-one: ``scipy.optimize.linear_sum_assignment`` maximising the
    summed IoU over the pairs that pass the threshold (the others weigh 0),
    then keeping the assigned pairs that pass. It maximises total IoU, not
    the number of matches.
``"lits"``
    The rule of the LiTS evaluation code (``detect_lesions`` in
    program/helpers/calc_metric.py of PatrickChrist/lits-challenge-scoring
    and veugene/lits-challenge-scoring, last change 2017-09-01):

    1. Each reference lesion that any prediction touches belongs to the
       predicted component overlapping it most (lowest label on ties);
       reference lesions belonging to the same prediction merge into one
       reference group.
    2. Each predicted component that touches the reference is matched to the
       group it overlaps most (ties: the group whose lowest label is lowest);
       predictions matched to the same group merge.
    3. A group is detected when IoU(union of its predictions, union of its
       reference lesions) passes ``iou_threshold``; LiTS used 0.5, strict
       (``overlap <= min_overlap`` means not detected), and 0 for its
       "greater than zero" recall and precision.
    4. ``tp`` = detected groups, ``fp = n_predicted - tp``,
       ``fn = n_reference - tp``. So a lesion split in two that is detected
       gives one TP and one FP, and two merged lesions detected by one
       prediction give one TP and one FN.

    Where this differs from the published code: that code computes the union
    in step 3 from a mask relabelled with reference ids but selected with a
    prediction id, which gives the right union only when both ids happen to
    be equal (and shifts with the array's axis order); and for an undetected
    merged group of k lesions it subtracts k from the detected count that
    had counted the group once, so TP can go negative and FP and FN grow by
    k - 1. Here the union is the true one and an undetected group counts 0.
    LiTS labelled lesions with ``scipy.ndimage.label``'s default, 6-connectivity,
    and pooled TP, FP and FN over all cases (see :func:`pool_detections`).

Volumes, in ml (1 ml = 1000 mm³), from ``spacing_mm``:

* ``fp_volume_ml`` / ``fn_volume_ml``: autoPET (``false_pos_pix`` and
  ``false_neg_pix`` in lab-midas/autoPET, val_script.py, with 18-connectivity)
  -- the volume of predicted components with no voxel in the reference, and
  of reference components with no predicted voxel. They use this overlap
  definition whatever the match rule.
* ``volume_difference_ml``: ISLES'22 absolute volume difference,
  ``|V_reference - V_prediction|`` over whole masks.
* ``lesion_count_difference``: ISLES'22 absolute lesion count difference,
  ``|n_reference - n_predicted|``.

Empty cases never raise: ``recall`` is NaN with no reference lesion,
``precision`` is NaN with no predicted component, and ``f1`` (ISLES'22
``tp / (tp + (fp + fn) / 2)``) is ``f1_when_empty`` -- 1.0 as in ISLES'22 --
when both masks are empty. :data:`CONVENTIONS` holds the settings that
reproduce each challenge.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterable
from dataclasses import asdict, dataclass

import numpy as np

__all__ = [
    "CONVENTIONS",
    "MATCH_RULES",
    "LesionDetection",
    "label_lesions",
    "lesion_detection",
    "pool_detections",
]

MATCH_RULES = ("overlap", "iou", "hungarian", "lits")
_CONNECTIVITIES = {2: (4, 8), 3: (6, 18, 26)}

#: Keyword settings of :func:`lesion_detection` that follow each challenge's code.
CONVENTIONS = {
    "isles22": {"match": "overlap", "connectivity": 26},
    "autopet": {"match": "overlap", "connectivity": 18},
    "lits": {"match": "lits", "iou_threshold": 0.5, "strict": True, "connectivity": 6},
}


@dataclass(frozen=True)
class LesionDetection:
    """Lesion-wise detection result for one case; see the module docstring.

    ``matched_pairs`` holds (reference label, predicted label) pairs, labels
    as :func:`label_lesions` numbers them, of the components the rule counted
    as detections.
    """

    n_reference: int
    n_predicted: int
    tp: int
    fp: int
    fn: int
    recall: float
    precision: float
    f1: float
    fp_volume_ml: float
    fn_volume_ml: float
    reference_volume_ml: float
    predicted_volume_ml: float
    volume_difference_ml: float
    lesion_count_difference: int
    matched_pairs: tuple[tuple[int, int], ...]

    def as_dict(self) -> dict:
        """The fields as a plain dict."""
        return asdict(self)


# -- validation ------------------------------------------------------------------


def _as_mask(mask, name: str) -> np.ndarray:
    array = np.asarray(mask)
    if array.ndim not in _CONNECTIVITIES:
        raise ValueError(f"{name} must be a 2D or 3D array, got shape {array.shape}")
    return array != 0


def _check_pair(prediction, reference) -> tuple[np.ndarray, np.ndarray]:
    prediction = _as_mask(prediction, "prediction")
    reference = _as_mask(reference, "reference")
    if prediction.shape != reference.shape:
        raise ValueError(f"prediction must have the reference's shape {reference.shape}, "
                         f"got {prediction.shape}")
    return prediction, reference


def _check_connectivity(connectivity, ndim: int) -> int:
    allowed = _CONNECTIVITIES[ndim]
    if connectivity not in allowed:
        raise ValueError(f"connectivity must be one of {allowed} for {ndim}D masks, "
                         f"got {connectivity!r}")
    return int(connectivity)


def _voxel_volume_ml(spacing_mm, ndim: int) -> float:
    if spacing_mm is None:
        return 1e-3
    spacing = np.asarray(spacing_mm, dtype=float)
    if spacing.shape != (ndim,) or not np.all(np.isfinite(spacing)) or np.any(spacing <= 0):
        raise ValueError(f"spacing_mm must be {ndim} positive finite numbers (array order, mm), "
                         f"got {spacing_mm!r}")
    return float(np.prod(spacing)) / 1000.0


def _check_threshold(iou_threshold) -> float:
    if not (isinstance(iou_threshold, numbers.Real) and 0.0 <= iou_threshold <= 1.0):
        raise ValueError(f"iou_threshold must be a number in [0, 1], got {iou_threshold!r}")
    return float(iou_threshold)


# -- components and overlaps ---------------------------------------------------------


def label_lesions(mask, connectivity: int = 26) -> tuple[np.ndarray, int]:
    """Label the connected components of a binary mask.

    Parameters
    ----------
    mask : ndarray, 2D or 3D
        Non-zero voxels are lesion.
    connectivity : int
        6, 18 or 26 in 3D; 4 or 8 in 2D.

    Returns
    -------
    labels : ndarray of int
        0 for background, 1..n for the components in C (raster) order.
    n : int
        Number of components.

    Examples
    --------
    >>> mask = np.zeros((1, 3, 3), bool); mask[0, 0, 0] = mask[0, 1, 1] = True
    >>> label_lesions(mask, connectivity=26)[1], label_lesions(mask, connectivity=6)[1]
    (1, 2)
    """
    import cc3d

    mask = _as_mask(mask, "mask")
    connectivity = _check_connectivity(connectivity, mask.ndim)
    labels, n = cc3d.connected_components(mask, connectivity=connectivity, return_N=True)
    return labels, int(n)


def _overlap_counts(ref_labels, n_ref: int, pred_labels, n_pred: int) -> np.ndarray:
    """Voxels shared by each reference (rows) and predicted (columns) component."""
    both = (ref_labels > 0) & (pred_labels > 0)
    pair_index = ref_labels[both].astype(np.int64) * (n_pred + 1) + pred_labels[both]
    counts = np.bincount(pair_index, minlength=(n_ref + 1) * (n_pred + 1))
    return counts.reshape(n_ref + 1, n_pred + 1)[1:, 1:]


def _sizes(labels, n: int) -> np.ndarray:
    return np.bincount(labels.ravel(), minlength=n + 1)[1:]


def _passes(iou, threshold: float, strict: bool):
    return iou > threshold if strict else iou >= threshold


# -- match rules: each returns (tp, fp, pairs of 0-based indices) -----------------------


def _match_overlap(overlap, **_):
    pairs = [tuple(pair) for pair in np.argwhere(overlap > 0)]
    tp = int(np.count_nonzero(overlap.any(axis=1)))
    fp = int(np.count_nonzero(~overlap.any(axis=0)))
    return tp, fp, pairs


def _iou_matrix(overlap, ref_sizes, pred_sizes) -> np.ndarray:
    union = ref_sizes[:, None] + pred_sizes[None, :] - overlap
    return np.divide(overlap, union, out=np.zeros(overlap.shape), where=union > 0)


def _one_to_one_counts(pairs, overlap):
    return len(pairs), overlap.shape[1] - len(pairs), pairs


def _match_iou(overlap, ref_sizes, pred_sizes, threshold, strict):
    iou = _iou_matrix(overlap, ref_sizes, pred_sizes)
    candidates = np.argwhere((overlap > 0) & _passes(iou, threshold, strict))
    # Highest IoU first; a stable sort keeps ties in label order.
    order = np.argsort(-iou[candidates[:, 0], candidates[:, 1]], kind="stable")
    used_ref, used_pred, pairs = set(), set(), []
    for r, p in candidates[order]:
        if r not in used_ref and p not in used_pred:
            used_ref.add(r)
            used_pred.add(p)
            pairs.append((int(r), int(p)))
    return _one_to_one_counts(sorted(pairs), overlap)


def _match_hungarian(overlap, ref_sizes, pred_sizes, threshold, strict):
    from scipy.optimize import linear_sum_assignment

    iou = _iou_matrix(overlap, ref_sizes, pred_sizes)
    eligible = (overlap > 0) & _passes(iou, threshold, strict)
    rows, cols = linear_sum_assignment(np.where(eligible, iou, 0.0), maximize=True)
    pairs = [(int(r), int(p)) for r, p in zip(rows, cols, strict=True) if eligible[r, p]]
    return _one_to_one_counts(pairs, overlap)


def _lits_groups(overlap):
    """LiTS steps 1-2: reference group id per reference lesion, matched group per prediction."""
    n_ref, n_pred = overlap.shape
    touched = overlap.any(axis=1)
    # Step 1: a touched reference lesion joins the group of its largest-overlap prediction.
    owner = np.where(touched, np.argmax(overlap, axis=1), -1)
    group_key = np.where(touched, owner, n_pred + np.arange(n_ref))
    _, ref_group = np.unique(group_key, return_inverse=True)
    # Group order for ties: by each group's lowest reference label, as LiTS's columns are.
    first_member = np.full(ref_group.max(initial=-1) + 1, n_ref)
    np.minimum.at(first_member, ref_group, np.arange(n_ref))
    rank = np.argsort(np.argsort(first_member, kind="stable"), kind="stable")
    ref_group = rank[ref_group]
    group_overlap = np.zeros((len(first_member), n_pred), dtype=np.int64)
    np.add.at(group_overlap, ref_group, overlap)
    # Step 2: each touching prediction goes to the group it overlaps most.
    pred_group = np.where(overlap.any(axis=0), np.argmax(group_overlap, axis=0), -1)
    return ref_group, pred_group, group_overlap


def _match_lits(overlap, ref_sizes, pred_sizes, threshold, strict):
    n_ref, n_pred = overlap.shape
    if not overlap.any():
        return 0, n_pred, []
    ref_group, pred_group, group_overlap = _lits_groups(overlap)
    tp, pairs = 0, []
    for group in np.unique(pred_group[pred_group >= 0]):
        preds = np.flatnonzero(pred_group == group)
        refs = np.flatnonzero(ref_group == group)
        intersection = int(group_overlap[group, preds].sum())
        union = int(pred_sizes[preds].sum() + ref_sizes[refs].sum()) - intersection
        if _passes(intersection / union, threshold, strict):
            tp += 1
            pairs.extend((int(r), int(p)) for r in refs for p in preds)
    return tp, n_pred - tp, sorted(pairs)


_MATCHERS = {"overlap": _match_overlap, "iou": _match_iou,
             "hungarian": _match_hungarian, "lits": _match_lits}


# -- public entry points ------------------------------------------------------------------


def _ratio(numerator: float, denominator: float) -> float:
    return numerator / denominator if denominator > 0 else math.nan


def _f1(tp: int, fp: int, fn: int, f1_when_empty: float) -> float:
    if tp + fp + fn == 0:
        return float(f1_when_empty)
    return tp / (tp + (fp + fn) / 2)


def lesion_detection(prediction, reference, spacing_mm=None, *, match: str = "overlap",
                     iou_threshold: float = 0.5, strict: bool = True, connectivity: int = 26,
                     f1_when_empty: float = 1.0) -> LesionDetection:
    """Lesion-wise TP/FP/FN, recall, precision, F1 and lesion volumes for one case.

    Conventions (match rules, connectivity, empty cases, volumes) are those
    of the module docstring; ``**CONVENTIONS["lits"]`` and the other entries
    of :data:`CONVENTIONS` select a challenge's own settings.

    Parameters
    ----------
    prediction, reference : ndarray, 2D or 3D, same shape
        Binary masks (non-zero is lesion), indexed (z, y, x) in 3D.
    spacing_mm : sequence of float, optional
        Voxel size along the array axes, in mm. Default 1 mm, so that the
        ``*_ml`` values are then voxel counts / 1000.
    match : {"overlap", "iou", "hungarian", "lits"}
        Match rule.
    iou_threshold : float in [0, 1]
        IoU a match must pass (rules "iou", "hungarian" and "lits").
    strict : bool
        True: IoU must exceed the threshold; False: reaching it is enough.
    connectivity : int
        6, 18 or 26 in 3D; 4 or 8 in 2D.
    f1_when_empty : float
        F1 when neither mask has a lesion (ISLES'22 uses 1.0).

    Returns
    -------
    LesionDetection

    Examples
    --------
    >>> reference = np.zeros((1, 1, 10), bool); reference[0, 0, 0:4] = True
    >>> prediction = np.zeros_like(reference); prediction[0, 0, 2:6] = True
    >>> lesion_detection(prediction, reference).tp  # touches: detected
    1
    >>> lesion_detection(prediction, reference, match="iou").tp  # IoU 2/6
    0
    """
    prediction, reference = _check_pair(prediction, reference)
    connectivity = _check_connectivity(connectivity, reference.ndim)
    voxel_ml = _voxel_volume_ml(spacing_mm, reference.ndim)
    if match not in _MATCHERS:
        raise ValueError(f"match must be one of {MATCH_RULES}, got {match!r}")
    threshold = _check_threshold(iou_threshold)

    ref_labels, n_ref = label_lesions(reference, connectivity)
    pred_labels, n_pred = label_lesions(prediction, connectivity)
    overlap = _overlap_counts(ref_labels, n_ref, pred_labels, n_pred)
    ref_sizes, pred_sizes = _sizes(ref_labels, n_ref), _sizes(pred_labels, n_pred)
    tp, fp, pairs = _MATCHERS[match](overlap, ref_sizes=ref_sizes, pred_sizes=pred_sizes,
                                     threshold=threshold, strict=bool(strict))
    fn = n_ref - tp
    return LesionDetection(
        n_reference=n_ref, n_predicted=n_pred, tp=tp, fp=fp, fn=fn,
        recall=_ratio(tp, n_ref), precision=_ratio(n_pred - fp, n_pred),
        f1=_f1(tp, fp, fn, f1_when_empty),
        fp_volume_ml=float(pred_sizes[~overlap.any(axis=0)].sum()) * voxel_ml,
        fn_volume_ml=float(ref_sizes[~overlap.any(axis=1)].sum()) * voxel_ml,
        reference_volume_ml=float(ref_sizes.sum()) * voxel_ml,
        predicted_volume_ml=float(pred_sizes.sum()) * voxel_ml,
        volume_difference_ml=abs(float(ref_sizes.sum()) - float(pred_sizes.sum())) * voxel_ml,
        lesion_count_difference=abs(n_ref - n_pred),
        matched_pairs=tuple((r + 1, p + 1) for r, p in pairs),
    )


def pool_detections(results: Iterable[LesionDetection]) -> dict:
    """Pool per-case detections over a dataset.

    Returns summed ``tp``, ``fp``, ``fn``, ``n_reference``, ``n_predicted``,
    the recall, precision and F1 of those sums (LiTS pools this way; NaN
    where a denominator is 0, where LiTS wrote 0), ``fp_per_case``,
    ``mean_f1`` (mean of the per-case F1, as ISLES'22 ranks), and the mean
    ``fp_volume_ml``, ``fn_volume_ml`` and ``volume_difference_ml``.

    Examples
    --------
    >>> one = np.zeros((1, 1, 4), bool); one[0, 0, 0] = True
    >>> cases = [lesion_detection(one, one), lesion_detection(one, ~one)]
    >>> pooled = pool_detections(cases)
    >>> pooled["tp"], pooled["fp"], pooled["fn"], pooled["fp_per_case"]
    (1, 1, 1, 0.5)
    """
    results = list(results)
    if not results:
        raise ValueError("results must hold at least one LesionDetection, got none")
    total = {key: sum(getattr(r, key) for r in results)
             for key in ("tp", "fp", "fn", "n_reference", "n_predicted")}
    tp, fp, fn = total["tp"], total["fp"], total["fn"]
    case_f1 = [r.f1 for r in results if not math.isnan(r.f1)]
    return {
        **total,
        "n_cases": len(results),
        "recall": _ratio(tp, total["n_reference"]),
        "precision": _ratio(total["n_predicted"] - fp, total["n_predicted"]),
        "f1": _f1(tp, fp, fn, math.nan),
        "fp_per_case": fp / len(results),
        "mean_f1": float(np.mean(case_f1)) if case_f1 else math.nan,
        **{f"mean_{key}": float(np.mean([getattr(r, key) for r in results]))
           for key in ("fp_volume_ml", "fn_volume_ml", "volume_difference_ml")},
    }
