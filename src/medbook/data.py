"""Turn a data frame and a study's roles into validated numeric arrays.

All problems with user data are raised here as :class:`~medbook.errors.DataError`
with a one-line message that names the column and, where it helps, the rows.
Column names are treated as opaque labels: they are never evaluated or put into
a formula.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd

from .errors import DataError

__all__ = ["AnalysisData", "VariableKind", "prepare", "treatment_arms"]

VariableKind = Literal["binary", "continuous"]

_MAX_ROWS_LISTED = 5
_MAX_LEVELS = 50
# Values that agree to this relative precision leave no usable spread in double precision.
_RELATIVE_SPREAD = 1e-9


@dataclass(frozen=True)
class AnalysisData:
    """Numeric arrays for one mediation study, with their roles.

    Attributes
    ----------
    treatment, mediator, outcome : numpy.ndarray
        Float arrays of length ``n``; the treatment is coded 0/1.
    covariates : numpy.ndarray
        ``(n, k)`` float matrix of pre-treatment covariates, categorical ones
        dummy-encoded with the first level as reference.
    covariate_names : tuple of str
        Names of the ``k`` encoded columns (``"plan[pro]"`` for a dummy).
    names : dict
        Original column names for ``treatment``, ``mediator`` and ``outcome``.
    covariate_columns : tuple of str
        Original covariate column names, before encoding.
    treatment_levels : tuple
        ``(control, treated)`` values as they appear in the data.
    mediator_kind, outcome_kind : {"binary", "continuous"}
        Detected type: ``"binary"`` when the column only holds 0 and 1.
    rows : numpy.ndarray
        Positions (0-based) in the input frame of the rows used.
    n_dropped : int
        Rows removed because of missing values (only with ``drop_missing``).
    reference_levels : dict
        Reference (first, not encoded) level of each categorical covariate.
    """

    treatment: np.ndarray
    mediator: np.ndarray
    outcome: np.ndarray
    covariates: np.ndarray
    covariate_names: tuple[str, ...]
    names: dict[str, str]
    covariate_columns: tuple[str, ...]
    treatment_levels: tuple[Any, Any]
    mediator_kind: VariableKind
    outcome_kind: VariableKind
    rows: np.ndarray = field(repr=False)
    n_dropped: int = 0
    reference_levels: dict[str, str] = field(default_factory=dict)

    @property
    def n(self) -> int:
        """Number of rows used."""
        return int(self.treatment.shape[0])

    def arm_sizes(self) -> tuple[int, int]:
        """Rows in the control and the treated arm."""
        treated = int(self.treatment.sum())
        return self.n - treated, treated


def row_list(mask: np.ndarray) -> str:
    """Describe the rows flagged in ``mask`` as 1-based data-row numbers."""
    rows = np.flatnonzero(mask) + 1
    shown = ", ".join(str(r) for r in rows[:_MAX_ROWS_LISTED])
    more = f" and {rows.size - _MAX_ROWS_LISTED} more" if rows.size > _MAX_ROWS_LISTED else ""
    return f"row{'s' if rows.size > 1 else ''} {shown}{more}"


def _check_columns(frame: pd.DataFrame, wanted: Sequence[str]) -> None:
    columns = [str(c) for c in frame.columns]
    counts = Counter(columns)  # linear: wide files have hundreds of thousands of columns
    duplicated = sorted(c for c, k in counts.items() if k > 1)
    if duplicated:
        raise DataError(f"duplicate column name {duplicated[0]!r} in the data")
    seen: set[str] = set()
    for name in wanted:
        if name in seen:
            raise DataError(f"column {name!r} is given more than one role")
        seen.add(name)
        if name not in counts:
            hint = _closest(name, columns)
            suggestion = f" (did you mean {hint!r}?)" if hint else ""
            raise DataError(f"column {name!r} not found in the data{suggestion}")


def _closest(name: str, options: Sequence[str]) -> str | None:
    import difflib

    match = difflib.get_close_matches(name, options, n=1, cutoff=0.6)
    return match[0] if match else None


# pandas' inferred kinds of object columns that cannot hold a list or record
_FLAT_KINDS = frozenset(
    {"string", "bytes", "empty", "integer", "floating", "mixed-integer-float", "boolean",
     "decimal", "categorical"}
)


def _check_scalar(series: pd.Series, column: str) -> None:
    """Refuse cells holding lists or records (nested Parquet types) in a used column."""
    if series.dtype != object or pd.api.types.infer_dtype(series, skipna=True) in _FLAT_KINDS:
        return
    nested = series.map(lambda v: isinstance(v, (list, tuple, dict, set, np.ndarray)))
    mask = nested.to_numpy(dtype=bool)
    if mask.any():
        kind = type(series.to_numpy()[mask][0]).__name__
        kind = {"ndarray": "list", "tuple": "list", "dict": "record"}.get(kind, kind)
        raise DataError(
            f"column {column!r} holds {kind} values, not one number or text per cell "
            f"({row_list(mask)}); a nested Parquet column cannot be a study variable"
        )


def missing_mask(series: pd.Series) -> np.ndarray:
    """Missing, blank (whitespace-only text) or non-finite cells."""
    mask = np.asarray(pd.isna(series), dtype=bool).copy()
    if _is_text(series):
        text = series.astype("string").str.strip()
        mask |= np.asarray(text.eq("").fillna(False), dtype=bool)
    elif pd.api.types.is_float_dtype(series):
        values = series.to_numpy(dtype=float, na_value=np.nan)
        mask |= ~np.isfinite(values)
    return mask


def missing_rows(frame: pd.DataFrame, columns: Sequence[str], drop_missing: bool) -> np.ndarray:
    """Rows with a missing, blank or non-finite cell in any of ``columns``.

    Raises
    ------
    DataError
        Without ``drop_missing``, naming the first such column and its rows.
    """
    missing = np.zeros(len(frame), dtype=bool)
    for column in columns:
        col_missing = missing_mask(frame[column])
        if col_missing.any() and not drop_missing:
            raise DataError(
                f"column {column!r} has {int(col_missing.sum())} missing or non-finite value(s) "
                f"({row_list(col_missing)}); fix them or use drop_missing"
            )
        missing |= col_missing
    return missing


def _numeric(series: pd.Series, column: str, role: str) -> np.ndarray:
    if pd.api.types.is_bool_dtype(series) or pd.api.types.is_numeric_dtype(series):
        return _finite(series.to_numpy(dtype=float, na_value=np.nan), column, role)
    converted = pd.to_numeric(series, errors="coerce")
    bad = converted.isna().to_numpy()
    if bad.any():
        first = series.to_numpy()[bad][0]
        raise DataError(
            f"{role} column {column!r} holds non-numeric value {str(first)[:40]!r} "
            f"({row_list(bad)})"
        )
    return _finite(converted.to_numpy(dtype=float), column, role)


def _finite(values: np.ndarray, column: str, role: str) -> np.ndarray:
    bad = ~np.isfinite(values)
    if bad.any():
        raise DataError(f"{role} column {column!r} holds non-finite values ({row_list(bad)})")
    return values


def _kind(values: np.ndarray) -> VariableKind:
    return "binary" if np.isin(values, (0.0, 1.0)).all() else "continuous"


def _treatment(series: pd.Series, column: str, treated: Any) -> tuple[np.ndarray, tuple]:
    levels = list(pd.unique(series))
    if len(levels) != 2:
        shown = ", ".join(_level_text(v) for v in levels[:5])
        raise DataError(
            f"treatment column {column!r} must have exactly two values, "
            f"found {len(levels)}: {shown}"
        )
    control, treated_value = treatment_arms(levels, column, treated)
    return (series == treated_value).to_numpy(dtype=float), (control, treated_value)


def treatment_arms(levels: Sequence[Any], column: str, treated: Any = None) -> tuple[Any, Any]:
    """``(control, treated)`` among a treatment's two levels; never guessed from text.

    Parameters
    ----------
    levels : sequence
        The two distinct values of the treatment column.
    column : str
        Its name (for messages).
    treated : optional
        The treated level as the user gave it; it may match a level exactly, as
        text (``"1"`` for ``1``), as a number (``1`` for ``1.0``) or ignoring case
        and surrounding spaces. Without it only a 0/1 or false/true coding (as
        numbers, booleans or text) is accepted, with 1/true as treated.

    Raises
    ------
    DataError
        Listing the levels found, when ``treated`` is needed or matches none.

    Examples
    --------
    >>> treatment_arms([1, 0], "arm")
    (0, 1)
    >>> treatment_arms(["control", "Treatment"], "arm", treated="treatment")
    ('control', 'Treatment')
    >>> treatment_arms(["treated", "untreated"], "arm")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    medbook.errors.DataError: treatment column 'arm' has levels 'treated', 'untreated': ...
    """
    levels = list(levels)
    shown = ", ".join(_level_text(v) for v in levels[:5])
    if treated is None:
        treated_value = _unambiguous_treated(levels)
        if treated_value is None:
            raise DataError(
                f"treatment column {column!r} has levels {shown}: say which is the treated arm "
                "with treated=... (in a study file: 'treated: ...'); only 0/1 and false/true "
                "codings are read without it"
            )
    else:
        treated_value = _match_level(levels, treated, column, shown)
    control = next(v for v in levels if v is not treated_value)
    return control, treated_value


def _level_text(value: Any) -> str:
    return repr(str(value)[:40]) if isinstance(value, str) else repr(value)


def _unambiguous_treated(levels: list[Any]) -> Any:
    """The treated level of a 0/1 or false/true coding (numbers, booleans or text), else None."""
    keys = {_binary_key(v): v for v in levels}
    if set(keys) == {0, 1}:
        return keys[1]
    return None


def _binary_key(value: Any) -> int | None:
    if isinstance(value, (bool, np.bool_)):
        return int(value)
    if isinstance(value, (int, float, np.integer, np.floating)):
        return int(value) if value in (0, 1) else None
    if isinstance(value, str):
        return {"0": 0, "1": 1, "false": 0, "true": 1}.get(value.strip().lower())
    return None


def _match_level(levels: list[Any], treated: Any, column: str, shown: str) -> Any:
    """The level the user named as treated: equal, equal as text, or equal as a number."""
    tests = (
        lambda v: isinstance(v, str) == isinstance(treated, str) and v == treated,
        lambda v: str(v) == str(treated),
        lambda v: _as_number(v) is not None and _as_number(v) == _as_number(treated),
        lambda v: str(v).strip().casefold() == str(treated).strip().casefold(),
    )
    for test in tests:
        matches = [v for v in levels if test(v)]
        if len(matches) == 1:
            return matches[0]
    raise DataError(
        f"treated level {_level_text(treated)} does not occur in treatment column {column!r} "
        f"(levels: {shown})"
    )


def _as_number(value: Any) -> float | None:
    if isinstance(value, (bool, np.bool_)):
        return float(value)
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if np.isfinite(number) else None


def _is_text(series: pd.Series) -> bool:
    return not isinstance(series.dtype, pd.CategoricalDtype) and (
        pd.api.types.is_object_dtype(series) or pd.api.types.is_string_dtype(series)
    )


def _encode_covariate(series: pd.Series, column: str) -> tuple[np.ndarray, list[str]]:
    if _is_text(series):
        parsed = pd.to_numeric(series, errors="coerce")
        bad = parsed.isna().to_numpy()
        if not bad.any():  # numbers stored as text
            series = parsed
        elif bad.mean() < 0.1:  # mostly numbers: a typo, not a categorical variable
            first = series.to_numpy()[bad][0]
            raise DataError(
                f"covariate column {column!r} holds non-numeric value {str(first)[:40]!r} "
                f"({row_list(bad)})"
            )
    categorical = (
        isinstance(series.dtype, pd.CategoricalDtype)
        or pd.api.types.is_bool_dtype(series)
        or _is_text(series)
    )
    if not categorical:
        values = _finite(series.to_numpy(dtype=float, na_value=np.nan), column, "covariate")
        if np.ptp(values) == 0:
            raise DataError(f"covariate column {column!r} is constant")
        if np.ptp(values) < _RELATIVE_SPREAD * np.max(np.abs(values)):
            raise DataError(
                f"covariate column {column!r} is constant to {-np.log10(_RELATIVE_SPREAD):.0f} "
                "significant digits (subtract its typical value or rescale it)"
            )
        return values[:, None], [column]
    if isinstance(series.dtype, pd.CategoricalDtype):
        levels = [lv for lv in series.cat.categories if (series == lv).any()]
    else:
        try:
            levels = sorted(pd.unique(series))
        except TypeError:
            levels = sorted(pd.unique(series), key=str)
    if len(levels) < 2:
        raise DataError(f"covariate column {column!r} has a single level")
    if len(levels) > _MAX_LEVELS:
        raise DataError(
            f"covariate column {column!r} has {len(levels)} distinct text values; "
            f"at most {_MAX_LEVELS} levels are allowed for a categorical covariate"
        )
    values = series.to_numpy()
    dummies = np.column_stack([(values == lv).astype(float) for lv in levels[1:]])
    return dummies, [f"{column}[{lv}]" for lv in levels[1:]]


def prepare(
    frame: pd.DataFrame,
    treatment: str,
    mediator: str,
    outcome: str,
    covariates: Sequence[str] = (),
    *,
    drop_missing: bool = False,
    treated: Any = None,
) -> AnalysisData:
    """Validate a data frame and extract the arrays of a mediation study.

    Parameters
    ----------
    frame : pandas.DataFrame
        One row per unit.
    treatment, mediator, outcome : str
        Column names. The treatment must take exactly two values.
    covariates : sequence of str
        Pre-treatment covariates; text, boolean and categorical columns are
        dummy-encoded (first level is the reference).
    drop_missing : bool
        Drop rows with a missing value in any used column instead of raising.
    treated : optional
        Which treatment value is the treated arm. Required unless the column is
        coded 0/1 or false/true (as numbers, booleans or text), where ``1`` /
        ``true`` is treated.

    Returns
    -------
    AnalysisData

    Raises
    ------
    DataError
        For any problem with the data, naming the column and rows.

    Examples
    --------
    >>> import pandas as pd
    >>> frame = pd.DataFrame({"t": [0, 1] * 3, "m": [1.0, 2.0, 1.5, 2.5, 0.5, 3.0],
    ...                       "y": [0, 1, 1, 1, 0, 1]})
    >>> prepare(frame, "t", "m", "y").outcome_kind
    'binary'
    """
    if not isinstance(frame, pd.DataFrame):
        raise DataError(f"expected a pandas DataFrame, got {type(frame).__name__}")
    covariates = [covariates] if isinstance(covariates, str) else list(covariates)
    roles = {"treatment": treatment, "mediator": mediator, "outcome": outcome}
    for role, name in roles.items():
        if not isinstance(name, str) or not name:
            raise DataError(f"the {role} column name must be a non-empty string")
    _check_columns(frame, [treatment, mediator, outcome, *covariates])
    if len(frame) == 0:
        raise DataError("the data has no rows")
    frame = frame.rename(columns=str)
    used = [treatment, mediator, outcome, *covariates]
    for column in used:
        _check_scalar(frame[column], column)
    missing = missing_rows(frame, used, drop_missing)
    rows = np.flatnonzero(~missing)
    if rows.size == 0:
        raise DataError("no rows remain after dropping rows with missing values")
    sub = frame.iloc[rows].reset_index(drop=True)

    t, levels = _treatment(sub[treatment], treatment, treated)
    m = _numeric(sub[mediator], mediator, "mediator")
    y = _numeric(sub[outcome], outcome, "outcome")
    for column, values in ((mediator, m), (outcome, y)):
        if np.ptp(values) == 0:
            raise DataError(f"column {column!r} is constant ({values[0]:g} in every row)")
    n_control = int((t == 0).sum())
    if n_control == 0 or n_control == t.size:
        raise DataError(f"treatment column {treatment!r} has an empty arm")

    blocks: list[np.ndarray] = []
    reference: dict[str, str] = {}
    names: list[str] = []
    for column in covariates:
        block, block_names = _encode_covariate(sub[column], column)
        blocks.append(block)
        names.extend(block_names)
        if block_names[0] != column:  # categorical: remember the level without a dummy
            reference[column] = str(sub[column].to_numpy()[block.sum(axis=1) == 0][0])
    x = np.hstack(blocks) if blocks else np.empty((rows.size, 0))

    n_params = 4 + x.shape[1]
    if rows.size <= n_params:
        raise DataError(
            f"only {rows.size} usable rows for a model with {n_params} parameters"
        )
    return AnalysisData(
        treatment=t,
        mediator=m,
        outcome=y,
        covariates=x,
        covariate_names=tuple(names),
        names=dict(roles),
        covariate_columns=tuple(covariates),
        treatment_levels=levels,
        mediator_kind=_kind(m),
        outcome_kind=_kind(y),
        rows=rows,
        n_dropped=int(missing.sum()),
        reference_levels=reference,
    )
