"""Rho engines with a probit model: the shared delta-method machinery and two model pairs.

:class:`Latent` evaluates the point curve, the delta-method band and the zero
crossings (:func:`zero`, between sign changes) for any engine that defines
``parameters`` and ``effects``; :class:`BinaryMediator` (probit mediator, linear
outcome) and :class:`BinaryOutcome` (linear mediator, probit outcome) follow
``medsens``. The probit-probit pair lives in :mod:`medbook.sensitivity.bivariate`.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from typing import ClassVar

import numpy as np
from scipy import optimize, special, stats

from ..errors import FitError
from .problem import (
    SEARCH_EDGE,
    SENSITIVITY_ESTIMANDS,
    Curve,
    Note,
    Problem,
    r2_latent,
    r2_linear,
    register,
)

__all__ = ["XTOL", "BinaryMediator", "BinaryOutcome", "Latent", "contrasts", "stack", "zero"]

#: Zero crossings are located to within this (Brent's ``xtol`` before :func:`zero`).
XTOL = 1e-7
#: A crossing's estimate is the root of the polynomial through this many known values.
ZERO_NODES = 5
#: Evaluations before Brent's method takes over a slow search.
ZERO_STEPS = 20


class Latent:
    """Shared machinery of the cases with a probit model: point curve and delta-method band.

    Subclasses define ``parameters(rho) -> (theta, cov)`` and
    ``effects(theta_batch, rho) -> dict of (B,)`` arrays.
    """

    kinds: ClassVar[tuple[str, str]]
    interval: ClassVar[str] = "latent_delta"
    p: Problem
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

    def curve(self, rho_values: np.ndarray, z: float) -> Curve:
        """Point curve and band; solved outward from ``rho = 0`` (solvers start near their root)."""
        rows: dict[float, tuple[dict[str, float], dict[str, float]]] = {}
        for r in sorted(map(float, rho_values), key=abs):
            try:
                theta, cov = self.parameters(r)
                est, grad = self.gradients(theta, r)
            except FitError:
                continue
            se = {k: math.sqrt(max(float(grad[k] @ cov @ grad[k]), 0.0)) for k in est}
            rows[r] = est, se
        self.failed = [float(r) for r in rho_values if float(r) not in rows]
        nan = {k: float("nan") for k in SENSITIVITY_ESTIMANDS}
        out: Curve = {}
        for key in SENSITIVITY_ESTIMANDS:
            est_se = [rows.get(float(r), (nan, nan)) for r in rho_values]
            est = np.array([e[key] for e, _ in est_se])
            se = np.array([s[key] for _, s in est_se])
            out[key] = (est, est - z * se, est + z * se)
        return out

    def crossings(self, known: dict[float, dict[str, float]]) -> dict[str, list[float]]:
        values = {r: v for r, v in known.items() if all(map(math.isfinite, v.values()))}
        for side in (-1.0, 1.0):
            reach = max((abs(r) for r in values if r * side > 0), default=0.0)
            for edge in (side * SEARCH_EDGE, side * 0.95):
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
            curve = _Curve(self, values, key)
            for lo, hi in itertools.pairwise(grid):
                f_lo, f_hi = values[lo][key], values[hi][key]
                if f_lo == 0.0:
                    roots.append(lo)
                elif f_lo * f_hi < 0:
                    try:
                        roots.append(zero(curve, curve.known(), lo, hi))
                    except FitError:
                        continue
            out[key] = sorted(set(roots))
        return out


class _Curve:
    """One estimand's point curve, evaluated through (and into) the shared ``values``."""

    def __init__(self, engine: Latent, values: dict[float, dict[str, float]], key: str):
        self.engine, self.values, self.key = engine, values, key

    def known(self) -> dict[float, float]:
        return {r: v[self.key] for r, v in self.values.items()}

    def __call__(self, rho_value: float) -> float:
        if rho_value not in self.values:
            self.values[rho_value] = self.engine.point(rho_value)
        return self.values[rho_value][self.key]


