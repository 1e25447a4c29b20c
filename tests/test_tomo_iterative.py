"""Iterative reconstruction: SIRT, SART/OS-SART, CGLS and TV-PDHG against operator pairs.

The algorithms are checked first with matrix operators (exact, fast, and
independent of any projector), then with the real projector.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import sparse
from scipy.sparse.linalg import lsqr

from hounsfield.tomo import iterative
from hounsfield.tomo.geometry import fan_beam, parallel_beam, parallel_beam_3d
from hounsfield.tomo.iterative import cgls, os_sart, sart, select_views, sirt, tv_pdhg, view_subsets
from hounsfield.tomo.operators import (
    Gradient,
    MatrixOperator,
    ViewRestriction,
    operator_norm,
    subset_factory,
)

# -- small operators of our own ------------------------------------------------------


def radon_matrix(n: int, n_views: int, n_det: int | None = None) -> MatrixOperator:
    """A pixel-driven parallel-beam projector of an n×n image (1 mm pixels) as a sparse matrix.

    Each pixel centre projects to ``s = x cos θ + y sin θ`` and splits its
    value (times the pixel area) between the two nearest 1 mm detector bins.
    """
    n_det = n_det or int(np.ceil(n * np.sqrt(2))) + 1
    centres = np.arange(n) - (n - 1) / 2
    y, x = np.meshgrid(centres, centres, indexing="ij")
    rows, cols, values = [], [], []
    pixel = np.arange(n * n)
    for view, theta in enumerate(np.linspace(0, np.pi, n_views, endpoint=False)):
        position = (x * np.cos(theta) + y * np.sin(theta)).ravel() + (n_det - 1) / 2
        left = np.floor(position).astype(int)
        fraction = position - left
        for bin_index, weight in ((left, 1 - fraction), (left + 1, fraction)):
            inside = (bin_index >= 0) & (bin_index < n_det)
            rows.append(view * n_det + bin_index[inside])
            cols.append(pixel[inside])
            values.append(weight[inside])
    matrix = sparse.csr_matrix((np.concatenate(values), (np.concatenate(rows),
                                                         np.concatenate(cols))),
                               shape=(n_views * n_det, n * n))
    return MatrixOperator(matrix, (n, n), (n_views, n_det))


def blocks_image(n: int) -> np.ndarray:
    """A piecewise-constant n×n image: a disc and a square on a background."""
    centres = np.arange(n) - (n - 1) / 2
    y, x = np.meshgrid(centres, centres, indexing="ij")
    image = np.where(x**2 + y**2 < (0.42 * n) ** 2, 1.0, 0.0)
    image[(np.abs(x + 0.12 * n) < 0.12 * n) & (np.abs(y) < 0.2 * n)] = 2.0
    image[x**2 + (y - 0.2 * n) ** 2 < (0.08 * n) ** 2] = 0.4
    return image


@pytest.fixture(scope="module")
def radon():
    return radon_matrix(24, 30)


@pytest.fixture(scope="module")
def noisy_problem(radon):
    truth = blocks_image(24)
    clean = radon.forward(truth)
    noise = np.random.default_rng(1).normal(scale=0.01 * clean.max(), size=clean.shape)
    return radon, truth, clean + noise


def rmse(a, b) -> float:
    return float(np.sqrt(np.mean((np.asarray(a) - np.asarray(b)) ** 2)))


# -- operators ----------------------------------------------------------------------------


def test_matrix_operator_is_adjoint_and_restricts_to_views(radon):
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal(radon.domain_shape), rng.standard_normal(radon.range_shape)
    assert np.vdot(radon(x), y) == pytest.approx(np.vdot(x, radon.T(y)), rel=1e-12)
    views = [3, 7, 8]
    sub, sliced = radon.subset(views), ViewRestriction(radon, views)
    assert sub.range_shape == (3, radon.range_shape[1])
    np.testing.assert_allclose(sub.forward(x), radon.forward(x)[views])
    np.testing.assert_allclose(sub.adjoint(y[views]), sliced.adjoint(y[views]), atol=1e-12)


def test_view_restriction_is_adjoint_even_with_repeated_views():
    rng = np.random.default_rng(2)
    A = MatrixOperator(rng.standard_normal((12, 5)), range_shape=(4, 3))
    restricted = ViewRestriction(A, [1, 1, 3])
    x, y = rng.standard_normal(5), rng.standard_normal((3, 3))
    assert np.vdot(restricted.forward(x), y) == pytest.approx(np.vdot(x, restricted.adjoint(y)))


def test_subset_factory_prefers_the_given_factory_then_subset_method():
    A = MatrixOperator(np.eye(4), range_shape=(4, 1))
    made = []
    assert subset_factory(A, lambda views: made.append(views) or A)([2]) is A and made == [[2]]
    assert isinstance(subset_factory(A)([1]), MatrixOperator)
    assert isinstance(subset_factory(ViewRestriction(A, [0, 1]))([0]), ViewRestriction)


@pytest.mark.parametrize("shape, spacing", [((7,), 1.0), ((5, 6), (0.5, 2.0)),
                                            ((3, 4, 5), (2.5, 0.7, 0.7))])
def test_gradient_adjoint_and_norm_bound(shape, spacing):
    rng = np.random.default_rng(3)
    D = Gradient(shape, spacing)
    x, y = rng.standard_normal(shape), rng.standard_normal(D.range_shape)
    assert np.vdot(D(x), y) == pytest.approx(np.vdot(x, D.T(y)), rel=1e-10)
    assert operator_norm(D, 200) <= D.norm_bound() * (1 + 1e-9)
    assert operator_norm(D, 200) > 0.8 * D.norm_bound()


def test_gradient_is_in_physical_units():
    ramp = np.add.outer(2.0 * np.arange(4), 3.0 * np.arange(5))  # 2/row, 3/column
    gradient = Gradient(ramp.shape, spacing_mm=(0.5, 1.5)).forward(ramp)
    assert np.allclose(gradient[0][:-1], 4.0) and np.allclose(gradient[1][:, :-1], 2.0)
    assert np.all(gradient[0][-1] == 0) and np.all(gradient[1][:, -1] == 0)


def test_operator_norm_matches_largest_singular_value():
    small = radon_matrix(12, 16)
    dense = small.matrix.toarray()
    largest = np.sqrt(np.linalg.eigvalsh(dense.T @ dense)[-1])
    assert operator_norm(small, 100) == pytest.approx(largest, rel=1e-3)


# -- SIRT and CGLS ---------------------------------------------------------------------------


def test_sirt_decreases_the_data_residual_monotonically(noisy_problem):
    A, truth, y = noisy_problem
    result = sirt(A, y, n_iter=40)
    assert result.iterations == 40 and result.stop_reason == "n_iter"
    assert np.all(np.diff(result.residuals) < 0)
    assert result.residuals[-1] < 0.2 * np.linalg.norm(y)
    assert rmse(result.image, truth) < 0.5 * rmse(0, truth)


def test_cgls_decreases_the_data_residual_monotonically(noisy_problem):
    A, _, y = noisy_problem
    result = cgls(A, y, n_iter=30)
    assert np.all(np.diff(result.residuals) < 0)
    # the residual it tracks is the true one
    assert result.residuals[-1] == pytest.approx(np.linalg.norm(A(result.image) - y), rel=1e-6)


def test_cgls_solves_a_consistent_system():
    rng = np.random.default_rng(4)
    A = MatrixOperator(rng.standard_normal((60, 25)))
    truth = rng.standard_normal(25)
    result = cgls(A, A(truth), n_iter=100, tol=0)
    assert np.abs(result.image - truth).max() < 1e-6
    assert result.iterations <= 40  # exact arithmetic would need 25


def test_cgls_damping_matches_scipy_lsqr():
    rng = np.random.default_rng(5)
    matrix = rng.standard_normal((40, 30))
    y = rng.standard_normal(40)
    result = cgls(MatrixOperator(matrix), y, n_iter=200, damping=0.7, tol=0)
    expected = lsqr(matrix, y, damp=0.7, atol=1e-14, btol=1e-14)[0]
    np.testing.assert_allclose(result.image, expected, atol=1e-8)


def test_sirt_converges_to_the_solution_of_a_consistent_system():
    rng = np.random.default_rng(3)
    sparse_rays = rng.uniform(size=(80, 30)) * (rng.uniform(size=(80, 30)) < 0.2)
    A, truth = MatrixOperator(sparse_rays), rng.uniform(size=30)
    result = sirt(A, A(truth), n_iter=300, relaxation=1.5)
    assert np.abs(result.image - truth).max() < 1e-6


# -- SART and OS-SART ---------------------------------------------------------------------------


def test_os_sart_with_one_subset_is_sirt(noisy_problem):
    A, _, y = noisy_problem
    ordered = os_sart(A, y, n_subsets=1, n_iter=5, relaxation=0.8)
    simultaneous = sirt(A, y, n_iter=5, relaxation=0.8)
    np.testing.assert_allclose(ordered.image, simultaneous.image, rtol=1e-10, atol=1e-12)


def reference_sart(matrix, y, n_iter, relaxation, order):
    """SART written out per view from Andersen & Kak's formula, with a dense matrix."""
    n_views = y.shape[0]
    rows = matrix.reshape(n_views, -1, matrix.shape[-1])
    x = np.zeros(matrix.shape[-1])
    for _ in range(n_iter):
        for view in order:
            ray_sums, pixel_sums = rows[view].sum(axis=1), rows[view].sum(axis=0)
            ratio = np.divide(y[view] - rows[view] @ x, ray_sums,
                              out=np.zeros_like(ray_sums), where=ray_sums > 0)
            x += relaxation * np.divide(rows[view].T @ ratio, pixel_sums,
                                        out=np.zeros_like(pixel_sums), where=pixel_sums > 0)
    return x


