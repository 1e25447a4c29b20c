"""Measurement of one lesion: RECIST diameters, volume, HU, shape, place and distances.

RECIST 1.1 axes are measured in the patient's axial planes (world z
constant), not in the slices of the voxel grid, so a tilted or oblique scan
gives the same answer as an axial one:

1. The lesion mask is sampled on an axial grid in world millimetres, by
   linear interpolation of the mask. Its steps along world x, y and z are the
   spacings of the array axes closest to those directions, and it passes
   through a voxel centre of the lesion: for an axial scan the grid is the
   voxel grid itself and the samples are the mask unchanged.
2. In each axial plane the lesion's outline is the 0.5 contour of the samples
   (``skimage.measure.find_contours``). The long axis is the largest distance
   between two outline points; the short axis the longest line perpendicular
   to it from the outline's first to its last crossing
   (:func:`~hounsfield.measure.shape.in_plane_axes`).
3. The plane with the longest long axis is RECIST's measurement plane; its
   two axes are the result.

Lymph nodes follow RECIST 1.1's rule: a node with a short axis of 10 mm or
more is pathologically enlarged (``lymph_node_short_axis_ge_10mm``).
"""

from __future__ import annotations

import math
import warnings
from dataclasses import asdict, dataclass

import numpy as np

from ..errors import HounsfieldWarning
from ..segment._morphology import bounding_box, dilate_mm
from ..volume import Volume
from .distances import distance_between_masks_mm, distance_to_surface_mm
from .shape import in_plane_axes, shape_measures

__all__ = ["LesionMeasurement", "measure_lesion", "recist_axes", "LUNG_LOBES", "LUNG_NAMES",
           "AIRWAY_NAMES", "VESSEL_NAMES", "LYMPH_NODE_SHORT_AXIS_MM"]

#: RECIST 1.1: a lymph node with a short axis of at least this (mm) is enlarged.
LYMPH_NODE_SHORT_AXIS_MM = 10.0

#: TotalSegmentator's lung lobes.
LUNG_LOBES = ("lung_upper_lobe_left", "lung_lower_lobe_left", "lung_upper_lobe_right",
              "lung_middle_lobe_right", "lung_lower_lobe_right")
#: Labels whose union is the lungs (for the pleural surface).
LUNG_NAMES = LUNG_LOBES + ("lung_left", "lung_right")
#: Labels whose union is the airways.
AIRWAY_NAMES = ("trachea", "bronchus_left", "bronchus_right", "airways")
#: Labels whose union is the vessels.
VESSEL_NAMES = ("lung_vessels", "aorta", "pulmonary_vein", "brachiocephalic_trunk",
                "subclavian_artery_right", "subclavian_artery_left",
                "common_carotid_artery_right", "common_carotid_artery_left",
                "brachiocephalic_vein_left", "brachiocephalic_vein_right",
                "superior_vena_cava", "inferior_vena_cava", "portal_vein_and_splenic_vein",
                "iliac_artery_left", "iliac_artery_right", "iliac_vena_left", "iliac_vena_right")

_SHELL_MM = 3.0


@dataclass(frozen=True)
class LesionMeasurement:
    """Measurements of one lesion; world points are LPS (x, y, z) in mm.

    ``location`` is the label the lesion lies in (most overlap, else most
    of a 3 mm shell around it, at least one voxel thick), ``lobe`` the lung
    lobe among those labels, ``laterality`` 'left', 'right' or 'midline' (the
    midline plane crosses the lesion) relative to the midline named by
    ``laterality_reference``. Distances are between voxel boxes (0 when
    touching, see :mod:`hounsfield.measure.distances`); None when the mask
    they need is missing. The pleural surface is the outer surface of the
    lungs with their holes filled; a fissure left open between lobe labels
    is part of it, as the visceral pleura lines the fissures.
    """

    long_axis_mm: float
    short_axis_mm: float
    axial_slice_z_mm: float
    long_axis_ends_mm: list
    short_axis_ends_mm: list
    longest_diameter_3d_mm: float
    volume_ml: float
    voxel_count: int
    surface_area_mm2: float
    sphericity: float | None
    hu_mean: float
    hu_sd: float
    hu_histogram: dict
    centroid_mm: list
    location: str | None
    lobe: str | None
    laterality: str
    laterality_reference: str
    distance_to_pleura_mm: float | None
    distance_to_airway_mm: float | None
    distance_to_vessel_mm: float | None

    @property
    def lymph_node_short_axis_ge_10mm(self) -> bool:
        """RECIST 1.1: a lymph node with this short axis is pathologically enlarged."""
        return self.short_axis_mm >= LYMPH_NODE_SHORT_AXIS_MM

    def to_dict(self) -> dict:
        """Plain JSON-ready values, units in the keys."""
        return {**asdict(self), "lymph_node_short_axis_ge_10mm": self.lymph_node_short_axis_ge_10mm}


