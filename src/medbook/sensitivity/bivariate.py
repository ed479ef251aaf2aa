"""Binary mediator and outcome: the rho analysis as a recursive bivariate probit."""

from __future__ import annotations

import math
from typing import ClassVar

import numpy as np
from scipy import special

from ..errors import FitError
from .bvn import bvn_cdf
from .latent import Latent, contrasts, stack
from .problem import Note, Problem, r2_latent, register

__all__ = ["NEWTON_MAX", "NEWTON_TOL", "BinaryBinary"]

NEWTON_TOL = 1e-10
NEWTON_MAX = 50
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)


def _phi(x: np.ndarray) -> np.ndarray:
    """Standard normal density (``scipy.stats.norm.pdf`` without its per-call overhead)."""
    return np.exp(-0.5 * x * x) * _INV_SQRT_2PI


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

    def __init__(self, prob: Problem):
        self.p = prob
        self.pa = prob.a.size
        self.qm = 2.0 * prob.m - 1.0
        self.qy = 2.0 * prob.y - 1.0
        self.x1 = prob.xm_at(1.0)
        self.x0 = prob.xm_at(0.0)
        self.cache: dict[float, np.ndarray] = {0.0: prob.c.copy()}
        self._mu_key: bytes | None = None
        self._mu: dict[str, np.ndarray] = {}
        self.zs = {}
        for t in (0, 1):
            for mv in (0, 1):
                z = prob.xy.copy()
                z[:, prob.t_col_y] = t
                z[:, prob.m_col] = mv
                if prob.tm_col is not None:
                    z[:, prob.tm_col] = t * mv
                self.zs[(t, mv)] = z

    def _mediator_terms(self, a: np.ndarray) -> dict[str, np.ndarray]:
        """Rows' ``mu = x a`` and what only depends on it (``a`` is fixed while solving)."""
        key = a.tobytes()
        if self._mu_key != key:
            mu = self.p.xm @ a
            self._mu = {"mu": mu, "q_mu": self.qm * mu, "log_cdf": special.log_ndtr(self.qm * mu)}
            self._mu_key = key
        return self._mu

    def _terms(
        self, a: np.ndarray, c: np.ndarray, rho_value: float, cross: bool = False
    ) -> dict[str, np.ndarray]:
        """Per-row log-likelihood and its derivatives in ``eta = z c`` (and ``mu = x a``).

        With ``P = Phi2(q_M mu, q_Y eta; q_M q_Y rho)`` and ``A = q_M (mu - rho eta) / s``:
        ``dlogP/deta = g = q_Y phi(eta) Phi(A) / P``,
        ``d g/deta = q_Y phi(eta) (-eta Phi(A) - phi(A) q_M rho / s) / P - g^2`` and, with
        ``cross``, ``d g/dmu = q_Y phi(eta) phi(A) q_M / (s P) - g dlogP/dmu``.
        """
        p = self.p
        med = self._mediator_terms(a)
        mu = med["mu"]
        eta = p.xy @ c
        s = math.sqrt(1.0 - rho_value**2)
        joint = np.maximum(bvn_cdf(med["q_mu"], self.qy * eta, self.qm * self.qy * rho_value),
                           1e-300)
        big_a = self.qm * (mu - rho_value * eta) / s
        phi_eta, phi_a, cdf_a = _phi(eta), _phi(big_a), special.ndtr(big_a)
        with np.errstate(over="ignore", invalid="ignore"):
            g = self.qy * phi_eta * cdf_a / joint
            g_eta = (
                self.qy * phi_eta * (-eta * cdf_a - phi_a * self.qm * rho_value / s) / joint
                - g * g
            )
            out = {"loglik": np.log(joint) - med["log_cdf"], "g": g, "g_eta": g_eta}
            if cross:
                dlogp_mu = (
                    self.qm * _phi(mu) * special.ndtr(self.qy * (eta - rho_value * mu) / s)
                    / joint
                )
                out["g_mu"] = self.qy * phi_eta * phi_a * self.qm / (s * joint) - g * dlogp_mu
        if not all(np.all(np.isfinite(out[k])) for k in ("g_eta", "g_mu") if k in out):
            raise FitError(
                f"bivariate probit likelihood is numerically degenerate at rho = {rho_value:.3f}"
            )
        return out

    def solve(self, a: np.ndarray, rho_value: float, start: np.ndarray) -> np.ndarray:
        """Newton-Raphson (with step halving) for the outcome coefficients at fixed ``rho``."""
        z = self.p.xy
        c = start.copy()
        terms = self._terms(a, c, rho_value)
        ll = float(terms["loglik"].sum())
        for _ in range(NEWTON_MAX):
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
            if np.max(np.abs(scale * step)) < NEWTON_TOL * (1.0 + np.max(np.abs(c))):
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
        terms = self._terms(p.a, c, rho_value, cross=True)
        h_cc = p.xy.T @ (p.xy * terms["g_eta"][:, None])
        h_ca = p.xy.T @ (p.xm * terms["g_mu"][:, None])
        inv = np.linalg.inv(-h_cc)
        return stack(p.a, c, p.va, inv, inv @ h_ca)

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
                    - bvn_cdf(mu, eta0, rho_value)
                    + bvn_cdf(mu, eta1, rho_value)
                )
                d_mu = _phi(mu) * (
                    special.ndtr((eta1 - rho_value * mu) / s)
                    - special.ndtr((eta0 - rho_value * mu) / s)
                )
                d_eta0 = _phi(eta0) * special.ndtr(-(mu - rho_value * eta0) / s)
                d_eta1 = _phi(eta1) * special.ndtr((mu - rho_value * eta1) / s)
                po[(t, tm)] = np.atleast_1d(np.mean(prob))
                grad[(t, tm)] = np.concatenate(
                    [xs[tm].T @ d_mu, z0.T @ d_eta0 + z1.T @ d_eta1]
                ) / self.p.n
        est = {k: float(v[0]) for k, v in contrasts(po).items()}
        return est, contrasts(grad)

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
                    - bvn_cdf(mu[tm], eta0, rho_value)
                    + bvn_cdf(mu[tm], eta1, rho_value)
                )
                po[(t, tm)] = np.mean(prob, axis=1)
        return contrasts(po)

    def r2(self) -> tuple[float, float]:
        p = self.p
        return r2_latent(p.xm, p.a), r2_latent(p.xy, p.c)

    def notes(self) -> list[Note]:
        return [Note("binary_binary")]
