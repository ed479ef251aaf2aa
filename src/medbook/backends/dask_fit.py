"""The numeric kernel's passes, block by block: moments, Newton steps, potential outcomes.

Each function named ``*_block`` runs on a worker on one block of encoded rows
``[t, m, y, covariates...]`` and returns small arrays; :func:`reduce_blocks`
sums them. The client-side loops reuse the in-memory kernel's pieces
(:mod:`medbook.fit`, :mod:`medbook.effects`), so both routes compute the same
statistics from the same replicate weights.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from ..effects import EffectModel, potential_outcomes
from ..families import get_family
from ..fit import Family, ModelFit, Moments, naming_errors
from ..fitcore import back_transform, focal_mask, outer_upper, symmetric
from ..glm import MAX_ITER, NewtonState, chunk_sums, classify, summarise, third_derivatives
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
        gram = gram + w @ outer_upper(zs[rows])
        total = total + w.sum(axis=1)
    return gram, total


def moments_dask(blocks: Any, layout: Layout, scaling: Scaling, wspec: WeightSpec) -> Moments:
    """Weighted Gram matrices of the standardised ``z`` for every replicate (one pass)."""
    gram, total = reduce_blocks(
        blocks, _moments_block, layout, scaling.shift, scaling.scale, wspec
    )
    q = scaling.shift.size
    return Moments(
        gram=symmetric(np.atleast_2d(gram), q),
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
    focal: tuple[int, ...] | None = None  # treatment/mediator positions (default: all)


def _design(z: np.ndarray, spec: GlmSpec, scaling_pair) -> tuple[np.ndarray, np.ndarray]:
    shift, scale = scaling_pair
    return (z[:, list(spec.cols)] - shift) / scale, z[:, spec.y_col]


def _glm_sums(family, xs, y, beta, todo, wspec, first_row, first):
    """Log-likelihood, score, information and (first iteration) Gram sums of one model over
    one block (the in-memory kernel, :func:`medbook.glm.chunk_sums`, chunk by chunk)."""
    terms = get_family(family)
    parts = [
        chunk_sums(terms, xs[rows], y[rows], w, beta, todo, first)
        for rows, w in wspec.chunks(first_row, xs.shape[0])
    ]
    return tuple(sum(part[i] for part in parts) for i in range(4))


def _newton_block(block, first_row, layout, specs, scalings, betas, todos, wspec, first):
    z = layout.z(block)
    out = []
    for spec, pair, beta, todo in zip(specs, scalings, betas, todos, strict=True):
        if todo.size == 0:
            out.append((0.0, 0.0, 0.0, 0.0))
            continue
        xs, y = _design(z, spec, pair)
        out.append(_glm_sums(spec.family, xs, y, beta, todo, wspec, first_row, first))
    return tuple(out)


def _third_block(block, first_row, layout, specs, scalings, betas):
    """Per model, :func:`medbook.glm.third_derivatives` at its (shared) warm start."""
    z = layout.z(block)
    out = []
    for spec, pair, beta in zip(specs, scalings, betas, strict=True):
        xs, y = _design(z, spec, pair)
        out.append(third_derivatives(get_family(spec.family), xs, y, beta[0]))
    return tuple(out)


def _gram_block(block, first_row, layout, spec, scaling_pair, reps, wspec):
    """Exact weighted Gram matrices (upper triangles) of the replicates ``reps``, one model."""
    xs, _ = _design(layout.z(block), spec, scaling_pair)
    total = 0.0
    for rows, w in wspec.chunks(first_row, xs.shape[0]):
        total = total + w[reps] @ outer_upper(xs[rows])
    return total


def _grams(blocks, layout, spec, scaling_pair, wspec, reps: np.ndarray) -> np.ndarray:
    """Exact Gram matrices of the replicates ``reps`` (:attr:`NewtonState.gram_of`)."""
    return reduce_blocks(blocks, _gram_block, layout, spec, scaling_pair, reps, wspec)


def _final_block(block, first_row, layout, specs, scalings, betas, wspec):
    """Per model, for the point fit (``B = 1``): the observed information at the final
    coefficients."""
    out = {}
    z = layout.z(block)
    for j, (spec, scaling_pair, beta) in enumerate(zip(specs, scalings, betas, strict=True)):
        xs, y = _design(z, spec, scaling_pair)
        _, _, factor = get_family(spec.family).terms((xs @ beta[0])[None], y)
        out[f"info_{j}"] = (xs * factor[0][:, None]).T @ xs
    return out


class _Newton:
    """Client-side state of one model's batched Newton iterations (the in-memory kernel's
    :class:`medbook.glm.NewtonState`, fed by passes over the cluster's blocks)."""

    def __init__(self, spec: GlmSpec, scaling: Scaling, b: int, start: np.ndarray | None):
        cols = list(spec.cols)
        self.spec = spec
        self.shift, self.scale = scaling.shift[cols], scaling.scale[cols]
        self.a = back_transform(self.shift, self.scale, 0)
        beta = np.zeros((b, len(cols)))
        if start is not None:
            beta[:] = np.linalg.solve(self.a, start)
        self.state = NewtonState.start(beta)
        self.focal = focal_mask(len(cols), spec.focal, 0)
        self.status: np.ndarray | None = None
        self.lost: dict[int, np.ndarray] = {}

    def todo(self) -> np.ndarray:
        return self.state.todo()

    def update(self, loglik, score, info, gram, first: bool) -> None:
        self.state.update(loglik, score, info, gram, first, self.spec.names, self.focal)

    def classify(self) -> np.ndarray:
        """Finish the iterations; returns the final standardised coefficients."""
        self.state.finish()
        self.status, self.lost = classify(self.state, self.focal)
        return self.state.beta

    def result(self, info: np.ndarray | None) -> ModelFit:
        assert self.status is not None
        return summarise(
            self.state, self.status, self.lost, self.spec.family, self.a, self.focal,
            self.spec.names, info, None, MAX_ITER, 0,
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

    Replicates that have stopped are not iterated again; step-halving, the
    replicate classification and the point-fit checks are those of
    :func:`medbook.glm.fit_glm` (the same :class:`~medbook.glm.NewtonState`).
    """
    starts = starts or [None] * len(specs)
    states = [_Newton(s, scaling, wspec.n_rep, st) for s, st in zip(specs, starts, strict=True)]
    pairs = tuple((st.shift, st.scale) for st in states)
    for state, spec, pair in zip(states, specs, pairs, strict=True):
        state.state.max_curvature = get_family(spec.family).max_curvature
        state.state.gram_of = functools.partial(_grams, blocks, layout, spec, pair, wspec)
    if wspec.n_rep > 1 and all(start is not None for start in starts):  # see glm._iterate
        betas = [st.state.beta for st in states]
        thirds = reduce_blocks(blocks, _third_block, layout, tuple(specs), pairs, betas)
        for state, third in zip(states, thirds, strict=True):
            state.state.third = third
    for iteration in range(MAX_ITER):
        todos = [st.todo() for st in states]
        if not any(t.size for t in todos):
            break
        betas = [st.state.beta[t] for st, t in zip(states, todos, strict=True)]
        parts = reduce_blocks(
            blocks, _newton_block, layout, tuple(specs), pairs, betas, todos, wspec,
            iteration == 0,
        )
        for state, sums, todo in zip(states, parts, todos, strict=True):
            if todo.size:
                with naming_errors(state.spec.family, state.spec.response):
                    state.update(*sums, iteration == 0)
        if progress is not None:
            progress()
    betas = [st.classify() for st in states]
    infos: list[Any] = [None] * len(states)
    if wspec.n_rep == 1:
        final = reduce_blocks(blocks, _final_block, layout, tuple(specs), pairs, betas, wspec)
        infos = [final[f"info_{j}"] for j in range(len(states))]
    fits = []
    for state, info in zip(states, infos, strict=True):
        with naming_errors(state.spec.family, state.spec.response):
            fits.append(state.result(info))
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

    def map_chunks(self, func, per_row_values: int = 1, compact: bool = False) -> list:
        """``[func(rows, weights) ...]`` in row order; the weights are always floats here."""
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

