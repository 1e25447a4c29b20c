"""Training runs: learning, checkpoints in safetensors, exact resume, refusals, run files."""

from __future__ import annotations

import csv

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="the learn extra (torch) is not installed")

from hounsfield.data.anatomy import thorax_phantom  # noqa: E402
from hounsfield.errors import InputError  # noqa: E402
from hounsfield.learn.checkpoints import (  # noqa: E402
    load_model,
    read_checkpoint,
    restore_training,
    save_checkpoint,
)
from hounsfield.learn.datasets import PairedSlices  # noqa: E402
from hounsfield.learn.models import ResidualUNet  # noqa: E402
from hounsfield.learn.training import LOG_COLUMNS, TrainingConfig, train  # noqa: E402

SMALL = TrainingConfig(views=24, steps=6, batch_size=2, patch_size=24, base_channels=4, depth=2,
                       validate_every=2, checkpoint_every=2, validation_items=2, warmup_steps=1,
                       learning_rate=3e-3)


@pytest.fixture(scope="module")
def phantom():
    ct, _ = thorax_phantom(shape=(6, 32, 32), spacing_mm=(5.0, 10.0, 10.0))
    return ct


def _weights(model) -> dict:
    return {name: value.clone() for name, value in model.state_dict().items()}


def _mean_loss(model, pairs) -> float:
    model.eval()
    with torch.inference_mode():
        return float(np.mean([torch.mean((model(d[None]) - c[None]) ** 2).item()
                              for d, c in (pairs[i] for i in range(len(pairs)))]))


def test_training_lowers_the_loss_on_fixed_pairs(phantom, tmp_path):
    config = SMALL.replace(steps=40, patch_size=None, learning_rate=1e-2, validate_every=20)
    pairs = PairedSlices(phantom, "sparse-view", views=24, seed=0)
    untrained = ResidualUNet(1, 4, 2)  # the identity: the degraded input's loss
    run = train(phantom, config, tmp_path / "run", validation=phantom, progress=False)
    trained = load_model(run.model_path).network
    assert _mean_loss(trained, pairs) < 0.5 * _mean_loss(untrained, pairs)
    assert run.validation_psnr_db > run.log[0]["validation_psnr_db"]


def test_run_folder_holds_config_log_checkpoints_and_figures(phantom, tmp_path):
    run = train(phantom, SMALL, tmp_path / "run", progress=False)
    names = {path.name for path in run.folder.iterdir()}
    assert {"config.json", "last.safetensors", "model.safetensors", "log.csv", "curves.png",
            "examples.png"} <= names
    assert TrainingConfig.from_json((run.folder / "config.json").read_text()) == SMALL
    with (run.folder / "log.csv").open() as file:
        rows = list(csv.DictReader(file))
    assert tuple(rows[0]) == LOG_COLUMNS
    assert [int(row["step"]) for row in rows] == [2, 4, 6]
    assert all(float(row["elapsed_s"]) > 0 for row in rows)
    metadata = read_checkpoint(run.model_path).metadata
    assert metadata["task"] == "sparse-view" and metadata["step"] == 6
    assert metadata["training"]["views"] == [24, 24]
    assert metadata["metrics"]["validation_psnr_db"] == pytest.approx(run.validation_psnr_db)


def test_resume_takes_the_same_steps_as_an_uninterrupted_run(phantom, tmp_path):
    whole = train(phantom, SMALL, tmp_path / "whole", progress=False)
    stopped = train(phantom, SMALL, tmp_path / "parts", progress=False,
                    callback=lambda step, loss: step == 2)
    assert stopped.steps_done == 2
    resumed = train(phantom, SMALL, tmp_path / "parts", resume=True, progress=False)
    assert resumed.steps_done == 6
    first, second = (load_model(run.model_path).network.state_dict() for run in (whole, resumed))
    for name, value in first.items():
        torch.testing.assert_close(second[name], value, rtol=1e-5, atol=1e-6, msg=name)
    assert [row["step"] for row in resumed.log] == [2, 4, 6]


def test_an_interrupted_run_keeps_a_checkpoint(phantom, tmp_path):
    def interrupt(step, loss):
        if step == 3:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train(phantom, SMALL, tmp_path / "run", progress=False, callback=interrupt)
    assert read_checkpoint(tmp_path / "run" / "last.safetensors").metadata["step"] == 3
    resumed = train(phantom, SMALL, tmp_path / "run", resume=True, progress=False)
    assert resumed.steps_done == 6


def test_checkpoint_round_trip_with_optimizer_state(tmp_path):
    torch.manual_seed(0)
    model = ResidualUNet(3, 4, 2)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    model(torch.rand(2, 3, 8, 8)).mean().backward()
    optimizer.step()
    path = save_checkpoint(tmp_path / "c.safetensors", model, optimizer=optimizer,
                           metadata={"step": 1, "note": "ß"})
    copy = ResidualUNet(3, 4, 2)
    copy_optimizer = torch.optim.AdamW(copy.parameters(), lr=5.0)
    assert restore_training(path, copy, copy_optimizer) == {"step": 1, "note": "ß"}
    for name, value in model.state_dict().items():
        assert torch.equal(copy.state_dict()[name], value)
    saved, restored = optimizer.state_dict(), copy_optimizer.state_dict()
    assert restored["param_groups"][0]["lr"] == 1e-3
    for index, state in saved["state"].items():
        for key, value in state.items():
            assert torch.equal(torch.as_tensor(restored["state"][index][key]),
                               torch.as_tensor(value))
    x = torch.rand(1, 3, 8, 8)
    loaded = load_model(path)
    assert not loaded.network.training
    model.eval()
    assert torch.equal(loaded.network(x), model(x))


