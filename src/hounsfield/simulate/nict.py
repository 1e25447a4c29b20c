"""Non-ideal CT scans of a CT volume: sparse-view, limited-angle, low-dose, beam hardening, CBCT.

:func:`simulate_scan` scans a CT (HU) with the settings of one
:class:`ScanSettings` and reconstructs it on the CT's own grid:

1. HU → attenuation (:mod:`.physics`): μ at one energy, or water and bone
   path lengths for a polychromatic tube spectrum;
2. projection through a circular scan about the CT's centre: a 2D fan
   (curved detector, as clinical scanners) or parallel beam through every
   axial slice, or a cone beam (flat panel) through the volume; only the
   views inside ``arc_deg`` are measured;
3. the detector: polychromatic attenuation, scatter, blur, Poisson counts
   with ``dose_fraction · i0_photons_per_pixel`` photons per pixel per view
   plus electronic noise, and the log transform;
4. reconstruction: FBP (2D) or FDK (cone), or SIRT/CGLS, back to HU.

The features combine freely (a sparse, low-dose, polychromatic cone-beam
scan is one settings object), and one seed fixes every random number: each
axial slice draws from its own generator seeded by ``(seed, slice index)``,
so a result does not depend on how the work is split.

Scan model (defaults)
    Fan beam: source–isocentre 595 mm, source–detector 1085.6 mm (a
    clinical whole-body scanner's), 720 views per turn; cone beam: 1000 and
    1500 mm (a radiotherapy on-board imager's flat panel), 360 views. The
    detector pitch at the isocentre is the CT's pixel size (cone-beam rows:
    its slice spacing), and the detector covers the CT's field of view, or
    ``fov_mm`` (a truncated scan) when given.

Dose
    At dose 1.0 each detector pixel receives ``i0_photons_per_pixel`` =
    1.5 × 10⁵ photons per view: the unattenuated flux that low-dose
    simulation studies assume for a routine-dose fan-beam scan of several
    hundred to a thousand views (1 × 10⁵ to 2 × 10⁵); electronic noise has a
    standard deviation of 5 photons (an assumed modern detector). Dose is the
    factor on I0; fewer views lower the dose of a scan further.

Scatter (a model)
    Scatter adds a smooth background ``k · G ⊛ (P · ln(I0/P))`` to the
    primary counts P of every view, G a Gaussian of 50 mm on the detector: the
    amplitude of the scatter-kernel models, zero where the rays miss the
    object. ``k`` makes the scatter-to-primary ratio at the most attenuated
    ray of each scan equal ``scatter_to_primary``; uncorrected flat-panel
    cone-beam scans of a body reach ratios of the order of one there
    (Siewerdsen & Jaffray, Med. Phys. 28(2), 2001). Scatter lowers the CT
    values and cups them toward the centre.

Reconstruction
    FBP/FDK with a Hann-windowed ramp by default (a soft-tissue kernel: at
    dose 1.0 it adds about 20–30 HU of noise in the aorta and liver of the
    example chest CT; the plain ramp more than doubles that). μ returns to
    HU at ``energy_kev``, or for polychromatic scans at the spectrum's
    effective energy for 200 mm of water, so that a body of water reads
    about 0 HU, cupped. The reference is the CT itself, with values below
    −1000 HU (padding outside a scanner's field of view) raised to −1000.

Limited angle
    Arcs of at least 180° plus the fan angle are reconstructed as short
    scans (Parker weights). Shorter arcs are reconstructed from the full
    turn with the missing views set to zero, every measured ray weighted
    by one over the number of times its line was measured.
"""

from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass

import numpy as np

from ..progress import progress_bar
from ..tomo import iterative
from ..tomo._fbp_geometry import circular_scan
from ..tomo.fbp import fbp, fdk
from ..tomo.filters import FILTERS
from ..tomo.geometry import Geometry, cone_beam, fan_beam, parallel_beam
from ..tomo.grid import ImageGrid
from ..tomo.project import Projector
from ..tomo.weights import ARC_TOLERANCE_RAD
from ..volume import Volume
from . import physics

__all__ = ["ScanSettings", "SimulatedScan", "simulate_scan", "scan_geometry", "centred_grid",
           "sparse_view", "limited_angle", "low_dose", "cbct", "GEOMETRIES", "METHODS"]

GEOMETRIES = ("fan", "parallel", "cone")
METHODS = ("fbp", "sirt", "cgls")

