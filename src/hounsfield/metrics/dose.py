"""Gamma index of an evaluated dose distribution against a reference, and its pass rate.

The gamma index (Low et al. 1998) of a reference point ``r`` is

    γ(r) = min over evaluation points e of sqrt( (ΔD(e) / δD)^2 + (|e - r| / δr)^2 )

with ``δr`` the distance to agreement (mm) and ``δD`` the dose-difference
criterion: a percent of the global normalisation dose (global gamma) or of the
reference dose at ``r`` (local gamma).

:func:`gamma_index` reproduces ``pymedphys.gamma`` (pymedphys 0.41, its
"shell" method; the open implementation that most Python studies report),
option for option and value for value (to rounding, ~1e-14):

* The evaluation dose is interpolated (trilinear) at points on shells around
  each reference point: radii 0, s, 2s, ... with ``s = δr / interp_fraction``
  accumulated in float64, the radius δr itself always included; a circle (2D)
  or sphere (3D) sampled so that no two neighbouring points are more than
  ``s`` apart (rows of constant elevation, ``ceil(2π ρ / s) + 1`` points on a
  row of radius ρ); ±radius in 1D. Points outside the evaluation grid (its
  edges included as inside) do not count.
* Each shell gives ``sqrt((m / δD)^2 + (radius / δr)^2)`` with ``m`` its
  smallest |dose difference|; γ is the smallest of these. The search of a
  point stops at the first shell where γ ≤ radius / δr (no farther shell can
  give less), or beyond ``max_gamma · δr``.
* γ is computed where the reference dose is ≥ ``lower_percent_dose_cutoff`` %
  of the global normalisation (the maximum reference dose unless given), for
  local gamma too; elsewhere it is NaN. Values above ``max_gamma`` become
  ``max_gamma``; points whose search met no evaluation point are NaN.

The sampling and the stopping rule are pymedphys's; the speed (over 10 times
pymedphys's on 50³-100³ grids) comes from running the search per reference
point in a compiled kernel, each point stopping at its own last shell, with
interpolation weights precomputed once per shell for reference points that
lie on evaluation nodes.
"""

from __future__ import annotations

import math
import warnings

import numpy as np

from ..errors import HounsfieldWarning
from ._gamma_kernel import search_gamma

__all__ = ["gamma_index", "gamma_pass_rate", "PASS_RULES"]

#: How a gamma value passes: "<=" (γ ≤ 1, pymedphys's documented examples and most
#: clinical software) or "<" (γ < 1, pymedphys's internal ``calculate_pass_rate``).
PASS_RULES = ("<=", "<")

def gamma_index(reference_dose, evaluation_dose, dose_percent_threshold: float,
                distance_mm_threshold: float, *, spacing_mm=None, reference_axes_mm=None,
                evaluation_axes_mm=None, lower_percent_dose_cutoff: float = 20.0,
                interp_fraction: float = 10.0, max_gamma: float | None = None,
                local_gamma: bool = False, global_normalisation: float | None = None
                ) -> np.ndarray:
    """Gamma index of each reference point, as ``pymedphys.gamma`` computes it.

    Parameters
    ----------
    reference_dose, evaluation_dose : ndarray, 1D, 2D or 3D
        Dose grids (any unit, the same for both), indexed like their axes
        ((z, y, x) for a 3D volume). γ is computed at the reference points;
        the evaluation dose is interpolated around them.
    dose_percent_threshold : float
        Dose-difference criterion δD in percent (3 for 3 %/3 mm) of the global
        normalisation or, with ``local_gamma``, of the local reference dose.
    distance_mm_threshold : float
        Distance to agreement δr in mm.
    spacing_mm : float or sequence of float, optional
        Voxel size per axis in mm, when both grids are the same grid
        (same shape, first voxel at 0 mm): ``volume.spacing_mm`` for
        dose :class:`~hounsfield.volume.Volume` s on one grid.
    reference_axes_mm, evaluation_axes_mm : tuple of 1D arrays, optional
        Coordinates in mm of the grid lines along each axis, instead of
        ``spacing_mm`` (the grids may then differ). Evaluation axes must be
        monotonic and uniformly spaced with at least 2 points each
        (decreasing ones are reversed, with the dose, before the search).
    lower_percent_dose_cutoff : float
        Reference points below this percent of the global normalisation get
        no γ (NaN). pymedphys's default is 20.
    interp_fraction : float
        The search step is ``distance_mm_threshold / interp_fraction`` mm
        (0.3 mm for 3 mm and the default 10).
    max_gamma : float, optional
        Search no farther than ``max_gamma · distance_mm_threshold`` mm and
        report larger values as ``max_gamma``. ``None``: no limit.
    local_gamma : bool
        Normalise dose differences by the local reference dose instead of
        the global normalisation. Reference points with dose ≤ 0 get NaN.
    global_normalisation : float, optional
        Dose that the percentages refer to; the maximum reference dose by default.

    Returns
    -------
    ndarray of float64
        γ per reference point, the reference dose's shape; NaN where it was
        not computed (below the cutoff, or no evaluation point within reach).

    Examples
    --------
    A uniform 2 % dose offset is γ = 2/3 at 3 %/3 mm everywhere:

    >>> reference = np.full((5, 6), 50.0)
    >>> gamma = gamma_index(reference, 1.02 * reference, 3, 3, spacing_mm=(2.0, 2.0))
    >>> np.allclose(gamma, 2 / 3)
    True
    >>> gamma_pass_rate(gamma)
    100.0
    """
    reference, evaluation = _check_doses(reference_dose, evaluation_dose)
    reference_axes, evaluation_axes = _check_axes(reference.shape, evaluation.shape, spacing_mm,
                                                  reference_axes_mm, evaluation_axes_mm)
    evaluation, evaluation_axes = _increasing(evaluation, evaluation_axes)
    options = _check_options(dose_percent_threshold, distance_mm_threshold,
                             lower_percent_dose_cutoff, interp_fraction, max_gamma,
                             global_normalisation)
    normalisation = options["global_normalisation"]
    if normalisation is None:
        normalisation = float(reference.max())
        if normalisation <= 0:
            raise ValueError("global_normalisation defaults to the maximum reference dose, "
                             f"which is {normalisation}; it must be positive (or give one)")
    selected = reference >= options["lower_percent_dose_cutoff"] / 100 * normalisation
    if local_gamma:
        selected &= reference > 0
    gamma = np.full(reference.shape, np.nan)
    if not selected.any():
        return gamma
    points_mm = _point_coordinates(reference_axes, selected)
    reference_values = reference[selected].astype(np.float64)
    dose_normalisation = reference_values if local_gamma else np.full_like(reference_values,
                                                                           normalisation)
    found = search_gamma(points_mm, reference_values, dose_normalisation, evaluation,
                         evaluation_axes, options)
    found[np.isinf(found)] = np.nan
    if options["max_gamma"] is not None:
        found = np.minimum(found, options["max_gamma"], where=~np.isnan(found), out=found)
    gamma[selected] = found
    return gamma


