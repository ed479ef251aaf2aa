"""The analysis options in one table: allowed values, default and range.

:func:`medbook.mediate`, study files (:func:`medbook.study.load_study`) and
therefore ``medbook memo`` all validate through :data:`OPTIONS`, so the Python
and YAML routes accept exactly the same values and word their refusals the same
way -- the idea of scikit-learn's ``_param_validation``, sized to this project.

A new option is one :class:`Option` row (and a keyword of ``mediate``); a rule
that ties two options together goes into :func:`resolve`.
"""

from __future__ import annotations

import math
import reprlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from .errors import ConfigError


def _quote(value: Any, limit: int = 60) -> str:
    """A short ``repr`` of a user value for messages (nested values and long text cut)."""
    short = reprlib.Repr()
    short.maxlevel, short.maxlist, short.maxtuple, short.maxdict = 2, 4, 4, 4
    short.maxstring, short.maxother = limit, limit
    text = short.repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


__all__ = ["OPTIONS", "Option", "OptionError", "check", "resolve"]

Kind = Literal["choice", "integer", "number", "boolean", "numbers", "value"]
_SAME = object()


class OptionError(ValueError):
    """A value an :class:`Option` refuses; the message lacks the option's name."""


def _type_name(value: Any) -> str:
    return "null" if value is None else type(value).__name__


def _is_integer(value: Any) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


def _is_number(value: Any) -> bool:
    return _is_integer(value) or isinstance(value, (float, np.floating))


@dataclass(frozen=True)
class Option:
    """One analysis option.

    Attributes
    ----------
    name : str
        Keyword of :func:`medbook.mediate` and key of a study file.
    kind : {"choice", "integer", "number", "boolean", "numbers", "value"}
        ``numbers`` is one number or a list of finite numbers, ``value`` a single
        text, number or boolean.
    default : object
        Default of :func:`medbook.mediate`.
    help : str
        One line for the documentation.
    choices : tuple of str
        Allowed values of a ``choice`` (matched case-insensitively, ``-`` read as ``_``).
    low, high : float, optional
        Inclusive range of an ``integer`` or ``number``; ``high_open`` excludes ``high``.
    nullable : bool
        Whether None is a value (it then means "not set").
    many : bool
        Whether a list of values is accepted too (one per mediator).
    memo_default : object
        Default in a study file when it differs (a memo is always seeded).
    memo_low : int, optional
        Stricter lower bound in a study file (a memo quotes percentile limits).
    """

    name: str
    kind: Kind
    default: Any
    help: str
    choices: tuple[str, ...] = ()
    low: float | None = None
    high: float | None = None
    high_open: bool = False
    nullable: bool = False
    many: bool = False
    memo_default: Any = _SAME
    memo_low: int | None = None

    def study_default(self) -> Any:
        """The default in a study file."""
        return self.default if self.memo_default is _SAME else self.memo_default

    def check(self, value: Any, *, low: float | None = None) -> Any:
        """The normalised value; raises :class:`OptionError` when it is refused."""
        if value is None and self.nullable:
            return None
        if self.many and isinstance(value, (list, tuple)) and value:
            return tuple(self.check(v, low=low) for v in value)
        normal = getattr(self, f"_{self.kind}")(value)
        self._range(normal, self.low if low is None else low, value)
        return normal

    def _range(self, value: Any, low: float | None, shown: Any) -> None:
        if self.kind not in ("integer", "number") or (low is None and self.high is None):
            return
        too_high = self.high is not None and (
            value >= self.high if self.high_open else value > self.high
        )
        if (low is not None and value < low) or too_high:
            if self.kind == "number":
                raise OptionError(f"must be a number in {self._span(low)}, got {_quote(shown)}")
            raise OptionError(f"must be between {low} and {self.high}, got {_quote(shown)}")

    def _span(self, low: float | None) -> str:
        return f"[{low:g}, {self.high:g}{')' if self.high_open else ']'}"

    def _choice(self, value: Any) -> str:
        normal = value.lower().replace("-", "_") if isinstance(value, str) else value
        if normal not in self.choices:
            raise OptionError(f"must be one of {', '.join(self.choices)}; got {_quote(value)}")
        return normal

    def _integer(self, value: Any) -> int:
        if not _is_integer(value):
            raise OptionError(f"must be an integer, got {_type_name(value)}")
        return int(value)

    def _number(self, value: Any) -> float:
        if not _is_number(value) or not math.isfinite(value):
            raise OptionError(f"must be a number in {self._span(self.low)}, got {_quote(value)}")
        return float(value)

    def _boolean(self, value: Any) -> bool:
        if not isinstance(value, (bool, np.bool_)):
            raise OptionError(f"must be true or false, got {_type_name(value)}")
        return bool(value)

    def _numbers(self, value: Any) -> tuple[float, ...]:
        items = [value] if _is_number(value) else list(np.ravel(np.asarray(value, dtype=object)))
        if not all(_is_number(v) and math.isfinite(v) for v in items):
            raise OptionError(f"must be a number or a list of numbers, got {_quote(value)}")
        return tuple(dict.fromkeys(float(v) for v in items))

    def _value(self, value: Any) -> Any:
        if isinstance(value, np.generic):
            value = value.item()
        if not isinstance(value, (str, int, float, bool)):
            raise OptionError(f"must be a single value, got {_type_name(value)}")
        return value


