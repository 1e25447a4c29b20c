"""Two image networks around a data-consistency step, for scans whose line integrals are known.

:class:`ConsistencyCascade` enhances a slice in three moves:

1. ``first``, an image-domain :class:`~hounsfield.learn.models.ResidualUNet`,
   removes the streaks from the FBP (a slab of neighbouring FBP slices when
   it was trained on slabs);
2. :func:`~hounsfield.learn.consistency.consistency_step` puts back part
   of what the measured views say and the network changed;
3. ``second``, a ResidualUNet of three channels — the FBP, the consistent
   image and the first network's output — removes what the step brought
   back and what the first network missed, adding its residual to the
   consistent image (its centre channel).

The first network is trained alone; the second is trained on
:class:`ConsistencyPairs` made with the first one fixed (``hounsfield learn
train --refine FIRST``). Without line integrals (a reconstructed CT alone)
only the first network can run: :func:`first_stage`.

Importing this module needs PyTorch: ``pip install "hounsfield[learn]"``.
"""

from __future__ import annotations

import numpy as np

try:
    import torch
    from torch import nn
except ImportError as error:  # pragma: no cover - depends on the installation
    raise ImportError('hounsfield.learn.cascade needs PyTorch; install it with '
                      'pip install "hounsfield[learn]"') from error

from ..simulate.nict import centred_grid
from ..tomo.project import Projector
from .checkpoints import TrainedModel
from .consistency import DEFAULT_FILTER, DEFAULT_STEP, check_step, consistency_step
from .datasets import PairedSlices, normalise_hu
from .models import ResidualUNet, build_model

__all__ = ["ConsistencyCascade", "ConsistencyPairs", "first_stage", "refinement_input",
           "SPEC_NAME"]

#: The name that :meth:`ConsistencyCascade.spec` records.
SPEC_NAME = "consistency-cascade"
#: Input channels of the second network: FBP, consistent image, first network's output.
SECOND_CHANNELS = 3


class ConsistencyCascade(nn.Module):
    """A first image network, a data-consistency step and a second network (see the module).

    Parameters
    ----------
    first : ResidualUNet
        The trained first stage (any slab).
    second : ResidualUNet
        The second stage, three input channels.
    step : float
        The consistency step's size.
    filter : str
        The consistency step's FBP filter.

    The second network takes the stacked inputs ``(N, 3, H, W)`` that
    :func:`refinement_input` makes; :func:`~hounsfield.learn.inference.refine_slices`
    runs the whole cascade.

    Examples
    --------
    >>> cascade = ConsistencyCascade(ResidualUNet(1, 4, 2), ResidualUNet(3, 4, 2))
    >>> cascade.spec()["second"]["in_channels"], cascade.spec()["step"]
    (3, 0.5)
    """

    #: The cascade needs the scan's line integrals besides the FBP slices.
    input_kind = "image-and-sinogram"

    def __init__(self, first: ResidualUNet, second: ResidualUNet, *,
                 step: float = DEFAULT_STEP, filter: str = DEFAULT_FILTER):
        super().__init__()
        if not (isinstance(first, ResidualUNet) and isinstance(second, ResidualUNet)):
            raise TypeError("first and second must be ResidualUNet networks, got "
                            f"{type(first).__name__} and {type(second).__name__}")
        if second.in_channels != SECOND_CHANNELS:
            raise ValueError(f"second must take {SECOND_CHANNELS} channels (FBP, consistent "
                             f"image, first output), got {second.in_channels}")
        check_step(step, filter)
        self.first, self.second = first, second
        self.step, self.filter = float(step), filter

    def spec(self) -> dict:
        return {"name": SPEC_NAME, "first": self.first.spec(), "second": self.second.spec(),
                "step": self.step, "filter": self.filter}

    @classmethod
    def from_spec(cls, spec: dict) -> ConsistencyCascade:
        return cls(build_model(spec["first"]), build_model(spec["second"]),
                   step=spec.get("step", DEFAULT_STEP), filter=spec.get("filter", DEFAULT_FILTER))


def first_stage(model: TrainedModel) -> TrainedModel:
    """The image network that runs without line integrals: a cascade's first, else the model.

    >>> cascade = ConsistencyCascade(ResidualUNet(1, 4, 2), ResidualUNet(3, 4, 2))
    >>> first_stage(TrainedModel(cascade, {"task": "sparse-view"})).network.in_channels
    1
    """
    if not isinstance(model, TrainedModel):
        raise TypeError(f"model must be a TrainedModel (see load_model), got "
                        f"{type(model).__name__}")
    if isinstance(model.network, ConsistencyCascade):
        return TrainedModel(model.network.first, model.metadata, model.path)
    return model


def refinement_input(fbp_hu, first_hu, consistent_hu, hu_window) -> np.ndarray:
    """The second network's normalised input ``(n, 3, H, W)`` from three stacks of HU slices."""
    stacked = np.stack([fbp_hu, consistent_hu, first_hu], axis=-3)
    return normalise_hu(stacked, hu_window).astype(np.float32)


class ConsistencyPairs(PairedSlices):
    """Training items of a cascade's second network, made with a fixed first one.

    Item ``i`` is :class:`~hounsfield.learn.datasets.PairedSlices` item ``i``
    (same slice, scan and seed; its ``slab`` is the first network's) turned
    into ``(input (3, H, W), clean (1, H, W))``: the centre slice's FBP, its
    consistent image and the first network's output, normalised.

    Parameters
    ----------
    volumes : Volume or sequence of Volume
    task : str
        As :class:`~hounsfield.learn.datasets.PairedSlices`.
    first : TrainedModel
        The trained first stage (an image network; a cascade gives its first).
    step, filter
        The consistency step of the cascade being trained.
    **options
        :class:`~hounsfield.learn.datasets.PairedSlices` arguments but ``slab``.
        The scan must be a monochromatic 2D fan or parallel beam reconstructed by FBP.
    """

    def __init__(self, volumes, task: str = "sparse-view", *, first: TrainedModel,
                 step: float = DEFAULT_STEP, filter: str = DEFAULT_FILTER, **options):
        first = first_stage(first)
        if not isinstance(first.network, ResidualUNet):
            raise ValueError(f"first must be an image network (residual U-Net), got "
                             f"{type(first.network).__name__}")
        super().__init__(volumes, task, slab=first.network.in_channels, **options)
        settings = self.settings
        if settings.geometry not in ("fan", "parallel") or settings.method != "fbp" \
                or settings.polychromatic:
            raise ValueError("a consistency step needs monochromatic 2D fan or parallel scans "
                             f"reconstructed by FBP, got geometry {settings.geometry!r}, method "
                             f"{settings.method!r}, polychromatic {settings.polychromatic}")
        self.first, self.step, self.filter = first, step, filter

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        from .inference import enhance_slices  # inference imports this module

        scan = self.scan(index, keep_sinogram=True)
        centre = self.slab // 2
        fbp_hu = scan.degraded.array[centre]
        first_hu = enhance_slices(self.first, scan.degraded.array)[centre]
        projector = Projector(scan.geometry, centred_grid(scan.degraded).axial_slice())
        consistent = consistency_step(first_hu, scan.sinogram[centre], projector,
                                      scan.settings.energy_kev, step=self.step,
                                      filter=self.filter)
        stacked = refinement_input(fbp_hu, first_hu, consistent, self.hu_window)
        clean = normalise_hu(scan.reference.array[centre:centre + 1], self.hu_window)
        return (torch.from_numpy(stacked),
                torch.from_numpy(np.ascontiguousarray(clean, dtype=np.float32)))
