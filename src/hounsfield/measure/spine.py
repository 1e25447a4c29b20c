"""Vertebral body heights, height loss against the neighbouring vertebrae and Genant grade.

Method, per vertebra label (TotalSegmentator names ``vertebrae_C1`` … ``vertebrae_S1``;
the largest connected piece of each label is used, stray fragments are dropped):

1. **Body centre.** The Euclidean distance transform of the label (in mm) peaks
   in the vertebral body, the thickest part of a vertebra. The centroid of the
   thick core (voxels at least 60 % of the peak distance, the component of the
   peak) is the body centre; unlike the peak itself it lies on the mid-sagittal
   plane when the body is wider than high.
2. **Spine axis** ``u`` (towards the head). The direction from the next caudal
   to the next cranial body centre (a central difference: the tangent of a
   smooth curve through the centres, exact for vertebrae spaced evenly on an
   arc); one-sided at the ends of the column; the patient's superior axis
   (LPS +z) for a lone vertebra. All in world mm through the volume's affine,
   so oblique scans and curved spines are measured along the spine.
3. **Anterior direction** ``a``. The arch and processes pull the label's
   centroid behind the body: ``a`` is the body centre minus the label
   centroid, made perpendicular to ``u``. For a label without posterior
   elements (offset under 2 mm) it falls back to the patient's anterior
   (LPS −y) made perpendicular to ``u``. The lateral axis is ``l = u × a``.
4. **Mid-sagittal section.** The label is sampled (nearest voxel) on a grid of
   0.5 mm in ``(a, u)`` through the body centre, at lateral offsets spanning
   ``band_mm`` around the mid-sagittal plane, and the fraction of inside
   samples across the band is taken. In this plane the spinal canal separates
   the body from the laminae and the spinous process: the body is the
   connected region (fraction ≥ 0.5) that holds the body centre. Pedicles and
   transverse processes lie outside the band.
5. **Heights.** The height profile ``h(a)`` is the length along ``u`` inside
   the body region, averaged across the band. The body's posterior and
   anterior edges bound the longest run of ``a`` where ``h`` is at least 30 %
   of the median height of the region's central half: a corner osteophyte or
   the slanted end of a body tilted against ``u`` falls below that, the
   anterior wall of a crushed body stays above it. With the depth ``D``
   between the edges, the anterior and posterior heights are ``h`` averaged
   over ±1 mm around ``wall_fraction · D`` inside the anterior and posterior
   edges, the middle height around the midpoint. Voxels count by their
   centres, so a height is right to about one voxel along ``u``.
6. **Height loss.** For each of the three positions, the reference height is
   the mean height at that position of the adjacent vertebrae (one level up
   and one down) that were measured completely::

       height_loss_fraction = max(0, max_k (1 - h_k / reference_k)),  k ∈ {ant, mid, post}

   i.e. the largest relative reduction of any of the three heights against
   the neighbours' (Genant's semi-quantitative criterion, with the expected
   height taken from the adjacent levels so that the physiological wedging
   of a level is compared with that of its neighbours). C3–C7 are compared
   among themselves, and T1–L5: the cervicothoracic and lumbosacral
   junctions join bodies of different shape and size. One measured
   neighbour is enough.
7. **Grade** (:func:`genant_grade`): normal below 0.20, mild from 0.20 up to
   but not including 0.25, moderate from 0.25 up to and including 0.40,
   severe above 0.40.

A vertebra whose body reaches the edge of the scanned volume (cut by the field
of view) gets no heights; one whose label is less than half the mean volume of
its adjacent labels (an incomplete segmentation) keeps its heights but gets no
grade, and neither serves as a reference. C1 has no body; the heights of C2
include the odontoid process and S1 is a sacral segment: C2 and S1 are
measured but neither graded nor used as references.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from numbers import Real

import edt
import numpy as np
from scipy import ndimage

from ..segment._morphology import bounding_box, component_labels, largest_component
from ..volume import Volume

__all__ = ["VERTEBRA_NAMES", "GENANT_GRADES", "VertebraHeights", "genant_grade",
           "vertebral_heights"]

#: Vertebra labels in cranio-caudal order (TotalSegmentator class names).
VERTEBRA_NAMES = tuple(
    [f"vertebrae_C{n}" for n in range(1, 8)] + [f"vertebrae_T{n}" for n in range(1, 13)]
    + [f"vertebrae_L{n}" for n in range(1, 6)] + ["vertebrae_S1"])

#: Genant semi-quantitative grades, from no deformity to severe.
GENANT_GRADES = ("normal", "mild", "moderate", "severe")

#: Lower bounds of the mild and moderate grades and the upper bound of moderate.
_MILD, _MODERATE, _SEVERE_ABOVE = 0.20, 0.25, 0.40
#: Fraction of the peak distance-to-surface that marks the body's thick core.
_CORE_FRACTION = 0.6
#: Below this offset (mm) between body centre and label centroid there are no
#: posterior elements to orient by.
_MIN_ARCH_OFFSET_MM = 2.0
#: Sampling step (mm) of the mid-sagittal section.
_STEP_MM = 0.5
#: Margin (mm) around the body in the mid-sagittal plane within which the band is sampled.
_BOX_MARGIN_MM = 5.0
#: Half-width (mm) along the anterior direction of the window a height is averaged over.
_WINDOW_MM = 1.0
#: Fraction of the body's typical height below which its height profile ends (see _body_edges).
_EDGE_HEIGHT_FRACTION = 0.3
#: A label smaller than this fraction of its neighbours' mean volume is incomplete.
_MIN_VOLUME_RATIO = 0.5

#: Levels graded against their adjacent levels within the same group: across the
#: cervicothoracic and lumbosacral junctions the bodies differ in shape and size.
_GRADED_GROUPS = (VERTEBRA_NAMES[2:7], VERTEBRA_NAMES[7:24])  # C3–C7, T1–L5

_NO_BODY = {"vertebrae_C1": "the atlas (C1) has no vertebral body"}
_NOT_GRADED = {**_NO_BODY,
               "vertebrae_C2": "C2 heights include the odontoid process; not graded",
               "vertebrae_S1": "S1 is a sacral segment; not graded"}
_CUT_BY_FOV = "cut by the field of view: the vertebral body reaches the edge of the scan"
_INCOMPLETE = "label less than half the volume of its neighbours: incomplete segmentation"
_NO_NEIGHBOUR = "no completely measured adjacent vertebra to compare with"


@dataclass(frozen=True)
class VertebraHeights:
    """Heights of one vertebral body and its deformity against the adjacent levels.

    Attributes
    ----------
    name : str
        Label name, e.g. ``"vertebrae_T7"``.
    anterior_mm, middle_mm, posterior_mm : float or None
        Body heights (mm) along the spine axis near the anterior wall, at
        mid-depth and near the posterior wall; None when the body cannot be
        measured (see ``reason``).
    centroid_mm : tuple of 3 floats
        LPS world centroid (x, y, z) mm of the vertebra label (body and
        posterior elements; its largest connected piece).
    axis : tuple of 3 floats
        Unit LPS vector of the local spine axis, pointing to the head.
    anterior_direction : tuple of 3 floats
        Unit LPS vector from the posterior elements towards the body,
        perpendicular to ``axis``.
    height_loss_fraction : float or None
        Largest relative loss of the three heights against the mean of the
        adjacent vertebrae at the same position, in [0, 1]; None when not graded.
    grade : str or None
        Genant grade of ``height_loss_fraction`` (see :func:`genant_grade`).
    reason : str or None
        Why heights, loss or grade are missing; None when all are given.
    """

    name: str
    anterior_mm: float | None
    middle_mm: float | None
    posterior_mm: float | None
    centroid_mm: tuple[float, float, float]
    axis: tuple[float, float, float]
    anterior_direction: tuple[float, float, float]
    height_loss_fraction: float | None = None
    grade: str | None = None
    reason: str | None = None

    @property
    def heights_mm(self) -> tuple[float, float, float] | None:
        """(anterior, middle, posterior) heights in mm, or None when not measured."""
        if self.anterior_mm is None:
            return None
        return (self.anterior_mm, self.middle_mm, self.posterior_mm)  # type: ignore[return-value]

    def to_dict(self) -> dict:
        """Plain JSON-ready values, units in the keys."""
        return {"name": self.name, "anterior_height_mm": self.anterior_mm,
                "middle_height_mm": self.middle_mm, "posterior_height_mm": self.posterior_mm,
                "centroid_mm": list(self.centroid_mm), "axis": list(self.axis),
                "anterior_direction": list(self.anterior_direction),
                "height_loss_fraction": self.height_loss_fraction, "grade": self.grade,
                "reason": self.reason}


def genant_grade(height_loss_fraction: float) -> str:
    """Genant semi-quantitative grade of a relative vertebral height loss.

    ``normal`` below 0.20, ``mild`` in [0.20, 0.25), ``moderate`` in
    [0.25, 0.40], ``severe`` above 0.40.

    Parameters
    ----------
    height_loss_fraction : float
        Relative height loss in [0, 1] (0.3 is 30 %).

    Examples
    --------
    >>> [genant_grade(x) for x in (0.1, 0.2, 0.25, 0.4, 0.41)]
    ['normal', 'mild', 'moderate', 'moderate', 'severe']
    """
    if isinstance(height_loss_fraction, bool) or not isinstance(height_loss_fraction, Real):
        raise TypeError(f"height_loss_fraction must be a number, got {height_loss_fraction!r}")
    loss = float(height_loss_fraction)
    if not 0.0 <= loss <= 1.0:  # also rejects NaN
        raise ValueError(f"height_loss_fraction must be a fraction in [0, 1], got {loss!r}")
    if loss < _MILD:
        return "normal"
    if loss < _MODERATE:
        return "mild"
    return "moderate" if loss <= _SEVERE_ABOVE else "severe"


# -- locating the vertebrae ------------------------------------------------------------


@dataclass
class _Vertebra:
    """A vertebra label cropped from the map, with its centres in world mm."""

    name: str
    crop: Volume  # boolean mask of the label, one voxel of margin where the scan allows
    lower: np.ndarray  # index (z, y, x) of the crop's first voxel in the full map
    full_shape: tuple[int, int, int]
    centroid_mm: np.ndarray
    body_center_mm: np.ndarray
    volume_mm3: float


def _present_vertebrae(labels: Volume) -> list[tuple[str, int]]:
    """(name, id) of the vertebra labels of the table, cranio-caudally."""
    table = labels.labels
    return [(name, table.id_of(name)) for name in VERTEBRA_NAMES if name in table]


def _locate(labels: Volume, name: str, box: tuple[slice, ...], label_id: int) -> _Vertebra:
    """The label's largest connected piece (stray fragments dropped), cropped, with centres."""
    piece = largest_component(labels.array[box] == label_id)
    inner = bounding_box(piece)
    start = np.array([b.start for b in box])
    lower = np.maximum(start + [s.start for s in inner] - 1, 0)
    upper = np.minimum(start + [s.stop for s in inner] + 1, labels.shape)
    mask = np.zeros(upper - lower, dtype=bool)
    offset = start + [s.start for s in inner] - lower
    mask[tuple(slice(o, o + n) for o, n in zip(offset, piece[inner].shape, strict=True))] = \
        piece[inner]
    crop = labels.crop(lower, upper).with_array(mask, labels=None)
    voxels = np.argwhere(mask)
    distance = edt.edt(mask.view(np.uint8), anisotropy=crop.spacing_mm, black_border=True,
                       parallel=0)
    return _Vertebra(name, crop, lower, labels.shape,
                     centroid_mm=crop.index_to_world(voxels.mean(axis=0)),
                     body_center_mm=crop.index_to_world(_core_centroid(distance)),
                     volume_mm3=len(voxels) * float(np.prod(crop.spacing_mm)))


