"""Example data and phantoms."""

from .example import example_chest_ct, example_chest_ct_paths

__all__ = ["example_chest_ct", "example_chest_ct_paths"]
