"""Several mediators and post-treatment confounders: truth, oracles, decompositions, errors."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from scipy import special

import medbook
from medbook import ConfigError, DataError
from medbook.gformula import Node, Step, evaluate_plans
from medbook.simulate import (
    sequential_truth,
    simulate_binary_confounder,
    simulate_linear_chain,
    simulate_mediator_chain,
)
from medbook.weights import ReplicateWeights

CHAIN = ["usage", "activation"]


@pytest.fixture(scope="module")
def chain_df() -> pd.DataFrame:
    return simulate_mediator_chain(seed=101, n=20_000)


@pytest.fixture(scope="module")
def confounder_df() -> pd.DataFrame:
    return simulate_binary_confounder(seed=202, n=20_000)


def _within(res, truth: dict, keys, z: float = 4.0) -> None:
    """Each estimate is within ``z`` standard errors (estimate's and truth's) of the truth."""
    for key in keys:
        row = res.row(key)
        target = truth[key]
        assert abs(row["estimate"] - target) <= z * row["std_error"] + 2e-3, (key, row, target)


# --- the engine -------------------------------------------------------------------------

def test_engine_exact_sum_over_binary_nodes():
    """Two binary mediators and a linear outcome, enumerated by hand for one row."""
    nodes = [Node("logit"), Node("logit", (0,)), Node("linear", (0, 1))]
    coefs = [np.array([[-0.2, 0.8]]), np.array([[0.1, 0.5, 1.2]]),
             np.array([[1.0, 0.3, 0.7, 0.9]])]
    plan = (Step(0, 1), Step(1, 0, (0,)), Step(2, 1, (0, 1)))
    got = evaluate_plans(nodes, coefs, [np.ones(1)] * 3, {"q": plan}, np.empty((3, 0)),
                         ReplicateWeights(3))["q"][0]
    p1 = special.expit(-0.2 + 0.8)
    want = 0.0
    for m1, w1 in ((0, 1 - p1), (1, p1)):
        p2 = special.expit(0.1 + 1.2 * m1)
        for m2, w2 in ((0, 1 - p2), (1, p2)):
            want += w1 * w2 * (1.0 + 0.3 + 0.7 * m1 + 0.9 * m2)
    assert got == pytest.approx(want, abs=1e-12)


def test_engine_quadrature_matches_monte_carlo():
    """Continuous -> binary -> logit: quadrature against a 4-million-draw simulation."""
    nodes = [Node("linear"), Node("logit", (0,)), Node("logit", (0, 1), (0, 1))]
    coefs = [np.array([[0.3, 0.8]]), np.array([[-0.6, 0.7, 0.9]]),
             np.array([[-1.2, 0.4, 0.4, 1.1, 0.1, 0.5]])]
    sigmas = [np.array([1.3]), np.ones(1), np.ones(1)]
    plan = (Step(0, 0), Step(1, 1, (0,)), Step(2, 1, (0, 1)))
    got = evaluate_plans(nodes, coefs, sigmas, {"q": plan}, np.empty((1, 0)),
                         ReplicateWeights(1), gh_nodes=32)["q"][0]
    rng = np.random.default_rng(5)
    m1 = 0.3 + 1.3 * rng.normal(size=4_000_000)
    p2 = special.expit(-0.6 + 0.7 + 0.9 * m1)
    e_y = lambda m2: special.expit(-1.2 + 0.4 + 0.5 * m1 + 1.6 * m2)  # noqa: E731
    want = np.mean(p2 * e_y(1) + (1 - p2) * e_y(0))
    assert got == pytest.approx(want, abs=4e-4)


def test_engine_replicates_match_separate_evaluations():
    """A batch of coefficient draws gives the same means as one draw at a time."""
    rng = np.random.default_rng(3)
    nodes = [Node("logit"), Node("linear", (0,)), Node("logit", (0, 1), (1,))]
    coefs = [rng.normal(size=(4, 3)), rng.normal(size=(4, 4)), rng.normal(size=(4, 6))]
    sigmas = [np.ones(4), np.abs(rng.normal(size=4)) + 0.5, np.ones(4)]
    plan = (Step(0, 1), Step(1, 0, (0,)), Step(2, 1, (0, 1)))
    cov = rng.normal(size=(50, 1))
    batch = evaluate_plans(nodes, coefs, sigmas, {"q": plan}, cov, ReplicateWeights(50))["q"]
    for b in range(4):
        one = evaluate_plans(nodes, [c[b:b + 1] for c in coefs], [s[b:b + 1] for s in sigmas],
                             {"q": plan}, cov, ReplicateWeights(50))["q"][0]
        assert batch[b] == pytest.approx(one, abs=1e-12)


@pytest.mark.parametrize("replicate_weights", [False, True])
def test_engine_does_not_depend_on_tiles(replicate_weights, monkeypatch):
    """Tiny replicate x row tiles (some replicates and rows per tile) give the same sums,
    with replicate weights or with one weighting shared by all coefficient draws."""
    import medbook.weights as weights_module

    rng = np.random.default_rng(5)
    nodes = [Node("logit"), Node("linear", (0,)), Node("logit", (0, 1), (1,))]
    coefs = [rng.normal(size=(6, 3)), rng.normal(size=(6, 4)), rng.normal(size=(6, 6))]
    sigmas = [np.ones(6), np.abs(rng.normal(size=6)) + 0.5, np.ones(6)]
    plans = {"q": (Step(0, 1), Step(1, 0, (0,)), Step(2, 1, (0, 1))),
             "r": (Step(0, 0), Step(1, 1, (0,)), Step(2, 0, (0, 1)))}
    cov = rng.normal(size=(70, 1))
    weights = ReplicateWeights(70, 6, "multinomial", seed=2) if replicate_weights else (
        ReplicateWeights(70)
    )
    whole = evaluate_plans(nodes, coefs, sigmas, plans, cov, weights)
    monkeypatch.setattr(weights_module, "_TILE_ROWS", 9)
    monkeypatch.setattr(weights_module, "_TILE_VALUES", 40)
    tiled = evaluate_plans(nodes, coefs, sigmas, plans, cov, weights)
    for name in plans:
        assert tiled[name] == pytest.approx(whole[name], abs=1e-13)


# --- several mediators -------------------------------------------------------------------

def test_chain_estimates_match_nested_simulation_truth(chain_df):
    """Continuous -> binary mediator chain, binary outcome, n = 20,000 (the issue's case)."""
    res = medbook.mediate(chain_df, "treatment", CHAIN, "outcome", ["x"], interaction=True,
                          method="delta")
    truth = sequential_truth("mediator_chain")
    keys = ["te", "nde0", "nde1", "nie0", "nie1", "pse(direct)", "pse(activation)",
            "pse(usage)"]
    _within(res, truth, keys)
    assert res.details["quadrature_error"] < 1e-6
    assert [m.family for m in res.models.values()] == ["linear", "logit", "logit"]


def test_linear_chain_equals_statsmodels_products():
    """Closed form: path-specific effects are products of OLS coefficients."""
    df = simulate_linear_chain(seed=5, n=3000)
    res = medbook.mediate(df, "treatment", CHAIN, "outcome", ["x"], interaction=True,
                          method="delta")
    x = df["x"].to_numpy()
    t, u, a = df["treatment"].to_numpy(), df["usage"].to_numpy(), df["activation"].to_numpy()
    f1 = sm.OLS(u, np.column_stack([np.ones_like(x), t, x])).fit().params
    f2 = sm.OLS(a, np.column_stack([np.ones_like(x), t, u, x])).fit().params
    fy = sm.OLS(df["outcome"].to_numpy(),
                np.column_stack([np.ones_like(x), t, u, a, t * u, t * a, x])).fit().params
    slope_u1, slope_a1 = fy[2] + fy[4], fy[3] + fy[5]
    assert res["pse(activation)"] == pytest.approx(f2[1] * slope_a1, abs=1e-8)
    assert res["pse(usage)"] == pytest.approx(f1[1] * (slope_u1 + f2[2] * slope_a1), abs=1e-8)
    m1_0 = f1[0] + f1[2] * x.mean()
    m2_00 = f2[0] + f2[2] * m1_0 + f2[3] * x.mean()
    assert res["pse(direct)"] == pytest.approx(fy[1] + fy[4] * m1_0 + fy[5] * m2_00, abs=1e-8)


def test_decompositions_add_up_in_every_replicate(chain_df):
    res = medbook.mediate(chain_df.iloc[:3000], "treatment", CHAIN, "outcome", ["x"],
                          interaction=True, n_boot=40, seed=4)
    for table in (res.to_frame().set_index("estimand")["estimate"], res.replicates):
        parts = table["pse(direct)"] + table["pse(activation)"] + table["pse(usage)"]
        assert np.max(np.abs(parts - table["te"])) < 1e-8
        assert np.max(np.abs(table["nde0"] + table["nie1"] - table["te"])) < 1e-8
        assert np.max(np.abs(table["nde1"] + table["nie0"] - table["te"])) < 1e-8
    assert res.n_replicates == 40
    json.dumps(res.to_dict())
    assert "usage -> activation" in repr(res)


def test_same_seed_same_bootstrap(chain_df):
    runs = [medbook.mediate(chain_df.iloc[:2000], "treatment", CHAIN, "outcome", ["x"],
                            n_boot=20, seed=9).to_frame() for _ in range(2)]
    pd.testing.assert_frame_equal(*runs)


def test_three_mediators_and_quasi_bayes():
    df = simulate_linear_chain(seed=8, n=2000)
    df["extra"] = 0.5 * df["activation"] + df["treatment"] + np.random.default_rng(1).normal(
        size=len(df))
    res = medbook.mediate(df, "treatment", ["usage", "activation", "extra"], "outcome", ["x"],
                          method="quasi_bayes", n_boot=50, seed=2,
                          mediator_model=["linear", "auto", "auto"])
    keys = list(res.to_frame()["estimand"])
    assert keys[-4:] == ["pse(direct)", "pse(extra)", "pse(activation)", "pse(usage)"]
    total = sum(res[k] for k in keys[-4:])
    assert total == pytest.approx(res["te"], abs=1e-10)


def test_single_mediator_list_is_the_single_analysis(linear_df):
    one = medbook.mediate(linear_df, "treatment", ["mediator"], "outcome", ["x"], method="delta")
    plain = medbook.mediate(linear_df, "treatment", "mediator", "outcome", ["x"], method="delta")
    pd.testing.assert_frame_equal(one.to_frame(), plain.to_frame())


# --- post-treatment confounders ----------------------------------------------------------

def test_interventional_estimates_match_nested_simulation_truth(confounder_df):
    """Binary post-treatment confounder, continuous mediator and outcome, n = 20,000."""
    res = medbook.mediate(confounder_df, "treatment", "usage", "outcome", ["x"],
                          post_treatment=["support"], interaction=True, method="delta",
                          cde_at=[1.0])
    truth = sequential_truth("binary_confounder", cde_at=(1.0,))
    truth["cde(m=1)"] = truth["cde"][1.0]
    _within(res, truth, ["rte", "rnde0", "rnde1", "rnie0", "rnie1", "cde(m=1)"])
    keys = set(res.to_frame()["estimand"])
    assert not keys & {"te", "nde0", "nde1", "nie0", "nie1", "pm"}
    assert any("not identified" in w for w in res.warnings)
    assert "sensitivity" in res.details


def test_interventional_decomposition_and_bootstrap(confounder_df):
    res = medbook.mediate(confounder_df.iloc[:800], "treatment", "usage", "outcome", ["x"],
                          post_treatment="support", n_boot=30, seed=1, ci="bca")
    for table in (res.to_frame().set_index("estimand")["estimate"], res.replicates):
        assert np.max(np.abs(table["rnde0"] + table["rnie1"] - table["rte"])) < 1e-8
        assert np.max(np.abs(table["rnde1"] + table["rnie0"] - table["rte"])) < 1e-8
    assert any(k.startswith("cde(m=") for k in res.to_frame()["estimand"])
    json.dumps(res.to_dict())


def test_interventional_equals_natural_without_confounding_by_l():
    """If L affects neither M nor Y, interventional and natural effects coincide."""
    rng = np.random.default_rng(12)
    n = 4000
    df = pd.DataFrame({"x": rng.normal(size=n), "treatment": rng.integers(0, 2, n)})
    df["l"] = rng.binomial(1, special.expit(-0.2 + df["treatment"]))
    df["m"] = 0.4 * df["treatment"] + 0.5 * df["x"] + rng.normal(size=n)
    df["y"] = 0.3 * df["treatment"] + 0.8 * df["m"] + 0.2 * df["x"] + rng.normal(size=n)
    inter = medbook.mediate(df, "treatment", "m", "y", ["x"], post_treatment=["l"],
                            method="delta")
    natural = medbook.mediate(df, "treatment", "m", "y", ["x", "l"], method="delta")
    assert inter["rnie1"] == pytest.approx(natural["nie1"], abs=0.01)
    assert inter["rnde0"] == pytest.approx(natural["nde0"], abs=0.01)


# --- bad input ---------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"mediator": ["usage", "usage"]}, "listed twice"),
        ({"mediator": []}, "at least one column"),
        ({"mediator": ["usage"], "post_treatment": []}, "at least one column"),
        ({"mediator": ["usage"], "post_treatment": ["x"]}, "both a covariate"),
        ({"mediator": ["usage", "outcome"]}, "both the outcome and a mediator"),
        ({"mediator": ["usage", "treatment"]}, "both the treatment"),
        ({"mediator": ["usage", "activation"], "post_treatment": ["activation"]},
         "both a mediator and a post-treatment confounder"),
        ({"mediator": ["usage", "activation"], "cde_at": [1.0]}, "single mediator"),
        ({"mediator": ["usage", "activation"], "mediator_model": ["auto"]}, "2 mediators"),
        ({"mediator": ["usage", "activation"], "mediator_model": ["logit", "auto"]}, "0/1"),
    ],
)
def test_bad_roles_raise_one_line_config_errors(kwargs, message):
    df = simulate_mediator_chain(n=300)
    with pytest.raises(ConfigError) as err:
        medbook.mediate(df, "treatment", outcome="outcome", covariates=["x"], method="delta",
                        **kwargs)
    text = str(err.value)
    assert "\n" not in text
    assert message in text


