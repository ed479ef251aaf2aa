"""The sequential parametric g-formula over a chain of fitted models, batched over replicates.

A *chain* is a list of fitted regression models ("nodes"): intermediate
variables (mediators, post-treatment confounders) in causal order, then the
outcome. Node ``j`` regresses its variable on the design
``[1, t, parents..., t * interacting parents..., covariates...]``.

A *plan* says how to evaluate one potential-outcome mean: a sequence of
:class:`Step` s, each drawing one node's variable under a chosen treatment
value from parents realised by earlier steps (the same node may be drawn more
than once, e.g. a confounder under ``a`` and under ``a*``); the last step is
the outcome, whose conditional mean is averaged. Integration is

* an exact sum over the two values of a binary (logit / probit) node;
* the conditional mean for a continuous (linear, normal-error) node whose
  every downstream consumer is linear too (then the expectation is affine in
  its value, so plugging in the mean is exact);
* Gauss-Hermite quadrature over the fitted normal distribution otherwise, one
  tensor axis per such node (error reported by :func:`quadrature_error`).

Every summed or integrated node adds a trailing array axis, so the whole
tensor product is evaluated by broadcasting, for every replicate at once, in
row chunks; the covariate average uses the replicate weights.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import special

from .families import logistic
from .fit import Family
from .weights import ReplicateWeights, tiles

__all__ = ["Node", "Step", "evaluate_plans", "node_design", "quadrature_error", "uses_quadrature"]

_Prefix = tuple[list[np.ndarray], np.ndarray, int]


@dataclass(frozen=True)
class Node:
    """One model of the chain.

    Attributes
    ----------
    family : {"linear", "logit", "probit"}
    parents : tuple of int
        Indices of the earlier nodes whose variables enter the design.
    interacts : tuple of int
        Parents (a subset of ``parents``) that also enter multiplied by treatment.
    """

    family: Family
    parents: tuple[int, ...] = ()
    interacts: tuple[int, ...] = ()

    @property
    def n_terms(self) -> int:
        """Columns of the design before the covariates."""
        return 2 + len(self.parents) + len(self.interacts)


@dataclass(frozen=True)
class Step:
    """Draw node ``node`` with treatment set to ``treatment``.

    ``parents`` lists, for each of the node's parents, the index of the earlier
    step that realised it. ``fixed`` sets the variable to a value instead of
    drawing it (a controlled effect).
    """

    node: int
    treatment: int
    parents: tuple[int, ...] = ()
    fixed: float | None = None


def node_design(
    node: Node, t: np.ndarray, variables: list[np.ndarray], covariates: np.ndarray
) -> np.ndarray:
    """Design matrix ``[1, t, parents, t * interacting parents, covariates]`` of one node."""
    parents = [variables[p] for p in node.parents]
    products = [t * variables[p] for p in node.interacts]
    return np.column_stack([np.ones(t.shape[0]), t, *parents, *products, covariates])


def _inverse_link(family: Family, eta: np.ndarray) -> np.ndarray:
    if family == "linear":
        return eta
    if family == "logit":
        return logistic(eta)
    return special.ndtr(eta)


def _collapsible(nodes: list[Node], plan: tuple[Step, ...]) -> tuple[bool, ...]:
    """Which steps may be replaced by their conditional mean (see the module docstring)."""
    consumers: list[set[int]] = [set() for _ in plan]
    for i in range(len(plan) - 1, -1, -1):
        for parent in plan[i].parents:
            consumers[parent] |= {i} | consumers[i]
    return tuple(
        step.fixed is None
        and nodes[step.node].family == "linear"
        and all(nodes[plan[c].node].family == "linear" for c in consumers[i])
        for i, step in enumerate(plan[:-1])
    )


def _pad(v: np.ndarray, ndim: int) -> np.ndarray:
    """``v`` with trailing singleton axes up to ``ndim``."""
    return v.reshape(*v.shape, *([1] * (ndim - v.ndim)))


def _per_replicate(v: np.ndarray, ndim: int) -> np.ndarray:
    """A ``(B,)`` vector shaped to broadcast against ``(B, rows, axes...)`` arrays."""
    return v.reshape(-1, *([1] * (ndim - 1)))


class _Chunk:
    """Evaluates plans on one chunk of rows for every replicate; caches shared prefixes.

    Arrays have shape ``(B or 1, rows, *axes)`` with one trailing axis per summed
    or integrated step (size 1 where a variable does not vary along it).
    """

    def __init__(
        self,
        nodes: list[Node],
        coefs: list[np.ndarray],
        sigmas: list[np.ndarray],
        covariates: np.ndarray,
        gh_nodes: int,
    ):
        self.nodes, self.coefs, self.sigmas = nodes, coefs, sigmas
        self.rows = covariates.shape[0]
        self.base = [
            c[:, :1] + c[:, node.n_terms :] @ covariates.T
            for node, c in zip(nodes, coefs, strict=True)
        ]
        z, w = np.polynomial.hermite.hermgauss(gh_nodes)
        self.gh = (np.sqrt(2.0) * z, w / np.sqrt(np.pi))
        self.cache: dict[tuple[Any, ...], _Prefix] = {}

    def eta(self, step: Step, values: list[np.ndarray], ndim: int) -> np.ndarray:
        """Linear predictor of a step's node given the realised parent values."""
        node, coef = self.nodes[step.node], self.coefs[step.node]
        eta = _pad(self.base[step.node] + coef[:, 1:2] * step.treatment, ndim)
        for k, parent in enumerate(node.parents):
            slope = coef[:, 2 + k]
            if parent in node.interacts and step.treatment:
                slope = slope + coef[:, 2 + len(node.parents) + node.interacts.index(parent)]
            eta = eta + _per_replicate(slope, ndim) * _pad(values[step.parents[k]], ndim)
        return eta

    def prefix(self, plan: tuple[Step, ...], flags: tuple[bool, ...], i: int) -> _Prefix:
        """Values of steps ``0..i-1``, their branch weights and the number of axes."""
        key = (plan[:i], flags[:i])
        if key not in self.cache:
            if i == 0:
                self.cache[key] = ([], np.ones((1, 1)), 0)
            else:
                state = self.prefix(plan, flags, i - 1)
                self.cache[key] = self.draw(plan[i - 1], flags[i - 1], state)
        return self.cache[key]

    def draw(self, step: Step, collapse: bool, state: _Prefix) -> _Prefix:
        """Add one step's variable: a fixed value, a mean, two values or quadrature nodes."""
        values, weight, axes = state
        ndim = 2 + axes
        if step.fixed is not None:
            return [*values, np.full((1, self.rows, *[1] * axes), float(step.fixed))], weight, axes
        family = self.nodes[step.node].family
        eta = self.eta(step, values, ndim)
        if collapse:
            return [*values, eta], weight, axes
        along = (1,) * ndim + (-1,)
        if family != "linear":
            p = _inverse_link(family, eta)[..., None]
            points = np.array([0.0, 1.0]).reshape(along)
            prob = np.concatenate([1.0 - p, p], axis=-1)
        else:
            z, w = self.gh
            sd = _per_replicate(self.sigmas[step.node], ndim + 1)
            points = eta[..., None] + sd * z.reshape(along)
            prob = w.reshape(along)
        return [*values, points], _pad(weight, ndim + 1) * prob, axes + 1

    def mean(self, plan: tuple[Step, ...], flags: tuple[bool, ...]) -> np.ndarray:
        """``(B, rows)`` expected outcome of one plan."""
        values, weight, axes = self.prefix(plan, flags, len(plan) - 1)
        last = plan[-1]
        y = _inverse_link(self.nodes[last.node].family, self.eta(last, values, 2 + axes))
        if axes == 0:
            return y
        return np.sum(y * _pad(weight, y.ndim), axis=tuple(range(2, 2 + axes)))


