"""One case in a worker: run the verb into a temporary folder, then move it into place.

The verb writes into ``OUT/cases/.tmp-<case_id>-<token>`` (same filesystem
as its final place); only a verb that succeeded is renamed to
``OUT/cases/<case_id>``, so a crash never leaves a half-written case under
its final name. The verb's terminal output goes to ``OUT/logs/<case_id>.log``.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import resource
import shutil
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class CaseTask:
    """What a worker needs to run one case (plain data: it travels between processes)."""

    case_id: str
    argv: tuple[str, ...]
    temporary_dir: str
    final_dir: str
    log_path: str


@dataclass
class CaseResult:
    """The outcome of one case, as the driver records it."""

    case_id: str
    ok: bool
    error: str = ""
    started_at: float = 0.0
    ended_at: float = 0.0
    peak_memory_mb: float | None = None
    checksums: dict[str, str] = field(default_factory=dict)
    attempts: int = 1
    input_error: bool = False  # the verb refused its input (exit 2): re-run only once changed

    @property
    def duration_s(self) -> float:
        return self.ended_at - self.started_at


def temporary_dir_for(cases_dir: Path, case_id: str) -> Path:
    """A fresh temporary folder name beside the case's final folder."""
    return cases_dir / f".tmp-{case_id}-{uuid.uuid4().hex[:8]}"


def file_checksums(folder: Path) -> dict[str, str]:
    """SHA-256 of every file under ``folder``, keyed by its relative POSIX path.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (folder / "a.txt").write_text("abc")
    >>> file_checksums(folder)["a.txt"][:12]
    'ba7816bf8f01'
    """
    checksums = {}
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        digest = hashlib.sha256()
        with open(path, "rb") as file:
            for block in iter(lambda: file.read(1 << 20), b""):
                digest.update(block)
        checksums[path.relative_to(folder).as_posix()] = digest.hexdigest()
    return checksums


def _reset_peak_memory() -> bool:
    """Reset this process's peak resident memory (Linux); False where it cannot."""
    try:
        with open("/proc/self/clear_refs", "w") as file:
            file.write("5")
        return True
    except OSError:
        return False


def _peak_memory_mb(was_reset: bool) -> float:
    if was_reset:
        with open("/proc/self/status") as file:
            for line in file:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    maxrss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return maxrss / (1024 * 1024) if sys.platform == "darwin" else maxrss / 1024


@contextlib.contextmanager
def _output_to(log_path: Path, whole_process: bool):
    """Send the verb's stdout and stderr to ``log_path``.

    ``whole_process`` also redirects file descriptors 1 and 2, catching what
    compiled libraries print; only for a process that runs this case alone.
    """
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "w", buffering=1) as log:
        saved = [os.dup(1), os.dup(2)] if whole_process else []
        if whole_process:
            sys.stdout.flush(), sys.stderr.flush()
            os.dup2(log.fileno(), 1), os.dup2(log.fileno(), 2)
        try:
            with contextlib.redirect_stdout(log), contextlib.redirect_stderr(log):
                yield
        finally:
            for fd, copy in enumerate(saved, start=1):
                os.dup2(copy, fd)
                os.close(copy)


def _error_line(log_path: Path, exit_code: int) -> str:
    lines = [line.strip() for line in log_path.read_text(errors="replace").splitlines()]
    errors = [line for line in lines if line.startswith("hounsfield:") and "warning:" not in line]
    if errors:
        return errors[-1].removeprefix("hounsfield:").strip().removeprefix("error:").strip()
    return next((line for line in reversed(lines) if line), f"exit code {exit_code}")


def move_into_place(temporary: Path, final: Path) -> None:
    """Rename ``temporary`` to ``final``, replacing an older ``final`` folder."""
    old = None
    if final.exists():
        old = final.with_name(f".old-{final.name}-{uuid.uuid4().hex[:8]}")
        final.rename(old)
    temporary.rename(final)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def run_case(task: CaseTask, whole_process: bool = False) -> CaseResult:
    """Run one case's verb and move its outputs into place when it succeeds.

    Exceptions of the verb become a failed result with their one-line error;
    the worker itself only dies when the process does (killed, out of memory).
    """
    from ..cli import main  # imported here: a worker process may start bare

    temporary, final, log_path = Path(task.temporary_dir), Path(task.final_dir), Path(task.log_path)
    shutil.rmtree(temporary, ignore_errors=True)  # a previous attempt's, on a worker that died
    temporary.mkdir(parents=True)
    was_reset = _reset_peak_memory()
    started = time.time()
    try:
        with _output_to(log_path, whole_process):
            exit_code = main(list(task.argv))
        error = "" if exit_code == 0 else _error_line(log_path, exit_code)
    except SystemExit as exit_:  # argparse refused the options: its message is in the log
        exit_code, error = 2, _error_line(log_path, exit_.code)
    except Exception as exception:
        exit_code, error = 1, f"{type(exception).__name__}: {exception}"
    result = CaseResult(task.case_id, exit_code == 0, error, started, time.time(),
                        _peak_memory_mb(was_reset))
    result.input_error = exit_code == 2
    if result.ok:
        result.checksums = file_checksums(temporary)
        move_into_place(temporary, final)
    else:
        shutil.rmtree(temporary, ignore_errors=True)
    return result