def test_pickled_and_foreign_files_are_refused(tmp_path):
    pickled = tmp_path / "model.pt"
    torch.save(ResidualUNet(1, 4, 2).state_dict(), pickled)
    with pytest.raises(InputError, match="pickled PyTorch checkpoint"):
        load_model(pickled)
    text = tmp_path / "model.safetensors"
    text.write_text("not tensors")
    with pytest.raises(InputError, match="not a safetensors file"):
        load_model(text)
    with pytest.raises(InputError, match="no such"):
        load_model(tmp_path / "missing.safetensors")
    with pytest.raises(InputError, match="no such model"):
        load_model("no-such-model")


def test_a_checkpoint_of_another_model_is_refused(tmp_path):
    path = save_checkpoint(tmp_path / "c.safetensors", ResidualUNet(1, 4, 2))
    with pytest.raises(InputError, match="another model"):
        restore_training(path, ResidualUNet(1, 8, 2))


def test_run_folders_are_not_overwritten_and_resume_needs_the_same_settings(phantom, tmp_path):
    folder = tmp_path / "run"
    train(phantom, SMALL.replace(steps=2), folder, progress=False)
    with pytest.raises(InputError, match="already holds a training run"):
        train(phantom, SMALL.replace(steps=2), folder, progress=False)
    with pytest.raises(InputError, match="other settings"):
        train(phantom, SMALL.replace(steps=4, learning_rate=1.0), folder, resume=True,
              progress=False)
    with pytest.raises(InputError, match="no checkpoint"):
        train(phantom, SMALL, tmp_path / "empty", resume=True, progress=False)


@pytest.mark.skipif(torch.cuda.is_available(), reason="tests the refusal without CUDA")
def test_cuda_without_a_gpu_is_refused(phantom, tmp_path):
    with pytest.raises(InputError, match="no CUDA device"):
        train(phantom, SMALL.replace(device="cuda"), tmp_path / "run", progress=False)


@pytest.mark.parametrize(("change", "message"), [
    ({"task": "denoise"}, "task"), ({"loss": "huber"}, "loss"), ({"steps": 0}, "steps"),
    ({"patch_size": 0}, "patch_size"), ({"learning_rate": -1.0}, "learning_rate"),
    ({"weight_decay": -1.0}, "weight_decay"), ({"device": "tpu"}, "device"),
    ({"warmup_steps": -1}, "warmup_steps"), ({"scan": {"n_views": 1}}, "n_views"),
    ({"init_from": ""}, "init_from"),
])
def test_invalid_configurations_are_refused(change, message):
    with pytest.raises(ValueError, match=message):
        TrainingConfig(**change)


def test_the_dual_domain_network_trains_on_sinograms(phantom, tmp_path):
    config = SMALL.replace(model="dual-domain", views=8, upsampling=3, patch_size=None, steps=4)
    run = train(phantom, config, tmp_path / "run", progress=False)
    loaded = load_model(run.model_path)
    assert type(loaded.network).__name__ == "DualDomainNet"
    assert loaded.network.input_kind == "sinogram"
    assert loaded.network.sparse_geometry.n_views == 8
    assert np.isfinite(run.validation_psnr_db)
    with pytest.raises(ValueError, match="dual-domain"):
        SMALL.replace(model="dual-domain", patch_size=24)


def _parameters(run) -> dict:
    return dict(load_model(run.model_path).network.named_parameters())


def test_fine_tuning_starts_from_the_given_model(phantom, tmp_path):
    first = train(phantom, SMALL.replace(steps=2), tmp_path / "first", progress=False)
    # A vanishing learning rate: after one step the weights are still those it started from
    # (the batch-norm statistics, buffers rather than weights, do move).
    tuned = train(phantom, SMALL.replace(steps=1, learning_rate=1e-12, weight_decay=0.0,
                                         init_from=str(first.model_path)),
                  tmp_path / "tuned", progress=False)
    start, end = (_parameters(run) for run in (first, tuned))
    assert all(torch.allclose(start[name], end[name], atol=1e-9) for name in start)
    fresh = train(phantom, SMALL.replace(steps=1, learning_rate=1e-12, weight_decay=0.0),
                  tmp_path / "fresh", progress=False)
    assert not all(torch.allclose(start[name], _parameters(fresh)[name]) for name in start)


def test_fine_tuning_refuses_another_architecture(phantom, tmp_path):
    first = train(phantom, SMALL.replace(steps=1), tmp_path / "first", progress=False)
    with pytest.raises(InputError, match="another model"):
        train(phantom, SMALL.replace(base_channels=8, init_from=str(first.model_path)),
              tmp_path / "wider", progress=False)


def test_float32_and_bfloat16_training_agree_on_the_cpu(phantom, tmp_path):
    """bfloat16 autocast (where the CPU has it) takes the same path as float32, to its precision."""
    runs = [train(phantom, SMALL.replace(steps=2, amp=amp), tmp_path / f"amp{amp}",
                  progress=False) for amp in (False, True)]
    losses = [run.log[-1]["train_loss"] for run in runs]
    assert losses[1] == pytest.approx(losses[0], rel=0.05)
