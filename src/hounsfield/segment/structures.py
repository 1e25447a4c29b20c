"""Which structures the weight-free engine segments, and one label map from them.

Structures are drawn in order, later ones over earlier ones (lungs over the
body), so the label map holds one id per voxel. Ids and names are those of
:data:`hounsfield.labels.OWN_LABEL_IDS` (lung_left / lung_right are the unions
of TotalSegmentator's lobes).
"""

from __future__ import annotations

from typing import Protocol

import numpy as np

from ..labels import OWN_LABEL_IDS, LabelTable
from ..volume import Volume
from .body import segment_body
from .lungs import segment_lungs

#: structure → the label names it writes, in drawing order.
STRUCTURES: dict[str, tuple[str, ...]] = {"body": ("body",), "lungs": ("lung_left", "lung_right")}


class Segmenter(Protocol):
    """Anything that turns a CT Volume into a label map on the same grid."""

    def __call__(self, ct: Volume, structures: tuple[str, ...]) -> Volume: ...


def _masks(ct: Volume, structures) -> dict[str, np.ndarray]:
    body = segment_body(ct)
    masks = {"body": body} if "body" in structures else {}
    if "lungs" in structures:
        masks["lung_left"], masks["lung_right"] = segment_lungs(ct, body=body)
    return masks


def checked_structures(structures) -> tuple[str, ...]:
    """The structure names as a tuple, refusing unknown ones with the list of known ones."""
    structures = tuple(structures)
    unknown = sorted(set(structures) - set(STRUCTURES))
    if unknown or not structures:
        raise ValueError(f"unknown structure(s) {', '.join(unknown) or '(none given)'}; "
                         f"choose from {', '.join(STRUCTURES)}")
    return structures


def segment(ct: Volume, structures=tuple(STRUCTURES)) -> Volume:
    """A label map (uint8 ids, with its LabelTable) of ``structures`` on the CT's grid.

    Examples
    --------
    >>> from hounsfield.data.anatomy import thorax_phantom
    >>> ct, _ = thorax_phantom(shape=(48, 64, 64), spacing_mm=(6.0, 5.0, 5.0))
    >>> segment(ct).labels.names
    ['body', 'lung_left', 'lung_right']
    """
    structures = checked_structures(structures)
    masks = _masks(ct, structures)
    array = np.zeros(ct.shape, np.uint8)
    names = [name for structure in STRUCTURES if structure in structures
             for name in STRUCTURES[structure]]
    for name in names:
        array[masks[name]] = OWN_LABEL_IDS[name]
    table = LabelTable.from_names({OWN_LABEL_IDS[name]: name for name in names})
    return ct.with_array(array, labels=table, meta={"source": "hounsfield.segment"})
