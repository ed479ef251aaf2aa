"""Mediation estimands as functions of batched coefficient arrays.

Every function takes coefficients with a leading replicate axis ``B`` and
returns ``(B,)`` arrays, so the point estimate (``B = 1``), the bootstrap
(replicate weights), quasi-Bayesian draws and the delta method's perturbed
coefficients all run the same code.

Coefficient layout (see :func:`mediator_design` and :func:`outcome_design`):
mediator ``[const, t, covariates...]``; outcome ``[const, t, m, (t*m), covariates...]``.

The potential-outcome means ``E[Y(t, M(t'))]`` follow the mediational
g-formula averaged over the empirical covariate distribution:

* binary mediator: exact sum over ``m in {0, 1}``;
* continuous (linear, normal-error) mediator with a linear outcome: the outcome
  is linear in ``m``, so plugging in ``E[M(t')]`` is exact (this reproduces the
  product-of-coefficients and the VanderWeele-Vansteelandt closed forms);
* continuous mediator with a probit outcome: closed form
  ``Phi((a + b mu) / sqrt(1 + b^2 sigma^2))``;
* continuous mediator with a logit outcome: Gauss-Hermite quadrature over the
  fitted normal mediator distribution (error reported by :func:`quadrature_error`);
* continuous mediator with a log-link count outcome (Poisson, negative binomial):
  the lognormal moment generating function
  ``E[exp(a + b M)] = exp(a + b mu + b^2 sigma^2 / 2)``, exact.

:func:`estimands` turns the means into contrasts on the difference, ratio or
odds-ratio scale (:mod:`medbook.scales`).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np
from scipy import special

from .data import AnalysisData
from .errors import DataError
from .families import logistic
from .fit import Family
from .logit_pair import LogitPair
from .scales import Scale, cde_mean_key, decompose
from .weights import ReplicateWeights, row_dot, tiles

__all__ = [
    "GH_NODES",
    "INTERCEPT",
    "LOG_LINK",
    "EffectModel",
    "cde_key",
    "estimand_keys",
    "estimands",
    "mediator_design",
    "outcome_design",
    "potential_outcomes",
    "quadrature_error",
]

GH_NODES = 40
INTERCEPT = "(Intercept)"


@dataclass(frozen=True)
class EffectModel:
    """What the g-formula needs to know about the fitted models."""

    mediator_family: Family
    outcome_family: Family
    interaction: bool
    cde_at: tuple[float, ...] = ()
    gh_nodes: int = GH_NODES


def mediator_design(data: AnalysisData) -> tuple[np.ndarray, tuple[str, ...]]:
    """Design matrix ``[1, t, covariates]`` of the mediator model and its column names."""
    x = np.column_stack([np.ones(data.n), data.treatment, data.covariates])
    return x, _unique_terms((INTERCEPT, data.names["treatment"], *data.covariate_names))


def outcome_design(data: AnalysisData, interaction: bool) -> tuple[np.ndarray, tuple[str, ...]]:
    """Design matrix ``[1, t, m, (t*m), covariates]`` of the outcome model and its names."""
    t, m = data.treatment, data.mediator
    names = [INTERCEPT, data.names["treatment"], data.names["mediator"]]
    columns = [np.ones(data.n), t, m]
    if interaction:
        columns.append(t * m)
        names.append(f"{data.names['treatment']}:{data.names['mediator']}")
    columns.append(data.covariates)
    return np.column_stack(columns), _unique_terms((*names, *data.covariate_names))


def _unique_terms(names: tuple[str, ...]) -> tuple[str, ...]:
    """Model term names, which must be unique for coefficient tables to be unambiguous."""
    seen: set[str] = set()
    for name in names:
        if name in seen:
            raise DataError(
                f"column name {name!r} clashes with another model term; rename the column"
            )
        seen.add(name)
    return names


def cde_key(m: float) -> str:
    """Estimand key of the controlled direct effect at mediator value ``m``."""
    return f"cde(m={m:.10g})"


LOG_LINK = ("poisson", "negbin")


def _inverse_link(family: Family, eta: np.ndarray) -> np.ndarray:
    if family == "linear":
        return eta
    if family == "logit":
        return logistic(eta)
    if family in LOG_LINK:
        return np.exp(eta)
    return special.ndtr(eta)


class _Linear:
    """Linear predictors of both models for one chunk of rows, for every replicate."""

    def __init__(self, model: EffectModel, alpha: np.ndarray, beta: np.ndarray, cov: np.ndarray):
        k = cov.shape[1]
        self.model = model
        self.alpha = alpha
        self.beta = beta
        self.med_base = alpha[:, :1] + alpha[:, 2 : 2 + k] @ cov.T
        first_cov = 4 if model.interaction else 3
        self.out_base = beta[:, :1] + beta[:, first_cov : first_cov + k] @ cov.T
        self._means: dict[tuple[str, int, float], np.ndarray] = {}

    def mediator_mean(self, t_m: int) -> np.ndarray:
        """``P(M = 1)`` (or ``E[M]``) under treatment ``t_m``, cached per chunk."""
        key = ("m", t_m, 0.0)
        if key not in self._means:
            self._means[key] = _inverse_link(self.model.mediator_family, self.mediator_eta(t_m))
        return self._means[key]

    def outcome_mean(self, t: int, m: float) -> np.ndarray:
        """``E[Y | t, m, c]`` at a fixed mediator value, cached per chunk."""
        key = ("y", t, float(m))
        if key not in self._means:
            self._means[key] = _inverse_link(self.model.outcome_family, self.outcome_eta(t, m))
        return self._means[key]

    def mediator_eta(self, t_m: int) -> np.ndarray:
        return self.med_base + self.alpha[:, 1:2] * t_m

    def slope_m(self, t: int) -> np.ndarray:
        """``(B, 1)`` coefficient of m in the outcome model at treatment ``t``."""
        slope = self.beta[:, 2:3]
        if self.model.interaction:
            slope = slope + self.beta[:, 3:4] * t
        return slope

    def outcome_eta(self, t: int, m: np.ndarray | float) -> np.ndarray:
        return self.out_base + self.beta[:, 1:2] * t + self.slope_m(t) * m


def _binary_mediator_sums(lin: _Linear, w: np.ndarray) -> dict[Any, np.ndarray]:
    """Weighted row sums of ``E[Y(t, M(t_m)) | c] = E[Y(t, 0)] + P(M(t_m) = 1) (E[Y(t, 1)] -
    E[Y(t, 0)])`` for the four ``(t, t_m)``, with one weighting per mediator probability, and
    of ``E[Y(t, 0) | c]`` (key ``("cde", t, 0.0)``)."""
    weighted = {t_m: w * lin.mediator_mean(t_m) for t_m in (0, 1)}
    sums: dict[Any, np.ndarray] = {}
    for t in (0, 1):
        y0 = lin.outcome_mean(t, 0.0)
        gap = lin.outcome_mean(t, 1.0) - y0
        base = sums[("cde", t, 0.0)] = _weighted_sum(w, y0)  # also the CDE's mean at m = 0
        for t_m in (0, 1):
            sums[(t, t_m)] = base + row_dot(weighted[t_m], gap)
    return sums


def _expected_outcome(
    lin: _Linear, t: int, t_m: int, sigma_m: np.ndarray, nodes: tuple[np.ndarray, np.ndarray]
) -> np.ndarray:
    """Per-row ``E[Y(t, M(t_m)) | c]`` as a ``(B, rows)`` array (a linear mediator)."""
    model = lin.model
    eta_m = lin.mediator_eta(t_m)
    if model.outcome_family == "linear":
        return lin.outcome_eta(t, eta_m)
    slope = lin.slope_m(t)
    centre = lin.outcome_eta(t, eta_m)
    sd = sigma_m[:, None]
    if model.outcome_family == "probit":
        return special.ndtr(centre / np.sqrt(1.0 + (slope * sd) ** 2))
    if model.outcome_family in LOG_LINK:
        return np.exp(centre + 0.5 * (slope * sd) ** 2)
    z, w = nodes
    spread = (slope * sd)[:, :, None] * (np.sqrt(2.0) * z)
    return special.expit(centre[:, :, None] + spread) @ (w / np.sqrt(np.pi))


def potential_outcomes(
    model: EffectModel,
    alpha: np.ndarray,
    beta: np.ndarray,
    sigma_m: np.ndarray,
    covariates: np.ndarray,
    weights: ReplicateWeights,
    covariate_means: np.ndarray | None = None,
) -> dict[str, np.ndarray]:
    """Weighted covariate averages of ``E[Y(t, M(t'))]`` and of ``E[Y(1,m) - Y(0,m)]``.

    Parameters
    ----------
    model : EffectModel
    alpha, beta : numpy.ndarray
        ``(B, p)`` mediator and outcome coefficients.
    sigma_m : numpy.ndarray
        ``(B,)`` residual standard deviation of a linear mediator model.
    covariates : numpy.ndarray
        ``(n, k)`` encoded covariates.
    weights : ReplicateWeights
        Row weights of the covariate average: ``B`` replicates, or one row of
        unit weights shared by all coefficient draws.
    covariate_means : numpy.ndarray, optional
        ``(B or 1, k)`` weighted covariate means, if already known (linear models only).

    Returns
    -------
    dict
        ``y1m1, y0m0, y1m0, y0m1`` and, per controlled-effect mediator value,
        ``y1|m=<value>`` and ``y0|m=<value>`` (``E[Y(t, m)]``), each ``(B,)``.
    """
    if model.mediator_family == "linear" and model.outcome_family == "linear":
        if covariate_means is None:
            covariate_means = _weighted_means(covariates, weights)
        return _linear_potential_outcomes(model, alpha, beta, covariate_means)
    b = alpha.shape[0]
    nodes = np.polynomial.hermite.hermgauss(model.gh_nodes)
    needs_nodes = model.mediator_family == "linear" and model.outcome_family == "logit"
    per_row = model.gh_nodes if needs_nodes else 1
    keys = [(1, 1), (0, 0), (1, 0), (0, 1)]
    cde = [("cde", t, m) for m in model.cde_at for t in (0, 1)]
    pair = None
    if (model.mediator_family, model.outcome_family) == ("logit", "logit") and set(
        model.cde_at
    ) <= {0.0, 1.0}:
        pair = LogitPair.build(alpha, beta, model.interaction, covariates)

    def chunk(rows: slice, w: np.ndarray) -> dict[Any, np.ndarray]:
        sums = {"total": w.sum(axis=1, dtype=float), **{key: np.zeros(b) for key in (*keys, *cde)}}
        cov = covariates[rows]
        if pair is not None:
            return {**pair.sums(cov, w), "total": sums["total"]}
        for reps, part in tiles(b, w.shape[1], per_row):
            wp = np.asarray(w[reps if w.shape[0] > 1 else slice(None), part], dtype=float)
            lin = _Linear(model, alpha[reps], beta[reps], cov[part])
            if model.mediator_family != "linear":
                found = _binary_mediator_sums(lin, wp)
            else:
                sd = sigma_m[reps] if sigma_m.size > 1 else sigma_m
                found = {k: _weighted_sum(wp, _expected_outcome(lin, *k, sd, nodes)) for k in keys}
            for key in cde:
                if key not in found:
                    found[key] = _weighted_sum(wp, lin.outcome_mean(key[1], key[2]))
            for key in (*keys, *cde):
                sums[key][reps] += found[key]
        return sums

    parts = weights.map_chunks(chunk, compact=True)
    total = sum(part["total"] for part in parts)
    out = {f"y{t}m{tm}": sum(part[(t, tm)] for part in parts) / total for t, tm in keys}
    for m in model.cde_at:
        for t in (0, 1):
            out[cde_mean_key(t, m)] = sum(part[("cde", t, m)] for part in parts) / total
    return out


def _weighted_sum(w: np.ndarray, values: np.ndarray) -> np.ndarray:
    """``(B,)`` row sums of ``w * values``; ``w`` is ``(B, rows)`` or one shared ``(1, rows)``."""
    return values @ w[0] if w.shape[0] == 1 else row_dot(w, values)


def _weighted_means(covariates: np.ndarray, weights: ReplicateWeights) -> np.ndarray:
    """``(B, k)`` replicate-weighted column means."""
    parts = weights.map_chunks(
        lambda rows, w: (w @ covariates[rows], w.sum(axis=1)),
        per_row_values=max(covariates.shape[1], 1),
    )
    return sum(part[0] for part in parts) / sum(part[1] for part in parts)[:, None]


def _linear_potential_outcomes(
    model: EffectModel, alpha: np.ndarray, beta: np.ndarray, means: np.ndarray
) -> dict[str, np.ndarray]:
    """Closed form for linear mediator and outcome: everything is linear in the covariates,
    so averaging over rows equals evaluating at the (replicate-weighted) covariate means."""
    k = means.shape[1]
    lin = _Linear(model, alpha, beta, np.zeros((1, k)))
    med_base = alpha[:, 0] + np.einsum("bk,bk->b", alpha[:, 2 : 2 + k], means)
    first_cov = 4 if model.interaction else 3
    out_base = beta[:, 0] + np.einsum("bk,bk->b", beta[:, first_cov : first_cov + k], means)
    lin.med_base = med_base[:, None]
    lin.out_base = out_base[:, None]
    out = {
        f"y{t}m{tm}": lin.outcome_eta(t, lin.mediator_eta(tm))[:, 0]
        for t, tm in ((1, 1), (0, 0), (1, 0), (0, 1))
    }
    for m in model.cde_at:
        for t in (0, 1):
            out[cde_mean_key(t, m)] = lin.outcome_eta(t, m)[:, 0]
    return out


def estimand_keys(cde_at: tuple[float, ...]) -> list[str]:
    """Estimand keys in reporting order."""
    return ["te", "nde0", "nde1", "nie0", "nie1", "pm", *(cde_key(m) for m in cde_at)]


def estimands(po: dict[str, np.ndarray], scale: Scale = "difference") -> dict[str, np.ndarray]:
    """Total, natural direct/indirect, proportion mediated and CDEs from ``E[Y(t, M(t'))]``.

    ``scale`` picks differences, ratios or odds ratios (:func:`medbook.scales.decompose`).
    """
    return decompose(po, scale)


def quadrature_error(
    model: EffectModel,
    alpha: np.ndarray,
    beta: np.ndarray,
    sigma_m: np.ndarray,
    covariates: np.ndarray,
    weights: ReplicateWeights,
) -> float:
    """Largest change of a potential-outcome mean when the quadrature nodes are doubled."""
    if not (model.mediator_family == "linear" and model.outcome_family == "logit"):
        return 0.0
    base = potential_outcomes(model, alpha, beta, sigma_m, covariates, weights)
    fine_model = replace(model, cde_at=(), gh_nodes=2 * model.gh_nodes)
    fine = potential_outcomes(fine_model, alpha, beta, sigma_m, covariates, weights)
    return float(max(np.max(np.abs(base[k] - fine[k])) for k in fine))
