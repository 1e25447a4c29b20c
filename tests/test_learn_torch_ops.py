"""The PyTorch bridge: projectors as autograd Functions and modules with exact adjoint gradients."""

from __future__ import annotations

import importlib
import sys

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="the learn extra (torch) is not installed")

from hounsfield.learn import torch_ops  # noqa: E402
from hounsfield.learn.torch_ops import (  # noqa: E402
    BackProjection,
    FilteredBackProjection,
    ForwardProjection,
    OperatorLayer,
    apply_operator,
)
from hounsfield.tomo.fbp import fbp  # noqa: E402
from hounsfield.tomo.geometry import fan_beam, parallel_beam, parallel_beam_3d  # noqa: E402
from hounsfield.tomo.operators import MatrixOperator  # noqa: E402
from hounsfield.tomo.project import Projector  # noqa: E402


@pytest.fixture
def matrix_operator():
    rng = np.random.default_rng(0)
    return MatrixOperator(rng.standard_normal((12, 6)), domain_shape=(2, 3), range_shape=(4, 3))


@pytest.fixture(scope="module")
def tiny_projector():
    return Projector(parallel_beam(5, 8, 1.0), (5, 5), 1.2)


def random_tensor(*shape, seed=0):
    generator = torch.Generator().manual_seed(seed)
    return torch.rand(*shape, generator=generator, dtype=torch.float64, requires_grad=True)


# -- apply_operator -----------------------------------------------------------------------


def test_gradcheck_with_a_matrix_operator_over_batch_dimensions(matrix_operator):
    x = random_tensor(2, 5, 2, 3)
    assert torch.autograd.gradcheck(lambda t: apply_operator(t, matrix_operator), (x,))
    assert torch.autograd.gradgradcheck(lambda t: apply_operator(t, matrix_operator), (x,))


def test_gradcheck_with_the_projector(tiny_projector):
    # The projector computes in float32; the map is linear, so a wide finite-difference
    # step is exact up to that rounding.
    x = random_tensor(2, 5, 5)
    assert torch.autograd.gradcheck(lambda t: apply_operator(t, tiny_projector), (x,),
                                    eps=1e-2, atol=1e-3, rtol=1e-3)
    y = random_tensor(5, 8, seed=1)  # and the adjoint's gradient is the projector
    assert torch.autograd.gradcheck(lambda t: apply_operator(t, tiny_projector.T), (y,),
                                    eps=1e-2, atol=1e-3, rtol=1e-3)


@pytest.mark.parametrize("make", ["matrix", "projector"])
def test_gradient_of_the_data_misfit_is_twice_the_adjoint_of_the_residual(
        make, matrix_operator, tiny_projector):
    operator = matrix_operator if make == "matrix" else tiny_projector
    x = random_tensor(*operator.domain_shape)
    y = torch.from_numpy(np.random.default_rng(2).random(operator.range_shape))
    ((apply_operator(x, operator) - y) ** 2).sum().backward()
    residual = operator.forward(x.detach().numpy()) - y.numpy()
    expected = 2 * operator.adjoint(residual)
    tolerance = 1e-12 if make == "matrix" else 1e-5
    np.testing.assert_allclose(x.grad.numpy(), expected, rtol=tolerance,
                               atol=tolerance * np.abs(expected).max())


def test_results_keep_the_input_dtype_and_batch_shape(tiny_projector):
    for dtype in (torch.float32, torch.float64):
        out = apply_operator(torch.ones(2, 3, 5, 5, dtype=dtype), tiny_projector)
        assert out.dtype == dtype and out.shape == (2, 3, 5, 8)


def test_wrong_shapes_and_types_are_refused(tiny_projector):
    with pytest.raises(ValueError, match=r"input must have shape \(\*batch, 5, 5\), got \(5, 4\)"):
        apply_operator(torch.ones(5, 4), tiny_projector)
    with pytest.raises(TypeError, match="x must be a real floating-point torch tensor"):
        apply_operator(torch.ones(5, 5, dtype=torch.int64), tiny_projector)
    with pytest.raises(TypeError, match="missing domain_shape"):
        OperatorLayer(np.eye(3))


# -- modules --------------------------------------------------------------------------------


