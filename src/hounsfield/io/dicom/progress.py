"""A rich progress bar on stderr for long loops over DICOM files."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import TypeVar

Item = TypeVar("Item")

#: Fewer files than this are read without a progress bar.
PROGRESS_MIN_ITEMS = 50


def with_progress(items: Sequence[Item], description: str, enabled: bool) -> Iterator[Item]:
    """Iterate over ``items``, showing a transient progress bar when asked and worth it."""
    if not enabled or len(items) < PROGRESS_MIN_ITEMS:
        yield from items
        return
    from rich.console import Console
    from rich.progress import track

    iterable: Iterable[Item] = track(items, description=description, total=len(items),
                                     console=Console(stderr=True), transient=True)
    yield from iterable
