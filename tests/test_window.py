"""Display windowing: presets, (level, width) pairs, clipping, NaN."""

from __future__ import annotations

import numpy as np
import pytest

from hounsfield.volume import Volume
from hounsfield.window import PRESETS, apply_window, window_bounds


@pytest.mark.parametrize(
    ("preset", "bounds"),
    [
        ("lung", (-1350.0, 150.0)),
        ("mediastinum", (-125.0, 225.0)),
        ("abdomen", (-150.0, 250.0)),
        ("liver", (-45.0, 105.0)),
        ("bone", (-500.0, 1300.0)),
        ("brain", (0.0, 80.0)),
    ],
)
def test_preset_bounds_are_level_plus_minus_half_width(preset, bounds):
    assert window_bounds(preset) == bounds


def test_every_preset_has_a_positive_width():
    assert all(width > 0 for _, width in PRESETS.values())


@pytest.mark.parametrize("window", [(40, 80), [40.0, 80.0], np.array([40, 80]), (np.int16(40), 80)])
def test_level_width_pair_in_any_sequence(window):
    assert window_bounds(window) == (0.0, 80.0)


@pytest.mark.parametrize("preset", list(PRESETS))
def test_low_bound_level_and_high_bound_map_to_0_half_1(preset):
    low, high = window_bounds(preset)
    level = (low + high) / 2
    values = apply_window(np.array([low, low + (high - low) / 4, level, high]), preset)
    np.testing.assert_allclose(values, [0.0, 0.25, 0.5, 1.0], atol=1e-6)


def test_values_outside_the_window_are_clipped():
    values = apply_window(np.array([-3000.0, -126.0, 226.0, 3071.0, -np.inf, np.inf]))
    np.testing.assert_array_equal(values, [0.0, 0.0, 1.0, 1.0, 0.0, 1.0])


def test_window_is_monotonic_and_linear_inside():
    hu = np.linspace(-1000, 1000, 2001)
    values = apply_window(hu, (100.0, 400.0))
    assert np.all(np.diff(values) >= 0)
    inside = (hu > -100) & (hu < 300)
    np.testing.assert_allclose(values[inside], (hu[inside] + 100) / 400, atol=1e-6)


def test_nan_stays_nan_and_does_not_spread():
    values = apply_window(np.array([np.nan, 50.0, np.nan, -2000.0]), "mediastinum")
    assert np.isnan(values[[0, 2]]).all()
    np.testing.assert_array_equal(values[[1, 3]], [0.5, 0.0])


@pytest.mark.parametrize("dtype", [np.int16, np.int32, np.float32, np.float64, np.uint16])
def test_output_is_float32_of_the_same_shape(dtype):
    hu = np.arange(24, dtype=dtype).reshape(2, 3, 4) * 10
    values = apply_window(hu, "brain")
    assert values.dtype == np.float32 and values.shape == (2, 3, 4)
    np.testing.assert_allclose(values, np.clip(hu.astype(float) / 80, 0, 1), atol=1e-6)


def test_the_input_is_not_modified():
    hu = np.array([-2000.0, 0.0, 2000.0], np.float32)
    apply_window(hu, "lung")
    np.testing.assert_array_equal(hu, [-2000.0, 0.0, 2000.0])


def test_default_window_is_mediastinum():
    hu = np.linspace(-200, 300, 11)
    np.testing.assert_array_equal(apply_window(hu), apply_window(hu, "mediastinum"))


def test_volume_window_method():
    vol = Volume(np.array([-1350.0, -600.0, 150.0]).reshape(1, 1, 3))
    np.testing.assert_allclose(vol.window("lung"), [[[0.0, 0.5, 1.0]]])
    np.testing.assert_array_equal(vol.window(), apply_window(vol.array))


@pytest.mark.parametrize("width", [0.0, -350.0, np.nan, np.inf])
def test_bad_width_is_rejected(width):
    with pytest.raises(ValueError, match="width"):
        window_bounds((50.0, width))


@pytest.mark.parametrize("level", [np.nan, np.inf, -np.inf])
def test_non_finite_level_is_rejected(level):
    with pytest.raises(ValueError, match="level"):
        apply_window(np.zeros(3), (level, 100.0))


@pytest.mark.parametrize("window", [(50.0,), (1.0, 2.0, 3.0), 400.0, ("a", "b"), None])
def test_malformed_window_is_rejected(window):
    with pytest.raises(ValueError, match="window"):
        window_bounds(window)


@pytest.mark.parametrize("name", ["soft-tissue", "Lung", ""])
def test_unknown_preset_is_rejected_with_the_list_of_presets(name):
    with pytest.raises(ValueError, match="presets are lung, mediastinum"):
        window_bounds(name)
