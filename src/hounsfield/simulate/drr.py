"""Digitally reconstructed radiographs (DRRs): one cone-beam view through a CT.

A DRR is the line integral of attenuation μ along the ray from the X-ray
source to every detector pixel, ``p = ∫ μ dl``, or the radiograph intensity
that Beer–Lambert's law gives for it, ``I / I0 = exp(-p)``. HU become μ as
``μ = μ_water (1 + HU/1000)``, clipped at 0.

Pose. :func:`drr_geometry` builds the view as a one-view flat-panel
:class:`~hounsfield.tomo.geometry.Geometry` about an isocentre (by default
the centre of the CT), from a named view and optional rotations and
translations:

=================  ===========================================================
``ap``             source anterior, beam travelling anterior → posterior
``pa``             source posterior, beam posterior → anterior
``lateral-left``   source on the patient's right, beam right → left (the left
                   side against the detector, as in a left lateral radiograph)
``lateral-right``  source on the patient's left, beam left → right
=================  ===========================================================

Image orientation. Rows run from superior (top) to inferior (bottom), and
the image is seen as from the source (a beam's-eye view): in an AP view the
patient's right is on the image's left, as on a conventional radiograph, in
a PA view on its right (flip the columns, ``image[:, ::-1]``, for the usual
display of a PA chest film), in a left lateral view anterior is on the
image's right and in a right lateral view on its left. So AP and PA, and the
two laterals, are mirror images of each other up to magnification.

Rendering follows Joseph's ray-driven method as the shared projector
:func:`hounsfield.tomo.project` does (and agrees with it to float32
rounding): each ray is sampled once per voxel plane along its main axis, with
bilinear interpolation in the plane. :func:`project_labels` walks the same
samples through a label map and returns every label's projected thickness in
mm — the DRR of its binary mask with μ = 1 per mm — all labels in one pass.
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass

import numpy as np

from ..data.shepp_logan import MU_WATER_PER_MM
from ..labels import default_color
from ..tomo.geometry import Geometry
from ..volume import Volume
from . import _drr_kernels as kernels

__all__ = ["VIEWS", "drr_geometry", "rotation_matrix", "render_drr", "project_points",
           "project_labels", "LabelProjection", "display_image", "overlay_labels",
           "detector_volume"]

#: Named views: the unit direction (LPS) in which the beam travels.
VIEWS = {"ap": (0.0, 1.0, 0.0), "pa": (0.0, -1.0, 0.0),
         "lateral-left": (1.0, 0.0, 0.0), "lateral-right": (-1.0, 0.0, 0.0)}
_SUPERIOR = np.array([0.0, 0.0, 1.0])
_OUTPUTS = ("line_integral", "intensity")
#: Label ids index a lookup table of this many entries at most.
_MAX_LABEL_ID = 2**24


# -- pose -------------------------------------------------------------------------------------


def drr_geometry(ct: Volume, view: str = "ap", *, rotate_deg=(0.0, 0.0, 0.0),
                 translate_mm=(0.0, 0.0, 0.0), sdd_mm: float = 1020.0, sod_mm: float = 850.0,
                 detector_shape=(512, 512), pixel_spacing_mm=0.78,
                 isocenter_mm=None) -> Geometry:
    """The one-view cone-beam geometry of a radiograph of ``ct``.

    Parameters
    ----------
    ct : Volume
        The CT; its centre is the default isocentre.
    view : {'ap', 'pa', 'lateral-left', 'lateral-right'}
        The named view (see the module docstring).
    rotate_deg : 3 floats
        Rotations of the source and detector about the LPS x, y and z axes
        through the isocentre, in degrees, applied in that order (x first);
        positive angles turn counter-clockwise seen from the axis' positive
        end. z turns the beam about the patient's long axis (``ap`` turned
        by +90° about z is ``lateral-right``), x tilts it cranio-caudally.
    translate_mm : 3 floats
        Shift (x, y, z) of source and detector in LPS mm after the rotation;
        the patient appears moved by the opposite amount.
    sdd_mm, sod_mm : float
        Source–detector and source–isocentre distances, mm (``sod_mm <
        sdd_mm``); the defaults are those of a typical C-arm.
    detector_shape : (rows, cols)
        Detector size in pixels.
    pixel_spacing_mm : float or (row, col)
        Detector pixel pitch, mm.
    isocenter_mm : 3 floats, optional
        LPS point the view is centred on, instead of the CT's centre.

    Returns
    -------
    Geometry
        A 3D cone-beam geometry with one view and a flat detector; its
        columns step toward the image's right (``u``), its rows toward the
        image's bottom (``v``).

    Examples
    --------
    >>> ct = Volume(np.zeros((4, 4, 4), np.float32))  # centred on (1.5, 1.5, 1.5) mm
    >>> g = drr_geometry(ct, "ap", detector_shape=(2, 3), pixel_spacing_mm=1.0)
    >>> g.source[0].tolist(), g.detector[0].tolist()
    ([1.5, -848.5, 1.5], [1.5, 171.5, 1.5])
    >>> g.u[0].tolist(), g.v[0].tolist()  # columns toward the patient's left, rows down
    ([1.0, 0.0, 0.0], [0.0, 0.0, -1.0])
    """
    _check_volume(ct, "ct")
    beam = _named_view(view)
    sdd, sod = _positive(sdd_mm, "sdd_mm"), _positive(sod_mm, "sod_mm")
    if sod >= sdd:
        raise ValueError(f"sod_mm must be below sdd_mm ({sdd}), got {sod}")
    shape = _detector_shape(detector_shape)
    row_pitch, col_pitch = _pitches(pixel_spacing_mm)
    centre = _ct_centre(ct) if isocenter_mm is None else _triple(isocenter_mm, "isocenter_mm")
    rotation = rotation_matrix(_triple(rotate_deg, "rotate_deg"))
    shift = _triple(translate_mm, "translate_mm")
    beam, up = rotation @ beam, rotation @ _SUPERIOR
    right = np.cross(beam, up)
    source = centre - sod * beam + shift
    detector = centre + (sdd - sod) * beam + shift
    vectors = np.stack([source, detector, col_pitch * right, -row_pitch * up]) + 0.0  # no -0.0
    return Geometry("cone", vectors[:1], vectors[1:2], vectors[2:3], vectors[3:],
                    det_shape=shape, sod_mm=sod, sdd_mm=sdd)


def rotation_matrix(rotate_deg) -> np.ndarray:
    """Rz · Ry · Rx for rotations (x, y, z) in degrees about the LPS axes (x applied first).

    >>> rotation_matrix((0, 0, 90)).round(12) @ np.array([1.0, 0.0, 0.0])
    array([0., 1., 0.])
    """
    x, y, z = np.deg2rad(_triple(rotate_deg, "rotate_deg"))
    rx = np.array([[1, 0, 0], [0, np.cos(x), -np.sin(x)], [0, np.sin(x), np.cos(x)]])
    ry = np.array([[np.cos(y), 0, np.sin(y)], [0, 1, 0], [-np.sin(y), 0, np.cos(y)]])
    rz = np.array([[np.cos(z), -np.sin(z), 0], [np.sin(z), np.cos(z), 0], [0, 0, 1]])
    return rz @ ry @ rx


def project_points(geometry: Geometry, points_mm) -> np.ndarray:
    """Detector coordinates (row, col) in pixels of LPS points, by the pinhole formula.

    The ray from the source through each point meets the detector plane at
    the returned fractional pixel position (pixel centres at integers, (0, 0)
    at the top left), the position of the point in :func:`render_drr`'s image.
    Points must lie on the detector's side of the source.

    Parameters
    ----------
    geometry : Geometry
        A one-view flat cone-beam geometry (from :func:`drr_geometry`).
    points_mm : array (..., 3)
        LPS points (x, y, z) in mm.

    Returns
    -------
    ndarray (..., 2)
        (row, col) of each point.

    Examples
    --------
    >>> ct = Volume(np.zeros((4, 4, 4), np.float32))
    >>> g = drr_geometry(ct, "ap", detector_shape=(5, 5), pixel_spacing_mm=1.2)
    >>> project_points(g, [1.5, 1.5, 1.5]).tolist()  # the isocentre: the detector centre
    [2.0, 2.0]
    >>> project_points(g, [2.5, 1.5, 1.5]).round(6).tolist()  # 1 mm left, magnified 1.2×
    [2.0, 3.0]
    """
    _check_view(geometry)
    points = np.asarray(points_mm, dtype=float)
    if points.shape[-1:] != (3,) or not np.all(np.isfinite(points)):
        raise ValueError(f"points_mm must be finite LPS points of shape (..., 3), "
                         f"got shape {points.shape}")
    source, detector = geometry.source[0], geometry.detector[0]
    u, v = geometry.u[0], geometry.v[0]
    normal = np.cross(u, v)
    rays = points - source
    reach = (detector - source) @ normal / (rays @ normal)
    offsets = source + reach[..., None] * rays - detector
    gram = np.array([[u @ u, u @ v], [u @ v, v @ v]])
    col_row = np.linalg.solve(gram, np.stack([offsets @ u, offsets @ v], axis=-1)[..., None])
    n_rows, n_cols = geometry.det_shape
    return np.stack([col_row[..., 1, 0] + (n_rows - 1) / 2, col_row[..., 0, 0] + (n_cols - 1) / 2],
                    axis=-1)


# -- rendering ---------------------------------------------------------------------------------


def render_drr(ct: Volume, geometry: Geometry, *, output: str = "line_integral",
               mu_water_per_mm: float = MU_WATER_PER_MM) -> np.ndarray:
    """Render a DRR of a CT in HU.

    Parameters
    ----------
    ct : Volume
        CT in HU, placed by its own spacing, origin and direction.
    geometry : Geometry
        A one-view flat cone-beam geometry in the CT's LPS world frame,
        e.g. from :func:`drr_geometry`.
    output : {'line_integral', 'intensity'}
        ``p = ∫ μ dl`` (dimensionless), or the radiograph intensity
        ``I / I0 = exp(-p)`` (Beer–Lambert).
    mu_water_per_mm : float
        μ of water in 1/mm at the effective energy (default 0.0194, about
        70 keV); μ = μ_water (1 + HU/1000), clipped at 0.

    Returns
    -------
    ndarray (rows, cols), float32
        The image, rows superior → inferior (see the module docstring).

    Notes
    -----
    Memory: one float32 copy of the CT (as μ, in a thin zero border) besides
    the input and the image. The first call compiles the kernels unless
    numba's on-disk cache holds them.

    Examples
    --------
    >>> hu = np.full((8, 8, 8), -1000.0, np.float32); hu[2:6, 2:6, 2:6] = 0.0  # 4 mm of water
    >>> ct = Volume(hu)
    >>> g = drr_geometry(ct, detector_shape=(3, 3), pixel_spacing_mm=1.0)
    >>> p = render_drr(ct, g, mu_water_per_mm=0.02)
    >>> round(float(p[1, 1]), 6)  # the central ray crosses 4 mm of μ = 0.02 / mm
    0.08
    >>> round(float(render_drr(ct, g, output="intensity", mu_water_per_mm=0.02)[1, 1]), 4)
    0.9231
    """
    _check_volume(ct, "ct")
    view, metric = _index_space_view(geometry, ct)
    if output not in _OUTPUTS:
        raise ValueError(f"output must be one of {_OUTPUTS}, got {output!r}")
    mu_water = _positive(mu_water_per_mm, "mu_water_per_mm", unit="1/mm")
    if not (np.issubdtype(ct.array.dtype, np.floating) or np.issubdtype(ct.array.dtype,
                                                                          np.integer)):
        raise TypeError(f"ct must hold real HU values, got dtype {ct.array.dtype}")
    padded = _zeros_padded(ct.shape, np.float32)
    kernels.pad_attenuation(ct.array, mu_water, padded)
    image = np.empty(geometry.det_shape, np.float32)
    kernels.render_line_integrals(padded, view, metric, image)
    if output == "intensity":
        np.exp(-image, out=image)
    return image


# -- labels ------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class LabelProjection:
    """Projected thickness of every label of a label map through one view.

    Attributes
    ----------
    thickness_mm : ndarray (channels, rows, cols), float32
        Length in mm of each ray inside each label: the DRR of the label's
        binary mask with μ = 1 per mm.
    label_ids, names : tuples
        The label of each channel.
    colors : tuple of (r, g, b)
        8-bit colour of each channel, from the label table.
    threshold_mm : float
        The thickness above which :attr:`masks` counts a pixel as inside.
    """

    thickness_mm: np.ndarray
    label_ids: tuple
    names: tuple
    colors: tuple
    threshold_mm: float

    @property
    def masks(self) -> np.ndarray:
        """(channels, rows, cols) bool: projected thickness above ``threshold_mm``."""
        return self.thickness_mm > self.threshold_mm

    def __getitem__(self, name: str) -> np.ndarray:
        """The thickness image (mm) of one label, by name."""
        if name not in self.names:
            raise KeyError(f"no label {name!r} in this projection; it has {list(self.names)[:8]}"
                           f"{' ...' if len(self.names) > 8 else ''}")
        return self.thickness_mm[self.names.index(name)]

    def __repr__(self) -> str:
        return (f"LabelProjection({len(self.names)} labels, image "
                f"{'×'.join(map(str, self.thickness_mm.shape[1:]))}, "
                f"threshold_mm={self.threshold_mm:g})")


def project_labels(labels: Volume, geometry: Geometry, *, names=None,
                   threshold_mm: float = 1.0) -> LabelProjection:
    """Projected thickness (mm) and masks of every label of a label map, in one pass.

    Parameters
    ----------
    labels : Volume
        Integer label map, placed by its own geometry (it need not share the
        CT's grid). Its LabelTable names the labels; without one, every id
        present is projected and named ``label_<id>``.
    geometry : Geometry
        A one-view flat cone-beam geometry, e.g. from :func:`drr_geometry`.
    names : sequence of str, optional
        The labels to project, in this channel order (default: all labels of
        the table, by id).
    threshold_mm : float
        Thickness above which a pixel belongs to a label's mask.

    Returns
    -------
    LabelProjection

    Examples
    --------
    >>> from hounsfield.labels import LabelTable
    >>> ids = np.zeros((8, 8, 8), np.uint8); ids[2:6, 2:6, 2:6] = 1; ids[2:6, 2:6, 4:6] = 2
    >>> seg = Volume(ids, labels=LabelTable.from_names({1: "left", 2: "right"}))
    >>> g = drr_geometry(seg, detector_shape=(1, 1), pixel_spacing_mm=1.0)
    >>> projection = project_labels(seg, g)  # the central ray runs along y through both
    >>> projection.names, projection.thickness_mm[:, 0, 0].round(6).tolist()
    (('left', 'right'), [2.0, 2.0])
    """
    _check_volume(labels, "labels")
    if not np.issubdtype(labels.array.dtype, np.integer):
        raise TypeError(f"labels must hold integer ids, got dtype {labels.array.dtype}")
    view, metric = _index_space_view(geometry, labels)
    threshold = _nonnegative(threshold_mm, "threshold_mm")
    ids, channel_names, colors = _channels(labels, names)
    if min(ids) < 1 or max(ids) > _MAX_LABEL_ID:
        raise ValueError(f"label ids must lie in [1, {_MAX_LABEL_ID}], got {min(ids)}..{max(ids)}")
    channel_of_id = np.zeros(max(ids) + 1, np.uint16 if len(ids) >= 255 else np.uint8)
    channel_of_id[list(ids)] = np.arange(1, len(ids) + 1)
    padded = _zeros_padded(labels.shape, channel_of_id.dtype)
    kernels.pad_channels(labels.array, channel_of_id, padded)
    thickness = np.zeros((len(ids), *geometry.det_shape), np.float32)
    kernels.render_label_path_lengths(padded, len(ids), view, metric, thickness)
    return LabelProjection(thickness, ids, channel_names, colors, threshold)


def _channels(labels: Volume, names) -> tuple[tuple, tuple, tuple]:
    """(ids, names, colours) of the channels to project."""
    table = labels.labels
    if table is None:
        ids = _ids_present(labels.array)
        entries = [(i, f"label_{i}", default_color(i)) for i in ids]
    else:
        entries = [(label.id, label.name, tuple(label.color)) for label in table]
    if names is not None:
        if isinstance(names, str):
            names = [names]
        known = {name: (i, name, color) for i, name, color in entries}
        missing = [name for name in names if name not in known]
        if missing:
            raise ValueError(f"names holds labels not in the label map: {missing}; it has "
                             f"{sorted(known)[:8]}{' ...' if len(known) > 8 else ''}")
        entries = [known[name] for name in dict.fromkeys(names)]
    if not entries:
        raise ValueError("labels holds no label to project (no id above 0)")
    ids, channel_names, colors = zip(*entries, strict=True)
    return tuple(int(i) for i in ids), tuple(channel_names), tuple(colors)


def _ids_present(array: np.ndarray) -> list[int]:
    top = int(array.max()) if array.size else 0
    if top > _MAX_LABEL_ID:
        raise ValueError(f"label ids must lie in [1, {_MAX_LABEL_ID}], got {top}")
    counts = kernels.count_ids(array, top + 1)
    return [int(i) for i in np.flatnonzero(counts) if i > 0]


# -- display --------------------------------------------------------------------------------------


def display_image(image, *, log: bool = False, invert: bool = False,
                  percentiles=(0.5, 99.5)) -> np.ndarray:
    """Grey levels in [0, 1] for showing a DRR: optional log, window, optional inversion.

    Parameters
    ----------
    image : ndarray (rows, cols)
        Line integrals or intensities from :func:`render_drr`.
    log : bool
        Take the natural log of the values first (values at or below 0 are
        raised to the smallest positive value): for intensities this shows
        the log signal ``ln(I/I0) = -p`` that radiographs are viewed in, for
        line integrals it compresses their range.
    invert : bool
        Flip the grey levels (``1 - g``) after windowing: line integrals show
        bone bright as they are, intensities show it dark unless inverted.
    percentiles : (low, high)
        The window runs from these percentiles of the (logged) image.

    Examples
    --------
    >>> display_image(np.array([[0.0, 1.0], [2.0, 4.0]]), percentiles=(0, 100)).tolist()
    [[0.0, 0.25], [0.5, 1.0]]
    >>> display_image(np.array([[0.0, 1.0], [2.0, 4.0]]), invert=True, percentiles=(0, 100))[0]
    array([1.  , 0.75], dtype=float32)
    """
    values = np.asarray(image, dtype=np.float32)
    if values.ndim != 2 or values.size == 0 or not np.all(np.isfinite(values)):
        raise ValueError(f"image must be a finite 2D array, got shape {values.shape}")
    low, high = (float(p) for p in percentiles)
    if not 0 <= low < high <= 100:
        raise ValueError(f"percentiles must be (low, high) with 0 <= low < high <= 100, "
                         f"got {percentiles!r}")
    if log:
        positive = values[values > 0]
        floor = positive.min() if positive.size else np.float32(1.0)
        values = np.log(np.maximum(values, floor))
    lo, hi = np.percentile(values, [low, high])
    grey = np.clip((values - lo) / (hi - lo), 0.0, 1.0) if hi > lo else np.zeros_like(values)
    return (1.0 - grey if invert else grey).astype(np.float32)


def overlay_labels(grey, projection: LabelProjection, *, alpha: float = 0.5) -> np.ndarray:
    """An RGB picture of the label masks over a grey DRR: (rows, cols, 3) uint8.

    Each pixel inside one or more masks takes the mean colour of those labels,
    blended with the grey level at opacity ``alpha``.

    >>> p = LabelProjection(np.array([[[2.0, 0.0]]], np.float32), (1,), ("a",),
    ...                     ((255, 0, 0),), 1.0)
    >>> overlay_labels(np.zeros((1, 2)), p).tolist()
    [[[128, 0, 0], [0, 0, 0]]]
    """
    grey = np.asarray(grey, dtype=np.float32)
    if grey.shape != projection.thickness_mm.shape[1:]:
        raise ValueError(f"grey must have the projection's image shape "
                         f"{projection.thickness_mm.shape[1:]}, got {grey.shape}")
    if not 0 <= alpha <= 1:
        raise ValueError(f"alpha must be in [0, 1], got {alpha!r}")
    masks = projection.masks.astype(np.float32)
    colors = np.asarray(projection.colors, dtype=np.float32) / 255.0
    count = masks.sum(axis=0)
    mean_color = np.einsum("chw,ck->hwk", masks, colors) / np.maximum(count, 1.0)[..., None]
    rgb = np.repeat(grey[..., None], 3, axis=-1)
    inside = count > 0
    rgb[inside] = (1.0 - alpha) * rgb[inside] + alpha * mean_color[inside]
    return np.round(np.clip(rgb, 0.0, 1.0) * 255).astype(np.uint8)


def detector_volume(image, geometry: Geometry) -> Volume:
    """A DRR as a one-slice Volume (1, rows, cols) lying on the detector plane, for NIfTI.

    Array axis 0 runs along the beam (1 mm), axis 1 along the detector rows
    and axis 2 along its columns; the origin is the centre of pixel (0, 0).

    >>> ct = Volume(np.zeros((4, 4, 4), np.float32))
    >>> g = drr_geometry(ct, detector_shape=(2, 3), pixel_spacing_mm=0.5)
    >>> v = detector_volume(np.zeros((2, 3), np.float32), g)
    >>> v.shape, v.spacing_mm, v.origin_mm
    ((1, 2, 3), (1.0, 0.5, 0.5), (1.0, 171.5, 1.75))
    """
    _check_view(geometry)
    image = np.asarray(image)
    if image.shape != geometry.det_shape:
        raise ValueError(f"image must have the detector's shape {geometry.det_shape}, "
                         f"got {image.shape}")
    u, v = geometry.u[0], geometry.v[0]
    if abs(u @ v) > 1e-6 * np.linalg.norm(u) * np.linalg.norm(v):
        raise ValueError("the detector's rows and columns are not perpendicular")
    beam = geometry.detector[0] - geometry.source[0]
    normal = np.cross(v, u)
    normal *= np.sign(normal @ beam) / np.linalg.norm(normal)
    direction = np.column_stack([normal, v / np.linalg.norm(v), u / np.linalg.norm(u)])
    n_rows, n_cols = geometry.det_shape
    origin = geometry.detector[0] - (n_cols - 1) / 2 * u - (n_rows - 1) / 2 * v
    return Volume(image[None], spacing_mm=(1.0, np.linalg.norm(v), np.linalg.norm(u)),
                  origin_mm=tuple(origin), direction=direction)


# -- helpers -----------------------------------------------------------------------------------


def _index_space_view(geometry: Geometry, volume: Volume) -> tuple[np.ndarray, np.ndarray]:
    """(source, detector, u, v) of the view in the volume's index space, and its metric."""
    _check_view(geometry)
    to_world = volume.direction * np.asarray(volume.spacing_mm)
    to_index = np.linalg.inv(to_world)
    origin = np.asarray(volume.origin_mm)
    view = np.stack([to_index @ (geometry.source[0] - origin),
                     to_index @ (geometry.detector[0] - origin),
                     to_index @ geometry.u[0], to_index @ geometry.v[0]])
    return view, to_world.T @ to_world


def _zeros_padded(shape, dtype) -> np.ndarray:
    pad = kernels.PAD_BEFORE + kernels.PAD_AFTER
    return np.zeros(tuple(n + pad for n in shape), dtype)


def _ct_centre(volume: Volume) -> np.ndarray:
    return volume.index_to_world((np.asarray(volume.shape) - 1) / 2)


def _check_volume(volume, name: str) -> None:
    if not isinstance(volume, Volume):
        raise TypeError(f"{name} must be a hounsfield Volume, got {type(volume).__name__}")


def _check_view(geometry) -> None:
    if not isinstance(geometry, Geometry):
        raise TypeError(f"geometry must be a hounsfield Geometry, got {type(geometry).__name__}")
    if geometry.kind != "cone" or geometry.ndim != 3 or geometry.n_views != 1 or geometry.curved:
        raise ValueError(f"geometry must be a one-view 3D cone beam with a flat detector "
                         f"(see drr_geometry), got {geometry!r}")


def _named_view(view) -> np.ndarray:
    if view not in VIEWS:
        raise ValueError(f"view must be one of {list(VIEWS)}, got {view!r}")
    return np.array(VIEWS[view])


def _positive(value, name: str, unit: str = "mm") -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) \
            or not (np.isfinite(value) and value > 0):
        raise ValueError(f"{name} must be a positive number of {unit}, got {value!r}")
    return float(value)


