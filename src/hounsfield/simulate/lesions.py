"""Synthetic lesions of known size, inserted into an organ of a CT, with their exact truth.

A lesion is an ellipsoid, or a lobulated ellipsoid whose radius varies with
direction, placed inside a named organ of a label map. Its CT numbers are the
organ's local median plus a contrast (or an absolute HU), with a correlated
Gaussian texture, blended into the CT through a soft margin:

* the shape lives in world millimetres (LPS) — centre, three diameters along
  its own axes, a rotation — so any voxel grid, oblique ones included, sees
  the same lesion;
* the blend weight of a point is ``0.5 · erfc(d / (σ√2))`` of its signed
  distance ``d`` (mm, negative inside) to the surface, where the 10–90 % rise
  of the weight spans ``margin_mm``; a voxel's weight is the mean over
  sub-voxel points (partial volume); the lesion mask holds the voxels whose
  centre lies inside the surface (weight at least 0.5 there), as the
  phantom labels of :mod:`hounsfield.data.anatomy` do;
* the truth is computed from the shape itself, not from the mask: volume,
  diameters and RECIST axes in the patient's axial plane exactly for an
  ellipsoid; for a lobulated shape the volume by quadrature over the sphere
  and the axes on a fine axial grid (1/40 of the lesion's reach).

Surface model. In the lesion's frame a point ``u`` (mm) has normalised
coordinates ``v = u / s`` (``s`` the semi-axes), radius ``r = |v|`` and
direction ``n = v / r``. The surface is ``r = ρ(n)``, with ``ρ = 1`` for an
ellipsoid and, for a lobulated shape, ``ρ = 1 + lobulation · g(n)`` where
``g`` is a sum of six random bumps on the sphere scaled to mean 0 and
largest magnitude 1. The signed distance is estimated as
``(r − ρ(n)) / |n / s|``: exact for a ball, and zero exactly on the surface
for any shape, so the mask follows the true surface.
"""

from __future__ import annotations

import math
import numbers
import warnings
from dataclasses import asdict, dataclass, field

import edt
import numpy as np
from scipy import ndimage
from scipy.special import erfc
from skimage.measure import find_contours

from ..errors import HounsfieldWarning
from ..measure.shape import in_plane_axes, max_diameter
from ..segment._morphology import bounding_box
from ..volume import Volume

__all__ = ["SyntheticLesion", "insert_lesion", "LESION_SHAPES"]

#: Shapes that :func:`insert_lesion` draws.
LESION_SHAPES = ("ellipsoid", "lobulated")

#: Largest lobulation: the radius then varies between half and 1.5 times its mean.
_MAX_LOBULATION = 0.5
#: Bumps of a lobulated shape, and the sharpness κ of each, exp(κ (n·d − 1)).
_LOBES = 6
_LOBE_SHARPNESS = 4.0
#: Width of the 10–90 % rise of a normal cumulative distribution, in standard deviations.
_RISE_10_90_SD = 2.0 * 1.2815515655446004
#: Largest sub-voxel step (mm) of the partial-volume average, and the most points per axis.
_SUBVOXEL_STEP_MM = 0.5
_MAX_SUBVOXELS = 6
#: The organ's local median is taken over its voxels within this (mm) of the lesion's surface.
_LOCAL_REACH_MM = 10.0
#: Directions on the sphere that sample a lobulated surface (diameters, normalisation).
_SURFACE_DIRECTIONS = 20000
#: Points per radius of the fine grid on which a lobulated shape's axial axes are measured.
_TRUTH_GRID_PER_RADIUS = 40
#: Voxels per chunk of the partial-volume average (bounds memory on large lesions).
_VOXELS_PER_CHUNK = 1 << 14