def gamma_pass_rate(gamma, *, pass_rule: str = "<=") -> float:
    """Percent of the computed gamma values that pass.

    Parameters
    ----------
    gamma : ndarray
        Gamma values; NaN marks points without a value (below the dose
        cutoff), which are left out of the count.
    pass_rule : {"<=", "<"}
        ``"<="``: γ ≤ 1 passes (pymedphys's documented examples and most
        clinical software). ``"<"``: γ < 1 passes (pymedphys's internal
        ``calculate_pass_rate``, used by ``gamma_percent_pass``).

    Returns
    -------
    float
        Pass rate in percent; NaN, with a warning, when no value was computed.

    Examples
    --------
    >>> gamma_pass_rate(np.array([0.5, 1.0, 1.5, np.nan]))
    66.66666666666667
    >>> gamma_pass_rate(np.array([0.5, 1.0, 1.5, np.nan]), pass_rule="<")
    33.333333333333336
    """
    if pass_rule not in PASS_RULES:
        raise ValueError(f"pass_rule must be one of {PASS_RULES}, got {pass_rule!r}")
    values = np.asarray(gamma, dtype=np.float64)
    valid = values[~np.isnan(values)]
    if valid.size == 0:
        warnings.warn("gamma_pass_rate: no gamma value was computed (all NaN); returning NaN",
                      HounsfieldWarning, stacklevel=2)
        return float("nan")
    passed = valid <= 1 if pass_rule == "<=" else valid < 1
    return float(100 * np.count_nonzero(passed) / valid.size)


def _point_coordinates(axes, selected) -> np.ndarray:
    """(n, 3) mm coordinates of the selected grid points, padded with leading zeros to 3D."""
    indices = np.nonzero(selected)
    columns = [np.asarray(axis, np.float64)[index] for axis, index in zip(axes, indices,
                                                                          strict=True)]
    zeros = [np.zeros(len(indices[0]))] * (3 - len(axes))
    return np.ascontiguousarray(np.column_stack(zeros + columns))


# -- validation ------------------------------------------------------------------------------


def _check_doses(reference_dose, evaluation_dose):
    arrays = []
    for name, dose in (("reference_dose", reference_dose), ("evaluation_dose", evaluation_dose)):
        array = np.asarray(dose)
        if not (np.issubdtype(array.dtype, np.number) and not np.iscomplexobj(array)):
            raise ValueError(f"{name} must hold real numbers, got dtype {array.dtype}")
        if not 1 <= array.ndim <= 3 or array.size == 0:
            raise ValueError(f"{name} must be a non-empty 1D, 2D or 3D grid, "
                             f"got shape {array.shape}")
        if not np.all(np.isfinite(array)):
            raise ValueError(f"{name} must be finite; it holds "
                             f"{np.count_nonzero(~np.isfinite(array))} NaN or infinite values")
        arrays.append(array)
    if arrays[0].ndim != arrays[1].ndim:
        raise ValueError(f"reference_dose is {arrays[0].ndim}D, evaluation_dose "
                         f"{arrays[1].ndim}D; they must have the same number of axes")
    return arrays


