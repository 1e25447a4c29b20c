"""Overlap metrics of binary masks: Dice, IoU, sensitivity, precision, volume difference, clDice.

Pure functions over two masks of one shape (arrays of any dtype and any
dimension, non-zero is foreground, or Volumes). Where a metric is undefined (a zero denominator) the
result is the value of an ``empty_*`` parameter, NaN by default, and an
:class:`EmptyMaskWarning` names the case; nothing silently becomes 0. A 0 is
returned only where the formula itself gives 0 (e.g. Dice with exactly one
empty mask).
"""

from __future__ import annotations

import math

import numpy as np

from ._mask_input import as_mask_pair, warn_empty
from ._surfaces import foreground_extent, padded_box

__all__ = [
    "dice",
    "iou",
    "sensitivity",
    "precision",
    "volume_difference_ml",
    "volume_difference_percent",
    "cldice",
]


def _fill_value(value, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise ValueError(f"{name} must be a number or NaN, got {value!r}")
    return float(value)


def _ratio(numerator: float, denominator: float, fill: float, name, why: str) -> float:
    if denominator == 0:
        warn_empty(name, f"{why}; returning {fill}")
        return fill
    return float(numerator / denominator)


def _counts(pred: np.ndarray, ref: np.ndarray) -> tuple[int, int, int]:
    """(true positives, pred voxels, ref voxels)."""
    return (int(np.count_nonzero(pred & ref)), int(np.count_nonzero(pred)),
            int(np.count_nonzero(ref)))


def dice(pred, ref, *, empty_both: float = math.nan, name: str | None = None) -> float:
    """Dice similarity coefficient ``2|P∩R| / (|P| + |R|)``, 0 to 1.

    Parameters
    ----------
    pred, ref : array_like or Volume
        Masks of one shape; non-zero is foreground.
    empty_both : float
        Result when both masks are empty (0/0), with an EmptyMaskWarning.
        NaN by default; 1.0 scores "correctly nothing" as perfect.
    name : str, optional
        Case or label named in the warning.

    Returns
    -------
    float
        0 when exactly one mask is empty.

    Examples
    --------
    >>> import numpy as np
    >>> ref = np.zeros((4, 4, 4), bool); ref[:2] = True
    >>> pred = np.zeros((4, 4, 4), bool); pred[1:3] = True
    >>> dice(pred, ref)
    0.5
    """
    empty_both = _fill_value(empty_both, "empty_both")
    pred, ref, _ = as_mask_pair(pred, ref, ndims=None)
    tp, n_pred, n_ref = _counts(pred, ref)
    return _ratio(2 * tp, n_pred + n_ref, empty_both, name,
                  "pred and ref are both empty (Dice 0/0)")


def iou(pred, ref, *, empty_both: float = math.nan, name: str | None = None) -> float:
    """Intersection over union (Jaccard index) ``|P∩R| / |P∪R|``, 0 to 1.

    Parameters
    ----------
    pred, ref : array_like or Volume
        Masks of one shape; non-zero is foreground.
    empty_both : float
        Result when both masks are empty (0/0), with an EmptyMaskWarning; NaN
        by default.
    name : str, optional
        Case or label named in the warning.

    Returns
    -------
    float
        0 when exactly one mask is empty.

    Examples
    --------
    >>> import numpy as np
    >>> ref = np.zeros((4, 4, 4), bool); ref[:2] = True
    >>> pred = np.zeros((4, 4, 4), bool); pred[1:3] = True
    >>> round(iou(pred, ref), 4)
    0.3333
    """
    empty_both = _fill_value(empty_both, "empty_both")
    pred, ref, _ = as_mask_pair(pred, ref, ndims=None)
    tp, n_pred, n_ref = _counts(pred, ref)
    return _ratio(tp, n_pred + n_ref - tp, empty_both, name,
                  "pred and ref are both empty (IoU 0/0)")


def sensitivity(pred, ref, *, empty_ref: float = math.nan, name: str | None = None) -> float:
    """Sensitivity (recall, true-positive rate) ``|P∩R| / |R|``, 0 to 1.

    Parameters
    ----------
    pred, ref : array_like or Volume
        Masks of one shape; non-zero is foreground.
    empty_ref : float
        Result when the reference is empty (undefined), with an
        EmptyMaskWarning; NaN by default.
    name : str, optional
        Case or label named in the warning.

    Returns
    -------
    float
        0 when pred is empty and ref is not.

    Examples
    --------
    >>> import numpy as np
    >>> ref = np.zeros((4, 4, 4), bool); ref[:2] = True
    >>> pred = np.zeros((4, 4, 4), bool); pred[1:3] = True
    >>> sensitivity(pred, ref)
    0.5
    """
    empty_ref = _fill_value(empty_ref, "empty_ref")
    pred, ref, _ = as_mask_pair(pred, ref, ndims=None)
    tp, _, n_ref = _counts(pred, ref)
    return _ratio(tp, n_ref, empty_ref, name, "ref is empty (sensitivity undefined)")


def precision(pred, ref, *, empty_pred: float = math.nan, name: str | None = None) -> float:
    """Precision (positive predictive value) ``|P∩R| / |P|``, 0 to 1.

    Parameters
    ----------
    pred, ref : array_like or Volume
        Masks of one shape; non-zero is foreground.
    empty_pred : float
        Result when the prediction is empty (undefined), with an
        EmptyMaskWarning; NaN by default.
    name : str, optional
        Case or label named in the warning.

    Returns
    -------
    float
        0 when ref is empty and pred is not.

    Examples
    --------
    >>> import numpy as np
    >>> ref = np.zeros((4, 4, 4), bool); ref[:2] = True
    >>> pred = np.zeros((4, 4, 4), bool); pred[1:4] = True
    >>> round(precision(pred, ref), 4)
    0.3333
    """
    empty_pred = _fill_value(empty_pred, "empty_pred")
    pred, ref, _ = as_mask_pair(pred, ref, ndims=None)
    tp, n_pred, _ = _counts(pred, ref)
    return _ratio(tp, n_pred, empty_pred, name, "pred is empty (precision undefined)")


def volume_difference_ml(pred, ref, spacing_mm=None) -> float:
    """Signed volume difference ``V(pred) - V(ref)`` in ml.

    Defined for empty masks (an empty mask has volume 0).

    Parameters
    ----------
    pred, ref : array_like or Volume, 3D
        Masks of one shape; non-zero is foreground.
    spacing_mm : sequence of 3 float, optional
        Voxel size (z, y, x) in mm; required for arrays, taken from Volumes.

    Returns
    -------
    float
        Volume in ml (1 ml = 1000 mm³); positive when pred is larger.

    Examples
    --------
    >>> import numpy as np
    >>> ref = np.zeros((4, 4, 4), bool); ref[:2] = True
    >>> volume_difference_ml(np.ones((4, 4, 4), bool), ref, (2.0, 5.0, 5.0))
    1.6
    """
    pred, ref, spacing = as_mask_pair(pred, ref, spacing_mm, need_spacing=True, ndims=(3,))
    voxel_ml = float(np.prod(spacing)) / 1000.0
    return (int(np.count_nonzero(pred)) - int(np.count_nonzero(ref))) * voxel_ml


def volume_difference_percent(pred, ref, *, empty_ref: float = math.nan,
                              name: str | None = None) -> float:
    """Signed relative volume difference ``100 (V(pred) - V(ref)) / V(ref)`` in percent.

    Independent of the voxel size.

    Parameters
    ----------
    pred, ref : array_like or Volume
        Masks of one shape; non-zero is foreground.
    empty_ref : float
        Result when the reference is empty (division by 0), with an
        EmptyMaskWarning; NaN by default.
    name : str, optional
        Case or label named in the warning.

    Returns
    -------
    float
        Percent of the reference volume; positive when pred is larger.

    Examples
    --------
    >>> import numpy as np
    >>> ref = np.zeros((4, 4, 4), bool); ref[:2] = True
    >>> volume_difference_percent(np.ones((4, 4, 4), bool), ref)
    100.0
    """
    empty_ref = _fill_value(empty_ref, "empty_ref")
    pred, ref, _ = as_mask_pair(pred, ref, ndims=None)
    n_pred, n_ref = int(np.count_nonzero(pred)), int(np.count_nonzero(ref))
    return _ratio(100.0 * (n_pred - n_ref), n_ref, empty_ref, name,
                  "ref is empty (relative volume difference undefined)")


def _skeleton_in_box(mask: np.ndarray):
    """(skeleton, box) of a mask's bounding box grown by one voxel; (None, None) if empty."""
    from skimage.morphology import skeletonize

    extent = foreground_extent(mask)
    if extent is None:
        return None, None
    box = padded_box([extent], mask.shape, margin=1)
    return skeletonize(mask[box]), box


def _skeleton_share_inside(mask: np.ndarray, other: np.ndarray) -> float:
    """Fraction of ``mask``'s skeleton that lies inside ``other``; NaN when mask is empty."""
    skeleton, box = _skeleton_in_box(mask)
    if skeleton is None:
        return math.nan
    return np.count_nonzero(skeleton & other[box]) / np.count_nonzero(skeleton)


def cldice(pred, ref, *, empty_both: float = math.nan, name: str | None = None) -> float:
    """Centreline Dice (clDice; Shit et al., CVPR 2021) of tubular structures, 0 to 1.

    ``2 Tprec Tsens / (Tprec + Tsens)`` with topology precision ``Tprec =
    |S(P) ∩ R| / |S(P)|`` and topology sensitivity ``Tsens = |S(R) ∩ P| /
    |S(R)|``. Skeletons ``S`` come from ``skimage.morphology.skeletonize`` with
    its defaults: Lee's method in 3D, Zhang's in 2D (as MetricsReloaded).

    Parameters
    ----------
    pred, ref : array_like or Volume, 2D or 3D
        Masks of one shape; non-zero is foreground.
    empty_both : float
        Result when both masks are empty, with an EmptyMaskWarning; NaN by
        default.
    name : str, optional
        Case or label named in the warning.

    Returns
    -------
    float
        0 when exactly one mask is empty, or when the skeletons miss the
        other mask entirely.

    Examples
    --------
    >>> import numpy as np
    >>> ref = np.zeros((5, 5, 20), bool); ref[1:4, 1:4, 2:18] = True
    >>> pred = np.zeros((5, 5, 20), bool); pred[1:4, 1:4, 2:10] = True
    >>> round(cldice(pred, ref), 3)
    0.667
    """
    empty_both = _fill_value(empty_both, "empty_both")
    pred, ref, _ = as_mask_pair(pred, ref)
    pred_empty, ref_empty = not pred.any(), not ref.any()
    if pred_empty and ref_empty:
        warn_empty(name, f"pred and ref are both empty (clDice undefined); returning {empty_both}",
                   stacklevel=2)
        return empty_both
    if pred_empty or ref_empty:
        return 0.0
    topology_precision = _skeleton_share_inside(pred, ref)
    topology_sensitivity = _skeleton_share_inside(ref, pred)
    total = topology_precision + topology_sensitivity
    return 0.0 if total == 0 else float(2 * topology_precision * topology_sensitivity / total)
