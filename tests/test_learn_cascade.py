"""The data-consistency step, the consistency cascade, its training pairs, inference and trainer."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="the learn extra (torch) is not installed")

import hounsfield as hf  # noqa: E402
from _helpers import one_error_line, run_cli  # noqa: E402
from hounsfield.data.anatomy import thorax_phantom  # noqa: E402
from hounsfield.learn.cascade import (  # noqa: E402
    ConsistencyCascade,
    ConsistencyPairs,
    first_stage,
)
from hounsfield.learn.checkpoints import TrainedModel, load_model, save_checkpoint  # noqa: E402
from hounsfield.learn.consistency import consistency_step  # noqa: E402
from hounsfield.learn.datasets import PairedSlices, denormalise_hu  # noqa: E402
from hounsfield.learn.evaluation import evaluate_enhancement  # noqa: E402
from hounsfield.learn.inference import (  # noqa: E402
    enhance,
    enhance_sinogram,
    enhance_slices,
    evaluation_enhancer,
    refine_slices,
)
from hounsfield.learn.models import ResidualUNet, build_model  # noqa: E402
from hounsfield.learn.training import TrainingConfig, train  # noqa: E402
from hounsfield.simulate import ScanSettings, physics, simulate_scan  # noqa: E402
from hounsfield.simulate.nict import centred_grid  # noqa: E402
from hounsfield.tomo import Projector, parallel_beam  # noqa: E402

WINDOW = [-1024.0, 2048.0]
ENERGY_KEV = 70.0


@pytest.fixture(scope="module")
def phantom():
    ct, _ = thorax_phantom(shape=(4, 48, 48), spacing_mm=(5.0, 8.0, 8.0))
    return ct


def _square(value: float = 40.0) -> np.ndarray:
    image = np.full((32, 32), -1000.0, np.float32)
    image[8:24, 8:24] = value
    return image


def _untrained_cascade(settings: ScanSettings) -> TrainedModel:
    cascade = ConsistencyCascade(ResidualUNet(1, 4, 2), ResidualUNet(3, 4, 2)).eval()
    return TrainedModel(cascade, {"hu_window": WINDOW, "scan": settings.to_dict()})


# -- the step ---------------------------------------------------------------------------------


def test_a_consistent_image_is_left_as_it_is():
    projector = Projector(parallel_beam(60, 48), (32, 32))
    truth = _square()
    y = projector.forward(physics.hu_to_mu(truth, ENERGY_KEV))
    np.testing.assert_allclose(consistency_step(truth, y, projector, ENERGY_KEV), truth,
                               atol=1e-3)


def test_the_step_closes_the_given_share_of_the_gap():
    """With dense views FBP inverts A, so step s leaves (1 − s) of an error in the object."""
    projector = Projector(parallel_beam(360, 64), (32, 32))
    truth = _square(200.0)
    y = projector.forward(physics.hu_to_mu(truth, ENERGY_KEV))
    start = _square(0.0)
    inside = (slice(12, 20), slice(12, 20))
    for step in (0.5, 1.0):
        moved = consistency_step(start, y, projector, ENERGY_KEV, step=step, filter="ramp")
        np.testing.assert_allclose(moved[inside], 200.0 * step, atol=10.0)


def test_a_stack_is_stepped_slice_by_slice():
    projector = Projector(parallel_beam(60, 48), (2, 32, 32))
    stack = np.stack([_square(0.0), _square(300.0)])
    y = projector.forward(physics.hu_to_mu(np.stack([_square(100.0)] * 2), ENERGY_KEV))
    moved = consistency_step(stack, y, projector, ENERGY_KEV)
    one = Projector(parallel_beam(60, 48), (32, 32))
    np.testing.assert_allclose(moved[1], consistency_step(stack[1], y[1], one, ENERGY_KEV),
                               atol=1e-3)


def test_bad_step_inputs_are_refused():
    projector = Projector(parallel_beam(30, 48), (32, 32))
    y = np.zeros(projector.range_shape, np.float32)
    with pytest.raises(ValueError, match="image shape"):
        consistency_step(np.zeros((16, 16)), y, projector, ENERGY_KEV)
    with pytest.raises(ValueError, match="range shape"):
        consistency_step(_square(), y[:10], projector, ENERGY_KEV)
    with pytest.raises(ValueError, match="finite"):
        consistency_step(np.full((32, 32), np.nan), y, projector, ENERGY_KEV)
    with pytest.raises(ValueError, match="step"):
        consistency_step(_square(), y, projector, ENERGY_KEV, step=0)
    with pytest.raises(ValueError, match="filter"):
        consistency_step(_square(), y, projector, ENERGY_KEV, filter="gauss")


# -- the cascade and its pairs ----------------------------------------------------------------


def test_the_cascade_is_rebuilt_from_its_spec_and_checks_its_parts():
    cascade = ConsistencyCascade(ResidualUNet(1, 4, 2), ResidualUNet(3, 8, 3), step=0.3)
    rebuilt = build_model(cascade.spec())
    assert rebuilt.spec() == cascade.spec() and rebuilt.step == 0.3
    with pytest.raises(ValueError, match="3 channels"):
        ConsistencyCascade(ResidualUNet(1, 4, 2), ResidualUNet(1, 4, 2))
    with pytest.raises(ValueError, match="step"):
        ConsistencyCascade(ResidualUNet(1, 4, 2), ResidualUNet(3, 4, 2), step=3.0)
    first = TrainedModel(ResidualUNet(1, 4, 2), {})
    assert first_stage(first) is first


def test_pairs_hold_the_fbp_the_consistent_image_and_the_first_output(phantom):
    settings = ScanSettings(n_views=20)
    first = TrainedModel(ResidualUNet(1, 4, 2).eval(), {"hu_window": WINDOW})
    options = {"seed": 3, "length": 2, "start_deg": (0, 360), "settings": settings}
    pairs = ConsistencyPairs(phantom, "sparse-view", first=first, **options)
    plain = PairedSlices(phantom, "sparse-view", **options)
    stacked, clean = pairs[1]
    degraded, plain_clean = plain[1]
    assert tuple(stacked.shape) == (3, 48, 48)
    torch.testing.assert_close(stacked[0], degraded[0], atol=1e-5, rtol=0)
    torch.testing.assert_close(stacked[2], degraded[0], atol=1e-4, rtol=0)  # untrained: identity
    torch.testing.assert_close(clean, plain_clean)
    torch.testing.assert_close(pairs[1][0], stacked)  # deterministic by (seed, index)
    item = pairs.pair(1)
    scan = simulate_scan(hf.Volume(phantom.array[item.slice_index:item.slice_index + 1],
                                   spacing_mm=phantom.spacing_mm), item.settings,
                         keep_sinogram=True)
    projector = Projector(scan.geometry, centred_grid(phantom).axial_slice())
    expected = consistency_step(scan.degraded.array[0], scan.sinogram[0], projector,
                                settings.energy_kev)
    np.testing.assert_allclose(denormalise_hu(stacked[1].numpy(), WINDOW), expected, atol=0.5)


def test_pairs_need_an_image_network_and_a_2d_fbp_scan(phantom):
    first = TrainedModel(ResidualUNet(1, 4, 2).eval(), {"hu_window": WINDOW})
    with pytest.raises(ValueError, match="2D fan or parallel"):
        ConsistencyPairs(phantom, first=first, settings=ScanSettings(geometry="cone"))
    with pytest.raises(ValueError, match="monochromatic"):
        ConsistencyPairs(phantom, first=first, settings=ScanSettings(polychromatic=True))
    with pytest.raises(TypeError, match="TrainedModel"):
        ConsistencyPairs(phantom, first=ResidualUNet(1, 4, 2))


# -- inference --------------------------------------------------------------------------------


def test_an_untrained_cascade_returns_the_consistent_fbp(phantom):
    settings = ScanSettings(n_views=20)
    scan = simulate_scan(phantom, settings, keep_sinogram=True)
    model = _untrained_cascade(settings)
    projector = Projector(scan.geometry, centred_grid(phantom).axial_slice())
    refined = refine_slices(model, scan.degraded.array, scan.sinogram, projector, batch_size=3)
    expected = np.stack([consistency_step(f, y, projector, settings.energy_kev)
                         for f, y in zip(scan.degraded.array, scan.sinogram, strict=True)])
    np.testing.assert_allclose(refined, expected, atol=0.2)
    from_sinogram = enhance_sinogram(scan.sinogram, scan.geometry, centred_grid(phantom), model)
    np.testing.assert_allclose(from_sinogram, refined, atol=0.2)
    np.testing.assert_allclose(enhance(scan.degraded, model).array, scan.degraded.array,
                               atol=0.2)  # a CT alone: the first network only
    with pytest.raises(ValueError, match="line integrals"):
        enhance_slices(model, scan.degraded.array)
    with pytest.raises(ValueError, match="sinograms"):
        refine_slices(model, scan.degraded.array, scan.sinogram[:2], projector)


def test_evaluation_gives_a_cascade_the_scans_line_integrals(phantom):
    settings = ScanSettings(n_views=20)
    model = _untrained_cascade(settings)
    enhancer, with_sinograms = evaluation_enhancer(model)
    assert with_sinograms
    result = evaluate_enhancement(phantom, enhancer, settings, slices=[1, 2], tv_weight=0.05,
                                  tv_iterations=3, with_sinograms=True)
    network, fbp = (result.values(method, "psnr_db") for method in ("network", "fbp"))
    assert np.all(network > fbp)  # the step alone already helps a 20-view scan


# -- training ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def first_model(tmp_path_factory):
    path = tmp_path_factory.mktemp("first") / "first.safetensors"
    first = ResidualUNet(1, 4, 2)
    torch.nn.init.normal_(first.head.weight, std=0.01)  # not the identity: is it kept?
    return save_checkpoint(path, first, metadata={"hu_window": WINDOW})


def test_refining_trains_the_second_network_and_keeps_the_first(phantom, first_model,
                                                                tmp_path):
    config = TrainingConfig(views=20, steps=2, batch_size=2, patch_size=None, validate_every=1,
                            validation_items=1, base_channels=4, depth=2,
                            refine=str(first_model))
    run = train(phantom, config, tmp_path / "run", progress=False)
    cascade = load_model(run.model_path)
    assert isinstance(cascade.network, ConsistencyCascade)
    assert cascade.metadata["model"] == "consistency-cascade"
    given = load_model(first_model).network.state_dict()
    for name, tensor in cascade.network.first.state_dict().items():
        torch.testing.assert_close(tensor, given[name])
    assert cascade.network.second.in_channels == 3
    assert (tmp_path / "run" / "examples.png").exists()
    tuned = train(phantom, config.replace(refine=None, init_from=str(run.model_path)),
                  tmp_path / "tuned", progress=False)  # fine-tunes the cascade's first network
    assert load_model(tuned.model_path).network.spec() == cascade.network.first.spec()
    with pytest.raises(ValueError, match="refine"):
        TrainingConfig(model="dual-domain", patch_size=None, refine=str(first_model))


def test_learn_train_refine_and_evaluate_the_cascade(phantom, first_model, tmp_path, capsys):
    ct_file = hf.write(phantom, tmp_path / "ct.nii.gz")
    code, _, err = run_cli(capsys, "learn", "train", ct_file, "--views", "20", "--steps", "2",
                           "--batch", "2", "--patch", "0", "--base-channels", "4", "--depth",
                           "2", "--refine", first_model, "-o", tmp_path / "run")
    assert code == 0, err
    model = tmp_path / "run" / "model.safetensors"
    code, _, err = run_cli(capsys, "learn", "evaluate", ct_file, "--model", model, "--slices",
                           "1:3", "--tv-weight", "0.05", "--tv-iterations", "3", "-o",
                           tmp_path / "e")
    assert code == 0, err
    code, out, err = run_cli(capsys, "enhance", ct_file, "--model", model, "-o",
                             tmp_path / "enhanced.nii.gz")
    assert code == 0, err
    assert "first network" in out + err
    code, _, err = run_cli(capsys, "learn", "train", ct_file, "--views", "20", "--steps", "2",
                           "--slab", "3", "--refine", first_model, "-o", tmp_path / "slab")
    assert code == 2 and "slab 1" in one_error_line(err)
