"""The standard bivariate normal distribution function (Owen's T representation).

Used by the latent-variable sensitivity engines (:mod:`medbook.sensitivity.bivariate`);
kept apart because it is plain numerics with its own test against scipy.
"""

from __future__ import annotations

import numpy as np
from scipy import special

__all__ = ["bvn_cdf"]


def bvn_cdf(h: np.ndarray, k: np.ndarray, r: np.ndarray | float) -> np.ndarray:
    """``P(X <= h, Y <= k)`` for standard bivariate normal ``(X, Y)`` with correlation ``r``.

    Owen (1956): ``Phi2 = (Phi(h) + Phi(k))/2 - T(h, a_h) - T(k, a_k) - beta`` with
    ``a_h = (k - r h) / (h sqrt(1 - r^2))``; ``|r| < 1``.
    """
    h, k, r = np.broadcast_arrays(np.asarray(h, float), np.asarray(k, float), np.asarray(r, float))
    s = np.sqrt(1.0 - r * r)
    hh = np.where(h == 0.0, 1e-300, h)
    kk = np.where(k == 0.0, 1e-300, k)
    with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
        ah = (kk - r * hh) / (hh * s)
        ak = (hh - r * kk) / (kk * s)
    beta = np.where(hh * kk < 0.0, 0.5, 0.0)
    out = (
        0.5 * special.ndtr(hh) + 0.5 * special.ndtr(kk)
        - special.owens_t(hh, ah) - special.owens_t(kk, ak) - beta
    )
    return np.clip(out, 0.0, 1.0)
