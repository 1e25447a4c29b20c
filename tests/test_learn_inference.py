"""Enhancement of volumes and sinograms, the shipped sparse60 model, and the learn/enhance verbs."""

from __future__ import annotations

import json

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="the learn extra (torch) is not installed")

import hounsfield as hf  # noqa: E402
from _helpers import one_error_line, run_cli  # noqa: E402
from hounsfield.data.anatomy import thorax_phantom  # noqa: E402
from hounsfield.learn.cascade import ConsistencyCascade  # noqa: E402
from hounsfield.learn.checkpoints import TrainedModel, load_model, shipped_models  # noqa: E402
from hounsfield.learn.inference import (  # noqa: E402
    enhance,
    enhance_sinogram,
    enhance_slices,
    refine_slices,
    slab_indices,
)
from hounsfield.learn.models import ResidualUNet  # noqa: E402
from hounsfield.metrics.image import psnr_db  # noqa: E402
from hounsfield.segment.body import segment_body  # noqa: E402
from hounsfield.simulate import ScanSettings, simulate_scan  # noqa: E402
from hounsfield.simulate.nict import centred_grid  # noqa: E402
from hounsfield.tomo import Projector  # noqa: E402

WINDOW = {"hu_window": [-1024.0, 2048.0]}


class _SlabMean(torch.nn.Module):
    """A stand-in network: the mean of its input channels (checks which slices are fed)."""

    input_kind = "image"

    def __init__(self, in_channels: int):
        super().__init__()
        self.in_channels = in_channels
        self.unused = torch.nn.Parameter(torch.zeros(1))

    def forward(self, x):
        return x.mean(dim=1, keepdim=True) + 0 * self.unused


@pytest.fixture(scope="module")
def phantom():
    ct, _ = thorax_phantom(shape=(4, 48, 48), spacing_mm=(5.0, 8.0, 8.0))
    return ct


def test_slabs_repeat_the_end_slices_and_batches_do_not_matter():
    hu = np.arange(5, dtype=np.float32)[:, None, None] * np.ones((5, 4, 4), np.float32)
    model = TrainedModel(_SlabMean(3), WINDOW)
    expected = hu[slab_indices(5, 3)].mean(axis=1)
    for batch_size in (1, 2, 5):
        np.testing.assert_allclose(enhance_slices(model, hu, batch_size=batch_size), expected,
                                   atol=1e-3)
    np.testing.assert_allclose(expected[[0, 2, 4], 0, 0], [1 / 3, 2.0, 11 / 3], atol=1e-6)


def test_bfloat16_where_native_stays_close_to_float32(phantom):
    torch.manual_seed(0)
    network = ResidualUNet(1, 4, 2)
    torch.nn.init.normal_(network.head.weight, std=0.1)
    model = TrainedModel(network.eval(), WINDOW)
    hu = phantom.array.astype(np.float32)
    exact = enhance_slices(model, hu, amp=False)
    with torch.inference_mode():
        expected = network(torch.from_numpy((hu[:, None] + 1024) / 3072)) * 3072 - 1024
    np.testing.assert_allclose(exact, expected[:, 0].numpy(), atol=0.05)
    fast = enhance_slices(model, hu)  # bfloat16 on CPUs that compute it natively
    assert np.abs(fast - exact).mean() < 5.0


def test_enhance_keeps_the_grid_and_says_what_it_did(phantom):
    model = TrainedModel(ResidualUNet(1, 4, 2).eval(), WINDOW)
    enhanced = enhance(phantom, model)
    assert enhanced.shape == phantom.shape and enhanced.array.dtype == np.float32
    np.testing.assert_allclose(enhanced.spacing_mm, phantom.spacing_mm)
    np.testing.assert_allclose(enhanced.array, phantom.array, atol=0.05)  # untrained: identity
    assert "enhanced_by" in enhanced.meta


