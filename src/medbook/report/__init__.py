"""Turn mediation results into the words and numbers of the report and the memo.

The rooms, in the order data flows through them:

* :mod:`~medbook.report.readout` -- :func:`analyse` runs the sensitivity analyses
  and diagnostics of a result once, for the memo and the book alike, and returns a
  :class:`Readout`;
* :mod:`~medbook.report.wording` and :mod:`~medbook.report.sensitivity_wording` --
  the wording rules (every English sentence medbook writes about a result);
* :mod:`~medbook.report.formatting` -- numbers as printed;
* :mod:`~medbook.report.context` -- :func:`build_context`, one short builder per
  report section (:data:`SECTIONS`), user text escaped on the way in;
  :mod:`~medbook.report.changes` -- the "what changed since the previous memo" section;
* :mod:`~medbook.report.templates` -- the Jinja environments and the renderers of
  ``templates/report.md.j2`` and ``templates/memo.md.j2`` (``StrictUndefined``).

Every user-supplied string (labels, column names, the question) reaches a
template only through the escaper of the output format.
"""

from __future__ import annotations

from .changes import change_reasons, changes_context
from .context import FIGURE_KEYS, SECTIONS, Framing, build_context, context_for
from .formatting import format_effect
from .readout import (
    Readout,
    SensitivitySummary,
    analyse,
    diagnostics_inputs,
    summarize_sensitivity,
)
from .sensitivity_wording import sensitivity_sentence
from .templates import (
    render_memo_markdown,
    render_report_markdown,
    template_dir,
    template_environment,
)
from .wording import (
    PM_MIN_TE_Z,
    RHO_FRAGILE,
    RHO_ROBUST,
    PMAssessment,
    RobustnessLevel,
    classify,
    effect_sentence,
    pm_assessment,
    recommendation,
    robustness_level,
)

__all__ = [
    "FIGURE_KEYS",
    "PM_MIN_TE_Z",
    "RHO_FRAGILE",
    "RHO_ROBUST",
    "SECTIONS",
    "Framing",
    "PMAssessment",
    "Readout",
    "RobustnessLevel",
    "SensitivitySummary",
    "analyse",
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
