"""Sensitivity of natural direct and indirect effects to mediator-outcome confounding.

Three tools, all on the difference (or risk-difference) scale of :func:`medbook.mediate`:

* :func:`rho` -- the correlation-of-errors analysis of Imai, Keele & Yamamoto (2010,
  *Statistical Science* 25:51-71, Theorem 2 and sec. 5) and Imai, Keele & Tingley
  (2010, *Psychological Methods* 15:309-334, appendix), as implemented by R's
  ``mediation::medsens``: the effects as a function of ``rho``, the correlation
  between the mediator-model and outcome-model errors that an unmeasured
  confounder would induce; ``rho = 0`` is sequential ignorability.
* :func:`bias_grid` and :func:`robustness_value` -- the bias formulas of
  VanderWeele (2010, "Bias formulas for sensitivity analysis for direct and
  indirect effects", *Epidemiology* 21:540-551) for an unmeasured confounder U,
  and a single E-value-like number in the spirit of Smith & VanderWeele (2019,
  "Mediational E-values", *Epidemiology* 30:835-837).
* :func:`confounding_sweep` -- the teaching notebook's simulation: estimates that
  omit U against oracle estimates that adjust for it, over U strengths.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import optimize, special, stats

from .effects import mediator_design, outcome_design
from .errors import ConfigError, FitError
from .fit import fit_model
from .jsonsafe import jsonable, records
from .results import MediationResult
from .weights import ReplicateWeights

__all__ = [
    "SENSITIVITY_ESTIMANDS",
    "BiasGrid",
    "RhoSensitivity",
    "Robustness",
    "bias_grid",
    "confounding_sweep",
    "rho",
    "robustness_value",
]

SENSITIVITY_ESTIMANDS = ("nie0", "nie1", "nde0", "nde1")
_LABELS = {"nie0": "NIE(0)", "nie1": "NIE(1)", "nde0": "NDE(0)", "nde1": "NDE(1)"}
_DEFAULT_GRID = np.round(np.arange(-0.9, 0.9001, 0.05), 2)
_SEARCH_EDGE = 0.99
_NEWTON_TOL = 1e-10
_NEWTON_MAX = 50


# --------------------------------------------------------------------------------------
# bivariate normal distribution (Owen's T representation)
# --------------------------------------------------------------------------------------

def _bvn_cdf(h: np.ndarray, k: np.ndarray, r: np.ndarray | float) -> np.ndarray:
    """``P(X <= h, Y <= k)`` for standard bivariate normal ``(X, Y)`` with correlation ``r``.

    Owen (1956): ``Phi2 = (Phi(h) + Phi(k))/2 - T(h, a_h) - T(k, a_k) - beta`` with
    ``a_h = (k - r h) / (h sqrt(1 - r^2))``; ``|r| < 1``.
    """
    h, k, r = np.broadcast_arrays(np.asarray(h, float), np.asarray(k, float), np.asarray(r, float))
    s = np.sqrt(1.0 - r * r)
    hh = np.where(h == 0.0, 1e-300, h)
    kk = np.where(k == 0.0, 1e-300, k)
    with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
        ah = (kk - r * hh) / (hh * s)
        ak = (hh - r * kk) / (kk * s)
    beta = np.where(hh * kk < 0.0, 0.5, 0.0)
    out = (
        0.5 * special.ndtr(hh) + 0.5 * special.ndtr(kk)
        - special.owens_t(hh, ah) - special.owens_t(kk, ak) - beta
    )
    return np.clip(out, 0.0, 1.0)


# --------------------------------------------------------------------------------------
# correlation-of-errors sensitivity (rho)
# --------------------------------------------------------------------------------------

@dataclass
class RhoSensitivity:
    """Effects as a function of the error correlation ``rho``.

    Attributes
    ----------
    table : pandas.DataFrame
        ``rho, estimand, estimate, ci_lower, ci_upper`` (see :meth:`to_frame`).
    zero_crossing : dict
        For each of ``nie0, nie1, nde0, nde1``: the ``rho`` nearest zero at which
        the point curve crosses zero (root-found, not read off the grid), or None.
    crossings : dict
        Every crossing in ``(-0.99, 0.99)`` per estimand.
    r2_star_product, r2_tilde_product : dict
        The zero crossing expressed as ``R2_M* x R2_Y* = rho^2`` (share of the
        unexplained variances explained by the confounder) and
        ``R~2_M x R~2_Y = rho^2 (1 - R2_M)(1 - R2_Y)`` (share of the total
        variances), as in ``medsens``' summary.
    r2_mediator, r2_outcome : float
        R-squared of the mediator and outcome models (latent-scale
        ``var(xb) / (1 + var(xb))`` for a probit model, as ``medsens``).
    main_estimate : dict
        The estimates of the analysis being probed.
    model : str
        ``"continuous mediator, continuous outcome"`` etc.
    mediator_family, outcome_family : str
        Models used for the sensitivity analysis (logit is refit as probit).
    interaction : bool
    conf_level : float
    interval : str
        How the bands were computed.
    notes : list of str
        Approximations and restrictions, in plain sentences.
    """

    table: pd.DataFrame
    zero_crossing: dict[str, float | None]
    crossings: dict[str, list[float]]
    r2_star_product: dict[str, float | None]
    r2_tilde_product: dict[str, float | None]
    r2_mediator: float
    r2_outcome: float
    main_estimate: dict[str, float]
    model: str
    mediator_family: str
    outcome_family: str
    interaction: bool
    conf_level: float
    interval: str
    notes: list[str] = field(default_factory=list)

    def to_frame(self) -> pd.DataFrame:
        """Tidy curve: one row per (rho, estimand) with the interval bounds (a copy)."""
        return self.table.copy()

    def at(self, rho_value: float) -> dict[str, float]:
        """Point estimates at a grid value of ``rho``."""
        rows = self.table[np.isclose(self.table["rho"], rho_value)]
        if rows.empty:
            raise KeyError(f"rho = {rho_value} is not on the grid")
        return {str(r.estimand): float(r.estimate) for r in rows.itertuples()}

    def grid_crossing(self) -> dict[str, float | None]:
        """Grid value of ``rho`` where ``|estimate|`` is smallest (what ``medsens`` prints)."""
        out: dict[str, float | None] = {}
        for key in SENSITIVITY_ESTIMANDS:
            rows = self.table[(self.table["estimand"] == key) & self.table["estimate"].notna()]
            out[key] = (
                float(rows["rho"].iloc[int(np.argmin(np.abs(rows["estimate"])))])
                if not rows.empty else None
            )
        return out

    def ci_covers_zero_from(self) -> dict[str, float | None]:
        """Smallest ``|rho|`` on the grid at which the confidence band contains zero."""
        out: dict[str, float | None] = {}
        for key in SENSITIVITY_ESTIMANDS:
            rows = self.table[self.table["estimand"] == key]
            covers = rows[(rows["ci_lower"] <= 0) & (rows["ci_upper"] >= 0)]
            out[key] = float(covers["rho"].abs().min()) if not covers.empty else None
        return out

    def headline(self, estimand: str = "nie1") -> dict[str, Any]:
        """Numbers (and one plain sentence) a memo can quote about ``estimand``."""
        if estimand not in SENSITIVITY_ESTIMANDS:
            raise ConfigError(f"estimand must be one of {', '.join(SENSITIVITY_ESTIMANDS)}")
        crossing = self.zero_crossing[estimand]
        label = _LABELS[estimand]
        est = self.main_estimate.get(estimand, float("nan"))
        if crossing is None:
            sentence = (
                f"The {label} estimate ({est:.3g}) keeps its sign for every error "
                "correlation between -0.99 and 0.99."
            )
        else:
            signs = "" if crossing > 0 else ", with effects of opposite sign on the two"
            sentence = (
                f"The {label} estimate ({est:.3g}) would fall to zero if the correlation "
                f"between the mediator and outcome errors reached {crossing:.2f}: an unmeasured "
                f"confounder would have to explain, for example, {abs(crossing):.0%} of the "
                f"residual variance of both the mediator and the outcome{signs} "
                f"(R\u00b2_M*\u00b7R\u00b2_Y* = {self.r2_star_product[estimand]:.3f}; as shares "
                "of the total variances, "
                f"R\u0303\u00b2_M\u00b7R\u0303\u00b2_Y = {self.r2_tilde_product[estimand]:.3f})."
            )
        return {
            "estimand": estimand,
            "label": label,
            "estimate": est,
            "rho_at_zero": crossing,
            "r2_star_product": self.r2_star_product[estimand],
            "r2_tilde_product": self.r2_tilde_product[estimand],
            "ci_covers_zero_from_abs_rho": self.ci_covers_zero_from()[estimand],
            "model": self.model,
            "sentence": sentence,
        }

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dictionary of the curve, crossings and metadata."""
        return jsonable(
            {
                "curve": records(self.table),
                "zero_crossing": self.zero_crossing,
                "zero_crossing_on_grid": self.grid_crossing(),
                "crossings": self.crossings,
                "r2_star_product": self.r2_star_product,
                "r2_tilde_product": self.r2_tilde_product,
                "r2_mediator": self.r2_mediator,
                "r2_outcome": self.r2_outcome,
                "ci_covers_zero_from_abs_rho": self.ci_covers_zero_from(),
                "main_estimate": self.main_estimate,
                "model": self.model,
                "mediator_family": self.mediator_family,
                "outcome_family": self.outcome_family,
                "interaction": self.interaction,
                "conf_level": self.conf_level,
                "interval": self.interval,
                "notes": self.notes,
                "headline": self.headline("nie1"),
            }
        )

    def __repr__(self) -> str:
        cross = ", ".join(
            f"{k}={'none' if v is None else f'{v:.3f}'}" for k, v in self.zero_crossing.items()
        )
        return (
            f"RhoSensitivity({self.model}; {self.table['rho'].nunique()} rho values; "
            f"zero crossing: {cross})"
        )


