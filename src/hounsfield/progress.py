"""One progress bar for long work: a transient rich bar on stderr, or nothing."""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable, Iterator


@contextlib.contextmanager
def progress_bar(enabled: bool, total: int, description: str, *, completed: int = 0,
                 value_name: str | None = None) -> Iterator[Callable[..., None]]:
    """Yield ``advance(steps=1, value=None)`` that moves the bar (when ``enabled``).

    ``value_name`` shows the last ``value`` after the bar (a loss, a residual).

    >>> with progress_bar(False, 10, "work") as advance:
    ...     advance(3)
    """
    if not enabled:
        yield lambda steps=1, value=None: None
        return
    from rich import progress as rp
    from rich.console import Console

    columns = [rp.TextColumn("{task.description}"), rp.BarColumn(), rp.MofNCompleteColumn()]
    if value_name is not None:
        columns.append(rp.TextColumn(value_name + " {task.fields[value]:.4g}"))
    columns.append(rp.TimeRemainingColumn())
    with rp.Progress(*columns, console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task(description, total=total, completed=completed, value=math.nan)

        def advance(steps: int = 1, value=None) -> None:
            fields = {} if value is None else {"value": value}
            bar.update(task, advance=steps, **fields)

        yield advance
