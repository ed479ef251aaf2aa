""":func:`medbook.mediate` on a ``dask.dataframe.DataFrame``: the rows stay on the cluster.

The conductor mirrors the in-memory route step by step: survey and encode the
frame (:mod:`.dask_frame`), fit both models for the point estimate and for all
bootstrap replicates at once (:mod:`.dask_fit`; each Newton iteration or moment
pass is one map over the row blocks and a tree sum), then evaluate the
g-formula with the same :mod:`medbook.effects` code. The bootstrap draws
Poisson(1) weights keyed by seed and row (:mod:`medbook.rowstream`), so the
result does not depend on partitions or workers and equals the in-memory
``bootstrap_weights="poisson"`` result.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import numpy as np
import pandas as pd

from ..effects import (
    INTERCEPT,
    EffectModel,
    _unique_terms,
    estimand_keys,
    estimands,
    potential_outcomes,
)
from ..errors import ConfigError
from ..fit import Family, ModelFit, linear_from_moments, naming_errors
from ..inference import replicate_inference
from ..results import EFFECT_COLUMNS, MediationResult, MediationSpec
from ..rowstream import stream_key
from .dask_fit import (
    GlmSpec,
    Layout,
    Scaling,
    WeightSpec,
    column_scaling,
    fit_glms,
    moments_dask,
    potential_outcomes_dask,
)
from .dask_frame import DaskStudy, encode_frame, survey_frame
from .dask_passes import persist

__all__ = ["mediate_dask"]

_QUADRATURE_TARGET = 1e-6
_QUADRATURE_WARN = 1e-4
_QUADRATURE_MAX_NODES = 160


class _Route:
    """The cluster-side study and how to fit its two models for a set of weights."""

    def __init__(self, study: DaskStudy, blocks: Any, families: tuple[Family, Family],
                 interaction: bool):
        self.study, self.blocks = study, blocks
        self.m_family, self.y_family = families
        self.layout = Layout(interaction, len(study.covariate_names))
        self.scaling: Scaling = column_scaling(blocks, self.layout)
        names = study.names
        self.m_names = _unique_terms((INTERCEPT, names["treatment"], *study.covariate_names))
        y_terms = [INTERCEPT, names["treatment"], names["mediator"]]
        if interaction:
            y_terms.append(f"{names['treatment']}:{names['mediator']}")
        self.y_names = _unique_terms((*y_terms, *study.covariate_names))

    def fit_both(
        self, wspec: WeightSpec, start: tuple[ModelFit, ModelFit] | None = None
    ) -> tuple[ModelFit, ModelFit, np.ndarray | None]:
        """Mediator and outcome fits (and, when both are linear, covariate means)."""
        layout, names = self.layout, self.study.names
        m_cols, p_y = (0, 1, *layout.cov_cols), layout.p_y
        fits: dict[str, ModelFit] = {}
        means = None
        if "linear" in (self.m_family, self.y_family):
            mom = moments_dask(self.blocks, layout, self.scaling, wspec)
            if self.m_family == "linear":
                with naming_errors("linear", names["mediator"]):
                    fits["m"] = linear_from_moments(mom, list(m_cols), 2, self.m_names, (1,))
            if self.y_family == "linear":
                with naming_errors("linear", names["outcome"]):
                    fits["y"] = linear_from_moments(
                        mom, list(range(p_y)), p_y, self.y_names,
                        (1, 2, 3) if layout.interaction else (1, 2),
                    )
            if self.m_family == self.y_family == "linear":
                means = mom.means(layout.cov_cols)
        specs, starts, roles = [], [], []
        if self.m_family != "linear":
            specs.append(
                GlmSpec(self.m_family, m_cols, 2, self.m_names, names["mediator"], focal=(1,))
            )
            starts.append(start[0].coef[0] if start and not start[0].limit_terms else None)
            roles.append("m")
        if self.y_family != "linear":
            specs.append(
                GlmSpec(self.y_family, tuple(range(p_y)), p_y, self.y_names, names["outcome"],
                        focal=(1, 2, 3) if layout.interaction else (1, 2))
            )
            starts.append(start[1].coef[0] if start and not start[1].limit_terms else None)
            roles.append("y")
        if specs:
            for role, fit in zip(
                roles, fit_glms(self.blocks, layout, specs, self.scaling, wspec, starts),
                strict=True,
            ):
                fits[role] = fit
        return fits["m"], fits["y"], means

    def potential_outcomes(self, model, med: ModelFit, out: ModelFit, wspec, means):
        if means is not None:  # linear models: the covariate means suffice
            empty = np.empty((0, self.layout.k))
            return potential_outcomes(model, med.coef, out.coef, med.sigma, empty, None, means)
        return potential_outcomes_dask(
            self.blocks, model, med.coef, out.coef, med.sigma, wspec
        )

    def enough_nodes(self, model: EffectModel, med: ModelFit, out: ModelFit):
        """Double the Gauss-Hermite nodes until the potential outcomes change by < 1e-6."""

        def error(model: EffectModel) -> float:
            unit = WeightSpec()
            base = self.potential_outcomes(model, med, out, unit, None)
            fine_model = replace(model, cde_at=(), gh_nodes=2 * model.gh_nodes)
            fine = self.potential_outcomes(fine_model, med, out, unit, None)
            return float(max(np.max(np.abs(base[k] - fine[k])) for k in fine))

        err = error(model)
        while err > _QUADRATURE_TARGET and model.gh_nodes < _QUADRATURE_MAX_NODES:
            model = replace(model, gh_nodes=2 * model.gh_nodes)
            err = error(model)
        return model, err


def mediate_dask(
    ddf: Any,
    treatment: str,
    mediator: str,
    outcome: str,
    covariates: Sequence[str],
    *,
    interaction: bool,
    mediator_model: str,
    outcome_model: str,
    method: str,
    n_boot: int,
    ci: str,
    conf_level: float,
    cde_at: Sequence[float] | None,
    seed: int | None,
    drop_missing: bool,
    treated: Any,
) -> MediationResult:
    """Run :func:`medbook.mediate` on a Dask data frame (options already validated).

    Examples
    --------
    >>> import dask.dataframe as dd
    >>> import medbook
    >>> df = medbook.simulate.simulate_linear()
    >>> ddf = dd.from_pandas(df, npartitions=3)
    >>> res = medbook.mediate(ddf, "treatment", "mediator", "outcome", ["x"], n_boot=50, seed=1)
    >>> mem = medbook.mediate(df, "treatment", "mediator", "outcome", ["x"], n_boot=50, seed=1,
    ...                       bootstrap_weights="poisson")
    >>> bool(np.allclose(res.to_frame().iloc[:, 1:], mem.to_frame().iloc[:, 1:], atol=1e-8))
    True
    """
    from ..mediation import _family

    if method != "bootstrap" or ci != "percentile":
        raise ConfigError(
            "a Dask data frame supports method='bootstrap' with ci='percentile' "
            f"(got method={method!r}, ci={ci!r})"
        )
    covariates = [covariates] if isinstance(covariates, str) else list(covariates or ())
    survey = survey_frame(ddf, treatment, mediator, outcome, covariates, drop_missing)
    study = encode_frame(ddf, survey, treatment, mediator, outcome, covariates, treated)
    m_family = _family(mediator_model, study.mediator_kind, "mediator", mediator)
    y_family = _family(outcome_model, study.outcome_kind, "outcome", outcome)
    route = _Route(study, persist(study.blocks), (m_family, y_family), bool(interaction))
    if cde_at is not None:
        cde_values = tuple(cde_at)
    elif study.mediator_kind == "binary":
        cde_values = (0.0, 1.0)
    else:
        cde_values = (float(f"{route.scaling.control_mediator_mean:.3g}"),)
    model = EffectModel(m_family, y_family, bool(interaction), cde_values)

    med_fit, out_fit, unit_means = route.fit_both(WeightSpec())
    details: dict[str, Any] = {"backend": "dask", "partitions": int(ddf.npartitions)}
    warnings: list[str] = []
    if m_family == "linear" and y_family == "logit":
        model, error = route.enough_nodes(model, med_fit, out_fit)
        details["quadrature_nodes"] = model.gh_nodes
        details["quadrature_error"] = error
        if error > _QUADRATURE_WARN:
            warnings.append(
                f"numerical integration over the mediator is accurate only to {error:.1g} "
                "(a very steep outcome model); treat the last digits with caution"
            )
    po_point = route.potential_outcomes(model, med_fit, out_fit, WeightSpec(), unit_means)
    point = {k: float(v[0]) for k, v in estimands(po_point).items()}
    keys = estimand_keys(cde_values)

    wspec = WeightSpec("poisson", stream_key(seed), n_boot)
    med_b, out_b, means = route.fit_both(wspec, start=(med_fit, out_fit))
    draws = estimands(route.potential_outcomes(model, med_b, out_b, wspec, means))
    details["bootstrap_weights"] = "poisson"
    inference = replicate_inference(draws, (med_b, out_b), point, keys, conf_level)
    warnings.extend(inference.warnings)
    rows, accounting = inference.rows, inference.accounting
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
        n_boot=n_boot,
        ci=ci,
        conf_level=float(conf_level),
        cde_at=cde_values,
        seed=seed,
    )
    if study.n_dropped:
        warnings.append(f"{study.n_dropped} row(s) with missing values were dropped")
    return MediationResult(
        effects=effects,
        potential_outcomes={k: float(po_point[k][0]) for k in ("y1m1", "y0m0", "y1m0", "y0m1")},
        spec=spec,
        scale="risk difference" if y_family != "linear" else "difference",
        n=study.n,
        n_replicates=accounting.kept,
        n_failed=accounting.n_excluded,
        accounting=accounting,
        warnings=warnings,
        replicates=inference.replicates,
        mediator_fit=med_fit,
        outcome_fit=out_fit,
        data=study,  # type: ignore[arg-type]  # the summary; the rows stay on the cluster
        **details,
    )
