"""Checkpoints as safetensors files: a model, its spec and metadata, and the training state.

A checkpoint holds the model's tensors under ``model/<name>`` and, for
resuming training, the optimizer's per-parameter state under
``optimizer/<index>/<name>``. The file's metadata (``hounsfield`` entry,
JSON) holds the model's :meth:`spec` (so that the network is rebuilt without
code from the file), free metadata (task, HU window, scan settings,
metrics, ...) and the optimizer's hyper-parameters.

Only safetensors files are read: a pickled PyTorch checkpoint
(``torch.save``) can run arbitrary code when loaded, so it is refused with
an explanation, never unpickled.

Shipped models live in this package's ``weights`` folder and are named by
their file stem (``sparse60``); :func:`load_model` takes such a name or a
path.

Importing this module needs PyTorch: ``pip install "hounsfield[learn]"``.
"""

from __future__ import annotations

import json
import struct
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

try:
    import torch
    from safetensors import safe_open
    from safetensors.torch import save_file
except ImportError as error:  # pragma: no cover - depends on the installation
    raise ImportError('hounsfield.learn.checkpoints needs PyTorch and safetensors; install '
                      'them with pip install "hounsfield[learn]"') from error

from ..errors import InputError
from ..io.paths import atomic_output
from .models import build_model

__all__ = ["save_checkpoint", "read_checkpoint", "load_model", "restore_training",
           "shipped_models", "Checkpoint", "TrainedModel", "FORMAT"]

#: Written into every checkpoint's metadata; files of another format are refused.
FORMAT = "hounsfield-checkpoint/1"
_WEIGHTS = "weights"


@dataclass
class Checkpoint:
    """The contents of a checkpoint file (see the module)."""

    model: dict[str, torch.Tensor]
    optimizer: dict[str, torch.Tensor]
    spec: dict
    metadata: dict
    optimizer_groups: list | None = None


@dataclass
class TrainedModel:
    """A network ready for inference (eval mode) with its checkpoint's metadata.

    Attributes
    ----------
    network : torch.nn.Module
    metadata : dict
        What the trainer recorded: ``task``, ``hu_window``, ``slab``, ``scan``
        (the base ScanSettings as a dict), ``training`` (the configuration),
        ``step`` and ``metrics``.
    path : Path
    """

    network: torch.nn.Module
    metadata: dict = field(default_factory=dict)
    path: Path | None = None


def save_checkpoint(path, model: torch.nn.Module, *, metadata: dict | None = None,
                    optimizer: torch.optim.Optimizer | None = None) -> Path:
    """Write ``model`` (and the optimizer's state) to a safetensors file, atomically.

    Parameters
    ----------
    path : str or Path
        The file to write (``.safetensors``).
    model : torch.nn.Module
        A hounsfield model (it has a ``spec()``).
    metadata : dict, optional
        JSON-serialisable facts stored beside the tensors.
    optimizer : torch.optim.Optimizer, optional
        Its state is stored too, for :func:`restore_training`.

    Examples
    --------
    >>> import tempfile
    >>> from hounsfield.learn.models import ResidualUNet
    >>> file = Path(tempfile.mkdtemp()) / "model.safetensors"
    >>> _ = save_checkpoint(file, ResidualUNet(1, 4, 2), metadata={"task": "sparse-view"})
    >>> read_checkpoint(file).metadata
    {'task': 'sparse-view'}
    """
    if not callable(getattr(model, "spec", None)):
        raise TypeError(f"model must be a hounsfield model with spec(), got "
                        f"{type(model).__name__}")
    tensors = {f"model/{name}": _stored(value) for name, value in model.state_dict().items()}
    header = {"format": FORMAT, "spec": model.spec(), "metadata": metadata or {}}
    if optimizer is not None:
        state = optimizer.state_dict()
        header["optimizer_groups"] = state["param_groups"]
        for index, values in state["state"].items():
            tensors.update({f"optimizer/{index}/{name}": _stored(torch.as_tensor(value))
                            for name, value in values.items()})
    path = Path(path)
    with atomic_output(path) as tmp:
        save_file(tensors, str(tmp), metadata={"hounsfield": json.dumps(header)})
    return path


