"""Airway tree of a chest CT: trachea and bronchi by leak-controlled region growing.

The trachea is found where it is first seen from the top of the scan (an air
tube near the body's midline, see :mod:`hounsfield.segment.lungs`). From it the
lumen is grown in 3D, face-connected, at an air threshold raised step by step.
The lumen's CT number stays near -1000 HU down to small bronchi while the lung
parenchyma behind the bronchial wall reads about -850 HU, so once the threshold
passes the wall's weakest point the grown volume explodes into the lung: the
threshold is backed off to the last step before that jump. Voxels that touch
the grown lumen and are mostly air (below the half-way CT number between air
and wall) are its partial-volume edge and join it. The air of the larynx above
the trachea is taken off the top. The centreline, thinned and cut into
branches, gives the generations: the trachea is 0, the main bronchi 1, the
lobar bronchi 2. Sides come from world x (LPS: patient left is +x).

The lumen is labelled as TotalSegmentator labels it: its ``trachea`` runs on
past the carina into the proximal main bronchi, and the bronchus labels begin
there. The branch graph stays anatomical: the trachea branch ends at the carina.
"""

from __future__ import annotations

import heapq
import math
import numbers
import warnings
from dataclasses import dataclass

import edt
import fill_voids
import numba
import numpy as np
from scipy import ndimage

from ..errors import HounsfieldWarning
from ..metrics.tree import centreline
from ..volume import Volume
from ._airway_tree import Segment, centreline_tree, nearest_centreline
from ._morphology import bounding_box
from .lungs import _AIRWAY_AREA_MM2, _superior_slice_order, _trachea_seed

__all__ = ["AirwayTree", "Branch", "segment_airways"]

#: Half-way CT number (HU) between air and soft tissue: air pockets in the seed search.
_AIR_HU = -500.0
#: Fraction of the trachea's median cross-section (mm²) that the air column reaches where
#: the trachea begins. Above it, within the cricoid, the subglottic larynx narrows as a
#: cone towards the glottis; along the trachea the cross-section varies by about ±20 %
#: (the aortic arch's indentation, breathing), so a slice narrower than this at the top
#: of the column lies on the cone.
_SUBGLOTTIC_AREA_FRACTION = 0.8
_SIDES = ("left", "right")


@dataclass(frozen=True, eq=False)
class Branch:
    """One branch of the airway tree, from its branch point to its end.

    Attributes
    ----------
    id : int
        Index in :attr:`AirwayTree.branches` (the trachea is 0).
    parent : int or None
        Id of the branch it leaves; None for the trachea.
    children : tuple of int
        Ids of the branches leaving its end.
    generation : int
        0 trachea, 1 main bronchi, 2 lobar bronchi, 3 segmental bronchi, ...
    side : {'left', 'right'} or None
        The patient's side; None for the trachea.
    length_mm : float
        Length of its centreline in mm.
    diameter_mm : float
        Twice the median distance (mm) from its centreline to the nearest voxel
        outside the lumen.
    points_mm : ndarray, (N, 3)
        Its centreline in LPS world coordinates (x, y, z) mm, from the
        branch point to the end.
    """

    id: int
    parent: int | None
    children: tuple[int, ...]
    generation: int
    side: str | None
    length_mm: float
    diameter_mm: float
    points_mm: np.ndarray

    def to_dict(self) -> dict:
        """JSON-able summary: the centreline's first and last points instead of all of them."""
        return {"id": self.id, "parent": self.parent, "children": list(self.children),
                "generation": self.generation, "side": self.side,
                "length_mm": round(self.length_mm, 2), "diameter_mm": round(self.diameter_mm, 2),
                "start_mm": _rounded(self.points_mm[0]), "end_mm": _rounded(self.points_mm[-1])}