def _core_centroid(distance: np.ndarray) -> np.ndarray:
    """Mean index of the thick core: the component of the distance peak above 60 % of it."""
    peak = np.unravel_index(int(np.argmax(distance)), distance.shape)
    components, _ = component_labels(distance >= _CORE_FRACTION * distance[peak])
    return np.argwhere(components == components[peak]).mean(axis=0)


# -- local frame ---------------------------------------------------------------------


def _unit(vector, fallback=(0.0, 0.0, 1.0)) -> np.ndarray:
    """``vector`` scaled to length 1, or ``fallback`` for a vector of (almost) no length."""
    norm = np.linalg.norm(vector)
    return np.asarray(vector, dtype=float) / norm if norm > 1e-9 else np.array(fallback)


def _spine_axes(centres: list[np.ndarray]) -> list[np.ndarray]:
    """Unit cranial tangents through body centres ordered cranio-caudally."""
    if len(centres) == 1:
        return [np.array([0.0, 0.0, 1.0])]
    axes = []
    for i in range(len(centres)):
        above, below = centres[max(i - 1, 0)], centres[min(i + 1, len(centres) - 1)]
        axes.append(_unit(above - below))
    return axes


def _anterior_direction(vertebra: _Vertebra, axis: np.ndarray) -> np.ndarray:
    offset = vertebra.body_center_mm - vertebra.centroid_mm
    offset = offset - (offset @ axis) * axis
    if np.linalg.norm(offset) < _MIN_ARCH_OFFSET_MM:
        offset = np.array([0.0, -1.0, 0.0])  # LPS anterior
        offset = offset - (offset @ axis) * axis
    return _unit(offset)


