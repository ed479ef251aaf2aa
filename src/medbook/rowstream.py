"""Poisson(1) replicate weights keyed by (seed, row, replicate): a counter-based stream.

The weight of row ``r`` in replicate ``j`` is a pure function of the seed, the
row's key (its position among the rows used) and ``j``. It does not depend on
how the rows are split into chunks or partitions, on which worker computes them
or in what order, or on how many other rows or replicates there are, so an
in-memory fit and a Dask fit of the same rows draw the same bootstrap.

Each row key and each replicate index is hashed once with SplitMix64's
finaliser; a row's draw for a replicate applies MurmurHash3's 32-bit finaliser
to the sum of the two hashes and maps the uniform 32-bit result to a Poisson(1)
count through the inverse of its distribution function (thresholds rounded to
``2**-32``; counts above 11 have probability below ``2**-32`` and are not drawn).
"""

from __future__ import annotations

import numpy as np
from scipy import stats

__all__ = ["poisson_weights", "row_uniforms", "stream_key"]

_U32 = np.uint32
_U64 = np.uint64
_GOLDEN = 0x9E3779B97F4A7C15
_MASK64 = 2**64 - 1
#: Spawn key of the row-sampling stream, so it is independent of the bootstrap's.
_SAMPLE_STREAM = 1


def _poisson_thresholds() -> np.ndarray:
    cdf = stats.poisson.cdf(np.arange(32), 1.0) * 2.0**32
    return np.array([round(c) for c in cdf if round(c) < 2**32], dtype=_U32)


_THRESHOLDS = _poisson_thresholds()


def stream_key(seed: int | None) -> int:
    """64-bit key of the stream for ``seed`` (fresh entropy when ``seed`` is None).

    Examples
    --------
    >>> stream_key(1) == stream_key(1) != stream_key(2)
    True
    """
    low, high = np.random.SeedSequence(seed).generate_state(2, np.uint32)
    return int(low) | (int(high) << 32)


def _splitmix64(x: np.ndarray) -> np.ndarray:
    """SplitMix64's finaliser (a bijection of uint64 with full avalanche)."""
    x = x.copy()
    x ^= x >> _U64(30)
    x *= _U64(0xBF58476D1CE4E5B9)
    x ^= x >> _U64(27)
    x *= _U64(0x94D049BB133111EB)
    x ^= x >> _U64(31)
    return x


def _high32(values: np.ndarray, key: int) -> np.ndarray:
    hashed = _splitmix64(values.astype(_U64) ^ _U64(key & _MASK64))
    return (hashed >> _U64(32)).astype(_U32)


def poisson_weights(key: int, rows: np.ndarray, n_rep: int) -> np.ndarray:
    """Poisson(1) counts for ``rows`` (row keys) and replicates ``0 .. n_rep - 1``.

    Parameters
    ----------
    key : int
        Stream key from :func:`stream_key`.
    rows : numpy.ndarray
        Non-negative integer row keys.
    n_rep : int
        Number of replicates.

    Returns
    -------
    numpy.ndarray
        ``(n_rep, len(rows))`` ``uint8`` counts.

    Examples
    --------
    >>> w = poisson_weights(stream_key(3), np.arange(10), 4)
    >>> w.shape, w.dtype.name
    ((4, 10), 'uint8')
    >>> bool((poisson_weights(stream_key(3), np.arange(4, 6), 4) == w[:, 4:6]).all())
    True
    """
    row_hash = _high32(np.asarray(rows), key)
    rep_hash = _high32(np.arange(n_rep), (key * _GOLDEN + _GOLDEN) & _MASK64)
    x = rep_hash[:, None] + row_hash[None, :]  # uint32, wraps
    x ^= x >> _U32(16)
    x *= _U32(0x85EBCA6B)
    x ^= x >> _U32(13)
    x *= _U32(0xC2B2AE35)
    x ^= x >> _U32(16)
    counts = np.zeros(x.shape, dtype=np.uint8)
    for threshold in _THRESHOLDS:
        counts += x >= threshold
    return counts


def row_uniforms(seed: int, rows: np.ndarray) -> np.ndarray:
    """Uniform numbers in ``[0, 1)`` keyed by (seed, row), for choosing a random sample of rows.

    The rows with the smallest numbers form a sample that depends only on the seed
    and the rows' keys, not on how the rows are partitioned. The stream is
    independent of the bootstrap's (:func:`poisson_weights`) for the same seed.

    Parameters
    ----------
    seed : int
        The study's seed.
    rows : numpy.ndarray
        Non-negative integer row keys (positions in the data).

    Returns
    -------
    numpy.ndarray
        ``float64`` numbers with 53 random bits each.

    Examples
    --------
    >>> u = row_uniforms(3, np.arange(6))
    >>> bool((u[2:4] == row_uniforms(3, np.arange(2, 4))).all()), bool((u < 1).all())
    (True, True)
    """
    sequence = np.random.SeedSequence(seed, spawn_key=(_SAMPLE_STREAM,))
    low, high = sequence.generate_state(2, np.uint32)
    key = int(low) | (int(high) << 32)
    hashed = _splitmix64(np.asarray(rows).astype(_U64) ^ _U64(key))
    return (hashed >> _U64(11)).astype(np.float64) * 2.0**-53
