"""X-ray physics of a CT scan: attenuation from HU, tube spectra, beam hardening, detector noise.

Attenuation
    Mass attenuation coefficients μ/ρ of water, cortical bone (ICRU-44), dry
    air and aluminium from the NIST tables (``data/nist_attenuation.csv``,
    NISTIR 5632), interpolated log–log between 10 and 200 keV. A CT value
    maps to μ at one energy by the definition of the Hounsfield scale,
    ``HU = 1000 (μ − μ_water) / (μ_water − μ_air)``.

Spectrum (a model)
    :func:`tube_spectrum` follows Kramers' law for the bremsstrahlung of a
    thick tungsten target, ``N(E) ∝ (kVp − E) / E`` photons per keV,
    hardened by a total aluminium-equivalent filtration. It leaves out the
    tungsten K lines (59–69 keV), the anode's self-absorption and the
    bowtie filter: a smooth spectrum whose mean energy and beam hardening
    are those of a CT tube, not a measured one.

Beam hardening
    :func:`water_bone_fractions` splits each voxel into water and cortical
    bone so that the mix has the voxel's μ at a reference energy;
    :func:`polychromatic_transmission` attenuates every energy bin along
    both materials' path lengths. The detector counts photons (every
    photon counts one, whatever its energy).

Detector
    :func:`detected_counts` draws Poisson photon counts and adds Gaussian
    electronic noise; :func:`log_transform` returns line integrals with a
    floor on the counts (zero and negative counts give a finite value);
    :func:`detector_blur` spreads the signal over neighbouring pixels.

Units: energies in keV, μ in 1/mm, path lengths in mm, counts in photons
per detector pixel per view.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources
from types import MappingProxyType

import numba
import numpy as np
from scipy.ndimage import gaussian_filter1d

__all__ = [
    "MATERIALS", "DENSITY_G_PER_CM3", "ENERGY_RANGE_KEV", "DEFAULT_ENERGY_KEV",
    "mass_attenuation_cm2_per_g", "attenuation_per_mm", "hu_to_mu", "mu_to_hu",
    "Spectrum", "tube_spectrum", "water_bone_fractions", "polychromatic_transmission",
    "water_linearization", "detected_counts", "log_transform", "detector_blur",
]

#: Materials of the attenuation table ('bone' is cortical bone, ICRU-44).
MATERIALS = ("water", "bone", "air", "aluminium")

#: Densities of the NIST tables, g/cm³ (NISTIR 5632, Tables 1 and 2).
DENSITY_G_PER_CM3 = MappingProxyType({"water": 1.0, "bone": 1.92, "air": 1.205e-3,
                                      "aluminium": 2.699})

#: Photon energies covered by the table, keV.
ENERGY_RANGE_KEV = (10.0, 200.0)

#: Energy of monochromatic scans, keV: water's μ there is 0.0194/mm, the
#: value that :data:`hounsfield.data.phantoms.MU_WATER_PER_MM` stands for.
DEFAULT_ENERGY_KEV = 70.0

#: Water path (mm) over which :meth:`Spectrum.effective_energy_kev` matches attenuation.
DEFAULT_CALIBRATION_WATER_MM = 200.0


@functools.cache
def _table() -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """(energies keV, {material: μ/ρ cm²/g}) read from the package's NIST csv."""
    text = resources.files("hounsfield").joinpath("data", "nist_attenuation.csv").read_text()
    lines = [line for line in text.splitlines() if line and not line.startswith("#")]
    header = lines[0].split(",")
    values = np.array([[float(v) for v in line.split(",")] for line in lines[1:]])
    columns = {name: values[:, i] for i, name in enumerate(header)}
    return columns.pop("energy_kev"), columns


def _material(material: str) -> str:
    if material not in MATERIALS:
        raise ValueError(f"material must be one of {MATERIALS}, got {material!r}")
    return material


def _energies(energy_kev) -> np.ndarray:
    energy = np.asarray(energy_kev, dtype=float)
    low, high = ENERGY_RANGE_KEV
    if not np.all(np.isfinite(energy)) or np.any(energy < low) or np.any(energy > high):
        raise ValueError(f"energy_kev must lie in [{low:g}, {high:g}] keV (the NIST table's "
                         f"range here), got {energy_kev!r}")
    return energy


