"""Analytic reconstruction: filtered backprojection (2D parallel and fan beams) and FDK (cone beam).

Both follow the same three steps (formulas in :mod:`.weights`):

1. weight each projection: redundancy (1 for a parallel half turn, 1/2 for a
   full turn, Parker's weights for short scans, Wang's weights for a full
   turn of an offset "half-fan" detector) times the cosine of the ray to the
   central ray (fan and cone beams);
2. filter every detector row with the discrete ramp of :mod:`.filters`
   (optionally windowed, zero padded to a fast FFT length ≥ 2·columns - 1;
   an offset detector's rows first get zero columns on the short side, out
   to the mirror of the long edge, so that the filtered rows reach every
   voxel);
3. backproject with the voxel-driven kernels of :mod:`._backproject_kernels`
   (linear interpolation on the detector, bilinear in 3D), weighting each view
   by its angular step and, for divergent beams, the distance weight.

Units: projections in line integrals of μ (1/mm) over mm reconstruct to μ in
1/mm; in general the result is in the phantom's own value units.
``hu=True`` converts μ to Hounsfield units, ``1000 (μ / μ_water - 1)``.

Images are placed as everywhere in :mod:`hounsfield.tomo`: an array shape is
centred on the rotation axis (see :mod:`.grid`); a Volume is reconstructed on
its own grid, in its LPS world frame.
"""

from __future__ import annotations

import numpy as np

from ..volume import Volume
from . import _backproject_kernels as kernels
from ._backproject_kernels import MAX_VIEW_SAMPLES, PAD_AFTER, PAD_BEFORE
from ._fbp_geometry import CircularScan, backprojection_maps, circular_scan
from .filters import ramp_filter
from .geometry import Geometry
from .grid import ImageGrid
from .weights import cosine_weights, redundancy_weights, view_scales

__all__ = ["fbp", "fdk"]

#: FDK filters this many views at a time (bounds the temporary float32 and complex memory).
_VIEWS_PER_CHUNK = 32


