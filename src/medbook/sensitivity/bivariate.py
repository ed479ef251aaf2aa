"""Binary mediator and outcome: the rho analysis as a recursive bivariate probit.

The per-row arithmetic runs in row blocks on threads (:mod:`~medbook.sensitivity.blocks`):
each block returns its sums (log-likelihood, score and Hessian; potential-outcome
means and their gradients) and the sums are added in block order, so the results
do not depend on the number of threads. A new ``rho``'s Newton solve starts from
the polynomial through the nearest solutions already found (the curve is solved
outward from ``rho = 0``), and for the curve the band's pass over the rows (the
effects, their gradients and ``d score / d a``) joins the Newton pass that ends the
search (:meth:`BinaryBinary.solve`).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
from scipy import special

from ..errors import FitError
from .blocks import BLOCK_ROWS, fold, map_blocks
from .bvn import bvn_cdf_block, bvn_grad_block
from .latent import Latent, contrasts, stack
from .problem import Note, Problem, r2_latent, register

__all__ = ["NEWTON_MAX", "NEWTON_TOL", "BinaryBinary"]

NEWTON_TOL = 1e-10
NEWTON_MAX = 50
#: The band's pass joins a Newton pass reached by a step below this (relative) ...
BAND_FUSE = 5e-5
#: ... and ends the search once that pass's own step is below this (see ``solve``).
BAND_TOL = 1e-9
#: A new rho's solve starts from the polynomial through this many nearest solutions.
WARM_POINTS = 4
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)
_GEMM_ROWS = 8192
_CELLS = ((0, 0), (0, 1), (1, 0), (1, 1))  # (t, t') of E[Y(t, M(t'))]; (t, m) of eta
#: Effects and their gradients in ``(a, c)``, by estimand.
_Effects = tuple[dict[str, float], dict[str, np.ndarray]]


def _inner(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """``x @ y.T`` for ``(p, rows)`` and ``(q, rows)`` arrays, added up over pieces of rows.

    OpenBLAS is about twice as slow on one product over a whole block of rows.
    """
    out = x[:, :_GEMM_ROWS] @ y[:, :_GEMM_ROWS].T
    for i in range(_GEMM_ROWS, x.shape[1], _GEMM_ROWS):
        out += x[:, i : i + _GEMM_ROWS] @ y[:, i : i + _GEMM_ROWS].T
    return out


def _small(step: np.ndarray, c: np.ndarray, tol: float = NEWTON_TOL) -> bool:
    """Newton's convergence test: the step is below ``tol`` relative to ``c``."""
    return bool(np.max(np.abs(step)) < tol * (1.0 + np.max(np.abs(c))))


def _carried(effects: _Effects, step: np.ndarray) -> _Effects:
    """Effects moved by ``step`` in the outcome coefficients (first order), gradients kept."""
    est, grad = effects
    return {k: v + float(grad[k][-step.size :] @ step) for k, v in est.items()}, grad


def _phi(x: np.ndarray) -> np.ndarray:
    """Standard normal density (``scipy.stats.norm.pdf`` without its per-call overhead)."""
    return np.exp(-0.5 * x * x) * _INV_SQRT_2PI


@dataclass
class _Score:
    """Row sums of the conditional log-likelihood and its derivatives in ``c`` (and ``a``)."""

    loglik: float
    grad: np.ndarray
    hess: np.ndarray
    cross: np.ndarray | None


