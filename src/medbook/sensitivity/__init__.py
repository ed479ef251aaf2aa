"""Sensitivity of natural direct and indirect effects to mediator-outcome confounding.

Two tools, both on the difference (or risk-difference) scale of :func:`medbook.mediate`:

* :func:`rho` -- the correlation-of-errors analysis of Imai, Keele & Yamamoto (2010,
  *Statistical Science* 25:51-71, Theorem 2 and sec. 5) and Imai, Keele & Tingley
  (2010, *Psychological Methods* 15:309-334, appendix), as implemented by R's
  ``mediation::medsens``: the effects as a function of ``rho``, the correlation
  between the mediator-model and outcome-model errors that an unmeasured
  confounder would induce; ``rho = 0`` is sequential ignorability.
* :func:`bias_grid` and :func:`robustness_value` -- the bias formulas of
  VanderWeele (2010, "Bias formulas for sensitivity analysis for direct and
  indirect effects", *Epidemiology* 21:540-551) for an unmeasured confounder U,
  and a single E-value-like number in the spirit of Smith & VanderWeele (2019,
  "Mediational E-values", *Epidemiology* 30:835-837).

The rooms: :mod:`~medbook.sensitivity.bvn` (bivariate normal CDF),
:mod:`~medbook.sensitivity.blocks` (row blocks on threads, summed in a fixed order),
:mod:`~medbook.sensitivity.problem` (the engine protocol and the registry keyed by
model pair), one module per engine (:mod:`~medbook.sensitivity.closed_form`,
:mod:`~medbook.sensitivity.latent`, :mod:`~medbook.sensitivity.bivariate`),
:mod:`~medbook.sensitivity.correlation` (:func:`rho`) and
:mod:`~medbook.sensitivity.bias`. The results hold numbers and codes; their
sentences come from :mod:`medbook.report.sensitivity_wording`. The teaching notebook's
confounding sweep is :func:`medbook.simulate.confounding_sweep`.
"""

from __future__ import annotations

from .bias import BiasGrid, Robustness, bias_grid, robustness_value
from .correlation import RhoSensitivity, rho
from .problem import SENSITIVITY_ESTIMANDS

__all__ = [
    "SENSITIVITY_ESTIMANDS",
    "BiasGrid",
    "RhoSensitivity",
    "Robustness",
    "bias_grid",
    "rho",
    "robustness_value",
]
