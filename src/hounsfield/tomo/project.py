"""Forward projection and its exact adjoint (backprojection): Joseph's ray-driven method.

A ray is traced through the image in continuous *index* space, one index
plane at a time along its driving axis (the axis its direction follows most
closely), interpolating linearly (2D) or bilinearly (3D) in the other axes
and weighting every sample by the world length of one step, in mm (P. M.
Joseph, "An improved algorithm for reprojecting rays through pixel images",
IEEE TMI 1(3):192–196, 1982). Because the ray is mapped into index space by
the grid's own affine, anisotropic voxels and any (oblique) Volume direction
need nothing special. Outside the grid the image is zero, and border samples
interpolate against that zero.

:func:`backproject` is the exact transpose of :func:`project` for the same
arguments: ⟨A x, y⟩ = ⟨x, Aᵀ y⟩ to float32 rounding. :class:`Projector` holds
the pair as a linear operator for iterative reconstruction.

Units: image values times mm. With μ in 1/mm the projections are the
dimensionless line integrals ``-log(I / I0)``.

Memory: besides input and output, a forward projection holds one float32
copy of the image inside a thin zero border (three voxels per axis): a 512³
cone-beam projection of a float32 volume needs input + 1.02 × input +
output. A backprojection holds one such padded accumulator besides the image
it returns. A single 2D image is held twice (as rows along y and along x)
because its kernels run faster so. Kernels compute each ray from the
per-view vectors: nothing the size of all rays is ever made.
"""

from __future__ import annotations

import numbers

import numpy as np
from numba import get_num_threads

from ..volume import Volume
from . import _joseph
from ._joseph import ARC_ALONG, ARC_RISE, ARC_TANGENT, BIG, DETECTOR, N_VECTOR_ROWS, SOURCE, U, V
from .geometry import Geometry
from .grid import ImageGrid

__all__ = ["project", "backproject", "Projector"]


def project(image, geometry: Geometry, spacing_mm=None) -> np.ndarray:
    """Forward-project an image: line integrals along every ray of ``geometry`` (Joseph's method).

    Parameters
    ----------
    image : ndarray (ny, nx) or (nz, ny, nx), or Volume
        Values per voxel (μ in 1/mm for physical projections). A plain array
        is centred on the origin (the rotation axis); a Volume is placed by
        its own spacing, origin and direction (the tomography frame is then
        its LPS world frame).
    geometry : Geometry
        A 2D geometry projects a 2D image, or a 3D image slice by slice
        (each axial slice through the same 2D scan); a 3D geometry projects
        a 3D image.
    spacing_mm : float or sequence of float, optional
        Voxel size of a plain array in array order, mm (default 1 mm). Not
        allowed with a Volume.

    Returns
    -------
    ndarray, float32
        (views, n_det) for a 2D image; (nz, views, n_det) for a 3D image in
        a 2D geometry; (views, rows, cols) in a 3D geometry. Values × mm.

    Examples
    --------
    >>> from hounsfield.tomo import parallel_beam
    >>> image = np.zeros((5, 5), np.float32); image[2, 3] = 1.0  # at x = 1 mm, y = 0
    >>> project(image, parallel_beam(2, 5)).tolist()  # views at 0° and 90°: s = x cos θ + y sin θ
    [[0.0, 0.0, 0.0, 1.0, 0.0], [0.0, 0.0, 1.0, 0.0, 0.0]]
    """
    placement = image if isinstance(image, Volume) else _array(image, "image").shape
    return Projector(geometry, placement, spacing_mm).forward(image)


def backproject(projections, geometry: Geometry, shape_or_volume, spacing_mm=None) -> np.ndarray:
    """The exact adjoint of :func:`project`: smear projections back along their rays.

    Not a reconstruction (that is filtered backprojection): ``backproject``
    is the transpose Aᵀ of the projection matrix A, so that
    ``<project(x), y> == <x, backproject(y)>`` for the same arguments.

    Parameters
    ----------
    projections : ndarray
        Of the shape that :func:`project` returns for this geometry and image.
    geometry : Geometry
        As for :func:`project`.
    shape_or_volume : tuple of int, Volume or ImageGrid
        The image shape (a plain array centred on the origin), or a Volume
        (or ImageGrid) that places it.
    spacing_mm : float or sequence of float, optional
        Voxel size for a plain shape, array order, mm (default 1 mm).

    Returns
    -------
    ndarray, float32
        The image, (ny, nx) or (nz, ny, nx).

    Examples
    --------
    >>> from hounsfield.tomo import parallel_beam
    >>> geometry = parallel_beam(4, 5)
    >>> x = np.random.default_rng(0).random((5, 5))
    >>> y = np.random.default_rng(1).random((4, 5))
    >>> lhs = float(np.vdot(project(x, geometry), y))
    >>> rhs = float(np.vdot(x, backproject(y, geometry, (5, 5))))
    >>> abs(lhs - rhs) < 1e-5 * abs(lhs)
    True
    """
    return Projector(geometry, shape_or_volume, spacing_mm).adjoint(projections)


