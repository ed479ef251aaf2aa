"""Keyed Poisson(1) replicate weights: a pure function of (seed, row, replicate)."""

from __future__ import annotations

import numpy as np
from scipy import stats

from medbook.rowstream import poisson_weights, stream_key
from medbook.weights import ReplicateWeights

KEY = stream_key(2026)


def test_weights_do_not_depend_on_chunking_order_or_replicate_count():
    whole = poisson_weights(KEY, np.arange(1000), 50)
    pieces = np.hstack([poisson_weights(KEY, np.arange(a, b), 50)
                        for a, b in ((0, 7), (7, 500), (500, 1000))])
    assert np.array_equal(whole, pieces)
    order = np.random.default_rng(0).permutation(1000)
    assert np.array_equal(poisson_weights(KEY, order, 50), whole[:, order])
    assert np.array_equal(poisson_weights(KEY, np.arange(1000), 20), whole[:20])


def test_seeds_give_different_streams_and_the_same_seed_the_same():
    rows = np.arange(2000)
    assert np.array_equal(poisson_weights(stream_key(1), rows, 5),
                          poisson_weights(stream_key(1), rows, 5))
    assert not np.array_equal(poisson_weights(stream_key(1), rows, 5),
                              poisson_weights(stream_key(2), rows, 5))


def test_counts_follow_poisson_one_without_correlation():
    w = poisson_weights(KEY, np.arange(40_000), 100).astype(float)
    counts = np.bincount(w.ravel().astype(int), minlength=8)[:8]
    expected = stats.poisson.pmf(np.arange(8), 1.0) * w.size
    expected[-1] += stats.poisson.sf(7, 1.0) * w.size
    counts[-1] += int((w > 7).sum())
    assert stats.chisquare(counts, expected).pvalue > 1e-4
    # neighbouring rows and neighbouring replicates are uncorrelated (sd of r ~ 0.0016)
    rows_r = np.corrcoef(w[:, :-1].ravel(), w[:, 1:].ravel())[0, 1]
    reps_r = np.corrcoef(w[:-1].ravel(), w[1:].ravel())[0, 1]
    assert abs(rows_r) < 0.01 and abs(reps_r) < 0.01
    totals = w.sum(axis=1)  # each replicate's total is Poisson(n)
    assert abs(totals.mean() - 40_000) < 4 * np.sqrt(40_000 / 100)


def test_in_memory_poisson_bootstrap_draws_the_keyed_stream():
    weights = ReplicateWeights(20_000, 30, "poisson", seed=7)
    assert np.array_equal(weights.matrix(), poisson_weights(stream_key(7), np.arange(20_000), 30))
