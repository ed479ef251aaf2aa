"""Potential-outcome sums for a logit mediator and a logit outcome, the common binary case.

The g-formula needs, for every replicate and row, ``P(M = 1 | t', c)`` for both arms
and ``E[Y | t, m, c]`` for the four ``(t, m)``: six logistic curves that differ only by
a per-replicate shift of the linear predictor. So each model's ``exp(-eta)`` is taken
once per row, each curve is ``1 / (1 + exp(-eta) exp(-shift))``, and every array of a
tile lives in one of seven buffers reused across tiles (no temporaries: fresh
arrays cost page faults and cache misses). The result equals the general route of
:func:`medbook.effects.potential_outcomes` to rounding.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from .weights import row_dot, tile_buffers

__all__ = ["LogitPair"]

# |linear predictor| + |shift| below this keeps exp(-eta) exp(-shift) finite.
_EXP_SAFE = 700.0
_BUFFERS = 7
_KEYS = tuple(
    key for t in (0, 1) for key in ((t, 0), (t, 1), ("cde", t, 0.0), ("cde", t, 1.0))
)


@dataclass(frozen=True)
class LogitPair:
    """Both models' coefficients, arranged for the tile kernel.

    Attributes
    ----------
    med, out : numpy.ndarray
        ``(B, 1 + k)`` intercept and covariate coefficients of the mediator and
        outcome models.
    factors : numpy.ndarray
        ``(B, 4)`` ``exp(-shift)`` of ``P(M = 1 | t' = 1)``, ``E[Y | 0, 1]``,
        ``E[Y | 1, 0]`` and ``E[Y | 1, 1]`` (the ``t' = 0`` and ``(0, 0)`` curves
        have no shift).
    """

    med: np.ndarray
    out: np.ndarray
    factors: np.ndarray

    @classmethod
    def build(
        cls, alpha: np.ndarray, beta: np.ndarray, interaction: bool, covariates: np.ndarray
    ) -> LogitPair | None:
        """The arranged coefficients, or None if some ``exp`` could overflow.

        ``alpha`` is ``(B, 2 + k)`` (``[1, t, covariates]``), ``beta`` ``(B, 3 + k)``
        or, with the interaction, ``(B, 4 + k)`` (``[1, t, m, (t m), covariates]``).
        """
        k = covariates.shape[1]
        first = 4 if interaction else 3
        med = np.column_stack([alpha[:, 0], alpha[:, 2 : 2 + k]])
        out = np.column_stack([beta[:, 0], beta[:, first : first + k]])
        slope1 = beta[:, 2] + (beta[:, 3] if interaction else 0.0)
        shifts = np.column_stack([alpha[:, 1], beta[:, 2], beta[:, 1], beta[:, 1] + slope1])
        reach = np.concatenate([[1.0], np.abs(covariates).max(axis=0, initial=0.0)])
        bound = np.maximum(np.abs(med) @ reach, np.abs(out) @ reach)  # of |eta|, per replicate
        if not np.isfinite(bound).all() or bound.max() + np.abs(shifts).max() > _EXP_SAFE:
            return None
        return cls(med, out, np.exp(-shifts))

    def sums(self, covariates: np.ndarray, w: np.ndarray) -> dict[Any, np.ndarray]:
        """Weighted row sums of one chunk: keys ``(t, t')`` for ``E[Y(t, M(t'))]`` and
        ``("cde", t, m)`` for ``E[Y(t, m)]``, ``m`` in 0 and 1; ``w`` is ``(B, rows)``, or
        ``(1, rows)`` shared by all ``B`` coefficient vectors."""
        b = self.med.shape[0]
        total = np.zeros((len(_KEYS), b))
        # rows of -[1, covariates]: contiguous for the products, and exp(-eta) needs no negation
        minus_cov1 = -np.vstack([np.ones(covariates.shape[0]), covariates.T])
        for reps, part, buffers in tile_buffers(_BUFFERS, b, w.shape[1]):
            w_in = w[reps if w.shape[0] > 1 else slice(None), part]
            self._tile(reps, minus_cov1[:, part], w_in, buffers, total[:, reps])
        return dict(zip(_KEYS, total, strict=True))

    def _tile(self, reps: slice, minus_cov1, w_in, buffers, acc: np.ndarray) -> None:
        """Add one tile's sums to ``acc`` (``(8, replicates)``, rows in :data:`_KEYS` order)."""
        w, pm0, pm1, y00, y01, y10, y11 = buffers
        np.copyto(w, w_in, casting="unsafe")
        factors = self.factors[reps]
        _exp_minus(self.med[reps], minus_cov1, pm0)
        _curve(pm0, factors[:, 0:1], pm1)
        _curve(pm0, None, pm0)
        _exp_minus(self.out[reps], minus_cov1, y00)
        for col, target in enumerate((y01, y10, y11), start=1):
            _curve(y00, factors[:, col : col + 1], target)
        _curve(y00, None, y00)
        for t, (y0, gap) in enumerate(((y00, y01), (y10, y11))):
            base = row_dot(w, y0)
            gap -= y0  # the mediator's effect on the outcome mean in arm t
            gap *= w
            rows = acc[4 * t : 4 * t + 4]
            rows[0] += base + row_dot(gap, pm0)  # (t, 0)
            rows[1] += base + row_dot(gap, pm1)  # (t, 1)
            rows[2] += base  # ("cde", t, 0.0)
            rows[3] += base + gap.sum(axis=1)  # ("cde", t, 1.0)


def _exp_minus(coef: np.ndarray, minus_cov1: np.ndarray, out: np.ndarray) -> None:
    """``out = exp(-eta)`` from the rows ``-[1, covariates]`` (a sign flip is exact)."""
    np.matmul(coef, minus_cov1, out=out)
    np.exp(out, out=out)


def _curve(exp_eta: np.ndarray, factor: np.ndarray | None, out: np.ndarray) -> None:
    """``out = 1 / (1 + exp_eta * factor)`` (``factor`` None: no shift); ``out`` may be
    ``exp_eta`` itself."""
    if factor is None:
        np.add(exp_eta, 1.0, out=out)
    else:
        np.multiply(exp_eta, factor, out=out)
        out += 1.0
    np.divide(1.0, out, out=out)  # the same numbers as np.reciprocal, in half the time
