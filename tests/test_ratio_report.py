"""Reports, memos and figures of ratio-scale results: words, directions and log axes."""

from __future__ import annotations

import matplotlib
import pytest

import medbook
from medbook import plots, report, simulate
from medbook.report.ratios import on_log, ratio_effect_sentence

matplotlib.use("Agg")
ARGS = ("treatment", "mediator", "outcome")
ROLES = {"treatment": "Onboarding", "mediator": "activation", "outcome": "renewal"}


@pytest.fixture(scope="module")
def risk_ratio():
    frame = simulate.simulate("binary", seed=1, n=3000)
    return medbook.mediate(frame, *ARGS, ["x"], interaction=True, scale="ratio", method="delta")


@pytest.fixture(scope="module")
def rate_ratio():
    frame = simulate.simulate("negbin_outcome", seed=1, n=3000)
    return medbook.mediate(frame, *ARGS, ["x"], outcome_model="negbin", scale="ratio",
                           method="delta")


def test_ratio_sentences_say_times_never_percentage_points():
    row = {"estimate": 1.18, "ci_lower": 1.05, "ci_upper": 1.32}
    assert ratio_effect_sentence("indirect", row, "risk ratio", 0.95, **ROLES) == (
        "Onboarding made renewal 1.18 times as likely through activation (95% CI 1.05 to 1.32)."
    )
    assert "the odds of renewal 1.18 times as high" in ratio_effect_sentence(
        "total", row, "odds ratio", 0.95, **ROLES)
    assert "the rate of renewal 0.80 times as high" in ratio_effect_sentence(
        "direct", {"estimate": 0.8, "ci_lower": 0.7, "ci_upper": 0.9}, "rate ratio", 0.9, **ROLES)
    unclear = ratio_effect_sentence(
        "indirect", {"estimate": 1.02, "ci_lower": 0.97, "ci_upper": 1.08}, "risk ratio", 0.95,
        **ROLES)
    assert unclear.startswith("The data do not show a clear indirect effect")
    assert "includes 1 (no effect)" in unclear


def test_ratio_directions_use_one_as_the_null():
    assert report.classify(on_log({"estimate": 1.1, "ci_lower": 0.95, "ci_upper": 1.2})) == (
        "inconclusive")
    assert report.classify(on_log({"estimate": 1.1, "ci_lower": 1.02, "ci_upper": 1.2})) == (
        "positive")
    assert report.classify(on_log({"estimate": 0.8, "ci_lower": 0.7, "ci_upper": 0.9})) == (
        "negative")


@pytest.mark.parametrize("fixture", ["risk_ratio", "rate_ratio"])
def test_memo_and_report_word_ratios(fixture, request):
    res = request.getfixturevalue(fixture)
    ctx = report.context_for(res)
    memo = report.render_memo_markdown(ctx)
    full = report.render_report_markdown(ctx)
    assert "percentage point" not in memo + full
    phrase = "times as likely" if fixture == "risk_ratio" else "times as high"
    assert phrase in ctx["sentences"]["te"] and phrase in ctx["sentences"]["nie"]
    assert ctx["directions"]["te"] == "positive"
    assert "multiply to the total effect" in full and "add up" not in full
    assert "log ratio" in full
    assert res.scale + " scale" in memo


def test_count_outcome_model_is_named_in_the_report(rate_ratio):
    ctx = report.context_for(rate_ratio)
    assert ctx["estimation"]["outcome_kind"] == "count"
    assert "negative binomial" in ctx["estimation"]["outcome_model"]


def test_effects_figure_uses_a_log_axis_with_the_null_at_one(risk_ratio):
    fig = plots.effects_plot(risk_ratio)
    ax = fig.axes[0]
    assert ax.get_xscale() == "log"
    lines = [line.get_xdata()[0] for line in ax.get_lines() if line.get_linestyle() == "--"]
    assert lines == [1.0]
    assert "log axis" in ax.get_xlabel()
    assert "Proportion" not in " ".join(t.get_text() for t in ax.get_yticklabels())
    bars = plots.decomposition_bars(risk_ratio).axes[0]
    assert bars.get_xscale() == "log"
    # the difference scale keeps a linear axis with the null at 0
    diff = medbook.mediate(simulate.simulate("binary", seed=1, n=3000), *ARGS, ["x"],
                           interaction=True, method="delta")
    ax = plots.effects_plot(diff).axes[0]
    assert ax.get_xscale() == "linear"
    assert [line.get_xdata()[0] for line in ax.get_lines() if line.get_linestyle() == "--"] == [0]


def test_study_file_takes_scale_count_models_and_auto_counts(tmp_path):
    from medbook.errors import ConfigError
    from medbook.study import load_study

    base = "data: d.csv\ntreatment: t\nmediator: m\noutcome: y\n"
    path = tmp_path / "s.yml"
    path.write_text(base + "scale: ratio\noutcome_model: negbin\nauto_counts: true\n")
    kwargs = load_study(path).mediate_kwargs()
    assert (kwargs["scale"], kwargs["outcome_model"], kwargs["auto_counts"]) == (
        "ratio", "negbin", True)
    path.write_text(base)
    assert load_study(path).mediate_kwargs()["scale"] == "difference"
    path.write_text(base + "scale: log\n")
    with pytest.raises(ConfigError, match="scale"):
        load_study(path)


def test_count_diagnostics_skip_event_counts_and_report_deviance_explained(rate_ratio):
    from medbook.diagnostics import diagnose

    diag = diagnose(rate_ratio)
    assert list(diag.events["model"]) == ["mediator"]  # the binary mediator only
    assert not any("rarer category" in w for w in diag.warnings)
    outcome = diag.fits.set_index("model").loc["outcome"]
    assert outcome["family"] == "negbin" and 0.0 < outcome["r_squared"] < 1.0
