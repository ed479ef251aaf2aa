"""Estimands against published numbers, closed forms and other implementations.

References, test by test:

* the source notebook's printed tables (``tests/data/source-tables.json``);
* the Sobel (1982) standard error ``sqrt(b^2 Var(a) + a^2 Var(b))`` from statsmodels OLS fits;
* VanderWeele & Vansteelandt (2009) and Valeri & VanderWeele (2013) closed forms for a
  continuous mediator and outcome with a treatment-mediator interaction, and their
  delta-method standard errors;
* ``statsmodels.stats.mediation.Mediation`` (parametric simulation, Imai et al. 2010);
* brute-force Monte Carlo integration of the g-formula written here.
"""

from __future__ import annotations

import contextlib

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
import statsmodels.formula.api as smf
from scipy import special
from statsmodels.stats.mediation import Mediation

import medbook
from medbook import simulate


def _coef(fit, name: str) -> float:
    return float(fit.coef[0][fit.names.index(name)])


# --- layer 2: the source notebook's tables -----------------------------------------------


@pytest.fixture(scope="module")
def linear_boot(linear_df):
    """The notebook's bootstrap: 350 replicates, seed 2026, models with covariate x only."""
    return medbook.mediate(
        linear_df, "treatment", "mediator", "outcome", ["x"], n_boot=350, seed=2026
    )


def test_linear_decomposition_matches_notebook(linear_boot, source_tables):
    ref = source_tables["linear"]["decomposition"]
    res = linear_boot
    a = _coef(res.mediator_fit, "treatment")
    b = _coef(res.outcome_fit, "mediator")
    direct = _coef(res.outcome_fit, "treatment")
    assert round(a, 3) == ref["a"]
    assert round(b, 3) == ref["b"]
    assert round(a * b, 3) == ref["indirect"]
    assert round(direct, 3) == ref["direct"]
    assert round(res["nie1"], 3) == ref["indirect"]
    assert round(res["nde0"], 3) == ref["direct"]
    assert round(res["te"], 3) == ref["total"] == ref["direct_plus_indirect"]
    # linear, no interaction: the two decompositions coincide
    assert res["nie0"] == pytest.approx(res["nie1"], abs=1e-12)
    assert res["nde1"] == pytest.approx(res["nde0"], abs=1e-12)


def test_linear_bootstrap_intervals_match_notebook(linear_boot, source_tables):
    """Different resampling streams: intervals need only agree within 0.02."""
    ref = source_tables["linear"]["bootstrap"]
    assert ref["reps"] == 350 and ref["seed"] == 2026
    assert linear_boot.n_replicates == 350
    for ours, theirs in [("nie1", "indirect"), ("nde0", "direct"), ("te", "total"),
                         ("pm", "proportion_mediated")]:
        row = linear_boot.row(ours)
        assert round(row["estimate"], 3) == ref[theirs]["point"]
        assert abs(row["ci_lower"] - ref[theirs]["ci_lower"]) < 0.02, ours
        assert abs(row["ci_upper"] - ref[theirs]["ci_upper"]) < 0.02, ours
        median = float(np.median(linear_boot.replicates[ours]))
        assert abs(median - ref[theirs]["median"]) < 0.02, ours


def test_binary_g_formula_matches_notebook(binary_df, source_tables):
    ref = source_tables["binary"]["g_computation"]
    res = medbook.mediate(
        binary_df, "treatment", "mediator", "outcome", ["x"], interaction=True, method="delta"
    )
    assert (res.spec.mediator_model, res.spec.outcome_model) == ("logit", "logit")
    assert res.scale == "risk difference"
    po = res.potential_outcomes
    assert round(po["y1m1"], 3) == ref["E[Y(1,M(1))]"]
    assert round(po["y0m0"], 3) == ref["E[Y(0,M(0))]"]
    assert round(po["y1m0"], 3) == ref["E[Y(1,M(0))]"]
    assert round(po["y0m1"], 3) == ref["E[Y(0,M(1))]"]
    assert round(res["te"], 3) == ref["total"]
    assert round(res["nde0"], 3) == ref["nde0"]
    assert round(res["nie1"], 3) == ref["nie1"]


