"""Evaluation of NICT enhancement against FBP and TV (hounsfield.learn.evaluation)."""

from __future__ import annotations

import csv
import json
import math

import numpy as np
import pytest

from hounsfield.data.anatomy import thorax_phantom
from hounsfield.learn.evaluation import (
    METHODS,
    METRICS,
    TV_WEIGHT_FACTORS,
    _spread,
    evaluate_enhancement,
    tune_tv_weight,
)
from hounsfield.metrics.image import mae_hu, psnr_db, ssim
from hounsfield.segment.body import segment_body
from hounsfield.simulate import physics
from hounsfield.simulate.nict import ScanSettings, centred_grid, simulate_scan
from hounsfield.tomo.iterative import suggest_tv_weight, tv_pdhg
from hounsfield.tomo.project import Projector

SPARSE = ScanSettings(n_views=30)
TV_WEIGHT = 2.0  # about 3 × suggest_tv_weight for these 64² slices of 5 mm pixels
TV_ITERATIONS = 30


@pytest.fixture(scope="module")
def phantom():
    ct, _ = thorax_phantom(shape=(4, 64, 64), spacing_mm=(20.0, 5.0, 5.0))
    return ct


class Recorder:
    """An identity enhancer that keeps every stack it receives."""

    def __init__(self):
        self.calls = []

    def __call__(self, fbp):
        self.calls.append(fbp.copy())
        return fbp


@pytest.fixture(scope="module")
def identity_run(phantom):
    recorder = Recorder()
    result = evaluate_enhancement(phantom, recorder, SPARSE, slices=[1, 2], tv_weight=TV_WEIGHT,
                                  tv_iterations=TV_ITERATIONS, batch_slices=4)
    return result, recorder


def _rows_of(result, method):
    return [row for row in result.rows if row["method"] == method]


def _one_slice_scan(ct, z, settings):
    one = ct.crop((z, 0, 0), (z + 1, *ct.shape[1:]))
    return one, simulate_scan(one, settings, keep_sinogram=True)


def _direct_tv_hu(ct, z, settings, weight, iterations):
    """TV-PDHG of one slice's simulated scan, by direct calls of the tomography functions."""
    one, scan = _one_slice_scan(ct, z, settings)
    projector = Projector(scan.geometry, centred_grid(one).axial_slice())
    mu = tv_pdhg(projector, scan.sinogram[0], weight, iterations).image
    return physics.mu_to_hu(mu, settings.energy_kev)


# -- what is scored ----------------------------------------------------------------------------


def test_identity_enhancer_scores_exactly_as_fbp(identity_run):
    result, _ = identity_run
    assert result.slices == [1, 2]
    assert len(result.rows) == 2 * len(METHODS)
    for fbp_row, net_row in zip(_rows_of(result, "fbp"), _rows_of(result, "network"),
                                strict=True):
        assert all(fbp_row[m] == net_row[m] for m in METRICS)
    assert result.summary()["network"]["psnr_gain_over_fbp_db"] == 0.0


def test_enhancer_gets_whole_fbp_slices_of_the_ct_grid(phantom, identity_run):
    result, recorder = identity_run
    stack = recorder.calls[0]
    assert stack.dtype == np.float32 and stack.shape == (2, 64, 64)
    # noise-free 2D scans are slice-independent: the FBP of the whole CT has the same slices
    whole = simulate_scan(phantom, SPARSE).degraded.array
    np.testing.assert_allclose(stack, whole[[1, 2]], atol=1e-2)
    # the example (median network PSNR) is scanned again alone, identically
    example = result.example
    assert example.slice_index in (1, 2)
    np.testing.assert_array_equal(recorder.calls[1][0], stack[[1, 2].index(example.slice_index)])


def test_metrics_equal_direct_calls_for_one_slice(phantom, identity_run):
    result, _ = identity_run
    _, scan = _one_slice_scan(phantom, 2, SPARSE)
    body = segment_body(phantom)[2]
    reference = np.maximum(phantom.array[2], -1000.0)
    images = {"fbp": scan.degraded.array[0],
              "tv": _direct_tv_hu(phantom, 2, SPARSE, TV_WEIGHT, TV_ITERATIONS)}
    for method, image in images.items():
        row = next(r for r in _rows_of(result, method) if r["slice"] == 2)
        assert row["psnr_db"] == pytest.approx(psnr_db(image, reference, body), abs=1e-6)
        assert row["ssim"] == pytest.approx(ssim(image, reference, body), abs=1e-6)
        assert row["mae_hu"] == pytest.approx(mae_hu(image, reference, body), abs=1e-4)


