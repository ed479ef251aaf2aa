"""Batched weighted regression: one call fits B replicate-weight vectors at once.

The design matrix ``X`` (``n x p``) is shared by all replicates; only the row
weights differ. Cross-products are accumulated over row chunks with matrix
products (``W @ Z`` where ``Z`` holds the per-row outer products), so there is
no Python loop over replicates and memory stays bounded for large ``n``.
Columns are centred and scaled internally for numerical stability and the
coefficients are transformed back.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd
from scipy import special, stats

from .errors import FitError
from .weights import ReplicateWeights

__all__ = [
    "Family",
    "ModelFit",
    "ModelPair",
    "Moments",
    "fit_glm",
    "fit_linear",
    "fit_model",
    "fit_pair",
    "linear_from_moments",
    "moments",
    "naming_errors",
]

Family = Literal["linear", "logit", "probit", "poisson", "negbin"]

# Smallest curvature-to-spread ratio of a fit that still has information in every direction.
_INFORMATION_FLOOR = 1e-9
# Under separation Newton's method does not converge and |eta| grows past these values.
_ETA_DIVERGING = {"logit": 15.0, "probit": 8.0}
_MAX_ITER = 60
# Newton's method converges quadratically: after a step of size s the remaining
# error is O(s^2), so a step below 1e-6 leaves an error near 1e-12.
_TOL = 1e-6
_OUTER_CACHE_BYTES = 256 * 2**20


@dataclass(frozen=True)
class ModelFit:
    """Coefficients of one regression model for ``B`` replicate weightings.

    Attributes
    ----------
    family : {"linear", "logit", "probit"}
    names : tuple of str
        Column names of the design matrix (``"const"`` first).
    coef : numpy.ndarray
        ``(B, p)`` coefficients.
    sigma : numpy.ndarray
        ``(B,)`` residual standard deviation (linear) or ones.
    converged, separated : numpy.ndarray
        ``(B,)`` flags; a replicate is usable when converged and not separated.
    cov : numpy.ndarray or None
        ``(p, p)`` covariance of the coefficients (point fit only).
    df_resid : float
        Residual degrees of freedom of the point fit.
    dispersion : numpy.ndarray or None
        ``(B,)`` estimated NB2 dispersion ``alpha`` of a negative-binomial model.
    """

    family: Family
    names: tuple[str, ...]
    coef: np.ndarray
    sigma: np.ndarray
    converged: np.ndarray
    separated: np.ndarray
    cov: np.ndarray | None = None
    df_resid: float = float("nan")
    dispersion: np.ndarray | None = None

    @property
    def ok(self) -> np.ndarray:
        """``(B,)`` mask of usable replicates."""
        return self.converged & ~self.separated

    def table(self) -> pd.DataFrame:
        """Coefficient table of the point fit: term, estimate, std_error, statistic, p_value."""
        if self.cov is None:
            raise ValueError("a coefficient table needs the point fit (B = 1)")
        est = self.coef[0]
        se = np.sqrt(np.diag(self.cov))
        stat = est / se
        if self.family == "linear":
            p = 2 * stats.t.sf(np.abs(stat), self.df_resid)
        else:
            p = 2 * stats.norm.sf(np.abs(stat))
        return pd.DataFrame(
            {"term": self.names, "estimate": est, "std_error": se, "statistic": stat, "p_value": p}
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe description of the point fit."""
        out: dict[str, Any] = {"family": self.family, "terms": list(self.names)}
        if self.cov is not None:
            out["coefficients"] = [
                {k: (v if isinstance(v, str) else float(v)) for k, v in row.items()}
                for row in self.table().to_dict(orient="records")
            ]
        if self.family == "linear":
            out["sigma"] = float(self.sigma[0])
        if self.dispersion is not None:
            out["dispersion"] = float(self.dispersion[0])
        return out


