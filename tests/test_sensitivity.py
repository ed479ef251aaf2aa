"""Tests of medbook.sensitivity: rho curves, bias formulas, robustness value, confounding sweep."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import optimize, special, stats

import medbook
from medbook import sensitivity as sens
from medbook.errors import ConfigError, FitError
from medbook.sensitivity import latent
from medbook.sensitivity.bivariate import BinaryBinary
from medbook.sensitivity.bvn import bvn_cdf
from medbook.sensitivity.latent import XTOL, BinaryMediator, contrasts, stack, zero
from medbook.sensitivity.problem import build_problem
from medbook.simulate import (
    confounding_sweep,
    simulate_binary,
    simulate_binary_mediator_continuous_outcome,
    simulate_linear,
)

SOURCE_TABLES = Path(__file__).resolve().parent / "data" / "source-tables.json"
KEYS = ["nie0", "nie1", "nde0", "nde1"]


def _latent_data(kind: str, rho0: float, n: int, seed: int, interaction: float = 0.0):
    """Mediator and outcome whose errors have correlation ``rho0`` (a shared latent term).

    Returns the data and the true natural effects, computed from the potential
    outcomes of a large independent draw with the same error law.
    """

    def draw(rng, size):
        x = rng.normal(size=size)
        t = rng.binomial(1, 0.5, size=size)
        e = rng.multivariate_normal([0, 0], [[1, rho0], [rho0, 1]], size=size)
        return x, t, e[:, 0], e[:, 1]

    def mediator(t, x, e2):
        if kind in ("ct", "bo"):
            return 0.3 + 0.8 * t + 0.5 * x + 1.0 * e2
        return (-0.2 + 0.9 * t + 0.6 * x + e2 > 0).astype(float)

    def outcome(t, m, x, e3):
        if kind in ("ct", "bm"):
            return 1.0 + 0.5 * t + 1.5 * m + interaction * t * m + 0.5 * x + 1.2 * e3
        return (-0.6 + 0.4 * t + 0.6 * m + interaction * t * m + 0.3 * x + e3 > 0).astype(float)

    rng = np.random.default_rng(seed)
    x, t, e2, e3 = draw(rng, n)
    m = mediator(t, x, e2)
    df = pd.DataFrame({"x": x, "treatment": t, "mediator": m, "outcome": outcome(t, m, x, e3)})
    xt, _, e2t, e3t = draw(np.random.default_rng(seed + 1), 400_000)
    po = {}
    for tt in (0, 1):
        for tm in (0, 1):
            mm = mediator(np.full_like(xt, tm), xt, e2t)
            po[(tt, tm)] = outcome(np.full_like(xt, tt), mm, xt, e3t).mean()
    truth = {
        "nie0": po[(0, 1)] - po[(0, 0)],
        "nie1": po[(1, 1)] - po[(1, 0)],
        "nde0": po[(1, 0)] - po[(0, 0)],
        "nde1": po[(1, 1)] - po[(0, 1)],
    }
    return df, truth


def _fit(df, kind, interaction=False, link="probit", method="delta"):
    m_model = "linear" if kind in ("ct", "bo") else link
    y_model = "linear" if kind in ("ct", "bm") else link
    return medbook.mediate(
        df, "treatment", "mediator", "outcome", ["x"], interaction=interaction,
        mediator_model=m_model, outcome_model=y_model, method=method,
    )


@pytest.fixture(scope="module")
def linear_res():
    return medbook.mediate(
        simulate_linear(n=3000), "treatment", "mediator", "outcome", ["x"], method="delta"
    )


# --- rho = 0 is the main analysis -------------------------------------------------------

@pytest.mark.parametrize(
    ("kind", "interaction"),
    [("ct", False), ("ct", True), ("bm", False), ("bm", True), ("bo", False), ("bo", True),
     ("bb", False), ("bb", True)],
)
def test_rho_zero_equals_main_estimate(kind, interaction):
    df, _ = _latent_data(kind, 0.0, 3000, seed=5, interaction=0.3 if interaction else 0.0)
    res = _fit(df, kind, interaction)
    curve = sens.rho(res, grid=[-0.4, 0.0, 0.4])
    at_zero = curve.at(0.0)
    for key in KEYS:
        assert at_zero[key] == pytest.approx(res[key], abs=1e-9)
    assert curve.interaction is interaction


def test_rho_zero_band_equals_delta_interval_for_linear_models(linear_res):
    rows = sens.rho(linear_res).to_frame().query("rho == 0 and estimand == 'nie1'")
    assert rows["estimate"].iloc[0] == pytest.approx(linear_res["nie1"], abs=1e-12)
    # medsens rescales the OLS covariance to divisor n - 1: the band is slightly narrower
    width = rows["ci_upper"].iloc[0] - rows["ci_lower"].iloc[0]
    main = linear_res.row("nie1")
    assert width == pytest.approx(main["ci_upper"] - main["ci_lower"], rel=5e-3)


# --- closed form against medsens' own algorithms ------------------------------------------

def _sur_fixed_point(xm, m, xy, y, rho0, tol=1e-14):
    """medsens' iterated FGLS for the stacked mediator and outcome equations (dense, small n)."""
    n, pm = xm.shape
    py = xy.shape[1]
    big_x = np.zeros((2 * n, pm + py))
    big_x[:n, :pm] = xm
    big_x[n:, pm:] = xy
    big_y = np.concatenate([m, y])
    b = np.linalg.lstsq(big_x, big_y, rcond=None)[0]
    for _ in range(500):
        e = big_y - big_x @ b
        e1, e2 = e[:n], e[n:]
        s1, s2 = np.std(e1, ddof=1), np.std(e2, ddof=1)
        omega = np.array([[e1 @ e1 / (n - 1), rho0 * s1 * s2], [rho0 * s1 * s2, e2 @ e2 / (n - 1)]])
        oi = np.linalg.inv(omega)
        x1, x2 = big_x[:n], big_x[n:]
        xtx = (oi[0, 0] * x1.T @ x1 + oi[0, 1] * (x1.T @ x2 + x2.T @ x1) + oi[1, 1] * x2.T @ x2)
        xty = (oi[0, 0] * x1.T @ m + oi[0, 1] * (x1.T @ y + x2.T @ m) + oi[1, 1] * x2.T @ y)
        new = np.linalg.solve(xtx, xty)
        done = np.sum((new - b) ** 2) < tol
        b = new
        if done:
            break
    return b[:pm], b[pm:], np.linalg.inv(xtx)