@dataclass(frozen=True, eq=False)
class AirwayTree:
    """The segmented airway: lumen masks, centreline and its branches.

    Attributes
    ----------
    mask : ndarray of bool
        The whole airway lumen (trachea and bronchi), ``ct.shape``; the larynx
        above the trachea is not part of it.
    trachea : ndarray of bool
        TotalSegmentator's ``trachea``: the lumen from below the larynx down to
        the carina, where its cross-section divides, and on into the bronchi to
        ``trachea_includes_bronchi_mm`` of centreline below the carina's branch
        point (see :func:`segment_airways`).
    bronchus_left, bronchus_right : ndarray of bool
        The rest of the lumen, beyond that, on the patient's left and right.
    skeleton : ndarray of bool
        The centreline of the kept branches.
    branches : tuple of Branch
        Parents before children; the trachea first.
    branch_points_mm : ndarray, (K, 3)
        LPS world coordinates (x, y, z) mm of the branch points, the carina first.
    threshold_hu : float
        The air threshold (HU) the lumen was grown at; NaN when no trachea was found.
    voxel_volume_ml : float
        Volume of one voxel (ml).
    """

    mask: np.ndarray
    trachea: np.ndarray
    bronchus_left: np.ndarray
    bronchus_right: np.ndarray
    skeleton: np.ndarray
    branches: tuple[Branch, ...]
    branch_points_mm: np.ndarray
    threshold_hu: float
    voxel_volume_ml: float

    @property
    def carina_mm(self) -> np.ndarray | None:
        """LPS world point (x, y, z) mm where the trachea's centreline divides; None if it
        does not. It lies inside the lumen, about a radius above the carina's ridge."""
        return self.branch_points_mm[0] if len(self.branch_points_mm) else None

    @property
    def max_generation(self) -> dict[str, int]:
        """Deepest generation reached on each side (0: no bronchus on that side)."""
        return {side: max((b.generation for b in self.branches if b.side == side), default=0)
                for side in _SIDES}

    def to_dict(self) -> dict:
        """JSON-able summary: volumes, generations, branch points and branches (no masks)."""
        ml = self.voxel_volume_ml
        found = bool(self.mask.any())
        return {
            "found": found,
            "threshold_hu": self.threshold_hu if found else None,
            "volume_ml": round(float(self.mask.sum()) * ml, 3),
            "trachea_volume_ml": round(float(self.trachea.sum()) * ml, 3),
            "bronchus_left_volume_ml": round(float(self.bronchus_left.sum()) * ml, 3),
            "bronchus_right_volume_ml": round(float(self.bronchus_right.sum()) * ml, 3),
            "max_generation": self.max_generation,
            "carina_mm": None if self.carina_mm is None else _rounded(self.carina_mm),
            "branch_points_mm": [_rounded(p) for p in self.branch_points_mm],
            "branches": [b.to_dict() for b in self.branches],
        }


def _rounded(point) -> list[float]:
    return [round(float(v), 2) for v in point]


@dataclass(frozen=True)
class _Options:
    start_hu: float
    step_hu: float
    max_threshold_hu: float
    leak_factor: float
    leak_min_ml: float
    max_volume_ml: float
    lumen_edge_hu: float
    min_branch_length_mm: float
    trachea_includes_bronchi_mm: float