def _standardise(x: np.ndarray, const: int | None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Scale every non-constant column (and centre it when there is an intercept)."""
    shift = np.zeros(x.shape[1])
    scale = np.ones(x.shape[1])
    for j in range(x.shape[1]):
        col = x[:, j]
        if col.max() > col.min():
            shift[j] = col.mean() if const is not None else 0.0
            scale[j] = col.std()
    return (x - shift) / scale, shift, scale


def _back_transform(shift: np.ndarray, scale: np.ndarray, const: int | None) -> np.ndarray:
    """Matrix ``A`` with ``beta = A @ beta_std`` for the standardised design."""
    a = np.diag(1.0 / scale)
    if const is not None:
        a[const, :] -= shift / scale
        a[const, const] = 1.0
    return a


def _check_rank(gram: np.ndarray, names: tuple[str, ...]) -> None:
    """Raise FitError naming the first column that is a combination of earlier ones."""
    d = np.sqrt(np.diag(gram))
    if np.any(d == 0):
        raise FitError(f"model column {names[int(np.argmin(d))]!r} is all zero")
    corr = gram / np.outer(d, d)
    for j in range(1, len(names) + 1):
        eig = np.linalg.eigvalsh(corr[:j, :j])
        if eig[0] < 1e-10 * max(eig[-1], 1.0):
            raise FitError(
                f"model column {names[j - 1]!r} is collinear with earlier columns "
                "(a covariate duplicates another, or is constant within the data used)"
            )


def _outer_upper(x: np.ndarray) -> np.ndarray:
    """``(rows, p(p+1)/2)`` upper-triangle entries of each row's outer product."""
    p = x.shape[1]
    out = np.empty((x.shape[0], p * (p + 1) // 2))
    start = 0
    for i in range(p):
        np.multiply(x[:, i : i + 1], x[:, i:], out=out[:, start : start + p - i])
        start += p - i
    return out


def _upper(matrix: np.ndarray) -> np.ndarray:
    return matrix[np.triu_indices(matrix.shape[0])]


class _OuterCache:
    """Per-chunk outer products of the design rows, kept across iterations if small."""

    def __init__(self, keep: bool):
        self.keep = keep
        self.store: dict[int, np.ndarray] = {}

    def __call__(self, rows: slice, xc: np.ndarray) -> np.ndarray:
        if rows.start in self.store:
            return self.store[rows.start]
        outer = _outer_upper(xc)
        if self.keep:
            self.store[rows.start] = outer
        return outer


def _symmetric(upper: np.ndarray, p: int) -> np.ndarray:
    """``(..., p, p)`` symmetric matrices from their upper-triangle entries."""
    iu, ju = np.triu_indices(p)
    out = np.empty((*upper.shape[:-1], p, p))
    out[..., iu, ju] = upper
    out[..., ju, iu] = upper
    return out


def _solve(h: np.ndarray, g: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Batched solve of ``h x = g``; singular systems give NaN and a False flag."""
    ok = np.ones(h.shape[0], dtype=bool)
    try:
        return np.linalg.solve(h, g[..., None])[..., 0], ok
    except np.linalg.LinAlgError:
        out = np.full(g.shape, np.nan)
        for i in range(h.shape[0]):  # only reached when some replicate is singular
            try:
                out[i] = np.linalg.solve(h[i], g[i])
            except np.linalg.LinAlgError:
                ok[i] = False
        return out, ok


def _point_cov(gram_inv: np.ndarray, a: np.ndarray) -> np.ndarray:
    return a @ gram_inv @ a.T


@dataclass(frozen=True)
class Moments:
    """Weighted cross-products of standardised columns, one ``(q, q)`` matrix per replicate.

    Linear models on any subset of the columns follow from these sufficient
    statistics without another pass over the rows. For the point fit (``B = 1``)
    the standardised rows are kept so residuals can be computed exactly.
    """

    gram: np.ndarray
    total: np.ndarray
    shift: np.ndarray
    scale: np.ndarray
    const: int | None
    rows: np.ndarray | None = None

    def means(self, cols: list[int]) -> np.ndarray:
        """``(B, len(cols))`` weighted means of the raw columns (needs a constant column)."""
        assert self.const is not None
        standardised = self.gram[:, self.const, cols] / self.total[:, None]
        return self.shift[cols] + self.scale[cols] * standardised


def moments(z: np.ndarray, weights: ReplicateWeights) -> Moments:
    """Accumulate the weighted Gram matrix of ``z`` over row chunks for every replicate.

    Only the upper triangle is computed (one matrix product per chunk).
    """
    const = _const_index(z)
    zs, shift, scale = _standardise(z, const)
    q = z.shape[1]
    b = weights.n_rep
    parts = weights.map_chunks(
        lambda rows, w: (w @ _outer_upper(zs[rows]), w.sum(axis=1)),
        per_row_values=q * (q + 1) // 2,
    )
    gram = _symmetric(sum(part[0] for part in parts), q)
    total = sum(part[1] for part in parts)
    return Moments(
        gram=gram, total=total, shift=shift, scale=scale, const=const, rows=zs if b == 1 else None
    )


def linear_from_moments(
    mom: Moments, x_cols: list[int], y_col: int, names: tuple[str, ...]
) -> ModelFit:
    """Weighted least squares of column ``y_col`` on columns ``x_cols`` from :func:`moments`."""
    g = mom.gram
    b = g.shape[0]
    p = len(x_cols)
    gxx = g[:, x_cols][:, :, x_cols]
    gxy = g[:, x_cols, y_col]
    if b == 1:
        _check_rank(gxx[0], names)
    beta_s, ok = _solve(gxx, gxy)
    if mom.rows is not None:
        resid = mom.rows[:, y_col] - mom.rows[:, x_cols] @ beta_s[0]
        ssr = np.array([resid @ resid])
    else:
        ssr = np.clip(g[:, y_col, y_col] - np.einsum("bp,bp->b", beta_s, gxy), 0.0, None)
    df = mom.total - p
    sigma = mom.scale[y_col] * np.sqrt(np.where(df > 0, ssr / np.maximum(df, 1e-300), np.nan))
    ok &= np.isfinite(beta_s).all(axis=1) & (df > 0) & _well_conditioned(gxx)
    const = x_cols.index(mom.const) if mom.const in x_cols else None
    a = _back_transform(mom.shift[x_cols], mom.scale[x_cols], const)
    coef = mom.scale[y_col] * beta_s @ a.T
    if const is not None:
        coef[:, const] += mom.shift[y_col]
    cov = None
    if b == 1:
        cov = _point_cov(np.linalg.inv(gxx[0]) * sigma[0] ** 2, a)
    return ModelFit(
        family="linear",
        names=names,
        coef=coef,
        sigma=sigma,
        converged=ok,
        separated=np.zeros(b, dtype=bool),
        cov=cov,
        df_resid=float(df[0]),
    )


def fit_linear(
    x: np.ndarray,
    y: np.ndarray,
    weights: ReplicateWeights,
    names: tuple[str, ...],
) -> ModelFit:
    """Weighted least squares for every replicate weighting.

    Parameters
    ----------
    x : numpy.ndarray
        ``(n, p)`` design matrix including the constant column.
    y : numpy.ndarray
        ``(n,)`` response.
    weights : ReplicateWeights
        Frequency weights; ``B = 1`` with unit weights gives the ordinary fit.
    names : tuple of str
        Column names, used in error messages and tables.

    Returns
    -------
    ModelFit
        With ``cov`` (non-robust, as statsmodels ``OLS``) when ``B = 1``.
    """
    p = x.shape[1]
    mom = moments(np.column_stack([x, y]), weights)
    return linear_from_moments(mom, list(range(p)), p, names)


def _well_conditioned(gram: np.ndarray) -> np.ndarray:
    d = np.sqrt(np.clip(np.einsum("bii->bi", gram), 1e-300, None))
    corr = gram / (d[:, :, None] * d[:, None, :])
    eig = np.linalg.eigvalsh(corr)
    return eig[:, 0] > 1e-10 * np.maximum(eig[:, -1], 1.0)


def _const_index(x: np.ndarray) -> int | None:
    hits = np.flatnonzero(np.all(x == 1.0, axis=0))
    return int(hits[0]) if hits.size else None


def _score_info(
    family: Family, eta: np.ndarray, y: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Per-row score and observed-information factors of the log-likelihood.

    Both links give a concave log-likelihood, so Newton's method applies. The
    probit factors use the Mills ratio in log space, accurate where ``Phi(eta)``
    rounds to 0 or 1 (the same formulas as statsmodels' ``Probit.hessian``).
    """
    if family == "logit":
        mu = special.expit(eta)
        return y - mu, mu * (1.0 - mu)
    q = 2.0 * y - 1.0
    z = q * eta
    mills = np.exp(-0.5 * z * z - 0.5 * np.log(2 * np.pi) - special.log_ndtr(z))
    return q * mills, mills * (mills + z)


def fit_glm(
    x: np.ndarray,
    y: np.ndarray,
    weights: ReplicateWeights,
    names: tuple[str, ...],
    family: Family = "logit",
    max_iter: int = _MAX_ITER,
    start: np.ndarray | None = None,
) -> ModelFit:
    """Weighted logistic or probit regression by batched Newton iterations.

    Parameters
    ----------
    x, y, weights, names
        As in :func:`fit_linear`; ``y`` must be 0/1.
    family : {"logit", "probit"}
    max_iter : int
        Iteration cap; replicates that have not converged are flagged.
    start : numpy.ndarray, optional
        ``(p,)`` starting coefficients (e.g. the point fit, to warm-start replicates).

    Returns
    -------
    ModelFit
        ``separated`` flags replicates that did not converge while some fitted
        probabilities are numerically 0 or 1 -- the signature of (quasi-)complete
        separation, under which the coefficients diverge. ``cov`` is the inverse
        observed information at ``B = 1``.
    """
    const = _const_index(x)
    xs, shift, scale = _standardise(x, const)
    p = x.shape[1]
    b = weights.n_rep
    beta = np.zeros((b, p))
    if start is not None:
        beta[:] = np.linalg.solve(_back_transform(shift, scale, const), start)
    converged = np.zeros(b, dtype=bool)
    active = np.ones(b, dtype=bool)
    gram = np.zeros((b, p * (p + 1) // 2))
    info_last = np.zeros((b, p * (p + 1) // 2))
    outer_rows = _OuterCache(xs.shape[0] * p * (p + 1) // 2 * 8 <= _OUTER_CACHE_BYTES)
    for iteration in range(max_iter):
        todo = np.flatnonzero(active)  # converged replicates are not iterated again

        def chunk(rows: slice, w: np.ndarray, todo=todo, first=iteration == 0, beta=beta):
            xc = xs[rows]
            w_todo = w if todo.size == b else w[todo]
            s, i = _score_info(family, beta[todo] @ xc.T, y[rows])
            if b == 1:  # one weighting: X' D X directly is cheaper than outer products
                return (
                    (w * s) @ xc,
                    _upper((xc * (w * i).T).T @ xc)[None],
                    _upper((xc * w.T).T @ xc)[None] if first else 0.0,
                )
            outer = outer_rows(rows, xc)
            return (w_todo * s) @ xc, (w_todo * i) @ outer, (w @ outer if first else 0.0)

        parts = weights.map_chunks(chunk, per_row_values=p)
        score = sum(part[0] for part in parts)
        info = sum(part[1] for part in parts)
        gram = gram + sum(part[2] for part in parts)
        if iteration == 0 and b == 1:
            _check_rank(_symmetric(gram[0], p), names)
        info_last[todo] = info
        step_todo, solved_todo = _solve(_symmetric(info, p), score)
        step = np.zeros((b, p))
        solved = np.ones(b, dtype=bool)
        step[todo] = np.where(solved_todo[:, None], step_todo, 0.0)
        solved[todo] = solved_todo
        beta = beta + step
        size = np.max(np.abs(step), axis=1) / (1.0 + np.max(np.abs(beta), axis=1))
        newly = active & solved & (size < _TOL)
        converged |= newly
        active &= ~newly & solved
        if not active.any():
            break

    def most_extreme(rows: slice, w: np.ndarray) -> np.ndarray:
        fitted = (2.0 * y[rows] - 1.0) * (beta @ xs[rows].T)
        return np.max(np.where(w > 0, fitted, -np.inf), axis=1)

    largest = np.max(weights.map_chunks(most_extreme), axis=0)
    # Under separation the coefficients diverge and the separating rows' fitted
    # probabilities go to 0 or 1: Newton either never converges, or stalls once those
    # rows' contributions underflow -- then the information has lost a direction the
    # data span. A converged fit with a single extreme row keeps full information.
    stalled = _information_lost(_symmetric(info_last, p), _symmetric(gram, p))
    separated = (largest > _ETA_DIVERGING[family]) & (~converged | stalled)
    a = _back_transform(shift, scale, const)
    coef = beta @ a.T
    cov = None
    if b == 1:
        if separated[0]:
            raise FitError(
                "perfect or quasi-perfect separation: some fitted probabilities are 0 or 1 "
                "and the coefficients diverge (a covariate or the treatment predicts the "
                "response exactly)"
            )
        if not converged[0]:
            raise FitError(f"no convergence after {max_iter} iterations")
        cov = _point_cov(np.linalg.inv(_observed_info(family, xs, y, beta, weights)), a)
    return ModelFit(
        family=family,
        names=names,
        coef=coef,
        sigma=np.ones(b),
        converged=converged,
        separated=separated,
        cov=cov,
        df_resid=float("nan"),
    )


def _information_lost(info: np.ndarray, gram: np.ndarray) -> np.ndarray:
    """``(B,)`` flags: the smallest generalised eigenvalue of ``info`` against ``gram`` is ~0.

    ``info = X'diag(w h)X`` and ``gram = X'diag(w)X``; their ratio along a direction is
    a weighted average of ``h`` (the per-row curvature), which only vanishes when
    every row that varies in that direction has an underflowed fitted probability.
    """
    vals, vecs = np.linalg.eigh(gram)
    inv_sqrt = np.where(vals > 1e-12 * vals[:, -1:], 1.0 / np.sqrt(np.abs(vals) + 1e-300), 0.0)
    root = vecs * inv_sqrt[:, None, :] @ np.swapaxes(vecs, 1, 2)
    ratio = np.linalg.eigvalsh(root @ info @ root)
    usable = np.sum(vals > 1e-12 * vals[:, -1:], axis=1)
    smallest = np.take_along_axis(ratio, (ratio.shape[1] - usable)[:, None], axis=1)[:, 0]
    return smallest < _INFORMATION_FLOOR


def _observed_info(
    family: Family, xs: np.ndarray, y: np.ndarray, beta: np.ndarray, weights: ReplicateWeights
) -> np.ndarray:
    """Observed information of the point fit, ``X' diag(w h) X``."""
    info = np.zeros((xs.shape[1], xs.shape[1]))
    for rows, w in weights.chunks():
        xc = xs[rows]
        _, factor = _score_info(family, xc @ beta[0], y[rows])
        info += (xc * (w[0] * factor)[:, None]).T @ xc
    return info


def fit_model(
    family: Family,
    x: np.ndarray,
    y: np.ndarray,
    weights: ReplicateWeights,
    names: tuple[str, ...],
    response: str = "response",
    start: np.ndarray | None = None,
) -> ModelFit:
    """Fit a linear, logit, probit, Poisson or NB2 model; errors name the ``response`` column.

    ``start`` warm-starts the iterative fits (ignored for linear models).
    """
    with naming_errors(family, response):
        if family == "linear":
            return fit_linear(x, y, weights, names)
        if family in ("poisson", "negbin"):
            from .counts import fit_count

            return fit_count(x, y, weights, names, family=family, start=start)
        return fit_glm(x, y, weights, names, family=family, start=start)


@contextmanager
def naming_errors(family: Family, response: str) -> Iterator[None]:
    """Prefix any :class:`FitError` raised inside with the model and its response column."""
    try:
        yield
    except FitError as err:
        raise FitError(f"{family} model for {response!r}: {err}") from None


@dataclass
class ModelPair:
    """The mediator and outcome models of one analysis: designs, responses and families.

    :func:`fit_pair` fits both for any replicate weights; it is where every
    bootstrap and jackknife fit of :func:`medbook.mediate` happens.
    """

    m_family: Family
    y_family: Family
    xm: np.ndarray
    m: np.ndarray
    m_names: list[str]
    m_column: str
    xy: np.ndarray
    y: np.ndarray
    y_names: list[str]
    y_column: str
    n_covariates: int

    def __post_init__(self) -> None:
        p_y = self.xy.shape[1]
        self.cov_cols = list(range(p_y - self.n_covariates, p_y))
        self.linear = self.m_family == self.y_family == "linear"
        self.z = np.column_stack([self.xy, self.y]) if self.linear else None


def fit_pair(
    pair: ModelPair, weights: ReplicateWeights, start: tuple[ModelFit, ModelFit] | None = None
) -> tuple[ModelFit, ModelFit, np.ndarray | None]:
    """Both models for these weights, and (both linear) the weighted covariate means.

    Two linear models follow from one pass over the rows (the same moments);
    otherwise each model is fitted by :func:`fit_model`, started at ``start``.
    """
    if pair.linear:
        p_y = pair.xy.shape[1]
        mom = moments(pair.z, weights)
        with naming_errors("linear", pair.m_column):
            med = linear_from_moments(mom, [0, 1, *pair.cov_cols], 2, pair.m_names)
        with naming_errors("linear", pair.y_column):
            out = linear_from_moments(mom, list(range(p_y)), p_y, pair.y_names)
        return med, out, mom.means(pair.cov_cols)
    m0, y0 = (start[0].coef[0], start[1].coef[0]) if start else (None, None)
    med = fit_model(pair.m_family, pair.xm, pair.m, weights, pair.m_names, pair.m_column, m0)
    out = fit_model(pair.y_family, pair.xy, pair.y, weights, pair.y_names, pair.y_column, y0)
    return med, out, None
