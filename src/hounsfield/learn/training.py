"""Train an enhancement network on (degraded, clean) pairs simulated from CT volumes.

:func:`train` fits a :class:`~hounsfield.learn.models.ResidualUNet` to
:class:`~hounsfield.learn.datasets.PairedSlices` of the training volumes —
or, with ``model="dual-domain"``, a
:class:`~hounsfield.learn.dual_domain.DualDomainNet` to the sparse
parallel-beam sinograms of :class:`~hounsfield.learn.dual_domain.PairedSinograms`,
or, with ``refine``, the second network of a
:class:`~hounsfield.learn.cascade.ConsistencyCascade` to the
:class:`~hounsfield.learn.cascade.ConsistencyPairs` of a trained first one
— and writes a run folder:

* ``config.json`` — the :class:`TrainingConfig`;
* ``last.safetensors`` — model and optimizer state every
  ``checkpoint_every`` steps and at the end (for ``resume``);
* ``model.safetensors`` — the trained network with its metadata (task, HU
  window, scan settings, validation metrics), for :func:`~hounsfield.learn.load_model`;
* ``log.csv`` — step, learning rate, training loss, validation loss and
  PSNR, elapsed seconds; ``curves.png`` and ``examples.png``.

Recipe: AdamW; a learning rate that rises linearly over ``warmup_steps``
and then follows a cosine down to zero at ``steps``; gradient-norm
clipping; bfloat16 autocast (``amp``) on CUDA and on CPUs with native
bfloat16, image networks channels-last on the CPU. Each step's batch — the
items, the patch positions and the flips — is drawn from a generator seeded
by ``(seed, step)``, and the network's initial weights from ``seed`` (or
from a trained model, ``init_from``, to fine-tune it): a run
resumed from a checkpoint takes the same steps as one that was never
stopped. Items are simulated once and kept in memory (up to ``cache_gb``),
since item ``i`` of a PairedSlices is the same in every epoch.

Validation uses separate volumes (``validation``), or splits the given ones
with :func:`~hounsfield.learn.datasets.train_validation_split`: by volume
when there are several, never slices of one volume on both sides.

Importing this module needs PyTorch: ``pip install "hounsfield[learn]"``.
"""

from __future__ import annotations

import csv
import dataclasses
import functools
import json
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

try:
    import torch
    from torch.nn import functional
except ImportError as error:  # pragma: no cover - depends on the installation
    raise ImportError('hounsfield.learn.training needs PyTorch; install it with '
                      'pip install "hounsfield[learn]"') from error

from ..errors import InputError
from ..io.paths import atomic_write_text
from ..metrics.image import psnr_db
from ..progress import progress_bar
from ..report.figures import axial_for_display
from ..simulate.nict import ScanSettings
from .cascade import SECOND_CHANNELS, ConsistencyCascade, ConsistencyPairs
from .cascade import SPEC_NAME as CASCADE
from .checkpoints import load_model, restore_training, save_checkpoint
from .datasets import TASKS, PairedSlices, denormalise_hu, train_validation_split
from .models import ResidualUNet, memory_format, mixed_precision
from .run_plots import plot_curves, plot_examples

__all__ = ["TrainingConfig", "TrainingRun", "train", "learning_rate", "LOG_COLUMNS"]

LOG_COLUMNS = ("step", "learning_rate", "train_loss", "validation_loss",
               "validation_psnr_db", "elapsed_s")
LOSSES = ("mse", "l1")
MODELS = ("residual-unet", "dual-domain")


