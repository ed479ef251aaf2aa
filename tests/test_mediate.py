"""The public front door :func:`medbook.mediate`: invariances, options, errors and the result API.

Property tests use hypothesis with small data and few examples. Independent references:
statsmodels ``Probit`` fits for the probit g-formula, ``scipy.stats.bootstrap`` for BCa.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy import special, stats

import medbook
from medbook.errors import ConfigError
from medbook.inference import bca_interval, jackknife_acceleration, percentile_interval

EFFECTS = ["te", "nde0", "nde1", "nie0", "nie1"]
ARGS = ("treatment", "mediator", "outcome")
PROPERTY = settings(
    max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow], database=None
)


def _study(seed: int, n: int, binary_mediator=False, binary_outcome=False) -> pd.DataFrame:
    """Small random study with two covariates (one categorical)."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    plan = rng.choice(["basic", "pro", "team"], size=n)
    t = np.tile([0, 1], n // 2 + 1)[:n]
    rng.shuffle(t)
    lin_m = 0.3 + 0.8 * t + 0.5 * x + 0.3 * (plan == "pro")
    m = rng.binomial(1, special.expit(lin_m)) if binary_mediator else lin_m + rng.normal(size=n)
    lin_y = -0.2 + 0.5 * t + 0.7 * m + 0.4 * t * m + 0.3 * x
    y = rng.binomial(1, special.expit(lin_y)) if binary_outcome else lin_y + rng.normal(size=n)
    return pd.DataFrame({"treatment": t, "mediator": m, "outcome": y, "x": x, "plan": plan})


def _estimates(res) -> np.ndarray:
    return res.to_frame().set_index("estimand").loc[EFFECTS, "estimate"].to_numpy()


# --- layer 5: properties -------------------------------------------------------------------

study_args = {
    "seed": st.integers(0, 10_000),
    "n": st.integers(60, 200),
    "binary_mediator": st.booleans(),
    "binary_outcome": st.booleans(),
    "interaction": st.booleans(),
}


@PROPERTY
@given(**study_args)
def test_decomposition_identities_hold_exactly(seed, n, binary_mediator, binary_outcome,
                                               interaction):
    frame = _study(seed, n, binary_mediator, binary_outcome)
    res = medbook.mediate(frame, *ARGS, ["x", "plan"], interaction=interaction, method="delta")
    assert abs(res["te"] - (res["nde0"] + res["nie1"])) < 1e-12
    assert abs(res["te"] - (res["nde1"] + res["nie0"])) < 1e-12
    po = res.potential_outcomes
    assert abs(res["te"] - (po["y1m1"] - po["y0m0"])) < 1e-12
    assert res["pm"] == pytest.approx(res["nie1"] / res["te"], rel=1e-12)
    if not interaction and not binary_outcome:
        # no interaction, linear outcome: NDE and NIE do not depend on the reference arm
        assert abs(res["nde0"] - res["nde1"]) < 1e-10 and abs(res["nie0"] - res["nie1"]) < 1e-10


@PROPERTY
@given(seed=st.integers(0, 10_000), binary_outcome=st.booleans())
def test_bootstrap_replicates_satisfy_the_identities(seed, binary_outcome):
    frame = _study(seed, 120, binary_outcome=binary_outcome)
    res = medbook.mediate(frame, *ARGS, ["x"], interaction=True, n_boot=30, seed=seed)
    reps = res.replicates
    assert np.max(np.abs(reps["te"] - reps["nde0"] - reps["nie1"])) < 1e-12
    assert np.max(np.abs(reps["te"] - reps["nde1"] - reps["nie0"])) < 1e-12


@PROPERTY
@given(seed=st.integers(0, 10_000), binary_mediator=st.booleans(), binary_outcome=st.booleans())
def test_row_order_does_not_matter(seed, binary_mediator, binary_outcome):
    frame = _study(seed, 150, binary_mediator, binary_outcome)
    shuffled = frame.sample(frac=1.0, random_state=np.random.default_rng(seed + 1))
    kw = {"interaction": True, "method": "delta", "cde_at": [0.0, 1.0]}
    a = medbook.mediate(frame, *ARGS, ["x", "plan"], **kw).to_frame()
    b = medbook.mediate(shuffled, *ARGS, ["x", "plan"], **kw).to_frame()
    cols = ["estimate", "std_error"]
    assert np.allclose(a[cols], b[cols], rtol=1e-8, atol=1e-10)


@PROPERTY
@given(seed=st.integers(0, 10_000), k=st.sampled_from([-3.0, 0.01, 2.5, 1000.0]),
       interaction=st.booleans(), binary_mediator=st.booleans())
def test_rescaling_a_linear_outcome_rescales_the_effects(seed, k, interaction, binary_mediator):
    frame = _study(seed, 120, binary_mediator=binary_mediator)
    scaled = frame.assign(outcome=k * frame["outcome"])
    kw = {"interaction": interaction, "method": "delta"}
    a = medbook.mediate(frame, *ARGS, ["x"], **kw)
    b = medbook.mediate(scaled, *ARGS, ["x"], **kw)
    assert np.allclose(_estimates(b), k * _estimates(a), rtol=1e-9, atol=1e-12)
    assert b.row("nie1")["std_error"] == pytest.approx(abs(k) * a.row("nie1")["std_error"],
                                                       rel=1e-6)
    assert b["pm"] == pytest.approx(a["pm"], rel=1e-9)


@PROPERTY
@given(seed=st.integers(0, 10_000), shift=st.floats(-50, 50), interaction=st.booleans(),
       binary_outcome=st.booleans())
def test_shifting_a_continuous_mediator_leaves_effects_unchanged(seed, shift, interaction,
                                                                 binary_outcome):
    frame = _study(seed, 120, binary_outcome=binary_outcome)
    shifted = frame.assign(mediator=frame["mediator"] + shift)
    kw = {"interaction": interaction, "method": "delta"}
    a = medbook.mediate(frame, *ARGS, ["x"], **kw)
    b = medbook.mediate(shifted, *ARGS, ["x"], **kw)
    assert np.allclose(_estimates(b), _estimates(a), rtol=1e-7, atol=1e-9)


@PROPERTY
@given(seed=st.integers(0, 10_000), binary_mediator=st.booleans(), binary_outcome=st.booleans())
def test_relabelling_treatment_gives_the_same_effects(seed, binary_mediator, binary_outcome):
    frame = _study(seed, 120, binary_mediator, binary_outcome)
    kw = {"interaction": True, "n_boot": 40, "seed": 5}
    a = medbook.mediate(frame, *ARGS, ["x"], **kw)
    labelled = frame.assign(arm=np.where(frame["treatment"] == 1, "drug", "placebo"))
    b = medbook.mediate(labelled, "arm", "mediator", "outcome", ["x"], treated="drug", **kw)
    cols = ["estimate", "std_error", "ci_lower", "ci_upper", "p_value"]
    assert np.allclose(a.to_frame()[cols], b.to_frame()[cols], rtol=1e-10, atol=1e-12)
    assert b.data.treatment_levels == ("placebo", "drug")
    assert b.to_dict()["treatment_levels"] == ["placebo", "drug"]
    flipped = frame.assign(treatment=1 - frame["treatment"])
    c = medbook.mediate(flipped, *ARGS, ["x"], treated=0, **kw)
    assert np.allclose(_estimates(c), _estimates(a), rtol=1e-10, atol=1e-12)


def test_same_seed_identical_results_different_seed_different_intervals():
    frame = _study(1, 200)
    kw = {"interaction": True, "n_boot": 60}
    a = medbook.mediate(frame, *ARGS, ["x", "plan"], seed=7, **kw)
    b = medbook.mediate(frame, *ARGS, ["x", "plan"], seed=7, **kw)
    c = medbook.mediate(frame, *ARGS, ["x", "plan"], seed=8, **kw)
    pd.testing.assert_frame_equal(a.to_frame(), b.to_frame())
    pd.testing.assert_frame_equal(a.replicates, b.replicates)
    assert json.dumps(a.to_dict()) == json.dumps(b.to_dict())
    assert np.array_equal(a.to_frame()["estimate"], c.to_frame()["estimate"])
    assert not np.array_equal(a.to_frame()["ci_lower"], c.to_frame()["ci_lower"])


@pytest.mark.parametrize("method", ["quasi_bayes", "bootstrap"])
def test_same_seed_identical_for_simulation_methods(method):
    frame = _study(2, 150, binary_mediator=True, binary_outcome=True)
    a = medbook.mediate(frame, *ARGS, ["x"], method=method, n_boot=50, seed=3)
    b = medbook.mediate(frame, *ARGS, ["x"], method=method, n_boot=50, seed=3)
    pd.testing.assert_frame_equal(a.to_frame(), b.to_frame())


# --- layer 6: methods and options ----------------------------------------------------------


@pytest.fixture(scope="module")
def linear_frame():
    return medbook.simulate.simulate_interaction(seed=31, n=1500, interaction=0.4)


@pytest.fixture(scope="module")
def delta_result(linear_frame):
    return medbook.mediate(linear_frame, *ARGS, ["x"], interaction=True, method="delta")


@pytest.mark.parametrize(
    ("options", "label"),
    [({"method": "quasi_bayes"}, "percentile"),
     ({"method": "bootstrap", "ci": "bca"}, "bca"),
     ({"method": "bootstrap", "bootstrap_weights": "poisson"}, "percentile"),
     ({"method": "bootstrap"}, "percentile")],
)
def test_simulation_methods_give_sensible_intervals(linear_frame, delta_result, options, label):
    """Intervals contain the estimate and have the width the delta method predicts (+-30%)."""
    res = medbook.mediate(linear_frame, *ARGS, ["x"], interaction=True, n_boot=300, seed=2,
                          **options)
    assert res.spec.ci == label and res.n_replicates == 300
    table, delta = res.to_frame().set_index("estimand"), delta_result.to_frame()
    delta = delta.set_index("estimand")
    for key in EFFECTS:
        row = table.loc[key]
        assert row["ci_lower"] < row["estimate"] < row["ci_upper"], key
        assert row["estimate"] == pytest.approx(delta.loc[key, "estimate"], abs=1e-12)
        ratio = (row["ci_upper"] - row["ci_lower"]) / (
            delta.loc[key, "ci_upper"] - delta.loc[key, "ci_lower"]
        )
        assert 0.7 < ratio < 1.3, (key, ratio)
        assert row["std_error"] == pytest.approx(delta.loc[key, "std_error"], rel=0.3)
        assert row["p_value"] <= 2 / 301  # every effect is far from zero
    if label == "bca":
        assert set(res.details["acceleration"]) >= set(EFFECTS)
    if "bootstrap_weights" in options:
        assert res.details["bootstrap_weights"] == "poisson"


def test_delta_intervals_are_normal_intervals(delta_result):
    z = stats.norm.ppf(0.975)
    for key in EFFECTS:
        row = delta_result.row(key)
        assert row["ci_lower"] == pytest.approx(row["estimate"] - z * row["std_error"])
        assert row["ci_upper"] == pytest.approx(row["estimate"] + z * row["std_error"])
        p = 2 * stats.norm.sf(abs(row["estimate"] / row["std_error"]))
        assert row["p_value"] == pytest.approx(p, abs=1e-300)
    assert delta_result.spec.n_boot == 0 and delta_result.replicates is None
    assert delta_result.n_replicates == 0


def test_conf_level_changes_the_interval_width(linear_frame):
    wide = medbook.mediate(linear_frame, *ARGS, ["x"], method="delta", conf_level=0.99)
    narrow = medbook.mediate(linear_frame, *ARGS, ["x"], method="delta", conf_level=0.8)
    ratio = (wide.row("nie1")["ci_upper"] - wide.row("nie1")["ci_lower"]) / (
        narrow.row("nie1")["ci_upper"] - narrow.row("nie1")["ci_lower"]
    )
    assert ratio == pytest.approx(stats.norm.ppf(0.995) / stats.norm.ppf(0.9))
    assert wide.to_dict()["conf_level"] == 0.99


def test_bca_interval_matches_scipy_for_a_skewed_mean():
    """Our BCa pieces (Efron 1987) against ``scipy.stats.bootstrap(method="BCa")`` for the
    mean of exponential data; both use 20000 resamples, so they agree to Monte Carlo error."""
    rng = np.random.default_rng(4)
    data = rng.exponential(size=60)
    idx = rng.integers(0, data.size, size=(20_000, data.size))
    reps = data[idx].mean(axis=1)
    jack = (data.sum() - data) / (data.size - 1)
    lo, hi = bca_interval(reps, data.mean(), jackknife_acceleration(jack), 0.95)
    ref = stats.bootstrap((data,), np.mean, method="BCa", n_resamples=20_000,
                          rng=np.random.default_rng(5)).confidence_interval
    se = reps.std()
    assert abs(lo - ref.low) < 0.05 * se and abs(hi - ref.high) < 0.05 * se
    plo, phi = percentile_interval(reps, 0.95)
    assert lo > plo and hi > phi  # right skew moves the BCa interval right


def test_bca_without_bias_or_acceleration_is_the_percentile_interval():
    reps = np.random.default_rng(1).normal(size=4001)
    point = float(np.median(reps))
    assert bca_interval(reps, point, 0.0, 0.9) == pytest.approx(percentile_interval(reps, 0.9))


@pytest.mark.parametrize(
    ("kwargs", "pattern"),
    [({"method": "delta", "ci": "bca"}, "bca.*bootstrap"),
     ({"method": "quasi_bayes", "ci": "bca"}, "bca.*bootstrap"),
     ({"method": "jackknife"}, "method must be one of bootstrap, quasi_bayes, delta; got 'jack"),
     ({"ci": "normal"}, "ci must be one of percentile, bca"),
     ({"mediator_model": "poisson"}, "mediator_model must be one of auto, linear, logit, probit"),
     ({"outcome_model": "logit"}, "outcome model 'logit' needs a 0/1 column.*'outcome'"),
     ({"mediator_model": "probit"}, "mediator model 'probit' needs a 0/1 column.*'mediator'"),
     ({"n_boot": 1}, "n_boot"),
     ({"n_boot": 2.5}, "n_boot"),
     ({"conf_level": 95}, "conf_level"),
     ({"conf_level": 0.2}, "conf_level"),
     ({"bootstrap_weights": "bayesian"}, "bootstrap_weights must be one of multinomial, poisson"),
     ({"seed": -1}, "seed"),
     ({"seed": 1.5}, "seed"),
     ({"cde_at": ["high"]}, "cde_at")],
)
def test_bad_options_raise_config_error(linear_frame, kwargs, pattern):
    with pytest.raises(ConfigError, match=pattern):
        medbook.mediate(linear_frame, *ARGS, ["x"], **kwargs)


def test_option_spelling_is_normalised(linear_frame):
    res = medbook.mediate(linear_frame, *ARGS, ["x"], method="Quasi-Bayes", n_boot=20, seed=1)
    assert res.spec.method == "quasi_bayes"


def test_cde_at_custom_values_and_defaults(linear_frame):
    res = medbook.mediate(linear_frame, *ARGS, ["x"], interaction=True, method="delta",
                          cde_at=[-1, 0.25, 3])
    keys = list(res.to_frame()["estimand"])
    assert keys == [*EFFECTS, "pm", "cde(m=-1)", "cde(m=0.25)", "cde(m=3)"]
    theta = res.outcome_fit.coef[0]  # const, t, m, t:m, x
    for m in (-1, 0.25, 3):
        assert res[f"cde(m={m:g})"] == pytest.approx(theta[1] + theta[3] * m, abs=1e-10)
    assert res.spec.cde_at == (-1.0, 0.25, 3.0)
    default = medbook.mediate(linear_frame, *ARGS, ["x"], method="delta")
    control_mean = linear_frame.loc[linear_frame["treatment"] == 0, "mediator"].mean()
    assert default.spec.cde_at == (float(f"{control_mean:.3g}"),)
    single = medbook.mediate(linear_frame, *ARGS, ["x"], method="delta", cde_at=2.0)
    assert single.spec.cde_at == (2.0,)


def test_binary_mediator_with_interaction_and_default_cde():
    frame = _study(5, 400, binary_mediator=True)
    res = medbook.mediate(frame, *ARGS, ["x", "plan"], interaction=True, method="delta")
    assert res.spec.mediator_model == "logit" and res.spec.outcome_model == "linear"
    terms = ("(Intercept)", "treatment", "mediator", "treatment:mediator")
    assert res.outcome_fit.names[:4] == terms
    assert res.spec.cde_at == (0.0, 1.0)
    theta = res.outcome_fit.coef[0]
    assert res["cde(m=0)"] == pytest.approx(theta[1], abs=1e-10)
    assert res["cde(m=1)"] == pytest.approx(theta[1] + theta[3], abs=1e-10)
    assert res.scale == "difference"


def test_probit_models_equal_statsmodels_probit_g_formula():
    """Binary mediator and outcome, both probit: g-formula from statsmodels Probit fits."""
    frame = _study(6, 800, binary_mediator=True, binary_outcome=True)
    res = medbook.mediate(frame, *ARGS, ["x"], interaction=True, mediator_model="probit",
                          outcome_model="probit", method="delta")
    assert (res.spec.mediator_model, res.spec.outcome_model) == ("probit", "probit")
    t, m, x = (frame[c].to_numpy(float) for c in ("treatment", "mediator", "x"))
    a = sm.Probit(m, sm.add_constant(np.column_stack([t, x]))).fit(disp=0).params
    b = sm.Probit(frame["outcome"].to_numpy(float),
                  sm.add_constant(np.column_stack([t, m, t * m, x]))).fit(disp=0).params
    for t_y, t_m in ((1, 1), (0, 0), (1, 0), (0, 1)):
        p = special.ndtr(a[0] + a[1] * t_m + a[2] * x)
        q1 = special.ndtr(b[0] + b[1] * t_y + b[2] + b[3] * t_y + b[4] * x)
        q0 = special.ndtr(b[0] + b[1] * t_y + b[4] * x)
        expected = np.mean(p * q1 + (1 - p) * q0)
        assert res.potential_outcomes[f"y{t_y}m{t_m}"] == pytest.approx(expected, abs=1e-8)
    assert res.scale == "risk difference"


def test_continuous_mediator_binary_outcome_reports_quadrature():
    frame = _study(7, 400, binary_outcome=True)
    res = medbook.mediate(frame, *ARGS, ["x"], interaction=True, method="delta")
    assert res.details["quadrature_error"] < 1e-8
    probit = medbook.mediate(frame, *ARGS, ["x"], interaction=True, method="delta",
                             outcome_model="probit")
    assert "quadrature_error" not in probit.details
    # logit and probit links describe the same data: risk differences agree roughly
    assert probit["te"] == pytest.approx(res["te"], abs=0.03)


# --- the result object ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def boot_result():
    frame = _study(8, 300, binary_mediator=True, binary_outcome=True)
    return medbook.mediate(frame, *ARGS, ["x", "plan"], interaction=True, n_boot=50, seed=9)


def test_to_dict_is_json_and_has_metadata(boot_result):
    out = json.loads(json.dumps(boot_result.to_dict(), allow_nan=False))
    for key in ("effects", "potential_outcomes", "n", "arm_sizes", "method", "n_boot",
                "n_replicates", "n_failed", "seed", "scale", "spec", "models", "warnings",
                "details"):
        assert key in out, key
    assert out["n"] == 300 and out["method"] == "bootstrap" and out["n_boot"] == 50
    assert out["seed"] == 9 and out["scale"] == "risk difference"
    assert sum(out["arm_sizes"].values()) == 300
    assert [e["estimand"] for e in out["effects"]] == list(boot_result.to_frame()["estimand"])
    assert set(out["effects"][0]) == {"estimand", "estimate", "std_error", "ci_lower",
                                      "ci_upper", "p_value"}
    assert out["spec"]["covariates"] == ["x", "plan"] and out["spec"]["interaction"] is True
    assert out["models"]["outcome"]["family"] == "logit"
    terms = [c["term"] for c in out["models"]["mediator"]["coefficients"]]
    assert terms == ["(Intercept)", "treatment", "x", "plan[pro]", "plan[team]"]
    assert set(out["potential_outcomes"]) == {"y1m1", "y0m0", "y1m0", "y0m1"}


def test_to_frame_columns_and_copy(boot_result):
    table = boot_result.to_frame()
    assert list(table.columns) == ["estimand", "estimate", "std_error", "ci_lower", "ci_upper",
                                   "p_value"]
    table.loc[0, "estimate"] = 99.0
    assert boot_result["te"] != 99.0
    assert boot_result.row("nie1")["estimate"] == boot_result["nie1"]
    with pytest.raises(KeyError, match=r"unknown estimand 'nie'.*nie1"):
        boot_result["nie"]


def test_repr_and_summary_are_readable(boot_result):
    text = repr(boot_result)
    assert text.startswith("MediationResult(treatment -> mediator -> outcome; n=300")
    assert "logit/logit" in text and "method=bootstrap" in text and "50 replicates" in text
    for key in ("te", "nde0", "nie1", "cde(m=1)"):
        assert key in text
    assert len(text.splitlines()) == 1 + 1 + 8
    summary = boot_result.summary()
    assert "Total effect" in summary.index
    assert "Natural indirect effect NIE(1)" in summary.index
    assert "Controlled direct effect CDE(0)" in summary.index
    assert "estimand" not in summary.columns


def test_bootstrap_p_value_is_never_zero_and_large_for_null_effect():
    rng = np.random.default_rng(11)
    n = 300
    frame = pd.DataFrame({"treatment": np.tile([0, 1], n // 2), "x": rng.normal(size=n)})
    frame["mediator"] = frame["x"] + rng.normal(size=n)  # T has no effect on M
    frame["outcome"] = 2.0 * frame["treatment"] + frame["mediator"] + rng.normal(size=n)
    res = medbook.mediate(frame, *ARGS, ["x"], n_boot=199, seed=1)
    assert res.row("te")["p_value"] == pytest.approx(2 / 200)
    assert res.row("nie1")["p_value"] > 0.05


def test_to_dict_is_json_with_numpy_arguments():
    """Seeds and counts often come from numpy (e.g. ``rng.integers``); the dict stays JSON-safe."""
    frame = _study(12, 120)
    res = medbook.mediate(frame, *ARGS, ["x"], n_boot=np.int64(20), seed=np.int64(3),
                          cde_at=np.array([0.5, 1.5]))
    out = json.loads(json.dumps(res.to_dict(), allow_nan=False))
    assert out["seed"] == 3 and out["n_boot"] == 20
    assert out["spec"]["cde_at"] == [0.5, 1.5]


def test_covariates_none_means_no_covariates():
    frame = _study(13, 100)
    res = medbook.mediate(frame, *ARGS, None, method="delta")
    assert res.spec.covariates == () and res.outcome_fit.names == ("(Intercept)", *ARGS[:2])


@pytest.mark.parametrize("value", [np.nan, np.inf])
def test_non_finite_cde_value_is_a_config_error(linear_frame, value):
    with pytest.raises(ConfigError, match="cde_at"):
        medbook.mediate(linear_frame, *ARGS, ["x"], method="delta", cde_at=[0.0, value])


def test_bca_acceleration_and_interval_against_delete_one_jackknife_and_scipy():
    """n <= 1000: the acceleration is Efron's delete-one jackknife value, computed here by
    refitting both OLS models n times; the interval agrees with ``scipy.stats.bootstrap``
    (BCa over resampled rows of the same statistic) to Monte Carlo error."""
    frame = medbook.simulate.simulate_linear(seed=9, n=300)
    t, m, x, y = (frame[c].to_numpy(float) for c in ("treatment", "mediator", "x", "outcome"))

    def nie(rows):
        rows = np.asarray(rows, dtype=int)
        ones = np.ones(rows.size)
        a = np.linalg.lstsq(np.column_stack([ones, t[rows], x[rows]]), m[rows], rcond=None)[0]
        b = np.linalg.lstsq(np.column_stack([ones, t[rows], m[rows], x[rows]]), y[rows],
                            rcond=None)[0]
        return a[1] * b[2]

    res = medbook.mediate(frame, *ARGS, ["x"], n_boot=4000, ci="bca", seed=3)
    everyone = np.arange(len(frame))
    jack = np.array([nie(np.delete(everyone, i)) for i in everyone])
    d = jack.mean() - jack
    acceleration = np.sum(d**3) / (6.0 * np.sum(d**2) ** 1.5)  # Efron (1987)
    assert res.details["acceleration"]["nie1"] == pytest.approx(acceleration, rel=1e-6)
    ref = stats.bootstrap((everyone,), nie, vectorized=False, method="BCa", n_resamples=4000,
                          rng=np.random.default_rng(1))
    row = res.row("nie1")
    tol = 0.15 * ref.standard_error  # two independent sets of 4000 resamples
    assert abs(row["ci_lower"] - ref.confidence_interval.low) < tol
    assert abs(row["ci_upper"] - ref.confidence_interval.high) < tol
