"""Data validation: every malformed input gets a clear DataError naming the column (and rows).

Checked through :func:`medbook.data.prepare` and through :func:`medbook.mediate`.
Expected messages follow the bad-input table of ``DESIGN.md``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import medbook
from medbook.data import prepare
from medbook.errors import DataError, MedbookError


@pytest.fixture
def frame() -> pd.DataFrame:
    rng = np.random.default_rng(3)
    n = 40
    t = np.tile([0, 1], n // 2)
    x = rng.normal(size=n)
    m = 0.5 * t + x + rng.normal(size=n)
    y = m + t + rng.normal(size=n)
    return pd.DataFrame({"treatment": t, "mediator": m, "outcome": y, "x": x})


def _prep(frame, covariates=("x",), **kwargs):
    return prepare(frame, "treatment", "mediator", "outcome", list(covariates), **kwargs)


def test_valid_frame_gives_arrays(frame):
    data = _prep(frame)
    assert data.n == 40 and data.arm_sizes() == (20, 20)
    assert data.covariates.shape == (40, 1) and data.covariate_names == ("x",)
    assert data.mediator_kind == "continuous" and data.outcome_kind == "continuous"
    assert data.treatment_levels == (0, 1)
    assert data.n_dropped == 0
    assert np.array_equal(data.rows, np.arange(40))
    assert data.names == {"treatment": "treatment", "mediator": "mediator", "outcome": "outcome"}


def test_not_a_data_frame():
    with pytest.raises(DataError, match="DataFrame"):
        prepare({"treatment": [0, 1]}, "treatment", "mediator", "outcome")


def test_unknown_column_suggests_close_match(frame):
    with pytest.raises(DataError, match=r"column 'mediatr' not found.*did you mean 'mediator'"):
        prepare(frame, "treatment", "mediatr", "outcome")
    with pytest.raises(DataError, match=r"column 'age' not found in the data$"):
        _prep(frame, ["age"])


def test_duplicate_role(frame):
    with pytest.raises(DataError, match="'mediator' is given more than one role"):
        prepare(frame, "treatment", "mediator", "mediator")
    with pytest.raises(DataError, match="'x' is given more than one role"):
        _prep(frame, ["x", "x"])


@pytest.mark.parametrize("values", [[1], [0, 1, 2]])
def test_treatment_needs_two_levels(frame, values):
    frame["treatment"] = np.resize(values, len(frame))
    with pytest.raises(DataError, match=rf"treatment column 'treatment'.*found {len(values)}"):
        _prep(frame)


def test_empty_arm_after_dropping_missing_rows(frame):
    frame.loc[frame["treatment"] == 1, "outcome"] = np.nan
    with pytest.raises(DataError, match="treatment column 'treatment'"):
        _prep(frame, drop_missing=True)


@pytest.mark.parametrize(
    ("column", "rows", "value"),
    [("mediator", [4], np.nan), ("outcome", [7, 9], np.inf), ("x", [0, 39], -np.inf),
     ("treatment", [2], np.nan)],
)
def test_missing_or_non_finite_cells_name_column_and_rows(frame, column, rows, value):
    frame[column] = frame[column].astype(float)
    frame.loc[rows, column] = value
    listed = ", ".join(str(r + 1) for r in rows)  # 1-based data rows
    with pytest.raises(DataError, match=rf"column '{column}' has {len(rows)} missing.*{listed}"):
        _prep(frame)


def test_blank_text_cells_are_missing(frame):
    frame["plan"] = pd.Series(["a", "b", "c", "d"] * 10, dtype=object)
    frame.loc[5, "plan"] = "  "
    with pytest.raises(DataError, match=r"column 'plan' has 1 missing.*row 6"):
        _prep(frame, ["plan"])
    frame["plan"] = frame["plan"].astype("str")  # pandas' string dtype behaves the same
    with pytest.raises(DataError, match=r"column 'plan' has 1 missing.*row 6"):
        _prep(frame, ["plan"])


def test_many_bad_rows_are_summarised(frame):
    frame.loc[list(range(10)), "mediator"] = np.nan
    with pytest.raises(DataError, match=r"rows 1, 2, 3, 4, 5 and 5 more"):
        _prep(frame)


def test_nullable_dtypes_missing_values_are_found(frame):
    frame["mediator"] = pd.array(frame["mediator"], dtype="Float64")
    frame.loc[3, "mediator"] = pd.NA
    with pytest.raises(DataError, match=r"column 'mediator' has 1 missing.*row 4"):
        _prep(frame)
    frame["mediator"] = frame["mediator"].fillna(0.0)
    frame["outcome"] = pd.array(np.tile([0, 1, 1, 0], 10), dtype="Int64")
    frame["flag"] = pd.array([True, False] * 20, dtype="boolean")
    data = _prep(frame, ["x", "flag"])
    assert data.outcome_kind == "binary"
    assert data.covariate_names == ("x", "flag[True]")


def test_drop_missing_reports_dropped_rows(frame):
    frame.loc[[3, 10], "mediator"] = np.nan
    frame.loc[[10, 20], "x"] = np.inf
    data = _prep(frame, drop_missing=True)
    assert data.n == 37 and data.n_dropped == 3
    assert not np.isin([3, 10, 20], data.rows).any()
    res = medbook.mediate(
        frame, "treatment", "mediator", "outcome", ["x"], drop_missing=True, method="delta"
    )
    assert res.n == 37 and res.to_dict()["n_dropped"] == 3
    assert any("3 row(s)" in w for w in res.warnings)
    with pytest.raises(DataError, match="drop_missing"):
        medbook.mediate(frame, "treatment", "mediator", "outcome", ["x"], method="delta")


def test_all_rows_missing(frame):
    frame["outcome"] = np.nan
    with pytest.raises(DataError, match="no rows remain"):
        _prep(frame, drop_missing=True)


@pytest.mark.parametrize("column", ["mediator", "outcome"])
def test_non_numeric_text_in_numeric_column(frame, column):
    frame[column] = frame[column].astype(object)
    frame.loc[3, column] = "high"
    with pytest.raises(DataError, match=rf"{column} column '{column}' holds non-numeric "
                                        r"value 'high' \(row 4\)"):
        _prep(frame)


def test_text_infinity_in_numeric_column(frame):
    frame["mediator"] = frame["mediator"].astype(str)
    frame.loc[6, "mediator"] = "inf"
    with pytest.raises(DataError, match=r"'mediator'.*row 7"):
        _prep(frame)


def test_numbers_stored_as_text_are_numbers(frame):
    frame["mediator"] = frame["mediator"].map(repr).astype(object)
    frame["age"] = pd.Series([str(20 + i % 30) for i in range(40)], dtype=object)
    data = _prep(frame, ["age"])
    assert data.covariate_names == ("age",)
    assert np.array_equal(data.covariates[:, 0], 20.0 + np.arange(40) % 30)
    assert data.mediator_kind == "continuous"


def test_stray_text_in_numeric_covariate(frame):
    frame["x"] = frame["x"].astype(object)
    frame.loc[6, "x"] = "seven"
    with pytest.raises(DataError, match=r"covariate column 'x' holds non-numeric value 'seven'"):
        _prep(frame)


@pytest.mark.parametrize("column", ["mediator", "outcome"])
def test_constant_mediator_or_outcome(frame, column):
    frame[column] = 1.0
    with pytest.raises(DataError, match=rf"column '{column}' is constant"):
        _prep(frame)


@pytest.mark.parametrize("value", [2.5, "gold", True, "5"])
def test_constant_covariate(frame, value):
    frame["c"] = pd.Series([value] * len(frame), dtype=object if value == "5" else None)
    with pytest.raises(DataError, match="covariate column 'c'"):
        _prep(frame, ["c"])


def test_too_few_rows(frame):
    with pytest.raises(DataError, match="only 5 usable rows"):
        _prep(frame.head(5))
    with pytest.raises(DataError, match="no rows"):
        _prep(frame.head(0))


def test_duplicate_column_names(frame):
    doubled = pd.concat([frame, frame[["x"]]], axis=1)
    with pytest.raises(DataError, match="duplicate column name 'x'"):
        _prep(doubled)


def test_categorical_covariates_are_dummy_encoded_first_level_reference(frame):
    frame["plan"] = pd.Series(["basic", "pro", "team", "pro"] * 10, dtype=object)
    frame["tier"] = pd.Categorical(["z", "a", "b", "a"] * 10, categories=["z", "a", "b"])
    frame["flag"] = [True, False, False, True] * 10
    frame["region"] = pd.Series(["north", "south"] * 20).astype("str")
    data = _prep(frame, ["x", "plan", "tier", "flag", "region"])
    assert data.covariate_names == (
        "x", "plan[pro]", "plan[team]", "tier[a]", "tier[b]", "flag[True]", "region[south]",
    )
    assert data.covariate_columns == ("x", "plan", "tier", "flag", "region")
    c = data.covariates
    assert np.array_equal(c[:, 1], (frame["plan"] == "pro").to_numpy(float))
    assert np.array_equal(c[:, 2], (frame["plan"] == "team").to_numpy(float))
    assert np.array_equal(c[:, 3], (frame["tier"] == "a").to_numpy(float))  # "z" is reference
    assert np.array_equal(c[:, 5], frame["flag"].to_numpy(float))


def test_encoded_covariates_give_the_same_effects_as_manual_dummies(frame):
    frame["plan"] = pd.Series(["basic", "pro", "team", "pro", "basic"] * 8, dtype=object)
    manual = frame.assign(
        pro=(frame["plan"] == "pro").astype(float), team=(frame["plan"] == "team").astype(float)
    )
    args = ("treatment", "mediator", "outcome")
    auto = medbook.mediate(frame, *args, ["x", "plan"], method="delta").to_frame()
    by_hand = medbook.mediate(manual, *args, ["x", "pro", "team"], method="delta").to_frame()
    cols = ["estimate", "std_error"]
    assert np.allclose(auto[cols], by_hand[cols], rtol=1e-10, atol=1e-12)


def test_high_cardinality_text_covariate_rejected(frame):
    frame = pd.concat([frame] * 2, ignore_index=True)
    frame["customer"] = [f"id-{i}" for i in range(len(frame))]
    with pytest.raises(DataError, match=r"covariate column 'customer' has 80 distinct"):
        _prep(frame, ["customer"])


def test_text_treatment_levels_need_an_explicit_treated_level(frame):
    frame["arm"] = np.where(frame["treatment"] == 1, "treated", "untreated")
    with pytest.raises(DataError, match=r"levels '(un)?treated', '(un)?treated': say which is"):
        prepare(frame, "arm", "mediator", "outcome")
    data = prepare(frame, "arm", "mediator", "outcome", treated="treated")
    assert data.treatment_levels == ("untreated", "treated")
    assert np.array_equal(data.treatment, frame["treatment"].to_numpy(float))
    frame["arm"] = np.where(frame["treatment"] == 1, "drug", "placebo")
    data = prepare(frame, "arm", "mediator", "outcome", treated="drug")
    assert data.treatment_levels == ("placebo", "drug")
    assert np.array_equal(data.treatment, frame["treatment"].to_numpy(float))
    with pytest.raises(DataError, match=r"treated level 'active' does not occur .*'drug'"):
        prepare(frame, "arm", "mediator", "outcome", treated="active")


@pytest.mark.parametrize("treated, control", [
    (1, 0), (True, False), ("1", "0"), ("true", "false"), ("TRUE", "FALSE"), (1.0, 0.0),
])
def test_unambiguous_codings_need_no_treated_level(frame, treated, control):
    frame["arm"] = pd.Series(
        [treated if t == 1 else control for t in frame["treatment"]], dtype=object
    )
    data = prepare(frame, "arm", "mediator", "outcome")
    assert data.treatment_levels[1] == treated
    assert np.array_equal(data.treatment, frame["treatment"].to_numpy(float))


@pytest.mark.parametrize("treated, control", [
    ("Treatment", "control"), ("yes", "no"), (2, 1), ("B", "A"), (-1, 1),
])
def test_other_codings_are_never_guessed(frame, treated, control):
    frame["arm"] = [treated if t == 1 else control for t in frame["treatment"]]
    with pytest.raises(DataError, match="say which is the treated arm with treated="):
        prepare(frame, "arm", "mediator", "outcome")
    flipped = prepare(frame, "arm", "mediator", "outcome", treated=control)
    assert flipped.treatment_levels == (treated, control)
    assert np.array_equal(flipped.treatment, 1 - frame["treatment"].to_numpy(float))


@pytest.mark.parametrize("given, expected", [("1", 1.0), (1, "1"), ("Treated ", "treated")])
def test_treated_level_matches_across_text_and_numbers(frame, given, expected):
    frame["arm"] = [expected if t == 1 else ("untreated" if expected == "treated" else 0.0)
                    for t in frame["treatment"]]
    data = prepare(frame, "arm", "mediator", "outcome", treated=given)
    assert data.treatment_levels[1] == expected
    assert np.array_equal(data.treatment, frame["treatment"].to_numpy(float))


HOSTILE = [
    "<script>alert(1)</script>",
    "a + b",
    "__import__('os').system('exit 3')",
    "y ~ x + C(z)",
    "{0.__class__}",
    "$(rm -rf /)",
    "# heading *bold*",
]


def test_hostile_column_names_are_plain_labels(frame):
    """Names are never evaluated or put into formulas: results equal the plain-named ones."""
    t, m, y, x = HOSTILE[:4]
    renamed = frame.rename(columns={"treatment": t, "mediator": m, "outcome": y, "x": x})
    for power, extra in enumerate(HOSTILE[4:], start=2):
        renamed[extra] = np.abs(frame["x"].to_numpy()) ** (power / 2)
        frame[extra] = renamed[extra]
    covs = [x, *HOSTILE[4:]]
    res = medbook.mediate(renamed, t, m, y, covs, method="delta")
    plain = medbook.mediate(frame, "treatment", "mediator", "outcome", ["x", *HOSTILE[4:]],
                            method="delta")
    cols = ["estimate", "std_error"]
    assert np.allclose(res.to_frame()[cols], plain.to_frame()[cols], rtol=1e-12, atol=1e-14)
    assert res.outcome_fit.names[:3] == ("(Intercept)", t, m)
    assert res.mediator_fit.names[2:] == tuple(covs)
    assert res.to_dict()["spec"]["treatment"] == t
    assert t in repr(res)


def test_hostile_names_in_error_messages_are_quoted(frame):
    with pytest.raises(DataError, match="not found") as err:
        prepare(frame, "treatment", "mediator", "outcome", ["__import__('os')"])
    assert "\"__import__('os')\"" in str(err.value)


def test_all_data_errors_are_medbook_errors(frame):
    assert issubclass(DataError, MedbookError) and issubclass(DataError, ValueError)
    frame["mediator"] = 0.0
    with pytest.raises(MedbookError):
        medbook.mediate(frame, "treatment", "mediator", "outcome", ["x"])


@pytest.mark.parametrize("name", ["const", "(Intercept)", "treatment:mediator"])
def test_covariate_names_cannot_collide_with_design_terms(frame, name):
    """A covariate called like a design term must not produce two identical coefficient names
    (tables, reports and to_dict() look coefficients up by name)."""
    frame[name] = frame["x"] ** 2
    try:
        res = medbook.mediate(frame, "treatment", "mediator", "outcome", [name],
                              interaction=True, method="delta")
    except DataError:
        return
    for fit in (res.mediator_fit, res.outcome_fit):
        assert len(set(fit.names)) == len(fit.names), fit.names