@dataclass(frozen=True)
class TrainingConfig:
    """Everything that defines a training run (saved as the run's ``config.json``).

    Parameters
    ----------
    task : {'sparse-view', 'limited-angle', 'low-dose'}
    model : {'residual-unet', 'dual-domain'}
        The image-domain U-Net, or the dual-domain network (sparse-view
        parallel-beam scans of fixed ``views``, whole slices, ``slab`` 1).
    upsampling : int
        Dual-domain: full views per measured view.
    views, arc_deg, dose
        The degradation's parameter, fixed or an inclusive (low, high) range
        (see :class:`~hounsfield.learn.datasets.PairedSlices`).
    start_deg : float or (float, float)
        Angle of the first view, or a range drawn per item (image models).
    items : int, optional
        Distinct training pairs (the dataset's length); default one per
        slice. With ranges of parameters or start angles, more items show
        each slice under more scans.
    slab : int
        Neighbouring slices as input channels (odd; 1 is 2D).
    base_channels, depth : int
        The residual U-Net's width and levels (dual-domain: of the image
        U-Net; its sinogram U-Net has the same width and one level less).
    steps, batch_size : int
        Optimizer steps and items per step.
    patch_size : int or None
        Square patches cut at random from the slices (pixels); None trains on whole slices.
    learning_rate, weight_decay : float
        AdamW's peak learning rate and decoupled weight decay.
    warmup_steps : int
        Steps of the linear rise of the learning rate.
    clip_norm : float
        Largest gradient norm (clipped above).
    loss : {'mse', 'l1'}
        On the normalised intensities.
    validation_fraction : float
        Share held out when no validation volumes are given.
    validation_items, validate_every, checkpoint_every : int
        Validation slices; steps between validations (and log rows) and checkpoints.
    seed : int
    device : str
        ``cpu``, ``cuda`` or ``cuda:N``.
    amp : bool
        bfloat16 autocast on CUDA, and on CPUs with native bfloat16
        arithmetic (AVX-512 BF16 or AMX: 4–5× faster steps there); other
        CPUs train in float32.
    init_from : str, optional
        Fine-tune: start from this trained model's weights (a shipped name
        such as ``"sparse60"`` or a ``.safetensors`` path) instead of a
        random initialisation; its architecture must match this
        configuration's. Of a cascade, the second network is taken when
        ``refine`` is set, else the first.
    refine : str, optional
        Train the second network of a
        :class:`~hounsfield.learn.cascade.ConsistencyCascade` on this trained
        image model's output (a name or ``.safetensors`` path; a cascade
        gives its first network), fixed; ``model`` 'residual-unet', ``slab``
        1, a 2D fan or parallel scan. The run's ``model.safetensors`` holds
        the whole cascade.
    cache_gb : float
        Memory for simulated items kept between epochs.
    scan : dict, optional
        The base :class:`~hounsfield.simulate.ScanSettings` (as ``to_dict()``)
        whose task parameter is set per item; default ``ScanSettings()``.

    Examples
    --------
    >>> config = TrainingConfig(views=60, steps=10)
    >>> TrainingConfig.from_json(config.to_json()) == config
    True
    """

    task: str = "sparse-view"
    model: str = "residual-unet"
    upsampling: int = 4
    views: int | tuple = (60, 60)
    arc_deg: float | tuple = (90.0, 150.0)
    dose: float | tuple = (0.05, 0.25)
    start_deg: float | tuple = (0.0, 0.0)
    items: int | None = None
    slab: int = 1
    base_channels: int = 16
    depth: int = 4
    steps: int = 2000
    batch_size: int = 8
    patch_size: int | None = 128
    learning_rate: float = 1e-3
    weight_decay: float = 1e-4
    warmup_steps: int = 100
    clip_norm: float = 1.0
    loss: str = "mse"
    validation_fraction: float = 0.3
    validation_items: int = 8
    validate_every: int = 100
    checkpoint_every: int = 500
    seed: int = 0
    device: str = "cpu"
    amp: bool = True
    cache_gb: float = 2.0
    scan: dict | None = None
    init_from: str | None = None
    refine: str | None = None

    def __post_init__(self):
        if self.task not in TASKS:
            raise ValueError(f"task must be one of {TASKS}, got {self.task!r}")
        if self.loss not in LOSSES:
            raise ValueError(f"loss must be one of {LOSSES}, got {self.loss!r}")
        for name in ("steps", "batch_size", "validation_items", "validate_every",
                     "checkpoint_every", "base_channels", "depth"):
            _check_positive_int(getattr(self, name), name)
        if self.patch_size is not None:
            _check_positive_int(self.patch_size, "patch_size")
        if not isinstance(self.warmup_steps, int) or self.warmup_steps < 0:
            raise ValueError(f"warmup_steps must be an integer >= 0, got {self.warmup_steps!r}")
        for name in ("learning_rate", "clip_norm", "cache_gb"):
            if not (isinstance(getattr(self, name), int | float) and getattr(self, name) > 0):
                raise ValueError(f"{name} must be a positive number, got {getattr(self, name)!r}")
        if not (isinstance(self.weight_decay, int | float) and self.weight_decay >= 0):
            raise ValueError(f"weight_decay must be a number >= 0, got {self.weight_decay!r}")
        if not str(self.device).startswith(("cpu", "cuda")):
            raise ValueError(f"device must be cpu, cuda or cuda:N, got {self.device!r}")
        object.__setattr__(self, "views", _pair(self.views))
        object.__setattr__(self, "arc_deg", _pair(self.arc_deg))
        object.__setattr__(self, "dose", _pair(self.dose))
        object.__setattr__(self, "start_deg", _pair(self.start_deg))
        if self.items is not None:
            _check_positive_int(self.items, "items")
        for name in ("init_from", "refine"):
            value = getattr(self, name)
            if value is not None and not (isinstance(value, str) and value):
                raise ValueError(f"{name} must be a model name or path, got {value!r}")
        self._check_model()
        self.scan_settings()  # validates the scan

    def _check_model(self) -> None:
        if self.model not in MODELS:
            raise ValueError(f"model must be one of {MODELS}, got {self.model!r}")
        _check_positive_int(self.upsampling, "upsampling")
        if self.model == "dual-domain" and (
                self.task != "sparse-view" or self.views[0] != self.views[1]
                or self.patch_size is not None or self.slab != 1):
            raise ValueError("the dual-domain model trains on sparse-view scans of one view "
                             "count, whole slices (patch_size None) and slab 1")
        if self.refine is not None and (self.model != "residual-unet" or self.slab != 1):
            raise ValueError("refine trains a residual U-Net of slab 1 (the first network's "
                             "slab is its own)")

    def scan_settings(self) -> ScanSettings:
        default = ScanSettings(geometry="parallel" if self.model == "dual-domain" else "fan")
        return default if self.scan is None else ScanSettings.from_dict(self.scan)

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), indent=2)

    @classmethod
    def from_json(cls, text: str) -> TrainingConfig:
        return cls(**json.loads(text))

    def replace(self, **changes) -> TrainingConfig:
        return dataclasses.replace(self, **changes)