def fbp(sinogram, geometry: Geometry, shape, spacing_mm=None, filter: str = "ramp",
        cutoff: float = 1.0, padding: bool = True, hu: bool = False,
        short_scan: bool | None = None, *, mu_water_per_mm: float | None = None):
    """Filtered backprojection of 2D parallel or fan-beam sinograms (flat or curved detector).

    Parameters
    ----------
    sinogram : array (views, n_det) or (nz, views, n_det)
        Line integrals (e.g. μ·mm, dimensionless), laid out as
        ``geometry.projection_shape``; a stack is reconstructed slice by slice.
    geometry : Geometry
        A 2D circular scan: :func:`.parallel_beam`, :func:`.fan_beam` or the
        same from per-view vectors. Detector offsets are honoured. A fan
        beam whose detector reaches farther on one side of the central ray
        than on the other by more than one column (an offset or "half-fan"
        detector, which can cover nearly twice the field of view) needs a
        full turn and at least one column beyond the central ray on its
        short side; it gets Wang's redundancy weights
        (:func:`.weights.offset_detector_weights`).
    shape : (ny, nx), (nz, ny, nx), ImageGrid or Volume
        The image grid. An array shape is centred on the rotation axis; a
        Volume (axial) is reconstructed on its own grid, one slice per sinogram.
    spacing_mm : float or (dy, dx), optional
        Pixel size in mm for array shapes. Default: the detector pitch
        scaled to the rotation axis (pitch · R / D for fan beams).
    filter : {"ramp", "shepp-logan", "cosine", "hamming", "hann"}
        Window on the ramp ("ramp" is Ram-Lak).
    cutoff : float
        Frequency cut-off as a fraction of the detector's Nyquist frequency, in (0, 1].
    padding : bool
        Zero-pad each row to a fast FFT length ≥ 2·n_det - 1 before filtering
        (avoids the wrap-around of circular convolution).
    hu : bool
        Return Hounsfield units ``1000 (μ / mu_water_per_mm - 1)`` instead of μ.
    short_scan : bool, optional
        None: Parker weights when the views span less than 360° (they must
        span at least 180° plus the full fan angle); True: Parker weights
        always; False: require a full turn (a half turn for parallel beams).
        Offset detectors take None or False and a full turn.
    mu_water_per_mm : float, optional
        μ of water for ``hu=True``, 1/mm. Default
        :data:`hounsfield.data.shepp_logan.MU_WATER_PER_MM` (0.0194, about 70 keV).

    Returns
    -------
    ndarray (ny, nx) or (nz, ny, nx) of float32, or Volume
        μ in the sinogram's units per mm (HU with ``hu=True``); a Volume when
        ``shape`` is one.

    Examples
    --------
    >>> from hounsfield.tomo import parallel_beam
    >>> from hounsfield.data.analytic import Ellipse, EllipsoidPhantom
    >>> disc = EllipsoidPhantom([Ellipse((0.0, 0.0), (40.0, 40.0), value=0.02)])
    >>> geometry = parallel_beam(180, 129, det_spacing_mm=1.0)
    >>> positions = np.arange(129) - 64.0
    >>> image = fbp(disc.parallel_sinogram(geometry.angles_rad, positions), geometry, (65, 65),
    ...             spacing_mm=2.0)
    >>> round(float(image[32, 32]), 4)  # μ at the centre, 1/mm
    0.02
    """
    mu_water = _mu_water(hu, mu_water_per_mm)
    scan = circular_scan(geometry, ndim=2)
    stack, is_stack = _projection_stack(sinogram, geometry, "sinogram")
    grid, volume, out_shape = _fbp_grid(shape, spacing_mm, scan, stack.shape[0], is_stack)
    _check_in_front_of_source(scan, grid)
    pairs = _filtered_2d(stack, scan, filter, cutoff, padding, short_scan)
    out = np.zeros((stack.shape[0], *grid.shape), np.float32)
    _kernel(scan)(pairs, **backprojection_maps(scan, grid), out=out)
    return _finish(out.reshape(out_shape), volume, mu_water)


def fdk(projections, geometry: Geometry, shape, spacing_mm=None, filter: str = "ramp",
        cutoff: float = 1.0, padding: bool = True, hu: bool = False,
        short_scan: bool | None = None, *, mu_water_per_mm: float | None = None):
    """Feldkamp–Davis–Kress reconstruction of a circular cone-beam scan (flat or curved detector).

    Parameters
    ----------
    projections : array (views, rows, cols)
        Line integrals laid out as ``geometry.projection_shape``.
    geometry : Geometry
        A circular cone beam about the z axis (:func:`.cone_beam`), rows along
        z, with any row and column offsets (flat or curved detector). An
        offset ("half-fan") detector is weighted as in :func:`fbp`, column by
        column.
    shape : (nz, ny, nx), ImageGrid or Volume
        The volume grid; an array shape is centred on the rotation axis's
        centre point (the source's plane is z = 0 for :func:`.cone_beam`).
    spacing_mm : float or (dz, dy, dx), optional
        Voxel size in mm for array shapes. Default: the detector pitches
        scaled to the rotation axis (pitch · R / D).
    filter, cutoff, padding, hu, short_scan, mu_water_per_mm
        As in :func:`fbp`.

    Returns
    -------
    ndarray (nz, ny, nx) of float32, or Volume
        μ in the projections' units per mm (HU with ``hu=True``).

    Notes
    -----
    FDK is exact in the source's plane only; away from it the cone angle
    blurs and lowers edges that are nearly parallel to that plane.

    Examples
    --------
    >>> from hounsfield.tomo import cone_beam
    >>> from hounsfield.data.analytic import Ellipsoid, EllipsoidPhantom
    >>> ball = EllipsoidPhantom([Ellipsoid((0, 0, 0), (20, 20, 20), value=0.02)])
    >>> geometry = cone_beam(90, (48, 48), 2.0, sod_mm=200, sdd_mm=400)
    >>> projections = ball.line_integrals(*geometry.rays())
    >>> volume = fdk(projections, geometry, (8, 32, 32), spacing_mm=1.5)
    >>> round(float(volume[4, 16, 16]), 3)  # μ at the centre, 1/mm
    0.02
    """
    mu_water = _mu_water(hu, mu_water_per_mm)
    scan = circular_scan(geometry, ndim=3)
    stack, _ = _projection_stack(projections, geometry, "projections")
    grid, volume = _fdk_grid(shape, spacing_mm, scan)
    _check_in_front_of_source(scan, grid)
    pairs = _filtered_3d(stack[0], scan, filter, cutoff, padding, short_scan)
    maps = backprojection_maps(scan, grid)
    out = np.zeros(grid.shape, np.float32)
    _kernel(scan, maps)(pairs, **maps, out=out)
    return _finish(out, volume, mu_water)