# -- inputs -----------------------------------------------------------------------------------


def _mask_on_ct_grid(value, ct: Volume, name: str) -> np.ndarray | None:
    """A boolean mask on the CT grid from an array of its shape or a Volume (resampled)."""
    if value is None:
        return None
    if isinstance(value, Volume):
        if not value.same_grid(ct):
            warnings.warn(f"{name} is on another grid than the CT: resampled (nearest "
                          "neighbour) onto the CT grid", HounsfieldWarning, stacklevel=3)
            value = value.resample_like(ct, interpolation="nearest")
        value = value.array
    array = np.asarray(value)
    if array.shape != ct.shape:
        raise ValueError(f"{name} must be a mask of the CT's shape {ct.shape} (or a Volume), "
                         f"got shape {array.shape}")
    return array != 0


def labels_on_ct_grid(labels, ct: Volume) -> Volume | None:
    """A label map on the CT's grid: as it is, or resampled (nearest) with a warning."""
    if labels is None:
        return None
    if not isinstance(labels, Volume) or labels.labels is None:
        raise TypeError(f"labels must be a label-map Volume with a LabelTable, got {labels!r}")
    if labels.same_grid(ct):
        return labels
    warnings.warn("labels are on another grid than the CT: resampled (nearest neighbour) onto "
                  "the CT grid", HounsfieldWarning, stacklevel=3)
    return labels.resample_like(ct, interpolation="nearest")


def _union_of(labels: Volume | None, names) -> np.ndarray | None:
    """The union of the named labels present in the table, or None when none is."""
    if labels is None:
        return None
    ids = [labels.labels.id_of(n) for n in names if n in labels.labels]
    return np.isin(labels.array, ids) if ids else None


# -- RECIST -------------------------------------------------------------------------------------


def _axial_steps(volume: Volume) -> np.ndarray:
    """World (x, y, z) steps (mm): the spacing of the array axis closest to each world axis."""
    closest = np.argmax(np.abs(volume.direction), axis=1)
    return np.asarray(volume.spacing_mm)[closest]


def _axial_samples(mask: np.ndarray, volume: Volume):
    """The mask sampled (linear) on an axial world grid around it: (z, y, x) values, axes."""
    from scipy import ndimage

    box = bounding_box(mask, (2, 2, 2))
    lower = np.array([s.start for s in box])
    voxels = np.argwhere(mask[box]) + lower
    world = volume.index_to_world(voxels)
    steps, anchor = _axial_steps(volume), world[0]
    low = np.floor((world.min(axis=0) - anchor) / steps - 1e-6) - 1
    high = np.ceil((world.max(axis=0) - anchor) / steps + 1e-6) + 1
    axes = [anchor[w] + steps[w] * np.arange(low[w], high[w] + 1) for w in range(3)]
    z, y, x = np.meshgrid(axes[2], axes[1], axes[0], indexing="ij")
    points = np.stack([x.ravel(), y.ravel(), z.ravel()], axis=1)
    index = volume.world_to_index(points) - lower
    values = ndimage.map_coordinates(mask[box].astype(np.float32), index.T, order=1,
                                     mode="constant", cval=0.0, prefilter=False)
    return values.reshape(z.shape), axes


