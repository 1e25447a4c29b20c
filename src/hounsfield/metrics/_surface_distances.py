"""Nearest surface distances of two masks and the metrics taken from them.

:func:`distances_of_masks` crops both masks to their union's bounding box,
finds their surfaces (``_surfaces``) and the nearest distances between them
(``_nearest``); :class:`SurfaceDistances` turns these into HD, HDp, ASSD,
MASD and NSD by the rules of one convention (``_conventions``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np

from ._conventions import Convention, get_convention
from ._mask_input import check_number, warn_empty
from ._nearest import nearest_distances
from ._surfaces import (
    corner_area_table,
    corner_surfel_surface,
    foreground_extent,
    padded_box,
    voxel_border_surface,
)

__all__ = ["SurfaceDistances", "distances_of_masks"]


@dataclass(frozen=True)
class _Directed:
    """Distances from one surface to the other, with what the percentile rules need."""

    distance_mm: np.ndarray
    weights: np.ndarray | None = None
    rank: np.ndarray | None = None
    n_ranks: int = 0
    weight_rank: np.ndarray | None = None
    weight_values: np.ndarray | None = None


_NO_DISTANCES = _Directed(np.empty(0))


@dataclass(frozen=True, eq=False)
class SurfaceDistances:
    """Nearest distances between the surfaces of two masks, under one convention.

    Made by :func:`surface_distances`; every metric method reuses them.

    Attributes
    ----------
    convention : str
        The convention's name.
    empty : {None, "pred", "ref", "both"}
        Which mask was empty. With an empty mask the distance arrays are
        empty and the methods return the convention's empty-mask results.
    """

    convention: str
    empty: str | None
    _pred: _Directed = field(repr=False)
    _ref: _Directed = field(repr=False)

    @property
    def pred_to_ref_mm(self) -> np.ndarray:
        """Distance (mm) from each surface element of pred to the nearest one of ref."""
        return self._pred.distance_mm

    @property
    def ref_to_pred_mm(self) -> np.ndarray:
        """Distance (mm) from each surface element of ref to the nearest one of pred."""
        return self._ref.distance_mm

    @property
    def pred_weights(self) -> np.ndarray | None:
        """Area (mm²; 2D: length, mm) of each pred surfel, or None when each counts once."""
        return self._pred.weights

    @property
    def ref_weights(self) -> np.ndarray | None:
        """Area (mm²; 2D: length, mm) of each ref surfel, or None when each counts once."""
        return self._ref.weights

    def _empty_result(self, metric: str) -> float | None:
        if self.empty is None:
            return None
        rule = get_convention(self.convention)
        results = rule.if_both_empty if self.empty == "both" else rule.if_one_empty
        return results[metric]

    def hausdorff_mm(self, percentile: float = 100.0) -> float:
        """Hausdorff distance (mm) at ``percentile`` (100: the maximum) by the convention's rule."""
        percentile = check_number(percentile, "percentile", 0.0, 100.0)
        metric = "hd" if percentile == 100 else "hd_percentile"
        empty = self._empty_result(metric)
        if empty is not None:
            return empty
        rule = get_convention(self.convention)
        if rule.percentile_rule == "area_weighted_nearest_rank":
            return max(_area_weighted_nearest_rank(self._pred, percentile),
                       _area_weighted_nearest_rank(self._ref, percentile))
        if rule.percentile_rule == "pooled":
            pooled = np.concatenate([self._pred.distance_mm, self._ref.distance_mm])
            return float(np.percentile(pooled, percentile))
        linear = _torch_float32_quantile if rule.float32 else np.percentile
        return float(max(linear(self._pred.distance_mm, percentile),
                         linear(self._ref.distance_mm, percentile)))

    def assd_mm(self) -> float:
        """Average symmetric surface distance (mm): both directions pooled, weighted by area."""
        empty = self._empty_result("assd")
        if empty is not None:
            return empty
        total = _distance_sum(self._pred) + _distance_sum(self._ref)
        return float(total / (_total_weight(self._pred) + _total_weight(self._ref)))

    def masd_mm(self) -> float:
        """Mean average surface distance (mm): the mean of the two directed means."""
        empty = self._empty_result("masd")
        if empty is not None:
            return empty
        means = [_distance_sum(d) / _total_weight(d) for d in (self._pred, self._ref)]
        return float(0.5 * (means[0] + means[1]))

    def nsd(self, tolerance_mm: float = 1.0) -> float:
        """Normalised surface Dice: share of both surfaces within ``tolerance_mm`` of the other."""
        tolerance_mm = check_number(tolerance_mm, "tolerance_mm", 0.0)
        empty = self._empty_result("nsd")
        if empty is not None:
            return empty
        if get_convention(self.convention).float32:
            tolerance_mm = np.float32(tolerance_mm)  # MONAI compares in float32
        within = _weight_within(self._pred, tolerance_mm) + _weight_within(self._ref, tolerance_mm)
        return float(within / (_total_weight(self._pred) + _total_weight(self._ref)))


def _distance_sum(directed: _Directed) -> float:
    if directed.weights is None:
        return float(np.sum(directed.distance_mm, dtype=np.float64))
    return float(np.sum(directed.distance_mm * directed.weights))


def _weight_within(directed: _Directed, tolerance_mm) -> float:
    within = directed.distance_mm <= tolerance_mm
    if directed.weights is None:
        return float(np.count_nonzero(within))
    return float(np.sum(directed.weights[within]))


def _total_weight(directed: _Directed) -> float:
    if directed.weights is None:
        return float(directed.distance_mm.size)
    return float(np.sum(directed.weights))


