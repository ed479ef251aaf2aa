"""Interval coverage against known truth (slow: ``pytest -m slow tests/test_coverage.py``).

For each data-generating process, many independent data sets are drawn; the share of
95% intervals that contain the true estimand (from :func:`medbook.simulate.truth`, or from
the exact integral written below for the process :mod:`medbook.simulate` does not provide)
must be 95% up to Monte Carlo error: with R replications the standard error of a coverage
of 0.95 is sqrt(0.95 * 0.05 / R) (1.5% for R = 200), so we accept 95% +- 2.3 standard
errors (+- 3.5% for R = 200), but never a band narrower than 93-97%. The cheap methods
(delta, quasi-Bayes) use more replications and so get a tighter band.
Each test is independent (pytest-xdist friendly) and prints its coverages.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
import pytest
from scipy import special

import medbook
from medbook import simulate

pytestmark = pytest.mark.slow

REPLICATIONS = 200
TARGETS = ("nie1", "nde0", "te")


def _coverage(
    draw: Callable[[int], pd.DataFrame], truth: dict, label: str, replications: int = REPLICATIONS,
    **options,
) -> dict[str, float]:
    hits = {k: 0 for k in TARGETS}
    for rep in range(replications):
        frame = draw(rep)
        res = medbook.mediate(frame, "treatment", "mediator", "outcome", seed=rep, **options)
        table = res.to_frame().set_index("estimand")
        for key in TARGETS:
            hits[key] += table.loc[key, "ci_lower"] <= truth[key] <= table.loc[key, "ci_upper"]
    coverage = {k: v / replications for k, v in hits.items()}
    print(f"\ncoverage {label} ({replications} replications): {coverage}")
    half_width = max(0.02, 2.3 * np.sqrt(0.95 * 0.05 / replications))
    for key, value in coverage.items():
        assert abs(value - 0.95) <= half_width + 1e-12, (key, value, replications)
    return coverage


def test_coverage_linear_bootstrap():
    """Linear mediator and outcome, all observed covariates, percentile bootstrap."""
    covariates = ["prior_usage", "account_value", "support_burden", "enterprise", "x"]
    truth = simulate.truth("linear")
    _coverage(
        lambda rep: simulate.simulate("linear", seed=10_000 + rep, n=600), truth,
        "linear / bootstrap", covariates=covariates, n_boot=300,
    )


def test_coverage_binary_interaction_bootstrap():
    """The notebook's funnel: logit mediator and outcome with T x M interaction."""
    covariates = ["prior_usage", "account_complexity", "enterprise", "x"]
    truth = simulate.truth("binary")
    _coverage(
        lambda rep: simulate.simulate("binary", seed=20_000 + rep, n=1200), truth,
        "binary x binary with interaction / bootstrap", covariates=covariates,
        interaction=True, n_boot=200,
    )


# Continuous mediator, logit outcome (medbook.simulate has no such process):
#   X ~ N(0, 1), T ~ Bernoulli(1/2), M = 0.2 + 0.8 T + 0.5 X + e, e ~ N(0, 1),
#   P(Y = 1) = expit(-0.5 + 0.6 T + 0.9 M + 0.3 T M + 0.4 X).
# E[Y(t, M(t'))] = E expit(c(t, t') + s(t) Z), Z ~ N(0, 1), with
#   c = -0.5 + 0.6 t + (0.9 + 0.3 t)(0.2 + 0.8 t'),
#   s^2 = ((0.9 + 0.3 t) 0.5 + 0.4)^2 + (0.9 + 0.3 t)^2.


def _logit_outcome_draw(seed: int, n: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    t = rng.binomial(1, 0.5, n)
    m = 0.2 + 0.8 * t + 0.5 * x + rng.normal(size=n)
    y = rng.binomial(1, special.expit(-0.5 + 0.6 * t + 0.9 * m + 0.3 * t * m + 0.4 * x))
    return pd.DataFrame({"x": x, "treatment": t, "mediator": m, "outcome": y})


def _logit_outcome_truth() -> dict[str, float]:
    z, w = np.polynomial.hermite.hermgauss(80)

    def y(t: int, t_m: int) -> float:
        slope = 0.9 + 0.3 * t
        centre = -0.5 + 0.6 * t + slope * (0.2 + 0.8 * t_m)
        spread = np.hypot(slope * 0.5 + 0.4, slope)
        return float(w @ special.expit(centre + spread * np.sqrt(2.0) * z) / np.sqrt(np.pi))

    return {"nie1": y(1, 1) - y(1, 0), "nde0": y(1, 0) - y(0, 0), "te": y(1, 1) - y(0, 0)}


def test_coverage_continuous_mediator_logit_outcome_bootstrap():
    truth = _logit_outcome_truth()
    _coverage(
        lambda rep: _logit_outcome_draw(30_000 + rep, 800), truth,
        "continuous mediator, logit outcome / bootstrap", covariates=["x"], interaction=True,
        n_boot=200,
    )


def test_coverage_binary_mediator_continuous_outcome_bootstrap():
    truth = simulate.truth("binary_mediator")
    _coverage(
        lambda rep: simulate.simulate("binary_mediator", seed=40_000 + rep, n=800), truth,
        "binary mediator, continuous outcome / bootstrap", covariates=["x"], interaction=True,
        n_boot=200,
    )


def test_coverage_interaction_delta():
    """Continuous mediator and outcome with interaction, delta-method intervals."""
    truth = simulate.truth("interaction", interaction=0.5)
    _coverage(
        lambda rep: simulate.simulate("interaction", seed=50_000 + rep, n=500, interaction=0.5),
        truth, "linear with interaction / delta", replications=1000, covariates=["x"],
        interaction=True, method="delta",
    )


def test_coverage_binary_mediator_quasi_bayes():
    truth = simulate.truth("binary_mediator")
    _coverage(
        lambda rep: simulate.simulate("binary_mediator", seed=60_000 + rep, n=800), truth,
        "binary mediator, continuous outcome / quasi-Bayes", replications=600,
        covariates=["x"], interaction=True, method="quasi_bayes", n_boot=300,
    )