@dataclass(frozen=True, eq=False)
class SyntheticLesion:
    """The truth of an inserted lesion; world points are LPS (x, y, z) in mm.

    ``mask`` (bool, the CT's shape) holds the voxels whose centre lies inside
    the lesion, where its blend weight is at least 0.5. ``volume_ml``,
    ``diameters_mm`` (extents along the lesion's own axes),
    ``axial_long_axis_mm`` and ``axial_short_axis_mm`` (RECIST's two axes in
    the patient's axial plane where the long axis is longest) and
    ``longest_diameter_mm`` (3D) are those of the shape itself. ``hu`` is the
    lesion's mean CT number before texture, ``organ_hu`` the organ's local
    median and ``hu_contrast`` their difference.
    """

    mask: np.ndarray = field(repr=False)
    organ: str
    shape: str
    center_mm: tuple[float, float, float]
    volume_ml: float
    diameters_mm: tuple[float, float, float]
    axial_long_axis_mm: float
    axial_short_axis_mm: float
    longest_diameter_mm: float
    hu: float
    organ_hu: float
    hu_contrast: float
    texture_hu: float
    margin_mm: float
    lobulation: float
    rotation_deg: tuple[float, float, float]
    seed: int

    @property
    def voxel_count(self) -> int:
        """Voxels of the mask."""
        return int(np.count_nonzero(self.mask))

    def to_dict(self) -> dict:
        """Plain JSON-ready values, units in the keys; the mask is given as its voxel count."""
        values = {k: v for k, v in asdict(self).items() if k != "mask"}
        return {**values, "center_mm": list(self.center_mm),
                "diameters_mm": list(self.diameters_mm),
                "rotation_deg": list(self.rotation_deg), "voxel_count": self.voxel_count}


# -- the shape --------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Shape:
    """A lesion's surface in world mm: centre, lesion axes (columns), semi-axes and lobes."""

    center: np.ndarray
    axes: np.ndarray
    semi_axes: np.ndarray
    lobulation: float = 0.0
    lobe_directions: np.ndarray = field(default_factory=lambda: np.zeros((0, 3)))
    lobe_weights: np.ndarray = field(default_factory=lambda: np.zeros(0))
    lobe_offset: float = 0.0
    lobe_scale: float = 1.0

    @property
    def radius_mm(self) -> float:
        """Radius of a ball about the centre that holds the whole lesion."""
        return float(self.semi_axes.max() * (1.0 + self.lobulation))

    def radius_factor(self, directions: np.ndarray) -> np.ndarray:
        """ρ(n) of unit directions (m, 3) in normalised lesion coordinates."""
        if self.lobulation == 0.0:
            return np.ones(len(directions))
        bumps = np.exp(_LOBE_SHARPNESS * (directions @ self.lobe_directions.T - 1.0))
        lobes = (bumps @ self.lobe_weights - self.lobe_offset) / self.lobe_scale
        return 1.0 + self.lobulation * lobes

    def signed_distance_mm(self, points_mm: np.ndarray) -> np.ndarray:
        """Estimated signed distance (mm, negative inside) of world points (m, 3)."""
        normalised = ((points_mm - self.center) @ self.axes) / self.semi_axes
        radius = np.linalg.norm(normalised, axis=1)
        directions = np.divide(normalised, radius[:, None], out=np.zeros_like(normalised),
                               where=radius[:, None] > 0)
        directions[radius == 0] = (1.0, 0.0, 0.0)
        stretch = np.linalg.norm(directions / self.semi_axes, axis=1)
        return (radius - self.radius_factor(directions)) / stretch

    def surface_points_mm(self, directions: np.ndarray) -> np.ndarray:
        """World points of the surface along unit directions (m, 3) of normalised coordinates."""
        local = directions * self.radius_factor(directions)[:, None] * self.semi_axes
        return local @ self.axes.T + self.center


def _rotation(rotation_deg) -> np.ndarray:
    """Rz · Ry · Rx of angles (degrees) about world x, y and z: rotation about x comes first."""
    ax, ay, az = np.radians(rotation_deg)
    rx = np.array([[1, 0, 0], [0, math.cos(ax), -math.sin(ax)], [0, math.sin(ax), math.cos(ax)]])
    ry = np.array([[math.cos(ay), 0, math.sin(ay)], [0, 1, 0], [-math.sin(ay), 0, math.cos(ay)]])
    rz = np.array([[math.cos(az), -math.sin(az), 0], [math.sin(az), math.cos(az), 0], [0, 0, 1]])
    return rz @ ry @ rx


def _sphere_directions(count: int) -> np.ndarray:
    """Nearly uniform unit vectors (count, 3): a Fibonacci lattice."""
    index = np.arange(count) + 0.5
    z = 1.0 - 2.0 * index / count
    azimuth = math.pi * (1.0 + math.sqrt(5.0)) * index
    ring = np.sqrt(1.0 - z * z)
    return np.stack([ring * np.cos(azimuth), ring * np.sin(azimuth), z], axis=1)


