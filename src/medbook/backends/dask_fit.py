"""The numeric kernel's passes, block by block: moments, Newton steps, potential outcomes.

Each function named ``*_block`` runs on a worker on one block of encoded rows
``[t, m, y, covariates...]`` and returns small arrays; :func:`reduce_blocks`
sums them. The client-side loops reuse the in-memory kernel's pieces
(:mod:`medbook.fit`, :mod:`medbook.effects`), so both routes compute the same
statistics from the same replicate weights.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from ..effects import EffectModel, potential_outcomes
from ..errors import FitError
from ..fit import (
    _ETA_DIVERGING,
    _MAX_ITER,
    _TOL,
    Family,
    ModelFit,
    Moments,
    _back_transform,
    _check_rank,
    _information_lost,
    _outer_upper,
    _point_cov,
    _score_info,
    _solve,
    _symmetric,
    _upper,
    naming_errors,
)
from ..rowstream import poisson_weights
from ..weights import BLOCK_ROWS as CHUNK_ROWS
from .dask_passes import reduce_blocks

__all__ = [
    "GlmSpec",
    "Layout",
    "Scaling",
    "WeightSpec",
    "column_scaling",
    "fit_glms",
    "moments_dask",
    "potential_outcomes_dask",
]


@dataclass(frozen=True)
class Layout:
    """Columns of ``z = [1, t, m, (t*m), covariates..., y]`` built from an encoded block.

    ``z`` without its last column is the outcome model's design; the mediator
    model uses columns ``[0, 1, covariates...]`` with column 2 as its response.
    """

    interaction: bool
    k: int

    @property
    def p_y(self) -> int:
        return 3 + int(self.interaction) + self.k

    @property
    def cov_cols(self) -> list[int]:
        return list(range(self.p_y - self.k, self.p_y))

    def z(self, block: np.ndarray) -> np.ndarray:
        t, m = block[:, 0], block[:, 1]
        columns = [np.ones(block.shape[0]), t, m]
        if self.interaction:
            columns.append(t * m)
        return np.column_stack([*columns, block[:, 3:], block[:, 2]])


@dataclass(frozen=True)
class WeightSpec:
    """Row weights of a pass: unit weights, or keyed Poisson(1) replicates."""

    kind: Literal["unit", "poisson"] = "unit"
    key: int = 0
    n_rep: int = 1

    def chunks(self, first_row: int, n_rows: int) -> Iterator[tuple[slice, np.ndarray]]:
        """``(rows, weights (B, rows))`` over the block in chunks of :data:`CHUNK_ROWS`."""
        for lo in range(0, n_rows, CHUNK_ROWS):
            rows = slice(lo, min(lo + CHUNK_ROWS, n_rows))
            size = rows.stop - lo
            if self.kind == "unit":
                yield rows, np.ones((1, size))
            else:
                keys = np.arange(first_row + lo, first_row + lo + size)
                yield rows, poisson_weights(self.key, keys, self.n_rep).astype(float)


@dataclass(frozen=True)
class Scaling:
    """Centre and scale of every column of ``z`` (as :func:`medbook.fit._standardise`)."""

    shift: np.ndarray
    scale: np.ndarray
    n: int
    control_mediator_mean: float


def _stats_block(block: np.ndarray, first_row: int, layout: Layout) -> dict[str, np.ndarray]:
    z = layout.z(block)
    control = block[:, 0] == 0
    return {
        "sum": z.sum(axis=0),
        "sumsq": np.einsum("ij,ij->j", z, z),
        "max_low": -z.min(axis=0, initial=np.inf),
        "max_high": z.max(axis=0, initial=-np.inf),
        "n": np.array(float(block.shape[0])),
        "control": np.array([block[control, 1].sum(), control.sum()]),
    }


def column_scaling(blocks: Any, layout: Layout) -> Scaling:
    """One pass: column means and standard deviations of ``z`` (constant columns untouched)."""
    s = reduce_blocks(blocks, _stats_block, layout)
    n = float(s["n"])
    mean = s["sum"] / n
    varying = s["max_high"] > -s["max_low"]
    std = np.sqrt(np.maximum(s["sumsq"] / n - mean**2, 0.0))
    shift = np.where(varying, mean, 0.0)
    scale = np.where(varying & (std > 0), std, 1.0)
    control = float(s["control"][0] / s["control"][1])
    return Scaling(shift=shift, scale=scale, n=int(n), control_mediator_mean=control)


def _moments_block(block, first_row, layout, shift, scale, wspec):
    zs = (layout.z(block) - shift) / scale
    gram, total = 0.0, 0.0
    for rows, w in wspec.chunks(first_row, block.shape[0]):
        gram = gram + w @ _outer_upper(zs[rows])
        total = total + w.sum(axis=1)
    return gram, total


def moments_dask(blocks: Any, layout: Layout, scaling: Scaling, wspec: WeightSpec) -> Moments:
    """Weighted Gram matrices of the standardised ``z`` for every replicate (one pass)."""
    gram, total = reduce_blocks(
        blocks, _moments_block, layout, scaling.shift, scaling.scale, wspec
    )
    q = scaling.shift.size
    return Moments(
        gram=_symmetric(np.atleast_2d(gram), q),
        total=np.atleast_1d(total),
        shift=scaling.shift,
        scale=scaling.scale,
        const=0,
    )


@dataclass(frozen=True)
class GlmSpec:
    """One logistic / probit model: columns of ``z`` and its response column."""

    family: Family
    cols: tuple[int, ...]
    y_col: int
    names: tuple[str, ...]
    response: str = "response"


def _design(z: np.ndarray, spec: GlmSpec, scaling_pair) -> tuple[np.ndarray, np.ndarray]:
    shift, scale = scaling_pair
    return (z[:, list(spec.cols)] - shift) / scale, z[:, spec.y_col]


def _glm_sums(family, xs, y, beta, todo, wspec, first_row, first):
    """Score, information and (first iteration) Gram sums of one model over one block."""
    score = info = gram = 0.0
    for rows, w in wspec.chunks(first_row, xs.shape[0]):
        xc = xs[rows]
        s, i = _score_info(family, beta @ xc.T, y[rows])
        if w.shape[0] == 1:  # one weighting: X' D X directly is cheaper than outer products
            score = score + (w * s) @ xc
            info = info + _upper((xc * (w * i).T).T @ xc)[None]
            if first:
                gram = gram + _upper((xc * w.T).T @ xc)[None]
            continue
        w_todo = w if todo.size == w.shape[0] else w[todo]
        outer = _outer_upper(xc)
        score = score + (w_todo * s) @ xc
        info = info + (w_todo * i) @ outer
        if first:
            gram = gram + w @ outer
    return score, info, gram


def _newton_block(block, first_row, layout, specs, scalings, betas, todos, wspec, first):
    z = layout.z(block)
    out = []
    for spec, pair, beta, todo in zip(specs, scalings, betas, todos, strict=True):
        if todo.size == 0:
            out.append((0.0, 0.0, 0.0))
            continue
        xs, y = _design(z, spec, pair)
        out.append(_glm_sums(spec.family, xs, y, beta, todo, wspec, first_row, first))
    return tuple(out)


def _final_block(block, first_row, layout, specs, scalings, betas, wspec):
    """Per model: the most extreme fitted ``(2y - 1) eta`` of any row with weight, and for the
    point fit (``B = 1``) the observed information at the final coefficients."""
    out = {}
    z = layout.z(block)
    for j, (spec, scaling_pair, beta) in enumerate(zip(specs, scalings, betas, strict=True)):
        xs, y = _design(z, spec, scaling_pair)
        largest = np.full(beta.shape[0], -np.inf)
        for rows, w in wspec.chunks(first_row, block.shape[0]):
            fitted = (2.0 * y[rows] - 1.0) * (beta @ xs[rows].T)
            largest = np.maximum(largest, np.max(np.where(w > 0, fitted, -np.inf), axis=1))
        out[f"max_{j}"] = largest
        if wspec.n_rep == 1:
            _, factor = _score_info(spec.family, xs @ beta[0], y)
            out[f"info_{j}"] = (xs * factor[:, None]).T @ xs
    return out


class _Newton:
    """Client-side state of one model's batched Newton iterations (as :func:`fit_glm`)."""

    def __init__(self, spec: GlmSpec, scaling: Scaling, b: int, start: np.ndarray | None):
        cols = list(spec.cols)
        self.spec = spec
        self.shift, self.scale = scaling.shift[cols], scaling.scale[cols]
        self.a = _back_transform(self.shift, self.scale, 0)
        p = len(cols)
        self.p, self.b = p, b
        self.beta = np.zeros((b, p))
        if start is not None:
            self.beta[:] = np.linalg.solve(self.a, start)
        self.converged = np.zeros(b, dtype=bool)
        self.active = np.ones(b, dtype=bool)
        self.gram = np.zeros((b, p * (p + 1) // 2))
        self.info_last = np.zeros((b, p * (p + 1) // 2))

    def todo(self) -> np.ndarray:
        return np.flatnonzero(self.active)

    def update(self, score, info, gram, first: bool) -> None:
        todo = self.todo()
        self.gram = self.gram + gram
        if first and self.b == 1:
            _check_rank(_symmetric(self.gram[0], self.p), self.spec.names)
        self.info_last[todo] = info
        step_todo, solved_todo = _solve(_symmetric(np.atleast_2d(info), self.p), score)
        step = np.zeros((self.b, self.p))
        solved = np.ones(self.b, dtype=bool)
        step[todo] = np.where(solved_todo[:, None], step_todo, 0.0)
        solved[todo] = solved_todo
        self.beta = self.beta + step
        size = np.max(np.abs(step), axis=1) / (1.0 + np.max(np.abs(self.beta), axis=1))
        newly = self.active & solved & (size < _TOL)
        self.converged |= newly
        self.active &= ~newly & solved

    def result(self, largest: np.ndarray, info: np.ndarray | None) -> ModelFit:
        family = self.spec.family
        stalled = _information_lost(
            _symmetric(self.info_last, self.p), _symmetric(self.gram, self.p)
        )
        separated = (largest > _ETA_DIVERGING[family]) & (~self.converged | stalled)
        cov = None
        if self.b == 1:
            if separated[0]:
                raise FitError(
                    "perfect or quasi-perfect separation: some fitted probabilities are 0 or 1 "
                    "and the coefficients diverge (a covariate or the treatment predicts the "
                    "response exactly)"
                )
            if not self.converged[0]:
                raise FitError(f"no convergence after {_MAX_ITER} iterations")
            cov = _point_cov(np.linalg.inv(info), self.a)
        return ModelFit(
            family=family,
            names=self.spec.names,
            coef=self.beta @ self.a.T,
            sigma=np.ones(self.b),
            converged=self.converged,
            separated=separated,
            cov=cov,
        )


def fit_glms(
    blocks: Any,
    layout: Layout,
    specs: list[GlmSpec],
    scaling: Scaling,
    wspec: WeightSpec,
    starts: list[np.ndarray | None] | None = None,
    progress: Callable[[], None] | None = None,
) -> list[ModelFit]:
    """Fit logistic / probit models together: each Newton iteration is one pass over the rows.

    Replicates that have converged are not iterated again; the separation and
    convergence checks are those of :func:`medbook.fit.fit_glm`.
    """
    starts = starts or [None] * len(specs)
    states = [_Newton(s, scaling, wspec.n_rep, st) for s, st in zip(specs, starts, strict=True)]
    pairs = tuple((st.shift, st.scale) for st in states)
    for iteration in range(_MAX_ITER):
        todos = [st.todo() for st in states]
        if not any(t.size for t in todos):
            break
        betas = [st.beta[t] for st, t in zip(states, todos, strict=True)]
        parts = reduce_blocks(
            blocks, _newton_block, layout, tuple(specs), pairs, betas, todos, wspec,
            iteration == 0,
        )
        for state, (score, info, gram), todo in zip(states, parts, todos, strict=True):
            if todo.size:
                with naming_errors(state.spec.family, state.spec.response):
                    state.update(score, info, gram, iteration == 0)
        if progress is not None:
            progress()
    betas = [st.beta for st in states]
    final = reduce_blocks(blocks, _final_block, layout, tuple(specs), pairs, betas, wspec)
    largest = [final[f"max_{j}"] for j in range(len(states))]
    infos = [final.get(f"info_{j}") for j in range(len(states))]
    fits = []
    for state, extreme, info in zip(states, largest, infos, strict=True):
        with naming_errors(state.spec.family, state.spec.response):
            fits.append(state.result(extreme, info))
    return fits


class _BlockWeights:
    """The weights of one block, shaped like :class:`medbook.weights.ReplicateWeights`."""

    def __init__(self, wspec: WeightSpec, first_row: int, n_rows: int):
        self.wspec, self.first_row, self.n_rows = wspec, first_row, n_rows
        self.n_rep = wspec.n_rep
        self.total: Any = 0.0

    def chunks(self, per_row_values: int = 1) -> Iterator[tuple[slice, np.ndarray]]:
        for rows, w in self.wspec.chunks(self.first_row, self.n_rows):
            self.total = self.total + w.sum(axis=1)
            yield rows, w

    def map_chunks(self, func, per_row_values: int = 1) -> list:
        return [func(rows, w) for rows, w in self.chunks(per_row_values)]


def _po_block(block, first_row, model, alpha, beta, sigma, wspec):
    weights = _BlockWeights(wspec, first_row, block.shape[0])
    means = potential_outcomes(model, alpha, beta, sigma, block[:, 3:], weights)
    total = weights.total
    return {key: value * total for key, value in means.items()}, total


def potential_outcomes_dask(
    blocks: Any,
    model: EffectModel,
    alpha: np.ndarray,
    beta: np.ndarray,
    sigma_m: np.ndarray,
    wspec: WeightSpec,
) -> dict[str, np.ndarray]:
    """:func:`medbook.effects.potential_outcomes` over the cluster's blocks (one pass)."""
    sums, total = reduce_blocks(blocks, _po_block, model, alpha, beta, sigma_m, wspec)
    return {key: value / total for key, value in sums.items()}