def _stored(tensor: torch.Tensor) -> torch.Tensor:
    return tensor.detach().to("cpu").contiguous().clone()


def read_checkpoint(path) -> Checkpoint:
    """The tensors and metadata of a checkpoint file (refusing anything but safetensors)."""
    path = Path(path)
    _check_safetensors(path)
    with safe_open(str(path), framework="pt") as opened:
        header = json.loads((opened.metadata() or {}).get("hounsfield", "{}"))
        if header.get("format") != FORMAT:
            raise InputError(f"not a hounsfield checkpoint (format {header.get('format')!r}, "
                             f"expected {FORMAT!r})", path)
        tensors = {key: opened.get_tensor(key) for key in opened.keys()}  # noqa: SIM118
    parts = {"model": {}, "optimizer": {}}
    for key, tensor in tensors.items():
        part, _, name = key.partition("/")
        parts[part][name] = tensor
    return Checkpoint(parts["model"], parts["optimizer"], header["spec"], header["metadata"],
                      header.get("optimizer_groups"))


def _check_safetensors(path: Path) -> None:
    """Refuse missing files, pickles and anything else that is not a safetensors file."""
    if not path.is_file():
        raise InputError("no such checkpoint file", path)
    with path.open("rb") as file:
        start = file.read(9)
    header_length = struct.unpack("<Q", start[:8])[0] if len(start) == 9 else 0
    if start[8:9] == b"{" and header_length + 8 <= path.stat().st_size:
        return
    if start[:4] == b"PK\x03\x04" or start[:1] == b"\x80":
        raise InputError("is a pickled PyTorch checkpoint (torch.save); hounsfield reads "
                         "safetensors files only, since unpickling can run code", path)
    raise InputError("is not a safetensors file", path)


def shipped_models() -> dict[str, Path]:
    """The models that ship with hounsfield: {name: path}."""
    folder = resources.files(__package__) / _WEIGHTS
    return {Path(item.name).stem: Path(str(item)) for item in folder.iterdir()
            if item.name.endswith(".safetensors")} if folder.is_dir() else {}


def load_model(name_or_path, device: str = "cpu") -> TrainedModel:
    """A trained network from a checkpoint file or a shipped model's name, in eval mode.

    Parameters
    ----------
    name_or_path : str or Path
        A name from :func:`shipped_models` (``"sparse60"``) or a
        ``.safetensors`` file written by :func:`save_checkpoint`.
    device : str
        Where to put the network (``"cpu"``, ``"cuda"``).
    """
    shipped = shipped_models()
    path = shipped.get(str(name_or_path), Path(name_or_path))
    if not path.exists() and path.suffix == "":  # a name, not a file
        raise InputError(f"no such model; shipped models: {', '.join(sorted(shipped)) or 'none'}",
                         path)
    checkpoint = read_checkpoint(path)
    network = build_model(checkpoint.spec)
    _load_tensors(network, checkpoint.model, path)
    return TrainedModel(network.to(device).eval(), checkpoint.metadata, path)


def _load_tensors(model: torch.nn.Module, tensors: dict, path: Path) -> None:
    try:
        model.load_state_dict(tensors, strict=True)
    except RuntimeError as error:
        raise InputError(f"tensors do not fit the model: {str(error).splitlines()[0]}",
                         path) from None


def restore_training(path, model: torch.nn.Module,
                     optimizer: torch.optim.Optimizer | None = None) -> dict:
    """Load a checkpoint's tensors into ``model`` (and ``optimizer``); return its metadata."""
    path = Path(path)
    checkpoint = read_checkpoint(path)
    if checkpoint.spec != model.spec():
        raise InputError(f"the checkpoint holds another model ({checkpoint.spec}) than "
                         f"{model.spec()}", path)
    _load_tensors(model, checkpoint.model, path)
    if optimizer is not None:
        if checkpoint.optimizer_groups is None:
            raise InputError("the checkpoint holds no optimizer state to resume from", path)
        state: dict = {}
        for key, tensor in checkpoint.optimizer.items():
            index, _, name = key.partition("/")
            state.setdefault(int(index), {})[name] = tensor
        optimizer.load_state_dict({"state": state, "param_groups": checkpoint.optimizer_groups})
    return checkpoint.metadata