class Projector:
    """Joseph's ray-driven projector A as a linear operator, with its exact adjoint Aᵀ.

    Parameters
    ----------
    geometry : Geometry
        The scan.
    shape_or_volume : tuple of int, Volume or ImageGrid
        The image: a shape (centred on the origin), or a Volume or ImageGrid
        that places it. With a 2D geometry a 3D image is projected slice by
        slice.
    spacing_mm : float or sequence of float, optional
        Voxel size for a plain shape, array order, mm (default 1 mm).

    Attributes
    ----------
    domain_shape : tuple
        Shape of the images.
    range_shape : tuple
        Shape of the projections; its first axis is the view axis except for
        slice-by-slice scans, (nz, views, n_det).

    Notes
    -----
    Kernels run on numba's threads (``numba.set_num_threads``). The forward
    projection splits rays over threads. The adjoint splits the image
    instead, so that no two threads write the same voxel: by planes for a 2D
    image (held as rows along y and rows along x), and by slabs along array
    axis 0, even slabs then odd slabs, for stacks and volumes. Neither keeps
    per-thread copies of the image. The first call compiles the kernels
    (about 20 s) unless numba's on-disk cache holds them.

    Examples
    --------
    >>> from hounsfield.tomo import fan_beam
    >>> A = Projector(fan_beam(90, 48, 2.0, sod_mm=200, sdd_mm=400), (32, 32))
    >>> A.domain_shape, A.range_shape, A.T.range_shape
    ((32, 32), (90, 48), (32, 32))
    >>> A(np.ones((32, 32))).shape
    (90, 48)
    """

    def __init__(self, geometry: Geometry, shape_or_volume, spacing_mm=None):
        if not isinstance(geometry, Geometry):
            raise TypeError(f"geometry must be a hounsfield Geometry, got "
                            f"{type(geometry).__name__}")
        self.geometry = geometry
        self._placement, self._spacing_mm = shape_or_volume, spacing_mm
        grid = _grid(shape_or_volume, spacing_mm)
        if geometry.ndim == 3 and grid.ndim != 3:
            raise ValueError(f"a 3D geometry needs a 3D image (nz, ny, nx), got shape {grid.shape}")
        self._mode = "3d" if geometry.ndim == 3 else ("2d" if grid.ndim == 2 else "batch")
        self.grid = grid
        scan_grid = grid.axial_slice() if self._mode == "batch" else grid
        self._vectors, self._gamma_step = _index_space_vectors(geometry, scan_grid)
        self._metric = _metric(scan_grid)
        self.domain_shape = tuple(grid.shape)
        slices = (grid.shape[0],) if self._mode == "batch" else ()
        self.range_shape = (*slices, *geometry.projection_shape)

    def __repr__(self) -> str:
        return f"Projector({self.geometry!r}, {self.domain_shape} -> {self.range_shape})"

    def __call__(self, x) -> np.ndarray:
        return self.forward(x)

    @property
    def T(self) -> _Transposed:  # noqa: N802 - the usual name of a transpose
        """The transposed operator Aᵀ (forward and adjoint swapped)."""
        return _Transposed(self)

    def forward(self, x) -> np.ndarray:
        """A x: the projections of image ``x`` (array of ``domain_shape``, or its Volume)."""
        image = self._domain_array(x)
        out = np.empty(self.range_shape, np.float32)
        if self._mode == "2d":
            _joseph.forward_2d(_padded(image), _padded(image.T), *self._kernel_args(), out)
        elif self._mode == "batch":
            _joseph.forward_batch(_padded(image, slices_last=True), *self._kernel_args(), out)
        else:
            _joseph.forward_3d(_padded(image), *self._kernel_args(), out)
        return out

    def adjoint(self, y) -> np.ndarray:
        """Aᵀ y: the exact adjoint of :meth:`forward`, an image of ``domain_shape``."""
        projections = np.ascontiguousarray(_array(y, "y", self.range_shape), dtype=np.float32)
        if self._mode == "2d":
            rows_y = _zeros_padded(self.domain_shape)
            rows_x = _zeros_padded(self.domain_shape[::-1])
            # One chunk of planes per thread: each chunk sets up every ray again.
            _joseph.adjoint_2d(projections, *self._kernel_args(), get_num_threads(),
                               rows_y, rows_x)
            return _unpadded(rows_y) + _unpadded(rows_x).T
        batch = self._mode == "batch"
        padded = _zeros_padded(self.domain_shape, slices_last=batch)
        kernel = _joseph.adjoint_batch if batch else _joseph.adjoint_3d
        kernel(projections, *self._kernel_args(), _slab_bounds(padded.shape[0]), padded)
        return _unpadded(padded, slices_last=batch)

    def norm_estimate(self, n_iter: int = 20, *, seed: int = 0) -> float:
        """Largest singular value ‖A‖₂, by ``n_iter`` power iterations on AᵀA (from below).

        >>> from hounsfield.tomo import parallel_beam
        >>> A = Projector(parallel_beam(60, 24), (16, 16))
        >>> 0 < A.norm_estimate(10) <= float(np.sqrt(60 * 16 * 16))
        True
        """
        return _power_iteration(self.forward, self.adjoint, self.domain_shape, n_iter, seed)

    def subset(self, views) -> Projector:
        """The projector of some views only (indices into the geometry's views), same image."""
        return Projector(self.geometry.select_views(views), self._placement, self._spacing_mm)

    # -- helpers ---------------------------------------------------------------------

    def _kernel_args(self) -> tuple:
        return (self._vectors, self._gamma_step, self._metric, self.geometry.kind == "cone",
                bool(self.geometry.curved))

    def _domain_array(self, x) -> np.ndarray:
        if isinstance(x, Volume):
            if not _same_grid(ImageGrid.of(x), self.grid):
                raise ValueError("x is a Volume on another grid than the projector's; build the "
                                 "Projector from this Volume")
            x = x.array
        return _array(x, "x", self.domain_shape)


