"""Wording and sections for several mediators and post-treatment confounders.

A result with several mediators keeps the single-mediator sections (they word
the *joint* effects, with the mediators' labels joined) and adds
:func:`paths_section`: one sentence per sequential path-specific effect, e.g.
"through activation but not through usage". A result with post-treatment
confounders has no natural effects; :data:`INTERVENTIONAL_SECTIONS` replace the
effect, proportion, identification, sensitivity and recommendation sections by
ones that word the interventional effects for what they are.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from ..results import MediationResult
from . import wording
from .formatting import format_effect, interval_text

if TYPE_CHECKING:
    from .context import Inputs, Section

__all__ = [
    "design_of",
    "design_section",
    "direct_phrase",
    "joined",
    "path_phrase",
    "path_sentence",
    "sections_for",
]


def design_of(res: MediationResult) -> str:
    """``"single"``, ``"paths"`` (several mediators) or ``"interventional"``."""
    if res.spec.post_treatment:
        return "interventional"
    return "paths" if len(res.spec.mediators) > 1 else "single"


def joined(items: Sequence[str], word: str = "and") -> str:
    """``"a"``, ``"a and b"``, ``"a, b and c"``.

    Examples
    --------
    >>> joined(["usage", "activation", "seats"], "or")
    'usage, activation or seats'
    """
    items = list(items)
    if len(items) <= 1:
        return "".join(items)
    return f"{', '.join(items[:-1])} {word} {items[-1]}"


def path_phrase(index: int, mediators: Sequence[str]) -> str:
    """Where the path-specific effect of ``mediators[index]`` runs, in words.

    Mediators are in causal order; the effect through mediator ``k`` holds the
    earlier mediators at their control values and lets the later ones respond.

    Examples
    --------
    >>> path_phrase(1, ["usage", "activation"])
    'through activation but not through usage'
    >>> path_phrase(0, ["usage", "activation"])
    'through usage (including its effect via activation)'
    """
    earlier, later = mediators[:index], mediators[index + 1 :]
    text = f"through {mediators[index]}"
    if later:
        text += f" (including its effect via {joined(later)})"
    if earlier:
        text += f" but not through {joined(earlier, 'or')}"
    return text


def direct_phrase(mediators: Sequence[str]) -> str:
    """The direct path: ``"directly, not through usage or activation"``."""
    return f"directly, not through {joined(mediators, 'or')}"


def path_sentence(
    phrase: str, row: Mapping[str, Any], scale: str, conf_level: float, *,
    treatment: str, outcome: str,
) -> str:
    """One sentence on a path-specific effect, honest when the interval covers zero.

    Examples
    --------
    >>> row = {"estimate": 0.05, "ci_lower": 0.02, "ci_upper": 0.08}
    >>> text = path_sentence("through activation but not through usage", row,
    ...                      "risk difference", 0.95, treatment="The call", outcome="renewal")
    >>> text[:60]
    'The call increased renewal by 5.0 percentage points (95% CI '
    >>> text.endswith("(95% CI 2.0 to 8.0) through activation but not through usage.")
    True
    """
    ci = f"{100 * conf_level:g}% CI {interval_text(row, scale)}"
    direction = wording.classify(row)
    if direction == "inconclusive":
        return (
            f"The data do not show a clear effect of {treatment} on {outcome} {phrase}: the "
            f"estimate is {format_effect(row['estimate'], scale, signed=True)} and its {ci} "
            "includes zero."
        )
    verb = "increased" if direction == "positive" else "decreased"
    size = format_effect(abs(row["estimate"]), scale)
    return f"{treatment} {verb} {outcome} by {size} ({ci}) {phrase}."


def mediator_labels(inp: Inputs) -> list[str]:
    """Escaped display labels of the mediators, in causal order."""
    return [inp.escape(role.label) for role in inp.framing.mediators] or [
        inp.roles["mediator"]
    ]


def _paths(inp: Inputs) -> list[dict[str, Any]]:
    """One entry per path-specific effect: name, numbers and sentence."""
    res, labels = inp.res, mediator_labels(inp)
    rows = {r["key"]: r for r in inp.rows}
    order = [("pse(direct)", direct_phrase(labels))] + [
        (f"pse({column})", path_phrase(k, labels))
        for k, column in reversed(list(enumerate(res.spec.mediators)))
    ]
    conf = res.spec.conf_level
    return [
        {**rows[key], "phrase": phrase,
         "sentence": path_sentence(phrase, rows[key]["raw"], res.scale, conf,
                                   treatment=inp.roles["treatment"],
                                   outcome=inp.roles["outcome"])}
        for key, phrase in order
    ]


_MEMO_KEYS = {
    "single": ("te", "nde0", "nie1", "pm"),
    "paths": ("te", "nde0", "nie1", "pm"),
    "interventional": ("rte", "rnde0", "rnie1"),
}


def design_section(inp: Inputs) -> dict[str, Any]:
    """Which design the result has, its path-specific effects and its notes."""
    res = inp.res
    kind = design_of(res)
    design: dict[str, Any] = {
        "kind": kind,
        "mediators": joined(mediator_labels(inp)),
        "confounders": joined([inp.escape(r.label) for r in inp.framing.post_treatment]),
        "paths": _paths(inp) if kind == "paths" else [],
        "note": _interventional_note(inp) if kind == "interventional" else "",
        "sensitivity_note": str(res.details.get("sensitivity", "")),
    }
    return {"design": design, "memo_keys": list(_MEMO_KEYS[kind])}


def _interventional_note(inp: Inputs) -> str:
    roles, confounders = inp.roles, joined(
        [inp.escape(r.label) for r in inp.framing.post_treatment])
    return (
        f"{confounders} is affected by {roles['treatment']} and affects both "
        f"{roles['mediator']} and {roles['outcome']}, so natural direct and indirect effects "
        "are not identified. The effects below are randomised interventional effects "
        "(VanderWeele, Vansteelandt & Robins 2014): they compare the outcome when "
        f"{roles['mediator']} is drawn at random from its distribution under each arm, not "
        f"each unit's own {roles['mediator']}. They describe shifting the distribution of "
        f"{roles['mediator']} in the population, not a mechanism inside each unit."
    )


def _interventional_sentence(
    key: str, row: Mapping[str, Any], inp: Inputs
) -> str:
    roles, res = inp.roles, inp.res
    treat, med, out = roles["treatment"], roles["mediator"], roles["outcome"]
    phrase = {
        "rte": f"with {med} drawn at random from its distribution under each arm "
               "(the interventional total effect)",
        "rnie1": f"by shifting the distribution of {med} from the control arm's to the "
                 "treated arm's (the interventional indirect effect)",
        "rnde0": f"with {med} drawn from the control arm's distribution in both arms "
                 "(the interventional direct effect)",
    }[key]
    return path_sentence(phrase, row, res.scale, res.spec.conf_level,
                         treatment=treat, outcome=out)


def interventional_effects_section(inp: Inputs) -> dict[str, Any]:
    """Effects table and sentences of a result with post-treatment confounders."""
    res, raw = inp.res, inp.raw
    conf = res.spec.conf_level
    keys = {"te": "rte", "nie": "rnie1", "nde": "rnde0"}
    return {
        "scale": res.scale,
        "ratio": False,  # several mediators / interventional effects: difference scale only
        "unit": "percentage points" if res.scale == "risk difference" else "outcome units",
        "conf": f"{100 * conf:g}%",
        "effects": inp.rows,
        "effect": {r["key"]: r for r in inp.rows},
        "potential_outcomes": {},
        "directions": {k: wording.classify(raw[v]) for k, v in keys.items()},
        "sentences": {k: _interventional_sentence(v, raw[v], inp) for k, v in keys.items()},
        "raw": {"effects": raw, "potential_outcomes": dict(res.potential_outcomes)},
    }


def interventional_other_sections(inp: Inputs) -> dict[str, Any]:
    """Proportion, identification, sensitivity and recommendation without natural effects."""
    roles = inp.roles
    treat, med, out = roles["treatment"], roles["mediator"], roles["outcome"]
    confounders = joined([inp.escape(r.label) for r in inp.framing.post_treatment])
    randomized = inp.framing.randomized
    first = (
        f"No unmeasured confounding of {treat} with {confounders}, {med} or {out}: "
        + ("holds by design if assignment was randomised." if randomized
           else "treatment was not randomised, so this rests on the covariates.")
    )
    identification = [
        first,
        f"No unmeasured confounding of {med} and {out} given {treat}, {confounders} and "
        "the covariates.",
        f"No unmeasured confounding of {confounders} with {med} or {out} given {treat} and "
        "the covariates.",
        f"{confounders}, then {med}, are measured before {out}, and the models are correctly "
        "specified.",
    ]
    rnie = inp.raw["rnie1"]
    clear = wording.classify(rnie) != "inconclusive"
    text = (
        f"Shifting the distribution of {med} the way {treat} does moves {out} in these data, "
        f"so {med} is a candidate lever at the population level. It does not show that "
        f"{treat} works through {med} for individual units, and no sensitivity analysis "
        "covers these effects; before investing in the mechanism, test a change of "
        f"{med} directly."
        if clear else
        f"The data do not show that shifting the distribution of {med} moves {out}; do not "
        f"invest in {med} as the mechanism on this evidence."
    )
    note = str(inp.res.details.get("sensitivity", ""))
    return {
        "pm_stable": False,
        "identification": identification,
        "robustness": "not applicable" if not clear else "unknown",
        "recommendation": {"strength": "moderate" if clear else "none", "text": text},
        "sentences": {
            "pm": "A proportion mediated is not reported: natural effects are not identified.",
            "risk": f"{confounders} is a consequence of {treat} that confounds {med} and "
                    f"{out}; the analysis models it, but the effects are interventional, not "
                    "natural.",
            "sensitivity": f"Sensitivity analysis: {note}.",
        },
        "sensitivity": {"available": False, "rho_zero": "n/a", "rho_ci_zero": "n/a",
                        "robustness_value": "n/a"},
        "raw": {"rho_zero": None},
    }


def sections_for(res: MediationResult, base: Sequence[Section]) -> tuple[Section, ...]:
    """The section builders of a result's design (``base`` for one mediator)."""
    kind = design_of(res)
    if kind == "single":
        return (*base, design_section)
    if kind == "paths":
        return (*base, design_section)
    replaced = {"effects_section": interventional_effects_section}
    dropped = {"proportion_section", "identification_section", "sensitivity_section",
               "recommendation_section"}
    chosen = [replaced.get(s.__name__, s) for s in base if s.__name__ not in dropped]
    return (*chosen, interventional_other_sections, design_section)
