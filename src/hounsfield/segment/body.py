"""Body outline of a CT volume, without the patient table, clothing and outside air."""

from __future__ import annotations

import numpy as np

from ..volume import Volume
from ._morphology import bounding_box, fill_holes_per_slice, largest_component, open_mm

__all__ = ["segment_body"]


def segment_body(ct: Volume, *, threshold_hu: float = -500.0,
                 opening_radius_mm: float = 4.0) -> np.ndarray:
    """Boolean mask of the patient's body, filled (lungs and bowel gas inside).

    Voxels above ``threshold_hu`` are opened by a ball of ``opening_radius_mm``
    to cut thin bridges (table top, cushions, clothing folds), the largest 3D
    component is kept and its holes are filled per axial slice.
    Padding outside the scan circle (−2048, −3024 HU) falls below the threshold.

    Parameters
    ----------
    ct : Volume
        CT in Hounsfield units.
    threshold_hu : float
        Lowest CT number (HU) counted as tissue.
    opening_radius_mm : float
        Radius (mm) of the ball that removes thin structures touching the body.

    Returns
    -------
    numpy.ndarray
        bool, ``ct.shape``.

    Examples
    --------
    >>> from hounsfield.data.anatomy import thorax_phantom
    >>> ct, labels = thorax_phantom(shape=(16, 64, 64), spacing_mm=(10.0, 5.0, 5.0))
    >>> body = segment_body(ct)
    >>> bool(body[8, 32, 32]), bool(body[8, 0, 0])
    (True, False)
    """
    tissue = np.asarray(ct.array) > threshold_hu
    body = np.zeros(ct.shape, dtype=bool)
    if not tissue.any():
        return body
    # The body lies in the tissue's box; one voxel of air around it keeps the opening exact.
    box = bounding_box(tissue, (1,) * tissue.ndim)
    opened = largest_component(open_mm(tissue[box], opening_radius_mm, ct.spacing_mm))
    # Filling each axial slice also fills every void closed in 3D (a closed void is
    # closed in each of its slices) and, unlike a 3D fill, the lungs, which the
    # airway opens to the outside.
    body[box] = fill_holes_per_slice(opened)
    return body