def test_bad_data_in_a_later_mediator():
    df = simulate_mediator_chain(n=300)
    df["activation"] = df["activation"].astype(object)
    df.loc[4, "activation"] = "yes"
    with pytest.raises(DataError, match="'activation' holds non-numeric value 'yes'"):
        medbook.mediate(df, "treatment", CHAIN, "outcome", ["x"], method="delta")
    df.loc[4, "activation"] = np.nan
    with pytest.raises(DataError, match="'activation' has 1 missing"):
        medbook.mediate(df, "treatment", CHAIN, "outcome", ["x"], method="delta")
    res = medbook.mediate(df, "treatment", CHAIN, "outcome", ["x"], method="delta",
                          drop_missing=True)
    assert res.n == 299 and res.data.n_dropped == 1
    with pytest.raises(DataError, match="'nope' not found"):
        medbook.mediate(df, "treatment", ["usage", "nope"], "outcome", ["x"], method="delta")


def test_sensitivity_only_where_published(chain_df, confounder_df):
    """Bias grid for the joint effects; nothing reused for path-specific or interventional."""
    multi = medbook.mediate(chain_df.iloc[:1500], "treatment", CHAIN, "outcome", ["x"],
                            method="delta")
    grid = medbook.sensitivity.bias_grid(multi)
    assert grid.observed["nie1"] == multi["nie1"]
    assert "path-specific" in multi.details["sensitivity"]
    with pytest.raises(ConfigError, match="single mediator"):
        medbook.sensitivity.rho(multi)
    inter = medbook.mediate(confounder_df.iloc[:1500], "treatment", "usage", "outcome", ["x"],
                            post_treatment=["support"], method="delta")
    for tool in (medbook.sensitivity.bias_grid, medbook.sensitivity.rho,
                 medbook.sensitivity.robustness_value):
        with pytest.raises(ConfigError, match="no published sensitivity analysis"):
            tool(inter)


