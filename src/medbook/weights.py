"""Replicate weights generated in fixed row blocks, so any chunking gives the same numbers.

A bootstrap replicate is a weight vector over the rows: multinomial counts for
the classical bootstrap (identical to resampling rows), Poisson(1) counts for
streaming data (keyed by row, see :mod:`medbook.rowstream`, so the Dask route
draws the same ones), zeros for the jackknife. Weights are produced block by block
from seeded child generators, so ``B x n`` never has to be held in memory and
the result does not depend on how many rows are processed at a time.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Literal, TypeVar

import numpy as np
from threadpoolctl import ThreadpoolController

from .rowstream import poisson_weights, stream_key

__all__ = ["BLOCK_ROWS", "ReplicateWeights", "WeightKind", "row_dot", "tile_buffers", "tiles"]

WeightKind = Literal["unit", "multinomial", "poisson", "jackknife"]
BLOCK_ROWS = 8192
_CHUNK_BYTES = 32 * 2**20
_CACHE_BYTES = 2**30  # replicate counts kept in memory (one byte each) up to this many
_THREADS = max(1, min(4, os.cpu_count() or 1))
# Tiles of replicates x rows: at most this many rows, and about this many values. The
# kernels keep a few arrays per tile in (L2/L3) cache; bigger tiles spread the Python cost
# of each NumPy call over more values (2**17 measured fastest on 2 cores, 2**16 -10-17%).
_TILE_ROWS = 2048
_TILE_VALUES = 2**17
T = TypeVar("T")


@dataclass
class ReplicateWeights:
    """A deterministic ``(B, n)`` weight matrix produced in row chunks.

    Parameters
    ----------
    n : int
        Number of rows.
    n_rep : int
        Number of replicates ``B`` (1 for ``"unit"``).
    kind : {"unit", "multinomial", "poisson", "jackknife"}
        ``"jackknife"`` sets the weights of one group of rows to zero per replicate;
        with ``n_rep == n`` every group is a single row.
    seed : int or None
        Seed of the generator; the same seed gives the same weights.

    Examples
    --------
    >>> w = ReplicateWeights(n=5, n_rep=3, kind="multinomial", seed=1)
    >>> w.matrix().sum(axis=1)
    array([5., 5., 5.])
    """

    n: int
    n_rep: int = 1
    kind: WeightKind = "unit"
    seed: int | None = None
    _totals: np.ndarray | None = field(default=None, init=False, repr=False)
    _groups: np.ndarray | None = field(default=None, init=False, repr=False)
    _children: list[np.random.SeedSequence] = field(default_factory=list, init=False, repr=False)
    _cache: dict[int, np.ndarray] = field(default_factory=dict, init=False, repr=False)
    _stream: int = field(default=0, init=False, repr=False)

    def __post_init__(self) -> None:
        if self.kind == "unit":
            self.n_rep = 1
        n_blocks = -(-self.n // BLOCK_ROWS)
        root = np.random.SeedSequence(self.seed)
        self._children = root.spawn(n_blocks + 1)
        if self.kind == "poisson":
            self._stream = stream_key(self.seed)
        elif self.kind == "multinomial":
            self._totals = self._block_totals(np.random.default_rng(self._children[-1]))
        elif self.kind == "jackknife":
            if self.n_rep == self.n:
                self._groups = np.arange(self.n)
            else:
                rng = np.random.default_rng(self._children[-1])
                self._groups = rng.permutation(np.arange(self.n) % self.n_rep)

    def _block_totals(self, rng: np.random.Generator) -> np.ndarray:
        """Split ``n`` draws of each replicate across blocks (sequential binomials)."""
        n_blocks = len(self._children) - 1
        totals = np.empty((self.n_rep, n_blocks), dtype=np.int64)
        remaining = np.full(self.n_rep, self.n, dtype=np.int64)
        rows_left = self.n
        for b in range(n_blocks):
            size = min(BLOCK_ROWS, self.n - b * BLOCK_ROWS)
            if b == n_blocks - 1:
                totals[:, b] = remaining
            else:
                totals[:, b] = rng.binomial(remaining, size / rows_left)
            remaining -= totals[:, b]
            rows_left -= size
        return totals

    def _block(self, b: int, compact: bool = False) -> np.ndarray:
        """Weights of block ``b``: float, or (``compact``) resampling counts as small integers.

        Resampling counts are cached as small integers while they fit in memory.
        """
        block = self._cache.get(b)
        if block is None:
            block = self._make_block(b)
            if self.kind in ("multinomial", "poisson"):
                block = block.astype(np.uint8 if block.max() < 256 else np.uint16)
                if self.n_rep * self.n <= _CACHE_BYTES:
                    self._cache[b] = block
        return block if compact else block.astype(float)

    def _make_block(self, b: int) -> np.ndarray:
        start = b * BLOCK_ROWS
        size = min(BLOCK_ROWS, self.n - start)
        if self.kind == "unit":
            return np.ones((1, size))
        if self.kind == "jackknife":
            assert self._groups is not None
            block = np.ones((self.n_rep, size))
            block[self._groups[start : start + size], np.arange(size)] = 0.0
            return block
        if self.kind == "poisson":
            return poisson_weights(self._stream, np.arange(start, start + size), self.n_rep)
        rng = np.random.default_rng(self._children[b])
        assert self._totals is not None
        counts = self._totals[:, b]
        # Counting each replicate's segment alone keeps the tally in cache.
        draws = _row_draws(rng, size, int(counts.sum()))
        block = np.empty((self.n_rep, size), dtype=np.int32)
        ends = np.cumsum(counts)
        for rep, (start, end) in enumerate(zip(ends - counts, ends, strict=True)):
            block[rep] = np.bincount(draws[start:end], minlength=size)
        return block

    def chunk_rows(self, per_row_values: int = 1) -> int:
        """Rows per chunk so a ``(B, rows, per_row_values)`` float array stays near 32 MiB."""
        rows = _CHUNK_BYTES // (8 * self.n_rep * max(per_row_values, 1))
        blocks = max(1, rows // BLOCK_ROWS)
        return blocks * BLOCK_ROWS

    def _spans(self, per_row_values: int) -> list[tuple[int, int]]:
        step = self.chunk_rows(per_row_values) // BLOCK_ROWS
        n_blocks = len(self._children) - 1
        return [(first, min(first + step, n_blocks)) for first in range(0, n_blocks, step)]

    def _chunk(self, span: tuple[int, int], compact: bool = False) -> tuple[slice, np.ndarray]:
        first, last = span
        blocks = [self._block(b, compact) for b in range(first, last)]
        rows = slice(first * BLOCK_ROWS, min(last * BLOCK_ROWS, self.n))
        return rows, blocks[0] if len(blocks) == 1 else np.hstack(blocks)

    def chunks(self, per_row_values: int = 1) -> Iterator[tuple[slice, np.ndarray]]:
        """Yield ``(row_slice, weights)`` with ``weights`` of shape ``(B, rows)``."""
        for span in self._spans(per_row_values):
            yield self._chunk(span)

    def map_chunks(
        self, func: Callable[[slice, np.ndarray], T], per_row_values: int = 1,
        compact: bool = False,
    ) -> list[T]:
        """``[func(rows, weights) for each chunk]``, in row order, chunks run on all cores.

        NumPy releases the GIL in its kernels, so chunks proceed in parallel threads;
        callers reduce the results in the returned (row) order, which keeps sums
        bit-for-bit reproducible. With ``compact``, resampling counts arrive as small
        unsigned integers (for callers that convert them a tile at a time).
        """
        spans = self._spans(per_row_values)
        if len(spans) == 1:
            return [func(*self._chunk(spans[0], compact))]
        with _blas().limit(limits=1, user_api="blas"):  # our threads, not BLAS's, share the cores
            return list(_pool().map(lambda span: func(*self._chunk(span, compact)), spans))

    def matrix(self) -> np.ndarray:
        """The whole ``(B, n)`` matrix (small problems and tests only)."""
        return np.hstack([w for _, w in self.chunks()])


def _row_draws(rng: np.random.Generator, size: int, count: int) -> np.ndarray:
    """``count`` uniform row indices in ``[0, size)`` as int32: ``rng.integers``' numbers.

    For a power-of-two ``size`` (every full block) NumPy's bounded 32-bit draw is the top
    ``log2(size)`` bits of each 32-bit output of the generator (Lemire's method never
    rejects there), so those bits are taken from the raw stream directly, in half the
    time; ``tests/test_weights.py`` checks the equality.
    """
    if size & (size - 1) or size == 1:
        return rng.integers(0, size, size=count, dtype=np.int32)
    raw = rng.bit_generator.random_raw(-(-count // 2)).view(np.uint32)[:count]
    raw >>= np.uint32(32 - size.bit_length() + 1)
    return raw.view(np.int32)


def tiles(n_rep: int, n_rows: int, per_row_values: int = 1) -> Iterator[tuple[slice, slice]]:
    """``(replicates, rows)`` slices that cover a ``(n_rep, n_rows)`` chunk, rows outermost.

    Each tile holds about ``2**17`` values (times ``per_row_values`` per replicate and
    row), so a kernel's temporaries stay in cache; the order is fixed.

    Examples
    --------
    >>> [(r.start, c.start) for r, c in tiles(n_rep=100, n_rows=3000)]
    [(0, 0), (64, 0), (0, 2048), (64, 2048)]
    """
    cols = min(n_rows, _TILE_ROWS)
    reps = max(1, _TILE_VALUES // (cols * max(per_row_values, 1)))
    for start in range(0, n_rows, cols):
        for first in range(0, n_rep, reps):
            yield slice(first, first + reps), slice(start, start + cols)


def tile_buffers(
    count: int, n_rep: int, n_rows: int, per_row_values: int = 1
) -> Iterator[tuple[slice, slice, list[np.ndarray]]]:
    """:func:`tiles` with ``count`` float arrays shaped like each tile, reused across tiles.

    Kernels that write every intermediate into these (``out=``) make no temporaries:
    fresh arrays per tile cost page faults and cache misses.

    Examples
    --------
    >>> [(r.start, c.start, bufs[0].shape) for r, c, bufs in tile_buffers(2, 100, 3000)]
    [(0, 0, (64, 2048)), (64, 0, (36, 2048)), (0, 2048, (64, 952)), (64, 2048, (36, 952))]
    """
    buffers: list[np.ndarray] = []
    for reps, part in tiles(n_rep, n_rows, per_row_values):
        shape = (min(reps.stop, n_rep) - reps.start, min(part.stop, n_rows) - part.start)
        if not buffers:  # the first tile is the largest
            buffers = [np.empty(shape[0] * shape[1]) for _ in range(count)]
        yield reps, part, [b[: shape[0] * shape[1]].reshape(shape) for b in buffers]


def row_dot(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``(B,)`` dot products of the rows of two ``(B, n)`` arrays (a batched matrix product:
    twice as fast as ``einsum("bn,bn->b")`` on tiles).

    Examples
    --------
    >>> row_dot(np.array([[1.0, 2.0], [3.0, 4.0]]), np.array([[1.0, 1.0], [0.5, 0.0]]))
    array([3. , 1.5])
    """
    return (a[:, None, :] @ b[:, :, None])[:, 0, 0]


@functools.cache
def _blas() -> ThreadpoolController:
    return ThreadpoolController()


@functools.cache
def _pool() -> ThreadPoolExecutor:
    return ThreadPoolExecutor(max_workers=_THREADS, thread_name_prefix="medbook")
