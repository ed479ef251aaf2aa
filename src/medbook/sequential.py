"""Mediation with several mediators or post-treatment confounders: fit, estimate, infer.

:func:`mediate_sequential` is what :func:`medbook.mediate` runs when it is given
a list of mediators or ``post_treatment=`` columns. It fits one model per
intermediate variable and one outcome model with the batched kernel
(:func:`medbook.fit.fit_model`), evaluates the potential-outcome means of
:mod:`medbook.paths` or :mod:`medbook.interventional` with the sequential
g-formula of :mod:`medbook.gformula`, and derives the effects from them. The
bootstrap refits every model under replicate weights and runs the same code;
quasi-Bayesian draws and the delta method perturb the coefficients instead.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from .chain_data import ChainData, chain_roles, prepare_chain
from .effects import INTERCEPT
from .errors import ConfigError, DataError, FitError
from .fit import Family, ModelFit, fit_model
from .gformula import Node, Step, evaluate_plans, node_design, quadrature_error, uses_quadrature
from .inference import (
    bca_interval,
    delta_method,
    jackknife_acceleration,
    percentile_interval,
    quasi_bayes_draws,
    replicate_p_value,
)
from .interventional import (
    INTERVENTIONAL_NOTE,
    interventional_estimands,
    interventional_keys,
    interventional_nodes,
    interventional_plans,
)
from .paths import joint_potential_outcomes, path_estimands, path_keys, path_nodes, path_plans
from .results import EFFECT_COLUMNS, MediationResult, MediationSpec
from .weights import ReplicateWeights

__all__ = ["SENSITIVITY_NOTE", "check_sensitivity_scope", "mediate_sequential"]

_GH_START = 8
_GH_MAX = 64
_QUADRATURE_TARGET = 1e-6
_QUADRATURE_WARN = 1e-4
_FAILED_SHARE_LIMIT = 0.5
_JACKKNIFE_MAX_GROUPS = 1000
_MODEL_CHOICES = ("auto", "linear", "logit", "probit")

SENSITIVITY_NOTE = {
    "paths": (
        "no published sensitivity analysis covers the path-specific effects; the bias-formula "
        "grid applies to the joint indirect effect through all mediators together"
    ),
    "interventional": (
        "no published sensitivity analysis for unmeasured confounding is implemented for the "
        "interventional effects; medbook does not reuse single-mediator formulas for them"
    ),
}


def check_sensitivity_scope(res: MediationResult, tool: str) -> None:
    """Refuse a sensitivity tool that has no published version for this result's estimands.

    The bias formulas of VanderWeele (2010) hold for the *joint* natural effects
    of several mediators, treating them as one vector-valued mediator
    (VanderWeele & Vansteelandt 2014), so ``tool="bias"`` accepts a
    result with several mediators; the correlation-of-errors analysis
    (``tool="rho"``) is defined for one mediator, and nothing covers the
    interventional effects.

    Raises
    ------
    ConfigError
        Naming the reason.
    """
    if res.spec.post_treatment:
        raise ConfigError(f"sensitivity analysis unavailable: {SENSITIVITY_NOTE['interventional']}")
    if tool == "rho" and len(res.spec.mediators) > 1:
        raise ConfigError(
            "sensitivity analysis unavailable: the correlation-of-errors (rho) analysis is "
            "defined for a single mediator; use the bias-formula grid for the joint effects"
        )


@dataclass(frozen=True)
class _Chain:
    """Everything the estimator needs besides the fitted coefficients."""

    data: ChainData
    nodes: list[Node]
    designs: list[np.ndarray]
    names: list[tuple[str, ...]]
    responses: list[np.ndarray]
    plans: dict[str, tuple[Step, ...]]
    estimands: Callable[[dict[str, np.ndarray]], dict[str, np.ndarray]]
    keys: list[str]
    kind: str  # "paths" or "interventional"

    @property
    def columns(self) -> tuple[str, ...]:
        return (*self.data.columns, self.data.study.names["outcome"])


def _family(choice: Any, kind: str, column: str, role: str) -> Family:
    normalised = choice.lower() if isinstance(choice, str) else choice
    if normalised not in _MODEL_CHOICES:
        options = ", ".join(_MODEL_CHOICES)
        raise ConfigError(f"{role}_model must be one of {options}; got {choice!r}")
    if normalised == "auto":
        return "logit" if kind == "binary" else "linear"
    if normalised in ("logit", "probit") and kind != "binary":
        raise ConfigError(f"{role} model {normalised!r} needs a 0/1 column, but {column!r} is not")
    return normalised  # type: ignore[return-value]


def _mediator_families(choice: Any, data: ChainData) -> list[Family]:
    """One family per intermediate column (confounders use ``"auto"``)."""
    mediators = data.mediators
    choices = [choice] * len(mediators) if isinstance(choice, str) else list(choice)
    if len(choices) != len(mediators):
        raise ConfigError(
            f"mediator_model lists {len(choices)} models for {len(mediators)} mediators"
        )
    q = data.n_confounders
    confs = [_family("auto", k, c, "post_treatment") for c, k in zip(
        data.confounders, data.kinds[:q], strict=True)]
    meds = [_family(ch, k, c, "mediator") for ch, c, k in zip(
        choices, mediators, data.kinds[q:], strict=True)]
    return confs + meds


def _term_names(node: Node, treatment: str, columns: Sequence[str], covariates) -> tuple[str, ...]:
    names = [INTERCEPT, treatment, *(columns[p] for p in node.parents)]
    names += [f"{treatment}:{columns[p]}" for p in node.interacts]
    names += list(covariates)
    if len(set(names)) != len(names):
        clash = next(n for n in names if names.count(n) > 1)
        raise DataError(f"column name {clash!r} clashes with another model term; rename the column")
    return tuple(names)


def _build(data: ChainData, families: list[Family], y_family: Family, interaction: bool,
           cde_at: tuple[float, ...]) -> _Chain:
    q, k = data.n_confounders, len(data.mediators)
    study = data.study
    if q:
        nodes = interventional_nodes(families[:q], families[q:], y_family, interaction)
        plans = interventional_plans(q, k, cde_at)
        keys = interventional_keys(cde_at)

        def estimands(qs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
            return interventional_estimands(qs, cde_at)
    else:
        nodes = path_nodes(families, y_family, interaction)
        plans = path_plans(k)
        keys = path_keys(data.mediators)

        def estimands(qs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
            return path_estimands(qs, data.mediators)
    variables = list(data.values)
    columns = (*data.columns, study.names["outcome"])
    designs = [node_design(nd, study.treatment, variables, study.covariates) for nd in nodes]
    names = [_term_names(nd, study.names["treatment"], columns, study.covariate_names)
             for nd in nodes]
    return _Chain(data, nodes, designs, names, [*variables, study.outcome], plans, estimands,
                  keys, "interventional" if q else "paths")


def _fit_all(chain: _Chain, weights: ReplicateWeights,
             start: list[ModelFit] | None = None) -> list[ModelFit]:
    return [
        fit_model(node.family, x, y, weights, names, column,
                  None if start is None else start[j].coef[0])
        for j, (node, x, y, names, column) in enumerate(zip(
            chain.nodes, chain.designs, chain.responses, chain.names, chain.columns, strict=True))
    ]


def _means(chain: _Chain, coefs, sigmas, weights, gh_nodes: int) -> dict[str, np.ndarray]:
    return evaluate_plans(chain.nodes, coefs, sigmas, chain.plans,
                          chain.data.study.covariates, weights, gh_nodes)


def _enough_nodes(chain: _Chain, fits: list[ModelFit], unit: ReplicateWeights) -> tuple[int, float]:
    """Double the Gauss-Hermite nodes until every mean changes by less than 1e-6."""
    if not uses_quadrature(chain.nodes, chain.plans):
        return _GH_START, 0.0
    coefs, sigmas = [f.coef for f in fits], [f.sigma for f in fits]
    gh = _GH_START
    cov = chain.data.study.covariates
    error = quadrature_error(chain.nodes, coefs, sigmas, chain.plans, cov, unit, gh)
    while error > _QUADRATURE_TARGET and gh < _GH_MAX:
        gh *= 2
        error = quadrature_error(chain.nodes, coefs, sigmas, chain.plans, cov, unit, gh)
    return gh, error


def _summary(point: float, reps: np.ndarray, ci: str, accel: float, conf: float) -> dict:
    reps = reps[np.isfinite(reps)]
    if ci == "bca":
        lo, hi = bca_interval(reps, point, accel, conf)
    else:
        lo, hi = percentile_interval(reps, conf)
    return {"estimate": point, "std_error": float(np.std(reps, ddof=1)), "ci_lower": lo,
            "ci_upper": hi, "p_value": replicate_p_value(reps)}


def _delta_rows(chain, fits, evaluate, point, conf) -> dict[str, dict[str, float]]:
    """Normal intervals from the delta method over every model's coefficients (and sigmas)."""
    sizes = [f.coef.shape[1] for f in fits]
    linear = [j for j, f in enumerate(fits[:-1]) if f.family == "linear"]
    theta = np.concatenate([*(f.coef[0] for f in fits), *(f.sigma for f in fits[:-1])])
    cov = np.zeros((theta.size, theta.size))
    offsets = np.cumsum([0, *sizes])
    for j, f in enumerate(fits):
        cov[offsets[j]:offsets[j + 1], offsets[j]:offsets[j + 1]] = f.cov
    for j in linear:
        at = offsets[-1] + j
        cov[at, at] = fits[j].sigma[0] ** 2 / (2.0 * fits[j].df_resid)

    def func(batch: np.ndarray) -> dict[str, np.ndarray]:
        coefs = [batch[:, offsets[j]:offsets[j + 1]] for j in range(len(fits))]
        sigmas = [batch[:, offsets[-1] + j] for j in range(len(fits) - 1)]
        unit = ReplicateWeights(chain.data.study.n)
        return evaluate(coefs, [*sigmas, np.ones(batch.shape[0])], unit)

    ses = delta_method(func, theta, cov)
    z = stats.norm.ppf(0.5 + conf / 2.0)
    rows = {}
    for key in chain.keys:
        est, se = point[key], ses[key]
        p = float(2 * stats.norm.sf(abs(est / se))) if se > 0 else float("nan")
        rows[key] = {"estimate": est, "std_error": se, "ci_lower": est - z * se,
                     "ci_upper": est + z * se, "p_value": p}
    return rows


