"""Validate a Dask data frame once, fix its encoding, and turn it into numeric row blocks.

One survey pass returns, per partition, a few numbers about each used column
(schema, missing cells, treatment values, categorical levels, ranges); the
client combines them into the same decisions :func:`medbook.data.prepare` makes
for an in-memory frame (which values mean treated, binary or continuous,
categorical levels and their order) and raises the same one-line
:class:`~medbook.errors.DataError`. Then every partition is encoded with those
fixed choices into float columns ``[t, m, y, covariates...]`` and the rows are
regrouped into blocks of :data:`BLOCK_ROWS` rows counted from the first row, so
every later pass sees the same blocks however the input was partitioned.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from ..data import VariableKind, _is_text, missing_mask, treatment_arms
from ..errors import DataError, MedbookError

__all__ = ["BLOCK_ROWS", "DaskStudy", "survey_frame"]

BLOCK_ROWS = 65536
_MAX_ROWS_LISTED = 5
_MAX_LEVELS = 50


@dataclass(frozen=True)
class DaskStudy:
    """What the client knows about a study whose rows stay on the cluster.

    It has the summary attributes of :class:`medbook.data.AnalysisData` (the
    arrays themselves are on the workers, in :attr:`blocks`).

    Attributes
    ----------
    blocks : dask.array.Array
        ``(n, 3 + k)`` float rows ``[t, m, y, covariates...]`` in blocks of
        :data:`BLOCK_ROWS` rows.
    """

    blocks: Any = field(repr=False)
    n: int
    covariate_names: tuple[str, ...]
    names: dict[str, str]
    covariate_columns: tuple[str, ...]
    treatment_levels: tuple[Any, Any]
    mediator_kind: VariableKind
    outcome_kind: VariableKind
    n_treated: int
    n_dropped: int = 0

    def arm_sizes(self) -> tuple[int, int]:
        """Rows in the control and the treated arm."""
        return self.n - self.n_treated, self.n_treated


@dataclass(frozen=True)
class _Plan:
    """Fixed encoding of every partition."""

    treatment: str
    mediator: str
    outcome: str
    treated: Any
    covariates: tuple[tuple[str, str, tuple[Any, ...]], ...]  # (column, kind, levels)
    drop_missing: bool


def _numeric_values(series: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Float values and a mask of cells that are not numbers."""
    if pd.api.types.is_bool_dtype(series) or pd.api.types.is_numeric_dtype(series):
        values = series.to_numpy(dtype=float, na_value=np.nan)
        return values, np.zeros(values.size, dtype=bool)
    converted = pd.to_numeric(series, errors="coerce")
    values = converted.to_numpy(dtype=float, na_value=np.nan)
    return values, np.isnan(values)


def _levels(series: pd.Series) -> list[Any]:
    if isinstance(series.dtype, pd.CategoricalDtype):
        return [lv for lv in series.cat.categories if (series == lv).any()]
    return list(pd.unique(series))