#: Unattenuated photons per detector pixel per view at dose 1.0 (see the module docstring).
DEFAULT_I0_PHOTONS = 1.5e5
#: Standard deviation of the detector's electronic noise, photons.
DEFAULT_ELECTRONIC_NOISE_SD = 5.0
#: (source–isocentre, source–detector) distances in mm of the fan and the cone beam.
FAN_DISTANCES_MM = (595.0, 1085.6)
CONE_DISTANCES_MM = (1000.0, 1500.0)
#: cbct()'s field of view: a 40 cm panel at 150 cm from the source, centred (full fan).
CBCT_FOV_MM = 260.0
#: Standard deviation of the scatter kernel on the detector, mm.
SCATTER_KERNEL_SD_MM = 50.0
#: Readings are floored at this many photons before the log transform.
MIN_COUNTS = 1.0
#: Default iterations of the iterative methods.
DEFAULT_ITERATIONS = {"sirt": 100, "cgls": 30}
#: A 2D scan is simulated this many projection samples (slices × views × columns) at a time.
_CHUNK_SAMPLES = 8_000_000


# -- settings -----------------------------------------------------------------------------


def _check(condition: bool, name: str, value, expected: str) -> None:
    if not condition:
        raise ValueError(f"{name} must be {expected}, got {value!r}")


def _is_number(value) -> bool:
    return isinstance(value, int | float | np.integer | np.floating) and not isinstance(
        value, bool) and math.isfinite(value)


def _positive(value) -> bool:
    return _is_number(value) and value > 0


def _optional_positive(value) -> bool:
    return value is None or _positive(value)


def _count(value, minimum: int) -> bool:
    return isinstance(value, int | np.integer) and not isinstance(value, bool) and value >= minimum


