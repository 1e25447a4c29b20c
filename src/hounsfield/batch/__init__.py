"""Dataset-scale runs of a verb: a resumable ledger, a local process pool or Dask.

>>> from hounsfield.batch import Case, BatchOptions
>>> Case("p01", ("p01.nii.gz",)).case_id
'p01'
"""

from .cases import Case, read_cases
from .ledger import Ledger
from .runner import BatchOptions, run_batch

__all__ = ["BatchOptions", "Case", "Ledger", "read_cases", "run_batch"]
