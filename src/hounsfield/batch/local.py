"""A local pool that runs every case in a fresh process.

One process per case isolates cases from each other: a case that is killed
or runs out of memory takes only itself down, and its peak memory is its
own. Processes are forked from a server that has already imported
hounsfield (``forkserver``) and run the batch's verb once on a tiny phantom
(``hounsfield.batch.warmup``), so a case starts in milliseconds with warm
caches, not in the second an import and a first call take; where there is
no fork server, ``spawn`` is used. Measured with ``benchmarks/bench_batch.py``
the runner costs a start-up of about 2 s once per run plus about 10 ms per
case (2.5 % of a 0.4 s phantom case, 1 % of a 4 s chest CT case).
"""

from __future__ import annotations

import contextlib
import json
import multiprocessing
import multiprocessing.connection
import os
import shutil
import signal
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

from .warmup import ENVIRONMENT_VARIABLE
from .worker import CaseResult, CaseTask, run_case

_POLL_S = 0.2


def _context():
    if "forkserver" in multiprocessing.get_all_start_methods():
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload(["hounsfield.cli", "hounsfield.batch.worker",
                                        "hounsfield.batch.warmup"])
        return context
    return multiprocessing.get_context("spawn")


@contextlib.contextmanager
def _warm_up_for(warm_argv: tuple[str, ...] | None):
    """Name the verb to warm up to a fork server that starts inside this block.

    The fork server reads its environment once, when it starts (the first
    process of this Python process); a server already running stays as warm
    as it is, which changes how fast cases start, never what they produce.
    """
    if not warm_argv:
        yield
        return
    previous = os.environ.get(ENVIRONMENT_VARIABLE)
    os.environ[ENVIRONMENT_VARIABLE] = json.dumps(list(warm_argv))
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop(ENVIRONMENT_VARIABLE, None)
        else:
            os.environ[ENVIRONMENT_VARIABLE] = previous


def _child_main(task: CaseTask, connection) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the driver decides how to stop
    connection.send(run_case(task, whole_process=True))
    connection.close()


def _rss_mb(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/status") as file:
            for line in file:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def _death_reason(exit_code: int | None) -> str:
    if exit_code is not None and exit_code < 0:
        return f"worker killed by {signal.Signals(-exit_code).name}"
    return f"worker exited with code {exit_code} without a result"


@dataclass
class _Running:
    task: CaseTask
    process: multiprocessing.Process
    reader: multiprocessing.connection.Connection
    started: float
    attempt: int
    killed_for: str = ""


class LocalPool:
    """Run cases in up to ``workers`` fresh processes at a time.

    Parameters
    ----------
    workers : int
        Processes at once.
    retry : int
        How many times a case whose process died is run again.
    timeout_s : float or None
        A case running longer is killed and recorded failed (not retried).
    memory_limit_mb : float or None
        A case whose resident memory exceeds this is killed (and retried, as
        an out-of-memory kill would be).
    warm_argv : tuple of str or None
        The verb and its options, run once on a tiny phantom in the fork
        server before it forks the first case (``hounsfield.batch.warmup``).
    """

    def __init__(self, workers: int, retry: int = 2, timeout_s: float | None = None,
                 memory_limit_mb: float | None = None,
                 warm_argv: tuple[str, ...] | None = None):
        self.workers, self.retry = workers, retry
        self.timeout_s, self.memory_limit_mb = timeout_s, memory_limit_mb
        self.warm_argv = warm_argv
        self._context = _context()

    def _start(self, task: CaseTask, attempt: int) -> _Running:
        reader, writer = self._context.Pipe(duplex=False)
        process = self._context.Process(target=_child_main, args=(task, writer), daemon=True)
        with _warm_up_for(self.warm_argv):
            process.start()
        writer.close()
        return _Running(task, process, reader, time.time(), attempt)

    def _police(self, running: _Running) -> None:
        """Kill a case past its time or memory limit."""
        if running.killed_for:
            return
        elapsed = time.time() - running.started
        if self.timeout_s is not None and elapsed > self.timeout_s:
            running.killed_for = f"timed out after {self.timeout_s / 60:g} min"
        elif (self.memory_limit_mb is not None
              and _rss_mb(running.process.pid) > self.memory_limit_mb):
            running.killed_for = f"exceeded the memory limit of {self.memory_limit_mb:.0f} MB"
        if running.killed_for:
            running.process.kill()

    def _collect(self, running: _Running) -> CaseResult | None:
        """The result of a finished process, or None when it died and will be retried."""
        result = None
        if running.reader.poll():
            try:
                result = running.reader.recv()
            except (EOFError, OSError):
                result = None
        running.process.join()
        running.reader.close()
        if result is not None:
            result.attempts = running.attempt
            return result
        shutil.rmtree(running.task.temporary_dir, ignore_errors=True)
        reason = running.killed_for or _death_reason(running.process.exitcode)
        if running.attempt <= self.retry and not reason.startswith("timed out"):
            return None
        return CaseResult(running.task.case_id, False,
                          f"{reason} (attempt {running.attempt} of {self.retry + 1})",
                          running.started, time.time(), attempts=running.attempt)

    def run(self, tasks: Iterable[CaseTask],
            on_start: Callable[[str], None] = lambda case_id: None) -> Iterator[CaseResult]:
        """Yield each case's result as it finishes; a dead worker's case is retried first."""
        queue = deque((task, 1) for task in tasks)
        running: list[_Running] = []
        try:
            while queue or running:
                while queue and len(running) < self.workers:
                    task, attempt = queue.popleft()
                    on_start(task.case_id)
                    running.append(self._start(task, attempt))
                for item in running:  # also a case that would finish before the next poll
                    self._police(item)
                ready = multiprocessing.connection.wait(
                    [r.process.sentinel for r in running], timeout=_POLL_S)
                for item in list(running):
                    if item.process.sentinel not in ready:
                        continue
                    running.remove(item)
                    result = self._collect(item)
                    if result is None:
                        queue.appendleft((item.task, item.attempt + 1))
                    else:
                        yield result
        finally:
            _stop(running)


def _stop(running: list[_Running]) -> None:
    """Kill what still runs (interrupted) and remove its temporary folders."""
    for item in running:
        if item.process.is_alive():
            item.process.kill()
    for item in running:
        item.process.join()
        item.reader.close()
        shutil.rmtree(item.task.temporary_dir, ignore_errors=True)


def default_workers() -> int:
    """Processes for a local pool: the cores this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:
        return max(1, os.cpu_count() or 1)
