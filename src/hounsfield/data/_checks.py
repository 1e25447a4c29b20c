"""Parameter checks for the public entry points of :mod:`hounsfield.data`.

Every message names the parameter, the value received and what was expected,
in one style: ``"spacing_mm must be ... , got ..."``.
"""

from __future__ import annotations

from typing import NoReturn

import numpy as np


def reject(name: str, value, expected: str) -> NoReturn:
    """Raise ValueError naming the parameter, the value received and what was expected."""
    raise ValueError(f"{name} must be {expected}, got {value!r}")


def float_tuple(value, name: str, count: int, *, positive: bool = False) -> tuple[float, ...]:
    """``count`` finite floats (a scalar is repeated); strictly positive when asked."""
    kind = "positive" if positive else "finite"
    expected = f"{count} {kind} numbers (or one, used for all)"
    try:
        array = np.broadcast_to(np.asarray(value, dtype=float), (count,))
    except (TypeError, ValueError):
        reject(name, value, expected)
    if not np.all(np.isfinite(array)) or (positive and np.any(array <= 0)):
        reject(name, value, expected)
    return tuple(float(v) for v in array)


def int_tuple(value, name: str, count: int, *, minimum: int = 1) -> tuple[int, ...]:
    """Exactly ``count`` integers, each at least ``minimum``."""
    expected = f"{count} integers >= {minimum}"
    try:
        items = tuple(value)
    except TypeError:
        reject(name, value, expected)
    if len(items) != count or not all(_is_int(v) and int(v) >= minimum for v in items):
        reject(name, value, expected)
    return tuple(int(v) for v in items)


def positive_int(value, name: str) -> int:
    """An integer >= 1 (bool is refused)."""
    if not _is_int(value) or int(value) < 1:
        reject(name, value, "an integer >= 1")
    return int(value)


def nonnegative_float(value, name: str) -> float:
    """A finite float >= 0."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        reject(name, value, "a finite number >= 0")
    if not np.isfinite(number) or number < 0:
        reject(name, value, "a finite number >= 0")
    return number


def one_of(value, name: str, choices) -> str:
    """One of the given strings."""
    if value not in choices:
        reject(name, value, "one of " + ", ".join(repr(c) for c in choices))
    return value


def finite_array(value, name: str) -> np.ndarray:
    """A float array of finite numbers, any shape."""
    try:
        array = np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        reject(name, value, "finite numbers")
    if not np.all(np.isfinite(array)):
        reject(name, value, "finite numbers")
    return array


def points_array(value, name: str, ndim: int) -> np.ndarray:
    """Finite float array whose last axis has length ``ndim`` (world x, y[, z] in mm)."""
    array = np.asarray(value, dtype=float)
    if array.ndim == 0 or array.shape[-1] != ndim or not np.all(np.isfinite(array)):
        reject(name, f"array of shape {array.shape}",
               f"finite points with last axis of length {ndim} (x, y{', z' if ndim == 3 else ''})")
    return array


def _is_int(value) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)
