"""Real data (JOBS II, framing) under every model combination that applies.

Reference: a plug-in mediational g-formula built here from statsmodels ``GLM`` fits
(Gaussian, Binomial with logit or probit link) on a design encoded here: an exact sum
over a binary mediator, the plug-in mean for a continuous mediator with a linear
outcome, and 120-node Gauss-Hermite quadrature over the fitted normal mediator for a
binary outcome. Point estimates must agree; every interval must be finite, and the
share of excluded bootstrap replicates must stay under 1% on these data.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm

import medbook

DATA = Path(__file__).resolve().parent / "data"
JOBS_COVARIATES = ["depress1", "econ_hard", "sex", "age", "occp", "marital", "nonwhite",
                   "educ", "income"]
FRAMING_COVARIATES = ["age", "educ", "gender", "income"]
KEYS = ["te", "nde0", "nde1", "nie0", "nie1", "pm"]
FAMILIES = {"linear": sm.families.Gaussian(),
            "logit": sm.families.Binomial(sm.families.links.Logit()),
            "probit": sm.families.Binomial(sm.families.links.Probit())}


@pytest.fixture(scope="module")
def jobs() -> pd.DataFrame:
    frame = pd.read_csv(DATA / "jobs.csv")
    frame["work1"] = (frame["work1"] == "psyemp").astype(int)  # employed = 1
    return frame


@pytest.fixture(scope="module")
def framing() -> pd.DataFrame:
    return pd.read_csv(DATA / "framing.csv")


def _covariates(frame: pd.DataFrame, columns: list[str]) -> np.ndarray:
    """Numeric columns as they are; text columns as dummies of every level but the first."""
    parts = []
    for column in columns:
        values = frame[column]
        if pd.api.types.is_numeric_dtype(values):
            parts.append(values.to_numpy(float)[:, None])
        else:
            levels = sorted(values.unique())
            parts.append(np.column_stack([(values == lv).to_numpy(float) for lv in levels[1:]]))
    return np.hstack(parts)


def g_formula(frame, treatment, mediator, outcome, covariates, m_family, y_family, interaction):
    """Effects from statsmodels GLM fits and the plug-in g-formula (see module docstring)."""
    t = frame[treatment].to_numpy(float)
    m = frame[mediator].to_numpy(float)
    y = frame[outcome].to_numpy(float)
    c = _covariates(frame, covariates)
    ones = np.ones(len(frame))
    med = sm.GLM(m, np.column_stack([ones, t, c]), family=FAMILIES[m_family]).fit(tol=1e-12)
    y_cols = [ones, t, m, t * m, c] if interaction else [ones, t, m, c]
    out = sm.GLM(y, np.column_stack(y_cols), family=FAMILIES[y_family]).fit(tol=1e-12)

    def mean_y(tt: float, mm: np.ndarray) -> np.ndarray:
        tm = [ones * tt, mm, tt * mm] if interaction else [ones * tt, mm]
        return out.predict(np.column_stack([ones, *tm, c]))

    def mean_m(tt: float) -> np.ndarray:
        return med.predict(np.column_stack([ones, ones * tt, c]))

    nodes, node_w = np.polynomial.hermite_e.hermegauss(120)
    node_w = node_w / node_w.sum()
    sigma = np.sqrt(med.scale)

    def potential(tt: float, tm: float) -> float:
        if m_family != "linear":
            p1 = mean_m(tm)
            return float(np.mean(p1 * mean_y(tt, ones) + (1 - p1) * mean_y(tt, 0 * ones)))
        centre = mean_m(tm)
        if y_family == "linear":
            return float(np.mean(mean_y(tt, centre)))
        return float(np.mean(sum(w * mean_y(tt, centre + sigma * z)
                                 for z, w in zip(nodes, node_w, strict=True))))

    po = {(a, b): potential(a, b) for a in (0, 1) for b in (0, 1)}
    te = po[1, 1] - po[0, 0]
    return {"te": te, "nde0": po[1, 0] - po[0, 0], "nde1": po[1, 1] - po[0, 1],
            "nie0": po[0, 1] - po[0, 0], "nie1": po[1, 1] - po[1, 0],
            "pm": (po[1, 1] - po[1, 0]) / te}


JOBS_CASES = [
    (mediator, m_family, outcome, y_family, interaction)
    for mediator, m_family in (("job_seek", "linear"), ("job_dich", "logit"),
                               ("job_dich", "probit"))
    for outcome, y_family in (("depress2", "linear"), ("work1", "logit"), ("work1", "probit"))
    for interaction in (False, True)
]
FRAMING_CASES = [("emo", "linear", "cong_mesg", y_family, interaction)
                 for y_family in ("logit", "probit") for interaction in (False, True)]


def _case_id(case) -> str:
    mediator, m_family, outcome, y_family, interaction = case
    return f"{mediator}-{m_family}-{outcome}-{y_family}{'-tm' if interaction else ''}"


def _check_point(res, frame, covariates, case):
    mediator, m_family, outcome, y_family, interaction = case
    want = g_formula(frame, "treat", mediator, outcome, covariates, m_family, y_family,
                     interaction)
    # quadrature (medbook's adaptive rule, accurate to 1e-6) only for a logit outcome
    tol = 2e-6 if (m_family, y_family) == ("linear", "logit") else 1e-7
    for key in KEYS:
        assert res[key] == pytest.approx(want[key], abs=tol, rel=1e-6), key


def _check_intervals(res):
    table = res.to_frame().set_index("estimand").loc[KEYS[:-1]]
    assert np.isfinite(table[["estimate", "std_error", "ci_lower", "ci_upper"]].to_numpy()).all()
    assert (table["ci_lower"] <= table["estimate"]).all()
    assert (table["estimate"] <= table["ci_upper"]).all()


@pytest.mark.parametrize("case", JOBS_CASES, ids=_case_id)
def test_jobs_point_estimates_equal_the_statsmodels_g_formula(jobs, case):
    mediator, m_family, outcome, y_family, interaction = case
    res = medbook.mediate(jobs, "treat", mediator, outcome, JOBS_COVARIATES,
                          mediator_model=m_family, outcome_model=y_family,
                          interaction=interaction, method="delta")
    _check_point(res, jobs, JOBS_COVARIATES, case)
    _check_intervals(res)
    if not interaction:
        return
    qb = medbook.mediate(jobs, "treat", mediator, outcome, JOBS_COVARIATES,
                         mediator_model=m_family, outcome_model=y_family,
                         interaction=interaction, method="quasi_bayes", n_boot=200, seed=1)
    assert qb.accounting.n_excluded == 0
    _check_intervals(qb)


@pytest.mark.parametrize("case", FRAMING_CASES, ids=_case_id)
def test_framing_point_estimates_equal_the_statsmodels_g_formula(framing, case):
    mediator, _m_family, outcome, y_family, interaction = case
    res = medbook.mediate(framing, "treat", mediator, outcome, FRAMING_COVARIATES,
                          outcome_model=y_family, interaction=interaction, method="delta")
    _check_point(res, framing, FRAMING_COVARIATES, case)
    _check_intervals(res)


@pytest.mark.parametrize("y_family", ["logit", "probit"])
def test_jobs_bootstrap_with_a_binary_outcome_keeps_quasi_separated_replicates(jobs, y_family):
    """The issue's case: work1 on job_seek with all nine covariates. Resamples without the
    few employed widowed respondents separate a nuisance dummy; they are limit fits, kept."""
    res = medbook.mediate(jobs, "treat", "job_seek", "work1", JOBS_COVARIATES,
                          outcome_model=y_family, n_boot=100, seed=3)
    assert res.accounting.requested == 100
    assert res.accounting.excluded_share < 0.01
    assert res.n_quasi_separated > 0  # the widowed level, as in R
    _check_intervals(res)
    assert res.to_dict()["replicate_accounting"]["n_quasi_separated"] == res.n_quasi_separated


@pytest.mark.slow
@pytest.mark.parametrize("case", JOBS_CASES + FRAMING_CASES, ids=_case_id)
def test_full_grid_bootstrap_excludes_under_one_percent(jobs, framing, case):
    mediator, m_family, outcome, y_family, interaction = case
    frame, covariates = (framing, FRAMING_COVARIATES) if outcome == "cong_mesg" else (
        jobs, JOBS_COVARIATES)
    res = medbook.mediate(frame, "treat", mediator, outcome, covariates,
                          mediator_model=m_family, outcome_model=y_family,
                          interaction=interaction, n_boot=1000, seed=7)
    assert res.accounting.requested == 1000
    assert res.accounting.excluded_share < 0.01, res.accounting
    _check_intervals(res)
