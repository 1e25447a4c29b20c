"""Measurements on CT label maps and lesions, in the units their names carry.

* :func:`label_statistics` and :func:`per_slice_statistics`: volume, HU,
  position and shape of every label (:mod:`.stats`).
* :func:`measure_lesion`: RECIST axes, volume, HU, shape, place and distances
  of one lesion (:mod:`.lesion`).
* :mod:`.shape`: surface meshes, areas, diameters, sphericity;
  :mod:`.distances`: distances between masks in mm.
* :func:`vertebral_heights`: vertebral body heights, height loss and Genant
  grade (:mod:`.spine`).
* :func:`lung_density`: LAA-950 and Perc15 of the lungs (:mod:`.density`).

Examples
--------
>>> from hounsfield.data.anatomy import thorax_phantom
>>> from hounsfield.measure import label_statistics
>>> ct, labels = thorax_phantom((24, 32, 32), (12.0, 10.0, 10.0))
>>> stats = label_statistics(ct, labels, names=["liver"])
>>> stats["liver"]["hu_mean"]
60.0
"""

from .density import EMPHYSEMA_LAA950_PERCENT, labels_cut_by_scan_edge, lung_density
from .distances import distance_between_masks_mm, distance_to_surface_mm
from .lesion import LYMPH_NODE_SHORT_AXIS_MM, LesionMeasurement, measure_lesion, recist_axes
from .shape import in_plane_axes, max_diameter, shape_measures, sphericity, surface_mesh
from .spine import GENANT_GRADES, VertebraHeights, genant_grade, vertebral_heights
from .stats import label_statistics, per_slice_statistics

__all__ = ["label_statistics", "per_slice_statistics", "measure_lesion", "LesionMeasurement",
           "recist_axes", "LYMPH_NODE_SHORT_AXIS_MM", "distance_between_masks_mm",
           "distance_to_surface_mm", "shape_measures", "surface_mesh", "max_diameter",
           "sphericity", "in_plane_axes", "vertebral_heights", "genant_grade", "VertebraHeights",
           "GENANT_GRADES", "lung_density", "labels_cut_by_scan_edge", "EMPHYSEMA_LAA950_PERCENT"]
