"""The sentences medbook writes about sensitivity analyses.

:mod:`medbook.sensitivity` returns numbers and codes; this module turns them
into English (the notes, headline and robustness sentences of its results, and
the report's sensitivity sentence). Each function takes plain values, so a
wording rule can be tested without running an analysis.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from .. import results
from ..numformat import format_level
from .formatting import num
from .wording import classify

if TYPE_CHECKING:
    from ..sensitivity.bias import Robustness
    from ..sensitivity.problem import Note
    from .readout import SensitivitySummary

__all__ = [
    "bias_assumptions",
    "estimand_label",
    "model_pair",
    "rho_headline",
    "rho_interval",
    "rho_note",
    "robustness_sentence",
    "sensitivity_sentence",
]


_RHO_NOTES = {
    "binary_mediator": (
        "Binary mediator: probit latent mediator with medsens' control-function "
        "re-estimation of the outcome model. medsens reports the mean of its "
        "simulation draws; this curve is evaluated at the estimates (equal up to "
        "Monte Carlo error). With an interaction, NDE(t) = beta_T + theta * "
        "mean(P(M(t) = 1)); medsens' direct-effect code indexes one draw's linear "
        "predictor there, so its NDE curves can differ."
    ),
    "binary_outcome": (
        "Binary outcome: probit latent outcome, structural coefficients recovered in "
        "closed form (Imai, Keele & Tingley 2010). The implied correlation uses "
        "sigma*g / sqrt(1 + sigma^2 g^2); medsens 4.x writes sigma*g / (1 + |sigma*g|), "
        "which makes its curve differ from the fitted model's estimate even at rho = 0."
    ),
    "interaction_extension": (
        "The treatment-mediator interaction is handled by the same latent-variable "
        "algebra (medsens refuses this case)."
    ),
    "binary_binary": (
        "Binary mediator and outcome: bivariate normal latent-variable model with rho "
        "fixed, fitted by two-step maximum likelihood (an extension; R's medsens does "
        "not cover this combination)."
    ),
}

_RHO_INTERVALS = {
    "sur_delta": "delta method with the SUR covariance at each rho (as medsens), normal",
    "latent_delta": (
        "delta method over the mediator- and outcome-model covariances (mediator-model "
        "uncertainty propagated through the re-estimated outcome model), normal"
    ),
}

_BIAS_ASSUMPTIONS = (
    "U is a binary (or, with delta read as a mean difference, continuous) unmeasured "
    "confounder of the mediator-outcome relation; treatment is randomised given the covariates.",
    "gamma, the effect of U on the outcome, is the same at every treatment and mediator level "
    "(no U x treatment or U x mediator interaction).",
    "delta, the difference in P(U = 1) (or in the mean of U) between treated and control "
    "units with the same mediator value and covariates, is the same at every mediator level.",
    "Then NDE_true = NDE_observed - gamma*delta and NIE_true = NIE_observed + gamma*delta "
    "(VanderWeele 2010, difference scale); intervals are shifted by the same amount, "
    "treating gamma and delta as known.",
)


def estimand_label(key: str) -> str:
    """Short name of a natural effect: the last word of :func:`medbook.results.estimand_label`.

    Examples
    --------
    >>> estimand_label("nie1")
    'NIE(1)'
    """
    return results.estimand_label(key).split()[-1]


def model_pair(kinds: tuple[str, str]) -> str:
    """``("binary", "continuous")`` -> ``"binary mediator, continuous outcome"``."""
    return f"{kinds[0]} mediator, {kinds[1]} outcome"


def rho_interval(method: str) -> str:
    """How the rho bands were computed, in words."""
    return _RHO_INTERVALS[method]


def rho_note(note: Note) -> str:
    """One caveat of the rho analysis as a sentence.

    Examples
    --------
    >>> from medbook.sensitivity.problem import Note
    >>> rho_note(Note("failed_rho", rho=(0.5, 0.75)))[:55]
    'The model could not be re-estimated at rho = 0.50, 0.75'
    """
    if note.code == "refit_probit":
        return (
            f"The {note.role} model was fitted as logit; the sensitivity analysis refits it as "
            "probit (the latent-normal formulation needs normal errors), so at rho = 0 "
            "the curve gives the probit model's estimate, not exactly the main estimate."
        )
    if note.code == "failed_rho":
        return (
            "The model could not be re-estimated at rho = "
            + ", ".join(f"{r:.2f}" for r in note.rho)
            + " (numerically degenerate); those rows are left empty."
        )
    return _RHO_NOTES[note.code]


def rho_headline(numbers: Mapping[str, Any]) -> str:
    """The sentence of :meth:`medbook.sensitivity.RhoSensitivity.headline`."""
    label, est, crossing = numbers["label"], numbers["estimate"], numbers["rho_at_zero"]
    if crossing is None:
        return (
            f"The {label} estimate ({est:.3g}) keeps its sign for every error "
            "correlation between -0.99 and 0.99."
        )
    signs = "" if crossing > 0 else ", with effects of opposite sign on the two"
    return (
        f"The {label} estimate ({est:.3g}) would fall to zero if the correlation "
        f"between the mediator and outcome errors reached {crossing:.2f}: an unmeasured "
        f"confounder would have to explain, for example, {abs(crossing):.0%} of the "
        f"residual variance of both the mediator and the outcome{signs} "
        f"(R\u00b2_M*\u00b7R\u00b2_Y* = {format_level(numbers['r2_star_product'])}; as shares "
        "of the total variances, "
        f"R\u0303\u00b2_M\u00b7R\u0303\u00b2_Y = {format_level(numbers['r2_tilde_product'])})."
    )


_RATIO_BIAS_ASSUMPTIONS = (
    "U is a binary unmeasured confounder of the mediator-outcome relation; treatment is "
    "randomised given the covariates.",
    "gamma, the ratio by which U = 1 multiplies the outcome mean, is the same at every "
    "treatment and mediator level (no U x treatment or U x mediator interaction).",
    "delta, the difference in P(U = 1) between treated and control units with the same "
    "mediator value and covariates, is the same at every mediator level; the less prevalent "
    "group's prevalence is set to 0 (the largest bias for that delta).",
    "Then, with B = 1 + (gamma - 1) delta (or its reciprocal when delta < 0), "
    "NDE_true = NDE_observed / B and NIE_true = NIE_observed x B (VanderWeele 2010, ratio "
    "scale; approximate for odds ratios unless the outcome is rare); intervals are scaled "
    "by the same factor, treating gamma and delta as known.",
)


def bias_assumptions(multiplicative: bool = False) -> list[str]:
    """The conditions under which the bias formulas of ``bias_grid`` hold."""
    return list(_RATIO_BIAS_ASSUMPTIONS if multiplicative else _BIAS_ASSUMPTIONS)


def robustness_sentence(rob: Robustness) -> str:
    """One plain-language sentence on a :class:`medbook.sensitivity.Robustness`."""
    pct = f"{rob.conf_level:.0%}"
    label = estimand_label(rob.estimand)
    if rob.multiplicative:
        return _ratio_robustness_sentence(rob, pct, label)
    if rob.limit == 0.0:
        return (
            f"The {pct} confidence interval of the {label} already includes zero, so no "
            "unmeasured confounding is needed to make it compatible with no effect."
        )
    if rob.scale == "difference":
        unit = f"shift the outcome by {rob.value:.2f} standard deviations"
    else:
        unit = f"raise the outcome probability by {rob.value:.2f}"
    side = "lower" if rob.estimate > 0 else "upper"
    sentence = (
        f"To move the {side} {pct} confidence limit of the {label} to zero, an unmeasured "
        f"binary confounder would have to {unit} and differ in prevalence by "
        f"{rob.value * 100:.0f} percentage points between treated and control units with the "
        "same mediator value"
    )
    return sentence + (
        "; no single binary confounder can be that imbalanced." if rob.value > 1 else "."
    )


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
            f"rho = {num(sens.rho_zero, 2)}"
        )
    else:
        share = (
            f" (a confounder whose partial R² with the mediator times its partial R² with the "
            f"outcome reaches {format_level(sens.r2_star)})"
            if sens.r2_star is not None else ""
        )
        parts.append(
            f"Unmeasured confounding of {mediator} and {outcome} would explain the indirect "
            f"effect away if it made the errors of the {mediator} and {outcome} models "
            f"correlate at rho = {num(sens.rho_zero, 2)}{share}"
        )
    if not unclear and sens.rho_ci_zero is not None:
        parts.append(
            f"its interval would include zero from |rho| = "
            f"{num(sens.rho_ci_zero, 2)} on"
        )
    sentence = "; ".join(parts) + "."
    if sens.robustness_sentence:
        check = sens.robustness_sentence
        sentence += f" Bias-formula check: {check[:1].lower()}{check[1:]}"
    return sentence


def _ratio_robustness_sentence(rob: Robustness, pct: str, label: str) -> str:
    """The mediational E-value in words (Smith & VanderWeele 2019)."""
    if rob.limit == 1.0:
        return (
            f"The {pct} confidence interval of the {label} already includes 1 (no effect), so "
            "no unmeasured confounding is needed to make it compatible with no effect."
        )
    side = "lower" if rob.estimate > 1 else "upper"
    return (
        f"To move the {side} {pct} confidence limit of the {label} to 1 (no effect), an "
        "unmeasured confounder would have to multiply the outcome by "
        f"{rob.value:.2f} and be {rob.value:.2f} times as prevalent among treated as among "
        "control units with the same mediator value (the mediational E-value)."
    )