@pytest.mark.parametrize("interaction", [False, True])
def test_continuous_closed_form_equals_medsens_sur(interaction):
    df, _ = _latent_data("ct", 0.3, 400, seed=9, interaction=0.4)
    res = _fit(df, "ct", interaction)
    grid = [-0.6, -0.2, 0.35, 0.7]
    table = sens.rho(res, grid=grid).to_frame()
    xm = np.column_stack([np.ones(400), df["treatment"], df["x"]])
    t, mv = df["treatment"].to_numpy(float), df["mediator"].to_numpy(float)
    cols = [np.ones(400), t, mv] + ([t * mv] if interaction else []) + [df["x"].to_numpy()]
    xy = np.column_stack(cols)
    for r in grid:
        a, c, vcov = _sur_fixed_point(xm, mv, xy, df["outcome"].to_numpy(float), r)
        theta = c[3] if interaction else 0.0
        got = table[table["rho"] == r].set_index("estimand")["estimate"]
        assert got["nie0"] == pytest.approx(a[1] * c[2], abs=1e-6)
        assert got["nie1"] == pytest.approx(a[1] * (c[2] + theta), abs=1e-6)
        mbar0 = a[0] + a[2] * df["x"].mean()
        assert got["nde0"] == pytest.approx(c[1] + theta * mbar0, abs=1e-6)
        assert got["nde1"] == pytest.approx(c[1] + theta * (mbar0 + a[1]), abs=1e-6)
        if not interaction:  # medsens' delta-method band for the indirect effect
            se = np.sqrt(a[1] ** 2 * vcov[5, 5] + c[2] ** 2 * vcov[1, 1])
            band = table[(table["rho"] == r) & (table["estimand"] == "nie0")]
            z = stats.norm.ppf(0.975)
            assert band["ci_upper"].iloc[0] == pytest.approx(a[1] * c[2] + z * se, abs=1e-6)


