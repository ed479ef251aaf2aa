"""Sensitivity analyses on ratio scales: the ratio bias formula, E-values, and what is refused."""

from __future__ import annotations

import numpy as np
import pytest

import medbook
from medbook import sensitivity, simulate
from medbook.errors import ConfigError
from medbook.report import summarize_sensitivity
from medbook.sensitivity.ratio import bias_factor, corrected, e_value

ARGS = ("treatment", "mediator", "outcome")


@pytest.fixture(scope="module")
def ratio_result():
    frame = simulate.simulate("binary", seed=1, n=4000)
    return medbook.mediate(frame, *ARGS, ["x"], interaction=True, scale="ratio", method="delta")


def test_bias_factor_is_vanderweeles_formula_with_the_smaller_prevalence_at_zero():
    rng = np.random.default_rng(0)
    gamma, delta = rng.uniform(0.3, 4.0, 200), rng.uniform(-1, 1, 200)
    p1, p0 = np.clip(delta, 0, None), np.clip(-delta, 0, None)
    general = (1 + (gamma - 1) * p1) / (1 + (gamma - 1) * p0)
    np.testing.assert_allclose(bias_factor(gamma, delta), general, rtol=1e-12)
    assert corrected(2.0, "nde0", 1.25) * corrected(1.5, "nie1", 1.25) == pytest.approx(3.0)


def test_e_value_matches_published_examples():
    # VanderWeele & Ding (2017): RR = 3.9 gives E = 7.26; the lower limit 1.8 gives 3.0.
    assert e_value(3.9) == pytest.approx(7.26, abs=0.005)
    assert e_value(1.8) == pytest.approx(3.0, abs=0.005)
    assert e_value(1 / 3.9) == pytest.approx(e_value(3.9))


def test_ratio_bias_grid_keeps_the_total_effect(ratio_result):
    grid = sensitivity.bias_grid(ratio_result)
    assert grid.multiplicative and grid.scale == "risk ratio"
    table = grid.to_frame()
    assert table["gamma"].min() == 1.0 and table["gamma"].max() == 3.0
    nde = table[table["estimand"] == "nde0"].set_index(["gamma", "delta"])["estimate"]
    nie = table[table["estimand"] == "nie1"].set_index(["gamma", "delta"])["estimate"]
    np.testing.assert_allclose(nde * nie, ratio_result["te"], rtol=1e-12)
    # the default imbalance points the worrying way: NIE(1) > 1 shrinks towards 1
    assert nie.min() < ratio_result["nie1"] and nie.max() == pytest.approx(ratio_result["nie1"])
    assert "ratio scale" in " ".join(grid.assumptions)
    with pytest.raises(ConfigError, match="must be positive"):
        sensitivity.bias_grid(ratio_result, effect_on_outcome=[0.0, 2.0])


def test_ratio_robustness_is_the_mediational_e_value(ratio_result):
    rob = sensitivity.robustness_value(ratio_result, "nie1")
    row = ratio_result.row("nie1")
    assert rob.limit == row["ci_lower"] and rob.value == pytest.approx(e_value(row["ci_lower"]))
    assert "to 1 (no effect)" in rob.sentence and "percentage points" not in rob.sentence


def test_rho_says_which_scales_and_models_it_does_not_support(ratio_result):
    with pytest.raises(ConfigError, match=r"difference scale only.*risk ratio scale"):
        sensitivity.rho(ratio_result)
    summary, curve, robustness = summarize_sensitivity(ratio_result)
    assert not summary.available and "difference scale only" in summary.note
    assert curve is None and robustness is not None
    counts = simulate.simulate("count_outcome", seed=2, n=1000)
    res = medbook.mediate(counts, *ARGS, ["x"], outcome_model="poisson", method="delta")
    with pytest.raises(ConfigError, match=r"no correlation-of-errors analysis.*poisson outcome"):
        sensitivity.rho(res)
