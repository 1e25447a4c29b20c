"""Tomography: scan geometries, matched projectors, analytic and iterative reconstruction.

>>> import numpy as np
>>> from hounsfield.tomo import parallel_beam, project, fbp
>>> image = np.zeros((64, 64), np.float32); image[24:40, 24:40] = 0.02
>>> geometry = parallel_beam(90, 96, det_spacing_mm=1.0)
>>> round(float(fbp(project(image, geometry), geometry, (64, 64))[32, 32]), 3)
0.02
"""

from .fbp import fbp, fdk
from .filters import FILTERS, ramp_filter
from .geometry import Geometry, cone_beam, fan_beam, from_vectors, parallel_beam, parallel_beam_3d
from .iterative import (
    Reconstruction,
    cgls,
    os_sart,
    sart,
    select_views,
    sirt,
    suggest_tv_weight,
    tv_pdhg,
)
from .project import Projector, backproject, project

__all__ = [
    "Geometry", "parallel_beam", "fan_beam", "cone_beam", "parallel_beam_3d", "from_vectors",
    "project", "backproject", "Projector",
    "fbp", "fdk", "FILTERS", "ramp_filter",
    "Reconstruction", "sirt", "sart", "os_sart", "cgls", "tv_pdhg", "suggest_tv_weight",
    "select_views",
]
