"""Skeleton of a CT scan without contrast-filled vessels and the table, and its split by region.

Bone is bright, but so is iodinated blood: in an arterial-phase chest CT the
aorta and the heart read 300–450 HU, as bright as trabecular bone and the
thin cortex of a rib. No threshold separates them, so :func:`segment_bones`
removes from the bright voxels (``bone_hu`` and above, inside the body) what
is *not* bone, by four cues from physics and anatomy:

1. **Blood pools are homogeneous and thick.** Where the in-plane
   neighbourhood (about 5 mm) has a low standard deviation (noise only: the
   trabecular lattice and the cortex make bone rough), an enhanced mean CT
   number, and room for a 3 mm ball, lies the core of a pool (aorta,
   ventricles, spleen, kidneys); a vessel too narrow for that ball shows a
   1.5 mm core that continues through three slices along the scan, which a
   smooth patch of marrow does not. Cores are grown by their partial-volume rim
   and closed over the septa between cavities. Marrow enclosed by a cortical
   ring in its slice is never a pool: a noise-free cancellous core is as
   smooth as blood.
2. **Cavities of mixing contrast are thick.** Where contrast swirls through
   unenhanced blood, the heart is neither homogeneous nor thin: regions of
   the bright mask holding a disc of 10 mm radius in the axial plane, with
   lung on both sides along the left–right axis, are removed. Vertebral
   bodies, the only bones that thick between the lungs, are spared within a
   radius of the spinal canal, found in each slice as the fluid-filled hole
   of the vertebral arch.
3. **Undiluted contrast is brighter than bone.** Voxels from ``contrast_hu``
   up (a vein by the injection site, metal) and the bright region connected
   to them are removed with their rim. The region is followed through a
   lumen, not through a cortex too thin for it nor the cortical ring around
   enclosed marrow, so a clavicle under the vein is not taken along.
4. **Trabecular bone is never far from cortex.** Bright voxels farther than
   ``cortex_reach_mm`` from cortex (``cortex_hu``, outside the regions above)
   are dropped (kidneys, spleen, portal vein, thyroid), and each connected
   piece must hold some compact bone (``hard_hu``). A vessel lying on bone
   joins it through thin partial-volume bridges: eroding the voxels below
   500 HU by 1.5 mm in-plane cuts them, and a cut-off piece of 200 mm³ or
   more without compact bone is dropped.

The bone kept is closed and its marrow filled (module ``_bone_marrow``): the
holes of each axial slice up to 4000 mm² (a humeral head), also behind a
cortical ring open by up to 8 mm, and the voids closed in 3D, but not the
spinal canal, as large and as dark as a vertebral body's marrow. The canal
is the hindmost fluid-filled hole near the midline, found in the bright
voxels closed over the arch's gaps and followed along the scan; the holes
within 12 mm of its centre stay open. Voxels on the in-plane surface under
200 HU, mostly soft tissue in partial volume, are dropped, and on fine
pixels a majority vote smooths the surface. The table lies outside the body
mask. The coarse cues (1, 2, 4 and the canal) are computed on a grid of
about 1.5 mm in-plane, cortex and marrow on the CT's own grid.

:func:`split_bones` assigns bone voxels by position: the spine lies around
the spinal canal, ribs hug the lungs, the rest is "other".

Limits, measured on the example chest CT (figures in the tests): Dice 0.85
against TotalSegmentator's bone labels. Two thirds of the false positives
lie within 3 mm of reference bone, most of them at the spine: a 2.5 mm slice
through a thin intervertebral disc holds both endplates and reads as bright
as bone. Of the others, the rib necks beside the vertebrae (not labelled in
the reference) and enhanced vessels in the neck and mediastinum, made rough
by the streaks of the undiluted contrast, are the most; missed bone is
mostly the thin rim of scapulae and ribs in partial volume.
Costal cartilage (under 150 HU) is not bone here, calcified cartilage is;
small enhanced arteries lying on a bone (subclavian on the first rib) may be
kept. Slices are taken to be axial, along the first array axis.
"""

from __future__ import annotations

import math

import fill_voids
import numpy as np
from scipy import ndimage

from ..volume import Volume
from ._bone_marrow import (
    APART_MM,
    MARROW_MAX_MM2,
    fill_holes_by_area,
    smoothed_surface,
    with_marrow,
)
from ._morphology import bounding_box, close_mm, component_labels, dilate_mm, erode_mm, open_mm
from .body import segment_body

