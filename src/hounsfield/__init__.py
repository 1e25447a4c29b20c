"""hounsfield: CT imaging from projections to reports.

>>> import hounsfield as hf
>>> vol = hf.Volume(np.zeros((2, 2, 2), np.float32))  # doctest: +SKIP
"""

from .errors import HounsfieldWarning, InputError
from .labels import LabelTable
from .volume import Volume

__version__ = "0.1.0"

__all__ = ["Volume", "LabelTable", "InputError", "HounsfieldWarning", "read", "write"]


def read(path, **options):
    """Read a CT or label map from any supported format; see :func:`hounsfield.io.read`."""
    from .io import read as _read

    return _read(path, **options)


def write(volume, path, **options):
    """Write a Volume to NIfTI/NRRD/MHA; see :func:`hounsfield.io.write`."""
    from .io import write as _write

    return _write(volume, path, **options)
