"""Batched Newton-Raphson for binary-response GLMs that cannot blow up.

One call fits ``B`` replicate weightings of the same design at once; the rows are
visited in chunks (:meth:`ReplicateWeights.map_chunks`) and each pass returns, for
every replicate still iterating, the weighted log-likelihood, score and information.

Safeguards:

* step-halving: a step that does not increase the log-likelihood is halved
  (the next pass evaluates the shorter step, so an accepted step costs one pass);
* the family's per-row terms are finite for any finite linear predictor and
  standardised coefficients are kept below ``1e8``, so NaN or inf never reaches
  a linear-algebra call;
* a resample that leaves a covariate level out (a rank-deficient design) is fitted
  on its identified directions, like R's ``glm`` (:func:`medbook.fitcore.null_space`).

Each replicate ends with a :class:`~medbook.fitcore.Status`: converged; a limit fit
(the log-likelihood reached its supremum while a nuisance direction diverges -
quasi-separation by a covariate - so the effects are the limit's); or excluded
(separation by a focal column, a focal column constant in the resample, no
convergence).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from scipy import linalg

from .errors import FitError
from .families import GLMFamily, get_family
from .fitcore import (
    FOCAL_SHARE,
    ModelFit,
    Status,
    back_transform,
    certified_full_rank,
    check_rank,
    const_index,
    focal_mask,
    focal_share,
    null_space,
    outer_upper,
    solve,
    standardise,
    symmetric,
    upper,
)
from .logit_pass import logit_pass
from .weights import ReplicateWeights, row_dot, tiles

__all__ = [
    "MAX_ITER",
    "NewtonState",
    "chunk_sums",
    "classify",
    "fit_glm",
    "summarise",
    "third_derivatives",
]

MAX_ITER = 100  # passes over the rows, halvings included
# Newton's method converges quadratically: after a step of size s the remaining
# error is O(s^2), so a step below 1e-6 leaves an error near 1e-12.
_TOL = 1e-6
# Relative log-likelihood gain below which a fit whose coefficients still move has
# reached its supremum (R's glm stops on a relative deviance change of 1e-8).
_PLATEAU = 1e-10
_SLACK = 1e-12  # a relative decrease this small is rounding, not a worse step
_MAX_HALVINGS = 40
_BETA_LIMIT = 1e8  # standardised coefficients beyond this are cut back
# Curvature-to-spread ratio below which a direction has lost all information
# (every row it moves has a fitted probability numerically at 0 or 1).
_LOST = 1e-6
_OUTER_CACHE_BYTES = 256 * 2**20
_THIRD_ROWS = 65536
_TRUSTED_SHARE = 0.1  # largest second-order correction, as a share of the Newton step


class _OuterCache:
    """Per-chunk outer products of the design rows, kept across iterations if small."""

    def __init__(self, keep: bool):
        self.keep = keep
        self.store: dict[int, np.ndarray] = {}

    def __call__(self, rows: slice, xc: np.ndarray) -> np.ndarray:
        if rows.start in self.store:
            return self.store[rows.start]
        outer = outer_upper(xc)
        if self.keep:
            self.store[rows.start] = outer
        return outer


class _RowPasses:
    """Weighted sums over the rows for the replicates still iterating."""

    def __init__(self, family: GLMFamily, xs: np.ndarray, y: np.ndarray, weights):
        self.family, self.xs, self.y, self.weights = family, xs, y, weights
        self.p = xs.shape[1]
        self.outer = _OuterCache(xs.shape[0] * self.p * (self.p + 1) // 2 * 8 <= _OUTER_CACHE_BYTES)

    def third_derivatives(self, beta: np.ndarray) -> np.ndarray:
        """:func:`third_derivatives` of the unweighted log-likelihood at ``beta``."""
        return third_derivatives(self.family, self.xs, self.y, beta)

    def gram(self, reps: np.ndarray) -> np.ndarray:
        """``(len(reps), p(p+1)/2)`` weighted Gram matrices of the replicates ``reps``."""

        def chunk(rows: slice, w: np.ndarray) -> np.ndarray:
            return np.asarray(w[reps], dtype=float) @ self.outer(rows, self.xs[rows])

        return sum(self.weights.map_chunks(chunk, per_row_values=self.p, compact=True))

    def __call__(self, beta: np.ndarray, todo: np.ndarray, first: bool):
        """``(loglik (k,), score (k, p), info (k, p(p+1)/2), gram)``: see :func:`chunk_sums`."""
        xs, y, family = self.xs, self.y, self.family
        many = self.weights.n_rep > 1

        def chunk(rows: slice, w: np.ndarray):
            xc = xs[rows]
            outer = self.outer(rows, xc) if many else None
            return chunk_sums(family, xc, y[rows], w, beta, todo, first, outer)

        parts = self.weights.map_chunks(chunk, per_row_values=self.p, compact=True)
        return tuple(sum(part[i] for part in parts) for i in range(4))


def chunk_sums(
    family: GLMFamily,
    xc: np.ndarray,
    yc: np.ndarray,
    w: np.ndarray,
    beta: np.ndarray,
    todo: np.ndarray,
    first: bool,
    outer: np.ndarray | None = None,
) -> tuple:
    """One chunk of rows' weighted ``(loglik, score, info, gram)`` for the replicates ``todo``.

    ``w`` is the chunk's ``(B, rows)`` weights, in any numeric dtype (resampling counts
    are converted a tile at a time); ``beta`` is ``(len(todo), p)``. Shapes of the sums:
    ``(k,)``, ``(k, p)``, ``(k, p(p+1)/2)`` and, on the ``first`` pass (every replicate
    still iterating), the Gram matrix ``(1, p(p+1)/2)`` of a single weighting or, with
    several, only the Gram matrices' diagonals ``(B, p)`` (else ``0.0``; see
    :meth:`NewtonState.update`). With several
    replicates, the work runs over cache-sized :func:`~medbook.weights.tiles` in a fixed
    order, so the sums do not depend on threads; ``outer`` is the chunk's
    :func:`~medbook.fitcore.outer_upper`, if already known.
    """
    if w.shape[0] == 1:  # one weighting: X' D X directly is cheaper than outer products
        w = np.asarray(w, dtype=float)
        ll, s, h = family.terms(beta @ xc.T, yc)
        return (
            np.einsum("bn,bn->b", w, ll),
            (w * s) @ xc,
            upper((xc * (w * h).T).T @ xc)[None],
            upper((xc * w.T).T @ xc)[None] if first else 0.0,
        )
    outer = outer_upper(xc) if outer is None else outer
    k, subset = todo.size, todo.size != w.shape[0]
    if not subset and np.all(beta == beta[0]):
        return _shared_point_sums(family, xc, yc, w, beta[0], first, outer)
    if family.name == "logit" and not first:
        return (*logit_pass(xc, yc, w, beta, todo if subset else None, outer), 0.0)
    sums = [np.zeros(k), np.zeros((k, xc.shape[1])), np.zeros((k, outer.shape[1]))]
    gram = np.zeros((w.shape[0], xc.shape[1])) if first else 0.0
    for reps, part in tiles(k, xc.shape[0]):
        wt = np.asarray(w[todo[reps] if subset else reps, part], dtype=float)
        x_t, outer_t = xc[part], outer[part]
        ll, s, h = family.terms(beta[reps] @ x_t.T, yc[part])
        sums[0][reps] += row_dot(wt, ll)
        s *= wt
        h *= wt
        sums[1][reps] += s @ x_t
        sums[2][reps] += h @ outer_t
        if first:
            gram[reps] += wt @ (x_t * x_t)
    return (*sums, gram)


def third_derivatives(
    family: GLMFamily, x: np.ndarray, y: np.ndarray, beta: np.ndarray, eps: float = 1e-4
) -> np.ndarray:
    """``(p, p, p)`` tensor ``sum_i h'(eta_i) x_i x_i x_i`` at ``beta`` (unit weights).

    ``h`` is the family's information factor; its slope in the linear predictor is
    taken by central differences (relative error near ``eps**2``), which is ample for
    what the tensor is used for: a better first step (:meth:`NewtonState.accept`).
    """
    p = x.shape[1]
    total = np.zeros((p, p * (p + 1) // 2))
    for start in range(0, x.shape[0], _THIRD_ROWS):
        xc = x[start : start + _THIRD_ROWS]
        eta = (xc @ beta)[None]
        slope = family.terms(eta + eps, y[start : start + _THIRD_ROWS])[2]
        slope -= family.terms(eta - eps, y[start : start + _THIRD_ROWS])[2]
        slope /= 2.0 * eps
        total += (xc * slope[0][:, None]).T @ outer_upper(xc)
    return symmetric(total, p)


def _shared_point_sums(family, xc, yc, w, beta, first, outer) -> tuple:
    """:func:`chunk_sums` when every replicate sits at the same ``beta`` (a warm start).

    The per-row terms are then the same for all replicates: they are computed once,
    and each sum is one product of the weights with a column of per-row features.
    """
    ll, s, h = (v[0] for v in family.terms((xc @ beta)[None], yc))
    p, q = xc.shape[1], outer.shape[1]
    diagonal = [xc * xc][: int(first)]  # the Gram matrices' diagonals (see NewtonState.update)
    features = np.hstack([ll[:, None], s[:, None] * xc, h[:, None] * outer, *diagonal])
    total = np.zeros((w.shape[0], features.shape[1]))
    for reps, part in tiles(w.shape[0], xc.shape[0]):
        total[reps] += np.asarray(w[reps, part], dtype=float) @ features[part]
    gram = total[:, 1 + p + q :] if first else 0.0
    return total[:, 0], total[:, 1 : 1 + p], total[:, 1 + p : 1 + p + q], gram


@dataclass
class NewtonState:
    """Per-replicate state of the batched iteration.

    A driver (the in-memory :func:`fit_glm`, or a distributed backend) repeats: take
    :meth:`todo`, compute the weighted sums of one pass at ``beta[todo]`` (log-likelihood,
    score, upper-triangle information; the Gram matrix on the first pass), and hand them to
    :meth:`update`; then :meth:`finish` once :attr:`done` or the pass cap is reached.
    """

    beta: np.ndarray  # (B, p) current point; final once a replicate stops
    base: np.ndarray  # (B, p) last accepted point
    step: np.ndarray  # (B, p) step taken from ``base``
    best: np.ndarray  # (B,) log-likelihood at ``base``
    halvings: np.ndarray
    info: np.ndarray  # (B, p, p) information at ``base``
    active: np.ndarray
    converged: np.ndarray
    running: np.ndarray  # stopped on a plateau while the coefficients still move
    failed: np.ndarray  # no finite step could be found
    capped: np.ndarray  # still iterating when the pass cap was reached
    gram: np.ndarray | None = None  # (B, p, p); NaN where not needed yet (see gram_for)
    ridge: np.ndarray | None = None
    focal_null: np.ndarray | None = None
    third: np.ndarray | None = None  # (p, p, p) at a shared start: see :meth:`accept`
    # The driver's exact Gram matrices (k, p(p+1)/2) of given replicates, and the family's
    # bound on the information factor (see :meth:`update`).
    gram_of: Callable[[np.ndarray], np.ndarray] | None = None
    max_curvature: float = 1.0

    @classmethod
    def start(cls, beta: np.ndarray) -> NewtonState:
        b, p = beta.shape
        flags = [np.zeros(b, dtype=bool) for _ in range(4)]
        return cls(
            beta=beta.copy(), base=beta.copy(), step=np.zeros((b, p)), best=np.full(b, -np.inf),
            halvings=np.zeros(b, dtype=int), info=np.zeros((b, p, p)),
            active=np.ones(b, dtype=bool), converged=flags[0], running=flags[1], failed=flags[2],
            capped=flags[3],
        )

    @property
    def done(self) -> bool:
        """Every replicate has stopped."""
        return not self.active.any()

    def todo(self) -> np.ndarray:
        """Replicates still iterating (the rows of the next pass's sums)."""
        return np.flatnonzero(self.active)

    def update(self, ll, score, info, gram, first: bool, names, focal: np.ndarray) -> None:
        """Accept or halve each replicate's last step from one pass's sums, then step on."""
        todo = self.todo()
        p = self.beta.shape[1]
        if first and self.beta.shape[0] == 1:
            self.gram = symmetric(np.atleast_2d(gram), p)
            check_rank(self.gram[0], names)
            self.ridge, _, self.focal_null = null_space(self.gram, focal)
        elif first:
            self._identify(np.atleast_2d(gram), symmetric(np.atleast_2d(info), p), focal)
        tolerance = _SLACK * (np.abs(self.best[todo]) + 1.0)
        worse = ~(np.asarray(ll) >= self.best[todo] - tolerance)  # NaN counts as worse
        self.reject(todo[worse])
        good = ~worse
        if first:  # effects are undefined there: no need to iterate further
            good &= ~self.focal_null[todo]
            self.active[todo[self.focal_null[todo]]] = False
        if good.any():
            info = symmetric(np.atleast_2d(info)[good], p)
            self.accept(todo[good], np.asarray(ll)[good], np.atleast_2d(score)[good], info)

    def _identify(self, diag: np.ndarray, info: np.ndarray, focal: np.ndarray) -> None:
        """Unidentified directions of each replicate (several), from the first pass.

        The pass returns only the Gram matrices' diagonals: :func:`certified_full_rank`
        shows most replicates identified from their information matrix; the exact Gram
        matrices of the others (a resample missing a level) come from :attr:`gram_of`.
        """
        b, p = self.beta.shape
        self.gram = np.full((b, p, p), np.nan)
        self.ridge, self.focal_null = np.zeros((b, p, p)), np.zeros(b, dtype=bool)
        unsure = np.flatnonzero(~certified_full_rank(info, diag, self.max_curvature))
        if unsure.size:
            ridge, _, focal_null = null_space(self.gram_for(unsure), focal)
            self.ridge[unsure], self.focal_null[unsure] = ridge, focal_null

    def gram_for(self, rows: np.ndarray) -> np.ndarray:
        """``(k, p, p)`` Gram matrices of ``rows``, asked of :attr:`gram_of` when not known."""
        assert self.gram is not None
        missing = rows[np.isnan(self.gram[rows, 0, 0])]
        if missing.size:
            assert self.gram_of is not None, "a driver with several replicates sets gram_of"
            self.gram[missing] = symmetric(np.atleast_2d(self.gram_of(missing)), self.beta.shape[1])
        return self.gram[rows]

    def finish(self) -> None:
        """Mark replicates still iterating at the pass cap (classified like a plateau)."""
        left = self.todo()
        self.beta[left] = self.base[left]
        self.capped[left] = True

    def reject(self, rows: np.ndarray) -> None:
        """Halve the last step of ``rows`` (their new point was not better)."""
        self.step[rows] *= 0.5
        self.beta[rows] = self.base[rows] + self.step[rows]
        self.halvings[rows] += 1
        stuck = rows[self.halvings[rows] > _MAX_HALVINGS]
        self.beta[stuck] = self.base[stuck]
        self.failed[stuck] = True
        self.active[stuck] = False

    def accept(self, rows, ll, score, info) -> None:
        """Take a Newton step from the newly accepted points ``rows``."""
        gain = np.where(self.halvings[rows] == 0, ll - self.best[rows], np.inf)  # full steps only
        self.best[rows], self.base[rows], self.halvings[rows] = ll, self.beta[rows], 0
        self.info[rows] = info
        system = info + self.ridge[rows]
        step, solved = solve(system, score)
        if self.third is not None:
            # A replicate with unidentified directions (a missing level) keeps its Newton
            # step: the shared start's tensor holds rows it lacks, and the correction would
            # move the coefficients that the ridge holds at their starting values.
            identified = ~self.ridge[rows].any(axis=(1, 2))
            step = np.where(identified[:, None], _second_order(step, system, self.third), step)
            self.third = None
        self.failed[rows[~solved]] = True
        self.active[rows[~solved]] = False
        rows, step, gain = rows[solved], step[solved], gain[solved]
        target = self.base[rows] + step
        reach = np.max(np.abs(target), axis=1)
        step *= np.minimum(1.0, _BETA_LIMIT / np.maximum(reach, 1e-300))[:, None]
        target = self.base[rows] + step
        done = np.max(np.abs(step), axis=1) / (1.0 + np.max(np.abs(target), axis=1)) < _TOL
        flat = ~done & (gain < _PLATEAU * (np.abs(self.best[rows]) + 1.0))
        self.step[rows] = step
        self.beta[rows] = np.where(flat[:, None], self.base[rows], target)
        self.converged[rows[done]] = True
        self.running[rows[flat]] = True
        self.active[rows[done | flat]] = False


def _second_order(step: np.ndarray, system: np.ndarray, third: np.ndarray) -> np.ndarray:
    """Newton steps plus the second-order term of the score's expansion (Chebyshev's method).

    Setting ``g + H s + D[s, s] / 2`` to zero, with the third derivatives ``D = -third``
    of the shared start standing in for each replicate's own, gives
    ``s = s_newton - system^-1 third[s, s] / 2``. From a warm start the remaining error
    drops from the square of the step to about its cube, so the next pass usually
    finds a step below the tolerance and stops; it is only a better first point - the
    convergence test and step-halving are unchanged. A replicate whose correction is
    not small beside its step (the expansion does not hold that far out, e.g. a resample
    heading for separation) keeps its plain Newton step.
    """
    bend = np.einsum("ijk,bj,bk->bi", third, step, step)
    fix, ok = solve(system, bend)
    fix *= -0.5
    ok &= np.max(np.abs(fix), axis=1) <= _TRUSTED_SHARE * np.max(np.abs(step), axis=1)
    return step + np.where(ok[:, None], fix, 0.0)


def _iterate(
    passes: _RowPasses, beta: np.ndarray, names, focal, max_iter: int, shared_start: bool
) -> NewtonState:
    """Newton-Raphson with step-halving for every replicate until each one stops.

    With ``shared_start`` (every replicate starts at the same warm point), the first
    step is :func:`_second_order`.
    """
    state = NewtonState.start(beta)
    state.gram_of, state.max_curvature = passes.gram, passes.family.max_curvature
    if shared_start:
        state.third = passes.third_derivatives(beta[0])
    for iteration in range(max_iter):
        todo = state.todo()
        sums = passes(state.beta[todo], todo, iteration == 0)
        state.update(*sums, first=iteration == 0, names=names, focal=focal)
        if state.done:
            break
    state.finish()
    return state


def _lost_directions(info: np.ndarray, gram: np.ndarray) -> np.ndarray:
    """``(p, k)`` directions (in the identified space) along which the information vanished.

    ``info = X'diag(w h)X`` and ``gram = X'diag(w)X``; their ratio along a direction is a
    weighted average of the per-row curvature ``h``, which only vanishes when every
    row that the direction moves has a fitted probability numerically at 0 or 1.
    """
    vals, vecs = np.linalg.eigh(gram)
    keep = vals > 1e-10 * vals[-1]
    whiten = vecs[:, keep] / np.sqrt(vals[keep])
    ratio, u = np.linalg.eigh(whiten.T @ info @ whiten)
    return whiten @ u[:, ratio < _LOST]


def classify(state: NewtonState, focal: np.ndarray) -> tuple[np.ndarray, dict[int, np.ndarray]]:
    """Status per replicate and the diverging directions of the limit/separated ones.

    Call after the iterations; a replicate that stopped on a plateau with nothing
    diverging takes its last (tiny) step here, so compute a point fit's observed
    information at ``state.beta`` afterwards.
    """
    status = np.full(state.beta.shape[0], Status.CONVERGED, dtype=np.int8)
    lost: dict[int, np.ndarray] = {}
    stopped = np.flatnonzero((state.running | state.capped) & ~state.failed & ~state.focal_null)
    grams = state.gram_for(stopped) if stopped.size else None
    for i, b in enumerate(stopped):
        directions = _lost_directions(state.info[b], grams[i])
        if directions.shape[1]:
            lost[int(b)] = directions
            separated = np.any(focal_share(directions, focal) > FOCAL_SHARE)
            status[b] = Status.SEPARATED if separated else Status.LIMIT
        elif state.capped[b]:
            status[b] = Status.NOT_CONVERGED
        else:  # flat after a full step but nothing diverges: the step left is tiny
            state.beta[b] = state.base[b] + state.step[b]
    status[state.failed] = Status.NOT_CONVERGED
    status[state.focal_null] = Status.SINGULAR
    return status, lost


def fit_glm(
    x: np.ndarray,
    y: np.ndarray,
    weights: ReplicateWeights,
    names: tuple[str, ...],
    family: str = "logit",
    max_iter: int = MAX_ITER,
    start: np.ndarray | None = None,
    focal: Sequence[int] | None = None,
) -> ModelFit:
    """Weighted binary-response regression by batched, safeguarded Newton iterations.

    Parameters
    ----------
    x : numpy.ndarray
        ``(n, p)`` design matrix including the constant column.
    y : numpy.ndarray
        ``(n,)`` 0/1 response.
    weights : ReplicateWeights
        Frequency weights; ``B = 1`` with unit weights gives the ordinary fit.
    names : tuple of str
        Column names, used in error messages and tables.
    family : str
        A key of :data:`medbook.families.FAMILIES` (``"logit"``, ``"probit"``).
    max_iter : int
        Cap on passes over the rows; replicates still iterating are flagged.
    start : numpy.ndarray, optional
        ``(p,)`` starting coefficients (e.g. the point fit, to warm-start replicates).
    focal : sequence of int, optional
        Columns whose separation leaves the effects undefined (treatment, mediator,
        their product); by default every column but the constant.

    Returns
    -------
    ModelFit
        ``status`` per replicate; at ``B = 1`` ``cov`` is the inverse observed
        information (on the identified directions of a limit fit).

    Raises
    ------
    FitError
        At ``B = 1``: a collinear column, separation by a focal column (named), or
        no convergence.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> x = np.column_stack([np.ones(200), rng.normal(size=200)])
    >>> y = (rng.uniform(size=200) < 1 / (1 + np.exp(-x[:, 1]))).astype(float)
    >>> fit = fit_glm(x, y, ReplicateWeights(200), ("const", "x"))
    >>> fit.coef.shape, bool(fit.ok[0])
    ((1, 2), True)
    """
    fam = get_family(family)
    const = const_index(x)
    xs, shift, scale = standardise(x, const)
    a = back_transform(shift, scale, const)
    b, p = weights.n_rep, x.shape[1]
    beta = np.zeros((b, p))
    if start is not None:
        beta[:] = np.linalg.solve(a, start)
    mask = focal_mask(p, None if focal is None else tuple(focal), const)
    passes = _RowPasses(fam, xs, y, weights)
    state = _iterate(passes, beta, names, mask, max_iter, shared_start=start is not None and b > 1)
    status, lost = classify(state, mask)
    if b > 1:
        return summarise(state, status, lost, fam.name, a, mask, names)
    info = _observed_info(fam, xs, y, state.beta, weights)
    moved = np.abs(xs @ lost[0]).max(axis=1) if 0 in lost else None
    return summarise(state, status, lost, fam.name, a, mask, names, info, moved, max_iter, const)


def summarise(
    state: NewtonState,
    status: np.ndarray,
    lost: dict[int, np.ndarray],
    family: str,
    a: np.ndarray,
    focal: np.ndarray,
    names: tuple[str, ...],
    info: np.ndarray | None = None,
    moved: np.ndarray | None = None,
    max_iter: int = MAX_ITER,
    const: int | None = 0,
) -> ModelFit:
    """The :class:`ModelFit` of a finished iteration (coefficients back on the raw scale).

    For the point fit (``B = 1``) pass the observed information ``info`` at ``state.beta``
    (standardised design) and, optionally, ``moved``: per row, how far the diverging
    directions move its linear predictor (to name the rows of a limit fit).

    Raises
    ------
    FitError
        At ``B = 1``: separation by a focal column (named), or no convergence.
    """
    coef = state.beta @ a.T
    b = coef.shape[0]
    if b > 1:
        return ModelFit(family, names, coef, np.ones(b), status)  # type: ignore[arg-type]
    assert info is not None
    if status[0] == Status.NOT_CONVERGED:
        raise FitError(f"no convergence after {max_iter} iterations")
    directions = lost.get(0, np.zeros((coef.shape[1], 0)))
    if status[0] == Status.SEPARATED:
        share = np.abs(directions[focal]).max(axis=1)
        column = names[np.flatnonzero(focal)[int(np.argmax(share))]]
        raise FitError(
            f"perfect or quasi-perfect separation by {column!r}: it predicts the response "
            "exactly in some rows, so its coefficient diverges and the effects are not defined"
        )
    keep = np.eye(coef.shape[1])
    limit_terms: tuple[str, ...] = ()
    if directions.shape[1]:
        basis, _ = np.linalg.qr(directions)
        keep = linalg.null_space(basis.T)  # identified directions
        weight = np.abs(basis).max(axis=1)
        if const is not None:
            weight[const] = 0.0  # the intercept moves along with any diverging level
        limit_terms = tuple(names[j] for j in np.flatnonzero(weight > 1e-3 * weight.max()))
    try:
        cov = keep @ np.linalg.inv(keep.T @ info @ keep) @ keep.T
    except np.linalg.LinAlgError:
        raise FitError("the information matrix is singular at the fitted coefficients") from None
    rows = None if moved is None else np.flatnonzero(moved > 1e-6 * moved.max())
    return ModelFit(
        family=family,  # type: ignore[arg-type]
        names=names, coef=coef, sigma=np.ones(1), status=status,
        cov=a @ cov @ a.T, limit_terms=limit_terms, limit_rows=rows,
    )


def _observed_info(family: GLMFamily, xs, y, beta, weights) -> np.ndarray:
    """Observed information of the point fit, ``X' diag(w h) X``."""
    info = np.zeros((xs.shape[1], xs.shape[1]))
    for rows, w in weights.chunks():
        xc = xs[rows]
        _, _, factor = family.terms((xc @ beta[0])[None], y[rows])
        info += (xc * (w[0] * factor[0])[:, None]).T @ xc
    return info