def segment_airways(ct: Volume, *, body: np.ndarray | None = None, start_hu: float = -950.0,
                    step_hu: float = 10.0, max_threshold_hu: float = -500.0,
                    leak_factor: float = 4.0, leak_min_ml: float = 0.5,
                    max_volume_ml: float = 400.0, lumen_edge_hu: float = -500.0,
                    min_branch_length_mm: float = 3.0,
                    trachea_includes_bronchi_mm: float = 40.0) -> AirwayTree:
    """The airway tree (trachea and bronchi) of a chest CT, with its branches and generations.

    The trachea is taken where it is first seen from the top of the scan: the
    largest air tube (30 to 900 mm²) within 30 mm of the body's midline. Its
    lumen is grown in 3D (face-connected voxels) at thresholds ``start_hu``,
    ``start_hu + step_hu``, ... up to ``max_threshold_hu``. A step leaks when it
    adds at least ``leak_min_ml`` and more than ``leak_factor`` times what the
    step before added (growth into the lung parenchyma accelerates, the filling
    of the lumen's edge does not), or when the volume exceeds
    ``max_volume_ml``: the lumen is the one grown at the step before the first
    leak. Voxels face-adjacent to it below ``lumen_edge_hu`` are its
    partial-volume edge and join it.

    The centreline (:func:`hounsfield.metrics.tree.centreline`, on voxels
    resampled to nearly cubic ones) is cut into branches at its branch points;
    terminal branches whose tip sticks out of the lumen of the rest of the tree
    by less than ``min_branch_length_mm`` (or two voxels) are thinning spurs
    and are dropped. The branches leaving the trachea are the main bronchi; each
    is on the patient's left when it runs towards +x (LPS), never by array order.

    The trachea is the lumen followed down slice by slice until its cross-section
    divides (the carina). It begins below the larynx: at the top of the air column,
    the slices whose cross-section is under 0.8 times the column's median one (down
    to the carina) are the subglottic larynx narrowing towards the glottis (within
    the cricoid cartilage, below which the trachea begins); they and the air above
    them are left out. A scan that starts above the glottis, in the wide pharynx,
    keeps its pharynx.

    Below the carina each lumen voxel goes with the nearest centreline voxel: to
    ``trachea`` when that lies within ``trachea_includes_bronchi_mm`` of centreline
    path below the carina's branch point, else to the bronchus of that branch's
    side. This is the convention of TotalSegmentator, the most used CT segmenter,
    whose ``trachea`` takes the proximal main bronchi; 0 splits the labels at the
    carina instead. The default, 40 mm, is where TotalSegmentator's ``trachea`` of
    the example chest CT (:func:`~hounsfield.data.example_chest_ct`) ends: it covers
    94 % or more of this lumen on both sides down to 35 mm below the branch point
    (which lies about a lumen radius above the carina's ridge), and ends at 40 mm on
    the right and over 40 to 55 mm on the left, where the left main bronchus
    divides. The right main bronchus being the shorter (about 25 mm), the label
    there reaches into the bronchus intermedius and the upper-lobe bronchus, as
    TotalSegmentator's does.

    An airway opens into aerated lung, and the two main bronchi leave the
    trachea for the two sides of the body. An air tube whose growing never
    leaks (bowel gas), or whose division stays on one side of the body's
    midline (a bronchus at the top of a scan that starts below the carina), is
    not taken for a trachea: the masks are then empty and a HounsfieldWarning
    says why; so they are when no air tube is found.

    Parameters
    ----------
    ct : Volume
        Chest CT in Hounsfield units.
    body : numpy.ndarray, optional
        bool body mask of ``ct.shape`` (e.g. from
        :func:`~hounsfield.segment.segment_body`), used to find the trachea;
        by default each axial slice's air enclosed by tissue is used.
    start_hu : float
        First air threshold (HU) of the growing.
    step_hu : float
        Threshold step (HU), > 0.
    max_threshold_hu : float
        Highest air threshold (HU) tried.
    leak_factor : float
        Ratio (> 1) of a step's added volume to the previous step's that counts as a leak.
    leak_min_ml : float
        Least volume (ml) a step must add to count as a leak; below it the ratio of
        two small additions says nothing.
    max_volume_ml : float
        Largest plausible airway volume (ml); beyond it the growing has leaked.
    lumen_edge_hu : float
        Voxels touching the grown lumen below this CT number (HU) join it.
    min_branch_length_mm : float
        Least distance (mm) by which a terminal branch's tip sticks out of the
        lumen of the rest of the tree.
    trachea_includes_bronchi_mm : float
        Length (mm, >= 0) of centreline below the carina's branch point whose
        lumen is labelled ``trachea``.

    Returns
    -------
    AirwayTree

    Examples
    --------
    >>> from hounsfield.data.anatomy import thorax_phantom
    >>> ct, labels = thorax_phantom(shape=(48, 64, 64), spacing_mm=(6.0, 5.0, 5.0))
    >>> tree = segment_airways(ct)
    >>> tree.max_generation
    {'left': 1, 'right': 1}
    >>> bool(tree.trachea.any() and not (tree.bronchus_left & tree.bronchus_right).any())
    True
    >>> anatomical = segment_airways(ct, trachea_includes_bronchi_mm=0.0)
    >>> bool((tree.trachea.sum() > anatomical.trachea.sum()) and tree.bronchus_left.any())
    True
    """
    options = _checked_options(ct, body, start_hu, step_hu, max_threshold_hu, leak_factor,
                               leak_min_ml, max_volume_ml, lumen_edge_hu, min_branch_length_mm,
                               trachea_includes_bronchi_mm)
    hu = np.ascontiguousarray(ct.array, dtype=np.float32)
    seed = _seed(ct, hu, body, options.start_hu)
    if seed is None:
        return _not_found(ct, "no air tube near the body's midline at the top of the scan")
    lumen, threshold_hu, leaked = _grown_lumen(hu, seed, ct.voxel_volume_ml, options)
    if lumen is None:
        return _not_found(ct, "the air tube leaks at the first threshold")
    if not leaked:
        return _not_found(ct, "the air tube found never opens into aerated lung")
    lumen, above_carina, root_index = _airway_below_larynx(
        _with_lumen_edge(lumen, hu, options.lumen_edge_hu), seed, ct.spacing_mm)
    tree = _tree(ct, lumen, above_carina, root_index, threshold_hu, options)
    if not _divides_at_midline(tree, seed.midline_x_mm):
        return _not_found(ct, "the air tube found divides on one side of the body")
    return tree


