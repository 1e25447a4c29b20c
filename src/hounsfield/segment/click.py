"""Click-to-segment: a 3D mask of the structure under one or more clicks.

Each click grows a region on a lightly smoothed copy of the image: voxels
connected to the click (6-connectivity) whose CT number lies in an adaptive
range, no farther than ``max_radius_mm`` from it. The range starts as the
CT number around the click ± ``tolerance_sd`` noise standard deviations and
is then refined: wherever the shell of tissue just outside the region holds
a distinct darker (or brighter) class, that side of the range moves to the
midpoint between the click's CT number and that class's — the half-way
contour, where partial volume puts an edge. Where the classes stand far
apart compared with the noise (a nodule in lung), the final region is grown
on the raw image, free of the smoothing's pull on curved outlines.

Leak control: a region that reaches ``max_radius_mm`` from its click has
escaped into a larger structure (a lesion touching a vessel or organ of
similar density). A starting range that leaks is tightened first (noise
bridges to a neighbour of nearly the same CT number); a refined region that
still leaks is opened by ever larger balls (mm) until the part that holds the
click stops reaching the limit: the opening cuts the thin bridge, and the
other side is dropped. A region that no opening cuts (a click in an organ
larger than the reach) is kept, clipped at the limit, with a warning.

Exclude clicks: the region is split between include and exclude clicks by a
watershed of its distance-to-edge map, so the cut falls on the narrowest
connection; the part flooded from an exclude click is removed.
"""

from __future__ import annotations

import numbers
import warnings
from dataclasses import dataclass

import cc3d
import edt
import fill_voids
import numpy as np
from scipy import ndimage
from skimage.segmentation import watershed

from ..errors import HounsfieldWarning
from ..volume import Volume
from ._morphology import dilate_mm

__all__ = ["click"]

#: Scale from the median absolute deviation to the standard deviation of a normal sample.
_MAD_TO_SD = 1.4826
#: Default Gaussian smoothing (sd, voxels, each axis): the same noise reduction on any grid.
_SMOOTHING_VOXELS = 0.6
#: Fewest voxels of a click's seed ball.
_MIN_BALL_VOXELS = 19
#: The noise is measured within this many seed-ball radii of a click.
_NOISE_REACH = 3.0
#: Steps of the search for the CT number's mode around a click.
_MODE_STEPS = 8
#: Refinements of the HU range at most (each regrows the region).
_MAX_REFINEMENTS = 6
#: A range bound that moves less than this (HU) has converged.
_CONVERGED_HU = 0.5
#: Share of the outer shell a darker or brighter class must fill to set a bound.
_CLASS_SHARE = 0.1
#: Factors that tighten a starting HU range that leaks, in turn.
_TIGHTER_TOLERANCE = (0.7, 0.5)
#: Openings stop below this share of the click's inscribed radius (the click must survive).
_OPENING_REACH = 0.8


@dataclass(frozen=True)
class _Crop:
    """The image around the clicks, raw and smoothed (HU), with what the smoothing did.

    ``smoothing_mm`` is its largest standard deviation (mm); ``noise_gain``
    and ``residual_gain`` are the factors by which it scales the standard
    deviation of white noise in the smoothed image and in the residual
    ``hu - smooth``.
    """

    hu: np.ndarray
    smooth: np.ndarray
    spacing_mm: tuple[float, float, float]
    smoothing_mm: float
    noise_gain: float
    residual_gain: float


