"""The standard bivariate normal distribution function, vectorised (Genz 2004).

Used by the latent-variable sensitivity engines (:mod:`medbook.sensitivity.bivariate`);
kept apart because it is plain numerics with its own test against scipy.

Drezner & Wesolowsky (1990) as refined by Genz (2004, "Numerical computation of
rectangular bivariate and trivariate normal and t probabilities", Statistics and
Computing 14): Gauss-Legendre quadrature of Plackett's integral in
``theta = arcsin(r)`` with 6, 12 or 20 nodes for ``|r| < 0.925``, and an
asymptotic expansion plus 20-node quadrature for ``|r| >= 0.925``; absolute
error about ``1e-15``. The nodes' exponents of a block of points are one small
matrix product and one ``exp`` pass; :func:`bvn_cdf` runs cache-sized blocks on
threads (:mod:`~medbook.sensitivity.blocks`), and :func:`bvn_cdf_block` serves
kernels that already hold the marginal probabilities of their block.
"""

from __future__ import annotations

import functools
import math

import numpy as np
from scipy import special

from .blocks import map_blocks

__all__ = ["bvn_cdf", "bvn_cdf_block", "bvn_grad_block"]

_TWO_PI = 2.0 * math.pi
# Half of each symmetric Gauss-Legendre rule on [-1, 1]: (nodes, weights).
# fmt: off
_RULES = {
    6: (
        [0.9324695142031522, 0.6612093864662647, 0.2386191860831970],
        [0.1713244923791705, 0.3607615730481384, 0.4679139345726904],
    ),
    12: (
        [0.9815606342467191, 0.9041172563704750, 0.7699026741943050,
         0.5873179542866171, 0.3678314989981802, 0.1252334085114692],
        [0.04717533638651177, 0.1069393259953183, 0.1600783285433464,
         0.2031674267230659, 0.2334925365383547, 0.2491470458134029],
    ),
    20: (
        [0.9931285991850949, 0.9639719272779138, 0.9122344282513259,
         0.8391169718222188, 0.7463319064601508, 0.6360536807265150,
         0.5108670019508271, 0.3737060887154196, 0.2277858511416451,
         0.07652652113349733],
        [0.01761400713915212, 0.04060142980038694, 0.06267204833410906,
         0.08327674157670475, 0.1019301198172404, 0.1181945319615184,
         0.1316886384491766, 0.1420961093183821, 0.1491729864726037,
         0.1527533871307259],
    ),
}
# fmt: on


def _rule(size: float) -> tuple[np.ndarray, np.ndarray]:
    """Nodes ``1 -/+ x`` on ``[0, 2]`` and their weights for this correlation size."""
    count = 6 if size < 0.3 else 12 if size < 0.75 else 20
    x, w = (np.array(v) for v in _RULES[count])
    return np.concatenate([1.0 - x, 1.0 + x]), np.concatenate([w, w])


@functools.lru_cache(maxsize=512)
def _exponents(size: float) -> tuple[np.ndarray, np.ndarray]:
    """Coefficients ``(2, nodes)`` of ``(hk, hs)`` in the exponents, and ``(3, nodes)`` weights.

    The weight rows give Plackett's integral and the sums that make its
    derivatives: node ``j``'s exponent is ``a_j hk - b_j hs``, so the integral's
    derivative in ``hk`` (``hs``) weights node ``j`` by ``a_j`` (``-b_j``) more.
    """
    nodes, weights = _rule(size)
    asr = 0.5 * math.asin(size)
    sn = np.sin(asr * nodes)
    inv = 1.0 / (1.0 - sn * sn)
    scaled = weights * (asr / _TWO_PI)
    return np.stack([sn * inv, -inv]), np.stack([scaled, scaled * sn * inv, scaled * inv])


