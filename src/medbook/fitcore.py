"""Shared pieces of the model fits: the fit container, replicate status, linear algebra.

Designs are centred and scaled internally (:func:`standardise`) and coefficients
transformed back (:func:`back_transform`). Cross-products are kept as upper
triangles (:func:`outer_upper`) so one matrix product per row chunk gives every
replicate's weighted Gram or information matrix.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum
from typing import Any, Literal

import numpy as np
import pandas as pd
from scipy import stats

from .errors import FitError

__all__ = [
    "FOCAL_SHARE",
    "Family",
    "ModelFit",
    "Status",
    "back_transform",
    "certified_full_rank",
    "check_rank",
    "const_index",
    "focal_mask",
    "focal_share",
    "null_space",
    "outer_upper",
    "solve",
    "standardise",
    "symmetric",
    "upper",
]

Family = Literal["linear", "logit", "probit", "poisson", "negbin"]

# Eigenvalue (relative to the largest) of a correlation-scaled Gram matrix below which a
# direction is not identified by the rows carrying weight.
_RANK_TOL = 1e-10
# A null or diverging direction "involves" a focal column (treatment, mediator) when its
# weight on them exceeds this share of its length.
FOCAL_SHARE = 1e-4


class Status(IntEnum):
    """How one replicate's fit ended.

    ``CONVERGED`` and ``LIMIT`` are kept; the others are excluded from intervals.
    """

    CONVERGED = 0
    LIMIT = 1  # a nuisance direction diverges (quasi-separation); the limit fit is used
    SEPARATED = 2  # the treatment or mediator separates the response: effects undefined
    SINGULAR = 3  # the design is singular in a treatment or mediator column
    NOT_CONVERGED = 4

    @property
    def reason(self) -> str:
        """Plain-language reason of an excluded replicate."""
        return _REASONS[self]


_REASONS = {
    Status.CONVERGED: "converged",
    Status.LIMIT: "limit fit (quasi-separation in a covariate)",
    Status.SEPARATED: "treatment or mediator separates the outcome",
    Status.SINGULAR: "treatment or mediator column constant in the resample",
    Status.NOT_CONVERGED: "no convergence",
}


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
    status : numpy.ndarray
        ``(B,)`` :class:`Status` codes; a replicate is usable when it converged or
        is a limit fit.
    cov : numpy.ndarray or None
        ``(p, p)`` covariance of the coefficients (point fit only). For a limit fit
        the diverging directions are held at their limit (zero variance).
    df_resid : float
        Residual degrees of freedom of the point fit.
    limit_terms : tuple of str
        Terms of the point fit whose coefficients diverge (quasi-separation).
    limit_rows : numpy.ndarray or None
        Positions of the rows whose fitted probabilities go to 0 or 1 in the limit fit.
    dispersion : numpy.ndarray or None
        ``(B,)`` estimated NB2 dispersion ``alpha`` of a negative-binomial model.
    """

    family: Family
    names: tuple[str, ...]
    coef: np.ndarray
    sigma: np.ndarray
    status: np.ndarray
    cov: np.ndarray | None = None
    df_resid: float = float("nan")
    limit_terms: tuple[str, ...] = ()
    limit_rows: np.ndarray | None = None
    dispersion: np.ndarray | None = None

    @property
    def ok(self) -> np.ndarray:
        """``(B,)`` mask of usable replicates (converged or limit fits)."""
        return self.status <= Status.LIMIT

    @property
    def converged(self) -> np.ndarray:
        """``(B,)`` mask of fits that converged to a finite maximum."""
        return self.status == Status.CONVERGED

    @property
    def separated(self) -> np.ndarray:
        """``(B,)`` mask of fits with (quasi-)separation, kept or not."""
        return (self.status == Status.LIMIT) | (self.status == Status.SEPARATED)

    def table(self) -> pd.DataFrame:
        """Coefficient table of the point fit: term, estimate, std_error, statistic, p_value.

        Diverging (limit) terms have no standard error (NaN).
        """
        if self.cov is None:
            raise ValueError("a coefficient table needs the point fit (B = 1)")
        est = self.coef[0]
        se = np.sqrt(np.clip(np.diag(self.cov), 0.0, None))
        se[[self.names.index(t) for t in self.limit_terms]] = np.nan
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
                {k: (v if isinstance(v, str) else _finite_or_none(v)) for k, v in row.items()}
                for row in self.table().to_dict(orient="records")
            ]
        if self.family == "linear":
            out["sigma"] = float(self.sigma[0])
        if self.limit_terms:
            out["limit_terms"] = list(self.limit_terms)
        if self.dispersion is not None:
            out["dispersion"] = float(self.dispersion[0])
        return out


