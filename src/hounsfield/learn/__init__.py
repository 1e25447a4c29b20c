"""Deep learning for hounsfield (PyTorch, the optional ``learn`` extra).

Projectors as autograd layers (:mod:`.torch_ops`), paired slices of
degraded and clean CT simulated on the fly (:mod:`.datasets`), a residual
U-Net (:mod:`.models`), a dual-domain network (:mod:`.dual_domain`), a
cascade of two U-Nets around a data-consistency step (:mod:`.cascade`,
:mod:`.consistency`), a trainer (:mod:`.training`) with safetensors
checkpoints (:mod:`.checkpoints`), inference on whole volumes
(:mod:`.inference`) and the evaluation against FBP and TV
(:mod:`.evaluation`). Importing :mod:`hounsfield.learn` needs nothing beyond
hounsfield itself; the names below load their module on first use, which
raises an ImportError with the install hint when PyTorch is missing::

    pip install "hounsfield[learn]"
"""

from __future__ import annotations

import importlib

_TORCH_OPS = ("apply_operator", "ForwardProjection", "BackProjection", "FilteredBackProjection",
              "OperatorLayer")

_MODULE_OF = {**dict.fromkeys(_TORCH_OPS, ".torch_ops"),
              **dict.fromkeys(("PairedSlices", "SlicePair", "train_validation_split",
                               "normalise_hu", "denormalise_hu", "TASKS", "HU_WINDOW"),
                              ".datasets"),
              **dict.fromkeys(("ResidualUNet", "parameter_count", "build_model"), ".models"),
              **dict.fromkeys(("DualDomainNet", "PairedSinograms"), ".dual_domain"),
              **dict.fromkeys(("TrainingConfig", "train"), ".training"),
              **dict.fromkeys(("load_model", "save_checkpoint", "shipped_models"),
                              ".checkpoints"),
              **dict.fromkeys(("ConsistencyCascade", "ConsistencyPairs", "first_stage"),
                              ".cascade"),
              "consistency_step": ".consistency",
              **dict.fromkeys(("enhance", "enhance_slices", "enhance_sinogram", "refine_slices"),
                              ".inference"),
              **dict.fromkeys(("evaluate_enhancement", "tune_tv_weight"), ".evaluation")}

__all__ = list(_MODULE_OF)


def __getattr__(name: str):
    if name in _MODULE_OF:
        return getattr(importlib.import_module(_MODULE_OF[name], __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
