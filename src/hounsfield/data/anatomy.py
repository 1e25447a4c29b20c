"""An anatomical thorax–abdomen phantom: a CT in HU with a matching label map.

The torso is built from analytic solids (ellipsoids, elliptic cylinders,
tubes, boxes) in realistic places and CT numbers; see
:mod:`hounsfield.data._thorax_layout` for every size and position. Labels are
assigned by voxel centre; the CT is the nominal HU of the tissue at the voxel
centre or, with ``supersample > 1``, the mean over sub-voxel points (partial
volume). Lesions of known size can be inserted, and :func:`lesion_truth`
gives their exact volume and diameters.

Label names follow TotalSegmentator's "total" task (same ids) where the
structure is one of its classes. The others:

============================  =====  ==========================================
name                          id     meaning
============================  =====  ==========================================
body                          200    skin and unclassified soft tissue (bowel);
                                     the whole body is :func:`body_mask`
subcutaneous_fat              201    TotalSegmentator task "tissue_types"
skeletal_muscle               202    chest/abdominal wall, paraspinal muscles,
                                     diaphragm ("tissue_types")
torso_fat                     203    fat inside the muscle wall: mediastinal and
                                     visceral ("tissue_types")
lung_left, lung_right         204,   each lung whole, with its vessels (lobes
                              205    are not modelled)
bronchus_left, bronchus_right 206,   main bronchi, lumen and wall (trachea is
                              207    TotalSegmentator's ``trachea``)
intervertebral_discs          208    TotalSegmentator task "vertebrae_body"
table                         209    patient table; not part of the body
lesion_1, lesion_2, ...       301..  inserted lesions, in the order given
============================  =====  ==========================================
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from types import MappingProxyType

import numpy as np
from scipy import ndimage

from ..labels import OWN_LABEL_IDS, LabelTable, totalsegmentator_table
from ..volume import Volume
from . import _checks, _grid
from . import _thorax_layout as layout
from .analytic import Ellipsoid

__all__ = ["thorax_phantom", "Lesion", "LesionTruth", "lesion_truth", "example_lesions",
           "body_mask", "THORAX_TISSUE_HU", "THORAX_LABEL_TISSUE", "DEFAULT_CENTER_MM"]

#: Nominal HU of each tissue of the phantom (read-only; override per call with ``tissue_hu``).
THORAX_TISSUE_HU: Mapping[str, float] = MappingProxyType(dict(layout.TISSUE_HU))

_FIRST_LESION_ID = 301

#: World point (x, y, z) mm at the centre of the default grid: the midline, just
#: behind the torso's centre (room for the table), halfway up the spine from L2 to T1.
DEFAULT_CENTER_MM = (0.0, 10.0, 144.0)
_MAX_LESIONS = 200  # tissue ids are uint8, shared with the phantom's own tissues
_POINTS_PER_CHUNK = 1 << 20

#: The tissue a measurement of each label should report (its nominal HU is that
#: tissue's): the parenchyma of the lungs, the lumen of the airways, the
#: cancellous core of vertebrae and sternum (the trabecular HU of opportunistic
#: bone-density screening) and the one tissue of every other label.
THORAX_LABEL_TISSUE: Mapping[str, str] = MappingProxyType({
    "body": "soft_tissue", "subcutaneous_fat": "fat", "skeletal_muscle": "muscle",
    "torso_fat": "fat", "lung_left": "lung", "lung_right": "lung", "trachea": "air",
    "bronchus_left": "air", "bronchus_right": "air", "heart": "heart", "aorta": "aorta",
    "esophagus": "esophagus", "liver": "liver", "spleen": "spleen", "kidney_left": "kidney",
    "kidney_right": "kidney", "sternum": "cancellous_bone", "spinal_cord": "spinal_cord",
    "intervertebral_discs": "disc", "table": "table",
    **{lv.name: "cancellous_bone" for lv in layout.spine_levels()},
    **{f"rib_{side}_{n}": "rib" for side in ("left", "right") for n in range(1, 13)},
})


@dataclass(frozen=True)
class Lesion:
    """A spherical or ellipsoidal lesion to insert into the phantom.

    Parameters
    ----------
    center_mm : 3 floats
        Centre, LPS world (x, y, z) in mm.
    diameter_mm : float or 3 floats
        Diameter in mm (a sphere), or diameters along x, y and z (an
        axis-aligned ellipsoid).
    hu : float
        CT number inside, in HU.

    Examples
    --------
    >>> round(Lesion((-60.0, -20.0, 70.0), 20.0, hu=20.0).volume_ml, 3)
    4.189
    """

    center_mm: tuple[float, float, float]
    diameter_mm: float | tuple[float, float, float]
    hu: float = 40.0

    def __post_init__(self):
        object.__setattr__(self, "center_mm",
                           _checks.float_tuple(self.center_mm, "Lesion.center_mm", 3))
        object.__setattr__(self, "diameter_mm", _checks.float_tuple(
            self.diameter_mm, "Lesion.diameter_mm", 3, positive=True))
        object.__setattr__(self, "hu", _checks.float_tuple(self.hu, "Lesion.hu", 1)[0])

    @property
    def solid(self) -> Ellipsoid:
        """The lesion as an axis-aligned ellipsoid (value 1)."""
        return Ellipsoid(self.center_mm, tuple(d / 2.0 for d in self.diameter_mm))

    @property
    def volume_ml(self) -> float:
        """Volume of the continuous shape, in ml (1 ml = 1000 mm³)."""
        return self.solid.measure / 1000.0


@dataclass(frozen=True)
class LesionTruth:
    """The exact, continuous truth of one inserted lesion."""

    name: str
    label_id: int
    center_mm: tuple[float, float, float]
    diameters_mm: tuple[float, float, float]
    volume_ml: float
    hu: float

    @property
    def longest_diameter_mm(self) -> float:
        """The largest of the three diameters (x, y, z), mm."""
        return max(self.diameters_mm)

    @property
    def axial_long_axis_mm(self) -> float:
        """Longest diameter in an axial slice through the centre, mm (RECIST's long axis)."""
        return max(self.diameters_mm[:2])

    @property
    def axial_short_axis_mm(self) -> float:
        """Shortest diameter in an axial slice through the centre, mm (RECIST's short axis)."""
        return min(self.diameters_mm[:2])


def lesion_truth(lesions: Sequence[Lesion]) -> list[LesionTruth]:
    """Exact truth of lesions as :func:`thorax_phantom` labels them: names, ids, ml, mm.

    Examples
    --------
    >>> truth = lesion_truth([Lesion((0.0, 0.0, 150.0), (10.0, 20.0, 30.0))])
    >>> truth[0].name, truth[0].longest_diameter_mm, round(truth[0].volume_ml, 4)
    ('lesion_1', 30.0, 3.1416)
    """
    lesions = _checked_lesions(lesions)
    return [LesionTruth(f"lesion_{n}", _FIRST_LESION_ID + n - 1, lesion.center_mm,
                        lesion.diameter_mm, lesion.volume_ml, lesion.hu)
            for n, lesion in enumerate(lesions, 1)]


def example_lesions() -> tuple[Lesion, ...]:
    """A 16 mm solid nodule in the right upper lung and a 24 mm hypodense liver lesion."""
    return (Lesion((-75.0, -20.0, 230.0), 16.0, hu=30.0),
            Lesion((-60.0, -20.0, 70.0), 24.0, hu=20.0))


def body_mask(labels: Volume) -> np.ndarray:
    """Voxels inside the patient: every label of the phantom but the table (and background)."""
    table_id = labels.labels.id_of("table") if "table" in labels.labels else -1
    return (labels.array > 0) & (labels.array != table_id)


def thorax_phantom(shape=(96, 128, 128), spacing_mm=(3.0, 2.5, 2.5), *, noise_hu: float = 0.0,
                   lesions: Sequence[Lesion] = (), seed: int | None = 0, supersample: int = 1,
                   tissue_hu: Mapping[str, float] | None = None,
                   center_mm=DEFAULT_CENTER_MM) -> tuple[Volume, Volume]:
    """A thorax–abdomen CT in HU and its label map, from analytic anatomy.

    The default grid — 96 × 128 × 128 voxels of 3 × 2.5 × 2.5 mm — covers
    288 × 320 × 320 mm (z, y, x), vertebrae L3 (cut) to C7 (cut), around a torso
    290 mm wide and 210 mm deep lying on a table. The grid is centred on
    ``center_mm``; other shapes, spacings and centres sample the same anatomy
    over another extent (the body and table run on beyond any grid, as in a
    real scan).

    Parameters
    ----------
    shape : 3 ints
        Grid size (nz, ny, nx).
    spacing_mm : float or 3 floats
        Voxel size (z, y, x) in mm.
    noise_hu : float
        Standard deviation (HU) of white Gaussian noise added to the CT; 0 for none.
    lesions : sequence of Lesion
        Painted last, over whatever organ they lie in, and labelled
        ``lesion_1``, ``lesion_2``, ... in order; see :func:`lesion_truth`.
    seed : int or None
        Seed of the noise generator: the same seed gives the same noise.
    supersample : int
        1: each voxel holds the HU of the tissue at its centre. k > 1: voxels
        on a tissue boundary hold the mean HU over k³ sub-voxel points
        (partial volume). Labels are always by voxel centre.
    tissue_hu : mapping, optional
        Overrides of :data:`THORAX_TISSUE_HU`, e.g. ``{"aorta": 40.0}`` for
        an unenhanced scan.
    center_mm : 3 floats
        LPS world point (x, y, z) mm at the centre of the grid; the default
        :data:`DEFAULT_CENTER_MM` = (0, 10, 144) frames the whole model.

    Returns
    -------
    ct : Volume
        float32 HU, axial LPS. ``ct.meta`` records the tissue HU table,
        noise and seed.
    labels : Volume
        uint16 label ids with a :class:`~hounsfield.labels.LabelTable` of
        the labels present. ``labels.meta["nominal_hu"]`` maps each label to
        the HU of its main tissue and ``labels.meta["lesions"]`` holds the
        lesions' truth as dicts.

    Notes
    -----
    CT numbers: air -1000, lung -850, fat -100, muscle 50, soft tissue
    (skin, bowel) 30, heart 40, pulmonary vessels 40, aorta 200 (arterial
    contrast; the heart's 40 HU is that of unenhanced myocardium and blood —
    a deliberate mix so that every organ has its own CT number), liver 60,
    spleen 50, kidneys 150, esophagus 40, airway wall 50, spinal cord 35,
    discs 80, cortical bone 1000, cancellous bone 250, ribs 700, table 300.

    Examples
    --------
    >>> ct, labels = thorax_phantom((48, 64, 64), (6.0, 5.0, 5.0))
    >>> liver = labels.array == labels.labels.id_of("liver")
    >>> float(ct.array[liver].mean())
    60.0
    """
    shape = _checks.int_tuple(shape, "shape", 3)
    spacing = _checks.float_tuple(spacing_mm, "spacing_mm", 3, positive=True)
    noise_hu = _checks.nonnegative_float(noise_hu, "noise_hu")
    supersample = _checks.positive_int(supersample, "supersample")
    center = _checks.float_tuple(center_mm, "center_mm", 3)
    lesions = _checked_lesions(lesions)
    hu_table = _tissue_table(tissue_hu, lesions)
    parts = _resolved_parts(lesions, hu_table)

    axes = _grid.centred_axes(shape, spacing, center)
    label_ids, tissue_ids = _paint_grid(parts, axes, shape)
    hu_values = np.array(list(hu_table.values()), dtype=np.float32)
    ct = hu_values[tissue_ids]
    if supersample > 1:
        _apply_partial_volume(ct, parts, axes, spacing, tissue_ids, hu_values, supersample)
    if noise_hu > 0:
        ct += np.random.default_rng(seed).normal(0.0, noise_hu, shape).astype(np.float32)

    origin = tuple(float(a[0]) for a in axes)
    ct_meta = {"phantom": "thorax", "tissue_hu": dict(hu_table), "noise_hu": noise_hu,
               "seed": seed, "supersample": supersample}
    table = _label_table(np.unique(label_ids), lesions)
    label_meta = {"phantom": "thorax", "nominal_hu": _nominal_hu(table, hu_table),
                  "lesions": [asdict(t) for t in lesion_truth(lesions)]}
    return (Volume(ct, spacing_mm=spacing, origin_mm=origin, meta=ct_meta),
            Volume(label_ids, spacing_mm=spacing, origin_mm=origin, labels=table,
                   meta=label_meta))


# -- assembly -------------------------------------------------------------------


def _checked_lesions(lesions) -> tuple[Lesion, ...]:
    lesions = tuple(lesions)
    if len(lesions) > _MAX_LESIONS:
        _checks.reject("lesions", f"{len(lesions)} lesions", f"at most {_MAX_LESIONS} lesions")
    for lesion in lesions:
        if not isinstance(lesion, Lesion):
            _checks.reject("lesions", lesion, "a sequence of Lesion")
    return lesions


def _tissue_table(overrides, lesions) -> dict[str, float]:
    """Tissue name → HU in tissue-id order (0 = air), lesions appended as their own tissues."""
    table = dict(layout.TISSUE_HU)
    for name, hu in dict(overrides or {}).items():
        if name not in table:
            _checks.reject("tissue_hu", name, "keys among " + ", ".join(table))
        table[name] = _checks.float_tuple(hu, f"tissue_hu[{name!r}]", 1)[0]
    for n, lesion in enumerate(lesions, 1):
        table[f"lesion_{n}"] = lesion.hu
    return table


def _label_ids(lesions) -> dict[str, int]:
    ids = {label.name: label.id for label in totalsegmentator_table()}
    ids.update(OWN_LABEL_IDS)
    ids.update({f"lesion_{n}": _FIRST_LESION_ID + n - 1 for n in range(1, len(lesions) + 1)})
    return ids


def _resolved_parts(lesions, hu_table) -> list[tuple[object, int, int]]:
    """(solid, label id, tissue id) in painting order, lesions last."""
    parts = layout.thorax_parts()
    parts += [layout.Part(lesion.solid, f"lesion_{n}", f"lesion_{n}")
              for n, lesion in enumerate(lesions, 1)]
    label_ids, tissue_ids = _label_ids(lesions), {name: i for i, name in enumerate(hu_table)}
    return [(p.solid, label_ids[p.label], tissue_ids[p.tissue]) for p in parts]


def _label_table(present_ids, lesions) -> LabelTable:
    names = {i: name for name, i in _label_ids(lesions).items()}
    return LabelTable.from_names({int(i): names[int(i)] for i in present_ids if i > 0})


def _nominal_hu(table: LabelTable, hu_table) -> dict[str, float]:
    tissues = dict(THORAX_LABEL_TISSUE)
    return {name: hu_table[tissues.get(name, name)] for name in table.names}


# -- painting -------------------------------------------------------------------


def _paint_grid(parts, axes, shape) -> tuple[np.ndarray, np.ndarray]:
    """Label and tissue ids at every voxel centre; later parts overwrite earlier ones."""
    label_ids = np.zeros(shape, np.uint16)
    tissue_ids = np.zeros(shape, np.uint8)
    for solid, label_id, tissue_id in parts:
        lower, upper = solid.bounds_mm()
        box = _grid.index_box(axes, lower, upper)
        if box is None:
            continue
        inside = np.broadcast_to(solid.contains(*_grid.open_grid(axes, box)),
                                 label_ids[box].shape)
        label_ids[box][inside] = label_id
        tissue_ids[box][inside] = tissue_id
    return label_ids, tissue_ids


def _apply_partial_volume(ct, parts, axes, spacing, tissue_ids, hu_values, supersample) -> None:
    """Replace HU at tissue boundaries by the mean over k³ sub-voxel points, in place.

    A voxel whose 3×3×3 neighbourhood holds one tissue only is taken as
    uniform; structures thinner than a voxel that miss every centre are lost.
    """
    edge = ndimage.maximum_filter(tissue_ids, 3) != ndimage.minimum_filter(tissue_ids, 3)
    rows = np.full(tissue_ids.shape, -1, np.int64)
    rows[edge] = np.arange(int(edge.sum()))
    centres = np.stack([np.broadcast_to(g, edge.shape)[edge]
                        for g in _grid.open_grid(axes, (slice(None),) * 3)], axis=-1)
    offsets = _grid.subvoxel_offsets(supersample, spacing)
    sub_tissues = np.zeros((len(centres), len(offsets)), np.uint8)
    reach = np.asarray(spacing[::-1]) / 2.0
    chunk = max(1, _POINTS_PER_CHUNK // len(offsets))
    for solid, _, tissue_id in parts:
        lower, upper = solid.bounds_mm()
        box = _grid.index_box(axes, lower - reach, upper + reach)
        if box is None:
            continue
        picked = rows[box][rows[box] >= 0]
        for start in range(0, picked.size, chunk):
            some = picked[start:start + chunk]
            points = centres[some, None, :] + offsets[None, :, :]
            inside = solid.contains(*np.moveaxis(points, -1, 0))
            sub_tissues[some] = np.where(inside, tissue_id, sub_tissues[some])
    ct[edge] = hu_values[sub_tissues].mean(axis=1)
