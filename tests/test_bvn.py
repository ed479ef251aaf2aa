"""The vectorised bivariate normal CDF (Genz 2004) against Owen's T representation."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import special

from medbook.sensitivity.bvn import bvn_cdf, bvn_grad_block


def _owen(h, k, r):
    """Owen (1956): an independent route through scipy's Owen's T function."""
    h, k = np.where(h == 0, 1e-300, h), np.where(k == 0, 1e-300, k)
    s = np.sqrt(1 - r * r)
    with np.errstate(over="ignore", divide="ignore"):
        ah, ak = (k - r * h) / (h * s), (h - r * k) / (k * s)
    beta = np.where(h * k < 0, 0.5, 0.0)
    value = (0.5 * special.ndtr(h) + 0.5 * special.ndtr(k)
             - special.owens_t(h, ah) - special.owens_t(k, ak) - beta)
    return np.clip(value, 0, 1)


@pytest.mark.parametrize(
    "r", [-0.999, -0.95, -0.925, -0.924, -0.8, -0.75, -0.5, -0.3, -0.05, 0.0, 0.05, 0.299,
          0.3, 0.6, 0.749, 0.9, 0.925, 0.97, 0.999]
)
def test_matches_owens_t_everywhere(r):
    rng = np.random.default_rng(int(1000 * (r + 1)))
    h, k = rng.normal(scale=3.0, size=(2, 4000))
    h[:6], k[:6] = [0, 0, 9, -9, 0, 5], [0, 3, 9, -9, -38, -5]
    np.testing.assert_allclose(bvn_cdf(h, k, r), _owen(h, k, r), rtol=0, atol=2e-15)


def test_a_correlation_array_with_both_signs_is_one_pass_per_size():
    rng = np.random.default_rng(3)
    h, k = rng.normal(size=(2, 5000))
    signs = np.where(rng.random(5000) < 0.5, 1.0, -1.0)
    for size in (0.4, 0.95):
        np.testing.assert_allclose(
            bvn_cdf(h, k, signs * size), _owen(h, k, signs * size), rtol=0, atol=2e-15
        )
    mixed = np.where(signs > 0, 0.2, -0.7)
    np.testing.assert_allclose(bvn_cdf(h, k, mixed), _owen(h, k, mixed), rtol=0, atol=2e-15)


def test_blocks_on_threads_agree_with_pieces_and_repeat_bit_for_bit():
    rng = np.random.default_rng(8)
    h, k = rng.normal(size=(2, 100_000))
    r = np.where(rng.random(100_000) < 0.5, 0.6, -0.95)
    whole = bvn_cdf(h, k, r)  # several row blocks, on threads
    pieces = [
        bvn_cdf(h[i : i + 5000], k[i : i + 5000], r[i : i + 5000]) for i in range(0, 100_000, 5000)
    ]
    np.testing.assert_allclose(whole, np.concatenate(pieces), rtol=0, atol=1e-15)
    assert np.array_equal(bvn_cdf(h, k, r), whole)


@pytest.mark.parametrize("r", [-0.95, -0.9, -0.5, 0.0, 0.3, 0.749, 0.9249, 0.97])
def test_derivatives_from_the_quadrature_equal_the_closed_forms(r):
    rng = np.random.default_rng(int(1000 * (r + 1)))
    h, k = rng.uniform(-8.0, 8.0, size=(2, 20_000))
    cdf = special.ndtr(h), special.ndtr(k)
    pdf = np.exp(-h * h / 2) / np.sqrt(2 * np.pi), np.exp(-k * k / 2) / np.sqrt(2 * np.pi)
    joint, d_h, d_k = bvn_grad_block(h, k, r, cdf, pdf)
    s = np.sqrt(1 - r * r)
    np.testing.assert_allclose(joint, bvn_cdf(h, k, r), rtol=0, atol=1e-15)
    np.testing.assert_allclose(d_h, pdf[0] * special.ndtr((k - r * h) / s), rtol=0, atol=2e-15)
    np.testing.assert_allclose(d_k, pdf[1] * special.ndtr((h - r * k) / s), rtol=0, atol=2e-15)
