"""Intervals, standard errors and p-values from replicates, draws or the delta method."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from scipy import stats

from .fit import ModelFit

__all__ = [
    "bca_interval",
    "delta_method",
    "jackknife_acceleration",
    "percentile_interval",
    "quasi_bayes_draws",
    "replicate_p_value",
]


def percentile_interval(reps: np.ndarray, conf_level: float) -> tuple[float, float]:
    """Equal-tailed percentile interval of the replicates (linear interpolation)."""
    tail = (1.0 - conf_level) / 2.0
    lo, hi = np.quantile(reps, [tail, 1.0 - tail])
    return float(lo), float(hi)


def jackknife_acceleration(jack: np.ndarray) -> float:
    """BCa acceleration ``a`` from (grouped) jackknife estimates (Efron 1987, eq. 6.6)."""
    d = jack.mean() - jack
    denom = 6.0 * np.sum(d * d) ** 1.5
    return float(np.sum(d**3) / denom) if denom > 0 else 0.0


def bca_interval(
    reps: np.ndarray, point: float, acceleration: float, conf_level: float
) -> tuple[float, float]:
    """Bias-corrected and accelerated bootstrap interval (Efron 1987).

    The bias correction counts half of the replicates equal to the point estimate.
    """
    below = np.mean(reps < point) + 0.5 * np.mean(reps == point)
    below = float(np.clip(below, 1.0 / (reps.size + 1), reps.size / (reps.size + 1)))
    z0 = stats.norm.ppf(below)
    tail = (1.0 - conf_level) / 2.0
    z = stats.norm.ppf([tail, 1.0 - tail])
    adjusted = stats.norm.cdf(z0 + (z0 + z) / (1.0 - acceleration * (z0 + z)))
    lo, hi = np.quantile(reps, adjusted)
    return float(lo), float(hi)


def replicate_p_value(reps: np.ndarray) -> float:
    """Two-sided p-value of "estimate = 0" from the replicate distribution.

    ``2 * min(#(r <= 0) + 1, #(r >= 0) + 1) / (B + 1)``, capped at 1, so it is
    never exactly zero (Davison & Hinkley 1997, sec. 4.4).
    """
    b = reps.size
    low = np.sum(reps <= 0) + 1
    high = np.sum(reps >= 0) + 1
    return float(min(1.0, 2.0 * min(low, high) / (b + 1)))


def quasi_bayes_draws(
    fit: ModelFit, n_draws: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Coefficient draws from the fitted model's asymptotic normal distribution.

    For a linear model the residual variance is drawn from its scaled
    inverse-chi-square distribution. Returns ``(coef (B, p), sigma (B,))``.
    """
    assert fit.cov is not None
    coef = rng.multivariate_normal(fit.coef[0], fit.cov, size=n_draws, method="cholesky")
    if fit.family == "linear":
        df = fit.df_resid
        sigma = fit.sigma[0] * np.sqrt(df / rng.chisquare(df, size=n_draws))
    else:
        sigma = np.ones(n_draws)
    return coef, sigma


def delta_method(
    func: Callable[[np.ndarray], dict[str, np.ndarray]], theta: np.ndarray, cov: np.ndarray
) -> dict[str, float]:
    """Delta-method standard errors of ``func`` at ``theta``.

    ``func`` maps a ``(B, d)`` batch of parameter vectors to named ``(B,)``
    arrays; the Jacobian is taken by central differences evaluated as one
    batch of ``2 d`` parameter vectors.
    """
    d = theta.size
    step = 1e-5 * np.maximum(1.0, np.abs(theta))
    batch = np.repeat(theta[None, :], 2 * d, axis=0)
    batch[np.arange(d), np.arange(d)] += step
    batch[d + np.arange(d), np.arange(d)] -= step
    values = func(batch)
    out = {}
    for key, v in values.items():
        grad = (v[:d] - v[d:]) / (2.0 * step)
        out[key] = float(np.sqrt(max(grad @ cov @ grad, 0.0)))
    return out
