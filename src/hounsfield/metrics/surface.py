"""Surface-distance metrics under named conventions: HD, HDp, ASSD, MASD and NSD.

The same two masks give different "HD95" and "ASSD" in different libraries.
Each ``convention=`` here reproduces one of them to floating-point precision
(see tests/test_metrics_surface.py):

``"deepmind"`` (default) — google-deepmind/surface-distance
    Surface: corner surfels, the points of the grid of voxel corners whose
    2×2×2 neighbourhood is mixed, each weighted by the area (mm²) of the
    marching-cubes surface through its cell (2D: contour length, mm).
    Distances: from each surfel to the nearest surfel of the other mask, on
    the corner grid. HDp: in each direction the area-weighted nearest rank
    (the first distance, in ascending order, whose cumulative area fraction
    reaches p/100), then the larger of the two. ASSD: area-weighted mean of
    both directions pooled. MASD: mean of the two area-weighted directed
    means (the mean of ``compute_average_surface_distance``). NSD: surfel
    area within the tolerance, both directions, over the total area.
``"monai"`` — MONAI 1.6 ``compute_hausdorff_distance``,
``compute_average_surface_distance(symmetric=True)``, ``compute_surface_dice``
    Surface: border voxels, ``mask XOR binary_erosion(mask)`` with the
    connectivity-1 cross and outside-the-array counted as background; each
    voxel counts once. Distances: voxel centre to nearest border voxel
    centre, rounded to float32 as MONAI does. HDp: linear-interpolated
    percentile (``torch.quantile``) in each direction, then the larger. ASSD:
    mean of both directions pooled. MASD: mean of the two directed means.
    NSD: border voxels within the tolerance (float32 comparison) over all.
``"metricsreloaded"`` — MetricsReloaded ``BinaryPairwiseMeasures``
    As ``"monai"`` in float64: same border voxels, HDp the larger of the two
    directed ``np.percentile``, ASSD pooled, MASD the mean of directed means,
    NSD by voxel count. Only the empty-mask results differ.
``"medpy"`` (alias ``"pooled"``) — medpy 0.5 ``hd``, ``hd95``, ``assd``
    Same border voxels. HDp: one ``np.percentile`` of both directions pooled
    (also seg-metrics' and panoptica's rule). ASSD: pooled mean (medpy 0.5
    concatenates; medpy 0.4 averaged the directed means, which is MASD here).
    NSD (medpy has none): by voxel count, as ``"monai"`` in float64.

HD (the maximum) is the same in all four; HDp and ASSD are not: on the
MetricsReloaded paper's Fig. 5c masks HD95 is 6.79 mm (``"monai"``,
``"metricsreloaded"``), 2.26 mm (``"medpy"``) and 11.31 mm (``"deepmind"``).

The default is ``"deepmind"``: its surface lies on the voxel boundaries
between foreground and background rather than on a layer of foreground
voxels, so a mask and its complement have the same surface; every piece
counts by its area in mm², so thick slices and oblique faces weigh what they
measure rather than how many voxels lie on them; and it is the surface the
NSD was defined on (Nikolov et al. 2021) and the Medical Segmentation
Decathlon scored with. Use another convention to compare with numbers
computed by that library.

Empty masks give these results, each with an :class:`EmptyMaskWarning`
naming the case:

================  ======================================  ===================================
convention        both empty                              one empty
================  ======================================  ===================================
deepmind          HD = HDp = inf; ASSD, MASD, NSD NaN     HD = HDp = ASSD = inf; MASD NaN;
                                                          NSD 0
monai             all NaN                                 HD = ASSD = MASD = inf; HDp NaN;
                                                          NSD 0
metricsreloaded   HD = HDp = ASSD = MASD = 0; NSD 1       HD, HDp, ASSD, MASD NaN; NSD 0
medpy             all NaN (medpy raises RuntimeError)     HD, HDp, ASSD, MASD NaN (medpy
                                                          raises RuntimeError); NSD 0
================  ======================================  ===================================

Speed: both masks are cropped to their union's bounding box, surfaces are
found by numba kernels, and distances are searched from surface elements only
(a ball of grid offsets, then a k-d tree for far points, or for all points
when the surfaces are far apart), never by a distance transform of the grid.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from ._conventions import DEFAULT_CONVENTION, convention_names, get_convention
from ._mask_input import as_label_pair, as_mask_pair, check_number
from ._surface_distances import SurfaceDistances, distances_of_masks
from ._surfaces import padded_box

__all__ = [
    "CONVENTIONS",
    "DEFAULT_CONVENTION",
    "SurfaceDistances",
    "surface_distances",
    "hausdorff_distance",
    "percentile_hausdorff_distance",
    "average_symmetric_surface_distance",
    "mean_average_surface_distance",
    "normalized_surface_dice",
    "surface_metrics",
    "multilabel_surface_metrics",
]

#: Accepted ``convention=`` values.
CONVENTIONS: tuple[str, ...] = convention_names()


# -- public API ---------------------------------------------------------------------------------


def surface_distances(pred, ref, spacing_mm=None, *, convention: str = DEFAULT_CONVENTION,
                      name: str | None = None) -> SurfaceDistances:
    """Nearest surface-to-surface distances of two masks, for several metrics at once.

    Parameters
    ----------
    pred, ref : array_like or Volume, 2D or 3D
        Predicted and reference masks of one shape; non-zero is foreground.
    spacing_mm : sequence of float, optional
        Voxel size in mm in array order (z, y, x). Required for arrays;
        taken from Volumes.
    convention : str
        ``"deepmind"`` (default), ``"monai"``, ``"metricsreloaded"``,
        ``"medpy"`` or ``"pooled"`` (= ``"medpy"``); see the module docstring.
    name : str, optional
        Case or label named in warnings.

    Returns
    -------
    SurfaceDistances
        Its methods ``hausdorff_mm``, ``assd_mm``, ``masd_mm`` and ``nsd`` give
        the metrics. An empty mask gives the convention's empty-mask results
        and an :class:`EmptyMaskWarning`.

    Examples
    --------
    >>> import numpy as np
    >>> ref = np.zeros((8, 8, 8), bool); ref[2:5, 2:5, 2:5] = True
    >>> pred = np.roll(ref, 1, axis=2)
    >>> distances = surface_distances(pred, ref, (2.0, 1.0, 1.0), convention="monai")
    >>> distances.hausdorff_mm(), distances.nsd(tolerance_mm=1.0)
    (1.0, 1.0)
    """
    convention_rule = get_convention(convention)
    pred, ref, spacing = as_mask_pair(pred, ref, spacing_mm, need_spacing=True)
    return distances_of_masks(pred, ref, spacing, convention_rule, name)


def hausdorff_distance(pred, ref, spacing_mm=None, *, convention: str = DEFAULT_CONVENTION,
                       name: str | None = None) -> float:
    """Hausdorff distance (mm): the largest distance from either surface to the other.

    The same under every convention but for the surface: corner surfels
    (``"deepmind"``) or border voxels (the others). Empty masks: inf
    (``"deepmind"``; ``"monai"`` with one empty), NaN (``"monai"`` with both,
    ``"metricsreloaded"`` with one, ``"medpy"``), 0 (``"metricsreloaded"``
    with both), each with an :class:`EmptyMaskWarning`.

    Parameters
    ----------
    pred, ref, spacing_mm, convention, name
        As for :func:`surface_distances`.

    Returns
    -------
    float
        Distance in mm.

    Examples
    --------
    >>> import numpy as np
    >>> ref = np.zeros((8, 8, 8), bool); ref[2:5, 2:5, 2:5] = True
    >>> hausdorff_distance(np.roll(ref, 1, axis=0), ref, (2.0, 1.0, 1.0))
    2.0
    """
    return surface_distances(pred, ref, spacing_mm, convention=convention,
                             name=name).hausdorff_mm(100.0)


def percentile_hausdorff_distance(pred, ref, spacing_mm=None, percentile: float = 95.0, *,
                                  convention: str = DEFAULT_CONVENTION,
                                  name: str | None = None) -> float:
    """Percentile Hausdorff distance HDp (mm), HD95 by default.

    Surface: corner surfels with areas (``"deepmind"``) or border voxels
    (the others). Percentile rule: ``"deepmind"`` the area-weighted nearest
    rank in each direction, then the larger; ``"monai"`` (float32, as
    ``torch.quantile``) and ``"metricsreloaded"`` the linear-interpolated
    percentile in each direction, then the larger; ``"medpy"`` one
    linear-interpolated percentile of both directions pooled. Empty masks,
    with an :class:`EmptyMaskWarning`: inf (``"deepmind"``); NaN
    (``"monai"``, which interpolates between infinities as MONAI does, and
    ``"medpy"``); 0 with both and NaN with one (``"metricsreloaded"``).

    Parameters
    ----------
    pred, ref, spacing_mm, convention, name
        As for :func:`surface_distances`.
    percentile : float
        In [0, 100].

    Returns
    -------
    float
        Distance in mm.

    Examples
    --------
    >>> import numpy as np
    >>> ref = np.zeros((8, 8, 8), bool); ref[2:5, 2:5, 2:5] = True
    >>> percentile_hausdorff_distance(np.roll(ref, 1, axis=0), ref, (2.0, 1.0, 1.0))
    2.0
    """
    return surface_distances(pred, ref, spacing_mm, convention=convention,
                             name=name).hausdorff_mm(percentile)


def average_symmetric_surface_distance(pred, ref, spacing_mm=None, *,
                                       convention: str = DEFAULT_CONVENTION,
                                       name: str | None = None) -> float:
    """ASSD (mm): mean distance over both surfaces pooled.

    ``(sum of pred→ref distances + sum of ref→pred distances) / (number of
    elements of both)``, over corner surfels weighted by area (``"deepmind"``)
    or border voxels (the others); MONAI's ``symmetric=True``, medpy 0.5's
    ``assd``. Empty masks, with an :class:`EmptyMaskWarning`: both empty NaN
    (0 under ``"metricsreloaded"``); one empty inf (``"deepmind"``,
    ``"monai"``) or NaN (``"metricsreloaded"``, ``"medpy"``).

    Parameters
    ----------
    pred, ref, spacing_mm, convention, name
        As for :func:`surface_distances`.

    Returns
    -------
    float
        Distance in mm.

    Examples
    --------
    >>> import numpy as np
    >>> ref = np.zeros((8, 8, 8), bool); ref[2:5, 2:5, 2:5] = True
    >>> pred = np.roll(ref, 1, axis=2)
    >>> round(average_symmetric_surface_distance(pred, ref, (1, 1, 1), convention="medpy"), 4)
    0.3846
    """
    return surface_distances(pred, ref, spacing_mm, convention=convention,
                             name=name).assd_mm()


def mean_average_surface_distance(pred, ref, spacing_mm=None, *,
                                  convention: str = DEFAULT_CONVENTION,
                                  name: str | None = None) -> float:
    """MASD (mm): the mean of the two directed average surface distances.

    ``(mean pred→ref + mean ref→pred) / 2``, over corner surfels with
    area-weighted means (``"deepmind"``: the mean of surface-distance's
    ``compute_average_surface_distance``) or border voxels (the others;
    MetricsReloaded's MASD). Equals ASSD when both surfaces are equally
    large. Empty masks, with an :class:`EmptyMaskWarning`: NaN (0 under
    ``"metricsreloaded"`` when both are empty; inf under ``"monai"`` when
    one is).

    Parameters
    ----------
    pred, ref, spacing_mm, convention, name
        As for :func:`surface_distances`.

    Returns
    -------
    float
        Distance in mm.

    Examples
    --------
    >>> import numpy as np
    >>> ref = np.zeros((8, 8, 8), bool); ref[2:5, 2:5, 2:5] = True
    >>> pred = np.roll(ref, 1, axis=2)
    >>> round(mean_average_surface_distance(pred, ref, (1, 1, 1), convention="medpy"), 4)
    0.3846
    """
    return surface_distances(pred, ref, spacing_mm, convention=convention,
                             name=name).masd_mm()


def normalized_surface_dice(pred, ref, spacing_mm=None, tolerance_mm: float = 1.0, *,
                            convention: str = DEFAULT_CONVENTION,
                            name: str | None = None) -> float:
    """Normalised surface Dice (NSD) at ``tolerance_mm``: 0 (no overlap) to 1.

    ``(pred surface within tolerance of ref + ref surface within tolerance of
    pred) / (pred surface + ref surface)``, a distance counting as within when
    ``<= tolerance_mm``. Surface measured in surfel area (``"deepmind"``) or
    in border voxels (the others). Empty masks: 0 with one empty; NaN with
    both (1 under ``"metricsreloaded"``).

    Parameters
    ----------
    pred, ref, spacing_mm, convention, name
        As for :func:`surface_distances`.
    tolerance_mm : float
        Largest distance, in mm, that counts as agreement; >= 0.

    Returns
    -------
    float
        Fraction in [0, 1].

    Examples
    --------
    >>> import numpy as np
    >>> ref = np.zeros((8, 8, 8), bool); ref[2:5, 2:5, 2:5] = True
    >>> pred = np.roll(ref, 1, axis=0)  # one 2 mm slice down
    >>> round(normalized_surface_dice(pred, ref, (2.0, 1.0, 1.0), 1.0), 4)
    0.7999
    >>> round(normalized_surface_dice(pred, ref, (2.0, 1.0, 1.0), 1.0, convention="monai"), 4)
    0.6538
    """
    return surface_distances(pred, ref, spacing_mm, convention=convention,
                             name=name).nsd(tolerance_mm)


def _metric_names(percentile: float, tolerance_mm: float) -> tuple[str, str]:
    return f"hd{percentile:g}_mm", f"nsd_{tolerance_mm:g}mm"


def _metrics_of(distances: SurfaceDistances, percentile: float, tolerance_mm: float) -> dict:
    hd_name, nsd_name = _metric_names(percentile, tolerance_mm)
    return {"hd_mm": distances.hausdorff_mm(100.0),
            hd_name: distances.hausdorff_mm(percentile),
            "assd_mm": distances.assd_mm(),
            "masd_mm": distances.masd_mm(),
            nsd_name: distances.nsd(tolerance_mm)}


def surface_metrics(pred, ref, spacing_mm=None, *, convention: str = DEFAULT_CONVENTION,
                    percentile: float = 95.0, tolerance_mm: float = 1.0,
                    name: str | None = None) -> dict[str, float]:
    """HD, HDp, ASSD, MASD and NSD from one computation of the distances.

    Parameters
    ----------
    pred, ref, spacing_mm, convention, name
        As for :func:`surface_distances`.
    percentile : float
        Percentile of HDp, in [0, 100].
    tolerance_mm : float
        NSD tolerance in mm.

    Returns
    -------
    dict
        ``{"hd_mm", "hd95_mm", "assd_mm", "masd_mm", "nsd_1mm"}`` for the
        defaults; the HDp and NSD keys follow ``percentile`` and
        ``tolerance_mm`` (``"hd99_mm"``, ``"nsd_2.5mm"``). Distances in mm.

    Examples
    --------
    >>> import numpy as np
    >>> ref = np.zeros((8, 8, 8), bool); ref[2:5, 2:5, 2:5] = True
    >>> metrics = surface_metrics(np.roll(ref, 1, axis=0), ref, (2.0, 1.0, 1.0))
    >>> sorted(metrics)
    ['assd_mm', 'hd95_mm', 'hd_mm', 'masd_mm', 'nsd_1mm']
    """
    percentile = check_number(percentile, "percentile", 0.0, 100.0)
    tolerance_mm = check_number(tolerance_mm, "tolerance_mm", 0.0)
    distances = surface_distances(pred, ref, spacing_mm, convention=convention, name=name)
    return _metrics_of(distances, percentile, tolerance_mm)


def multilabel_surface_metrics(pred_labels, ref_labels, spacing_mm=None, labels=None, *,
                               convention: str = DEFAULT_CONVENTION, percentile: float = 95.0,
                               tolerance_mm: float = 1.0) -> dict[int, dict[str, float]]:
    """Dice and the surface metrics of every label of two label maps, in one pass.

    One ``scipy.ndimage.find_objects`` pass per map gives every label's
    bounding box; each label is then evaluated on the union of its two boxes
    only.

    Parameters
    ----------
    pred_labels, ref_labels : array_like or Volume, 2D or 3D, non-negative integers
        Label maps of one shape; 0 is background.
    spacing_mm : sequence of float, optional
        Voxel size in mm, array order; required for arrays.
    labels : iterable of int, optional
        Labels to evaluate; by default every non-zero label in either map.
        A label absent from both gets the empty-mask results.
    convention, percentile, tolerance_mm
        As for :func:`surface_metrics`.

    Returns
    -------
    dict
        ``{label: {"dice", "hd_mm", "hd95_mm", "assd_mm", "masd_mm",
        "nsd_1mm"}}``; Dice follows :func:`hounsfield.metrics.dice` (NaN
        when both are empty).

    Examples
    --------
    >>> import numpy as np
    >>> ref = np.zeros((8, 8, 8), np.uint8); ref[2:5, 2:5, 2:5] = 1; ref[5:7, 5:7, 5:7] = 2
    >>> result = multilabel_surface_metrics(ref, ref, (1.0, 1.0, 1.0))
    >>> sorted(result), result[2]["dice"], result[2]["hd_mm"]
    ([1, 2], 1.0, 0.0)
    """
    from .overlap import dice

    rule = get_convention(convention)
    percentile = check_number(percentile, "percentile", 0.0, 100.0)
    tolerance_mm = check_number(tolerance_mm, "tolerance_mm", 0.0)
    label_names = _label_names(pred_labels, ref_labels)
    pred, ref, spacing = as_label_pair(pred_labels, ref_labels, spacing_mm,
                                       names=("pred_labels", "ref_labels"), need_spacing=True)
    pred, ref = _as_label_map(pred, "pred_labels"), _as_label_map(ref, "ref_labels")
    pred_boxes, ref_boxes = _boxes_by_label(pred), _boxes_by_label(ref)
    labels = sorted(set(pred_boxes) | set(ref_boxes)) if labels is None else _check_labels(labels)
    results = {}
    for label in labels:
        name = label_names.get(label, f"label {label}")
        pred_mask, ref_mask = _label_crops(pred, ref, label, pred_boxes, ref_boxes)
        distances = distances_of_masks(pred_mask, ref_mask, spacing, rule, name)
        results[label] = {"dice": dice(pred_mask, ref_mask, name=name),
                          **_metrics_of(distances, percentile, tolerance_mm)}
    return results


def _label_names(*maps) -> dict[int, str]:
    for label_map in maps:
        table = getattr(label_map, "labels", None)
        if table is not None:
            return {label_id: f"label {label_id} ({table.name_of(label_id)})"
                    for label_id in table.ids}
    return {}


def _as_label_map(array: np.ndarray, name: str) -> np.ndarray:
    if array.dtype == bool:
        return array.view(np.uint8)
    if not np.issubdtype(array.dtype, np.integer):
        raise ValueError(f"{name} must hold integer labels, got dtype {array.dtype}")
    if np.issubdtype(array.dtype, np.signedinteger) and array.size and array.min() < 0:
        raise ValueError(f"{name} must hold non-negative labels, got minimum {array.min()}")
    return array


def _check_labels(labels) -> list[int]:
    checked = []
    for label in labels:
        if isinstance(label, bool) or not isinstance(label, (int, np.integer)) or label < 1:
            raise ValueError(f"labels must be integers >= 1 (0 is background), got {label!r}")
        checked.append(int(label))
    return checked


def _boxes_by_label(label_map: np.ndarray) -> dict[int, np.ndarray]:
    """Inclusive (ndim, 2) extent of every label present, from one find_objects pass."""
    boxes = {}
    for index, box in enumerate(ndimage.find_objects(label_map)):
        if box is not None:
            boxes[index + 1] = np.array([(s.start, s.stop - 1) for s in box], dtype=np.int64)
    return boxes


def _label_crops(pred, ref, label: int, pred_boxes, ref_boxes):
    """Masks of ``label`` on the union of its two boxes (+1 voxel); (1,)*ndim if absent."""
    extents = [pred_boxes.get(label), ref_boxes.get(label)]
    if extents[0] is None and extents[1] is None:
        empty = np.zeros((1,) * pred.ndim, bool)
        return empty, empty
    box = padded_box(extents, pred.shape, margin=1)
    return pred[box] == label, ref[box] == label

