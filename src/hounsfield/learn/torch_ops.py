"""Projectors as differentiable PyTorch operations (the optional ``learn`` extra).

* :func:`apply_operator` applies any hounsfield operator (see
  :mod:`hounsfield.tomo.operators`) to a tensor, as a
  :class:`torch.autograd.Function` whose backward pass is the exact adjoint:
  the gradient of ``A x`` with respect to ``x`` is ``Aᵀ`` applied to the
  incoming gradient (and the backward pass is itself differentiable).
* :class:`ForwardProjection` and :class:`BackProjection` are modules holding
  the projector ``A`` and its adjoint ``Aᵀ`` of a geometry and image grid;
  :class:`FilteredBackProjection` reconstructs sinograms inside a network.

Tensors carry any leading batch dimensions before the operator's shape:
``(*batch, *domain_shape) -> (*batch, *range_shape)``. The projector runs on
the CPU (numba kernels) in float32: inputs are moved to the CPU and cast
inside, and results come back in the input's dtype and on its device.

Importing this module needs PyTorch: ``pip install "hounsfield[learn]"``.
"""

from __future__ import annotations

import numpy as np

try:
    import torch
except ImportError as error:  # pragma: no cover - depends on the installation
    raise ImportError('hounsfield.learn.torch_ops needs PyTorch; install it with '
                      'pip install "hounsfield[learn]"') from error

from ..tomo.operators import adjoint_of, check_operator

__all__ = ["apply_operator", "OperatorLayer", "ForwardProjection", "BackProjection",
           "FilteredBackProjection"]


def _apply_numpy(function, x: torch.Tensor, in_shape: tuple, out_shape: tuple) -> torch.Tensor:
    """Apply a numpy function of one item to every item of a batched tensor.

    Half-precision inputs (bfloat16 or float16 under autocast) are computed in float32.
    """
    n_inner = len(in_shape)
    if x.dim() < n_inner or tuple(x.shape[x.dim() - n_inner:]) != tuple(in_shape):
        raise ValueError(f"input must have shape (*batch, {', '.join(map(str, in_shape))}), "
                         f"got {tuple(x.shape)}")
    batch = tuple(x.shape[:x.dim() - n_inner])
    if x.dtype in (torch.bfloat16, torch.float16):
        x = x.float()
    items = x.detach().cpu().numpy().reshape(-1, *in_shape)
    results = np.empty((items.shape[0], *out_shape), dtype=items.dtype)
    for index, item in enumerate(items):
        results[index] = function(item)
    return torch.from_numpy(results).to(device=x.device).reshape(*batch, *out_shape)


class _LinearOperatorFunction(torch.autograd.Function):
    """``A x`` forward, ``Aᵀ g`` backward (through this same Function, so twice differentiable)."""

    @staticmethod
    def forward(ctx, x, operator):
        ctx.operator = operator
        return _apply_numpy(operator.forward, x, tuple(operator.domain_shape),
                            tuple(operator.range_shape))

    @staticmethod
    def backward(ctx, grad_output):
        return _LinearOperatorFunction.apply(grad_output, adjoint_of(ctx.operator)), None


def apply_operator(x: torch.Tensor, operator) -> torch.Tensor:
    """``A x`` for a tensor, differentiable with the exact adjoint as its gradient.

    Parameters
    ----------
    x : Tensor (*batch, *operator.domain_shape)
        Real floating-point, any device (computed on the CPU).
    operator : operator
        Anything with ``domain_shape``, ``range_shape``, ``forward`` and
        ``adjoint`` (:class:`~hounsfield.tomo.project.Projector`,
        :class:`~hounsfield.tomo.operators.MatrixOperator`, ...); pass
        ``operator.T`` for the adjoint.

    Returns
    -------
    Tensor (*batch, *operator.range_shape)
        In ``x``'s dtype and on its device.

    Examples
    --------
    >>> from hounsfield.tomo.operators import MatrixOperator
    >>> A = MatrixOperator(np.array([[1.0, 2.0], [0.0, 3.0]]))
    >>> x = torch.tensor([1.0, 1.0], dtype=torch.float64, requires_grad=True)
    >>> apply_operator(x, A).sum().backward()
    >>> x.grad.tolist()  # Aᵀ 1
    [1.0, 5.0]
    """
    check_operator(operator)
    if not torch.is_tensor(x) or not x.is_floating_point() or x.is_complex():
        raise TypeError(f"x must be a real floating-point torch tensor, got "
                        f"{type(x).__name__}{'' if not torch.is_tensor(x) else ' ' + str(x.dtype)}")
    return _LinearOperatorFunction.apply(x, operator)


class OperatorLayer(torch.nn.Module):
    """A fixed (not learned) linear operator as a layer: ``forward(x) = A x``.

    Parameters
    ----------
    operator : operator
        See :func:`apply_operator`.
    adjoint : bool
        Apply ``Aᵀ`` instead.

    >>> from hounsfield.tomo.operators import MatrixOperator
    >>> layer = OperatorLayer(MatrixOperator(np.eye(3)[:2]), adjoint=True)
    >>> layer(torch.ones(4, 2)).shape  # a batch of 4
    torch.Size([4, 3])
    """

    def __init__(self, operator, adjoint: bool = False):
        super().__init__()
        check_operator(operator)
        self.operator = adjoint_of(operator) if adjoint else operator

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return apply_operator(x, self.operator)

    def extra_repr(self) -> str:
        return repr(self.operator)