@pytest.mark.parametrize("settings", [ScanSettings(geometry="parallel", n_views=24),
                                      ScanSettings(n_views=60, arc_deg=150.0)],
                         ids=["parallel", "limited-angle"])
def test_tv_uses_the_measured_views_of_the_scan(phantom, settings):
    result = evaluate_enhancement(phantom, lambda x: x, settings, slices=[1], tv_weight=1.0,
                                  tv_iterations=10)
    expected = psnr_db(_direct_tv_hu(phantom, 1, settings, 1.0, 10),
                       np.maximum(phantom.array[1], -1000.0), segment_body(phantom)[1])
    assert _rows_of(result, "tv")[0]["psnr_db"] == pytest.approx(expected, abs=1e-6)


def test_oracle_enhancer_is_exact(phantom, identity_run):
    _, recorder = identity_run
    truth = {z: np.maximum(phantom.array[z], -1000.0) for z in (1, 2)}
    fbp_of = dict(zip((1, 2), recorder.calls[0], strict=True))

    def oracle(stack):
        return np.stack([next(truth[z] for z, f in fbp_of.items() if np.array_equal(f, s))
                         for s in stack])

    result = evaluate_enhancement(phantom, oracle, SPARSE, slices=[1, 2], tv_weight=TV_WEIGHT,
                                  tv_iterations=TV_ITERATIONS)
    network = result.summary()["network"]
    assert network["psnr_db"] == math.inf and network["mae_hu"] == 0.0
    assert network["ssim"] == pytest.approx(1.0)
    assert result.summary()["fbp"]["psnr_db"] < 40.0


def test_tv_beats_fbp_on_a_sparse_scan(identity_run):
    result, _ = identity_run
    summary = result.summary()
    assert summary["tv"]["psnr_db"] > summary["fbp"]["psnr_db"] + 1.0
    assert summary["tv"]["mae_hu"] < summary["fbp"]["mae_hu"]
    gain = summary["network"]["psnr_gain_over_tv_db"]
    assert gain == pytest.approx(summary["fbp"]["psnr_db"] - summary["tv"]["psnr_db"])


def test_noise_depends_on_the_slice_only(phantom):
    noisy = SPARSE.replace(dose_fraction=0.05, seed=7)
    options = {"tv_weight": TV_WEIGHT, "tv_iterations": 5}
    pair = evaluate_enhancement(phantom, lambda x: x, noisy, slices=[1, 2], batch_slices=1,
                                **options)
    alone = evaluate_enhancement(phantom, lambda x: x, noisy, slices=[2], **options)
    assert _rows_of(pair, "fbp")[1] == _rows_of(alone, "fbp")[0]
    assert _rows_of(pair, "fbp")[0]["psnr_db"] != _rows_of(pair, "fbp")[1]["psnr_db"]


def test_enhancer_is_called_in_batches(phantom):
    recorder = Recorder()
    evaluate_enhancement(phantom, recorder, SPARSE, slices=[0, 1, 2], tv_weight=TV_WEIGHT,
                         tv_iterations=2, batch_slices=2)
    assert [call.shape[0] for call in recorder.calls] == [2, 1, 1]  # then the example alone


def test_truncated_scan_blanks_tv_outside_the_field_of_view(phantom):
    settings = SPARSE.replace(fov_mm=200.0)
    result = evaluate_enhancement(phantom, lambda x: x, settings, slices=[1], tv_weight=1.0,
                                  tv_iterations=5)
    tv = result.example.images["tv"]
    assert tv[0, 0] == -1000.0 and tv[32, 32] != -1000.0


# -- TV weight -------------------------------------------------------------------------------


def test_tune_tv_weight_returns_the_best_candidate(phantom):
    candidates = [0.0, 2.0, 20.0]
    best = tune_tv_weight(phantom, SPARSE, [2], candidates=candidates, iterations=TV_ITERATIONS)
    body, reference = segment_body(phantom)[2], np.maximum(phantom.array[2], -1000.0)
    tv_psnr = [psnr_db(_direct_tv_hu(phantom, 2, SPARSE, w, TV_ITERATIONS), reference, body)
               for w in candidates]
    assert best == candidates[int(np.argmax(tv_psnr))]
    assert best > 0.0  # regularisation helps a 30-view scan


def test_default_candidates_and_default_weight(phantom):
    iterations = 5
    tuned = tune_tv_weight(phantom, SPARSE, [2], iterations=iterations)
    _, scan = _one_slice_scan(phantom, 2, SPARSE)
    one = phantom.crop((2, 0, 0), (3, 64, 64))
    suggested = suggest_tv_weight(Projector(scan.geometry, centred_grid(one).axial_slice()),
                                  scan.sinogram[0])
    assert any(math.isclose(tuned, suggested * f, rel_tol=1e-9) for f in TV_WEIGHT_FACTORS)
    result = evaluate_enhancement(phantom, lambda x: x, SPARSE, slices=[2],
                                  tv_iterations=iterations)
    assert result.tv_weight == tuned


