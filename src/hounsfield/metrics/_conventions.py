"""The surface-distance conventions: which surface, which percentile, which empty results.

Each convention reproduces one reference implementation. The facts below were
read from their sources (versions in parentheses) and are checked by the
agreement tests in tests/test_metrics_surface.py.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Convention", "CONVENTIONS", "DEFAULT_CONVENTION", "get_convention"]

_INF, _NAN = float("inf"), float("nan")


def _results(hd, hd_percentile, assd, masd, nsd) -> dict[str, float]:
    return {"hd": hd, "hd_percentile": hd_percentile, "assd": assd, "masd": masd, "nsd": nsd}


@dataclass(frozen=True)
class Convention:
    """How one reference implementation defines the surface distances.

    Attributes
    ----------
    name : str
        The ``convention=`` value.
    surface : {"corner_surfels", "border_voxels"}
        Surface elements (see ``_surfaces``).
    percentile_rule : {"area_weighted_nearest_rank", "max_of_directed", "pooled"}
        How HDp is taken from the two directed distance sets.
    float32 : bool
        Whether the reference rounds distances to float32 and takes
        percentiles as ``torch.quantile`` does (rank and weight in float32).
    if_both_empty, if_one_empty : dict
        Results when both masks, or exactly one, are empty.
    reference : str
        The implementation reproduced.
    """

    name: str
    surface: str
    percentile_rule: str
    float32: bool
    if_both_empty: dict
    if_one_empty: dict
    reference: str


CONVENTIONS: dict[str, Convention] = {
    "deepmind": Convention(
        "deepmind", "corner_surfels", "area_weighted_nearest_rank", False,
        # surface-distance's own tests: HD = inf, average distances and surface Dice
        # 0/0 = NaN; with one mask empty the other's distances are all inf.
        if_both_empty=_results(_INF, _INF, _NAN, _NAN, _NAN),
        if_one_empty=_results(_INF, _INF, _INF, _NAN, 0.0),
        reference="google-deepmind/surface-distance 0.1, surface_distance/metrics.py"),
    "monai": Convention(
        "monai", "border_voxels", "max_of_directed", True,
        # MONAI 1.6: NaN when both are empty; with one empty every distance is inf, and
        # torch.quantile interpolating between infinities makes HDp NaN (HD stays inf).
        if_both_empty=_results(_NAN, _NAN, _NAN, _NAN, _NAN),
        if_one_empty=_results(_INF, _NAN, _INF, _INF, 0.0),
        reference="Project-MONAI/MONAI 1.6, monai/metrics/{hausdorff_distance,"
                  "surface_distance,surface_dice}.py"),
    "metricsreloaded": Convention(
        "metricsreloaded", "border_voxels", "max_of_directed", False,
        # MetricsReloaded: distances 0 and NSD 1 when both are empty ("correct solution"),
        # NaN distances and NSD 0 when one is.
        if_both_empty=_results(0.0, 0.0, 0.0, 0.0, 1.0),
        if_one_empty=_results(_NAN, _NAN, _NAN, _NAN, 0.0),
        reference="Project-MONAI/MetricsReloaded, MetricsReloaded/metrics/pairwise_measures.py"),
    "medpy": Convention(
        "medpy", "border_voxels", "pooled", False,
        # medpy raises RuntimeError on any empty mask; here the distances are NaN.
        if_both_empty=_results(_NAN, _NAN, _NAN, _NAN, _NAN),
        if_one_empty=_results(_NAN, _NAN, _NAN, _NAN, 0.0),
        reference="loli/medpy 0.5, medpy/metric/binary.py"),
}

#: ``"pooled"`` names medpy's rule, shared by seg-metrics and panoptica.
_ALIASES = {"pooled": "medpy"}

DEFAULT_CONVENTION = "deepmind"


def get_convention(name) -> Convention:
    """The Convention called ``name``, or a ValueError listing the valid names."""
    key = _ALIASES.get(name, name) if isinstance(name, str) else name
    if key not in CONVENTIONS:
        valid = sorted([*CONVENTIONS, *_ALIASES])
        raise ValueError(f"convention must be one of {valid}, got {name!r}")
    return CONVENTIONS[key]


def convention_names() -> tuple[str, ...]:
    """Every accepted ``convention=`` value."""
    return (*CONVENTIONS, *_ALIASES)