def _projector(geometry, shape, spacing_mm):
    from ..tomo.project import Projector

    return Projector(geometry, shape, spacing_mm)


class ForwardProjection(OperatorLayer):
    """Forward projection ``A`` (Joseph's method) of images to projections, differentiable.

    Parameters
    ----------
    geometry : Geometry
        The scan (:mod:`hounsfield.tomo.geometry`).
    shape : tuple of int, Volume or ImageGrid
        The image grid, as for :class:`~hounsfield.tomo.project.Projector`:
        a shape (ny, nx) or (nz, ny, nx) is centred on the rotation axis.
    spacing_mm : float or sequence of float, optional
        Pixel size for a plain shape, array order, mm (default 1 mm).

    Input ``(*batch, *shape)`` (μ in 1/mm); output ``(*batch, *projection_shape)``.

    Examples
    --------
    >>> from hounsfield.tomo import parallel_beam
    >>> project = ForwardProjection(parallel_beam(30, 24), (16, 16))
    >>> project(torch.ones(2, 16, 16)).shape
    torch.Size([2, 30, 24])
    """

    def __init__(self, geometry, shape, spacing_mm=None):
        super().__init__(_projector(geometry, shape, spacing_mm))


class BackProjection(OperatorLayer):
    """Backprojection ``Aᵀ``, the exact adjoint of :class:`ForwardProjection` (no filtering).

    Same parameters as :class:`ForwardProjection`; input
    ``(*batch, *projection_shape)``, output ``(*batch, *shape)``.

    >>> from hounsfield.tomo import parallel_beam
    >>> BackProjection(parallel_beam(30, 24), (16, 16))(torch.ones(30, 24)).shape
    torch.Size([16, 16])
    """

    def __init__(self, geometry, shape, spacing_mm=None):
        super().__init__(_projector(geometry, shape, spacing_mm), adjoint=True)


class _NotDifferentiable(torch.autograd.Function):
    """A numpy reconstruction in a graph, whose backward pass explains why it has none."""

    @staticmethod
    def forward(ctx, x, function, in_shape, out_shape):
        return _apply_numpy(function, x, in_shape, out_shape)

    @staticmethod
    def backward(ctx, grad_output):
        raise RuntimeError("FilteredBackProjection is differentiable for 2D parallel beams only; "
                           "for fan and cone beams it runs fbp/fdk without a gradient "
                           "(use BackProjection, or a parallel-beam geometry)")