@dataclass
class _Problem:
    """Arrays and fitted coefficients the rho formulas need."""

    xm: np.ndarray
    xy: np.ndarray
    m: np.ndarray
    y: np.ndarray
    t_col_m: int
    t_col_y: int
    m_col: int
    tm_col: int | None
    shared: np.ndarray  # outcome columns that correspond to mediator columns (const, t, covs)
    a: np.ndarray
    va: np.ndarray
    sigma_m: float
    df_m: float
    c: np.ndarray
    vc: np.ndarray
    df_y: float
    m_family: str
    y_family: str

    @property
    def n(self) -> int:
        return self.m.shape[0]

    def xm_at(self, t: float) -> np.ndarray:
        x = self.xm.copy()
        x[:, self.t_col_m] = t
        return x


def _problem(res: MediationResult, notes: list[str]) -> _Problem:
    data = res.data
    interaction = bool(res.spec.interaction)
    xm, m_names = mediator_design(data)
    xy, y_names = outcome_design(data, interaction)
    if tuple(m_names) != tuple(res.mediator_fit.names) or tuple(y_names) != tuple(
        res.outcome_fit.names
    ):
        raise ConfigError("the result's model columns do not match its data; refit with mediate")
    unit = ReplicateWeights(data.n)
    fits = {}
    for role, fit, x, v, names in (
        ("mediator", res.mediator_fit, xm, data.mediator, m_names),
        ("outcome", res.outcome_fit, xy, data.outcome, y_names),
    ):
        if fit.family == "logit":
            column = data.names[role]
            fit = fit_model("probit", x, v, unit, names, response=column)
            notes.append(
                f"The {role} model was fitted as logit; the sensitivity analysis refits it as "
                "probit (the latent-normal formulation needs normal errors), so at rho = 0 "
                "the curve gives the probit model's estimate, not exactly the main estimate."
            )
        fits[role] = fit
    med, out = fits["mediator"], fits["outcome"]
    k = data.covariates.shape[1]
    tm_col = 3 if interaction else None
    first_cov = 4 if interaction else 3
    shared = np.array([0, 1, *range(first_cov, first_cov + k)])
    return _Problem(
        xm=xm, xy=xy, m=data.mediator, y=data.outcome,
        t_col_m=1, t_col_y=1, m_col=2, tm_col=tm_col, shared=shared,
        a=med.coef[0].copy(), va=np.asarray(med.cov), sigma_m=float(med.sigma[0]),
        df_m=float(med.df_resid), c=out.coef[0].copy(), vc=np.asarray(out.cov),
        df_y=float(out.df_resid), m_family=med.family, y_family=out.family,
    )


def _r2_linear(x: np.ndarray, v: np.ndarray, coef: np.ndarray) -> float:
    resid = v - x @ coef
    centred = v - v.mean()
    return float(1.0 - resid @ resid / (centred @ centred))


def _r2_latent(x: np.ndarray, coef: np.ndarray) -> float:
    var = float(np.var(x @ coef, ddof=1))
    return var / (1.0 + var)


def _kappa_unit(rho_values: np.ndarray) -> np.ndarray:
    return rho_values / np.sqrt(1.0 - rho_values**2)


