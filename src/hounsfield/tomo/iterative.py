"""Iterative reconstruction written once against a forward/adjoint operator pair.

Every algorithm takes an *operator* ``A`` (see :mod:`hounsfield.tomo.operators`:
``domain_shape``, ``range_shape``, ``forward``, ``adjoint``) — the projector of
:mod:`hounsfield.tomo.project`, a :class:`~hounsfield.tomo.operators.MatrixOperator`,
anything with that interface — and the measured ``projections`` ``y``, and
returns a :class:`Reconstruction`: the image and the data residual
``‖A x − y‖₂`` after every iteration.

Algorithms
----------
:func:`sirt`
    ``x ← x + λ C Aᵀ R (y − A x)`` with ``R = 1/(A 1)`` (inverse ray sums)
    and ``C = 1/(Aᵀ 1)`` (inverse pixel sums).
:func:`os_sart`, :func:`sart`
    The same update applied to ordered subsets of views in turn; SART takes
    one view per subset.
:func:`cgls`
    Conjugate gradients on the normal equations
    ``(AᵀA + damping² I) x = Aᵀ y``: the least-squares solution, optionally
    Tikhonov-damped.
:func:`tv_pdhg`
    ``min ½‖A x − y‖² + weight · TV(x)`` (isotropic total variation, optional
    ``x ≥ 0``) by the primal–dual algorithm of Chambolle & Pock.

Common parameters: ``n_iter`` (the most iterations), ``tol`` (stop once the
residual changes by less than ``tol`` relative to the previous one), ``x0``
(start image, default zeros), ``callback(iteration, x, residual)`` (called
after each iteration with the 1-based count; returning True stops),
``progress`` (a rich progress bar on stderr) and ``nonneg`` (keep ``x ≥ 0``).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np

from ..progress import progress_bar
from .geometry import Geometry
from .operators import Gradient, check_operator, operator_norm, subset_factory, view_axis_of

__all__ = ["Reconstruction", "sirt", "sart", "os_sart", "cgls", "tv_pdhg", "suggest_tv_weight",
           "select_views", "view_subsets"]

#: Ray or pixel sums below this fraction of their maximum count as zero (rays
#: that miss the image, pixels that no ray crosses): their weights are zero.
_ZERO_SUM = 1e-6

#: Subsets' pixel-sum images are cached up to this many bytes, else recomputed.
_CACHE_BYTES = 512 * 2**20


@dataclass(frozen=True, eq=False)
class Reconstruction:
    """The result of an iterative reconstruction.

    Attributes
    ----------
    image : ndarray
        The reconstructed image, of the operator's ``domain_shape`` (μ in
        1/mm when the projections are line integrals in mm · 1/mm).
    residuals : ndarray
        ``‖A x − y‖₂`` after each iteration (for :func:`os_sart`, measured
        subset by subset during each pass; see there).
    iterations : int
        Iterations run.
    stop_reason : str
        'n_iter', 'tol' (residual change below tol), 'callback' (the callback
        returned True) or 'converged' (an exact solution was reached).
    """

    image: np.ndarray
    residuals: np.ndarray
    iterations: int
    stop_reason: str

    def __repr__(self) -> str:
        last = f"{self.residuals[-1]:.4g}" if self.iterations else "n/a"
        return (f"Reconstruction(shape={self.image.shape}, iterations={self.iterations}, "
                f"residual={last}, stop_reason={self.stop_reason!r})")


# -- shared machinery -------------------------------------------------------------


def _norm(array) -> float:
    return float(np.linalg.norm(np.ravel(array)))


def _safe_inverse(sums: np.ndarray) -> np.ndarray:
    """1/sums where sums are meaningfully positive, 0 elsewhere."""
    sums = np.asarray(sums)
    top = float(sums.max()) if sums.size else 0.0
    positive = sums > _ZERO_SUM * top if top > 0 else np.zeros(sums.shape, bool)
    inverse = np.zeros_like(sums)
    inverse[positive] = 1.0 / sums[positive]
    return inverse


def _prepare(operator, projections, x0, n_iter, tol):
    """Check a problem at the public entry point; return (y, x, dtype)."""
    check_operator(operator)
    y = np.asarray(projections)
    if tuple(y.shape) != tuple(operator.range_shape):
        raise ValueError(f"projections must have the operator's range shape "
                         f"{tuple(operator.range_shape)}, got {y.shape}")
    if not np.all(np.isfinite(y)):
        raise ValueError("projections must be finite, got NaN or infinite values")
    if isinstance(n_iter, bool) or not isinstance(n_iter, (int, np.integer)) or n_iter < 1:
        raise ValueError(f"n_iter must be an integer >= 1, got {n_iter!r}")
    if tol is not None and not (np.isfinite(tol) and tol >= 0):
        raise ValueError(f"tol must be None or a number >= 0, got {tol!r}")
    dtype = np.result_type(y.dtype, np.float32)
    if x0 is None:
        return y.astype(dtype, copy=False), np.zeros(operator.domain_shape, dtype), dtype
    x = np.array(x0, dtype=dtype)  # a copy: the caller's array is never changed
    if x.shape != tuple(operator.domain_shape):
        raise ValueError(f"x0 must have the operator's domain shape "
                         f"{tuple(operator.domain_shape)}, got {x.shape}")
    return y.astype(dtype, copy=False), x, dtype


def _check_relaxation(relaxation) -> float:
    if not 0 < relaxation < 2:
        raise ValueError(f"relaxation must be in (0, 2), got {relaxation!r}")
    return float(relaxation)


def _iterate(steps: Iterator, x: np.ndarray, n_iter: int, tol, callback, progress: bool,
             description: str) -> Reconstruction:
    """Run an algorithm's step generator: history, tol, callback and progress in one place.

    ``steps`` updates the image ``x`` in place, yields the residual norm
    after each iteration, and ends early when an exact solution is reached.
    """
    residuals: list[float] = []
    stop_reason = "n_iter"
    with progress_bar(progress, n_iter, description, value_name="residual") as advance:
        for iteration in range(1, n_iter + 1):
            residual = next(steps, None)
            if residual is None:
                stop_reason = "converged"
                break
            residuals.append(residual)
            advance(1, residual)
            if callback is not None and callback(iteration, x, residual):
                stop_reason = "callback"
                break
            if _change_below(residuals, tol):
                stop_reason = "tol"
                break
    return Reconstruction(x, np.asarray(residuals, dtype=float), len(residuals),
                          stop_reason)


def _change_below(residuals: list[float], tol) -> bool:
    if tol is None or len(residuals) < 2:
        return False
    previous, current = residuals[-2], residuals[-1]
    return previous == 0.0 or abs(previous - current) <= tol * previous


# -- SIRT ---------------------------------------------------------------------------


def sirt(operator, projections, n_iter: int = 100, *, relaxation: float = 1.0, x0=None,
         nonneg: bool = False, tol: float | None = None, callback: Callable | None = None,
         progress: bool = False) -> Reconstruction:
    """Simultaneous iterative reconstruction: ``x ← x + λ C Aᵀ R (y − A x)``.

    ``R = 1/(A 1)`` divides each ray's residual by its length through the
    image, ``C = 1/(Aᵀ 1)`` divides each pixel's update by the total length
    of the rays that cross it; both are zero where the sums vanish (rays that
    miss the image, pixels no ray crosses). For ``0 < λ < 2`` the iteration
    converges to the ``R``-weighted least-squares solution, and its
    ``R``-weighted residual decreases at every step.

    Parameters
    ----------
    operator : operator
        The projector ``A`` (see :mod:`hounsfield.tomo.operators`), with
        non-negative weights.
    projections : ndarray
        Measured line integrals ``y``, of ``operator.range_shape``.
    n_iter : int
        The most iterations (each: one forward and one adjoint projection).
    relaxation : float
        λ, in (0, 2).
    x0, nonneg, tol, callback, progress
        See the module docstring.

    Returns
    -------
    Reconstruction

    Examples
    --------
    >>> from hounsfield.tomo.operators import MatrixOperator
    >>> A = MatrixOperator(np.array([[1.0, 1.0], [1.0, 0.0], [0.0, 1.0]]))
    >>> result = sirt(A, A(np.array([2.0, 3.0])), n_iter=200)
    >>> np.round(result.image, 4).tolist(), result.iterations
    ([2.0, 3.0], 200)
    """
    y, x, dtype = _prepare(operator, projections, x0, n_iter, tol)
    relaxation = _check_relaxation(relaxation)
    steps = _sirt_steps(operator, y, x, relaxation, nonneg, dtype)
    return _iterate(steps, x, n_iter, tol, callback, progress, "SIRT")


def _sums(operator, dtype) -> tuple[np.ndarray, np.ndarray]:
    """(R, C): inverse ray sums A·1 and inverse pixel sums Aᵀ·1."""
    ray_sums = np.asarray(operator.forward(np.ones(operator.domain_shape, dtype)), dtype)
    pixel_sums = np.asarray(operator.adjoint(np.ones(operator.range_shape, dtype)), dtype)
    return _safe_inverse(ray_sums), _safe_inverse(pixel_sums)


def _sirt_steps(operator, y, x, relaxation, nonneg, dtype) -> Iterator[float]:
    ray_weights, pixel_weights = _sums(operator, dtype)
    pixel_weights *= relaxation
    residual = y - operator.forward(x)
    while True:
        x += pixel_weights * np.asarray(operator.adjoint(ray_weights * residual), dtype)
        if nonneg:
            np.maximum(x, 0, out=x)
        residual = y - operator.forward(x)
        yield _norm(residual)


# -- SART / OS-SART -------------------------------------------------------------------


def view_subsets(n_views: int, n_subsets: int) -> list[np.ndarray]:
    """Interleaved subsets of views, in the order in which OS-SART visits them.

    Subset ``k`` holds views ``k, k + n_subsets, k + 2 n_subsets, …``, so each
    spans the whole arc. They are visited in golden-ratio order, which keeps
    subsets that follow each other far apart in angle (a classic speed-up of
    SART over visiting neighbouring views in turn).

    >>> [s.tolist() for s in view_subsets(6, 3)]
    [[0, 3], [2, 5], [1, 4]]
    >>> [int(s[0]) for s in view_subsets(8, 8)]
    [0, 5, 2, 7, 4, 1, 6, 3]
    """
    for value, name in ((n_views, "n_views"), (n_subsets, "n_subsets")):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise ValueError(f"{name} must be an integer >= 1, got {value!r}")
    if n_subsets > n_views:
        raise ValueError(f"n_subsets must be at most the number of views ({n_views}), "
                         f"got {n_subsets}")
    golden = (math.sqrt(5) - 1) / 2
    order = np.argsort((np.arange(n_subsets) * golden) % 1.0, kind="stable")
    return [np.arange(start, n_views, n_subsets) for start in order]


def select_views(geometry: Geometry, views) -> Geometry:
    """The scan restricted to some views, in the order given.

    Parameters
    ----------
    geometry : Geometry
    views : sequence of int or slice
        View indices, each in ``[0, n_views)``.

    Examples
    --------
    >>> from hounsfield.tomo.geometry import parallel_beam
    >>> half = select_views(parallel_beam(180, 64), slice(0, 180, 2))
    >>> half.projection_shape, round(float(np.rad2deg(half.angles_rad[1])), 6)
    ((90, 64), 2.0)
    """
    if not isinstance(geometry, Geometry):
        raise TypeError(f"geometry must be a Geometry, got {type(geometry).__name__}")
    return geometry.select_views(views)


def os_sart(operator, projections, n_subsets: int = 10, n_iter: int = 20, *,
            subset_operator: Callable | None = None, relaxation: float = 1.0, x0=None,
            nonneg: bool = False, tol: float | None = None, callback: Callable | None = None,
            progress: bool = False) -> Reconstruction:
    """Ordered-subsets SART: the SIRT update applied to one subset of views at a time.

    For each subset ``s`` of :func:`view_subsets` in turn,
    ``x ← x + λ C_s A_sᵀ R_s (y_s − A_s x)`` with the subset's own ray and
    pixel sums. One iteration is one pass over all subsets (about the cost
    of one SIRT iteration), and converges roughly ``n_subsets`` times faster
    early on. With one subset this is SIRT; with one view per subset, SART.

    Parameters
    ----------
    operator : operator
        The projector ``A``. Its view axis is the first axis of its
        ``range_shape``, or the second for a projector of a stack of slices
        (see :func:`~hounsfield.tomo.operators.view_axis_of`).
    projections : ndarray
        Measured line integrals ``y``, of ``operator.range_shape``.
    n_subsets : int
        Number of subsets, 1 to the number of views.
    n_iter : int
        The most passes over all subsets.
    subset_operator : callable, optional
        ``views -> operator`` building ``A`` restricted to the given view
        indices (for the projector:
        ``lambda views: Projector(select_views(geometry, views), shape)``).
        Default: the operator's ``subset`` method, else a restriction that
        slices full projections (correct, but costs a full projection per subset).
    relaxation : float
        λ, in (0, 2).
    x0, nonneg, tol, callback, progress
        See the module docstring.

    Returns
    -------
    Reconstruction
        Its residuals are measured during each pass, subset by subset just
        before that subset's update (``sqrt(Σ_s ‖A_s x − y_s‖²)``): no extra
        projection is spent on them, and they lag the image by up to one pass.

    Examples
    --------
    >>> from hounsfield.tomo.operators import MatrixOperator
    >>> rng = np.random.default_rng(0)
    >>> A = MatrixOperator(rng.uniform(size=(12, 4)), range_shape=(6, 2))  # 6 views of 2 rays
    >>> result = os_sart(A, A(np.arange(4.0)), n_subsets=3, n_iter=300, tol=0)
    >>> (np.round(result.image, 3) + 0.0).tolist()
    [0.0, 1.0, 2.0, 3.0]
    """
    y, x, dtype = _prepare(operator, projections, x0, n_iter, tol)
    relaxation = _check_relaxation(relaxation)
    view_axis = view_axis_of(operator)
    n_views = int(operator.range_shape[view_axis])
    subsets = view_subsets(n_views, n_subsets)
    restrict = subset_factory(operator, subset_operator)
    measured = [np.take(y, views, axis=view_axis) for views in subsets]
    steps = _os_sart_steps([restrict(views) for views in subsets], measured, x, relaxation,
                           nonneg, dtype)
    name = "SART" if n_subsets == n_views else f"OS-SART ({n_subsets} subsets)"
    return _iterate(steps, x, n_iter, tol, callback, progress, name)


def sart(operator, projections, n_iter: int = 10, **options) -> Reconstruction:
    """Simultaneous algebraic reconstruction (Andersen & Kak): OS-SART with one view per subset.

    Takes the options of :func:`os_sart` (``subset_operator``, ``relaxation``,
    ``x0``, ``nonneg``, ``tol``, ``callback``, ``progress``). One iteration
    updates the image once per view.

    >>> from hounsfield.tomo.operators import MatrixOperator
    >>> A = MatrixOperator(np.array([[1.0, 1.0], [1.0, 0.0]]), range_shape=(2, 1))
    >>> np.round(sart(A, np.array([[3.0], [2.0]]), n_iter=30).image, 4).tolist()
    [2.0, 1.0]
    """
    check_operator(operator)
    n_views = int(operator.range_shape[view_axis_of(operator)])
    return os_sart(operator, projections, n_views, n_iter, **options)


def _os_sart_steps(operators, measured, x, relaxation, nonneg, dtype) -> Iterator[float]:
    ray_weights = [_safe_inverse(np.asarray(A.forward(np.ones(A.domain_shape, dtype)), dtype))
                   for A in operators]
    pixel_weights = _pixel_weights(operators, dtype, relaxation)
    while True:
        squared = 0.0
        for index, (A, y) in enumerate(zip(operators, measured, strict=True)):
            residual = y - A.forward(x)
            squared += _norm(residual) ** 2
            update = np.asarray(A.adjoint(ray_weights[index] * residual), dtype)
            x += pixel_weights(index) * update
            if nonneg:
                np.maximum(x, 0, out=x)
        yield math.sqrt(squared)


def _pixel_weights(operators, dtype, relaxation) -> Callable[[int], np.ndarray]:
    """λ/(A_sᵀ 1) per subset: cached when they fit in _CACHE_BYTES, else recomputed."""
    def compute(index):
        A = operators[index]
        ones = np.ones(A.range_shape, dtype)
        return relaxation * _safe_inverse(np.asarray(A.adjoint(ones), dtype))

    image_bytes = np.dtype(dtype).itemsize * int(np.prod(operators[0].domain_shape))
    if image_bytes * len(operators) > _CACHE_BYTES:
        return compute
    cached = [compute(index) for index in range(len(operators))]
    return cached.__getitem__


# -- CGLS -------------------------------------------------------------------------------


def cgls(operator, projections, n_iter: int = 50, *, damping: float = 0.0, x0=None,
         nonneg: bool = False, tol: float | None = None, callback: Callable | None = None,
         progress: bool = False) -> Reconstruction:
    """Conjugate gradients on the normal equations ``(AᵀA + damping² I) x = Aᵀ y``.

    Minimises ``‖A x − y‖² + damping² ‖x‖²`` over the Krylov subspaces of
    ``AᵀA`` (the damping, a Tikhonov term, is scipy ``lsqr``'s ``damp``).
    Without damping the data residual ``‖A x − y‖`` decreases at every
    iteration; with it, the damped objective does. Stops as 'converged' when
    the normal-equation residual vanishes (an exact solution).

    Parameters
    ----------
    operator : operator
        The projector ``A``.
    projections : ndarray
        Measured line integrals ``y``, of ``operator.range_shape``.
    n_iter : int
        The most iterations (each: one forward and one adjoint projection).
        Early stopping is CGLS's regulariser for noisy data.
    damping : float
        Tikhonov weight, in the units of ``A`` (≥ 0).
    nonneg : bool
        Clip the *returned* image at 0. The iteration itself is unconstrained
        (a clipped iterate would break the conjugate directions); use
        :func:`sirt` or :func:`tv_pdhg` for a constrained solution.
    x0, tol, callback, progress
        See the module docstring.

    Returns
    -------
    Reconstruction

    Examples
    --------
    >>> from hounsfield.tomo.operators import MatrixOperator
    >>> A = MatrixOperator(np.array([[2.0, 1.0], [1.0, 3.0], [0.0, 1.0]]))
    >>> result = cgls(A, A(np.array([1.0, -1.0])))
    >>> np.round(result.image, 6).tolist(), result.stop_reason
    ([1.0, -1.0], 'converged')
    """
    y, x, dtype = _prepare(operator, projections, x0, n_iter, tol)
    if not (np.isfinite(damping) and damping >= 0):
        raise ValueError(f"damping must be a finite number >= 0, got {damping!r}")
    steps = _cgls_steps(operator, y, x, float(damping) ** 2, dtype)
    result = _iterate(steps, x, n_iter, tol, callback, progress, "CGLS")
    if nonneg:
        np.maximum(result.image, 0, out=result.image)
    return result


def _cgls_steps(operator, y, x, shift, dtype) -> Iterator[float]:
    residual = y - operator.forward(x)
    gradient = np.asarray(operator.adjoint(residual), dtype) - shift * x
    direction = gradient.copy()
    gamma = _norm(gradient) ** 2
    while gamma > 0:
        image_of_direction = operator.forward(direction)
        curvature = _norm(image_of_direction) ** 2 + shift * _norm(direction) ** 2
        if curvature == 0:
            return
        alpha = gamma / curvature
        x += alpha * direction
        residual -= alpha * image_of_direction
        gradient = np.asarray(operator.adjoint(residual), dtype) - shift * x
        gamma, previous = _norm(gradient) ** 2, gamma
        direction *= gamma / previous
        direction += gradient
        yield _norm(residual)


# -- TV by primal–dual (Chambolle–Pock) -------------------------------------------------------


def tv_pdhg(operator, projections, weight: float, n_iter: int = 200, *, spacing_mm=None,
            nonneg: bool = True, x0=None, tol: float | None = None,
            callback: Callable | None = None, progress: bool = False,
            step_ratio: float = 0.1, norm_iterations: int = 20) -> Reconstruction:
    """Total-variation regularised reconstruction by the Chambolle–Pock primal–dual algorithm.

    Solves ``min_x ½‖A x − y‖² + weight · TV(x)`` (with ``x ≥ 0`` when
    ``nonneg``), where ``TV(x) = Σ_pixels |∇x|`` is isotropic total variation
    with the gradient in physical units (:class:`~hounsfield.tomo.operators.Gradient`:
    differences divided by ``spacing_mm`` per axis). On a 3D image — also a
    stack of slices scanned one by one — the TV is 3D and couples neighbouring
    slices.

    Steps: the saddle-point problem uses ``K = [A; s ∇]`` with
    ``s = ‖A‖ / ‖∇‖``, which balances the two dual blocks without changing
    the minimiser, so that ``‖K‖ ≤ L = √2 ‖A‖``. ``‖A‖`` comes from power
    iteration (times 1.01, as power iteration approaches it from below) and
    ``‖∇‖`` from its bound. The primal and dual steps are
    ``τ = step_ratio / L`` and ``σ = 1 / (step_ratio · L)``, so ``σ τ L² = 1``
    as convergence requires. Each iteration costs one forward and one
    adjoint projection: ``A x̄`` is formed as ``2 A xₖ₊₁ − A xₖ`` by linearity.

    Parameters
    ----------
    operator : operator
        The projector ``A``.
    projections : ndarray
        Measured line integrals ``y``, of ``operator.range_shape``.
    weight : float
        The TV weight (≥ 0), in the units of ``y² · mm / x``. It grows with
        the noise, and scales with the values (μ in 1/mm: about 0.1 for a
        256² slice at 1.4 mm from 60 low-noise views); 0 gives (non-negative)
        least squares.
    n_iter : int
        The most iterations.
    spacing_mm : float or sequence of float, optional
        Pixel size per array axis, mm, for the TV gradient. Default: the
        operator's ``grid.spacing_mm`` when it has one (the projector does),
        else 1.
    nonneg : bool
        Constrain ``x ≥ 0`` (default True: attenuation is never negative).
    step_ratio : float
        ``τ / σ``, the primal over the dual step. Any positive value
        converges; the default 0.1 was the fastest of 0.03–10 on CT slices
        and phantoms (it lets the data dual follow the residual within tens
        of iterations).
    norm_iterations : int
        Power iterations for ``‖A‖``.
    x0, tol, callback, progress
        See the module docstring. ``tol`` compares data residuals, which
        settle as the primal–dual gap closes.

    Returns
    -------
    Reconstruction

    Examples
    --------
    >>> from hounsfield.tomo.operators import MatrixOperator
    >>> truth = np.repeat([0.0, 2.0, 1.0], 10)
    >>> blur = np.exp(-0.5 * np.subtract.outer(np.arange(30), np.arange(30)) ** 2)
    >>> A = MatrixOperator(blur)
    >>> result = tv_pdhg(A, A(truth), weight=0.01, n_iter=2000)
    >>> float(np.abs(result.image - truth).max()) < 0.05
    True
    """
    y, x, dtype = _prepare(operator, projections, x0, n_iter, tol)
    for value, name in ((weight, "weight"), (step_ratio, "step_ratio")):
        if not (np.isfinite(value) and value >= 0):
            raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")
    if step_ratio == 0:
        raise ValueError("step_ratio must be positive, got 0")
    if spacing_mm is None:
        spacing_mm = getattr(getattr(operator, "grid", None), "spacing_mm", None)
    gradient = Gradient(operator.domain_shape, spacing_mm)
    norm_a = 1.01 * operator_norm(operator, norm_iterations)
    if norm_a == 0:
        raise ValueError("the operator is zero (its norm estimate is 0): nothing to reconstruct")
    bound = math.sqrt(2.0) * norm_a
    steps = (float(step_ratio) / bound, 1.0 / (float(step_ratio) * bound))
    pdhg = _pdhg_steps(operator, gradient, y, x, float(weight), norm_a, steps, nonneg, dtype)
    return _iterate(pdhg, x, n_iter, tol, callback, progress, "TV (PDHG)")


def _pdhg_steps(operator, gradient, y, x, weight, norm_a, steps, nonneg,
                dtype) -> Iterator[float]:
    primal_step, dual_step = steps
    scale = norm_a / gradient.norm_bound()
    radius = weight / scale  # weight·TV(x) = (weight/scale)·Σ|scale ∇x|
    data_dual = np.zeros(operator.range_shape, dtype)
    tv_dual = np.zeros(gradient.range_shape, dtype)
    x_bar = x.copy()
    projected = np.asarray(operator.forward(x), dtype)
    projected_bar = projected
    while True:
        data_dual += dual_step * (projected_bar - y)
        data_dual /= 1.0 + dual_step
        tv_dual += (dual_step * scale) * gradient.forward(x_bar)
        _project_to_ball(tv_dual, radius)
        update = np.asarray(operator.adjoint(data_dual), dtype)
        update += scale * gradient.adjoint(tv_dual)
        previous = x.copy()
        x -= primal_step * update
        if nonneg:
            np.maximum(x, 0, out=x)
        np.subtract(2 * x, previous, out=x_bar)
        projected, previous_projected = np.asarray(operator.forward(x), dtype), projected
        projected_bar = 2 * projected - previous_projected
        yield _norm(projected - y)


def suggest_tv_weight(operator, projections, *, spacing_mm=None, fraction: float = 5e-4) -> float:
    """A starting TV weight for :func:`tv_pdhg`: ``fraction · max|Aᵀ y| / ‖∇‖``.

    A heuristic, not a rule: ``Aᵀ y`` grows with the values, the number of
    views and the pixel size as the data term does, and ``‖∇‖ = 2 sqrt(Σ 1/spacing²)``
    carries the TV term's scale, so the ratio follows the problem's units.
    ``fraction = 5e-4`` gave the best PSNR on a 60-view real chest slice
    (256² at 1.4 mm, 10⁵ photons per ray, weight ≈ 0.1); noisier data want
    more, cleaner data less.

    Parameters
    ----------
    operator : operator
        The projector ``A``.
    projections : ndarray
        Measured line integrals ``y``.
    spacing_mm : float or sequence of float, optional
        As in :func:`tv_pdhg` (default: the operator's grid spacing, else 1).
    fraction : float
        The multiplier (> 0).

    Examples
    --------
    >>> from hounsfield.tomo.operators import MatrixOperator
    >>> round(suggest_tv_weight(MatrixOperator(np.eye(4)), np.array([0, 1, 2, 4.0])), 6)
    0.001
    """
    check_operator(operator)
    if not (np.isfinite(fraction) and fraction > 0):
        raise ValueError(f"fraction must be a positive number, got {fraction!r}")
    if spacing_mm is None:
        spacing_mm = getattr(getattr(operator, "grid", None), "spacing_mm", None)
    gradient = Gradient(operator.domain_shape, spacing_mm)
    back = np.asarray(operator.adjoint(np.asarray(projections)))
    return float(fraction * np.abs(back).max() / gradient.norm_bound())


def _project_to_ball(field: np.ndarray, radius: float) -> None:
    """Scale each pixel's vector (axis 0) into the ball of the given radius, in place."""
    if radius == 0:
        field[...] = 0.0
        return
    magnitude = np.sqrt(np.sum(field**2, axis=0))
    field /= np.maximum(1.0, magnitude / radius)