# -- inputs ---------------------------------------------------------------------------------


def _projection_stack(data, geometry: Geometry, name: str) -> tuple[np.ndarray, bool]:
    """Projections as a float32 stack (nz, *projection_shape), and whether a stack was given."""
    array = np.asarray(data, dtype=np.float32)
    expected = geometry.projection_shape
    if array.shape == expected:
        stack, is_stack = array[None], False
    elif geometry.ndim == 2 and array.ndim == 3 and array.shape[1:] == expected:
        stack, is_stack = array, True
    else:
        stacked = " or (nz, views, n_det)" if geometry.ndim == 2 else ""
        raise ValueError(f"{name} must have shape {expected}{stacked} to match the geometry, "
                         f"got {array.shape}")
    if not np.all(np.isfinite(stack)):
        raise ValueError(f"{name} must be finite (found NaN or inf)")
    return stack, is_stack


def _axis_pitch(scan: CircularScan, pitch_mm: float) -> float:
    """A detector pitch scaled to the rotation axis."""
    if scan.beam == "parallel":
        return pitch_mm
    return pitch_mm * float(np.mean(scan.source_radius_mm / scan.detector_distance_mm))


def _given_grid(shape, spacing_mm) -> ImageGrid | None:
    """The grid of a Volume or ImageGrid passed as ``shape``; None for an array shape."""
    if not isinstance(shape, Volume | ImageGrid):
        return None
    if spacing_mm is not None:
        raise ValueError("spacing_mm comes with the Volume or ImageGrid given as shape; "
                         "do not pass it as well")
    return ImageGrid.of(shape) if isinstance(shape, Volume) else shape


def _fbp_grid(shape, spacing_mm, scan: CircularScan, n_slices: int, is_stack: bool):
    """(2D grid, Volume or None, output shape) for fbp."""
    grid = _given_grid(shape, spacing_mm)
    if grid is None:
        dims = _shape_tuple(shape, (2, 3))
        grid = ImageGrid.of(dims, _spacing(spacing_mm, len(dims),
                                           _axis_pitch(scan, scan.pitch_mm)))
    volume = shape if isinstance(shape, Volume) else None
    if grid.ndim == 2:
        return grid, volume, ((n_slices,) if is_stack else ()) + grid.shape
    if grid.shape[0] != n_slices:
        raise ValueError(f"shape has {grid.shape[0]} slices but the sinogram stack has "
                         f"{n_slices}")
    return grid.axial_slice(), volume, grid.shape


def _fdk_grid(shape, spacing_mm, scan: CircularScan):
    """(3D grid, Volume or None) for fdk."""
    grid = _given_grid(shape, spacing_mm)
    if grid is None:
        row_pitch = float(np.linalg.norm(scan.geometry.v[0]))
        default = (_axis_pitch(scan, row_pitch), *(2 * [_axis_pitch(scan, scan.pitch_mm)]))
        dims = _shape_tuple(shape, (3,))
        grid = ImageGrid.of(dims, _spacing(spacing_mm, 3, default))
    if grid.ndim != 3:
        raise ValueError(f"shape must be a 3D grid for fdk, got {grid.ndim}D")
    return grid, shape if isinstance(shape, Volume) else None


