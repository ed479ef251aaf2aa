"""Validate the roles and arrays of a study with several mediators or post-treatment confounders.

Role conflicts are :class:`~medbook.errors.ConfigError` s; problems with the
data itself are :class:`~medbook.errors.DataError` s raised by
:func:`medbook.data.prepare` (treatment, first mediator, outcome, covariates)
or here (the other mediators and the post-treatment columns).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pandas as pd

from .data import AnalysisData, VariableKind, missing_rows, prepare, row_list
from .errors import ConfigError, DataError

__all__ = ["ChainData", "chain_roles", "prepare_chain"]



@dataclass(frozen=True)
class ChainData:
    """Arrays of a sequential study.

    Attributes
    ----------
    study : AnalysisData
        Treatment, first mediator, outcome and covariates (rows and drops included).
    columns : tuple of str
        Intermediate columns in model order: post-treatment confounders, then mediators.
    values : tuple of numpy.ndarray
        Their float values.
    kinds : tuple of {"binary", "continuous"}
        Their detected types.
    n_confounders : int
        How many of ``columns`` are post-treatment confounders.
    """

    study: AnalysisData
    columns: tuple[str, ...]
    values: tuple[np.ndarray, ...]
    kinds: tuple[VariableKind, ...]
    n_confounders: int

    @property
    def mediators(self) -> tuple[str, ...]:
        """Mediator columns in causal order."""
        return self.columns[self.n_confounders :]

    @property
    def confounders(self) -> tuple[str, ...]:
        """Post-treatment confounder columns."""
        return self.columns[: self.n_confounders]


def _names(value: Any, option: str) -> list[str]:
    if value is None:
        return []
    items = [value] if isinstance(value, str) else value
    try:
        items = list(items)
    except TypeError:
        raise ConfigError(
            f"{option} must be a column name or a list of names; got {value!r}"
        ) from None
    for item in items:
        if not isinstance(item, str) or not item:
            raise ConfigError(f"{option} entries must be non-empty column names; got {item!r}")
    return items


def chain_roles(
    treatment: str,
    mediator: Any,
    outcome: str,
    covariates: Any,
    post_treatment: Any,
) -> tuple[list[str], list[str]]:
    """Mediators and post-treatment columns, checked for conflicting roles.

    Raises
    ------
    ConfigError
        An empty list, a column listed twice, or a column in two roles.

    Examples
    --------
    >>> chain_roles("t", ["m1", "m2"], "y", ["x"], None)
    (['m1', 'm2'], [])
    >>> chain_roles("t", ["m1", "m1"], "y", [], None)
    Traceback (most recent call last):
    medbook.errors.ConfigError: mediator 'm1' is listed twice
    """
    mediators = _names(mediator, "mediator")
    confounders = _names(post_treatment, "post_treatment")
    if not mediators:
        raise ConfigError("mediator must name at least one column; got an empty list")
    if post_treatment is not None and not isinstance(post_treatment, str) and not confounders:
        raise ConfigError("post_treatment must name at least one column; got an empty list")
    for option, items in (("mediator", mediators), ("post_treatment column", confounders)):
        repeated = [c for c in items if items.count(c) > 1]
        if repeated:
            raise ConfigError(f"{option} {repeated[0]!r} is listed twice")
    roles = {treatment: "the treatment", outcome: "the outcome"}
    for column in _names(covariates, "covariates"):
        roles.setdefault(column, "a covariate")
    for role, items in (("a mediator", mediators), ("a post-treatment confounder", confounders)):
        for column in items:
            if column in roles:
                raise ConfigError(
                    f"column {column!r} cannot be both {roles[column]} and {role}"
                )
            roles[column] = role
    return mediators, confounders


def _numeric(series: pd.Series, column: str, role: str) -> np.ndarray:
    if pd.api.types.is_bool_dtype(series) or pd.api.types.is_numeric_dtype(series):
        values = series.to_numpy(dtype=float)
    else:
        converted = pd.to_numeric(series, errors="coerce")
        bad = converted.isna().to_numpy()
        if bad.any():
            first = series.to_numpy()[bad][0]
            raise DataError(
                f"{role} column {column!r} holds non-numeric value {str(first)[:40]!r} "
                f"({row_list(bad)})"
            )
        values = converted.to_numpy(dtype=float)
    if np.ptp(values) == 0:
        raise DataError(f"column {column!r} is constant ({values[0]:g} in every row)")
    return values


def prepare_chain(
    frame: pd.DataFrame,
    treatment: str,
    mediators: Sequence[str],
    outcome: str,
    covariates: Sequence[str],
    post_treatment: Sequence[str] = (),
    *,
    drop_missing: bool = False,
    treated: Any = None,
) -> ChainData:
    """Validate a data frame for a sequential analysis (roles from :func:`chain_roles`)."""
    if not isinstance(frame, pd.DataFrame):
        raise DataError(f"expected a pandas DataFrame, got {type(frame).__name__}")
    frame = frame.rename(columns=str)
    if frame.columns.duplicated().any():
        duplicated = frame.columns[frame.columns.duplicated()][0]
        raise DataError(f"duplicate column name {duplicated!r} in the data")
    extras = [*post_treatment, *mediators[1:]]
    for column in extras:
        if column not in frame.columns:
            raise DataError(f"column {column!r} not found in the data")
    missing = missing_rows(frame, extras, drop_missing)
    kept = np.flatnonzero(~missing)
    study = prepare(
        frame.iloc[kept], treatment, mediators[0], outcome, covariates,
        drop_missing=drop_missing, treated=treated,
    )
    rows = kept[study.rows]
    study = replace(study, rows=rows, n_dropped=study.n_dropped + int(missing.sum()))
    sub = frame.iloc[rows].reset_index(drop=True)
    roles = ["post-treatment"] * len(post_treatment) + ["mediator"] * (len(mediators) - 1)
    extra_values = [_numeric(sub[c], c, r) for c, r in zip(extras, roles, strict=True)]
    values = (*extra_values[: len(post_treatment)], study.mediator,
              *extra_values[len(post_treatment) :])
    kinds = tuple("binary" if np.isin(v, (0.0, 1.0)).all() else "continuous" for v in values)
    return ChainData(
        study=study,
        columns=(*post_treatment, *mediators),
        values=values,
        kinds=kinds,  # type: ignore[arg-type]
        n_confounders=len(post_treatment),
    )
