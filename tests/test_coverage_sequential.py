"""Interval coverage of the joint, path-specific and interventional effects (slow).

Truths come from nested counterfactual simulation (:func:`medbook.simulate.sequential_truth`).
The band follows ``tests/test_coverage.py``: 95% +- max(2%, 2.3 standard errors of a
coverage proportion), i.e. 93-97% for the cheap delta-method runs with 700 replications
and +-3.5% for the 200-replication bootstrap runs (100 replicates for the chain).
"""

from __future__ import annotations

import numpy as np
import pytest

import medbook
from medbook.simulate import sequential_truth, simulate_binary_confounder, simulate_mediator_chain

pytestmark = pytest.mark.slow


def _coverage(draw, truth, targets, replications, **options) -> dict[str, float]:
    hits = dict.fromkeys(targets, 0)
    for rep in range(replications):
        table = medbook.mediate(draw(rep), "treatment", outcome="outcome", covariates=["x"],
                                seed=rep, **options).to_frame().set_index("estimand")
        for key in targets:
            hits[key] += table.loc[key, "ci_lower"] <= truth[key] <= table.loc[key, "ci_upper"]
    coverage = {k: v / replications for k, v in hits.items()}
    print(f"\ncoverage ({replications} replications, {options.get('method')}): {coverage}")
    half_width = max(0.02, 2.3 * np.sqrt(0.95 * 0.05 / replications))
    for key, value in coverage.items():
        assert abs(value - 0.95) <= half_width + 1e-12, (key, value)
    return coverage


CHAIN_TARGETS = ("te", "nie1", "pse(direct)", "pse(activation)", "pse(usage)")
INTERVENTIONAL_TARGETS = ("rte", "rnde0", "rnie1")


def test_coverage_mediator_chain_bootstrap():
    """Continuous -> binary mediators, binary outcome, interaction; percentile bootstrap."""
    _coverage(lambda rep: simulate_mediator_chain(seed=30_000 + rep, n=1000),
              sequential_truth("mediator_chain"), CHAIN_TARGETS, 200,
              mediator=["usage", "activation"], interaction=True, n_boot=100)


def test_coverage_binary_confounder_bootstrap():
    """Binary post-treatment confounder; percentile bootstrap."""
    _coverage(lambda rep: simulate_binary_confounder(seed=40_000 + rep, n=800),
              sequential_truth("binary_confounder"), INTERVENTIONAL_TARGETS, 200,
              mediator="usage", post_treatment=["support"], interaction=True, n_boot=200)


def test_coverage_binary_confounder_delta():
    """The same process with the delta method and enough replications for a 93-97% band."""
    _coverage(lambda rep: simulate_binary_confounder(seed=50_000 + rep, n=800),
              sequential_truth("binary_confounder"), INTERVENTIONAL_TARGETS, 700,
              mediator="usage", post_treatment=["support"], interaction=True, method="delta")


def test_coverage_mediator_chain_delta():
    """The chain with the delta method and enough replications for a 93-97% band."""
    _coverage(lambda rep: simulate_mediator_chain(seed=60_000 + rep, n=1000),
              sequential_truth("mediator_chain"), CHAIN_TARGETS, 700,
              mediator=["usage", "activation"], interaction=True, method="delta")
