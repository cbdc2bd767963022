"""Run a pure batch function over a stream of batches: in-process or on a local process pool.

Results come back in input order and at most `workers * 2` batches are in flight, so memory stays
bounded however long the stream is. A Spark runner applies the same function with `mapInArrow`.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from typing import TypeVar

T = TypeVar("T")
R = TypeVar("R")


def run_local(fn: Callable[[T], R], batches: Iterable[T], workers: int = 1,
              max_inflight: int | None = None) -> Iterator[R]:
    """Apply a picklable `fn` to each batch, yielding results in order."""
    if workers <= 1:
        for b in batches:
            yield fn(b)
        return
    limit = max_inflight or workers * 2
    with ProcessPoolExecutor(max_workers=workers) as pool:
        pending: deque[Future[R]] = deque()
        for b in batches:
            pending.append(pool.submit(fn, b))
            if len(pending) >= limit:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()