@register("probit", "probit")
class BinaryBinary(Latent):
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

    kinds: ClassVar[tuple[str, str]] = ("binary", "binary")

    def __init__(self, prob: Problem, rows: int = BLOCK_ROWS, threads: int | None = None):
        self.p = prob
        self.pa = prob.a.size
        self.rows, self.threads = rows, threads
        self.qm = 2.0 * prob.m - 1.0
        self.qy = 2.0 * prob.y - 1.0
        self.sign = self.qm * self.qy
        # Row-major transposes: a block of rows is then a strided (columns, rows) view
        # that BLAS reads faster than the (rows, columns) slice.
        self.zt = np.ascontiguousarray(prob.xy.T)
        self.xt = np.ascontiguousarray(prob.xm.T)
        self.cache: dict[float, np.ndarray] = {0.0: prob.c.copy()}
        self.bands: dict[float, tuple[_Score, _Effects]] = {}
        self._mu_key: bytes | None = None
        self._mu: dict[str, np.ndarray] = {}
        # eta(t, m) = z(t, m) c: the columns of T, M and T x M hold t, m and t m.
        set_cols = [(prob.t_col_y, 0), (prob.m_col, 1)]
        if prob.tm_col is not None:
            set_cols.append((prob.tm_col, 2))
        self.set_cols = np.array([j for j, _ in set_cols])
        self.set_values = {
            (t, m): np.array([(t, m, t * m)[which] for _, which in set_cols], dtype=float)
            for t, m in _CELLS
        }

    def _map(self, func: Callable[[slice], tuple]) -> list[tuple]:
        return map_blocks(func, self.p.n, self.rows, self.threads)

    def _mediator_terms(self, a: np.ndarray) -> dict[str, np.ndarray]:
        """Rows' ``mu = x a`` and what only depends on it (``a`` is fixed while ``rho`` varies)."""
        key = a.tobytes()
        if self._mu_key != key:
            p = self.p
            mu = p.xm @ a
            q_mu = self.qm * mu
            self._mu = {
                "mu": mu,
                "q_mu": q_mu,
                "cdf_q": special.ndtr(q_mu),
                "log_cdf": special.log_ndtr(q_mu),
                "pdf": _phi(mu),
            }
            for t in (0, 1):
                mu_t = p.xm_at(float(t)) @ a
                self._mu |= {f"mu{t}": mu_t, f"cdf{t}": special.ndtr(mu_t), f"pdf{t}": _phi(mu_t)}
            self._mu_key = key
        return self._mu

    def _score(self, c: np.ndarray, rho_value: float, cross: bool = False) -> _Score:
        """Log-likelihood, score and Hessian in ``c`` (with ``cross``, ``d score / d a``)."""
        sums = fold(self._map(self._score_kernel(c, rho_value, cross)))
        return _Score(*sums) if cross else _Score(*sums, None)

    def _score_kernel(self, c: np.ndarray, rho_value: float, cross: bool) -> Callable:
        """A block's sums for :meth:`_score`.

        In ``eta = z c``, with ``P = Phi2(q_M mu, q_Y eta; q_M q_Y rho)`` and
        ``A = q_M (mu - rho eta) / s``:
        ``dlogP/deta = g = q_Y phi(eta) Phi(A) / P``,
        ``d g/deta = q_Y phi(eta) (-eta Phi(A) - phi(A) q_M rho / s) / P - g^2`` and, with
        ``cross``, ``d g/dmu = q_Y phi(eta) phi(A) q_M / (s P) - g dlogP/dmu``.
        """
        p = self.p
        med = self._mediator_terms(p.a)
        s = math.sqrt(1.0 - rho_value**2)

        def block(rows: slice) -> tuple:
            zt, qm, qy, mu = self.zt[:, rows], self.qm[rows], self.qy[rows], med["mu"][rows]
            eta = c @ zt
            k = qy * eta
            joint = bvn_cdf_block(
                med["q_mu"][rows],
                k,
                self.sign[rows] * rho_value,
                med["cdf_q"][rows],
                special.ndtr(k),
            )
            np.maximum(joint, 1e-300, out=joint)
            big_a = qm * (mu - rho_value * eta) / s
            phi_eta, phi_a, cdf_a = _phi(eta), _phi(big_a), special.ndtr(big_a)
            with np.errstate(over="ignore", invalid="ignore"):
                g = qy * phi_eta * cdf_a / joint
                g_eta = qy * phi_eta * (-eta * cdf_a - phi_a * qm * rho_value / s) / joint - g * g
                if cross:
                    cdf_b = special.ndtr(qy * (eta - rho_value * mu) / s)
                    dlogp_mu = qm * med["pdf"][rows] * cdf_b / joint
                    g_mu = qy * phi_eta * phi_a * qm / (s * joint) - g * dlogp_mu
            if not np.all(np.isfinite(g_eta)) or (cross and not np.all(np.isfinite(g_mu))):
                raise FitError(
                    "bivariate probit likelihood is numerically degenerate "
                    f"at rho = {rho_value:.3f}"
                )
            sums = (
                float(np.sum(np.log(joint) - med["log_cdf"][rows])),
                zt @ g,
                _inner(zt * g_eta, zt),
            )
            return (*sums, _inner(zt * g_mu, self.xt[:, rows])) if cross else sums

        return block

    def _band_pass(self, c: np.ndarray, rho_value: float) -> tuple[_Score, _Effects]:
        """:meth:`_score` with ``cross`` and the effects with their gradients, in one pass."""
        score_block = self._score_kernel(c, rho_value, True)
        effects_block = self._outcomes_kernel(self.p.a, c, rho_value, True)
        sums = fold(self._map(lambda rows: (*score_block(rows), *effects_block(rows))))
        po, grad = self._outcomes_finish(sums[4:])
        return _Score(*sums[:4]), (contrasts(po), contrasts(grad))

    def solve(
        self, rho_value: float, start: np.ndarray, band: bool = False
    ) -> tuple[np.ndarray, _Score, _Effects | None]:
        """Newton-Raphson (with step halving) for the outcome coefficients at fixed ``rho``.

        Returns the coefficients and the score there; once the next step is below
        ``NEWTON_TOL``, the coefficients are taken with it and the score is the one
        before it (the step saves a pass over the rows). A step shortened below
        ``NEWTON_TOL`` by halving ends the search too.

        With ``band``, a pass reached by a step below ``BAND_FUSE`` also holds ``d score / d a``
        and the effects with their gradients (:meth:`_band_pass`): Newton's quadratic
        convergence puts its own step near ``BAND_FUSE^2 / 10``, and once that is below
        ``BAND_TOL`` the search ends there. The effects are carried along that step by
        their gradients (the error is of its square, ~1e-19) and the band's gradients,
        Hessian and ``d score / d a`` are those of a point within ``BAND_TOL`` (relative)
        of the solution, which moves the standard errors by about that much. This saves
        the pass that would confirm the last step.
        """
        c = start.copy()
        score, effects = self._score(c, rho_value), None
        for _ in range(NEWTON_MAX):
            step = np.linalg.solve(score.hess, -score.grad)
            if effects is not None and _small(step, c + step, BAND_TOL):
                return c + step, score, _carried(effects, step)
            if _small(step, c + step):
                return self._finish(c + step, rho_value, score, band)
            scale = 1.0
            while True:
                trial = c + scale * step
                if band and _small(scale * step, trial, BAND_FUSE):
                    trial_score, trial_effects = self._band_pass(trial, rho_value)
                else:
                    trial_score, trial_effects = self._score(trial, rho_value), None
                if trial_score.loglik >= score.loglik - 1e-9 or scale < 1e-4:
                    break
                scale /= 2.0
            c, score, effects = trial, trial_score, trial_effects
            if _small(scale * step, c):
                return self._finish(c, rho_value, score, band, effects)
        raise FitError(f"bivariate probit outcome model did not converge at rho = {rho_value:.3f}")

    def _finish(
        self,
        c: np.ndarray,
        rho_value: float,
        score: _Score,
        band: bool,
        effects: _Effects | None = None,
    ) -> tuple[np.ndarray, _Score, _Effects | None]:
        """The converged solution; with ``band``, the band's pass at it if not done yet."""
        if band and effects is None:
            return c, *self._band_pass(c, rho_value)
        return c, score, effects

    def _starts(self, key: float) -> list[np.ndarray]:
        """Start values: the polynomial through the nearest solutions, then the nearest one."""
        near = sorted(self.cache, key=lambda r: abs(r - key))[:WARM_POINTS]
        nearest = self.cache[near[0]]
        if len(near) == 1:
            return [nearest]
        start = np.zeros_like(nearest)
        for r_i in near:
            weight = math.prod((key - r_j) / (r_i - r_j) for r_j in near if r_j != r_i)
            start += weight * self.cache[r_i]
        return [start, nearest]

    def coef(self, rho_value: float, band: bool = False) -> np.ndarray:
        """Outcome coefficients at ``rho`` (``band``: keep the band's pass for the curve)."""
        key = round(rho_value, 12)
        if key not in self.cache:
            *starts, last = self._starts(key)
            for start in starts:  # an extrapolated start may be worse than the nearest solution
                try:
                    c, score, effects = self.solve(rho_value, start, band)
                    break
                except FitError:
                    continue
            else:
                c, score, effects = self.solve(rho_value, last, band)
            self.cache[key] = c
            if band:
                self.bands[key] = score, effects
        return self.cache[key]

    def parameters(self, rho_value: float) -> tuple[np.ndarray, np.ndarray]:
        p = self.p
        c = self.coef(rho_value, band=True)
        key = round(rho_value, 12)
        if key not in self.bands:
            self.bands[key] = self._band_pass(c, rho_value)
        score = self.bands[key][0]
        inv = np.linalg.inv(-score.hess)
        return stack(p.a, c, p.va, inv, inv @ score.cross)

    def point_theta(self, rho_value: float) -> np.ndarray:
        return np.concatenate([self.p.a, self.coef(rho_value)])

    def _outcomes(
        self, a: np.ndarray, c: np.ndarray, rho_value: float, derivatives: bool
    ) -> tuple[dict[tuple[int, int], float], dict[tuple[int, int], np.ndarray]]:
        """``E[Y(t, M(t'))]`` and, with ``derivatives``, their gradients in ``(a, c)``.

        ``P(Y(t, M(t')) = 1 | x) = Phi(eta_t0) - Phi2(mu_t', eta_t0; rho)
        + Phi2(mu_t', eta_t1; rho)``; ``dPhi2(h, k; r)/dk = phi(k) Phi((h - r k)/s)``
        (:func:`~medbook.sensitivity.bvn.bvn_grad_block`).
        """
        sums = fold(self._map(self._outcomes_kernel(a, c, rho_value, derivatives)))
        return self._outcomes_finish(sums)

    def _outcomes_kernel(
        self, a: np.ndarray, c: np.ndarray, rho_value: float, derivatives: bool
    ) -> Callable:
        """A block's sums for :meth:`_outcomes`."""
        med = self._mediator_terms(a)
        masked = c.copy()
        masked[self.set_cols] = 0.0
        shift = {cell: float(v @ c[self.set_cols]) for cell, v in self.set_values.items()}

        def block(rows: slice) -> tuple:
            zt = self.zt[:, rows]
            base = masked @ zt
            eta = {cell: base + shift[cell] for cell in _CELLS}
            cdf = {cell: special.ndtr(e) for cell, e in eta.items()}
            means = np.empty(4)
            if derivatives:
                pdf = {cell: _phi(e) for cell, e in eta.items()}
                d_y, d_m = np.empty((8, base.size)), np.empty((4, base.size))
            for i, (t, tm) in enumerate(_CELLS):
                mu, cdf_mu = med[f"mu{tm}"][rows], med[f"cdf{tm}"][rows]
                e0, e1 = eta[(t, 0)], eta[(t, 1)]
                if derivatives:
                    pdf_mu = med[f"pdf{tm}"][rows]
                    low, dm0, dy0 = bvn_grad_block(
                        mu, e0, rho_value, (cdf_mu, cdf[(t, 0)]), (pdf_mu, pdf[(t, 0)])
                    )
                    high, dm1, dy1 = bvn_grad_block(
                        mu, e1, rho_value, (cdf_mu, cdf[(t, 1)]), (pdf_mu, pdf[(t, 1)])
                    )
                    d_m[i] = dm1 - dm0
                    d_y[2 * i] = pdf[(t, 0)] - dy0
                    d_y[2 * i + 1] = dy1
                else:
                    low = bvn_cdf_block(mu, e0, rho_value, cdf_mu, cdf[(t, 0)])
                    high = bvn_cdf_block(mu, e1, rho_value, cdf_mu, cdf[(t, 1)])
                means[i] = (cdf[(t, 0)] - low + high).sum()
            if not derivatives:
                return (means,)
            return (
                means,
                _inner(zt, d_y),
                d_y.sum(axis=1),
                _inner(self.xt[:, rows], d_m),
                d_m.sum(axis=1),
            )

        return block

    def _outcomes_finish(
        self, sums: tuple
    ) -> tuple[dict[tuple[int, int], float], dict[tuple[int, int], np.ndarray]]:
        """Means and (with five sums) gradients from :meth:`_outcomes_kernel`'s block sums."""
        p = self.p
        po = {cell: float(sums[0][i]) / p.n for i, cell in enumerate(_CELLS)}
        if len(sums) == 1:
            return po, {}
        _, u_y, s_y, u_m, s_m = sums
        grad = {}
        for i, (t, tm) in enumerate(_CELLS):
            # z(t, m)' d = x' d but for the set columns: their value times sum(d)
            g_m = u_m[:, i].copy()
            g_m[p.t_col_m] = tm * s_m[i]
            g_y = u_y[:, 2 * i] + u_y[:, 2 * i + 1]
            g_y[self.set_cols] = (
                self.set_values[(t, 0)] * s_y[2 * i] + self.set_values[(t, 1)] * s_y[2 * i + 1]
            )
            grad[(t, tm)] = np.concatenate([g_m, g_y]) / p.n
        return po, grad

    def gradients(
        self, theta: np.ndarray, rho_value: float
    ) -> tuple[dict[str, float], dict[str, np.ndarray]]:
        """Effects and analytic gradients (one pass over the rows, or the band's pass at hand)."""
        key = round(rho_value, 12)
        a, c = theta[: self.pa], theta[self.pa :]
        if key in self.bands and np.array_equal(a, self.p.a) and np.array_equal(c, self.cache[key]):
            return self.bands[key][1]
        po, grad = self._outcomes(a, c, rho_value, True)
        return contrasts(po), contrasts(grad)

    def effects(self, theta: np.ndarray, rho_value: float) -> dict[str, np.ndarray]:
        rows = [self._outcomes(th[: self.pa], th[self.pa :], rho_value, False)[0] for th in theta]
        return contrasts({cell: np.array([po[cell] for po in rows]) for cell in _CELLS})

    def r2(self) -> tuple[float, float]:
        p = self.p
        return r2_latent(p.xm, p.a), r2_latent(p.xy, p.c)

    def notes(self) -> list[Note]:
        return [Note("binary_binary")]