def _nonnegative(value, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) \
            or not (np.isfinite(value) and value >= 0):
        raise ValueError(f"{name} must be a number of mm >= 0, got {value!r}")
    return float(value)


def _triple(value, name: str) -> np.ndarray:
    array = np.asarray(value, dtype=float) if _is_numeric(value) else None
    if array is None or array.shape != (3,) or not np.all(np.isfinite(array)):
        raise ValueError(f"{name} must be three finite numbers (x, y, z), got {value!r}")
    return array


def _is_numeric(value) -> bool:
    try:
        np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        return False
    return True


def _pitches(value) -> tuple[float, float]:
    pair = np.atleast_1d(np.asarray(value, dtype=float)) if _is_numeric(value) else None
    if pair is None or pair.shape not in ((1,), (2,)) or not np.all(np.isfinite(pair)) \
            or np.any(pair <= 0):
        raise ValueError(f"pixel_spacing_mm must be one or two (row, col) positive numbers "
                         f"of mm, got {value!r}")
    pair = np.broadcast_to(pair, (2,))
    return float(pair[0]), float(pair[1])


def _detector_shape(value) -> tuple[int, int]:
    try:
        shape = tuple(value)
    except TypeError:
        shape = ()
    if len(shape) != 2 or not all(isinstance(n, numbers.Integral) and not isinstance(n, bool)
                                  and n >= 1 for n in shape):
        raise ValueError(f"detector_shape must be two positive integers (rows, cols), "
                         f"got {value!r}")
    return int(shape[0]), int(shape[1])
