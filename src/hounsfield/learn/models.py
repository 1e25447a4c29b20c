"""A compact image-domain residual U-Net for enhancing CT slices (FBPConvNet style).

The network takes a reconstructed slice, or a slab of neighbouring slices as
channels (2.5D), and predicts a correction that is added to the input's
centre channel: ``output = x[:, centre] + unet(x)``. Learning the residual
(the streaks, noise and missing-wedge artefacts) rather than the image is
the idea of FBPConvNet (Jin et al., IEEE Trans. Image Process. 26(9), 2017).

Architecture: ``depth`` resolution levels; each level holds two 3×3
convolutions (each followed by batch normalisation, unless disabled, and a
ReLU); 2×2 max pooling goes down a level and doubles the channels, a 2×2
transposed convolution goes up and halves them, and the skip connection
concatenates the encoder's features; a 1×1 convolution gives the residual.
The last convolution starts at zero, so an untrained network returns its
input's centre channel.

Images of any size are accepted: they are padded (edge values repeated) to
a multiple of ``2 ** (depth - 1)`` and the output is cropped back.

Importing this module needs PyTorch: ``pip install "hounsfield[learn]"``.
"""

from __future__ import annotations

import importlib

try:
    import torch
    from torch import nn
    from torch.nn import functional
except ImportError as error:  # pragma: no cover - depends on the installation
    raise ImportError('hounsfield.learn.models needs PyTorch; install it with '
                      'pip install "hounsfield[learn]"') from error

__all__ = ["ResidualUNet", "parameter_count", "build_model", "memory_format", "mixed_precision",
           "native_bfloat16", "MODEL_NAMES"]

#: Model names that :func:`build_model` knows: (module, class) of each.
MODEL_NAMES = {"residual-unet": (".models", "ResidualUNet"),
               "dual-domain": (".dual_domain", "DualDomainNet"),
               "consistency-cascade": (".cascade", "ConsistencyCascade")}


def _checked_count(value, name: str, minimum: int) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return value


def _double_convolution(in_channels: int, out_channels: int, batch_norm: bool) -> nn.Sequential:
    """Two (3×3 convolution, [batch norm], ReLU) layers."""
    layers = []
    for channels in (in_channels, out_channels):
        layers.append(nn.Conv2d(channels, out_channels, 3, padding=1, bias=not batch_norm))
        if batch_norm:
            layers.append(nn.BatchNorm2d(out_channels))
        layers.append(nn.ReLU(inplace=True))
    return nn.Sequential(*layers)