def _survey_column(series: pd.Series, role: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if role == "treatment":
        values = list(pd.unique(series))[:3]
        out["values"] = values
        out["counts"] = [int((series == v).sum()) for v in values]
        return out
    values, bad = _numeric_values(series)
    out["n_bad"] = int(bad.sum())
    out["first_bad"] = str(series.to_numpy()[bad][0])[:40] if bad.any() else None
    out["bad_rows"] = np.flatnonzero(bad)[:_MAX_ROWS_LISTED].tolist()
    good = values[~bad]
    out["min"] = float(good.min()) if good.size else np.inf
    out["max"] = float(good.max()) if good.size else -np.inf
    out["binary"] = bool(np.isin(good, (0.0, 1.0)).all())
    out["finite"] = bool(np.isfinite(good).all())
    if role == "covariate" and (
        isinstance(series.dtype, pd.CategoricalDtype)
        or pd.api.types.is_bool_dtype(series)
        or _is_text(series)
    ):
        out["levels"] = _levels(series)[: _MAX_LEVELS + 1]
    return out


def _survey_partition(part: pd.DataFrame, roles: dict[str, str], dtypes: dict[str, str]) -> dict:
    """Small summary of one partition (runs on a worker)."""
    columns = [str(c) for c in part.columns]
    for name in roles:
        if name not in columns:
            return {"missing_column": name}
    part = part.rename(columns=str)
    for name in roles:
        if str(part[name].dtype) != dtypes[name]:
            return {"dtype": (name, str(part[name].dtype))}
    masks = {name: missing_mask(part[name]) for name in roles}
    any_missing = np.zeros(len(part), dtype=bool)
    for mask in masks.values():
        any_missing |= mask
    kept = part.loc[~any_missing]
    return {
        "n": len(part),
        "n_kept": int((~any_missing).sum()),
        "missing": {
            name: (int(mask.sum()), np.flatnonzero(mask)[:_MAX_ROWS_LISTED].tolist())
            for name, mask in masks.items()
        },
        "columns": {name: _survey_column(kept[name], role) for name, role in roles.items()},
    }


def _row_list(rows: list[int]) -> str:
    shown = ", ".join(str(r + 1) for r in rows[:_MAX_ROWS_LISTED])
    more = f" and {len(rows) - _MAX_ROWS_LISTED} more" if len(rows) > _MAX_ROWS_LISTED else ""
    return f"row{'s' if len(rows) > 1 else ''} {shown}{more}"


class _Survey:
    """The partitions' summaries, combined on the client."""

    def __init__(self, parts: list[dict], roles: dict[str, str], drop_missing: bool):
        self.parts = parts
        self.roles = roles
        self.drop_missing = drop_missing
        self.offsets = np.concatenate([[0], np.cumsum([p["n"] for p in parts])])
        self.n_kept = int(sum(p["n_kept"] for p in parts))

    def columns(self, name: str) -> list[dict[str, Any]]:
        return [p["columns"][name] for p in self.parts if p["n_kept"]]

    def check_missing(self) -> None:
        for name in self.roles:
            count = sum(p["missing"][name][0] for p in self.parts)
            if count and not self.drop_missing:
                rows = [
                    int(self.offsets[i]) + r
                    for i, p in enumerate(self.parts)
                    for r in p["missing"][name][1]
                ]
                raise DataError(
                    f"column {name!r} has {count} missing or non-finite value(s) "
                    f"({_row_list(rows)}); fix them or use drop_missing"
                )
        if self.n_kept == 0:
            raise DataError("no rows remain after dropping rows with missing values")

    def numeric(self, name: str, role: str) -> tuple[float, float, bool]:
        """Global (min, max, binary) of a numeric column, after checking its cells."""
        summaries = self.columns(name)
        for i, s in enumerate(summaries):
            if s["n_bad"]:
                raise DataError(
                    f"{role} column {name!r} holds non-numeric value {s['first_bad']!r} "
                    f"(partition {i}, {_row_list(s['bad_rows'])})"
                )
            if not s["finite"]:
                raise DataError(f"{role} column {name!r} holds non-finite values")
        low = min(s["min"] for s in summaries)
        high = max(s["max"] for s in summaries)
        return low, high, all(s["binary"] for s in summaries)


def survey_frame(
    ddf: Any,
    treatment: str,
    mediator: str,
    outcome: str,
    covariates: Sequence[str],
    drop_missing: bool,
) -> _Survey:
    """Run the survey pass over every partition (one small dict back per partition)."""
    import dask

    from ..data import _check_columns
    from .dask_passes import compute

    meta = ddf._meta
    _check_columns(meta, [treatment, mediator, outcome, *covariates])
    meta = meta.rename(columns=str)
    roles = {treatment: "treatment", mediator: "mediator", outcome: "outcome"}
    roles.update({c: "covariate" for c in covariates})
    dtypes = {name: str(meta[name].dtype) for name in roles}
    tasks = [
        dask.delayed(_survey_partition, pure=True)(part, roles, dtypes)
        for part in ddf.to_delayed()
    ]
    try:
        parts = list(compute(*tasks))
    except MedbookError:
        raise
    except Exception as err:  # the source itself fails to load, e.g. a column is absent
        detail = " ".join(f"{type(err).__name__}: {err}".split())[:200]
        raise DataError(f"a partition of the data cannot be read ({detail})") from None
    for i, part in enumerate(parts):
        if "missing_column" in part:
            raise DataError(f"column {part['missing_column']!r} is missing from partition {i}")
        if "dtype" in part:
            name, found = part["dtype"]
            raise DataError(
                f"column {name!r} has dtype {found} in partition {i} but {dtypes[name]} in the "
                "frame's schema; every partition must have the same column types"
            )
    if sum(p["n"] for p in parts) == 0:
        raise DataError("the data has no rows")
    survey = _Survey(parts, roles, drop_missing)
    survey.check_missing()
    return survey


def _treatment_levels(survey: _Survey, column: str, treated: Any) -> tuple[Any, Any]:
    levels: list[Any] = []
    for s in survey.columns(column):
        levels.extend(v for v in s["values"] if v not in levels)
    if len(levels) != 2:
        shown = ", ".join(repr(v) for v in levels[:5])
        raise DataError(
            f"treatment column {column!r} must have exactly two values, "
            f"found {len(levels)}{'+' if len(levels) > 2 else ''}: {shown}"
        )
    return treatment_arms(levels, column, treated)


def _covariate_plan(survey: _Survey, column: str) -> tuple[str, tuple[Any, ...], list[str]]:
    """(kind, levels, encoded names) of one covariate, as :func:`medbook.data.prepare` does."""
    summaries = survey.columns(column)
    n_rows = sum(p["n_kept"] for p in survey.parts)
    n_bad = sum(s["n_bad"] for s in summaries)
    is_categorical = "levels" in summaries[0]
    if is_categorical and n_bad and n_bad < 0.1 * n_rows:  # mostly numbers: a typo
        first = next(s["first_bad"] for s in summaries if s["n_bad"])
        raise DataError(f"covariate column {column!r} holds non-numeric value {first!r}")
    if not n_bad:  # numbers, possibly stored as text
        low, high, _ = survey.numeric(column, "covariate")
        if high == low:
            raise DataError(f"covariate column {column!r} is constant")
        return "numeric", (), [column]
    levels: list[Any] = []
    for s in summaries:
        levels.extend(v for v in s["levels"] if v not in levels)
    try:
        levels = sorted(levels)
    except TypeError:
        levels = sorted(levels, key=str)
    if len(levels) < 2:
        raise DataError(f"covariate column {column!r} has a single level")
    if len(levels) > _MAX_LEVELS:
        raise DataError(
            f"covariate column {column!r} has more than {_MAX_LEVELS} distinct text values; "
            f"at most {_MAX_LEVELS} levels are allowed for a categorical covariate"
        )
    return "levels", tuple(levels), [f"{column}[{lv}]" for lv in levels[1:]]


def _encode_partition(part: pd.DataFrame, plan: _Plan) -> np.ndarray:
    """Float rows ``[t, m, y, covariates...]`` of one partition (runs on a worker)."""
    part = part.rename(columns=str)
    if plan.drop_missing:
        used = [plan.treatment, plan.mediator, plan.outcome, *(c for c, _, _ in plan.covariates)]
        missing = np.zeros(len(part), dtype=bool)
        for name in used:
            missing |= missing_mask(part[name])
        part = part.loc[~missing]
    columns = [
        (part[plan.treatment] == plan.treated).to_numpy(dtype=float),
        _numeric_values(part[plan.mediator])[0],
        _numeric_values(part[plan.outcome])[0],
    ]
    for name, kind, levels in plan.covariates:
        if kind == "numeric":
            columns.append(_numeric_values(part[name])[0])
        else:
            values = part[name].to_numpy()
            columns.extend((values == lv).astype(float) for lv in levels[1:])
    return np.column_stack(columns) if len(part) else np.empty((0, len(columns)))


def encode_frame(
    ddf: Any,
    survey: _Survey,
    treatment: str,
    mediator: str,
    outcome: str,
    covariates: Sequence[str],
    treated: Any,
) -> DaskStudy:
    """Fix the encoding from the survey and build the row blocks (lazily)."""
    import dask
    import dask.array as da

    control, treated = _treatment_levels(survey, treatment, treated)
    m_low, m_high, m_binary = survey.numeric(mediator, "mediator")
    y_low, y_high, y_binary = survey.numeric(outcome, "outcome")
    for column, low, high in ((mediator, m_low, m_high), (outcome, y_low, y_high)):
        if high == low:
            raise DataError(f"column {column!r} is constant ({low:g} in every row)")
    plans, names = [], []
    for column in covariates:
        kind, levels, encoded = _covariate_plan(survey, column)
        plans.append((column, kind, levels))
        names.extend(encoded)
    n = survey.n_kept
    if n <= 4 + len(names):
        raise DataError(f"only {n} usable rows for a model with {4 + len(names)} parameters")
    n_treated = sum(
        count
        for s in survey.columns(treatment)
        for value, count in zip(s["values"], s["counts"], strict=True)
        if value == treated
    )
    plan = _Plan(treatment, mediator, outcome, treated, tuple(plans), survey.drop_missing)
    width = 3 + len(names)
    pieces = [
        da.from_delayed(
            dask.delayed(_encode_partition, pure=True)(part, plan),
            shape=(info["n_kept"], width),
            dtype=float,
        )
        for part, info in zip(ddf.to_delayed(), survey.parts, strict=True)
        if info["n_kept"]
    ]
    blocks = da.concatenate(pieces, axis=0).rechunk((BLOCK_ROWS, width))
    return DaskStudy(
        blocks=blocks,
        n=n,
        covariate_names=tuple(names),
        names={"treatment": treatment, "mediator": mediator, "outcome": outcome},
        covariate_columns=tuple(covariates),
        treatment_levels=(control, treated),
        mediator_kind="binary" if m_binary else "continuous",
        outcome_kind="binary" if y_binary else "continuous",
        n_treated=int(n_treated),
        n_dropped=sum(p["n"] for p in survey.parts) - n,
    )
