"""Cases as Dask distributed tasks, on a scheduler or on a LocalCluster here.

Each case is one task that runs the verb in a worker process and moves its
outputs into place there, so ``OUT`` must be a path every worker can write
(a shared filesystem). Dask reschedules the task of a worker that died; after
``retry`` further deaths it gives up (``KilledWorker``) and the case is
recorded failed. Dask is imported only here, so the rest of batch works
without it.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

from ..errors import InputError
from .worker import CaseResult, CaseTask, run_case


def _distributed():
    try:
        import dask
        import distributed
    except ImportError:
        raise InputError("Dask is not installed: pip install 'hounsfield[scale]'") from None
    return dask, distributed


class DaskPool:
    """Run cases on a Dask cluster.

    Parameters
    ----------
    scheduler : str or None
        Address such as ``tcp://host:8786``; None starts a LocalCluster of
        ``workers`` processes on this machine (loopback only).
    workers : int
        LocalCluster worker processes (one thread each).
    retry : int
        Worker deaths a case survives (LocalCluster only: a remote
        scheduler's own ``allowed-failures`` setting applies there).
    memory_limit : str or None
        LocalCluster worker memory limit, e.g. ``"8GB"`` (Dask's nanny
        restarts a worker above it).
    """

    def __init__(self, scheduler: str | None, workers: int, retry: int = 2,
                 memory_limit: str | None = None):
        self.scheduler, self.workers, self.retry = scheduler, workers, retry
        self.memory_limit = memory_limit
        self.client = None
        self._cluster = None

    def __enter__(self) -> DaskPool:
        dask, distributed = _distributed()
        with dask.config.set({"distributed.scheduler.allowed-failures": self.retry}):
            if self.scheduler is None:
                self._cluster = distributed.LocalCluster(
                    n_workers=self.workers, threads_per_worker=1, processes=True,
                    host="127.0.0.1", dashboard_address=None,
                    memory_limit=self.memory_limit or "auto")
                self.client = distributed.Client(self._cluster)
            else:
                self.client = distributed.Client(self.scheduler, timeout="30s")
        return self

    def __exit__(self, *exc_info) -> None:
        if self.client is not None:
            self.client.close()
        if self._cluster is not None:
            self._cluster.close()

    def run(self, tasks: Iterable[CaseTask],
            on_start: Callable[[str], None] = lambda case_id: None) -> Iterator[CaseResult]:
        """Yield each case's result as it finishes."""
        _, distributed = _distributed()
        futures = {}
        for task in tasks:
            on_start(task.case_id)
            key = f"hounsfield-batch-{Path(task.temporary_dir).name}"
            futures[self.client.submit(run_case, task, key=key, pure=False)] = task
        started = time.time()
        try:
            for future in distributed.as_completed(list(futures)):
                yield self._result(future, futures.pop(future), started)
        finally:
            for future in futures:
                future.cancel()

    def _result(self, future, task: CaseTask, submitted: float) -> CaseResult:
        if future.status == "finished":
            return future.result()
        error = future.exception()
        name = type(error).__name__
        if name == "KilledWorker":
            message = f"worker died {self.retry + 1} times running this case"
        else:
            message = f"{name}: {error}"
        return CaseResult(task.case_id, False, message, submitted, time.time(),
                          attempts=self.retry + 1 if name == "KilledWorker" else 1)