class _Transposed:
    """Aᵀ of a :class:`Projector` as an operator of its own (forward and adjoint swapped)."""

    def __init__(self, projector: Projector):
        self._projector = projector
        self.domain_shape = projector.range_shape
        self.range_shape = projector.domain_shape

    def __repr__(self) -> str:
        return f"{self._projector!r}.T"

    def __call__(self, y) -> np.ndarray:
        return self.forward(y)

    @property
    def T(self) -> Projector:  # noqa: N802
        return self._projector

    def forward(self, y) -> np.ndarray:
        return self._projector.adjoint(y)

    def adjoint(self, x) -> np.ndarray:
        return self._projector.forward(x)

    def norm_estimate(self, n_iter: int = 20, *, seed: int = 0) -> float:
        """‖Aᵀ‖₂ = ‖A‖₂."""
        return self._projector.norm_estimate(n_iter, seed=seed)


# -- set-up (numpy, once per projector) -------------------------------------------------


def _grid(shape_or_volume, spacing_mm) -> ImageGrid:
    if isinstance(shape_or_volume, ImageGrid | Volume):
        if spacing_mm is not None:
            raise ValueError("spacing_mm must be None when the image is placed by a Volume or "
                             f"ImageGrid, got {spacing_mm!r}")
        return shape_or_volume if isinstance(shape_or_volume, ImageGrid) \
            else ImageGrid.of(shape_or_volume)
    shape = tuple(shape_or_volume) if isinstance(shape_or_volume, tuple | list) else None
    if shape is None or len(shape) not in (2, 3) or not all(
            isinstance(n, numbers.Integral) and n >= 1 for n in shape):
        raise ValueError(f"shape_or_volume must be a shape (ny, nx) or (nz, ny, nx) of positive "
                         f"integers, a Volume or an ImageGrid, got {shape_or_volume!r}")
    if spacing_mm is not None:
        spacing = np.atleast_1d(np.asarray(spacing_mm, dtype=float))
        if spacing.size not in (1, len(shape)) or not np.all(np.isfinite(spacing)) \
                or np.any(spacing <= 0):
            raise ValueError(f"spacing_mm must be one or {len(shape)} positive numbers of mm "
                             f"(array order), got {spacing_mm!r}")
    return ImageGrid.of(shape, spacing_mm)


def _index_space_vectors(geometry: Geometry, grid: ImageGrid) -> tuple[np.ndarray, np.ndarray]:
    """The per-view vectors mapped into the grid's continuous index space (array order).

    Returns ``vectors`` (views, 6, ndim), rows named in :mod:`._joseph`,
    and ``gamma_step`` (views,), the fan angle between curved-detector columns.
    """
    to_index = grid.world_to_index_matrix
    linear, shift = to_index[:-1, :-1], to_index[:-1, -1]
    vectors = np.zeros((geometry.n_views, N_VECTOR_ROWS, grid.ndim))
    is_cone = geometry.kind == "cone"
    vectors[:, SOURCE] = geometry.source @ linear.T + (shift if is_cone else 0.0)
    vectors[:, DETECTOR] = geometry.detector @ linear.T + shift
    vectors[:, U] = geometry.u @ linear.T
    if geometry.v is not None:
        vectors[:, V] = geometry.v @ linear.T
    gamma_step = np.zeros(geometry.n_views)
    if geometry.curved:
        # The arc about the source, lifted along v by the row offset (as Geometry.pixel_centers).
        rise = geometry.arc_rise()
        central = geometry.detector - geometry.source - rise
        radius = np.linalg.norm(central, axis=1, keepdims=True)
        u_length = np.linalg.norm(geometry.u, axis=1, keepdims=True)
        vectors[:, ARC_RISE] = rise @ linear.T
        vectors[:, ARC_ALONG] = central @ linear.T
        vectors[:, ARC_TANGENT] = (radius * geometry.u / u_length) @ linear.T
        gamma_step = u_length[:, 0] / geometry.sdd_mm
    return vectors, gamma_step


