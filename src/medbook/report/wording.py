"""Wording rules: the sentences the report and the memo write about a result.

Small, separately testable rules, each taking plain values (already escaped
labels, effect rows as mappings):

* :func:`classify` -- does an interval exclude zero, and in which direction?
* :func:`effect_sentence` -- the sentence for one effect, honest when unclear;
* :func:`pm_assessment` and :func:`pm_sentence` -- is the proportion mediated
  interpretable?
* :func:`robustness_level` -- how much mediator-outcome confounding the indirect
  effect survives (from the correlation-of-errors sensitivity analysis);
* :func:`recommendation`;
* :func:`identification`, :func:`main_risk`, :func:`method_text`,
  :func:`interval_kind`, :func:`model_name` -- how the analysis was done;
* :func:`sample_sentence` -- which parts used every row and which a random sample.

The sentences about sensitivity analyses live in
:mod:`medbook.report.sensitivity_wording`. A new estimand or scale adds its
rule here (or in a sibling module) and its section builder in
:mod:`medbook.report.context`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from .formatting import finite, format_effect, interval_text, pct
from .ratios import is_ratio, ratio_effect_sentence

__all__ = [
    "PM_MIN_TE_Z",
    "RHO_FRAGILE",
    "RHO_ROBUST",
    "Direction",
    "PMAssessment",
    "RobustnessLevel",
    "classify",
    "effect_sentence",
    "identification",
    "interval_kind",
    "main_risk",
    "method_text",
    "model_name",
    "pm_assessment",
    "pm_sentence",
    "recommendation",
    "robustness_level",
    "sample_sentence",
]

Direction = Literal["positive", "negative", "inconclusive"]
#: How robust the indirect effect is (not :class:`medbook.sensitivity.Robustness`, the
#: bias-formula result).
RobustnessLevel = Literal["robust", "moderate", "fragile", "not applicable", "unknown"]

#: The total effect's |estimate| / standard error below which a proportion mediated is unstable.
PM_MIN_TE_Z = 3.0
#: |rho| at which the indirect effect vanishes: below RHO_FRAGILE it is fragile,
#: from RHO_ROBUST on robust, in between moderate (cf. Imai, Keele & Yamamoto 2010,
#: where rho around 0.3-0.4 counts as moderately robust).
RHO_FRAGILE = 0.15
RHO_ROBUST = 0.4


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
    if not (finite(lo) and finite(hi)):
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
    if is_ratio(scale):
        return ratio_effect_sentence(what, row, scale, conf_level, treatment=treatment,
                                     mediator=mediator, outcome=outcome)
    conf = f"{100 * conf_level:g}%"
    est = row["estimate"]
    ci = f"{conf} CI {interval_text(row, scale)}"
    name = {
        "total": f"total effect of {treatment} on {outcome}",
        "indirect": f"indirect effect of {treatment} on {outcome} through {mediator}",
        "direct": f"direct effect of {treatment} on {outcome} (not through {mediator})",
    }[what]
    direction = classify(row)
    if direction == "inconclusive":
        return (
            f"The data do not show a clear {name}: the estimate is "
            f"{format_effect(est, scale, signed=True, row=row)} and its {ci} includes zero."
        )
    verb = "increased" if direction == "positive" else "decreased"
    size = f"{format_effect(abs(est), scale, row=row)} ({ci})"
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
    if finite(te_se) and float(te_se) > 0 and finite(te["estimate"]):
        ratio = abs(float(te["estimate"])) / float(te_se)
        if ratio < PM_MIN_TE_Z and not reasons:
            reasons.append(
                f"the total effect is small relative to its standard error "
                f"(|TE|/SE = {ratio:.1f}, below {PM_MIN_TE_Z:g})"
            )
    value = pm.get("estimate")
    if not finite(value):
        reasons.append("it cannot be computed (the total effect is zero)")
    elif not 0.0 <= float(value) <= 1.0:
        reasons.append(
            f"the estimate ({pct(value)}) lies outside 0-100%, so the direct and indirect "
            "effects pull in opposite directions"
        )
    return PMAssessment(stable=not reasons, reasons=tuple(reasons))


def robustness_level(
    nie: Mapping[str, Any], rho_zero: float | None, available: bool
) -> RobustnessLevel:
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



def recommendation(
    te: Mapping[str, Any],
    nie: Mapping[str, Any],
    level: RobustnessLevel,
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



def pm_sentence(
    pm: Mapping[str, str], check: PMAssessment, conf_level: float, *, mediator: str
) -> str:
    """The proportion-mediated sentence from its formatted ``estimate, ci_lower, ci_upper``."""
    sentence = (
        f"The estimated share of the total effect that runs through {mediator} is "
        f"{pm['estimate']} ({100 * conf_level:g}% CI {pm['ci_lower']} to {pm['ci_upper']})."
    )
    if check.stable:
        return sentence + " The total effect is clearly estimated, so this share is interpretable."
    return sentence + (
        " Treat this share as unstable and do not quote it as a fraction of the effect: "
        + "; ".join(check.reasons) + "."
    )


def identification(randomized: bool, *, treatment: str, mediator: str, outcome: str) -> list[str]:
    """The identification assumptions, one sentence each."""
    treat, med, out = treatment, mediator, outcome
    return [
        (
            f"No unmeasured confounding of {treat} and {out}, or of {treat} and {med}: "
            + ("holds by design if assignment was randomised."
               if randomized
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


def main_risk(randomized: bool, *, treatment: str, mediator: str, outcome: str) -> str:
    """The main identifying risk of a mediation analysis."""
    return (
        f"{treatment} was {'randomised' if randomized else 'not randomised'}, but {mediator} "
        f"was not. The decomposition assumes no unmeasured {mediator}–{outcome} confounding "
        "after conditioning on the measured covariates."
    )


def method_text(method: str, n_replicates: int, n_boot: int, seed: int | None) -> str:
    """How uncertainty was computed, with the replicate count and seed."""
    return {
        "bootstrap": f"nonparametric bootstrap with {n_replicates} successful replicates "
                     f"(of {n_boot}; seed {seed})",
        "quasi_bayes": f"quasi-Bayesian Monte Carlo with {n_replicates} draws (seed {seed})",
        "delta": "the delta method",
    }[method]


def interval_kind(method: str, ci: str) -> str:
    """The kind of interval reported."""
    if method == "quasi_bayes":
        return "quasi-Bayesian simulation"
    return {
        "percentile": "percentile bootstrap",
        "bca": "bias-corrected and accelerated (BCa) bootstrap",
        "normal": "normal-approximation (delta-method)",
    }.get(ci, ci)


def model_name(family: str, role: str) -> str:
    """``"logit"`` -> ``"logistic regression"`` etc."""
    return {
        "linear": f"linear regression ({role} as continuous)",
        "logit": "logistic regression",
        "probit": "probit regression",
        "poisson": "Poisson regression (log link)",
        "negbin": "negative binomial (NB2) regression (log link, estimated dispersion)",
    }[family]


def sample_sentence(n_rows: int, n_sample: int) -> str:
    """The rows behind each part of a readout whose row-level parts ran on a random sample.

    Examples
    --------
    >>> sample_sentence(2_500_000, 200_000)[:55]
    'The headline estimates and intervals use all 2,500,000 '
    """
    return (
        f"The headline estimates and intervals use all {n_rows:,} rows (computed on the Dask "
        f"cluster); the sensitivity analysis, the diagnostics and the mediator-by-arm figure use "
        f"a random sample of {n_sample:,} of these rows."
    )