def test_sart_matches_the_per_view_formula_and_os_sart_with_one_view_per_subset(noisy_problem):
    A, _, y = noisy_problem
    order = [int(views[0]) for views in view_subsets(y.shape[0], y.shape[0])]
    expected = reference_sart(A.matrix.toarray(), y, 2, 0.5, order)
    result = sart(A, y, n_iter=2, relaxation=0.5)
    np.testing.assert_allclose(result.image.ravel(), expected, rtol=1e-9, atol=1e-12)
    same = os_sart(A, y, n_subsets=y.shape[0], n_iter=2, relaxation=0.5)
    np.testing.assert_array_equal(same.image, result.image)


def test_os_sart_converges_faster_than_sirt(noisy_problem):
    A, truth, y = noisy_problem
    ordered = os_sart(A, y, n_subsets=10, n_iter=5)
    simultaneous = sirt(A, y, n_iter=5)
    assert rmse(ordered.image, truth) < 0.7 * rmse(simultaneous.image, truth)


def test_os_sart_uses_the_subset_factory_and_matches_the_default(noisy_problem):
    A, _, y = noisy_problem
    asked = []

    def make(views):
        asked.append(list(views))
        return A.subset(views)

    with_factory = os_sart(A, y, n_subsets=3, n_iter=2, subset_operator=make)
    sliced = os_sart(ViewRestriction(A, np.arange(y.shape[0])), y, n_subsets=3, n_iter=2)
    assert sorted(v for views in asked for v in views) == list(range(y.shape[0]))
    np.testing.assert_allclose(with_factory.image, sliced.image, rtol=1e-9, atol=1e-12)


