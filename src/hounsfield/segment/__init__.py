"""Weight-free segmentation of CT volumes: body, lungs, airways, bones, tissues, vessels, clicks.

Examples
--------
>>> from hounsfield.data.anatomy import thorax_phantom
>>> from hounsfield.segment import segment_body, segment_lungs
>>> ct, labels = thorax_phantom(shape=(48, 64, 64), spacing_mm=(6.0, 5.0, 5.0))
>>> body = segment_body(ct)
>>> left, right = segment_lungs(ct, body=body)
>>> bool((left | right).any() and not (left & ~body).any())
True
"""

from .airways import AirwayTree, Branch, segment_airways
from .body import segment_body
from .bones import segment_bones, split_bones
from .click import click
from .lungs import segment_lungs
from .structures import (
    DEFAULT_STRUCTURES,
    STRUCTURES,
    Segmentation,
    Segmenter,
    checked_structures,
    segment,
)
from .tissues import segment_tissues, tissue_areas_per_slice, tissue_volumes
from .vessels import segment_lung_vessels, vesselness

__all__ = ["segment_body", "segment_lungs", "segment_airways", "AirwayTree", "Branch",
           "segment_bones", "split_bones", "segment_tissues", "tissue_areas_per_slice",
           "tissue_volumes", "segment_lung_vessels", "vesselness", "click", "segment",
           "Segmentation", "checked_structures", "STRUCTURES", "DEFAULT_STRUCTURES", "Segmenter"]