# -- mid-sagittal section --------------------------------------------------------------


@dataclass
class _Section:
    """Inside fraction of the label on the (a, u) grid, averaged across the lateral band."""

    inside: np.ndarray  # (n_a, n_u) fraction of inside samples
    beyond_scan: np.ndarray  # (n_a, n_u) fraction of samples outside the scanned volume
    a_mm: np.ndarray  # (n_a,) anterior coordinate of the grid rows
    u_mm: np.ndarray  # (n_u,) axial coordinate of the grid columns


def _section(vertebra: _Vertebra, axis: np.ndarray, anterior: np.ndarray, a_mm: np.ndarray,
             u_mm: np.ndarray, lateral_mm: np.ndarray) -> _Section:
    """The label sampled at nearest voxels on the (a, u) grid through the body centre.

    Each grid point is sampled at the lateral offsets ``lateral_mm`` (mm along
    ``u × a``) and the samples are averaged.
    """
    crop = vertebra.crop
    to_index = np.linalg.inv(crop.direction * np.asarray(crop.spacing_mm))
    start = crop.world_to_index(vertebra.body_center_mm)
    da, du, dl = (to_index @ v for v in (anterior, axis, np.cross(axis, anterior)))
    index = (start + lateral_mm[:, None, None, None] * dl + a_mm[None, :, None, None] * da
             + u_mm[None, None, :, None] * du)
    voxel = np.floor(index + 0.5).astype(np.intp)  # nearest voxel, ties to the upper one
    in_crop = np.all((voxel >= 0) & (voxel < np.asarray(crop.shape)), axis=-1)
    values = np.zeros(in_crop.shape, dtype=bool)
    values[in_crop] = crop.array[tuple(voxel[in_crop].T)]
    scanned = voxel + vertebra.lower
    beyond = ~np.all((scanned >= 0) & (scanned < np.asarray(vertebra.full_shape)), axis=-1)
    return _Section(values.mean(axis=0), beyond.mean(axis=0), a_mm, u_mm)


