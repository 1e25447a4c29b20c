"""The narrative report: sentences written from findings by templates, each grounded.

Every sentence carries the ids of the findings it states and, through them,
the masks (label-map file and label id) it speaks of; a finding kind without
a template says nothing, so no sentence is ever written without a
measurement behind it.

Examples
--------
>>> from hounsfield.report.findings import FindingsBuilder, Mask
>>> builder = FindingsBuilder({})
>>> _ = builder.add("lungs", "structure", {"volume_ml": 2412.4, "hu_mean": -861.2},
...                 structure="lung_left", masks=[Mask("labels.nii.gz", 204)])
>>> [s.text for s in narrative(builder.to_dict())["lungs"]]
['Left lung: volume 2412 ml, mean attenuation -861 HU.']
"""

from __future__ import annotations

from dataclasses import dataclass

from .findings import SECTIONS

__all__ = ["Sentence", "narrative", "to_markdown", "display_name", "SECTION_TITLES"]

SECTION_TITLES = {"technique": "Technique", "lungs": "Lungs", "airways": "Airways",
                  "bones": "Bones", "body_composition": "Body composition", "organs": "Organs",
                  "lesions": "Lesions", "impression": "Impression"}

_GRADE_ORDER = {"normal": 0, "mild": 1, "moderate": 2, "severe": 3}


@dataclass(frozen=True)
class Sentence:
    """One sentence and what grounds it: finding ids and (file, label id) masks."""

    text: str
    finding_ids: tuple[str, ...]
    masks: tuple[tuple[str, int], ...]

    def to_dict(self) -> dict:
        return {"text": self.text, "finding_ids": list(self.finding_ids),
                "masks": [{"file": f, "label_id": i} for f, i in self.masks]}


def display_name(name: str) -> str:
    """A label name as words: 'lung_upper_lobe_left' → 'Left lung upper lobe'.

    >>> display_name("vertebrae_T7"), display_name("lung_left"), display_name("kidney_cyst_left")
    ('Vertebra T7', 'Left lung', 'Left kidney cyst')
    """
    words = name.split("_")
    side = [w for w in words if w in ("left", "right")]
    words = [w for w in words if w not in ("left", "right")]
    if words and words[0] == "vertebrae":
        words[0] = "vertebra"
        words[1:] = [w.upper() for w in words[1:]]
    text = " ".join(side + words)
    return text[:1].upper() + text[1:]


def _sentence(text: str, *findings: dict) -> Sentence:
    masks = tuple(dict.fromkeys((m["file"], m["label_id"]) for f in findings for m in f["masks"]))
    return Sentence(text, tuple(f["id"] for f in findings), masks)


def _number(value, digits: int = 0) -> str:
    return f"{value:.{digits}f}"


def _technique(finding: dict) -> list[Sentence]:
    m = finding["measurements"]
    return [_sentence(
        f"CT volume of {m['slices']} axial slices of {m['rows']}×{m['columns']} pixels, "
        f"{_number(m['pixel_spacing_mm'], 2)} mm pixels, {_number(m['slice_spacing_mm'], 2)} mm "
        f"slice spacing, covering {_number(m['extent_z_mm'])} mm craniocaudally.", finding)]


def _structure(finding: dict) -> list[Sentence]:
    m = finding["measurements"]
    digits = 1 if m["volume_ml"] < 10 else 0  # small structures keep a decimal
    text = f"{display_name(finding['structure'])}: volume {_number(m['volume_ml'], digits)} ml"
    if m.get("hu_mean") is not None:
        text += f", mean attenuation {_number(m['hu_mean'])} HU"
    if "cut_by_scan_edge" in finding["flags"]:
        text += " (cut by the scan range: volume is partial)"
    return [_sentence(text + ".", finding)]


def _lung_density(finding: dict) -> list[Sentence]:
    m = finding["measurements"]
    text = (f"{display_name(finding['structure'])}: {_number(m['laa950_percent'], 1)} % of the "
            f"lung below −950 HU (LAA-950), 15th percentile {_number(m['perc15_hu'])} HU")
    if "emphysema_laa950" in finding["flags"]:
        text += ", in the range of emphysema (LAA-950 ≥ 5 %)"
    return [_sentence(text + ".", finding)]


def _airway_tree(finding: dict) -> list[Sentence]:
    m = finding["measurements"]
    return [_sentence(
        f"The airway tree ({_number(m['volume_ml'], 1)} ml, {m['branch_count']} branches) "
        f"is followed to generation {m['max_generation_left']} on the left and "
        f"{m['max_generation_right']} on the right.", finding)]


def _vertebral_height(finding: dict) -> list[Sentence]:
    m = finding["measurements"]
    text = (f"{display_name(finding['structure'])}: anterior, middle and posterior heights "
            f"{_number(m['anterior_height_mm'], 1)}, {_number(m['middle_height_mm'], 1)} and "
            f"{_number(m['posterior_height_mm'], 1)} mm")
    if m.get("height_loss_percent") is not None:
        text += (f", height loss {_number(m['height_loss_percent'])} % against its neighbours "
                 f"({m['grade']})")
    return [_sentence(text + ".", finding)]