def _check_positive_int(value, name: str) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ValueError(f"{name} must be an integer >= 1, got {value!r}")


def _pair(value) -> tuple:
    """A fixed value or a range as a (low, high) tuple (PairedSlices checks the numbers)."""
    return (value, value) if isinstance(value, int | float) else tuple(value)


@dataclass
class TrainingRun:
    """What :func:`train` did: the run folder, the steps done and the last validation."""

    folder: Path
    steps_done: int
    validation_loss: float
    validation_psnr_db: float
    log: list[dict] = field(default_factory=list)

    @property
    def model_path(self) -> Path:
        return self.folder / "model.safetensors"


class _ItemCache:
    """Items of a dataset, computed once and kept while they fit in ``budget_bytes``."""

    def __init__(self, dataset, budget_bytes: float):
        self.dataset, self.budget, self.used, self.items = dataset, budget_bytes, 0, {}

    def __getitem__(self, index: int):
        if index in self.items:
            return self.items[index]
        item = self.dataset[index]
        size = sum(tensor.numel() * tensor.element_size() for tensor in item)
        if self.used + size <= self.budget:
            self.items[index] = item
            self.used += size
        return item


def train(volumes, config: TrainingConfig, folder, *, validation=None, resume: bool = False,
          progress: bool = True, callback: Callable[[int, float], bool] | None = None
          ) -> TrainingRun:
    """Train a residual U-Net on simulated pairs and write the run folder (see the module).

    Parameters
    ----------
    volumes : Volume or sequence of Volume
        CTs in HU to train on.
    config : TrainingConfig
    folder : str or Path
        The run folder (created; must not hold another run unless ``resume``).
    validation : Volume or sequence of Volume, optional
        Validation CTs; default: split ``volumes`` by ``config.validation_fraction``.
    resume : bool
        Continue the run in ``folder`` from its ``last.safetensors``.
    progress : bool
        Show a progress bar on stderr.
    callback : callable(step, loss) -> bool, optional
        Called after every step; returning True stops the run (after a checkpoint).

    Returns
    -------
    TrainingRun

    Examples
    --------
    >>> import tempfile
    >>> from hounsfield.data.anatomy import thorax_phantom
    >>> ct, _ = thorax_phantom(shape=(6, 32, 32), spacing_mm=(5.0, 10.0, 10.0))
    >>> config = TrainingConfig(views=30, steps=2, batch_size=2, patch_size=None,
    ...                         validate_every=1, validation_items=1, base_channels=4, depth=2)
    >>> run = train(ct, config, tempfile.mkdtemp(), progress=False)
    >>> run.steps_done, run.model_path.exists()
    (2, True)
    """
    if not isinstance(config, TrainingConfig):
        raise TypeError(f"config must be a TrainingConfig, got {type(config).__name__}")
    folder = _prepared_folder(Path(folder), config, resume)
    device = _device(config.device)
    if validation is None:
        volumes, validation = train_validation_split(volumes, config.validation_fraction,
                                                     seed=config.seed)
    training_pairs, validation_pairs = _datasets(volumes, validation, config)
    torch.manual_seed(config.seed)
    model = _model(config, training_pairs)
    if config.init_from is not None and not resume:
        _start_from(model, config.init_from, config.refine is not None)
    model = model.to(device, memory_format=memory_format(model, device))
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.learning_rate,
                                  weight_decay=config.weight_decay)
    done, log = 0, []
    if resume:
        done = restore_training(folder / "last.safetensors", model, optimizer)["step"]
        log = [row for row in _read_log(folder / "log.csv") if row["step"] <= done]
    loop = _Loop(model, optimizer, config, device, training_pairs, validation_pairs)
    log = loop.run(done, log, folder, progress, callback)
    return _finish(loop, folder, log)


