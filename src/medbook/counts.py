"""Count outcomes: Poisson and NB2 negative-binomial regression (log link), batched.

Like :func:`medbook.fit.fit_glm`, one call fits ``B`` replicate weightings by
Newton's method with no Python loop over replicates. The negative binomial is
the NB2 model, ``Var(Y) = mu + alpha mu^2``, with the dispersion ``alpha``
estimated by maximum likelihood for every replicate: each Newton iteration
updates the coefficients given ``alpha`` and ``log(alpha)`` given the
coefficients (the two blocks are orthogonal in expectation, so this block
Newton converges about as fast as the joint one).

The point fit's covariance is the inverse observed information -- for the
negative binomial of the joint ``(beta, alpha)`` likelihood -- which is what
statsmodels' ``GLM(family=Poisson())`` and ``NegativeBinomial(loglike_method="nb2")``
report.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import numpy as np
from scipy import special

from .data import row_list
from .errors import DataError, FitError
from .fitcore import ModelFit, Status
from .fitcore import back_transform as _back_transform
from .fitcore import check_rank as _check_rank
from .fitcore import const_index as _const_index
from .fitcore import solve as _solve
from .fitcore import standardise as _standardise
from .fitcore import symmetric as _symmetric
from .fitcore import upper as _upper
from .glm import _OuterCache
from .weights import ReplicateWeights

__all__ = ["CountFamily", "check_counts", "fit_count", "is_count_column"]

CountFamily = Literal["poisson", "negbin"]

_MAX_ITER = 100
_TOL = 1e-7
_MAX_STEP = 5.0  # cap on a Newton step (standardised scale) far from the optimum
_LOG_ALPHA_RANGE = (np.log(1e-8), np.log(1e4))
_ALPHA_EXACT = 1e-5  # below this the alpha derivatives are dominated by rounding
_ZERO_MEAN = 1e-10


def is_count_column(values: np.ndarray) -> bool:
    """Non-negative integers with more than two distinct values.

    Examples
    --------
    >>> is_count_column(np.array([0, 1, 2, 5.0])), is_count_column(np.array([0, 1.0]))
    (True, False)
    """
    return bool(
        np.all(values >= 0) and np.all(values == np.round(values)) and np.unique(values).size > 2
    )


def check_counts(values: np.ndarray, column: str, family: str) -> None:
    """Raise :class:`DataError` unless ``values`` are non-negative integers."""
    negative = values < 0
    if negative.any():
        raise DataError(
            f"outcome column {column!r} holds negative values, which a {family} count model "
            f"cannot fit ({row_list(negative)})"
        )
    fractional = values != np.round(values)
    if fractional.any():
        raise DataError(
            f"outcome column {column!r} holds non-integer values, which a {family} count "
            f"model cannot fit ({row_list(fractional)})"
        )


def _nb_terms(y, mu, alpha):
    """Per-row NB2 derivatives: beta score/information factors, cross term, log-alpha ones."""
    a = alpha[:, None]
    r = 1.0 / a
    amu = 1.0 + a * mu
    score_b = (y - mu) / amu
    info_b = mu * (1.0 + a * y) / amu**2
    cross = (y - mu) * mu / amu**2  # -d2l / (d eta d alpha)
    dig = special.digamma(r) - special.digamma(y + r) + np.log(amu)
    g_a = dig / a**2 + (y - mu) / (a * amu)
    tri = (special.polygamma(1, y + r) - special.polygamma(1, r)) / a**2
    h_a = -2.0 * dig / a**3 + (tri + mu / amu) / a**2 - (y - mu) * (1.0 + 2.0 * a * mu) / (
        a * amu
    ) ** 2
    return score_b, info_b, cross, g_a, h_a


def _weighted_means(y: np.ndarray, weights: ReplicateWeights) -> np.ndarray:
    parts = weights.map_chunks(lambda rows, w: (w @ y[rows], w.sum(axis=1)))
    return sum(p[0] for p in parts) / sum(p[1] for p in parts)


def _newton(
    xs: np.ndarray,
    y: np.ndarray,
    weights: ReplicateWeights,
    beta: np.ndarray,
    log_alpha: np.ndarray | None,
    max_iter: int,
    names: Sequence[str],
) -> tuple[np.ndarray, np.ndarray | None, np.ndarray]:
    """Batched Newton iterations; ``log_alpha`` is None for the Poisson model."""
    b, p = beta.shape
    converged = np.zeros(b, dtype=bool)
    active = np.ones(b, dtype=bool)
    outer_rows = _OuterCache(xs.shape[0] * p * (p + 1) // 2 * 8 <= 256 * 2**20)
    for iteration in range(max_iter):
        todo = np.flatnonzero(active)
        alpha = None if log_alpha is None else np.exp(log_alpha[todo])

        def chunk(rows: slice, w: np.ndarray, todo=todo, alpha=alpha, first=iteration == 0):
            xc = xs[rows]
            wt = w if todo.size == b else w[todo]
            mu = np.exp(np.clip(beta[todo] @ xc.T, -700, 700))
            if alpha is None:
                s, i, g, h, d0 = y[rows] - mu, mu, 0.0, 0.0, 0.0
            else:
                s, i, _, ga, ha = _nb_terms(y[rows], mu, alpha)
                g, h = np.sum(wt * ga, axis=1), np.sum(wt * ha, axis=1)
                d0 = np.sum(wt * ((y[rows] - mu) ** 2 - y[rows]), axis=1)
            gram = _upper((xc * w.T).T @ xc) if first and b == 1 else 0.0
            if b == 1:
                return (wt * s) @ xc, _upper((xc * (wt * i).T).T @ xc)[None], g, h, d0, gram
            return (wt * s) @ xc, (wt * i) @ outer_rows(rows, xc), g, h, d0, gram

        parts = weights.map_chunks(chunk, per_row_values=p)
        score, info, g, h, d0, gram = (sum(part[k] for part in parts) for k in range(6))
        if iteration == 0 and b == 1:
            _check_rank(_symmetric(np.asarray(gram), p), tuple(names))
        step, solved = _solve(_symmetric(info, p), score)
        step = np.where(solved[:, None], step, 0.0)
        largest = np.maximum(np.max(np.abs(step), axis=1, keepdims=True), 1e-300)
        step *= np.minimum(1.0, _MAX_STEP / largest)
        beta[todo] += step
        size = np.max(np.abs(step), axis=1) / (1.0 + np.max(np.abs(beta[todo]), axis=1))
        if log_alpha is not None:
            a_step = _log_alpha_step(log_alpha[todo], np.asarray(g), np.asarray(h), d0)
            new = np.clip(log_alpha[todo] + a_step, *_LOG_ALPHA_RANGE)
            # Judge alpha by its absolute change: a tiny alpha's log is poorly determined
            # (rounding in the digamma differences) and hardly matters to the fit.
            change = np.abs(np.exp(new) - np.exp(log_alpha[todo])) / (1.0 + np.exp(new))
            size = np.maximum(size, change)
            log_alpha[todo] = new
        done = solved & (size < _TOL)
        converged[todo[done]] = True
        active[todo[done | ~solved]] = False
        if not active.any():
            break
    return beta, log_alpha, converged


def _log_alpha_step(
    log_alpha: np.ndarray, g: np.ndarray, h: np.ndarray, d0: np.ndarray
) -> np.ndarray:
    """Newton step in ``log(alpha)``; a capped gradient step where the profile is not concave.

    Near ``alpha = 0`` the derivatives lose precision (digamma differences), so
    there the sign of the score at zero, ``sum((y - mu)^2 - y) / 2``, decides:
    no overdispersion sends ``alpha`` to the floor (the Poisson limit), where it stays.
    """
    alpha = np.exp(log_alpha)
    g_t = alpha * g
    h_t = alpha * g + alpha**2 * h
    with np.errstate(divide="ignore", invalid="ignore"):
        newton = np.where(h_t < 0, -g_t / h_t, np.sign(g_t))
    step = np.clip(np.nan_to_num(newton), -1.0, 1.0)
    near_zero = alpha < _ALPHA_EXACT
    return np.where(near_zero, np.where(d0 > 0, 1.0, -np.inf), step)


def fit_count(
    x: np.ndarray,
    y: np.ndarray,
    weights: ReplicateWeights,
    names: tuple[str, ...],
    family: CountFamily = "poisson",
    max_iter: int = _MAX_ITER,
    start: np.ndarray | None = None,
) -> ModelFit:
    """Weighted Poisson or NB2 regression with a log link, for every replicate weighting.

    Parameters
    ----------
    x, y, weights, names
        As in :func:`medbook.fit.fit_linear`; ``y`` holds non-negative counts.
    family : {"poisson", "negbin"}
    max_iter : int
        Iteration cap; replicates that have not converged are flagged.
    start : numpy.ndarray, optional
        ``(p,)`` starting coefficients (e.g. the point fit, to warm-start replicates).

    Returns
    -------
    ModelFit
        ``dispersion`` holds the ``(B,)`` NB2 ``alpha`` (``None`` for Poisson);
        ``separated`` flags replicates whose coefficients diverge because some
        fitted means collapse to zero (e.g. a group with only zero counts).

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> x = np.column_stack([np.ones(2000), rng.normal(size=2000)])
    >>> y = rng.poisson(np.exp(0.5 + 0.3 * x[:, 1])).astype(float)
    >>> fit = fit_count(x, y, ReplicateWeights(2000), ("const", "x"))
    >>> np.round(fit.coef[0], 2)
    array([0.49, 0.3 ])
    """
    const = _const_index(x)
    xs, shift, scale = _standardise(x, const)
    back = _back_transform(shift, scale, const)
    b = weights.n_rep
    p = x.shape[1]
    beta = np.zeros((b, p))
    if start is not None:
        beta[:] = np.linalg.solve(back, start)
    elif const is not None:
        beta[:, const] = np.log(np.maximum(_weighted_means(y, weights), _ZERO_MEAN))
    beta, _, converged = _newton(xs, y, weights, beta, None, max_iter, names)
    log_alpha = None
    if family == "negbin":
        log_alpha = np.log(np.clip(_moment_alpha(xs, y, weights, beta), 1e-4, 1e3))
        beta, log_alpha, converged = _newton(xs, y, weights, beta, log_alpha, max_iter, names)
    separated = ~converged & (_smallest_mean(xs, beta, weights) < _ZERO_MEAN)
    cov = None
    if b == 1:
        if separated[0]:
            raise FitError(
                "some fitted means are numerically zero and the coefficients diverge "
                "(a group defined by the treatment, mediator or a covariate has only zero counts)"
            )
        if not converged[0]:
            raise FitError(f"no convergence after {max_iter} iterations")
        alpha = None if log_alpha is None else np.exp(log_alpha)
        inverse = np.linalg.inv(_observed_info(xs, y, beta, alpha, weights))
        cov = back @ inverse[:p, :p] @ back.T
    return ModelFit(
        family=family,
        names=names,
        coef=beta @ back.T,
        sigma=np.ones(b),
        status=np.where(
            converged, Status.CONVERGED, np.where(separated, Status.SEPARATED, Status.NOT_CONVERGED)
        ).astype(np.int8),
        cov=cov,
        df_resid=float("nan"),
        dispersion=None if log_alpha is None else np.exp(log_alpha),
    )


def _moment_alpha(xs, y, weights: ReplicateWeights, beta) -> np.ndarray:
    """Method-of-moments NB2 dispersion from Poisson fitted means (a starting value)."""

    def chunk(rows: slice, w: np.ndarray):
        mu = np.exp(beta @ xs[rows].T)
        return np.sum(w * ((y[rows] - mu) ** 2 - mu), axis=1), np.sum(w * mu**2, axis=1)

    parts = weights.map_chunks(chunk)
    return sum(p[0] for p in parts) / sum(p[1] for p in parts)


def _smallest_mean(xs, beta, weights: ReplicateWeights) -> np.ndarray:
    def chunk(rows: slice, w: np.ndarray) -> np.ndarray:
        return np.min(np.where(w > 0, beta @ xs[rows].T, np.inf), axis=1)

    return np.exp(np.min(weights.map_chunks(chunk), axis=0))


def _observed_info(xs, y, beta, alpha, weights: ReplicateWeights) -> np.ndarray:
    """Observed information of the point fit (of ``(beta, alpha)`` for NB2)."""
    p = xs.shape[1]
    out = np.zeros((p + 1, p + 1))
    for rows, w in weights.chunks():
        xc, wc = xs[rows], w[0]
        mu = np.exp(xc @ beta[0])
        if alpha is None:
            out[:p, :p] += (xc * (wc * mu)[:, None]).T @ xc
            continue
        _, info_b, cross, _, h_a = (v[0] for v in _nb_terms(y[rows], mu[None], alpha))
        out[:p, :p] += (xc * (wc * info_b)[:, None]).T @ xc
        out[:p, p] += (wc * cross) @ xc
        out[p, p] -= np.sum(wc * h_a)
    if alpha is None:
        return out[:p, :p]
    out[p, :p] = out[:p, p]
    return out
