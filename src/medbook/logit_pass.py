"""One Newton pass of a logistic model over a chunk of rows, in reused tile buffers.

:func:`medbook.glm.chunk_sums` runs this for the logit family whenever the
replicates sit at different coefficients (every pass after the shared warm start).
Per tile of replicates x rows it keeps three buffers and no temporaries:

* ``E = exp(-z)`` with ``z = (2y - 1) eta``, from one product with the sign-folded
  design ``-(2y - 1) x``;
* ``P = 1 / (1 + E)``, the probability of the observed response, then ``1 - P``;
* the weights, then the products ``w (1 - P)`` (score), ``w P (1 - P)``
  (information) and ``log P`` (log-likelihood).

Multiplying by ``2y - 1`` only flips signs, so the sums are those of the family route
(:meth:`medbook.families.Logit.terms`) to the last bit.
"""

from __future__ import annotations

import numpy as np

from .weights import row_dot, tile_buffers

__all__ = ["logit_pass"]

_FLOOR = 1e-300  # log(P + tiny) stays finite where P underflows, as Logit.terms


def logit_pass(
    xc: np.ndarray,
    yc: np.ndarray,
    w: np.ndarray,
    beta: np.ndarray,
    rows_of: np.ndarray | None,
    outer: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Weighted ``(loglik (k,), score (k, p), info (k, p(p+1)/2))`` of one chunk.

    Parameters
    ----------
    xc, yc : numpy.ndarray
        ``(rows, p)`` standardised design and ``(rows,)`` 0/1 response.
    w : numpy.ndarray
        ``(B, rows)`` weights in any numeric dtype.
    beta : numpy.ndarray
        ``(k, p)`` coefficients of the replicates iterating.
    rows_of : numpy.ndarray or None
        Row of ``w`` of each of the ``k`` replicates (None: ``w`` has exactly ``k``).
    outer : numpy.ndarray
        ``(rows, p(p+1)/2)`` :func:`medbook.fitcore.outer_upper` of ``xc``.
    """
    xq = xc * (2.0 * yc - 1.0)[:, None]
    minus_xq_rows = np.ascontiguousarray(-xq.T)  # beta @ minus_xq_rows is -z, exactly
    k = beta.shape[0]
    sums = (np.zeros(k), np.zeros((k, xc.shape[1])), np.zeros((k, outer.shape[1])))
    for reps, part, (e, p, wt) in tile_buffers(3, k, xc.shape[0]):
        np.matmul(beta[reps], minus_xq_rows[:, part], out=e)
        with np.errstate(over="ignore"):  # exp(-z) = inf gives P = 0 exactly
            np.exp(e, out=e)
        np.add(e, 1.0, out=p)
        np.divide(1.0, p, out=p)
        np.subtract(1.0, p, out=e)
        np.copyto(wt, w[reps if rows_of is None else rows_of[reps], part], casting="unsafe")
        np.multiply(e, wt, out=e)
        sums[1][reps] += e @ xq[part]
        np.multiply(e, p, out=e)
        sums[2][reps] += e @ outer[part]
        p += _FLOOR
        np.log(p, out=p)
        sums[0][reps] += row_dot(wt, p)
    return sums