def test_binary_g_formula_equals_notebook_code(binary_df):
    """The notebook's own g-formula (statsmodels Logit predictions averaged over rows)."""
    res = medbook.mediate(
        binary_df, "treatment", "mediator", "outcome", ["x"], interaction=True, method="delta"
    )
    t, m, x = (binary_df[c].to_numpy(float) for c in ("treatment", "mediator", "x"))
    med = sm.Logit(binary_df["mediator"].to_numpy(), sm.add_constant(np.column_stack([t, x])))
    out_exog = sm.add_constant(np.column_stack([t, m, t * m, x]))
    alpha = med.fit(disp=0).params
    beta = sm.Logit(binary_df["outcome"].to_numpy(), out_exog).fit(disp=0).params

    def expected_y(t_y: int, t_m: int) -> float:
        p_m = special.expit(alpha[0] + alpha[1] * t_m + alpha[2] * x)
        y1 = special.expit(beta[0] + beta[1] * t_y + beta[2] + beta[3] * t_y + beta[4] * x)
        y0 = special.expit(beta[0] + beta[1] * t_y + beta[4] * x)
        return float(np.mean(y1 * p_m + y0 * (1 - p_m)))

    for key, (t_y, t_m) in {"y1m1": (1, 1), "y0m0": (0, 0), "y1m0": (1, 0),
                            "y0m1": (0, 1)}.items():
        assert res.potential_outcomes[key] == pytest.approx(expected_y(t_y, t_m), abs=1e-9)


def test_unmeasured_confounding_sweep_matches_notebook(source_tables):
    """Omitted (x only) and oracle (x and u) product-of-coefficients estimates, 8 strengths."""
    rows = source_tables["unmeasured_confounding"]["rows"]
    for strength, ref in zip(np.linspace(0, 1.4, 8), rows, strict=True):
        frame = simulate.simulate_unmeasured(strength, seed=1000 + int(strength * 100))
        for label, covariates in (("omitted", ["x"]), ("oracle", ["x", "u"])):
            res = medbook.mediate(
                frame, "treatment", "mediator", "outcome", covariates, method="delta"
            )
            assert round(res["nie1"], 3) == ref[f"{label}_indirect"], (strength, label)
            assert round(res["nde0"], 3) == ref[f"{label}_direct"], (strength, label)
            assert round(res["te"], 3) == ref[f"{label}_total"], (strength, label)


# --- layer 3: closed forms and statsmodels ------------------------------------------------


def test_delta_se_equals_sobel(linear_df):
    """Linear, no interaction: SE(NIE) = sqrt(b^2 Var(a) + a^2 Var(b)) (Sobel 1982)."""
    covs = ["x", "enterprise"]
    res = medbook.mediate(linear_df, "treatment", "mediator", "outcome", covs, method="delta")
    y, m, t = (linear_df[c].to_numpy(float) for c in ("outcome", "mediator", "treatment"))
    c = linear_df[covs].to_numpy(float)
    fit_m = sm.OLS(m, sm.add_constant(np.column_stack([t, c]))).fit()
    fit_y = sm.OLS(y, sm.add_constant(np.column_stack([t, m, c]))).fit()
    a, var_a = fit_m.params[1], fit_m.cov_params()[1, 1]
    b, var_b = fit_y.params[2], fit_y.cov_params()[2, 2]
    sobel = np.sqrt(b**2 * var_a + a**2 * var_b)
    assert res["nie1"] == pytest.approx(a * b, rel=1e-10)
    assert res.row("nie1")["std_error"] == pytest.approx(sobel, rel=1e-6)
    assert res.row("nde0")["std_error"] == pytest.approx(fit_y.bse[1], rel=1e-6)
    # TE = c' + a b; c' and b share the outcome model's covariance
    cov_y = fit_y.cov_params()
    var_te = cov_y[1, 1] + a**2 * var_b + 2 * a * cov_y[1, 2] + b**2 * var_a
    assert res.row("te")["std_error"] == pytest.approx(np.sqrt(var_te), rel=1e-6)
    z = res.row("nie1")
    assert z["ci_lower"] == pytest.approx(a * b - 1.959963984540054 * sobel, rel=1e-6)
    assert z["p_value"] < 1e-10
    # proportion mediated ab / (c' + ab): gradient (a, b, c') = (b c', a c', -ab) / te^2
    direct, te = fit_y.params[1], fit_y.params[1] + a * b
    grad_ab = np.array([b * direct, a * direct]) / te**2
    grad_c = -a * b / te**2
    var_pm = (grad_ab[0] ** 2 * var_a + grad_ab[1] ** 2 * var_b + grad_c**2 * cov_y[1, 1]
              + 2 * grad_ab[1] * grad_c * cov_y[1, 2])
    assert res.row("pm")["std_error"] == pytest.approx(np.sqrt(var_pm), rel=1e-5)


