"""Body-composition tissues: skeletal muscle and subcutaneous, torso and intermuscular fat.

Names follow TotalSegmentator's ``tissue_types`` task (``subcutaneous_fat``,
``torso_fat``, ``skeletal_muscle``) plus ``intermuscular_fat``. Tissues are
told apart by CT number (muscle −29…150 HU, fat −190…−30 HU, both ranges
inclusive) and by where they lie relative to the muscle wall of the trunk,
found on each axial slice:

* the *fascia region* lies inside the outer surface of the wall: tissue of
  −29 HU or more, less a skin rim, closed over small gaps and filled. Where
  the wall is too thin to be seen (an atrophic rectus, a hernia) a voxel is
  also inside when the wall blocks nearly every in-slice direction from it.
  Fat outside the region is subcutaneous;
* the *cavity*, thoracic and abdominal, is marked by air (lungs, airways,
  bowel gas) and by large pockets of fat deeper than the wall is thick
  (visceral, mediastinal). A wide closing of the markers spans the organs
  between them; fat joined to it through fat is added, and so is tissue
  thicker than the wall that lies deeper than the wall is thick (the liver
  where it touches the wall). Near the spine, behind the deepest marker of
  each column, the wall is thick (paraspinal muscles, psoas) and nothing
  belongs to the cavity;
* skeletal muscle is muscle-range tissue of the fascia region outside the
  cavity, intermuscular fat the fat there, torso fat the fat in the cavity.
  The inside of bone (marrow, cancellous bone, the spinal canal) is none.

Regions are found on a grid of about ``working_pixel_mm`` (0.7 mm pixels are
paired); tissues are then assigned voxel by voxel at the CT's resolution, so
every voxel of a tissue has a CT number in that tissue's range.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass

import edt
import fill_voids
import numpy as np
from scipy import ndimage

from ..volume import Volume
from ._morphology import bounding_box, component_labels
from .body import segment_body

__all__ = ["segment_tissues", "tissue_areas_per_slice", "tissue_volumes", "TISSUE_NAMES",
           "MUSCLE_HU", "FAT_HU"]

#: Names of the masks :func:`segment_tissues` returns.
TISSUE_NAMES = ("subcutaneous_fat", "torso_fat", "skeletal_muscle", "intermuscular_fat")
#: CT number range (HU, inclusive) of skeletal muscle (Mitsiopoulos et al., 1998).
MUSCLE_HU = (-29.0, 150.0)
#: CT number range (HU, inclusive) of adipose tissue.
FAT_HU = (-190.0, -30.0)

#: Below this CT number (HU) a voxel is air: lung, airway or bowel gas.
_AIR_HU = -400.0
#: Smallest in-slice area (cm²) of a piece of wall or of a deep fat pocket that counts.
_MIN_PIECE_CM2 = 2.0
#: Above the lungs' widest slice, a deep fat pocket marking the cavity covers this much of
#: the trunk's slice (smaller pockets lie between the muscles of the shoulders and neck).
_UPPER_POCKET_FRACTION = 0.1
#: A voxel from which the wall blocks all but this many of 8 in-slice directions is inside it.
_MAX_OPEN_DIRECTIONS = 2
#: Radius (mm) of the closing that spans the organs between the cavity's markers.
_MARKER_CLOSING_MM = 30.0
#: Fat and air joined to the cavity through fat within this distance (mm) are added to it.
_CAVITY_GROWTH_MM = 30.0
#: Radius (mm) of the opening that keeps organs (thicker than twice it) of the deep tissue.
_ORGAN_RADIUS_MM = 8.0
#: Without a lung mask, air components of at least this volume (ml) are taken as lungs.
_MIN_LUNG_ML = 100.0
#: Half-width (mm) of the midline strip where the spine is looked for.
_SPINE_STRIP_MM = 30.0
#: Quantiles of the rows of the spine's bone (0 front, 1 back) taken as the front of the
#: vertebral bodies and as the spine's line, behind which lie the paraspinal muscles.
_SPINE_FRONT_QUANTILE = 0.05
_SPINE_LINE_QUANTILE = 0.25
#: Half-widths (mm) of the back region on either side of the spine: all of it, and the
#: part in front of the spine's line, beside the vertebral bodies (psoas).
_BACK_HALF_WIDTH_MM = 90.0
_PSOAS_HALF_WIDTH_MM = 45.0
#: The cavity keeps this distance (mm) from the outer surface of the wall.
_CAVITY_MARGIN_MM = 3.0
#: Radius (mm) of the closing of bone whose enclosed voxels (marrow, canal) are no tissue.
_BONE_CLOSING_MM = 5.0


# -- public API -----------------------------------------------------------------------------


def segment_tissues(ct: Volume, *, body: np.ndarray | None = None,
                    bones: np.ndarray | None = None, lungs: np.ndarray | None = None,
                    muscle_hu=MUSCLE_HU, fat_hu=FAT_HU, skin_mm: float = 4.0,
                    wall_gap_mm: float = 5.0, wall_thickness_mm: float = 15.0,
                    working_pixel_mm: float = 1.5) -> dict[str, np.ndarray]:
    """Masks of skeletal muscle and of subcutaneous, torso and intermuscular fat.

    Parameters
    ----------
    ct : Volume
        CT in Hounsfield units, axial slices (any in-plane orientation).
    body : numpy.ndarray, optional
        Body mask from :func:`~hounsfield.segment.segment_body`; computed when not given.
    bones : numpy.ndarray, optional
        Bone mask: it locates the spine and the inside of bones. Without it,
        tissue above ``muscle_hu`` counts as bone (in a contrast-enhanced CT
        that includes enhanced vessels and organs).
    lungs : numpy.ndarray, optional
        Lung mask (both lungs); without it, air components of 100 ml or more stand in.
    muscle_hu, fat_hu : (float, float)
        Inclusive CT number ranges (HU) of muscle and of fat.
    skin_mm : float
        Depth (mm) of the rim under the body's surface that never belongs to the wall.
    wall_gap_mm : float
        Radius (mm) of the closing that bridges gaps in the muscle wall.
    wall_thickness_mm : float
        Usual greatest thickness (mm) of the abdominal and chest wall: fat this
        deep marks the cavity, and organs that touch the wall reach the cavity
        at this depth.
    working_pixel_mm : float
        In-plane pixel size (mm) at which the regions are found; finer CTs are
        binned to about this size.

    Returns
    -------
    dict of str to numpy.ndarray
        :data:`TISSUE_NAMES` → bool masks of ``ct.shape``, pairwise disjoint;
        all empty when the body is.

    Notes
    -----
    Made for the chest and upper abdomen. The diaphragm lies inside the
    cavity and is not counted as muscle. Where an organ touches the wall
    with no fat between, its part less than ``wall_thickness_mm`` under the
    wall's outer surface is taken for wall, and near the spine an organ with
    no fat or lung behind it can be taken for paraspinal muscle. Body parts
    that :func:`segment_body` drops (an arm apart from the trunk on every
    slice) get no tissue: pass a body mask that holds them.

    Examples
    --------
    >>> from hounsfield.data.anatomy import thorax_phantom
    >>> ct, labels = thorax_phantom(shape=(24, 96, 96), spacing_mm=(12.0, 3.5, 3.5))
    >>> tissues = segment_tissues(ct)
    >>> sorted(tissues)
    ['intermuscular_fat', 'skeletal_muscle', 'subcutaneous_fat', 'torso_fat']
    >>> muscle = ct.array[tissues["skeletal_muscle"]]
    >>> bool(muscle.min() >= -29 and muscle.max() <= 150)
    True
    """
    _check_ct(ct)
    muscle_range = _checked_range(muscle_hu, "muscle_hu")
    fat_range = _checked_range(fat_hu, "fat_hu")
    if fat_range[1] >= muscle_range[0]:
        raise ValueError(f"fat_hu must lie below muscle_hu, got fat_hu={fat_hu!r} and "
                         f"muscle_hu={muscle_hu!r}")
    sizes = {name: _checked_positive(value, name) for name, value in (
        ("skin_mm", skin_mm), ("wall_gap_mm", wall_gap_mm),
        ("wall_thickness_mm", wall_thickness_mm), ("working_pixel_mm", working_pixel_mm))}
    body = segment_body(ct) if body is None else _checked_mask(body, ct.shape, "body")
    bones = None if bones is None else _checked_mask(bones, ct.shape, "bones")
    lungs = None if lungs is None else _checked_mask(lungs, ct.shape, "lungs")
    tissues = {name: np.zeros(ct.shape, dtype=bool) for name in TISSUE_NAMES}
    if not body.any():
        return tissues
    grid = _WorkingGrid.around(ct, body, sizes["working_pixel_mm"])
    hu = np.asarray(ct.array)[grid.box]
    inside = body[grid.box]
    bone = inside & ((hu > muscle_range[1]) if bones is None else bones[grid.box])
    fat = inside & (hu >= fat_range[0]) & (hu <= fat_range[1])
    fascia, cavity, enclosed = _regions(grid, inside, inside & (hu >= muscle_range[0]), fat,
                                        inside & (hu < _AIR_HU), bone, lungs, sizes)
    fat &= ~enclosed
    muscle = inside & (hu >= muscle_range[0]) & (hu <= muscle_range[1]) & ~enclosed
    wall = fascia & ~cavity
    for name, mask in (("subcutaneous_fat", fat & ~fascia), ("torso_fat", fat & cavity),
                       ("skeletal_muscle", muscle & wall), ("intermuscular_fat", fat & wall)):
        tissues[name][grid.box] = mask
    return tissues


def tissue_areas_per_slice(ct: Volume, tissues: dict[str, np.ndarray]) -> list[dict]:
    """Area (cm²) and mean CT number (HU) of each tissue on each axial slice.

    Parameters
    ----------
    ct : Volume
        The CT the masks belong to.
    tissues : dict of str to numpy.ndarray
        Masks of ``ct.shape``, e.g. from :func:`segment_tissues`.

    Returns
    -------
    list of dict
        One dict per slice, in slice order: ``slice_index``, ``z_mm`` (world z
        of the slice centre, LPS: + is superior) and, for each tissue ``name``,
        ``<name>_area_cm2`` and ``<name>_hu_mean`` (NaN where the area is 0).

    Examples
    --------
    >>> ct = Volume(np.full((2, 4, 4), 50.0, np.float32), spacing_mm=(5.0, 5.0, 5.0))
    >>> muscle = np.zeros((2, 4, 4), bool); muscle[1, :2, :2] = True
    >>> rows = tissue_areas_per_slice(ct, {"skeletal_muscle": muscle})
    >>> rows[1]["skeletal_muscle_area_cm2"], rows[1]["skeletal_muscle_hu_mean"], rows[1]["z_mm"]
    (1.0, 50.0, 5.0)
    """
    _check_ct(ct)
    masks = _checked_tissues(tissues, ct.shape)
    hu = np.asarray(ct.array)
    pixel_cm2 = ct.spacing_mm[1] * ct.spacing_mm[2] / 100.0
    rows = [{"slice_index": k, "z_mm": float(ct.index_to_world([k, 0.0, 0.0])[2])}
            for k in range(ct.shape[0])]
    for name, mask in masks.items():
        slices = np.nonzero(mask)[0]
        counts = np.bincount(slices, minlength=ct.shape[0])
        sums = np.bincount(slices, weights=hu[mask].astype(np.float64), minlength=ct.shape[0])
        for row, count, total in zip(rows, counts, sums, strict=True):
            row[f"{name}_area_cm2"] = float(count * pixel_cm2)
            row[f"{name}_hu_mean"] = float(total / count) if count else math.nan
    return rows


def tissue_volumes(ct: Volume, tissues: dict[str, np.ndarray]) -> dict[str, dict[str, float]]:
    """Volume (ml) and mean CT number (HU, NaN when empty) of each tissue over the scan.

    Examples
    --------
    >>> ct = Volume(np.full((2, 4, 4), -100.0, np.float32), spacing_mm=(10.0, 10.0, 10.0))
    >>> fat = np.zeros((2, 4, 4), bool); fat[0, 0, :3] = True
    >>> tissue_volumes(ct, {"torso_fat": fat})
    {'torso_fat': {'volume_ml': 3.0, 'hu_mean': -100.0}}
    """
    _check_ct(ct)
    masks = _checked_tissues(tissues, ct.shape)
    hu = np.asarray(ct.array)
    summary = {}
    for name, mask in masks.items():
        count = int(np.count_nonzero(mask))
        mean = float(hu[mask].mean(dtype=np.float64)) if count else math.nan
        summary[name] = {"volume_ml": count * ct.voxel_volume_ml, "hu_mean": mean}
    return summary


# -- working grid -------------------------------------------------------------------------


@dataclass(frozen=True)
class _WorkingGrid:
    """The body's box on a binned in-plane grid, with posterior along +axis 1.

    ``reduce`` takes a mask of the box to the grid (axes swapped and flipped
    so that array axis 1 runs from front to back), ``expand`` brings a grid
    mask back to the box.
    """

    box: tuple[slice, slice, slice]
    bins: tuple[int, int]
    spacing_mm: tuple[float, float, float]
    swap: bool
    flip: bool
    superior_step: int

    @classmethod
    def around(cls, ct: Volume, body: np.ndarray, pixel_mm: float) -> _WorkingGrid:
        box = bounding_box(body)
        bins = tuple(max(1, int(pixel_mm // s)) for s in ct.spacing_mm[1:])
        direction = np.asarray(ct.direction)
        swap = abs(direction[1, 2]) > abs(direction[1, 1])  # world y runs along array x
        ap_axis = 2 if swap else 1
        spacing = (ct.spacing_mm[0], ct.spacing_mm[1] * bins[0], ct.spacing_mm[2] * bins[1])
        if swap:
            spacing = (spacing[0], spacing[2], spacing[1])
        return cls(box, bins, spacing, swap, bool(direction[1, ap_axis] < 0),
                   1 if direction[2, 0] > 0 else -1)

    def reduce(self, mask: np.ndarray, *, majority: bool) -> np.ndarray:
        """A mask of the box on the grid: a bin is set when any (or most) of its voxels are."""
        z, y, x = mask.shape
        by, bx = self.bins
        padded = np.zeros((z, -(-y // by) * by, -(-x // bx) * bx), dtype=bool)
        padded[:, :y, :x] = mask
        counts = np.zeros((z, padded.shape[1] // by, padded.shape[2] // bx), dtype=np.uint16)
        for i in range(by):
            for j in range(bx):
                counts += padded[:, i::by, j::bx]
        small = counts > (by * bx) / 2 if majority else counts > 0
        small = np.swapaxes(small, 1, 2) if self.swap else small
        return np.ascontiguousarray(small[:, ::-1] if self.flip else small)

    def expand(self, small: np.ndarray) -> np.ndarray:
        """A grid mask back on the box's voxels (each bin's value on all its voxels)."""
        small = small[:, ::-1] if self.flip else small
        small = np.swapaxes(small, 1, 2) if self.swap else small
        full = np.repeat(np.repeat(small, self.bins[0], axis=1), self.bins[1], axis=2)
        return full[:, :self.box[1].stop - self.box[1].start, :self.box[2].stop - self.box[2].start]


# -- regions ------------------------------------------------------------------------------


def _regions(grid: _WorkingGrid, inside, dense, fat, air, bone, lungs, sizes):
    """(fascia region, cavity, inside of bone) on the box's voxels, from masks of the box.

    ``dense`` (tissue of muscle CT numbers and above) and ``bone`` are binned
    so that a bin holding any of it counts: a wall or a cortex thinner than a
    bin is not lost.
    """
    spacing = grid.spacing_mm
    body = grid.reduce(inside, majority=True)
    dense, bone = (grid.reduce(mask, majority=False) for mask in (dense, bone))
    fat, air = (grid.reduce(mask, majority=True) for mask in (fat, air))
    fascia, torso = _fascia_region(dense, body, spacing, sizes["skin_mm"], sizes["wall_gap_mm"])
    if lungs is None:
        lungs = _large_air(air & torso, spacing)
    else:
        lungs = grid.reduce(lungs[grid.box], majority=True) & torso
    cavity = _cavity(dense, fat, air, bone, lungs, fascia, torso, spacing,
                     sizes["wall_thickness_mm"], grid.superior_step)
    return grid.expand(fascia), grid.expand(cavity), grid.expand(_inside_bone(bone, spacing))


def _cavity(dense, fat, air, bone, lungs, fascia, torso, spacing, wall_mm, superior_step):
    """The thoracic and abdominal cavity: marker hull, deep organs, less the back region."""
    depth = _depth_mm(fascia, spacing)
    deep = depth > wall_mm
    below = _below_widest_lung_slice(lungs, superior_step)[:, None, None]
    markers = (air & torso) | lungs | _deep_fat_pockets(fat & torso & deep, torso, below, spacing)
    cavity = _marker_hull(markers, (fat | air) & torso, torso, spacing)
    # Above the lungs' widest slice the chest wall and shoulder girdle hold deep, thick
    # muscles: only below it does deep tissue thicker than the wall mark an organ.
    cavity |= _deep_organs(dense & torso & deep & below, spacing)
    cavity &= ~_back_region(bone, torso, markers, spacing)
    return cavity & (depth > _CAVITY_MARGIN_MM)


def _inside_bone(bone, spacing):
    """Marrow, cancellous bone and the spinal canal: the skeleton's inside, less a one-bin rim.

    The skeleton is the bone closed over narrow recesses and filled; its rim
    (where muscle touches bone) is left to the tissues.
    """
    osseous = _fill_slices(_close(bone, _BONE_CLOSING_MM, spacing))
    return _depth_mm(osseous, spacing) > max(spacing[1:])


def _fascia_region(dense, body, spacing, skin_mm, gap_mm):
    """(region inside the wall's outer surface, its largest piece on each slice: the trunk).

    The skin rim is removed first so that the closing never reaches the skin
    across a thin layer of subcutaneous fat. Where the wall is too thin to be
    seen over a width the closing cannot bridge, a voxel is also inside when
    the wall blocks all but :data:`_MAX_OPEN_DIRECTIONS` of the 8 in-slice
    directions from it to the array's edge (outside a convex wall at least 3
    are open).
    """
    under_skin = _depth_mm(body, spacing) > max(skin_mm, *spacing[1:])  # at least one bin
    wall = _pieces(dense & under_skin, spacing)
    fascia = _fill_slices(_close_across_slices(wall, gap_mm, spacing))
    fascia |= _open_directions(wall) <= _MAX_OPEN_DIRECTIONS
    fascia &= body
    return fascia, _largest_piece(fascia)


def _open_directions(wall) -> np.ndarray:
    """Per voxel, how many of the 8 in-slice directions (axes, diagonals) meet no wall.

    A direction is open when no voxel of ``wall`` lies on the ray from the
    voxel (itself included) to the array's edge.
    """
    count = np.zeros(wall.shape, dtype=np.uint8)
    for axis in (1, 2):
        for step in (1, -1):
            flip = [slice(None)] * 3
            flip[axis] = slice(None, None, step)
            flip = tuple(flip)
            count += ~np.logical_or.accumulate(wall[flip], axis=axis)[flip]
    for row_step in (1, -1):
        for col_step in (1, -1):
            flip = (slice(None), slice(None, None, row_step), slice(None, None, col_step))
            count += ~_seen_along_diagonal(wall[flip])[flip]
    return count


def _seen_along_diagonal(mask) -> np.ndarray:
    """Whether a voxel of ``mask`` lies at (row − t, col − t) for some t ≥ 0, per voxel.

    The slices are sheared so that each diagonal becomes a column, and the
    logical OR is accumulated down the columns.
    """
    depth, rows, cols = mask.shape
    r = np.arange(rows)[:, None]
    diagonal = np.arange(cols)[None, :] - r + rows - 1
    sheared = np.zeros((depth, rows, rows + cols - 1), dtype=bool)
    sheared[:, r, diagonal] = mask
    return np.logical_or.accumulate(sheared, axis=1)[:, r, diagonal]


def _close_across_slices(mask, radius_mm, spacing):
    """3D closing by a ball of ``radius_mm``: a gap in one slice is bridged from its neighbours.

    The end slices are repeated beyond the array so that the closing does not
    shrink the mask where the scan cuts it.
    """
    pad = int(math.ceil(radius_mm / spacing[0])) + 1
    padded = np.pad(mask, ((pad, pad), (0, 0), (0, 0)), mode="edge")
    anisotropy = tuple(float(s) for s in spacing)
    grown = edt.edt(np.ascontiguousarray(~padded, dtype=np.uint8), anisotropy=anisotropy,
                    black_border=False, parallel=0) <= radius_mm
    closed = edt.edt(np.ascontiguousarray(grown, dtype=np.uint8), anisotropy=anisotropy,
                     black_border=True, parallel=0) > radius_mm
    return closed[pad:-pad] | mask


def _marker_hull(markers, soft, torso, spacing):
    """Cavity spanned by the markers, with the fat and air joined to it through fat."""
    hull = _fill_slices(_close(markers, _MARKER_CLOSING_MM, spacing)) & torso
    near = soft & (_distance_mm(hull, spacing) <= _CAVITY_GROWTH_MM)
    return hull | (_pieces_touching(near | hull, hull) & near)


def _below_widest_lung_slice(lungs, superior_step) -> np.ndarray:
    """Per slice: does it lie below the slice where the lungs are widest (all, without lungs)?"""
    slices = np.arange(lungs.shape[0])
    if not lungs.any():
        return np.ones(lungs.shape[0], dtype=bool)
    widest = int(np.argmax(lungs.sum(axis=(1, 2))))
    return (slices - widest) * superior_step < 0


def _deep_fat_pockets(deep_fat, torso, below, spacing):
    """Pockets of fat deeper than the wall that mark the cavity.

    Below the lungs' widest slice any pocket of :data:`_MIN_PIECE_CM2` does;
    above it, where fat also lies deep between the muscles of the shoulders
    and neck, a pocket must cover :data:`_UPPER_POCKET_FRACTION` of the trunk's slice.
    """
    pixel_cm2 = spacing[1] * spacing[2] / 100.0
    pockets = np.zeros_like(deep_fat)
    for k in np.nonzero(deep_fat.any(axis=(1, 2)))[0]:
        smallest_cm2 = _MIN_PIECE_CM2
        if not below[k].any():
            smallest_cm2 = max(smallest_cm2, _UPPER_POCKET_FRACTION * torso[k].sum() * pixel_cm2)
        labels, counts = _slice_labels(deep_fat[k])
        pockets[k] = (counts * pixel_cm2 >= smallest_cm2)[labels]
    return pockets


def _deep_organs(deep_dense, spacing):
    """Organs against the wall: deep tissue thicker than twice :data:`_ORGAN_RADIUS_MM`."""
    return _open(deep_dense, _ORGAN_RADIUS_MM, spacing)


def _back_region(bone, torso, markers, spacing):
    """Where the wall is thick: the paraspinal muscles and psoas, behind the cavity's markers.

    Axis 1 runs from front (0) to back. The region lies behind the deepest
    marker of its column, within :data:`_BACK_HALF_WIDTH_MM` of the spine, and
    behind the spine's line or, within :data:`_PSOAS_HALF_WIDTH_MM`, behind the
    front of the vertebral bodies.
    """
    spine = _spine_rows(bone, torso, spacing)
    if spine is None:
        return np.zeros(torso.shape, dtype=bool)
    front_row, line_row, centre_col = (values[:, None, None] for values in spine)
    rows = np.arange(torso.shape[1])[None, :, None]
    off_mm = np.abs(np.arange(torso.shape[2])[None, None, :] - centre_col) * spacing[2]
    behind_markers = rows > np.where(markers & torso, rows, -1).max(axis=1, keepdims=True)
    behind_spine = (rows >= line_row) | ((rows >= front_row) & (off_mm <= _PSOAS_HALF_WIDTH_MM))
    return torso & behind_markers & behind_spine & (off_mm <= _BACK_HALF_WIDTH_MM)


def _spine_rows(bone, torso, spacing):
    """Per slice: the spine's front row, its line row and its column; None without a spine.

    The spine is the bone of a midline strip in the back half of the trunk;
    its front and line are quantiles of that bone's rows
    (:data:`_SPINE_FRONT_QUANTILE`, :data:`_SPINE_LINE_QUANTILE`). Slices
    without it take the values of their neighbours.
    """
    depth = torso.shape[0]
    found = np.full((3, depth), np.nan)
    rows = np.arange(torso.shape[1])[:, None]
    cols = np.arange(torso.shape[2])[None, :]
    for k in np.nonzero(torso.any(axis=(1, 2)))[0]:
        row_mid, col_mid = ndimage.center_of_mass(torso[k])
        strip = (np.abs(cols - col_mid) * spacing[2] <= _SPINE_STRIP_MM) & (rows > row_mid)
        bone_rows, bone_cols = np.nonzero(bone[k] & torso[k] & strip)
        if bone_rows.size:
            found[:2, k] = np.quantile(bone_rows, [_SPINE_FRONT_QUANTILE, _SPINE_LINE_QUANTILE])
            found[2, k] = np.median(bone_cols)
    present = np.nonzero(~np.isnan(found[0]))[0]
    if present.size == 0:
        return None
    return [np.interp(np.arange(depth), present, values[present]) for values in found]


def _large_air(air, spacing):
    """Air components (3D) of at least :data:`_MIN_LUNG_ML`: the lungs when none are given."""
    labels, counts = component_labels(air)
    voxel_ml = float(np.prod(spacing)) / 1000.0
    return (counts * voxel_ml >= _MIN_LUNG_ML)[labels]


# -- slice-wise morphology ------------------------------------------------------------------


def _in_plane(spacing) -> tuple[float, float, float]:
    """An anisotropy whose slice step is so long that no distance runs across slices.

    The 3D distance transforms then act on each axial slice alone, in one call.
    """
    return (1e9, float(spacing[1]), float(spacing[2]))


def _depth_mm(mask, spacing) -> np.ndarray:
    """In-slice distance (mm) of each voxel of ``mask`` to the nearest voxel outside it.

    Beyond the array's edge is outside (the arrays are cropped to the body).
    """
    return edt.edt(np.ascontiguousarray(mask, dtype=np.uint8), anisotropy=_in_plane(spacing),
                   black_border=True, parallel=0)


def _distance_mm(mask, spacing) -> np.ndarray:
    """In-slice distance (mm) to the nearest voxel of ``mask`` (inf on slices without it)."""
    distance = edt.edt(np.ascontiguousarray(~mask, dtype=np.uint8),
                       anisotropy=_in_plane(spacing), black_border=False, parallel=0)
    distance[~mask.any(axis=(1, 2))] = np.inf
    return distance


def _dilate(mask, radius_mm, spacing):
    return _distance_mm(mask, spacing) <= radius_mm


def _close(mask, radius_mm, spacing):
    """In-slice closing by a disc of ``radius_mm``."""
    if not mask.any():
        return mask.copy()
    return (_depth_mm(_dilate(mask, radius_mm, spacing), spacing) > radius_mm) | mask


def _open(mask, radius_mm, spacing):
    """In-slice opening by a disc of ``radius_mm``: what a disc of that size can reach."""
    return _dilate(_depth_mm(mask, spacing) > radius_mm, radius_mm, spacing) & mask


def _fill_slices(mask):
    filled = mask.copy()
    for k in np.nonzero(mask.any(axis=(1, 2)))[0]:
        filled[k] = fill_voids.fill(mask[k])
    return filled


def _slice_labels(mask_slice):
    """8-connected components of a 2D mask and their pixel counts (0 for the background)."""
    labels, _ = ndimage.label(mask_slice, structure=np.ones((3, 3), dtype=bool))
    counts = np.bincount(labels.ravel())
    counts[0] = 0
    return labels, counts


def _pieces(mask, spacing):
    """The in-slice components of ``mask`` of at least :data:`_MIN_PIECE_CM2`."""
    min_pixels = _MIN_PIECE_CM2 * 100.0 / (spacing[1] * spacing[2])
    kept = np.zeros_like(mask)
    for k in np.nonzero(mask.any(axis=(1, 2)))[0]:
        labels, counts = _slice_labels(mask[k])
        kept[k] = (counts >= min_pixels)[labels]
    return kept


def _largest_piece(mask):
    kept = np.zeros_like(mask)
    for k in np.nonzero(mask.any(axis=(1, 2)))[0]:
        labels, counts = _slice_labels(mask[k])
        kept[k] = labels == int(np.argmax(counts))
    return kept


def _pieces_touching(mask, seeds):
    """The in-slice components of ``mask`` that hold a voxel of ``seeds``."""
    kept = np.zeros_like(mask)
    for k in np.nonzero((mask & seeds).any(axis=(1, 2)))[0]:
        labels, _ = _slice_labels(mask[k])
        hit = np.zeros(labels.max() + 1, dtype=bool)
        hit[labels[seeds[k]]] = True
        hit[0] = False
        kept[k] = hit[labels]
    return kept


# -- validation ---------------------------------------------------------------------------


def _check_ct(ct) -> None:
    if not isinstance(ct, Volume):
        raise TypeError(f"ct must be a hounsfield Volume, got {type(ct).__name__}")
    if abs(float(np.asarray(ct.direction)[2, 0])) < 0.9:
        raise ValueError(f"ct must hold axial slices (array axis 0 along world z), got "
                         f"orientation {ct.orientation!r}; reorient it with ct.reorient('LPS')")


def _is_real(value) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _checked_positive(value, name: str) -> float:
    if not _is_real(value) or not math.isfinite(value) or value <= 0:
        raise ValueError(f"{name} must be a positive finite number of mm, got {value!r}")
    return float(value)


def _checked_range(value, name: str) -> tuple[float, float]:
    try:
        low, high = (float(v) for v in value)
    except (TypeError, ValueError):
        low, high = math.nan, math.nan
    if not (math.isfinite(low) and math.isfinite(high) and low < high):
        raise ValueError(f"{name} must be two finite CT numbers (low, high) in HU with "
                         f"low < high, got {value!r}")
    return low, high


def _checked_mask(mask, shape, name: str) -> np.ndarray:
    array = np.asarray(mask)
    if array.shape != tuple(shape):
        raise ValueError(f"{name} must be a mask of the CT's shape {tuple(shape)}, "
                         f"got shape {array.shape}")
    if array.dtype != bool and not np.issubdtype(array.dtype, np.integer):
        raise TypeError(f"{name} must be a boolean (or integer 0/1) mask, got dtype {array.dtype}")
    return array.astype(bool, copy=False)


def _checked_tissues(tissues, shape) -> dict[str, np.ndarray]:
    if not isinstance(tissues, dict) or not tissues:
        raise TypeError(f"tissues must be a non-empty dict of name → mask, got {tissues!r:.60}")
    return {str(name): _checked_mask(mask, shape, f"tissues[{name!r}]")
            for name, mask in tissues.items()}
