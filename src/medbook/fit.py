"""Batched weighted regression: one call fits B replicate-weight vectors at once.

The design matrix ``X`` (``n x p``) is the same for all replicates; only the row
weights differ. Cross-products are accumulated over row chunks with matrix
products (``W @ Z`` where ``Z`` holds the per-row outer products), so there is
no Python loop over replicates and memory stays bounded for large ``n``.
Columns are centred and scaled internally for numerical stability and the
coefficients are transformed back. Linear models are solved from moments here;
logit and probit models by the safeguarded Newton kernel in :mod:`medbook.glm`.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np

from .errors import FitError
from .fitcore import (
    Family,
    ModelFit,
    Status,
    back_transform,
    check_rank,
    const_index,
    focal_mask,
    null_space,
    outer_upper,
    solve,
    standardise,
    symmetric,
)
from .glm import fit_glm
from .weights import ReplicateWeights

__all__ = [
    "Family",
    "ModelFit",
    "ModelPair",
    "Moments",
    "Status",
    "fit_glm",
    "fit_linear",
    "fit_model",
    "fit_pair",
    "linear_from_moments",
    "moments",
    "naming_errors",
]


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
    const = const_index(z)
    zs, shift, scale = standardise(z, const)
    q = z.shape[1]
    b = weights.n_rep
    parts = weights.map_chunks(
        lambda rows, w: (w @ outer_upper(zs[rows]), w.sum(axis=1)),
        per_row_values=q * (q + 1) // 2,
    )
    gram = symmetric(sum(part[0] for part in parts), q)
    total = sum(part[1] for part in parts)
    return Moments(
        gram=gram, total=total, shift=shift, scale=scale, const=const, rows=zs if b == 1 else None
    )


def linear_from_moments(
    mom: Moments,
    x_cols: list[int],
    y_col: int,
    names: tuple[str, ...],
    focal: Sequence[int] | None = None,
) -> ModelFit:
    """Weighted least squares of column ``y_col`` on columns ``x_cols`` from :func:`moments`.

    ``focal`` (positions within ``x_cols``) are the columns whose loss in a resample
    leaves the effects undefined; a resample lacking a covariate level is fitted on
    its identified directions (minimum-norm, like R's ``lm`` with an ``NA`` coefficient).
    """
    g = mom.gram
    b = g.shape[0]
    gxx = g[:, x_cols][:, :, x_cols]
    gxy = g[:, x_cols, y_col]
    const = x_cols.index(mom.const) if mom.const in x_cols else None
    if b == 1:
        check_rank(gxx[0], names)
    ridge, rank, focal_null = null_space(gxx, focal_mask(len(x_cols), focal, const))
    beta_s, ok = solve(gxx + ridge, gxy)
    if mom.rows is not None:
        resid = mom.rows[:, y_col] - mom.rows[:, x_cols] @ beta_s[0]
        ssr = np.array([resid @ resid])
    else:
        ssr = np.clip(g[:, y_col, y_col] - np.einsum("bp,bp->b", beta_s, gxy), 0.0, None)
    df = mom.total - rank
    sigma = mom.scale[y_col] * np.sqrt(np.where(df > 0, ssr / np.maximum(df, 1e-300), np.nan))
    status = np.where(ok & (df > 0), Status.CONVERGED, Status.NOT_CONVERGED).astype(np.int8)
    status[focal_null] = Status.SINGULAR
    a = back_transform(mom.shift[x_cols], mom.scale[x_cols], const)
    coef = mom.scale[y_col] * np.where(ok[:, None], beta_s, 0.0) @ a.T
    if const is not None:
        coef[:, const] += mom.shift[y_col]
    cov = None
    if b == 1:
        cov = a @ np.linalg.inv(gxx[0]) @ a.T * sigma[0] ** 2
    return ModelFit(
        family="linear",
        names=names,
        coef=coef,
        sigma=np.where(np.isfinite(sigma), sigma, 1.0),
        status=status,
        cov=cov,
        df_resid=float(df[0]),
    )


def fit_linear(
    x: np.ndarray,
    y: np.ndarray,
    weights: ReplicateWeights,
    names: tuple[str, ...],
    focal: Sequence[int] | None = None,
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
    focal : sequence of int, optional
        Treatment/mediator columns (default: every column but the constant).

    Returns
    -------
    ModelFit
        With ``cov`` (non-robust, as statsmodels ``OLS``) when ``B = 1``.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.column_stack([np.ones(4), [0.0, 1.0, 2.0, 3.0]])
    >>> fit_linear(x, np.array([1.0, 3.0, 5.0, 7.0]), ReplicateWeights(4), ("c", "x")).coef
    array([[1., 2.]])
    """
    p = x.shape[1]
    mom = moments(np.column_stack([x, y]), weights)
    return linear_from_moments(mom, list(range(p)), p, names, focal)


def fit_model(
    family: Family,
    x: np.ndarray,
    y: np.ndarray,
    weights: ReplicateWeights,
    names: tuple[str, ...],
    response: str = "response",
    start: np.ndarray | None = None,
    focal: Sequence[int] | None = None,
) -> ModelFit:
    """Fit a linear, logit, probit, Poisson or NB2 model; errors name the ``response`` column.

    ``start`` warm-starts the iterative fits (ignored for linear models); ``focal``
    lists the treatment/mediator columns (see :func:`medbook.glm.fit_glm`).
    """
    with naming_errors(family, response):
        if family == "linear":
            return fit_linear(x, y, weights, names, focal)
        if family in ("poisson", "negbin"):
            from .counts import fit_count

            return fit_count(x, y, weights, names, family=family, start=start)
        return fit_glm(x, y, weights, names, family=family, start=start, focal=focal)


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
        # treatment (and mediator, product): their separation leaves the effects undefined
        self.m_focal = (1,)
        self.y_focal = tuple(range(1, p_y - self.n_covariates))
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
            med = linear_from_moments(
                mom, [0, 1, *pair.cov_cols], 2, tuple(pair.m_names), pair.m_focal
            )
        with naming_errors("linear", pair.y_column):
            out = linear_from_moments(
                mom, list(range(p_y)), p_y, tuple(pair.y_names), pair.y_focal
            )
        return med, out, mom.means(pair.cov_cols)
    m0, y0 = (_warm_start(start[0]), _warm_start(start[1])) if start else (None, None)
    med = fit_model(pair.m_family, pair.xm, pair.m, weights, tuple(pair.m_names),
                    pair.m_column, m0, pair.m_focal)
    out = fit_model(pair.y_family, pair.xy, pair.y, weights, tuple(pair.y_names),
                    pair.y_column, y0, pair.y_focal)
    return med, out, None


def _warm_start(fit: ModelFit) -> np.ndarray | None:
    """Point coefficients as the replicates' starting value; none after a limit fit, whose
    diverged coefficients would start resamples that do identify them far out."""
    return None if fit.limit_terms else fit.coef[0]