def _make_shape(center, diameters, rotation_deg, shape: str, lobulation: float, rng) -> _Shape:
    """The lesion's surface; a lobulated one draws its lobes from ``rng``."""
    base = _Shape(np.asarray(center, float), _rotation(rotation_deg), np.asarray(diameters) / 2)
    if shape == "ellipsoid" or lobulation == 0.0:
        return base
    directions = rng.standard_normal((_LOBES, 3))
    directions /= np.linalg.norm(directions, axis=1, keepdims=True)
    weights = rng.uniform(0.5, 1.0, _LOBES)
    sphere = _sphere_directions(_SURFACE_DIRECTIONS)
    bumps = np.exp(_LOBE_SHARPNESS * (sphere @ directions.T - 1.0)) @ weights
    offset = float(bumps.mean())
    return _Shape(base.center, base.axes, base.semi_axes, lobulation, directions, weights,
                  offset, float(np.abs(bumps - offset).max()))


# -- the truth --------------------------------------------------------------------------------


def _volume_ml(shape: _Shape) -> float:
    """Enclosed volume (ml): abc · ∫ ρ³/3 dΩ (Gauss–Legendre in cos θ, uniform in azimuth)."""
    product = float(np.prod(shape.semi_axes))
    if shape.lobulation == 0.0:
        return 4.0 / 3.0 * math.pi * product / 1000.0
    cosines, weights = np.polynomial.legendre.leggauss(128)
    azimuths = np.linspace(0.0, 2.0 * math.pi, 256, endpoint=False)
    cos_t, phi = np.meshgrid(cosines, azimuths, indexing="ij")
    sin_t = np.sqrt(1.0 - cos_t ** 2)
    directions = np.stack([sin_t * np.cos(phi), sin_t * np.sin(phi), cos_t], -1).reshape(-1, 3)
    cubes = (shape.radius_factor(directions) ** 3).reshape(cos_t.shape)
    integral = float(weights @ cubes.sum(axis=1)) * (2.0 * math.pi / len(azimuths))
    return product * integral / 3.0 / 1000.0


def _axial_axes_exact(shape: _Shape) -> tuple[float, float]:
    """RECIST axes (mm) of an ellipsoid: its axial sections are similar ellipses, largest
    through the centre, whose semi-axes are 1/√λ of the in-plane block of its quadric."""
    quadric = shape.axes @ np.diag(1.0 / shape.semi_axes ** 2) @ shape.axes.T
    eigenvalues = np.linalg.eigvalsh(quadric[:2, :2])
    return 2.0 / math.sqrt(eigenvalues[0]), 2.0 / math.sqrt(eigenvalues[1])


def _axial_axes_on_grid(shape: _Shape, per_radius: int = _TRUTH_GRID_PER_RADIUS):
    """RECIST axes (mm) of any shape, from the zero contour of its signed distance on a fine
    axial world grid: the plane with the longest long axis, as RECIST measures."""
    step = shape.radius_mm / per_radius
    offsets = step * np.arange(-per_radius - 2, per_radius + 3)
    x, y = np.meshgrid(offsets, offsets, indexing="xy")
    best = (0.0, 0.0)
    for dz in offsets:
        points = np.stack([x.ravel(), y.ravel(), np.full(x.size, dz)], axis=1) + shape.center
        plane = shape.signed_distance_mm(points).reshape(x.shape)
        if plane.min() >= 0:
            continue
        outlines = [c[:, ::-1] * step + offsets[0] for c in find_contours(plane, 0.0)]
        axes = in_plane_axes(outlines)
        if axes is not None:
            best = max(best, (float(axes["long_axis_mm"]), float(axes["short_axis_mm"])))
    return best