def _body_region(section: _Section) -> np.ndarray | None:
    """The region (inside fraction >= 0.5) of the section holding the body centre, or None."""
    regions, _ = ndimage.label(section.inside >= 0.5)
    centre = regions[np.argmin(np.abs(section.a_mm)), np.argmin(np.abs(section.u_mm))]
    return None if centre == 0 else regions == centre


def _body_section(vertebra: _Vertebra, axis: np.ndarray, anterior: np.ndarray,
                  band_mm: float) -> tuple[_Section, np.ndarray] | None:
    """The band-averaged mid-sagittal section around the body and the body's region in it.

    The body is found first in the mid-sagittal plane alone, on a grid that
    covers the whole label; the band is then sampled around it only.
    """
    crop = vertebra.crop
    corners = np.array(np.meshgrid(*[[0, n - 1] for n in crop.shape])).reshape(3, -1).T
    reach = np.linalg.norm(crop.index_to_world(corners) - vertebra.body_center_mm, axis=1).max()
    half = int(np.ceil(reach / _STEP_MM))
    steps = _STEP_MM * np.arange(-half, half + 1)
    plane = _section(vertebra, axis, anterior, steps, steps, np.zeros(1))
    body = _body_region(plane)
    if body is None:
        return None
    margin = int(round(_BOX_MARGIN_MM / _STEP_MM))
    rows, cols = (np.nonzero(body.any(axis=axis_))[0] for axis_ in (1, 0))
    a_mm = steps[max(rows[0] - margin, 0):rows[-1] + margin + 1]
    u_mm = steps[max(cols[0] - margin, 0):cols[-1] + margin + 1]
    lateral = np.linspace(-band_mm / 2, band_mm / 2, int(round(band_mm / _STEP_MM)) + 1)
    section = _section(vertebra, axis, anterior, a_mm, u_mm, lateral)
    body = _body_region(section)
    return None if body is None else (section, body)