def test_continuous_zero_crossing_is_residual_correlation(linear_res):
    """IKY (2010): without interaction the ACME is zero exactly at rho = corr(e_M, e_Y|T,X)."""
    d = linear_res.data
    x = np.column_stack([np.ones(d.n), d.treatment, d.covariates])
    em = d.mediator - x @ np.linalg.lstsq(x, d.mediator, rcond=None)[0]
    ey = d.outcome - x @ np.linalg.lstsq(x, d.outcome, rcond=None)[0]
    curve = sens.rho(linear_res)
    assert curve.zero_crossing["nie1"] == pytest.approx(np.corrcoef(em, ey)[0, 1], abs=1e-10)
    assert curve.grid_crossing()["nie1"] == pytest.approx(
        round(curve.zero_crossing["nie1"] / 0.05) * 0.05
    )
    r0 = curve.zero_crossing["nie1"]
    assert curve.r2_star_product["nie1"] == pytest.approx(r0**2)
    assert curve.r2_tilde_product["nie1"] == pytest.approx(
        r0**2 * (1 - curve.r2_mediator) * (1 - curve.r2_outcome)
    )


def test_binary_mediator_matches_medsens_iteration():
    """medsens' loop: add rho*lambda, then iterate sigma3 in WLS of Y - sigma3*rho*lambda."""
    df, _ = _latent_data("bm", 0.3, 1500, seed=4)
    res = _fit(df, "bm", interaction=True)
    r = 0.45
    a = res.mediator_fit.coef[0]
    xm = np.column_stack([np.ones(len(df)), df["treatment"], df["x"]])
    t, m = df["treatment"].to_numpy(float), df["mediator"].to_numpy(float)
    y = df["outcome"].to_numpy(float)
    xy = np.column_stack([np.ones(len(df)), t, m, t * m, df["x"]])
    mu = xm @ a
    lam = np.where(m == 1, stats.norm.pdf(mu) / stats.norm.cdf(mu),
                   -stats.norm.pdf(mu) / stats.norm.cdf(-mu))
    w = 1 - r**2 * lam * (lam + mu)

    def wls(design, response):
        coef = np.linalg.solve(design.T @ (design * w[:, None]), design.T @ (w * response))
        resid = response - design @ coef
        return coef, np.sqrt(np.sum(w * resid**2) / (len(response) - design.shape[1]))

    _, sigma = wls(np.column_stack([xy, r * lam]), y)
    for _ in range(200):
        coef, new = wls(xy, y - sigma * r * lam)
        if abs(new - sigma) < 1e-13:
            break
        sigma = new
    base = a[0] + a[2] * xm[:, 2]
    diff = np.mean(stats.norm.cdf(base + a[1]) - stats.norm.cdf(base))
    got = sens.rho(res, grid=[r]).at(r)
    assert got["nie0"] == pytest.approx(coef[2] * diff, abs=1e-8)
    assert got["nie1"] == pytest.approx((coef[2] + coef[3]) * diff, abs=1e-8)


# --- brute force: the curve at the true rho recovers the truth ------------------------------

@pytest.mark.parametrize(
    ("kind", "interaction"), [("ct", 0.0), ("ct", 0.4), ("bm", 0.5), ("bo", 0.0), ("bb", 0.3)]
)
def test_curve_at_true_rho_recovers_truth(kind, interaction):
    rho0 = 0.4
    df, truth = _latent_data(kind, rho0, 20000, seed=11, interaction=interaction)
    res = _fit(df, kind, interaction=bool(interaction))
    table = sens.rho(res, grid=[rho0]).to_frame().set_index(["rho", "estimand"])
    naive_error = max(abs(res["nie1"] - truth["nie1"]), abs(res["nde0"] - truth["nde0"]))
    for key in KEYS:
        row = table.loc[(0.0, key)], table.loc[(rho0, key)]
        at_truth = row[1]
        se = (at_truth["ci_upper"] - at_truth["ci_lower"]) / (2 * 1.96)
        assert abs(at_truth["estimate"] - truth[key]) < 4 * se + 2e-3, key
    # and the naive estimate was clearly biased
    assert naive_error > 0.02


