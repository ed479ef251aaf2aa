"""Words for effects on a ratio scale: "1.18 times as likely", never percentage points.

:func:`medbook.mediate` with ``scale="ratio"`` or ``"odds_ratio"`` reports risk
ratios, rate ratios, ratios of means or odds ratios (``res.scale``). Their null
value is 1, they multiply, and they read as "times as likely / as high". The
report classifies a ratio's direction on the log scale (:func:`on_log`), so the
same rules as for differences apply with 1 in place of 0.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

__all__ = ["RATIO_SCALES", "format_ratio", "is_ratio", "on_log", "ratio_effect_sentence"]

RATIO_SCALES = ("risk ratio", "rate ratio", "ratio of means", "odds ratio")


def is_ratio(scale: str) -> bool:
    """Whether ``scale`` (a result's ``scale`` label) is multiplicative."""
    return scale in RATIO_SCALES


def _finite(value: Any) -> bool:
    try:
        return math.isfinite(float(value))
    except (TypeError, ValueError):
        return False


def format_ratio(value: Any) -> str:
    """A ratio with two decimals (``"n/a"`` when undefined).

    Examples
    --------
    >>> format_ratio(1.1834), format_ratio(float("nan"))
    ('1.18', 'n/a')
    """
    return f"{float(value):.2f}" if _finite(value) else "n/a"


def on_log(row: Mapping[str, Any]) -> dict[str, Any]:
    """The row with estimate and limits on the log scale (its ``std_error`` already is).

    Examples
    --------
    >>> on_log({"estimate": 1.0, "ci_lower": 0.5, "ci_upper": 2.0})["ci_lower"] < 0
    True
    """
    out = dict(row)
    for key in ("estimate", "ci_lower", "ci_upper"):
        value = row.get(key)
        out[key] = math.log(value) if _finite(value) and float(value) > 0 else float("nan")
    return out


def _phrase(value: float, scale: str, outcome: str) -> str:
    v = format_ratio(value)
    return {
        "risk ratio": f"{outcome} {v} times as likely",
        "rate ratio": f"the rate of {outcome} {v} times as high",
        "ratio of means": f"the mean of {outcome} {v} times as high",
        "odds ratio": f"the odds of {outcome} {v} times as high",
    }[scale]


def ratio_effect_sentence(
    what: str,
    row: Mapping[str, Any],
    scale: str,
    conf_level: float,
    *,
    treatment: str,
    mediator: str,
    outcome: str,
) -> str:
    """One sentence on a ratio effect: "T made Y 1.18 times as likely (95% CI ...)".

    Parameters are those of :func:`medbook.report.effect_sentence`.

    Examples
    --------
    >>> row = {"estimate": 1.18, "ci_lower": 1.10, "ci_upper": 1.27}
    >>> ratio_effect_sentence("total", row, "risk ratio", 0.95,
    ...                       treatment="Onboarding", mediator="M", outcome="renewal")
    'Onboarding made renewal 1.18 times as likely (95% CI 1.10 to 1.27).'
    """
    conf = f"{100 * conf_level:g}%"
    est, lo, hi = row["estimate"], row["ci_lower"], row["ci_upper"]
    ci = f"{conf} CI {format_ratio(lo)} to {format_ratio(hi)}"
    clear = _finite(lo) and _finite(hi) and (float(lo) > 1.0 or float(hi) < 1.0)
    if not clear:
        name = {
            "total": f"total effect of {treatment} on {outcome}",
            "indirect": f"indirect effect of {treatment} on {outcome} through {mediator}",
            "direct": f"direct effect of {treatment} on {outcome} (not through {mediator})",
        }[what]
        return (
            f"The data do not show a clear {name}: the estimated {scale} is "
            f"{format_ratio(est)} and its {ci} includes 1 (no effect)."
        )
    phrase = _phrase(float(est), scale, outcome)
    if what == "total":
        return f"{treatment} made {phrase} ({ci})."
    if what == "indirect":
        return f"{treatment} made {phrase} through {mediator} ({ci})."
    return f"{treatment} made {phrase} through other pathways (the direct effect; {ci})."
