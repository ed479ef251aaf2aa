"""Bias formulas (VanderWeele 2010) and the robustness value.

:func:`bias_grid` corrects the natural effects for an unmeasured binary
confounder of given strengths; :func:`robustness_value` condenses the formula
into one number. Both return numbers only; :mod:`medbook.report.sensitivity_wording` words them.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from ..contract import Result
from ..errors import ConfigError
from ..results import MediationResult
from ..sequential import check_sensitivity_scope
from . import ratio
from .problem import SENSITIVITY_ESTIMANDS

__all__ = ["BiasGrid", "Robustness", "bias_grid", "robustness_value"]


def _wording() -> Any:
    from ..report import sensitivity_wording as wording

    return wording


@dataclass(repr=False)
class BiasGrid(Result):
    """Bias-corrected effects over a grid of confounder strengths.

    Attributes
    ----------
    table : pandas.DataFrame
        ``gamma, delta, bias, estimand, estimate, ci_lower, ci_upper``: the
        corrected estimate of each of ``nie0, nie1, nde0, nde1`` for every pair.
    observed : dict
        The uncorrected estimates.
    scale : str
        Effect scale of ``gamma`` and the estimates.
    multiplicative : bool
        Ratio form: ``gamma`` is a ratio and ``bias`` the factor ``B`` of
        :func:`medbook.sensitivity.ratio.bias_factor`.
    """

    table: pd.DataFrame
    observed: dict[str, float]
    scale: str
    multiplicative: bool = False

    _json_names: ClassVar[dict[str, str]] = {"table": "grid"}

    @property
    def assumptions(self) -> list[str]:
        """The conditions under which the correction is exact, in plain sentences."""
        return _wording().bias_assumptions(self.multiplicative)

    def to_frame(self) -> pd.DataFrame:
        """Tidy table, one row per (gamma, delta, estimand) (a copy)."""
        return self.table.copy()

    def matrix(self, estimand: str = "nie1") -> pd.DataFrame:
        """Corrected estimates of one estimand as a gamma x delta matrix (for contour plots)."""
        rows = self.table[self.table["estimand"] == estimand]
        return rows.pivot(index="gamma", columns="delta", values="estimate")

    def _json_extras(self) -> dict[str, Any]:
        return {"assumptions": self.assumptions}

    def _describe(self) -> str:
        return (
            f"{self.table['gamma'].nunique()} x {self.table['delta'].nunique()} "
            f"confounder strengths, scale={self.scale}"
        )


def _outcome_scale(res: MediationResult) -> float:
    """Standard deviation of a continuous or count outcome; 1 for a risk difference or ratio."""
    if res.scale == "difference":
        return float(np.std(res.data.outcome, ddof=1))
    return 1.0


def _multiplicative(res: MediationResult) -> bool:
    return getattr(res.spec, "scale", "difference") != "difference"


def bias_grid(
    res: MediationResult,
    effect_on_outcome: Sequence[float] | np.ndarray | None = None,
    imbalance: Sequence[float] | np.ndarray | None = None,
) -> BiasGrid:
    """Bias-corrected natural effects over confounder strengths (VanderWeele 2010).

    For an unmeasured confounder U of the mediator-outcome relation with effect
    ``gamma`` on the outcome and imbalance ``delta`` -- the difference in
    ``P(U = 1)`` between treated and control units with the same mediator value
    (with a randomised treatment this imbalance arises only because U moves the
    mediator) -- the bias of the natural direct effect is ``gamma * delta`` and,
    the total effect being unbiased, that of the indirect effect is its
    negative. See :data:`BiasGrid.assumptions` for the conditions.

    On the ratio and odds-ratio scales the ratio form applies instead
    (:mod:`medbook.sensitivity.ratio`): ``gamma`` is the ratio by which U
    multiplies the outcome mean, the bias is a factor ``B`` and
    ``NDE_true = NDE / B``, ``NIE_true = NIE * B`` (intervals scaled alike).

    Parameters
    ----------
    res : MediationResult
    effect_on_outcome : sequence of float, optional
        ``gamma`` values on the outcome's scale; default 0 to one outcome standard
        deviation (0 to 0.3 on the risk-difference scale, ratios 1 to 3 on the
        ratio scales) in 9 steps.
    imbalance : sequence of float, optional
        ``delta`` values; default 0 to 0.5 in 11 steps, signed so that the
        confounding inflates the observed indirect effect (the worrying direction).

    Returns
    -------
    BiasGrid

    Notes
    -----
    With several mediators the grid corrects the *joint* natural effects: U
    confounds the relation between the set of mediators and the outcome and
    ``delta`` is its imbalance among units with the same values of all
    mediators (VanderWeele & Vansteelandt 2014). No published formula covers the
    path-specific or the interventional effects; those results are refused.
    """
    check_sensitivity_scope(res, "bias")
    scale = _outcome_scale(res)
    multiplicative = _multiplicative(res)
    nie = res["nie1"]
    sign = -1.0 if nie >= (1.0 if multiplicative else 0.0) else 1.0
    default_gammas = (
        np.linspace(1.0, 3.0, 9) if multiplicative
        else np.linspace(0.0, scale if res.scale == "difference" else 0.3, 9)
    )
    gammas = (
        default_gammas
        if effect_on_outcome is None
        else np.asarray(effect_on_outcome, dtype=float).ravel()
    )
    deltas = (
        sign * np.linspace(0.0, 0.5, 11)
        if imbalance is None
        else np.asarray(imbalance, dtype=float).ravel()
    )
    for name, values in (("effect_on_outcome", gammas), ("imbalance", deltas)):
        if values.size == 0 or not np.all(np.isfinite(values)):
            raise ConfigError(f"{name} must be a non-empty sequence of finite numbers")
    if np.any(np.abs(deltas) > 1.0) and res.scale != "difference":
        raise ConfigError("imbalance is a difference in proportions and must lie in [-1, 1]")
    if multiplicative and np.any(gammas <= 0):
        raise ConfigError("effect_on_outcome is a ratio on this scale and must be positive")
    rows = []
    observed = {k: res[k] for k in SENSITIVITY_ESTIMANDS}
    for key in SENSITIVITY_ESTIMANDS:
        row = res.row(key)
        direction = 1.0 if key.startswith("nie") else -1.0
        for g in gammas:
            for d in deltas:
                if multiplicative:
                    bias = float(ratio.bias_factor(g, d))
                    values = {c: ratio.corrected(row[c], key, bias)
                              for c in ("estimate", "ci_lower", "ci_upper")}
                else:
                    bias = float(g * d)
                    values = {c: row[c] + direction * bias
                              for c in ("estimate", "ci_lower", "ci_upper")}
                rows.append(
                    {"gamma": float(g), "delta": float(d), "bias": bias, "estimand": key,
                     **values}
                )
    table = pd.DataFrame(
        rows, columns=["gamma", "delta", "bias", "estimand", "estimate", "ci_lower", "ci_upper"]
    )
    return BiasGrid(table=table, observed=observed, scale=res.scale,
                    multiplicative=multiplicative)


@dataclass(frozen=True, repr=False)
class Robustness(Result):
    """How strong a confounder must be to explain away an effect.

    Attributes
    ----------
    estimand : str
    estimate, limit : float
        The estimate and its confidence limit nearer zero.
    value : float
        Robustness value for the confidence limit: the common strength ``s`` with
        ``gamma = s`` outcome standard deviations (risk difference for a binary
        outcome) and ``delta = s`` (difference in prevalence of a binary U) such
        that ``gamma * delta`` equals the limit; 0 when the interval already
        contains zero.
    value_estimate : float
        The same for the point estimate.
    outcome_scale : float
        The outcome standard deviation used (1 for a risk difference).
    conf_level : float
    scale : str
        Effect scale of the analysis (``"difference"``, ``"risk ratio"``, ...).
    multiplicative : bool
        On a ratio scale ``limit`` is 1 when the interval contains 1, and the
        values are mediational E-values (:func:`medbook.sensitivity.ratio.e_value`).
    """

    estimand: str
    estimate: float
    limit: float
    value: float
    value_estimate: float
    outcome_scale: float
    conf_level: float
    scale: str
    multiplicative: bool = False

    @property
    def sentence(self) -> str:
        """One plain-language sentence for a stakeholder."""
        return _wording().robustness_sentence(self)

    def to_frame(self) -> pd.DataFrame:
        """One row: the fields of the result."""
        return pd.DataFrame([{f: getattr(self, f) for f in (
            "estimand", "estimate", "limit", "value", "value_estimate", "outcome_scale",
            "conf_level", "scale",
        )}])

    def _json_extras(self) -> dict[str, Any]:
        return {"sentence": self.sentence}

    def _describe(self) -> str:
        return (
            f"{self.estimand}: value={self.value:.3f} at the {self.conf_level:.0%} limit "
            f"{self.limit:.4g}, {self.value_estimate:.3f} at the estimate"
        )


def robustness_value(res: MediationResult, estimand: str = "nie1") -> Robustness:
    """Smallest equal-strength binary confounder that moves the interval's inner limit to zero.

    Uses the bias formula of :func:`bias_grid` with ``gamma = s x SD(Y)`` (or ``s``
    on the risk-difference scale) and ``delta = s``: the bias ``s^2 x SD(Y)``
    equals the confidence limit nearer zero when ``s = sqrt(|limit| / SD(Y))``.
    This is a difference-scale analogue of the mediational E-value (Smith &
    VanderWeele 2019), which is defined on the risk-ratio scale. Values above 1
    cannot be reached by a binary confounder with ``delta <= 1``. On the ratio
    and odds-ratio scales the value *is* the mediational E-value of the limit
    nearer 1 (for odds ratios, read as risk ratios: a rare-outcome approximation).

    Parameters
    ----------
    res : MediationResult
    estimand : {"nie1", "nie0", "nde0", "nde1"}

    Returns
    -------
    Robustness
    """
    check_sensitivity_scope(res, "bias")
    if estimand not in SENSITIVITY_ESTIMANDS:
        raise ConfigError(f"estimand must be one of {', '.join(SENSITIVITY_ESTIMANDS)}")
    row = res.row(estimand)
    est, lo, hi = float(row["estimate"]), float(row["ci_lower"]), float(row["ci_upper"])
    if _multiplicative(res):
        limit = 1.0 if lo <= 1.0 <= hi else (lo if est > 1 else hi)
        return Robustness(
            estimand=estimand, estimate=est, limit=limit, value=ratio.e_value(limit),
            value_estimate=ratio.e_value(est), outcome_scale=1.0,
            conf_level=float(res.spec.conf_level), scale=res.scale, multiplicative=True,
        )
    limit = 0.0 if lo <= 0.0 <= hi else (lo if est > 0 else hi)
    scale = _outcome_scale(res)
    value = math.sqrt(abs(limit) / scale)
    value_est = math.sqrt(abs(est) / scale)
    return Robustness(
        estimand=estimand, estimate=est, limit=limit, value=value, value_estimate=value_est,
        outcome_scale=scale, conf_level=float(res.spec.conf_level), scale=res.scale,
    )