def _prepared_folder(folder: Path, config: TrainingConfig, resume: bool) -> Path:
    config_path = folder / "config.json"
    if resume:
        if not (folder / "last.safetensors").exists():
            raise InputError("holds no checkpoint (last.safetensors) to resume from", folder)
        saved = TrainingConfig.from_json(config_path.read_text())
        if saved != config:
            raise InputError("the run was started with other settings; resume with the same "
                             "ones (see its config.json) or start a new folder", folder)
        return folder
    if config_path.exists():
        raise InputError("already holds a training run; resume it or choose another folder",
                         folder)
    folder.mkdir(parents=True, exist_ok=True)
    atomic_write_text(config_path, config.to_json())
    return folder


def _device(name: str) -> torch.device:
    device = torch.device(name)
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise InputError(f"device {name!r} was asked for, but PyTorch sees no CUDA device")
        torch.backends.cudnn.benchmark = True  # fixed input sizes: let cuDNN pick its kernels
    return device


def _datasets(volumes, validation, config: TrainingConfig):
    if config.model == "dual-domain":
        from .dual_domain import PairedSinograms

        options = {"n_views": config.views[0] * config.upsampling,
                   "upsampling": config.upsampling, "settings": config.scan_settings()}
        return (PairedSinograms(volumes, seed=config.seed, **options),
                PairedSinograms(validation, seed=config.seed + 1,
                                length=config.validation_items, **options))
    options = {"views": config.views, "arc_deg": config.arc_deg, "dose": config.dose,
               "start_deg": config.start_deg, "slab": config.slab,
               "settings": config.scan_settings()}
    pairs = PairedSlices
    if config.refine is not None:
        first = load_model(config.refine)
        options.pop("slab")
        pairs = functools.partial(ConsistencyPairs, first=first)
    training = pairs(volumes, config.task, seed=config.seed, length=config.items, **options)
    validation = pairs(validation, config.task, seed=config.seed + 1,
                       length=config.validation_items, **options)
    return training, validation


def _model(config: TrainingConfig, training) -> torch.nn.Module:
    if config.model == "dual-domain":
        return training.network(sinogram_channels=config.base_channels,
                                sinogram_depth=max(config.depth - 1, 1),
                                image_channels=config.base_channels, image_depth=config.depth)
    if config.refine is not None:
        return ResidualUNet(SECOND_CHANNELS, config.base_channels, config.depth)
    return ResidualUNet(config.slab, config.base_channels, config.depth)