def test_forward_and_back_projection_modules_match_the_projector():
    geometry = parallel_beam(20, 24, 1.0)
    image = np.random.default_rng(3).random((2, 16, 16)).astype(np.float32)
    projector = Projector(geometry, (16, 16), 1.5)
    sinograms = ForwardProjection(geometry, (16, 16), 1.5)(torch.from_numpy(image))
    np.testing.assert_allclose(sinograms[1].numpy(), projector.forward(image[1]), rtol=1e-6)
    back = BackProjection(geometry, (16, 16), 1.5)(sinograms)
    np.testing.assert_allclose(back[0].numpy(), projector.adjoint(sinograms[0].numpy()),
                               rtol=1e-6)


def test_modules_have_no_parameters_and_train_through_them():
    geometry = parallel_beam(12, 12, 1.0)
    project = ForwardProjection(geometry, (8, 8))
    assert list(project.parameters()) == []
    target = project(torch.rand(8, 8, generator=torch.Generator().manual_seed(4)))
    image = torch.zeros(8, 8, requires_grad=True)
    optimizer = torch.optim.SGD([image], lr=0.3)
    losses = []
    for _ in range(20):
        optimizer.zero_grad()
        loss = ((project(image) - target) ** 2).mean()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < 0.5 * losses[0]


def disc_sinogram(geometry, radius_mm=12.0, value=0.02):
    """Exact parallel-beam line integrals of a centred disc."""
    s = (np.arange(geometry.det_shape[0]) - (geometry.det_shape[0] - 1) / 2) * np.linalg.norm(
        geometry.u[0])
    chord = 2 * np.sqrt(np.clip(radius_mm**2 - s**2, 0, None))
    return np.tile(value * chord, (geometry.n_views, 1))


@pytest.mark.parametrize("pixel_mm", [1.0, 0.5])  # 0.5: the detector is upsampled first
def test_parallel_fbp_layer_agrees_with_fbp(pixel_mm):
    geometry = parallel_beam(60, 41, 1.0)
    layer = FilteredBackProjection(geometry, (24, 24), pixel_mm)
    sinogram = disc_sinogram(geometry, radius_mm=12.0 * pixel_mm)
    ours = layer(torch.from_numpy(sinogram)).numpy()
    reference = fbp(sinogram, geometry, (24, 24), spacing_mm=pixel_mm)
    inside = np.hypot(*np.meshgrid(np.arange(24) - 11.5, np.arange(24) - 11.5)) < 8
    np.testing.assert_allclose(ours[inside], reference[inside], rtol=0.04)
    assert abs(np.mean(ours[inside] - reference[inside])) < 0.002 * 0.02
    assert layer.differentiable


def test_parallel_fbp_layer_gradient_is_its_transpose():
    tiny = FilteredBackProjection(parallel_beam(5, 7, 1.0), (5, 5), 0.5, filter="hann")
    assert torch.autograd.gradcheck(tiny, (random_tensor(5, 7),), eps=1e-2, atol=1e-3,
                                    rtol=1e-3)


def test_fan_beam_fbp_layer_runs_fbp_without_a_gradient():
    geometry = fan_beam(72, 48, 1.0, sod_mm=100.0, sdd_mm=200.0)
    layer = FilteredBackProjection(geometry, (16, 16), 1.0)
    sinogram = torch.rand(2, 72, 48, dtype=torch.float64, requires_grad=True)
    image = layer(sinogram)
    expected = fbp(sinogram[1].detach().numpy(), geometry, (16, 16), spacing_mm=1.0)
    np.testing.assert_allclose(image[1].detach().numpy(), expected, rtol=1e-6)
    assert not layer.differentiable
    with pytest.raises(RuntimeError, match="differentiable for 2D parallel beams only"):
        image.sum().backward()


def test_fbp_layer_refuses_a_3d_parallel_beam():
    with pytest.raises(ValueError, match="slice by slice with a 2D parallel geometry"):
        FilteredBackProjection(parallel_beam_3d(10, (4, 8)), (4, 8, 8))


# -- the optional dependency ----------------------------------------------------------------


def test_missing_torch_gives_the_install_hint(monkeypatch):
    monkeypatch.setitem(sys.modules, "torch", None)
    monkeypatch.delitem(sys.modules, "hounsfield.learn.torch_ops")
    with pytest.raises(ImportError, match=r'pip install "hounsfield\[learn\]"'):
        importlib.import_module("hounsfield.learn.torch_ops")
    monkeypatch.undo()
    assert importlib.import_module("hounsfield.learn.torch_ops") is torch_ops


def test_learn_package_loads_the_bridge_lazily():
    import hounsfield.learn as learn

    assert learn.ForwardProjection is ForwardProjection
    with pytest.raises(AttributeError, match="no attribute 'nothing'"):
        learn.nothing  # noqa: B018