def test_view_subsets_cover_every_view_once():
    subsets = view_subsets(60, 7)
    assert len(subsets) == 7
    assert sorted(np.concatenate(subsets).tolist()) == list(range(60))
    assert [len(s) for s in view_subsets(10, 10)] == [1] * 10


# -- TV by PDHG ----------------------------------------------------------------------------------


def tv_objective(A, y, x, weight, spacing=1.0) -> float:
    gradient = Gradient(x.shape, spacing).forward(x)
    return 0.5 * np.sum((A(x) - y) ** 2) + weight * np.sum(np.sqrt(np.sum(gradient**2, axis=0)))


def test_tv_pdhg_recovers_a_piecewise_constant_signal_better_than_least_squares_1d():
    rng = np.random.default_rng(6)
    truth = np.repeat([0.0, 1.0, 3.0, 1.5, 0.5, 2.0], 20)
    distance = np.subtract.outer(np.arange(120), np.arange(120))
    A = MatrixOperator(np.exp(-0.5 * (distance / 2.0) ** 2))
    y = A(truth) + rng.normal(scale=0.05, size=120)
    least_squares = cgls(A, y, n_iter=500, tol=1e-10).image
    result = tv_pdhg(A, y, weight=0.3, n_iter=1500)
    assert rmse(result.image, truth) < 0.1
    assert rmse(result.image, truth) < 0.2 * rmse(least_squares, truth)
    assert tv_objective(A, y, result.image, 0.3) < tv_objective(A, y, truth, 0.3)