def _branches(nodes: list[Node], plan: tuple[Step, ...], flags, gh_nodes: int) -> int:
    count = 1
    for step, collapse in zip(plan[:-1], flags, strict=True):
        if step.fixed is None and not collapse:
            count *= 2 if nodes[step.node].family != "linear" else gh_nodes
    return count


def uses_quadrature(nodes: list[Node], plans: dict[str, tuple[Step, ...]]) -> bool:
    """Whether any plan integrates a continuous node numerically."""
    return any(
        step.fixed is None and not collapse and nodes[step.node].family == "linear"
        for plan in plans.values()
        for step, collapse in zip(plan[:-1], _collapsible(nodes, plan), strict=True)
    )


def evaluate_plans(
    nodes: list[Node],
    coefs: list[np.ndarray],
    sigmas: list[np.ndarray],
    plans: dict[str, tuple[Step, ...]],
    covariates: np.ndarray,
    weights: ReplicateWeights,
    gh_nodes: int = 16,
) -> dict[str, np.ndarray]:
    """Replicate-weighted covariate averages of each plan's expected outcome.

    Parameters
    ----------
    nodes : list of Node
        The chain's models, outcome last.
    coefs : list of numpy.ndarray
        ``(B, p_j)`` coefficients of each node.
    sigmas : list of numpy.ndarray
        ``(B,)`` residual standard deviations (used for linear nodes only).
    plans : dict
        Name -> tuple of :class:`Step` (outcome last).
    covariates : numpy.ndarray
        ``(n, k)`` covariates.
    weights : ReplicateWeights
        ``B`` replicate weightings of the covariate average, or unit weights
        shared by all coefficient draws.
    gh_nodes : int
        Gauss-Hermite nodes per integrated continuous node.

    Returns
    -------
    dict
        Name -> ``(B,)`` potential-outcome mean.

    Examples
    --------
    >>> import numpy as np
    >>> nodes = [Node("linear"), Node("linear", parents=(0,))]
    >>> coefs = [np.array([[0.0, 2.0]]), np.array([[1.0, 0.5, 3.0]])]
    >>> plan = (Step(0, 1), Step(1, 0, parents=(0,)))
    >>> out = evaluate_plans(nodes, coefs, [np.ones(1)] * 2, {"q": plan},
    ...                      np.empty((4, 0)), ReplicateWeights(4))
    >>> float(out["q"][0])
    7.0
    """
    b = max(c.shape[0] for c in coefs)
    flags = {name: _collapsible(nodes, plan) for name, plan in plans.items()}
    size = max(_branches(nodes, plan, flags[name], gh_nodes) for name, plan in plans.items())
    width = max(b, weights.n_rep)  # replicates of the result

    def rows_of(array: np.ndarray, reps: slice) -> np.ndarray:
        return array[reps] if array.shape[0] > 1 else array

    def chunk(rows: slice, w: np.ndarray) -> dict[str, np.ndarray]:
        sums = {"": w.sum(axis=1), **{name: np.zeros(width) for name in plans}}
        cov = covariates[rows]
        for reps, part in tiles(width, w.shape[1], size):  # cache-sized, in a fixed order
            evaluator = _Chunk(
                nodes, [rows_of(c, reps) for c in coefs],
                [rows_of(np.atleast_1d(s), reps) for s in sigmas], cov[part], gh_nodes,
            )
            wt = rows_of(w, reps)[:, part]
            for name, plan in plans.items():
                mean = evaluator.mean(plan, flags[name])
                sums[name][reps] += np.sum(wt * mean, axis=1)
        return sums

    parts = weights.map_chunks(chunk)
    total = sum(part[""] for part in parts)
    return {name: sum(part[name] for part in parts) / total for name in plans}


def quadrature_error(
    nodes: list[Node],
    coefs: list[np.ndarray],
    sigmas: list[np.ndarray],
    plans: dict[str, tuple[Step, ...]],
    covariates: np.ndarray,
    weights: ReplicateWeights,
    gh_nodes: int,
) -> float:
    """Largest change of a plan's mean when the quadrature nodes are doubled (0 if none used)."""
    if not uses_quadrature(nodes, plans):
        return 0.0
    base = evaluate_plans(nodes, coefs, sigmas, plans, covariates, weights, gh_nodes)
    fine = evaluate_plans(nodes, coefs, sigmas, plans, covariates, weights, 2 * gh_nodes)
    return float(max(np.max(np.abs(base[k] - fine[k])) for k in plans))