def mass_attenuation_cm2_per_g(material: str, energy_kev):
    """μ/ρ of a material in cm²/g, interpolated log–log in the NIST table.

    Parameters
    ----------
    material : {'water', 'bone', 'air', 'aluminium'}
    energy_kev : float or array
        Photon energies in [10, 200] keV.

    Examples
    --------
    >>> float(mass_attenuation_cm2_per_g("water", 60.0))  # a table value
    0.2059
    >>> round(float(mass_attenuation_cm2_per_g("bone", 70.0)), 4)
    0.2616
    """
    energies, columns = _table()
    energy = _energies(energy_kev)
    log_mu = np.interp(np.log(energy), np.log(energies), np.log(columns[_material(material)]))
    result = np.exp(log_mu)
    return float(result) if result.ndim == 0 else result


def attenuation_per_mm(material: str, energy_kev):
    """Linear attenuation μ of a material at its table density, 1/mm.

    >>> round(float(attenuation_per_mm("water", 70.0)), 5)
    0.01937
    """
    mass = mass_attenuation_cm2_per_g(material, energy_kev)
    return mass * DENSITY_G_PER_CM3[material] / 10.0  # 1/cm → 1/mm


def hu_to_mu(hu, energy_kev: float = DEFAULT_ENERGY_KEV) -> np.ndarray:
    """Linear attenuation (1/mm, float32) of CT values at one photon energy.

    ``μ = μ_water + HU / 1000 · (μ_water − μ_air)``, clipped at 0 (values
    below −1000 HU, as the padding outside a scanner's field of view, are
    taken as vacuum).

    Examples
    --------
    >>> [round(float(mu), 5) for mu in hu_to_mu(np.array([-1000.0, 0.0, 1000.0]))]
    [2e-05, 0.01937, 0.03872]
    """
    mu_water = attenuation_per_mm("water", energy_kev)
    mu_air = attenuation_per_mm("air", energy_kev)
    hu = np.asarray(hu, dtype=np.float32)
    mu = np.float32(mu_water) + hu * np.float32((mu_water - mu_air) / 1000.0)
    return np.maximum(mu, np.float32(0.0))


def mu_to_hu(mu, energy_kev: float = DEFAULT_ENERGY_KEV) -> np.ndarray:
    """CT values (HU, float32) of linear attenuations in 1/mm at one photon energy.

    >>> [round(float(hu), 2) for hu in mu_to_hu(hu_to_mu(np.array([-500.0, 40.0])))]
    [-500.0, 40.0]
    """
    mu_water = attenuation_per_mm("water", energy_kev)
    mu_air = attenuation_per_mm("air", energy_kev)
    mu = np.asarray(mu, dtype=np.float32)
    return (mu - np.float32(mu_water)) * np.float32(1000.0 / (mu_water - mu_air))


