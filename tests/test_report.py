"""Wording rules and templates of the report and memo (medbook.report)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import medbook
from medbook.convert import escape_markdown
from medbook.errors import RenderError
from medbook.report import (
    PMAssessment,
    SensitivitySummary,
    build_context,
    classify,
    effect_sentence,
    format_effect,
    pm_assessment,
    recommendation,
    render_memo_markdown,
    render_report_markdown,
    robustness_level,
    sensitivity_sentence,
    template_dir,
)
from medbook.study import Role, Study


def eff(estimate, lo, hi, se=None):
    se = (hi - lo) / 3.92 if se is None else se
    return {"estimate": estimate, "std_error": se, "ci_lower": lo, "ci_upper": hi}


POS = eff(0.10, 0.05, 0.15)
NEG = eff(-0.10, -0.15, -0.05)
NULL = eff(0.02, -0.03, 0.07)
ROLES = {"treatment": "Call", "mediator": "Activation", "outcome": "Renewal"}


# --- classify / effect sentences -------------------------------------------------------------

def test_classify():
    assert classify(POS) == "positive"
    assert classify(NEG) == "negative"
    assert classify(NULL) == "inconclusive"
    assert classify(eff(0.1, float("nan"), float("nan"))) == "inconclusive"
    assert classify(eff(0.1, 0.0, 0.2)) == "inconclusive"


def test_positive_total_effect_sentence_in_percentage_points():
    text = effect_sentence("total", POS, "risk difference", 0.95, **ROLES)
    assert text == "Call increased Renewal by 10.0 percentage points (95% CI 5.0 to 15.0)."


def test_negative_indirect_effect_sentence_uses_magnitude():
    text = effect_sentence("indirect", NEG, "difference", 0.9, **ROLES)
    assert text == "Call decreased Renewal by 0.100 (90% CI -0.150 to -0.050) through Activation."


def test_inconclusive_sentence_says_what_the_data_do_not_show():
    text = effect_sentence("indirect", NULL, "difference", 0.95, **ROLES)
    assert text.startswith(
        "The data do not show a clear indirect effect of Call on Renewal through Activation"
    )
    assert "+0.020" in text and "includes zero" in text
    direct = effect_sentence("direct", NULL, "risk difference", 0.95, **ROLES)
    assert "clear direct effect" in direct and "+2.0 pp" in direct


def test_format_effect():
    assert format_effect(0.0623, "risk difference") == "6.2 percentage points"
    assert format_effect(-0.0623, "risk difference", signed=True) == "-6.2 pp"
    assert format_effect(2.3894, "difference") == "2.389"
    assert format_effect(float("nan"), "difference") == "n/a"


# --- proportion mediated ---------------------------------------------------------------------

def test_pm_stable_when_total_effect_is_clear_and_share_in_range():
    assert pm_assessment(eff(0.2, 0.15, 0.25, se=0.025), {"estimate": 0.4}) == PMAssessment(True)


def test_pm_unstable_when_total_effect_interval_includes_zero():
    check = pm_assessment(NULL, {"estimate": 0.5})
    assert not check.stable
    assert "interval includes zero" in check.reasons[0]


def test_pm_unstable_when_total_effect_small_relative_to_se():
    check = pm_assessment(eff(0.05, 0.001, 0.099, se=0.025), {"estimate": 0.5})
    assert not check.stable
    assert "|TE|/SE = 2.0" in check.reasons[0]


def test_pm_unstable_outside_unit_interval():
    check = pm_assessment(eff(0.2, 0.15, 0.25, se=0.025), {"estimate": 1.4})
    assert not check.stable and "outside 0-100%" in check.reasons[0]
    check = pm_assessment(eff(0.2, 0.15, 0.25, se=0.025), {"estimate": -0.2})
    assert not check.stable
    check = pm_assessment(eff(0.0, -0.1, 0.1), {"estimate": float("nan")})
    assert "cannot be computed" in check.reasons[-1]


# --- robustness and recommendation -------------------------------------------------------------

@pytest.mark.parametrize(
    ("nie", "rho", "available", "level"),
    [
        (NULL, 0.3, True, "not applicable"),
        (POS, 0.05, True, "fragile"),
        (POS, -0.10, True, "fragile"),
        (POS, 0.25, True, "moderate"),
        (POS, 0.55, True, "robust"),
        (NEG, -0.6, True, "robust"),
        (POS, None, True, "robust"),
        (POS, 0.3, False, "unknown"),
    ],
)
def test_robustness_level(nie, rho, available, level):
    assert robustness_level(nie, rho, available) == level


def test_recommendation_strength_follows_robustness():
    stable = PMAssessment(True)
    strong = recommendation(POS, POS, "robust", stable, mediator="Activation")
    moderate = recommendation(POS, POS, "moderate", stable, mediator="Activation")
    weak = recommendation(POS, POS, "fragile", stable, mediator="Activation")
    unknown = recommendation(POS, POS, "unknown", stable, mediator="Activation")
    strengths = [strong[0], moderate[0], weak[0], unknown[0]]
    assert strengths == ["strong", "moderate", "weak", "moderate"]
    assert "well-supported mechanism" in strong[1]
    assert "strong candidate mechanism, not as proven" in moderate[1]
    assert "possible mechanism only" in weak[1]
    assert "could not be run" in unknown[1]


def test_robust_but_unstable_share_is_not_strong():
    strength, text = recommendation(
        POS, POS, "robust", PMAssessment(False, ("x",)), mediator="Activation"
    )
    assert strength == "moderate" and "share it explains is not stable" in text


def test_inconclusive_indirect_effect_gives_no_recommendation_to_invest():
    strength, text = recommendation(NULL, NULL, "not applicable", PMAssessment(False),
                                    mediator="Activation")
    assert strength == "none"
    assert "do not show a clear indirect effect through Activation" in text
    assert "do not show a clear total effect either" in text


def test_indirect_effect_without_total_effect_is_flagged():
    _, text = recommendation(NULL, POS, "robust", PMAssessment(False), mediator="Activation")
    assert "total effect itself is not clear" in text
    _, text = recommendation(NEG, POS, "robust", PMAssessment(False), mediator="Activation")
    assert "runs against the total effect" in text


# --- sensitivity sentence ----------------------------------------------------------------------

def test_sensitivity_sentence_quotes_threshold():
    sens = SensitivitySummary(True, rho_zero=0.3123, rho_ci_zero=0.2, r2_star=0.0975)
    text = sensitivity_sentence(sens, POS, mediator="Activation", outcome="Renewal")
    assert "rho = 0.31" in text and "|rho| = 0.20" in text and "0.098" in text


def test_sensitivity_sentence_when_no_crossing_or_unavailable_or_unclear():
    never = sensitivity_sentence(SensitivitySummary(True), POS, mediator="A", outcome="R")
    assert "does not reach zero for any correlation" in never
    missing = sensitivity_sentence(
        SensitivitySummary(False, note="no model"), POS, mediator="A", outcome="R"
    )
    assert "not available" in missing and "no model" in missing
    unclear = sensitivity_sentence(SensitivitySummary(True, rho_zero=0.02), NULL,
                                   mediator="A", outcome="R")
    assert "already includes zero" in unclear


# --- context and templates ---------------------------------------------------------------------

def _study(labels: dict[str, tuple[str, str]], question: str = "Q?") -> Study:
    return Study(
        path=Path("study.yml"), data=Path("d.csv"),
        treatment=Role(*labels["treatment"]), mediator=Role(*labels["mediator"]),
        outcome=Role(*labels["outcome"]), question=question,
    )


@pytest.fixture(scope="module")
def linear_result():
    frame = medbook.simulate.simulate_linear(n=800)
    return medbook.mediate(frame, "treatment", "mediator", "outcome", ["x"], method="delta")


def test_context_numbers_match_result(linear_result):
    study = _study({r: (c, c.title()) for r, c in
                    [("treatment", "treatment"), ("mediator", "mediator"), ("outcome", "outcome")]})
    ctx = build_context(linear_result, study, SensitivitySummary(True, rho_zero=0.5))
    row = linear_result.row("nie1")
    assert ctx["effect"]["nie1"]["estimate"] == f"{row['estimate']:.3f}"
    assert ctx["raw"]["effects"]["te"]["estimate"] == pytest.approx(linear_result["te"])
    assert ctx["directions"]["nie"] == "positive"
    assert ctx["robustness"] == "robust"
    assert ctx["recommendation"]["strength"] == "strong"
    memo = render_memo_markdown(ctx)
    assert f"{row['estimate']:.3f}" in memo
    report = render_report_markdown(ctx)
    sections = ["Causal question", "Total effect", "Pathway estimands", "Identification",
                "Estimation", "Sensitivity", "Action"]
    for number, section in enumerate(sections, start=1):
        assert f"## {number}. {section}" in report


def test_null_result_is_reported_honestly():
    rng = np.random.default_rng(5)
    n = 400
    t = rng.integers(0, 2, n)
    m = rng.normal(size=n)
    y = rng.normal(size=n)
    frame = pd.DataFrame({"t": t, "m": m, "y": y})
    res = medbook.mediate(frame, "t", "m", "y", method="delta")
    study = _study({"treatment": ("t", "T"), "mediator": ("m", "M"), "outcome": ("y", "Y")})
    ctx = build_context(res, study, SensitivitySummary(True, rho_zero=0.01))
    memo = render_memo_markdown(ctx)
    assert "The data do not show a clear indirect effect of T on Y through M" in memo
    assert "Recommendation (none)" in memo
    assert ctx["pm_stable"] is False
    assert "unstable" in memo


def test_hostile_labels_are_escaped_in_markdown(linear_result):
    study = _study(
        {
            "treatment": ("treatment", "<script>alert(1)</script>"),
            "mediator": ("mediator", "[x](javascript:alert(1))"),
            "outcome": ("outcome", "#set page(width: 1pt) {{ 7 * 7 }}"),
        },
        question="**bold** <img src=x onerror=alert(1)>",
    )
    ctx = build_context(linear_result, study, SensitivitySummary(True, rho_zero=0.3))
    text = render_memo_markdown(ctx) + render_report_markdown(ctx)
    hostile = ["<script>alert(1)</script>", "[x](javascript:alert(1))",
               "#set page(width: 1pt) {{ 7 * 7 }}", "**bold** <img src=x onerror=alert(1)>"]
    for raw in hostile:
        assert raw not in text
        assert escape_markdown(raw) in text


def test_plain_context_keeps_text_unescaped(linear_result):
    study = _study({"treatment": ("treatment", "A-B"), "mediator": ("mediator", "M"),
                    "outcome": ("outcome", "Y")})
    ctx = build_context(linear_result, study, SensitivitySummary(False), escape=str)
    assert str(ctx["sentences"]["te"]).startswith("A-B increased Y")


def test_strict_undefined_raises(linear_result):
    study = _study({"treatment": ("treatment", "T"), "mediator": ("mediator", "M"),
                    "outcome": ("outcome", "Y")})
    ctx = build_context(linear_result, study, SensitivitySummary(True, rho_zero=0.3))
    del ctx["sentences"]
    with pytest.raises(RenderError, match="sentences"):
        render_memo_markdown(ctx)


def test_templates_found_from_any_cwd(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert (template_dir() / "memo.md.j2").is_file()


def test_book_usage_without_study_file(linear_result):
    from medbook.report import summarize_sensitivity

    sens, curve, robustness = summarize_sensitivity(linear_result)
    assert sens.available and curve is not None and robustness is not None
    assert sens.rho_zero == pytest.approx(curve.zero_crossing["nie1"])
    ctx = build_context(linear_result, None, sens)
    memo = render_memo_markdown(ctx)
    assert "treatment increased outcome by" in memo and "through mediator." in memo
    assert f"rho = {sens.rho_zero:.2f}" in memo
    assert "Bias-formula check:" in memo
