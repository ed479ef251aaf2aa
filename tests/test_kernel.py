"""Robustness of the Newton kernel (medbook.glm, medbook.families) on hostile inputs.

References: statsmodels ``Logit``/``Probit``/``GLM`` fits (of the reduced problem where
the full one has no finite MLE), exact probit formulas at moderate arguments, and R's
documented behaviour (``glm`` keeps quasi-separated nuisance fits with a warning and
sets an unidentified coefficient to ``NA``).
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from scipy import special

import medbook
from medbook.errors import FitError
from medbook.families import FAMILIES
from medbook.fit import Status, fit_model
from medbook.weights import ReplicateWeights

NAMES = ("const", "t", "x")


def _rel(a, b) -> float:
    a, b = np.asarray(a, float), np.asarray(b, float)
    return float(np.max(np.abs(a - b) / np.maximum(1.0, np.abs(b))))


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_family_terms_are_finite_for_any_finite_linear_predictor(family):
    eta = np.concatenate([-np.logspace(-3, 13, 60), [0.0], np.logspace(-3, 13, 60)])[None, :]
    for y in (np.zeros(eta.shape[1]), np.ones(eta.shape[1])):
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            ll, score, info = FAMILIES[family].terms(eta, y)
        assert np.isfinite(ll).all() and np.isfinite(score).all() and np.isfinite(info).all()
        assert (info >= 0).all() and (ll <= 0).all()


def test_probit_terms_equal_the_direct_formulas_where_those_are_accurate():
    z = np.linspace(-35.0, 35.0, 701)[None, :]
    ll, score, info = FAMILIES["probit"].terms(z, np.ones(z.shape[1]))
    mills = np.exp(-0.5 * z * z - 0.5 * np.log(2 * np.pi) - special.log_ndtr(z))
    assert np.allclose(ll, special.log_ndtr(z), rtol=1e-13, atol=0)
    assert np.allclose(score, mills, rtol=1e-12, atol=1e-300)
    assert np.allclose(info, mills * (mills + z), rtol=1e-10, atol=1e-300)


@pytest.mark.parametrize("family", ["logit", "probit"])
def test_a_far_start_is_brought_back_by_step_halving(family):
    """Starting at coefficients +-40 (every fitted probability at 0 or 1, the wrong way
    for half the rows) a plain Newton step overshoots; step-halving still reaches the MLE."""
    rng = np.random.default_rng(11)
    n = 800
    design = np.column_stack([np.ones(n), rng.binomial(1, 0.5, n), rng.normal(size=n)])
    y = (rng.uniform(size=n) < special.expit(-0.3 + 0.8 * design[:, 1] + design[:, 2])) * 1.0
    ref = (sm.Logit if family == "logit" else sm.Probit)(y, design).fit(disp=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fit = fit_model(family, design, y, ReplicateWeights(n), NAMES,
                        start=np.array([40.0, -40.0, 40.0]))
    assert _rel(fit.coef[0], ref.params) < 1e-8


def _with_rare_level(n=600, seed=3, events=False, size=12):
    """A design with a dummy of ``size`` rows that all have y = 0 (or = 1 with ``events``)."""
    rng = np.random.default_rng(seed)
    t = rng.binomial(1, 0.5, n).astype(float)
    x = rng.normal(size=n)
    rare = np.zeros(n)
    rare[rng.choice(n, size, replace=False)] = 1.0
    y = (rng.uniform(size=n) < special.expit(-0.2 + 0.7 * t + x)).astype(float)
    y[rare == 1] = 1.0 if events else 0.0
    return np.column_stack([np.ones(n), t, x, rare]), y


@pytest.mark.parametrize("family", ["logit", "probit"])
def test_point_fit_with_a_quasi_separated_nuisance_dummy_is_the_limit_fit(family):
    design, y = _with_rare_level()
    names = (*NAMES, "rare")
    fit = fit_model(family, design, y, ReplicateWeights(len(y)), names, focal=(1,))
    assert fit.status[0] == Status.LIMIT and fit.limit_terms == ("rare",)
    outside = design[:, 3] == 0
    ref = (sm.Logit if family == "logit" else sm.Probit)(y[outside], design[outside, :3])
    ref = ref.fit(disp=0)
    assert _rel(fit.coef[0, :3], ref.params) < 1e-6
    assert fit.coef[0, 3] < -5
    # uncertainty of the identified coefficients is the reduced fit's; the limit term has none
    table = fit.table().set_index("term")
    assert _rel(table["std_error"].iloc[:3], ref.bse) < 1e-4
    assert np.isnan(table.loc["rare", "std_error"])
    assert fit.to_dict()["limit_terms"] == ["rare"]


def test_point_fit_separated_by_the_treatment_names_it():
    design, y = _with_rare_level()
    y = y.copy()
    y[design[:, 1] == 1] = 1.0  # every treated row has an event
    with pytest.raises(FitError, match=r"separation by 't'"):
        fit_model("logit", design, y, ReplicateWeights(len(y)), (*NAMES, "rare"), focal=(1,))


def test_resample_missing_a_level_is_fitted_like_r_glm():
    """A replicate without any row of a level: the dummy is not identified (R: NA), the
    other coefficients equal the fit without that column, predictions stay defined."""
    design, y = _with_rare_level(size=3)
    y = np.where(design[:, 3] == 1, np.arange(len(y)) % 2, y)  # the level has both outcomes
    weights = ReplicateWeights(len(y), 200, "multinomial", seed=2)
    w = weights.matrix()
    missing = w[:, design[:, 3] == 1].sum(axis=1) == 0
    assert missing.any()
    fit = fit_model("logit", design, y, weights, (*NAMES, "rare"), focal=(1,))
    assert fit.ok.all() and np.all(fit.status[missing] == Status.CONVERGED)
    for b in np.flatnonzero(missing)[:3]:
        glm = sm.GLM(y, design[:, :3], family=sm.families.Binomial(), freq_weights=w[b])
        assert _rel(fit.coef[b, :3], glm.fit(tol=1e-14).params) < 1e-7


def test_resample_with_a_single_arm_is_excluded_as_singular():
    rng = np.random.default_rng(0)
    n = 12
    t = np.zeros(n)
    t[:2] = 1.0  # two treated rows: some resamples hold no treated row
    design = np.column_stack([np.ones(n), t, rng.normal(size=n)])
    y = np.tile([0.0, 1.0], n // 2)
    weights = ReplicateWeights(n, 100, "multinomial", seed=5)
    fit = fit_model("logit", design, y, weights, NAMES, focal=(1,))
    arm_missing = weights.matrix()[:, :2].sum(axis=1) == 0
    assert arm_missing.any()
    assert np.all(fit.status[arm_missing] == Status.SINGULAR)
    assert not fit.ok[arm_missing].any()


def test_mediate_point_fit_with_quasi_separated_level_warns_naming_column_and_level():
    rng = np.random.default_rng(8)
    n = 800
    frame = pd.DataFrame({"t": rng.binomial(1, 0.5, n), "x": rng.normal(size=n)})
    frame["m"] = 0.5 * frame["t"] + frame["x"] + rng.normal(size=n)
    frame["y"] = (rng.uniform(size=n) < special.expit(frame["m"] - 0.5)).astype(int)
    frame["region"] = np.where(np.arange(n) % 7 == 0, "south", "north")
    frame.loc[:11, "region"] = "island"
    frame.loc[frame["region"] == "island", "y"] = 0  # a 1.5% level with no events
    res = medbook.mediate(frame, "t", "m", "y", ["x", "region"], method="delta")
    notes = [w for w in res.warnings if "quasi-separation" in w]
    assert len(notes) == 1
    assert "'y'" in notes[0] and "region = 'island'" in notes[0] and "y = 0" in notes[0]
    # 'island' is the reference level: the other two levels' coefficients run off together
    assert res.outcome_fit.limit_terms == ("region[north]", "region[south]")
    assert np.isfinite(res.to_frame()[["estimate", "ci_lower", "ci_upper"]].to_numpy()).all()
    boot = medbook.mediate(frame, "t", "m", "y", ["x", "region"], n_boot=60, seed=2)
    assert boot.n_quasi_separated == 60 and boot.n_failed == 0
    qb = medbook.mediate(frame, "t", "m", "y", ["x", "region"], method="quasi_bayes",
                         n_boot=200, seed=2)
    assert qb.row("te")["std_error"] == pytest.approx(res.row("te")["std_error"], rel=0.25)


def test_mediate_point_fit_separated_by_the_mediator_names_it():
    rng = np.random.default_rng(8)
    n = 400
    frame = pd.DataFrame({"t": rng.binomial(1, 0.5, n), "x": rng.normal(size=n)})
    frame["m"] = rng.binomial(1, 0.3 + 0.3 * frame["t"])
    frame["y"] = np.where(frame["m"] == 1, 1, rng.binomial(1, 0.3, n))
    with pytest.raises(FitError, match=r"model for 'y'.*separation by 'm'"):
        medbook.mediate(frame, "t", "m", "y", ["x"], method="delta")


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_batched_fit_does_not_depend_on_tiles_or_compact_weights(family, monkeypatch):
    """Passes run over replicate x row tiles of resampling counts; tiny tiles agree to 1e-12,
    and so do fits of the same replicates one at a time with float weights."""
    import medbook.weights as weights_module

    rng = np.random.default_rng(11)
    n = 900
    x = np.column_stack([np.ones(n), rng.binomial(1, 0.5, n), rng.normal(size=(n, 2))])
    y = (rng.uniform(size=n) < special.expit(x @ [-0.2, 0.8, 0.5, -0.4])).astype(float)
    names = ("const", "t", "a", "b")
    weights = ReplicateWeights(n, 40, "multinomial", seed=5)
    big = fit_model(family, x, y, weights, names)
    monkeypatch.setattr(weights_module, "_TILE_ROWS", 13)
    monkeypatch.setattr(weights_module, "_TILE_VALUES", 50)
    small = fit_model(family, x, y, ReplicateWeights(n, 40, "multinomial", seed=5), names)
    assert np.allclose(small.coef, big.coef, rtol=0, atol=1e-12)
    matrix = weights.matrix()
    for b in (0, 17, 39):
        one = sm.GLM(y, x, family=sm.families.Binomial(
            sm.families.links.Logit() if family == "logit" else sm.families.links.Probit()
        ), freq_weights=matrix[b]).fit(tol=1e-12)
        assert np.allclose(big.coef[b], one.params, rtol=0, atol=1e-7)


def _warm_start_problem(n: int, seed: int = 3):
    rng = np.random.default_rng(seed)
    x = np.column_stack([np.ones(n), rng.binomial(1, 0.5, n), rng.normal(size=(n, 2))])
    eta = x @ np.array([-0.5, 0.8, 0.6, -0.4])
    y = (rng.uniform(size=n) < special.expit(eta)).astype(float)
    return x, y


def test_third_derivatives_equal_the_analytic_logit_tensor():
    from medbook.glm import third_derivatives

    x, y = _warm_start_problem(2000)
    beta = np.array([-0.4, 0.7, 0.5, -0.3])
    mu = special.expit(x @ beta)
    slope = mu * (1 - mu) * (1 - 2 * mu)  # d/d eta of mu (1 - mu)
    exact = np.einsum("n,ni,nj,nk->ijk", slope, x, x, x)
    got = third_derivatives(FAMILIES["logit"], x, y, beta)
    assert np.max(np.abs(got - exact)) < 1e-7 * np.max(np.abs(exact))


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_second_order_first_step_saves_passes_and_keeps_the_fixed_point(family, monkeypatch):
    """Warm-started replicates reach the same coefficients (to the convergence tolerance)
    with the Chebyshev first step as with plain Newton, in fewer replicate-passes."""
    import medbook.glm as glm

    x, y = _warm_start_problem(100_000)
    names = ("const", "t", "a", "b")
    point = glm.fit_glm(x, y, ReplicateWeights(x.shape[0]), names, family).coef[0]
    weights = ReplicateWeights(x.shape[0], 64, "multinomial", seed=2)
    passes = {}
    coefs = {}
    for label, share in (("newton", -1.0), ("chebyshev", glm._TRUSTED_SHARE)):
        monkeypatch.setattr(glm, "_TRUSTED_SHARE", share)
        count = [0]
        original = glm._RowPasses.__call__

        def counted(self, beta, todo, first, original=original, count=count):
            count[0] += todo.size
            return original(self, beta, todo, first)

        monkeypatch.setattr(glm._RowPasses, "__call__", counted)
        fit = glm.fit_glm(x, y, weights, names, family, start=point)
        monkeypatch.setattr(glm._RowPasses, "__call__", original)
        assert fit.ok.all()
        passes[label], coefs[label] = count[0], fit.coef
    assert passes["chebyshev"] < passes["newton"]
    assert _rel(coefs["chebyshev"], coefs["newton"]) < 1e-9


@pytest.mark.parametrize("scale", [0.3, 400.0])
def test_logit_pass_equals_the_family_terms(scale):
    """medbook.logit_pass (buffered, sign-folded) gives Logit.terms' weighted sums, also
    where exp(-z) overflows (scale 400 puts linear predictors near +-1000)."""
    from medbook.fitcore import outer_upper, upper
    from medbook.logit_pass import logit_pass

    rng = np.random.default_rng(5)
    rows, b, p = 3000, 70, 4
    x = np.column_stack([np.ones(rows), rng.normal(size=(rows, p - 1))])
    y = rng.binomial(1, 0.4, rows).astype(float)
    w = rng.poisson(1.0, size=(b, rows)).astype(np.uint8)
    todo = np.arange(5, b, 2)
    beta = rng.normal(scale=scale, size=(todo.size, p))
    with np.errstate(over="ignore"):
        ll, score, info = logit_pass(x, y, w, beta, todo, outer_upper(x))
    for j, rep in enumerate(todo):
        with np.errstate(over="ignore"):
            t_ll, t_s, t_h = FAMILIES["logit"].terms((x @ beta[j])[None], y)
        wt = w[rep].astype(float)
        assert _rel(score[j], (wt * t_s[0]) @ x) < 1e-12
        assert _rel(info[j], upper((x * (wt * t_h[0])[:, None]).T @ x)) < 1e-12
        assert abs(ll[j] - wt @ t_ll[0]) <= 1e-12 * abs(wt @ t_ll[0])


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_gram_certificate_agrees_with_the_exact_null_space(family):
    """certified_full_rank never certifies a resample that null_space finds deficient, and
    certifies the ordinary ones (so their Gram matrices need no pass of their own)."""
    from medbook.fitcore import certified_full_rank, null_space, outer_upper, symmetric

    design, y = _with_rare_level(size=3)
    weights = ReplicateWeights(len(y), 300, "multinomial", seed=5).matrix()
    beta = np.array([-0.2, 0.5, 0.3, 0.4])
    _, _, h = FAMILIES[family].terms((design @ beta)[None], y)
    q = design.shape[1]
    info = symmetric((weights * h) @ outer_upper(design), q)
    gram = symmetric(weights @ outer_upper(design), q)
    diag = weights @ design**2
    certified = certified_full_rank(info, diag, FAMILIES[family].max_curvature)
    _, rank, _ = null_space(gram, np.array([False, True, False, False]))
    deficient = rank < q
    assert deficient.any() and not np.any(certified & deficient)
    assert certified[~deficient].mean() > 0.95


def test_fits_with_the_gram_certificate_equal_fits_with_every_gram(monkeypatch):
    """Replicates shown identified skip their Gram matrices; the others (a missing level)
    get them exactly: coefficients and statuses as when every Gram matrix is computed."""
    import medbook.glm as glm

    design, y = _with_rare_level(size=3)
    y = np.where(design[:, 3] == 1, np.arange(len(y)) % 2, y)
    weights = ReplicateWeights(len(y), 200, "multinomial", seed=2)
    names = (*NAMES, "rare")
    asked = []
    original = glm._RowPasses.gram
    monkeypatch.setattr(glm._RowPasses, "gram", lambda self, reps: asked.append(reps.size)
                        or original(self, reps))
    fit = fit_model("logit", design, y, weights, names, focal=(1,))
    assert 0 < sum(asked) < 200  # only the replicates the certificate could not clear
    monkeypatch.setattr(glm, "certified_full_rank", lambda info, diag, h: np.zeros(len(diag), bool))
    every = fit_model("logit", design, y, weights, names, focal=(1,))
    assert np.array_equal(fit.status, every.status)
    assert np.allclose(fit.coef, every.coef, rtol=0, atol=1e-12, equal_nan=True)


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_second_order_step_leaves_unidentified_coefficients_where_newton_does(
    family, monkeypatch
):
    """A warm-started resample missing a level keeps its unidentified dummy coefficient at
    the value plain Newton leaves it (the ridge fixes that part of every step at zero);
    the shared start's third derivatives must not move it."""
    import medbook.glm as glm

    design, y = _with_rare_level(n=60, size=3)
    y = np.where(design[:, 3] == 1, np.arange(len(y)) % 2, y)
    names = (*NAMES, "rare")
    point = glm.fit_glm(design, y, ReplicateWeights(len(y)), names, family, focal=(1,)).coef[0]
    coefs, statuses = {}, {}
    for label, share in (("newton", -1.0), ("chebyshev", glm._TRUSTED_SHARE)):
        monkeypatch.setattr(glm, "_TRUSTED_SHARE", share)
        weights = ReplicateWeights(len(y), 1000, "multinomial", seed=1)
        fit = glm.fit_glm(design, y, weights, names, family, start=point, focal=(1,))
        coefs[label], statuses[label] = fit.coef, fit.status
    missing = weights.matrix()[:, design[:, 3] == 1].sum(axis=1) == 0
    converged = statuses["newton"] == Status.CONVERGED
    assert np.array_equal(statuses["newton"], statuses["chebyshev"])
    assert (missing & converged).sum() > 10
    gap = np.abs(coefs["chebyshev"] - coefs["newton"])[converged]
    assert gap.max() < 1e-9
