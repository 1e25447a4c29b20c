"""A short, identifier-free description of a Volume, for `info` and reports."""

from __future__ import annotations

import numpy as np


def describe(volume) -> dict:
    """Shape, geometry and value range of a Volume, with units in the keys.

    >>> from hounsfield.volume import Volume
    >>> describe(Volume(np.zeros((2, 3, 4), np.float32)))["shape_zyx"]
    [2, 3, 4]
    """
    values = volume.array
    facts = {
        "shape_zyx": list(volume.shape),
        "spacing_mm_zyx": [round(s, 6) for s in volume.spacing_mm],
        "extent_mm_zyx": [round(e, 3) for e in volume.extent_mm],
        "origin_mm_lps": [round(o, 4) for o in volume.origin_mm],
        "orientation": volume.orientation,
        "dtype": str(values.dtype),
    }
    if volume.is_label_map:
        present = [int(i) for i in np.unique(values) if i > 0]
        facts["labels_present"] = len(present)
        facts["labels_in_table"] = len(volume.labels)
    elif values.size:
        low, p1, median, p99, high = np.percentile(values, [0, 1, 50, 99, 100])
        facts["value_range"] = [float(low), float(high)]
        facts["value_percentiles_1_50_99"] = [float(p1), float(median), float(p99)]
    for key in ("modality", "series_description", "slice_gaps", "gantry_tilt_deg", "warnings"):
        if volume.meta.get(key) not in (None, [], {}):
            facts[key] = volume.meta[key]
    return facts
