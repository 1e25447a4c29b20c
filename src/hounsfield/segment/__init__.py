"""Weight-free segmentation of CT volumes: body outline and lungs.

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

from .body import segment_body
from .lungs import segment_lungs
from .structures import STRUCTURES, Segmenter, checked_structures, segment

__all__ = ["segment_body", "segment_lungs", "segment", "checked_structures", "STRUCTURES",
           "Segmenter"]
