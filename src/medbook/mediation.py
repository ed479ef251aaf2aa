"""The front door: :func:`mediate` estimates total, natural and controlled effects.

:func:`mediate` is a conductor: it validates the options (:mod:`medbook.options`),
prepares the data (:mod:`medbook.data`), fits both models once
(:func:`medbook.fit.fit_pair`), evaluates the g-formula (:mod:`medbook.effects`)
and hands the uncertainty to :mod:`medbook.inference` (delta method, bootstrap
or quasi-Bayesian simulation).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any, Literal

import numpy as np
import pandas as pd

from .backends import is_dask_frame
from .counts import check_counts, is_count_column
from .data import AnalysisData, prepare
from .effects import (
    LOG_LINK,
    EffectModel,
    estimand_keys,
    estimands,
    mediator_design,
    outcome_design,
    potential_outcomes,
    quadrature_error,
)
from .errors import ConfigError, FitError
from .fit import Family, ModelFit, ModelPair, fit_pair
from .inference import (
    Evaluate,
    Inference,
    bootstrap_inference,
    delta_inference,
    quasi_bayes_inference,
)
from .membudget import check_memory
from .options import resolve
from .replicates import limit_fit_warnings
from .results import EFFECT_COLUMNS, MediationResult, MediationSpec
from .scales import Scale, check_scale, from_working, scale_label, working
from .sequential import mediate_sequential
from .weights import ReplicateWeights

__all__ = ["mediate"]

Method = Literal["bootstrap", "quasi_bayes", "delta"]
Interval = Literal["percentile", "bca"]
ModelChoice = Literal["auto", "linear", "logit", "probit"]
OutcomeChoice = Literal["auto", "linear", "logit", "probit", "poisson", "negbin"]
BootstrapWeights = Literal["multinomial", "poisson"]

_QUADRATURE_TARGET = 1e-6
_QUADRATURE_WARN = 1e-4
_QUADRATURE_MAX_NODES = 160  # the error check uses twice as many; numpy is exact to 320


def mediate(
    data: pd.DataFrame,
    treatment: str,
    mediator: str | Sequence[str],
    outcome: str,
    covariates: Sequence[str] = (),
    *,
    post_treatment: Sequence[str] | None = None,
    interaction: bool = False,
    mediator_model: ModelChoice | Sequence[ModelChoice] = "auto",
    outcome_model: OutcomeChoice = "auto",
    method: Method = "bootstrap",
    n_boot: int = 1000,
    ci: Interval = "percentile",
    conf_level: float = 0.95,
    cde_at: Sequence[float] | None = None,
    seed: int | None = None,
    drop_missing: bool = False,
    treated: Any = None,
    bootstrap_weights: BootstrapWeights = "multinomial",
    scale: Scale = "difference",
    auto_counts: bool = False,
) -> MediationResult:
    """Estimate total, natural direct/indirect and controlled direct effects.

    The mediator model regresses the mediator on treatment and covariates; the
    outcome model regresses the outcome on treatment, mediator (optionally their
    product) and covariates. Effects follow the mediational g-formula averaged
    over the empirical covariate distribution, on the difference scale (risk
    difference for a binary outcome). With linear models and no interaction this
    is the product-of-coefficients method; with an interaction it equals the
    VanderWeele-Vansteelandt closed forms at the covariate means.

    Parameters
    ----------
    data : pandas.DataFrame or dask.dataframe.DataFrame
        One row per unit. A Dask frame runs on the current ``distributed.Client``
        (else Dask's default scheduler) and keeps its rows on the cluster; it
        supports one mediator and the bootstrap with percentile intervals, and
        always draws Poisson(1) replicate weights.
    treatment, outcome : str
        Column names; the treatment must have exactly two values.
    mediator : str or list of str
        The mediator column, or several in causal order (each may affect the
        later ones): the result then holds the joint effects ``te, nde*,
        nie*, pm`` through all of them and the sequential path-specific effects
        ``pse(direct)``, ``pse(<column>)`` (see :mod:`medbook.paths`).
    covariates : sequence of str
        Pre-treatment covariates (text and boolean columns are dummy-encoded).
    post_treatment : list of str, optional
        Measured confounders of the mediator-outcome relation that treatment
        affects. Natural effects are then not identified; the result holds the
        interventional effects ``rte, rnde0, rnde1, rnie0, rnie1`` and
        controlled direct effects (see :mod:`medbook.interventional`).
    interaction : bool
        Include the treatment x mediator product(s) in the outcome model.
    mediator_model : {"auto", "linear", "logit", "probit"}
        ``"auto"`` fits logit for 0/1 columns and linear otherwise; with several
        mediators ``mediator_model`` may list one choice per mediator.
    outcome_model : {"auto", "linear", "logit", "probit", "poisson", "negbin"}
        As ``mediator_model``, plus count models with a log link: Poisson, or the
        NB2 negative binomial with its dispersion estimated (non-negative integer
        outcomes only). ``"auto"`` keeps the rule above unless ``auto_counts``.
    method : {"bootstrap", "quasi_bayes", "delta"}
        Nonparametric bootstrap (replicate weights), quasi-Bayesian simulation
        from the models' asymptotic distribution (Imai, Keele & Tingley 2010),
        or the delta method (normal intervals).
    n_boot : int
        Bootstrap replicates or quasi-Bayesian draws (2 to 100,000).
    ci : {"percentile", "bca"}
        Interval type for the bootstrap (BCa uses a jackknife acceleration).
    conf_level : float
        Confidence level of the intervals, in [0.5, 1).
    cde_at : sequence of float, optional
        Mediator values for controlled direct effects; by default 0 and 1 for a
        binary mediator and the control-arm mean otherwise.
    seed : int, optional
        Seed for resampling and simulation; the same seed gives identical results.
    drop_missing : bool
        Drop rows with missing values (reported in the result) instead of failing.
    treated : optional
        The treatment value of the treated arm. Required unless the treatment
        is coded 0/1 or false/true (then 1 / true is treated): medbook never
        guesses a direction from text such as ``"treated"``/``"untreated"``.
    bootstrap_weights : {"multinomial", "poisson"}
        Classical resampling or Poisson(1) weights keyed by seed and row (suited to
        streamed data; the same draws as the Dask route).
    scale : {"difference", "ratio", "odds_ratio"}
        Contrast of the potential-outcome means (:mod:`medbook.scales`):
        differences, ratios (risk, rate or mean ratios; ``nde0 * nie1 == te``)
        or odds ratios of the marginal means (0/1 outcomes only). Ratio
        intervals, standard errors and p-values are computed on the log scale.
    auto_counts : bool
        Ask ``outcome_model="auto"`` to fit a Poisson model to an outcome of
        non-negative integers with more than two distinct values (otherwise such
        a column gets the linear model, as before).

    Every option is validated by :data:`medbook.options.OPTIONS`, the table that
    study files use too.

    Returns
    -------
    MediationResult

    Examples
    --------
    >>> from medbook.simulate import simulate_linear
    >>> res = mediate(simulate_linear(), "treatment", "mediator", "outcome", ["x"],
    ...               method="delta")
    >>> round(res["nie1"], 3), round(res["nde0"], 3), round(res["te"], 3)
    (1.324, 1.066, 2.389)
    """
    opts = resolve({
        "interaction": interaction, "mediator_model": mediator_model,
        "outcome_model": outcome_model, "method": method, "n_boot": n_boot, "ci": ci,
        "conf_level": conf_level, "cde_at": cde_at, "seed": seed,
        "treated": treated, "bootstrap_weights": bootstrap_weights,
        "scale": scale, "auto_counts": auto_counts,
    })
    covariates = () if covariates is None else covariates
    if is_dask_frame(data):  # the rows stay on the cluster: a separate route
        from .backends.dask_mediate import mediate_dask

        if post_treatment is not None or not isinstance(mediator, str):
            raise ConfigError(
                "a Dask data frame supports one mediator and no post-treatment confounders"
            )
        _difference_scale_only(opts, "a Dask data frame")
        return mediate_dask(
            data, treatment, mediator, outcome, covariates, drop_missing=drop_missing,
            **{k: v for k, v in opts.items() if k not in _SINGLE_ROUTE_ONLY},
        )
    if post_treatment is not None or not isinstance(mediator, str):
        if not _single(mediator, post_treatment, opts):
            _difference_scale_only(opts, "several mediators or post-treatment confounders")
            return mediate_sequential(
                data, treatment, mediator, outcome, covariates, post_treatment=post_treatment,
                drop_missing=drop_missing,
                **{k: v for k, v in opts.items() if k not in ("scale", "auto_counts")},
            )
        mediator = mediator[0]
    study = prepare(
        data, treatment, mediator, outcome, covariates,
        drop_missing=drop_missing, treated=opts["treated"],
    )
    pair = _model_pair(study, opts, mediator, outcome)
    p_largest = max(pair.xm.shape[1], pair.xy.shape[1] + 1)
    check_memory(study.n, _replicate_fits(opts, study.n), p_largest)
    scale = check_scale(opts["scale"], study.outcome_kind, outcome)
    cde_values = _default_cde_at(study) if opts["cde_at"] is None else opts["cde_at"]
    model = EffectModel(pair.m_family, pair.y_family, opts["interaction"], cde_values)
    unit = ReplicateWeights(study.n)
    med_fit, out_fit, unit_means = fit_pair(pair, unit)
    model, q_error = _quadrature(model, med_fit, out_fit, study, unit)
    po = potential_outcomes(
        model, med_fit.coef, out_fit.coef, med_fit.sigma, study.covariates, unit, unit_means
    )
    point = {k: float(v[0]) for k, v in estimands(po, scale).items()}
    _check_defined(point, scale)
    # Inference runs on the working scale (log for ratios) and is mapped back.
    evaluate = _evaluator(model, study, unit, unit_means, scale)
    working_point = {k: float(working(v, k, scale)) for k, v in point.items()}
    inference = _natural(
        _inference(opts, pair, evaluate, (med_fit, out_fit), working_point, model.cde_at),
        point, scale,
    )
    return MediationResult(
        effects=pd.DataFrame(
            [{"estimand": k, **row} for k, row in inference.rows.items()], columns=EFFECT_COLUMNS
        ),
        potential_outcomes={k: float(po[k][0]) for k in ("y1m1", "y0m0", "y1m0", "y0m1")},
        spec=replace(
            _spec(opts, study, model, inference.ci, (treatment, mediator, outcome)), scale=scale
        ),
        scale=scale_label(scale, _outcome_type(pair.y_family)),
        n=study.n,
        n_replicates=inference.n_replicates,
        n_failed=inference.n_failed,
        warnings=limit_fit_warnings(study, {mediator: med_fit, outcome: out_fit})
        + _warnings(q_error, inference, study),
        replicates=inference.replicates,
        mediator_fit=med_fit,
        outcome_fit=out_fit,
        data=study,
        accounting=inference.accounting,
        **_details(model, q_error, opts, inference),
    )


def _replicate_fits(opts: dict[str, Any], n: int) -> int:
    """Weightings the kernel fits at once: bootstrap replicates (or jackknife groups)."""
    if opts["method"] != "bootstrap":
        return 1
    return max(opts["n_boot"], min(n, 1000) if opts["ci"] == "bca" else 1)


def _single(mediator: Any, post_treatment: Any, opts: dict[str, Any]) -> bool:
    """A one-element mediator list without post-treatment confounders is the single route."""
    return post_treatment is None and isinstance(mediator, (list, tuple)) and (
        len(mediator) == 1 and isinstance(opts["mediator_model"], str)
    )


_SINGLE_ROUTE_ONLY = ("bootstrap_weights", "scale", "auto_counts")


def _difference_scale_only(opts: dict[str, Any], route: str) -> None:
    """Ratio scales and count models are available on the one-mediator route only."""
    if opts["scale"] != "difference":
        raise ConfigError(
            f"scale {opts['scale']!r} is not available with {route}; use scale='difference'"
        )
    if opts["outcome_model"] in LOG_LINK or opts["auto_counts"]:
        raise ConfigError(f"count outcome models are not available with {route}")


def _outcome_type(family: str) -> str:
    """``binary``, ``count`` or ``continuous``: what the outcome model treats the outcome as."""
    if family in ("logit", "probit"):
        return "binary"
    return "count" if family in LOG_LINK else "continuous"


def _check_defined(point: dict[str, float], scale: str) -> None:
    """Ratios need positive means (odds ratios, means inside (0, 1))."""
    bad = [k for k, v in point.items() if k != "pm" and not np.isfinite(v)]
    if scale != "difference" and bad:
        raise FitError(
            f"the {scale} scale needs positive potential-outcome means, but {bad[0]} is "
            "undefined for these data (a mean is zero or negative); use scale='difference'"
        )


def _natural(inference: Inference, point: dict[str, float], scale: str) -> Inference:
    """Map working-scale (log-ratio) rows and replicates back to the reported scale.

    Estimates and interval limits are ratios again; ``std_error`` and ``p_value``
    stay those of the log ratio (the p-value tests a ratio of 1).
    """
    if scale == "difference":
        return inference
    for key, row in inference.rows.items():
        lo, hi = from_working(np.array([row["ci_lower"], row["ci_upper"]]), key, scale)
        row.update(estimate=point[key], ci_lower=float(lo), ci_upper=float(hi))
    if inference.replicates is not None:
        for key in inference.replicates:
            inference.replicates[key] = from_working(inference.replicates[key], key, scale)
    return inference


def _outcome_family(opts: dict[str, Any], study: AnalysisData, column: str) -> Family:
    """The outcome model; ``auto_counts`` lets ``"auto"`` pick Poisson for count columns."""
    choice = opts["outcome_model"]
    if choice == "auto" and opts["auto_counts"] and is_count_column(study.outcome):
        return "poisson"
    family = _family(choice, study.outcome_kind, "outcome", column)
    if family in LOG_LINK:
        check_counts(study.outcome, column, family)
    return family


def _family(choice: Any, kind: str, role: str, column: str) -> Family:
    if not isinstance(choice, str):
        raise ConfigError(f"{role}_model lists {len(choice)} models for one {role}")
    if choice == "auto":
        return "logit" if kind == "binary" else "linear"
    if choice in ("logit", "probit") and kind != "binary":
        raise ConfigError(
            f"{role} model {choice!r} needs a 0/1 column, but {column!r} is not binary"
        )
    return choice  # type: ignore[return-value]


def _model_pair(
    study: AnalysisData, opts: dict[str, Any], mediator: str, outcome: str
) -> ModelPair:
    """Families, designs and responses of the two models."""
    xm, m_names = mediator_design(study)
    xy, y_names = outcome_design(study, opts["interaction"])
    return ModelPair(
        m_family=_family(opts["mediator_model"], study.mediator_kind, "mediator", mediator),
        y_family=_outcome_family(opts, study, outcome),
        xm=xm, m=study.mediator, m_names=m_names, m_column=mediator,
        xy=xy, y=study.outcome, y_names=y_names, y_column=outcome,
        n_covariates=study.covariates.shape[1],
    )


def _default_cde_at(data: AnalysisData) -> tuple[float, ...]:
    if data.mediator_kind == "binary":
        return (0.0, 1.0)
    control_mean = float(np.mean(data.mediator[data.treatment == 0]))
    return (float(f"{control_mean:.3g}"),)


def _evaluator(
    model: EffectModel, study: AnalysisData, unit: ReplicateWeights, unit_means: Any, scale: Scale
) -> Evaluate:
    """Estimands of coefficient batches (by default under unit weights), on the working scale."""

    def evaluate(alpha, beta, sigma, weights=unit, means=unit_means) -> dict[str, np.ndarray]:
        values = estimands(
            potential_outcomes(model, alpha, beta, sigma, study.covariates, weights, means),
            scale,
        )
        return {k: working(v, k, scale) for k, v in values.items()}

    return evaluate


def _inference(
    opts: dict[str, Any],
    pair: ModelPair,
    evaluate: Evaluate,
    fits: tuple[ModelFit, ModelFit],
    point: dict[str, float],
    cde_values: tuple[float, ...],
) -> Inference:
    """Dispatch to the delta method, the bootstrap or quasi-Bayesian simulation."""
    keys = estimand_keys(cde_values)
    level, seed = opts["conf_level"], opts["seed"]
    if opts["method"] == "delta":
        return delta_inference(evaluate, *fits, point, keys, level)
    if opts["method"] == "bootstrap":
        return bootstrap_inference(
            pair, evaluate, fits, point, keys, n_boot=opts["n_boot"],
            weights_kind=opts["bootstrap_weights"], seed=seed, conf_level=level, ci=opts["ci"],
        )
    return quasi_bayes_inference(
        *fits, evaluate, point, keys, n_draws=opts["n_boot"], seed=seed, conf_level=level,
        ci=opts["ci"],
    )


def _quadrature(
    model: EffectModel, med_fit: ModelFit, out_fit: ModelFit, study: AnalysisData, unit: Any
) -> tuple[EffectModel, float | None]:
    """Double the Gauss-Hermite nodes until the potential outcomes change by < 1e-6.

    Only a linear mediator under a logit outcome needs numerical integration.
    """
    if not (model.mediator_family == "linear" and model.outcome_family == "logit"):
        return model, None
    args = (med_fit.coef, out_fit.coef, med_fit.sigma, study.covariates, unit)
    error = quadrature_error(model, *args)
    while error > _QUADRATURE_TARGET and model.gh_nodes < _QUADRATURE_MAX_NODES:
        model = replace(model, gh_nodes=2 * model.gh_nodes)
        error = quadrature_error(model, *args)
    return model, error


def _details(
    model: EffectModel, q_error: float | None, opts: dict[str, Any], inference: Inference
) -> dict[str, Any]:
    """Method-specific extras: quadrature accuracy, resampling weights, BCa acceleration."""
    details: dict[str, Any] = {}
    if q_error is not None:
        details.update(quadrature_nodes=model.gh_nodes, quadrature_error=q_error)
    if opts["method"] == "bootstrap":
        details["bootstrap_weights"] = opts["bootstrap_weights"]
    if inference.acceleration is not None:
        details["acceleration"] = inference.acceleration
    if opts["scale"] != "difference":
        details["log_scale_inference"] = (
            "std_error, p_value and the intervals of the ratio estimands are computed on the "
            "log scale; pm is a proportion on its natural scale"
        )
    return details


def _warnings(q_error: float | None, inference: Inference, study: AnalysisData) -> list[str]:
    warnings = []
    if q_error is not None and q_error > _QUADRATURE_WARN:
        warnings.append(
            f"numerical integration over the mediator is accurate only to {q_error:.1g} "
            "(a very steep outcome model); treat the last digits with caution"
        )
    warnings += inference.warnings
    if study.n_dropped:
        warnings.append(f"{study.n_dropped} row(s) with missing values were dropped")
    return warnings


def _spec(
    opts: dict[str, Any], study: AnalysisData, model: EffectModel, ci: str, roles: tuple[str, ...]
) -> MediationSpec:
    treatment, mediator, outcome = roles
    return MediationSpec(
        treatment=treatment, mediator=mediator, outcome=outcome,
        covariates=tuple(study.covariate_columns), interaction=opts["interaction"],
        mediator_model=model.mediator_family, outcome_model=model.outcome_family,
        method=opts["method"], n_boot=opts["n_boot"] if opts["method"] != "delta" else 0, ci=ci,
        conf_level=opts["conf_level"], cde_at=model.cde_at, seed=opts["seed"],
    )