__all__ = ["segment_bones", "split_bones"]

#: In-plane width (mm) of the window of local mean and standard deviation.
_TEXTURE_WINDOW_MM = 5.0
#: Radius (mm) of a ball that fits inside a blood-pool core.
_POOL_CORE_MM = 3.0
#: In-plane radius (mm) of the core of a vessel too narrow for a pool core, and the
#: slices (odd) it must continue through along the scan.
_VESSEL_CORE_MM = 1.5
_VESSEL_SLICES = 3
#: Partial-volume rim (mm) grown around pool cores and thick cavities.
_POOL_RIM_MM = 4.0
#: Gaps (mm) between pool parts that are closed (septa, valves, swirls).
_POOL_GAP_MM = 6.0
#: Rim (mm) grown around undiluted contrast.
_CONTRAST_RIM_MM = 2.0
#: Bright region (HU) connected to undiluted contrast that goes with it, and how far (mm).
_CONTRAST_CONNECTED_HU = 800.0
_CONTRAST_REACH_MM = 30.0
#: In-plane radius (mm) of an opening that keeps a vein's lumen and drops thin cortex.
_CONTRAST_LUMEN_MM = 1.0
#: CT number (HU) of a cortical ring that protects the marrow it encloses.
_SHELL_HU = 500.0
#: Width (mm) of the cortical ring around enclosed marrow that contrast never spreads through.
_SHELL_WIDTH_MM = 3.0
#: Closing (mm) of the cortical ring before its enclosed marrow is found.
_SHELL_CLOSING_MM = 2.0
#: In-plane radius (mm) of a disc that fits in a heart-like cavity but in no bone.
_CAVITY_RADIUS_MM = 10.0
#: Highest CT number (HU) of aerated lung, airway and gut gas.
_AIR_HU = -400.0
#: Smallest volumes (mm³) of a kept piece and of the compact bone it holds.
_MIN_PIECE_MM3 = 120.0
_MIN_HARD_MM3 = 12.0
#: In-plane depth (mm) of the soft bridges cut, and the least volume (mm³) of a
#: piece without compact bone that hangs off the skeleton by them.
_BRIDGE_MM = 1.5
_MIN_SOFT_PIECE_MM3 = 200.0
#: The spinal canal in an axial slice: area (mm²), highest mean HU (fluid, cord,
#: epidural fat), largest left–right distance (mm) from the midline.
_CANAL_AREA_MM2 = (50.0, 800.0)
_CANAL_MAX_HU = 100.0
_CANAL_MIDLINE_MM = 40.0
#: How far (mm) the canal may lie in front of the bone's median centre (the scapulae
#: pull that centre back at the shoulders).
_CANAL_FRONT_MM = 10.0
#: Closing (mm) of the bright voxels that rounds off the vertebral arches around the canal.
_CANAL_CLOSING_MM = 3.0
#: Slices (odd) around a canal centre whose median it must lie within _CANAL_JUMP_MM (mm) of.
_CANAL_WINDOW_SLICES = 9
_CANAL_JUMP_MM = 5.0
#: In-plane distance (mm) from the canal's centre within which bone is spine.
_SPINE_RADIUS_MM = 42.0
#: Largest distance (mm) of a rib voxel from lung (air enclosed in its slice).
_RIB_AIR_DISTANCE_MM = 10.0
#: The sternum's strip: half-width (mm) left–right of the canal, least depth (mm) in front of it.
_STERNUM_HALF_WIDTH_MM = 25.0
_STERNUM_MIN_DEPTH_MM = 60.0
#: Pixel size (mm) of the coarse in-plane grid of the coarse cues.
_COARSE_PIXEL_MM = 1.5