_MODELS = ("auto", "linear", "logit", "probit")

#: Every analysis option, in the order of :func:`medbook.mediate`'s keywords.
OPTIONS: dict[str, Option] = {o.name: o for o in (
    Option("interaction", "boolean", False, "include the treatment x mediator product"),
    Option("mediator_model", "choice", "auto", "model of the mediator (or one per mediator)",
           _MODELS, many=True),
    Option("outcome_model", "choice", "auto", "model of the outcome (poisson, negbin: counts)",
           (*_MODELS, "poisson", "negbin")),
    Option("method", "choice", "bootstrap", "how uncertainty is computed",
           ("bootstrap", "quasi_bayes", "delta")),
    Option("n_boot", "integer", 1000, "bootstrap replicates or quasi-Bayesian draws",
           low=2, high=100_000, memo_low=50),
    Option("ci", "choice", "percentile", "bootstrap interval", ("percentile", "bca")),
    Option("conf_level", "number", 0.95, "confidence level", low=0.5, high=1.0, high_open=True),
    Option("cde_at", "numbers", None, "mediator values of controlled direct effects",
           nullable=True),
    Option("seed", "integer", None, "random seed", low=0, high=2**63 - 1, nullable=True,
           memo_default=1),
    Option("treated", "value", None,
           "treatment level of the treated arm (needed unless coded 0/1 or false/true)",
           nullable=True),
    Option("bootstrap_weights", "choice", "multinomial", "resampling weights",
           ("multinomial", "poisson")),
    Option("scale", "choice", "difference", "contrast of the potential-outcome means",
           ("difference", "ratio", "odds_ratio")),
    Option("auto_counts", "boolean", False,
           "let outcome_model auto fit Poisson to a non-negative integer outcome"),
)}


def check(name: str, value: Any) -> Any:
    """One option's normalised value; :class:`~medbook.errors.ConfigError` naming it if refused.

    Examples
    --------
    >>> check("method", "Quasi-Bayes")
    'quasi_bayes'
    """
    try:
        return OPTIONS[name].check(value)
    except OptionError as err:
        raise ConfigError(f"{name} {err}") from None


def resolve(values: Mapping[str, Any], *, study_file: str | None = None) -> dict[str, Any]:
    """Validate and normalise a set of options; missing ones take their default.

    Parameters
    ----------
    values : mapping
        Option name -> value (None in a study file means "default").
    study_file : str, optional
        Name of the study file the values come from: applies the study-file
        defaults and bounds (:attr:`Option.memo_default`, :attr:`Option.memo_low`)
        and names the file in errors.

    Returns
    -------
    dict
        Every option of :data:`OPTIONS`, normalised.

    Raises
    ------
    ConfigError
        Naming the first refused option.
    """
    memo = study_file is not None

    def label(name: str) -> str:
        return f"study file {study_file!r}: {name!r}" if memo else name

    out: dict[str, Any] = {}
    for name, option in OPTIONS.items():
        value = values.get(name)
        if value is None and (memo or name not in values):
            out[name] = option.study_default() if memo else option.default
            continue
        low = option.memo_low if memo and option.memo_low is not None else None
        if name == "n_boot" and out["method"] == "delta":
            low = 0
        try:
            out[name] = option.check(value, low=low)
        except OptionError as err:
            raise ConfigError(f"{label(name)} {err}") from None
    if out["ci"] == "bca" and out["method"] != "bootstrap":
        raise ConfigError(f"{label('ci')} 'bca' needs method 'bootstrap'")
    return out