def _plane_axes(plane: np.ndarray, x_mm: np.ndarray, y_mm: np.ndarray) -> dict | None:
    from skimage.measure import find_contours

    if plane.max() < 0.5:
        return None
    contours = find_contours(np.pad(plane, 1), 0.5)
    step = np.array([y_mm[1] - y_mm[0], x_mm[1] - x_mm[0]])
    outlines = [((c - 1) * step + [y_mm[0], x_mm[0]])[:, ::-1] for c in contours]
    return in_plane_axes(outlines)


def recist_axes(mask: np.ndarray, volume: Volume) -> dict:
    """RECIST 1.1 long and short axes of a lesion mask in the patient's axial planes.

    See the module notes for the method.

    Parameters
    ----------
    mask : ndarray, 3D
        The lesion (non-zero inside) on ``volume``'s grid; not empty.
    volume : Volume
        Any Volume on the mask's grid (its geometry is used).

    Returns
    -------
    dict
        ``long_axis_mm``, ``short_axis_mm``, ``axial_slice_z_mm`` (world z
        of the measurement plane), ``long_axis_ends_mm`` and
        ``short_axis_ends_mm`` (two LPS points each, lists).

    Examples
    --------
    >>> mask = np.zeros((3, 20, 20), bool); mask[1, 5:15, 8:12] = True
    >>> axes = recist_axes(mask, Volume(mask, spacing_mm=(5.0, 1.0, 1.0)))
    >>> [round(axes[key], 2) for key in ("long_axis_mm", "short_axis_mm", "axial_slice_z_mm")]
    [10.44, 4.18, 5.0]

    The outline of a 10 × 4 voxel rectangle follows its outer voxel edges
    with the corners cut, so its longest diameter is a diagonal.
    """
    samples, (x_mm, y_mm, z_mm) = _axial_samples(np.asarray(mask) != 0, volume)
    best, best_z = None, math.nan
    for k, z in enumerate(z_mm):
        axes = _plane_axes(samples[k], x_mm, y_mm)
        if axes is None:
            continue
        key = (axes["long_axis_mm"], axes["short_axis_mm"])
        if best is None or key > (best["long_axis_mm"], best["short_axis_mm"]):
            best, best_z = axes, float(z)
    if best is None:
        raise ValueError("mask is empty: there is no lesion to measure")

    def ends(points_xy):
        return [[float(x), float(y), best_z] for x, y in points_xy]

    return {"long_axis_mm": float(best["long_axis_mm"]),
            "short_axis_mm": float(best["short_axis_mm"]), "axial_slice_z_mm": best_z,
            "long_axis_ends_mm": ends(best["long_axis_ends"]),
            "short_axis_ends_mm": ends(best["short_axis_ends"])}


# -- HU -------------------------------------------------------------------------------------------


def _hu_histogram(values: np.ndarray, bin_hu: float) -> dict:
    """Counts in bins of ``bin_hu`` HU aligned on multiples of it, covering every value."""
    low = math.floor(float(values.min()) / bin_hu) * bin_hu
    count = int(math.floor(float(values.max()) / bin_hu - low / bin_hu)) + 1
    edges = low + bin_hu * np.arange(count + 1)
    counts, _ = np.histogram(values, bins=edges)
    return {"edges_hu": [float(e) for e in edges], "counts": [int(c) for c in counts]}


# -- place --------------------------------------------------------------------------------------


def _own_label_ids(labels: Volume, lesion: np.ndarray) -> set[int]:
    """Ids that mostly lie inside the lesion: its own label in the map, not its surroundings."""
    inside = np.bincount(labels.array[lesion].ravel())
    own = set()
    for label_id in np.flatnonzero(inside):
        if label_id and inside[label_id] * 2 >= np.count_nonzero(labels.array == label_id):
            own.add(int(label_id))
    return own