def test_binary_outcome_crossing_is_the_implied_error_correlation():
    """Without interaction the probit-outcome NIE vanishes at rho12 = s g / sqrt(1 + s^2 g^2)."""
    df, _ = _latent_data("bo", 0.2, 3000, seed=6)
    res = _fit(df, "bo")
    x = res.mediator_fit.sigma[0] * res.outcome_fit.coef[0][2]
    curve = sens.rho(res, grid=[-0.5, 0, 0.5])
    assert curve.zero_crossing["nie0"] == pytest.approx(x / np.sqrt(1 + x * x), abs=1e-5)
    assert any("medsens" in note for note in curve.notes)


def test_zero_crossing_is_a_root_of_the_curve():
    df, _ = _latent_data("bb", 0.0, 4000, seed=2, interaction=0.3)
    res = _fit(df, "bb", interaction=True)
    curve = sens.rho(res, grid=np.round(np.arange(-0.8, 0.81, 0.2), 2))
    r0 = curve.zero_crossing["nie1"]
    assert r0 is not None and 0 < r0 < 0.99
    assert not np.isclose(r0, curve.to_frame()["rho"]).any()  # root-found, not a grid value
    assert abs(sens.rho(res, grid=[r0]).at(r0)["nie1"]) < 1e-5


def test_binary_binary_blocks_and_threads_match_one_block_and_repeat_bit_for_bit():
    df, _ = _latent_data("bb", 0.3, 1500, seed=4, interaction=0.3)
    prob, _ = build_problem(_fit(df, "bb", interaction=True))
    grid = np.array([-0.6, -0.3, 0.0, 0.3, 0.6])

    def run(rows, threads):
        engine = BinaryBinary(prob, rows=rows, threads=threads)
        curve = engine.curve(grid, 1.96)
        known = {r: {k: curve[k][0][i] for k in KEYS} for i, r in enumerate(grid)}
        roots = engine.crossings(known)  # root finding, and solves at +-0.99 (|r| >= 0.925)
        return np.concatenate([np.ravel(curve[k]) for k in KEYS]), roots

    one_block, one_roots = run(prob.n, 1)
    blocked, roots = run(64, 3)  # 24 blocks on 3 threads
    np.testing.assert_allclose(blocked, one_block, rtol=0, atol=1e-12)
    assert one_roots.keys() == roots.keys() and any(roots.values())
    for key in KEYS:
        np.testing.assert_allclose(roots[key], one_roots[key], rtol=0, atol=1e-12)
    again, again_roots = run(64, 3)
    assert np.array_equal(again, blocked) and again_roots == roots


def test_binary_binary_band_pass_matches_a_separate_solve_and_gradient_pass():
    """The band's fused pass (gradients one Newton step short, carried) equals the plain route."""
    df, _ = _latent_data("bb", 0.3, 3000, seed=8, interaction=0.3)
    prob, _ = build_problem(_fit(df, "bb", interaction=True))
    grid = np.array([-0.9, -0.5, -0.2, 0.0, 0.2, 0.5, 0.75, 0.9])
    curve = BinaryBinary(prob).curve(grid, 1.96)
    plain = BinaryBinary(prob)
    for i, r in enumerate(sorted(grid, key=abs)):
        c = plain.coef(r)  # Newton to NEWTON_TOL, no band pass
        po, grad = plain._outcomes(prob.a, c, r, True)
        score = plain._score(c, r, cross=True)
        inv = np.linalg.inv(-score.hess)
        _, cov = stack(prob.a, c, prob.va, inv, inv @ score.cross)
        j = int(np.flatnonzero(grid == r)[0])
        for key, est in contrasts(po).items():
            g = contrasts(grad)[key]
            se = np.sqrt(g @ cov @ g)
            got_est, got_low = curve[key][0][j], curve[key][1][j]
            assert got_est == pytest.approx(est, rel=1e-12, abs=1e-15), (r, key, i)
            assert (got_est - got_low) / 1.96 == pytest.approx(se, rel=1e-8), (r, key)


