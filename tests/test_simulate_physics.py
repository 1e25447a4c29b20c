"""X-ray physics of the simulator: NIST attenuation, HU ↔ μ, spectra, beam hardening, noise."""

from __future__ import annotations

import numpy as np
import pytest

from hounsfield.simulate import physics
from hounsfield.simulate.physics import (
    Spectrum,
    attenuation_per_mm,
    detected_counts,
    detector_blur,
    hu_to_mu,
    log_transform,
    mass_attenuation_cm2_per_g,
    mu_to_hu,
    polychromatic_transmission,
    tube_spectrum,
    water_bone_fractions,
    water_linearization,
)

# -- attenuation ---------------------------------------------------------------------------


@pytest.mark.parametrize("material, energy_kev, value", [
    ("water", 20.0, 0.8096), ("water", 100.0, 0.1707), ("bone", 40.0, 0.6655),
    ("bone", 150.0, 0.1480), ("air", 60.0, 0.1875), ("aluminium", 80.0, 0.2018),
])
def test_table_energies_give_the_nist_values(material, energy_kev, value):
    assert mass_attenuation_cm2_per_g(material, energy_kev) == pytest.approx(value, rel=1e-12)


def test_interpolation_is_log_log_between_table_energies():
    # At the geometric mean of two table energies, log–log interpolation gives the
    # geometric mean of their coefficients.
    energy = np.sqrt(60.0 * 80.0)
    expected = np.sqrt(0.2059 * 0.1837)
    assert mass_attenuation_cm2_per_g("water", energy) == pytest.approx(expected, rel=1e-12)


def test_linear_attenuation_is_mass_attenuation_times_density():
    assert attenuation_per_mm("bone", 100.0) == pytest.approx(0.1855 * 1.92 / 10, rel=1e-12)
    assert attenuation_per_mm("air", 100.0) == pytest.approx(0.1541 * 1.205e-3 / 10, rel=1e-12)
    assert attenuation_per_mm("water", [60.0, 80.0]).tolist() == pytest.approx(
        [0.02059, 0.01837], rel=1e-12)


@pytest.mark.parametrize("kwargs, match", [
    ({"material": "lead", "energy_kev": 60.0}, "material"),
    ({"material": "water", "energy_kev": 5.0}, "energy_kev"),
    ({"material": "water", "energy_kev": 250.0}, "energy_kev"),
    ({"material": "water", "energy_kev": float("nan")}, "energy_kev"),
])
def test_bad_material_or_energy_is_refused(kwargs, match):
    with pytest.raises(ValueError, match=match):
        mass_attenuation_cm2_per_g(**kwargs)


def test_hu_scale_is_anchored_at_water_and_air():
    energy = 60.0
    mu_water, mu_air = attenuation_per_mm("water", energy), attenuation_per_mm("air", energy)
    mu = hu_to_mu(np.array([-1000.0, 0.0, 1000.0, -2048.0]), energy)
    assert mu.dtype == np.float32
    assert mu[:3].tolist() == pytest.approx([mu_air, mu_water, 2 * mu_water - mu_air], rel=1e-5)
    assert mu[3] == 0.0  # padding below air is vacuum, not negative attenuation
    hu = np.linspace(-1000, 3000, 41, dtype=np.float32)
    assert np.allclose(mu_to_hu(hu_to_mu(hu, energy), energy), hu, atol=0.01)


# -- spectra ----------------------------------------------------------------------------------


def test_unfiltered_spectrum_follows_kramers_law():
    spectrum = tube_spectrum(100.0, filtration_mm_al=0.0, bin_kev=2.0)
    energies = spectrum.energies_kev
    kramers = (100.0 - energies) / energies
    assert energies[0] == 11.0 and energies[-1] == 99.0
    assert spectrum.photons.sum() == pytest.approx(1.0)
    assert np.allclose(spectrum.photons, kramers / kramers.sum(), rtol=1e-12)


def test_filtration_attenuates_each_bin_by_aluminium():
    bare = tube_spectrum(120.0, filtration_mm_al=0.0)
    filtered = tube_spectrum(120.0, filtration_mm_al=4.0)
    ratio = filtered.photons / bare.photons
    expected = np.exp(-attenuation_per_mm("aluminium", bare.energies_kev) * 4.0)
    assert np.allclose(ratio / ratio[-1], expected / expected[-1], rtol=1e-10)
    assert filtered.mean_energy_kev > bare.mean_energy_kev


def test_effective_energy_of_one_line_is_that_line_and_rises_with_depth():
    line = Spectrum(np.array([70.0]), np.array([1.0]))
    assert line.effective_energy_kev(100.0) == pytest.approx(70.0, abs=0.05)
    spectrum = tube_spectrum(120.0)
    depths = [10.0, 100.0, 200.0, 400.0]
    energies = [spectrum.effective_energy_kev(d) for d in depths]
    assert np.all(np.diff(energies) > 0)  # the beam hardens as it crosses water
    assert 45.0 < energies[0] < spectrum.mean_energy_kev < energies[-1] < 120.0


@pytest.mark.parametrize("kwargs, match", [
    ({"kvp": 10.0}, "kvp"), ({"kvp": 300.0}, "kvp"),
    ({"filtration_mm_al": -1.0}, "filtration_mm_al"), ({"bin_kev": 0.0}, "bin_kev"),
])
def test_bad_spectrum_parameters_are_refused(kwargs, match):
    with pytest.raises(ValueError, match=match):
        tube_spectrum(**kwargs)