class FilteredBackProjection(torch.nn.Module):
    """Filtered backprojection as a fixed layer: sinograms in, μ images out.

    For 2D **parallel beams** the layer is differentiable: each view is
    weighted (angular step, and 1/2 for a full turn) and ramp filtered with
    ``torch.fft`` using the response of :func:`hounsfield.tomo.filters.filter_response`,
    then backprojected with the projector's exact adjoint ``Aᵀ`` scaled by
    ``detector pitch / pixel area`` (a detector coarser than the pixels is
    first interpolated linearly onto a pitch of at most one pixel, because
    ``Aᵀ`` feeds each pixel only from the rays that pass near it). It is a
    linear map whose gradient is its exact transpose; it agrees with
    :func:`hounsfield.tomo.fbp.fbp` to a few per cent pixel by pixel inside
    the object, and better on average (their backprojections interpolate
    differently).

    For **fan and cone beams** the distance weights of FBP/FDK are not a
    scaled ``Aᵀ``: the layer runs :func:`~hounsfield.tomo.fbp.fbp` or
    :func:`~hounsfield.tomo.fbp.fdk` and is *not* differentiable (its
    backward pass raises a RuntimeError).

    Parameters
    ----------
    geometry : Geometry
        A circular scan: 2D parallel or fan beam, or a 3D cone beam.
    shape : tuple of int, Volume or ImageGrid
        The image grid, placed as for :class:`ForwardProjection`.
    spacing_mm : float or sequence of float, optional
        Pixel size for a plain shape, mm (default 1 mm, as the projector's).
    filter : {"ramp", "shepp-logan", "cosine", "hamming", "hann"}
        Window on the ramp.
    cutoff : float
        Frequency cut-off as a fraction of the detector's Nyquist frequency.
    padding : bool
        Zero-pad rows to a fast FFT length ≥ twice their length less one.

    Examples
    --------
    >>> from hounsfield.tomo import parallel_beam
    >>> geometry = parallel_beam(90, 48)
    >>> project, reconstruct = ForwardProjection(geometry, (32, 32)), \\
    ...     FilteredBackProjection(geometry, (32, 32))
    >>> disc = (torch.cartesian_prod(torch.arange(32.0), torch.arange(32.0)) - 15.5).norm(dim=1)
    >>> image = (disc < 10).double().reshape(32, 32) * 0.02
    >>> round(float(reconstruct(project(image))[16, 16]), 3)
    0.02
    """

    def __init__(self, geometry, shape, spacing_mm=None, filter: str = "ramp",
                 cutoff: float = 1.0, padding: bool = True):
        super().__init__()
        if geometry.kind == "parallel" and geometry.ndim == 3:
            raise ValueError("FilteredBackProjection takes 2D parallel or fan beams, or cone "
                             "beams; scan a volume slice by slice with a 2D parallel geometry")
        projector = _projector(geometry, shape, spacing_mm)
        self.projector = projector
        self.differentiable = geometry.kind == "parallel" and geometry.ndim == 2
        if self.differentiable:
            self._set_up_parallel(projector, (shape, spacing_mm), filter, cutoff, padding)
        else:
            self._reconstruct = _numpy_reconstruction(projector, filter, cutoff, padding)

    def _set_up_parallel(self, projector, placement, filter, cutoff, padding) -> None:
        from ..tomo._fbp_geometry import circular_scan
        from ..tomo.filters import filter_response, padded_length
        from ..tomo.weights import redundancy_weights, view_scales

        geometry = projector.geometry
        scan = circular_scan(geometry, ndim=2)
        n_det = geometry.det_shape[-1]
        weights = redundancy_weights(scan) * view_scales(scan)[:, None]
        response = filter_response(n_det, scan.pitch_mm, filter, cutoff, padding)
        self.register_buffer("view_weights", torch.from_numpy(weights))
        self.register_buffer("response", torch.from_numpy(response))
        self.fft_length = padded_length(n_det, padding)
        # Joseph's adjoint feeds each pixel from the rays passing within a pixel of it:
        # rays must be at most a pixel apart, so a coarse detector is upsampled first.
        in_plane_mm = projector.grid.spacing_mm[-2:]
        factor = max(1, int(np.ceil(scan.pitch_mm / min(in_plane_mm) - 1e-6)))
        self.register_buffer("upsample", torch.from_numpy(_linear_upsampling(n_det, factor)))
        fine = _projector(_finer_detector(geometry, factor), *placement)
        self.adjoint = adjoint_of(fine)
        self.scale = scan.pitch_mm / factor / float(np.prod(in_plane_mm))

    def forward(self, sinogram: torch.Tensor) -> torch.Tensor:
        range_shape = tuple(self.projector.range_shape)
        inner = tuple(sinogram.shape[sinogram.dim() - len(range_shape):])
        if inner != range_shape:
            raise ValueError(f"sinogram must have shape (*batch, "
                             f"{', '.join(map(str, range_shape))}), got {tuple(sinogram.shape)}")
        if not self.differentiable:
            return _NotDifferentiable.apply(sinogram, self._reconstruct, range_shape,
                                            tuple(self.projector.domain_shape))
        fine = self._filtered(sinogram) @ self.upsample.to(sinogram.dtype)
        return self.scale * apply_operator(fine, self.adjoint)

    def _filtered(self, sinogram: torch.Tensor) -> torch.Tensor:
        n_det = sinogram.shape[-1]
        weighted = sinogram * self.view_weights.to(sinogram.dtype)
        spectrum = torch.fft.rfft(weighted, n=self.fft_length, dim=-1)
        spectrum = spectrum * self.response.to(sinogram.dtype)
        return torch.fft.irfft(spectrum, n=self.fft_length, dim=-1)[..., :n_det]

    def extra_repr(self) -> str:
        kind = "differentiable" if self.differentiable else "not differentiable"
        return f"{self.projector!r}, {kind}"


def _linear_upsampling(n_det: int, factor: int) -> np.ndarray:
    """(n_det, n_det·factor) matrix interpolating detector columns linearly onto a finer pitch."""
    fine = np.arange(n_det * factor)
    position = (fine - (n_det * factor - 1) / 2) / factor + (n_det - 1) / 2  # in coarse columns
    left = np.floor(position).astype(int)
    fraction = position - left
    matrix = np.zeros((n_det, fine.size))
    for column, weight in ((left, 1 - fraction), (left + 1, fraction)):
        inside = (column >= 0) & (column < n_det)
        matrix[column[inside], fine[inside]] = weight[inside]
    return matrix


def _finer_detector(geometry, factor: int):
    """The same scan with each detector column split into ``factor`` columns."""
    from ..tomo.geometry import Geometry

    if factor == 1:
        return geometry
    return Geometry(geometry.kind, geometry.source, geometry.detector, geometry.u / factor,
                    det_shape=(geometry.det_shape[-1] * factor,), angles_rad=geometry.angles_rad)


def _numpy_reconstruction(projector, filter, cutoff, padding):
    """fbp (2D geometries) or fdk (3D) on the projector's grid, as a numpy function."""
    from ..tomo.fbp import fbp, fdk

    method = fdk if projector.geometry.ndim == 3 else fbp

    def reconstruct(projections):
        return method(projections, projector.geometry, projector.grid, filter=filter,
                      cutoff=cutoff, padding=padding)

    return reconstruct