def test_sinogram_input_is_reconstructed_as_the_training_scans_were(phantom):
    settings = ScanSettings(n_views=40)
    scan = simulate_scan(phantom, settings, keep_sinogram=True)
    model = TrainedModel(ResidualUNet(1, 4, 2).eval(), {**WINDOW, "scan": settings.to_dict()})
    slices = enhance_sinogram(scan.sinogram, scan.geometry, centred_grid(phantom), model)
    np.testing.assert_allclose(slices, scan.degraded.array, atol=0.05)


def test_bad_inputs_are_refused(phantom):
    model = TrainedModel(ResidualUNet(1, 4, 2).eval(), WINDOW)
    with pytest.raises(ValueError, match="finite"):
        enhance_slices(model, np.full((1, 8, 8), np.nan))
    with pytest.raises(ValueError, match=r"\(n, H, W\)"):
        enhance_slices(model, np.zeros((8, 8)))
    with pytest.raises(ValueError, match="batch_size"):
        enhance_slices(model, np.zeros((1, 8, 8)), batch_size=0)
    with pytest.raises(TypeError, match="TrainedModel"):
        enhance_slices(ResidualUNet(1, 4, 2), np.zeros((1, 8, 8)))
    labels = hf.Volume(np.zeros((2, 8, 8), np.uint8))
    with pytest.raises(ValueError, match="label map"):
        enhance(labels, model)


def test_the_shipped_model_is_described_beside_its_weights():
    assert "sparse60" in shipped_models()
    model = load_model("sparse60")
    card = json.loads(shipped_models()["sparse60"].with_suffix(".json").read_text())
    assert isinstance(model.network, ConsistencyCascade)
    assert model.metadata["model"] == "consistency-cascade"
    assert model.metadata["task"] == "sparse-view" == card["configuration"]["task"]
    assert model.metadata["training"]["views"] == [60, 60]
    assert model.metadata["step"] == card["configuration"]["steps"]
    assert {"command", "data", "seed", "validation", "first_stage"} <= set(card)
    assert card["first_stage"]["configuration"]["views"] == [60, 60]
    assert shipped_models()["sparse60"].stat().st_size < 5e6


@pytest.mark.real
def test_sparse60_removes_streaks_from_a_held_out_chest_slice(chest_ct):
    """Slice 20 lies in the inferior 30 % that the model never saw in training."""
    ct, _ = chest_ct
    slab = hf.Volume(ct.array[20:21].astype(np.float32), spacing_mm=ct.spacing_mm)
    scan = simulate_scan(slab, ScanSettings(n_views=60), keep_sinogram=True)
    body = segment_body(ct)[20]
    model = load_model("sparse60")
    projector = Projector(scan.geometry, centred_grid(slab).axial_slice())
    reference = scan.reference.array[0]
    fbp = psnr_db(scan.degraded.array[0], reference, body)
    first = psnr_db(enhance(scan.degraded, model).array[0], reference, body)
    cascade = refine_slices(model, scan.degraded.array, scan.sinogram, projector)[0]
    assert first - fbp > 4.0
    assert psnr_db(cascade, reference, body) - first > 1.0


# -- the verbs --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def ct_file(phantom, tmp_path_factory):
    return hf.write(phantom, tmp_path_factory.mktemp("input") / "ct.nii.gz")


@pytest.fixture(scope="module")
def trained_run(ct_file, tmp_path_factory):
    folder = tmp_path_factory.mktemp("runs") / "run"
    code = hf.cli.main(["learn", "train", str(ct_file), "--views", "30", "--steps", "3",
                        "--batch", "2", "--patch", "0", "--base-channels", "4", "--depth", "2",
                        "--validate-every", "3", "-o", str(folder)])
    assert code == 0
    return folder