def _torch_float32_quantile(values: np.ndarray, percentile: float) -> float:
    """``torch.quantile(values, percentile / 100)`` of float32 values, as MONAI calls it.

    torch computes the interpolation rank ``q * (n - 1)`` and the weight in
    float32, so for large ``n`` it differs from ``np.percentile`` by up to
    ~1e-3 of the gap between neighbours; this follows torch bit for bit.
    """
    one = np.float32(1)
    rank = np.float32(np.float32(percentile / 100) * np.float32(values.size - 1))
    below, above = int(np.floor(rank)), int(np.ceil(rank))
    weight = np.float32(rank - np.float32(below))
    partitioned = np.partition(values, [below, above])
    low, high = partitioned[below], partitioned[above]
    if weight < 0.5:  # torch.lerp's two branches
        return float(np.float32(low + np.float32(weight * np.float32(high - low))))
    return float(np.float32(high - np.float32(np.float32(high - low) * np.float32(one - weight))))


def _area_weighted_nearest_rank(directed: _Directed, percentile: float) -> float:
    """surface-distance's robust Hausdorff in one direction, without sorting the surfels.

    surface-distance sorts (distance, area) pairs, takes the cumulative area
    fraction and returns the distance where it first reaches p/100. Sorting by
    rank keys builds that same sequence: the rank of the distance (ranks order
    as the distances) times the number of distinct areas plus the rank of the
    area; a histogram of the keys is the sorted sequence.
    """
    n_values = directed.weight_values.size
    keys = directed.rank * n_values + directed.weight_rank
    n_keys = directed.n_ranks * n_values
    if n_keys <= max(4 * keys.size, 1 << 20):
        keys = np.repeat(np.arange(n_keys), np.bincount(keys, minlength=n_keys))
    else:
        keys = np.sort(keys)
    areas = directed.weight_values[keys % n_values]
    cumulative = np.cumsum(areas) / np.sum(areas)
    index = min(int(np.searchsorted(cumulative, percentile / 100.0)), keys.size - 1)
    distance_of_rank = np.empty(directed.n_ranks)
    distance_of_rank[directed.rank] = directed.distance_mm
    return float(distance_of_rank[keys[index] // n_values])


# -- computing the distances -----------------------------------------------------------------


@lru_cache(maxsize=64)
def _area_ranks(spacing_mm: tuple[float, ...]) -> tuple[np.ndarray, np.ndarray]:
    values, rank_of_code = np.unique(corner_area_table(spacing_mm), return_inverse=True)
    return values, rank_of_code


def _directed(queries, target, target_box, spacing3, spacing, planar,
              convention: Convention) -> _Directed:
    nearest = nearest_distances(queries.points, target.flags, target.points, target_box,
                                spacing3, planar)
    distance = nearest.distance_mm
    if convention.float32:
        distance = distance.astype(np.float32)
    if queries.codes is None:
        return _Directed(distance)
    values, rank_of_code = _area_ranks(spacing)
    return _Directed(distance, corner_area_table(spacing)[queries.codes], nearest.rank,
                     nearest.n_ranks, rank_of_code[queries.codes], values)


def distances_of_masks(pred: np.ndarray, ref: np.ndarray, spacing, convention: Convention,
                       name) -> SurfaceDistances:
    """Surface distances of two boolean masks (2D or 3D) with spacing in mm, validated."""
    planar = pred.ndim == 2
    if planar:
        pred, ref = pred[None], ref[None]
    extents = [foreground_extent(pred), foreground_extent(ref)]
    empty = _which_empty(*extents)
    if empty is not None:
        _warn_empty_surface(empty, convention, name)
        return SurfaceDistances(convention.name, empty, _NO_DISTANCES, _NO_DISTANCES)
    box = padded_box(extents, pred.shape, margin=1)
    corners = convention.surface == "corner_surfels"
    make_surface = corner_surfel_surface if corners else voxel_border_surface
    pred_surface, ref_surface = (
        make_surface(np.ascontiguousarray(mask).view(np.uint8), box, planar)
        for mask in (pred, ref))
    pred_box, ref_box = (_surface_box(extent, box, corners, planar) for extent in extents)
    spacing3 = (1.0, *spacing) if planar else spacing
    return SurfaceDistances(
        convention.name, None,
        _directed(pred_surface, ref_surface, ref_box, spacing3, spacing, planar, convention),
        _directed(ref_surface, pred_surface, pred_box, spacing3, spacing, planar, convention))


def _surface_box(extent: np.ndarray, box, corners: bool, planar: bool):
    """Inclusive (low, high) grid bounds of a mask's surface elements inside the crop."""
    low = extent[:, 0] - [s.start for s in box]
    high = extent[:, 1] - [s.start for s in box] + (1 if corners else 0)
    if planar:  # one layer of voxels, one layer of corners
        low[0] = high[0] = 0
    return low.astype(np.int64), high.astype(np.int64)


def _which_empty(pred_extent, ref_extent) -> str | None:
    if pred_extent is None and ref_extent is None:
        return "both"
    if pred_extent is None:
        return "pred"
    return "ref" if ref_extent is None else None


def _warn_empty_surface(empty: str, convention: Convention, name) -> None:
    results = convention.if_both_empty if empty == "both" else convention.if_one_empty
    what = {"both": "pred and ref are both empty", "pred": "pred is empty (ref is not)",
            "ref": "ref is empty (pred is not)"}[empty]
    values = ", ".join(f"{metric} = {value}" for metric, value in results.items())
    warn_empty(name, f"{what}; under convention {convention.name!r}: {values}", stacklevel=4)