@dataclass(frozen=True)
class ScanSettings:
    """Everything that defines one simulated scan (see the module docstring for the model).

    Parameters
    ----------
    geometry : {'fan', 'parallel', 'cone'}
        2D fan or parallel beam through every axial slice, or a cone beam.
    n_views : int
        Views per full turn (360°; 180° for parallel beams), evenly spaced.
    arc_deg : float, optional
        Limited angle: only the views within the first ``arc_deg`` degrees
        are measured. None: the full turn.
    dose_fraction : float, optional
        Photons per pixel and view as a fraction of ``i0_photons_per_pixel``;
        None: a noise-free scan.
    i0_photons_per_pixel : float
        Unattenuated photons per detector pixel per view at dose 1.0.
    electronic_noise_sd : float
        Electronic noise (Gaussian), photons per reading.
    polychromatic : bool
        Simulate a ``kvp`` tube spectrum with ``filtration_mm_al`` (beam
        hardening) instead of monochromatic photons of ``energy_kev``.
    kvp, filtration_mm_al : float
        Tube voltage (kV) and total filtration (mm Al) of the spectrum.
    water_correction : bool
        Polychromatic scans: linearise the projections for water (a
        scanner's first-order beam-hardening correction).
    energy_kev : float
        Photon energy of monochromatic scans, keV.
    detector_blur_mm : float
        Standard deviation of the detector's Gaussian blur, mm on the detector.
    scatter_to_primary : float
        Scatter-to-primary ratio at the most attenuated ray (0: no scatter).
    fov_mm : float, optional
        Diameter at the isocentre that the detector covers (truncation when
        smaller than the CT); voxels outside read −1000 HU. None: the
        whole CT.
    sod_mm, sdd_mm : float, optional
        Source–isocentre and source–detector distances (fan and cone beams).
    detector_pitch_mm : float, optional
        Detector pixel pitch on the detector, mm.
    method : {'fbp', 'sirt', 'cgls'}
        Reconstruction: FBP (FDK for cone beams) or an iterative method.
    filter : str
        FBP/FDK filter: ramp, shepp-logan, cosine, hamming or hann (the
        default, a soft-tissue kernel).
    iterations : int, optional
        Iterations of SIRT (default 100) or CGLS (default 30).
    start_deg : float
        Angle of the first view, degrees (the scan's turn starts there).
    seed : int
        Seed of every random number of the scan.

    Examples
    --------
    >>> settings = ScanSettings(n_views=60, dose_fraction=0.25, seed=3)
    >>> ScanSettings.from_json(settings.to_json()) == settings
    True
    >>> settings.summary()
    'fan 60 views, dose 0.25, 70 keV, fbp'
    """

    geometry: str = "fan"
    n_views: int = 720
    arc_deg: float | None = None
    dose_fraction: float | None = None
    i0_photons_per_pixel: float = DEFAULT_I0_PHOTONS
    electronic_noise_sd: float = DEFAULT_ELECTRONIC_NOISE_SD
    polychromatic: bool = False
    kvp: float = 120.0
    filtration_mm_al: float = 6.0
    water_correction: bool = False
    energy_kev: float = physics.DEFAULT_ENERGY_KEV
    detector_blur_mm: float = 0.0
    scatter_to_primary: float = 0.0
    fov_mm: float | None = None
    sod_mm: float | None = None
    sdd_mm: float | None = None
    detector_pitch_mm: float | None = None
    method: str = "fbp"
    filter: str = "hann"
    iterations: int | None = None
    start_deg: float = 0.0
    seed: int = 0

    def __post_init__(self):
        _check(self.geometry in GEOMETRIES, "geometry", self.geometry, f"one of {GEOMETRIES}")
        _check(_count(self.n_views, 2), "n_views", self.n_views, "an integer >= 2")
        _check(self.arc_deg is None or (_positive(self.arc_deg)
                                        and self.arc_deg <= self.full_arc_deg),
               "arc_deg", self.arc_deg, f"None or in (0, {self.full_arc_deg:g}] degrees")
        _check(self.arc_deg is None or len(self.measured_views()) >= 2, "arc_deg",
               self.arc_deg, f"wide enough for 2 of {self.n_views} views")
        _check(_optional_positive(self.dose_fraction), "dose_fraction", self.dose_fraction,
               "None (noise-free) or a positive number")
        _check(_positive(self.i0_photons_per_pixel), "i0_photons_per_pixel",
               self.i0_photons_per_pixel, "a positive number of photons")
        _check(_is_number(self.start_deg), "start_deg", self.start_deg, "a number of degrees")
        for name in ("electronic_noise_sd", "detector_blur_mm", "scatter_to_primary",
                     "filtration_mm_al"):
            value = getattr(self, name)
            _check(_is_number(value) and value >= 0, name, value, "a number >= 0")
        for name in ("polychromatic", "water_correction"):
            value = getattr(self, name)
            _check(isinstance(value, bool), name, value, "True or False")
        _check(not self.water_correction or self.polychromatic, "water_correction",
               self.water_correction, "False for monochromatic scans")
        physics.tube_spectrum(self.kvp, self.filtration_mm_al)  # validates both
        physics.attenuation_per_mm("water", self.energy_kev)  # validates the energy
        for name in ("fov_mm", "sod_mm", "sdd_mm", "detector_pitch_mm"):
            _check(_optional_positive(getattr(self, name)), name, getattr(self, name),
                   "None or a positive number of mm")
        sod, sdd = self.distances_mm
        _check(sdd > sod, "sdd_mm", self.sdd_mm, f"larger than sod_mm ({sod:g} mm)")
        _check(self.method in METHODS, "method", self.method, f"one of {METHODS}")
        _check(self.filter in FILTERS, "filter", self.filter, f"one of {FILTERS}")
        _check(self.iterations is None or _count(self.iterations, 1), "iterations",
               self.iterations, "None or an integer >= 1")
        _check(_count(self.seed, 0), "seed", self.seed, "an integer >= 0")
        self._as_python_numbers()

    def _as_python_numbers(self) -> None:
        """numpy scalars → int and float, so that the settings serialise and compare plainly."""
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            if isinstance(value, np.integer):
                object.__setattr__(self, field.name, int(value))
            elif isinstance(value, np.floating):
                object.__setattr__(self, field.name, float(value))

    # -- derived ---------------------------------------------------------------------------

    @property
    def full_arc_deg(self) -> float:
        """The angular range of a full scan: 180° for parallel beams, else 360°."""
        return 180.0 if self.geometry == "parallel" else 360.0

    @property
    def distances_mm(self) -> tuple[float, float]:
        """(source–isocentre, source–detector) distances in mm, defaults filled in."""
        default = CONE_DISTANCES_MM if self.geometry == "cone" else FAN_DISTANCES_MM
        sod = default[0] if self.sod_mm is None else float(self.sod_mm)
        sdd = default[1] if self.sdd_mm is None else float(self.sdd_mm)
        return sod, sdd

    @property
    def is_noisy(self) -> bool:
        return self.dose_fraction is not None

    @property
    def i0_photons(self) -> float:
        """Unattenuated photons per pixel per view of this scan (at its dose)."""
        return self.i0_photons_per_pixel * (1.0 if self.dose_fraction is None
                                            else self.dose_fraction)

    def measured_views(self) -> np.ndarray:
        """Indices (into the full turn's views) of the views that are measured."""
        if self.arc_deg is None or self.arc_deg >= self.full_arc_deg:
            return np.arange(self.n_views)
        count = math.ceil(self.arc_deg / self.full_arc_deg * self.n_views - 1e-9)
        return np.arange(count)

    def summary(self) -> str:
        """One line naming what degrades the scan."""
        parts = [f"{self.geometry} {self.n_views} views"]
        if self.arc_deg is not None:
            parts.append(f"arc {self.arc_deg:g}°")
        if self.dose_fraction is not None:
            parts.append(f"dose {self.dose_fraction:g}")
        parts.append(f"{self.kvp:g} kVp" if self.polychromatic else f"{self.energy_kev:g} keV")
        if self.scatter_to_primary:
            parts.append(f"scatter {self.scatter_to_primary:g}")
        if self.fov_mm is not None:
            parts.append(f"FOV {self.fov_mm:g} mm")
        parts.append(self.method)
        return ", ".join(parts)

    # -- serialisation ---------------------------------------------------------------------

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    def to_json(self) -> str:
        """The exact settings as JSON (every field, defaults included)."""
        return json.dumps(self.to_dict(), indent=1)

    @classmethod
    def from_dict(cls, data: dict) -> ScanSettings:
        unknown = set(data) - {f.name for f in dataclasses.fields(cls)}
        if unknown:
            raise ValueError(f"unknown scan settings: {', '.join(sorted(unknown))}")
        return cls(**data)

    @classmethod
    def from_json(cls, text: str) -> ScanSettings:
        return cls.from_dict(json.loads(text))

    def replace(self, **changes) -> ScanSettings:
        """A copy with some fields changed (and validated)."""
        return dataclasses.replace(self, **changes)