def _label_votes(labels: Volume, lesion: np.ndarray) -> tuple[dict, dict]:
    """Voxel counts per label id inside the lesion and in a shell around it.

    The shell is 3 mm thick, and at least one voxel along each array axis.
    """
    spacing = np.asarray(labels.spacing_mm)
    radius_mm = max(_SHELL_MM, float(spacing.max()))  # at least one voxel on every side
    box = bounding_box(lesion, tuple(np.ceil(radius_mm / spacing).astype(int) + 1))
    inner = lesion[box]
    shell = dilate_mm(inner, radius_mm, spacing) & ~inner
    excluded = _own_label_ids(labels, lesion) | {0}
    if "table" in labels.labels:
        excluded.add(labels.labels.id_of("table"))

    def counts(where):
        ids, n = np.unique(labels.array[box][where], return_counts=True)
        return {int(i): int(c) for i, c in zip(ids, n, strict=True) if int(i) not in excluded}

    return counts(inner), counts(shell)


def _location(labels: Volume | None, lesion: np.ndarray) -> tuple[str | None, str | None]:
    """(structure the lesion lies in, its lung lobe) from the label map."""
    if labels is None:
        return None, None
    def name(label_id: int) -> str:
        return labels.labels.name_of(label_id) if label_id in labels.labels \
            else f"label_{label_id}"

    inside, shell = _label_votes(labels, lesion)
    votes = inside or shell
    location = name(max(votes, key=votes.get)) if votes else None
    lobes = {i: inside.get(i, 0) + shell.get(i, 0) for i in {*inside, *shell}
             if name(i) in LUNG_LOBES}
    lobe = name(max(lobes, key=lobes.get)) if lobes else None
    return location, lobe


def _midline_x(volume: Volume, lesion: np.ndarray, body: np.ndarray | None,
               labels: Volume | None) -> tuple[float, str]:
    """World x (mm) of the body's midline over the lesion's slices, and what it came from."""
    slices = np.flatnonzero(lesion.any(axis=(1, 2)))
    span = slice(slices[0], slices[-1] + 1)
    if body is not None:
        slab, reference = body[span], "body mask"
    elif labels is not None:
        ids = labels.array[span]
        skipped = _own_label_ids(labels, lesion)
        if "table" in labels.labels:
            skipped.add(labels.labels.id_of("table"))
        slab, reference = (ids != 0) & ~np.isin(ids, list(skipped)), "label map"
    else:
        return 0.0, "world x = 0"
    if not slab.any():
        return 0.0, "world x = 0"
    voxels = np.argwhere(slab) + [slices[0], 0, 0]
    x = volume.index_to_world(voxels)[:, 0]
    return float((x.min() + x.max()) / 2.0), reference


def _laterality(volume: Volume, lesion: np.ndarray, midline_x: float) -> str:
    """'midline' when the midline plane crosses the lesion, else the side (LPS: +x is left)."""
    x = volume.index_to_world(np.argwhere(lesion))[:, 0]
    if x.min() < midline_x < x.max():
        return "midline"
    return "left" if x.mean() > midline_x else "right"


# -- distances ---------------------------------------------------------------------------------


def _pleural_distance(lesion: np.ndarray, lungs: np.ndarray | None, spacing) -> float | None:
    """Distance to the lungs' outer surface: the lungs with their holes (the lesion) filled."""
    import fill_voids

    if lungs is None or not lungs.any():
        return None
    box = bounding_box(lungs, (1, 1, 1))
    filled = np.zeros(lungs.shape, bool)
    filled[box] = fill_voids.fill(lungs[box])
    return distance_to_surface_mm(lesion, filled, spacing)


def _distance_to(lesion: np.ndarray, mask: np.ndarray | None, spacing) -> float | None:
    if mask is None or not mask.any():
        return None
    return distance_between_masks_mm(lesion, mask, spacing)


# -- public ---------------------------------------------------------------------------------------


