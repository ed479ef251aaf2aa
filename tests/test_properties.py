"""Messy generated data: every analysis ends in finite numbers or one of medbook's own errors.

Hypothesis draws small frames with rare categories, covariates on 1e-7 and 1e9 scales,
rare outcomes, near-collinear columns and lopsided arms. Any exception other than a
:class:`medbook.MedbookError` (a bare numpy/scipy/pandas error) fails the test, as does
a non-finite estimate or interval. The bad-input table checks that each classic
problem gets a one-line error naming the column.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import medbook
from medbook.errors import ConfigError, DataError, FitError, MedbookError

KEYS = ["te", "nde0", "nde1", "nie0", "nie1"]


@st.composite
def messy_frames(draw):
    n = draw(st.integers(12, 160))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    treated = draw(st.sampled_from([0.05, 0.3, 0.5, 0.9]))
    t = rng.binomial(1, treated, n)
    scale = draw(st.sampled_from([1e-7, 1.0, 1e9]))
    x = rng.normal(size=n) * scale + draw(st.sampled_from([0.0, 1e6]))
    levels = draw(st.sampled_from([["a", "b"], ["a", "b", "c", "d"]]))
    shares = np.array([0.9] + [0.1 / (len(levels) - 1)] * (len(levels) - 1))
    group = rng.choice(levels, size=n, p=shares)
    m = 0.5 * t + (x - x.mean()) / (x.std() + 1e-300) * 0.3 + rng.normal(size=n)
    if draw(st.booleans()):
        m = (m > draw(st.sampled_from([0.0, 1.5]))).astype(int)
    y = 0.4 * t + 0.6 * m + rng.normal(size=n)
    if draw(st.booleans()):
        y = (y > np.quantile(y, draw(st.sampled_from([0.5, 0.9, 0.97])))).astype(int)
    frame = pd.DataFrame({"t": t, "m": m, "y": y, "x": x, "group": group})
    if draw(st.booleans()):
        frame["x2"] = frame["x"] * (1 + 1e-9 * rng.normal(size=n))  # nearly collinear
    return frame


@settings(max_examples=25, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(frame=messy_frames(), method=st.sampled_from(["delta", "bootstrap", "quasi_bayes"]),
       interaction=st.booleans(), link=st.sampled_from(["auto", "probit"]))
def test_messy_frames_give_finite_answers_or_medbook_errors(frame, method, interaction, link):
    covariates = [c for c in ("x", "group", "x2") if c in frame]
    binary_outcome = set(np.unique(frame["y"])) <= {0, 1}
    try:
        res = medbook.mediate(
            frame, "t", "m", "y", covariates, method=method, n_boot=30, seed=1,
            interaction=interaction, outcome_model=link if binary_outcome else "auto",
        )
    except MedbookError as err:
        message = str(err)
        assert message and "\n" not in message
        return
    table = res.to_frame().set_index("estimand").loc[KEYS]
    assert np.isfinite(table[["estimate", "std_error", "ci_lower", "ci_upper"]].to_numpy()).all()
    accounting = res.accounting
    assert accounting.kept + accounting.n_excluded == accounting.requested


def _base(n=200, seed=0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    t = rng.binomial(1, 0.5, n)
    x = rng.normal(size=n)
    m = 0.5 * t + x + rng.normal(size=n)
    y = 0.3 * t + m + rng.normal(size=n)
    return pd.DataFrame({"t": t, "m": m, "y": y, "x": x})


def _constant(f):
    return f.assign(c=1.0), ["x", "c"]


def _collinear(f):
    return f.assign(x3=3 * f["x"] - 1), ["x", "x3"]


def _single_arm(f):
    return f.assign(t=1), ["x"]


def _all_missing(f):
    return f.assign(x=np.nan), ["x"]


def _infinite(f):
    return f.assign(x=f["x"].where(f.index != 7, np.inf)), ["x"]


def _text_in_numbers(f):
    return f.assign(m=f["m"].astype(object).where(f.index != 3, "n/a")), ["x"]


@pytest.mark.parametrize("make, error, column", [
    (_constant, DataError, "'c'"),
    (_collinear, FitError, "'x3'"),
    (_single_arm, DataError, "'t'"),
    (_all_missing, DataError, "'x'"),
    (_infinite, DataError, "'x'"),
    (_text_in_numbers, DataError, "'m'"),
])
@pytest.mark.parametrize("outcome_binary", [False, True])
def test_bad_input_gets_a_one_line_error_naming_the_column(make, error, column, outcome_binary):
    frame, covariates = make(_base())
    if outcome_binary:
        frame["y"] = (frame["y"] > frame["y"].median()).astype(int)
    with pytest.raises(error) as info:
        medbook.mediate(frame, "t", "m", "y", covariates, method="delta")
    assert column in str(info.value) and "\n" not in str(info.value)


def test_bad_options_are_config_errors():
    with pytest.raises(ConfigError, match="n_boot"):
        medbook.mediate(_base(), "t", "m", "y", ["x"], n_boot=1)
