"""Continuous mediator and outcome: the closed-form rho analysis (IKY 2010, Theorem 2)."""

from __future__ import annotations

import math
from typing import ClassVar

import numpy as np

from .problem import (
    SEARCH_EDGE,
    Curve,
    Note,
    Problem,
    kappa_unit,
    r2_linear,
    register,
    rho_from_k,
)

__all__ = ["ContinuousContinuous"]


@register("linear", "linear")
class ContinuousContinuous:
    """Linear mediator and outcome: IKY (2010) Theorem 2, exactly as ``medsens`` computes it.

    ``medsens`` re-estimates the two equations as a seemingly-unrelated
    regression with the error correlation fixed at ``rho`` (iterated FGLS).
    Because the outcome regressors include all mediator regressors, that
    fixed point has a closed form: the mediator coefficients stay at OLS, the
    mediator slope becomes ``gamma(rho) = gamma_ols - kappa`` and every shared
    outcome coefficient ``c_j(rho) = c_j,ols + kappa a_j`` with
    ``kappa = rho sqrt(RSS_Y / RSS_M) / sqrt(1 - rho^2)``; this is Theorem 2's
    ``(sigma_1/sigma_2) {rho~ - rho sqrt((1 - rho~^2)/(1 - rho^2))}``. The SUR
    covariance is the OLS covariance rescaled to the divisor ``n - 1`` plus
    ``kappa^2 Var(a)`` on the shared coefficients; bands use ``medsens``'
    delta-method variances (normal intervals).
    """

    kinds: ClassVar[tuple[str, str]] = ("continuous", "continuous")
    interval: ClassVar[str] = "sur_delta"

    def __init__(self, prob: Problem):
        self.p = prob
        self.failed: list[float] = []
        rss_m = float(np.sum((prob.m - prob.xm @ prob.a) ** 2))
        rss_y = float(np.sum((prob.y - prob.xy @ prob.c) ** 2))
        self.ratio = math.sqrt(rss_y / rss_m)
        n = prob.n
        self.va = prob.va * prob.df_m / (n - 1.0)
        self.vy = prob.vc * prob.df_y / (n - 1.0)
        self.mbar = prob.xm.mean(axis=0)

    def _theta(self) -> float:
        return float(self.p.c[self.p.tm_col]) if self.p.tm_col is not None else 0.0

    def _mbar_t(self, t: float) -> tuple[float, float]:
        g = self.mbar.copy()
        g[self.p.t_col_m] = t
        return float(g @ self.p.a), float(g @ self.va @ g)

    def curve(self, rho_values: np.ndarray, z: float) -> Curve:
        p = self.p
        kappa = self.ratio * kappa_unit(rho_values)
        a_t = float(p.a[p.t_col_m])
        gamma = float(p.c[p.m_col]) - kappa
        theta = self._theta()
        v_at = float(self.va[p.t_col_m, p.t_col_m])
        v_g = float(self.vy[p.m_col, p.m_col])
        out: dict[str, tuple[np.ndarray, ...]] = {}
        for t in (0, 1):
            slope = gamma + theta * t
            if p.tm_col is not None and t == 1:
                j = p.tm_col
                v_slope = v_g + self.vy[j, j] + 2.0 * self.vy[p.m_col, j]
            else:
                v_slope = v_g
            est = a_t * slope
            var = slope**2 * v_at + a_t**2 * v_slope
            out[f"nie{t}"] = (est, np.sqrt(var))
        c_t = float(p.c[p.t_col_y]) + kappa * a_t
        v_ct = self.vy[p.t_col_y, p.t_col_y] + kappa**2 * v_at
        for t in (0, 1):
            if p.tm_col is None:
                est, var = c_t, v_ct
            else:
                j = p.tm_col
                mb, v_mb = self._mbar_t(t)
                est = c_t + theta * mb
                var = (
                    v_ct + mb**2 * self.vy[j, j] + theta**2 * v_mb + self.vy[j, j] * v_mb
                    + 2.0 * mb * self.vy[p.t_col_y, j]
                )
            out[f"nde{t}"] = (est, np.sqrt(var))
        return {k: (e, e - z * s, e + z * s) for k, (e, s) in out.items()}

    def crossings(self, known: dict[float, dict[str, float]]) -> dict[str, list[float]]:
        """Closed-form roots (``known`` is not needed)."""
        p = self.p
        a_t = float(p.a[p.t_col_m])
        theta = self._theta()
        gamma = float(p.c[p.m_col])
        out: dict[str, list[float]] = {}
        for t in (0, 1):
            # a_t (gamma + theta t - kappa) = 0  <=>  kappa = gamma + theta t
            out[f"nie{t}"] = [] if a_t == 0 else [rho_from_k((gamma + theta * t) / self.ratio)]
        for t in (0, 1):
            mb = self._mbar_t(t)[0] if p.tm_col is not None else 0.0
            level = float(p.c[p.t_col_y]) + theta * mb
            # level + kappa a_t = 0
            out[f"nde{t}"] = [] if a_t == 0 else [rho_from_k(-level / (a_t * self.ratio))]
        return {k: [v for v in vals if abs(v) < SEARCH_EDGE] for k, vals in out.items()}

    def r2(self) -> tuple[float, float]:
        p = self.p
        return r2_linear(p.xm, p.m, p.a), r2_linear(p.xy, p.y, p.c)

    def notes(self) -> list[Note]:
        return []