def test_tv_pdhg_recovers_a_piecewise_constant_image_better_than_least_squares_2d(
        noisy_problem):
    A, truth, y = noisy_problem
    least_squares = cgls(A, y, n_iter=200, tol=1e-8).image
    # also least squares at its best, regularised by the best early stop (known truth)
    errors = {"cgls": [], "sirt": []}
    cgls(A, y, n_iter=30, callback=lambda i, x, r: errors["cgls"].append(rmse(x, truth)))
    sirt(A, y, n_iter=150, callback=lambda i, x, r: errors["sirt"].append(rmse(x, truth)))
    best_early_stop = min(min(errors["cgls"]), min(errors["sirt"]))
    result = tv_pdhg(A, y, weight=0.3, n_iter=200)
    assert rmse(result.image, truth) < 0.07
    assert rmse(result.image, truth) < 0.1 * rmse(least_squares, truth)
    assert rmse(result.image, truth) < 0.6 * best_early_stop


def test_tv_pdhg_with_zero_weight_is_least_squares():
    rng = np.random.default_rng(7)
    A = MatrixOperator(rng.standard_normal((30, 12)))
    y = rng.standard_normal(30)
    result = tv_pdhg(A, y, weight=0.0, n_iter=3000, nonneg=False)
    expected = np.linalg.lstsq(A.matrix, y, rcond=None)[0]
    np.testing.assert_allclose(result.image, expected, atol=1e-4)


def test_tv_pdhg_uses_anisotropic_spacing():
    # vertical edges cost 4x more TV with 0.25 mm columns: the weight smooths them first
    truth = np.zeros((12, 12))
    truth[:, 6:] = 1.0
    truth[6:, :] += 1.0
    A = MatrixOperator(np.eye(144), (12, 12), (12, 12))
    result = tv_pdhg(A, truth, weight=0.5, spacing_mm=(1.0, 0.25), n_iter=600)
    across_columns = np.abs(np.diff(result.image, axis=1)).sum()
    across_rows = np.abs(np.diff(result.image, axis=0)).sum()
    assert across_columns < 0.5 * across_rows


def test_tv_pdhg_scales_with_the_values(noisy_problem):
    # ½‖Ax − y‖² is 2-homogeneous and TV 1-homogeneous: scaling y and the weight by c
    # scales the minimiser by c, and the suggested weight follows.
    A, _, y = noisy_problem
    assert iterative.suggest_tv_weight(A, 0.02 * y) == pytest.approx(
        0.02 * iterative.suggest_tv_weight(A, y))
    unit = tv_pdhg(A, y, weight=0.3, n_iter=50).image
    scaled = tv_pdhg(A, 0.02 * y, weight=0.3 * 0.02, n_iter=50).image
    np.testing.assert_allclose(scaled, 0.02 * unit, atol=1e-9)


