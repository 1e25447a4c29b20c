"""Apply a trained enhancement network to whole CT volumes or to measured sinograms.

:func:`enhance` runs an image-domain network (a
:class:`~hounsfield.learn.checkpoints.TrainedModel`) over every axial slice
of a degraded CT — or over slabs of neighbouring slices when the network
was trained on slabs, repeating the end slices — a batch of slices at a
time, and returns the enhanced CT in HU on the same grid.
:func:`enhance_sinogram` first reconstructs line integrals by FBP with the
filter of the network's training scans, then enhances; with a
:class:`~hounsfield.learn.cascade.ConsistencyCascade` it also runs the
consistency step and the second network (:func:`refine_slices`). A cascade
given a reconstructed CT alone runs its first network only.

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
from ..tomo.fbp import fbp
from ..tomo.grid import ImageGrid
from ..tomo.project import Projector
from ..volume import Volume
from .cascade import ConsistencyCascade, first_stage, refinement_input
from .checkpoints import TrainedModel
from .consistency import consistency_step
from .datasets import HU_WINDOW, _checked_window, denormalise_hu, normalise_hu
from .models import memory_format, mixed_precision

__all__ = ["enhance", "enhance_slices", "enhance_sinogram", "refine_slices", "slab_indices",
           "evaluation_enhancer"]


def slab_indices(n_slices: int, slab: int) -> np.ndarray:
    """(n_slices, slab) indices of each slice's neighbours, the ends repeated.

    >>> slab_indices(3, 3).tolist()
    [[0, 0, 1], [0, 1, 2], [1, 2, 2]]
    """
    half = slab // 2
    return np.clip(np.arange(n_slices)[:, None] + np.arange(-half, half + 1), 0, n_slices - 1)


def enhance_slices(model: TrainedModel, hu: np.ndarray, *, batch_size: int = 1,
                   amp: bool = True, progress: bool = False) -> np.ndarray:
    """Enhance a stack of degraded slices ``(n, H, W)`` in HU; returns float32 HU, same shape.

    Parameters
    ----------
    model : TrainedModel
        An image-domain network (``input_kind == "image"``) with its metadata.
    hu : ndarray (n, H, W)
        Degraded slices (neighbours in order when the network takes slabs).
    batch_size : int
        Slices per forward pass.
    amp : bool
        Run in bfloat16 where the device computes it natively (CUDA, CPUs
        with AVX-512 BF16 or AMX: 2.7× faster for sparse60's first network on
        such a CPU, 0.04 dB lower PSNR); False: float32 everywhere.
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
    neighbours = slab_indices(hu.shape[0], slab)
    return _run(network, window, hu.shape, lambda start, stop: normalise_hu(
        hu[neighbours[start:stop]], window), batch_size, amp, progress)


def refine_slices(model: TrainedModel, fbp_hu: np.ndarray, sinograms: np.ndarray, projector, *,
                  batch_size: int = 1, amp: bool = True, progress: bool = False) -> np.ndarray:
    """A :class:`~hounsfield.learn.cascade.ConsistencyCascade` over a stack of FBP slices.

    Parameters
    ----------
    model : TrainedModel
        A cascade and its metadata.
    fbp_hu : ndarray (n, H, W)
        The scans' FBP slices in HU (filtered as the training scans were).
    sinograms : ndarray (n, views, columns)
        Their line integrals.
    projector : Projector
        ``A`` of one slice: the scans' 2D geometry and an (H, W) grid.
    batch_size, amp, progress
        As :func:`enhance_slices`.

    Returns
    -------
    ndarray (n, H, W) float32, HU
    """
    cascade = model.network if isinstance(model, TrainedModel) else None
    if not isinstance(cascade, ConsistencyCascade):
        raise TypeError("model must be a TrainedModel holding a ConsistencyCascade")
    fbp_hu = _checked_slices(fbp_hu)
    sinograms = np.asarray(sinograms, dtype=np.float32)
    if sinograms.shape != (fbp_hu.shape[0], *projector.range_shape):
        raise ValueError(f"sinograms must be one {tuple(projector.range_shape)} sinogram per "
                         f"slice, shape {(fbp_hu.shape[0], *projector.range_shape)}, got "
                         f"{sinograms.shape}")
    energy_kev = ScanSettings.from_dict(model.metadata.get("scan", {})).energy_kev
    first = enhance_slices(first_stage(model), fbp_hu, batch_size=batch_size, amp=amp,
                           progress=progress)
    window = _hu_window(model)

    def inputs(start: int, stop: int) -> np.ndarray:
        consistent = [consistency_step(first[i], sinograms[i], projector, energy_kev,
                                       step=cascade.step, filter=cascade.filter)
                      for i in range(start, stop)]
        return refinement_input(fbp_hu[start:stop], first[start:stop], np.stack(consistent),
                                window)

    return _run(cascade.second.eval(), window, fbp_hu.shape, inputs, batch_size, amp, progress,
                "refining")