def zero(func: Callable[[float], float], known: dict[float, float], lo: float, hi: float) -> float:
    """A zero of ``func`` in ``[lo, hi]`` (``known`` holds its values there, of opposite signs).

    Each estimate is the root in the bracket of the polynomial through the bracket's
    ends and the ``ZERO_NODES - 2`` other known values nearest the last estimate
    (the neighbouring grid values first, then the evaluations so far); evaluating
    ``func`` there narrows the bracket. The estimate is accepted when it moves less
    than :data:`XTOL` from the last evaluated point: that correction is a
    secant-like step, whose size bounds the remaining error (in practice it is
    below 1e-11, where Brent's method stops within ``XTOL``). On a smooth curve this
    takes one or two evaluations where Brent's method from the bracket alone takes
    four; if it has not converged in ``ZERO_STEPS`` evaluations, Brent's method finishes
    in the bracket reached.

    Examples
    --------
    >>> root = zero(lambda r: r**3 - 0.1, {0.4: 0.4**3 - 0.1, 0.5: 0.025}, 0.4, 0.5)
    >>> abs(root - 0.1 ** (1 / 3)) < 1e-10
    True
    """
    known = dict(known)
    last: float | None = None
    for _ in range(ZERO_STEPS):
        estimate = _polynomial_root(known, lo, hi, 0.5 * (lo + hi) if last is None else last)
        if last is not None and abs(estimate - last) < XTOL:
            return estimate
        known[estimate] = value = func(estimate)
        if not math.isfinite(value):
            raise FitError(f"the curve is not finite at rho = {estimate:.6f}")
        if value == 0.0:
            return estimate
        lo, hi = (estimate, hi) if (value < 0.0) == (known[lo] < 0.0) else (lo, estimate)
        last = estimate
    return float(optimize.brentq(func, lo, hi, xtol=XTOL))


def _polynomial_root(known: dict[float, float], lo: float, hi: float, centre: float) -> float:
    """Root in ``[lo, hi]`` of the polynomial through the ends and the values near ``centre``.

    The polynomial is evaluated in barycentric form (stable for nodes close together).
    """
    finite = (r for r, v in known.items() if r not in (lo, hi) and math.isfinite(v))
    nodes = np.array([lo, hi, *sorted(finite, key=lambda r: abs(r - centre))[: ZERO_NODES - 2]])
    values = np.array([known[r] for r in nodes])
    weights = np.array([1.0 / np.prod(x - np.delete(nodes, i)) for i, x in enumerate(nodes)])

    def poly(r: float) -> float:
        gaps = r - nodes
        if not np.all(gaps):
            return float(values[gaps == 0.0][0])
        terms = weights / gaps
        return float(terms @ values / np.sum(terms))

    return float(optimize.brentq(poly, lo, hi, xtol=1e-15))


@register("probit", "linear")
class BinaryMediator(Latent):
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

    kinds: ClassVar[tuple[str, str]] = ("binary", "continuous")

    def __init__(self, prob: Problem):
        self.p = prob
        self.pa = prob.a.size
        self.x1 = prob.xm_at(1.0)
        self.x0 = prob.xm_at(0.0)

    def notes(self) -> list[Note]:
        return [Note("binary_mediator")]

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
        return stack(p.a, coef, p.va, vc, jac)

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
        return r2_latent(p.xm, p.a), r2_linear(p.xy, p.y, p.c)


def stack(
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


@register("linear", "probit")
class BinaryOutcome(Latent):
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

    kinds: ClassVar[tuple[str, str]] = ("continuous", "binary")

    def __init__(self, prob: Problem):
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
        return contrasts(po)

    def r2(self) -> tuple[float, float]:
        p = self.p
        return r2_linear(p.xm, p.m, p.a), r2_latent(p.xy, p.c)

    def notes(self) -> list[Note]:
        extension = [Note("interaction_extension")] if self.p.tm_col is not None else []
        return [Note("binary_outcome"), *extension]


def contrasts(po: dict[tuple[int, int], np.ndarray]) -> dict[str, np.ndarray]:
    return {
        "nie0": po[(0, 1)] - po[(0, 0)],
        "nie1": po[(1, 1)] - po[(1, 0)],
        "nde0": po[(1, 0)] - po[(0, 0)],
        "nde1": po[(1, 1)] - po[(0, 1)],
    }