def _plackett(hk: np.ndarray, hs: np.ndarray, size: float, sums: int = 1) -> np.ndarray:
    """``(1 / 2 pi) int_0^asin(size) exp((hk sin t - hs) / cos^2 t) dt`` per row (size < 0.925).

    With ``sums=3``, a ``(3, rows)`` array: the integral and the integrals with the
    integrand times ``sin t / cos^2 t`` and ``1 / cos^2 t``.
    """
    coef, weights = _exponents(size)
    pair = np.empty((hk.size, 2))
    pair[:, 0], pair[:, 1] = hk, hs
    expo = pair @ coef
    np.exp(expo, out=expo)
    return expo @ weights[0] if sums == 1 else weights @ expo.T


def _upper_strong(h: np.ndarray, k: np.ndarray, r: float) -> np.ndarray:
    """``P(X > h, Y > k)`` for ``0.925 <= r < 1`` (Genz's asymptotic expansion).

    Terms with an exponent at or below -100 are dropped; their exponents are
    clipped first, which keeps ``np.exp`` off its slow underflow path.
    """
    nodes, weights = _rule(1.0)
    hk = h * k
    a_sq = 1.0 - r * r
    a = math.sqrt(a_sq)
    bs = (h - k) ** 2
    c = (4.0 - hk) / 8.0
    d = (12.0 - hk) / 80.0
    asr = -(bs / a_sq + hk) / 2.0
    with np.errstate(over="ignore", invalid="ignore"):
        bvn = np.where(
            asr > -100.0,
            a
            * np.exp(np.maximum(asr, -100.0))
            * (1.0 - c * (bs - a_sq) * (1.0 - d * bs) / 3.0 + c * d * a_sq**2),
            0.0,
        )
        b = np.sqrt(bs)
        sp = math.sqrt(_TWO_PI) * special.ndtr(-b / a)
        bvn = bvn - np.where(
            hk > -100.0, np.exp(-hk / 2.0) * sp * b * (1.0 - c * bs * (1.0 - d * bs) / 3.0), 0.0
        )
        half = a / 2.0
        cd5 = 5.0 * c * d
        asr_n, ep, sp_n = np.empty_like(hk), np.empty_like(hk), np.empty_like(hk)
        keep = np.empty(hk.shape, dtype=bool)
        for node, weight in zip(nodes, weights, strict=True):  # in place: no temporaries
            xs = (half * node) ** 2
            rs = math.sqrt(1.0 - xs)
            np.divide(bs, xs, out=asr_n)
            np.add(asr_n, hk, out=asr_n)
            np.divide(asr_n, -2.0, out=asr_n)  # asr_n = -(bs / xs + hk) / 2
            np.greater(asr_n, -100.0, out=keep)
            np.maximum(asr_n, -100.0, out=asr_n)
            np.exp(asr_n, out=asr_n)
            np.multiply(hk, -0.5 * xs / (1.0 + rs) ** 2, out=ep)
            np.exp(ep, out=ep)
            np.divide(ep, rs, out=ep)  # ep = exp(-(hk / 2) xs / (1 + rs)^2) / rs
            np.multiply(cd5, xs, out=sp_n)
            np.add(sp_n, c, out=sp_n)
            np.multiply(sp_n, xs, out=sp_n)
            np.add(sp_n, 1.0, out=sp_n)  # sp_n = 1 + c xs (1 + 5 d xs)
            np.subtract(ep, sp_n, out=ep)
            np.multiply(ep, asr_n, out=ep)
            np.multiply(ep, half * weight, out=ep)
            np.add(bvn, ep, out=bvn, where=keep)
    return special.ndtr(-np.maximum(h, k)) - bvn / _TWO_PI