def _start_from(model: torch.nn.Module, name_or_path: str, refining: bool) -> None:
    """Copy a trained model's weights (of a cascade: its second network when refining,
    else its first) into ``model``."""
    trained = load_model(name_or_path)
    network = trained.network
    if isinstance(network, ConsistencyCascade):
        network = network.second if refining else network.first
    if network.spec() != model.spec():
        raise InputError(f"holds another model ({network.spec()}) than this "
                         f"configuration's ({model.spec()})", trained.path)
    model.load_state_dict(network.state_dict())


class _Loop:
    """The optimisation loop: batches, steps, validation, checkpoints and the log."""

    def __init__(self, model, optimizer, config: TrainingConfig, device, training, validation):
        self.model, self.optimizer, self.config, self.device = model, optimizer, config, device
        budget = config.cache_gb * 2**30
        self.training = _ItemCache(training, budget)
        self.validation = _ItemCache(validation, budget)
        self.n_items = len(training)
        self.n_validation = len(validation)
        self.hu_window = training.hu_window
        self.layout = memory_format(model, device)
        self.last_validation = (math.nan, math.nan)

    def run(self, done: int, log: list[dict], folder: Path, progress: bool, callback) -> list:
        config, started, losses = self.config, time.perf_counter(), []
        elapsed = log[-1]["elapsed_s"] if log else 0.0
        step = done
        with progress_bar(progress, config.steps, "training", completed=done,
                          value_name="loss") as advance:
            try:
                while step < config.steps:
                    losses.append(self.step(step))
                    step += 1
                    advance(1, losses[-1])
                    if step % config.validate_every == 0 or step == config.steps:
                        log.append(self.log_row(step, losses, elapsed + time.perf_counter()
                                                - started))
                        losses = []
                        _write_log(folder / "log.csv", log)
                    if step % config.checkpoint_every == 0:
                        self.checkpoint(folder, step)
                    if callback is not None and callback(step, log[-1]["train_loss"] if
                                                         log else math.nan):
                        break
            except KeyboardInterrupt:
                self.checkpoint(folder, step)
                raise
        self.steps_done = step
        self.checkpoint(folder, step)
        return log

    def step(self, step: int) -> float:
        config = self.config
        for group in self.optimizer.param_groups:
            group["lr"] = learning_rate(step, config)
        degraded, clean = self.batch(step)
        self.model.train()
        with self._autocast():
            prediction = self.model(degraded)
        loss = self.loss(prediction.float(), clean)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(self.model.parameters(), config.clip_norm)
        self.optimizer.step()
        return float(loss.detach())

    def loss(self, prediction, clean):
        return (functional.mse_loss if self.config.loss == "mse" else functional.l1_loss)(
            prediction, clean)

    def batch(self, step: int):
        """Items, patch positions and flips of step ``step`` from a generator seeded by it."""
        rng = np.random.default_rng([self.config.seed, step])
        pairs = [self._augmented(self.training[int(i)], rng)
                 for i in rng.integers(self.n_items, size=self.config.batch_size)]
        return tuple(torch.stack(part).to(self.device, memory_format=self.layout)
                     for part in zip(*pairs, strict=True))

    def _augmented(self, pair, rng):
        degraded, clean = pair
        size = self.config.patch_size
        height, width = clean.shape[-2:]
        if size is not None and (size < height or size < width):
            top = int(rng.integers(max(height - size, 0) + 1))
            left = int(rng.integers(max(width - size, 0) + 1))
            degraded, clean = (t[..., top:top + size, left:left + size] for t in (degraded, clean))
        if rng.random() < 0.5 and self.model.input_kind == "image":
            degraded, clean = degraded.flip(-1), clean.flip(-1)
        return degraded, clean

    def _autocast(self):
        return mixed_precision(self.device, self.config.amp)

    def validate(self) -> tuple[float, float]:
        """Mean loss and PSNR (dB, HU) of the network on the validation items."""
        self.model.eval()
        losses, psnrs = [], []
        with torch.inference_mode():
            for index in range(self.n_validation):
                degraded, clean = (t[None].to(self.device) for t in self.validation[index])
                with self._autocast():
                    prediction = self.model(degraded).float()
                losses.append(float(self.loss(prediction, clean)))
                psnrs.append(psnr_db(*(denormalise_hu(t[0, 0].cpu().numpy(), self.hu_window)
                                       for t in (prediction, clean))))
        self.last_validation = (float(np.mean(losses)), float(np.mean(psnrs)))
        return self.last_validation

    def log_row(self, step: int, losses: list[float], elapsed_s: float) -> dict:
        validation_loss, validation_psnr = self.validate()
        return {"step": step, "learning_rate": learning_rate(step - 1, self.config),
                "train_loss": float(np.mean(losses)) if losses else math.nan,
                "validation_loss": validation_loss, "validation_psnr_db": validation_psnr,
                "elapsed_s": elapsed_s}

    def checkpoint(self, folder: Path, step: int) -> None:
        save_checkpoint(folder / "last.safetensors", self.model, optimizer=self.optimizer,
                        metadata={"step": step})

    def metadata(self, step: int) -> dict:
        config = self.config
        model = CASCADE if config.refine is not None else config.model
        return {"task": config.task, "model": model, "hu_window": list(self.hu_window),
                "slab": config.slab, "scan": config.scan_settings().to_dict(),
                "training": json.loads(config.to_json()), "step": step,
                "metrics": {"validation_loss": self.last_validation[0],
                            "validation_psnr_db": self.last_validation[1]}}