def segment_bones(ct: Volume, *, body: np.ndarray | None = None, bone_hu: float = 150.0,
                  cortex_hu: float = 400.0, hard_hu: float = 700.0,
                  contrast_hu: float = 2000.0, blood_max_hu: float = 600.0,
                  blood_sd_hu: float = 25.0, cortex_reach_mm: float = 8.0,
                  closing_radius_mm: float = 2.0) -> np.ndarray:
    """Boolean mask of the skeleton: cortical and trabecular bone with its marrow.

    Contrast-filled vessels and cavities, enhanced organs and the table are
    left out; the module docstring describes how.

    Parameters
    ----------
    ct : Volume
        CT in Hounsfield units, axial slices along the first array axis.
    body : numpy.ndarray, optional
        Body mask from :func:`~hounsfield.segment.body.segment_body` (the
        table lies outside it); computed when not given.
    bone_hu : float
        Lowest CT number (HU) of bone before its marrow is filled.
    cortex_hu : float
        Lowest CT number (HU) of cortex, the anchor of trabecular bone.
    hard_hu : float
        Lowest CT number (HU) of compact bone, which every kept piece holds.
    contrast_hu : float
        Lowest CT number (HU) of undiluted contrast or metal, never bone.
    blood_max_hu : float
        Highest local mean CT number (HU) of an enhanced blood pool.
    blood_sd_hu : float
        Highest local standard deviation (HU) of a blood pool, about twice
        the image noise.
    cortex_reach_mm : float
        Largest distance (mm) of bone from cortex.
    closing_radius_mm : float
        Radius (mm) of the closing that joins cortex and trabecular bone
        before the marrow is filled; 0 for none.

    Returns
    -------
    numpy.ndarray
        bool, ``ct.shape``; empty when the scan holds no bone.

    Examples
    --------
    >>> from hounsfield.data.anatomy import thorax_phantom
    >>> ct, labels = thorax_phantom(shape=(32, 64, 64), spacing_mm=(4.0, 5.0, 5.0))
    >>> skeleton = segment_bones(ct)
    >>> vertebra = labels.array == labels.labels.id_of("vertebrae_T8")
    >>> bool(skeleton[vertebra].mean() > 0.9), bool(skeleton[labels.array == 0].any())
    (True, False)
    """
    _check_volume(ct)
    levels = _checked_levels(bone_hu=bone_hu, cortex_hu=cortex_hu, hard_hu=hard_hu,
                             contrast_hu=contrast_hu)
    options = {"blood_max_hu": _checked_number(blood_max_hu, "blood_max_hu", minimum=bone_hu),
               "blood_sd_hu": _checked_number(blood_sd_hu, "blood_sd_hu", minimum=0.0),
               "cortex_reach_mm": _checked_number(cortex_reach_mm, "cortex_reach_mm",
                                                  minimum=0.0),
               "closing_radius_mm": _checked_number(closing_radius_mm, "closing_radius_mm",
                                                    minimum=0.0)}
    body = segment_body(ct) if body is None else _checked_mask(body, "body", ct.shape)
    skeleton = np.zeros(ct.shape, dtype=bool)
    if body.any():
        box = bounding_box(body)
        crop = ct.crop([b.start for b in box], [b.stop for b in box])
        skeleton[box] = _skeleton_in_body(crop, body[box], levels, options)
    return skeleton


def split_bones(ct: Volume, skeleton: np.ndarray) -> dict[str, np.ndarray]:
    """Split a skeleton into ``"spine"``, ``"ribs"`` and ``"other_bones"`` by position.

    Each voxel is assigned by where it lies; single bones are not traced:

    - **spine**: bone within 42 mm (in the axial plane) of the centre of the
      spinal canal, the fluid-filled hole of the vertebral arch, found per
      slice and smoothed and interpolated along the scan. Rib heads and
      necks that close to the canal count as spine.
    - **ribs**: the remaining bone within 10 mm of the lungs (air enclosed by
      tissue in its slice), except in a strip in front of the canal where the
      sternum lies. Ribs below the lung bases and the parts of scapulae and
      clavicles that touch the lung apices are misassigned.
    - **other_bones**: the rest (sternum, scapulae, clavicles, humeri,
      pelvis).

    Without a spinal canal in the scan nothing is spine.

    Parameters
    ----------
    ct : Volume
        The CT the skeleton comes from (HU), axial slices along the first
        array axis.
    skeleton : numpy.ndarray
        Boolean mask of ``ct.shape``, e.g. from :func:`segment_bones`.

    Returns
    -------
    dict of str to numpy.ndarray
        Disjoint bool masks of ``ct.shape`` whose union is ``skeleton``.

    Examples
    --------
    >>> from hounsfield.data.anatomy import thorax_phantom
    >>> ct, labels = thorax_phantom(shape=(32, 64, 64), spacing_mm=(4.0, 5.0, 5.0))
    >>> parts = split_bones(ct, segment_bones(ct))
    >>> sorted(parts)
    ['other_bones', 'ribs', 'spine']
    >>> vertebra = labels.array == labels.labels.id_of("vertebrae_T8")
    >>> bool(parts["spine"][vertebra].mean() > 0.9)
    True
    """
    _check_volume(ct)
    skeleton = _checked_mask(skeleton, "skeleton", ct.shape)
    parts = {name: np.zeros(ct.shape, dtype=bool) for name in ("spine", "ribs", "other_bones")}
    if not skeleton.any():
        return parts
    margin = tuple(int(math.ceil(_RIB_AIR_DISTANCE_MM / s)) + 1 for s in ct.spacing_mm)
    box = bounding_box(skeleton, margin)
    crop = ct.crop([b.start for b in box], [b.stop for b in box])
    bone, hu = skeleton[box], np.asarray(crop.array, dtype=np.float32)
    grid = _CoarseGrid(crop)
    bone_coarse = grid.coarsen(bone)
    canal = _canal_path(bone_coarse, grid.mean(hu), grid, _median_centres(bone_coarse))
    spine = np.zeros_like(bone)
    if canal is not None:
        spine = bone & grid.refine(_near_canal(canal, grid, _SPINE_RADIUS_MM))
    ribs = bone & ~spine & grid.refine(_near_enclosed_air(grid.coarsen(hu < _AIR_HU), grid))
    if canal is not None:
        ribs &= ~grid.refine(_sternum_strip(canal, grid))
    for name, mask in (("spine", spine), ("ribs", ribs), ("other_bones", bone & ~spine & ~ribs)):
        parts[name][box] = mask
    return parts