def _truth(shape: _Shape) -> dict:
    """Volume, own-axis diameters, axial RECIST axes and 3D longest diameter of a shape."""
    if shape.lobulation == 0.0:
        long_axis, short_axis = _axial_axes_exact(shape)
        diameters = 2.0 * shape.semi_axes
        longest = float(diameters.max())
    else:
        long_axis, short_axis = _axial_axes_on_grid(shape)
        surface = shape.surface_points_mm(_sphere_directions(_SURFACE_DIRECTIONS))
        local = (surface - shape.center) @ shape.axes
        diameters = local.max(axis=0) - local.min(axis=0)
        longest = max_diameter(surface)[0]
    return {"volume_ml": _volume_ml(shape), "diameters_mm": tuple(float(d) for d in diameters),
            "axial_long_axis_mm": float(long_axis), "axial_short_axis_mm": float(short_axis),
            "longest_diameter_mm": float(longest)}


# -- voxels -----------------------------------------------------------------------------------


def _blend(distance_mm: np.ndarray, margin_mm: float) -> np.ndarray:
    """Blend weight of signed distances: a normal CDF whose 10–90 % rise spans margin_mm."""
    if margin_mm == 0.0:
        return 0.5 * (1.0 - np.sign(distance_mm))
    sigma = margin_mm / _RISE_10_90_SD
    return 0.5 * erfc(distance_mm / (sigma * math.sqrt(2.0)))


def _lesion_box(shape: _Shape, ct: Volume, margin_mm: float) -> tuple[slice, ...]:
    """Array box holding every voxel the lesion's blend reaches (beyond 3 SD of the margin)."""
    diagonal = float(np.linalg.norm(ct.spacing_mm))
    return _box_around(ct, shape.center, shape.radius_mm + 3.0 * margin_mm / _RISE_10_90_SD
                       + diagonal)


def _box_around(ct: Volume, center_mm, reach_mm: float) -> tuple[slice, ...]:
    """Array box (clipped to the grid) holding the ball of reach_mm about a world point."""
    centre = ct.world_to_index(center_mm)
    half = np.ceil(reach_mm / np.asarray(ct.spacing_mm))
    low = np.clip(np.floor(centre - half), 0, ct.shape).astype(int)
    high = np.clip(np.ceil(centre + half) + 1, 0, ct.shape).astype(int)
    return tuple(slice(a, b) for a, b in zip(low, high, strict=True))


def _subvoxel_offsets(spacing_mm) -> np.ndarray:
    """Index offsets (n, 3) of sub-voxel points: a regular grid at most 0.5 mm apart."""
    counts = [int(min(max(math.ceil(s / _SUBVOXEL_STEP_MM), 2), _MAX_SUBVOXELS))
              for s in spacing_mm]
    axes = [(np.arange(n) + 0.5) / n - 0.5 for n in counts]
    return np.stack(np.meshgrid(*axes, indexing="ij"), axis=-1).reshape(-1, 3)


def _voxel_weights(shape: _Shape, ct: Volume, box, margin_mm: float):
    """Blend weight of each voxel of the box (the mean over sub-voxel points near the edge),
    and whether each voxel's centre lies inside the surface."""
    index = np.stack(np.meshgrid(*[np.arange(s.start, s.stop) for s in box], indexing="ij"), -1)
    index = index.reshape(-1, 3).astype(float)
    distance = shape.signed_distance_mm(ct.index_to_world(index))
    weights = _blend(distance, margin_mm)
    band = 2.0 * (float(np.linalg.norm(ct.spacing_mm)) + 3.0 * margin_mm / _RISE_10_90_SD)
    near = np.flatnonzero(np.abs(distance) <= band)
    offsets = _subvoxel_offsets(ct.spacing_mm)
    for start in range(0, len(near), _VOXELS_PER_CHUNK):
        chunk = near[start:start + _VOXELS_PER_CHUNK]
        points = ct.index_to_world((index[chunk, None, :] + offsets).reshape(-1, 3))
        sub = _blend(shape.signed_distance_mm(points), margin_mm).reshape(len(chunk), -1)
        weights[chunk] = sub.mean(axis=1)
    box_shape = [s.stop - s.start for s in box]
    return weights.reshape(box_shape), (distance <= 0).reshape(box_shape)