def _rho_from_k(k: float) -> float:
    return float(k / math.sqrt(1.0 + k * k))


class _ContinuousContinuous:
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

    def __init__(self, prob: _Problem):
        self.p = prob
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

    def curve(self, rho_values: np.ndarray, z: float) -> dict[str, tuple[np.ndarray, ...]]:
        p = self.p
        kappa = self.ratio * _kappa_unit(rho_values)
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

    def crossings(self) -> dict[str, list[float]]:
        p = self.p
        a_t = float(p.a[p.t_col_m])
        theta = self._theta()
        gamma = float(p.c[p.m_col])
        out: dict[str, list[float]] = {}
        for t in (0, 1):
            # a_t (gamma + theta t - kappa) = 0  <=>  kappa = gamma + theta t
            out[f"nie{t}"] = [] if a_t == 0 else [_rho_from_k((gamma + theta * t) / self.ratio)]
        for t in (0, 1):
            mb = self._mbar_t(t)[0] if p.tm_col is not None else 0.0
            level = float(p.c[p.t_col_y]) + theta * mb
            # level + kappa a_t = 0
            out[f"nde{t}"] = [] if a_t == 0 else [_rho_from_k(-level / (a_t * self.ratio))]
        return {k: [v for v in vals if abs(v) < _SEARCH_EDGE] for k, vals in out.items()}

    def r2(self) -> tuple[float, float]:
        p = self.p
        return _r2_linear(p.xm, p.m, p.a), _r2_linear(p.xy, p.y, p.c)


class _Latent:
    """Shared machinery of the cases with a probit model: point curve and delta-method band.

    Subclasses define ``parameters(rho) -> (theta, cov)`` and
    ``effects(theta_batch, rho) -> dict of (B,)`` arrays.
    """

    p: _Problem
    failed: list[float]

    def parameters(self, rho_value: float) -> tuple[np.ndarray, np.ndarray]:
        raise NotImplementedError

    def effects(self, theta: np.ndarray, rho_value: float) -> dict[str, np.ndarray]:
        raise NotImplementedError

    def point_theta(self, rho_value: float) -> np.ndarray:
        return self.parameters(rho_value)[0]

    def point(self, rho_value: float) -> dict[str, float]:
        theta = self.point_theta(rho_value)
        return {k: float(v[0]) for k, v in self.effects(theta[None, :], rho_value).items()}

    def gradients(
        self, theta: np.ndarray, rho_value: float
    ) -> tuple[dict[str, float], dict[str, np.ndarray]]:
        """Effects and their gradients in ``theta`` (central differences, one batch)."""
        d = theta.size
        step = 1e-5 * np.maximum(1.0, np.abs(theta))
        batch = np.repeat(theta[None, :], 2 * d + 1, axis=0)
        batch[np.arange(d), np.arange(d)] += step
        batch[d + np.arange(d), np.arange(d)] -= step
        values = self.effects(batch, rho_value)
        est = {k: float(v[-1]) for k, v in values.items()}
        grad = {k: (v[:d] - v[d : 2 * d]) / (2.0 * step) for k, v in values.items()}
        return est, grad

    def curve(self, rho_values: np.ndarray, z: float) -> dict[str, tuple[np.ndarray, ...]]:
        cols: dict[str, list[list[float]]] = {k: [[], [], []] for k in SENSITIVITY_ESTIMANDS}
        self.failed: list[float] = []
        for r in rho_values:
            try:
                theta, cov = self.parameters(float(r))
                est, grad = self.gradients(theta, float(r))
            except FitError:
                self.failed.append(float(r))
                for key in SENSITIVITY_ESTIMANDS:
                    for col in cols[key]:
                        col.append(float("nan"))
                continue
            for key in SENSITIVITY_ESTIMANDS:
                g = grad[key]
                se = math.sqrt(max(float(g @ cov @ g), 0.0))
                cols[key][0].append(est[key])
                cols[key][1].append(est[key] - z * se)
                cols[key][2].append(est[key] + z * se)
        return {k: tuple(np.asarray(c) for c in v) for k, v in cols.items()}

    def crossings(self, known: dict[float, dict[str, float]]) -> dict[str, list[float]]:
        values = {r: v for r, v in known.items() if all(map(math.isfinite, v.values()))}
        for side in (-1.0, 1.0):
            reach = max((abs(r) for r in values if r * side > 0), default=0.0)
            for edge in (side * _SEARCH_EDGE, side * 0.95):
                if abs(edge) <= reach:
                    break
                try:
                    values[edge] = self.point(edge)
                    break
                except FitError:
                    continue
        grid = sorted(values)
        out: dict[str, list[float]] = {}
        for key in SENSITIVITY_ESTIMANDS:
            roots: list[float] = []
            for lo, hi in itertools.pairwise(grid):
                f_lo, f_hi = values[lo][key], values[hi][key]
                if f_lo == 0.0:
                    roots.append(lo)
                elif f_lo * f_hi < 0:
                    try:
                        root = optimize.brentq(
                            lambda r, k=key: self.point(r)[k], lo, hi, xtol=1e-7
                        )
                    except FitError:
                        continue
                    roots.append(float(root))
            out[key] = sorted(set(roots))
        return out


