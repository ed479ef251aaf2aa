"""Ratio-scale bias formulas (VanderWeele 2010) and the mediational E-value.

On the ratio scales of :func:`medbook.mediate` (``scale="ratio"`` or
``"odds_ratio"``) an unmeasured binary confounder U of the mediator-outcome
relation biases the natural effects by a *factor*. With ``gamma`` the ratio by
which U = 1 multiplies the outcome mean (the same at every treatment and
mediator level) and ``p1``, ``p0`` the prevalences of U among treated and
control units with the same mediator value and covariates, VanderWeele (2010,
*Epidemiology* 21:540-551, the risk-ratio formulas) gives

    B = (1 + (gamma - 1) p1) / (1 + (gamma - 1) p0),
    NDE_true = NDE_observed / B,   NIE_true = NIE_observed * B,

the total effect being unbiased under randomisation. :func:`bias_factor` takes
the imbalance ``delta = p1 - p0`` and sets the less prevalent group's prevalence
to zero, which for a given ``delta`` and ``gamma > 1`` is the largest bias. For
odds ratios the formula holds approximately when the outcome is rare.

:func:`e_value` is the E-value of a ratio (VanderWeele & Ding 2017), which Smith
& VanderWeele (2019, "Mediational E-values", *Epidemiology* 30:835-837) apply to
natural direct and indirect effects: the smallest common strength, as a ratio,
of U's association with the outcome and its imbalance between treatment arms
(given the mediator) that could move the ratio to 1.
"""

from __future__ import annotations

import numpy as np

__all__ = ["bias_factor", "corrected", "e_value"]


def bias_factor(gamma: np.ndarray | float, delta: np.ndarray | float) -> np.ndarray:
    """VanderWeele's ratio bias factor with the smaller prevalence at zero.

    ``delta >= 0``: ``p1 = delta, p0 = 0`` so ``B = 1 + (gamma - 1) delta``;
    ``delta < 0``: ``p1 = 0, p0 = -delta`` so ``B = 1 / (1 - (gamma - 1) delta)``.

    Examples
    --------
    >>> float(bias_factor(2.0, 0.5)), float(bias_factor(2.0, -0.5))
    (1.5, 0.6666666666666666)
    """
    gamma = np.asarray(gamma, dtype=float)
    delta = np.asarray(delta, dtype=float)
    grow = 1.0 + (gamma - 1.0) * np.abs(delta)
    return np.where(delta >= 0, grow, 1.0 / grow)


def corrected(value: float, key: str, factor: float) -> float:
    """Bias-corrected ratio: ``NDE / B`` for direct effects, ``NIE * B`` for indirect ones."""
    return value * factor if key.startswith("nie") else value / factor


def e_value(ratio: float) -> float:
    """E-value of a ratio: ``RR + sqrt(RR (RR - 1))`` with ``RR = max(r, 1 / r)``; 1 at r = 1.

    Examples
    --------
    >>> round(e_value(1.5), 4), round(e_value(1 / 1.5), 4), e_value(1.0)
    (2.366, 2.366, 1.0)
    """
    rr = max(ratio, 1.0 / ratio)
    return float(rr + np.sqrt(rr * (rr - 1.0)))