def _texture(shape_zyx, spacing_mm, texture_hu: float, texture_mm: float, rng) -> np.ndarray:
    """Zero-mean Gaussian noise of SD texture_hu whose autocorrelation is a Gaussian of SD
    texture_mm: white noise smoothed by a Gaussian of SD texture_mm / √2, rescaled exactly.

    The noise is drawn with a border as wide as the kernel and the border is
    cut off, so that no voxel sees the filter's edge handling.
    """
    sigmas = [texture_mm / math.sqrt(2.0) / s for s in spacing_mm]
    radii = [int(4.0 * sigma + 0.5) + 1 for sigma in sigmas]
    noise = rng.standard_normal([n + 2 * r for n, r in zip(shape_zyx, radii, strict=True)])
    if texture_hu == 0.0:
        return np.zeros(shape_zyx)
    inner = tuple(slice(r, r + n) for n, r in zip(shape_zyx, radii, strict=True))
    smooth = ndimage.gaussian_filter(noise, sigmas)[inner]
    gain = 1.0
    for sigma, radius in zip(sigmas, radii, strict=True):  # sum of squared kernel weights
        delta = np.zeros(2 * radius + 1)
        delta[radius] = 1.0
        gain *= float((ndimage.gaussian_filter1d(delta, sigma, mode="constant") ** 2).sum())
    return smooth * (texture_hu / math.sqrt(gain))


# -- placement --------------------------------------------------------------------------------


def _organ_mask(labels: Volume, ct: Volume, organ: str) -> np.ndarray:
    """The organ's voxels on the CT grid (labels resampled, nearest, when on another grid)."""
    if not isinstance(labels, Volume) or labels.labels is None:
        raise ValueError("labels must be a label map: a Volume with a LabelTable")
    if organ not in labels.labels.names:
        raise ValueError(f"unknown organ {organ!r}; the label map names: "
                         f"{', '.join(labels.labels.names)}")
    if not labels.same_grid(ct):
        warnings.warn("labels are on another grid than the CT: resampled onto it "
                      "(nearest neighbour)", HounsfieldWarning, stacklevel=3)
        labels = labels.resample_like(ct, interpolation="nearest")
    mask = labels.array == labels.labels.id_of(organ)
    if not mask.any():
        raise ValueError(f"organ {organ!r} has no voxel in the label map on the CT's grid")
    return mask


def _random_center(organ: np.ndarray, ct: Volume, name: str, radius_mm: float, rng):
    """A world point at which a ball of radius_mm, and every voxel it touches, lies in the organ.

    The point is a voxel centre deeper in the organ than ``radius_mm`` plus
    a voxel diagonal, moved at most half a diagonal (jitter): every voxel
    centre within ``radius_mm`` of it, or within half a diagonal of the
    ball, is then an organ voxel.
    """
    box = bounding_box(organ)
    depth = edt.edt(np.ascontiguousarray(organ[box], dtype=np.uint8),
                    anisotropy=tuple(float(s) for s in ct.spacing_mm), black_border=True,
                    parallel=0)
    needed = radius_mm + float(np.linalg.norm(ct.spacing_mm))
    candidates = np.argwhere(depth > needed)
    if len(candidates) == 0:
        raise ValueError(
            f"a lesion reaching {radius_mm:.1f} mm from its centre does not fit inside organ "
            f"{name!r}: its deepest voxel lies {float(depth.max()):.1f} mm inside, "
            f"{needed:.1f} mm are needed (the lesion's reach plus a voxel diagonal)")
    chosen = candidates[rng.integers(len(candidates))] + [s.start for s in box]
    return ct.index_to_world(chosen + rng.uniform(-0.5, 0.5, 3))


def _checked_center(center_mm, organ: np.ndarray, ct: Volume, name: str) -> np.ndarray:
    """A given centre, which must lie in the organ (nearest voxel)."""
    center = _finite_triple(center_mm, "center_mm")
    index = np.rint(ct.world_to_index(center)).astype(int)
    if np.any(index < 0) or np.any(index >= ct.shape) or not organ[tuple(index)]:
        raise ValueError(f"center_mm {tuple(center.tolist())} does not lie inside organ "
                         f"{name!r} (nearest voxel {tuple(index.tolist())})")
    return center


def _organ_median_hu(ct: Volume, organ: np.ndarray, shape: _Shape) -> float:
    """Median HU of the organ's voxels within _LOCAL_REACH_MM of the lesion's bounding ball."""
    box = _box_around(ct, shape.center, shape.radius_mm + _LOCAL_REACH_MM)
    index = np.argwhere(organ[box]) + [s.start for s in box]
    distance = np.linalg.norm(ct.index_to_world(index) - shape.center, axis=1)
    near = index[distance <= shape.radius_mm + _LOCAL_REACH_MM]
    return float(np.median(np.asarray(ct.array)[tuple(near.T)]))


