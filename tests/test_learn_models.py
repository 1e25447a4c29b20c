"""The residual U-Net: shapes, the identity at start, parameter count, and that it learns."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch", reason="the learn extra (torch) is not installed")

from hounsfield.data.anatomy import thorax_phantom  # noqa: E402
from hounsfield.learn.datasets import PairedSlices  # noqa: E402
from hounsfield.learn.models import ResidualUNet, parameter_count  # noqa: E402


def _expected_parameters(in_channels, base_channels, depth, batch_norm=True) -> int:
    """Hand count: 3×3 convolutions (+ bias or 2 batch-norm parameters), 2×2 up, 1×1 head."""
    def double(c_in, c_out):
        extra = 2 * c_out if batch_norm else c_out  # BN scale and shift (no bias), or a bias
        return 9 * c_in * c_out + extra + 9 * c_out * c_out + extra

    widths = [base_channels * 2**level for level in range(depth)]
    total = sum(double(c_in, c_out)
                for c_in, c_out in zip([in_channels, *widths[:-1]], widths, strict=True))
    for level in range(depth - 1):
        total += 4 * widths[level + 1] * widths[level] + widths[level]  # transposed conv
        total += double(2 * widths[level], widths[level])
    return total + widths[0] + 1


def test_default_parameter_count():
    model = ResidualUNet()
    assert parameter_count(model) == _expected_parameters(1, 32, 4) == 1_926_433
    assert parameter_count(ResidualUNet(3, 8, 3, batch_norm=False)) == \
        _expected_parameters(3, 8, 3, batch_norm=False)
    for parameter in model.head.parameters():
        parameter.requires_grad_(False)
    assert parameter_count(model) == 1_926_433 - 33
    assert parameter_count(model, trainable_only=False) == 1_926_433


@pytest.mark.parametrize("size", [(32, 32), (17, 20), (1, 9), (33, 31)])
@pytest.mark.parametrize("depth", [1, 3])
def test_output_shape_equals_input_shape(size, depth):
    model = ResidualUNet(3, 4, depth).eval()
    x = torch.rand(2, 3, *size)
    with torch.no_grad():
        y = model(x)
    assert y.shape == (2, 1, *size)


def test_untrained_network_is_the_identity_on_the_centre_channel():
    model = ResidualUNet(5, 4, 3)
    x = torch.rand(2, 5, 20, 24)
    assert torch.equal(model(x), x[:, 2:3])


def test_residual_is_added_to_the_centre_channel():
    model = ResidualUNet(3, 4, 2)
    torch.nn.init.constant_(model.head.bias, 0.25)
    x = torch.rand(1, 3, 8, 8)
    assert torch.allclose(model(x), x[:, 1:2] + 0.25)


@pytest.mark.parametrize(("arguments", "message"), [
    ({"in_channels": 2}, "in_channels must be odd"),
    ({"in_channels": 0}, "in_channels"),
    ({"base_channels": 0}, "base_channels"),
    ({"depth": 0}, "depth"),
    ({"depth": 2.0}, "depth"),
    ({"batch_norm": 1}, "batch_norm"),
])
def test_invalid_configuration_is_refused(arguments, message):
    with pytest.raises(ValueError, match=message):
        ResidualUNet(**arguments)


def test_invalid_input_is_refused():
    model = ResidualUNet(3, 4, 2)
    with pytest.raises(ValueError, match=r"\(batch, 3, height, width\)"):
        model(torch.rand(1, 1, 8, 8))
    with pytest.raises(ValueError, match="shape"):
        model(torch.rand(3, 8, 8))
    with pytest.raises(TypeError, match="floating-point"):
        model(torch.ones(1, 3, 8, 8, dtype=torch.int64))
    with pytest.raises(TypeError, match="Module"):
        parameter_count("model")


def test_a_few_adamw_steps_reduce_the_loss():
    ct, _ = thorax_phantom(shape=(8, 64, 64), spacing_mm=(5, 5, 5))
    pairs = PairedSlices(ct, "sparse-view", views=30, slab=3, seed=0)
    degraded, clean = (torch.stack(items)[..., 16:48, 16:48]
                       for items in zip(*(pairs[i] for i in range(4)), strict=True))
    torch.manual_seed(0)
    model = ResidualUNet(3, 8, 3)
    optimiser = torch.optim.AdamW(model.parameters(), lr=1e-3)
    losses = []
    for _ in range(30):
        optimiser.zero_grad()
        loss = torch.nn.functional.mse_loss(model(degraded), clean)
        loss.backward()
        optimiser.step()
        losses.append(loss.item())
    assert losses[0] == pytest.approx(
        torch.nn.functional.mse_loss(degraded[:, 1:2], clean).item())  # starts as the identity
    assert losses[-1] < 0.5 * losses[0]