def click(volume: Volume, points_mm, *, exclude_points_mm=(), max_radius_mm: float = 60.0,
          tolerance_sd: float = 3.0, seed_radius_mm: float = 3.0,
          smoothing_mm: float | None = None,
          min_sd_hu: float = 5.0, leak_control: bool = True) -> np.ndarray:
    """Segment the structure under one or more clicks, as interactive tools do.

    Parameters
    ----------
    volume : Volume
        CT in HU.
    points_mm : (3,) or (n, 3) array_like
        Include clicks, LPS world (x, y, z) in mm, inside the structure.
    exclude_points_mm : (3,) or (m, 3) array_like
        Exclude clicks on parts that were wrongly included; the part of the
        region nearer to them (across its narrowest connection) is removed.
    max_radius_mm : float
        No voxel farther than this (mm) from every include click is taken.
    tolerance_sd : float
        Half-width of the starting HU range, in noise standard deviations
        of the smoothed image.
    seed_radius_mm : float
        Radius (mm) of the ball around each click whose median is its CT
        number (widened to hold 19 voxels on a coarse grid). The noise is
        measured within three times that radius.
    smoothing_mm : float, optional
        Standard deviation (mm) of the Gaussian smoothing applied before
        growing. Default: 0.6 voxel along each axis, which reduces white
        noise alike on any grid; a larger one pulls the half-way contour of
        a curved outline inward (by about ``smoothing_mm² / radius``).
    min_sd_hu : float
        Floor (HU) of the noise standard deviation (noise-free images).
    leak_control : bool
        Cut a region that reaches ``max_radius_mm`` at its thinnest bridge.

    Returns
    -------
    numpy.ndarray
        bool mask of ``volume.shape``, holes filled; every component holds
        an include click.

    Raises
    ------
    ValueError
        A click outside the volume's grid (the message names the click and the
        grid's world extent), or a parameter out of range.

    Examples
    --------
    >>> z, y, x = np.mgrid[:20, :20, :20]
    >>> sphere = (z - 10) ** 2 + (y - 10) ** 2 + (x - 10) ** 2 <= 20
    >>> ct = Volume(np.where(sphere, 40.0, -850.0).astype(np.float32))
    >>> mask = click(ct, (10.0, 10.0, 10.0))
    >>> bool((mask == sphere).all())
    True
    """
    if not isinstance(volume, Volume):
        raise TypeError(f"volume must be a hounsfield Volume, got {type(volume).__name__}")
    include = _checked_points(points_mm, volume, "points_mm", allow_empty=False)
    exclude = _checked_points(exclude_points_mm, volume, "exclude_points_mm", allow_empty=True)
    max_radius_mm = _positive(max_radius_mm, "max_radius_mm")
    tolerance_sd = _positive(tolerance_sd, "tolerance_sd")
    seed_radius_mm = _positive(seed_radius_mm, "seed_radius_mm")
    if smoothing_mm is not None:
        smoothing_mm = _positive(smoothing_mm, "smoothing_mm", allow_zero=True)
    min_sd_hu = _positive(min_sd_hu, "min_sd_hu")

    include_idx = _voxel_indices(volume, include)
    exclude_idx = _voxel_indices(volume, exclude)
    box = _crop_box(include_idx, max_radius_mm, volume.spacing_mm, volume.shape)
    crop = _cropped(volume, box, smoothing_mm)
    offset = np.array([b.start for b in box])
    include_idx, exclude_idx = include_idx - offset, exclude_idx - offset
    include_at = volume.world_to_index(include) - offset  # fractional: reach from the click itself

    region = np.zeros(crop.hu.shape, dtype=bool)
    for seed, at in zip(include_idx, include_at, strict=True):
        region |= _grown_from_click(crop, seed, at, max_radius_mm, tolerance_sd, seed_radius_mm,
                                    min_sd_hu, leak_control)
    anchors = _anchors(region, include_idx, crop.spacing_mm, seed_radius_mm)
    region = _without_excluded(region, anchors, exclude_idx, crop.spacing_mm)
    mask = np.zeros(volume.shape, dtype=bool)
    mask[box] = _holding(fill_voids.fill(region), anchors)
    return mask


# -- input -------------------------------------------------------------------------------


def _positive(value, name: str, allow_zero: bool = False) -> float:
    ok = (not isinstance(value, bool) and isinstance(value, numbers.Real)
          and np.isfinite(value) and (value >= 0 if allow_zero else value > 0))
    if not ok:
        expected = "a finite number >= 0" if allow_zero else "a positive finite number"
        raise ValueError(f"{name} must be {expected}, got {value!r}")
    return float(value)


def _grid_extent_text(volume: Volume) -> str:
    """The world box (LPS mm) covered by the volume's voxels, edge to edge, as text."""
    corners = np.array(np.meshgrid(*[[-0.5, n - 0.5] for n in volume.shape]))
    world = volume.index_to_world(corners.reshape(3, -1).T)
    low, high = world.min(axis=0), world.max(axis=0)
    return ", ".join(f"{axis} {lo:.1f} to {hi:.1f}"
                     for axis, lo, hi in zip("xyz", low, high, strict=True)) + " mm (LPS)"


