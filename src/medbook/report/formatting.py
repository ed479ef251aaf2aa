"""Numbers as the report prints them: fixed decimals, percentages, p-values, intervals."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from .ratios import format_ratio, is_ratio

__all__ = ["finite", "format_effect", "interval_text", "num", "p_text", "pct"]


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


def format_effect(value: float, scale: str, *, signed: bool = False) -> str:
    """Format an effect size on its scale.

    Risk differences are given in percentage points, other differences in
    outcome units with three decimals, ratios with two decimals.

    Examples
    --------
    >>> format_effect(0.0623, "risk difference")
    '6.2 percentage points'
    >>> format_effect(-1.5, "difference", signed=True)
    '-1.500'
    """
    if not finite(value):
        return "n/a"
    if is_ratio(scale):
        return format_ratio(value)
    if scale == "risk difference":
        text = f"{100 * value:{'+' if signed else ''}.1f}"
        return f"{text} percentage points" if not signed else f"{text} pp"
    return f"{value:{'+' if signed else ''}.3f}"


def interval_text(row: Mapping[str, Any], scale: str) -> str:
    """``"lower to upper"`` of a row, in percentage points for a risk difference."""
    lo, hi = row["ci_lower"], row["ci_upper"]
    if is_ratio(scale):
        return f"{format_ratio(lo)} to {format_ratio(hi)}"
    if scale == "risk difference":
        return f"{num(100 * lo, 1)} to {num(100 * hi, 1)}" if finite(lo) else "n/a"
    return f"{num(lo)} to {num(hi)}"