def _finite_or_none(value: Any) -> float | None:
    value = float(value)
    return value if np.isfinite(value) else None


def standardise(x: np.ndarray, const: int | None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Scale every non-constant column (and centre it when there is an intercept)."""
    shift = np.zeros(x.shape[1])
    scale = np.ones(x.shape[1])
    for j, col in enumerate(np.ascontiguousarray(x.T)):  # contiguous columns: faster
        if col.max() > col.min():
            peak = np.abs(col).max()  # moments of col / peak: no overflow near 1e154
            shift[j] = peak * (col / peak).mean() if const is not None else 0.0
            scale[j] = peak * (col / peak).std()
    return (x - shift) / scale, shift, scale


def back_transform(shift: np.ndarray, scale: np.ndarray, const: int | None) -> np.ndarray:
    """Matrix ``A`` with ``beta = A @ beta_std`` for the standardised design."""
    a = np.diag(1.0 / scale)
    if const is not None:
        a[const, :] -= shift / scale
        a[const, const] = 1.0
    return a


def const_index(x: np.ndarray) -> int | None:
    """Position of the first all-ones column, if any."""
    hits = np.flatnonzero(np.all(x == 1.0, axis=0))
    return int(hits[0]) if hits.size else None


def check_rank(gram: np.ndarray, names: tuple[str, ...]) -> None:
    """Raise FitError naming the first column that is a combination of earlier ones."""
    d = np.sqrt(np.diag(gram))
    if not np.isfinite(gram).all():
        raise FitError("the design matrix holds non-finite values")
    if np.any(d == 0):
        raise FitError(f"model column {names[int(np.argmin(d))]!r} is all zero")
    corr = gram / np.outer(d, d)
    for j in range(1, len(names) + 1):
        eig = np.linalg.eigvalsh(corr[:j, :j])
        if eig[0] < _RANK_TOL * max(eig[-1], 1.0):
            raise FitError(
                f"model column {names[j - 1]!r} is collinear with earlier columns "
                "(a covariate duplicates another, or is constant within the data used)"
            )


def null_space(gram: np.ndarray, focal: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Unidentified directions of each replicate's Gram matrix.

    A resample that lacks a level of a categorical covariate leaves that dummy's
    coefficient unidentified, as in R's ``glm`` (its coefficient is ``NA`` there).
    Predictions for the rows that carry weight do not depend on it, so the fit
    proceeds on the identified directions (a minimum-norm solution).

    Parameters
    ----------
    gram : numpy.ndarray
        ``(B, p, p)`` weighted Gram matrices of the standardised design.
    focal : numpy.ndarray
        ``(p,)`` boolean mask of treatment/mediator columns.

    Returns
    -------
    ridge : numpy.ndarray
        ``(B, p, p)`` ``c N N'`` over the null basis ``N`` (zero when identified); adding
        it to a singular system fixes the unidentified part of the solution at zero.
    rank : numpy.ndarray
        ``(B,)`` number of identified directions.
    focal_null : numpy.ndarray
        ``(B,)`` flags: a null direction involves a focal column (effects undefined).
    """
    d = np.sqrt(np.clip(np.einsum("bii->bi", gram), 1e-300, None))
    corr = gram / (d[:, :, None] * d[:, None, :])
    vals, vecs = np.linalg.eigh(corr)
    null = vals < _RANK_TOL * np.maximum(vals[:, -1:], 1.0)
    rank = gram.shape[1] - null.sum(axis=1)
    ridge = np.zeros_like(gram)
    focal_null = np.zeros(gram.shape[0], dtype=bool)
    for b in np.flatnonzero(null.any(axis=1)):  # only resamples with a missing level
        basis = vecs[b][:, null[b]] / d[b][:, None]  # back to the unscaled coordinates
        basis, _ = np.linalg.qr(basis)
        ridge[b] = np.trace(gram[b]) / gram.shape[1] * basis @ basis.T
        focal_null[b] = bool(np.any(focal_share(basis, focal) > FOCAL_SHARE))
    return ridge, rank, focal_null


def certified_full_rank(info: np.ndarray, diag: np.ndarray, max_curvature: float) -> np.ndarray:
    """Replicates whose Gram matrix :func:`null_space` would find of full rank, shown without it.

    With per-row curvature ``h <= max_curvature``, ``gram >= info / max_curvature`` in the
    Loewner order, so the smallest eigenvalue of the correlation-scaled Gram matrix is at
    least that of ``D^-1/2 info D^-1/2 / max_curvature`` (``D`` its diagonal), and its
    largest is at most ``p``. A bound above the rank tolerance times ``p`` (with a margin
    of ten for rounding) leaves no direction unidentified.

    Parameters
    ----------
    info : numpy.ndarray
        ``(B, p, p)`` weighted information matrices.
    diag : numpy.ndarray
        ``(B, p)`` diagonals of the weighted Gram matrices.
    max_curvature : float
        The family's bound on the per-row information factor.
    """
    p = diag.shape[1]
    usable = np.all(diag > 0, axis=1) & np.isfinite(info).all(axis=(1, 2))
    d = 1.0 / np.sqrt(np.where(usable[:, None], diag, 1.0))
    scaled = np.where(usable[:, None, None], info * d[:, :, None] * d[:, None, :], 0.0)
    low = np.linalg.eigvalsh(scaled)[:, 0] / max_curvature
    return usable & (low > 10.0 * _RANK_TOL * p)


def focal_share(directions: np.ndarray, focal: np.ndarray) -> np.ndarray:
    """Share of each column of ``directions`` (``(p, k)``) that lies on focal columns."""
    norms = np.linalg.norm(directions, axis=0)
    return np.linalg.norm(directions[focal], axis=0) / np.maximum(norms, 1e-300)


def focal_mask(p: int, focal: tuple[int, ...] | None, const: int | None) -> np.ndarray:
    """``(p,)`` mask of focal columns; ``None`` means every column but the constant."""
    mask = np.zeros(p, dtype=bool)
    if focal is None:
        mask[:] = True
        if const is not None:
            mask[const] = False
    else:
        mask[list(focal)] = True
    return mask


def outer_upper(x: np.ndarray) -> np.ndarray:
    """``(rows, p(p+1)/2)`` upper-triangle entries of each row's outer product."""
    p = x.shape[1]
    out = np.empty((x.shape[0], p * (p + 1) // 2))
    start = 0
    for i in range(p):
        np.multiply(x[:, i : i + 1], x[:, i:], out=out[:, start : start + p - i])
        start += p - i
    return out


def upper(matrix: np.ndarray) -> np.ndarray:
    """Upper-triangle entries of a square matrix, row by row."""
    return matrix[np.triu_indices(matrix.shape[0])]


def symmetric(upper_entries: np.ndarray, p: int) -> np.ndarray:
    """``(..., p, p)`` symmetric matrices from their upper-triangle entries."""
    iu, ju = np.triu_indices(p)
    out = np.empty((*upper_entries.shape[:-1], p, p))
    out[..., iu, ju] = upper_entries
    out[..., ju, iu] = upper_entries
    return out


def solve(h: np.ndarray, g: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Batched solve of ``h x = g``; singular or non-finite systems give NaN and a False flag."""
    ok = np.isfinite(h).all(axis=(1, 2)) & np.isfinite(g).all(axis=1)
    out = np.full(g.shape, np.nan)
    if ok.all():
        try:
            out = np.linalg.solve(h, g[..., None])[..., 0]
        except np.linalg.LinAlgError:
            ok = ok.copy()
        else:
            return out, np.isfinite(out).all(axis=1)
    for i in np.flatnonzero(ok):  # only reached when some replicate is singular
        try:
            out[i] = np.linalg.solve(h[i], g[i])
        except np.linalg.LinAlgError:
            ok[i] = False
    return out, ok & np.isfinite(out).all(axis=1)