def _check_axes(reference_shape, evaluation_shape, spacing_mm, reference_axes_mm,
                evaluation_axes_mm):
    """Per-axis mm coordinates of both grids, from spacing_mm or given axes."""
    given_axes = reference_axes_mm is not None or evaluation_axes_mm is not None
    if (spacing_mm is not None) == given_axes:
        raise ValueError("give either spacing_mm, or reference_axes_mm and "
                         f"evaluation_axes_mm; got spacing_mm={spacing_mm!r} and axes "
                         f"{'given' if given_axes else 'absent'}")
    if spacing_mm is not None:
        if reference_shape != evaluation_shape:
            raise ValueError(f"with spacing_mm both doses must be on one grid; reference_dose "
                             f"has shape {reference_shape}, evaluation_dose {evaluation_shape} "
                             "(give reference_axes_mm and evaluation_axes_mm instead)")
        spacing = _check_spacing(spacing_mm, len(reference_shape))
        axes = tuple(np.arange(n) * s for n, s in zip(reference_shape, spacing, strict=True))
        _check_evaluation_axes(axes)
        return axes, axes
    if reference_axes_mm is None or evaluation_axes_mm is None:
        raise ValueError("reference_axes_mm and evaluation_axes_mm must be given together")
    reference_axes = _check_axis_lengths("reference_axes_mm", reference_axes_mm, reference_shape)
    evaluation_axes = _check_axis_lengths("evaluation_axes_mm", evaluation_axes_mm,
                                          evaluation_shape)
    _check_evaluation_axes(evaluation_axes)
    return reference_axes, evaluation_axes


def _increasing(evaluation, axes):
    """The evaluation grid with its decreasing axes (and the dose along them) reversed."""
    decreasing = [axis for axis, coordinates in enumerate(axes) if coordinates[1] < coordinates[0]]
    if decreasing:
        evaluation = np.flip(evaluation, axis=decreasing)
        axes = tuple(c[::-1] if a in decreasing else c for a, c in enumerate(axes))
    return evaluation, axes


def _check_spacing(spacing_mm, ndim: int) -> np.ndarray:
    try:
        spacing = np.broadcast_to(np.asarray(spacing_mm, dtype=np.float64), (ndim,))
    except (TypeError, ValueError):
        raise ValueError(f"spacing_mm must be one number or {ndim} numbers (one per axis), "
                         f"got {spacing_mm!r}") from None
    if not (np.all(np.isfinite(spacing)) and np.all(spacing > 0)):
        raise ValueError(f"spacing_mm must be positive and finite, got {spacing_mm!r}")
    return spacing


def _check_axis_lengths(name: str, axes_mm, shape) -> tuple[np.ndarray, ...]:
    if isinstance(axes_mm, np.ndarray) and axes_mm.ndim == 1:
        axes_mm = (axes_mm,)
    axes = tuple(np.asarray(axis, dtype=np.float64) for axis in axes_mm)
    lengths = tuple(axis.size if axis.ndim == 1 else -1 for axis in axes)
    if lengths != tuple(shape):
        raise ValueError(f"{name} must hold one 1D coordinate array per axis with lengths "
                         f"{tuple(shape)} (the dose's shape), got lengths {lengths}")
    for axis in axes:
        if not np.all(np.isfinite(axis)):
            raise ValueError(f"{name} must be finite, got {axis!r}")
    return axes


def _check_evaluation_axes(axes) -> None:
    for index, axis in enumerate(axes):
        if axis.size < 2:
            raise ValueError(f"evaluation axis {index} has {axis.size} point; interpolation "
                             "needs at least 2 per axis (drop axes of length 1)")
        steps = np.diff(axis)
        monotonic = np.all(steps > 0) or np.all(steps < 0)
        if not (monotonic and np.allclose(steps, steps[0], rtol=1e-6, atol=0)):
            raise ValueError(f"evaluation axis {index} must be monotonic and uniformly "
                             f"spaced, got steps from {steps.min()} to {steps.max()} mm")


def _check_options(dose_percent_threshold, distance_mm_threshold, lower_percent_dose_cutoff,
                   interp_fraction, max_gamma, global_normalisation) -> dict:
    options = {}
    for name, value, lowest, allow_none in (
        ("dose_percent_threshold", dose_percent_threshold, "positive", False),
        ("distance_mm_threshold", distance_mm_threshold, "positive", False),
        ("lower_percent_dose_cutoff", lower_percent_dose_cutoff, "non-negative", False),
        ("interp_fraction", interp_fraction, "positive", False),
        ("max_gamma", max_gamma, "positive", True),
        ("global_normalisation", global_normalisation, "positive", True),
    ):
        if value is None and allow_none:
            options[name] = None
            continue
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise ValueError(f"{name} must be a number, got {value!r}") from None
        if not math.isfinite(number) or number < 0 or (lowest == "positive" and number == 0):
            raise ValueError(f"{name} must be a finite {lowest} number, got {value!r}")
        options[name] = number
    return options