def _checked_points(points_mm, volume: Volume, name: str, allow_empty: bool) -> np.ndarray:
    """Points as an (n, 3) float array, each inside the volume's grid."""
    try:
        points = np.asarray(points_mm, dtype=float)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be LPS points (x, y, z) in mm, got {points_mm!r}") from None
    if points.size == 0 and allow_empty:
        return np.zeros((0, 3))
    points = points.reshape(-1, 3) if points.ndim == 1 and points.size == 3 else points
    if points.ndim != 2 or points.shape[1] != 3 or len(points) == 0:
        raise ValueError(f"{name} must be one point (x, y, z) or an (n, 3) array of points "
                         f"in mm, got shape {np.shape(points_mm)}")
    if not np.isfinite(points).all():
        raise ValueError(f"{name} must be finite, got {points.tolist()}")
    index = volume.world_to_index(points)
    outside = ((index < -0.5) | (index > np.asarray(volume.shape) - 0.5)).any(axis=1)
    if outside.any():
        n = int(np.argmax(outside))
        point = ", ".join(f"{c:.1f}" for c in points[n])
        raise ValueError(f"{name}[{n}] = ({point}) mm lies outside the volume, whose grid "
                         f"covers {_grid_extent_text(volume)}")
    return points


def _voxel_indices(volume: Volume, points: np.ndarray) -> np.ndarray:
    index = np.rint(volume.world_to_index(points)).astype(int).reshape(-1, 3)
    return np.clip(index, 0, np.asarray(volume.shape) - 1)


def _crop_box(indices: np.ndarray, radius_mm: float, spacing_mm, shape) -> tuple[slice, ...]:
    """The grid box holding every voxel within ``radius_mm`` of some click."""
    reach = np.ceil(radius_mm / np.asarray(spacing_mm)).astype(int) + 1
    low = np.maximum(indices.min(axis=0) - reach, 0)
    high = np.minimum(indices.max(axis=0) + reach + 1, shape)
    return tuple(slice(int(a), int(b)) for a, b in zip(low, high, strict=True))


def _noise_gains(sigmas_vox) -> tuple[float, float]:
    """Factors by which a Gaussian filter (scipy's sampled kernels) scales white noise's sd,
    in the smoothed image and in the residual (image - smoothed)."""
    centre_weight, sum_of_squares = 1.0, 1.0
    for sigma in sigmas_vox:
        if sigma <= 0:
            continue
        radius = int(4.0 * sigma + 0.5)
        kernel = np.exp(-0.5 * (np.arange(-radius, radius + 1) / sigma) ** 2)
        kernel /= kernel.sum()
        centre_weight *= float(kernel[radius])
        sum_of_squares *= float((kernel**2).sum())
    residual = max(1.0 - 2.0 * centre_weight + sum_of_squares, 0.0)
    return float(np.sqrt(sum_of_squares)), float(np.sqrt(residual))


def _cropped(volume: Volume, box, smoothing_mm: float | None) -> _Crop:
    hu = np.asarray(volume.array[box], dtype=np.float32)
    if smoothing_mm is None:
        sigmas = [_SMOOTHING_VOXELS] * 3
    else:
        sigmas = [smoothing_mm / s for s in volume.spacing_mm]
    smooth = ndimage.gaussian_filter(hu, sigmas, mode="nearest") if max(sigmas) > 0 else hu
    largest_mm = max(v * s for v, s in zip(sigmas, volume.spacing_mm, strict=True))
    return _Crop(hu, smooth, volume.spacing_mm, largest_mm, *_noise_gains(sigmas))


# -- growing from one click -----------------------------------------------------------------


def _distance_mm(shape, spacing_mm, seed) -> np.ndarray:
    """Euclidean distance (mm) of every voxel of a grid of ``shape`` from index ``seed``.

    ``seed`` may be fractional (a point between voxel centres).
    """
    axes = [((np.arange(n) - c) * s) ** 2 for n, c, s in zip(shape, seed, spacing_mm, strict=True)]
    return np.sqrt(axes[0][:, None, None] + axes[1][None, :, None] + axes[2][None, None, :])


def _noise_sd_hu(crop: _Crop, voxels: np.ndarray) -> float:
    """Standard deviation (HU) of the raw image's noise, from the residual ``hu - smooth``.

    The residual holds the noise and little of the anatomy, so a neighbourhood
    that crosses edges still gives it (median absolute deviation: robust to
    the few edge voxels). 0 without smoothing.
    """
    if crop.residual_gain < 1e-6:
        return 0.0
    residual = crop.hu[voxels] - crop.smooth[voxels]
    spread = float(np.median(np.abs(residual - np.median(residual))))
    return _MAD_TO_SD * spread / crop.residual_gain


