"""Checks at the public entry points of the segmentation metrics.

Masks may be arrays (any dtype; non-zero is foreground) or
:class:`~hounsfield.volume.Volume` objects, whose spacing is then used.
"""

from __future__ import annotations

import math
import warnings

import numpy as np

from ..errors import HounsfieldWarning
from ..volume import Volume


class EmptyMaskWarning(HounsfieldWarning):
    """A metric met an empty mask; its value is the documented empty-mask result."""


def _unwrap(value, name: str) -> tuple[np.ndarray, Volume | None]:
    if isinstance(value, Volume):
        return value.array, value
    array = np.asarray(value)
    if not (array.dtype == bool or np.issubdtype(array.dtype, np.number)):
        raise ValueError(f"{name} must be a boolean or numeric array, got dtype {array.dtype}")
    return array, None


def _spacing_of(volumes, spacing_mm):
    volumes = [v for v in volumes if v is not None]
    if len(volumes) == 2 and not volumes[0].same_grid(volumes[1]):
        raise ValueError("pred and ref Volumes must share one voxel grid, got "
                         f"{volumes[0]!r} and {volumes[1]!r}")
    if not volumes:
        return spacing_mm
    if spacing_mm is not None and not np.allclose(spacing_mm, volumes[0].spacing_mm):
        raise ValueError(f"spacing_mm {tuple(spacing_mm)} differs from the Volume's "
                         f"{volumes[0].spacing_mm}; pass one or the other")
    return volumes[0].spacing_mm


def check_spacing(spacing_mm, ndim: int) -> tuple[float, ...]:
    """Spacing as ``ndim`` positive finite floats in array order (mm)."""
    try:
        spacing = tuple(float(s) for s in np.broadcast_to(np.asarray(spacing_mm, float), (ndim,)))
    except (TypeError, ValueError):
        raise ValueError(f"spacing_mm must be {ndim} positive numbers in array order (mm), "
                         f"got {spacing_mm!r}") from None
    if not all(math.isfinite(s) and s > 0 for s in spacing):
        raise ValueError(f"spacing_mm must be {ndim} positive finite numbers (mm), "
                         f"got {spacing_mm!r}")
    return spacing


def as_label_pair(pred, ref, spacing_mm=None, *, names=("pred", "ref"), need_spacing=False,
                  ndims=(2, 3)):
    """Validated ``(pred, ref, spacing)`` arrays of equal shape; spacing may be None."""
    pred_array, pred_volume = _unwrap(pred, names[0])
    ref_array, ref_volume = _unwrap(ref, names[1])
    if ndims is not None and pred_array.ndim not in ndims:
        raise ValueError(f"{names[0]} must be a {' or '.join(f'{n}D' for n in ndims)} array, "
                         f"got shape {pred_array.shape}")
    if pred_array.shape != ref_array.shape:
        raise ValueError(f"{names[0]} and {names[1]} must have the same shape, got "
                         f"{pred_array.shape} and {ref_array.shape}")
    spacing_mm = _spacing_of((pred_volume, ref_volume), spacing_mm)
    if spacing_mm is None:
        if need_spacing:
            raise ValueError("spacing_mm is required for arrays: pass the voxel size in array "
                             "order (z, y, x) in mm, or pass Volumes")
        return pred_array, ref_array, None
    return pred_array, ref_array, check_spacing(spacing_mm, pred_array.ndim)


def as_mask_pair(pred, ref, spacing_mm=None, *, need_spacing=False, ndims=(2, 3)):
    """Validated boolean ``(pred, ref, spacing)``; non-zero voxels are foreground."""
    pred, ref, spacing = as_label_pair(pred, ref, spacing_mm, need_spacing=need_spacing,
                                       ndims=ndims)
    return _as_bool(pred), _as_bool(ref), spacing


def _as_bool(array: np.ndarray) -> np.ndarray:
    return array if array.dtype == bool else array != 0


def check_number(value, name: str, low: float, high: float = math.inf) -> float:
    """A real number in ``[low, high]``, or a ValueError naming the parameter."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise ValueError(f"{name} must be a number in [{low:g}, {high:g}], got {value!r}")
    value = float(value)
    if not (low <= value <= high) or math.isnan(value):
        raise ValueError(f"{name} must be a number in [{low:g}, {high:g}], got {value!r}")
    return value


def warn_empty(name: str | None, message: str, stacklevel: int = 3) -> None:
    """Warn that a mask is empty, naming the case or label when one is given.

    ``stacklevel`` is the one the caller would pass to ``warnings.warn``.
    """
    where = f"{name}: " if name else ""
    warnings.warn(f"{where}{message}", EmptyMaskWarning, stacklevel=stacklevel + 1)