def _heights_in(section: _Section, body: np.ndarray,
                wall_fraction: float) -> tuple[float, float, float]:
    """Anterior, middle and posterior heights (mm) of the body region of a section."""
    # Samples at the body's rim that the band only partly covers still count, by fraction.
    near_body = ndimage.binary_dilation(body, iterations=2)
    height = _STEP_MM * np.sum(section.inside * near_body, axis=1)
    posterior_edge, anterior_edge = _body_edges(section.a_mm, height, body)
    depth = anterior_edge - posterior_edge
    positions = (anterior_edge - wall_fraction * depth, posterior_edge + depth / 2,
                 posterior_edge + wall_fraction * depth)
    return tuple(float(height[np.abs(section.a_mm - p) <= _WINDOW_MM].mean())
                 for p in positions)  # type: ignore[return-value]


def _body_edges(a_mm: np.ndarray, height: np.ndarray, body: np.ndarray) -> tuple[float, float]:
    """Posterior and anterior edges (mm along a) of the body's height profile.

    The body spans the longest run of positions whose height is at least
    :data:`_EDGE_HEIGHT_FRACTION` of the median height over the central half of
    the body region: a corner osteophyte or the slanted end of a tilted body
    falls below it, the anterior wall of a crushed body stays above it.
    """
    rows = np.nonzero(body.any(axis=1))[0]
    quarter = (rows[-1] - rows[0]) // 4
    typical = np.median(height[rows[0] + quarter:rows[-1] - quarter + 1])
    runs, count = ndimage.label(height >= _EDGE_HEIGHT_FRACTION * typical)
    longest = 1 + int(np.argmax(np.bincount(runs.ravel(), minlength=count + 1)[1:]))
    run = np.nonzero(runs == longest)[0]
    return a_mm[run[0]] - _STEP_MM / 2, a_mm[run[-1]] + _STEP_MM / 2


def _measure(vertebra: _Vertebra, axis: np.ndarray, anterior: np.ndarray, band_mm: float,
             wall_fraction: float) -> tuple[tuple[float, float, float] | None, str | None]:
    """Heights of one vertebra, or None with the reason."""
    if vertebra.name in _NO_BODY:
        return None, _NO_BODY[vertebra.name]
    found = _body_section(vertebra, axis, anterior, band_mm)
    if found is None:
        return None, "no vertebral body found in the mid-sagittal plane"
    section, body = found
    if np.any(section.beyond_scan[ndimage.binary_dilation(body, iterations=2)] > 0):
        return None, _CUT_BY_FOV
    return _heights_in(section, body, wall_fraction), None


# -- grading against the neighbours ------------------------------------------------------


def _adjacent(name: str, found: dict) -> list:
    """Values in ``found`` of the levels just above and below ``name``."""
    position = VERTEBRA_NAMES.index(name)
    names = VERTEBRA_NAMES[max(position - 1, 0):position] + VERTEBRA_NAMES[position + 1:
                                                                           position + 2]
    return [found[n] for n in names if n in found]


def _comparable(name: str, found: dict) -> list:
    """Values in ``found`` of the adjacent levels that ``name`` is graded against."""
    for group in _GRADED_GROUPS:
        if name in group:
            position = group.index(name)
            names = group[max(position - 1, 0):position] + group[position + 1:position + 2]
            return [found[n] for n in names if n in found]
    return []


def _is_incomplete(vertebra: _Vertebra, located: dict) -> bool:
    neighbours = _adjacent(vertebra.name, located)
    if not neighbours:
        return False
    return vertebra.volume_mm3 < _MIN_VOLUME_RATIO * np.mean([v.volume_mm3 for v in neighbours])


def _loss(heights, references: list) -> float:
    reference = np.mean(references, axis=0)
    return float(np.clip(np.max(1.0 - np.asarray(heights) / reference), 0.0, 1.0))


def _graded(result: VertebraHeights, references: dict[str, tuple]) -> VertebraHeights:
    """``result`` with its loss and grade against the adjacent reference heights."""
    if result.reason is not None:
        return result
    if result.name in _NOT_GRADED:
        return replace(result, reason=_NOT_GRADED[result.name])
    neighbours = _comparable(result.name, references)
    if not neighbours:
        return replace(result, reason=_NO_NEIGHBOUR)
    loss = _loss(result.heights_mm, neighbours)
    return replace(result, height_loss_fraction=loss, grade=genant_grade(loss))


# -- public entry point ------------------------------------------------------------------