def _connected(candidate: np.ndarray, seeds: np.ndarray) -> np.ndarray:
    """The 6-connected components of ``candidate`` that hold a voxel of ``seeds``."""
    labels = cc3d.connected_components(np.ascontiguousarray(candidate, dtype=np.uint8),
                                       connectivity=6)
    held = np.unique(labels[seeds & candidate])
    return np.isin(labels, held[held > 0])


def _outer_shell(region: np.ndarray, within: np.ndarray, spacing_mm,
                 gap_mm: float, width_mm: float) -> np.ndarray:
    """Voxels ``gap_mm`` to ``gap_mm + width_mm`` outside ``region``, inside ``within``."""
    if not region.any():
        return np.zeros_like(region)
    outside = edt.edt(np.ascontiguousarray(~region, dtype=np.uint8),
                      anisotropy=tuple(float(s) for s in spacing_mm), black_border=False,
                      parallel=0)
    return (outside > gap_mm) & (outside <= gap_mm + width_mm) & within


def _refined_bound(centre: float, bound: float, shell_values: np.ndarray, darker: bool) -> float:
    """Midpoint between ``centre`` and the class beyond ``bound`` in the shell, if it fills it."""
    beyond = shell_values[shell_values < bound] if darker else shell_values[shell_values > bound]
    if shell_values.size == 0 or beyond.size < _CLASS_SHARE * shell_values.size:
        return bound
    return 0.5 * (centre + float(np.median(beyond)))


@dataclass(frozen=True)
class _Click:
    """One include click on the crop: its distance map (mm), reach, seed ball and the wider
    neighbourhood where the noise is measured."""

    crop: _Crop
    seed: tuple[int, int, int]
    distance_mm: np.ndarray
    max_radius_mm: float
    ball: np.ndarray
    neighbourhood: np.ndarray

    @property
    def within(self) -> np.ndarray:
        return self.distance_mm <= self.max_radius_mm

    def grown(self, low_hu: float, high_hu: float, image: np.ndarray | None = None) -> np.ndarray:
        """Voxels in [low_hu, high_hu], within reach, connected to the seed ball.

        ``image`` is the smoothed one unless given. The clicked voxel is in the
        structure whatever its (noisy) CT number.
        """
        image = self.crop.smooth if image is None else image
        candidate = (image >= low_hu) & (image <= high_hu) & self.within
        candidate[self.seed] = True
        return _connected(candidate, self.ball)

    def reaches_limit(self, region: np.ndarray) -> bool:
        """True when ``region`` has leaked: it touches the sphere of ``max_radius_mm``, or the
        crop's faces (the volume's edge: the crop reaches beyond the sphere elsewhere)."""
        rim = self.distance_mm > self.max_radius_mm - max(self.crop.spacing_mm)
        faces = (region[0].any() or region[-1].any() or region[:, 0].any()
                 or region[:, -1].any() or region[:, :, 0].any() or region[:, :, -1].any())
        return bool(faces or (region & rim).any())


def _local_mode(values: np.ndarray, start: float, half_width: float) -> float:
    """The mode of ``values`` near ``start``: medians of the values within ``half_width``, iterated.

    The click's small ball gives a noisy start; the wider neighbourhood has
    many more voxels, and the window keeps other tissues in it out.
    """
    centre = start
    for _ in range(_MODE_STEPS):
        near = values[np.abs(values - centre) <= half_width]
        if near.size == 0:
            break
        moved = float(np.median(near))
        if abs(moved - centre) < _CONVERGED_HU:
            return moved
        centre = moved
    return centre


def _inscribed_ball(click_: _Click, region: np.ndarray) -> np.ndarray:
    """Voxels around the click at least a voxel inside the (hole-filled) region's outline."""
    spacing = click_.crop.spacing_mm
    depth_mm = edt.edt(np.ascontiguousarray(fill_voids.fill(region), dtype=np.uint8),
                       anisotropy=tuple(float(s) for s in spacing), black_border=True,
                       parallel=0)[click_.seed]
    return click_.ball | (click_.distance_mm <= depth_mm - max(spacing))


def _contained_start(click_: _Click, centre: float,
                     tolerance: float) -> tuple[np.ndarray, float]:
    """(region, factor) of the starting range, tightened by a factor while it leaks.

    A structure of similar CT number next to the clicked one joins it through
    noise: a tighter range often stops that. A structure that is really larger
    than the reach keeps the full range (factor 1).
    """
    region = click_.grown(centre - tolerance, centre + tolerance)
    if not click_.reaches_limit(region):
        return region, 1.0
    for factor in _TIGHTER_TOLERANCE:
        tighter = click_.grown(centre - factor * tolerance, centre + factor * tolerance)
        if not click_.reaches_limit(tighter):
            return tighter, factor
    return region, 1.0


