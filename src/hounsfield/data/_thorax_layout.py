"""Where the thorax phantom's structures are: solids, labels and tissues in painting order.

World frame (LPS, mm): x = 0 on the midline (+x patient left), y = 0 at the
centre of the torso's cross-section (+y posterior), z = 0 at the lower end of
the default field of view, in L3 (+z superior). The torso is an elliptic
cylinder 290 mm wide and 210 mm deep, longer than any field of view. Sizes
are those of a small adult, with the spine shortened (thoracic levels 18 mm,
lumbar 24 mm) so that T1–L2 fit whole in 288 mm, L3 and C7 cut by its ends.

Parts are painted in order; a later part overwrites an earlier one where they
overlap. That is how the lungs get their cardiac notch and how vessels inside
the lungs keep the lung label.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

from ._solids import Box, EllipticCylinder, Intersection, Union, tube
from .analytic import Ellipsoid

#: Nominal CT numbers (HU) of the phantom's tissues; "air" is also the background.
TISSUE_HU = {
    "air": -1000.0, "lung": -850.0, "fat": -100.0, "muscle": 50.0, "soft_tissue": 30.0,
    "blood": 40.0, "heart": 40.0, "aorta": 200.0, "liver": 60.0, "spleen": 50.0,
    "kidney": 150.0, "esophagus": 40.0, "airway_wall": 50.0, "spinal_cord": 35.0,
    "disc": 80.0, "cortical_bone": 1000.0, "cancellous_bone": 250.0, "rib": 700.0,
    "table": 300.0,
}

BODY_SEMI_AXES_MM = (145.0, 105.0)
SKIN_MM, SUBCUTANEOUS_FAT_MM, MUSCLE_MM = 3.0, 15.0, 12.0
TABLE_GAP_MM, TABLE_THICKNESS_MM = 3.0, 12.0
VERTEBRA_CENTER_Y_MM = 45.0
CANAL_RADIUS_MM = 8.0
CORTEX_MM = 2.5


class Part(NamedTuple):
    """One painted solid with its label name and tissue name."""

    solid: object
    label: str
    tissue: str


class Level(NamedTuple):
    """One vertebra: name, bottom of its body (z mm), body height, disc height above, region."""

    name: str
    z_bottom_mm: float
    height_mm: float
    disc_mm: float
    region: str  # "cervical", "thoracic" or "lumbar"

    @property
    def lumbar(self) -> bool:
        return self.region == "lumbar"

    @property
    def z_center_mm(self) -> float:
        return self.z_bottom_mm + self.height_mm / 2.0


_REGIONS = {"C": "cervical", "T": "thoracic", "L": "lumbar"}


def spine_levels() -> list[Level]:
    """L3–C7 from the bottom up: lumbar bodies 19 mm + 5 mm disc, the others 14 mm + 4 mm.

    T1–L2 lie inside the default field of view (L2 starts at z = 12 mm); L3
    and C7 continue the column past its ends, as in a real scan.
    """
    names = ["L3", "L2", "L1"] + [f"T{n}" for n in range(12, 0, -1)] + ["C7"]
    levels, z = [], -12.0
    for name in names:
        region = _REGIONS[name[0]]
        height, disc = (19.0, 5.0) if region == "lumbar" else (14.0, 4.0)
        levels.append(Level(f"vertebrae_{name}", z, height, disc, region))
        z += height + disc
    return levels


def body_outline() -> EllipticCylinder:
    return EllipticCylinder((0.0, 0.0), BODY_SEMI_AXES_MM)


def torso_interior() -> EllipticCylinder:
    """Inside the muscle layer: where lungs, mediastinum and abdominal organs are."""
    return body_outline().shrunk(SKIN_MM + SUBCUTANEOUS_FAT_MM + MUSCLE_MM)


def thorax_parts() -> list[Part]:
    """Every structure of the phantom, in painting order."""
    return (_table() + _body_wall() + _lungs() + _diaphragm() + _paraspinal_muscles()
            + _abdomen() + _mediastinum() + _airways() + _sternum() + _ribs() + _spine())


def _table() -> list[Part]:
    top = BODY_SEMI_AXES_MM[1] + TABLE_GAP_MM
    slab = Box((-250.0, top, -1e6), (250.0, top + TABLE_THICKNESS_MM, 1e6))
    return [Part(slab, "table", "table")]


def _body_wall() -> list[Part]:
    outline = body_outline()
    fat = outline.shrunk(SKIN_MM)
    muscle = fat.shrunk(SUBCUTANEOUS_FAT_MM)
    return [Part(outline, "body", "soft_tissue"), Part(fat, "subcutaneous_fat", "fat"),
            Part(muscle, "skeletal_muscle", "muscle"), Part(torso_interior(), "torso_fat", "fat")]


def _lung_solid(side: str):
    sign = 1.0 if side == "left" else -1.0
    z_center = 180.0 if side == "left" else 185.0
    return Intersection((Ellipsoid((sign * 68.0, 0.0, z_center), (60.0, 85.0, 95.0)),
                         torso_interior()))


def _lungs() -> list[Part]:
    """Both lungs, then vessels (blood, lung label) branching from each hilum."""
    parts = [Part(_lung_solid(side), f"lung_{side}", "lung") for side in ("right", "left")]
    targets = [(100.0, -35.0, 225.0), (105.0, 25.0, 165.0), (85.0, 45.0, 215.0),
               (75.0, -30.0, 140.0), (60.0, 30.0, 250.0), (95.0, 0.0, 130.0)]
    for side, sign, dz in (("right", -1.0, 0.0), ("left", 1.0, -5.0)):
        lung = _lung_solid(side)
        hilum = np.array([sign * 35.0, 5.0, 180.0 + dz])
        for tx, ty, tz in targets:
            target = np.array([sign * tx, ty, tz + dz])
            middle = (hilum + target) / 2.0
            for capsule in tube([hilum, middle], 4.0) + tube([middle, target], 2.5):
                parts.append(Part(Intersection((capsule, lung)), f"lung_{side}", "blood"))
    return parts


def _domes(thickness_mm: float = 0.0) -> list:
    """Right and left diaphragm domes (the abdominal cavity below them), grown by thickness_mm."""
    grow = np.full(3, thickness_mm)
    return [Ellipsoid((-55.0, 5.0, 20.0), np.add((90.0, 95.0, 100.0), grow)),
            Ellipsoid((55.0, 5.0, 10.0), np.add((90.0, 95.0, 95.0), grow))]


def abdominal_cavity() -> Intersection:
    return Intersection((Union(tuple(_domes())), torso_interior()))


def _diaphragm() -> list[Part]:
    """A 5 mm muscular dome over fat; both outer domes first so the shell is of the union."""
    interior = torso_interior()
    outer = [Part(Intersection((d, interior)), "skeletal_muscle", "muscle") for d in _domes(5.0)]
    inner = [Part(Intersection((d, interior)), "torso_fat", "fat") for d in _domes()]
    return outer + inner


def _paraspinal_muscles() -> list[Part]:
    return [Part(EllipticCylinder((sign * 40.0, 80.0), (28.0, 18.0)), "skeletal_muscle", "muscle")
            for sign in (-1.0, 1.0)]


def _abdomen() -> list[Part]:
    cavity, interior = abdominal_cavity(), torso_interior()
    bowel = Ellipsoid((10.0, -30.0, 0.0), (90.0, 45.0, 60.0))
    liver = Ellipsoid((-45.0, -5.0, 65.0), (85.0, 75.0, 65.0))
    spleen = Ellipsoid((82.0, 38.0, 95.0), (25.0, 48.0, 40.0), (-0.5, 0.0, 0.0))
    kidney_right = Ellipsoid((-58.0, 50.0, 40.0), (28.0, 22.0, 48.0), (0.35, 0.0, 0.0))
    kidney_left = Ellipsoid((58.0, 48.0, 50.0), (28.0, 22.0, 48.0), (-0.35, 0.0, 0.0))
    return [Part(Intersection((bowel, cavity)), "body", "soft_tissue"),
            Part(Intersection((liver, cavity)), "liver", "liver"),
            Part(Intersection((spleen, cavity)), "spleen", "spleen"),
            Part(Intersection((kidney_right, interior)), "kidney_right", "kidney"),
            Part(Intersection((kidney_left, interior)), "kidney_left", "kidney")]


def _aorta_path() -> list[np.ndarray]:
    """Ascending aorta, an arch bulging to the left over the left bronchus, descending aorta."""
    ascending = [np.array([8.0, -25.0, 150.0]), np.array([8.0, -25.0, 212.0])]
    start, end = ascending[-1], np.array([26.0, 24.0, 212.0])
    middle, half = (start + end) / 2.0, (end - start) / 2.0
    bulge = np.array([18.0, 0.0, 23.0])
    arch = [middle - math.cos(t) * half + math.sin(t) * bulge
            for t in np.linspace(0.0, math.pi, 9)[1:]]
    descending = [np.array(p) for p in ((24.0, 23.0, 120.0), (14.0, 20.0, 40.0),
                                        (10.0, 18.0, -100.0))]
    return ascending + arch + descending


def _mediastinum() -> list[Part]:
    heart = Ellipsoid((18.0, -22.0, 152.0), (55.0, 45.0, 48.0), (-0.5, 0.0, 0.0))
    esophagus = tube([(3.0, 22.0, 400.0), (5.0, 22.0, 200.0), (12.0, 15.0, 130.0),
                      (30.0, -5.0, 95.0)], 7.0)
    path = _aorta_path()
    aorta = tube(path[:2], 14.0) + tube(path[1:10], 13.0) + tube(path[9:], 11.0)
    return ([Part(heart, "heart", "heart")]
            + [Part(c, "esophagus", "esophagus") for c in esophagus]
            + [Part(c, "aorta", "aorta") for c in aorta])


def _airways() -> list[Part]:
    """Trachea to the carina (z = 200 mm), main bronchi into the hila: walls first, then lumens."""
    carina = (0.0, 5.0, 200.0)
    paths = {"trachea": [(0.0, 5.0, 400.0), carina],
             "bronchus_right": [carina, (-30.0, 9.0, 183.0), (-48.0, 12.0, 174.0)],
             "bronchus_left": [carina, (38.0, 11.0, 187.0), (56.0, 14.0, 181.0)]}
    radii = {"trachea": (10.0, 7.5), "bronchus_right": (7.0, 5.0), "bronchus_left": (7.0, 5.0)}
    walls = [Part(c, name, "airway_wall") for name, path in paths.items()
             for c in tube(path, radii[name][0])]
    lumens = [Part(c, name, "air") for name, path in paths.items()
              for c in tube(path, radii[name][1])]
    return walls + lumens


def _sternum() -> list[Part]:
    lower, upper = np.array([-14.0, -86.0, 135.0]), np.array([14.0, -74.0, 235.0])
    return [Part(Box(tuple(lower), tuple(upper)), "sternum", "cortical_bone"),
            Part(Box(tuple(lower + CORTEX_MM), tuple(upper - CORTEX_MM)), "sternum",
                 "cancellous_bone")]


def _rib_end_deg(number: int) -> float:
    """Where rib ``number`` ends, as the arc angle (90° posterior, 0° lateral, -90° anterior)."""
    if number <= 7:
        return -55.0
    return {8: -35.0, 9: -35.0, 10: -35.0, 11: 0.0, 12: 25.0}[number]


def _rib_path(level: Level, number: int, sign: float) -> list[tuple[float, float, float]]:
    """From beside the vertebral body round the chest wall, sloping down 0.25 mm per degree."""
    semi_x, semi_y = np.add(torso_interior().semi_axes_xy_mm, MUSCLE_MM / 2.0)
    start_deg, end_deg = 62.0, _rib_end_deg(number)
    count = max(2, math.ceil((start_deg - end_deg) / 10.0) + 1)
    path = [(sign * 20.0, 56.0, level.z_center_mm)]
    for deg in np.linspace(start_deg, end_deg, count):
        angle = math.radians(deg)
        z = level.z_center_mm - 0.25 * (start_deg - deg)
        path.append((sign * semi_x * math.cos(angle), semi_y * math.sin(angle), z))
    return path


def _ribs() -> list[Part]:
    thoracic = [lv for lv in spine_levels() if lv.region == "thoracic"]
    parts = []
    for level in thoracic:
        number = int(level.name.removeprefix("vertebrae_T"))
        for side, sign in (("left", 1.0), ("right", -1.0)):
            parts += [Part(c, f"rib_{side}_{number}", "rib")
                      for c in tube(_rib_path(level, number, sign), 4.5)]
    return parts


def _canal_center_y(level: Level) -> float:
    return 70.0 if level.lumbar else 67.0


def _vertebra(level: Level) -> list[Part]:
    """Arch and processes, then a body: cortical shell around a cancellous core."""
    semi = (22.0, 16.0) if level.lumbar else (17.0, 13.0)
    z0, z1 = level.z_bottom_mm, level.z_bottom_mm + level.height_mm
    canal_y = _canal_center_y(level)
    arch = EllipticCylinder((0.0, canal_y), (CANAL_RADIUS_MM + 7.0, CANAL_RADIUS_MM + 5.0),
                            (z0, z1))
    spinous = Box((-3.5, canal_y + CANAL_RADIUS_MM + 2.0, z0 + 2.0), (3.5, 96.0, z1 - 2.0))
    transverse = Box((-32.0, canal_y - 6.0, z0 + 3.0), (32.0, canal_y + 2.0, z1 - 3.0))
    shell = EllipticCylinder((0.0, VERTEBRA_CENTER_Y_MM), semi, (z0, z1))
    core = EllipticCylinder((0.0, VERTEBRA_CENTER_Y_MM), tuple(np.subtract(semi, CORTEX_MM)),
                            (z0 + CORTEX_MM, z1 - CORTEX_MM))
    bone = [Part(s, level.name, "cortical_bone") for s in (arch, spinous, transverse, shell)]
    return bone + [Part(core, level.name, "cancellous_bone")]


def _disc(z_bottom_mm: float, height_mm: float, lumbar: bool) -> Part:
    semi = (22.0, 16.0) if lumbar else (17.0, 13.0)
    z_range = (z_bottom_mm, z_bottom_mm + height_mm)
    return Part(EllipticCylinder((0.0, VERTEBRA_CENTER_Y_MM), semi, z_range),
                "intervertebral_discs", "disc")


def _spine() -> list[Part]:
    """Vertebrae L3–C7 with a disc above each (and below the lowest), the cord in the canal."""
    levels = spine_levels()
    parts = []
    for level in levels:
        parts += _vertebra(level)
    cord = tube([(0.0, 70.0, -100.0), (0.0, 70.0, 55.0), (0.0, 67.0, 62.0), (0.0, 67.0, 400.0)],
                CANAL_RADIUS_MM)
    parts += [Part(c, "spinal_cord", "spinal_cord") for c in cord]
    parts.append(_disc(levels[0].z_bottom_mm - 5.0, 5.0, True))
    parts += [_disc(lv.z_bottom_mm + lv.height_mm, lv.disc_mm, lv.lumbar) for lv in levels]
    return parts