class _BinaryMediator(_Latent):
    """Probit mediator, linear outcome: ``medsens``' control-function estimator.

    With latent ``M* = x a + e2`` (``var e2 = 1``) and ``corr(e2, e3) = rho``,
    ``E[e3 | M, x] = rho sigma3 lambda`` with the generalised residual
    ``lambda`` and ``var(e3 | M, x) = sigma3^2 w``, ``w = 1 - rho^2 lambda (lambda + x a)``.
    As ``medsens`` does, the outcome equation is re-estimated by weighted least
    squares of ``Y - sigma3 rho lambda`` with weights ``w`` and ``sigma3`` iterated
    to its fixed point (solved here as the positive root of a quadratic). The
    mediator coefficients stay at their probit estimates. Effects are linear in
    the outcome coefficients: ``NIE(t) = (gamma + theta t) mean(Phi(x1 a) - Phi(x0 a))``,
    ``NDE(t) = beta_t + theta mean(Phi(x_t a))``.
    """

    def __init__(self, prob: _Problem):
        self.p = prob
        self.pa = prob.a.size
        self.x1 = prob.xm_at(1.0)
        self.x0 = prob.xm_at(0.0)

    def solve(self, a: np.ndarray, rho_value: float) -> tuple[np.ndarray, np.ndarray]:
        p = self.p
        mu = p.xm @ a
        lam = np.where(
            p.m == 1.0,
            np.exp(stats.norm.logpdf(mu) - special.log_ndtr(mu)),
            -np.exp(stats.norm.logpdf(mu) - special.log_ndtr(-mu)),
        )
        w = 1.0 - rho_value**2 * lam * (lam + mu)
        xw = p.xy * w[:, None]
        gram = p.xy.T @ xw
        inv = np.linalg.inv(gram)
        coef_y = inv @ (xw.T @ p.y)
        coef_l = inv @ (xw.T @ lam)
        ry = p.y - p.xy @ coef_y
        rl = lam - p.xy @ coef_l
        big_a = float(np.sum(w * ry * ry))
        big_b = float(np.sum(w * ry * rl))
        big_c = float(np.sum(w * rl * rl))
        dof = p.n - p.xy.shape[1]
        quad = dof - rho_value**2 * big_c
        disc = (rho_value * big_b) ** 2 + quad * big_a
        if quad <= 0 or disc < 0:
            raise FitError(f"the outcome model has no fixed point at rho = {rho_value:.3f}")
        sigma = (-rho_value * big_b + math.sqrt(disc)) / quad
        coef = coef_y - sigma * rho_value * coef_l
        return coef, sigma**2 * inv

    def point_theta(self, rho_value: float) -> np.ndarray:
        return np.concatenate([self.p.a, self.solve(self.p.a, rho_value)[0]])

    def parameters(self, rho_value: float) -> tuple[np.ndarray, np.ndarray]:
        p = self.p
        coef, vc = self.solve(p.a, rho_value)
        jac = np.empty((coef.size, self.pa))
        for j in range(self.pa):
            h = 1e-5 * max(1.0, abs(p.a[j]))
            up, down = p.a.copy(), p.a.copy()
            up[j] += h
            down[j] -= h
            jac[:, j] = (self.solve(up, rho_value)[0] - self.solve(down, rho_value)[0]) / (2 * h)
        return _stack(p.a, coef, p.va, vc, jac)

    def effects(self, theta: np.ndarray, rho_value: float) -> dict[str, np.ndarray]:
        p = self.p
        a, c = theta[:, : self.pa], theta[:, self.pa :]
        p1 = special.ndtr(a @ self.x1.T)
        p0 = special.ndtr(a @ self.x0.T)
        diff = np.mean(p1 - p0, axis=1)
        theta_tm = c[:, p.tm_col] if p.tm_col is not None else 0.0
        gamma = c[:, p.m_col]
        beta = c[:, p.t_col_y]
        return {
            "nie0": gamma * diff,
            "nie1": (gamma + theta_tm) * diff,
            "nde0": beta + theta_tm * np.mean(p0, axis=1),
            "nde1": beta + theta_tm * np.mean(p1, axis=1),
        }

    def r2(self) -> tuple[float, float]:
        p = self.p
        return _r2_latent(p.xm, p.a), _r2_linear(p.xy, p.y, p.c)


