"""Linear operators that the iterative reconstructions are written against.

An *operator* here is any object with

* ``domain_shape`` and ``range_shape``: tuples, the shapes of images and of
  projections;
* ``forward(x)``: ``A x``, an array of ``range_shape`` from one of ``domain_shape``;
* ``adjoint(y)``: ``Aᵀ y``, the exact adjoint, ⟨A x, y⟩ = ⟨x, Aᵀ y⟩.

The projector of :mod:`hounsfield.tomo.project` is one; :class:`MatrixOperator`
wraps a (dense or sparse) matrix in the same interface, and :class:`Gradient`
is the finite-difference gradient behind total-variation regularisation.

For ordered subsets, one axis of ``range_shape`` counts views (the first,
unless :func:`view_axis_of` says otherwise); an operator restricted to some
views is made by a *subset factory* ``views -> operator`` (see
:func:`subset_factory`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

__all__ = ["MatrixOperator", "Gradient", "ViewRestriction", "check_operator",
           "operator_norm", "subset_factory", "view_axis_of", "adjoint_of"]

_OPERATOR_ATTRIBUTES = ("domain_shape", "range_shape", "forward", "adjoint")


def check_operator(operator, name: str = "operator") -> None:
    """Refuse an object that lacks the operator interface, naming what is missing.

    >>> check_operator(MatrixOperator(np.eye(2)))
    >>> check_operator(np.eye(2))
    Traceback (most recent call last):
    ...
    TypeError: operator must have domain_shape, range_shape, forward and adjoint; got ndarray \
