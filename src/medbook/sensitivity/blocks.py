"""Row blocks: per-row arithmetic in cache-sized pieces, run on a small thread pool.

A kernel over a million rows makes several 8 MB temporaries that do not fit in a
core's cache; evaluated block by block, its temporaries stay in cache, and since
NumPy releases the GIL the blocks run in parallel threads. :func:`map_blocks`
returns the blocks' results in block order, and :func:`fold` sums them in that
order, so a reduction gives the same bits whatever the number of threads.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from threadpoolctl import ThreadpoolController

__all__ = ["BLOCK_ROWS", "THREADS", "fold", "map_blocks"]

#: Rows per block: a block's float64 temporaries (256 kB each) stay in cache while reused.
BLOCK_ROWS = 32_768
#: Worker threads (read at each call; the benchmark sets it to compare).
THREADS = max(1, min(4, os.cpu_count() or 1))
T = TypeVar("T")


def map_blocks(
    func: Callable[[slice], T], n: int, rows: int = BLOCK_ROWS, threads: int | None = None
) -> list[T]:
    """``func(block)`` for consecutive row slices of ``range(n)``, results in block order.

    Examples
    --------
    >>> map_blocks(lambda s: (s.start, s.stop), 5, rows=2, threads=1)
    [(0, 2), (2, 4), (4, 5)]
    """
    spans = [slice(i, min(i + rows, n)) for i in range(0, n, rows)]
    workers = THREADS if threads is None else threads
    with _blas().limit(limits=1, user_api="blas"):  # our threads, not BLAS's, share the cores
        if workers <= 1 or len(spans) <= 1:
            return [func(span) for span in spans]
        return list(_pool(workers).map(func, spans))


def fold(parts: Sequence[tuple[Any, ...]]) -> tuple[Any, ...]:
    """Position-wise sums of the blocks' tuples, added in block order.

    Examples
    --------
    >>> fold([(1.0, 10.0), (2.0, 20.0), (3.0, 30.0)])
    (6.0, 60.0)
    """
    totals = list(parts[0])
    for part in parts[1:]:
        for i, value in enumerate(part):
            totals[i] = totals[i] + value
    return tuple(totals)


@functools.cache
def _blas() -> ThreadpoolController:
    return ThreadpoolController()


@functools.cache
def _pool(workers: int) -> ThreadPoolExecutor:
    return ThreadPoolExecutor(max_workers=workers, thread_name_prefix="medbook-rows")