def evaluation_enhancer(model: TrainedModel, *, batch_size: int = 1, amp: bool = True):
    """The model as :func:`~hounsfield.learn.evaluation.evaluate_enhancement`'s enhancer:
    ``(enhancer, with_sinograms)`` (a cascade needs the scans' line integrals).
    """
    options = {"batch_size": batch_size, "amp": amp}
    if isinstance(model.network, ConsistencyCascade):
        return (lambda fbp, sinograms, projector: refine_slices(
            model, fbp, sinograms, projector, **options)), True
    return (lambda fbp: enhance_slices(model, fbp, **options)), False


def _run(network, window, shape, inputs, batch_size: int, amp: bool, progress: bool,
         label: str = "enhancing") -> np.ndarray:
    """The network over ``inputs(start, stop)`` (normalised, (n, C, H, W)), a batch at a time."""
    device = next(network.parameters()).device
    layout = memory_format(network, device)
    network = network.to(memory_format=layout)
    enhanced = np.empty(shape, np.float32)
    with torch.inference_mode(), mixed_precision(device, amp), \
            progress_bar(progress, shape[0], label) as advance:
        for start in range(0, shape[0], batch_size):
            stop = min(start + batch_size, shape[0])
            x = torch.from_numpy(inputs(start, stop)).to(device).contiguous(memory_format=layout)
            enhanced[start:stop] = denormalise_hu(network(x)[:, 0].float().cpu().numpy(), window)
            advance(stop - start)
    return enhanced


def enhance(ct: Volume, model: TrainedModel, *, batch_size: int = 1, amp: bool = True,
            progress: bool = False) -> Volume:
    """Enhance every axial slice of a degraded CT; the result on the same grid, float32 HU.

    A :class:`~hounsfield.learn.cascade.ConsistencyCascade` runs its first
    network only: the rest needs the scan's line integrals (:func:`enhance_sinogram`).

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
    enhanced = enhance_slices(first_stage(model), ct.array, batch_size=batch_size, amp=amp,
                              progress=progress)
    meta = {**ct.meta, "enhanced_by": str(model.path or "a hounsfield network")}
    return ct.with_array(enhanced, meta=meta)


def enhance_sinogram(sinogram: np.ndarray, geometry, grid, model: TrainedModel, *,
                     batch_size: int = 1, amp: bool = True, progress: bool = False
                     ) -> np.ndarray:
    """FBP of 2D line integrals ``(slices, views, columns)`` with the training scans' filter,
    in HU at their energy, then :func:`enhance_slices` (a cascade: :func:`refine_slices`);
    returns ``(slices, H, W)`` HU. ``grid`` is an ImageGrid or Volume (or, but for a
    cascade, a shape).
    """

    scan = ScanSettings.from_dict(model.metadata.get("scan", {}))
    if scan.polychromatic:
        raise ValueError("the network was trained on polychromatic scans; give it the "
                         "reconstructed CT instead of line integrals")
    mu = fbp(sinogram, geometry, grid, filter=scan.filter)
    hu = physics.mu_to_hu(np.asarray(mu, np.float32), scan.energy_kev).astype(np.float32)
    hu = hu.reshape(-1, *hu.shape[-2:])
    if not isinstance(model.network, ConsistencyCascade):
        return enhance_slices(model, hu, batch_size=batch_size, amp=amp, progress=progress)
    if not isinstance(grid, ImageGrid | Volume):
        raise TypeError(f"a cascade needs the grid as an ImageGrid or Volume, got "
                        f"{type(grid).__name__}")
    grid = ImageGrid.of(grid) if isinstance(grid, Volume) else grid
    projector = Projector(geometry, grid.axial_slice() if grid.ndim == 3 else grid)
    sinograms = np.asarray(sinogram, np.float32).reshape(hu.shape[0], *projector.range_shape)
    return refine_slices(model, hu, sinograms, projector, batch_size=batch_size, amp=amp,
                         progress=progress)


def _hu_window(model: TrainedModel) -> tuple[float, float]:
    return _checked_window(model.metadata.get("hu_window", HU_WINDOW))


def _checked_model(model) -> tuple[torch.nn.Module, tuple[float, float], int]:
    if not isinstance(model, TrainedModel):
        raise TypeError(f"model must be a TrainedModel (see load_model), got "
                        f"{type(model).__name__}")
    network = model.network
    if isinstance(network, ConsistencyCascade):
        raise ValueError("this cascade needs the scans' line integrals too: use refine_slices "
                         "or enhance_sinogram (or first_stage(model) for its first network)")
    if getattr(network, "input_kind", "image") != "image":
        raise ValueError("this network takes sinograms, not reconstructed slices")
    return network.eval(), _hu_window(model), int(getattr(network, "in_channels", 1))


def _checked_slices(hu) -> np.ndarray:
    hu = np.asarray(hu)
    if hu.ndim != 3 or min(hu.shape) < 1:
        raise ValueError(f"hu must be a stack of slices (n, H, W), got shape {hu.shape}")
    if not np.issubdtype(hu.dtype, np.number) or not np.isfinite(hu).all():
        raise ValueError("hu must hold finite CT numbers (no NaN or infinity)")
    return hu.astype(np.float32, copy=False)