def learning_rate(step: int, config: TrainingConfig) -> float:
    """Linear warm-up over ``warmup_steps``, then a cosine to zero at ``steps``.

    >>> config = TrainingConfig(steps=100, warmup_steps=10, learning_rate=1.0)
    >>> [round(learning_rate(s, config), 3) for s in (0, 9, 55, 99)]
    [0.1, 1.0, 0.5, 0.0]
    """
    warmup = config.warmup_steps
    rise = min(1.0, (step + 1) / warmup) if warmup else 1.0
    fall = max(step - warmup, 0) / max(config.steps - warmup, 1)
    return config.learning_rate * rise * 0.5 * (1 + math.cos(math.pi * fall))


def _finish(loop: _Loop, folder: Path, log: list[dict]) -> TrainingRun:
    step = loop.steps_done
    if math.isnan(loop.last_validation[0]):
        loop.validate()
    save_checkpoint(folder / "model.safetensors", _trained_network(loop),
                    metadata=loop.metadata(step))
    if log:
        plot_curves(log, folder / "curves.png")
    degraded, clean = loop.validation[0]
    loop.model.eval()
    with torch.inference_mode():
        enhanced = loop.model(degraded[None].to(loop.device)).float().cpu()[0]
    direction = loop.validation.dataset.volumes[0].direction  # radiological display
    plot_examples([axial_for_display(denormalise_hu(t.numpy(), loop.hu_window), direction)
                   for t in (_input_image(loop, degraded), enhanced[0], clean[0])],
                  folder / "examples.png")
    return TrainingRun(folder, step, *loop.last_validation, log)


def _trained_network(loop: _Loop) -> torch.nn.Module:
    """What model.safetensors holds: the trained network, or the cascade it completes."""
    if loop.config.refine is None:
        return loop.model
    pairs = loop.training.dataset
    return ConsistencyCascade(pairs.first.network, loop.model, step=pairs.step,
                              filter=pairs.filter)


def _input_image(loop: _Loop, degraded: torch.Tensor) -> torch.Tensor:
    """The input as an image: the centre slice (a cascade's: the FBP, channel 0), or FBP
    of the upsampled sinogram."""
    model = loop.model
    if loop.config.refine is not None:
        return degraded[0]
    if model.input_kind == "image":
        return degraded[degraded.shape[0] // 2]
    with torch.inference_mode():
        sinogram = degraded[None].to(next(model.parameters()).device)
        return model.reconstruct(model.upsample_views(sinogram)).float().cpu()[0, 0]


def _write_log(path: Path, log: list[dict]) -> None:
    lines = [",".join(LOG_COLUMNS)]
    lines += [",".join(f"{row[column]:.6g}" for column in LOG_COLUMNS) for row in log]
    atomic_write_text(path, "\n".join(lines) + "\n")


def _read_log(path: Path) -> list[dict]:
    if not path.exists():
        return []
    with path.open(newline="") as file:
        return [{key: (int(float(value)) if key == "step" else float(value))
                 for key, value in row.items()} for row in csv.DictReader(file)]