@dataclass(frozen=True, eq=False)
class SimulatedScan:
    """A simulated scan of a CT and its reconstruction.

    Attributes
    ----------
    degraded : Volume
        The reconstruction in HU (float32), on the CT's grid.
    reference : Volume
        The CT that was scanned, in HU (float32, values below −1000 HU
        raised to −1000: what the simulation sees), on the same grid.
    settings : ScanSettings
    geometry : Geometry
        The measured views, about the CT's centre (the tomography frame is
        the CT's LPS frame shifted so that the CT's centre is the origin).
    sinogram : ndarray or None
        The measured line integrals, (slices, views, columns) for 2D scans
        or (views, rows, columns) for cone beams, when asked for.
    """

    degraded: Volume
    reference: Volume
    settings: ScanSettings
    geometry: Geometry
    sinogram: np.ndarray | None = None

    @property
    def settings_json(self) -> str:
        return self.settings.to_json()


# -- geometry -----------------------------------------------------------------------------


def centred_grid(ct: Volume) -> ImageGrid:
    """The CT's grid moved so that its centre lies on the rotation axis (the origin)."""
    grid = ImageGrid.of(ct)
    centre_index = (np.asarray(grid.shape) - 1) / 2
    origin = -grid.direction @ (np.asarray(grid.spacing_mm) * centre_index)
    return ImageGrid(grid.shape, grid.spacing_mm, tuple(origin), grid.direction)


def _in_plane(grid: ImageGrid) -> tuple[float, float]:
    """(smallest pixel size, half diagonal) of the axial slices, mm."""
    slice_grid = grid.axial_slice()
    sizes = np.asarray(slice_grid.shape) * np.asarray(slice_grid.spacing_mm)
    return float(min(slice_grid.spacing_mm)), float(np.hypot(*sizes) / 2)


