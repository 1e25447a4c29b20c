"""How each verb is called for one case: its command line and where it writes.

Verbs write either a folder (``-o DIR``) or one file; a case's outputs
always end up in ``OUT/cases/<case_id>/``, so a file verb writes
``OUT/cases/<case_id>/<name>``.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

from .. import __version__
from ..errors import InputError
from .cases import Case


@dataclass(frozen=True)
class VerbSpec:
    """The output of a verb: a folder (``file_name`` None) or a file of that default name."""

    file_name: str | None = None
    output_flag: str | None = "-o"


VERB_SPECS = {
    "segment": VerbSpec(), "analyze": VerbSpec(), "lesion": VerbSpec(), "simulate": VerbSpec(),
    "drr": VerbSpec("drr.png"), "convert": VerbSpec("image.nii.gz", output_flag=None),
    "measure": VerbSpec("stats.json"), "project": VerbSpec("projections.npy"),
    "reconstruct": VerbSpec("ct.nii.gz"), "evaluate": VerbSpec(output_flag=None),
}


def verb_spec(verb: str) -> VerbSpec:
    """The spec of a verb that batch can run; InputError for others."""
    if verb not in VERB_SPECS:
        raise InputError(f"batch cannot run the verb {verb!r}; choose from "
                         f"{', '.join(sorted(VERB_SPECS))}")
    return VERB_SPECS[verb]


def verb_argv(verb: str, case: Case, output_dir: Path, verb_options: tuple[str, ...],
              file_name: str | None = None) -> list[str]:
    """The ``hounsfield`` arguments that run ``verb`` on ``case`` into ``output_dir``.

    Examples
    --------
    >>> verb_argv("segment", Case("a", ("a.nii.gz",)), Path("tmp"), ("--split",))
    ['segment', 'a.nii.gz', '-o', 'tmp', '--split']
    >>> verb_argv("convert", Case("a", ("a.nrrd",)), Path("tmp"), ())
    ['convert', 'a.nrrd', 'tmp/image.nii.gz']
    """
    spec = verb_spec(verb)
    options = [*verb_options, *case.options]
    if verb == "evaluate":
        if len(case.inputs) != 2:
            raise InputError(f"case {case.case_id}: evaluate needs two inputs, "
                             "prediction;reference")
        pred, ref = case.inputs
        return ["evaluate", "--pred", pred, "--ref", ref, "--csv", str(output_dir / "metrics.csv"),
                "--json", str(output_dir / "metrics.json"), *options]
    target = output_dir if spec.file_name is None else output_dir / (file_name or spec.file_name)
    if spec.output_flag is None:
        return [verb, *case.inputs, str(target), *options]
    return [verb, *case.inputs, spec.output_flag, str(target), *options]


def _input_fingerprint(path: str) -> list:
    """Name, size and modification time of a file or of every file in a folder."""
    path = Path(path)
    if path.is_dir():
        files = sorted(p for p in path.rglob("*") if p.is_file())
    else:
        files = [path] if path.exists() else []
    stats = [(os.fspath(f), f.stat().st_size, f.stat().st_mtime_ns) for f in files]
    return stats or [(os.fspath(path), None, None)]


def config_hash(verb: str, case: Case, verb_options: tuple[str, ...],
                file_name: str | None = None) -> str:
    """A hash of everything that decides a case's outputs.

    The verb, its options, the case's inputs (paths, sizes and modification
    times, so an edited input is re-run) and the hounsfield version.

    Examples
    --------
    >>> case = Case("a", ("missing.nii.gz",))
    >>> config_hash("segment", case, ()) == config_hash("segment", case, ("--split",))
    False
    """
    document = {"verb": verb, "options": [*verb_options, *case.options], "file_name": file_name,
                "inputs": [_input_fingerprint(p) for p in case.inputs], "version": __version__}
    return hashlib.sha256(json.dumps(document, default=str).encode()).hexdigest()[:16]
