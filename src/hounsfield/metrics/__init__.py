"""Evaluation metrics with named conventions: overlap, surface distance, detection, airway
trees, landmarks, synthetic-CT image similarity and dose gamma.

Each function's docstring states its definition, the convention it follows
and its result for empty masks. ``hounsfield evaluate`` runs them over
datasets.
"""

from ._mask_input import EmptyMaskWarning
from .detection import CONVENTIONS as DETECTION_CONVENTIONS
from .detection import LesionDetection, label_lesions, lesion_detection, pool_detections
from .dose import gamma_index, gamma_pass_rate
from .image import image_metrics, mae_hu, ms_ssim, psnr_db, ssim
from .landmarks import centroids_mm, landmark_identification
from .overlap import (
    cldice,
    dice,
    iou,
    precision,
    sensitivity,
    volume_difference_ml,
    volume_difference_percent,
)
from .surface import (
    CONVENTIONS,
    DEFAULT_CONVENTION,
    SurfaceDistances,
    average_symmetric_surface_distance,
    hausdorff_distance,
    mean_average_surface_distance,
    multilabel_surface_metrics,
    normalized_surface_dice,
    percentile_hausdorff_distance,
    surface_distances,
    surface_metrics,
)
from .tree import branches, centreline, keep_largest_component, parse_airway, tree_metrics

__all__ = [
    "EmptyMaskWarning",
    "dice", "iou", "sensitivity", "precision", "volume_difference_ml",
    "volume_difference_percent", "cldice",
    "CONVENTIONS", "DEFAULT_CONVENTION", "SurfaceDistances", "surface_distances",
    "hausdorff_distance", "percentile_hausdorff_distance", "average_symmetric_surface_distance",
    "mean_average_surface_distance", "normalized_surface_dice", "surface_metrics",
    "multilabel_surface_metrics",
    "DETECTION_CONVENTIONS", "LesionDetection", "lesion_detection", "label_lesions",
    "pool_detections",
    "tree_metrics", "branches", "parse_airway", "centreline", "keep_largest_component",
    "landmark_identification", "centroids_mm",
    "image_metrics", "mae_hu", "psnr_db", "ssim", "ms_ssim",
    "gamma_index", "gamma_pass_rate",
]
