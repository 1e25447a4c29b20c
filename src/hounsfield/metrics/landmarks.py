"""Landmark metrics with the conventions of the VerSe vertebra-labelling benchmark.

Source: ``get_hits`` in anjany/verse, utils/eval_utilities.py, and its use in
utils/evaluate.ipynb.

* Landmarks are dicts ``{label_id: (x, y, z)}`` in mm (LPS world
  coordinates from :func:`centroids_mm`, or any common frame).
* **Identified**: a reference label L counts as identified when L is also
  predicted, the predicted L is within ``max_distance_mm`` (20 mm) of the
  reference L -- ``<=``, as VerSe's code (``d > 20`` fails; its docstring says
  ``< 20``) -- and the reference landmark closest to the predicted L is the
  reference L itself. As in VerSe, "closest" is searched among the labels
  present in both dicts only (a predicted L lying on a reference vertebra
  that has no prediction is not disqualified by it), and ties go to the
  lowest label.
* **Identification rate** = identified / reference landmarks. Predicted
  labels absent from the reference are ignored; reference labels without a
  prediction count as not identified. VerSe also dropped labels above 28
  (its last vertebra id); here every label given is evaluated.
* **Localisation distance**: VerSe published no code for it. Both readings
  are returned: the mean distance over labels present in both
  (``mean_distance_mm``) and over identified labels only
  (``mean_distance_identified_mm``).
* VerSe evaluated at 1 mm: masks resampled to 1 mm isotropic before
  centroids were taken; :func:`centroids_mm` does so with ``isotropic_mm=1.0``.

Empty cases: the rate is NaN with no reference landmark; mean distances are
NaN when nothing is there to average.
"""

from __future__ import annotations

import math
import numbers
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from ..volume import Volume

__all__ = ["centroids_mm", "landmark_identification"]


def centroids_mm(label_volume: Volume, *, isotropic_mm: float | None = None,
                 labels=None) -> dict[int, tuple[float, float, float]]:
    """World (LPS, mm) centroid ``(x, y, z)`` of each label of a label map.

    Parameters
    ----------
    label_volume : Volume
        Integer label map; 0 is background.
    isotropic_mm : float, optional
        Resample (nearest neighbour) to this isotropic spacing first; VerSe
        used 1.0. Default: the volume's own grid.
    labels : iterable of int, optional
        Labels to report (those absent from the map are left out). Default:
        every non-zero label present.

    Returns
    -------
    dict
        ``{label: (x, y, z)}``, the mean world position of the label's voxel
        centres, in mm.

    Examples
    --------
    >>> from hounsfield.volume import Volume
    >>> array = np.zeros((4, 4, 4), np.int16); array[1:3, 0, 0] = 20
    >>> centroids_mm(Volume(array, spacing_mm=(2.0, 1.0, 1.0)))
    {20: (0.0, 0.0, 3.0)}
    """
    if not hasattr(label_volume, "index_to_world"):
        raise TypeError(f"label_volume must be a hounsfield Volume, got "
                        f"{type(label_volume).__name__}")
    if isotropic_mm is not None:
        if not (isinstance(isotropic_mm, numbers.Real) and math.isfinite(isotropic_mm)
                and isotropic_mm > 0):
            raise ValueError(f"isotropic_mm must be a positive number of mm, got {isotropic_mm!r}")
        label_volume = label_volume.resample(float(isotropic_mm), interpolation="nearest")
    array = np.asarray(label_volume.array)
    if not np.issubdtype(array.dtype, np.integer) and array.dtype != bool:
        raise ValueError(f"label_volume must hold integer labels, got dtype {array.dtype}")
    index = np.nonzero(array)
    values = array[index].astype(np.int64)
    if values.size and values.min() < 0:
        raise ValueError(f"label_volume labels must be >= 0, got {values.min()}")
    counts = np.bincount(values)
    sums = [np.bincount(values, weights=axis, minlength=len(counts)) for axis in index]
    wanted = np.flatnonzero(counts) if labels is None else [int(v) for v in labels]
    present = [v for v in wanted if 0 < v < len(counts) and counts[v] > 0]
    mean_index = np.array([[s[v] / counts[v] for s in sums] for v in present]).reshape(-1, 3)
    world = label_volume.index_to_world(mean_index)
    return {int(v): tuple(float(c) for c in point) for v, point in zip(present, world, strict=True)}


def _as_points(landmarks, name: str) -> dict[int, np.ndarray]:
    if not isinstance(landmarks, dict):
        raise TypeError(f"{name} must be a dict {{label: (x, y, z) mm}}, got "
                        f"{type(landmarks).__name__}")
    points = {}
    for label, point in landmarks.items():
        xyz = np.asarray(point, dtype=float)
        if xyz.shape != (3,) or not np.all(np.isfinite(xyz)):
            raise ValueError(f"{name}[{label!r}] must be 3 finite numbers (x, y, z) mm, "
                             f"got {point!r}")
        points[int(label)] = xyz
    return points


def _mean(values) -> float:
    values = list(values)
    return float(np.mean(values)) if values else math.nan


def landmark_identification(reference, predicted, *, max_distance_mm: float = 20.0) -> dict:
    """VerSe identification rate and localisation distances.

    Conventions are those of the module docstring.

    Parameters
    ----------
    reference, predicted : dict
        ``{label: (x, y, z)}`` in mm.
    max_distance_mm : float
        Largest distance (inclusive) of an identified landmark; VerSe: 20 mm.

    Returns
    -------
    dict
        ``identification_rate``, ``n_reference``, ``n_predicted``,
        ``n_identified``, ``identified`` ({reference label: bool}),
        ``distance_mm`` ({shared label: distance}), ``mean_distance_mm``,
        ``mean_distance_identified_mm``, ``missing`` (reference labels not
        predicted) and ``extra`` (predicted labels not in the reference).

    Examples
    --------
    >>> reference = {20: (0.0, 0.0, 0.0), 21: (0.0, 0.0, 30.0)}
    >>> predicted = {20: (0.0, 0.0, 5.0), 21: (0.0, 0.0, 14.0)}
    >>> result = landmark_identification(reference, predicted)
    >>> result["identified"], result["identification_rate"]
    ({20: True, 21: False}, 0.5)
    """
    reference = _as_points(reference, "reference")
    predicted = _as_points(predicted, "predicted")
    if not (isinstance(max_distance_mm, numbers.Real) and max_distance_mm >= 0):
        raise ValueError(f"max_distance_mm must be a number >= 0, got {max_distance_mm!r}")

    shared = sorted(set(reference) & set(predicted))
    identified = dict.fromkeys(sorted(reference), False)
    distance = {}
    if shared:
        ref_points = np.array([reference[label] for label in shared])
        for label in shared:
            to_each = np.linalg.norm(ref_points - predicted[label], axis=1)
            own = to_each[shared.index(label)]
            distance[label] = float(own)
            closest = shared[int(np.argmin(to_each))]
            identified[label] = bool(closest == label and own <= max_distance_mm)
    n_identified = int(sum(identified.values()))
    return {
        "identification_rate": n_identified / len(reference) if reference else math.nan,
        "n_reference": len(reference),
        "n_predicted": len(predicted),
        "n_identified": n_identified,
        "identified": identified,
        "distance_mm": distance,
        "mean_distance_mm": _mean(distance.values()),
        "mean_distance_identified_mm": _mean(d for k, d in distance.items() if identified[k]),
        "missing": sorted(set(reference) - set(predicted)),
        "extra": sorted(set(predicted) - set(reference)),
    }
