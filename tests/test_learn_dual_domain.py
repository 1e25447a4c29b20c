"""The dual-domain sparse-view network and its paired sinograms: stages, gradients, spec, data."""

from __future__ import annotations

import json

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="the learn extra (torch) is not installed")

from hounsfield import Volume  # noqa: E402
from hounsfield.data.anatomy import thorax_phantom  # noqa: E402
from hounsfield.learn.datasets import denormalise_hu, normalise_hu  # noqa: E402
from hounsfield.learn.dual_domain import (  # noqa: E402
    DualDomainNet,
    PairedSinograms,
    view_upsampling_matrix,
)
from hounsfield.learn.models import ResidualUNet, parameter_count  # noqa: E402
from hounsfield.learn.torch_ops import ForwardProjection  # noqa: E402
from hounsfield.simulate import ScanSettings  # noqa: E402
from hounsfield.simulate.physics import hu_to_mu, mu_to_hu  # noqa: E402
from hounsfield.tomo import fan_beam, parallel_beam  # noqa: E402
from hounsfield.tomo.fbp import fbp  # noqa: E402

TINY = {"sinogram_channels": 4, "sinogram_depth": 2, "image_channels": 4, "image_depth": 2}


@pytest.fixture(scope="module")
def phantom():
    ct, _ = thorax_phantom(shape=(3, 32, 32), spacing_mm=(5.0, 10.0, 10.0))
    return ct


@pytest.fixture(scope="module")
def pairs(phantom):
    """48 views over 180°, 12 measured (every 4th)."""
    return PairedSinograms(phantom, n_views=48, upsampling=4, seed=3)


@pytest.fixture(scope="module")
def batch(pairs):
    items = [pairs[i] for i in range(2)]
    return torch.stack([s for s, _ in items]), torch.stack([c for _, c in items])


def _randomise_heads(net: DualDomainNet, std: float = 0.05) -> DualDomainNet:
    torch.manual_seed(0)
    for unet in (net.sinogram_unet, net.image_unet):
        torch.nn.init.normal_(unet.head.weight, std=std)
        torch.nn.init.normal_(unet.head.bias, std=std)
    return net


def _hand_count(base: int, depth: int) -> int:
    """A 1-channel batch-normed ResidualUNet: 3×3 convolutions + 2 BN parameters each, 2×2 up."""
    widths = [base * 2**level for level in range(depth)]
    inputs = [1, *widths[:-1]]
    total = sum(9 * c_in * c + 2 * c + 9 * c * c + 2 * c
                for c_in, c in zip(inputs, widths, strict=True))
    for level in range(depth - 1):
        w = widths[level]
        total += 4 * 2 * w * w + w  # transposed convolution from 2w channels
        total += 9 * 2 * w * w + 2 * w + 9 * w * w + 2 * w  # decoder on the concatenation
    return total + widths[0] + 1  # 1×1 head


# -- the network's stages ---------------------------------------------------------------------


def test_views_are_interpolated_linearly_and_wrap_to_the_mirrored_first_view():
    sparse = torch.rand(2, 1, 5, 7, dtype=torch.float64)
    net = DualDomainNet(parallel_beam(15, 7), (6, 6), upsampling=3, **TINY)
    full = net.upsample_views(sparse).numpy()
    views = sparse.numpy()
    for j in range(15):
        i, fraction = divmod(j, 3)
        following = views[:, :, i + 1] if i < 4 else views[:, :, 0, ::-1]
        expected = (1 - fraction / 3) * views[:, :, i] + fraction / 3 * following
        np.testing.assert_allclose(full[:, :, j], expected, rtol=1e-12)
    assert view_upsampling_matrix(5, 3).shape == (15, 6)


def test_the_view_after_180_degrees_is_the_first_view_mirrored(phantom):
    """The physics behind the wrap: p(θ + π, s) = p(θ, −s) in the geometry's convention."""
    mu = torch.from_numpy(hu_to_mu(phantom.array[1]))
    first = ForwardProjection(parallel_beam(1, 48, 10.0, arc_deg=1.0), (32, 32), 10.0)(mu)
    opposite = ForwardProjection(parallel_beam(1, 48, 10.0, arc_deg=1.0, start_deg=180.0),
                                 (32, 32), 10.0)(mu)
    np.testing.assert_allclose(opposite.numpy(), first.flip(-1).numpy(), atol=1e-4)


@pytest.mark.parametrize("grid, n_det", [((20, 27), 37), ((16, 16), 24)])
def test_output_shape(grid, n_det):
    net = DualDomainNet(parallel_beam(30, n_det, 1.5), grid, upsampling=3, **TINY)
    out = net(torch.rand(2, 1, 10, n_det))
    assert out.shape == (2, 1, *grid) and out.dtype == torch.float32
    assert DualDomainNet.input_kind == "sinogram"