# -- the pipeline on the body's box -------------------------------------------------


def _skeleton_in_body(ct: Volume, body: np.ndarray, levels: dict, options: dict) -> np.ndarray:
    """The skeleton on a CT cropped to the body's box."""
    hu = np.asarray(ct.array, dtype=np.float32)
    bright = body & (hu >= levels["bone_hu"])
    if not bright.any():
        return bright
    grid = _CoarseGrid(ct)
    not_bone, canal = _not_bone(hu, body, bright, grid, levels, options)
    cortex = grid.coarsen(body & (hu >= levels["cortex_hu"]) & ~not_bone)
    near_cortex = grid.refine(dilate_mm(cortex, options["cortex_reach_mm"], grid.spacing_mm))
    bone = _pieces_with_compact_bone(bright & ~not_bone & near_cortex, hu, levels["hard_hu"],
                                     ct.spacing_mm)
    bone &= ~_hanging_soft_pieces(bone, hu, levels["hard_hu"], ct.spacing_mm)
    if options["closing_radius_mm"] > 0:
        bone = close_mm(bone, options["closing_radius_mm"], ct.spacing_mm)
    if canal is not None:
        canal = canal * grid.factor + (grid.factor - 1) / 2
    skeleton = with_marrow(bone, canal, ct.spacing_mm) & ~not_bone
    return smoothed_surface(skeleton, hu, ct.spacing_mm) & body & ~not_bone


def _not_bone(hu: np.ndarray, body: np.ndarray, bright: np.ndarray, grid: _CoarseGrid,
              levels: dict, options: dict) -> tuple[np.ndarray, np.ndarray | None]:
    """Blood pools, heart-like cavities and undiluted contrast, never enclosed marrow.

    Returned with the spinal canal's path on the coarse grid (None when not seen).
    """
    enclosed = _enclosed_by_cortex(grid.coarsen(body & (hu >= _SHELL_HU)), grid.spacing_mm)
    pools = _blood_pools(hu, body, enclosed, grid, levels["bone_hu"], options["blood_max_hu"],
                         options["blood_sd_hu"])
    canal = _canal_from_bright(grid.coarsen(bright) & ~pools, grid.mean(hu), grid)
    cavities = _mixing_cavities(grid.coarsen(bright), grid.coarsen(body & (hu < _AIR_HU)),
                                enclosed, canal, grid)
    not_bone = (pools | cavities) & ~enclosed
    shell = dilate_mm(enclosed, _SHELL_WIDTH_MM, grid.spacing_mm)
    contrast = _undiluted_contrast(hu, body, grid.refine(shell), grid.fine_spacing_mm,
                                   levels["contrast_hu"])
    return grid.refine(not_bone) | (contrast & ~grid.refine(enclosed)), canal