def test_zero_takes_few_evaluations_and_matches_a_tight_brent_root():
    calls = []

    def func(r):
        calls.append(r)
        return np.sin(3.0 * r) - 0.4 * r - 0.3

    grid = np.round(np.arange(-0.9, 0.91, 0.05), 2)
    known = {float(r): func(r) for r in grid}
    calls.clear()
    lo = max(r for r in known if known[r] < 0 and r < 0.3)
    root = zero(func, known, lo, round(lo + 0.05, 2))
    assert len(calls) <= 2
    assert abs(root - optimize.brentq(func, lo, lo + 0.05, xtol=1e-14)) < XTOL


@pytest.mark.parametrize("steps", [latent.ZERO_STEPS, 3])
def test_zero_finds_a_kink_and_falls_back_to_brent_when_slow(monkeypatch, steps):
    def func(r):  # a kink: polynomial estimates creep towards it from one side
        return np.tanh(1e4 * (r - 0.123456789)) + 1e-3 * (r - 0.123456789)

    monkeypatch.setattr(latent, "ZERO_STEPS", steps)  # 3: Brent's method finishes
    known = {r: func(r) for r in (0.0, 0.05, 0.1, 0.15, 0.2)}
    root = zero(func, known, 0.1, 0.15)
    assert abs(root - 0.123456789) < XTOL


def test_binary_binary_crossings_match_brent_to_xtol():
    df, _ = _latent_data("bb", 0.0, 4000, seed=2, interaction=0.3)
    prob, _ = build_problem(_fit(df, "bb", interaction=True))
    grid = np.round(np.arange(-0.8, 0.81, 0.1), 2)
    engine = BinaryBinary(prob)
    curve = engine.curve(grid, 1.96)
    roots = engine.crossings({r: {k: curve[k][0][i] for k in KEYS} for i, r in enumerate(grid)})
    assert any(roots.values())
    for key, found in roots.items():
        for root in found:
            lo, hi = root - 1e-3, root + 1e-3
            tight = optimize.brentq(lambda r, k=key: engine.point(r)[k], lo, hi, xtol=1e-13)
            assert abs(root - tight) < XTOL, key


def test_bivariate_normal_cdf_matches_scipy():
    rng = np.random.default_rng(0)
    for r in (-0.9, -0.3, 0.0, 0.5, 0.95):
        pts = rng.normal(scale=1.5, size=(25, 2))
        pts[0] = [0.0, 0.7]
        got = bvn_cdf(pts[:, 0], pts[:, 1], r)
        mvn = stats.multivariate_normal(mean=[0, 0], cov=[[1, r], [r, 1]])
        want = np.array([mvn.cdf(p) for p in pts])
        np.testing.assert_allclose(got, want, atol=2e-6)
    assert bvn_cdf(0.3, 0.4, 0.0) == pytest.approx(special.ndtr(0.3) * special.ndtr(0.4))


def test_logit_models_refit_as_probit_with_a_note():
    df = simulate_binary(n=3000)
    res = medbook.mediate(df, "treatment", "mediator", "outcome", ["x"], method="delta")
    curve = sens.rho(res, grid=[0.0, 0.3])
    assert curve.mediator_family == "probit" and curve.outcome_family == "probit"
    assert any("refits it as probit" in note for note in curve.notes)
    assert curve.at(0.0)["nie1"] == pytest.approx(res["nie1"], abs=0.01)


def test_binary_mediator_curve_and_serialisation():
    df = simulate_binary_mediator_continuous_outcome(n=2000)
    res = medbook.mediate(df, "treatment", "mediator", "outcome", ["x"], interaction=True,
                          mediator_model="probit", method="delta")
    curve = sens.rho(res)
    frame = curve.to_frame()
    assert list(frame.columns) == ["rho", "estimand", "estimate", "ci_lower", "ci_upper"]
    assert set(frame["estimand"]) == set(KEYS)
    assert (frame["ci_lower"] <= frame["estimate"]).all()
    assert (frame["estimate"] <= frame["ci_upper"]).all()
    payload = json.dumps(curve.to_dict(), allow_nan=False)
    assert "zero_crossing" in payload
    head = curve.headline()
    assert head["estimand"] == "nie1" and isinstance(head["sentence"], str)


