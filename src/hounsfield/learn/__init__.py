"""Deep-learning bridges for hounsfield (PyTorch, the optional ``learn`` extra).

Importing :mod:`hounsfield.learn` needs nothing beyond hounsfield itself; the
names below load :mod:`hounsfield.learn.torch_ops` on first use, which
raises an ImportError with the install hint when PyTorch is missing::

    pip install "hounsfield[learn]"
"""

from __future__ import annotations

import importlib

_TORCH_OPS = ("apply_operator", "ForwardProjection", "BackProjection", "FilteredBackProjection",
              "OperatorLayer")

__all__ = list(_TORCH_OPS)


def __getattr__(name: str):
    if name in _TORCH_OPS:
        return getattr(importlib.import_module(".torch_ops", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