# -- shared behaviour ----------------------------------------------------------------------------


@pytest.mark.parametrize("method, options", [
    (sirt, {}), (os_sart, {"n_subsets": 5}), (sart, {}), (tv_pdhg, {"weight": 0.5}),
    (cgls, {})])
def test_nonneg_is_respected(noisy_problem, method, options):
    A, truth, y = noisy_problem
    negative_data = y - A(np.full(truth.shape, 0.3))  # the solution dips below zero
    free = method(A, negative_data, n_iter=20, nonneg=False, **options)
    constrained = method(A, negative_data, n_iter=20, nonneg=True, **options)
    assert free.image.min() < -0.05
    assert constrained.image.min() >= 0


@pytest.mark.parametrize("method, options", [
    (sirt, {}), (os_sart, {"n_subsets": 5}), (cgls, {}), (tv_pdhg, {"weight": 0.5})])
def test_tol_stops_early_and_callback_sees_every_iteration(noisy_problem, method, options):
    A, _, y = noisy_problem
    seen = []
    result = method(A, y, n_iter=500, tol=1e-3, **options,
                    callback=lambda i, x, r: seen.append((i, x.shape, r)))
    assert result.stop_reason == "tol" and result.iterations < 500
    assert [i for i, _, _ in seen] == list(range(1, result.iterations + 1))
    assert all(shape == A.domain_shape for _, shape, _ in seen)
    np.testing.assert_array_equal([r for _, _, r in seen], result.residuals)
    last, previous = result.residuals[-1], result.residuals[-2]
    assert abs(previous - last) <= 1e-3 * previous


def test_callback_returning_true_stops(noisy_problem):
    A, _, y = noisy_problem
    result = sirt(A, y, n_iter=50, callback=lambda i, x, r: i == 3)
    assert result.iterations == 3 and result.stop_reason == "callback"


def test_x0_is_the_start_and_is_not_modified(noisy_problem):
    A, truth, y = noisy_problem
    start = truth.copy()
    result = sirt(A, A(truth), n_iter=3, x0=start)
    np.testing.assert_array_equal(start, truth)
    assert result.residuals[0] < 1e-9 * np.linalg.norm(y)


def test_float32_projections_give_a_float32_image(noisy_problem):
    A, _, y = noisy_problem
    assert sirt(A, y.astype(np.float32), n_iter=2).image.dtype == np.float32
    assert cgls(A, y, n_iter=2).image.dtype == np.float64


def test_progress_bar_runs(noisy_problem):
    A, _, y = noisy_problem
    assert cgls(A, y, n_iter=3, progress=True).iterations == 3


@pytest.mark.parametrize("call, message", [
    (lambda A, y: sirt(A, y[:-1]), "projections must have the operator's range shape"),
    (lambda A, y: sirt(A, y, n_iter=0), "n_iter must be an integer >= 1, got 0"),
    (lambda A, y: sirt(A, y, relaxation=2.5), "relaxation must be in (0, 2), got 2.5"),
    (lambda A, y: cgls(A, y, x0=np.zeros(3)), "x0 must have the operator's domain shape"),
    (lambda A, y: cgls(A, y, damping=-1), "damping must be a finite number >= 0"),
    (lambda A, y: cgls(A, y, tol=-1), "tol must be None or a number >= 0, got -1"),
    (lambda A, y: tv_pdhg(A, y, weight=np.nan), "weight must be a finite number >= 0"),
    (lambda A, y: tv_pdhg(A, y, weight=1.0, step_ratio=0), "step_ratio must be positive, got 0"),
    (lambda A, y: os_sart(A, y, n_subsets=31), "n_subsets must be at most the number of views"),
    (lambda A, y: sirt(A, np.full_like(y, np.nan)), "projections must be finite"),
])
def test_bad_parameters_are_named(noisy_problem, call, message):
    A, _, y = noisy_problem
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        call(A, y)


