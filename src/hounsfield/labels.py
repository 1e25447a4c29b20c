"""LabelTable: label id → name and colour, saved as JSON or as a 3D Slicer colour table."""

from __future__ import annotations

import colorsys
import csv
import json
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np

__all__ = ["Label", "LabelTable", "totalsegmentator_table", "OWN_LABEL_IDS", "label_id"]

#: Ids of structures that TotalSegmentator's 'total' task does not name (its
#: ids 1–117 are used as they are; these start at 200 so the two never clash).
OWN_LABEL_IDS = {"body": 200, "subcutaneous_fat": 201, "skeletal_muscle": 202, "torso_fat": 203,
                 "lung_left": 204, "lung_right": 205, "bronchus_left": 206,
                 "bronchus_right": 207, "intervertebral_discs": 208, "table": 209,
                 "intermuscular_fat": 210, "lung_vessels": 211, "skeleton": 212, "spine": 213,
                 "ribs": 214, "other_bones": 215, "lesion": 216, "airways": 217}

RGB = tuple[int, int, int]


@dataclass(frozen=True)
class Label:
    """One label: integer id (> 0), name, colour as 8-bit RGB."""

    id: int
    name: str
    color: RGB


def default_color(label_id: int) -> RGB:
    """A distinct, stable colour for a label id (golden-ratio hues)."""
    hue = (label_id * 0.6180339887) % 1.0
    lightness = 0.45 + 0.15 * ((label_id // 7) % 2)
    r, g, b = colorsys.hls_to_rgb(hue, lightness, 0.75)
    return (round(r * 255), round(g * 255), round(b * 255))


class LabelTable:
    """Mapping of label id → :class:`Label` (id 0 is background and never listed).

    Examples
    --------
    >>> table = LabelTable.from_names({1: "lung_left", 2: "lung_right"})
    >>> table.id_of("lung_right"), table.name_of(1), len(table)
    (2, 'lung_left', 2)
    """

    def __init__(self, labels=()):
        self._by_id: dict[int, Label] = {}
        for label in labels:
            self.add(label.id, label.name, label.color)

    @classmethod
    def from_names(cls, names: dict[int, str]) -> LabelTable:
        """A table with default colours from an {id: name} mapping."""
        return cls(Label(int(i), str(n), default_color(int(i))) for i, n in names.items())

    def add(self, label_id: int, name: str, color: RGB | None = None) -> None:
        label_id = int(label_id)
        if label_id <= 0:
            raise ValueError(f"label ids must be positive (0 is background), got {label_id}")
        if not name or any(c.isspace() for c in name):
            raise ValueError(f"label names must be non-empty without spaces, got {name!r}")
        if name in self.names and self.id_of(name) != label_id:
            raise ValueError(f"label name {name!r} is already used by id {self.id_of(name)}")
        color = default_color(label_id) if color is None else tuple(int(c) for c in color)
        if len(color) != 3 or not all(0 <= c <= 255 for c in color):
            raise ValueError(f"colour must be three integers in 0..255, got {color!r}")
        self._by_id[label_id] = Label(label_id, name, color)  # type: ignore[arg-type]

    # -- lookup ---------------------------------------------------------------

    def __len__(self) -> int:
        return len(self._by_id)

    def __iter__(self):
        return iter(sorted(self._by_id.values(), key=lambda label: label.id))

    def __contains__(self, key) -> bool:
        return key in self._by_id if isinstance(key, (int, np.integer)) else key in self.names

    def __eq__(self, other) -> bool:
        return isinstance(other, LabelTable) and self._by_id == other._by_id

    def __getitem__(self, label_id: int) -> Label:
        return self._by_id[int(label_id)]

    @property
    def names(self) -> list[str]:
        return [label.name for label in self]

    @property
    def ids(self) -> list[int]:
        return [label.id for label in self]

    def name_of(self, label_id: int) -> str:
        if int(label_id) not in self._by_id:
            raise KeyError(f"no label with id {label_id}")
        return self._by_id[int(label_id)].name

    def id_of(self, name: str) -> int:
        for label in self._by_id.values():
            if label.name == name:
                return label.id
        raise KeyError(f"no label named {name!r}")

    def __repr__(self) -> str:
        preview = ", ".join(f"{label.id}: {label.name}" for label in list(self)[:4])
        more = ", ..." if len(self) > 4 else ""
        return f"LabelTable({{{preview}{more}}})"

    # -- files ----------------------------------------------------------------

    def to_dict(self) -> dict:
        return {"labels": [{"id": lb.id, "name": lb.name, "color": list(lb.color)} for lb in self]}

    @classmethod
    def from_dict(cls, data: dict) -> LabelTable:
        return cls(
            Label(int(e["id"]), e["name"], tuple(e.get("color") or default_color(int(e["id"]))))
            for e in data["labels"]
        )

    def to_slicer(self) -> str:
        """Text of a 3D Slicer colour table (.ctbl): ``id name R G B A`` per line."""
        lines = ["# Color table file written by hounsfield", f"# {len(self) + 1} values",
                 "0 background 0 0 0 0"]
        lines += [f"{lb.id} {lb.name} {lb.color[0]} {lb.color[1]} {lb.color[2]} 255" for lb in self]
        return "\n".join(lines) + "\n"

    @classmethod
    def from_slicer(cls, text: str) -> LabelTable:
        table = cls()
        for line_number, line in enumerate(text.splitlines(), 1):
            fields = line.split()
            if not fields or fields[0].startswith("#"):
                continue
            try:
                if len(fields) < 5:
                    raise ValueError("too few fields")
                label_id, color = int(fields[0]), tuple(int(v) for v in fields[2:5])
            except ValueError:
                raise ValueError(f"colour table line {line_number} needs 'id name R G B [A]' "
                                 f"with integers, got {line.strip()!r}") from None
            if label_id > 0:
                table.add(label_id, fields[1], color)
        return table

    def save(self, path: str | Path) -> None:
        """Write as JSON (.json) or as a Slicer colour table (.ctbl / .txt), atomically."""
        from .io.paths import atomic_write_text

        path = Path(path)
        is_json = path.suffix.lower() == ".json"
        text = json.dumps(self.to_dict(), indent=1) if is_json else self.to_slicer()
        atomic_write_text(path, text)

    @classmethod
    def load(cls, path: str | Path) -> LabelTable:
        """Read a table written by :meth:`save` (JSON or Slicer colour table)."""
        path = Path(path)
        text = path.read_text(encoding="utf-8")
        if path.suffix.lower() == ".json":
            return cls.from_dict(json.loads(text))
        return cls.from_slicer(text)


def totalsegmentator_table() -> LabelTable:
    """TotalSegmentator's 117 'total' classes with their ids (1 spleen … 117 costal_cartilages)."""
    # Through the top-level package: importing hounsfield.data would run its
    # __init__ (example-data fetching), which a label table does not need.
    csv_file = resources.files("hounsfield").joinpath("data").joinpath("totalsegmentator_total.csv")
    text = csv_file.read_text(encoding="utf-8")
    rows = csv.DictReader(text.splitlines())
    return LabelTable.from_names({int(row["id"]): row["name"] for row in rows})


def label_id(name: str) -> int:
    """The project-wide id of a structure name: TotalSegmentator's where it names it, else ours.

    Examples
    --------
    >>> label_id("trachea"), label_id("lung_left")
    (16, 204)
    """
    if name in OWN_LABEL_IDS:
        return OWN_LABEL_IDS[name]
    table = totalsegmentator_table()
    if name not in table.names:
        raise KeyError(f"no label id for structure name {name!r}")
    return table.id_of(name)