(missing domain_shape, range_shape, forward, adjoint)
    """
    missing = [attribute for attribute in _OPERATOR_ATTRIBUTES if not hasattr(operator, attribute)]
    if missing:
        raise TypeError(f"{name} must have domain_shape, range_shape, forward and adjoint; "
                        f"got {type(operator).__name__} (missing {', '.join(missing)})")


def adjoint_of(operator):
    """The adjoint ``Aᵀ`` as an operator: the operator's own ``T`` when it has one.

    >>> adjoint_of(MatrixOperator(np.array([[1.0, 2.0]]))).forward(np.array([3.0])).tolist()
    [3.0, 6.0]
    """
    check_operator(operator)
    transposed = getattr(operator, "T", None)
    if transposed is not None and all(hasattr(transposed, a) for a in _OPERATOR_ATTRIBUTES):
        return transposed
    return _Adjoint(operator)


class _OperatorMixin:
    """``A(x)`` and ``A.T`` for operators that define forward and adjoint."""

    def __call__(self, x):
        return self.forward(x)

    @property
    def T(self):  # noqa: N802 - the usual name of a transpose
        return _Adjoint(self)


class _Adjoint(_OperatorMixin):
    """The adjoint of an operator, as an operator."""

    def __init__(self, operator):
        self.operator = operator
        self.domain_shape, self.range_shape = operator.range_shape, operator.domain_shape

    def forward(self, y):
        return self.operator.adjoint(y)

    def adjoint(self, x):
        return self.operator.forward(x)

    @property
    def T(self):  # noqa: N802
        return self.operator


class MatrixOperator(_OperatorMixin):
    """A matrix as an operator between arrays of given shapes.

    Parameters
    ----------
    matrix : (m, n) array or scipy sparse matrix
        Row i is the weights of measurement i (a ray, for a projector).
    domain_shape : tuple, optional
        Shape of the images, ``prod == n``; default ``(n,)``.
    range_shape : tuple, optional
        Shape of the projections, ``prod == m``; default ``(m,)``. Its first
        axis is the view axis for :meth:`subset`.

    Examples
    --------
    >>> A = MatrixOperator(np.arange(6.0).reshape(3, 2))
    >>> A(np.ones(2)).tolist(), A.T(np.ones(3)).tolist()
    ([1.0, 5.0, 9.0], [6.0, 9.0])
    >>> A.subset([0, 2]).forward(np.ones(2)).tolist()
    [1.0, 9.0]
    """

    def __init__(self, matrix, domain_shape=None, range_shape=None):
        if not hasattr(matrix, "shape") or len(matrix.shape) != 2:
            raise ValueError(f"matrix must be a 2D array, got {type(matrix).__name__} of shape "
                             f"{getattr(matrix, 'shape', None)}")
        self.matrix = matrix if hasattr(matrix, "tocsr") else np.asarray(matrix)
        n_rows, n_cols = matrix.shape
        self.domain_shape = _shape_of(domain_shape, n_cols, "domain_shape")
        self.range_shape = _shape_of(range_shape, n_rows, "range_shape")

    def forward(self, x):
        return np.asarray(self.matrix @ np.asarray(x).reshape(-1)).reshape(self.range_shape)

    def adjoint(self, y):
        return np.asarray(self.matrix.T @ np.asarray(y).reshape(-1)).reshape(self.domain_shape)

    def subset(self, views) -> MatrixOperator:
        """The operator restricted to some views (indices along the range's first axis)."""
        views = _view_indices(views, self.range_shape[0])
        rows = np.arange(int(np.prod(self.range_shape))).reshape(self.range_shape[0], -1)[views]
        matrix = self.matrix.tocsr()[rows.ravel()] if hasattr(self.matrix, "tocsr") \
            else self.matrix[rows.ravel()]
        return MatrixOperator(matrix, self.domain_shape, (len(views), *self.range_shape[1:]))

    @property
    def T(self) -> MatrixOperator:  # noqa: N802
        return MatrixOperator(self.matrix.T, self.range_shape, self.domain_shape)

    def __repr__(self) -> str:
        return f"MatrixOperator({self.domain_shape} -> {self.range_shape})"


def _shape_of(shape, size: int, name: str) -> tuple:
    shape = (size,) if shape is None else tuple(int(n) for n in np.atleast_1d(shape))
    if int(np.prod(shape)) != size:
        raise ValueError(f"{name} must hold {size} elements to match the matrix, got {shape}")
    return shape


def _view_indices(views, n_views: int) -> np.ndarray:
    indices = np.asarray(views)
    if indices.ndim != 1 or indices.size == 0 or not np.issubdtype(indices.dtype, np.integer):
        raise ValueError(f"views must be a non-empty 1D sequence of integers, got {views!r}")
    if indices.min() < 0 or indices.max() >= n_views:
        raise ValueError(f"views must lie in [0, {n_views - 1}], got {indices.min()}.."
                         f"{indices.max()}")
    return indices


class ViewRestriction(_OperatorMixin):
    """Any operator restricted to some views by slicing its projections.

    Correct for every operator, but each application still computes every
    view: give the reconstruction a subset factory that builds the smaller
    operator instead where one exists (as :func:`subset_factory` does for
    operators with a ``subset`` method).

    Parameters
    ----------
    operator : operator
    views : sequence of int
        Indices along the view axis.
    view_axis : int
        The axis of ``operator.range_shape`` that counts views (default 0).

    >>> A = ViewRestriction(MatrixOperator(np.eye(3)), [2])
    >>> A.forward(np.array([1.0, 2.0, 3.0])).tolist(), A.adjoint(np.array([5.0])).tolist()
    ([3.0], [0.0, 0.0, 5.0])
    """

    def __init__(self, operator, views, view_axis: int = 0):
        check_operator(operator)
        self.operator = operator
        full_range = tuple(operator.range_shape)
        self.view_axis = int(view_axis)
        self.views = _view_indices(views, full_range[self.view_axis])
        self.domain_shape = tuple(operator.domain_shape)
        self.range_shape = (*full_range[:self.view_axis], len(self.views),
                            *full_range[self.view_axis + 1:])

    def forward(self, x):
        return np.take(np.asarray(self.operator.forward(x)), self.views, axis=self.view_axis)

    def adjoint(self, y):
        y = np.asarray(y)
        full = np.zeros(self.operator.range_shape, dtype=y.dtype)
        # add.at: a view listed twice counts twice
        np.add.at(np.moveaxis(full, self.view_axis, 0), self.views,
                  np.moveaxis(y, self.view_axis, 0))
        return self.operator.adjoint(full)


def view_axis_of(operator) -> int:
    """The axis of an operator's projections that counts views.

    The operator's ``view_axis`` attribute when it has one; else, for an
    operator with a ``geometry`` (a projector), the axis where the
    geometry's ``projection_shape`` starts in ``range_shape`` (1 for a 2D
    scan of a stack of slices, whose projections are (slices, views, n_det));
    else 0.

    >>> view_axis_of(MatrixOperator(np.eye(4), range_shape=(2, 2)))
    0
    """
    if hasattr(operator, "view_axis"):
        return int(operator.view_axis)
    geometry = getattr(operator, "geometry", None)
    if geometry is not None and hasattr(geometry, "projection_shape"):
        return len(tuple(operator.range_shape)) - len(tuple(geometry.projection_shape))
    return 0


def subset_factory(operator, make_operator: Callable | None = None) -> Callable:
    """How to restrict ``operator`` to a subset of views: a callable ``views -> operator``.

    ``make_operator`` when given; else the operator's own ``subset`` method;
    else :class:`ViewRestriction` (along :func:`view_axis_of`).

    >>> restrict = subset_factory(MatrixOperator(np.eye(4), range_shape=(2, 2)))
    >>> restrict([1]).range_shape
    (1, 2)
    """
    if make_operator is not None:
        return make_operator
    if callable(getattr(operator, "subset", None)):
        return operator.subset
    axis = view_axis_of(operator)
    return lambda views: ViewRestriction(operator, views, axis)


class Gradient(_OperatorMixin):
    """Forward-difference gradient in physical units, with its adjoint (−divergence).

    ``forward(x)[a]`` is ``(x[i+1] - x[i]) / spacing_mm[a]`` along array axis
    ``a``, zero at the last index (a Neumann boundary), so the output has
    shape ``(ndim, *shape)``. Dividing by the spacing makes total variation
    isotropic in millimetres on anisotropic grids.

    Parameters
    ----------
    shape : tuple of int
        Image shape.
    spacing_mm : float or sequence of float, optional
        Pixel size per array axis, mm (default 1).

    Examples
    --------
    >>> D = Gradient((3,), spacing_mm=2.0)
    >>> D(np.array([0.0, 2.0, 6.0])).tolist()
    [[1.0, 2.0, 0.0]]
    >>> D.norm_bound() == 2 * (1 / 2.0)
    True
    """

    def __init__(self, shape: Sequence[int], spacing_mm=None):
        self.shape = tuple(int(n) for n in shape)
        if not self.shape or min(self.shape) < 1:
            raise ValueError(f"shape must be a non-empty tuple of positive sizes, got {shape!r}")
        spacing = np.broadcast_to(np.asarray(1.0 if spacing_mm is None else spacing_mm, float),
                                  (len(self.shape),))
        if not np.all(np.isfinite(spacing)) or np.any(spacing <= 0):
            raise ValueError(f"spacing_mm must be positive numbers of mm, got {spacing_mm!r}")
        self.spacing_mm = tuple(float(s) for s in spacing)
        self.domain_shape = self.shape
        self.range_shape = (len(self.shape), *self.shape)

    def forward(self, x):
        x = np.asarray(x)
        gradient = np.zeros(self.range_shape, dtype=np.result_type(x, np.float32))
        for axis, step in enumerate(self.spacing_mm):
            inner = _along(axis, slice(None, -1))
            gradient[axis][inner] = np.diff(x, axis=axis) / step
        return gradient

    def adjoint(self, y):
        y = np.asarray(y)
        result = np.zeros(self.shape, dtype=np.result_type(y, np.float32))
        for axis, step in enumerate(self.spacing_mm):
            component = y[axis] / step
            # -div: each difference x[i+1] - x[i] sends +g to i+1 and -g to i.
            result[_along(axis, slice(1, None))] += component[_along(axis, slice(None, -1))]
            result[_along(axis, slice(None, -1))] -= component[_along(axis, slice(None, -1))]
        return result

    def norm_bound(self) -> float:
        """An upper bound of the operator norm: ``2 sqrt(Σ 1/spacing²)``."""
        return 2.0 * float(np.sqrt(sum(1.0 / s**2 for s in self.spacing_mm)))


def _along(axis: int, index: slice) -> tuple:
    return (slice(None),) * axis + (index,)


def operator_norm(operator, n_iter: int = 30, *, seed: int = 0) -> float:
    """Largest singular value of an operator, by power iteration on ``AᵀA``.

    Uses the operator's own ``norm_estimate(n_iter)`` when it has one. Power
    iteration approaches the norm from below; callers that need an upper
    bound add a margin.

    >>> round(operator_norm(MatrixOperator(np.diag([3.0, 1.0]))), 6)
    3.0
    """
    if callable(getattr(operator, "norm_estimate", None)):
        return float(operator.norm_estimate(n_iter))
    x = np.random.default_rng(seed).standard_normal(tuple(operator.domain_shape))
    estimate = 0.0
    for _ in range(int(n_iter)):
        x /= np.linalg.norm(x)
        x = np.asarray(operator.adjoint(operator.forward(x)), dtype=float)
        estimate = float(np.sqrt(np.linalg.norm(x)))
        if estimate == 0.0:
            break
    return estimate
