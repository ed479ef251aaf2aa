"""Memo history: what the previous run found, and one record per run.

A memo folder's ``results.json`` is the record of its run. When a memo is
regenerated into that folder (or pointed at an earlier one with ``--previous``),
:func:`read_previous` reads the earlier run, :func:`compare` lines its headline
estimates up with the new ones, and :func:`history_records` appends the new run to
the folder's ``history.json``. Earlier outputs are untrusted input: sizes, types and
values are checked, and anything malformed is a one-line :class:`ConfigError`.
This module holds numbers and facts only; the sentences live in :mod:`medbook.report`.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from .errors import ConfigError

__all__ = [
    "HEADLINE",
    "HISTORY_NAME",
    "Change",
    "Comparison",
    "Estimate",
    "Previous",
    "RunRecord",
    "compare",
    "history_records",
    "read_previous",
    "run_date",
    "run_record",
    "write_history",
]

#: The estimands a memo leads with, in the order it shows them.
HEADLINE = ("te", "nde0", "nie1", "pm")
HISTORY_NAME = "history.json"
RESULTS_NAME = "results.json"
#: Larger earlier outputs are refused rather than parsed.
_MAX_BYTES = 32 << 20
#: The history keeps this many most recent runs.
_MAX_RUNS = 500
_TEXT_LIMIT = 200


@dataclass(frozen=True)
class Estimate:
    """An estimate with its confidence interval (None where not available)."""

    estimate: float | None
    ci_lower: float | None
    ci_upper: float | None

    def covers(self, value: float | None) -> bool | None:
        """Whether ``value`` lies inside this interval (None if either is missing)."""
        if value is None or self.ci_lower is None or self.ci_upper is None:
            return None
        return self.ci_lower <= value <= self.ci_upper


@dataclass(frozen=True)
class RunRecord:
    """One memo run: when, on which data, and what it concluded."""

    date: str | None
    data_file: str
    data_sha256: str
    n: int
    scale: str
    conf_level: float
    roles: tuple[str, str, str]
    estimates: dict[str, Estimate]
    recommendation: str
    robustness: str
    pm_stable: bool

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dict (the ``history.json`` row and ``results.json``'s ``previous``)."""
        record = asdict(self)
        record["roles"] = list(self.roles)
        return record


@dataclass(frozen=True)
class Previous:
    """The earlier run found in an output folder or given with ``--previous``."""

    record: RunRecord
    history: tuple[RunRecord, ...]
    source: Path


@dataclass(frozen=True)
class Change:
    """One headline estimate, then and now."""

    key: str
    previous: Estimate
    current: Estimate
    outside_previous_interval: bool | None


@dataclass(frozen=True)
class Comparison:
    """The new run set against the previous one.

    ``comparable`` is false when the runs analysed different columns or scales;
    then ``changes`` is empty and ``reason`` says why.
    """

    previous: RunRecord
    current: RunRecord
    comparable: bool
    reason: str
    changes: tuple[Change, ...]
    same_data: bool
    recommendation_changed: bool


def run_date() -> str:
    """The run's UTC time stamp (ISO 8601); ``SOURCE_DATE_EPOCH`` fixes it (reproducible builds)."""
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    try:
        moment = datetime.fromtimestamp(int(epoch), timezone.utc) if epoch else None
    except (ValueError, OverflowError, OSError):
        raise ConfigError(f"SOURCE_DATE_EPOCH must be whole seconds; got {epoch[:40]!r}") from None
    moment = moment or datetime.now(timezone.utc)
    return moment.replace(microsecond=0).isoformat().replace("+00:00", "Z")


def run_record(results: Mapping[str, Any], where: str = "results.json") -> RunRecord:
    """The :class:`RunRecord` of a ``results.json`` document (checked, never trusted)."""
    try:
        inputs = _mapping(results, "inputs", where)
        analysis = _mapping(results, "analysis", where)
        wording = _mapping(results, "wording", where)
        labels = _mapping(results, "labels", where)
        effects = analysis.get("effects")
        if not isinstance(effects, list):
            raise ConfigError(f"{where}: 'analysis.effects' is not a list")
        rows = {e.get("estimand"): e for e in effects if isinstance(e, Mapping)}
        run = results.get("run")
        return RunRecord(
            date=_text(run.get("date"), where) if isinstance(run, Mapping) else None,
            data_file=_text(inputs.get("data_file"), where),
            data_sha256=_text(inputs.get("data_sha256"), where),
            n=_count(analysis.get("n"), "analysis.n", where),
            scale=_text(analysis.get("scale"), where),
            conf_level=_number(analysis.get("conf_level"), "analysis.conf_level", where) or 0.95,
            roles=tuple(  # type: ignore[arg-type]
                _text(_mapping(labels, role, where).get("column"), where)
                for role in ("treatment", "mediator", "outcome")
            ),
            estimates={key: _estimate(rows.get(key), key, where) for key in HEADLINE},
            recommendation=_text(wording.get("recommendation_strength"), where),
            robustness=_text(wording.get("robustness"), where),
            pm_stable=bool(wording.get("proportion_mediated_stable")),
        )
    except RecursionError:
        raise ConfigError(f"{where} is nested too deeply to be a medbook results file") from None