def _not_found(ct: Volume, reason: str) -> AirwayTree:
    warnings.warn(f"no trachea found ({reason}): returning empty airway masks",
                  HounsfieldWarning, stacklevel=3)
    return _empty_tree(ct)


# -- input ---------------------------------------------------------------------------------


def _checked_options(ct, body, start_hu, step_hu, max_threshold_hu, leak_factor, leak_min_ml,
                     max_volume_ml, lumen_edge_hu, min_branch_length_mm,
                     trachea_includes_bronchi_mm) -> _Options:
    if not isinstance(ct, Volume):
        raise TypeError(f"ct must be a Volume, got {type(ct).__name__}")
    if body is not None:
        body = np.asarray(body)
        if body.shape != ct.shape or body.dtype != bool:
            raise ValueError(f"body must be a bool mask of shape {ct.shape}, got "
                             f"{body.dtype} of shape {body.shape}")
    for name, value in (("start_hu", start_hu), ("max_threshold_hu", max_threshold_hu),
                        ("lumen_edge_hu", lumen_edge_hu)):
        _check_number(name, value, "a finite number (HU)")
    for name, value in (("step_hu", step_hu), ("max_volume_ml", max_volume_ml)):
        _check_number(name, value, "a finite number > 0", lower=0.0)
    for name, value in (("leak_min_ml", leak_min_ml),
                        ("min_branch_length_mm", min_branch_length_mm),
                        ("trachea_includes_bronchi_mm", trachea_includes_bronchi_mm)):
        _check_number(name, value, "a finite number >= 0", lower=0.0, inclusive=True)
    _check_number("leak_factor", leak_factor, "a finite number > 1", lower=1.0)
    if not start_hu < max_threshold_hu:
        raise ValueError(f"start_hu must be below max_threshold_hu ({max_threshold_hu!r}), "
                         f"got {start_hu!r}")
    return _Options(float(start_hu), float(step_hu), float(max_threshold_hu), float(leak_factor),
                    float(leak_min_ml), float(max_volume_ml), float(lumen_edge_hu),
                    float(min_branch_length_mm), float(trachea_includes_bronchi_mm))


def _check_number(name, value, expected, lower=None, inclusive=False) -> None:
    valid = (isinstance(value, numbers.Real) and not isinstance(value, bool)
             and math.isfinite(value))
    if valid and lower is not None:
        valid = value >= lower if inclusive else value > lower
    if not valid:
        raise ValueError(f"{name} must be {expected}, got {value!r}")


# -- trachea seed ----------------------------------------------------------------------------


@dataclass(frozen=True)
class _Seed:
    order: np.ndarray  # axial slice indices from the head down
    position: int  # of the seed's slice in ``order``
    midline_x_mm: float  # world x of the body's centre in that slice
    area: np.ndarray  # 2D bool: the trachea's cross-section in that slice
    voxels: np.ndarray  # flat indices into the CT the growing starts from