@pytest.fixture(scope="module")
def interaction_case():
    frame = simulate.simulate_interaction(seed=21, n=3000, interaction=0.5)
    frame["z"] = np.random.default_rng(5).binomial(1, 0.4, len(frame))
    res = medbook.mediate(
        frame, "treatment", "mediator", "outcome", ["x", "z"], interaction=True,
        method="delta", cde_at=[-1.0, 0.5, 2.0],
    )
    return frame, res


def test_interaction_closed_forms_vanderweele_vansteelandt(interaction_case):
    """VanderWeele & Vansteelandt (2009), Valeri & VanderWeele (2013), continuous M and Y:

    M = b0 + b1 T + b2'C + e,  Y = t0 + t1 T + t2 M + t3 T M + t4'C + u, contrast a* = 0 -> a = 1:
    NDE(a*) = t1 + t3 (b0 + b1 a* + b2'c),  NIE(a) = (t2 + t3 a) b1,  CDE(m) = t1 + t3 m,
    evaluated at the covariate means c = c-bar.
    """
    frame, res = interaction_case
    t, m = frame["treatment"].to_numpy(float), frame["mediator"].to_numpy(float)
    c = frame[["x", "z"]].to_numpy(float)
    b = sm.OLS(m, sm.add_constant(np.column_stack([t, c]))).fit().params
    th = sm.OLS(frame["outcome"].to_numpy(), sm.add_constant(np.column_stack([t, m, t * m, c])))
    th = th.fit().params
    cbar = c.mean(axis=0)
    med_level = b[0] + b[2:] @ cbar
    expected = {
        "nde0": th[1] + th[3] * med_level,
        "nde1": th[1] + th[3] * (med_level + b[1]),
        "nie0": th[2] * b[1],
        "nie1": (th[2] + th[3]) * b[1],
    }
    expected["te"] = expected["nde0"] + expected["nie1"]
    for key, value in expected.items():
        assert res[key] == pytest.approx(value, abs=1e-10), key
    for m_value in (-1.0, 0.5, 2.0):
        assert res[f"cde(m={m_value:g})"] == pytest.approx(th[1] + th[3] * m_value, abs=1e-10)


def test_interaction_delta_se_valeri_vanderweele(interaction_case):
    """Valeri & VanderWeele (2013), appendix: SE = sqrt(G Sigma G'), Sigma = diag(S_beta, S_theta),

    NDE(a*=0): G = (t3, 0, t3 c' | 0, 1, 0, b0 + b2'c, 0')   over (b0, b1, b2 | t0, t1, t2, t3, t4)
    NIE(a=1):  G = (0, t2 + t3, 0 | 0, 0, b1, b1, 0)
    """
    frame, res = interaction_case
    t, m = frame["treatment"].to_numpy(float), frame["mediator"].to_numpy(float)
    c = frame[["x", "z"]].to_numpy(float)
    fm = sm.OLS(m, sm.add_constant(np.column_stack([t, c]))).fit()
    fy = sm.OLS(frame["outcome"].to_numpy(), sm.add_constant(np.column_stack([t, m, t * m, c])))
    fy = fy.fit()
    b, th = fm.params, fy.params
    sigma = np.zeros((4 + 6, 4 + 6))
    sigma[:4, :4] = fm.cov_params()
    sigma[4:, 4:] = fy.cov_params()
    cbar = c.mean(axis=0)
    g_nde = np.concatenate([[th[3], 0.0], th[3] * cbar, [0.0, 1.0, 0.0, b[0] + b[2:] @ cbar],
                            np.zeros(2)])
    g_nie = np.concatenate([[0.0, th[2] + th[3]], np.zeros(2), [0.0, 0.0, b[1], b[1]],
                            np.zeros(2)])
    assert res.row("nde0")["std_error"] == pytest.approx(np.sqrt(g_nde @ sigma @ g_nde), rel=1e-5)
    assert res.row("nie1")["std_error"] == pytest.approx(np.sqrt(g_nie @ sigma @ g_nie), rel=1e-5)