@pytest.mark.parametrize("grid", [[0.5, 1.0], [np.nan], [], [-1.2]])
def test_bad_grid_is_a_config_error(linear_res, grid):
    with pytest.raises(ConfigError, match="rho grid"):
        sens.rho(linear_res, grid=grid)


def test_headline_sentence_quotes_the_crossing(linear_res):
    head = sens.rho(linear_res).headline("nie1")
    assert f"{head['rho_at_zero']:.2f}" in head["sentence"]
    with pytest.raises(ConfigError):
        sens.rho(linear_res).headline("te")


# --- bias formulas and robustness value ------------------------------------------------------

def test_bias_grid_zero_strength_is_observed(linear_res):
    grid = sens.bias_grid(linear_res)
    frame = grid.to_frame()
    zero = frame[(frame["gamma"] == 0) & (frame["delta"] == 0)].set_index("estimand")
    for key in KEYS:
        assert zero.loc[key, "estimate"] == pytest.approx(linear_res[key])
    # default imbalance points in the direction that shrinks a positive indirect effect
    nie = frame[frame["estimand"] == "nie1"]
    assert nie["estimate"].max() == pytest.approx(linear_res["nie1"])
    assert nie["estimate"].min() < linear_res["nie1"]
    assert grid.matrix("nie1").shape == (9, 11)
    json.dumps(grid.to_dict(), allow_nan=False)


def test_bias_formula_recovers_truth_with_known_binary_u():
    rng = np.random.default_rng(21)
    n = 40000
    x = rng.normal(size=n)
    u = rng.binomial(1, 0.5, size=n)
    t = rng.binomial(1, 0.5, size=n)
    m = 0.3 + 0.8 * t + 0.5 * x + 1.0 * u + rng.normal(size=n)
    gamma = 0.9
    y = 1.0 + 1.1 * t + 1.5 * m + 0.4 * x + gamma * u + rng.normal(size=n)
    df = pd.DataFrame({"x": x, "u": u, "treatment": t, "mediator": m, "outcome": y})
    naive = medbook.mediate(df, "treatment", "mediator", "outcome", ["x"], method="delta")
    # imbalance of U across arms at equal mediator (and x): the projection coefficient of T
    design = np.column_stack([np.ones(n), t, m, x])
    delta = np.linalg.lstsq(design, u, rcond=None)[0][1]
    assert delta < -0.05
    corrected = sens.bias_grid(naive, effect_on_outcome=[gamma], imbalance=[delta]).to_frame()
    got = corrected.set_index("estimand")["estimate"]
    assert abs(naive["nie1"] - 1.2) > 0.1  # the naive estimate is biased ...
    assert got["nie1"] == pytest.approx(1.2, abs=0.03)  # ... the corrected one is not
    assert got["nde0"] == pytest.approx(1.1, abs=0.03)


def test_robustness_value_moves_the_limit_to_zero(linear_res):
    rv = sens.robustness_value(linear_res, "nie1")
    lower = linear_res.row("nie1")["ci_lower"]
    assert rv.limit == pytest.approx(lower)
    sd = np.std(linear_res.data.outcome, ddof=1)
    moved = sens.bias_grid(
        linear_res, effect_on_outcome=[rv.value * sd], imbalance=[-rv.value]
    ).to_frame().set_index("estimand")
    assert moved.loc["nie1", "ci_lower"] == pytest.approx(0.0, abs=1e-12)
    assert rv.value_estimate > rv.value > 0
    assert "confidence limit" in rv.sentence
    json.dumps(rv.to_dict(), allow_nan=False)