def _shape_tuple(shape, sizes) -> tuple:
    try:
        dims = tuple(int(n) for n in shape)
        valid = len(dims) in sizes and all(n >= 1 for n in dims) and \
            all(int(n) == n for n in shape)
    except (TypeError, ValueError):
        valid = False
    if not valid:
        wanted = " or ".join(f"{n} positive integers" for n in sizes)
        raise ValueError(f"shape must be {wanted} (array order), an ImageGrid or a Volume, "
                         f"got {shape!r}")
    return dims


def _spacing(spacing_mm, ndim: int, default) -> tuple:
    value = default if spacing_mm is None else spacing_mm
    try:
        spacing = np.broadcast_to(np.asarray(value, dtype=float), (ndim,))
    except ValueError:
        raise ValueError(f"spacing_mm must be one or {ndim} positive numbers of mm, "
                         f"got {spacing_mm!r}") from None
    if not np.all(np.isfinite(spacing) & (spacing > 0)):
        raise ValueError(f"spacing_mm must be positive numbers of mm, got {spacing_mm!r}")
    return tuple(float(s) for s in spacing)


def _check_in_front_of_source(scan: CircularScan, grid: ImageGrid) -> None:
    """Every voxel must lie between source and detector plane side: positive depth, all views."""
    if scan.beam == "parallel":
        return
    corners = np.array(np.meshgrid(*[[0, n - 1] for n in grid.shape], indexing="ij"))
    world = grid.index_to_world(corners.reshape(grid.ndim, -1).T)
    source = scan.geometry.source
    central = -source[:, :2] / scan.source_radius_mm[:, None]
    depth = np.einsum("vi,ci->vc", central, world[:, :2]) + scan.source_radius_mm[:, None]
    if np.any(depth <= 0.05 * scan.source_radius_mm[:, None]):
        raise ValueError("the image grid reaches the source's orbit; make it smaller than "
                         f"the orbit (radius {scan.source_radius_mm.min():.6g} mm)")


# -- filtering -------------------------------------------------------------------------------


def _filter_options(scan: CircularScan, filter, cutoff, padding) -> dict:
    arc_radius = scan.geometry.sdd_mm if scan.curved else None
    return {"pitch_mm": scan.pitch_mm, "filter": filter, "cutoff": cutoff,
            "padding": bool(padding), "arc_radius_mm": arc_radius}


def _packed(filtered: np.ndarray, detector_axes: int) -> np.ndarray:
    """Zero pad the last ``detector_axes`` axes (1 before, 2 after), pack (value, slope) pairs."""
    leading = filtered.ndim - detector_axes
    pad = [(0, 0)] * leading + [(PAD_BEFORE, PAD_AFTER)] * detector_axes
    return kernels.pack_pairs(np.pad(filtered, pad))


def _filtered_2d(stack, scan: CircularScan, filter, cutoff, padding, short_scan) -> np.ndarray:
    """Weighted, filtered, scaled, padded and packed sinograms: (nz, views, n + 3) uint64."""
    options = _filter_options(scan, filter, cutoff, padding)  # validates before the work
    weights = (redundancy_weights(scan, short_scan) * cosine_weights(scan)).astype(np.float32)
    scales = view_scales(scan).astype(np.float32)[:, None]
    n_slices, n_views = stack.shape[:2]
    n_cols = scan.filtered_columns
    pairs = np.empty((n_slices, n_views, n_cols + PAD_BEFORE + PAD_AFTER), np.uint64)
    for z in range(n_slices):
        filtered = ramp_filter(_extended(stack[z] * weights, scan), **options, workers=-1)
        pairs[z] = _packed(filtered * scales, detector_axes=1)
    return pairs