@contextlib.contextmanager
def _legacy_seed(seed: int):
    """statsmodels Mediation draws from numpy's global generator: seed it, then restore it."""
    state = np.random.get_state()  # noqa: NPY002 - statsmodels uses the legacy global
    np.random.seed(seed)  # noqa: NPY002
    try:
        yield
    finally:
        np.random.set_state(state)  # noqa: NPY002


STATSMODELS_CASES = {
    # name: (frame factory, mediator family, outcome family, interaction)
    "linear_interaction": (
        lambda: simulate.simulate_interaction(seed=3, n=1500), "gaussian", "gaussian", True
    ),
    "binary_binary": (
        lambda: simulate.simulate_binary(seed=5, n=2000), "binomial", "binomial", True
    ),
    "binary_mediator": (
        lambda: simulate.simulate_binary_mediator_continuous_outcome(seed=5, n=1500),
        "binomial", "gaussian", True,
    ),
    "continuous_mediator_logit_outcome": (
        lambda: _continuous_mediator_binary_outcome(seed=8, n=2000),
        "gaussian", "binomial", False,
    ),
}
STATSMODELS_REPS = 50


def _continuous_mediator_binary_outcome(seed: int, n: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    t = rng.binomial(1, 0.5, n)
    m = 0.2 + 0.8 * t + 0.5 * x + rng.normal(size=n)
    y = rng.binomial(1, special.expit(-0.5 + 0.6 * t + 0.9 * m + 0.4 * x))
    return pd.DataFrame({"x": x, "treatment": t, "mediator": m, "outcome": y})


@pytest.mark.parametrize("case", sorted(STATSMODELS_CASES))
def test_point_estimates_agree_with_statsmodels_mediation(case):
    """statsmodels' ACME/ADE (control, treated) = our nie0/nie1/nde0/nde1; its numbers are
    Monte Carlo means over parametric draws, so agreement is to its simulation error
    (here 4 x SE / sqrt(draws): about 0.01 on the risk-difference scale)."""
    factory, fam_m, fam_y, interaction = STATSMODELS_CASES[case]
    frame = factory()
    families = {"gaussian": sm.families.Gaussian(), "binomial": sm.families.Binomial()}
    rhs = "treatment * mediator + x" if interaction else "treatment + mediator + x"
    outcome_model = smf.glm(f"outcome ~ {rhs}", frame, family=families[fam_y])
    mediator_model = smf.glm("mediator ~ treatment + x", frame, family=families[fam_m])
    with _legacy_seed(17):
        fitted = Mediation(outcome_model, mediator_model, "treatment", "mediator").fit(
            n_rep=STATSMODELS_REPS, method="parametric"
        )
    theirs = fitted.summary()["Estimate"]
    res = medbook.mediate(
        frame, "treatment", "mediator", "outcome", ["x"], interaction=interaction, method="delta"
    )
    pairs = {"nie0": "ACME (control)", "nie1": "ACME (treated)", "nde0": "ADE (control)",
             "nde1": "ADE (treated)", "te": "Total effect"}
    diffs = {ours: abs(res[ours] - theirs[label]) for ours, label in pairs.items()}
    tol = 4 * res.to_frame()["std_error"].max() / np.sqrt(STATSMODELS_REPS) + 1e-3
    assert max(diffs.values()) < tol, (diffs, tol)


# --- g-formula integrals checked by brute force --------------------------------------------


def _brute_force_potential_outcomes(res, link, draws: int = 4000, seed: int = 0):
    """E[Y(t, M(t'))] = mean_i E_e[ F(beta'(1, t, m, [t m], c_i)) ], m = alpha'(1, t', c_i) + s e,
    by Monte Carlo with common normal draws (antithetic pairs)."""
    data = res.data
    alpha, beta = res.mediator_fit.coef[0], res.outcome_fit.coef[0]
    sigma = float(res.mediator_fit.sigma[0])
    k = data.covariates.shape[1]
    half = np.random.default_rng(seed).standard_normal(draws // 2)
    e = np.concatenate([half, -half])
    out = {}
    for t_y, t_m in ((1, 1), (0, 0), (1, 0), (0, 1)):
        mu = alpha[0] + alpha[1] * t_m + data.covariates @ alpha[2 : 2 + k]
        m = mu[:, None] + sigma * e[None, :]
        slope = beta[2] + (beta[3] * t_y if res.spec.interaction else 0.0)
        first = 4 if res.spec.interaction else 3
        base = beta[0] + beta[1] * t_y + data.covariates @ beta[first : first + k]
        out[f"y{t_y}m{t_m}"] = float(np.mean(link(base[:, None] + slope * m)))
    return out


@pytest.mark.parametrize("interaction", [False, True])
def test_probit_closed_form_equals_monte_carlo(interaction):
    """Continuous mediator, probit outcome: E[Phi(a + b M)], M ~ N(mu, s^2), brute force."""
    frame = _continuous_mediator_binary_outcome(seed=12, n=600)
    res = medbook.mediate(
        frame, "treatment", "mediator", "outcome", ["x"], outcome_model="probit",
        interaction=interaction, method="delta",
    )
    assert res.spec.outcome_model == "probit"
    brute = _brute_force_potential_outcomes(res, special.ndtr)
    for key, value in brute.items():
        assert res.potential_outcomes[key] == pytest.approx(value, abs=2e-3), key


@pytest.mark.parametrize("interaction", [False, True])
def test_logit_quadrature_equals_monte_carlo(interaction):
    frame = _continuous_mediator_binary_outcome(seed=13, n=600)
    res = medbook.mediate(
        frame, "treatment", "mediator", "outcome", ["x"], interaction=interaction, method="delta"
    )
    assert res.details["quadrature_error"] < 1e-8
    assert res.details["quadrature_nodes"] >= 10
    brute = _brute_force_potential_outcomes(res, special.expit)
    for key, value in brute.items():
        assert res.potential_outcomes[key] == pytest.approx(value, abs=2e-3), key


def test_binary_mediator_g_formula_is_an_exact_sum():
    """Binary mediator, linear outcome with interaction: sum over m in {0, 1}."""
    frame = simulate.simulate_binary_mediator_continuous_outcome(seed=4, n=2000)
    res = medbook.mediate(
        frame, "treatment", "mediator", "outcome", ["x"], interaction=True, method="delta"
    )
    alpha, beta = res.mediator_fit.coef[0], res.outcome_fit.coef[0]
    x = frame["x"].to_numpy()
    for t_y, t_m in ((1, 1), (0, 0), (1, 0), (0, 1)):
        p = special.expit(alpha[0] + alpha[1] * t_m + alpha[2] * x)
        q = beta[0] + beta[1] * t_y + beta[4] * x
        expected = np.mean(p * (q + beta[2] + beta[3] * t_y) + (1 - p) * q)
        assert res.potential_outcomes[f"y{t_y}m{t_m}"] == pytest.approx(expected, abs=1e-10)
    assert res["cde(m=1)"] == pytest.approx(beta[1] + beta[3], abs=1e-10)
    assert res["cde(m=0)"] == pytest.approx(beta[1], abs=1e-10)


# --- the bootstrap is the notebook's resampling loop, done with weights -------------------


def test_bootstrap_replicates_equal_refits_on_resampled_rows(linear_df):
    """Replicate b of ``mediate`` equals the notebook's loop body (statsmodels OLS of
    ``mediator ~ treatment + x`` and ``outcome ~ treatment + mediator + x``) on the rows
    drawn by ``ReplicateWeights(n, B, "multinomial", seed)``, each repeated w_b[i] times."""
    from medbook.weights import ReplicateWeights

    res = medbook.mediate(
        linear_df, "treatment", "mediator", "outcome", ["x"], n_boot=25, seed=77
    )
    counts = ReplicateWeights(len(linear_df), 25, "multinomial", seed=77).matrix()
    for b in (0, 11, 24):
        rows = np.repeat(np.arange(len(linear_df)), counts[b].astype(int))
        sample = linear_df.iloc[rows]
        t, m, x = (sample[c].to_numpy(float) for c in ("treatment", "mediator", "x"))
        a = sm.OLS(m, sm.add_constant(np.column_stack([t, x]))).fit().params[1]
        fit_y = sm.OLS(sample["outcome"].to_numpy(), sm.add_constant(np.column_stack([t, m, x])))
        direct, slope = fit_y.fit().params[1:3]
        assert res.replicates["nie1"].iloc[b] == pytest.approx(a * slope, rel=1e-9)
        assert res.replicates["nde0"].iloc[b] == pytest.approx(direct, rel=1e-9)


def test_binary_bootstrap_replicates_equal_weighted_statsmodels_g_formula(binary_df):
    """Replicate b: statsmodels GLM(freq_weights = w_b) logit fits, g-formula averaged with
    the same weights over the rows."""
    from medbook.weights import ReplicateWeights

    frame = binary_df.iloc[:3000]
    res = medbook.mediate(
        frame, "treatment", "mediator", "outcome", ["x"], interaction=True, n_boot=10, seed=5
    )
    assert res.n_failed == 0
    weights = ReplicateWeights(len(frame), 10, "multinomial", seed=5).matrix()
    t, m, x = (frame[c].to_numpy(float) for c in ("treatment", "mediator", "x"))
    binomial = sm.families.Binomial()
    for b in (0, 9):
        w = weights[b]
        alpha = sm.GLM(m, sm.add_constant(np.column_stack([t, x])), family=binomial,
                       freq_weights=w).fit(tol=1e-12).params
        beta = sm.GLM(frame["outcome"].to_numpy(float),
                      sm.add_constant(np.column_stack([t, m, t * m, x])), family=binomial,
                      freq_weights=w).fit(tol=1e-12).params

        def expected_y(t_y, t_m, alpha=alpha, beta=beta, w=w):
            p = special.expit(alpha[0] + alpha[1] * t_m + alpha[2] * x)
            y1 = special.expit(beta[0] + beta[1] * t_y + beta[2] + beta[3] * t_y + beta[4] * x)
            y0 = special.expit(beta[0] + beta[1] * t_y + beta[4] * x)
            return np.average(p * y1 + (1 - p) * y0, weights=w)

        assert res.replicates["te"].iloc[b] == pytest.approx(
            expected_y(1, 1) - expected_y(0, 0), abs=1e-9)
        assert res.replicates["nie1"].iloc[b] == pytest.approx(
            expected_y(1, 1) - expected_y(1, 0), abs=1e-9)


def test_reported_quadrature_error_is_honest_for_a_wide_mediator():
    """Logit outcome, slope x mediator SD ~ 7: Gauss-Hermite is least accurate here. The
    reported error (40 vs 80 nodes) must bound the actual error against adaptive quadrature
    (``scipy.integrate.quad``) of E[expit(b0 + b1 t + b2 (mu + s Z))], Z ~ N(0, 1)."""
    from scipy import integrate, stats

    rng = np.random.default_rng(2)
    n = 3000
    t = rng.binomial(1, 0.5, n)
    m = 0.5 * t + 3.0 * rng.normal(size=n)
    y = rng.binomial(1, special.expit(-0.3 + 0.4 * t + 2.5 * m))
    res = medbook.mediate(pd.DataFrame({"t": t, "m": m, "y": y}), "t", "m", "y", method="delta")
    a, b = res.mediator_fit.coef[0], res.outcome_fit.coef[0]
    s = float(res.mediator_fit.sigma[0])
    reported = res.details["quadrature_error"]
    for t_y, t_m in ((1, 1), (0, 0), (1, 0), (0, 1)):
        centre = b[0] + b[1] * t_y + b[2] * (a[0] + a[1] * t_m)
        exact = integrate.quad(
            lambda z, c=centre: special.expit(c + b[2] * s * z) * stats.norm.pdf(z), -12, 12,
            points=[-centre / (b[2] * s)], limit=200, epsabs=1e-13,
        )[0]
        assert abs(res.potential_outcomes[f"y{t_y}m{t_m}"] - exact) <= 2 * reported + 1e-10


@pytest.mark.parametrize("binary_mediator", [False, True])
def test_g_formula_does_not_depend_on_tiles(binary_mediator, monkeypatch):
    """Replicates x rows are averaged in cache-sized tiles; tiny tiles give the same numbers."""
    import medbook.weights as weights_module

    frame = (simulate.simulate_binary(seed=3, n=1500) if binary_mediator
             else _continuous_mediator_binary_outcome(seed=3, n=1500))
    kwargs = {"interaction": True, "n_boot": 15, "seed": 2, "cde_at": [0.0, 1.0]}
    big = medbook.mediate(frame, "treatment", "mediator", "outcome", ["x"], **kwargs)
    monkeypatch.setattr(weights_module, "_TILE_ROWS", 7)
    monkeypatch.setattr(weights_module, "_TILE_VALUES", 20)
    small = medbook.mediate(frame, "treatment", "mediator", "outcome", ["x"], **kwargs)
    assert np.allclose(small.replicates, big.replicates, rtol=0, atol=1e-12)
    assert np.allclose(small.to_frame()["estimate"], big.to_frame()["estimate"], atol=1e-12)


@pytest.mark.parametrize("interaction", [True, False])
@pytest.mark.parametrize("shared", [False, True])
def test_logit_pair_kernel_equals_the_general_g_formula_route(interaction, shared, monkeypatch):
    """The buffered logit-logit kernel (medbook.logit_pair) gives the general route's sums."""
    from medbook import effects, logit_pair
    from medbook.weights import ReplicateWeights

    rng = np.random.default_rng(11)
    n, b, k = 5000, 40, 3
    cov = np.column_stack([rng.normal(size=(n, 2)), rng.binomial(1, 0.3, n)])
    alpha = rng.normal(scale=0.5, size=(b, 2 + k))
    beta = rng.normal(scale=0.5, size=(b, (4 if interaction else 3) + k))
    weights = ReplicateWeights(n) if shared else ReplicateWeights(n, b, "multinomial", seed=3)
    model = effects.EffectModel("logit", "logit", interaction, (0.0, 1.0))
    assert logit_pair.LogitPair.build(alpha, beta, interaction, cov) is not None
    fast = effects.potential_outcomes(model, alpha, beta, np.zeros(b), cov, weights)
    monkeypatch.setattr(logit_pair.LogitPair, "build", classmethod(lambda *a, **k: None))
    general = effects.potential_outcomes(model, alpha, beta, np.zeros(b), cov, weights)
    assert fast.keys() == general.keys()
    for key in fast:
        assert np.max(np.abs(fast[key] - general[key])) < 1e-13, key


def test_logit_pair_kernel_declines_coefficients_that_could_overflow():
    from medbook.logit_pair import LogitPair

    cov = np.ones((10, 1))
    alpha, beta = np.zeros((2, 3)), np.zeros((2, 5))
    assert LogitPair.build(alpha, beta, True, cov) is not None
    beta[1, 4] = 800.0  # a covariate coefficient far out: exp(-eta) would overflow
    assert LogitPair.build(alpha, beta, True, cov) is None