def measure_lesion(ct: Volume, lesion, *, labels: Volume | None = None, lungs=None,
                   airways=None, vessels=None, body=None,
                   hu_bin_width: float = 10.0) -> LesionMeasurement:
    """Measure one lesion: RECIST axes, 3D diameter, volume, HU, shape, place and distances.

    Parameters
    ----------
    ct : Volume
        CT in HU.
    lesion : ndarray or Volume
        The lesion mask (non-zero inside): an array of the CT's shape, or a
        Volume (resampled onto the CT's grid, nearest neighbour, with a
        warning when its grid differs).
    labels : Volume, optional
        A label map with its table: gives the structure the lesion lies in,
        the lung lobe (TotalSegmentator's lobe labels), the midline for the
        laterality, and the lungs, airways and vessels (``LUNG_NAMES``,
        ``AIRWAY_NAMES``, ``VESSEL_NAMES``) where those masks are not given.
    lungs, airways, vessels, body : ndarray or Volume, optional
        Masks on the CT's grid. Distances go to the lungs' outer (pleural)
        surface, the nearest airway and the nearest vessel; the body mask
        gives the midline.
    hu_bin_width : float
        Width (HU) of the bins of the HU histogram.

    Returns
    -------
    LesionMeasurement
        Volume = voxel count × voxel volume; HU mean and SD (population) of
        the lesion's voxels; surface area, sphericity and 3D longest diameter
        from the smooth surface of :mod:`hounsfield.measure.shape`. The
        midline is the middle of the body (else of the labelled anatomy) in
        world x over the lesion's slices, or world x = 0 without either.

    Examples
    --------
    >>> from hounsfield.data.anatomy import Lesion, thorax_phantom
    >>> ct, labels = thorax_phantom((24, 48, 48), (12.0, 6.0, 6.0),
    ...                             lesions=[Lesion((-75.0, -20.0, 200.0), 30.0)])
    >>> lesion = labels.array == labels.labels.id_of("lesion_1")
    >>> found = measure_lesion(ct, lesion, labels=labels)
    >>> found.location, found.laterality, found.hu_mean
    ('lung_right', 'right', 40.0)
    """
    if not isinstance(ct, Volume):
        raise TypeError(f"ct must be a hounsfield Volume, got {type(ct).__name__}")
    if not (math.isfinite(hu_bin_width) and hu_bin_width > 0):
        raise ValueError(f"hu_bin_width must be a positive number of HU, got {hu_bin_width!r}")
    mask = _mask_on_ct_grid(lesion, ct, "lesion")
    if not mask.any():
        raise ValueError("lesion mask is empty: there is no lesion to measure")
    labels = labels_on_ct_grid(labels, ct)
    lungs = _mask_on_ct_grid(lungs, ct, "lungs")
    airways = _mask_on_ct_grid(airways, ct, "airways")
    vessels = _mask_on_ct_grid(vessels, ct, "vessels")
    body = _mask_on_ct_grid(body, ct, "body")
    spacing = ct.spacing_mm

    box = bounding_box(mask)
    shape = shape_measures(mask[box], spacing, ct.direction)
    values = np.asarray(ct.array)[mask]
    location, lobe = _location(labels, mask)
    midline, reference = _midline_x(ct, mask, body, labels)
    centroid = ct.index_to_world(np.argwhere(mask).mean(axis=0))
    return LesionMeasurement(
        **recist_axes(mask, ct),
        longest_diameter_3d_mm=shape["max_diameter_mm"],
        volume_ml=float(values.size * ct.voxel_volume_ml), voxel_count=int(values.size),
        surface_area_mm2=shape["surface_area_mm2"], sphericity=shape["sphericity"],
        hu_mean=float(values.mean(dtype=np.float64)), hu_sd=float(values.std(dtype=np.float64)),
        hu_histogram=_hu_histogram(values, float(hu_bin_width)), centroid_mm=centroid.tolist(),
        location=location, lobe=lobe, laterality=_laterality(ct, mask, midline),
        laterality_reference=reference,
        distance_to_pleura_mm=_pleural_distance(
            mask, lungs if lungs is not None else _union_of(labels, LUNG_NAMES), spacing),
        distance_to_airway_mm=_distance_to(
            mask, airways if airways is not None else _union_of(labels, AIRWAY_NAMES), spacing),
        distance_to_vessel_mm=_distance_to(
            mask, vessels if vessels is not None else _union_of(labels, VESSEL_NAMES), spacing))