def _seed(ct: Volume, hu: np.ndarray, body, start_hu: float) -> _Seed | None:
    """The trachea where it is first seen from the top, and its voxels below ``start_hu``."""
    order = _superior_slice_order(ct)
    inside = np.zeros(ct.shape, dtype=bool)
    for k in order[: max(len(order) // 2, 1)]:  # the slices _trachea_seed looks at
        inside[k] = fill_voids.fill(hu[k] > _AIR_HU) if body is None else body[k]
    found = _trachea_seed(inside & (hu < _AIR_HU), ct, inside, order)
    if found is None:
        return None
    k = int(order[found[0]])
    area = found[1]
    rows, columns = np.nonzero(area & (hu[k] <= start_hu))
    if rows.size == 0:
        return None
    voxels = np.ravel_multi_index((np.full(rows.size, k), rows, columns), ct.shape)
    midline_x_mm = float(ct.index_to_world(np.array([k, *ndimage.center_of_mass(inside[k])]))[0])
    return _Seed(order, found[0], midline_x_mm, area, voxels.astype(np.int64))


# -- leak-controlled growing ---------------------------------------------------------------


@numba.njit(cache=True)
def _flood_order(hu, seeds, ceiling_hu, max_voxels):  # pragma: no cover - compiled
    """Voxels in the order a rising threshold joins them to the seeds (face-connected).

    The level of a voxel is the lowest threshold at which a path of voxels at
    or below it links the voxel to a seed: the largest CT number along the
    best path. Voxels are returned by increasing level, at most ``max_voxels``
    of them; voxels above ``ceiling_hu`` are never entered.
    """
    nz, ny, nx = hu.shape
    values = hu.ravel()
    visited = np.zeros(values.size, np.bool_)
    heap = [(np.float32(0.0), np.int64(0)) for _ in range(0)]  # empty, typed (level, index)
    for seed in seeds:
        if not visited[seed]:
            visited[seed] = True
            heap.append((values[seed], seed))
    heapq.heapify(heap)
    order = np.empty(max_voxels, np.int64)
    levels = np.empty(max_voxels, np.float32)
    count = 0
    plane = ny * nx
    while len(heap) > 0 and count < max_voxels:
        level, index = heapq.heappop(heap)
        order[count], levels[count] = index, level
        count += 1
        k, j, i = index // plane, (index // nx) % ny, index % nx
        for step, inside in ((-plane, k > 0), (plane, k < nz - 1), (-nx, j > 0),
                             (nx, j < ny - 1), (-1, i > 0), (1, i < nx - 1)):
            neighbour = index + step
            if inside and not visited[neighbour] and values[neighbour] <= ceiling_hu:
                visited[neighbour] = True
                heapq.heappush(heap, (max(level, values[neighbour]), neighbour))
    return order[:count], levels[:count]


def _grown_lumen(hu: np.ndarray, seed: _Seed, voxel_ml: float, options: _Options):
    """(lumen mask, its threshold in HU, whether a later step leaked); (None, nan, True)
    when the first threshold already leaks."""
    max_voxels = int(options.max_volume_ml / voxel_ml) + 1
    order, levels = _flood_order(hu, seed.voxels, np.float32(options.max_threshold_hu),
                                 max_voxels)
    thresholds = np.arange(options.start_hu, options.max_threshold_hu + 1e-6, options.step_hu)
    volumes_ml = _volumes_ml(levels, thresholds, voxel_ml, complete=len(order) < max_voxels)
    leak = _first_leak(volumes_ml, options)
    if leak == 0:
        return None, math.nan, True
    safe = len(thresholds) - 1 if leak is None else leak - 1
    lumen = np.zeros(hu.shape, dtype=bool)
    lumen.flat[order[: np.searchsorted(levels, thresholds[safe], side="right")]] = True
    return lumen, float(thresholds[safe]), leak is not None


def _volumes_ml(levels: np.ndarray, thresholds: np.ndarray, voxel_ml: float,
                complete: bool) -> np.ndarray:
    """Grown volume (ml) at each threshold; inf where the growing stopped at its voxel limit."""
    volumes = np.searchsorted(levels, thresholds, side="right") * voxel_ml
    if not complete:
        volumes[thresholds >= levels[-1]] = np.inf
    return volumes


def _first_leak(volumes_ml: np.ndarray, options: _Options) -> int | None:
    """Index of the first threshold step that leaks, None if none does.

    The first step leaks when its volume exceeds ``max_volume_ml``. A later step
    leaks when it adds at least ``leak_min_ml`` and more than ``leak_factor``
    times what the step before added (the second step: times the first
    volume), or when the volume exceeds ``max_volume_ml``: the lumen's edge
    fills in a little at each step, parenchyma floods in at once.

    Examples
    --------
    >>> o = _Options(-950, 10, -900, 4.0, 1.0, 400.0, -500, 3, 40)
    >>> _first_leak(np.array([10.0, 12.0, 13.5, 15.0, 300.0]), o)
    4
    >>> _first_leak(np.array([10.0, 12.0, 14.0, 16.0, 18.0]), o) is None
    True
    >>> _first_leak(np.array([np.inf, np.inf]), o)
    0
    """
    too_big = ~(volumes_ml <= options.max_volume_ml)
    with np.errstate(invalid="ignore"):  # inf - inf where steps hit the voxel limit
        added = np.diff(volumes_ml)
        before = np.concatenate([volumes_ml[:1], added[:-1]])
        jumps = (added >= options.leak_min_ml) & (added > options.leak_factor * before)
    leaks = too_big | np.concatenate([[False], jumps])
    return int(np.argmax(leaks)) if leaks.any() else None


def _divides_at_midline(tree: AirwayTree, midline_x_mm: float) -> bool:
    """Whether the left and right bronchial trees lie on their own sides of the body's midline.

    They do below a trachea; below a bronchus (a scan starting under the carina)
    both lie on one side. Judged by the mean world x of their centrelines; a tree
    that does not divide passes.
    """
    if len(tree.branches) <= 1:
        return True
    x_mm = {side: [b.points_mm[:, 0] for b in tree.branches if b.side == side]
            for side in _SIDES}
    if not (x_mm["left"] and x_mm["right"]):
        return False
    left, right = (float(np.concatenate(x_mm[side]).mean()) for side in _SIDES)
    return left > midline_x_mm > right


def _with_lumen_edge(lumen: np.ndarray, hu: np.ndarray, edge_hu: float) -> np.ndarray:
    """The lumen and its face neighbours below ``edge_hu`` (voxels more air than wall)."""
    box = bounding_box(lumen, (1, 1, 1))
    edge = ndimage.binary_dilation(lumen[box]) & (hu[box] < edge_hu)
    mask = lumen.copy()
    mask[box] |= edge
    return mask


# -- branches ------------------------------------------------------------------------------


def _empty_tree(ct: Volume) -> AirwayTree:
    empty = np.zeros(ct.shape, dtype=bool)
    return AirwayTree(empty, empty.copy(), empty.copy(), empty.copy(), empty.copy(), (),
                      np.zeros((0, 3)), math.nan, ct.voxel_volume_ml)


def _tree(ct: Volume, mask: np.ndarray, above_carina: np.ndarray, root_index: np.ndarray,
          threshold_hu: float, options: _Options) -> AirwayTree:
    """The AirwayTree of a lumen mask: centreline branches, their sides and their voxels.

    ``above_carina`` is the trachea followed down to the carina and ``root_index``
    the (z, y, x) index of the centre of its first slice.
    """
    spacing = np.asarray(ct.spacing_mm)
    box = bounding_box(mask, (1, 1, 1))
    offset = np.array([b.start for b in box])
    crop = mask[box]
    fine, step = _near_isotropic(crop, spacing)
    fine_spacing = spacing * step
    radius_mm = edt.edt(fine.astype(np.uint8), anisotropy=tuple(fine_spacing),
                        black_border=False)
    segments = centreline_tree(centreline(fine), radius_mm, fine_spacing,
                               (root_index - offset) / step, options.min_branch_length_mm)
    paths = [segment.path * step + offset for segment in segments]  # indices into the CT
    sides = _sides(segments, paths, ct)
    parts = []
    for part in _labelled_parts(crop, above_carina[box], segments, sides, fine_spacing, spacing,
                                options.trachea_includes_bronchi_mm):
        whole = np.zeros(ct.shape, dtype=bool)
        whole[box] = part
        parts.append(whole)
    skeleton = np.zeros(ct.shape, dtype=bool)
    for path in paths:
        skeleton[tuple(np.clip(np.rint(path).astype(int), 0, np.array(ct.shape) - 1).T)] = True
    branches = _branches(segments, paths, sides, radius_mm, fine_spacing, ct)
    starts = np.array([p[0] for s, p in zip(segments, paths, strict=True) if s.parent is not None])
    branch_points = _unique_rows(starts.reshape(-1, 3))
    return AirwayTree(mask, *parts, skeleton, branches,
                      ct.index_to_world(branch_points).reshape(-1, 3), threshold_hu,
                      ct.voxel_volume_ml)


# -- trachea and labels ----------------------------------------------------------------------


def _airway_below_larynx(lumen: np.ndarray, seed: _Seed, spacing_mm):
    """(lumen, trachea above the carina, root index): the larynx's air taken off the top.

    The trachea is followed down from the seed to the carina; its first slice is
    the first whose cross-section reaches ``_SUBGLOTTIC_AREA_FRACTION`` of its
    median one. The lumen above that slice that joins the trachea (the
    subglottic cone, the glottis: narrower than the seed's tube-sized area
    above the seed) is removed. The root index is the (z, y, x) index of the
    centre of the trachea's first slice.
    """
    box = bounding_box(lumen, (1, 1, 1))
    crop = lumen[box]
    slices = _slices_down(seed, box)
    trachea = _trachea_above_carina(crop, slices, seed.area[box[1:]], spacing_mm)
    position = _first_tracheal_slice(trachea[slices].sum(axis=(1, 2)))
    first = int(slices[position])
    above = np.ones(crop.shape[0], dtype=bool)
    above[slices[position:]] = False  # the seed's slice and those below it are in order
    upper = above.copy()
    upper[first] = True
    components, _ = ndimage.label(crop & upper[:, None, None])
    joined = np.unique(components[trachea & upper[:, None, None]])
    larynx = np.isin(components, joined[joined > 0]) & above[:, None, None]
    trimmed = lumen.copy()
    trimmed[box] = crop & ~larynx
    above_carina = np.zeros(lumen.shape, dtype=bool)
    above_carina[box] = trachea & ~above[:, None, None]
    centre = np.array([first, *ndimage.center_of_mass(trachea[first])])
    return trimmed, above_carina, centre + np.array([b.start for b in box])


def _first_tracheal_slice(areas: np.ndarray) -> int:
    """Position of the trachea's first slice among the air column's slices, from the top.

    ``areas`` are the column's cross-sections from the head down (0 below its
    end). The first reaching ``_SUBGLOTTIC_AREA_FRACTION`` of their median is
    the trachea's; the narrower ones above it lie on the subglottic cone.

    Examples
    --------
    >>> _first_tracheal_slice(np.array([40, 90, 140, 190, 210, 180, 150, 200, 300, 0, 0]))
    3
    >>> _first_tracheal_slice(np.array([200, 150, 210, 0]))
    0
    """
    areas = np.asarray(areas, dtype=float)
    if not (areas > 0).any():
        return 0
    typical = np.median(areas[areas > 0])
    return int(np.argmax(areas >= _SUBGLOTTIC_AREA_FRACTION * typical))


def _slices_down(seed: _Seed, box) -> np.ndarray:
    """Slice indices within ``box``, from the seed's slice down, relative to the box."""
    below = seed.order[seed.position:]
    inside = below[(below >= box[0].start) & (below < box[0].stop)]
    return inside - box[0].start


def _trachea_above_carina(mask: np.ndarray, slices_down: np.ndarray, seed_area: np.ndarray,
                          spacing_mm) -> np.ndarray:
    """The lumen followed down slice by slice from the seed until its cross-section divides.

    In each axial slice the trachea is the set of 2D lumen components that overlap
    it in the slice above; at the carina two of them are tube-sized (30 mm² or more).
    """
    trachea = np.zeros(mask.shape, dtype=bool)
    pixel_mm2 = spacing_mm[1] * spacing_mm[2]
    current = seed_area & mask[slices_down[0]]
    trachea[slices_down[0]] = current
    for k in slices_down[1:]:
        labels, _ = ndimage.label(mask[k])
        touched = np.unique(labels[current])
        touched = touched[touched > 0]
        if touched.size == 0:
            break
        areas_mm2 = ndimage.sum_labels(mask[k], labels, touched) * pixel_mm2
        if np.count_nonzero(areas_mm2 >= _AIRWAY_AREA_MM2[0]) >= 2:
            break
        current = np.isin(labels, touched)
        trachea[k] = current
    return trachea


def _labelled_parts(lumen: np.ndarray, above_carina: np.ndarray, segments: list[Segment], sides,
                    fine_spacing, spacing_mm, bronchi_in_trachea_mm: float):
    """(trachea, left, right) of a lumen crop, by the centreline voxel nearest each voxel.

    Below the carina a voxel is trachea when its nearest centreline voxel lies
    within ``bronchi_in_trachea_mm`` of path below the carina's branch point,
    else it takes that branch's side. The segments' paths index the grid of
    ``fine_spacing`` over the crop.
    """
    trachea = above_carina.copy()
    left, right = np.zeros(lumen.shape, dtype=bool), np.zeros(lumen.shape, dtype=bool)
    voxels = np.argwhere(lumen & ~above_carina)
    if len(voxels) == 0:
        return trachea, left, right
    if len(segments) < 2:  # an undivided tube is all trachea
        trachea[tuple(voxels.T)] = True
        return trachea, left, right
    owner, depth_mm = nearest_centreline(voxels * np.asarray(spacing_mm), segments, fine_spacing,
                                         exclude_root=True)
    proximal = depth_mm <= bronchi_in_trachea_mm
    on_left = np.array([side == "left" for side in sides])[owner]
    for part, chosen in ((trachea, proximal), (left, ~proximal & on_left),
                         (right, ~proximal & ~on_left)):
        part[tuple(voxels[chosen].T)] = True
    return trachea, left, right


# -- centreline geometry ---------------------------------------------------------------------


def _near_isotropic(mask: np.ndarray, spacing_mm: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The mask resampled to nearly cubic voxels, and the step (in voxels) of the new grid.

    Thinning works in voxel units: on 0.7 × 0.7 × 2.5 mm voxels a bifurcation's
    branch point would move up by the trachea's radius in slices (centimetres).
    The new voxel is the larger of the finest spacing and half the coarsest.
    Sample ``i`` of the result lies at index ``i * step`` of ``mask``.
    """
    target_mm = max(float(spacing_mm.min()), float(spacing_mm.max()) / 2.0)
    step = target_mm / spacing_mm
    shape = tuple(int(n) for n in np.floor((np.array(mask.shape) - 1) / step + 1e-9) + 1)
    fine = ndimage.affine_transform(mask.astype(np.float32), step, output_shape=shape, order=1)
    return fine >= 0.5, step


def _sides(segments: list[Segment], paths: list[np.ndarray], ct: Volume) -> list[str | None]:
    """Side of each segment: a main bronchus running to +x (LPS) is the patient's left."""
    sides: list[str | None] = [None] * len(segments)
    for i, segment in enumerate(segments):  # parents come first
        if segment.parent == 0:
            start, end = ct.index_to_world(paths[i][[0, -1]])
            sides[i] = "left" if end[0] > start[0] else "right"
        elif segment.parent is not None:
            sides[i] = sides[segment.parent]
    return sides


def _branches(segments, paths, sides, radius_mm, fine_spacing, ct: Volume) -> tuple[Branch, ...]:
    generations = [0] * len(segments)
    branches = []
    for i, segment in enumerate(segments):
        if segment.parent is not None:
            generations[i] = generations[segment.parent] + 1
        steps_mm = np.diff(segment.path, axis=0) * fine_spacing
        own = segment.path if segment.parent is None else segment.path[1:]
        branches.append(Branch(
            id=i, parent=segment.parent, children=tuple(segment.children),
            generation=generations[i], side=sides[i],
            length_mm=float(np.linalg.norm(steps_mm, axis=1).sum()),
            diameter_mm=float(2.0 * np.median(radius_mm[tuple(own.T)])),
            points_mm=ct.index_to_world(paths[i])))
    return tuple(branches)


def _unique_rows(rows: np.ndarray) -> np.ndarray:
    """The distinct rows in order of first appearance."""
    _, first = np.unique(rows, axis=0, return_index=True)
    return rows[np.sort(first)]
