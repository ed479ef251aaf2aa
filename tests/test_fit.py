"""Numeric kernel: batched WLS / logit / probit against statsmodels.

Reference implementations: ``statsmodels.api.OLS``, ``Logit`` and ``Probit`` for the
point fit (coefficients and standard errors), ``WLS`` and
``GLM(..., freq_weights=w)`` for each replicate weighting.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm

import medbook
import medbook.weights as weights_module
from medbook.errors import FitError
from medbook.fit import Status, fit_glm, fit_model
from medbook.weights import BLOCK_ROWS, ReplicateWeights

TOL = 1e-8
NAMES = ("const", "t", "x", "income")


def _rel(a, b) -> float:
    a, b = np.asarray(a, float), np.asarray(b, float)
    return float(np.max(np.abs(a - b) / np.maximum(1.0, np.abs(b))))


@pytest.fixture(scope="module")
def problem():
    """A design with a badly scaled column (income ~ 1e5) and linear/binary responses."""
    rng = np.random.default_rng(20261125)
    n = 2500
    t = rng.binomial(1, 0.5, n).astype(float)
    x = rng.normal(size=n)
    income = rng.lognormal(11.5, 0.5, size=n)  # ~ 1e5
    design = np.column_stack([np.ones(n), t, x, income])
    inc_c = (income - income.mean()) / 1e5
    y_lin = 1.0 + 0.5 * t + x + 0.8 * inc_c + rng.normal(size=n)
    y_bin = (rng.uniform(size=n) < 1 / (1 + np.exp(-(-0.4 + 0.6 * t + 0.8 * x + inc_c)))) * 1.0
    return design, y_lin, y_bin


def _reference(family: str, y, design, freq=None):
    if family == "linear":
        model = sm.OLS(y, design) if freq is None else sm.WLS(y, design, weights=freq)
        return model.fit()
    if freq is None:
        cls = sm.Logit if family == "logit" else sm.Probit
        return cls(y, design).fit(disp=0, maxiter=200)
    link = sm.families.links.Logit() if family == "logit" else sm.families.links.Probit()
    glm = sm.GLM(y, design, family=sm.families.Binomial(link), freq_weights=freq)
    return glm.fit(tol=1e-14, maxiter=200)


@pytest.mark.parametrize("family", ["linear", "logit", "probit"])
def test_point_fit_equals_statsmodels(problem, family):
    """B = 1: coefficients and standard errors equal statsmodels OLS / Logit / Probit to 1e-8."""
    design, y_lin, y_bin = problem
    y = y_lin if family == "linear" else y_bin
    fit = fit_model(family, design, y, ReplicateWeights(len(y)), NAMES)
    ref = _reference(family, y, design)
    assert fit.coef.shape == (1, 4)
    assert _rel(fit.coef[0], ref.params) < TOL
    assert _rel(np.sqrt(np.diag(fit.cov)), ref.bse) < TOL
    table = fit.table()
    assert list(table["term"]) == list(NAMES)
    assert _rel(table["p_value"], ref.pvalues) < 1e-6
    if family == "linear":
        assert abs(fit.sigma[0] - np.sqrt(ref.scale)) < TOL
        assert fit.df_resid == ref.df_resid


@pytest.mark.parametrize("family", ["linear", "logit", "probit"])
@pytest.mark.parametrize("kind", ["multinomial", "poisson"])
def test_replicate_fits_equal_weighted_statsmodels(problem, family, kind):
    """B > 1: every replicate equals statsmodels WLS / GLM(freq_weights=w) on its weights."""
    design, y_lin, y_bin = problem
    y = y_lin if family == "linear" else y_bin
    weights = ReplicateWeights(len(y), 12, kind, seed=9)
    fit = fit_model(family, design, y, weights, NAMES)
    assert fit.coef.shape == (12, 4)
    assert fit.ok.all()
    matrix = weights.matrix()
    worst = max(
        _rel(fit.coef[b], _reference(family, y, design, freq=matrix[b]).params) for b in range(12)
    )
    assert worst < TOL
    if family == "linear":
        # frequency-weight residual df is sum(w) - p (GLM freq_weights; WLS would use n - p)
        glm = sm.GLM(y, design, family=sm.families.Gaussian(), freq_weights=matrix[0]).fit()
        assert abs(fit.sigma[0] - np.sqrt(glm.scale)) < 1e-7


def test_probit_with_extreme_linear_predictor_equals_statsmodels():
    """Not separated, but a few rows have |eta| > 8.3 where 1 - Phi(eta) underflows.

    statsmodels Probit (Newton on the log-likelihood) is the reference.
    """
    rng = np.random.default_rng(3)
    n = 2000
    x = rng.normal(size=n)
    x[:5] = [5.0, 5.5, 6.0, -5.0, -6.0]
    t = rng.binomial(1, 0.5, n).astype(float)
    y = (rng.normal(size=n) < 0.2 + 0.3 * t + 1.8 * x).astype(float)
    design = np.column_stack([np.ones(n), t, x])
    ref = sm.Probit(y, design).fit(disp=0)
    fit = fit_model("probit", design, y, ReplicateWeights(n), ("const", "t", "x"))
    assert _rel(fit.coef[0], ref.params) < TOL


def test_logit_with_large_linear_predictor_equals_statsmodels():
    rng = np.random.default_rng(3)
    n = 2000
    x = rng.normal(size=n)
    x[:5] = [5.0, 5.5, 6.0, -5.0, -6.0]
    t = rng.binomial(1, 0.5, n).astype(float)
    y = (rng.logistic(size=n) < 0.2 + 0.3 * t + 3.0 * x).astype(float)
    design = np.column_stack([np.ones(n), t, x])
    ref = sm.Logit(y, design).fit(disp=0)
    fit = fit_model("logit", design, y, ReplicateWeights(n), ("const", "t", "x"))
    assert _rel(fit.coef[0], ref.params) < TOL
    assert _rel(np.sqrt(np.diag(fit.cov)), ref.bse) < TOL


def _separated_design():
    rng = np.random.default_rng(1)
    n = 300
    t = rng.binomial(1, 0.5, n).astype(float)
    x = rng.normal(size=n)
    return np.column_stack([np.ones(n), t, x]), (x > 0).astype(float)


@pytest.mark.parametrize("family", ["logit", "probit"])
def test_perfect_separation_in_point_fit_raises(family):
    design, y = _separated_design()
    with pytest.raises(FitError, match="separation") as err:
        names = ("const", "t", "x")
        fit_model(family, design, y, ReplicateWeights(len(y)), names, response="renew")
    assert "renew" in str(err.value)


def test_perfect_separation_via_mediate_raises():
    design, y = _separated_design()
    frame = pd.DataFrame({"t": design[:, 1], "x": design[:, 2], "y": y})
    frame["m"] = frame["x"] + np.random.default_rng(0).normal(size=len(frame))
    with pytest.raises(FitError, match="separation"):
        medbook.mediate(frame, "t", "m", "y", ["x"], method="delta")


def _rare_level_problem():
    """A dummy with three rows (two y=1, one y=0): the point fit is fine, but every
    bootstrap replicate that leaves out the y=0 row (or both y=1 rows) is separated."""
    rng = np.random.default_rng(1)
    n = 300
    t = rng.binomial(1, 0.5, n).astype(float)
    x = rng.normal(size=n)
    m = 0.5 * t + x + rng.normal(size=n)
    y = (rng.uniform(size=n) < 1 / (1 + np.exp(-(m - 0.3)))).astype(float)
    rare = np.zeros(n)
    rare_rows = [*np.flatnonzero(y == 1)[:2], np.flatnonzero(y == 0)[0]]
    rare[rare_rows] = 1.0
    frame = pd.DataFrame({"t": t, "m": m, "y": y, "x": x, "rare": rare})
    return frame, rare_rows


def test_separated_replicates_are_flagged_and_others_match_statsmodels():
    frame, rare_rows = _rare_level_problem()
    design = np.column_stack([np.ones(len(frame)), frame[["t", "m", "x", "rare"]].to_numpy()])
    y = frame["y"].to_numpy()
    weights = ReplicateWeights(len(y), 60, "multinomial", seed=4)
    fit = fit_model("logit", design, y, weights, ("const", "t", "m", "x", "rare"))
    w = weights.matrix()
    ones, zero = w[:, rare_rows[:2]].sum(axis=1), w[:, rare_rows[2]]
    separated = ((ones > 0) & (zero == 0)) | ((ones == 0) & (zero > 0))
    assert separated.any()
    assert not fit.ok[separated].any()
    for b in np.flatnonzero(fit.ok)[:10]:
        assert _rel(fit.coef[b], _reference("logit", y, design, freq=w[b]).params) < 1e-7


def test_quasi_separated_replicates_are_limit_fits_equal_to_the_reduced_fit():
    """With the rare dummy as a nuisance column, a replicate whose rare rows all share one
    outcome is a limit fit: the other coefficients equal statsmodels' fit of the rows
    outside the level without the dummy (the MLE the divergent fit tends to)."""
    frame, rare_rows = _rare_level_problem()
    design = np.column_stack([np.ones(len(frame)), frame[["t", "m", "x", "rare"]].to_numpy()])
    y = frame["y"].to_numpy()
    weights = ReplicateWeights(len(y), 60, "multinomial", seed=4)
    fit = fit_model("logit", design, y, weights, ("const", "t", "m", "x", "rare"), focal=(1, 2))
    w = weights.matrix()
    ones, zero = w[:, rare_rows[:2]].sum(axis=1), w[:, rare_rows[2]]
    separated = ((ones > 0) & (zero == 0)) | ((ones == 0) & (zero > 0))
    assert separated.any() and fit.ok.all()
    assert np.all(fit.status[separated] == Status.LIMIT)
    assert np.all(fit.status[~separated] == Status.CONVERGED)
    outside = design[:, 4] == 0
    for b in np.flatnonzero(separated)[:5]:
        ref = _reference("logit", y[outside], design[outside, :4], freq=w[b, outside])
        assert _rel(fit.coef[b, :4], ref.params) < 1e-6
        assert abs(fit.coef[b, 4]) > 10  # the dummy's coefficient ran towards +-infinity


def test_quasi_separated_replicates_are_kept_and_counted():
    frame, _ = _rare_level_problem()
    res = medbook.mediate(frame, "t", "m", "y", ["x", "rare"], n_boot=200, seed=4)
    assert res.n_failed == 0 and res.n_replicates == 200 == len(res.replicates)
    assert 0 < res.n_quasi_separated < 200
    out = res.to_dict()
    assert out["n_quasi_separated"] == res.n_quasi_separated
    assert out["replicate_accounting"]["kept"] == 200
    kept = res.replicates[["te", "nde0", "nie1"]].to_numpy()
    assert np.isfinite(kept).all() and np.abs(kept).max() < 1.0
    assert res.row("te")["std_error"] < 0.2


def _mediator_separation_problem():
    """The outcome is 1 exactly when the mediator is positive, except for one row: every
    replicate that leaves that row out is separated by the mediator (effects undefined)."""
    rng = np.random.default_rng(7)
    n = 300
    t = rng.binomial(1, 0.5, n).astype(float)
    x = rng.normal(size=n)
    m = 0.5 * t + x + rng.normal(size=n)
    y = (m > 0).astype(float)
    positive = np.flatnonzero(m > 0)
    y[positive[np.argsort(m[positive])[positive.size // 2]]] = 0.0
    return pd.DataFrame({"t": t, "m": m, "y": y, "x": x})


def test_replicates_separated_by_the_mediator_are_excluded_with_their_reason():
    frame = _mediator_separation_problem()
    res = medbook.mediate(frame, "t", "m", "y", ["x"], n_boot=100, seed=1)
    reason = "treatment or mediator separates the outcome"
    assert 10 < res.n_failed == res.accounting.excluded[reason] < 50
    assert res.n_replicates == 100 - res.n_failed == len(res.replicates)
    assert any(str(res.n_failed) in w and reason in w for w in res.warnings)
    assert res.to_dict()["replicate_accounting"]["excluded"] == {reason: res.n_failed}


def test_too_many_failed_replicates_is_an_error(monkeypatch):
    """More excluded replicates than the limit is a FitError, not a silent result."""
    monkeypatch.setattr(medbook.replicates, "_EXCLUDED_SHARE_LIMIT", 0.1)
    with pytest.raises(FitError, match="replicates failed"):
        medbook.mediate(_mediator_separation_problem(), "t", "m", "y", ["x"], n_boot=100, seed=1)


def test_no_convergence_is_reported():
    design = _separated_design()[0]
    rng = np.random.default_rng(4)
    y = (rng.uniform(size=design.shape[0]) < 0.4).astype(float)
    with pytest.raises(FitError, match="convergence"):
        fit_glm(design, y, ReplicateWeights(len(y)), ("const", "t", "x"), max_iter=1)


@pytest.mark.parametrize("family", ["linear", "logit"])
def test_collinear_column_is_named(problem, family):
    design, y_lin, y_bin = problem
    y = y_lin if family == "linear" else y_bin
    doubled = np.column_stack([design, 2.0 * design[:, 2] + 1.0])
    with pytest.raises(FitError, match=r"'x_twice'.*collinear"):
        fit_model(family, doubled, y, ReplicateWeights(len(y)), (*NAMES, "x_twice"))


def test_collinear_covariate_via_mediate_is_named(linear_df):
    frame = linear_df[["treatment", "mediator", "outcome", "x"]].copy()
    frame["x_copy"] = 3.0 * frame["x"] - 2.0
    with pytest.raises(FitError, match="'x_copy'"):
        medbook.mediate(frame, "treatment", "mediator", "outcome", ["x", "x_copy"], method="delta")


def test_warm_start_gives_the_same_fit(problem):
    design, _, y = problem
    weights = ReplicateWeights(len(y), 5, "multinomial", seed=3)
    cold = fit_model("logit", design, y, weights, NAMES)
    point = fit_model("logit", design, y, ReplicateWeights(len(y)), NAMES)
    warm = fit_model("logit", design, y, weights, NAMES, start=point.coef[0])
    assert _rel(warm.coef, cold.coef) < 1e-9


def test_mediate_models_equal_statsmodels_ols(linear_df):
    """The single-pass (moments) linear path inside mediate() equals two statsmodels OLS fits."""
    covs = ["x", "enterprise", "support_burden"]
    res = medbook.mediate(linear_df, "treatment", "mediator", "outcome", covs, method="delta")
    exog_m = sm.add_constant(linear_df[["treatment", *covs]].to_numpy(float))
    exog_y = sm.add_constant(linear_df[["treatment", "mediator", *covs]].to_numpy(float))
    ref_m = sm.OLS(linear_df["mediator"].to_numpy(), exog_m).fit()
    ref_y = sm.OLS(linear_df["outcome"].to_numpy(), exog_y).fit()
    assert res.mediator_fit.names == ("(Intercept)", "treatment", *covs)
    assert res.outcome_fit.names == ("(Intercept)", "treatment", "mediator", *covs)
    assert _rel(res.mediator_fit.coef[0], ref_m.params) < TOL
    assert _rel(res.outcome_fit.coef[0], ref_y.params) < TOL
    assert _rel(np.sqrt(np.diag(res.mediator_fit.cov)), ref_m.bse) < TOL
    assert _rel(np.sqrt(np.diag(res.outcome_fit.cov)), ref_y.bse) < TOL
    assert abs(res.mediator_fit.sigma[0] - np.sqrt(ref_m.scale)) < TOL


@pytest.mark.parametrize("family", ["linear", "logit"])
def test_fits_do_not_depend_on_chunk_size(family, monkeypatch):
    """Fixed-block weights make chunking irrelevant; only the floating-point summation
    order changes, so fits agree to rounding (1e-12), not necessarily bit for bit."""
    rng = np.random.default_rng(6)
    n = 2 * BLOCK_ROWS + 500
    design = np.column_stack([np.ones(n), rng.binomial(1, 0.5, n), rng.normal(size=n)])
    y = design[:, 1] + design[:, 2] + rng.normal(size=n)
    if family == "logit":
        y = (y > 0.5).astype(float)
    names = ("const", "t", "x")
    big = fit_model(family, design, y, ReplicateWeights(n, 6, "multinomial", seed=2), names)
    monkeypatch.setattr(weights_module, "_CHUNK_BYTES", 1)
    monkeypatch.setattr(weights_module, "_CACHE_BYTES", 1)
    small = fit_model(family, design, y, ReplicateWeights(n, 6, "multinomial", seed=2), names)
    assert _rel(small.coef, big.coef) < 1e-12
    assert _rel(small.sigma, big.sigma) < 1e-12


def test_bootstrap_does_not_depend_on_chunk_size(monkeypatch):
    frame = medbook.simulate.simulate_binary(seed=2, n=BLOCK_ROWS + 3000)
    args = (frame, "treatment", "mediator", "outcome", ["x"])
    kwargs = {"interaction": True, "n_boot": 20, "seed": 3}
    big = medbook.mediate(*args, **kwargs)
    monkeypatch.setattr(weights_module, "_CHUNK_BYTES", 1)
    monkeypatch.setattr(weights_module, "_CACHE_BYTES", 1)
    small = medbook.mediate(*args, **kwargs)
    cols = ["estimate", "std_error", "ci_lower", "ci_upper"]
    assert np.allclose(small.to_frame()[cols], big.to_frame()[cols], rtol=0, atol=1e-12)


def test_converged_logit_with_an_extreme_row_is_not_separation():
    """Three rows with x = 20 give eta ~ 43 (probability 1 - 1e-19), but the data are not
    separated: the MLE exists and statsmodels Logit converges to it. A large fitted value
    on a converged fit must not be reported as separation (nor replicates be dropped)."""
    rng = np.random.default_rng(0)
    n = 1000
    x = rng.normal(size=n)
    x[:3] = 20.0
    t = rng.binomial(1, 0.5, n).astype(float)
    y = (rng.logistic(size=n) < 0.2 + 0.5 * t + 2.0 * x).astype(float)
    design = np.column_stack([np.ones(n), t, x])
    ref = sm.Logit(y, design).fit(disp=0)
    assert np.max(design @ ref.params) > 36  # the case in question
    fit = fit_model("logit", design, y, ReplicateWeights(n), ("const", "t", "x"))
    assert _rel(fit.coef[0], ref.params) < TOL
    boot = fit_model("logit", design, y, ReplicateWeights(n, 20, "multinomial", seed=1),
                     ("const", "t", "x"), start=fit.coef[0])
    assert boot.ok.all()


def test_extremely_scaled_columns_match_a_standardised_reference():
    """Columns on scales 1e-6, ~1e9 and 1e6 +- 1 (a large offset): statsmodels on the raw
    design is itself rank-deficient here, so the reference is statsmodels OLS/Logit on
    centred and scaled columns, with the coefficients transformed back in this test."""
    rng = np.random.default_rng(0)
    n = 2000
    t = rng.binomial(1, 0.5, n).astype(float)
    tiny = rng.normal(size=n) * 1e-6
    huge = rng.lognormal(20, 1, n)
    offset = 1e6 + rng.normal(size=n)
    raw = np.column_stack([np.ones(n), t, tiny, huge, offset])
    y = 1 + t + 2e5 * tiny + 1e-9 * huge + 0.5 * (offset - 1e6) + rng.normal(size=n)
    mean, sd = raw[:, 2:].mean(axis=0), raw[:, 2:].std(axis=0)
    scaled = np.column_stack([raw[:, :2], (raw[:, 2:] - mean) / sd])

    def back(g):
        return np.concatenate([[g[0] - np.sum(g[2:] * mean / sd), g[1]], g[2:] / sd])

    names = ("const", "t", "tiny", "huge", "offset")
    for family, response, ref_cls in (("linear", y, sm.OLS), ("logit", y > np.median(y), sm.Logit)):
        response = response.astype(float)
        ref = ref_cls(response, scaled).fit(**({"disp": 0} if family == "logit" else {}))
        fit = fit_model(family, raw, response, ReplicateWeights(n), names)
        assert np.max(np.abs(fit.coef[0] - back(ref.params)) / np.abs(back(ref.params))) < TOL


def test_mediate_agrees_with_pingouin_mediation_analysis(linear_df):
    """pingouin ``mediation_analysis`` (linear, covariates): path a, direct, total, indirect.
    (pingouin's "Y ~ mediator" row regresses Y on M without X, so it is not our b.)"""
    pingouin = pytest.importorskip("pingouin")
    covs = ["x", "enterprise"]
    out = pingouin.mediation_analysis(data=linear_df, x="treatment", m="mediator", y="outcome",
                                      covar=covs, n_boot=20, seed=1).set_index("path")["coef"]
    res = medbook.mediate(linear_df, "treatment", "mediator", "outcome", covs, method="delta")
    assert res.mediator_fit.coef[0][1] == pytest.approx(out["mediator ~ X"], rel=1e-9)
    assert res["nde0"] == pytest.approx(out["Direct"], rel=1e-9)
    assert res["te"] == pytest.approx(out["Total"], rel=1e-9)
    assert res["nie1"] == pytest.approx(out["Indirect"], rel=1e-9)