def read_previous(path: Path) -> Previous:
    """Read the earlier run from a memo folder or its ``results.json``.

    Parameters
    ----------
    path : pathlib.Path
        A memo output folder (its ``results.json`` and, if present, ``history.json``
        are read) or a ``results.json`` file.

    Raises
    ------
    ConfigError
        The path holds no results, or they are not a medbook results file.
    """
    path = Path(path)
    folder = path if path.is_dir() else path.parent
    results_file = path / RESULTS_NAME if path.is_dir() else path
    history_file = folder / HISTORY_NAME
    history: tuple[RunRecord, ...] = ()
    if path.is_dir() and history_file.is_file():
        rows = _load_json(history_file)
        if not isinstance(rows, list) or not rows:
            raise ConfigError(f"{HISTORY_NAME} in {str(folder)!r} is not a list of runs")
        history = tuple(_history_row(row, i) for i, row in enumerate(rows[-_MAX_RUNS:]))
    if results_file.is_file():
        record = run_record(_load_json(results_file), str(results_file.name))
    elif history:
        record = history[-1]
    else:
        raise ConfigError(
            f"previous run {str(path)!r} has no {RESULTS_NAME} or {HISTORY_NAME}"
        )
    return Previous(record=record, history=history, source=path)


def compare(previous: RunRecord, current: RunRecord) -> Comparison:
    """Line the new run's headline estimates up with the previous run's."""
    if previous.roles != current.roles:
        reason = (
            "the previous run analysed different columns "
            f"({', '.join(previous.roles)} instead of {', '.join(current.roles)})"
        )
    elif previous.scale != current.scale:
        reason = f"the previous run used the {previous.scale} scale, this one the {current.scale}"
    else:
        reason = ""
    changes = () if reason else tuple(
        Change(
            key=key,
            previous=previous.estimates[key],
            current=current.estimates[key],
            outside_previous_interval=_outside(previous.estimates[key], current.estimates[key]),
        )
        for key in HEADLINE
    )
    return Comparison(
        previous=previous,
        current=current,
        comparable=not reason,
        reason=reason,
        changes=changes,
        same_data=previous.data_sha256 == current.data_sha256,
        recommendation_changed=previous.recommendation != current.recommendation,
    )


def history_records(previous: Previous | None, current: RunRecord) -> list[RunRecord]:
    """The runs to keep after this one: the earlier history (or run), then this run.

    A previous run that analysed other columns or another scale starts a new history.
    """
    if previous is None or not compare(previous.record, current).comparable:
        return [current]
    earlier = list(previous.history) or [previous.record]
    return [*earlier, current][-_MAX_RUNS:]


def write_history(folder: Path, records: Sequence[RunRecord]) -> Path:
    """Write ``history.json`` (one object per run, oldest first) into ``folder``."""
    path = folder / HISTORY_NAME
    text = json.dumps([r.to_dict() for r in records], indent=2, ensure_ascii=False,
                      allow_nan=False)
    path.write_text(text + "\n", encoding="utf-8")
    return path


# --- checking untrusted earlier outputs -------------------------------------------------------

def _load_json(path: Path) -> Any:
    try:
        size = path.stat().st_size
        if size > _MAX_BYTES:
            raise ConfigError(f"{path.name} is {size:,} bytes, too large for medbook results")
        return json.loads(path.read_bytes().decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as err:
        raise ConfigError(f"{path.name} in {str(path.parent)!r} is not valid JSON: "
                          f"{str(err)[:80]}") from None
    except OSError as err:
        raise ConfigError(f"cannot read {str(path)!r}: {err.strerror or err}") from None


def _history_row(row: Any, index: int) -> RunRecord:
    where = f"{HISTORY_NAME} row {index + 1}"
    if not isinstance(row, Mapping):
        raise ConfigError(f"{where} is not an object")
    estimates = _mapping(row, "estimates", where)
    roles = row.get("roles")
    if not (isinstance(roles, list) and len(roles) == 3):
        raise ConfigError(f"{where}: 'roles' must list three columns")
    return RunRecord(
        date=_text(row.get("date"), where) if row.get("date") is not None else None,
        data_file=_text(row.get("data_file"), where),
        data_sha256=_text(row.get("data_sha256"), where),
        n=_count(row.get("n"), "n", where),
        scale=_text(row.get("scale"), where),
        conf_level=_number(row.get("conf_level"), "conf_level", where) or 0.95,
        roles=tuple(_text(r, where) for r in roles),  # type: ignore[arg-type]
        estimates={key: _estimate(estimates.get(key), key, where) for key in HEADLINE},
        recommendation=_text(row.get("recommendation"), where),
        robustness=_text(row.get("robustness"), where),
        pm_stable=bool(row.get("pm_stable")),
    )


def _mapping(parent: Mapping[str, Any], key: str, where: str) -> Mapping[str, Any]:
    value = parent.get(key) if isinstance(parent, Mapping) else None
    if not isinstance(value, Mapping):
        raise ConfigError(f"{where}: {key!r} is missing or not an object")
    return value


def _text(value: Any, where: str) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise ConfigError(f"{where}: expected text, got {type(value).__name__}")
    return value[:_TEXT_LIMIT]


def _number(value: Any, key: str, where: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ConfigError(f"{where}: {key!r} must be a finite number")
    return float(value)


def _count(value: Any, key: str, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ConfigError(f"{where}: {key!r} must be a non-negative whole number")
    return value


def _estimate(row: Any, key: str, where: str) -> Estimate:
    if row is None:
        return Estimate(None, None, None)
    if not isinstance(row, Mapping):
        raise ConfigError(f"{where}: estimate {key!r} is not an object")
    return Estimate(*(_number(row.get(f), f"{key}.{f}", where)
                      for f in ("estimate", "ci_lower", "ci_upper")))


def _outside(previous: Estimate, current: Estimate) -> bool | None:
    covered = previous.covers(current.estimate)
    return None if covered is None else not covered
