"""Intervals, standard errors and p-values from replicates, draws or the delta method.

The low-level pieces (:func:`percentile_interval`, :func:`bca_interval`,
:func:`delta_method`, ...) and the three routes :func:`medbook.mediate` takes:
:func:`delta_inference`, :func:`bootstrap_inference` (where the bootstrap and
jackknife refits happen, through :func:`medbook.fit.fit_pair`) and
:func:`quasi_bayes_inference`; each returns an :class:`Inference`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import stats

from .fit import ModelFit, ModelPair, fit_pair
from .replicates import ReplicateAccounting, account
from .weights import ReplicateWeights

__all__ = [
    "JACKKNIFE_MAX_GROUPS",
    "Evaluate",
    "Inference",
    "bca_interval",
    "bootstrap_inference",
    "delta_inference",
    "delta_method",
    "jackknife_acceleration",
    "percentile_interval",
    "quasi_bayes_draws",
    "quasi_bayes_inference",
    "replicate_inference",
    "replicate_p_value",
]

#: Estimands of coefficient batches ``(alpha, beta, sigma[, weights, means])``.
Evaluate = Callable[..., dict[str, np.ndarray]]
#: Jackknife groups for the BCa acceleration (leave-one-out below this ``n``).
JACKKNIFE_MAX_GROUPS = 1000


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
    try:
        coef = rng.multivariate_normal(fit.coef[0], fit.cov, size=n_draws, method="cholesky")
    except np.linalg.LinAlgError:  # rounding made a badly scaled covariance indefinite
        coef = rng.multivariate_normal(
            fit.coef[0], fit.cov, size=n_draws, method="eigh", check_valid="ignore"
        )
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


@dataclass
class Inference:
    """Uncertainty of every estimand, however it was computed.

    Attributes
    ----------
    rows : dict
        Estimand -> ``estimate, std_error, ci_lower, ci_upper, p_value``.
    ci : str
        Interval kind: ``"normal"``, ``"percentile"`` or ``"bca"``.
    replicates : pandas.DataFrame or None
        Estimands of every successful replicate or draw.
    n_failed : int
        Replicates excluded from the intervals (``accounting.n_excluded``).
    acceleration : dict or None
        BCa acceleration per estimand.
    warnings : list of str
    """

    rows: dict[str, dict[str, float]]
    ci: str
    replicates: pd.DataFrame | None = None
    n_failed: int = 0
    acceleration: dict[str, float] | None = None
    warnings: list[str] = field(default_factory=list)
    accounting: ReplicateAccounting = field(
        default_factory=lambda: ReplicateAccounting(requested=0, kept=0)
    )

    @property
    def n_replicates(self) -> int:
        """Successful replicates or draws (0 for the delta method)."""
        return 0 if self.replicates is None else len(self.replicates)


def delta_inference(
    evaluate: Evaluate,
    med_fit: ModelFit,
    out_fit: ModelFit,
    point: dict[str, float],
    keys: Sequence[str],
    conf_level: float,
) -> Inference:
    """Delta-method standard errors over both models' coefficients (and the mediator's sigma).

    ``evaluate(alpha, beta, sigma)`` maps batches of coefficients to the estimands.
    """
    p_m, p_y = med_fit.coef.shape[1], out_fit.coef.shape[1]
    theta = np.concatenate([med_fit.coef[0], out_fit.coef[0], med_fit.sigma])
    cov = np.zeros((theta.size, theta.size))
    cov[:p_m, :p_m] = med_fit.cov
    cov[p_m : p_m + p_y, p_m : p_m + p_y] = out_fit.cov
    if med_fit.family == "linear":
        cov[-1, -1] = med_fit.sigma[0] ** 2 / (2.0 * med_fit.df_resid)
    ses = delta_method(
        lambda b: evaluate(b[:, :p_m], b[:, p_m : p_m + p_y], b[:, -1]), theta, cov
    )
    z = stats.norm.ppf(0.5 + conf_level / 2.0)
    rows = {}
    for key in keys:
        est, se = point[key], ses[key]
        rows[key] = {
            "estimate": est,
            "std_error": se,
            "ci_lower": est - z * se,
            "ci_upper": est + z * se,
            "p_value": float(2 * stats.norm.sf(abs(est / se))) if se > 0 else float("nan"),
        }
    return Inference(rows, "normal")


def replicate_inference(
    draws: dict[str, np.ndarray],
    fits: Sequence[ModelFit],
    point: dict[str, float],
    keys: Sequence[str],
    conf_level: float,
    ci: str = "percentile",
    acceleration: dict[str, float] | None = None,
) -> Inference:
    """Standard errors, intervals and p-values from replicates (bootstrap or quasi-Bayes).

    ``fits`` are the replicate fits (their per-replicate status); none for draws.
    Every replicate is accounted for (:func:`medbook.replicates.account`).

    Raises
    ------
    FitError
        When fewer than two replicates are kept, or more than half are excluded.
    """
    ok, accounting = account(fits, draws, keys)
    warnings = [] if not accounting.n_excluded else [
        f"{accounting.n_excluded} of {accounting.requested} replicates failed to fit and "
        "were excluded from the intervals: " + accounting.sentence()
    ]
    replicates = pd.DataFrame({k: draws[k][ok] for k in keys})
    rows = {}
    for key in keys:
        reps = replicates[key].to_numpy()
        reps = reps[np.isfinite(reps)]
        if reps.size < 2:  # a ratio (pm) undefined in every replicate
            rows[key] = dict.fromkeys(("std_error", "ci_lower", "ci_upper", "p_value"), np.nan)
            rows[key]["estimate"] = point[key]
            continue
        if acceleration is not None:
            lo, hi = bca_interval(reps, point[key], acceleration[key], conf_level)
        else:
            lo, hi = percentile_interval(reps, conf_level)
        rows[key] = {
            "estimate": point[key],
            "std_error": float(np.std(reps, ddof=1)),
            "ci_lower": lo,
            "ci_upper": hi,
            "p_value": replicate_p_value(reps),
        }
    return Inference(
        rows, ci, replicates, accounting.n_excluded, acceleration, warnings, accounting
    )


def bootstrap_inference(
    pair: ModelPair,
    evaluate: Evaluate,
    start: tuple[ModelFit, ModelFit],
    point: dict[str, float],
    keys: Sequence[str],
    *,
    n_boot: int,
    weights_kind: str,
    seed: int | None,
    conf_level: float,
    ci: str,
) -> Inference:
    """Refit both models under ``n_boot`` replicate weights (one batched fit) and summarise.

    With ``ci="bca"`` the acceleration comes from a (grouped) jackknife.
    """
    n = pair.m.shape[0]
    weights = ReplicateWeights(n, n_boot, weights_kind, seed)
    med_b, out_b, means = fit_pair(pair, weights, start=start)
    draws = evaluate(med_b.coef, out_b.coef, med_b.sigma, weights, means)
    acceleration = None
    if ci == "bca":
        acceleration = _jackknife_acceleration(pair, evaluate, n, seed, keys)
    return replicate_inference(draws, (med_b, out_b), point, keys, conf_level, ci, acceleration)


def _jackknife_acceleration(
    pair: ModelPair, evaluate: Evaluate, n: int, seed: int | None, keys: Sequence[str]
) -> dict[str, float]:
    """Jackknife acceleration per estimand (grouped jackknife for large ``n``)."""
    jack_w = ReplicateWeights(n, min(n, JACKKNIFE_MAX_GROUPS), "jackknife", seed)
    med_j, out_j, means = fit_pair(pair, jack_w)
    jack = evaluate(med_j.coef, out_j.coef, med_j.sigma, jack_w, means)
    ok = med_j.ok & out_j.ok
    return {k: jackknife_acceleration(jack[k][ok & np.isfinite(jack[k])]) for k in keys}


def quasi_bayes_inference(
    med_fit: ModelFit,
    out_fit: ModelFit,
    evaluate: Evaluate,
    point: dict[str, float],
    keys: Sequence[str],
    *,
    n_draws: int,
    seed: int | None,
    conf_level: float,
    ci: str,
) -> Inference:
    """Simulate both models' coefficients from their asymptotic distribution and summarise."""
    rng = np.random.default_rng(seed)
    alpha, sigma = quasi_bayes_draws(med_fit, n_draws, rng)
    beta, _ = quasi_bayes_draws(out_fit, n_draws, rng)
    draws = evaluate(alpha, beta, sigma)
    return replicate_inference(draws, (), point, keys, conf_level, ci)