# -- spectra ------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class Spectrum:
    """A photon spectrum in energy bins.

    Attributes
    ----------
    energies_kev : (bins,) array
        Bin centres, keV.
    photons : (bins,) array
        Fraction of the photons in each bin (sums to 1).
    """

    energies_kev: np.ndarray
    photons: np.ndarray

    def __post_init__(self):
        energies = _energies(np.atleast_1d(self.energies_kev)).astype(float)
        photons = np.asarray(self.photons, dtype=float).reshape(-1)
        if photons.shape != energies.shape or np.any(photons < 0) or photons.sum() <= 0:
            raise ValueError("photons must be non-negative, one per energy bin, not all zero")
        object.__setattr__(self, "energies_kev", energies)
        object.__setattr__(self, "photons", photons / photons.sum())

    @property
    def mean_energy_kev(self) -> float:
        return float(np.dot(self.photons, self.energies_kev))

    def transmission(self, water_mm, bone_mm=0.0) -> np.ndarray:
        """Fraction of the photons that cross ``water_mm`` of water and ``bone_mm`` of bone."""
        return polychromatic_transmission(np.asarray(water_mm, dtype=np.float32),
                                          np.asarray(bone_mm, dtype=np.float32), self)

    def effective_energy_kev(self, water_mm: float = DEFAULT_CALIBRATION_WATER_MM) -> float:
        """The energy whose μ_water attenuates ``water_mm`` of water as this spectrum does.

        The photons that cross a patient are harder than those that leave
        the tube, so the effective energy rises with the path: 200 mm of
        water (the default) stands for a body, where a scanner's water
        calibration brings water to 0 HU.

        >>> spectrum = tube_spectrum(120.0, filtration_mm_al=6.0)
        >>> round(spectrum.effective_energy_kev(), 1), round(spectrum.mean_energy_kev, 1)
        (56.2, 57.7)
        """
        if not (np.isfinite(water_mm) and water_mm > 0):
            raise ValueError(f"water_mm must be a positive number of mm, got {water_mm!r}")
        transmitted = float(self.transmission(np.float32(water_mm)))
        mu = -np.log(transmitted) / water_mm
        grid = np.linspace(*ENERGY_RANGE_KEV, 1901)
        mu_grid = attenuation_per_mm("water", grid)  # decreasing with energy here
        return float(np.interp(mu, mu_grid[::-1], grid[::-1]))


def tube_spectrum(kvp: float = 120.0, filtration_mm_al: float = 6.0,
                  bin_kev: float = 1.0) -> Spectrum:
    """A model X-ray tube spectrum: Kramers' bremsstrahlung through aluminium filtration.

    Parameters
    ----------
    kvp : float
        Tube voltage, kV (the highest photon energy, keV); 20 to 200.
    filtration_mm_al : float
        Total filtration as millimetres of aluminium (≥ 0). The default
        6 mm gives a mean energy of 58 keV at 120 kVp.
    bin_kev : float
        Width of the energy bins, keV; bins start at 10 keV (the table's
        lowest energy: softer photons do not leave a filtered tube).

    Returns
    -------
    Spectrum
        Photons per bin ∝ ``(kVp − E) / E · exp(−μ_Al(E) · filtration)``.

    Examples
    --------
    >>> spectrum = tube_spectrum(80.0, filtration_mm_al=3.0, bin_kev=2.0)
    >>> spectrum.energies_kev[[0, -1]].tolist(), round(spectrum.mean_energy_kev, 1)
    ([11.0, 79.0], 41.5)
    """
    low, high = ENERGY_RANGE_KEV
    if not (np.isfinite(kvp) and 2 * low <= kvp <= high):
        raise ValueError(f"kvp must lie in [{2 * low:g}, {high:g}] kV, got {kvp!r}")
    if not (np.isfinite(filtration_mm_al) and filtration_mm_al >= 0):
        raise ValueError(f"filtration_mm_al must be a number of mm >= 0, got {filtration_mm_al!r}")
    if not (np.isfinite(bin_kev) and 0 < bin_kev <= (kvp - low) / 4):
        raise ValueError(f"bin_kev must be positive and at most (kvp - 10) / 4 keV, "
                         f"got {bin_kev!r}")
    energies = np.arange(low + bin_kev / 2, kvp, bin_kev)
    kramers = (kvp - energies) / energies
    filtered = np.exp(-attenuation_per_mm("aluminium", energies) * filtration_mm_al)
    return Spectrum(energies, kramers * filtered)


# -- beam hardening -----------------------------------------------------------------------