def _filtered_3d(projections, scan: CircularScan, filter, cutoff, padding,
                 short_scan) -> np.ndarray:
    """Weighted, row-filtered, scaled, padded, packed projections: (views, rows + 3, cols + 3)."""
    options = _filter_options(scan, filter, cutoff, padding)
    redundancy = redundancy_weights(scan, short_scan)
    scales = view_scales(scan)
    n_views, n_rows = projections.shape[:2]
    n_cols = scan.filtered_columns
    pad = PAD_BEFORE + PAD_AFTER
    if (n_rows + pad) * (n_cols + pad) >= MAX_VIEW_SAMPLES:
        raise ValueError(f"projections of {n_rows} × {n_cols} pixels (with the columns that "
                         f"mirror an offset detector) are too large for fdk (at most "
                         f"{MAX_VIEW_SAMPLES - 1} padded pixels per view); bin them")
    pairs = np.empty((n_views, n_rows + pad, n_cols + pad), np.uint64)
    for start in range(0, n_views, _VIEWS_PER_CHUNK):
        views = slice(start, start + _VIEWS_PER_CHUNK)
        weights = cosine_weights(scan, views) * redundancy[views][:, None, :]
        weights *= scales[views][:, None, None]
        weighted = _extended(projections[views] * weights.astype(np.float32), scan)
        filtered = ramp_filter(weighted, **options, workers=-1)
        pairs[views] = _packed(filtered, detector_axes=2)
    return pairs


def _extended(rows: np.ndarray, scan: CircularScan) -> np.ndarray:
    """Weighted rows with the zero columns that mirror an offset detector's long side.

    Wang's weights take an offset detector's projections to zero at its
    short edge; their ramp-filtered rows are not zero beyond it, and voxels
    that project there in a view need those values. A centred detector's
    rows are returned as they are.
    """
    if scan.extra_columns == (0, 0):
        return rows
    return np.pad(rows, [(0, 0)] * (rows.ndim - 1) + [scan.extra_columns])


# -- backprojection ------------------------------------------------------------------------


def _kernel(scan: CircularScan, maps: dict | None = None):
    """The backprojection kernel for a scan (and, in 3D, for the maps of its grid)."""
    if scan.beam == "parallel":
        return kernels.parallel_2d
    if scan.beam == "fan":
        return kernels.fan_curved_2d if scan.curved else kernels.fan_flat_2d
    if maps is not None and _slices_share_rays(maps):
        return kernels.cone_curved_axial if scan.curved else kernels.cone_flat_axial
    return kernels.cone_curved if scan.curved else kernels.cone_flat


def _slices_share_rays(maps: dict) -> bool:
    """True when a voxel's in-plane detector coordinates do not depend on its slice index."""
    in_plane = [maps[name] for name in ("column_map", "denominator", "tangent_map", "along_map")
                if name in maps]
    return all(np.all(np.abs(m[:, 0]) <= 1e-9 * np.abs(m).max()) for m in in_plane)


def _mu_water(hu: bool, mu_water_per_mm) -> float | None:
    """μ of water (1/mm) when HU are asked for, else None."""
    if not hu:
        return None
    if mu_water_per_mm is None:
        from ..data.shepp_logan import MU_WATER_PER_MM

        return MU_WATER_PER_MM
    try:
        mu_water = float(mu_water_per_mm)
    except (TypeError, ValueError):
        mu_water = float("nan")
    if not (np.isfinite(mu_water) and mu_water > 0):
        raise ValueError(f"mu_water_per_mm must be a positive number (1/mm), "
                         f"got {mu_water_per_mm!r}")
    return mu_water


def _finish(image: np.ndarray, volume: Volume | None, mu_water: float | None):
    if mu_water is not None:
        image *= np.float32(1000.0 / mu_water)
        image -= np.float32(1000.0)
    if volume is None:
        return image
    return volume.with_array(image.reshape(volume.shape))