# -- beam hardening ---------------------------------------------------------------------------


def test_transmission_of_one_energy_is_beer_lambert():
    line = Spectrum(np.array([60.0]), np.array([1.0]))
    water, bone = np.array([0.0, 50.0, 200.0]), np.array([0.0, 5.0, 10.0])
    expected = np.exp(-attenuation_per_mm("water", 60.0) * water
                      - attenuation_per_mm("bone", 60.0) * bone)
    assert np.allclose(polychromatic_transmission(water, bone, line), expected, rtol=1e-6)


def test_polychromatic_attenuation_per_mm_falls_with_path_length():
    spectrum = tube_spectrum(120.0)
    lengths = np.array([10.0, 100.0, 200.0, 300.0], np.float32)
    effective = -np.log(polychromatic_transmission(lengths, 0.0, spectrum)) / lengths
    assert np.all(np.diff(effective) < 0)
    with_bone = polychromatic_transmission(lengths, 20.0, spectrum)
    assert np.all(with_bone < polychromatic_transmission(lengths, 0.0, spectrum))


def test_water_bone_split_reproduces_mu_at_the_reference_energy():
    energy = 65.0
    hu = np.linspace(-1000, 3000, 81, dtype=np.float32)
    water, bone = water_bone_fractions(hu, energy)
    mixed = water * attenuation_per_mm("water", energy) + bone * attenuation_per_mm("bone", energy)
    # Air is neglected in the split: below 0 HU the mix is off by at most μ_air.
    assert np.allclose(mixed, hu_to_mu(hu, energy), atol=1.1 * attenuation_per_mm("air", energy))
    assert np.all(water >= 0) and np.all(bone >= 0)
    assert bone[hu <= 0].max() == 0.0


def test_water_linearization_undoes_water_hardening_only():
    spectrum, energy = tube_spectrum(120.0), 70.0
    correct = water_linearization(spectrum, energy)
    lengths = np.array([20.0, 150.0, 350.0], np.float32)
    measured = -np.log(polychromatic_transmission(lengths, 0.0, spectrum))
    assert np.allclose(correct(measured), lengths * attenuation_per_mm("water", energy),
                       rtol=1e-3)
    # Bone behind more water meets a harder beam: its share of the corrected line
    # integral shrinks (the streaks between bones that water correction leaves).
    with_bone = -np.log(polychromatic_transmission(lengths, 15.0, spectrum))
    bone_share = correct(with_bone) - correct(measured)
    assert np.all(np.diff(bone_share) < 0)


# -- detector ---------------------------------------------------------------------------------


def test_counts_are_poisson_plus_electronic_noise():
    expected = np.full(200_000, 250.0)
    poisson = detected_counts(expected, np.random.default_rng(1))
    assert poisson.dtype == np.float32
    assert poisson.mean() == pytest.approx(250.0, rel=0.01)
    assert poisson.var() == pytest.approx(250.0, rel=0.02)
    noisy = detected_counts(expected, np.random.default_rng(1), electronic_noise_sd=12.0)
    assert noisy.var() == pytest.approx(250.0 + 144.0, rel=0.02)
    again = detected_counts(expected, np.random.default_rng(1), electronic_noise_sd=12.0)
    assert np.array_equal(noisy, again)


def test_bad_counts_or_noise_are_refused():
    with pytest.raises(ValueError, match="expected counts"):
        detected_counts(np.array([-1.0]), np.random.default_rng(0))
    with pytest.raises(ValueError, match="electronic_noise_sd"):
        detected_counts(np.array([1.0]), np.random.default_rng(0), electronic_noise_sd=-1.0)
    with pytest.raises(ValueError, match="i0"):
        log_transform(np.array([1.0]), 0.0)


def test_log_transform_floors_zero_and_negative_counts():
    i0 = 1e4
    integrals = log_transform(np.array([1e4, 1e2, 0.0, -5.0, 0.5]), i0, min_counts=1.0)
    assert np.all(np.isfinite(integrals))
    assert integrals.tolist() == pytest.approx(
        [0.0, np.log(100.0), np.log(i0), np.log(i0), np.log(i0)], rel=1e-6)


def test_detector_blur_conserves_signal_and_spreads_it():
    signal = np.zeros((3, 41), np.float32)
    signal[:, 20] = 1.0
    blurred = detector_blur(signal, 2.0)
    assert np.allclose(blurred.sum(axis=1), 1.0, atol=1e-6)
    positions = np.arange(41) - 20
    assert np.sqrt((blurred[0] * positions**2).sum()) == pytest.approx(2.0, rel=0.01)
    assert np.array_equal(detector_blur(signal, 0.0), signal)
    cone = np.zeros((1, 9, 9), np.float32)
    cone[0, 4, 4] = 1.0
    spread = detector_blur(cone, (1.0, 0.0), axes=(-2, -1))
    assert np.count_nonzero(spread[0, :, 4]) > 1 and np.count_nonzero(spread[0, 4, :]) == 1


def test_default_energy_matches_the_projects_water_mu():
    from hounsfield.data.phantoms import MU_WATER_PER_MM

    mu = attenuation_per_mm("water", physics.DEFAULT_ENERGY_KEV)
    assert mu == pytest.approx(MU_WATER_PER_MM, rel=0.005)