def _draws(chain, fits, evaluate, method, n_boot, bootstrap_weights, seed):
    """Estimands of every bootstrap replicate or quasi-Bayesian draw, and the usable mask."""
    n = chain.data.study.n
    if method == "bootstrap":
        weights = ReplicateWeights(n, n_boot, bootstrap_weights, seed)
        reps = _fit_all(chain, weights, start=fits)
        ok = np.logical_and.reduce([f.ok for f in reps])
        return evaluate([f.coef for f in reps], [f.sigma for f in reps], weights), ok
    rng = np.random.default_rng(seed)
    coefs, sigmas = zip(*(quasi_bayes_draws(f, n_boot, rng) for f in fits), strict=True)
    return evaluate(list(coefs), list(sigmas), ReplicateWeights(n)), np.ones(n_boot, dtype=bool)


def _acceleration(chain, fits, evaluate, seed) -> dict[str, float]:
    n = chain.data.study.n
    jack_w = ReplicateWeights(n, min(n, _JACKKNIFE_MAX_GROUPS), "jackknife", seed)
    jack_fits = _fit_all(chain, jack_w, start=fits)
    jack = evaluate([f.coef for f in jack_fits], [f.sigma for f in jack_fits], jack_w)
    ok = np.logical_and.reduce([f.ok for f in jack_fits])
    return {k: jackknife_acceleration(jack[k][ok & np.isfinite(jack[k])]) for k in chain.keys}


