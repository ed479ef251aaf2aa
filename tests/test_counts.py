"""Count outcomes: Poisson and NB2 fits against statsmodels, the log-link g-formula against
brute force, known truths at n = 20,000, and bad input."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from statsmodels.discrete.discrete_model import NegativeBinomial

import medbook
from medbook import simulate
from medbook.counts import fit_count, is_count_column
from medbook.effects import EffectModel, potential_outcomes
from medbook.errors import ConfigError, DataError, FitError
from medbook.weights import ReplicateWeights

ARGS = ("treatment", "mediator", "outcome")
NAMES = ("const", "t", "m", "x")


def _design(seed: int, n: int, dispersion: float | None) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    t = rng.binomial(1, 0.5, n)
    x = rng.normal(size=n) * 2.0 + 3.0  # off-centre, to exercise the standardisation
    m = 0.2 + 0.5 * t + 0.1 * x + rng.normal(size=n)
    mu = np.exp(-0.4 + 0.3 * t + 0.4 * m + 0.1 * x)
    if dispersion is None:
        y = rng.poisson(mu)
    else:
        y = rng.poisson(rng.gamma(1.0 / dispersion, dispersion * mu))
    return np.column_stack([np.ones(n), t, m, x]), y.astype(float)


def test_poisson_point_fit_equals_statsmodels_glm():
    x, y = _design(1, 3000, None)
    fit = fit_count(x, y, ReplicateWeights(3000), NAMES)
    ref = sm.GLM(y, x, family=sm.families.Poisson()).fit(tol=1e-12)
    np.testing.assert_allclose(fit.coef[0], ref.params, atol=1e-8)
    np.testing.assert_allclose(np.sqrt(np.diag(fit.cov)), ref.bse, rtol=1e-6)
    assert fit.dispersion is None and fit.table()["std_error"].notna().all()


def test_poisson_replicates_equal_frequency_weighted_glm():
    x, y = _design(2, 2000, None)
    weights = ReplicateWeights(2000, 6, "multinomial", seed=4)
    fit = fit_count(x, y, weights, NAMES)
    assert fit.ok.all()
    for i, w in enumerate(weights.matrix()):
        ref = sm.GLM(y, x, family=sm.families.Poisson(), freq_weights=w).fit(tol=1e-12)
        np.testing.assert_allclose(fit.coef[i], ref.params, atol=1e-7)


def test_negbin_point_fit_equals_statsmodels_nb2():
    x, y = _design(3, 3000, 0.8)
    fit = fit_count(x, y, ReplicateWeights(3000), NAMES, family="negbin")
    model = NegativeBinomial(y, x, loglike_method="nb2")
    start = np.r_[fit.coef[0] + 0.01, 0.5]
    ref = model.fit(start_params=start, method="newton", maxiter=100, tol=1e-12, disp=0)
    np.testing.assert_allclose(fit.coef[0], ref.params[:-1], atol=1e-7)
    assert fit.dispersion[0] == pytest.approx(ref.params[-1], abs=1e-7)
    np.testing.assert_allclose(np.sqrt(np.diag(fit.cov)), ref.bse[:-1], rtol=1e-5)
    assert fit.to_dict()["dispersion"] == pytest.approx(ref.params[-1], abs=1e-7)


def test_negbin_replicates_equal_statsmodels_on_resampled_rows():
    """Multinomial replicate weights are resampling counts: refit statsmodels' NB2 on the
    repeated rows and compare coefficients and the per-replicate dispersion."""
    x, y = _design(5, 1500, 1.5)
    weights = ReplicateWeights(1500, 4, "multinomial", seed=8)
    point = fit_count(x, y, ReplicateWeights(1500), NAMES, family="negbin")
    fit = fit_count(x, y, weights, NAMES, family="negbin", start=point.coef[0])
    assert fit.ok.all()
    for i, w in enumerate(weights.matrix().astype(int)):
        rows = np.repeat(np.arange(1500), w)
        ref = NegativeBinomial(y[rows], x[rows], loglike_method="nb2").fit(
            start_params=np.r_[point.coef[0], point.dispersion[0]], method="newton",
            maxiter=100, tol=1e-12, disp=0,
        )
        np.testing.assert_allclose(fit.coef[i], ref.params[:-1], atol=1e-6)
        assert fit.dispersion[i] == pytest.approx(ref.params[-1], abs=1e-6)
    assert np.ptp(fit.dispersion) > 0.01  # estimated per replicate, not shared


def test_negbin_without_overdispersion_reaches_the_poisson_limit():
    x, y = _design(6, 2000, None)
    weights = ReplicateWeights(2000, 30, "multinomial", seed=2)
    fit = fit_count(x, y, weights, NAMES, family="negbin")
    poisson = fit_count(x, y, weights, NAMES)
    assert fit.ok.all()
    assert fit.dispersion.min() < 1e-6  # some replicates sit at alpha = 0 ...
    at_zero = fit.dispersion < 1e-6
    np.testing.assert_allclose(fit.coef[at_zero], poisson.coef[at_zero], atol=1e-5)


def test_a_group_of_zero_counts_is_a_fit_error():
    x, y = _design(7, 400, None)
    y[x[:, 1] == 1] = 0.0  # no treated unit has a count: the treatment coefficient diverges
    with pytest.raises(FitError, match="numerically zero"):
        fit_count(x, y, ReplicateWeights(400), NAMES)


# --- the g-formula under a log link ------------------------------------------------------------

def test_lognormal_closed_form_equals_brute_force_over_the_mediator():
    """E[exp(a + b M)] with M ~ N(mu, s^2): the closed form against averaging over 400,000
    mediator draws per covariate row, for two coefficient replicates at once."""
    rng = np.random.default_rng(11)
    cov = rng.normal(size=(5, 1))
    alpha = np.array([[0.2, 0.7, 0.5], [0.1, 0.4, -0.3]])
    beta = np.array([[0.1, 0.3, 0.35, 0.15, 0.3], [-0.2, 0.2, 0.5, -0.1, 0.1]])
    sigma = np.array([0.8, 1.1])
    model = EffectModel("linear", "poisson", True, cde_at=(0.5,))
    po = potential_outcomes(model, alpha, beta, sigma, cov, ReplicateWeights(5))
    z = rng.normal(size=400_000)
    for b in range(2):
        for t, t_m in ((1, 1), (0, 0), (1, 0), (0, 1)):
            m = alpha[b, 0] + alpha[b, 1] * t_m + alpha[b, 2] * cov + sigma[b] * z
            eta = beta[b, 0] + beta[b, 1] * t + (beta[b, 2] + beta[b, 3] * t) * m
            brute = np.mean(np.exp(eta + beta[b, 4] * cov))
            assert po[f"y{t}m{t_m}"][b] == pytest.approx(brute, rel=3e-3)
        cde = np.mean(np.exp(beta[b, 0] + beta[b, 1] + (beta[b, 2] + beta[b, 3]) * 0.5
                             + beta[b, 4] * cov))
        assert po["y1|m=0.5"][b] == pytest.approx(cde, rel=1e-12)


def test_binary_mediator_count_outcome_is_an_exact_sum():
    cov = np.array([[0.0], [1.0]])
    alpha = np.array([[-0.2, 0.9, 0.5]])
    beta = np.array([[0.5, 0.25, 0.6, 0.3]])
    model = EffectModel("logit", "negbin", False)
    po = potential_outcomes(model, alpha, beta, np.ones(1), cov, ReplicateWeights(2))
    p1 = 1 / (1 + np.exp(-(-0.2 + 0.9 + 0.5 * cov[:, 0])))
    y = np.mean(p1 * np.exp(0.5 + 0.25 + 0.6 + 0.3 * cov[:, 0])
                + (1 - p1) * np.exp(0.5 + 0.25 + 0.3 * cov[:, 0]))
    assert po["y1m1"][0] == pytest.approx(y, rel=1e-12)


# --- truth at n = 20,000 ----------------------------------------------------------------------

def _z_scores(res, tr, scale):
    table = res.to_frame().set_index("estimand")
    out = {}
    for k in ("te", "nde0", "nde1", "nie0", "nie1"):
        est, se = table.loc[k, "estimate"], table.loc[k, "std_error"]
        out[k] = (np.log(est / tr[k]) if scale != "difference" else est - tr[k]) / se
    return out


@pytest.mark.parametrize("scale", ["difference", "ratio"])
def test_poisson_outcome_continuous_mediator_truth(scale):
    frame = simulate.simulate("count_outcome", seed=41, n=20_000)
    tr = simulate.truth("count_outcome", scale=scale, n=100_000)
    res = medbook.mediate(frame, *ARGS, ["x"], interaction=True, outcome_model="poisson",
                          scale=scale, method="delta")
    z = _z_scores(res, tr, scale)
    assert max(abs(v) for v in z.values()) < 4.0, z
    assert res.scale == ("rate ratio" if scale == "ratio" else "difference")


@pytest.mark.parametrize("scale", ["difference", "ratio"])
def test_negbin_outcome_with_overdispersion_truth(scale):
    frame = simulate.simulate("negbin_outcome", seed=43, n=20_000)
    tr = simulate.truth("negbin_outcome", scale=scale, n=200_000)
    res = medbook.mediate(frame, *ARGS, ["x"], outcome_model="negbin", scale=scale,
                          method="delta")
    z = _z_scores(res, tr, scale)
    assert max(abs(v) for v in z.values()) < 4.0, z
    assert res.outcome_fit.dispersion[0] == pytest.approx(1.2, abs=0.15)


def test_count_processes_truth_agrees_with_brute_force():
    """Quadrature/exact-sum truths against nested potential-outcome simulation."""
    for name, tol in (("count_outcome", 0.01), ("negbin_outcome", 0.02)):
        quad = simulate.truth(name, scale="ratio", n=100_000)
        brute = simulate.brute_force_truth(name, scale="ratio", n=400_000, seed=5)
        for k in ("te", "nde0", "nie1", "y1m1", "y0m0"):
            assert brute[k] == pytest.approx(quad[k], rel=tol), (name, k)


def test_count_outcome_runs_with_every_method():
    frame = simulate.simulate("negbin_outcome", seed=3, n=1500)
    for method in ("bootstrap", "quasi_bayes"):
        res = medbook.mediate(frame, *ARGS, ["x"], outcome_model="negbin", scale="ratio",
                              method=method, n_boot=50, seed=1)
        assert res.n_replicates >= 45
        row = res.row("te")
        assert row["ci_lower"] < row["estimate"] < row["ci_upper"]
        assert res.to_dict()["models"]["outcome"]["family"] == "negbin"


# --- choosing the model and bad input -------------------------------------------------------------

def test_auto_keeps_the_linear_model_unless_asked():
    frame = simulate.simulate("count_outcome", seed=2, n=800)
    assert is_count_column(frame["outcome"].to_numpy(dtype=float))
    plain = medbook.mediate(frame, *ARGS, method="delta")
    asked = medbook.mediate(frame, *ARGS, method="delta", auto_counts=True)
    assert plain.spec.outcome_model == "linear"
    assert asked.spec.outcome_model == "poisson"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda y: y.where(y.index != 3, -1), "negative values.*row 4"),
        (lambda y: y.where(y.index != 6, 2.5), "non-integer values.*row 7"),
    ],
)
def test_bad_counts_are_one_line_data_errors(change, message):
    frame = simulate.simulate("count_outcome", seed=2, n=300)
    frame["outcome"] = change(frame["outcome"].astype(float))
    for family in ("poisson", "negbin"):
        with pytest.raises(DataError, match=message) as err:
            medbook.mediate(frame, *ARGS, outcome_model=family, method="delta")
        assert "\n" not in str(err.value) and "'outcome'" in str(err.value)


def test_count_models_are_for_the_outcome_only():
    frame = pd.DataFrame({"treatment": [0, 1] * 20, "mediator": list(range(40)),
                          "outcome": np.arange(40) % 3})
    with pytest.raises(ConfigError, match="mediator_model must be one of auto, linear, logit"):
        medbook.mediate(frame, *ARGS, mediator_model="poisson", method="delta")