def _pieces_with_compact_bone(candidates: np.ndarray, hu: np.ndarray, hard_hu: float,
                              spacing_mm) -> np.ndarray:
    """The connected pieces of ``candidates`` big enough and holding compact bone."""
    labels, counts = component_labels(candidates)
    voxel_mm3 = float(np.prod(spacing_mm))
    hard = np.bincount(labels[candidates & (hu >= hard_hu)], minlength=counts.size)
    keep = (counts * voxel_mm3 >= _MIN_PIECE_MM3) & (hard * voxel_mm3 >= _MIN_HARD_MM3)
    keep[0] = False
    return keep[labels]


def _hanging_soft_pieces(bone: np.ndarray, hu: np.ndarray, hard_hu: float,
                         spacing_mm) -> np.ndarray:
    """Big parts of ``bone`` without compact bone, joined to the rest by thin soft bridges.

    Eroding the voxels under _SHELL_HU by _BRIDGE_MM in-plane cuts the
    bridges (partial volume where a vessel lies on bone) while thin cortex
    keeps ribs whole; a cut-off piece of at least _MIN_SOFT_PIECE_MM3 with
    no compact bone is a vessel. Returned with its rim.
    """
    in_plane = (APART_MM, *spacing_mm[1:])
    core = bone & (erode_mm(bone, _BRIDGE_MM, in_plane) | (hu >= _SHELL_HU))
    labels, counts = component_labels(core)
    hard = np.bincount(labels[core & (hu >= hard_hu)], minlength=counts.size)
    soft = (hard == 0) & (counts * float(np.prod(spacing_mm)) >= _MIN_SOFT_PIECE_MM3)
    soft[0] = False
    return dilate_mm(soft[labels], _BRIDGE_MM + 0.5, in_plane)


# -- what is not bone ---------------------------------------------------------------


def _enclosed_by_cortex(shell: np.ndarray, spacing_mm) -> np.ndarray:
    """Voxels inside a (closed) cortical ring of their axial slice, the ring excluded."""
    if not shell.any():
        return shell
    closed = close_mm(shell, _SHELL_CLOSING_MM, spacing_mm)
    return fill_holes_by_area(closed, spacing_mm, ((0.0, MARROW_MAX_MM2),)) & ~closed