# -- input ------------------------------------------------------------------------------------


def _finite_triple(value, name: str, positive: bool = False) -> np.ndarray:
    """One or three finite numbers (> 0 with ``positive``) as a float array (3,)."""
    expected = "one or three finite numbers" + (" > 0" if positive else "")
    try:
        triple = np.broadcast_to(np.asarray(value, dtype=float), (3,)).copy()
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be {expected}, got {value!r}") from None
    if not np.all(np.isfinite(triple)) or (positive and np.any(triple <= 0)):
        raise ValueError(f"{name} must be {expected}, got {value!r}")
    return triple


def _finite_number(value, name: str, low: float | None = None, high: float | None = None):
    """A finite real number within [low, high] (either bound optional)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number, got {value!r}")
    if (low is not None and value < low) or (high is not None and value > high):
        bounds = f"in [{low}, {high}]" if high is not None else f">= {low}"
        raise ValueError(f"{name} must be {bounds}, got {value!r}")
    return float(value)


def _checked_seed(seed) -> int:
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or seed < 0:
        raise ValueError(f"seed must be an integer >= 0, got {seed!r}")
    return int(seed)


# -- entry point ------------------------------------------------------------------------------


def insert_lesion(ct: Volume, labels: Volume, organ: str, *, diameter_mm=20.0,
                  hu_contrast: float = -40.0, hu: float | None = None,
                  shape: str = "ellipsoid", lobulation: float = 0.2, margin_mm: float = 1.0,
                  texture_hu: float = 10.0, texture_mm: float = 2.0, rotation_deg=(0.0, 0.0, 0.0),
                  center_mm=None, seed: int = 0) -> tuple[Volume, SyntheticLesion]:
    """Insert a synthetic lesion of known size into an organ of a CT.

    Parameters
    ----------
    ct : Volume
        CT in HU; not modified.
    labels : Volume
        Label map with a LabelTable naming ``organ``; resampled onto the CT's
        grid (nearest neighbour, with a HounsfieldWarning) when on another.
    organ : str
        Label name of the organ that holds the lesion, e.g. ``"liver"``.
    diameter_mm : float or 3 floats
        Diameters (mm) along the lesion's own axes, which are world x, y, z
        (LPS) before ``rotation_deg``. For a lobulated shape, those of its
        mean radius.
    hu_contrast : float
        Lesion HU minus the organ's local median HU (its voxels within 10 mm
        of the lesion's bounding ball); ignored when ``hu`` is given.
    hu : float, optional
        Absolute mean HU of the lesion.
    shape : {"ellipsoid", "lobulated"}
        A lobulated shape's radius is modulated by six random bumps.
    lobulation : float
        Largest relative change of a lobulated shape's radius, in [0, 0.5].
    margin_mm : float
        Width (mm) over which the blend weight rises from 10 % to 90 % across
        the surface; 0 for a sharp edge (partial volume only).
    texture_hu, texture_mm : float
        Standard deviation (HU) and correlation length (mm, SD of the
        Gaussian autocorrelation) of the lesion's Gaussian texture.
    rotation_deg : 3 floats
        Rotation (degrees) of the lesion's axes about world x, then y, then z.
    center_mm : 3 floats, optional
        LPS centre (mm), which must lie in the organ. Default: a random point
        from which the whole lesion lies inside the organ and the CT.
    seed : int
        Seeds the shape's lobes, the centre and the texture (each from its
        own stream: a given centre does not change the shape).

    Returns
    -------
    ct : Volume
        A new float32 CT with the lesion; ``meta["synthetic_lesions"]``
        lists every inserted lesion's truth (:meth:`SyntheticLesion.to_dict`).
    lesion : SyntheticLesion
        The truth: mask, centre, volume, diameters, axial axes and HU.

    Raises
    ------
    ValueError
        Unknown organ (the message lists the label map's names), a lesion
        that cannot fit inside the organ, a centre outside it, a lesion with
        no voxel centre inside, or a parameter out of range.

    Examples
    --------
    >>> from hounsfield.labels import LabelTable
    >>> ct = Volume(np.zeros((20, 20, 20), np.float32), spacing_mm=2.0)
    >>> organ = Volume(np.ones((20, 20, 20), np.uint8), spacing_mm=2.0,
    ...                labels=LabelTable.from_names({1: "liver"}))
    >>> new, lesion = insert_lesion(ct, organ, "liver", diameter_mm=12.0, texture_hu=0.0)
    >>> round(lesion.volume_ml, 3), lesion.hu, round(lesion.voxel_count * new.voxel_volume_ml, 3)
    (0.905, -40.0, 0.888)
    """
    if not isinstance(ct, Volume):
        raise TypeError(f"ct must be a hounsfield Volume, got {type(ct).__name__}")
    if shape not in LESION_SHAPES:
        raise ValueError(f"shape must be one of {LESION_SHAPES}, got {shape!r}")
    diameters = _finite_triple(diameter_mm, "diameter_mm", positive=True)
    hu_contrast = _finite_number(hu_contrast, "hu_contrast")
    hu = None if hu is None else _finite_number(hu, "hu")
    lobulation = _finite_number(lobulation, "lobulation", 0.0, _MAX_LOBULATION)
    margin_mm = _finite_number(margin_mm, "margin_mm", 0.0)
    texture_hu = _finite_number(texture_hu, "texture_hu", 0.0)
    texture_mm = _finite_number(texture_mm, "texture_mm", 0.0)
    if texture_mm == 0.0:
        raise ValueError(f"texture_mm must be > 0, got {texture_mm!r}")
    rotation = _finite_triple(rotation_deg, "rotation_deg")
    seed = _checked_seed(seed)
    shape_rng, place_rng, texture_rng = (np.random.default_rng(s)
                                         for s in np.random.SeedSequence(seed).spawn(3))

    organ_mask = _organ_mask(labels, ct, organ)
    lobes = lobulation if shape == "lobulated" else 0.0
    template = _make_shape(np.zeros(3), diameters, rotation, shape, lobes, shape_rng)
    if center_mm is None:
        center = _random_center(organ_mask, ct, organ, template.radius_mm, place_rng)
    else:
        center = _checked_center(center_mm, organ_mask, ct, organ)
    lesion_shape = _Shape(center, template.axes, template.semi_axes, template.lobulation,
                          template.lobe_directions, template.lobe_weights, template.lobe_offset,
                          template.lobe_scale)

    box = _lesion_box(lesion_shape, ct, margin_mm)
    weights, inside = _voxel_weights(lesion_shape, ct, box, margin_mm)
    if not inside.any():
        raise ValueError(f"diameter_mm {tuple(diameters.tolist())} is too small for the CT's "
                         f"voxels {ct.spacing_mm} mm: no voxel centre lies inside the lesion")
    organ_hu = _organ_median_hu(ct, organ_mask, lesion_shape)
    lesion_hu = organ_hu + hu_contrast if hu is None else hu
    texture = _texture(weights.shape, ct.spacing_mm, texture_hu, texture_mm, texture_rng)

    array = np.array(ct.array, dtype=np.float32)  # a copy: the input CT stays as it was
    array[box] = (1.0 - weights) * array[box] + weights * (lesion_hu + texture)
    mask = np.zeros(ct.shape, dtype=bool)
    mask[box] = inside
    if np.any(mask & ~organ_mask):
        warnings.warn(f"the lesion reaches outside organ {organ!r} "
                      f"({int(np.count_nonzero(mask & ~organ_mask))} of its "
                      f"{int(np.count_nonzero(mask))} voxels)", HounsfieldWarning, stacklevel=2)

    truth = SyntheticLesion(
        mask=mask, organ=organ, shape=shape, center_mm=tuple(float(c) for c in center),
        **_truth(lesion_shape), hu=float(lesion_hu), organ_hu=organ_hu,
        hu_contrast=float(lesion_hu - organ_hu), texture_hu=texture_hu, margin_mm=margin_mm,
        lobulation=lobes, rotation_deg=tuple(float(r) for r in rotation), seed=seed)
    meta = dict(ct.meta)
    meta["synthetic_lesions"] = [*ct.meta.get("synthetic_lesions", []), truth.to_dict()]
    return ct.with_array(array, meta=meta), truth