def test_learn_train_writes_a_run_and_resumes(trained_run, ct_file, capsys):
    assert (trained_run / "model.safetensors").exists()
    code, _, err = run_cli(capsys, "learn", "train", ct_file, "--views", "30", "--steps", "3",
                           "--batch", "2", "--patch", "0", "--base-channels", "4", "--depth",
                           "2", "--validate-every", "3", "-o", trained_run)
    assert code == 2 and "already holds a training run" in one_error_line(err)


def test_learn_train_counts_epochs_and_fine_tunes(trained_run, ct_file, tmp_path, capsys):
    model = trained_run / "model.safetensors"
    code, _, err = run_cli(capsys, "learn", "train", "--data", ct_file, "--views", "30",
                           "--epochs", "2", "--batch", "2", "--patch", "0", "--base-channels",
                           "4", "--depth", "2", "--init-from", model, "-o", tmp_path / "tuned")
    assert code == 0, err
    config = json.loads((tmp_path / "tuned" / "config.json").read_text())
    # 4 slices, 3 of them for training (one volume: 30 % of its slices validate)
    assert config["steps"] == 3 and config["init_from"] == str(model)
    code, _, err = run_cli(capsys, "learn", "train", ct_file, "--views", "30", "--epochs", "1",
                           "--base-channels", "8", "--init-from", model, "-o", tmp_path / "wide")
    assert code == 2 and "another model" in one_error_line(err)


def test_enhance_a_ct_and_a_sinogram(trained_run, ct_file, phantom, tmp_path, capsys):
    model = trained_run / "model.safetensors"
    code, _, err = run_cli(capsys, "enhance", ct_file, "--model", model, "-o",
                           tmp_path / "enhanced.nii.gz")
    assert code == 0, err
    assert hf.read(tmp_path / "enhanced.nii.gz").shape == phantom.shape
    scan = simulate_scan(phantom, ScanSettings(n_views=30), keep_sinogram=True)
    np.save(tmp_path / "sino.npy", scan.sinogram)
    scan.geometry.save(tmp_path / "g.json")
    code, _, err = run_cli(capsys, "enhance", tmp_path / "sino.npy", "--model", model,
                           "--geometry", tmp_path / "g.json", "--like", ct_file, "--centre",
                           "-o", tmp_path / "from_sino.nii.gz")
    assert code == 0, err
    assert hf.read(tmp_path / "from_sino.nii.gz").shape == phantom.shape


def test_enhance_refuses_pickles_and_incomplete_sinogram_input(ct_file, tmp_path, capsys):
    torch.save(ResidualUNet(1, 4, 2).state_dict(), tmp_path / "model.pt")
    code, _, err = run_cli(capsys, "enhance", ct_file, "--model", tmp_path / "model.pt", "-o",
                           tmp_path / "out.nii.gz")
    assert code == 2 and "pickled" in one_error_line(err)
    np.save(tmp_path / "sino.npy", np.zeros((4, 30, 20), np.float32))
    code, _, err = run_cli(capsys, "enhance", tmp_path / "sino.npy", "-o", tmp_path / "o.nii.gz")
    assert code == 2 and "--geometry" in one_error_line(err)
    assert not (tmp_path / "out.nii.gz").exists()


def test_learn_evaluate_writes_metrics_and_a_figure(trained_run, ct_file, tmp_path, capsys):
    code, _, err = run_cli(capsys, "learn", "evaluate", ct_file, "--model",
                           trained_run / "model.safetensors", "--slices", "1:3",
                           "--tv-weight", "0.05", "--tv-iterations", "5", "-o", tmp_path / "e")
    assert code == 0, err
    summary = json.loads((tmp_path / "e" / "metrics.json").read_text())["summary"]
    assert set(summary) == {"fbp", "tv", "network"}
    assert (tmp_path / "e" / "evaluation.png").stat().st_size > 1000
    code, _, err = run_cli(capsys, "learn", "evaluate", ct_file, "--model",
                           trained_run / "model.safetensors", "--task", "low-dose", "-o",
                           tmp_path / "f")
    assert code == 2 and "--dose" in one_error_line(err)
