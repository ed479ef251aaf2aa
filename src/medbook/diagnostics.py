"""Diagnostics of a mediation analysis, with warnings a report can quote verbatim.

:func:`diagnose` checks what the estimates silently rely on: balance of the
covariates across arms, the size of each arm, events per parameter in binary
models, model fit, overlap of predicted mediator probabilities, and the
stability of the proportion mediated and of the resampling.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import special

from .contract import Result
from .effects import mediator_design, outcome_design
from .fit import ModelFit
from .results import MediationResult

__all__ = ["RULES", "Diagnostics", "diagnose"]

RULES = {
    "smd": 0.1,  # |standardised mean difference| above which a covariate counts as imbalanced
    "te_z": 2.0,  # |TE| / SE(TE) below which the proportion mediated is unstable
    "events_per_parameter": 10.0,
    "failed_share": 0.05,
    "extreme_probability": 0.01,  # predicted mediator probability this close to 0 or 1
    "extreme_share": 0.05,  # share of units with extreme predicted probabilities that warns
}


@dataclass(repr=False)
class Diagnostics(Result):
    """Checks of one :class:`~medbook.results.MediationResult`.

    Attributes
    ----------
    arms : dict
        ``{"control": n0, "treated": n1}``.
    balance : pandas.DataFrame
        Per encoded covariate: ``covariate, mean_control, mean_treated, smd, imbalanced``.
    events : pandas.DataFrame
        Per binary model: ``model, response, events`` (ones), ``non_events``,
        ``parameters`` and ``events_per_parameter`` (rarer category / parameters).
    fits : pandas.DataFrame
        Per model: ``model, response, family, n, parameters, r_squared`` (McFadden's
        pseudo R-squared for a binary model), ``sigma``.
    overlap : pandas.DataFrame or None
        Binary mediator: quantiles of the predicted ``P(M = 1 | T, X)`` by arm and the
        share of units with a prediction within 0.01 of 0 or 1.
    warnings : list of str
        Plain sentences, one per triggered rule (see :data:`RULES`).
    """

    arms: dict[str, int]
    balance: pd.DataFrame
    events: pd.DataFrame
    fits: pd.DataFrame
    overlap: pd.DataFrame | None
    warnings: list[str] = field(default_factory=list)

    def to_frame(self) -> pd.DataFrame:
        """All checks in one long table: ``section, item, metric, value``."""
        rows: list[dict[str, Any]] = [
            {"section": "arms", "item": arm, "metric": "n", "value": float(n)}
            for arm, n in self.arms.items()
        ]
        for section, frame, key in (
            ("balance", self.balance, "covariate"),
            ("events", self.events, "model"),
            ("fit", self.fits, "model"),
            ("overlap", self.overlap, "arm"),
        ):
            if frame is None:
                continue
            for record in frame.to_dict(orient="records"):
                item = str(record.pop(key))
                for metric, value in record.items():
                    if isinstance(value, (int, float, np.integer, np.floating, bool, np.bool_)):
                        rows.append({"section": section, "item": item, "metric": metric,
                                     "value": float(value)})
        return pd.DataFrame(rows, columns=["section", "item", "metric", "value"])

    def _json_extras(self) -> dict[str, Any]:
        return {"rules": RULES}

    def _describe(self) -> str:
        return f"arms={self.arms}"

    def _repr_tail(self) -> str:
        return "".join(f"\n! {w}" for w in self.warnings) or "\n(no warnings)"


def _balance(res: MediationResult) -> pd.DataFrame:
    data = res.data
    treated = data.treatment == 1
    rows = []
    for j, name in enumerate(data.covariate_names):
        col = data.covariates[:, j]
        a, b = col[~treated], col[treated]
        pooled = math.sqrt((np.var(a, ddof=1) + np.var(b, ddof=1)) / 2.0) if min(
            a.size, b.size) > 1 else float("nan")
        smd = (b.mean() - a.mean()) / pooled if pooled > 0 else 0.0
        rows.append({"covariate": name, "mean_control": float(a.mean()),
                     "mean_treated": float(b.mean()), "smd": float(smd),
                     "imbalanced": bool(abs(smd) > RULES["smd"])})
    return pd.DataFrame(
        rows, columns=["covariate", "mean_control", "mean_treated", "smd", "imbalanced"]
    )


def _fit_row(role: str, response: str, fit: ModelFit, x: np.ndarray, y: np.ndarray) -> dict:
    eta = x @ fit.coef[0]
    if fit.family == "linear":
        resid = y - eta
        centred = y - y.mean()
        r2 = 1.0 - float(resid @ resid) / float(centred @ centred)
        sigma = float(fit.sigma[0])
    elif fit.family in ("poisson", "negbin"):
        # Share of the Poisson deviance explained (a pseudo R-squared for counts).
        null = _poisson_deviance(y, np.full(y.size, y.mean()))
        r2 = 1.0 - _poisson_deviance(y, np.exp(eta)) / null
        sigma = float("nan")
    else:
        p = special.expit(eta) if fit.family == "logit" else special.ndtr(eta)
        p = np.clip(p, 1e-15, 1 - 1e-15)
        ll = float(np.sum(y * np.log(p) + (1 - y) * np.log(1 - p)))
        rate = float(np.clip(y.mean(), 1e-15, 1 - 1e-15))
        ll0 = y.size * (rate * math.log(rate) + (1 - rate) * math.log(1 - rate))
        r2 = 1.0 - ll / ll0 if ll0 < 0 else float("nan")
        sigma = float("nan")
    return {"model": role, "response": response, "family": fit.family, "n": int(y.size),
            "parameters": len(fit.names), "r_squared": r2, "sigma": sigma}


def _poisson_deviance(y: np.ndarray, mu: np.ndarray) -> float:
    with np.errstate(divide="ignore", invalid="ignore"):
        term = np.where(y > 0, y * np.log(y / mu), 0.0)
    return float(2.0 * np.sum(term - (y - mu)))


def _overlap(res: MediationResult, xm: np.ndarray) -> pd.DataFrame | None:
    fit = res.mediator_fit
    if fit.family == "linear":
        return None
    link = special.expit if fit.family == "logit" else special.ndtr
    data = res.data
    rows = []
    cut = RULES["extreme_probability"]
    for arm, level in (("control", 0.0), ("treated", 1.0)):
        x = xm[data.treatment == level]
        p = link(x @ fit.coef[0])
        q = np.quantile(p, [0.0, 0.05, 0.5, 0.95, 1.0])
        rows.append({"arm": arm, "n": int(p.size), "min": q[0], "p05": q[1], "median": q[2],
                     "p95": q[3], "max": q[4],
                     "share_extreme": float(np.mean((p < cut) | (p > 1 - cut)))})
    return pd.DataFrame(rows)


def _models(res: MediationResult) -> list[tuple[str, str, ModelFit, np.ndarray, np.ndarray]]:
    """``(role, response column, fit, design, response)`` of every fitted model."""
    data, spec = res.data, res.spec
    if res.models:
        def role(column: str) -> str:
            if column == spec.outcome:
                return "outcome"
            return "post-treatment" if column in spec.post_treatment else "mediator"

        return [(role(c), c, fit, *res.model_data[c]) for c, fit in res.models.items()]
    xm, _ = mediator_design(data)
    xy, _ = outcome_design(data, bool(spec.interaction))
    return [
        ("mediator", data.names["mediator"], res.mediator_fit, xm, data.mediator),
        ("outcome", data.names["outcome"], res.outcome_fit, xy, data.outcome),
    ]


def diagnose(res: MediationResult) -> Diagnostics:
    """Run every diagnostic on a mediation result.

    Warning rules (thresholds in :data:`RULES`): total effect within 2 standard
    errors of zero (proportion mediated unstable); proportion mediated outside
    [0, 1]; fewer than 10 events per parameter in a binary model; separation in a
    point fit; more than 5% failed replicates; a covariate with
    ``|SMD| > 0.1``; more than 5% of units with a predicted mediator probability
    within 0.01 of 0 or 1.

    Parameters
    ----------
    res : MediationResult

    Returns
    -------
    Diagnostics
    """
    data = res.data
    control, treated = data.arm_sizes()
    arms = {"control": int(control), "treated": int(treated)}
    models = _models(res)
    fits = pd.DataFrame([_fit_row(*model) for model in models])
    event_rows = []
    for role, response, fit, _, y in models:
        if fit.family not in ("logit", "probit"):
            continue
        ones = int(y.sum())
        minority = min(ones, y.size - ones)
        event_rows.append({"model": role, "response": response, "events": ones,
                           "non_events": int(y.size - ones), "parameters": len(fit.names),
                           "events_per_parameter": minority / len(fit.names)})
    events = pd.DataFrame(event_rows, columns=["model", "response", "events", "non_events",
                                               "parameters", "events_per_parameter"])
    balance = _balance(res)
    xm = next(x for role, _, fit, x, _ in models if fit is res.mediator_fit)
    overlap = _overlap(res, xm)
    warnings = _warnings(res, balance, events, overlap, models)
    return Diagnostics(arms=arms, balance=balance, events=events, fits=fits, overlap=overlap,
                       warnings=warnings)


def _pm_warnings(res: MediationResult) -> list[str]:
    """Cautions about the proportion mediated (results that report one)."""
    out: list[str] = []
    te = res.row("te")
    se = float(te["std_error"])
    pm = res["pm"]
    if not (se > 0 and abs(te["estimate"]) >= RULES["te_z"] * se):
        out.append(
            f"The total effect ({te['estimate']:.3g}) is small relative to its standard error "
            f"({se:.3g}), so the proportion mediated ({pm:.3g}) is unstable and should not be "
            "a headline number."
        )
    if math.isfinite(pm) and not 0.0 <= pm <= 1.0:
        out.append(
            f"The proportion mediated ({pm:.3g}) lies outside 0 to 1: the direct and indirect "
            "effects point in opposite directions, so it is not a share of the total effect."
        )
    elif not math.isfinite(pm):
        out.append("The proportion mediated is undefined because the total effect is zero.")
    return out


def _warnings(
    res: MediationResult,
    balance: pd.DataFrame,
    events: pd.DataFrame,
    overlap: pd.DataFrame | None,
    models: list[tuple[str, str, ModelFit, np.ndarray, np.ndarray]],
) -> list[str]:
    out: list[str] = []
    if "pm" in set(res.effects["estimand"]):
        out.extend(_pm_warnings(res))
    for row in events.itertuples():
        if row.events_per_parameter < RULES["events_per_parameter"]:
            rarer = min(row.events, row.non_events)
            out.append(
                f"The {row.model} model for {row.response!r} has only {rarer} cases in its "
                f"rarer category for {row.parameters} parameters "
                f"({row.events_per_parameter:.1f} per parameter, fewer than 10): its "
                "estimates may be biased and unstable."
            )
    for role, response, fit, _, _ in models:
        if fit.family != "linear" and bool(np.any(fit.separated)):
            name = f"{role} model" if len(models) == 2 else f"{role} model for {response!r}"
            out.append(
                f"The {name} shows (quasi-)separation: some fitted probabilities are 0 or 1, "
                "so its coefficients are not reliable."
            )
    total = res.n_replicates + res.n_failed
    if total and res.n_failed / total > RULES["failed_share"]:
        out.append(
            f"{res.n_failed} of {total} replicates ({res.n_failed / total:.0%}) failed to fit, "
            "a sign of separation or sparse cells; the intervals rest on the rest and may be "
            "too narrow."
        )
    for row in balance[balance["imbalanced"]].itertuples():
        out.append(
            f"Covariate {row.covariate!r} differs between the arms (standardised mean "
            f"difference {row.smd:.2f}); check the randomisation and keep it in the models."
        )
    if overlap is not None:
        share = float(np.average(overlap["share_extreme"], weights=overlap["n"]))
        if share > RULES["extreme_share"]:
            out.append(
                f"{share:.0%} of units have a predicted mediator probability within "
                f"{RULES['extreme_probability']} of 0 or 1: the mediator is nearly determined "
                "by treatment and covariates for them, so the effects lean on model "
                "extrapolation."
            )
    return out