def test_untrained_output_is_the_normalised_fbp_of_the_upsampled_sinogram(pairs, batch):
    net = pairs.network(**TINY).eval()
    sinograms, clean = batch
    with torch.no_grad():
        out = net(sinograms).numpy()
        upsampled = net.upsample_views(sinograms)
        layer = net.fbp(upsampled).numpy()
    np.testing.assert_allclose(out, normalise_hu(mu_to_hu(layer, pairs.energy_kev)), atol=1e-5)
    reference = normalise_hu(mu_to_hu(fbp(upsampled[:, 0].numpy(), pairs.geometry, pairs.grid),
                                      pairs.energy_kev))
    body = clean[:, 0].numpy() > normalise_hu(-500.0)
    difference_hu = denormalise_hu(out[:, 0][body].astype(float)) - denormalise_hu(reference[body])
    assert abs(difference_hu.mean()) < 15 and np.abs(difference_hu).mean() < 30


def test_untrained_output_reads_water_and_air_in_normalised_hu():
    yy, xx = np.mgrid[-15.5:16, -15.5:16]
    disc = np.where(yy**2 + xx**2 < 12**2, 0.0, -1000.0).astype(np.float32)
    water = Volume(disc[None], spacing_mm=(5.0, 10.0, 10.0))
    pairs = PairedSinograms(water, n_views=96, upsampling=2)
    sinogram, clean = pairs[0]
    with torch.no_grad():
        hu = denormalise_hu(pairs.network(**TINY).eval()(sinogram[None])[0, 0].double().numpy())
    assert abs(hu[12:20, 12:20].mean()) < 5 and np.abs(hu[12:20, 12:20]).max() < 80
    assert abs(hu[:3, :3].mean() + 1000) < 10
    np.testing.assert_allclose(denormalise_hu(clean[0].double().numpy()), disc, atol=1e-3)


# -- gradients and training --------------------------------------------------------------------


def test_gradients_reach_the_sinogram_unet_through_the_fbp(pairs, batch):
    net = _randomise_heads(pairs.network(**TINY))
    net(batch[0]).square().mean().backward()
    for name, parameter in net.sinogram_unet.named_parameters():
        assert parameter.grad is not None and parameter.grad.abs().sum() > 0, name


@pytest.mark.parametrize("name, index", [("head.bias", (0,)), ("head.weight", (0, 1, 0, 0))])
def test_sinogram_gradient_agrees_with_finite_differences(pairs, batch, name, index):
    net = _randomise_heads(pairs.network(**TINY)).double().eval()
    sinograms, clean = (tensor.double() for tensor in batch)
    parameter = dict(net.sinogram_unet.named_parameters())[name]

    def loss():
        return (net(sinograms) - clean).square().sum()

    loss().backward()
    analytic = float(parameter.grad[index])
    step = 1e-2
    with torch.no_grad():
        parameter[index] += step
        above = float(loss())
        parameter[index] -= 2 * step
        below = float(loss())
    assert abs(analytic) > 0.01
    assert analytic == pytest.approx((above - below) / (2 * step), rel=1e-3)


def test_a_few_adamw_steps_reduce_the_loss(pairs, batch):
    torch.manual_seed(0)
    net = pairs.network(**TINY)
    optimiser = torch.optim.AdamW(net.parameters(), lr=1e-2)
    sinograms, clean = batch
    losses = []
    for _ in range(10):
        optimiser.zero_grad()
        loss = torch.nn.functional.mse_loss(net(sinograms), clean)
        loss.backward()
        optimiser.step()
        losses.append(loss.item())
    assert losses[-1] < 0.6 * losses[0]  # the first loss is the untrained network's: FBP


# -- parameters and spec -------------------------------------------------------------------------


def test_default_parameter_counts():
    net = DualDomainNet(parallel_beam(8, 8), (8, 8), upsampling=2)
    assert parameter_count(net.sinogram_unet) == _hand_count(16, 3) == 117_073
    assert parameter_count(net.image_unet) == _hand_count(32, 4) == 1_926_433
    assert parameter_count(net) == 117_073 + 1_926_433 == 2_043_506
    assert parameter_count(ResidualUNet(1, 16, 3)) == 117_073


def test_spec_round_trip_rebuilds_an_identical_network(pairs, batch):
    net = _randomise_heads(pairs.network(filter="hann", batch_norm=False, **TINY)).eval()
    spec = json.loads(json.dumps(net.spec()))
    assert spec["name"] == "dual-domain" and spec["upsampling"] == 4
    rebuilt = DualDomainNet.from_spec(spec)
    assert rebuilt.spec() == net.spec()
    rebuilt.load_state_dict(net.state_dict())
    rebuilt.eval()
    with torch.no_grad():
        assert torch.equal(rebuilt(batch[0]), net(batch[0]))
    with pytest.raises(ValueError, match="name 'dual-domain'"):
        DualDomainNet.from_spec({**spec, "name": "residual-unet"})


# -- paired sinograms ----------------------------------------------------------------------------