def scan_geometry(ct: Volume, settings: ScanSettings) -> Geometry:
    """The full turn of views (all ``n_views``) that ``settings`` describe for this CT.

    The CT's centre sits on the rotation axis; see :func:`centred_grid`.

    Examples
    --------
    >>> ct = Volume(np.zeros((2, 64, 64), np.float32), spacing_mm=(5.0, 2.0, 2.0))
    >>> scan_geometry(ct, ScanSettings(n_views=90))
    Geometry(fan, 2D, views=90, det_shape=(93,), curved)
    """
    grid = centred_grid(ct)
    pixel_mm, half_diagonal = _in_plane(grid)
    radius = half_diagonal if settings.fov_mm is None else settings.fov_mm / 2
    sod, sdd = settings.distances_mm
    if settings.geometry == "parallel":
        pitch = settings.detector_pitch_mm or pixel_mm
        return parallel_beam(settings.n_views, math.ceil(2 * radius / pitch) + 2, pitch,
                             start_deg=settings.start_deg)
    if max(radius, half_diagonal) >= 0.9 * sod:
        raise ValueError(f"the CT ({2 * half_diagonal:.0f} mm across) does not fit inside the "
                         f"source orbit (sod_mm {sod:g}); raise sod_mm")
    half_fan = math.asin(radius / sod)
    if settings.geometry == "fan":
        pitch = settings.detector_pitch_mm or pixel_mm * sdd / sod
        n_det = math.ceil(2 * half_fan * sdd / pitch) + 2
        return fan_beam(settings.n_views, n_det, pitch, sod, sdd, curved=True,
                        start_deg=settings.start_deg)
    col_pitch = settings.detector_pitch_mm or pixel_mm * sdd / sod
    row_pitch = settings.detector_pitch_mm or grid.spacing_mm[0] * sdd / sod
    cols = math.ceil(2 * sdd * math.tan(half_fan) / col_pitch) + 2
    half_height = grid.shape[0] * grid.spacing_mm[0] / 2 * sdd / (sod - half_diagonal)
    rows = math.ceil(2 * half_height / row_pitch) + 2
    return cone_beam(settings.n_views, (rows, cols), (row_pitch, col_pitch), sod, sdd,
                     start_deg=settings.start_deg)


# -- the scan -----------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class _Plan:
    """What every chunk of a scan shares."""

    settings: ScanSettings
    complete: Geometry  # the full turn
    measured: Geometry  # the views inside the arc
    energy_kev: float  # μ ↔ HU (and the water/bone split) at this energy
    spectrum: physics.Spectrum | None

    @classmethod
    def of(cls, ct: Volume, settings: ScanSettings) -> _Plan:
        complete = scan_geometry(ct, settings)
        measured = complete.select_views(settings.measured_views())
        spectrum, energy = None, settings.energy_kev
        if settings.polychromatic:
            spectrum = physics.tube_spectrum(settings.kvp, settings.filtration_mm_al)
            energy = spectrum.effective_energy_kev()
        return cls(settings, complete, measured, energy, spectrum)

    @property
    def detector_axes(self) -> tuple[int, ...]:
        return (-2, -1) if self.complete.ndim == 3 else (-1,)

    def detector_pixels(self, length_mm: float) -> tuple[float, ...]:
        """A length on the detector in pixels along each detector axis."""
        pitches = [np.linalg.norm(self.complete.u[0])]
        if self.complete.ndim == 3:
            pitches.insert(0, np.linalg.norm(self.complete.v[0]))
        return tuple(length_mm / float(p) for p in pitches)


def simulate_scan(ct: Volume, settings: ScanSettings | None = None, *,
                  keep_sinogram: bool = False, progress: bool = False) -> SimulatedScan:
    """Scan a CT as ``settings`` describe and reconstruct it on the CT's own grid.

    Parameters
    ----------
    ct : Volume
        An axial CT in HU (float32).
    settings : ScanSettings, optional
        Default: a noise-free full fan-beam scan (720 views, 70 keV).
    keep_sinogram : bool
        Return the measured line integrals too.
    progress : bool
        Show a progress bar over the slices of 2D scans on stderr.

    Returns
    -------
    SimulatedScan
        The reconstruction in HU, the reference CT, the settings, the
        geometry of the measured views and, if asked, the sinogram.

    Examples
    --------
    >>> yy, xx = np.mgrid[-31.5:32, -31.5:32]
    >>> disc = np.where(yy**2 + xx**2 < 25**2, 0.0, -1000.0).astype(np.float32)
    >>> ct = Volume(np.stack([disc, disc]), spacing_mm=(5.0, 2.0, 2.0))
    >>> scan = simulate_scan(ct, ScanSettings(n_views=180))
    >>> abs(float(np.median(scan.degraded.array[:, 24:40, 24:40]))) < 5  # water: 0 HU
    True
    """
    if not isinstance(ct, Volume):
        raise TypeError(f"ct must be a hounsfield Volume, got {type(ct).__name__}")
    settings = ScanSettings() if settings is None else settings
    if not isinstance(settings, ScanSettings):
        raise TypeError(f"settings must be ScanSettings, got {type(settings).__name__}")
    if ct.is_label_map or not np.issubdtype(ct.array.dtype, np.floating):
        raise ValueError("ct must be a CT in HU (a float Volume), not a label map")
    plan = _Plan.of(ct, settings)
    hu = np.maximum(ct.array, np.float32(-1000.0)).astype(np.float32, copy=False)
    grid = centred_grid(ct)
    if plan.complete.ndim == 3:
        mu, sinogram = _scan_cone(hu, grid, plan, keep_sinogram)
    else:
        mu, sinogram = _scan_slices(hu, grid, plan, keep_sinogram, progress)
    degraded = physics.mu_to_hu(mu, plan.energy_kev)
    blank_outside_fov(degraded, grid, settings)
    meta = {**ct.meta, "simulation": settings.to_dict()}
    return SimulatedScan(ct.with_array(degraded, meta=meta), ct.with_array(hu),
                         settings, plan.measured, sinogram)