def _stack(
    a: np.ndarray, c: np.ndarray, va: np.ndarray, vc: np.ndarray, jac: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Joint covariance of ``(a, c(a))`` when ``c`` is re-estimated given ``a``.

    ``c_hat(rho) ~ c(a_hat) + J (a_hat - a) + xi`` with ``Var xi = vc``.
    """
    pa = a.size
    cov = np.zeros((pa + c.size, pa + c.size))
    cov[:pa, :pa] = va
    cov[:pa, pa:] = va @ jac.T
    cov[pa:, :pa] = jac @ va
    cov[pa:, pa:] = jac @ va @ jac.T + vc
    return np.concatenate([a, c]), cov


class _BinaryOutcome(_Latent):
    """Linear mediator, probit outcome: IKT (2010) appendix, as in ``medsens``.

    Structural latent outcome ``Y* = eta_t + (gamma + theta t) M + e3``, ``var e3 = 1``,
    ``corr(e2, e3) = rho``, ``e2 ~ N(0, sigma2^2)`` the mediator error. Given ``M``,
    ``e3 = (rho / sigma2) e2 + v`` with ``var v = 1 - rho^2``, so the observed probit
    coefficients are ``(structural - (rho / sigma2) a) / sqrt(1 - rho^2)`` on the
    shared columns, ``(gamma + rho / sigma2) / sqrt(1 - rho^2)`` on ``M`` and
    ``theta / sqrt(1 - rho^2)`` on ``T x M``; inverting this gives the structural
    coefficients in closed form for every ``rho``, and
    ``E[Y(t, M(t'))] = mean Phi((eta_t + b_t mu_t') / sqrt(b_t^2 sigma2^2 + 2 b_t rho sigma2 + 1))``
    with ``b_t = gamma + theta t``. Without interaction this is exactly
    ``medsens``' formula with its reduced-form coefficients; the treatment-mediator
    interaction (which ``medsens`` refuses) follows from the same algebra.
    ``medsens`` computes the implied ``rho12`` as ``sigma2 g / (1 + |sigma2 g|)``; the
    algebra above (and the identity at ``rho = 0``) needs ``sigma2 g / sqrt(1 + sigma2^2 g^2)``.
    """

    def __init__(self, prob: _Problem):
        self.p = prob
        self.pa = prob.a.size
        self.x1 = prob.xm_at(1.0)
        self.x0 = prob.xm_at(0.0)
        xs = prob.xy[:, prob.shared]
        self.xs1 = xs.copy()
        self.xs1[:, 1] = 1.0
        self.xs0 = xs.copy()
        self.xs0[:, 1] = 0.0

    def parameters(self, rho_value: float) -> tuple[np.ndarray, np.ndarray]:
        p = self.p
        theta = np.concatenate([p.a, [p.sigma_m], p.c])
        d = theta.size
        cov = np.zeros((d, d))
        cov[: self.pa, : self.pa] = p.va
        cov[self.pa, self.pa] = p.sigma_m**2 / (2.0 * p.df_m)
        cov[self.pa + 1 :, self.pa + 1 :] = p.vc
        return theta, cov

    def effects(self, theta: np.ndarray, rho_value: float) -> dict[str, np.ndarray]:
        p = self.p
        a = theta[:, : self.pa]
        sig = theta[:, self.pa]
        c = theta[:, self.pa + 1 :]
        s = math.sqrt(1.0 - rho_value**2)
        shift = rho_value / sig
        struct = s * c[:, p.shared] + shift[:, None] * a
        gamma = s * c[:, p.m_col] - shift
        theta_tm = s * c[:, p.tm_col] if p.tm_col is not None else np.zeros_like(gamma)
        mu = {1: a @ self.x1.T, 0: a @ self.x0.T}
        eta = {1: struct @ self.xs1.T, 0: struct @ self.xs0.T}
        po = {}
        for t in (0, 1):
            b = (gamma + theta_tm * t)[:, None]
            scale = np.sqrt(b**2 * sig[:, None] ** 2 + 2.0 * b * rho_value * sig[:, None] + 1.0)
            for tm in (0, 1):
                po[(t, tm)] = np.mean(special.ndtr((eta[t] + b * mu[tm]) / scale), axis=1)
        return _contrasts(po)

    def r2(self) -> tuple[float, float]:
        p = self.p
        return _r2_linear(p.xm, p.m, p.a), _r2_latent(p.xy, p.c)


def _contrasts(po: dict[tuple[int, int], np.ndarray]) -> dict[str, np.ndarray]:
    return {
        "nie0": po[(0, 1)] - po[(0, 0)],
        "nie1": po[(1, 1)] - po[(1, 0)],
        "nde0": po[(1, 0)] - po[(0, 0)],
        "nde1": po[(1, 1)] - po[(0, 1)],
    }


class _BinaryBinary(_Latent):
    """Probit mediator and probit outcome: a bivariate normal latent model (not in ``medsens``).

    ``M = 1{x a + e2 > 0}``, ``Y = 1{z c + e3 > 0}`` (``z`` holds ``T, M, T x M`` and
    the covariates), ``(e2, e3)`` standard bivariate normal with correlation ``rho``
    -- a recursive bivariate probit with ``rho`` fixed. The mediator's marginal
    model is an ordinary probit whatever ``rho`` is, so ``a`` stays at its probit
    estimate; ``c(rho)`` maximises the conditional likelihood
    ``P(Y | M, x) = Phi2(q_M x a, q_Y z c; q_M q_Y rho) / Phi(q_M x a)``
    (``q = 2 v - 1``), a two-step limited-information estimator. The cross-world
    means use the same joint law of the errors:
    ``P(Y(t, M(t')) = 1 | x) = Phi(eta_t0) - Phi2(mu_t', eta_t0; rho) + Phi2(mu_t', eta_t1; rho)``,
    which reduces to the g-formula at ``rho = 0``. Bands propagate the uncertainty
    of ``a`` through the implicit-function Jacobian of ``c(rho)``.
    """

    def __init__(self, prob: _Problem):
        self.p = prob
        self.pa = prob.a.size
        self.qm = 2.0 * prob.m - 1.0
        self.qy = 2.0 * prob.y - 1.0
        self.x1 = prob.xm_at(1.0)
        self.x0 = prob.xm_at(0.0)
        self.cache: dict[float, np.ndarray] = {0.0: prob.c.copy()}
        self.zs = {}
        for t in (0, 1):
            for mv in (0, 1):
                z = prob.xy.copy()
                z[:, prob.t_col_y] = t
                z[:, prob.m_col] = mv
                if prob.tm_col is not None:
                    z[:, prob.tm_col] = t * mv
                self.zs[(t, mv)] = z

    def _terms(self, a: np.ndarray, c: np.ndarray, rho_value: float) -> dict[str, np.ndarray]:
        """Per-row log-likelihood and its derivatives in ``eta = z c`` and ``mu = x a``.

        With ``P = Phi2(q_M mu, q_Y eta; q_M q_Y rho)`` and ``A = q_M (mu - rho eta) / s``:
        ``dlogP/deta = g = q_Y phi(eta) Phi(A) / P``,
        ``d g/deta = q_Y phi(eta) (-eta Phi(A) - phi(A) q_M rho / s) / P - g^2`` and
        ``d g/dmu = q_Y phi(eta) phi(A) q_M / (s P) - g dlogP/dmu``.
        """
        p = self.p
        mu = p.xm @ a
        eta = p.xy @ c
        s = math.sqrt(1.0 - rho_value**2)
        joint = np.maximum(
            _bvn_cdf(self.qm * mu, self.qy * eta, self.qm * self.qy * rho_value), 1e-300
        )
        big_a = self.qm * (mu - rho_value * eta) / s
        phi_eta, phi_a, cdf_a = stats.norm.pdf(eta), stats.norm.pdf(big_a), special.ndtr(big_a)
        with np.errstate(over="ignore", invalid="ignore"):
            g = self.qy * phi_eta * cdf_a / joint
            g_eta = (
                self.qy * phi_eta * (-eta * cdf_a - phi_a * self.qm * rho_value / s) / joint
                - g * g
            )
            dlogp_mu = (
                self.qm * stats.norm.pdf(mu)
                * special.ndtr(self.qy * (eta - rho_value * mu) / s) / joint
            )
            g_mu = self.qy * phi_eta * phi_a * self.qm / (s * joint) - g * dlogp_mu
        loglik = np.log(joint) - special.log_ndtr(self.qm * mu)
        if not (np.all(np.isfinite(g_eta)) and np.all(np.isfinite(g_mu))):
            raise FitError(
                f"bivariate probit likelihood is numerically degenerate at rho = {rho_value:.3f}"
            )
        return {"loglik": loglik, "g": g, "g_eta": g_eta, "g_mu": g_mu}

    def solve(self, a: np.ndarray, rho_value: float, start: np.ndarray) -> np.ndarray:
        """Newton-Raphson (with step halving) for the outcome coefficients at fixed ``rho``."""
        z = self.p.xy
        c = start.copy()
        terms = self._terms(a, c, rho_value)
        ll = float(terms["loglik"].sum())
        for _ in range(_NEWTON_MAX):
            hess = z.T @ (z * terms["g_eta"][:, None])
            step = np.linalg.solve(hess, -(z.T @ terms["g"]))
            scale = 1.0
            while True:
                trial = c + scale * step
                trial_terms = self._terms(a, trial, rho_value)
                ll_trial = float(trial_terms["loglik"].sum())
                if ll_trial >= ll - 1e-9 or scale < 1e-4:
                    break
                scale /= 2.0
            c, ll, terms = trial, ll_trial, trial_terms
            if np.max(np.abs(scale * step)) < _NEWTON_TOL * (1.0 + np.max(np.abs(c))):
                return c
        raise FitError(f"bivariate probit outcome model did not converge at rho = {rho_value:.3f}")

    def coef(self, rho_value: float) -> np.ndarray:
        key = round(rho_value, 12)
        if key not in self.cache:
            nearest = min(self.cache, key=lambda r: abs(r - key))
            self.cache[key] = self.solve(self.p.a, rho_value, self.cache[nearest])
        return self.cache[key]

    def parameters(self, rho_value: float) -> tuple[np.ndarray, np.ndarray]:
        p = self.p
        c = self.coef(rho_value)
        terms = self._terms(p.a, c, rho_value)
        h_cc = p.xy.T @ (p.xy * terms["g_eta"][:, None])
        h_ca = p.xy.T @ (p.xm * terms["g_mu"][:, None])
        inv = np.linalg.inv(-h_cc)
        return _stack(p.a, c, p.va, inv, inv @ h_ca)

    def point_theta(self, rho_value: float) -> np.ndarray:
        return np.concatenate([self.p.a, self.coef(rho_value)])

    def gradients(
        self, theta: np.ndarray, rho_value: float
    ) -> tuple[dict[str, float], dict[str, np.ndarray]]:
        """Effects and analytic gradients: ``dPhi2(h, k; r)/dk = phi(k) Phi((h - r k)/s)``."""
        a, c = theta[: self.pa], theta[self.pa :]
        s = math.sqrt(1.0 - rho_value**2)
        xs = {1: self.x1, 0: self.x0}
        po: dict[tuple[int, int], np.ndarray] = {}
        grad: dict[tuple[int, int], np.ndarray] = {}
        for t in (0, 1):
            z0, z1 = self.zs[(t, 0)], self.zs[(t, 1)]
            eta0, eta1 = z0 @ c, z1 @ c
            for tm in (0, 1):
                mu = xs[tm] @ a
                prob = (
                    special.ndtr(eta0)
                    - _bvn_cdf(mu, eta0, rho_value)
                    + _bvn_cdf(mu, eta1, rho_value)
                )
                d_mu = stats.norm.pdf(mu) * (
                    special.ndtr((eta1 - rho_value * mu) / s)
                    - special.ndtr((eta0 - rho_value * mu) / s)
                )
                d_eta0 = stats.norm.pdf(eta0) * special.ndtr(-(mu - rho_value * eta0) / s)
                d_eta1 = stats.norm.pdf(eta1) * special.ndtr((mu - rho_value * eta1) / s)
                po[(t, tm)] = np.atleast_1d(np.mean(prob))
                grad[(t, tm)] = np.concatenate(
                    [xs[tm].T @ d_mu, z0.T @ d_eta0 + z1.T @ d_eta1]
                ) / self.p.n
        est = {k: float(v[0]) for k, v in _contrasts(po).items()}
        return est, _contrasts(grad)

    def effects(self, theta: np.ndarray, rho_value: float) -> dict[str, np.ndarray]:
        a, c = theta[:, : self.pa], theta[:, self.pa :]
        mu = {1: a @ self.x1.T, 0: a @ self.x0.T}
        po = {}
        for t in (0, 1):
            eta0 = c @ self.zs[(t, 0)].T
            eta1 = c @ self.zs[(t, 1)].T
            for tm in (0, 1):
                prob = (
                    special.ndtr(eta0)
                    - _bvn_cdf(mu[tm], eta0, rho_value)
                    + _bvn_cdf(mu[tm], eta1, rho_value)
                )
                po[(t, tm)] = np.mean(prob, axis=1)
        return _contrasts(po)

    def r2(self) -> tuple[float, float]:
        p = self.p
        return _r2_latent(p.xm, p.a), _r2_latent(p.xy, p.c)


def _grid(grid: Sequence[float] | np.ndarray | None) -> np.ndarray:
    if grid is None:
        return _DEFAULT_GRID.copy()
    values = np.unique(np.round(np.asarray(grid, dtype=float).ravel(), 12))
    if values.size == 0 or not np.all(np.isfinite(values)) or np.any(np.abs(values) >= 1.0):
        raise ConfigError("rho grid must hold finite values strictly between -1 and 1")
    if not np.any(values == 0.0):
        values = np.sort(np.append(values, 0.0))
    return values


def rho(
    res: MediationResult,
    grid: Sequence[float] | np.ndarray | None = None,
    conf_level: float | None = None,
) -> RhoSensitivity:
    """Correlation-of-errors sensitivity analysis of a mediation result.

    The sensitivity parameter ``rho`` is the correlation between the errors of
    the mediator and outcome models; an unmeasured mediator-outcome confounder
    makes it non-zero, and ``rho = 0`` reproduces the analysis. For each ``rho``
    the structural coefficients implied by the fitted models are recovered and
    ``NIE(0), NIE(1), NDE(0), NDE(1)`` recomputed (Imai, Keele & Yamamoto 2010,
    Theorem 2 and sec. 5; Imai, Keele & Tingley 2010, appendix; the R function
    ``mediation::medsens``).

    * continuous mediator and outcome: closed form, identical to ``medsens``'
      SUR estimates (with or without treatment-mediator interaction); bands are
      ``medsens``' delta-method normal intervals;
    * binary mediator, continuous outcome: ``medsens``' probit control-function
      estimator (interaction allowed);
    * continuous mediator, binary outcome: ``medsens``' closed form for a probit
      outcome, extended to the interaction model;
    * binary mediator and outcome (not in ``medsens``): a bivariate normal latent
      model with ``rho`` fixed, fitted by two-step maximum likelihood.

    Logit models are refit as probit for the analysis (noted in the result). For
    the three latent cases the bands are delta-method normal intervals over the
    mediator- and outcome-model covariances (``medsens`` uses simulation
    quantiles); the curve itself is evaluated at the estimates, so it equals the
    main estimate at ``rho = 0``. Zero crossings are solved exactly (closed
    form) or by Brent's method between sign changes on the grid extended to
    +-0.99; the crossing nearest zero is reported.

    Parameters
    ----------
    res : MediationResult
        Output of :func:`medbook.mediate`.
    grid : sequence of float, optional
        Values of ``rho`` in ``(-1, 1)``; default -0.9 to 0.9 by 0.05 (0 is always added).
    conf_level : float, optional
        Level of the bands; default that of ``res``.

    Returns
    -------
    RhoSensitivity
    """
    level = res.spec.conf_level if conf_level is None else float(conf_level)
    if not 0.5 <= level < 1.0:
        raise ConfigError(f"conf_level must lie in [0.5, 1); got {conf_level!r}")
    z = float(stats.norm.ppf(0.5 + level / 2.0))
    rho_values = _grid(grid)
    notes: list[str] = []
    prob = _problem(res, notes)
    kinds = (prob.m_family == "linear", prob.y_family == "linear")
    if kinds == (True, True):
        engine: Any = _ContinuousContinuous(prob)
        model = "continuous mediator, continuous outcome"
        interval = "delta method with the SUR covariance at each rho (as medsens), normal"
        curve = engine.curve(rho_values, z)
        crossings = engine.crossings()
    else:
        if kinds == (False, True):
            engine = _BinaryMediator(prob)
            model = "binary mediator, continuous outcome"
            notes.append(
                "Binary mediator: probit latent mediator with medsens' control-function "
                "re-estimation of the outcome model. medsens reports the mean of its "
                "simulation draws; this curve is evaluated at the estimates (equal up to "
                "Monte Carlo error). With an interaction, NDE(t) = beta_T + theta * "
                "mean(P(M(t) = 1)); medsens' direct-effect code indexes one draw's linear "
                "predictor there, so its NDE curves can differ."
            )
        elif kinds == (True, False):
            engine = _BinaryOutcome(prob)
            model = "continuous mediator, binary outcome"
            notes.append(
                "Binary outcome: probit latent outcome, structural coefficients recovered in "
                "closed form (Imai, Keele & Tingley 2010). The implied correlation uses "
                "sigma*g / sqrt(1 + sigma^2 g^2); medsens 4.x writes sigma*g / (1 + |sigma*g|), "
                "which makes its curve differ from the fitted model's estimate even at rho = 0."
            )
            if prob.tm_col is not None:
                notes.append(
                    "The treatment-mediator interaction is handled by the same latent-variable "
                    "algebra (medsens refuses this case)."
                )
        else:
            engine = _BinaryBinary(prob)
            model = "binary mediator, binary outcome"
            notes.append(
                "Binary mediator and outcome: bivariate normal latent-variable model with rho "
                "fixed, fitted by two-step maximum likelihood (an extension; R's medsens does "
                "not cover this combination)."
            )
        interval = (
            "delta method over the mediator- and outcome-model covariances (mediator-model "
            "uncertainty propagated through the re-estimated outcome model), normal"
        )
        curve = engine.curve(rho_values, z)
        known = {
            float(r): {k: float(curve[k][0][i]) for k in SENSITIVITY_ESTIMANDS}
            for i, r in enumerate(rho_values)
        }
        crossings = engine.crossings(known)
        if engine.failed:
            notes.append(
                "The model could not be re-estimated at rho = "
                + ", ".join(f"{r:.2f}" for r in engine.failed)
                + " (numerically degenerate); those rows are left empty."
            )
    r2_m, r2_y = engine.r2()
    table = pd.concat(
        [
            pd.DataFrame(
                {
                    "rho": rho_values,
                    "estimand": key,
                    "estimate": np.broadcast_to(curve[key][0], rho_values.shape),
                    "ci_lower": np.broadcast_to(curve[key][1], rho_values.shape),
                    "ci_upper": np.broadcast_to(curve[key][2], rho_values.shape),
                }
            )
            for key in SENSITIVITY_ESTIMANDS
        ],
        ignore_index=True,
    )
    zero: dict[str, float | None] = {}
    r2s: dict[str, float | None] = {}
    r2t: dict[str, float | None] = {}
    for key in SENSITIVITY_ESTIMANDS:
        roots = crossings[key]
        zero[key] = min(roots, key=abs) if roots else None
        r = zero[key]
        r2s[key] = None if r is None else r * r
        r2t[key] = None if r is None else r * r * (1.0 - r2_m) * (1.0 - r2_y)
    main = {k: res[k] for k in SENSITIVITY_ESTIMANDS}
    return RhoSensitivity(
        table=table, zero_crossing=zero, crossings=crossings, r2_star_product=r2s,
        r2_tilde_product=r2t, r2_mediator=r2_m, r2_outcome=r2_y, main_estimate=main,
        model=model, mediator_family=prob.m_family, outcome_family=prob.y_family,
        interaction=bool(res.spec.interaction), conf_level=level, interval=interval, notes=notes,
    )


# --------------------------------------------------------------------------------------
# bias formulas (VanderWeele 2010) and the robustness value
# --------------------------------------------------------------------------------------

@dataclass
class BiasGrid:
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
    assumptions : list of str
        The conditions under which the correction is exact.
    """

    table: pd.DataFrame
    observed: dict[str, float]
    scale: str
    assumptions: list[str]

    def to_frame(self) -> pd.DataFrame:
        """Tidy table, one row per (gamma, delta, estimand) (a copy)."""
        return self.table.copy()

    def matrix(self, estimand: str = "nie1") -> pd.DataFrame:
        """Corrected estimates of one estimand as a gamma x delta matrix (for contour plots)."""
        rows = self.table[self.table["estimand"] == estimand]
        return rows.pivot(index="gamma", columns="delta", values="estimate")

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dictionary."""
        return jsonable(
            {
                "grid": records(self.table),
                "observed": self.observed,
                "scale": self.scale,
                "assumptions": self.assumptions,
            }
        )

    def __repr__(self) -> str:
        return (
            f"BiasGrid({self.table['gamma'].nunique()} x {self.table['delta'].nunique()} "
            f"confounder strengths, scale={self.scale})"
        )


_BIAS_ASSUMPTIONS = [
    "U is a binary (or, with delta read as a mean difference, continuous) unmeasured "
    "confounder of the mediator-outcome relation; treatment is randomised given the covariates.",
    "gamma, the effect of U on the outcome, is the same at every treatment and mediator level "
    "(no U x treatment or U x mediator interaction).",
    "delta, the difference in P(U = 1) (or in the mean of U) between treated and control "
    "units with the same mediator value and covariates, is the same at every mediator level.",
    "Then NDE_true = NDE_observed - gamma*delta and NIE_true = NIE_observed + gamma*delta "
    "(VanderWeele 2010, difference scale); intervals are shifted by the same amount, "
    "treating gamma and delta as known.",
]


def _outcome_scale(res: MediationResult) -> float:
    """Standard deviation of a continuous outcome; 1 for a risk difference."""
    if res.scale == "difference":
        return float(np.std(res.data.outcome, ddof=1))
    return 1.0


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

    Parameters
    ----------
    res : MediationResult
    effect_on_outcome : sequence of float, optional
        ``gamma`` values on the outcome's scale; default 0 to one outcome standard
        deviation (0 to 0.3 on the risk-difference scale) in 9 steps.
    imbalance : sequence of float, optional
        ``delta`` values; default 0 to 0.5 in 11 steps, signed so that the
        confounding inflates the observed indirect effect (the worrying direction).

    Returns
    -------
    BiasGrid
    """
    scale = _outcome_scale(res)
    nie = res["nie1"]
    sign = -1.0 if nie >= 0 else 1.0
    gammas = (
        np.linspace(0.0, scale if res.scale == "difference" else 0.3, 9)
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
    rows = []
    observed = {k: res[k] for k in SENSITIVITY_ESTIMANDS}
    for key in SENSITIVITY_ESTIMANDS:
        row = res.row(key)
        direction = 1.0 if key.startswith("nie") else -1.0
        for g in gammas:
            for d in deltas:
                bias = float(g * d)
                shift = direction * bias
                rows.append(
                    {
                        "gamma": float(g),
                        "delta": float(d),
                        "bias": bias,
                        "estimand": key,
                        "estimate": row["estimate"] + shift,
                        "ci_lower": row["ci_lower"] + shift,
                        "ci_upper": row["ci_upper"] + shift,
                    }
                )
    table = pd.DataFrame(
        rows, columns=["gamma", "delta", "bias", "estimand", "estimate", "ci_lower", "ci_upper"]
    )
    return BiasGrid(table=table, observed=observed, scale=res.scale,
                    assumptions=list(_BIAS_ASSUMPTIONS))


@dataclass(frozen=True)
class Robustness:
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
    sentence : str
        One plain-language sentence for a stakeholder.
    """

    estimand: str
    estimate: float
    limit: float
    value: float
    value_estimate: float
    outcome_scale: float
    conf_level: float
    sentence: str

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dictionary."""
        return jsonable(
            {
                "estimand": self.estimand,
                "estimate": self.estimate,
                "limit": self.limit,
                "value": self.value,
                "value_estimate": self.value_estimate,
                "outcome_scale": self.outcome_scale,
                "conf_level": self.conf_level,
                "sentence": self.sentence,
            }
        )


def robustness_value(res: MediationResult, estimand: str = "nie1") -> Robustness:
    """Smallest equal-strength binary confounder that moves the interval's inner limit to zero.

    Uses the bias formula of :func:`bias_grid` with ``gamma = s x SD(Y)`` (or ``s``
    on the risk-difference scale) and ``delta = s``: the bias ``s^2 x SD(Y)``
    equals the confidence limit nearer zero when ``s = sqrt(|limit| / SD(Y))``.
    This is a difference-scale analogue of the mediational E-value (Smith &
    VanderWeele 2019), which is defined on the risk-ratio scale. Values above 1
    cannot be reached by a binary confounder with ``delta <= 1``.

    Parameters
    ----------
    res : MediationResult
    estimand : {"nie1", "nie0", "nde0", "nde1"}

    Returns
    -------
    Robustness
    """
    if estimand not in SENSITIVITY_ESTIMANDS:
        raise ConfigError(f"estimand must be one of {', '.join(SENSITIVITY_ESTIMANDS)}")
    row = res.row(estimand)
    est, lo, hi = float(row["estimate"]), float(row["ci_lower"]), float(row["ci_upper"])
    limit = 0.0 if lo <= 0.0 <= hi else (lo if est > 0 else hi)
    scale = _outcome_scale(res)
    value = math.sqrt(abs(limit) / scale)
    value_est = math.sqrt(abs(est) / scale)
    pct = f"{res.spec.conf_level:.0%}"
    label = _LABELS[estimand]
    if res.scale == "difference":
        unit = f"shift the outcome by {value:.2f} standard deviations"
    else:
        unit = f"raise the outcome probability by {value:.2f}"
    if limit == 0.0:
        sentence = (
            f"The {pct} confidence interval of the {label} already includes zero, so no "
            "unmeasured confounding is needed to make it compatible with no effect."
        )
    else:
        side = "lower" if est > 0 else "upper"
        sentence = (
            f"To move the {side} {pct} confidence limit of the {label} to zero, an unmeasured "
            f"binary confounder would have to {unit} and differ in prevalence by "
            f"{value * 100:.0f} percentage points between treated and control units with the "
            "same mediator value"
        )
        sentence += (
            "; no single binary confounder can be that imbalanced." if value > 1 else "."
        )
    return Robustness(
        estimand=estimand, estimate=est, limit=limit, value=value, value_estimate=value_est,
        outcome_scale=scale, conf_level=float(res.spec.conf_level), sentence=sentence,
    )


# --------------------------------------------------------------------------------------
# the notebook's confounding sweep
# --------------------------------------------------------------------------------------

def _notebook_seed(strength: float) -> int:
    return 1000 + int(strength * 100)


def confounding_sweep(
    strengths: Sequence[float] | np.ndarray = np.linspace(0, 1.4, 8),  # noqa: B008
    n: int = 7000,
    seed_rule: Any = _notebook_seed,
) -> pd.DataFrame:
    """Omitted-U against oracle estimates over strengths of an unmeasured confounder.

    For each strength ``s`` the notebook's process
    :func:`medbook.simulate.simulate_unmeasured` is drawn with seed
    ``seed_rule(s)`` (default ``1000 + int(100 s)``, as in the notebook) and the
    linear mediation model is fitted twice with :func:`medbook.mediate` (product
    of coefficients, ``method="delta"``): adjusting for ``x`` only ("omitted")
    and for ``x`` and the latent ``u`` ("oracle").

    Parameters
    ----------
    strengths : sequence of float
        Effect of U on both mediator and outcome.
    n : int
        Units per simulated data set.
    seed_rule : callable
        ``strength -> seed``.

    Returns
    -------
    pandas.DataFrame
        One row per strength: ``u_strength, seed, omitted_indirect, omitted_direct,
        omitted_total, oracle_indirect, oracle_direct, oracle_total, true_indirect,
        true_direct, true_total, omitted_bias``.
    """
    from .mediation import mediate
    from .simulate import simulate_unmeasured, truth

    rows = []
    for s in np.asarray(strengths, dtype=float).ravel():
        seed = int(seed_rule(float(s)))
        df = simulate_unmeasured(float(s), seed=seed, n=int(n))
        row: dict[str, Any] = {"u_strength": float(s), "seed": seed}
        for label, covs in (("omitted", ["x"]), ("oracle", ["x", "u"])):
            fit = mediate(df, "treatment", "mediator", "outcome", covs, method="delta")
            row[f"{label}_indirect"] = fit["nie1"]
            row[f"{label}_direct"] = fit["nde0"]
            row[f"{label}_total"] = fit["te"]
        true = truth("unmeasured", u_strength=float(s))
        row["true_indirect"] = true["nie1"]
        row["true_direct"] = true["nde0"]
        row["true_total"] = true["te"]
        row["omitted_bias"] = row["omitted_indirect"] - row["true_indirect"]
        rows.append(row)
    return pd.DataFrame(rows)