def _local_mean_and_sd(hu: np.ndarray, grid: _CoarseGrid) -> tuple[np.ndarray, np.ndarray]:
    """Mean and standard deviation (HU) of the CT over about 5 mm in-plane, on the coarse grid.

    Block means of HU and HU² averaged over odd windows of blocks give exact
    moments of the fine voxels under the window.
    """
    size = [1] + [max(3, int(_TEXTURE_WINDOW_MM / s) // 2 * 2 + 1) for s in grid.spacing_mm[1:]]
    mean = ndimage.uniform_filter(grid.mean(hu), size)
    variance = ndimage.uniform_filter(grid.mean(hu * hu), size)
    variance -= mean * mean
    return mean, np.sqrt(np.maximum(variance, 0.0, out=variance), out=variance)


def _blood_pools(hu: np.ndarray, body: np.ndarray, enclosed: np.ndarray, grid: _CoarseGrid,
                 bone_hu: float, blood_max_hu: float, blood_sd_hu: float) -> np.ndarray:
    """Homogeneous, thick, enhanced regions with their rims, on the coarse grid.

    ``enclosed`` (coarse) is the marrow enclosed by a cortical ring, never a pool.
    """
    mean, sd = _local_mean_and_sd(hu, grid)
    smooth = (grid.coarsen(body, majority=True) & ~enclosed & (sd <= blood_sd_hu)
              & (mean >= bone_hu) & (mean <= blood_max_hu))
    del mean, sd
    cores = open_mm(smooth, _POOL_CORE_MM, grid.spacing_mm) | _vessel_cores(smooth, grid)
    if not cores.any():
        return cores
    pools = close_mm(dilate_mm(cores, _POOL_RIM_MM, grid.spacing_mm), _POOL_GAP_MM,
                     grid.spacing_mm)
    return fill_holes_by_area(pools, grid.spacing_mm, ((0.0, math.inf),)) & ~enclosed


def _vessel_cores(smooth: np.ndarray, grid: _CoarseGrid) -> np.ndarray:
    """Cores of narrow vessels (coarse grid): smooth discs that continue along the scan.

    A smooth patch of trabecular bone ends within a slice or two; the lumen
    of an artery or vein running along the body goes on.
    """
    discs = open_mm(smooth, _VESSEL_CORE_MM, (APART_MM, *grid.spacing_mm[1:]))
    return ndimage.binary_opening(discs, np.ones((_VESSEL_SLICES, 1, 1), dtype=bool))


def _mixing_cavities(bright: np.ndarray, air: np.ndarray, enclosed: np.ndarray, canal,
                     grid: _CoarseGrid) -> np.ndarray:
    """Heart-like regions (coarse grid): too thick for bone but a vertebral body, air either side.

    ``air`` is the air inside the body (lungs, airways, gut gas).
    """
    in_plane = (APART_MM, *grid.spacing_mm[1:])
    thick = open_mm(close_mm(bright, 1.0, in_plane), _CAVITY_RADIUS_MM, in_plane)
    thick &= ~enclosed & _between_air(air, grid.lateral_axis)
    if canal is not None:
        thick &= ~_near_canal(canal, grid, _SPINE_RADIUS_MM)
    if not thick.any():
        return thick
    return dilate_mm(thick, _POOL_RIM_MM, grid.spacing_mm) & ~enclosed


def _between_air(air: np.ndarray, axis: int) -> np.ndarray:
    """Voxels with air somewhere on both sides along ``axis`` within their row."""
    before = np.logical_or.accumulate(air, axis=axis)
    after = np.flip(np.logical_or.accumulate(np.flip(air, axis=axis), axis=axis), axis=axis)
    return before & after


def _undiluted_contrast(hu: np.ndarray, body: np.ndarray, shell: np.ndarray, spacing_mm,
                        contrast_hu: float) -> np.ndarray:
    """Voxels above ``contrast_hu`` and the bright region connected to them nearby, with a rim.

    The region is followed within _CONTRAST_REACH_MM of the seeds' box,
    through a lumen at least 2 _CONTRAST_LUMEN_MM wide in-plane (thinner
    cortex is not followed) and never through ``shell``, the cortical rings
    around enclosed marrow; so a vein lying on a bone takes little of it along.
    """
    contrast = body & (hu >= contrast_hu)
    if not contrast.any():
        return contrast
    margin = tuple(int(math.ceil(_CONTRAST_REACH_MM / s)) for s in spacing_mm)
    box = bounding_box(contrast, margin)
    connected = body[box] & (hu[box] >= min(_CONTRAST_CONNECTED_HU, contrast_hu)) & ~shell[box]
    lumen = open_mm(connected, _CONTRAST_LUMEN_MM, (APART_MM, *spacing_mm[1:]))
    labels, _ = component_labels(contrast[box] | lumen)
    touched = np.unique(labels[contrast[box]])
    contrast[box] = np.isin(labels, touched[touched > 0])
    return dilate_mm(contrast, _CONTRAST_RIM_MM, spacing_mm)


# -- the coarse grid and the patient's directions in it -----------------------------


class _CoarseGrid:
    """An in-plane block grid of about 1.5 mm over an axial Volume, with its patient axes."""

    def __init__(self, ct: Volume):
        self.fine_shape = ct.shape
        self.fine_spacing_mm = tuple(float(s) for s in ct.spacing_mm)
        self.factor = max(1, int(_COARSE_PIXEL_MM // min(self.fine_spacing_mm[1:])))
        f = self.factor
        self.shape = (ct.shape[0], -(-ct.shape[1] // f), -(-ct.shape[2] // f))
        self.spacing_mm = (self.fine_spacing_mm[0], f * self.fine_spacing_mm[1],
                           f * self.fine_spacing_mm[2])
        # world (x, y) mm per coarse in-plane step: LPS +x is left, +y posterior
        steps = np.asarray(ct.direction)[:2, 1:] * np.asarray(self.spacing_mm[1:])
        self.left_per_step, self.posterior_per_step = steps[0], steps[1]
        self.lateral_axis = 1 + int(np.argmax(np.abs(steps[0])))

    def _block_parts(self, array: np.ndarray):
        """The f² strided sub-arrays of ``array``, one per position in a block."""
        f = self.factor
        return [array[:, dy::f, dx::f] for dy in range(f) for dx in range(f)]

    def _block_sum(self, array: np.ndarray, dtype) -> np.ndarray:
        total = np.zeros(self.shape, dtype=dtype)
        for part in self._block_parts(array):
            total[:, :part.shape[1], :part.shape[2]] += part
        return total

    def coarsen(self, mask: np.ndarray, *, majority: bool = False) -> np.ndarray:
        """A block is set when any of its voxels is (or, with ``majority``, at least half)."""
        if self.factor == 1:
            return mask.copy()
        if majority:
            return self._block_sum(mask, np.uint8) * 2 >= self._block_sum(
                np.ones(mask.shape[1:], bool)[None], np.uint8)
        coarse = np.zeros(self.shape, dtype=bool)
        for part in self._block_parts(mask):
            coarse[:, :part.shape[1], :part.shape[2]] |= part
        return coarse

    def mean(self, hu: np.ndarray) -> np.ndarray:
        """Block means of a CT (edge blocks averaged over the voxels they hold)."""
        if self.factor == 1:
            return hu
        count = self._block_sum(np.ones(hu.shape[1:], np.float32)[None], np.float32)
        return self._block_sum(hu, np.float32) / count

    def refine(self, coarse: np.ndarray) -> np.ndarray:
        """A coarse mask on the fine grid (each voxel takes its block's value)."""
        if self.factor == 1:
            return coarse
        f = self.factor
        fine = np.repeat(np.repeat(coarse, f, axis=1), f, axis=2)
        return fine[:, :self.fine_shape[1], :self.fine_shape[2]]

    def posterior_mm(self, rows, cols):
        """Posterior coordinate (mm, up to a constant) of coarse in-plane positions."""
        return rows * self.posterior_per_step[0] + cols * self.posterior_per_step[1]

    def left_mm(self, rows, cols):
        """Left coordinate (mm, up to a constant) of coarse in-plane positions."""
        return rows * self.left_per_step[0] + cols * self.left_per_step[1]


# -- the spinal canal ---------------------------------------------------------------


def _median_centres(mask: np.ndarray) -> np.ndarray:
    """(row, col) median position of ``mask`` in each slice, NaN where it holds none."""
    centres = np.full((mask.shape[0], 2), np.nan)
    for k in np.nonzero(mask.any(axis=(1, 2)))[0]:
        rows, cols = np.nonzero(mask[k])
        centres[k] = np.median(rows), np.median(cols)
    return centres


def _canal_from_bright(bright: np.ndarray, hu: np.ndarray,
                       grid: _CoarseGrid) -> np.ndarray | None:
    """The canal's path (coarse grid) in the bright voxels, closed across the arch's gaps."""
    closed = close_mm(bright, _CANAL_CLOSING_MM, grid.spacing_mm)
    return _canal_path(closed, hu, grid, _median_centres(closed))


def _canal_path(bone: np.ndarray, hu: np.ndarray, grid: _CoarseGrid,
                midline: np.ndarray) -> np.ndarray | None:
    """(row, col) of the spinal canal's centre in each slice, or None when never seen.

    In a slice the canal is the hindmost hole in ``bone`` with a canal's area
    and fluid-like CT numbers, not far in front of the slice's ``midline``
    centre and near it left–right. A centre found more than _CANAL_JUMP_MM
    from the median of those found in the slices around (a stray hole taken
    for the canal) is dropped; the rest are interpolated over the slices
    between.
    """
    found = np.full((bone.shape[0], 2), np.nan)
    for k in np.nonzero(bone.any(axis=(1, 2)) & ~np.isnan(midline[:, 0]))[0]:
        found[k] = _canal_in_slice(bone[k], hu[k], grid, midline[k])
    good = _consistent_along_scan(found, grid)
    if not good.any():
        return None
    slices = np.arange(bone.shape[0])
    return np.stack([np.interp(slices, slices[good], found[good, i]) for i in range(2)], axis=1)


def _consistent_along_scan(found: np.ndarray, grid: _CoarseGrid) -> np.ndarray:
    """Slices whose (row, col) lies within _CANAL_JUMP_MM of the local median of ``found``."""
    seen = ~np.isnan(found[:, 0])
    half = _CANAL_WINDOW_SLICES // 2
    good = np.zeros(seen.shape, dtype=bool)
    pixel_mm = np.asarray(grid.spacing_mm[1:])
    for k in np.nonzero(seen)[0]:
        window = found[max(k - half, 0):k + half + 1]
        median = np.nanmedian(window, axis=0)
        good[k] = np.hypot(*((found[k] - median) * pixel_mm)) <= _CANAL_JUMP_MM
    return good


def _canal_in_slice(bone: np.ndarray, hu: np.ndarray, grid: _CoarseGrid, midline) -> tuple:
    """(row, col) of the canal in one slice, or (NaN, NaN).

    Of the holes that fit, the hindmost: a vertebral body's marrow lies in front.
    """
    holes = fill_voids.fill(bone) & ~bone
    labels, count = ndimage.label(holes)
    if count == 0:
        return (math.nan, math.nan)
    flat = labels.ravel()
    counts = np.bincount(flat)[1:]
    areas = counts * grid.spacing_mm[1] * grid.spacing_mm[2]
    means = np.bincount(flat, weights=hu.ravel())[1:] / counts
    rows, cols = np.indices(labels.shape)
    where = np.stack([np.bincount(flat, weights=index.ravel())[1:] / counts
                      for index in (rows, cols)], axis=1)
    offset = where - np.asarray(midline)
    posterior = grid.posterior_mm(offset[:, 0], offset[:, 1])
    aside = np.abs(grid.left_mm(offset[:, 0], offset[:, 1]))
    fits = ((areas >= _CANAL_AREA_MM2[0]) & (areas <= _CANAL_AREA_MM2[1])
            & (means <= _CANAL_MAX_HU) & (posterior > -_CANAL_FRONT_MM)
            & (aside <= _CANAL_MIDLINE_MM))
    if not fits.any():
        return (math.nan, math.nan)
    return tuple(where[np.argmax(np.where(fits, posterior, -np.inf))])


def _canal_offsets_mm(canal: np.ndarray, grid: _CoarseGrid):
    """Per slice, the (left, posterior) offsets (mm) of the coarse voxels from the canal."""
    rows, cols = np.indices(grid.shape[1:], dtype=np.float32)
    left, posterior = grid.left_mm(rows, cols), grid.posterior_mm(rows, cols)
    for row, col in canal:
        yield left - grid.left_mm(row, col), posterior - grid.posterior_mm(row, col)


def _near_canal(canal: np.ndarray, grid: _CoarseGrid, radius_mm: float) -> np.ndarray:
    """Coarse voxels within ``radius_mm`` (in their axial slice) of the canal's centre."""
    return np.stack([left * left + posterior * posterior <= radius_mm ** 2
                     for left, posterior in _canal_offsets_mm(canal, grid)])


def _sternum_strip(canal: np.ndarray, grid: _CoarseGrid) -> np.ndarray:
    """Coarse voxels of the midline strip in front of the spine, where the sternum lies."""
    return np.stack([(np.abs(left) <= _STERNUM_HALF_WIDTH_MM)
                     & (posterior <= -_STERNUM_MIN_DEPTH_MM)
                     for left, posterior in _canal_offsets_mm(canal, grid)])


def _near_enclosed_air(air: np.ndarray, grid: _CoarseGrid) -> np.ndarray:
    """Coarse voxels within _RIB_AIR_DISTANCE_MM of air enclosed by tissue in its slice."""
    enclosed = np.zeros_like(air)
    for k in np.nonzero(air.any(axis=(1, 2)))[0]:
        enclosed[k] = fill_voids.fill(~air[k]) & air[k]
    return dilate_mm(enclosed, _RIB_AIR_DISTANCE_MM, grid.spacing_mm)


# -- small helpers ------------------------------------------------------------------


def _check_volume(ct) -> None:
    if not isinstance(ct, Volume):
        raise TypeError(f"ct must be a hounsfield Volume, got {type(ct).__name__}")


def _checked_mask(mask, name: str, shape) -> np.ndarray:
    mask = np.asarray(mask)
    if mask.shape != tuple(shape):
        raise ValueError(f"{name} must be a mask of the CT's shape {tuple(shape)}, "
                         f"got shape {mask.shape}")
    if mask.dtype != bool and not np.isin(mask, (0, 1)).all():
        raise ValueError(f"{name} must be a boolean (0/1) mask, got values other than 0 and 1")
    return mask.astype(bool, copy=False)


def _checked_number(value, name: str, *, minimum: float | None = None) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        number = math.nan
    expected = "a finite number" + ("" if minimum is None else f" >= {minimum:g}")
    if not math.isfinite(number) or (minimum is not None and number < minimum):
        raise ValueError(f"{name} must be {expected}, got {value!r}")
    return number


def _checked_levels(**levels) -> dict[str, float]:
    """The CT-number thresholds (HU) as floats, finite and each above the one before."""
    checked: dict[str, float] = {}
    for name, value in levels.items():
        number = _checked_number(value, name)
        if checked and number <= max(checked.values()):
            previous = list(checked)[-1]
            raise ValueError(f"{name} must be above {previous} ({checked[previous]:g} HU), "
                             f"got {value!r}")
        checked[name] = number
    return checked