def _adaptive_region(click_: _Click, tolerance_sd: float, min_sd_hu: float,
                     leak_control: bool) -> np.ndarray:
    """Region grown from a click, its HU range refined to the half-way contours.

    The noise comes from the click's wider neighbourhood; the CT number
    starts as the median of the raw image in its ball (no blur pulls it
    toward the surroundings) and moves to the mode of the neighbourhood's
    smoothed values near it. A first region that stays within reach gives
    the CT number again from the largest ball around the click inside it
    (many more voxels, none chosen by their CT number, so unbiased); it is
    then kept fixed, so the range cannot drift into a neighbour. Each
    refinement moves a side of the range that faces a distinct class of the
    outer shell to the midpoint between the two. Where the classes differ by
    much more than the raw image's noise, the region is finally grown on the
    raw image: smoothing pulls the half-way contour of a curved outline
    inward, and there it buys nothing.
    """
    crop = click_.crop
    noise_sd = _noise_sd_hu(crop, click_.neighbourhood)
    tolerance = tolerance_sd * max(noise_sd * crop.noise_gain, min_sd_hu)
    centre = _local_mode(crop.smooth[click_.neighbourhood],
                         float(np.median(crop.hu[click_.ball])), tolerance)
    factor = 1.0
    if leak_control:
        region, factor = _contained_start(click_, centre, tolerance)
    else:
        region = click_.grown(centre - tolerance, centre + tolerance)
    tolerance *= factor
    if not click_.reaches_limit(region):
        centre = float(np.median(crop.hu[_inscribed_ball(click_, region)]))
        region = click_.grown(centre - tolerance, centre + tolerance)
    region, bounds = _refined(click_, region, centre, tolerance)
    if factor < 1.0:  # a tightened range: keep away from the neighbour it leaked into
        return region
    return _sharpened(click_, region, centre, bounds, tolerance_sd * max(noise_sd, min_sd_hu))


def _refined(click_: _Click, region: np.ndarray, centre: float, tolerance: float):
    """(region, (low, high)) after the refinements; a bound is None where no class faces it."""
    crop = click_.crop
    low, high = centre - tolerance, centre + tolerance
    faced = [False, False]
    largest_spacing = max(crop.spacing_mm)
    for _ in range(_MAX_REFINEMENTS):
        # Beyond the blur of the smoothing and of a voxel's partial volume, a class is pure.
        shell = _outer_shell(region, click_.within, crop.spacing_mm,
                             gap_mm=largest_spacing + 2.0 * crop.smoothing_mm,
                             width_mm=2.0 * largest_spacing)
        values = crop.smooth[shell]
        new_low = _refined_bound(centre, low, values, darker=True)
        new_high = _refined_bound(centre, high, values, darker=False)
        faced = [faced[0] or new_low != low, faced[1] or new_high != high]
        if abs(new_low - low) < _CONVERGED_HU and abs(new_high - high) < _CONVERGED_HU:
            break
        low, high = new_low, new_high
        region = click_.grown(low, high)
    return region, (low if faced[0] else None, high if faced[1] else None)


def _sharpened(click_: _Click, region: np.ndarray, centre: float, bounds,
               raw_tolerance: float) -> np.ndarray:
    """The region grown again on the raw image where its classes stand well clear of its noise.

    Each bound facing a class must lie ``raw_tolerance`` (HU) or more from
    the centre; an open side gets ``centre ± raw_tolerance``. A raw region
    that would leak where the smoothed one did not is not taken.
    """
    if any(b is not None and abs(b - centre) < raw_tolerance for b in bounds):
        return region
    low = centre - raw_tolerance if bounds[0] is None else bounds[0]
    high = centre + raw_tolerance if bounds[1] is None else bounds[1]
    sharp = click_.grown(low, high, image=click_.crop.hu)
    if click_.reaches_limit(sharp) and not click_.reaches_limit(region):
        return region
    return sharp


