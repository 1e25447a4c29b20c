"""Simulation of CT scans from CT volumes: physics, non-ideal scans and paired datasets.

* :mod:`.physics`: HU → attenuation at one energy (NIST tables), a model
  tube spectrum with water/bone beam hardening, Poisson and electronic
  detector noise, the log transform and detector blur;
* :mod:`.nict`: sparse-view, limited-angle, low-dose, polychromatic and
  cone-beam (scatter, truncated field of view) scans of a CT, reconstructed
  on its own grid (:func:`simulate_scan` with :class:`ScanSettings`);
* :mod:`.export`: input/target pairs per case in the nnU-Net/MONAI layout
  with a manifest of settings, seeds and checksums;
* :mod:`.drr`: digitally reconstructed radiographs from any pose, and
  per-structure projected thickness and masks of a label map;
* :mod:`.lesions`: synthetic lesions inserted into a named organ, with their
  true size, volume and place.

Examples
--------
>>> import numpy as np
>>> from hounsfield import Volume
>>> from hounsfield.simulate import ScanSettings, simulate_scan
>>> ct = Volume(np.full((1, 32, 32), -1000.0, np.float32), spacing_mm=(5.0, 4.0, 4.0))
>>> ct.array[:, 8:24, 8:24] = 0.0
>>> scan = simulate_scan(ct, ScanSettings(n_views=60, dose_fraction=0.5, seed=1))
>>> scan.degraded.shape == ct.shape, scan.settings.seed
(True, 1)
"""

from .drr import (
    VIEWS,
    LabelProjection,
    drr_geometry,
    overlay_labels,
    project_labels,
    project_points,
    render_drr,
)
from .export import export_dataset
from .lesions import LESION_SHAPES, SyntheticLesion, insert_lesion
from .nict import (
    ScanSettings,
    SimulatedScan,
    cbct,
    limited_angle,
    low_dose,
    scan_geometry,
    simulate_scan,
    sparse_view,
)
from .physics import (
    Spectrum,
    attenuation_per_mm,
    hu_to_mu,
    mu_to_hu,
    tube_spectrum,
)

__all__ = [
    "ScanSettings", "SimulatedScan", "simulate_scan", "scan_geometry", "sparse_view",
    "limited_angle", "low_dose", "cbct", "export_dataset", "Spectrum", "tube_spectrum",
    "attenuation_per_mm", "hu_to_mu", "mu_to_hu", "VIEWS", "LabelProjection", "drr_geometry",
    "render_drr", "project_labels", "project_points", "overlay_labels", "insert_lesion",
    "SyntheticLesion", "LESION_SHAPES",
]
