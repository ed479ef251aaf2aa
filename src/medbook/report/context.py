"""The template context, built section by section.

:func:`build_context` hands one :class:`Inputs` to every builder in
:data:`SECTIONS` and merges the dicts they return (nested dicts such as
``sentences`` and ``raw`` are merged key by key). To add a section, write a
short ``builder(inputs) -> dict`` here or in a new module and pass
``sections=(*SECTIONS, builder)`` -- or append it to :data:`SECTIONS` when every
report should carry it. Strings are escaped for the output format on the way
in (``inputs.escape``) and marked safe; ``raw`` keeps the plain numbers.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, fields, replace
from functools import cached_property
from typing import Any

from markupsafe import Markup

from ..convert import escape_markdown
from ..history import Comparison
from ..numformat import format_level, row_formatter
from ..results import MediationResult, estimand_label
from ..sanitize import isolate
from ..study import Role
from . import wording
from .changes import changes_section
from .formatting import finite, num, p_text, pct
from .ratios import is_ratio, on_log
from .readout import SensitivitySummary, analyse
from .sensitivity_wording import sensitivity_sentence
from .sequential import joined, sections_for

__all__ = [
    "FIGURE_KEYS",
    "SECTIONS",
    "Framing",
    "Inputs",
    "build_context",
    "context_for",
]

Escape = Callable[[object], str]
Section = Callable[["Inputs"], dict[str, Any]]

#: Figures the templates can show (relative paths; empty when absent).
FIGURE_KEYS = ("dag", "effects", "sensitivity", "mediator", "trend")
_ROLES = ("treatment", "mediator", "outcome")


@dataclass(frozen=True)
class Framing:
    """Display labels and the decision question of a readout.

    :meth:`of` reads them from a :class:`medbook.study.Study` (or any object with
    the same attributes), or from the result's column names when there is none.
    """

    treatment: Role
    mediator: Role
    outcome: Role
    title: str = ""
    question: str = ""
    population: str = ""
    randomized: bool = True
    mediators: tuple[Role, ...] = ()
    post_treatment: tuple[Role, ...] = ()

    @classmethod
    def of(cls, source: Any, res: MediationResult) -> Framing:
        """The framing of ``source`` (a study or framing), or the columns of ``res`` if None.

        With several mediators, ``mediator`` carries their labels joined ("usage and
        activation"), so the sentences on the joint effects name the whole set.
        """
        spec = res.spec
        if source is None:
            framing = cls(*(Role(getattr(spec, r), getattr(spec, r)) for r in _ROLES))
        else:
            framing = cls(**{f.name: getattr(source, f.name, f.default) for f in fields(cls)})
        mediators = framing.mediators or tuple(Role(c, c) for c in spec.mediators)
        confounders = framing.post_treatment or tuple(Role(c, c) for c in spec.post_treatment)
        mediator = framing.mediator
        if len(mediators) > 1:
            mediator = Role(mediators[0].column, joined([m.label for m in mediators]))
        return replace(framing, mediator=mediator, mediators=mediators,
                       post_treatment=confounders)


@dataclass
class Inputs:
    """What every section builder reads; derived values are computed once."""

    res: MediationResult
    framing: Framing
    sensitivity: SensitivitySummary
    warnings: Sequence[str]
    balance: Sequence[Mapping[str, Any]]
    figures: Mapping[str, str]
    escape: Escape
    comparison: Comparison | None = None
    sample_rows: int | None = None

    @cached_property
    def roles(self) -> dict[str, str]:
        """Escaped display labels keyed ``treatment, mediator, outcome``."""
        return {r: self.escape(getattr(self.framing, r).label) for r in _ROLES}

    @cached_property
    def rows(self) -> list[dict[str, Any]]:
        """Formatted effect rows (with ``raw`` numbers)."""
        ratio = is_ratio(self.res.scale)
        return [_effect_row(r, ratio) for r in self.res.to_frame().to_dict("records")]

    @cached_property
    def raw(self) -> dict[str, dict[str, Any]]:
        """Plain numbers per estimand key."""
        return {r["key"]: {**r["raw"]} for r in self.rows}

    @cached_property
    def judged(self) -> dict[str, dict[str, Any]]:
        """The rows that directions are judged on: ratios on the log scale (null 0)."""
        ratio = is_ratio(self.res.scale)
        return {k: on_log(v) if ratio and k != "pm" else v for k, v in self.raw.items()}

    @cached_property
    def pm_check(self) -> wording.PMAssessment:
        return wording.pm_assessment(self.judged["te"], self.raw["pm"])

    @cached_property
    def level(self) -> wording.RobustnessLevel:
        return wording.robustness_level(
            self.judged["nie1"], self.sensitivity.rho_zero, self.sensitivity.available
        )


def _effect_row(record: Mapping[str, Any], ratio: bool) -> dict[str, Any]:
    key = str(record["estimand"])
    fmt = pct if key == "pm" else row_formatter(
        [record[k] for k in ("estimate", "ci_lower", "ci_upper")]
    )
    return {
        "key": key,
        "name": estimand_label(key),
        **{k: fmt(record[k]) for k in ("estimate", "std_error", "ci_lower", "ci_upper")},
        "p_value": p_text(record["p_value"]),
        "direction": wording.classify(on_log(record) if ratio and key != "pm" else record),
        "raw": {k: (float(v) if finite(v) else None) for k, v in record.items()
                if k != "estimand"},
    }


def framing_section(inp: Inputs) -> dict[str, Any]:
    """Title, question, population, labels and columns."""
    esc, f, roles = inp.escape, inp.framing, inp.roles
    covariates = inp.res.spec.covariates
    return {
        "title": esc(f.title) if f.title else (
            f"Mediation readout: {roles['treatment']} through {roles['mediator']}"
        ),
        "question": esc(f.question) if f.question else (
            f"How much of the effect of {roles['treatment']} on {roles['outcome']} operates "
            f"through {roles['mediator']}?"
        ),
        "population": esc(f.population) if f.population else "",
        "labels": roles,
        "columns": {r: esc(getattr(f, r).column) for r in _ROLES},
        "covariates": ", ".join(esc(c) for c in covariates) if covariates else "none",
    }


def sample_section(inp: Inputs) -> dict[str, Any]:
    """Rows used and dropped, and the two arms."""
    data = inp.res.data
    dropped = data.n_dropped
    levels, sizes = data.treatment_levels, data.arm_sizes()
    return {
        "n": f"{inp.res.n:,}",
        "n_dropped": f"{dropped:,}",
        "dropped_note": (
            f"{dropped:,} row(s) with missing values were dropped (--drop-missing)."
            if dropped else ""
        ),
        "arms": {
            arm: {"level": inp.escape(level), "n": f"{size:,}"}
            for arm, level, size in zip(("control", "treated"), levels, sizes, strict=True)
        },
    }


def effects_section(inp: Inputs) -> dict[str, Any]:
    """The effects table and the sentences on the total, indirect and direct effects."""
    res, raw = inp.res, inp.raw
    scale, conf = res.scale, res.spec.conf_level
    te, nie, nde = raw["te"], raw["nie1"], raw["nde0"]
    judged = inp.judged
    return {
        "scale": scale,
        "ratio": is_ratio(scale),
        "unit": (
            "percentage points" if scale == "risk difference"
            else "ratios; 1 means no effect" if is_ratio(scale) else "outcome units"
        ),
        "conf": f"{100 * conf:g}%",
        "effects": inp.rows,
        "effect": {r["key"]: r for r in inp.rows},
        "potential_outcomes": {k: format_level(v) for k, v in res.potential_outcomes.items()},
        "directions": {k: wording.classify(judged[key])
                       for k, key in (("te", "te"), ("nie", "nie1"), ("nde", "nde0"))},
        "sentences": {
            key: wording.effect_sentence(what, row, scale, conf, **inp.roles)
            for key, what, row in (("te", "total", te), ("nie", "indirect", nie),
                                   ("nde", "direct", nde))
        },
        "raw": {"effects": raw, "potential_outcomes": dict(res.potential_outcomes)},
    }


def proportion_section(inp: Inputs) -> dict[str, Any]:
    """Whether the proportion mediated is interpretable, and its sentence."""
    pm = next(r for r in inp.rows if r["key"] == "pm")
    text = wording.pm_sentence(
        pm, inp.pm_check, inp.res.spec.conf_level, mediator=inp.roles["mediator"]
    )
    return {"pm_stable": inp.pm_check.stable, "sentences": {"pm": text}}


def identification_section(inp: Inputs) -> dict[str, Any]:
    """The identification assumptions and the main identifying risk."""
    randomized = inp.framing.randomized
    return {
        "identification": wording.identification(randomized, **inp.roles),
        "sentences": {"risk": wording.main_risk(randomized, **inp.roles)},
    }


def _replicate_sentence(inp: Inputs) -> str:
    """" 995 of 1000 replicates were used, ..." (kept, limit fits, excluded and why)."""
    sentence = inp.res.accounting.sentence()
    return " " + inp.escape(sentence) if sentence else ""


def estimation_section(inp: Inputs) -> dict[str, Any]:
    """How the models were fitted and the uncertainty computed."""
    res, spec = inp.res, inp.res.spec
    return {"estimation": {
        "mediator_model": wording.model_name(spec.mediator_model, "mediator"),
        "outcome_model": wording.model_name(spec.outcome_model, "outcome"),
        "interaction": "with" if spec.interaction else "without",
        "method": wording.method_text(spec.method, res.n_replicates, spec.n_boot, spec.seed),
        "interval": wording.interval_kind(spec.method, spec.ci),
        "replicates": _replicate_sentence(inp),
        "cde_at": ", ".join(f"{v:.6g}" for v in spec.cde_at),
        "mediator_kind": res.data.mediator_kind,
        "outcome_kind": "count" if spec.outcome_model in ("poisson", "negbin")
        else res.data.outcome_kind,
    }}


def sensitivity_section(inp: Inputs) -> dict[str, Any]:
    """Robustness level, sensitivity sentence and thresholds."""
    sens = inp.sensitivity
    text = sensitivity_sentence(
        sens, inp.judged["nie1"], mediator=inp.roles["mediator"], outcome=inp.roles["outcome"]
    )
    return {
        "robustness": inp.level,
        "sentences": {"sensitivity": text},
        "sensitivity": {
            "available": sens.available,
            "rho_zero": num(sens.rho_zero, 2) if sens.rho_zero is not None else "none in (-1, 1)",
            "rho_ci_zero": num(sens.rho_ci_zero, 2) if sens.rho_ci_zero is not None else "n/a",
            "robustness_value": format_level(sens.robustness_value, 2)
            if sens.robustness_value is not None else "n/a",
        },
        "raw": {"rho_zero": sens.rho_zero},
    }


def recommendation_section(inp: Inputs) -> dict[str, Any]:
    """The recommendation's strength and text."""
    strength, text = wording.recommendation(
        inp.judged["te"], inp.judged["nie1"], inp.level, inp.pm_check, **inp.roles
    )
    return {"recommendation": {"strength": strength, "text": text}}


def diagnostics_section(inp: Inputs) -> dict[str, Any]:
    """Warnings (the result's and the diagnostics', once each) and covariate balance."""
    warnings = [*inp.res.warnings, *inp.warnings]
    return {
        "warnings": list(dict.fromkeys(inp.escape(w) for w in warnings)),
        "balance": [
            {"covariate": inp.escape(b["covariate"]), "smd": num(b["smd"])} for b in inp.balance
        ],
    }


def scope_section(inp: Inputs) -> dict[str, Any]:
    """Which parts used a random sample of the rows (empty when every part used all rows)."""
    sampled = inp.sample_rows is not None
    return {"sample_note": wording.sample_sentence(inp.res.n, inp.sample_rows) if sampled else ""}


def figures_section(inp: Inputs) -> dict[str, Any]:
    """Relative paths of the figures (empty when absent)."""
    return {"figures": {key: inp.figures.get(key, "") for key in FIGURE_KEYS}}


#: The builders of every report and memo, in order.
SECTIONS: tuple[Section, ...] = (
    framing_section, sample_section, effects_section, proportion_section,
    identification_section, estimation_section, sensitivity_section,
    recommendation_section, changes_section, diagnostics_section, scope_section, figures_section,
)


def _merge(parts: Iterable[dict[str, Any]]) -> dict[str, Any]:
    merged: dict[str, Any] = {}
    for part in parts:
        for key, value in part.items():
            if isinstance(value, dict) and isinstance(merged.get(key), dict):
                merged[key] = {**merged[key], **value}
            else:
                merged[key] = value
    return merged


def _mark(value: Any) -> Any:
    """Mark our own (already escaped) strings as safe for the template finaliser."""
    if isinstance(value, str):
        return Markup(value)
    if isinstance(value, dict):
        return {k: _mark(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_mark(v) for v in value]
    return value


def build_context(
    res: MediationResult,
    study: Any,
    sensitivity: SensitivitySummary,
    *,
    diagnostics_warnings: Sequence[str] = (),
    balance: Sequence[Mapping[str, Any]] = (),
    figures: Mapping[str, str] | None = None,
    escape: Escape = escape_markdown,
    comparison: Comparison | None = None,
    sections: Sequence[Section] | None = None,
    sample_rows: int | None = None,
) -> dict[str, Any]:
    """Everything the templates need, as a plain dict.

    Parameters
    ----------
    res : MediationResult
        The analysis.
    study : medbook.study.Study, Framing or None
        Labels, question and whether treatment was randomised; None uses the
        column names as labels (as in the book, where no study file exists).
    sensitivity : SensitivitySummary
        Numbers from the sensitivity analysis.
    diagnostics_warnings : sequence of str
        Cautions from :func:`medbook.diagnostics.diagnose` (plain text; escaped here).
    balance : sequence of mapping
        Covariate balance rows ``{"covariate", "smd"}``.
    figures : mapping, optional
        Figure key (``dag``, ``effects``, ``sensitivity``, ``mediator``) -> relative path.
    escape : callable
        Escaper for user-supplied text in the target format
        (:func:`medbook.sanitize.clean_text` for plain text). Every user string is
        escaped, then directionally isolated (:func:`medbook.sanitize.isolate`).
    comparison : medbook.history.Comparison, optional
        This run set against the previous memo's; adds the "What changed" section.
    sections : sequence of callable
        Section builders (default :data:`SECTIONS`, adapted to the design by
        :func:`medbook.report.sequential.sections_for`).
    sample_rows : int, optional
        Rows of the random sample the sensitivity analysis, diagnostics and row-level
        figures used, when they did not use all of ``res``'s rows (then the report and
        the memo say so).

    Returns
    -------
    dict
        Strings are safe for the target format; ``raw`` entries hold the numbers.
    """
    inputs = Inputs(
        res, Framing.of(study, res), sensitivity, diagnostics_warnings, balance,
        figures or {}, lambda value: isolate(escape(value)), comparison, sample_rows,
    )
    chosen = sections_for(res, SECTIONS) if sections is None else sections
    context = _merge(build(inputs) for build in chosen)
    raw = context.pop("raw", {})
    marked = _mark(context)
    marked["raw"] = raw
    return marked


def context_for(res: MediationResult, study: Any = None) -> dict[str, Any]:
    """Run the sensitivity analysis and diagnostics and build the template context.

    The one-call route of the book's reporting chapter: ``analyse(res).context(study)``,
    the same steps :func:`medbook.memo.build_memo` runs.

    Examples
    --------
    >>> import medbook
    >>> res = medbook.mediate(medbook.simulate.simulate_linear(), "treatment", "mediator",
    ...                       "outcome", ["x"], method="delta")
    >>> context_for(res)["recommendation"]["strength"] in {"strong", "moderate", "weak", "none"}
    True
    """
    return analyse(res).context(study)