def _metric(grid: ImageGrid) -> np.ndarray:
    """Gram matrix G of index→world, so that a step e in index space is sqrt(eᵀGe) mm long."""
    to_world = grid.index_to_world_matrix[:-1, :-1]
    return to_world.T @ to_world


def _slab_bounds(n_padded: int) -> np.ndarray:
    """Bounds along padded axis 0 of the slabs that the adjoint kernels fill in parallel.

    Four slabs per thread (two per phase), each at least MIN_SLAB thick, or
    one slab for one thread (every slab sets up every ray again); the outer
    bounds are open so that every sample belongs to a slab.
    """
    threads = get_num_threads()
    n_slabs = 1 if threads == 1 else max(1, min(4 * threads, n_padded // _joseph.MIN_SLAB))
    bounds = (np.arange(n_slabs + 1) * n_padded // n_slabs).astype(float)
    bounds[0], bounds[-1] = -BIG, BIG
    return bounds


def _zeros_padded(shape, slices_last: bool = False) -> np.ndarray:
    """A float32 zero array with room for the kernels' padding around an image of ``shape``.

    A stack of slices projected slice by slice is padded in-plane only, with
    its slices last so that the kernels read them contiguously.
    """
    pad = _joseph.PAD_BEFORE + _joseph.PAD_AFTER
    if slices_last:
        return np.zeros((shape[1] + pad, shape[2] + pad, shape[0]), np.float32)
    return np.zeros(tuple(n + pad for n in shape), np.float32)


def _interior(padded: np.ndarray, slices_last: bool = False) -> tuple:
    first = _joseph.PAD_BEFORE
    padded_axes = padded.shape[:-1] if slices_last else padded.shape
    return tuple(slice(first, n - _joseph.PAD_AFTER) for n in padded_axes)


def _padded(image: np.ndarray, slices_last: bool = False) -> np.ndarray:
    """A float32 copy of ``image`` inside zero padding (see :func:`_zeros_padded`)."""
    padded = _zeros_padded(image.shape, slices_last)
    padded[_interior(padded, slices_last)] = np.moveaxis(image, 0, -1) if slices_last else image
    return padded


def _unpadded(padded: np.ndarray, slices_last: bool = False) -> np.ndarray:
    interior = padded[_interior(padded, slices_last)]
    return np.ascontiguousarray(np.moveaxis(interior, -1, 0) if slices_last else interior)


def _array(x, name: str, shape: tuple | None = None) -> np.ndarray:
    """``x`` as a real numeric ndarray (not copied), of ``shape`` when given."""
    array = np.asarray(x)
    if not (np.issubdtype(array.dtype, np.floating) or np.issubdtype(array.dtype, np.integer)
            or array.dtype == bool):
        raise TypeError(f"{name} must be a real numeric array, got dtype {array.dtype}")
    if shape is not None and array.shape != tuple(shape):
        raise ValueError(f"{name} must have shape {tuple(shape)} for this projector, "
                         f"got {array.shape}")
    if shape is None and array.ndim not in (2, 3):
        raise ValueError(f"{name} must be a 2D (ny, nx) or 3D (nz, ny, nx) array, "
                         f"got shape {array.shape}")
    return array


def _same_grid(a: ImageGrid, b: ImageGrid, tol: float = 1e-6) -> bool:
    return (tuple(a.shape) == tuple(b.shape)
            and np.allclose(a.index_to_world_matrix, b.index_to_world_matrix, atol=tol))


def _power_iteration(forward, adjoint, shape, n_iter, seed) -> float:
    if not isinstance(n_iter, numbers.Integral) or n_iter < 1:
        raise ValueError(f"n_iter must be a positive integer, got {n_iter!r}")
    x = np.random.default_rng(seed).standard_normal(shape)
    estimate = 0.0
    for _ in range(int(n_iter)):
        x /= np.linalg.norm(x)
        x = np.asarray(adjoint(forward(x)), dtype=float)
        estimate = float(np.sqrt(np.linalg.norm(x)))
        if estimate == 0.0:
            break
    return estimate
