"""Left and right lungs of a chest CT, without trachea and main bronchi, vessels included."""

from __future__ import annotations

import warnings

import numpy as np
from scipy import ndimage

from ..errors import HounsfieldWarning
from ..volume import Volume
from ._morphology import (
    _ball_rows,
    _distance_inside_mm,
    bounding_box,
    close_mm,
    closer_to_first,
    component_labels,
    dilate_mm,
    erode_mm,
    fill_holes_per_slice,
)
from .body import segment_body

__all__ = ["segment_lungs"]

#: Cross-section (mm²) of an air tube counted as trachea or main bronchus.
_AIRWAY_AREA_MM2 = (30.0, 900.0)
#: Largest distance (mm) from the body's midline of the trachea where it is first seen.
_TRACHEA_MIDLINE_MM = 30.0
#: How far (mm) below the carina the main bronchi are followed.
_BRONCHUS_LENGTH_MM = 30.0
#: Rim (mm) around the tracked airway lumen removed with it: its partial-volume wall.
_AIRWAY_WALL_MM = 1.5
#: Ever stricter air thresholds (HU) that separate the airway from a lung behind a thin wall.
_STRICTER_AIR_HU = (np.inf, -700.0, -850.0, -930.0)


def segment_lungs(ct: Volume, *, air_threshold_hu: float = -450.0, min_lung_ml: float = 50.0,
                  island_gap_mm: float = 2.0, min_island_ml: float = 0.1,
                  closing_radius_mm: float = 3.0,
                  body: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Boolean masks of the patient's left and right lungs.

    Air-like voxels inside the body (below ``air_threshold_hu``) are candidates.
    The trachea and main bronchi are tracked slice by slice from the top of the
    scan and removed; the two largest remaining components are the lungs (one
    merged component is split at its narrowest part), each is assigned to a side
    by its world x (patient left is +x in LPS), vessels are filled in per axial
    slice and by a closing, and small islands near a lung's base are added to it.

    Parameters
    ----------
    ct : Volume
        Chest CT in Hounsfield units.
    air_threshold_hu : float
        Highest CT number (HU) counted as aerated lung.
    min_lung_ml : float
        Smallest volume (ml) of a component accepted as a lung.
    island_gap_mm : float
        Largest gap (mm) between a lung and a separate island that joins it.
    min_island_ml : float
        Smallest island (ml) kept.
    closing_radius_mm : float
        Radius (mm) of the closing that brings in vessels at the lung surface.
    body : numpy.ndarray, optional
        Body mask from :func:`segment_body`; computed when not given.

    Returns
    -------
    left, right : numpy.ndarray
        bool masks of ``ct.shape``; both empty (with a HounsfieldWarning) when
        no lungs are found.

    Examples
    --------
    >>> from hounsfield.data.anatomy import thorax_phantom
    >>> ct, labels = thorax_phantom(shape=(48, 64, 64), spacing_mm=(6.0, 5.0, 5.0))
    >>> left, right = segment_lungs(ct)
    >>> bool(left.any() and right.any()), bool((left & right).any())
    (True, False)
    """
    if body is None:
        body = segment_body(ct)
    left, right = np.zeros(ct.shape, dtype=bool), np.zeros(ct.shape, dtype=bool)
    lungs = None
    if body.any():
        box = bounding_box(body)
        lower, upper = [b.start for b in box], [b.stop for b in box]
        lungs = _lungs_in_body(ct.crop(lower, upper), body[box], air_threshold_hu,
                               min_lung_ml, island_gap_mm, min_island_ml, closing_radius_mm)
    if lungs is None:
        warnings.warn("no lungs found: returning empty lung masks", HounsfieldWarning,
                      stacklevel=2)
        return left, right
    left[box], right[box] = lungs
    return left, right


def _lungs_in_body(ct: Volume, body: np.ndarray, air_threshold_hu, min_lung_ml, island_gap_mm,
                   min_island_ml, closing_radius_mm):
    """(left, right) on a CT cropped to the body, or None when no lung is found."""
    hu = np.asarray(ct.array)
    spacing = ct.spacing_mm
    air = (hu < air_threshold_hu) & erode_mm(body, 2.0, spacing)
    airway = _trachea_and_main_bronchi(air, hu, ct, body)
    airway = dilate_mm(airway, _AIRWAY_WALL_MM, spacing)
    air &= ~airway
    lungs = _two_lungs(air, ct, min_lung_ml)
    if lungs is None:
        return None
    midline_x_mm = _world_x_mm(ct, _centre_index(body))
    left, right = _by_side(*lungs, ct, midline_x_mm)
    left, right = _add_islands(air, left, right, ct, island_gap_mm, min_island_ml)
    left = _with_vessels(left, right | airway, spacing, closing_radius_mm)
    right = _with_vessels(right, left | airway, spacing, closing_radius_mm)
    return left, right


def _centre_index(mask: np.ndarray) -> tuple[float, ...]:
    """Mean (z, y, x) index of a non-empty 3D mask's voxels (its centre of mass).

    Weighted sums of the mask's profiles along each axis, read off two passes
    over the mask (``scipy.ndimage.center_of_mass`` builds an index grid per axis).
    """
    plane = np.count_nonzero(mask, axis=0)
    profiles = (np.count_nonzero(mask, axis=(1, 2)), plane.sum(axis=1), plane.sum(axis=0))
    total = profiles[0].sum()
    return tuple(float(profile @ np.arange(profile.size)) / total for profile in profiles)


def _superior_slice_order(ct: Volume) -> np.ndarray:
    """Axial slice indices from the head down (world z, LPS: superior is +z)."""
    top = ct.index_to_world(np.array([ct.shape[0] - 1, 0, 0]))[2]
    bottom = ct.index_to_world(np.array([0, 0, 0]))[2]
    order = np.arange(ct.shape[0])
    return order[::-1] if top > bottom else order


def _world_x_mm(ct: Volume, index_zyx) -> float:
    """World x (mm, LPS: + is patient left) of a (z, y, x) index, fractional allowed."""
    return float(ct.index_to_world(np.asarray(index_zyx, dtype=float))[0])


def _trachea_seed(air: np.ndarray, ct: Volume, body: np.ndarray, order: np.ndarray):
    """(slice position in ``order``, 2D mask) of the trachea where it is first seen from the top."""
    pixel_mm2 = ct.spacing_mm[1] * ct.spacing_mm[2]
    for position, k in enumerate(order[: max(len(order) // 2, 1)]):
        if not body[k].any():
            continue
        body_x = _world_x_mm(ct, (k, *ndimage.center_of_mass(body[k])))
        labels, count = ndimage.label(air[k])
        if count == 0:
            continue
        ids = np.arange(1, count + 1)
        areas = ndimage.sum_labels(air[k], labels, ids) * pixel_mm2
        centres = np.array(ndimage.center_of_mass(air[k], labels, ids)).reshape(-1, 2)
        xs = np.array([_world_x_mm(ct, (k, *centre)) for centre in centres])
        tube_like = ((areas >= _AIRWAY_AREA_MM2[0]) & (areas <= _AIRWAY_AREA_MM2[1])
                     & (np.abs(xs - body_x) <= _TRACHEA_MIDLINE_MM))
        if tube_like.any():
            return position, labels == ids[tube_like][np.argmax(areas[tube_like])]
    return None


def _trachea_and_main_bronchi(air: np.ndarray, hu: np.ndarray, ct: Volume,
                              body: np.ndarray) -> np.ndarray:
    """Mask of the trachea and main bronchi, followed down slice by slice from the top.

    In each axial slice the airway is the set of tube-sized 2D air components that
    overlap the airway of the slice above. Where a thin wall lets the tube merge
    with a lung at the air threshold, stricter thresholds are tried in turn (the
    lumen is near −1000 HU, a partial-volume wall is not). Tracking stops
    ``_BRONCHUS_LENGTH_MM`` below the carina (the first slice with two tubes).
    """
    airway = np.zeros(air.shape, dtype=bool)
    order = _superior_slice_order(ct)
    seed = _trachea_seed(air, ct, body, order)
    if seed is None:
        return airway
    start, current = seed
    airway[order[start]] = current
    below_carina_mm = None
    for k in order[start + 1:]:
        tubes = _tube_components(air[k], hu[k], current, ct.spacing_mm)
        if tubes is None:
            break
        current, tube_count = tubes
        airway[k] = current
        if below_carina_mm is None and tube_count >= 2:
            below_carina_mm = 0.0
        elif below_carina_mm is not None:
            below_carina_mm += ct.spacing_mm[0]
            if below_carina_mm >= _BRONCHUS_LENGTH_MM:
                break
    return airway


def _tube_components(air_slice: np.ndarray, hu_slice: np.ndarray, previous: np.ndarray,
                     spacing_mm):
    """(2D mask, number of tubes) of the air tubes overlapping ``previous``, or None."""
    pixel_mm2 = spacing_mm[1] * spacing_mm[2]
    largest_mm2 = min(_AIRWAY_AREA_MM2[1], 2.0 * previous.sum() * pixel_mm2 + 100.0)
    for threshold_hu in _STRICTER_AIR_HU:
        candidate = air_slice & (hu_slice < threshold_hu)
        labels, _ = ndimage.label(candidate)
        touched = np.unique(labels[previous])
        touched = touched[touched > 0]
        if touched.size == 0:
            return None
        areas = np.bincount(labels.ravel())[touched] * pixel_mm2
        if areas.max() <= largest_mm2:
            tube_count = int(np.count_nonzero(areas >= _AIRWAY_AREA_MM2[0]))
            return np.isin(labels, touched), tube_count
    return None


def _two_lungs(air: np.ndarray, ct: Volume, min_lung_ml: float):
    """The two main lung components of ``air`` (the second may be empty), or None."""
    labels, counts = component_labels(air)
    min_voxels = min_lung_ml / ct.voxel_volume_ml
    largest = np.argsort(counts)[::-1][:2]
    if counts[largest[0]] < min_voxels:
        return None
    if len(largest) == 2 and counts[largest[1]] >= max(min_voxels, 0.2 * counts[largest[0]]):
        return labels == largest[0], labels == largest[1]
    return _split_merged_lungs(labels == largest[0], ct.spacing_mm)


def _by_side(first: np.ndarray, second: np.ndarray, ct: Volume, midline_x_mm: float):
    """(left, right): the mask whose centre has the larger world x is the patient's left.

    A lone lung (``second`` empty) goes to the side of the body's midline it lies on.
    """
    x_first = _world_x_mm(ct, _centre_index(first))
    x_second = (_world_x_mm(ct, _centre_index(second)) if second.any()
                else 2 * midline_x_mm - x_first)
    return (first, second) if x_first > x_second else (second, first)


def _split_merged_lungs(merged: np.ndarray, spacing_mm, step_mm: float = 2.0,
                        max_radius_mm: float = 30.0):
    """Split one component holding both lungs at its narrowest junction.

    The mask is eroded by growing radii until two large cores appear; every voxel
    of the mask then takes the label of its nearest core.
    """
    box = bounding_box(merged)
    crop = merged[box]
    cores = _two_cores(crop, spacing_mm, step_mm, max_radius_mm)
    if cores is None:
        return merged, np.zeros_like(merged)
    to_first = closer_to_first(*cores, spacing_mm, where=crop)
    first, second = np.zeros_like(merged), np.zeros_like(merged)
    first[box] = to_first
    second[box] = crop & ~to_first
    return first, second


def _two_cores(mask: np.ndarray, spacing_mm, step_mm: float, max_radius_mm: float):
    """The two largest parts of ``mask`` eroded by the smallest radius that parts it, or None.

    Radii grow by ``step_mm``; the smaller part must hold a tenth of the larger.
    Small radii erode row by row; from the first radius that does not, one
    distance transform serves all the rest.
    """
    depth_mm = None
    for radius in np.arange(step_mm, max_radius_mm + step_mm, step_mm):
        if depth_mm is None and _ball_rows(radius, spacing_mm) is None:
            depth_mm = _distance_inside_mm(mask, spacing_mm, edge_is_outside=True)
        deep = (erode_mm(mask, radius, spacing_mm, edge_is_outside=True) if depth_mm is None
                else depth_mm > radius)
        labels, counts = component_labels(deep)
        largest = np.argsort(counts)[::-1][:2]
        if len(largest) == 2 and counts[largest[1]] >= 0.1 * counts[largest[0]] > 0:
            return labels == largest[0], labels == largest[1]
    return None


def _add_islands(air: np.ndarray, left: np.ndarray, right: np.ndarray,
                 ct: Volume, gap_mm: float, min_island_ml: float):
    """Join to each lung the separate islands of lung within ``gap_mm`` of it (e.g. at the bases).

    The gap must stay below the thickness of the diaphragm: bowel gas under it
    reads like lung (median about −880 HU in the example CT, colon at 5 mm).
    """
    candidates = air & ~left & ~right
    labels, counts = component_labels(candidates)
    ids = np.nonzero(counts >= max(min_island_ml / ct.voxel_volume_ml, 1))[0]
    if ids.size == 0:
        return left, right
    near_left = dilate_mm(left, gap_mm, ct.spacing_mm) & candidates
    near_right = dilate_mm(right, gap_mm, ct.spacing_mm) & candidates
    join_left = np.intersect1d(np.unique(labels[near_left]), ids)
    join_right = np.setdiff1d(np.intersect1d(np.unique(labels[near_right]), ids), join_left)
    return left | np.isin(labels, join_left), right | np.isin(labels, join_right)


def _with_vessels(lung: np.ndarray, forbidden: np.ndarray, spacing_mm,
                  closing_radius_mm: float) -> np.ndarray:
    """The lung with its vessels: holes filled per axial slice, then a small closing.

    A closing of a few mm spans the gaps of vessels at the lung surface but not
    the mediastinum; it works inside the lung's bounding box and never takes
    voxels of ``forbidden`` (the other lung, the airway).
    """
    if not lung.any():
        return lung
    margin = tuple(int(np.ceil(closing_radius_mm / s)) + 1 for s in spacing_mm)
    box = bounding_box(lung, margin)
    allowed = ~forbidden[box]
    closed = close_mm(lung[box], closing_radius_mm, spacing_mm) & allowed
    # Outside the box all is background, open to the slice's edge: filling the box is enough.
    with_vessels = np.zeros_like(lung)
    with_vessels[box] = fill_holes_per_slice(closed) & allowed
    return with_vessels
