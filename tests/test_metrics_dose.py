"""Gamma index: hand-computed values on analytic doses, agreement with pymedphys, validation."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.ndimage import gaussian_filter

from hounsfield.errors import HounsfieldWarning
from hounsfield.metrics.dose import gamma_index, gamma_pass_rate


def smooth_dose(shape, seed, sigma_voxels=2.5, peak=60.0):
    """A random smooth dose in [0, peak]."""
    field = gaussian_filter(np.random.default_rng(seed).random(shape), sigma_voxels)
    return peak * (field - field.min()) / (field.max() - field.min())


def axes_of(shape, spacing, origin=0.0):
    return tuple(origin + np.arange(n) * s for n, s in zip(shape, spacing, strict=True))


# -- hand-computed values ---------------------------------------------------------------------


@pytest.mark.parametrize("shape", [(9,), (6, 7), (4, 5, 6)])
def test_identical_doses_give_gamma_zero_above_the_cutoff(shape):
    reference = smooth_dose(shape, seed=1)
    gamma = gamma_index(reference, reference.copy(), 3, 3, spacing_mm=2.0)
    computed = reference >= 0.2 * reference.max()
    np.testing.assert_array_equal(gamma[computed], 0.0)
    assert np.isnan(gamma[~computed]).all()


@pytest.mark.parametrize("shape", [(8,), (6, 7), (5, 4, 6)])
def test_uniform_two_percent_offset_gives_two_thirds_everywhere(shape):
    # every shell sees the same 1 Gy difference, δD = 3 % of 50 Gy = 1.5 Gy: γ = 1 / 1.5
    reference = np.full(shape, 50.0)
    gamma = gamma_index(reference, reference + 1.0, 3, 3, spacing_mm=1.5)
    np.testing.assert_allclose(gamma, 2 / 3, rtol=1e-12)


def test_step_edge_shifted_by_one_mm_is_a_third_behind_the_edge():
    # 60 Gy up to x = 0 mm, 0 Gy from x = 1 mm (1 mm nodes, linear in between);
    # the evaluation is the same edge 1 mm further. At x = 1 mm the evaluation
    # dose is 60 Gy, and 0 Gy (the reference's) lies exactly 1 mm away, a
    # searched radius with step 3 mm / 12 = 0.25 mm: γ = sqrt(0 + (1/3)^2).
    x = np.arange(-5.0, 6.0)
    reference = np.where(x <= 0, 60.0, 0.0)
    evaluation = np.where(x <= 1, 60.0, 0.0)
    gamma = gamma_index(reference, evaluation, 3, 3, spacing_mm=1.0, interp_fraction=12,
                        lower_percent_dose_cutoff=0)
    np.testing.assert_allclose(gamma[x == 1], 1 / 3, rtol=1e-12)
    np.testing.assert_array_equal(gamma[x != 1], 0.0)


def test_shifted_ramp_reaches_the_sampled_and_the_continuous_gamma():
    # Ramp of -6 Gy/mm from 60 Gy at x = 0 to 0 at x = 10 mm, evaluated 1 mm
    # later. Inside the ramp a shell of radius d sees |6 (d - 1)| Gy at best, so
    # γ(d)^2 = (10/3)^2 (d - 1)^2 + (d/3)^2 with δD = 1.8 Gy, δr = 3 mm.
    x = np.arange(-5.0, 16.0)
    reference = np.clip(60 - 6 * x, 0, 60)
    evaluation = np.clip(60 - 6 * (x - 1), 0, 60)
    inside = (x >= 3) & (x <= 8)
    # radii 0, 0.25, ... 1 (exact in binary): the searched minimum is at d = 1 mm
    sampled = gamma_index(reference, evaluation, 3, 3, spacing_mm=1.0, interp_fraction=12)
    np.testing.assert_allclose(sampled[inside], 1 / 3, rtol=1e-12)
    # a fine search approaches the continuous minimum 10 / (3 sqrt(101)) at d = 200/202 mm
    fine = gamma_index(reference, evaluation, 3, 3, spacing_mm=1.0, interp_fraction=300)
    np.testing.assert_allclose(fine[inside], 10 / (3 * np.sqrt(101)), rtol=1e-4)
    assert np.all(fine[inside] <= sampled[inside])


def test_local_and_global_normalisation_differ_by_the_dose_ratio():
    # plateaus of 60 Gy and 20 Gy, evaluation 2 % higher: 1.2 Gy and 0.4 Gy differences.
    x = np.arange(40)
    reference = np.where(x < 20, 60.0, 20.0)
    kwargs = {"spacing_mm": 1.0, "interp_fraction": 12, "lower_percent_dose_cutoff": 0}
    global_gamma = gamma_index(reference, 1.02 * reference, 3, 3, **kwargs)
    local_gamma = gamma_index(reference, 1.02 * reference, 3, 3, local_gamma=True, **kwargs)
    high, low = x <= 17, x >= 22  # 2 mm from the edge: the search stops at d = 2 mm
    np.testing.assert_allclose(global_gamma[high], 2 / 3, rtol=1e-12)
    np.testing.assert_allclose(local_gamma[high], 2 / 3, rtol=1e-12)
    np.testing.assert_allclose(global_gamma[low], 0.4 / 1.8, rtol=1e-12)  # 3 % of 60 Gy
    np.testing.assert_allclose(local_gamma[low], 0.4 / 0.6, rtol=1e-12)  # 3 % of 20 Gy


def test_cutoff_excludes_low_dose_points_and_keeps_the_cutoff_dose():
    reference = np.array([5.0, 10.0, 19.0, 20.0, 60.0, 100.0])
    gamma = gamma_index(reference, reference, 3, 3, spacing_mm=1.0)  # cutoff 20 % of 100 Gy
    np.testing.assert_array_equal(np.isnan(gamma), [True, True, True, False, False, False])
    assert gamma_pass_rate(gamma) == 100.0


def test_global_normalisation_sets_the_dose_criterion_and_the_cutoff():
    reference = np.full(10, 40.0)
    gamma = gamma_index(reference, reference + 1.0, 3, 3, spacing_mm=1.0,
                        global_normalisation=100.0)
    np.testing.assert_allclose(gamma, 1.0 / 3.0, rtol=1e-12)  # δD = 3 Gy
    below = gamma_index(reference, reference, 3, 3, spacing_mm=1.0, global_normalisation=250.0)
    assert np.isnan(below).all()  # 40 Gy < 20 % of 250 Gy


def test_max_gamma_caps_values_and_the_search():
    reference = np.full(12, 50.0)
    gamma = gamma_index(reference, reference + 30.0, 3, 3, spacing_mm=1.0, max_gamma=2.0)
    np.testing.assert_array_equal(gamma, 2.0)  # 30 Gy / 1.5 Gy = 20, capped


def test_pass_rate_rules_and_nan_policy():
    gamma = np.array([0.2, 1.0, 1.0 + 1e-12, np.nan])
    assert gamma_pass_rate(gamma) == pytest.approx(200 / 3)
    assert gamma_pass_rate(gamma, pass_rule="<") == pytest.approx(100 / 3)
    with pytest.warns(HounsfieldWarning, match="no gamma value"):
        assert np.isnan(gamma_pass_rate(np.full(3, np.nan)))


def test_spacing_and_axes_give_the_same_gamma():
    reference = smooth_dose((7, 8, 9), seed=2)
    evaluation = 1.03 * smooth_dose((7, 8, 9), seed=2, sigma_voxels=2.7)
    spacing = (2.5, 2.0, 1.5)
    by_spacing = gamma_index(reference, evaluation, 2, 2, spacing_mm=spacing)
    axes = axes_of(reference.shape, spacing)
    by_axes = gamma_index(reference, evaluation, 2, 2, reference_axes_mm=axes,
                          evaluation_axes_mm=axes)
    np.testing.assert_array_equal(by_spacing, by_axes)


def test_decreasing_evaluation_axes_are_read_in_their_order():
    reference = smooth_dose((8, 9), seed=6)
    evaluation = 1.02 * smooth_dose((8, 9), seed=6, sigma_voxels=2.8)
    axes = axes_of(reference.shape, (2.0, 1.5))
    expected = gamma_index(reference, evaluation, 3, 3, reference_axes_mm=axes,
                           evaluation_axes_mm=axes)
    flipped_axes = (axes[0], axes[1][::-1])
    gamma = gamma_index(reference, evaluation[:, ::-1], 3, 3, reference_axes_mm=axes,
                        evaluation_axes_mm=flipped_axes)
    np.testing.assert_allclose(gamma, expected, rtol=0, atol=1e-12, equal_nan=True)


# -- agreement with pymedphys -----------------------------------------------------------------

CASES = {
    "1d-global": ((80,), (1.0,), {}),
    "1d-local": ((80,), (1.0,), {"local_gamma": True, "lower_percent_dose_cutoff": 10}),
    "2d-global": ((30, 34), (2.0, 1.5), {"interp_fraction": 5}),
    "2d-local-max-gamma": ((30, 34), (2.0, 1.5), {"local_gamma": True, "max_gamma": 2}),
    "3d-global": ((10, 11, 12), (2.5, 2.0, 3.0), {"lower_percent_dose_cutoff": 10}),
    "3d-local": ((10, 11, 12), (2.5, 2.0, 3.0), {"local_gamma": True, "max_gamma": 1.5}),
    "3d-normalised": ((9, 10, 11), (2.0, 2.0, 2.0), {"global_normalisation": 45.0}),
}


@pytest.mark.parametrize("name", CASES)
def test_agrees_with_pymedphys_on_random_smooth_doses(name):
    pymedphys = pytest.importorskip("pymedphys")
    shape, spacing, options = CASES[name]
    reference = smooth_dose(shape, seed=3)
    evaluation = 1.02 * np.roll(reference, 1, axis=-1) + smooth_dose(shape, seed=4) * 0.04
    axes = axes_of(shape, spacing)
    ours = gamma_index(reference, evaluation, 3, 2, reference_axes_mm=axes,
                       evaluation_axes_mm=axes, **options)
    peer = pymedphys.gamma(axes, reference, axes, evaluation, 3, 2, **options)
    assert_same_gamma(ours, peer)


def test_agrees_with_pymedphys_on_a_different_partly_overlapping_grid():
    pymedphys = pytest.importorskip("pymedphys")

    def blob(axes, scale=1.0):
        z, y, x = np.meshgrid(*axes, indexing="ij")
        return scale * 60 * np.exp(-((z - 12) ** 2 + (y - 13) ** 2 + (x - 11) ** 2) / 150)

    reference_axes = axes_of((11, 12, 10), (2.0, 2.0, 2.5))
    evaluation_axes = axes_of((9, 10, 10), (2.5, 2.3, 2.1), origin=3.1)
    reference, evaluation = blob(reference_axes), blob(evaluation_axes, scale=1.03)
    options = {"lower_percent_dose_cutoff": 5, "max_gamma": 1.2}
    ours = gamma_index(reference, evaluation, 2, 2, reference_axes_mm=reference_axes,
                       evaluation_axes_mm=evaluation_axes, **options)
    peer = pymedphys.gamma(reference_axes, reference, evaluation_axes, evaluation, 2, 2,
                           **options)
    assert_same_gamma(ours, peer)
    assert np.isnan(ours[reference >= 3]).any()  # computed points out of the evaluation's reach
    assert (ours == 1.2).any() and (ours < 1).any()


def assert_same_gamma(ours, peer):
    np.testing.assert_array_equal(np.isnan(ours), np.isnan(peer))
    np.testing.assert_allclose(ours, peer, rtol=0, atol=1e-9, equal_nan=True)
    for rule in ("<=", "<"):
        assert gamma_pass_rate(ours, pass_rule=rule) == gamma_pass_rate(peer, pass_rule=rule)


# -- validation -------------------------------------------------------------------------------


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"spacing_mm": 0.0}, "spacing_mm must be positive"),
    ({"spacing_mm": (1.0, 2.0, 3.0)}, "spacing_mm must be one number or 2"),
    ({}, "give either spacing_mm"),
    ({"spacing_mm": 1.0, "reference_axes_mm": (np.arange(4), np.arange(5))},
     "give either spacing_mm"),
    ({"reference_axes_mm": (np.arange(4), np.arange(5))}, "given together"),
    ({"reference_axes_mm": (np.arange(4), np.arange(5)),
      "evaluation_axes_mm": (np.arange(4), np.arange(6))}, "lengths"),
    ({"reference_axes_mm": (np.arange(4), np.arange(5)),
      "evaluation_axes_mm": (np.array([0, 1, 3, 4.0]), np.arange(5))}, "uniformly spaced"),
    ({"spacing_mm": 1.0, "lower_percent_dose_cutoff": -1}, "lower_percent_dose_cutoff"),
    ({"spacing_mm": 1.0, "interp_fraction": 0}, "interp_fraction must be a finite positive"),
    ({"spacing_mm": 1.0, "max_gamma": float("inf")}, "max_gamma"),
])
def test_invalid_grids_and_options_are_refused_by_name(kwargs, message):
    with pytest.raises(ValueError, match=message):
        gamma_index(np.ones((4, 5)), np.ones((4, 5)), 3, 3, **kwargs)


def test_invalid_doses_and_criteria_are_refused_by_name():
    dose = np.ones((4, 5))
    with pytest.raises(ValueError, match="evaluation_dose must be finite"):
        gamma_index(dose, np.where(dose > 0, np.nan, 0), 3, 3, spacing_mm=1)
    with pytest.raises(ValueError, match="same number of axes"):
        gamma_index(dose, np.ones(5), 3, 3, spacing_mm=1)
    with pytest.raises(ValueError, match="one grid"):
        gamma_index(dose, np.ones((4, 6)), 3, 3, spacing_mm=1)
    with pytest.raises(ValueError, match="dose_percent_threshold must be a finite positive"):
        gamma_index(dose, dose, 0, 3, spacing_mm=1)
    with pytest.raises(ValueError, match="distance_mm_threshold must be a number"):
        gamma_index(dose, dose, 3, "3mm", spacing_mm=1)
    with pytest.raises(ValueError, match="maximum reference dose"):
        gamma_index(np.zeros((4, 5)), dose, 3, 3, spacing_mm=1)
    with pytest.raises(ValueError, match="pass_rule"):
        gamma_pass_rate(np.ones(3), pass_rule="<=1")
