"""Coverage of ratio-scale intervals and count models (slow: ``pytest -m slow``).

As in ``test_coverage.py``: with R replications a 95% coverage has standard error
sqrt(0.95 * 0.05 / R); we accept 95% +- 2.3 standard errors, never narrower than 93-97%.
Truths come from :func:`medbook.simulate.truth` (quadrature / exact sums), which
``tests/test_counts.py`` checks against nested potential-outcome simulation.
"""

from __future__ import annotations

import numpy as np
import pytest

import medbook
from medbook import simulate

pytestmark = pytest.mark.slow

TARGETS = ("te", "nde0", "nde1", "nie0", "nie1")


def _coverage(
    name: str, n: int, replications: int, seed0: int, covariates=("x",), **options
) -> dict[str, float]:
    truth = simulate.truth(name, scale=options["scale"], n=400_000)
    hits = dict.fromkeys(TARGETS, 0)
    for rep in range(replications):
        frame = simulate.simulate(name, seed=seed0 + rep, n=n)
        res = medbook.mediate(frame, "treatment", "mediator", "outcome", list(covariates),
                              seed=rep, **options)
        table = res.to_frame().set_index("estimand")
        for key in TARGETS:
            hits[key] += table.loc[key, "ci_lower"] <= truth[key] <= table.loc[key, "ci_upper"]
    coverage = {k: v / replications for k, v in hits.items()}
    print(f"\ncoverage {name} {options} ({replications} replications): {coverage}")
    half_width = max(0.02, 2.3 * np.sqrt(0.95 * 0.05 / replications))
    for key, value in coverage.items():
        assert abs(value - 0.95) <= half_width + 1e-12, (key, value)
    return coverage


def test_coverage_poisson_rate_ratios_bootstrap():
    _coverage("count_outcome", 2000, 200, 30_000, interaction=True, outcome_model="poisson",
              scale="ratio", n_boot=200)


def test_coverage_negbin_rate_ratios_delta():
    _coverage("negbin_outcome", 1500, 300, 31_000, outcome_model="negbin", scale="ratio",
              method="delta")


def test_coverage_odds_ratios_binary_funnel_delta():
    covariates = ("prior_usage", "account_complexity", "enterprise", "x")
    _coverage("binary", 1500, 300, 32_000, covariates, interaction=True, scale="odds_ratio",
              method="delta")