def test_items_are_deterministic_by_seed_and_index(phantom):
    noisy = PairedSinograms(phantom, n_views=48, upsampling=4, dose=(0.1, 0.3), seed=7)
    later = noisy[2]
    again = PairedSinograms(phantom, n_views=48, upsampling=4, dose=(0.1, 0.3), seed=7)
    assert all(torch.equal(a, b) for a, b in zip(again[2], later, strict=True))
    assert all(torch.equal(a, b) for a, b in zip(noisy[-1], later, strict=True))
    other = PairedSinograms(phantom, n_views=48, upsampling=4, dose=(0.1, 0.3), seed=8)
    assert other.scan_settings(2)[2] != noisy.scan_settings(2)[2]
    assert not torch.equal(other[2][0], later[0])


def test_sinograms_are_every_kth_view_of_the_full_scan(pairs, phantom):
    for index in range(3):
        volume_index, slice_index, settings = pairs.scan_settings(index)
        assert volume_index == 0 and settings.dose_fraction is None
        sinogram, clean = pairs[index]
        hu = np.maximum(phantom.array[slice_index], -1000.0)
        full = ForwardProjection(pairs.geometry, pairs.grid)(torch.from_numpy(hu_to_mu(hu)))
        np.testing.assert_allclose(sinogram[0].numpy(), full[::4].numpy(), rtol=1e-5,
                                   atol=1e-5)
        np.testing.assert_allclose(clean[0].numpy(), normalise_hu(hu), atol=1e-6)


def test_dose_noise_scatters_the_sinogram_without_biasing_it(phantom):
    clean_scan = PairedSinograms(phantom, n_views=48, upsampling=4, seed=1)[0][0]
    noisy_scan = PairedSinograms(phantom, n_views=48, upsampling=4, dose=0.05, seed=1)[0][0]
    difference = (noisy_scan - clean_scan).numpy()
    assert difference.std() > 1e-3
    assert abs(difference.mean()) < 0.2 * difference.std()


def test_the_matching_network_has_the_dataset_geometry(pairs):
    net = pairs.network(**TINY)
    assert net.geometry is pairs.geometry and net.grid is pairs.grid
    assert net.sparse_geometry.projection_shape == tuple(pairs[0][0].shape[1:])
    assert net.energy_kev == pairs.energy_kev == ScanSettings().energy_kev


# -- errors --------------------------------------------------------------------------------------


@pytest.mark.parametrize("geometry, message", [
    (fan_beam(40, 30, 1.0, 500.0, 1000.0), "2D parallel beam"),
    (parallel_beam(30, 24), "multiple of upsampling 4"),
    (parallel_beam(40, 24, arc_deg=360.0), "evenly spaced over 180"),
    (parallel_beam(40, 24, det_offset_mm=2.0), "centred on the rotation axis"),
])
def test_unsuitable_geometries_are_refused(geometry, message):
    with pytest.raises(ValueError, match=message):
        DualDomainNet(geometry, (16, 16), upsampling=4, **TINY)


def test_bad_input_is_refused():
    net = DualDomainNet(parallel_beam(40, 24), (16, 16), upsampling=4, **TINY)
    with pytest.raises(ValueError, match=r"shape \(batch, 1, 10, 24\).*got \(2, 1, 40, 24\)"):
        net(torch.zeros(2, 1, 40, 24))
    with pytest.raises(ValueError, match="shape"):
        net(torch.zeros(1, 10, 24))
    with pytest.raises(TypeError, match="floating-point"):
        net(torch.zeros(1, 1, 10, 24, dtype=torch.int64))
    with pytest.raises(ValueError, match="upsampling"):
        DualDomainNet(parallel_beam(40, 24), (16, 16), upsampling=0)
    with pytest.raises(ValueError, match="energy_kev"):
        DualDomainNet(parallel_beam(40, 24), (16, 16), energy_kev="70")
    with pytest.raises(ValueError, match="image_depth"):
        DualDomainNet(parallel_beam(40, 24), (16, 16), image_depth=0)


def test_bad_dataset_arguments_are_refused(phantom):
    with pytest.raises(ValueError, match="multiple of upsampling"):
        PairedSinograms(phantom, n_views=50, upsampling=4)
    with pytest.raises(ValueError, match="parallel beam"):
        PairedSinograms(phantom, n_views=48, settings=ScanSettings(geometry="fan"))
    with pytest.raises(ValueError, match="arc_deg"):
        PairedSinograms(phantom, n_views=48,
                        settings=ScanSettings(geometry="parallel", arc_deg=90.0))
    with pytest.raises(ValueError, match="dose"):
        PairedSinograms(phantom, n_views=48, dose=0)
    other = Volume(np.zeros((2, 24, 32), np.float32), spacing_mm=(5.0, 10.0, 10.0))
    with pytest.raises(ValueError, match="in-plane shape"):
        PairedSinograms([phantom, other], n_views=48)
    with pytest.raises(IndexError):
        PairedSinograms(phantom, n_views=48)[3]
