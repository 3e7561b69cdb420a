"""Ordered, bounded parallel map over batches of records, plus the progress bar.

`Pool.imap` reads its whole input ahead of the workers, which would pull a 1 GB file into memory; here
at most `2 × workers` batches are in flight, and results come back in input order (so output files keep
the record order). One worker runs inline, with no process at all.
"""

from __future__ import annotations

import multiprocessing
import os
import sys
from collections import deque
from typing import Callable, Iterable, Iterator, TypeVar

from safellava import attributes

T = TypeVar("T")
R = TypeVar("R")


def map_ordered(func: Callable[[T], R], batches: Iterable[T], workers: int) -> Iterator[R]:
    """Yield `func(batch)` for each batch, in order, computed by `workers` processes.

    `func` must be a module-level function (it is sent to spawned processes by name). Workers see the
    attributes registered here, those registered at run time included."""
    if workers <= 1:
        for batch in batches:
            yield func(batch)
        return
    # spawn: a clean interpreter per worker (no inherited threads or locks from the progress bar).
    context = multiprocessing.get_context("spawn")
    with context.Pool(processes=workers, initializer=attributes.restore, initargs=(attributes.snapshot(),)) as pool:
        pending: deque = deque()
        for batch in batches:
            pending.append(pool.apply_async(func, (batch,)))
            if len(pending) >= 2 * workers:
                yield pending.popleft().get()
        while pending:
            yield pending.popleft().get()


def default_workers() -> int:
    """Worker processes to use when not told: the CPUs this process may run on, at most 8."""
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        cpus = os.cpu_count() or 1
    return max(1, min(8, cpus))


class Progress:
    """A tqdm bar over the bytes of the input files (records are counted in the postfix), on stderr.
    Disabled when `enabled` is False; tqdm is imported only when a bar is shown."""

    def __init__(self, total_bytes: int, description: str, enabled: bool = True) -> None:
        self._bar = None
        self._done = 0
        if enabled:
            from tqdm import tqdm

            self._bar = tqdm(
                total=total_bytes, unit="B", unit_scale=True, desc=description, file=sys.stderr, smoothing=0.1
            )

    def advance_to(self, done_bytes: int, records: int) -> None:
        if self._bar is None or done_bytes <= self._done:
            return
        self._bar.update(done_bytes - self._done)
        self._done = done_bytes
        self._bar.set_postfix(records=records, refresh=False)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