def water_bone_fractions(hu, energy_kev: float) -> tuple[np.ndarray, np.ndarray]:
    """Split CT values into water and cortical-bone density fractions (float32).

    At or below 0 HU a voxel is water at density ``1 + HU/1000`` (air and
    water mixed, air's own attenuation neglected); above, a mix of water and
    cortical bone with bone fraction ``HU / HU_bone``, where ``HU_bone`` is
    cortical bone's CT value at ``energy_kev``; beyond ``HU_bone``, bone
    denser than the table's. At ``energy_kev`` the mix attenuates as the
    voxel's μ (to within air's μ below 0 HU).

    Returns
    -------
    water, bone : arrays like ``hu``
        Fractions of the table densities (1 g/cm³ water, 1.92 g/cm³ bone):
        a path of 10 mm at fraction 0.5 counts 5 mm of that material.

    Examples
    --------
    >>> water, bone = water_bone_fractions(np.array([-1000.0, -200.0, 0.0, 500.0]), 70.0)
    >>> [round(float(w), 3) for w in water], [round(float(b), 3) for b in bone]
    ([0.0, 0.8, 1.0, 0.687], [0.0, 0.0, 0.0, 0.313])
    """
    hu = np.asarray(hu, dtype=np.float32)
    mu_bone = attenuation_per_mm("bone", energy_kev)
    bone_hu = np.float32(mu_to_hu(mu_bone, energy_kev))
    denser = hu > bone_hu
    bone = np.where(denser, hu_to_mu(hu, energy_kev) / np.float32(mu_bone),
                    np.clip(hu / bone_hu, 0.0, 1.0)).astype(np.float32)
    water = np.where(hu <= 0, np.clip(1.0 + hu / np.float32(1000.0), 0.0, None),
                     np.where(denser, 0.0, 1.0 - bone)).astype(np.float32)
    return water, bone


@numba.njit(parallel=True, cache=True, fastmath=True)
def _spectral_sum(water, bone, photons, mu_water, mu_bone, out):  # pragma: no cover - numba
    for i in numba.prange(water.size):
        total = 0.0
        for k in range(photons.size):
            total += photons[k] * np.exp(-mu_water[k] * water[i] - mu_bone[k] * bone[i])
        out[i] = total


def polychromatic_transmission(water_mm, bone_mm, spectrum: Spectrum) -> np.ndarray:
    """Fraction of a spectrum's photons that cross given water and bone path lengths.

    ``T = Σ_E n(E) exp(−μ_water(E) · water_mm − μ_bone(E) · bone_mm)``.

    Parameters
    ----------
    water_mm, bone_mm : arrays of the same shape (or a scalar bone_mm)
        Path lengths through each material at its table density, mm
        (line integrals of the fractions of :func:`water_bone_fractions`).
    spectrum : Spectrum

    Returns
    -------
    ndarray, float32, in (0, 1]

    Examples
    --------
    >>> spectrum = tube_spectrum(120.0)
    >>> t = polychromatic_transmission(np.array([0.0, 100.0, 200.0]), 0.0, spectrum)
    >>> (-np.log(t) / [1, 100, 200])[1:].round(4).tolist()  # effective μ falls: hardening
    [0.0222, 0.0213]
    """
    water = np.asarray(water_mm, dtype=np.float32)
    bone = np.broadcast_to(np.asarray(bone_mm, dtype=np.float32), water.shape)
    out = np.empty(water.size, np.float32)
    _spectral_sum(np.ascontiguousarray(water.reshape(-1)), np.ascontiguousarray(bone.reshape(-1)),
                  spectrum.photons, attenuation_per_mm("water", spectrum.energies_kev),
                  attenuation_per_mm("bone", spectrum.energies_kev), out)
    return out.reshape(water.shape)


def water_linearization(spectrum: Spectrum, energy_kev: float,
                        max_water_mm: float = 1000.0) -> Callable[[np.ndarray], np.ndarray]:
    """The first-order beam-hardening correction of CT scanners (water pre-correction).

    Maps a polychromatic line integral ``−ln T`` to the water path that
    gives it, times water's μ at ``energy_kev``: water then reconstructs to
    0 HU at any depth (no cupping), while bone still hardens the beam.

    Examples
    --------
    >>> spectrum = tube_spectrum(120.0)
    >>> correct = water_linearization(spectrum, 70.0)
    >>> measured = -np.log(spectrum.transmission(np.array([50.0, 300.0])))
    >>> (correct(measured) / attenuation_per_mm("water", 70.0)).round(2).tolist()
    [50.0, 300.0]
    """
    lengths = np.linspace(0.0, max_water_mm, int(max_water_mm) * 4 + 1, dtype=np.float32)
    measured = -np.log(polychromatic_transmission(lengths, 0.0, spectrum).astype(float))
    mu = attenuation_per_mm("water", energy_kev)

    def correct(line_integrals):
        values = np.asarray(line_integrals, dtype=np.float32)
        return (np.interp(values, measured, lengths) * mu).astype(np.float32)

    return correct


