"""Replicate weights: determinism, distribution and independence of the chunking."""

from __future__ import annotations

import numpy as np
import pytest

import medbook.weights as weights_module
from medbook.weights import BLOCK_ROWS, ReplicateWeights

# n spanning several blocks so the block splitting is exercised.
N_MULTI = 2 * BLOCK_ROWS + 1234


@pytest.mark.parametrize("kind", ["multinomial", "poisson", "jackknife"])
def test_same_seed_same_weights(kind):
    a = ReplicateWeights(N_MULTI, 5, kind, seed=42).matrix()
    b = ReplicateWeights(N_MULTI, 5, kind, seed=42).matrix()
    assert np.array_equal(a, b)


@pytest.mark.parametrize("kind", ["multinomial", "poisson"])
def test_different_seed_different_weights(kind):
    a = ReplicateWeights(500, 5, kind, seed=1).matrix()
    b = ReplicateWeights(500, 5, kind, seed=2).matrix()
    assert not np.array_equal(a, b)


def test_unit_weights_are_one_replicate_of_ones():
    w = ReplicateWeights(N_MULTI, n_rep=7)
    assert w.n_rep == 1
    assert np.array_equal(w.matrix(), np.ones((1, N_MULTI)))


@pytest.mark.parametrize("n", [7, BLOCK_ROWS, BLOCK_ROWS + 1, N_MULTI])
def test_multinomial_rows_sum_to_n(n):
    w = ReplicateWeights(n, 11, "multinomial", seed=3).matrix()
    assert w.shape == (11, n)
    assert np.array_equal(w.sum(axis=1), np.full(11, float(n)))
    assert np.all(w >= 0)
    assert np.array_equal(w, np.round(w))


def test_multinomial_marginals_are_binomial_n_1_over_n():
    """Resampling n rows with replacement gives each row a Binomial(n, 1/n) count:
    mean 1 and variance 1 - 1/n; counts in different blocks must look alike."""
    n, b = N_MULTI, 400
    w = ReplicateWeights(n, b, "multinomial", seed=8).matrix()
    assert abs(w.mean() - 1.0) < 1e-12  # exact: every replicate sums to n
    assert abs(w.var() - (1 - 1 / n)) < 0.01
    for first in range(0, n, BLOCK_ROWS):
        block = w[:, first : first + BLOCK_ROWS]
        assert abs(block.mean() - 1.0) < 0.01
    # share of rows left out of a replicate: (1 - 1/n)^n ~ exp(-1)
    assert abs(np.mean(w == 0) - np.exp(-1)) < 0.005


def test_poisson_weights_have_mean_and_variance_one():
    w = ReplicateWeights(N_MULTI, 200, "poisson", seed=5).matrix()
    assert abs(w.mean() - 1.0) < 0.005
    assert abs(w.var() - 1.0) < 0.01
    assert np.array_equal(w, np.round(w))
    # totals vary between replicates (unlike the multinomial bootstrap)
    assert np.unique(w.sum(axis=1)).size > 1


def test_delete_one_jackknife_zeroes_the_diagonal():
    n = 37
    w = ReplicateWeights(n, n, "jackknife").matrix()
    assert np.array_equal(w, 1.0 - np.eye(n))


def test_grouped_jackknife_drops_every_row_exactly_once():
    n, groups = N_MULTI, 100
    w = ReplicateWeights(n, groups, "jackknife", seed=4).matrix()
    assert set(np.unique(w)) == {0.0, 1.0}
    assert np.array_equal((w == 0).sum(axis=0), np.ones(n))
    sizes = (w == 0).sum(axis=1)
    assert sizes.min() >= n // groups and sizes.max() <= -(-n // groups)


@pytest.mark.parametrize("kind", ["multinomial", "poisson", "jackknife"])
def test_chunking_and_caching_do_not_change_the_weights(kind, monkeypatch):
    """Weights are generated per fixed block, so any chunk/cache size gives identical bits."""
    reference = ReplicateWeights(N_MULTI, 9, kind, seed=11).matrix()
    monkeypatch.setattr(weights_module, "_CHUNK_BYTES", 1)
    monkeypatch.setattr(weights_module, "_CACHE_BYTES", 1)
    small = ReplicateWeights(N_MULTI, 9, kind, seed=11)
    chunks = list(small.chunks())
    assert len(chunks) == -(-N_MULTI // BLOCK_ROWS)  # one block per chunk
    assert np.array_equal(np.hstack([w for _, w in chunks]), reference)
    # the uncached generator is re-entrant: a second pass gives the same numbers
    assert np.array_equal(small.matrix(), reference)


def test_chunks_cover_all_rows_in_order():
    w = ReplicateWeights(N_MULTI, 3, "multinomial", seed=2)
    rows = [r for r, _ in w.chunks(per_row_values=10_000)]
    covered = np.concatenate([np.arange(N_MULTI)[r] for r in rows])
    assert np.array_equal(covered, np.arange(N_MULTI))


@pytest.mark.parametrize("size", [1, 2, 576, 4096, 8192])
@pytest.mark.parametrize("count", [0, 1, 7, 8192 * 3 + 1])
def test_row_draws_are_numpys_bounded_integers(size, count):
    """The raw-bit shortcut for power-of-two blocks gives ``Generator.integers``' numbers."""
    from medbook.weights import _row_draws

    seed = np.random.SeedSequence(17).spawn(2)[1]
    expected = np.random.default_rng(seed).integers(0, size, size=count, dtype=np.int32)
    got = _row_draws(np.random.default_rng(seed), size, count)
    assert got.dtype == np.int32 and np.array_equal(got, expected)