def test_an_object_without_the_operator_interface_is_refused():
    with pytest.raises(TypeError, match="missing domain_shape, range_shape, forward, adjoint"):
        sirt(np.eye(3), np.ones(3))


# -- select_views ------------------------------------------------------------------------------


@pytest.mark.parametrize("make", [
    lambda: parallel_beam(12, 16), lambda: fan_beam(12, 16, 1.0, 100, 200, curved=True),
    lambda: parallel_beam_3d(12, (3, 5))])
def test_select_views_slices_every_per_view_vector(make):
    geometry = make()
    picked = select_views(geometry, [5, 0, 11])
    assert picked.projection_shape == (3, *geometry.det_shape)
    assert (picked.kind, picked.curved, picked.sdd_mm) == (geometry.kind, geometry.curved,
                                                           geometry.sdd_mm)
    for name in ("source", "detector", "u", "v", "angles_rad"):
        full = getattr(geometry, name)
        if full is not None:
            np.testing.assert_array_equal(getattr(picked, name), full[[5, 0, 11]])
    np.testing.assert_array_equal(picked.pixel_centers(), geometry.pixel_centers()[[5, 0, 11]])


def test_select_views_refuses_bad_indices():
    geometry = parallel_beam(10, 8)
    with pytest.raises(ValueError, match=r"views must lie in \[0, 9\], got 3..10"):
        select_views(geometry, [3, 10])
    with pytest.raises(ValueError, match="non-empty 1D sequence of integers"):
        select_views(geometry, [])
    with pytest.raises(TypeError, match="geometry must be a Geometry"):
        select_views("g.json", [0])


def test_module_exports():
    assert set(iterative.__all__) >= {"sirt", "sart", "os_sart", "cgls", "tv_pdhg",
                                      "Reconstruction", "select_views"}


# -- with the real projector ------------------------------------------------------------------


@pytest.fixture(scope="module")
def shepp_logan_problem():
    """A 64×64 Shepp–Logan (2 mm pixels) and its 60-view parallel sinogram with 0.5% noise."""
    from hounsfield.data.shepp_logan import shepp_logan_2d
    from hounsfield.tomo.project import Projector

    truth = shepp_logan_2d("modified", fov_mm=128.0).rasterize((64, 64), supersample=4)
    geometry = parallel_beam(60, 96, 2.0)
    projector = Projector(geometry, (64, 64), 2.0)
    clean = projector(truth)
    noise = np.random.default_rng(0).normal(scale=0.005 * clean.max(), size=clean.shape)
    return projector, truth, (clean + noise).astype(np.float32)


def test_projector_reconstructions_of_shepp_logan(shepp_logan_problem):
    from hounsfield.tomo.fbp import fbp

    A, truth, y = shepp_logan_problem
    analytic = rmse(fbp(y, A.geometry, (64, 64), spacing_mm=2.0), truth)
    simultaneous = sirt(A, y, n_iter=100)
    least_squares = cgls(A, y, n_iter=30)
    ordered = os_sart(A, y, n_subsets=10, n_iter=10)
    total_variation = tv_pdhg(A, y, weight=1.0, n_iter=150)
    errors = {name: rmse(result.image, truth) for name, result in [
        ("sirt", simultaneous), ("cgls", least_squares), ("os_sart", ordered),
        ("tv", total_variation)]}
    assert np.all(np.diff(simultaneous.residuals) < 0)
    assert np.all(np.diff(least_squares.residuals) < 0)
    assert errors["sirt"] < analytic and errors["cgls"] < analytic
    assert errors["os_sart"] < 0.05
    assert errors["tv"] < 0.015 and errors["tv"] < 0.5 * min(errors["sirt"], errors["cgls"])
    assert total_variation.image.min() >= 0


