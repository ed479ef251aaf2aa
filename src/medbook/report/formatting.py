"""Numbers as the report prints them: effects at the resolution of their intervals
(:mod:`medbook.numformat`), percentages, p-values, intervals."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

from ..numformat import row_formatter
from .ratios import format_ratio, is_ratio

__all__ = [
    "effect_formatter", "finite", "format_effect", "interval_text", "num", "p_text", "pct",
]


def finite(value: Any) -> bool:
    """Whether ``value`` converts to a finite float."""
    try:
        return math.isfinite(float(value))
    except (TypeError, ValueError):
        return False


def num(value: Any, digits: int = 3) -> str:
    """Fixed decimals, ``"n/a"`` when not finite, never ``-0.000``.

    Examples
    --------
    >>> num(-0.0001), num(float("nan")), num(1.23456, 2)
    ('0.000', 'n/a', '1.23')
    """
    if not finite(value):
        return "n/a"
    text = f"{float(value):.{digits}f}"
    return "0." + "0" * digits if text == "-0." + "0" * digits else text


def pct(value: Any, digits: int = 1) -> str:
    """A share as a percentage (``0.123`` -> ``"12.3%"``)."""
    return "n/a" if not finite(value) else f"{100 * float(value):.{digits}f}%"


def p_text(value: Any) -> str:
    """A p-value with three decimals, ``"< 0.001"`` below that."""
    if not finite(value):
        return "n/a"
    return "< 0.001" if float(value) < 0.001 else f"{float(value):.3f}"


def effect_formatter(row: Mapping[str, Any], scale: str) -> Callable[[Any], str]:
    """Formatter of an effect's numbers on its scale, at the resolution of its interval.

    See :mod:`medbook.numformat`: the usual decimals (3, or 1 for percentage
    points) unless the interval is too narrow to show with them.
    """
    factor, decimals = (100.0, 1) if scale == "risk difference" else (1.0, 3)
    values = [row.get(k) for k in ("estimate", "ci_lower", "ci_upper")]
    fmt = row_formatter([factor * float(v) for v in values if finite(v)], decimals)
    return lambda value: fmt(factor * float(value)) if finite(value) else "n/a"


def format_effect(
    value: float, scale: str, *, signed: bool = False, row: Mapping[str, Any] | None = None
) -> str:
    """Format an effect size on its scale.

    Risk differences are given in percentage points (one decimal), other
    differences in outcome units (three decimals), ratios with two decimals; when
    ``row`` (the effect's ``estimate, ci_lower, ci_upper``) has a narrower interval,
    as many more decimals as it takes to show it.

    Examples
    --------
    >>> format_effect(0.0623, "risk difference")
    '6.2 percentage points'
    >>> format_effect(-1.5, "difference", signed=True)
    '-1.500'
    >>> format_effect(2e-4, "difference", row={"estimate": 2e-4, "ci_lower": 1.2e-4,
    ...                                        "ci_upper": 2.9e-4})
    '0.00020'
    """
    if not finite(value):
        return "n/a"
    if is_ratio(scale):
        return format_ratio(value)
    text = effect_formatter(row or {"estimate": value}, scale)(value)
    if signed and not text.startswith("-"):
        text = "+" + text
    if scale == "risk difference":
        return f"{text} percentage points" if not signed else f"{text} pp"
    return text


def interval_text(row: Mapping[str, Any], scale: str) -> str:
    """``"lower to upper"`` of a row (percentage points for a risk difference), at the
    resolution of the interval."""
    lo, hi = row["ci_lower"], row["ci_upper"]
    if is_ratio(scale):
        return f"{format_ratio(lo)} to {format_ratio(hi)}"
    if not finite(lo):
        return "n/a"
    fmt = effect_formatter(row, scale)
    return f"{fmt(lo)} to {fmt(hi)}"