def _scan_slices(hu, grid: ImageGrid, plan: _Plan, keep_sinogram: bool, progress: bool):
    """2D scans of every axial slice, a chunk of slices at a time: (μ volume, sinogram)."""
    n_slices = grid.shape[0]
    per_slice = plan.complete.n_views * plan.complete.det_shape[0]
    chunk = max(1, min(n_slices, _CHUNK_SAMPLES // per_slice))
    mu = np.empty(grid.shape, np.float32)
    sinogram = np.empty((n_slices, *plan.measured.projection_shape), np.float32) \
        if keep_sinogram else None
    with progress_bar(progress, n_slices, plan.settings.summary()) as advance:
        for start in range(0, n_slices, chunk):
            stop = min(start + chunk, n_slices)
            slab = ImageGrid((stop - start, *grid.shape[1:]), grid.spacing_mm, grid.origin_mm,
                             grid.direction)
            line_integrals = _measure(_projections(hu[start:stop], slab, plan), plan,
                                      [np.random.default_rng([plan.settings.seed, z])
                                       for z in range(start, stop)])
            mu[start:stop] = _reconstruct(line_integrals, slab, plan)
            if sinogram is not None:
                sinogram[start:stop] = line_integrals
            advance(stop - start)
    return mu, sinogram


def _scan_cone(hu, grid: ImageGrid, plan: _Plan, keep_sinogram: bool):
    """One cone-beam scan of the volume: (μ volume, projections or None)."""
    rng = np.random.default_rng([plan.settings.seed])
    projections = [p[None] for p in _projections(hu, grid, plan)]  # one scan
    line_integrals = _measure(projections, plan, [rng])[0]
    mu = _reconstruct(line_integrals, grid, plan)
    return mu, (line_integrals if keep_sinogram else None)


def _projections(hu, grid: ImageGrid, plan: _Plan) -> list[np.ndarray]:
    """Line integrals through the attenuation maps: [μ] or [water mm, bone mm]."""
    projector = Projector(plan.measured, grid)
    if plan.spectrum is None:
        return [projector.forward(physics.hu_to_mu(hu, plan.energy_kev))]
    water, bone = physics.water_bone_fractions(hu, plan.energy_kev)
    return [projector.forward(water), projector.forward(bone)]


# -- the detector -------------------------------------------------------------------------


def _measure(projections: list[np.ndarray], plan: _Plan, rngs: list) -> np.ndarray:
    """The line integrals that the detector reports (float32, the projections' shape).

    The projections' first axis counts the scans (axial slices, or the one
    cone-beam scan); ``rngs`` holds one generator per scan.
    """
    settings = plan.settings
    if plan.spectrum is None:
        transmission = None
        ideal = projections[0]
    else:
        transmission = physics.polychromatic_transmission(*projections, plan.spectrum)
        ideal = -np.log(np.maximum(transmission, np.float32(1e-30)))
    if not (settings.is_noisy or settings.scatter_to_primary or settings.detector_blur_mm):
        return _corrected(ideal, plan)
    i0 = settings.i0_photons
    counts = np.float32(i0) * (np.exp(-ideal) if transmission is None else transmission)
    if settings.scatter_to_primary:
        counts += _scatter(counts, ideal, plan)
    if settings.detector_blur_mm:
        counts = physics.detector_blur(counts, plan.detector_pixels(settings.detector_blur_mm),
                                       plan.detector_axes)
    if settings.is_noisy:
        for scan, rng in zip(counts, rngs, strict=True):
            scan[...] = physics.detected_counts(scan, rng, settings.electronic_noise_sd)
    return _corrected(physics.log_transform(counts, i0, min(MIN_COUNTS, i0)), plan)


def _corrected(line_integrals: np.ndarray, plan: _Plan) -> np.ndarray:
    if plan.settings.water_correction:
        return physics.water_linearization(plan.spectrum, plan.energy_kev)(line_integrals)
    return line_integrals.astype(np.float32, copy=False)


def _scatter(primary: np.ndarray, line_integrals: np.ndarray, plan: _Plan) -> np.ndarray:
    """Scatter counts of each scan (a slice's sinogram, or the cone-beam projections).

    Each scan's scatter is scaled so that, at its most attenuated ray, scatter
    over primary is ``scatter_to_primary``.
    """
    amplitude = primary * line_integrals
    sigmas = plan.detector_pixels(SCATTER_KERNEL_SD_MM)
    scatter = physics.detector_blur(amplitude, sigmas, plan.detector_axes)
    flat = line_integrals.reshape(len(line_integrals), -1)
    thickest = np.argmax(flat, axis=1)[:, None]
    at_thickest = [np.take_along_axis(a.reshape(flat.shape), thickest, axis=1)
                   for a in (primary, scatter)]
    ratio = np.divide(at_thickest[0], at_thickest[1], out=np.zeros_like(at_thickest[0]),
                      where=at_thickest[1] > 0)
    scale = plan.settings.scatter_to_primary * ratio
    return scatter * scale.reshape((-1,) + (1,) * (scatter.ndim - 1))


# -- reconstruction -----------------------------------------------------------------------


def _reconstruct(line_integrals: np.ndarray, grid: ImageGrid, plan: _Plan) -> np.ndarray:
    """μ (1/mm) on ``grid`` from the measured line integrals."""
    settings = plan.settings
    if settings.method != "fbp":
        projector = Projector(plan.measured, grid)
        method = iterative.sirt if settings.method == "sirt" else iterative.cgls
        n_iter = settings.iterations or DEFAULT_ITERATIONS[settings.method]
        return method(projector, line_integrals, n_iter).image.astype(np.float32)
    analytic = fdk if plan.complete.ndim == 3 else fbp
    projections, geometry = _analytic_inputs(line_integrals, plan)
    return analytic(projections, geometry, grid, filter=settings.filter)


def _analytic_inputs(line_integrals: np.ndarray, plan: _Plan):
    """(projections, geometry) for FBP/FDK: the measured views, or a zero-filled full turn."""
    n_measured = plan.measured.n_views
    if n_measured == plan.complete.n_views:
        return line_integrals, plan.measured
    scan = circular_scan(plan.complete, ndim=plan.complete.ndim)
    arc = 2 * np.pi * n_measured / plan.complete.n_views
    if scan.beam != "parallel" and arc >= np.pi + 2 * scan.half_fan_rad - ARC_TOLERANCE_RAD:
        return line_integrals, plan.measured  # a short scan: Parker weights
    weights = _zero_fill_weights(scan, n_measured).astype(np.float32)
    view_axis = line_integrals.ndim - (2 if plan.complete.ndim == 2 else 3)
    shape = list(line_integrals.shape)
    shape[view_axis] = plan.complete.n_views
    filled = np.zeros(shape, np.float32)
    index = [slice(None)] * len(shape)
    index[view_axis] = slice(0, n_measured)
    per_ray = weights if plan.complete.ndim == 2 else weights[:, None, :]
    filled[tuple(index)] = line_integrals * per_ray
    return filled, plan.complete


def _zero_fill_weights(scan, n_measured: int) -> np.ndarray:
    """(measured views, columns) factors that turn FBP's full-turn weights into 1/(times measured).

    A full fan-beam turn weights each ray 1/2 (every line measured twice);
    on a shorter arc a ray's conjugate (at β + π + 2γ) may be missing, and
    the ray then carries its line alone. A parallel half turn measures each
    line once already.
    """
    if scan.beam == "parallel":
        return np.ones((n_measured, scan.fan_angles_rad.shape[1]))
    step = 2 * np.pi / len(scan.angles_rad)
    beta = (scan.angles_rad[:n_measured] - scan.angles_rad[0])[:, None]
    conjugate = beta + np.pi + 2 * scan.fan_angles_rad[:n_measured]
    conjugate_measured = np.mod(conjugate + step / 2, 2 * np.pi) < n_measured * step
    return 2.0 / (1.0 + conjugate_measured)


def blank_outside_fov(hu: np.ndarray, grid: ImageGrid, settings: ScanSettings) -> None:
    """Set voxels outside a truncated field of view to air (−1000 HU), in place."""
    if settings.fov_mm is None:
        return
    slice_grid = grid.axial_slice()
    rows, cols = np.indices(slice_grid.shape)
    points = slice_grid.index_to_world(np.stack([rows, cols], axis=-1))
    outside = np.hypot(points[..., 0], points[..., 1]) > settings.fov_mm / 2
    hu[:, outside] = -1000.0


# -- convenience ---------------------------------------------------------------------------


def _scan_with(ct: Volume, defaults: dict, options: dict) -> SimulatedScan:
    keep_sinogram = options.pop("keep_sinogram", False)
    progress = options.pop("progress", False)
    settings = ScanSettings(**{**defaults, **options})
    return simulate_scan(ct, settings, keep_sinogram=keep_sinogram, progress=progress)


def sparse_view(ct: Volume, n_views: int = 60, *, seed: int = 0, **options) -> SimulatedScan:
    """A sparse-view scan: ``n_views`` views per turn (noise-free unless ``dose_fraction``).

    ``options`` are further :class:`ScanSettings` fields, and ``keep_sinogram``
    and ``progress`` of :func:`simulate_scan`.

    Examples
    --------
    >>> ct = Volume(np.zeros((1, 32, 32), np.float32), spacing_mm=(5.0, 4.0, 4.0))
    >>> sparse_view(ct, 30).settings.summary()
    'fan 30 views, 70 keV, fbp'
    """
    return _scan_with(ct, {"n_views": n_views, "seed": seed}, options)


def limited_angle(ct: Volume, arc_deg: float = 120.0, *, seed: int = 0,
                  **options) -> SimulatedScan:
    """A limited-angle scan: the views of the first ``arc_deg`` degrees of a turn.

    >>> ct = Volume(np.zeros((1, 32, 32), np.float32), spacing_mm=(5.0, 4.0, 4.0))
    >>> limited_angle(ct, 90.0, n_views=360).geometry.n_views
    90
    """
    return _scan_with(ct, {"arc_deg": arc_deg, "seed": seed}, options)


def low_dose(ct: Volume, dose_fraction: float = 0.25, *, seed: int = 0,
             **options) -> SimulatedScan:
    """A low-dose scan: ``dose_fraction`` of the routine-dose photon flux, full views.

    At dose 1.0 each detector pixel receives 1.5 × 10⁵ photons per view
    (``i0_photons_per_pixel``) over 720 views of a fan beam; see the module
    docstring for where these values come from. The CT is taken as the
    object: its own noise stays in the result.

    >>> ct = Volume(np.zeros((1, 32, 32), np.float32), spacing_mm=(5.0, 4.0, 4.0))
    >>> low_dose(ct, 0.1).settings.i0_photons
    15000.0
    """
    return _scan_with(ct, {"dose_fraction": dose_fraction, "seed": seed}, options)


def cbct(ct: Volume, n_views: int = 360, *, fov_mm: float | None = CBCT_FOV_MM,
         scatter_to_primary: float = 0.5, seed: int = 0, **options) -> SimulatedScan:
    """A cone-beam CT: a flat panel on a circular orbit, scatter, a truncated field of view.

    Defaults: 360 views, a 260 mm field of view (truncating a body),
    scatter-to-primary ratio 0.5 behind the most attenuating part, reconstructed by FDK.

    >>> ct = Volume(np.zeros((4, 24, 24), np.float32), spacing_mm=(4.0, 4.0, 4.0))
    >>> cbct(ct, 60).geometry
    Geometry(cone, 3D, views=60, det_shape=(7, 68))
    """
    defaults = {"geometry": "cone", "n_views": n_views, "fov_mm": fov_mm,
                "scatter_to_primary": scatter_to_primary, "seed": seed}
    return _scan_with(ct, defaults, options)