def test_study_dag_draws_every_mediator_and_confounder():
    from medbook.dags import study_dag

    dot = study_dag("t", ["usage", "<b>act</b>"], "y", covariates=["x"],
                    post_treatment=["support", "calls"])
    source = dot.source
    for edge in ("T -> M2", "M -> M2", "M2 -> Y", "L -> L2", "L2 -> M2", "X -> L2"):
        assert edge in source
    assert "<b>act</b>" not in source and "&lt;b&gt;act&lt;/b&gt;" in source


def test_interventional_two_mediators_linear_closed_form():
    """Continuous L and two linear mediators: products of statsmodels OLS coefficients."""
    rng = np.random.default_rng(21)
    n = 3000
    x = rng.normal(size=n)
    t = rng.integers(0, 2, n).astype(float)
    l_ = 0.5 * t + 0.3 * x + rng.normal(size=n)
    m1 = 0.4 * t + 0.6 * l_ + 0.2 * x + rng.normal(size=n)
    m2 = 0.3 * t + 0.5 * l_ + 0.7 * m1 + rng.normal(size=n)
    y = 0.2 * t + 0.8 * m1 + 0.9 * m2 + 0.4 * l_ + 0.3 * x + rng.normal(size=n)
    df = pd.DataFrame({"x": x, "t": t, "l": l_, "m1": m1, "m2": m2, "y": y})
    res = medbook.mediate(df, "t", ["m1", "m2"], "y", ["x"], post_treatment=["l"],
                          method="delta")
    one = np.ones(n)
    a = sm.OLS(l_, np.column_stack([one, t, x])).fit().params
    b = sm.OLS(m1, np.column_stack([one, t, l_, x])).fit().params
    c = sm.OLS(m2, np.column_stack([one, t, l_, m1, x])).fit().params
    d = sm.OLS(y, np.column_stack([one, t, m1, m2, l_, x])).fit().params
    d_m1 = b[1] + b[2] * a[1]
    d_m2 = c[1] + c[2] * a[1] + c[3] * d_m1
    assert res["rnde0"] == pytest.approx(d[1] + d[4] * a[1], abs=1e-8)
    assert res["rnie1"] == pytest.approx(d[2] * d_m1 + d[3] * d_m2, abs=1e-8)
    assert res["rte"] == pytest.approx(res["rnde0"] + res["rnie1"], abs=1e-12)
