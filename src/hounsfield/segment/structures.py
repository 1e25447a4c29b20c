"""Which structures the weight-free engine segments, and one label map from them.

Structures are drawn in the order of :data:`STRUCTURES`, later ones over
earlier ones (lungs over the body, lung vessels over the lungs), so the label
map holds one id per voxel. Ids come from :func:`hounsfield.labels.label_id`:
TotalSegmentator's where it names the structure (trachea), ours otherwise
(lung_left / lung_right are the unions of its lobes).
"""

from __future__ import annotations

from functools import cached_property
from typing import Protocol

import numpy as np

from ..labels import LabelTable, label_id
from ..volume import Volume
from .airways import segment_airways
from .body import segment_body
from .bones import segment_bones, split_bones
from .lungs import segment_lungs
from .tissues import segment_tissues
from .vessels import segment_lung_vessels

#: structure → the label names it writes, in drawing order.
STRUCTURES: dict[str, tuple[str, ...]] = {
    "body": ("body",),
    "tissues": ("subcutaneous_fat", "torso_fat", "skeletal_muscle", "intermuscular_fat"),
    "bones": ("skeleton",),
    "bone_parts": ("spine", "ribs", "other_bones"),
    "lungs": ("lung_left", "lung_right"),
    "vessels": ("lung_vessels",),
    "airways": ("trachea", "bronchus_left", "bronchus_right"),
}

#: What ``segment`` does when not told: everything but the slower lung vessels and the
#: bone parts (which replace the skeleton label).
DEFAULT_STRUCTURES = ("body", "tissues", "bones", "lungs", "airways")


class Segmenter(Protocol):
    """Anything that turns a CT Volume into a label map on the same grid."""

    def __call__(self, ct: Volume, structures: tuple[str, ...]) -> Volume: ...


class Segmentation:
    """The weight-free segmentation of one CT, each structure computed once when first asked for.

    Examples
    --------
    >>> from hounsfield.data.anatomy import thorax_phantom
    >>> ct, _ = thorax_phantom(shape=(48, 64, 64), spacing_mm=(6.0, 5.0, 5.0))
    >>> seg = Segmentation(ct)
    >>> bool(seg.body.any()), sorted(seg.masks("lungs"))
    (True, ['lung_left', 'lung_right'])
    """

    def __init__(self, ct: Volume):
        self.ct = ct

    @cached_property
    def body(self) -> np.ndarray:
        return segment_body(self.ct)

    @cached_property
    def lungs(self) -> tuple[np.ndarray, np.ndarray]:
        """(left, right) lung masks."""
        return segment_lungs(self.ct, body=self.body)

    @cached_property
    def airway_tree(self):
        """The :class:`~hounsfield.segment.airways.AirwayTree`."""
        return segment_airways(self.ct, body=self.body)

    @cached_property
    def skeleton(self) -> np.ndarray:
        return segment_bones(self.ct, body=self.body)

    @cached_property
    def tissues(self) -> dict[str, np.ndarray]:
        left, right = self.lungs
        return segment_tissues(self.ct, body=self.body, bones=self.skeleton, lungs=left | right)

    @cached_property
    def lung_vessels(self) -> np.ndarray:
        left, right = self.lungs
        return segment_lung_vessels(self.ct, left | right)

    def masks(self, structure: str) -> dict[str, np.ndarray]:
        """Label name → bool mask for one structure of :data:`STRUCTURES`."""
        if structure == "body":
            return {"body": self.body}
        if structure == "tissues":
            return dict(self.tissues)
        if structure == "bones":
            return {"skeleton": self.skeleton}
        if structure == "bone_parts":
            return split_bones(self.ct, self.skeleton)
        if structure == "lungs":
            return dict(zip(STRUCTURES["lungs"], self.lungs, strict=True))
        if structure == "vessels":
            return {"lung_vessels": self.lung_vessels}
        if structure == "airways":
            tree = self.airway_tree
            return {"trachea": tree.trachea, "bronchus_left": tree.bronchus_left,
                    "bronchus_right": tree.bronchus_right}
        raise ValueError(f"unknown structure {structure!r}")

    def label_map(self, structures=DEFAULT_STRUCTURES) -> Volume:
        """A label map (uint8 ids, with its LabelTable) of ``structures`` on the CT's grid."""
        structures = checked_structures(structures)
        array = np.zeros(self.ct.shape, np.uint8)
        names = {}
        for structure in STRUCTURES:
            if structure in structures:
                for name, mask in self.masks(structure).items():
                    array[mask] = label_id(name)
                    names[label_id(name)] = name
        table = LabelTable.from_names(names)
        return self.ct.with_array(array, labels=table, meta={"source": "hounsfield.segment"})


def checked_structures(structures) -> tuple[str, ...]:
    """The structure names as a tuple, refusing unknown ones with the list of known ones."""
    structures = tuple(structures)
    unknown = sorted(set(structures) - set(STRUCTURES))
    if unknown or not structures:
        raise ValueError(f"unknown structure(s) {', '.join(unknown) or '(none given)'}; "
                         f"choose from {', '.join(STRUCTURES)}")
    return structures


def segment(ct: Volume, structures=DEFAULT_STRUCTURES) -> Volume:
    """A label map (uint8 ids, with its LabelTable) of ``structures`` on the CT's grid.

    Examples
    --------
    >>> from hounsfield.data.anatomy import thorax_phantom
    >>> ct, _ = thorax_phantom(shape=(48, 64, 64), spacing_mm=(6.0, 5.0, 5.0))
    >>> segment(ct, ("body", "lungs")).labels.names
    ['body', 'lung_left', 'lung_right']
    """
    return Segmentation(ct).label_map(structures)