class ResidualUNet(nn.Module):
    """Residual U-Net: ``x (N, C, H, W)`` → ``x[:, C // 2] + residual`` of shape ``(N, 1, H, W)``.

    Parameters
    ----------
    in_channels : int
        Input channels: 1, or an odd slab of neighbouring slices whose centre
        channel receives the residual.
    base_channels : int
        Feature channels at the first level (doubled at each level down).
    depth : int
        Resolution levels (``depth - 1`` poolings), >= 1.
    batch_norm : bool
        Batch normalisation after every 3×3 convolution.

    Examples
    --------
    >>> model = ResidualUNet(in_channels=3, base_channels=4, depth=2)
    >>> x = torch.rand(2, 3, 17, 20)
    >>> y = model(x)
    >>> tuple(y.shape)
    (2, 1, 17, 20)
    >>> bool(torch.equal(y, x[:, 1:2]))  # untrained: the identity on the centre channel
    True
    >>> model.spec()
    {'name': 'residual-unet', 'in_channels': 3, 'base_channels': 4, 'depth': 2, 'batch_norm': True}
    """

    #: The network's input: reconstructed slices (the dual-domain network takes sinograms).
    input_kind = "image"

    def __init__(self, in_channels: int = 1, base_channels: int = 32, depth: int = 4, *,
                 batch_norm: bool = True):
        super().__init__()
        self.in_channels = _checked_count(in_channels, "in_channels", 1)
        if in_channels % 2 == 0:
            raise ValueError(f"in_channels must be odd (a slab around a centre slice), "
                             f"got {in_channels}")
        self.base_channels = _checked_count(base_channels, "base_channels", 1)
        self.depth = _checked_count(depth, "depth", 1)
        if not isinstance(batch_norm, bool):
            raise ValueError(f"batch_norm must be True or False, got {batch_norm!r}")
        self.batch_norm = batch_norm
        widths = [base_channels * 2**level for level in range(depth)]
        self.encoders = nn.ModuleList(
            _double_convolution(c_in, c_out, batch_norm)
            for c_in, c_out in zip([in_channels, *widths[:-1]], widths, strict=True))
        self.upsamplers = nn.ModuleList(
            nn.ConvTranspose2d(widths[level + 1], widths[level], 2, stride=2)
            for level in reversed(range(depth - 1)))
        self.decoders = nn.ModuleList(
            _double_convolution(2 * widths[level], widths[level], batch_norm)
            for level in reversed(range(depth - 1)))
        self.head = nn.Conv2d(widths[0], 1, 1)
        nn.init.zeros_(self.head.weight)
        nn.init.zeros_(self.head.bias)

    @property
    def size_multiple(self) -> int:
        """Inputs are padded to a multiple of this many pixels in height and width."""
        return 2 ** (self.depth - 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self._check_input(x)
        height, width = x.shape[-2:]
        padded = self._padded(x)
        skips = []
        features = padded
        for level, encoder in enumerate(self.encoders):
            features = encoder(features)
            if level < self.depth - 1:
                skips.append(features)
                features = functional.max_pool2d(features, 2)
        for upsample, decoder in zip(self.upsamplers, self.decoders, strict=True):
            features = decoder(torch.cat([skips.pop(), upsample(features)], dim=1))
        centre = self.in_channels // 2
        output = padded[:, centre:centre + 1] + self.head(features)
        return output[..., :height, :width]

    def _padded(self, x: torch.Tensor) -> torch.Tensor:
        multiple = self.size_multiple
        pad_rows = -x.shape[-2] % multiple
        pad_columns = -x.shape[-1] % multiple
        if not (pad_rows or pad_columns):
            return x
        return functional.pad(x, (0, pad_columns, 0, pad_rows), mode="replicate")

    def _check_input(self, x) -> None:
        if not torch.is_tensor(x) or not x.is_floating_point():
            raise TypeError(f"x must be a floating-point torch tensor, got "
                            f"{type(x).__name__}{' ' + str(x.dtype) if torch.is_tensor(x) else ''}")
        if x.dim() != 4 or x.shape[1] != self.in_channels:
            raise ValueError(f"x must have shape (batch, {self.in_channels}, height, width), "
                             f"got {tuple(x.shape)}")
        if min(x.shape[-2:]) < 1:
            raise ValueError(f"x must have at least one row and column, got {tuple(x.shape)}")

    def spec(self) -> dict:
        """The constructor's arguments and the model's name, JSON-serialisable."""
        return {"name": "residual-unet", "in_channels": self.in_channels,
                "base_channels": self.base_channels, "depth": self.depth,
                "batch_norm": self.batch_norm}

    @classmethod
    def from_spec(cls, spec: dict) -> ResidualUNet:
        """A new (untrained) model from :meth:`spec`'s dictionary."""
        arguments = {key: value for key, value in spec.items() if key != "name"}
        return cls(**arguments)

    def extra_repr(self) -> str:
        return (f"in_channels={self.in_channels}, base_channels={self.base_channels}, "
                f"depth={self.depth}, parameters={parameter_count(self)}")


def parameter_count(model: nn.Module, trainable_only: bool = True) -> int:
    """Number of (trainable) parameters of a model.

    >>> parameter_count(torch.nn.Linear(3, 2))
    8
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)


def memory_format(model: nn.Module, device: torch.device) -> torch.memory_format:
    """Channels-last for image networks on the CPU (about 2× faster convolutions there)."""
    if device.type == "cpu" and getattr(model, "input_kind", "image") == "image":
        return torch.channels_last
    return torch.contiguous_format


def native_bfloat16(device: torch.device) -> bool:
    """Whether the device computes bfloat16 natively: CUDA, or a CPU with AVX-512 BF16 or AMX."""
    if device.type == "cuda":
        return True
    return device.type == "cpu" and torch.backends.mkldnn.is_available() and \
        torch.ops.mkldnn._is_mkldnn_bf16_supported()


def mixed_precision(device: torch.device, enabled: bool = True):
    """bfloat16 autocast where :func:`native_bfloat16` holds (and ``enabled``), else float32.

    >>> with mixed_precision(torch.device("cpu"), enabled=False):
    ...     (torch.ones(2, 2) @ torch.ones(2, 2)).dtype
    torch.float32
    """
    return torch.autocast(device.type, dtype=torch.bfloat16,
                          enabled=enabled and native_bfloat16(device))


def build_model(spec: dict) -> nn.Module:
    """A new (untrained) model from a model's ``spec()`` dictionary.

    >>> build_model({"name": "residual-unet", "base_channels": 4, "depth": 2}).spec()["depth"]
    2
    """
    name = spec.get("name") if isinstance(spec, dict) else None
    if name not in MODEL_NAMES:
        raise ValueError(f"spec must be a model's spec() with a name in {sorted(MODEL_NAMES)}, "
                         f"got {spec!r}")
    module, class_name = MODEL_NAMES[name]
    return getattr(importlib.import_module(module, __package__), class_name).from_spec(spec)