def test_robustness_value_zero_when_interval_covers_zero():
    df = simulate_linear(n=300)
    df["mediator"] = np.random.default_rng(3).normal(size=len(df))
    res = medbook.mediate(df, "treatment", "mediator", "outcome", ["x"], method="delta")
    rv = sens.robustness_value(res, "nie1")
    if res.row("nie1")["ci_lower"] <= 0 <= res.row("nie1")["ci_upper"]:
        assert rv.value == 0.0 and "already includes zero" in rv.sentence


# --- the notebook's sweep -----------------------------------------------------------------

def test_confounding_sweep_reproduces_source_table():
    reference = json.loads(SOURCE_TABLES.read_text())["unmeasured_confounding"]
    table = confounding_sweep()
    ref = pd.DataFrame(reference["rows"])
    assert np.allclose(table["u_strength"], ref["u_strength"])
    for col in ref.columns.drop("u_strength"):
        np.testing.assert_allclose(table[col].round(3), ref[col], atol=1e-9, err_msg=col)
    assert np.allclose(table["true_indirect"], reference["true_indirect"], atol=1e-3)
    # the oracle recovers the truth; omitting U drifts away as U gets stronger
    assert np.all(np.abs(table["oracle_indirect"] - table["true_indirect"]) < 0.1)
    assert table["omitted_bias"].iloc[-1] > 0.4 > abs(table["omitted_bias"].iloc[0])


def test_confounding_sweep_custom_seed_rule_is_deterministic():
    one = confounding_sweep([0.5], n=800, seed_rule=lambda s: 7)
    two = confounding_sweep([0.5], n=800, seed_rule=lambda s: 7)
    pd.testing.assert_frame_equal(one, two)
    assert one["seed"].iloc[0] == 7


def test_rho_curve_recovers_truth_on_the_notebook_unmeasured_u():
    """In simulate_unmeasured, U adds s*u to both equations: the implied error correlation is
    s^2 / sqrt((s^2 + 1)(s^2 + 1.44)); the curve there recovers the true NIE = 1.2."""
    s = 1.0
    rho0 = s**2 / np.sqrt((s**2 + 1.0) * (s**2 + 1.2**2))
    df = medbook.simulate.simulate_unmeasured(s, seed=77, n=20000)
    res = medbook.mediate(df, "treatment", "mediator", "outcome", ["x"], method="delta")
    row = sens.rho(res, grid=[rho0]).to_frame().query("estimand == 'nie1' and rho > 0").iloc[0]
    assert abs(res["nie1"] - 1.2) > 0.3
    assert row["ci_lower"] < 1.2 < row["ci_upper"]
    assert row["estimate"] == pytest.approx(1.2, abs=0.05)


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["ct", "bm"])
def test_band_at_true_rho_covers_truth(kind):
    rho0, reps, hits = 0.35, 200, 0
    _, truth = _latent_data(kind, rho0, 10, seed=999)
    for rep in range(reps):
        df, _ = _latent_data(kind, rho0, 2000, seed=10_000 + rep)
        row = sens.rho(_fit(df, kind), grid=[rho0]).to_frame()
        row = row[(row["rho"] == rho0) & (row["estimand"] == "nie1")].iloc[0]
        hits += row["ci_lower"] <= truth["nie1"] <= row["ci_upper"]
    assert 0.90 <= hits / reps <= 0.99


def test_a_degenerate_rho_leaves_empty_rows_and_a_note(monkeypatch):
    df, _ = _latent_data("bm", 0.0, 1500, seed=3)
    res = _fit(df, "bm")
    original = BinaryMediator.solve

    def fragile(self, a, rho_value):
        if rho_value == 0.5:
            raise FitError("degenerate")
        return original(self, a, rho_value)

    monkeypatch.setattr(BinaryMediator, "solve", fragile)
    curve = sens.rho(res, grid=[-0.5, 0.0, 0.5])
    frame = curve.to_frame()
    assert frame[frame["rho"] == 0.5]["estimate"].isna().all()
    assert frame[frame["rho"] == 0.0]["estimate"].notna().all()
    assert any("0.50" in note for note in curve.notes)
    json.dumps(curve.to_dict(), allow_nan=False)