def bvn_cdf_block(
    h: np.ndarray, k: np.ndarray, r: np.ndarray | float, cdf_h: np.ndarray, cdf_k: np.ndarray
) -> np.ndarray:
    """:func:`bvn_cdf` of one block of 1-d arrays given ``Phi(h)`` and ``Phi(k)`` (no threads).

    ``r`` is a float or an array whose entries share one size ``|r|``; for
    ``|r| < 0.925``, ``Phi2(h, k; r) = Phi(h) Phi(k) + sign(r) P(sign(r) h k, (h^2 + k^2) / 2)``
    with ``P`` Plackett's integral over ``[0, asin |r|]``.
    """
    size = float(np.max(np.abs(r)))
    if size == 0.0:
        joint = cdf_h * cdf_k
    elif size < 0.925:
        sign = np.sign(r)
        joint = cdf_h * cdf_k + sign * _plackett(sign * h * k, 0.5 * (h * h + k * k), size)
    else:  # one pass for +-r: Phi2(h, k; -r) = Phi(h) - Phi2(h, -k; r)
        flip = np.asarray(r) < 0
        joint = _upper_strong(-h, np.where(flip, k, -k), size)
        joint = np.where(flip, cdf_h - joint, joint)
    return np.clip(joint, 0.0, 1.0, out=joint)


def bvn_grad_block(
    h: np.ndarray,
    k: np.ndarray,
    r: float,
    cdf: tuple[np.ndarray, np.ndarray],
    pdf: tuple[np.ndarray, np.ndarray],
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """:func:`bvn_cdf_block` and its derivatives in ``h`` and ``k`` (``r`` a float).

    The derivatives are ``phi(h) Phi((k - r h) / s)`` and ``phi(k) Phi((h - r k) / s)``
    (``s^2 = 1 - r^2``); ``cdf`` and ``pdf`` hold ``Phi`` and ``phi`` of ``h`` and ``k``.
    For ``|r| < 0.925`` they come from the quadrature of the value: they agree with
    the closed forms to a few units in the last place, without their two ``Phi``.
    """
    size = abs(r)
    if size >= 0.925:
        s = math.sqrt(1.0 - r * r)
        joint = bvn_cdf_block(h, k, r, *cdf)
        return joint, pdf[0] * special.ndtr((k - r * h) / s), pdf[1] * special.ndtr((h - r * k) / s)
    sign = math.copysign(1.0, r)
    sums = _plackett(sign * h * k, 0.5 * (h * h + k * k), size, sums=3)
    joint = np.clip(cdf[0] * cdf[1] + sign * sums[0], 0.0, 1.0)
    d_h = pdf[0] * cdf[1] + k * sums[1] - sign * h * sums[2]
    d_k = pdf[1] * cdf[0] + h * sums[1] - sign * k * sums[2]
    return joint, d_h, d_k


def bvn_cdf(h: np.ndarray, k: np.ndarray, r: np.ndarray | float) -> np.ndarray:
    """``P(X <= h, Y <= k)`` for standard bivariate normal ``(X, Y)`` with correlation ``r``.

    ``|r| < 1``; ``r`` may be an array (each distinct ``|r|`` is one vectorised pass).

    Examples
    --------
    >>> float(np.round(bvn_cdf(0.0, 0.0, 0.5), 12))  # 1/4 + arcsin(r) / (2 pi)
    0.333333333333
    """
    h, k, r = np.broadcast_arrays(np.asarray(h, float), np.asarray(k, float), np.asarray(r, float))
    hs, ks, rs = (np.ravel(v) for v in (h, k, r))
    out = np.empty(hs.size)

    def block(span: slice) -> None:
        hb, kb, rb = hs[span], ks[span], rs[span]
        cdf_h, cdf_k = special.ndtr(hb), special.ndtr(kb)
        sizes = np.abs(rb)
        if np.all(sizes == sizes[0]):
            out[span] = bvn_cdf_block(hb, kb, rb, cdf_h, cdf_k)
            return
        for size in np.unique(sizes):
            rows = sizes == size
            out[span][rows] = bvn_cdf_block(hb[rows], kb[rows], rb[rows], cdf_h[rows], cdf_k[rows])

    map_blocks(block, hs.size)
    return out.reshape(h.shape)
