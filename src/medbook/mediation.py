"""The front door: :func:`mediate` estimates total, natural and controlled effects."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any, Literal, get_args

import numpy as np
import pandas as pd
from scipy import stats

from .backends import is_dask_frame
from .data import StudyData, prepare
from .effects import (
    EffectModel,
    estimand_keys,
    estimands,
    mediator_design,
    outcome_design,
    potential_outcomes,
    quadrature_error,
)
from .errors import ConfigError, FitError
from .fit import Family, ModelFit, fit_model, linear_from_moments, moments, naming_errors
from .inference import (
    bca_interval,
    delta_method,
    jackknife_acceleration,
    percentile_interval,
    quasi_bayes_draws,
    replicate_p_value,
)
from .results import EFFECT_COLUMNS, MediationResult, MediationSpec
from .sequential import mediate_sequential
from .weights import ReplicateWeights

__all__ = ["mediate"]

Method = Literal["bootstrap", "quasi_bayes", "delta"]
Interval = Literal["percentile", "bca"]
ModelChoice = Literal["auto", "linear", "logit", "probit"]
BootstrapWeights = Literal["multinomial", "poisson"]

_JACKKNIFE_MAX_GROUPS = 1000
_QUADRATURE_TARGET = 1e-6
_QUADRATURE_WARN = 1e-4
_QUADRATURE_MAX_NODES = 160  # the error check uses twice as many; numpy is exact to 320
_FAILED_SHARE_LIMIT = 0.5


def _choice(value: Any, allowed: Any, name: str) -> str:
    options = get_args(allowed)
    normalised = str(value).lower().replace("-", "_") if isinstance(value, str) else value
    if normalised not in options:
        raise ConfigError(f"{name} must be one of {', '.join(options)}; got {value!r}")
    return normalised


def _family(choice: str, kind: str, role: str, column: str) -> Family:
    if choice == "auto":
        return "logit" if kind == "binary" else "linear"
    if choice in ("logit", "probit") and kind != "binary":
        raise ConfigError(
            f"{role} model {choice!r} needs a 0/1 column, but {column!r} is not binary"
        )
    return choice  # type: ignore[return-value]


def _cde_values(cde_at: Sequence[float]) -> tuple[float, ...]:
    try:
        values = tuple(dict.fromkeys(float(v) for v in np.atleast_1d(cde_at)))
    except (TypeError, ValueError):
        raise ConfigError(f"cde_at must be a list of numbers; got {cde_at!r}") from None
    if not all(np.isfinite(values)):
        raise ConfigError(f"cde_at values must be finite numbers; got {list(values)}")
    return values


def _default_cde_at(data: StudyData) -> tuple[float, ...]:
    if data.mediator_kind == "binary":
        return (0.0, 1.0)
    control_mean = float(np.mean(data.mediator[data.treatment == 0]))
    return (float(f"{control_mean:.3g}"),)


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
    outcome_model: ModelChoice = "auto",
    method: Method = "bootstrap",
    n_boot: int = 1000,
    ci: Interval = "percentile",
    conf_level: float = 0.95,
    cde_at: Sequence[float] | None = None,
    seed: int | None = None,
    drop_missing: bool = False,
    treated_level: Any = None,
    bootstrap_weights: BootstrapWeights = "multinomial",
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
    mediator_model, outcome_model : {"auto", "linear", "logit", "probit"}
        ``"auto"`` fits logit for 0/1 columns and linear otherwise; with several
        mediators ``mediator_model`` may list one choice per mediator.
    method : {"bootstrap", "quasi_bayes", "delta"}
        Nonparametric bootstrap (replicate weights), quasi-Bayesian simulation
        from the models' asymptotic distribution (Imai, Keele & Tingley 2010),
        or the delta method (normal intervals).
    n_boot : int
        Bootstrap replicates or quasi-Bayesian draws.
    ci : {"percentile", "bca"}
        Interval type for the bootstrap (BCa uses a jackknife acceleration).
    conf_level : float
        Confidence level of the intervals.
    cde_at : sequence of float, optional
        Mediator values for controlled direct effects; by default 0 and 1 for a
        binary mediator and the control-arm mean otherwise.
    seed : int, optional
        Seed for resampling and simulation; the same seed gives identical results.
    drop_missing : bool
        Drop rows with missing values (reported in the result) instead of failing.
    treated_level : optional
        Treatment value meaning "treated" (default: the larger value).
    bootstrap_weights : {"multinomial", "poisson"}
        Classical resampling or Poisson(1) weights keyed by seed and row (suited to
        streamed data; the same draws as the Dask route).

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
    method = _choice(method, Method, "method")
    ci_kind = _choice(ci, Interval, "ci")
    bootstrap_weights = _choice(bootstrap_weights, BootstrapWeights, "bootstrap_weights")
    if ci_kind == "bca" and method != "bootstrap":
        raise ConfigError("ci='bca' needs method='bootstrap'")
    if isinstance(n_boot, bool) or not isinstance(n_boot, (int, np.integer)):
        raise ConfigError(f"n_boot must be an integer; got {n_boot!r}")
    if method != "delta" and n_boot < 2:
        raise ConfigError(f"n_boot must be an integer of at least 2; got {n_boot!r}")
    if not 0.5 <= conf_level < 1.0:
        raise ConfigError(f"conf_level must lie in [0.5, 1); got {conf_level!r}")
    if seed is not None:
        if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
            raise ConfigError(f"seed must be a non-negative integer; got {seed!r}")
        seed = int(seed)
    n_boot = int(n_boot)
    covariates = () if covariates is None else covariates
    if is_dask_frame(data):  # the rows stay on the cluster: a separate route
        from .backends.dask_mediate import mediate_dask

        if post_treatment is not None or not isinstance(mediator, str):
            raise ConfigError(
                "a Dask data frame supports one mediator and no post-treatment confounders"
            )
        return mediate_dask(
            data, treatment, mediator, outcome, covariates, interaction=interaction,
            mediator_model=_choice(mediator_model, ModelChoice, "mediator_model"),
            outcome_model=_choice(outcome_model, ModelChoice, "outcome_model"),
            method=method, n_boot=n_boot, ci=ci_kind, conf_level=conf_level, cde_at=cde_at,
            seed=seed, drop_missing=drop_missing, treated_level=treated_level,
        )
    if post_treatment is not None or not isinstance(mediator, str):
        single = post_treatment is None and isinstance(mediator, (list, tuple)) and (
            len(mediator) == 1 and isinstance(mediator_model, str)
        )
        if not single:
            return mediate_sequential(
                data, treatment, mediator, outcome, covariates, post_treatment=post_treatment,
                interaction=interaction, mediator_model=mediator_model,
                outcome_model=outcome_model, method=method, n_boot=n_boot, ci=ci_kind,
                conf_level=conf_level, cde_at=cde_at, seed=seed, drop_missing=drop_missing,
                treated_level=treated_level, bootstrap_weights=bootstrap_weights,
            )
        mediator = mediator[0]

    study = prepare(
        data, treatment, mediator, outcome, covariates,
        drop_missing=drop_missing, treated_level=treated_level,
    )
    m_family = _family(
        _choice(mediator_model, ModelChoice, "mediator_model"), study.mediator_kind,
        "mediator", mediator,
    )
    y_family = _family(
        _choice(outcome_model, ModelChoice, "outcome_model"), study.outcome_kind,
        "outcome", outcome,
    )
    cde_values = _default_cde_at(study) if cde_at is None else _cde_values(cde_at)
    model = EffectModel(m_family, y_family, bool(interaction), cde_values)
    xm, m_names = mediator_design(study)
    xy, y_names = outcome_design(study, bool(interaction))

    p_y = xy.shape[1]
    cov_cols = list(range(p_y - study.covariates.shape[1], p_y))
    both_linear = m_family == y_family == "linear"
    z = np.column_stack([xy, study.outcome]) if both_linear else None

    def fit_both(
        weights: ReplicateWeights, start: tuple[ModelFit, ModelFit] | None = None
    ) -> tuple[ModelFit, ModelFit, np.ndarray | None]:
        """Both models (and, when linear, the covariate means) for these weights."""
        if both_linear:
            # One pass over the rows: both linear models follow from the same moments.
            mom = moments(z, weights)
            with naming_errors("linear", mediator):
                med = linear_from_moments(mom, [0, 1, *cov_cols], 2, m_names)
            with naming_errors("linear", outcome):
                out = linear_from_moments(mom, list(range(p_y)), p_y, y_names)
            return med, out, mom.means(cov_cols)
        m0, y0 = (start[0].coef[0], start[1].coef[0]) if start else (None, None)
        med = fit_model(m_family, xm, study.mediator, weights, m_names, mediator, m0)
        out = fit_model(y_family, xy, study.outcome, weights, y_names, outcome, y0)
        return med, out, None

    unit = ReplicateWeights(study.n)
    med_fit, out_fit, unit_means = fit_both(unit)

    def evaluate(alpha, beta, sigma, weights, means=None) -> dict[str, np.ndarray]:
        return estimands(
            potential_outcomes(model, alpha, beta, sigma, study.covariates, weights, means)
        )

    details: dict[str, Any] = {}
    warnings: list[str] = []
    if m_family == "linear" and y_family == "logit":
        model, error = _enough_nodes(model, med_fit, out_fit, study.covariates, unit)
        details["quadrature_nodes"] = model.gh_nodes
        details["quadrature_error"] = error
        if error > _QUADRATURE_WARN:
            warnings.append(
                f"numerical integration over the mediator is accurate only to {error:.1g} "
                "(a very steep outcome model); treat the last digits with caution"
            )
    po_point = potential_outcomes(
        model, med_fit.coef, out_fit.coef, med_fit.sigma, study.covariates, unit, unit_means
    )
    point = {k: float(v[0]) for k, v in estimands(po_point).items()}
    keys = estimand_keys(cde_values)

    n_failed = 0
    replicates: pd.DataFrame | None = None
    rows: dict[str, dict[str, float]] = {}
    if method == "delta":
        p_m = med_fit.coef.shape[1]
        p_y = out_fit.coef.shape[1]
        theta = np.concatenate([med_fit.coef[0], out_fit.coef[0], med_fit.sigma])
        cov = np.zeros((theta.size, theta.size))
        cov[:p_m, :p_m] = med_fit.cov
        cov[p_m : p_m + p_y, p_m : p_m + p_y] = out_fit.cov
        if m_family == "linear":
            cov[-1, -1] = med_fit.sigma[0] ** 2 / (2.0 * med_fit.df_resid)

        def func(batch: np.ndarray) -> dict[str, np.ndarray]:
            return evaluate(
                batch[:, :p_m], batch[:, p_m : p_m + p_y], batch[:, -1], unit, unit_means
            )

        ses = delta_method(func, theta, cov)
        z = stats.norm.ppf(0.5 + conf_level / 2.0)
        for key in keys:
            est, se = point[key], ses[key]
            rows[key] = {
                "estimate": est,
                "std_error": se,
                "ci_lower": est - z * se,
                "ci_upper": est + z * se,
                "p_value": float(2 * stats.norm.sf(abs(est / se))) if se > 0 else float("nan"),
            }
        ci_kind = "normal"
        n_reps = 0
    else:
        if method == "bootstrap":
            weights = ReplicateWeights(study.n, n_boot, bootstrap_weights, seed)
            med_b, out_b, means = fit_both(weights, start=(med_fit, out_fit))
            ok = med_b.ok & out_b.ok
            draws = evaluate(med_b.coef, out_b.coef, med_b.sigma, weights, means)
            details["bootstrap_weights"] = bootstrap_weights
        else:
            rng = np.random.default_rng(seed)
            alpha, sigma = quasi_bayes_draws(med_fit, n_boot, rng)
            beta, _ = quasi_bayes_draws(out_fit, n_boot, rng)
            ok = np.ones(n_boot, dtype=bool)
            draws = evaluate(alpha, beta, sigma, unit, unit_means)
        n_failed = int((~ok).sum())
        n_reps = int(ok.sum())
        if n_reps < 2 or n_failed > _FAILED_SHARE_LIMIT * ok.size:
            raise FitError(
                f"{n_failed} of {ok.size} bootstrap replicates failed (separation or no "
                "convergence); the models are too fragile for these data"
            )
        if n_failed:
            warnings.append(
                f"{n_failed} of {ok.size} bootstrap replicates failed to fit (separation or "
                "no convergence) and were excluded from the intervals"
            )
        replicates = pd.DataFrame({k: draws[k][ok] for k in keys})
        acceleration = {}
        if ci_kind == "bca":
            acceleration = _bca_acceleration(
                study, lambda w: fit_both(w, start=(med_fit, out_fit)), evaluate, seed, keys
            )
            details["acceleration"] = acceleration
        for key in keys:
            reps = replicates[key].to_numpy()
            reps = reps[np.isfinite(reps)]
            if ci_kind == "bca":
                lo, hi = bca_interval(reps, point[key], acceleration[key], conf_level)
            else:
                lo, hi = percentile_interval(reps, conf_level)
            rows[key] = {
                "estimate": point[key],
                "std_error": float(np.std(reps, ddof=1)),
                "ci_lower": lo,
                "ci_upper": hi,
                "p_value": replicate_p_value(reps),
            }

    effects = pd.DataFrame([{"estimand": k, **rows[k]} for k in keys], columns=EFFECT_COLUMNS)
    spec = MediationSpec(
        treatment=treatment,
        mediator=mediator,
        outcome=outcome,
        covariates=tuple(study.covariate_columns),
        interaction=bool(interaction),
        mediator_model=m_family,
        outcome_model=y_family,
        method=method,
        n_boot=n_boot if method != "delta" else 0,
        ci=ci_kind,
        conf_level=float(conf_level),
        cde_at=cde_values,
        seed=seed,
    )
    if study.n_dropped:
        warnings.append(f"{study.n_dropped} row(s) with missing values were dropped")
    return MediationResult(
        effects=effects,
        potential_outcomes={k: float(v[0]) for k, v in po_point.items() if k.startswith("y")},
        spec=spec,
        scale="risk difference" if y_family != "linear" else "difference",
        n=study.n,
        n_replicates=n_reps,
        n_failed=n_failed,
        warnings=warnings,
        replicates=replicates,
        mediator_fit=med_fit,
        outcome_fit=out_fit,
        data=study,
        details=details,
    )


def _enough_nodes(
    model: EffectModel, med_fit: ModelFit, out_fit: ModelFit, covariates, unit
) -> tuple[EffectModel, float]:
    """Double the Gauss-Hermite nodes until the potential outcomes change by < 1e-6."""
    error = quadrature_error(model, med_fit.coef, out_fit.coef, med_fit.sigma, covariates, unit)
    while error > _QUADRATURE_TARGET and model.gh_nodes < _QUADRATURE_MAX_NODES:
        model = replace(model, gh_nodes=2 * model.gh_nodes)
        error = quadrature_error(
            model, med_fit.coef, out_fit.coef, med_fit.sigma, covariates, unit
        )
    return model, error


def _bca_acceleration(study, fit_both, evaluate, seed, keys) -> dict[str, float]:
    """Jackknife acceleration per estimand (grouped jackknife for large ``n``)."""
    groups = min(study.n, _JACKKNIFE_MAX_GROUPS)
    jack_w = ReplicateWeights(study.n, groups, "jackknife", seed)
    med_j, out_j, means = fit_both(jack_w)
    jack = evaluate(med_j.coef, out_j.coef, med_j.sigma, jack_w, means)
    ok = med_j.ok & out_j.ok
    return {k: jackknife_acceleration(jack[k][ok & np.isfinite(jack[k])]) for k in keys}
