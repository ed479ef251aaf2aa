"""Tests of medbook.diagnostics: balance, events, fit summaries, overlap and warning rules."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pandas as pd
import pytest

import medbook
from medbook.diagnostics import RULES, diagnose
from medbook.fit import Status
from medbook.simulate import simulate_binary, simulate_linear


def _mediate(df, covariates=("x",), **kw):
    kw.setdefault("method", "delta")
    return medbook.mediate(df, "treatment", "mediator", "outcome", list(covariates), **kw)


@pytest.fixture(scope="module")
def linear_res():
    return _mediate(simulate_linear(n=3000), covariates=("x", "enterprise", "support_burden"))


def test_clean_linear_study_has_no_warnings(linear_res):
    diag = diagnose(linear_res)
    assert diag.warnings == []
    assert diag.arms["control"] + diag.arms["treated"] == linear_res.n
    assert list(diag.balance["covariate"]) == ["x", "enterprise", "support_burden"]
    assert diag.events.empty and diag.overlap is None
    fits = diag.fits.set_index("model")
    assert fits.loc["outcome", "r_squared"] > fits.loc["mediator", "r_squared"] > 0.3
    assert fits.loc["mediator", "sigma"] == pytest.approx(linear_res.mediator_fit.sigma[0])


def test_standardised_mean_difference_by_hand(linear_res):
    d = linear_res.data
    col = d.covariates[:, 0]
    a, b = col[d.treatment == 0], col[d.treatment == 1]
    smd = (b.mean() - a.mean()) / np.sqrt((a.var(ddof=1) + b.var(ddof=1)) / 2)
    assert diagnose(linear_res).balance["smd"].iloc[0] == pytest.approx(smd)


def test_tables_are_tidy_and_json_safe(linear_res):
    diag = diagnose(linear_res)
    frame = diag.to_frame()
    assert list(frame.columns) == ["section", "item", "metric", "value"]
    assert set(frame["section"]) >= {"arms", "balance", "fit"}
    payload = json.loads(json.dumps(diag.to_dict(), allow_nan=False))
    assert payload["rules"]["events_per_parameter"] == RULES["events_per_parameter"]


def test_small_total_effect_and_pm_outside_unit_interval():
    rng = np.random.default_rng(4)
    n = 600
    x = rng.normal(size=n)
    t = rng.binomial(1, 0.5, n)
    m = 0.5 * t + 0.3 * x + rng.normal(size=n)
    y = -0.5 * t + 1.0 * m + 0.3 * x + rng.normal(size=n)  # NIE = +0.5, NDE = -0.5, TE = 0
    res = _mediate(pd.DataFrame({"x": x, "treatment": t, "mediator": m, "outcome": y}))
    text = " ".join(diagnose(res).warnings)
    assert "small relative to its standard error" in text
    assert "proportion mediated" in text and "unstable" in text
    if not 0 <= res["pm"] <= 1:
        assert "outside 0 to 1" in text


def test_opposite_signs_give_pm_warning():
    rng = np.random.default_rng(8)
    n = 4000
    x = rng.normal(size=n)
    t = rng.binomial(1, 0.5, n)
    m = 1.0 * t + rng.normal(size=n)
    y = -2.0 * t + 1.0 * m + 0.2 * x + rng.normal(size=n)  # TE = -1, NIE = +1: pm = -1
    res = _mediate(pd.DataFrame({"x": x, "treatment": t, "mediator": m, "outcome": y}))
    assert res["pm"] < 0
    assert any("outside 0 to 1" in w for w in diagnose(res).warnings)


def test_few_events_per_parameter():
    df = simulate_binary(n=400)
    rare = df["outcome"].to_numpy().copy()
    ones = np.flatnonzero(rare == 1)
    rare[ones[25:]] = 0  # keep 25 events for 4 outcome parameters
    df["outcome"] = rare
    diag = diagnose(_mediate(df))
    row = diag.events.set_index("model").loc["outcome"]
    assert row["events"] == 25 and row["events_per_parameter"] == pytest.approx(25 / 4)
    assert any("rarer category" in w and "fewer than 10" in w for w in diag.warnings)


def test_failed_replicates_and_separation_rules():
    res = _mediate(simulate_binary(n=800), method="bootstrap", n_boot=40, seed=3)
    failing = dataclasses.replace(res, n_failed=5, n_replicates=35)
    assert any("5 of 40 replicates" in w for w in diagnose(failing).warnings)
    separated = dataclasses.replace(
        res, outcome_fit=dataclasses.replace(res.outcome_fit, status=np.array([Status.LIMIT]))
    )
    assert any("separation" in w for w in diagnose(separated).warnings)
    assert not any("replicates" in w for w in diagnose(res).warnings)


def test_overlap_of_predicted_mediator_probabilities():
    rng = np.random.default_rng(5)
    n = 2000
    x = rng.normal(size=n)
    t = rng.binomial(1, 0.5, n)
    m = rng.binomial(1, 1 / (1 + np.exp(-(0.5 * t + 4.0 * x))))
    y = 0.5 * t + m + 0.3 * x + rng.normal(size=n)
    res = _mediate(pd.DataFrame({"x": x, "treatment": t, "mediator": m, "outcome": y}))
    diag = diagnose(res)
    assert list(diag.overlap["arm"]) == ["control", "treated"]
    assert diag.overlap["share_extreme"].min() > RULES["extreme_share"]
    assert any("predicted mediator probability" in w for w in diag.warnings)


def test_imbalanced_covariate_is_named():
    df = simulate_linear(n=1000)
    df["odd column <b>"] = df["treatment"] * 0.5 + np.random.default_rng(1).normal(size=len(df))
    res = _mediate(df, covariates=("x", "odd column <b>"))
    warnings = diagnose(res).warnings
    assert any("'odd column <b>'" in w and "standardised mean difference" in w for w in warnings)
