"""Findings: the structured result of an analysis, one JSON document with a versioned schema.

A findings document (schema ``hounsfield.findings``, version
:data:`SCHEMA_VERSION`; JSON Schema in ``findings.schema.json`` beside this
module) holds the study's geometry and a list of findings. Each finding has

- ``id`` ("F001", …), ``section`` (one of :data:`SECTIONS`), ``kind``
  (technique, structure, lung_density, airway_tree, vertebral_height,
  body_composition, lesion), ``structure`` (a label name or null);
- ``measurements``: numbers (or short strings) with the unit in each key;
- ``masks``: the label maps and ids it is grounded in,
  ``[{"file": "labels.nii.gz", "label_id": 204}]``;
- ``flags``: what deserves attention (``cut_by_scan_edge``,
  ``emphysema_laa950``, ``height_loss_moderate``, ``short_axis_ge_10mm``, …).

No patient identifiers ever enter a findings document.

Examples
--------
>>> builder = FindingsBuilder({"shape_zyx": [2, 2, 2]})
>>> builder.add("lungs", "structure", {"volume_ml": 2400.0}, structure="lung_left",
...             masks=[Mask("labels.nii.gz", 204)])
'F001'
>>> builder.to_dict()["findings"][0]["masks"]
[{'file': 'labels.nii.gz', 'label_id': 204}]
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from importlib import resources

from .. import __version__

__all__ = ["SCHEMA_VERSION", "SECTIONS", "Mask", "FindingsBuilder", "section_of", "schema"]

SCHEMA_VERSION = "1.0"

#: Report sections in reading order (the impression is written from the flags of all).
SECTIONS = ("technique", "lungs", "airways", "bones", "body_composition", "organs", "lesions")

_SECTION_PATTERNS = (
    ("lungs", r"lung_.*"),
    ("airways", r"trachea|bronchus_.*|airways"),
    ("bones", r"skeleton|spine|ribs|other_bones|vertebrae_.*|rib_.*|sternum|scapula_.*|"
              r"clavicula_.*|humerus_.*|femur_.*|hip_.*|sacrum|skull|costal_cartilages"),
    ("body_composition", r"body|subcutaneous_fat|torso_fat|skeletal_muscle|intermuscular_fat"),
    ("lesions", r".*(lesion|nodule|tumou?r|cyst|mass|metasta).*"),
)


def section_of(name: str) -> str:
    """The report section a structure name belongs to ('organs' for all others).

    >>> section_of("vertebrae_T7"), section_of("kidney_cyst_left"), section_of("liver")
    ('bones', 'lesions', 'organs')
    """
    for section, pattern in _SECTION_PATTERNS:
        if re.fullmatch(pattern, name):
            return section
    return "organs"


@dataclass(frozen=True)
class Mask:
    """A mask a finding is grounded in: one label id of one label-map file of the output folder."""

    file: str
    label_id: int


class FindingsBuilder:
    """Collects findings with running ids and writes the findings document."""

    def __init__(self, study: dict):
        self.study = dict(study)
        self.findings: list[dict] = []

    def add(self, section: str, kind: str, measurements: dict, *, structure: str | None = None,
            masks=(), flags=()) -> str:
        """Add one finding and return its id."""
        if section not in SECTIONS:
            raise ValueError(f"section {section!r} is not one of {', '.join(SECTIONS)}")
        finding_id = f"F{len(self.findings) + 1:03d}"
        self.findings.append({"id": finding_id, "section": section, "kind": kind,
                              "structure": structure, "measurements": dict(measurements),
                              "masks": [asdict(mask) for mask in masks], "flags": list(flags)})
        return finding_id

    def to_dict(self) -> dict:
        """The findings document (JSON-able)."""
        return {"schema": "hounsfield.findings", "schema_version": SCHEMA_VERSION,
                "software": f"hounsfield {__version__}", "study": self.study,
                "findings": list(self.findings)}


def schema() -> dict:
    """The JSON Schema of a findings document."""
    import json

    text = resources.files("hounsfield").joinpath("report", "findings.schema.json").read_text(
        encoding="utf-8")
    return json.loads(text)
