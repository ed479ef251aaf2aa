"""Turn mediation results into the words and numbers of the report and the memo.

The wording follows the results through small, separately testable rules:

* :func:`classify` — does an interval exclude zero, and in which direction?
* :func:`effect_sentence` — the sentence for one effect, honest when unclear;
* :func:`pm_assessment` — is the proportion mediated interpretable?
* :func:`robustness_level` — how much mediator–outcome confounding the indirect
  effect survives (from the correlation-of-errors sensitivity analysis);
* :func:`sensitivity_sentence` and :func:`recommendation`.

:func:`build_context` assembles a plain dict (numbers preformatted and raw);
:func:`render_report_markdown` and :func:`render_memo_markdown` fill
``templates/report.md.j2`` and ``templates/memo.md.j2`` with Jinja2
(``StrictUndefined``). Every user-supplied string (labels, column names, the
question) reaches a template only through the escaper of the output format.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import jinja2
import numpy as np
from markupsafe import Markup

from ..convert import escape_markdown
from ..errors import RenderError
from ..history import Comparison
from ..results import MediationResult, estimand_label
from ..study import Role, Study

__all__ = [
    "FIGURE_KEYS",
    "PM_MIN_TE_Z",
    "RHO_FRAGILE",
    "RHO_ROBUST",
    "PMAssessment",
    "SensitivitySummary",
    "build_context",
    "change_reasons",
    "changes_context",
    "classify",
    "context_for",
    "diagnostics_inputs",
    "effect_sentence",
    "format_effect",
    "pm_assessment",
    "recommendation",
    "render_memo_markdown",
    "render_report_markdown",
    "robustness_level",
    "sensitivity_sentence",
    "summarize_sensitivity",
    "template_dir",
    "template_environment",
]

Direction = Literal["positive", "negative", "inconclusive"]
Robustness = Literal["robust", "moderate", "fragile", "not applicable", "unknown"]
Escape = Callable[[object], str]

#: The total effect's |estimate| / standard error below which a proportion mediated is unstable.
PM_MIN_TE_Z = 3.0
#: |rho| at which the indirect effect vanishes: below RHO_FRAGILE it is fragile,
#: from RHO_ROBUST on robust, in between moderate (cf. Imai, Keele & Yamamoto 2010,
#: where rho around 0.3-0.4 counts as moderately robust).
RHO_FRAGILE = 0.15
RHO_ROBUST = 0.4

#: Figures the templates can show (relative paths; empty when absent).
FIGURE_KEYS = ("dag", "effects", "sensitivity", "mediator", "trend")



# --- formatting -----------------------------------------------------------------------------

def _finite(value: Any) -> bool:
    try:
        return math.isfinite(float(value))
    except (TypeError, ValueError):
        return False


def _num(value: Any, digits: int = 3) -> str:
    if not _finite(value):
        return "n/a"
    text = f"{float(value):.{digits}f}"
    return "0." + "0" * digits if text == "-0." + "0" * digits else text


def _pct(value: Any, digits: int = 1) -> str:
    return "n/a" if not _finite(value) else f"{100 * float(value):.{digits}f}%"


def _p(value: Any) -> str:
    if not _finite(value):
        return "n/a"
    return "< 0.001" if float(value) < 0.001 else f"{float(value):.3f}"


def format_effect(value: float, scale: str, *, signed: bool = False) -> str:
    """Format an effect size on its scale.

    Risk differences are given in percentage points, other differences in
    outcome units with three decimals.

    Examples
    --------
    >>> format_effect(0.0623, "risk difference")
    '6.2 percentage points'
    >>> format_effect(-1.5, "difference", signed=True)
    '-1.500'
    """
    if not _finite(value):
        return "n/a"
    if scale == "risk difference":
        text = f"{100 * value:{'+' if signed else ''}.1f}"
        return f"{text} percentage points" if not signed else f"{text} pp"
    return f"{value:{'+' if signed else ''}.3f}"


def _interval(row: Mapping[str, Any], scale: str) -> str:
    lo, hi = row["ci_lower"], row["ci_upper"]
    if scale == "risk difference":
        return f"{_num(100 * lo, 1)} to {_num(100 * hi, 1)}" if _finite(lo) else "n/a"
    return f"{_num(lo)} to {_num(hi)}"


# --- wording rules --------------------------------------------------------------------------

def classify(row: Mapping[str, Any]) -> Direction:
    """Whether an effect's interval lies above zero, below zero, or covers it.

    Examples
    --------
    >>> classify({"estimate": 0.2, "ci_lower": 0.05, "ci_upper": 0.3})
    'positive'
    >>> classify({"estimate": 0.2, "ci_lower": -0.05, "ci_upper": 0.3})
    'inconclusive'
    """
    lo, hi = row.get("ci_lower"), row.get("ci_upper")
    if not (_finite(lo) and _finite(hi)):
        return "inconclusive"
    if float(lo) > 0:
        return "positive"
    if float(hi) < 0:
        return "negative"
    return "inconclusive"


def effect_sentence(
    what: Literal["total", "indirect", "direct"],
    row: Mapping[str, Any],
    scale: str,
    conf_level: float,
    *,
    treatment: str,
    mediator: str,
    outcome: str,
) -> str:
    """One sentence on an effect: direction and size if the interval excludes zero, else honesty.

    Parameters
    ----------
    what : {"total", "indirect", "direct"}
        Which effect (the total effect, NIE(1) or NDE(0)).
    row : mapping
        ``estimate, ci_lower, ci_upper`` of the effect.
    scale : str
        ``"difference"`` or ``"risk difference"``.
    conf_level : float
        Confidence level of the interval.
    treatment, mediator, outcome : str
        Display labels (already escaped for the output format).

    Examples
    --------
    >>> row = {"estimate": 0.01, "ci_lower": -0.02, "ci_upper": 0.04}
    >>> effect_sentence("indirect", row, "risk difference", 0.95,
    ...                 treatment="T", mediator="M", outcome="Y")[:54]
    'The data do not show a clear indirect effect of T on Y'
    """
    conf = f"{100 * conf_level:g}%"
    est = row["estimate"]
    ci = f"{conf} CI {_interval(row, scale)}"
    name = {
        "total": f"total effect of {treatment} on {outcome}",
        "indirect": f"indirect effect of {treatment} on {outcome} through {mediator}",
        "direct": f"direct effect of {treatment} on {outcome} (not through {mediator})",
    }[what]
    direction = classify(row)
    if direction == "inconclusive":
        return (
            f"The data do not show a clear {name}: the estimate is "
            f"{format_effect(est, scale, signed=True)} and its {ci} includes zero."
        )
    verb = "increased" if direction == "positive" else "decreased"
    size = f"{format_effect(abs(est), scale)} ({ci})"
    if what == "total":
        return f"{treatment} {verb} {outcome} by {size}."
    if what == "indirect":
        return f"{treatment} {verb} {outcome} by {size} through {mediator}."
    return (
        f"{treatment} {verb} {outcome} by {size} through other pathways (the direct effect)."
    )


@dataclass(frozen=True)
class PMAssessment:
    """Whether the proportion mediated can be read as a share, and why not."""

    stable: bool
    reasons: tuple[str, ...] = ()


def pm_assessment(te: Mapping[str, Any], pm: Mapping[str, Any]) -> PMAssessment:
    """Flag the proportion mediated as unstable.

    It is unstable when the total effect's interval includes zero, when the
    total effect is small relative to its standard error
    (``|TE| / SE < PM_MIN_TE_Z``), or when the estimate falls outside [0, 1].

    Examples
    --------
    >>> te = {"estimate": 0.1, "std_error": 0.08, "ci_lower": -0.05, "ci_upper": 0.25}
    >>> pm_assessment(te, {"estimate": 0.4}).stable
    False
    """
    reasons = []
    if classify(te) == "inconclusive":
        reasons.append("the total effect's interval includes zero")
    te_se = te.get("std_error")
    if _finite(te_se) and float(te_se) > 0 and _finite(te["estimate"]):
        ratio = abs(float(te["estimate"])) / float(te_se)
        if ratio < PM_MIN_TE_Z and not reasons:
            reasons.append(
                f"the total effect is small relative to its standard error "
                f"(|TE|/SE = {ratio:.1f}, below {PM_MIN_TE_Z:g})"
            )
    value = pm.get("estimate")
    if not _finite(value):
        reasons.append("it cannot be computed (the total effect is zero)")
    elif not 0.0 <= float(value) <= 1.0:
        reasons.append(
            f"the estimate ({_pct(value)}) lies outside 0-100%, so the direct and indirect "
            "effects pull in opposite directions"
        )
    return PMAssessment(stable=not reasons, reasons=tuple(reasons))


def robustness_level(nie: Mapping[str, Any], rho_zero: float | None, available: bool) -> Robustness:
    """How robust a clear indirect effect is to mediator–outcome confounding.

    Parameters
    ----------
    nie : mapping
        The indirect effect's ``estimate, ci_lower, ci_upper``.
    rho_zero : float or None
        Error correlation at which the indirect effect is zero (None: never in (-1, 1)).
    available : bool
        Whether the sensitivity analysis could be computed.

    Returns
    -------
    {"robust", "moderate", "fragile", "not applicable", "unknown"}
        ``"not applicable"`` when the indirect effect is not clear to begin with.
    """
    if classify(nie) == "inconclusive":
        return "not applicable"
    if not available:
        return "unknown"
    if rho_zero is None:
        return "robust"
    size = abs(float(rho_zero))
    if size < RHO_FRAGILE:
        return "fragile"
    return "robust" if size >= RHO_ROBUST else "moderate"


@dataclass(frozen=True)
class SensitivitySummary:
    """Numbers of the sensitivity analysis the report quotes.

    Attributes
    ----------
    available : bool
        Whether the correlation-of-errors analysis ran.
    rho_zero : float or None
        Error correlation at which NIE(1) is zero (None if it never is).
    rho_ci_zero : float or None
        Smallest ``|rho|`` at which the NIE(1) interval includes zero.
    r2_star, r2_tilde : float or None
        The zero crossing as R²_M*·R²_Y* (share of the residual variances a
        confounder must explain) and R̃²_M·R̃²_Y (share of the total variances).
    robustness_value : float or None
        Bias-formula robustness value (smallest confounding strength moving the
        interval's limit to zero), if computed.
    robustness_sentence : str
        medbook's own sentence explaining ``robustness_value`` (no user text).
    note : str
        Why the analysis is unavailable, or a caveat it carries.
    """

    available: bool
    rho_zero: float | None = None
    rho_ci_zero: float | None = None
    r2_star: float | None = None
    r2_tilde: float | None = None
    robustness_value: float | None = None
    robustness_sentence: str = ""
    note: str = ""


def sensitivity_sentence(
    sens: SensitivitySummary, nie: Mapping[str, Any], *, mediator: str, outcome: str
) -> str:
    """The sensitivity sentence, quoting the computed threshold(s)."""
    if not sens.available:
        reason = f" ({sens.note})" if sens.note else ""
        return (
            "The correlation-of-errors sensitivity analysis is not available for this "
            f"model combination{reason}; the indirect effect's robustness to unmeasured "
            f"{mediator}–{outcome} confounding is unknown."
        )
    parts = []
    unclear = classify(nie) == "inconclusive"
    if sens.rho_zero is None:
        parts.append(
            "The indirect effect does not reach zero for any correlation rho between the "
            "mediator-model and outcome-model errors"
        )
    elif unclear:
        parts.append(
            "The indirect effect's interval already includes zero, so no unmeasured "
            f"confounding is needed to explain it away; its point estimate would be zero at "
            f"rho = {_num(sens.rho_zero, 2)}"
        )
    else:
        share = (
            f" (a confounder whose partial R² with the mediator times its partial R² with the "
            f"outcome reaches {_num(sens.r2_star)})"
            if sens.r2_star is not None else ""
        )
        parts.append(
            f"Unmeasured confounding of {mediator} and {outcome} would explain the indirect "
            f"effect away if it made the errors of the {mediator} and {outcome} models "
            f"correlate at rho = {_num(sens.rho_zero, 2)}{share}"
        )
    if not unclear and sens.rho_ci_zero is not None:
        parts.append(
            f"its interval would include zero from |rho| = "
            f"{_num(sens.rho_ci_zero, 2)} on"
        )
    sentence = "; ".join(parts) + "."
    if sens.robustness_sentence:
        check = sens.robustness_sentence
        sentence += f" Bias-formula check: {check[:1].lower()}{check[1:]}"
    return sentence


def summarize_sensitivity(res: MediationResult) -> tuple[SensitivitySummary, Any, Any]:
    """Run the sensitivity analyses of NIE(1) and collect the numbers the report quotes.

    Parameters
    ----------
    res : MediationResult

    Returns
    -------
    (SensitivitySummary, RhoSensitivity or None, Robustness or None)
        The summary, and the full results (for figures and ``results.json``).
    """
    from .. import sensitivity
    from ..errors import MedbookError

    try:
        robustness = sensitivity.robustness_value(res, "nie1")
    except MedbookError:
        robustness = None
    extra = {}
    if robustness is not None and _finite(robustness.value):
        extra = {"robustness_value": float(robustness.value),
                 "robustness_sentence": robustness.sentence}
    try:
        curve = sensitivity.rho(res)
    except (MedbookError, np.linalg.LinAlgError) as err:
        note = " ".join(str(err).split())
        return SensitivitySummary(available=False, note=note, **extra), None, robustness
    rho_zero = curve.zero_crossing.get("nie1")
    summary = SensitivitySummary(
        available=True,
        rho_zero=None if rho_zero is None else float(rho_zero),
        rho_ci_zero=curve.ci_covers_zero_from().get("nie1"),
        r2_star=curve.r2_star_product.get("nie1"),
        r2_tilde=curve.r2_tilde_product.get("nie1"),
        note=" ".join(curve.notes),
        **extra,
    )
    return summary, curve, robustness


def recommendation(
    te: Mapping[str, Any],
    nie: Mapping[str, Any],
    level: Robustness,
    pm: PMAssessment,
    *,
    mediator: str,
    treatment: str = "the treatment",
    outcome: str = "the outcome",
) -> tuple[str, str]:
    """The recommendation's strength and text.

    Returns
    -------
    (strength, text)
        ``strength`` is ``"strong"``, ``"moderate"``, ``"weak"`` or ``"none"``.
    """
    te_dir, nie_dir = classify(te), classify(nie)
    if nie_dir == "inconclusive":
        total = (
            "" if te_dir != "inconclusive"
            else " The data do not show a clear total effect either."
        )
        return "none", (
            f"The data do not show a clear indirect effect through {mediator}, so they do not "
            f"support investing in {mediator} as the mechanism.{total} Do not act on the "
            "mechanism on this evidence; if it matters, test it directly (manipulate "
            f"{mediator}, or collect a larger sample)."
        )
    opposite = te_dir != "inconclusive" and te_dir != nie_dir
    caveat = ""
    if te_dir == "inconclusive":
        caveat = (
            " The total effect itself is not clear, so a pathway through "
            f"{mediator} does not establish that the treatment works."
        )
    elif opposite:
        caveat = (
            f" The indirect effect through {mediator} runs against the total effect, "
            "so the mechanism does not explain why the treatment works."
        )
    direction = "raises" if nie_dir == "positive" else "lowers"
    if level == "robust" and pm.stable and not caveat:
        return "strong", (
            f"Treat {mediator} as a well-supported mechanism: {treatment} {direction} "
            f"{outcome} partly through it, and the conclusion survives substantial unmeasured "
            f"confounding. Acting on {mediator} is justified; confirm with a test that "
            f"manipulates {mediator} directly before large investments."
        )
    if level == "fragile":
        return "weak", (
            f"Treat {mediator} as a possible mechanism only: the indirect effect is clear in "
            "these data but would disappear under weak unmeasured confounding. Do not invest "
            f"on the mechanism alone; run a design that manipulates {mediator} or measures its "
            f"confounders first.{caveat}"
        )
    why = (
        "the sensitivity analysis could not be run" if level == "unknown"
        else "the share it explains is not stable" if not pm.stable and level == "robust"
        else "it is only moderately robust to unmeasured confounding"
    )
    return "moderate", (
        f"Treat {mediator} as a strong candidate mechanism, not as proven: the indirect effect "
        f"is clear in these data, but {why}. If the mechanism will drive investment, validate "
        f"it with a follow-up that manipulates {mediator} directly.{caveat}"
    )


_DIRECTION_WORDS = {
    "positive": "clearly positive",
    "negative": "clearly negative",
    "inconclusive": "not clearly different from zero",
}


def _then_now(row: Any, is_pm: bool) -> str:
    fmt = _pct if is_pm else _num
    if row.estimate is None:
        return "n/a"
    return f"{fmt(row.estimate)} ({fmt(row.ci_lower)} to {fmt(row.ci_upper)})"


def change_reasons(comparison: Comparison, *, mediator: str) -> list[str]:
    """Why the recommendation rule's inputs differ between the previous run and this one."""
    old, new = comparison.previous, comparison.current
    reasons = []
    for key, what in (("nie1", f"the indirect effect through {mediator}"),
                      ("te", "the total effect")):
        was, now = (classify(asdict(r.estimates[key])) for r in (old, new))
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


# --- context --------------------------------------------------------------------------------

def _effect_rows(res: MediationResult) -> list[dict[str, Any]]:
    table = res.to_frame()
    rows = []
    for record in table.to_dict("records"):
        key = str(record["estimand"])
        name = estimand_label(key)
        is_pm = key == "pm"
        fmt = _pct if is_pm else _num
        rows.append({
            "key": key,
            "name": name,
            "estimate": fmt(record["estimate"]),
            "std_error": fmt(record["std_error"]),
            "ci_lower": fmt(record["ci_lower"]),
            "ci_upper": fmt(record["ci_upper"]),
            "p_value": _p(record["p_value"]),
            "direction": classify(record),
            "raw": {k: (float(v) if _finite(v) else None) for k, v in record.items()
                    if k != "estimand"},
        })
    return rows


def _mark(value: Any) -> Any:
    """Mark our own (already escaped) strings as safe for the template finaliser."""
    if isinstance(value, str):
        return Markup(value)
    if isinstance(value, dict):
        return {k: _mark(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_mark(v) for v in value]
    return value


def _model_name(family: str, role: str) -> str:
    return {
        "linear": f"linear regression ({role} as continuous)",
        "logit": "logistic regression",
        "probit": "probit regression",
    }[family]


def _study_from_result(res: MediationResult) -> Study:
    spec = res.spec
    return Study(
        path=Path("."), data=Path("."),
        treatment=Role(spec.treatment, spec.treatment),
        mediator=Role(spec.mediator, spec.mediator),
        outcome=Role(spec.outcome, spec.outcome),
        covariates=tuple(spec.covariates),
    )


def diagnostics_inputs(res: MediationResult) -> tuple[list[str], list[dict[str, Any]], Any]:
    """Diagnostic warnings, covariate-balance rows ``{"covariate", "smd"}`` and the
    full :class:`medbook.diagnostics.Diagnostics`, as :func:`build_context` takes them."""
    from .. import diagnostics

    diag = diagnostics.diagnose(res)
    balance = [
        {"covariate": row["covariate"], "smd": row["smd"]}
        for row in diag.balance.to_dict("records")
    ]
    return list(diag.warnings), balance, diag


def context_for(res: MediationResult, study: Study | None = None) -> dict[str, Any]:
    """Run the sensitivity analysis and diagnostics and build the template context.

    The one-call route of the book's reporting chapter; :func:`medbook.memo.build_memo`
    runs the same steps one at a time (to show progress and keep the figures).

    Examples
    --------
    >>> import medbook
    >>> res = medbook.mediate(medbook.simulate.simulate_linear(), "treatment", "mediator",
    ...                       "outcome", ["x"], method="delta")
    >>> context_for(res)["recommendation"]["strength"] in {"strong", "moderate", "weak", "none"}
    True
    """
    sensitivity, _, _ = summarize_sensitivity(res)
    warnings, balance, _ = diagnostics_inputs(res)
    return build_context(
        res, study, sensitivity, diagnostics_warnings=warnings, balance=balance
    )


def build_context(
    res: MediationResult,
    study: Study | None,
    sensitivity: SensitivitySummary,
    *,
    diagnostics_warnings: Sequence[str] = (),
    balance: Sequence[Mapping[str, Any]] = (),
    figures: Mapping[str, str] | None = None,
    escape: Escape = escape_markdown,
    comparison: Comparison | None = None,
) -> dict[str, Any]:
    """Everything the templates need, as a plain dict.

    Parameters
    ----------
    res : MediationResult
        The analysis.
    study : medbook.study.Study or None
        Labels, question and options; None uses the column names as labels
        (as in the book, where no study file exists).
    sensitivity : SensitivitySummary
        Numbers from the sensitivity analysis.
    diagnostics_warnings : sequence of str
        Cautions from :func:`medbook.diagnostics.diagnose` (plain text; escaped here).
    balance : sequence of mapping
        Covariate balance rows ``{"covariate", "smd"}``.
    figures : mapping, optional
        Figure key (``dag``, ``effects``, ``sensitivity``, ``mediator``) -> relative path.
    escape : callable
        Escaper for user-supplied text in the target format (identity for plain text).
    comparison : medbook.history.Comparison, optional
        This run set against the previous memo's; adds the "What changed" section.

    Returns
    -------
    dict
        Strings are safe for the target format; ``raw`` entries hold the numbers.
    """
    if study is None:
        study = _study_from_result(res)
    labels = {
        role: escape(getattr(study, role).label) for role in ("treatment", "mediator", "outcome")
    }
    columns = {
        role: escape(getattr(study, role).column) for role in ("treatment", "mediator", "outcome")
    }
    spec = res.spec
    scale = res.scale
    rows = _effect_rows(res)
    by_key = {r["key"]: r for r in rows}
    raw = {r["key"]: {**r["raw"]} for r in rows}
    te, nie, nde, pm_row = raw["te"], raw["nie1"], raw["nde0"], raw["pm"]
    conf = spec.conf_level
    treat, med, out = labels["treatment"], labels["mediator"], labels["outcome"]
    roles = {"treatment": treat, "mediator": med, "outcome": out}
    pm_check = pm_assessment(te, pm_row)
    level = robustness_level(nie, sensitivity.rho_zero, sensitivity.available)
    strength, rec_text = recommendation(te, nie, level, pm_check, **roles)
    control_level, treated_level = res.data.treatment_levels
    n_control, n_treated = res.data.arm_sizes()
    interval_kind = {
        "percentile": "percentile bootstrap",
        "bca": "bias-corrected and accelerated (BCa) bootstrap",
        "normal": "normal-approximation (delta-method)",
    }.get(spec.ci, spec.ci)
    if spec.method == "quasi_bayes":
        interval_kind = "quasi-Bayesian simulation"
    method_text = {
        "bootstrap": f"nonparametric bootstrap with {res.n_replicates} successful replicates "
                     f"(of {spec.n_boot}; seed {spec.seed})",
        "quasi_bayes": f"quasi-Bayesian Monte Carlo with {res.n_replicates} draws "
                       f"(seed {spec.seed})",
        "delta": "the delta method",
    }[spec.method]
    covariate_text = (
        ", ".join(escape(c) for c in spec.covariates) if spec.covariates else "none"
    )
    pm_sentence = (
        f"The estimated share of the total effect that runs through {med} is "
        f"{by_key['pm']['estimate']} ({100 * conf:g}% CI {by_key['pm']['ci_lower']} to "
        f"{by_key['pm']['ci_upper']})."
    )
    if pm_check.stable:
        pm_sentence += " The total effect is clearly estimated, so this share is interpretable."
    else:
        pm_sentence += (
            " Treat this share as unstable and do not quote it as a fraction of the effect: "
            + "; ".join(pm_check.reasons) + "."
        )
    identification = [
        (
            f"No unmeasured confounding of {treat} and {out}, or of {treat} and {med}: "
            + ("holds by design if assignment was randomised."
               if study.randomized
               else "treatment was not randomised, so this rests on the covariates.")
        ),
        (
            f"No unmeasured confounding of {med} and {out} given {treat} and the covariates: "
            f"{med} was not randomised, so this is the main identifying risk."
        ),
        (
            f"No confounder of {med} and {out} that is itself affected by {treat} "
            "(no post-treatment confounding)."
        ),
        f"{med} is measured before {out}, and the models are correctly specified.",
    ]
    risk = (
        f"{treat} was {'randomised' if study.randomized else 'not randomised'}, but {med} "
        f"was not. The decomposition assumes no unmeasured {med}–{out} confounding after "
        "conditioning on the measured covariates."
    )
    sens_text = sensitivity_sentence(sensitivity, nie, mediator=med, outcome=out)
    warnings_all = list(dict.fromkeys(escape(w) for w in [*res.warnings, *diagnostics_warnings]))
    dropped = res.data.n_dropped
    context = {
        "title": (
            escape(study.title) if study.title else f"Mediation readout: {treat} through {med}"
        ),
        "question": escape(study.question) if study.question else (
            f"How much of the effect of {treat} on {out} operates through {med}?"
        ),
        "population": escape(study.population) if study.population else "",
        "labels": labels,
        "columns": columns,
        "covariates": covariate_text,
        "n": f"{res.n:,}",
        "n_dropped": f"{dropped:,}",
        "dropped_note": (
            f"{dropped:,} row(s) with missing values were dropped (--drop-missing)."
            if dropped else ""
        ),
        "arms": {
            "control": {"level": escape(control_level), "n": f"{n_control:,}"},
            "treated": {"level": escape(treated_level), "n": f"{n_treated:,}"},
        },
        "scale": scale,
        "unit": "percentage points" if scale == "risk difference" else "outcome units",
        "conf": f"{100 * conf:g}%",
        "effects": rows,
        "effect": by_key,
        "potential_outcomes": {k: _num(v) for k, v in res.potential_outcomes.items()},
        "sentences": {
            "te": effect_sentence("total", te, scale, conf, **roles),
            "nie": effect_sentence("indirect", nie, scale, conf, **roles),
            "nde": effect_sentence("direct", nde, scale, conf, **roles),
            "pm": pm_sentence,
            "sensitivity": sens_text,
            "risk": risk,
        },
        "pm_stable": pm_check.stable,
        "directions": {"te": classify(te), "nie": classify(nie), "nde": classify(nde)},
        "robustness": level,
        "recommendation": {"strength": strength, "text": rec_text},
        "changes": changes_context(comparison, mediator=med, escape=escape),
        "identification": identification,
        "estimation": {
            "mediator_model": _model_name(spec.mediator_model, "mediator"),
            "outcome_model": _model_name(spec.outcome_model, "outcome"),
            "interaction": "with" if spec.interaction else "without",
            "method": method_text,
            "interval": interval_kind,
            "cde_at": ", ".join(_num(v, 3).rstrip("0").rstrip(".") for v in spec.cde_at),
            "mediator_kind": res.data.mediator_kind,
            "outcome_kind": res.data.outcome_kind,
        },
        "sensitivity": {
            "available": sensitivity.available,
            "rho_zero": _num(sensitivity.rho_zero, 2) if sensitivity.rho_zero is not None
            else "none in (-1, 1)",
            "rho_ci_zero": _num(sensitivity.rho_ci_zero, 2)
            if sensitivity.rho_ci_zero is not None else "n/a",
            "robustness_value": _num(sensitivity.robustness_value, 2)
            if sensitivity.robustness_value is not None else "n/a",
        },
        "warnings": warnings_all,
        "balance": [
            {"covariate": escape(b["covariate"]), "smd": _num(b["smd"])} for b in balance
        ],
        "figures": {key: (figures or {}).get(key, "") for key in FIGURE_KEYS},
        "raw": {
            "effects": raw,
            "potential_outcomes": dict(res.potential_outcomes),
            "rho_zero": sensitivity.rho_zero,
        },
    }
    marked = _mark({k: v for k, v in context.items() if k != "raw"})
    marked["raw"] = context["raw"]
    return marked


# --- rendering ------------------------------------------------------------------------------

def template_dir() -> Path:
    """Folder holding the Jinja templates.

    Looked up in order: ``$MEDBOOK_TEMPLATES``, then the templates shipped inside the
    package (``src/medbook/templates``, which the repository's ``templates/`` links to).

    Raises
    ------
    RenderError
        If no folder with ``report.md.j2`` is found.
    """
    candidates = []
    if os.environ.get("MEDBOOK_TEMPLATES"):
        candidates.append(Path(os.environ["MEDBOOK_TEMPLATES"]))
    candidates.append(Path(str(resources.files("medbook") / "templates")))
    for folder in candidates:
        if (folder / "report.md.j2").is_file():
            return folder
    raise RenderError(
        "report templates not found (looked in "
        + ", ".join(str(c) for c in candidates) + "); set MEDBOOK_TEMPLATES"
    )


def _finalize_with(escape: Escape) -> Callable[[Any], str]:
    def finalize(value: Any) -> str:
        if isinstance(value, Markup):
            return str(value)
        if isinstance(value, bool) or value is None:
            return escape(str(value))
        if isinstance(value, (int, float)):
            return str(value)
        return escape(value)

    return finalize


@cache
def template_environment(kind: Literal["markdown", "html", "typst"]) -> jinja2.Environment:
    """Jinja environment for one output format.

    Unknown variables raise (``StrictUndefined``). Any plain string printed by a
    template is escaped for the format; our own preformatted text is passed as
    :class:`markupsafe.Markup`.
    """
    from ..convert import escape_html, escape_typst

    escape = {"markdown": escape_markdown, "html": escape_html, "typst": escape_typst}[kind]
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(template_dir())),
        undefined=jinja2.StrictUndefined,
        autoescape=False,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
        finalize=_finalize_with(escape),
    )


def _render(name: str, kind: Literal["markdown", "html", "typst"], context: Mapping) -> str:
    try:
        return template_environment(kind).get_template(name).render(**context)
    except jinja2.TemplateError as err:
        raise RenderError(f"template {name} failed: {err}") from err


def render_report_markdown(context: Mapping[str, Any]) -> str:
    """The full mediation report (seven sections) as pandoc Markdown."""
    return _render("report.md.j2", "markdown", context)


def render_memo_markdown(context: Mapping[str, Any]) -> str:
    """The one-page decision memo as pandoc Markdown."""
    return _render("memo.md.j2", "markdown", context)
