"""Refuse, before allocating, a fit whose cross-products would not fit in memory.

The kernel (:mod:`medbook.fit`) holds, for every replicate, ``p x p`` cross-product
matrices (upper triangles while accumulating, full matrices while solving), and
per row chunk the rows' outer products (up to 8,192 rows x ``p(p+1)/2`` values).
With a handful of parameters that is small whatever ``B``; with 500 covariates and
1,000 replicates it is several gigabytes (a run measured 8.2 GB). :func:`check_memory`
estimates the peak from ``n``, ``B`` and ``p`` and raises a one-line
:class:`~medbook.errors.DataError` above :data:`MEMORY_LIMIT` bytes (environment
variable ``MEDBOOK_MEMORY_LIMIT_GB`` overrides it), naming what to reduce.
"""

from __future__ import annotations

import os

from .errors import DataError
from .weights import BLOCK_ROWS

__all__ = ["MEMORY_LIMIT", "check_memory", "estimated_peak"]

#: Default ceiling on the estimated peak of one fit, in bytes.
MEMORY_LIMIT = 4 * 2**30
_PER_REPLICATE_TRIANGLES = 2  # accumulated cross-products held per replicate
_PER_REPLICATE_MATRICES = 3  # full p x p matrices per replicate while solving


def estimated_peak(n: int, n_rep: int, p: int) -> int:
    """Estimated peak bytes of fitting a ``p``-parameter model to ``n`` rows, ``n_rep`` times.

    Examples
    --------
    >>> estimated_peak(3000, 1000, 6) < 2**21  # under 2 MiB
    True
    >>> round(estimated_peak(3000, 1000, 505) / 2**30, 1)
    10.5
    """
    triangle = p * (p + 1) // 2
    outer = min(n, BLOCK_ROWS) * triangle * 8
    per_replicate = 8 * (_PER_REPLICATE_TRIANGLES * triangle + _PER_REPLICATE_MATRICES * p * p)
    return outer + n_rep * per_replicate


def _limit() -> int:
    value = os.environ.get("MEDBOOK_MEMORY_LIMIT_GB")
    try:
        return int(float(value) * 2**30) if value else MEMORY_LIMIT
    except ValueError:
        return MEMORY_LIMIT


def check_memory(n: int, n_rep: int, p: int) -> None:
    """Raise :class:`DataError` if the fit's estimated peak exceeds the memory limit.

    Parameters
    ----------
    n, n_rep, p : int
        Rows, replicates (1 for the point fit) and parameters of the largest model.

    Examples
    --------
    >>> check_memory(3000, 1000, 6)
    >>> check_memory(3000, 1000, 505)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    medbook.errors.DataError: a model with 505 parameters, 1000 replicates and 3,000 rows ...
    """
    peak, limit = estimated_peak(n, n_rep, p), _limit()
    if peak <= limit:
        return
    fewer = max(1, (limit - estimated_peak(n, 0, p)) // max(estimated_peak(0, 1, p), 1))
    hint = f"n_boot={fewer} or fewer" if estimated_peak(n, 1, p) <= limit else "fewer covariates"
    raise DataError(
        f"a model with {p} parameters, {n_rep} replicates and {n:,} rows needs about "
        f"{peak / 2**30:.1f} GiB, above the {limit / 2**30:.1f} GiB limit; use {hint} "
        "(or fewer categorical levels), or set MEDBOOK_MEMORY_LIMIT_GB"
    )