# -- detector -----------------------------------------------------------------------------


def detected_counts(expected, rng: np.random.Generator,
                    electronic_noise_sd: float = 0.0) -> np.ndarray:
    """Noisy detector readings: Poisson photon counts plus Gaussian electronic noise.

    Parameters
    ----------
    expected : array
        Mean photons per detector pixel per view (≥ 0).
    rng : numpy.random.Generator
    electronic_noise_sd : float
        Standard deviation of the electronic noise, in photons (≥ 0).

    Returns
    -------
    ndarray, float32
        Readings; may be zero or negative where few photons arrive.

    Examples
    --------
    >>> counts = detected_counts(np.full(100_000, 400.0), np.random.default_rng(0))
    >>> round(float(counts.mean())), round(float(counts.std()))
    (400, 20)
    """
    expected = np.asarray(expected)
    if np.any(expected < 0) or not np.all(np.isfinite(expected)):
        raise ValueError("expected counts must be finite and >= 0")
    if not (np.isfinite(electronic_noise_sd) and electronic_noise_sd >= 0):
        raise ValueError(f"electronic_noise_sd must be a number >= 0, got {electronic_noise_sd!r}")
    counts = rng.poisson(expected).astype(np.float32)
    if electronic_noise_sd > 0:
        counts += rng.normal(0.0, electronic_noise_sd, counts.shape).astype(np.float32)
    return counts


def log_transform(counts, i0: float, min_counts: float = 1.0) -> np.ndarray:
    """Line integrals ``ln(I0 / counts)`` (float32), with counts floored at ``min_counts``.

    The floor keeps zero and negative readings (photon starvation plus
    electronic noise) finite: such a ray reads as ``ln(I0 / min_counts)``,
    an underestimate of its true attenuation, as on a scanner.

    Examples
    --------
    >>> [round(float(p), 3) for p in log_transform(np.array([1000.0, 10.0, 0.0, -3.0]), 1000.0)]
    [0.0, 4.605, 6.908, 6.908]
    """
    if not (np.isfinite(i0) and i0 > 0):
        raise ValueError(f"i0 must be a positive number of photons, got {i0!r}")
    if not (np.isfinite(min_counts) and 0 < min_counts <= i0):
        raise ValueError(f"min_counts must be positive and at most i0, got {min_counts!r}")
    counts = np.asarray(counts, dtype=np.float32)
    return np.log(np.float32(i0) / np.maximum(counts, np.float32(min_counts)))


def detector_blur(signal, sigma_pixels, axes=(-1,)) -> np.ndarray:
    """Gaussian blur of detector signals along detector axes (float32).

    Parameters
    ----------
    signal : array
        Intensities, e.g. (views, cols) or (views, rows, cols).
    sigma_pixels : float or sequence of float
        Standard deviation per axis in ``axes``, detector pixels (0: none).
    axes : sequence of int
        The detector axes (not the view axis).

    Examples
    --------
    >>> line = np.zeros((1, 9), np.float32); line[0, 4] = 1.0
    >>> blurred = detector_blur(line, 1.0)
    >>> round(float(blurred.sum()), 4), round(float(blurred[0, 4]), 3)
    (1.0, 0.399)
    """
    out = np.asarray(signal, dtype=np.float32)
    sigmas = np.broadcast_to(np.asarray(sigma_pixels, dtype=float), (len(axes),))
    if not np.all(np.isfinite(sigmas) & (sigmas >= 0)):
        raise ValueError(f"sigma_pixels must be numbers >= 0, got {sigma_pixels!r}")
    for axis, sigma in zip(axes, sigmas, strict=True):
        if sigma > 0:
            out = gaussian_filter1d(out, sigma, axis=axis, mode="nearest")
    return out
