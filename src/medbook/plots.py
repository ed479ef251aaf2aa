"""Figures for the book, the report and the memo, in one colour-blind-safe house style.

Every function returns a :class:`matplotlib.figure.Figure` built without pyplot
(no global figure registry, no global style change: the theme is applied with
:func:`matplotlib.rc_context` while the figure is drawn up) and attaches an alt
text that describes the figure with its key numbers; read it with :func:`alt_text`.
Colours follow Okabe & Ito (2008). User-supplied names are shown literally
(``$`` is escaped so it cannot trigger mathtext).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import matplotlib as mpl
import numpy as np
import pandas as pd
import seaborn as sns
from cycler import cycler
from matplotlib.figure import Figure

from .errors import ConfigError
from .fonts import figure_families
from .history import RunRecord
from .results import MediationResult, estimand_label
from .sanitize import clean_text
from .sensitivity import BiasGrid, RhoSensitivity

__all__ = [
    "OKABE_ITO",
    "alt_text",
    "bias_contour",
    "confounding_bias_plot",
    "decomposition_bars",
    "effects_plot",
    "mediator_distribution",
    "mediator_outcome_scatter",
    "pm_distribution",
    "segment_forest",
    "sensitivity_curve",
    "trend_plot",
]

OKABE_ITO = {
    "orange": "#E69F00",
    "sky": "#56B4E9",
    "green": "#009E73",
    "yellow": "#F0E442",
    "blue": "#0072B2",
    "vermillion": "#D55E00",
    "purple": "#CC79A7",
    "black": "#000000",
    "grey": "#7A7A7A",
}
_ARM_COLOURS = (OKABE_ITO["sky"], OKABE_ITO["orange"])
_THEME: dict[str, Any] = {
    "font.family": "DejaVu Sans",
    "font.size": 11,
    "axes.titlesize": 13,
    "axes.titleweight": "bold",
    "axes.labelsize": 11.5,
    "xtick.labelsize": 10.5,
    "ytick.labelsize": 10.5,
    "legend.fontsize": 10,
    "legend.frameon": False,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.color": "#E3E3E3",
    "grid.linewidth": 0.8,
    "axes.axisbelow": True,
    "axes.prop_cycle": cycler(color=[OKABE_ITO[k] for k in
                                     ("blue", "orange", "green", "vermillion", "purple", "sky")]),
    "lines.linewidth": 2.0,
    "figure.facecolor": "white",
    "savefig.dpi": 200,
    "savefig.bbox": "tight",
}
_HANDOUT = (7.0, 4.2)


@contextmanager
def _themed(figsize: tuple[float, float] = _HANDOUT) -> Iterator[tuple[Figure, Any]]:
    with mpl.rc_context({**_THEME, "font.family": list(figure_families())}):
        fig = Figure(figsize=figsize, layout="constrained")
        ax = fig.add_subplot()
        yield fig, ax


def _safe(text: Any) -> str:
    """User text shown literally: one clean line (:mod:`medbook.sanitize`), no mathtext."""
    return clean_text(text).replace("$", r"\$")


def _finish(fig: Figure, alt: str) -> Figure:
    fig.medbook_alt = alt  # type: ignore[attr-defined]
    return fig


def _title(ax: Any, title: str | None) -> None:
    """Figures carry no title unless asked: captions in the book and the memo say it."""
    if title:
        ax.set_title(_safe(title))


def alt_text(fig: Figure) -> str:
    """The alt text a medbook figure carries (describes it with its key numbers)."""
    text = getattr(fig, "medbook_alt", None)
    if not text:
        raise ConfigError("this figure was not made by medbook.plots and has no alt text")
    return str(text)


def _fmt(value: float) -> str:
    return f"{value:.3g}" if abs(value) < 1000 else f"{value:,.0f}"


def _arms(data: pd.DataFrame, treatment: str) -> tuple[Any, Any]:
    if treatment not in data.columns:
        raise ConfigError(f"column {treatment!r} not found")
    levels = sorted(pd.unique(data[treatment].dropna()))
    if len(levels) != 2:
        raise ConfigError(f"treatment column {treatment!r} must have exactly two values")
    return levels[0], levels[1]


def _column(data: pd.DataFrame, name: str) -> np.ndarray:
    if name not in data.columns:
        raise ConfigError(f"column {name!r} not found")
    values = pd.to_numeric(data[name], errors="coerce").to_numpy(float)
    return values[np.isfinite(values)]


def _is_binary(values: np.ndarray) -> bool:
    return bool(values.size) and set(np.unique(values)) <= {0.0, 1.0}


def mediator_distribution(
    data: pd.DataFrame,
    treatment: str = "treatment",
    mediator: str = "mediator",
    *,
    title: str | None = None,
) -> Figure:
    """Mediator distribution by arm: density curves, or bars of P(M = 1) for a 0/1 mediator."""
    control, treated = _arms(data, treatment)
    groups = {}
    for level in (control, treated):
        groups[level] = _column(data.loc[data[treatment] == level], mediator)
    binary = _is_binary(np.concatenate(list(groups.values())))
    with _themed() as (fig, ax):
        names = [f"{_safe(treatment)} = {_safe(control)} (control)",
                 f"{_safe(treatment)} = {_safe(treated)} (treated)"]
        if binary:
            rates = [g.mean() for g in groups.values()]
            bars = ax.bar(names, rates, color=_ARM_COLOURS, width=0.6)
            ax.bar_label(bars, labels=[f"{r:.1%}" for r in rates], padding=3)
            ax.set_ylabel(f"Share with {_safe(mediator)} = 1")
            ax.set_ylim(0, min(1.0, max(rates) * 1.25 + 0.05))
            ax.grid(axis="x", visible=False)
            summary = (f"control {rates[0]:.1%} (n={groups[control].size}), "
                       f"treated {rates[1]:.1%} (n={groups[treated].size})")
            kind = "Share of units with the mediator present, by arm"
        else:
            frame = pd.DataFrame({
                "value": np.concatenate(list(groups.values())),
                "arm": np.repeat(names, [g.size for g in groups.values()]),
            })
            varied = frame.groupby("arm")["value"].transform("nunique") > 1
            sns.kdeplot(data=frame[varied], x="value", hue="arm", hue_order=names,
                        palette=list(_ARM_COLOURS), fill=True, alpha=0.3, common_norm=False,
                        warn_singular=False, ax=ax)
            for g, colour in zip(groups.values(), _ARM_COLOURS, strict=True):
                ax.axvline(g.mean(), color=colour, linestyle="--", linewidth=1.3)
            ax.set_xlabel(_safe(mediator))
            ax.set_ylabel("Density")
            legend = ax.get_legend()
            if legend is not None:
                legend.set_title(None)
                sns.move_legend(ax, "upper left", frameon=False)
            means = [g.mean() for g in groups.values()]
            summary = (f"control mean {_fmt(means[0])} (n={groups[control].size}), "
                       f"treated mean {_fmt(means[1])} (n={groups[treated].size}); "
                       f"difference {_fmt(means[1] - means[0])}")
            kind = "Density of the mediator by arm, dashed lines at the arm means"
        _title(ax, title)
    return _finish(fig, f"{kind} ({mediator}): {summary}.")


def mediator_outcome_scatter(
    data: pd.DataFrame,
    mediator: str = "mediator",
    outcome: str = "outcome",
    sample: int = 1200,
    seed: int = 1,
    *,
    title: str | None = None,
) -> Figure:
    """Mediator against outcome (a random sample of points) with the least-squares line."""
    for name in (mediator, outcome):
        if name not in data.columns:
            raise ConfigError(f"column {name!r} not found")
    frame = pd.DataFrame({"m": pd.to_numeric(data[mediator], errors="coerce"),
                          "y": pd.to_numeric(data[outcome], errors="coerce")}).dropna()
    if len(frame) < 2:
        raise ConfigError("the scatter plot needs at least two complete rows")
    m, y = frame["m"].to_numpy(float), frame["y"].to_numpy(float)
    slope = float(np.polyfit(m, y, 1)[0])
    corr = float(np.corrcoef(m, y)[0, 1])
    rng = np.random.default_rng(seed)
    idx = rng.choice(m.size, size=min(sample, m.size), replace=False)
    with _themed() as (fig, ax):
        xj = m[idx] + (rng.uniform(-0.08, 0.08, idx.size) if _is_binary(m) else 0.0)
        yj = y[idx] + (rng.uniform(-0.04, 0.04, idx.size) if _is_binary(y) else 0.0)
        ax.scatter(xj, yj, s=14, alpha=0.3, color=OKABE_ITO["blue"], linewidths=0,
                   label=f"{idx.size} sampled units")
        sns.regplot(x=m, y=y, scatter=False, ci=None, truncate=True, ax=ax,
                    line_kws={"color": OKABE_ITO["vermillion"]})
        ax.lines[-1].set_label(f"least-squares line, slope {_fmt(slope)}")
        ax.set_xlabel(_safe(mediator))
        ax.set_ylabel(_safe(outcome))
        _title(ax, title)
        ax.legend(loc="upper left")
    return _finish(
        fig,
        f"Scatter plot of {outcome} against {mediator} for {idx.size} of {m.size} units, with a "
        f"least-squares line of slope {_fmt(slope)} (correlation {corr:.2f}). The association "
        "alone does not show that the mediator causes the outcome.",
    )


def _effects_frame(effects: MediationResult | pd.DataFrame) -> pd.DataFrame:
    frame = effects.to_frame() if isinstance(effects, MediationResult) else effects.copy()
    needed = {"estimand", "estimate", "ci_lower", "ci_upper"}
    if not needed <= set(frame.columns):
        raise ConfigError(f"effects table needs columns {', '.join(sorted(needed))}")
    return frame


def _is_ratio(res: MediationResult | pd.DataFrame) -> bool:
    return isinstance(res, MediationResult) and res.spec.scale != "difference"


def effects_plot(
    effects: MediationResult | pd.DataFrame,
    reference: float | None = None,
    include_pm: bool = False,
    *,
    title: str | None = None,
) -> Figure:
    """Effects with their confidence intervals (a forest plot of ``res.to_frame()``).

    The dashed line marks no effect (``reference``: 0 by default, 1 for a result
    on a ratio scale, which is drawn on a log axis; ``pm`` is then left out).
    """
    ratio = _is_ratio(effects)
    if reference is None:
        reference = 1.0 if ratio else 0.0
    frame = _effects_frame(effects)
    if ratio:
        include_pm = False
    if not include_pm:
        frame = frame[frame["estimand"] != "pm"]
    frame = frame.iloc[::-1].reset_index(drop=True)
    labels = [estimand_label(k) for k in frame["estimand"]]
    with _themed((7.0, 0.55 * len(frame) + 1.6)) as (fig, ax):
        y = np.arange(len(frame))
        est = frame["estimate"].to_numpy(float)
        err = np.vstack([est - frame["ci_lower"].to_numpy(float),
                         frame["ci_upper"].to_numpy(float) - est])
        colours = [OKABE_ITO["vermillion"] if k.startswith(("nie", "rnie", "pse(")) and
                   k != "pse(direct)" else
                   OKABE_ITO["blue"] if k.startswith(("nde", "cde", "rnde", "pse(direct)"))
                   else OKABE_ITO["black"] for k in frame["estimand"]]
        ax.errorbar(est, y, xerr=err, fmt="none", ecolor="#9E9E9E", elinewidth=3, capsize=4)
        ax.scatter(est, y, color=colours, zorder=3, s=45)
        ax.axvline(reference, color=OKABE_ITO["grey"], linestyle="--", linewidth=1)
        ax.set_yticks(y, labels)
        ax.grid(axis="y", visible=False)
        if ratio:
            _log_axis(ax, np.concatenate([frame["ci_lower"], frame["ci_upper"], [reference]]))
            ax.set_xlabel(f"Effect on the outcome ({effects.scale}, log axis; 1 = no effect)")
        else:
            ax.set_xlabel("Effect on the outcome (with confidence interval)")
        _title(ax, title)
    parts = [f"{lab} {_fmt(r.estimate)} [{_fmt(r.ci_lower)}, {_fmt(r.ci_upper)}]"
             for lab, r in zip(labels[::-1], frame.iloc[::-1].itertuples(), strict=True)]
    return _finish(fig, "Forest plot of the mediation effects with confidence intervals: "
                   + "; ".join(parts) + ".")


def _log_axis(ax: Any, values: np.ndarray) -> None:
    """Log x axis with plain-number ticks around the data (ratios: 1 = no effect)."""
    from matplotlib.ticker import FuncFormatter, LogLocator, MaxNLocator, NullLocator

    finite = values[np.isfinite(values) & (values > 0)]
    ax.set_xscale("log")
    lo, hi = float(finite.min()), float(finite.max())
    pad = (hi / lo) ** 0.08
    ax.set_xlim(lo / pad, hi * pad)
    if hi / lo < 5.0:  # a narrow range: evenly stepped round numbers read best
        ax.xaxis.set_major_locator(MaxNLocator(nbins=6, steps=[1, 2, 2.5, 5, 10]))
    else:
        ax.xaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 3.0, 5.0)))
    ax.xaxis.set_minor_locator(NullLocator())
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))


def pm_distribution(res: MediationResult, bins: int = 40, *, title: str | None = None) -> Figure:
    """Bootstrap (or quasi-Bayesian) distribution of the proportion mediated."""
    if res.replicates is None or "pm" not in res.replicates:
        raise ConfigError("the proportion-mediated plot needs method='bootstrap' or 'quasi_bayes'")
    reps = res.replicates["pm"].to_numpy(float)
    reps = reps[np.isfinite(reps)]
    row = res.row("pm")
    with _themed() as (fig, ax):
        sns.histplot(x=reps, bins=bins, color=OKABE_ITO["green"], alpha=0.75,
                     edgecolor="white", ax=ax)
        ax.axvspan(row["ci_lower"], row["ci_upper"], color=OKABE_ITO["sky"], alpha=0.15,
                   label=f"{res.spec.conf_level:.0%} interval")
        ax.axvline(row["estimate"], color=OKABE_ITO["vermillion"], linewidth=2.5,
                   label=f"estimate {row['estimate']:.1%}")
        ax.set_xlabel("Proportion mediated = NIE(1) / total effect")
        ax.set_ylabel("Replicates")
        _title(ax, title)
        ax.legend(loc="upper right")
    return _finish(
        fig,
        f"Histogram of {reps.size} {res.spec.method.replace('_', '-')} replicates of the "
        f"proportion mediated: estimate {row['estimate']:.1%}, {res.spec.conf_level:.0%} "
        f"interval {row['ci_lower']:.1%} to {row['ci_upper']:.1%}.",
    )


def decomposition_bars(res: MediationResult, *, title: str | None = None) -> Figure:
    """The g-formula decomposition TE = NDE(0) + NIE(1) as bars with intervals."""
    keys = ["nde0", "nie1", "te"]
    rows = [res.row(k) for k in keys]
    names = ["Natural direct effect NDE(0)", "Natural indirect effect NIE(1)", "Total effect"]
    colours = [OKABE_ITO["blue"], OKABE_ITO["vermillion"], OKABE_ITO["black"]]
    with _themed((7.0, 3.6)) as (fig, ax):
        est = np.array([r["estimate"] for r in rows])
        err = np.vstack([est - [r["ci_lower"] for r in rows], [r["ci_upper"] for r in rows] - est])
        ypos = np.arange(3)[::-1]
        null = 1.0 if _is_ratio(res) else 0.0  # ratios: bars grow from 1 on a log axis
        ax.barh(ypos, est - null, left=null, color=colours, alpha=0.85, height=0.6)
        ax.errorbar(est, ypos, xerr=err, fmt="none", ecolor="#555555", capsize=4)
        ax.axvline(null, color=OKABE_ITO["grey"], linestyle="--", linewidth=1)
        ax.set_yticks(ypos, names)
        ax.grid(axis="y", visible=False)
        if null:
            limits = [r[c] for r in rows for c in ("ci_lower", "ci_upper")]
            _log_axis(ax, np.array([*limits, null]))
            ax.set_xlabel(f"Effect on the outcome ({res.scale}, log axis)")
        else:
            ax.set_xlabel(f"Effect on the outcome ({res.scale})")
        _title(ax, title)
    parts = [f"{n} {_fmt(r['estimate'])} [{_fmt(r['ci_lower'])}, {_fmt(r['ci_upper'])}]"
             for n, r in zip(names, rows, strict=True)]
    return _finish(fig, f"Bar chart of the g-formula decomposition on the {res.scale} scale: "
                   + "; ".join(parts) + f"; proportion mediated {res['pm']:.1%}.")


def confounding_bias_plot(sweep: pd.DataFrame, *, title: str | None = None) -> Figure:
    """Indirect effect omitting U and adjusting for U, against U's strength (notebook's sweep)."""
    needed = {"u_strength", "omitted_indirect", "oracle_indirect", "true_indirect"}
    if not needed <= set(sweep.columns):
        raise ConfigError(f"sweep table needs columns {', '.join(sorted(needed))}")
    s = sweep.sort_values("u_strength")
    with _themed() as (fig, ax):
        ax.plot(s["u_strength"], s["omitted_indirect"], marker="o", color=OKABE_ITO["vermillion"],
                label="Omitting U")
        ax.plot(s["u_strength"], s["oracle_indirect"], marker="s", color=OKABE_ITO["green"],
                label="Oracle adjusts for U")
        ax.plot(s["u_strength"], s["true_indirect"], linestyle="--", color=OKABE_ITO["black"],
                linewidth=1.3, label="True indirect effect")
        ax.set_xlabel("Strength of unmeasured U")
        ax.set_ylabel("Estimated indirect effect")
        _title(ax, title)
        ax.legend(loc="upper left")
    last = s.iloc[-1]
    return _finish(
        fig,
        f"Line chart of the estimated indirect effect against the strength of an unmeasured "
        f"confounder U, from {_fmt(s['u_strength'].min())} to {_fmt(last['u_strength'])}. At the "
        f"largest strength the estimate omitting U is {_fmt(last['omitted_indirect'])}, the "
        f"oracle estimate {_fmt(last['oracle_indirect'])} and the truth "
        f"{_fmt(last['true_indirect'])}.",
    )


def sensitivity_curve(
    sens: RhoSensitivity, estimand: str = "nie1", *, title: str | None = None
) -> Figure:
    """Effect against the error correlation rho, with its band and the zero crossing marked."""
    table = sens.to_frame()
    rows = table[table["estimand"] == estimand].sort_values("rho")
    if rows.empty:
        raise ConfigError(f"no sensitivity curve for estimand {estimand!r}")
    label = {"nie0": "NIE(0)", "nie1": "NIE(1)", "nde0": "NDE(0)", "nde1": "NDE(1)"}[estimand]
    crossing = sens.zero_crossing.get(estimand)
    main = sens.main_estimate[estimand]
    colour = OKABE_ITO["vermillion"] if estimand.startswith("nie") else OKABE_ITO["blue"]
    with _themed() as (fig, ax):
        ax.fill_between(rows["rho"], rows["ci_lower"], rows["ci_upper"], color=colour, alpha=0.2,
                        linewidth=0, label=f"{sens.conf_level:.0%} band")
        ax.plot(rows["rho"], rows["estimate"], color=colour, label=f"{label}(rho)")
        ax.axhline(0, color=OKABE_ITO["black"], linewidth=1)
        ax.axvline(0, color=OKABE_ITO["grey"], linewidth=1, linestyle=":")
        ax.axhline(main, color=OKABE_ITO["grey"], linewidth=1, linestyle="--",
                   label=f"estimate at rho = 0: {_fmt(main)}")
        if crossing is not None:
            ax.plot([crossing], [0], marker="o", markersize=9, color=OKABE_ITO["black"],
                    zorder=4, linestyle="none", label=f"zero at rho = {crossing:.2f}")
            ax.annotate(f"rho = {crossing:.2f}", (crossing, 0), textcoords="offset points",
                        xytext=(8, 10), fontsize=10.5)
        ax.set_xlabel("Sensitivity parameter rho (correlation of mediator and outcome errors)")
        ax.set_ylabel(f"{label}")
        ax.set_xlim(rows["rho"].min(), rows["rho"].max())
        _title(ax, title)
        ax.legend(loc="best")
    where = ("does not cross zero for any rho in (-0.99, 0.99)" if crossing is None else
             f"crosses zero at rho = {crossing:.2f} (R²_M*·R²_Y* = "
             f"{sens.r2_star_product[estimand]:.3f})")
    return _finish(
        fig,
        f"Line chart of {label} against the error correlation rho from "
        f"{rows['rho'].min():.2f} to {rows['rho'].max():.2f} with a {sens.conf_level:.0%} band "
        f"({sens.model}). At rho = 0 it equals the estimate {_fmt(main)}; it {where}.",
    )


def bias_contour(grid: BiasGrid, estimand: str = "nie1", *, title: str | None = None) -> Figure:
    """Bias-corrected effect over confounder strengths (gamma, delta), zero contour in bold."""
    matrix = grid.matrix(estimand)
    if matrix.empty:
        raise ConfigError(f"no bias grid for estimand {estimand!r}")
    gammas = matrix.index.to_numpy(float)
    deltas = matrix.columns.to_numpy(float)
    values = matrix.to_numpy(float)
    label = {"nie0": "NIE(0)", "nie1": "NIE(1)", "nde0": "NDE(0)", "nde1": "NDE(1)"}[estimand]
    with _themed((7.0, 4.8)) as (fig, ax):
        if gammas.size > 1 and deltas.size > 1:
            filled = ax.contourf(deltas, gammas, values, levels=12, cmap="cividis")
            fig.colorbar(filled, ax=ax, label=f"Bias-corrected {label}")
            lo, hi = float(values.min()), float(values.max())
            if lo < 0 < hi:
                zero = ax.contour(deltas, gammas, values, levels=[0.0],
                                  colors=OKABE_ITO["vermillion"], linewidths=2.5)
                ax.clabel(zero, fmt={0.0: "effect = 0"}, fontsize=10)
        else:
            ax.scatter(np.repeat(deltas[None, :], gammas.size, 0),
                       np.repeat(gammas[:, None], deltas.size, 1), c=values, cmap="cividis")
        ax.grid(visible=False)
        ax.set_xlabel("delta: imbalance of U between arms at equal mediator")
        ax.set_ylabel(f"gamma: effect of U on the outcome ({grid.scale})")
        _title(ax, title)
    return _finish(
        fig,
        f"Contour plot of the bias-corrected {label} over the effect of an unmeasured "
        f"confounder on the outcome (gamma, {gammas.min():.3g} to {gammas.max():.3g}) and its "
        f"imbalance between arms (delta, {deltas.min():.3g} to {deltas.max():.3g}); the "
        f"observed {label} is {_fmt(grid.observed[estimand])} and the corrected values range "
        f"from {_fmt(values.min())} to {_fmt(values.max())}"
        + ("; the bold line marks where it would be zero." if values.min() < 0 < values.max()
           else "."),
    )


_PANEL_KEYS = ("te", "nie1", "nde0")
_PANEL_TITLES = {"te": "Total effect", "nie1": "Indirect NIE(1)", "nde0": "Direct NDE(0)"}


def trend_plot(runs: Sequence[RunRecord], *, title: str | None = None) -> Figure:
    """Headline estimates with their intervals across memo runs (oldest on the left)."""
    if len(runs) < 2:
        raise ConfigError("a trend needs at least two runs")
    x = np.arange(1, len(runs) + 1)
    ticks = [(r.date or "")[:10] or f"run {i}" for i, r in enumerate(runs, start=1)]
    with mpl.rc_context({**_THEME, "font.family": list(figure_families())}):
        fig = Figure(figsize=(7.0, 3.0), layout="constrained")
        axes = fig.subplots(1, len(_PANEL_KEYS), sharex=True)
        for ax, key in zip(axes, _PANEL_KEYS, strict=True):
            est, lo, hi = (np.array([_or_nan(getattr(r.estimates[key], f)) for r in runs])
                           for f in ("estimate", "ci_lower", "ci_upper"))
            ax.fill_between(x, lo, hi, color=OKABE_ITO["sky"], alpha=0.25, linewidth=0)
            ax.plot(x, est, marker="o", color=OKABE_ITO["blue"])
            ax.axhline(0, color=OKABE_ITO["grey"], linestyle="--", linewidth=1)
            ax.set_title(_PANEL_TITLES[key], fontsize=10.5, fontweight="normal")
            ax.set_xticks(x, ticks, rotation=45, ha="right", fontsize=8.5)
        axes[0].set_ylabel("Estimate (interval shaded)")
        if title:
            fig.suptitle(_safe(title))
    last = runs[-1].estimates
    parts = [f"{estimand_label(k)} now {_fmt(_or_nan(last[k].estimate))}" for k in _PANEL_KEYS]
    return _finish(fig, f"Line charts of the headline estimates over {len(runs)} memo runs, "
                   "each with its confidence interval shaded: " + "; ".join(parts) + ".")


def segment_forest(table: pd.DataFrame, *, title: str | None = None) -> Figure:
    """Forest plot of the headline effects across segments.

    ``table`` has columns ``segment, estimand, estimate, ci_lower, ci_upper`` with
    ``estimand`` in ``te``, ``nie1``, ``nde0``.
    """
    needed = {"segment", "estimand", "estimate", "ci_lower", "ci_upper"}
    if not needed <= set(table.columns) or table.empty:
        raise ConfigError(f"segment table needs rows with {', '.join(sorted(needed))}")
    segments = list(dict.fromkeys(table["segment"]))
    y = np.arange(len(segments))[::-1]
    with mpl.rc_context({**_THEME, "font.family": list(figure_families())}):
        fig = Figure(figsize=(7.0, 0.45 * len(segments) + 1.4), layout="constrained")
        axes = fig.subplots(1, len(_PANEL_KEYS), sharey=True)
        for ax, key in zip(axes, _PANEL_KEYS, strict=True):
            rows = table[table["estimand"] == key].set_index("segment").reindex(segments)
            est = rows["estimate"].to_numpy(float)
            err = np.vstack([est - rows["ci_lower"].to_numpy(float),
                             rows["ci_upper"].to_numpy(float) - est])
            ax.errorbar(est, y, xerr=err, fmt="o", color=OKABE_ITO["blue"],
                        ecolor="#9E9E9E", elinewidth=3, capsize=3)
            ax.axvline(0, color=OKABE_ITO["grey"], linestyle="--", linewidth=1)
            ax.set_title(_PANEL_TITLES[key], fontsize=10.5, fontweight="normal")
            ax.grid(axis="y", visible=False)
        axes[0].set_yticks(y, [_safe(s) for s in segments])
        if title:
            fig.suptitle(_safe(title))
    return _finish(fig, f"Forest plot of the total, indirect and direct effects with confidence "
                   f"intervals in {len(segments)} segments: {', '.join(map(str, segments))}.")


def _or_nan(value: float | None) -> float:
    return np.nan if value is None else float(value)
