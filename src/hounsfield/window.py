"""Display windowing: HU to [0, 1] through a named preset or a (level, width) pair."""

from __future__ import annotations

import numpy as np

#: Window presets as (level, width) in HU, the values radiology viewers ship.
PRESETS: dict[str, tuple[float, float]] = {
    "lung": (-600.0, 1500.0),
    "mediastinum": (50.0, 350.0),
    "abdomen": (50.0, 400.0),
    "liver": (30.0, 150.0),
    "bone": (400.0, 1800.0),
    "brain": (40.0, 80.0),
}


def window_bounds(window) -> tuple[float, float]:
    """(low, high) HU of a preset name or a (level, width) pair.

    >>> window_bounds("lung")
    (-1350.0, 150.0)
    """
    if isinstance(window, str):
        if window not in PRESETS:
            raise ValueError(f"unknown window {window!r}; presets are {', '.join(PRESETS)}")
        level, width = PRESETS[window]
    else:
        try:
            level, width = (float(v) for v in window)
        except (TypeError, ValueError):
            raise ValueError(
                f"window must be a preset name or a (level, width) pair in HU, got {window!r}"
            ) from None
    if not np.isfinite(level):
        raise ValueError(f"window level must be a finite number of HU, got {level}")
    if not (width > 0 and np.isfinite(width)):
        raise ValueError(f"window width must be positive and finite, got {width}")
    return level - width / 2, level + width / 2


def apply_window(hu: np.ndarray, window="mediastinum") -> np.ndarray:
    """Map HU to float32 display values in [0, 1]; NaN stays NaN.

    >>> apply_window(np.array([-2000.0, 50.0, 2000.0]), "mediastinum").tolist()
    [0.0, 0.5, 1.0]
    """
    low, high = window_bounds(window)
    scaled = (np.asarray(hu, dtype=np.float32) - np.float32(low)) / np.float32(high - low)
    return np.clip(scaled, 0.0, 1.0)
