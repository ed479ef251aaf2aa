"""Passes over row blocks on Dask: map every block to small arrays, sum them in a fixed tree.

Runs on the current ``distributed.Client`` when there is one (the blocks are
then persisted on the workers, so later passes do not re-read the source) and
on Dask's default scheduler otherwise. The tree only depends on the number of
blocks, so sums are bit-for-bit the same however the input was partitioned and
whichever worker computes which block.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np

from ..errors import MedbookError

__all__ = ["ClusterError", "compute", "current_client", "persist", "reduce_blocks"]

_SPLIT_EVERY = 8
_NO_WORKERS_SECONDS = 30.0
_POLL_SECONDS = 2.0


class ClusterError(MedbookError, RuntimeError):
    """The Dask cluster failed (a worker died, the scheduler went away, ...)."""


def current_client() -> Any | None:
    """The current ``distributed.Client``, or None (then Dask's default scheduler runs)."""
    try:
        from distributed import Client
    except ImportError:  # dask without distributed
        return None
    try:
        return Client.current(allow_global=True)
    except ValueError:
        return None


def _cluster_failure(err: BaseException) -> ClusterError:
    kind = type(err).__name__
    detail = " ".join(str(err).split())[:200]
    return ClusterError(f"the Dask cluster failed during the analysis ({kind}: {detail})")


def _wait(client: Any, future: Any) -> Any:
    """Result of ``future``, failing if the cluster is left without workers for a while."""
    idle_since = None
    while True:
        try:
            return future.result(timeout=_POLL_SECONDS)
        except TimeoutError:
            if client.status in ("closing", "closed"):
                raise ClusterError("the Dask client was closed during the analysis") from None
            if client.status != "running":
                raise ClusterError(
                    "the Dask cluster failed during the analysis (the connection to the "
                    "scheduler was lost)"
                ) from None
            workers = client.scheduler_info(n_workers=-1).get("workers", {})
            if workers:
                idle_since = None
                continue
            idle_since = idle_since or time.monotonic()
            if time.monotonic() - idle_since > _NO_WORKERS_SECONDS:
                future.cancel()
                raise ClusterError("the Dask cluster has no workers left") from None


def compute(*objects: Any) -> tuple[Any, ...]:
    """``dask.compute`` that turns a cluster failure into a one-line :class:`ClusterError`.

    Errors raised on purpose by medbook inside a task (e.g. a ``DataError``)
    pass through unchanged.
    """
    import dask

    client = current_client()
    try:
        if client is None:
            return dask.compute(*objects)
        futures = client.compute(list(objects))
        return tuple(_wait(client, f) for f in futures)
    except MedbookError:
        raise
    except (OSError, TimeoutError, RuntimeError) as err:
        raise _cluster_failure(err) from None
    except Exception as err:
        if type(err).__module__.startswith(("distributed", "tornado", "asyncio", "concurrent")):
            raise _cluster_failure(err) from None
        raise


def persist(array: Any) -> Any:
    """Keep ``array`` in the cluster's memory when a distributed client runs, else lazy."""
    client = current_client()
    if client is None:
        return array
    try:
        persisted = client.persist(array)
        from distributed import wait

        wait(persisted)
    except MedbookError:
        raise
    except Exception as err:
        raise _cluster_failure(err) from None
    return persisted


def _tree_sum(*parts: Any) -> Any:
    """Sum of nested tuples / dicts of arrays, in the order given (maximum for ``max_*`` keys)."""
    first = parts[0]
    if isinstance(first, dict):
        return {
            k: (_tree_max if str(k).startswith("max_") else _tree_sum)(*(p[k] for p in parts))
            for k in first
        }
    if isinstance(first, tuple):
        return tuple(_tree_sum(*(p[i] for p in parts)) for i in range(len(first)))
    total = first
    for part in parts[1:]:
        total = total + part
    return total


def _tree_max(*parts: np.ndarray) -> np.ndarray:
    return np.max(np.stack(parts), axis=0)


def reduce_blocks(blocks: Any, func: Callable[..., Any], *args: Any) -> Any:
    """``sum(func(block, first_row, *args) for every block)``, computed on the cluster.

    Parameters
    ----------
    blocks : dask.array.Array
        Rows in blocks along axis 0 (one block along axis 1).
    func : callable
        Maps a block's rows and the index of its first row to small arrays
        (nested tuples / dicts of arrays allowed; dict entries named ``max_*`` are
        combined by their elementwise maximum); it runs on the workers.
    *args
        Extra arguments of ``func`` (sent once per pass).

    Returns
    -------
    Same structure as ``func``'s result, summed over the blocks (``split_every``
    blocks at a time, always in the same order).
    """
    import dask

    starts = np.concatenate([[0], np.cumsum(blocks.chunks[0])[:-1]])
    shared = [dask.delayed(a, pure=True) if isinstance(a, np.ndarray) else a for a in args]
    level = [
        dask.delayed(func, pure=True)(part, int(start), *shared)
        for part, start in zip(blocks.to_delayed().ravel(), starts, strict=True)
    ]
    while len(level) > 1:
        level = [
            dask.delayed(_tree_sum, pure=True)(*level[i : i + _SPLIT_EVERY])
            for i in range(0, len(level), _SPLIT_EVERY)
        ]
    return compute(level[0])[0]