def _cut_leak(click_: _Click, region: np.ndarray) -> np.ndarray | None:
    """The click's part of the region after the smallest opening that stops the leak, or None.

    An opening by a ball of radius r is the erosion ``thickness > r``
    dilated by r; the click's part of it reaches the limit only if its eroded
    core comes within r of it, so one distance map serves every radius and
    only the chosen one is dilated. ``region`` must be free of holes: noise
    holes would let the openings eat it from inside.
    """
    spacing = click_.crop.spacing_mm
    thickness_mm = edt.edt(np.ascontiguousarray(region, dtype=np.uint8),
                           anisotropy=tuple(float(s) for s in spacing),
                           black_border=True, parallel=0)
    seed_mask = np.zeros(region.shape, dtype=bool)
    seed_mask[click_.seed] = True
    step_mm = min(spacing) / 2.0
    rim_mm = click_.max_radius_mm - max(spacing)
    for radius_mm in np.arange(step_mm, _OPENING_REACH * thickness_mm[click_.seed], step_mm):
        core = _connected(thickness_mm > radius_mm, seed_mask)
        if not core.any():
            return None
        if click_.distance_mm[core].max() + radius_mm < rim_mm:
            return _connected(dilate_mm(core, float(radius_mm), spacing) & region, seed_mask)
    return None


def _grown_from_click(crop: _Crop, seed, at, max_radius_mm, tolerance_sd, seed_radius_mm,
                      min_sd_hu, leak_control) -> np.ndarray:
    """The region of one click: ``seed`` is its voxel, ``at`` its fractional index."""
    distance = _distance_mm(crop.hu.shape, crop.spacing_mm, at)
    # At least a few voxels, even on a coarse grid: their median is the click's CT number.
    fewest = min(_MIN_BALL_VOXELS, distance.size) - 1
    ball_mm = max(seed_radius_mm, float(np.partition(distance.ravel(), fewest)[fewest]))
    ball = distance <= ball_mm
    ball[tuple(seed)] = True
    neighbourhood = distance <= _NOISE_REACH * max(ball_mm, max(crop.spacing_mm))
    click_ = _Click(crop, tuple(int(i) for i in seed), distance, max_radius_mm, ball,
                    neighbourhood)
    region = _adaptive_region(click_, tolerance_sd, min_sd_hu, leak_control)
    if not leak_control or not click_.reaches_limit(region):
        return region
    cut = _cut_leak(click_, fill_voids.fill(region))
    if cut is None:
        warnings.warn(f"the region grown from the click at voxel {click_.seed} of the crop "
                      f"reaches max_radius_mm={max_radius_mm:g} and has no thin bridge to "
                      "cut: it is clipped at that radius", HounsfieldWarning, stacklevel=3)
        return region
    return cut


# -- exclusion and clean-up -----------------------------------------------------------------


def _anchors(region: np.ndarray, include_idx, spacing_mm, seed_radius_mm: float) -> list:
    """For each click, its voxel if in ``region``, else the nearest region voxel in its ball."""
    anchors = []
    for seed in include_idx:
        if region[tuple(seed)]:
            anchors.append(tuple(int(i) for i in seed))
            continue
        distance = np.where(region, _distance_mm(region.shape, spacing_mm, seed), np.inf)
        nearest = np.unravel_index(int(np.argmin(distance)), region.shape)
        if distance[nearest] <= max(seed_radius_mm, min(spacing_mm)):
            anchors.append(tuple(int(i) for i in nearest))
    return anchors


def _without_excluded(region: np.ndarray, anchors, exclude_idx, spacing_mm) -> np.ndarray:
    """Remove the part of ``region`` flooded from exclude clicks (watershed of the thickness)."""
    markers = np.zeros(region.shape, dtype=np.int32)
    for index in exclude_idx:
        if all(0 <= i < n for i, n in zip(index, region.shape, strict=True)):
            markers[tuple(index)] = 2
    markers[~region] = 0
    if not markers.any():
        return region
    for index in anchors:
        markers[index] = 1
    thickness = edt.edt(np.ascontiguousarray(region, dtype=np.uint8),
                        anisotropy=tuple(float(s) for s in spacing_mm), black_border=True,
                        parallel=0)
    basins = watershed(-thickness, markers, mask=region)
    return basins == 1


def _holding(region: np.ndarray, anchors) -> np.ndarray:
    """The 26-connected components of ``region`` that hold an anchor voxel."""
    seeds = np.zeros(region.shape, dtype=bool)
    for index in anchors:
        seeds[index] = True
    labels = cc3d.connected_components(np.ascontiguousarray(region, dtype=np.uint8),
                                       connectivity=26)
    held = np.unique(labels[seeds])
    return np.isin(labels, held[held > 0])
