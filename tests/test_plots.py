"""Tests of medbook.plots: each figure draws non-empty axes on the notebook data, with alt text."""

from __future__ import annotations

import io

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pytest
from matplotlib.figure import Figure

import medbook
from medbook import plots, sensitivity
from medbook.errors import ConfigError
from medbook.simulate import simulate_binary, simulate_linear


@pytest.fixture(scope="module")
def linear_df():
    return simulate_linear()


@pytest.fixture(scope="module")
def binary_df():
    return simulate_binary()


@pytest.fixture(scope="module")
def linear_boot(linear_df):
    return medbook.mediate(linear_df, "treatment", "mediator", "outcome", ["x"], n_boot=200,
                           seed=2026)


@pytest.fixture(scope="module")
def binary_res(binary_df):
    return medbook.mediate(binary_df, "treatment", "mediator", "outcome", ["x"],
                           interaction=True, method="delta")


def _check(fig: Figure, *numbers: str) -> str:
    assert isinstance(fig, Figure)
    axes = fig.axes
    assert axes, "figure has no axes"
    main = axes[0]
    artists = main.lines + main.collections + main.patches + main.containers
    assert artists, "axes are empty"
    assert main.get_xlabel() or main.get_ylabel(), "axes are unlabelled"
    assert not main.get_title(), "captions carry the title; figures have none by default"
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=60)
    assert buf.getvalue()[:4] == b"\x89PNG"
    text = plots.alt_text(fig)
    for number in numbers:
        assert number in text, (number, text)
    return text


def test_mediator_distribution_continuous_and_binary(linear_df, binary_df):
    text = _check(plots.mediator_distribution(linear_df), "mean")
    assert "control" in text and "treated" in text
    text = _check(plots.mediator_distribution(binary_df), "38.6%", "60.7%")


def test_mediator_outcome_scatter(linear_df):
    slope = np.polyfit(linear_df["mediator"], linear_df["outcome"], 1)[0]
    _check(plots.mediator_outcome_scatter(linear_df), f"{slope:.3g}", "1200 of 6000")


def test_effects_plot_from_result_and_frame(linear_boot):
    text = _check(plots.effects_plot(linear_boot), f"{linear_boot['nie1']:.3g}")
    assert "Proportion" not in text
    _check(plots.effects_plot(linear_boot.to_frame(), include_pm=True), "Proportion mediated")


def test_pm_distribution(linear_boot):
    _check(plots.pm_distribution(linear_boot), "55.4%", "200 bootstrap replicates")


def test_pm_distribution_needs_replicates(binary_res):
    with pytest.raises(ConfigError, match="bootstrap"):
        plots.pm_distribution(binary_res)


def test_decomposition_bars(binary_res):
    _check(plots.decomposition_bars(binary_res), f"{binary_res['nie1']:.3g}", "risk difference")


def test_confounding_bias_plot():
    sweep = medbook.simulate.confounding_sweep([0.0, 0.7, 1.4], n=1500)
    last = sweep.iloc[-1]
    _check(plots.confounding_bias_plot(sweep), f"{last['omitted_indirect']:.3g}")


def test_sensitivity_curve_marks_the_zero_crossing(linear_boot, binary_res):
    sens = sensitivity.rho(linear_boot)
    fig = plots.sensitivity_curve(sens)
    _check(fig, f"{sens.zero_crossing['nie1']:.2f}")
    labels = [line.get_label() for line in fig.axes[0].lines]
    assert any(label.startswith("zero at rho") for label in labels)
    _check(plots.sensitivity_curve(sensitivity.rho(binary_res, grid=[-0.5, 0, 0.5]), "nde0"))


def test_bias_contour(linear_boot):
    grid = sensitivity.bias_grid(linear_boot)
    fig = plots.bias_contour(grid)
    _check(fig, f"{linear_boot['nie1']:.3g}")
    assert len(fig.axes) == 2  # plot and colour bar


def test_user_text_with_dollar_signs_and_markup(linear_df):
    df = linear_df.rename(columns={"mediator": "cost $ <b>{m}</b>", "treatment": "arm $x$"})
    _check(plots.mediator_distribution(df, "arm $x$", "cost $ <b>{m}</b>"))
    _check(plots.mediator_outcome_scatter(df, "cost $ <b>{m}</b>", "outcome"))


def test_no_global_style_change(linear_df):
    before = dict(matplotlib.rcParams)
    plots.mediator_distribution(linear_df)
    assert dict(matplotlib.rcParams) == before


def test_alt_text_requires_a_medbook_figure():
    with pytest.raises(ConfigError):
        plots.alt_text(Figure())
    with pytest.raises(ConfigError, match="not found"):
        plots.mediator_distribution(simulate_linear(n=50), "missing", "mediator")


def test_title_is_drawn_on_request_and_escaped(linear_df):
    fig = plots.mediator_distribution(linear_df, title="Shift of $M$ by arm")
    assert fig.axes[0].get_title() == r"Shift of \$M\$ by arm"
