"""The batch driver: plan from the ledger, run the cases, record each result.

Layout of an output folder ``OUT``::

    OUT/ledger.sqlite     per-case status, config hash, times, memory, checksums, error
    OUT/ledger.csv        the same, exported after every run
    OUT/cases/<case_id>/  each finished case's outputs (moved in complete)
    OUT/logs/<case_id>.log  what the verb printed
"""

from __future__ import annotations

import contextlib
import shutil
import signal
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from .cases import Case
from .ledger import Ledger
from .local import LocalPool, default_workers
from .verbs import config_hash, verb_argv, verb_spec
from .worker import CaseTask, temporary_dir_for


@dataclass
class BatchOptions:
    """How to run a batch; see ``hounsfield batch --help``."""

    verb: str
    output: Path
    verb_options: tuple[str, ...] = ()
    workers: int | None = None
    scheduler: str | None = None
    dask_local: bool = False
    memory_limit_mb: float | None = None
    retry: int = 2
    timeout_min: float | None = None
    force: bool = False
    file_name: str | None = None
    progress: bool = True
    console: Console = field(default_factory=lambda: Console(stderr=True, highlight=False))


def _clean_leftovers(cases_dir: Path) -> None:
    """Remove temporary folders of cases a killed driver or worker left behind."""
    for leftover in cases_dir.glob(".tmp-*"):
        shutil.rmtree(leftover, ignore_errors=True)
    for leftover in cases_dir.glob(".old-*"):
        shutil.rmtree(leftover, ignore_errors=True)


def _outputs_present(cases_dir: Path):
    def present(case_id: str, checksums: dict) -> bool:
        return all((cases_dir / case_id / name).is_file() for name in checksums)
    return present


def _tasks(options: BatchOptions, cases: Sequence[Case], to_run: list[str]) -> list[CaseTask]:
    cases_dir = options.output / "cases"
    by_id = {case.case_id: case for case in cases}
    tasks = []
    for case_id in to_run:
        temporary = temporary_dir_for(cases_dir, case_id)
        argv = verb_argv(options.verb, by_id[case_id], temporary, options.verb_options,
                         options.file_name)
        tasks.append(CaseTask(case_id, tuple(argv), str(temporary), str(cases_dir / case_id),
                              str(options.output / "logs" / f"{case_id}.log")))
    return tasks


def _pool(options: BatchOptions):
    workers = options.workers or default_workers()
    if options.scheduler or options.dask_local:
        from .distributed import DaskPool

        limit = None if options.memory_limit_mb is None else f"{options.memory_limit_mb}MB"
        return DaskPool(options.scheduler, workers, options.retry, limit)
    timeout_s = None if options.timeout_min is None else options.timeout_min * 60
    return LocalPool(workers, options.retry, timeout_s, options.memory_limit_mb,
                     warm_argv=(options.verb, *options.verb_options))


def _progress(options: BatchOptions) -> Progress:
    return Progress(TextColumn("[bold]{task.description}"), BarColumn(),
                    TextColumn("{task.completed}/{task.total} · done {task.fields[done]} · "
                               "failed {task.fields[failed]} · {task.fields[rate]}"),
                    TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn(),
                    console=options.console, disable=not options.progress, transient=False)


def run_batch(cases: Sequence[Case], options: BatchOptions) -> dict[str, int]:
    """Run ``options.verb`` over ``cases`` into ``options.output``; return the status counts.

    Cases done before with the same config hash (and outputs still present)
    are skipped unless ``options.force``. Ctrl-C kills the running cases,
    puts them back to pending and re-raises ``KeyboardInterrupt``; the next
    run resumes.
    """
    verb_spec(options.verb)
    cases_dir = options.output / "cases"
    cases_dir.mkdir(parents=True, exist_ok=True)
    _clean_leftovers(cases_dir)
    ledger = Ledger(options.output / "ledger.sqlite")
    try:
        hashes = {case.case_id: config_hash(options.verb, case, options.verb_options,
                                            options.file_name) for case in cases}
        to_run = ledger.plan(hashes, options.force, _outputs_present(cases_dir))
        _run_planned(ledger, _tasks(options, cases, to_run), options)
        return ledger.counts()
    finally:
        ledger.export_csv(options.output / "ledger.csv")
        ledger.close()


def _run_planned(ledger: Ledger, tasks: list[CaseTask], options: BatchOptions) -> None:
    started: set[str] = set()

    def on_start(case_id: str) -> None:
        with _holding_ctrl_c():
            ledger.mark_running(case_id)
            started.add(case_id)

    counts = {"done": 0, "failed": 0}
    pool = _pool(options)
    with _progress(options) as progress, _entered(pool):
        bar = progress.add_task(options.verb, total=len(tasks), done=0, failed=0, rate="")
        try:
            for result in pool.run(tasks, on_start):
                with _holding_ctrl_c():
                    ledger.record(result)
                    started.discard(result.case_id)
                counts["done" if result.ok else "failed"] += 1
                per_hour, _ = ledger.throughput()
                rate = "" if per_hour is None else f"{per_hour:.0f} cases/h"
                progress.update(bar, advance=1, rate=rate, **counts)
        except KeyboardInterrupt:
            for case_id in started:
                ledger.mark_pending(case_id)
            raise


@contextlib.contextmanager
def _holding_ctrl_c():
    """Deliver a Ctrl-C (SIGINT) only after the block: the ledger and ``started`` then agree.

    Without it, Ctrl-C between a ledger write and the matching change of
    ``started`` left a case marked running, or put a finished case back to pending.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


class _entered:
    """Enter a pool that is a context manager (Dask); a local pool needs none."""

    def __init__(self, pool):
        self.pool = pool

    def __enter__(self):
        return self.pool.__enter__() if hasattr(self.pool, "__enter__") else self.pool

    def __exit__(self, *exc_info):
        if hasattr(self.pool, "__exit__"):
            self.pool.__exit__(*exc_info)