def _check_inputs(labels, names, band_mm, wall_fraction) -> list[str] | None:
    if not isinstance(labels, Volume) or labels.labels is None:
        raise TypeError(f"labels must be a label-map Volume with a LabelTable, got "
                        f"{type(labels).__name__}")
    if not np.issubdtype(labels.array.dtype, np.integer):
        raise TypeError(f"labels must hold integer ids, got dtype {labels.array.dtype}")
    if not (math.isfinite(band_mm) and band_mm >= 0):
        raise ValueError(f"band_mm must be a finite number >= 0, got {band_mm!r}")
    if not (math.isfinite(wall_fraction) and 0 <= wall_fraction < 0.5):
        raise ValueError(f"wall_fraction must lie in [0, 0.5), got {wall_fraction!r}")
    if names is None:
        return None
    names = [names] if isinstance(names, str) else list(names)
    unknown = [n for n in names if n not in VERTEBRA_NAMES]
    if unknown:
        raise ValueError(f"names must be vertebra labels such as 'vertebrae_T7', got {unknown}")
    return names


def vertebral_heights(labels: Volume, *, names=None, band_mm: float = 4.0,
                      wall_fraction: float = 0.15) -> list[VertebraHeights]:
    """Anterior, middle and posterior vertebral body heights, height loss and Genant grade.

    The method is described in the module docstring
    (:mod:`hounsfield.measure.spine`).

    Parameters
    ----------
    labels : Volume
        Label map with a LabelTable naming vertebrae as TotalSegmentator does
        (``vertebrae_C1`` … ``vertebrae_S1``); ids are looked up by name. Each
        label holds the whole vertebra, body and posterior elements.
    names : str or sequence of str, optional
        Vertebrae to report (default: every vertebra label present). Adjacent
        levels are still used for the spine axis and the reference heights.
    band_mm : float
        Width (mm) of the band around the mid-sagittal plane that heights are
        averaged across.
    wall_fraction : float
        How far inside the anterior and posterior edges, as a fraction of the
        body's depth, the anterior and posterior heights are taken.

    Returns
    -------
    list of VertebraHeights
        One per vertebra present, cranial first; empty when there is none.

    Raises
    ------
    ValueError
        A name that is not a vertebra label, or one absent from the map.

    Examples
    --------
    Three 20 mm high bodies (1 mm voxels, no posterior elements), the middle
    one crushed to 12 mm at its front (LPS −y) — a wedge:

    >>> from hounsfield.labels import LabelTable
    >>> array = np.zeros((70, 34, 24), np.uint8)
    >>> array[47:67, 2:32, 2:22], array[3:23, 2:32, 2:22] = 1, 3
    >>> for j in range(2, 32):
    ...     array[25:25 + round(12 + 8 * (j - 2) / 29), j, 2:22] = 2
    >>> table = LabelTable.from_names({1: "vertebrae_T1", 2: "vertebrae_T2", 3: "vertebrae_T3"})
    >>> t2 = vertebral_heights(Volume(array, labels=table))[1]
    >>> t2.name, round(t2.anterior_mm), round(t2.middle_mm), round(t2.posterior_mm), t2.grade
    ('vertebrae_T2', 13, 16, 19, 'moderate')
    """
    wanted = _check_inputs(labels, names, band_mm, wall_fraction)
    present = _present_vertebrae(labels)
    boxes = ndimage.find_objects(labels.array, max_label=max((i for _, i in present), default=0))
    present = [(n, i) for n, i in present if boxes[i - 1] is not None]
    if wanted is not None:
        missing = sorted(set(wanted) - {n for n, _ in present})
        if missing:
            raise ValueError(f"names {missing} are not in the label map")
    located = [_locate(labels, n, boxes[i - 1], i) for n, i in present]
    by_name = {v.name: v for v in located}
    axes = _spine_axes([v.body_center_mm for v in located])
    results, references = [], {}
    for vertebra, axis in zip(located, axes, strict=True):
        anterior = _anterior_direction(vertebra, axis)
        heights, reason = _measure(vertebra, axis, anterior, band_mm, wall_fraction)
        if heights is not None and reason is None and _is_incomplete(vertebra, by_name):
            reason = _INCOMPLETE
        elif heights is not None and vertebra.name not in _NOT_GRADED:
            references[vertebra.name] = heights
        results.append(VertebraHeights(
            vertebra.name, *(heights or (None, None, None)), centroid_mm=_triple(
                vertebra.centroid_mm), axis=_triple(axis), anterior_direction=_triple(anterior),
            reason=reason))
    graded = [_graded(r, references) for r in results]
    return graded if wanted is None else [r for r in graded if r.name in wanted]


def _triple(vector) -> tuple[float, float, float]:
    return tuple(float(v) for v in vector)  # type: ignore[return-value]
