"""Errors that the command line turns into one-line messages.

`InputError` means the user's input cannot be used (exit code 2); anything
else escaping a command is an internal error (exit code 1).
"""

from __future__ import annotations

from pathlib import Path


class InputError(ValueError):
    """Input that cannot be used, with the file it came from.

    Examples
    --------
    >>> str(InputError("not a DICOM file", path="scan/a.dcm"))
    'scan/a.dcm: not a DICOM file'
    """

    def __init__(self, problem: str, path: str | Path | None = None):
        self.problem = problem
        self.path = None if path is None else Path(path)
        super().__init__(problem if path is None else f"{path}: {problem}")


class HounsfieldWarning(UserWarning):
    """A recoverable problem with the input (resampled slices, gantry tilt, ...)."""


class DataUnavailableError(RuntimeError):
    """Example data that could not be fetched from the package registry."""