def test_default_weight_is_tuned_on_slices_spread_over_the_test_slices():
    assert _spread(4, 3) == [0, 2, 3]
    assert _spread(2, 3) == [0, 1]
    assert _spread(1, 3) == [0]


# -- outputs -------------------------------------------------------------------------------


def test_table_csv_json_and_figure(identity_run, tmp_path):
    from rich.console import Console

    result, _ = identity_run
    console = Console(record=True, width=140)
    console.print(result.table())
    text = console.export_text()
    assert all(method in text for method in METHODS) and "±" in text and "PSNR gain" in text

    with open(result.to_csv(tmp_path / "out" / "rows.csv"), newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == len(result.rows)
    assert float(rows[0]["psnr_db"]) == pytest.approx(result.rows[0]["psnr_db"])
    assert {r["method"] for r in rows} == set(METHODS)

    document = json.loads(result.to_json(tmp_path / "rows.json").read_text())
    assert document["tv_weight"] == TV_WEIGHT and document["settings"]["n_views"] == 30
    assert document["summary"]["tv"]["ssim"] == pytest.approx(result.summary()["tv"]["ssim"])

    import matplotlib.image

    png = result.figure(tmp_path / "figure.png")
    assert matplotlib.image.imread(png).shape[:2] == (650, 1200)
    assert not list(tmp_path.glob(".tmp-*"))


def test_json_writes_an_infinite_psnr_as_null(phantom, tmp_path):
    reference = np.maximum(phantom.array[1:2], -1000.0)
    result = evaluate_enhancement(phantom, lambda x: reference, SPARSE, slices=[1],
                                  tv_weight=1.0, tv_iterations=2)
    document = json.loads(result.to_json(tmp_path / "r.json").read_text())
    assert document["summary"]["network"]["psnr_db"] is None
    result.figure(tmp_path / "r.png")  # the infinite PSNR stays out of the box plot


# -- errors ----------------------------------------------------------------------------------


@pytest.mark.parametrize("enhancer, message", [
    (lambda x: x[:, :32], "input's shape"),
    (lambda x: np.full_like(x, np.nan), "NaN"),
])
def test_bad_enhancer_output_is_refused(phantom, enhancer, message):
    with pytest.raises(ValueError, match=message):
        evaluate_enhancement(phantom, enhancer, SPARSE, slices=[1], tv_weight=1.0)


@pytest.mark.parametrize("settings, message", [
    (ScanSettings(geometry="cone", n_views=30), "geometry"),
    (ScanSettings(n_views=30, polychromatic=True), "polychromatic"),
    (ScanSettings(n_views=30, method="sirt"), "method"),
])
def test_unsupported_scans_are_refused(phantom, settings, message):
    with pytest.raises(ValueError, match=message):
        evaluate_enhancement(phantom, lambda x: x, settings, slices=[1], tv_weight=1.0)


@pytest.mark.parametrize("options, message", [
    ({"slices": []}, "at least one"),
    ({"slices": [4]}, r"\[0, 4\)"),
    ({"slices": [-1]}, r"\[0, 4\)"),
    ({"slices": [1, 1]}, "once"),
    ({"body": np.zeros((4, 64, 64), bool)}, "no voxel in slice 1"),
    ({"body": np.ones((4, 64, 63), bool)}, "shape"),
    ({"tv_weight": -1.0}, "tv_weight must be"),
    ({"tv_iterations": 0}, "tv_iterations"),
    ({"batch_slices": 0}, "batch_slices"),
])
def test_bad_arguments_are_refused(phantom, options, message):
    arguments = {"slices": [1], "tv_weight": 1.0} | options
    with pytest.raises(ValueError, match=message):
        evaluate_enhancement(phantom, lambda x: x, SPARSE, **arguments)


def test_non_callable_enhancer_and_non_volume_are_refused(phantom):
    with pytest.raises(TypeError, match="enhancer"):
        evaluate_enhancement(phantom, "unet.pt", SPARSE, tv_weight=1.0)
    with pytest.raises(TypeError, match="Volume"):
        evaluate_enhancement(phantom.array, lambda x: x, SPARSE, tv_weight=1.0)
    with pytest.raises(ValueError, match="candidates"):
        tune_tv_weight(phantom, SPARSE, [1], candidates=[])
