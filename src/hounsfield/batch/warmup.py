"""Warm a process for a verb: run it once on a tiny synthetic CT.

The first call of a verb in a fresh process imports modules lazily, loads
numba's cached kernels and fills other caches: a few tenths of a second
that every case forked from a cold process would pay again. The local pool's
fork server imports this module; when the driver names a verb in the
``HOUNSFIELD_BATCH_WARMUP`` environment variable (JSON: the verb, then its
options), the server runs that verb, with those options, on a 24 × 32 × 32
phantom through the same NIfTI read and write path, and every case forked
afterwards inherits the warm state. Warming is best effort: a verb that
refuses the phantom (one that needs projections or two label maps) just
starts cold.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
import tempfile
from pathlib import Path

ENVIRONMENT_VARIABLE = "HOUNSFIELD_BATCH_WARMUP"
_SHAPE = (24, 32, 32)
_SPACING_MM = (12.0, 10.0, 10.0)


def warm_up(verb: str, verb_options: tuple[str, ...] = ()) -> bool:
    """Run ``verb`` once on a tiny phantom, silently; True when it succeeded.

    Parameters
    ----------
    verb : str
        A verb batch can run (``hounsfield.batch.verbs.VERB_SPECS``).
    verb_options : tuple of str
        The batch's options for the verb, so the same code paths are warmed.

    Examples
    --------
    >>> warm_up("convert")
    True
    >>> warm_up("evaluate")  # needs two label maps: stays cold
    False
    """
    from ..cli import main
    from ..data.anatomy import thorax_phantom
    from ..io import write
    from .cases import Case
    from .verbs import verb_argv

    folder = Path(tempfile.mkdtemp(prefix="hounsfield-warmup-"))
    try:
        ct, _ = thorax_phantom(shape=_SHAPE, spacing_mm=_SPACING_MM, seed=0)
        write(ct, folder / "warmup.nii.gz")
        argv = verb_argv(verb, Case("warmup", (str(folder / "warmup.nii.gz"),)),
                         folder / "out", tuple(verb_options))
        (folder / "out").mkdir()
        quiet = io.StringIO()
        with contextlib.redirect_stdout(quiet), contextlib.redirect_stderr(quiet):
            return main(argv) == 0
    except (Exception, SystemExit):
        return False
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def warm_up_from_environment() -> bool:
    """Warm up for the verb named in ``HOUNSFIELD_BATCH_WARMUP``; False when none is named.

    The variable is removed, so processes started by the cases do not warm up again.
    This runs in the fork server, whose children are forked after it: parallel
    kernels there use numba's fork-safe ``workqueue`` threads, since a process
    that has started GNU OpenMP threads cannot fork children that use them.
    """
    named = os.environ.pop(ENVIRONMENT_VARIABLE, None)
    if not named:
        return False
    import numba

    numba.config.THREADING_LAYER = "workqueue"
    try:
        verb, *options = json.loads(named)
    except (ValueError, TypeError):
        return False
    return warm_up(str(verb), tuple(str(option) for option in options))


warm_up_from_environment()
