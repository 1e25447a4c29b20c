"""Apply a trained enhancement network to whole CT volumes or to measured sinograms.

:func:`enhance` runs an image-domain network (a
:class:`~hounsfield.learn.checkpoints.TrainedModel`) over every axial slice
of a degraded CT — or over slabs of neighbouring slices when the network
was trained on slabs, repeating the end slices — a batch of slices at a
time, and returns the enhanced CT in HU on the same grid.
:func:`enhance_sinogram` first reconstructs line integrals by FBP with the
filter of the network's training scans, then enhances.

On the CPU the network runs in channels-last memory order, which PyTorch's
CPU convolutions run about twice as fast.

Importing this module needs PyTorch: ``pip install "hounsfield[learn]"``.
"""

from __future__ import annotations

import numpy as np

try:
    import torch
except ImportError as error:  # pragma: no cover - depends on the installation
    raise ImportError('hounsfield.learn.inference needs PyTorch; install it with '
                      'pip install "hounsfield[learn]"') from error

from ..progress import progress_bar
from ..simulate import physics
from ..simulate.nict import ScanSettings
from ..volume import Volume
from .checkpoints import TrainedModel
from .datasets import denormalise_hu, normalise_hu
from .models import memory_format

__all__ = ["enhance", "enhance_slices", "enhance_sinogram", "slab_indices"]


def slab_indices(n_slices: int, slab: int) -> np.ndarray:
    """(n_slices, slab) indices of each slice's neighbours, the ends repeated.

    >>> slab_indices(3, 3).tolist()
    [[0, 0, 1], [0, 1, 2], [1, 2, 2]]
    """
    half = slab // 2
    return np.clip(np.arange(n_slices)[:, None] + np.arange(-half, half + 1), 0, n_slices - 1)


def enhance_slices(model: TrainedModel, hu: np.ndarray, *, batch_size: int = 1,
                   progress: bool = False) -> np.ndarray:
    """Enhance a stack of degraded slices ``(n, H, W)`` in HU; returns float32 HU, same shape.

    Parameters
    ----------
    model : TrainedModel
        An image-domain network (``input_kind == "image"``) with its metadata.
    hu : ndarray (n, H, W)
        Degraded slices (neighbours in order when the network takes slabs).
    batch_size : int
        Slices per forward pass.
    progress : bool
        Show a progress bar on stderr.

    Examples
    --------
    >>> from hounsfield.learn.models import ResidualUNet
    >>> untrained = TrainedModel(ResidualUNet(1, 4, 2).eval(), {"hu_window": [-1024, 2048]})
    >>> slices = np.full((2, 8, 8), 40.0, np.float32)
    >>> bool(np.allclose(enhance_slices(untrained, slices), 40.0))  # untrained: the identity
    True
    """
    network, window, slab = _checked_model(model)
    hu = _checked_slices(hu)
    if not (isinstance(batch_size, int) and batch_size >= 1):
        raise ValueError(f"batch_size must be an integer >= 1, got {batch_size!r}")
    device = next(network.parameters()).device
    layout = memory_format(network, device)
    network = network.to(memory_format=layout)
    neighbours = slab_indices(hu.shape[0], slab)
    enhanced = np.empty_like(hu)
    with torch.inference_mode(), progress_bar(progress, hu.shape[0], "enhancing") as advance:
        for start in range(0, hu.shape[0], batch_size):
            stop = min(start + batch_size, hu.shape[0])
            x = torch.from_numpy(normalise_hu(hu[neighbours[start:stop]], window))
            x = x.to(device).contiguous(memory_format=layout)
            enhanced[start:stop] = denormalise_hu(network(x)[:, 0].float().cpu().numpy(), window)
            advance(stop - start)
    return enhanced


def enhance(ct: Volume, model: TrainedModel, *, batch_size: int = 1,
            progress: bool = False) -> Volume:
    """Enhance every axial slice of a degraded CT; the result on the same grid, float32 HU.

    Examples
    --------
    >>> from hounsfield.learn.models import ResidualUNet
    >>> untrained = TrainedModel(ResidualUNet(1, 4, 2).eval(), {"hu_window": [-1024, 2048]})
    >>> ct = Volume(np.zeros((2, 8, 8), np.float32), spacing_mm=(2.5, 0.7, 0.7))
    >>> enhance(ct, untrained).shape
    (2, 8, 8)
    """
    if not isinstance(ct, Volume):
        raise TypeError(f"ct must be a hounsfield Volume, got {type(ct).__name__}")
    if ct.is_label_map or not np.issubdtype(ct.array.dtype, np.floating):
        raise ValueError("ct must be a CT in HU (a float Volume), not a label map")
    enhanced = enhance_slices(model, ct.array, batch_size=batch_size, progress=progress)
    meta = {**ct.meta, "enhanced_by": str(model.path or "a hounsfield network")}
    return ct.with_array(enhanced, meta=meta)


def enhance_sinogram(sinogram: np.ndarray, geometry, grid, model: TrainedModel, *,
                     batch_size: int = 1, progress: bool = False) -> np.ndarray:
    """FBP of 2D line integrals ``(slices, views, columns)`` with the training scans' filter,
    in HU at their energy, then :func:`enhance_slices`; returns ``(slices, H, W)`` HU.
    """
    from ..tomo.fbp import fbp

    scan = ScanSettings.from_dict(model.metadata.get("scan", {}))
    if scan.polychromatic:
        raise ValueError("the network was trained on polychromatic scans; give it the "
                         "reconstructed CT instead of line integrals")
    mu = fbp(sinogram, geometry, grid, filter=scan.filter)
    hu = physics.mu_to_hu(np.asarray(mu, np.float32), scan.energy_kev).astype(np.float32)
    return enhance_slices(model, hu.reshape(-1, *hu.shape[-2:]), batch_size=batch_size,
                          progress=progress)


def _checked_model(model) -> tuple[torch.nn.Module, tuple[float, float], int]:
    if not isinstance(model, TrainedModel):
        raise TypeError(f"model must be a TrainedModel (see load_model), got "
                        f"{type(model).__name__}")
    network = model.network
    if getattr(network, "input_kind", "image") != "image":
        raise ValueError("this network takes sinograms, not reconstructed slices")
    window = tuple(float(v) for v in model.metadata.get("hu_window", (-1024.0, 2048.0)))
    return network.eval(), window, int(getattr(network, "in_channels", 1))


def _checked_slices(hu) -> np.ndarray:
    hu = np.asarray(hu)
    if hu.ndim != 3 or min(hu.shape) < 1:
        raise ValueError(f"hu must be a stack of slices (n, H, W), got shape {hu.shape}")
    if not np.issubdtype(hu.dtype, np.number) or not np.isfinite(hu).all():
        raise ValueError("hu must hold finite CT numbers (no NaN or infinity)")
    return hu.astype(np.float32, copy=False)
