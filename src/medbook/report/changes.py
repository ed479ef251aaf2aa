"""The "What changed since the previous memo" section (issue 13's memo history).

:func:`changes_context` words a :class:`medbook.history.Comparison`;
:func:`changes_section` is its builder in :data:`medbook.report.context.SECTIONS`.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import TYPE_CHECKING, Any

from ..convert import escape_markdown
from ..history import Comparison
from ..numformat import row_formatter
from ..results import estimand_label
from .formatting import pct
from .ratios import is_ratio, on_log
from .wording import classify

if TYPE_CHECKING:
    from .context import Escape, Inputs

__all__ = ["change_reasons", "changes_context", "changes_section"]

_DIRECTION_WORDS = {
    "positive": "clearly positive",
    "negative": "clearly negative",
    "inconclusive": "not clearly different from zero",
}


def _then_now(row: Any, is_pm: bool) -> str:
    values = (row.estimate, row.ci_lower, row.ci_upper)
    fmt = pct if is_pm else row_formatter([v for v in values if v is not None])
    if row.estimate is None:
        return "n/a"
    return f"{fmt(row.estimate)} ({fmt(row.ci_lower)} to {fmt(row.ci_upper)})"


def _judged(row: dict[str, Any], scale: str) -> dict[str, Any]:
    """Ratios are judged on the log scale (no effect at 1)."""
    return on_log(row) if is_ratio(scale) else row


def change_reasons(comparison: Comparison, *, mediator: str) -> list[str]:
    """Why the recommendation rule's inputs differ between the previous run and this one."""
    old, new = comparison.previous, comparison.current
    reasons = []
    for key, what in (("nie1", f"the indirect effect through {mediator}"),
                      ("te", "the total effect")):
        was, now = (classify(_judged(asdict(r.estimates[key]), r.scale)) for r in (old, new))
        if was != now:
            reasons.append(f"{what} was {_DIRECTION_WORDS[was]} and is now {_DIRECTION_WORDS[now]}")
    if old.robustness != new.robustness:
        reasons.append(
            f"its robustness to unmeasured confounding moved from {old.robustness} "
            f"to {new.robustness}"
        )
    if old.pm_stable != new.pm_stable:
        reasons.append(
            "the proportion mediated is now " + ("interpretable" if new.pm_stable else "unstable")
        )
    return reasons


def changes_context(
    comparison: Comparison | None, *, mediator: str, escape: Escape = escape_markdown
) -> dict[str, Any] | None:
    """The "What changed since the previous memo" section (None without a previous run)."""
    if comparison is None:
        return None
    old, new = comparison.previous, comparison.current
    when = f"run {old.date[:10]}" if old.date else "run date not recorded"
    data = (
        "on the same data" if comparison.same_data
        else f"on other data ({old.n:,} units in {escape(old.data_file)} then, {new.n:,} now)"
    )
    intro = f"The previous memo ({when}) was computed {data}."
    if not comparison.comparable:
        return {"intro": intro, "rows": [],
                "recommendation": f"Its estimates are not compared: {comparison.reason}."}
    rows = [{
        "name": estimand_label(change.key),
        "previous": _then_now(change.previous, change.key == "pm"),
        "current": _then_now(change.current, change.key == "pm"),
        "moved": {True: "yes", False: "no", None: "n/a"}[change.outside_previous_interval],
    } for change in comparison.changes]
    if not comparison.recommendation_changed:
        verdict = f"The recommendation is unchanged ({new.recommendation})."
    else:
        reasons = change_reasons(comparison, mediator=mediator)
        why = "; ".join(reasons) if reasons else "the evidence behind it shifted"
        verdict = (
            f"The recommendation changed from {old.recommendation} to {new.recommendation}: "
            f"{why}."
        )
    return {"intro": intro, "rows": rows, "recommendation": verdict}


def changes_section(inp: Inputs) -> dict[str, Any]:
    """``changes``: the comparison with the previous memo, or None."""
    return {"changes": changes_context(
        inp.comparison, mediator=inp.roles["mediator"], escape=inp.escape
    )}