def _body_composition(finding: dict) -> list[Sentence]:
    m = finding["measurements"]
    if finding["structure"] is not None:
        return _structure(finding)
    parts = [f"{display_name(key.removesuffix('_area_cm2')).lower()} {_number(value, 1)} cm²"
             for key, value in m.items() if key.endswith("_area_cm2")]
    return [_sentence(f"At the level of {m['level']} (z = {_number(m['z_mm'], 1)} mm): "
                      + ", ".join(parts) + ".", finding)]


def _lesion(finding: dict) -> list[Sentence]:
    m = finding["measurements"]
    where = " ".join(str(m[k]) for k in ("laterality", "lobe", "location") if m.get(k))
    text = (f"{display_name(finding['structure'])}{' in ' + where if where else ''}: "
            f"{_number(m['long_axis_mm'], 1)} × {_number(m['short_axis_mm'], 1)} mm "
            f"(long × short axis, axial), volume {_number(m['volume_ml'], 2)} ml")
    if m.get("hu_mean") is not None:
        text += f", mean {_number(m['hu_mean'])} HU"
    distances = [f"{_number(m[key], 1)} mm to the {label}"
                 for key, label in (("distance_to_pleura_mm", "pleura"),
                                    ("distance_to_airway_mm", "nearest airway"),
                                    ("distance_to_vessel_mm", "nearest vessel"))
                 if m.get(key) is not None]
    if distances:
        text += "; " + ", ".join(distances)
    if "short_axis_ge_10mm" in finding["flags"]:
        text += "; short axis ≥ 10 mm (the size criterion of a pathological lymph node)"
    return [_sentence(text + ".", finding)]


_TEMPLATES = {"technique": _technique, "structure": _structure, "lung_density": _lung_density,
              "airway_tree": _airway_tree, "vertebral_height": _vertebral_height,
              "body_composition": _body_composition, "lesion": _lesion}


def _impression(findings: list[dict]) -> list[Sentence]:
    sentences = []
    density = [f for f in findings if f["kind"] == "lung_density"]
    emphysema = [f for f in density if "emphysema_laa950" in f["flags"]]
    if emphysema:
        sentences.append(_sentence("Low-attenuation lung in the range of emphysema: " + ", ".join(
            f"{display_name(f['structure']).lower()} "
            f"{_number(f['measurements']['laa950_percent'], 1)} %" for f in emphysema) + ".",
            *emphysema))
    elif density:
        largest = max(density, key=lambda f: f["measurements"]["laa950_percent"])
        sentences.append(_sentence(
            "No emphysema by LAA-950 (largest "
            f"{_number(largest['measurements']['laa950_percent'], 1)} %, "
            f"{display_name(largest['structure']).lower()}).", *density))
    sentences += _vertebral_impression([f for f in findings if f["kind"] == "vertebral_height"
                                        and f["measurements"].get("grade")])
    lesions = [f for f in findings if f["kind"] == "lesion"]
    if lesions:
        largest = max(lesions, key=lambda f: f["measurements"]["long_axis_mm"])
        sentences.append(_sentence(
            f"{len(lesions)} lesion{'s' if len(lesions) > 1 else ''} measured; the largest, "
            f"{display_name(largest['structure']).lower()}, "
            f"{_number(largest['measurements']['long_axis_mm'], 1)} mm long axis.", *lesions))
    return sentences


def _vertebral_impression(graded: list[dict]) -> list[Sentence]:
    if not graded:
        return []
    abnormal = [f for f in graded if f["measurements"]["grade"] != "normal"]
    if abnormal:
        return [_sentence("Vertebral height loss: " + ", ".join(
            f"{display_name(f['structure'])} {_number(f['measurements']['height_loss_percent'])} % "
            f"({f['measurements']['grade']})" for f in abnormal) + ".", *abnormal)]
    largest = max(graded, key=lambda f: f["measurements"]["height_loss_percent"])
    return [_sentence(
        f"No vertebral height loss of 20 % or more in {len(graded)} graded vertebrae (largest "
        f"{_number(largest['measurements']['height_loss_percent'])} %, "
        f"{display_name(largest['structure'])}).", *graded)]


def narrative(findings: dict) -> dict[str, list[Sentence]]:
    """Sentences per section (in :data:`SECTIONS` order, then 'impression'); empty ones left out."""
    sections: dict[str, list[Sentence]] = {}
    for section in SECTIONS:
        for finding in findings["findings"]:
            if finding["section"] == section and finding["kind"] in _TEMPLATES:
                sections.setdefault(section, []).extend(_TEMPLATES[finding["kind"]](finding))
    impression = _impression(findings["findings"])
    if impression:
        sections["impression"] = impression
    return sections


def to_markdown(sections: dict[str, list[Sentence]], title: str = "CT report") -> str:
    """The narrative as Markdown; each sentence ends with its finding ids in brackets."""
    lines = [f"# {title}", ""]
    for section, sentences in sections.items():
        lines += [f"## {SECTION_TITLES[section]}", ""]
        lines += [f"- {s.text} [{', '.join(s.finding_ids)}]" for s in sentences]
        lines.append("")
    return "\n".join(lines)
