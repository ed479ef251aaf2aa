"""The vectorised bivariate normal CDF (Genz 2004) against Owen's T representation."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import special

from medbook.sensitivity.bvn import bvn_cdf


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
