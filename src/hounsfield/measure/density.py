"""Lung density: low-attenuation area and the 15th percentile, the emphysema measures of CT.

LAA-950 is the percentage of lung voxels below −950 HU; Perc15 the HU value
below which 15 % of the lung voxels lie (both as used by COPDGene and the
Fleischner Society's quantitative CT statements). A LAA-950 of 5 % or more
is the usual threshold for CT emphysema.
"""

from __future__ import annotations

import numpy as np

from ..volume import Volume

__all__ = ["lung_density", "EMPHYSEMA_LAA950_PERCENT", "labels_cut_by_scan_edge"]

#: LAA-950 (%) from which a lung counts as emphysematous.
EMPHYSEMA_LAA950_PERCENT = 5.0


def lung_density(ct: Volume, lung: np.ndarray, *, threshold_hu: float = -950.0,
                 percentile: float = 15.0) -> dict:
    """Volume, mean HU, low-attenuation percentage and density percentile of a lung mask.

    Parameters
    ----------
    ct : Volume
        CT in HU.
    lung : numpy.ndarray
        bool mask on ``ct``'s grid (one lung, or both).
    threshold_hu : float
        Voxels below this CT number (HU) count as low-attenuation area.
    percentile : float
        Which percentile (%) of the lung's HU values to report.

    Returns
    -------
    dict
        ``volume_ml``, ``hu_mean``, ``laa950_percent`` (named for the default
        threshold), ``perc15_hu`` (named for the default percentile); ``None``
        values for an empty mask.

    Examples
    --------
    >>> hu = np.full((1, 2, 5), -900.0, np.float32); hu[0, 0, :2] = -980.0
    >>> ct = Volume(hu, spacing_mm=(1.0, 1.0, 1.0))
    >>> lung_density(ct, np.ones(hu.shape, bool))["laa950_percent"]
    20.0
    """
    lung = np.asarray(lung, dtype=bool)
    if lung.shape != ct.shape:
        raise ValueError(f"lung mask has shape {lung.shape}, expected the CT's {ct.shape}")
    values = np.asarray(ct.array)[lung]
    if values.size == 0:
        return {"volume_ml": 0.0, "hu_mean": None, "laa950_percent": None, "perc15_hu": None}
    return {"volume_ml": float(values.size * ct.voxel_volume_ml),
            "hu_mean": float(values.mean(dtype=np.float64)),
            "laa950_percent": float(100.0 * np.count_nonzero(values < threshold_hu) / values.size),
            "perc15_hu": float(np.percentile(values, percentile))}


def labels_cut_by_scan_edge(labels: Volume) -> list[str]:
    """Names of the labels that reach the first or last axial slice: cut by the scan's range.

    Their volumes and extents are partial.

    Examples
    --------
    >>> from hounsfield.labels import LabelTable
    >>> a = np.zeros((4, 3, 3), np.uint8); a[0, 1, 1] = 1; a[2, 1, 1] = 2
    >>> labels = Volume(a, labels=LabelTable.from_names({1: "liver", 2: "spleen"}))
    >>> labels_cut_by_scan_edge(labels)
    ['liver']
    """
    array = np.asarray(labels.array)
    on_edge = set(np.unique(array[0]).tolist()) | set(np.unique(array[-1]).tolist())
    return [label.name for label in labels.labels if label.id in on_edge]