def test_os_sart_with_the_projector_uses_its_view_subsets(shepp_logan_problem):
    from hounsfield.tomo.project import Projector

    A, _, y = shepp_logan_problem
    default = os_sart(A, y, n_subsets=6, n_iter=2)  # Projector.subset
    rebuilt = os_sart(A, y, n_subsets=6, n_iter=2, subset_operator=lambda views: Projector(
        select_views(A.geometry, views), (64, 64), 2.0))
    sliced = os_sart(ViewRestriction(A, np.arange(60)), y, n_subsets=6, n_iter=2)
    np.testing.assert_array_equal(default.image, rebuilt.image)
    np.testing.assert_allclose(sliced.image, default.image, atol=1e-5 * np.abs(y).max())


def test_os_sart_on_a_stack_of_slices_subsets_the_view_axis():
    from hounsfield.tomo.project import Projector

    geometry = parallel_beam(20, 30, 1.0)
    slices = np.stack([blocks_image(20), blocks_image(20)[::-1], blocks_image(20).T])
    stack = Projector(geometry, slices.shape, 1.0)  # projections (slices, views, det)
    result = os_sart(stack, stack(slices), n_subsets=4, n_iter=3)
    single = Projector(geometry, (20, 20), 1.0)
    for index, image in enumerate(slices):
        alone = os_sart(single, single(image), n_subsets=4, n_iter=3)
        np.testing.assert_allclose(result.image[index], alone.image, atol=1e-5)


@pytest.mark.real
def test_tv_beats_fbp_on_a_sparse_view_chest_slice(chest_ct):
    """60 views of a real chest slice (256² at 1.4 mm), simulated at twice the resolution."""
    from skimage.metrics import peak_signal_noise_ratio, structural_similarity

    from hounsfield.tomo.fbp import fbp
    from hounsfield.tomo.project import Projector

    ct, _ = chest_ct
    hu = ct.array[ct.shape[0] // 2].astype(np.float64)  # 512 × 512 at 0.70 mm
    mu = np.clip(0.0192 * (1.0 + hu / 1000.0), 0.0, None)  # 1/mm
    fine_pixel, pixel = ct.spacing_mm[1], 2 * ct.spacing_mm[1]
    fine = Projector(parallel_beam(60, 736, fine_pixel), mu.shape, fine_pixel)(mu)
    sinogram = fine.reshape(60, 368, 2).mean(axis=-1)  # 368 bins of 1.4 mm
    counts = np.random.default_rng(0).poisson(1e5 * np.exp(-sinogram))
    noisy = -np.log(np.maximum(counts, 1) / 1e5)
    truth = mu.reshape(256, 2, 256, 2).mean(axis=(1, 3))

    geometry = parallel_beam(60, 368, pixel)
    A = Projector(geometry, truth.shape, pixel)
    analytic = {name: fbp(noisy, geometry, truth.shape, spacing_mm=pixel, filter=name)
                for name in ("ramp", "hann")}
    tv = tv_pdhg(A, noisy, weight=0.1, n_iter=80).image

    def scores(image):
        data_range = float(truth.max())
        return (peak_signal_noise_ratio(truth, image, data_range=data_range),
                structural_similarity(truth, image, data_range=data_range))

    tv_psnr, tv_ssim = scores(tv)
    report = [f"TV-PDHG: PSNR {tv_psnr:.2f} dB, SSIM {tv_ssim:.3f}"]
    for name, image in analytic.items():
        fbp_psnr, fbp_ssim = scores(image)
        report.append(f"FBP ({name}): PSNR {fbp_psnr:.2f} dB, SSIM {fbp_ssim:.3f}")
        assert tv_psnr > fbp_psnr + 3.0, report
        assert tv_ssim > fbp_ssim + 0.1, report
    print("; ".join(report))