def _check_options(mediators, confounders, cde_at) -> tuple[float, ...]:
    if cde_at is None:
        return ()
    if not confounders or len(mediators) > 1:
        raise ConfigError(
            "cde_at needs a single mediator; with several mediators controlled direct effects "
            "are not reported"
        )
    try:
        values = tuple(dict.fromkeys(float(v) for v in np.atleast_1d(cde_at)))
    except (TypeError, ValueError):
        raise ConfigError(f"cde_at must be a list of numbers; got {cde_at!r}") from None
    if not all(np.isfinite(values)):
        raise ConfigError(f"cde_at values must be finite numbers; got {list(values)}")
    return values


def _default_cde(data: ChainData) -> tuple[float, ...]:
    if data.kinds[-1] == "binary":
        return (0.0, 1.0)
    control = data.values[-1][data.study.treatment == 0]
    return (float(f"{np.mean(control):.3g}"),)


def mediate_sequential(
    data: pd.DataFrame,
    treatment: str,
    mediator: Sequence[str] | str,
    outcome: str,
    covariates: Sequence[str] = (),
    *,
    post_treatment: Sequence[str] | None = None,
    interaction: bool = False,
    mediator_model: str | Sequence[str] = "auto",
    outcome_model: str = "auto",
    method: str = "bootstrap",
    n_boot: int = 1000,
    ci: str = "percentile",
    conf_level: float = 0.95,
    cde_at: Sequence[float] | None = None,
    seed: int | None = None,
    drop_missing: bool = False,
    treated: Any = None,
    bootstrap_weights: str = "multinomial",
) -> MediationResult:
    """Joint natural and path-specific effects, or interventional effects.

    Called by :func:`medbook.mediate` (which validates the common options) for
    ``mediator=[...]`` or ``post_treatment=[...]``; the parameters are those of
    :func:`medbook.mediate`. ``mediator_model`` may list one model per mediator.
    Post-treatment confounders are modelled with ``"auto"`` (logit for 0/1
    columns, linear otherwise) on treatment, covariates and earlier confounders.

    Examples
    --------
    >>> from medbook.simulate import simulate_linear_chain
    >>> res = mediate_sequential(simulate_linear_chain(), "treatment", ["usage", "activation"],
    ...                          "outcome", ["x"], interaction=True, method="delta")
    >>> parts = res["pse(direct)"] + res["pse(activation)"] + res["pse(usage)"]
    >>> abs(parts - res["te"]) < 1e-12
    True
    """
    mediators, confounders = chain_roles(treatment, mediator, outcome, covariates, post_treatment)
    covariates = list(covariates or ())
    cde_values = _check_options(mediators, confounders, cde_at)
    chain_data = prepare_chain(data, treatment, mediators, outcome, covariates, confounders,
                               drop_missing=drop_missing, treated=treated)
    if confounders and cde_at is None and len(mediators) == 1:
        cde_values = _default_cde(chain_data)
    study = chain_data.study
    families = _mediator_families(mediator_model, chain_data)
    y_family = _family(outcome_model, study.outcome_kind, outcome, "outcome")
    chain = _build(chain_data, families, y_family, bool(interaction), cde_values)

    unit = ReplicateWeights(study.n)
    fits = _fit_all(chain, unit)
    gh_nodes, q_error = _enough_nodes(chain, fits, unit)
    warnings = [INTERVENTIONAL_NOTE] if confounders else []
    if q_error > _QUADRATURE_WARN:
        warnings.append(f"numerical integration over the mediators is accurate only to "
                        f"{q_error:.1g}; treat the last digits with caution")

    def evaluate(coefs, sigmas, weights) -> dict[str, np.ndarray]:
        return chain.estimands(_means(chain, coefs, sigmas, weights, gh_nodes))

    q_point = _means(chain, [f.coef for f in fits], [f.sigma for f in fits], unit, gh_nodes)
    point = {k: float(v[0]) for k, v in chain.estimands(q_point).items()}
    details: dict[str, Any] = {"quadrature_nodes": gh_nodes, "quadrature_error": q_error,
                               "sensitivity": SENSITIVITY_NOTE[chain.kind]}
    replicates, n_reps, n_failed = None, 0, 0
    if method == "delta":
        rows = _delta_rows(chain, fits, evaluate, point, conf_level)
        ci = "normal"
    else:
        draws, ok = _draws(chain, fits, evaluate, method, n_boot, bootstrap_weights, seed)
        n_failed, n_reps = int((~ok).sum()), int(ok.sum())
        if n_reps < 2 or n_failed > _FAILED_SHARE_LIMIT * ok.size:
            raise FitError(f"{n_failed} of {ok.size} bootstrap replicates failed (separation or "
                           "no convergence); the models are too fragile for these data")
        if n_failed:
            warnings.append(f"{n_failed} of {ok.size} bootstrap replicates failed to fit "
                            "(separation or no convergence) and were excluded from the intervals")
        if method == "bootstrap":
            details["bootstrap_weights"] = bootstrap_weights
        replicates = pd.DataFrame({k: draws[k][ok] for k in chain.keys})
        accel = _acceleration(chain, fits, evaluate, seed) if ci == "bca" else {}
        if accel:
            details["acceleration"] = accel
        rows = {k: _summary(point[k], replicates[k].to_numpy(), ci, accel.get(k, 0.0),
                            conf_level) for k in chain.keys}
    if study.n_dropped:
        warnings.append(f"{study.n_dropped} row(s) with missing values were dropped")
    effects = pd.DataFrame([{"estimand": k, **rows[k]} for k in chain.keys],
                           columns=EFFECT_COLUMNS)
    potential = (q_point if confounders
                 else {**joint_potential_outcomes(q_point, len(mediators)), **q_point})
    spec = MediationSpec(
        treatment=treatment, mediator=mediators[0], outcome=outcome,
        covariates=tuple(study.covariate_columns), interaction=bool(interaction),
        mediator_model=families[chain_data.n_confounders], outcome_model=y_family,
        method=method, n_boot=n_boot if method != "delta" else 0, ci=ci,
        conf_level=float(conf_level), cde_at=cde_values, seed=seed,
        mediators=tuple(mediators), post_treatment=tuple(confounders),
    )
    return MediationResult(
        effects=effects,
        potential_outcomes={k: float(v[0]) for k, v in potential.items()
                            if not k.startswith("cde")},
        spec=spec,
        scale="risk difference" if y_family != "linear" else "difference",
        n=study.n, n_replicates=n_reps, n_failed=n_failed, warnings=warnings,
        replicates=replicates, mediator_fit=fits[chain_data.n_confounders],
        outcome_fit=fits[-1], data=study, **details,
        models=dict(zip(chain.columns, fits, strict=True)),
        model_data={c: (x, y) for c, x, y in zip(
            chain.columns, chain.designs, chain.responses, strict=True)},
    )
