"""Phantoms with exact ground truth, for tests of every stage of hounsfield.

* :func:`shepp_logan_2d`, :func:`shepp_logan_3d` and :class:`EllipsoidPhantom`:
  ellipse / ellipsoid sums with exact values, rasterization with partial
  volume, exact line integrals along any rays and the closed-form parallel
  sinogram — the reference for projectors and reconstructions
  (:mod:`hounsfield.data.shepp_logan`, :mod:`hounsfield.data.analytic`).
* :func:`thorax_phantom`: a thorax–abdomen CT in HU with a TotalSegmentator-
  named label map, optional noise and lesions of known volume — the reference
  for segmentation, measurement and reports (:mod:`hounsfield.data.anatomy`).

Examples
--------
>>> from hounsfield.data.phantoms import shepp_logan_2d, thorax_phantom
>>> shepp_logan_2d().rasterize((64, 64)).shape
(64, 64)
>>> ct, labels = thorax_phantom((24, 32, 32), (12.0, 10.0, 10.0))
>>> "lung_left" in labels.labels
True
"""

from __future__ import annotations

from .analytic import Ellipse, Ellipsoid, EllipsoidPhantom
from .anatomy import (
    DEFAULT_CENTER_MM,
    THORAX_LABEL_TISSUE,
    THORAX_TISSUE_HU,
    Lesion,
    LesionTruth,
    body_mask,
    example_lesions,
    lesion_truth,
    thorax_phantom,
)
from .shepp_logan import MU_WATER_PER_MM, shepp_logan_2d, shepp_logan_3d

__all__ = [
    "Ellipse", "Ellipsoid", "EllipsoidPhantom", "shepp_logan_2d", "shepp_logan_3d",
    "MU_WATER_PER_MM", "thorax_phantom", "Lesion", "LesionTruth", "lesion_truth",
    "example_lesions", "body_mask", "THORAX_TISSUE_HU", "THORAX_LABEL_TISSUE",
    "DEFAULT_CENTER_MM",
]
