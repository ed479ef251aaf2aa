"""Result containers returned by :func:`medbook.mediate`."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
import pandas as pd
from scipy import stats

from .contract import Result
from .data import AnalysisData
from .fit import ModelFit
from .replicates import ReplicateAccounting

__all__ = ["EFFECT_COLUMNS", "MediationResult", "MediationSpec", "estimand_label"]

EFFECT_COLUMNS = ["estimand", "estimate", "std_error", "ci_lower", "ci_upper", "p_value"]

_LABELS = {
    "te": "Total effect",
    "nde0": "Natural direct effect NDE(0)",
    "nde1": "Natural direct effect NDE(1)",
    "nie0": "Natural indirect effect NIE(0)",
    "nie1": "Natural indirect effect NIE(1)",
    "pm": "Proportion mediated NIE(1)/TE",
    "rte": "Interventional total effect rTE",
    "rnde0": "Interventional direct effect rNDE(0)",
    "rnde1": "Interventional direct effect rNDE(1)",
    "rnie0": "Interventional indirect effect rNIE(0)",
    "rnie1": "Interventional indirect effect rNIE(1)",
    "pse(direct)": "Path-specific effect: direct",
}


def estimand_label(key: str) -> str:
    """Human-readable name of an estimand key such as ``"nie1"`` or ``"cde(m=0)"``."""
    if key.startswith("cde(m="):
        return f"Controlled direct effect CDE({key[6:-1]})"
    if key.startswith("pse(") and key not in _LABELS:
        return f"Path-specific effect through {key[4:-1]}"
    return _LABELS.get(key, key)


@dataclass(frozen=True)
class MediationSpec:
    """The normalised options of one mediation analysis."""

    treatment: str
    mediator: str
    outcome: str
    covariates: tuple[str, ...]
    interaction: bool
    mediator_model: str
    outcome_model: str
    method: str
    n_boot: int
    ci: str
    conf_level: float
    cde_at: tuple[float, ...]
    seed: int | None
    mediators: tuple[str, ...] = ()
    post_treatment: tuple[str, ...] = ()
    scale: str = "difference"


_DETAILS = (
    "quadrature_nodes", "quadrature_error", "bootstrap_weights", "acceleration",
    "log_scale_inference", "sensitivity", "backend", "partitions",
)


@dataclass(repr=False)
class MediationResult(Result):
    """Estimated mediation effects with their uncertainty.

    Attributes
    ----------
    effects : pandas.DataFrame
        One row per estimand with columns ``estimand, estimate, std_error,
        ci_lower, ci_upper, p_value``.
    potential_outcomes : dict
        Point estimates of ``E[Y(t, M(t'))]`` keyed ``"y1m1"``, ``"y0m0"``,
        ``"y1m0"``, ``"y0m1"``.
    spec : MediationSpec
        The options used.
    scale : str
        Plain name of the contrast: ``"difference"``, ``"risk difference"``,
        ``"risk ratio"``, ``"rate ratio"``, ``"ratio of
        means"`` or ``"odds ratio"`` (the option itself is ``spec.scale``). For
        ratios, ``std_error`` and ``p_value`` refer to the log ratio and the
        interval is the exponentiated log-scale interval; ``pm`` is a proportion.
    n : int
        Rows used.
    n_replicates : int
        Successful bootstrap replicates or simulation draws (0 for the delta method).
    n_failed : int
        Replicates excluded from the intervals (``accounting.n_excluded``).
    warnings : list of str
        Plain-language cautions a report should repeat.
    replicates : pandas.DataFrame or None
        Estimands of every successful replicate (bootstrap / quasi-Bayes).
    mediator_fit, outcome_fit : ModelFit
        The fitted models at the point estimate.
    data : AnalysisData
        The arrays analysed (not serialised).
    models : dict
        Every fitted model keyed by its response column, for analyses with
        several mediators or post-treatment confounders (empty otherwise).
    model_data : dict
        The design matrix and response of each of ``models`` (not serialised).
    accounting : ReplicateAccounting
        Replicates kept, kept as limit fits (``n_quasi_separated``) and excluded by reason.
    quadrature_nodes, quadrature_error : int and float, optional
        Gauss-Hermite nodes used and the accuracy reached (numerical integration).
    bootstrap_weights : str, optional
        ``"multinomial"`` or ``"poisson"`` (bootstrap only).
    acceleration : dict, optional
        BCa acceleration per estimand.
    log_scale_inference : str, optional
        On ratio scales: which quantities are computed on the log scale.
    sensitivity : str, optional
        Why no published sensitivity analysis covers these estimands (several
        mediators, post-treatment confounders).
    backend, partitions : str and int, optional
        ``"dask"`` and the number of partitions for a Dask data frame.
    """

    effects: pd.DataFrame
    potential_outcomes: dict[str, float]
    spec: MediationSpec
    scale: str
    n: int
    n_replicates: int
    n_failed: int
    warnings: list[str]
    replicates: pd.DataFrame | None
    mediator_fit: ModelFit
    outcome_fit: ModelFit
    data: AnalysisData
    models: dict[str, ModelFit] = field(default_factory=dict)
    model_data: dict[str, tuple[Any, Any]] = field(default_factory=dict, repr=False)
    accounting: ReplicateAccounting = field(
        default_factory=lambda: ReplicateAccounting(requested=0, kept=0)
    )
    quadrature_nodes: int | None = None
    quadrature_error: float | None = None
    bootstrap_weights: str | None = None
    acceleration: dict[str, float] | None = None
    log_scale_inference: str | None = None
    sensitivity: str | None = None
    backend: str | None = None
    partitions: int | None = None

    _private: ClassVar[tuple[str, ...]] = (
        "replicates", "mediator_fit", "outcome_fit", "data", "models", "model_data",
        "accounting", *_DETAILS,
    )

    @property
    def n_quasi_separated(self) -> int:
        """Kept replicates in which a model is a limit fit (nuisance quasi-separation)."""
        return self.accounting.n_quasi_separated

    @property
    def details(self) -> dict[str, Any]:
        """The method-specific extras that are set (quadrature, resampling, backend)."""
        return {k: getattr(self, k) for k in _DETAILS if getattr(self, k) is not None}

    def __getitem__(self, estimand: str) -> float:
        """Point estimate of one estimand, e.g. ``res["nie1"]``."""
        row = self.effects.loc[self.effects["estimand"] == estimand]
        if row.empty:
            known = ", ".join(self.effects["estimand"])
            raise KeyError(f"unknown estimand {estimand!r}; available: {known}")
        return float(row["estimate"].iloc[0])

    def row(self, estimand: str) -> dict[str, float]:
        """All columns of one estimand as a dict."""
        self[estimand]
        row = self.effects.loc[self.effects["estimand"] == estimand].iloc[0]
        return {k: row[k] for k in EFFECT_COLUMNS}

    def to_frame(self) -> pd.DataFrame:
        """The tidy effects table (a copy)."""
        return self.effects.copy()

    def summary(self) -> pd.DataFrame:
        """Effects table indexed by readable estimand names."""
        table = self.effects.copy()
        table.index = [estimand_label(k) for k in table["estimand"]]
        return table.drop(columns="estimand")

    def conf_int(self, level: float | None = None) -> pd.DataFrame:
        """Intervals at another confidence level, recomputed from what the result stores.

        Percentile or BCa intervals of the stored replicates (bootstrap,
        quasi-Bayes), or normal intervals from the standard errors (delta method);
        on ratio scales both are computed for the log ratio and mapped back.

        Parameters
        ----------
        level : float, optional
            Confidence level in [0.5, 1); default that of the analysis.

        Returns
        -------
        pandas.DataFrame
            ``estimand, ci_lower, ci_upper``.

        Examples
        --------
        >>> import medbook
        >>> res = medbook.mediate(medbook.simulate.simulate_linear(), "treatment", "mediator",
        ...                       "outcome", ["x"], n_boot=200, seed=1)
        >>> same = res.conf_int(0.95).set_index("estimand")
        >>> bool((same["ci_lower"] == res.to_frame().set_index("estimand")["ci_lower"]).all())
        True
        """
        from .inference import bca_interval, percentile_interval
        from .options import check
        from .scales import from_working, working

        level = self.spec.conf_level if level is None else check("conf_level", level)
        scale = self.spec.scale
        rows = []
        for key, est, se in self.effects[["estimand", "estimate", "std_error"]].itertuples(
            index=False
        ):
            point = float(working(est, key, scale))  # log ratio on ratio scales
            if self.replicates is None:
                z = float(stats.norm.ppf(0.5 + level / 2.0))
                lo, hi = point - z * se, point + z * se
            else:
                reps = working(self.replicates[key].to_numpy(), key, scale)
                reps = reps[np.isfinite(reps)]
                lo, hi = (
                    bca_interval(reps, point, self.acceleration[key], level)
                    if self.acceleration is not None
                    else percentile_interval(reps, level)
                )
            lo, hi = from_working(np.array([lo, hi]), key, scale)
            rows.append({"estimand": key, "ci_lower": float(lo), "ci_upper": float(hi)})
        return pd.DataFrame(rows, columns=["estimand", "ci_lower", "ci_upper"])

    def _json_extras(self) -> dict[str, Any]:
        models = {"mediator": self.mediator_fit.to_dict(), "outcome": self.outcome_fit.to_dict()}
        if self.models:
            models["chain"] = {k: fit.to_dict() for k, fit in self.models.items()}
        return {
            "n_dropped": self.data.n_dropped,
            "arm_sizes": dict(zip(("control", "treated"), self.data.arm_sizes(), strict=True)),
            "treatment_levels": [str(v) for v in self.data.treatment_levels],
            "treated_level": str(self.data.treatment_levels[1]),
            "control_level": str(self.data.treatment_levels[0]),
            "method": self.spec.method,
            "ci": self.spec.ci,
            "conf_level": self.spec.conf_level,
            "n_boot": self.spec.n_boot,
            "n_quasi_separated": self.n_quasi_separated,
            "replicate_accounting": self.accounting.to_dict(),
            "seed": self.spec.seed,
            "models": models,
            "details": self.details,
        }

    def _describe(self) -> str:
        spec = self.spec
        text = (
            f"{spec.treatment} -> {' -> '.join(spec.mediators or (spec.mediator,))}"
            f" -> {spec.outcome}; n={self.n}, treated={self.data.treatment_levels[1]!r} vs "
            f"control={self.data.treatment_levels[0]!r}, "
            f"{spec.mediator_model}/{spec.outcome_model} models, "
            f"interaction={spec.interaction}, method={spec.method}"
        )
        if spec.method != "delta":
            text += f", {self.n_replicates} replicates"
        return text + f", scale={self.scale}"

    def _repr_tail(self) -> str:
        with pd.option_context("display.float_format", "{:.4f}".format, "display.width", 120):
            body = self.effects.to_string(index=False)
        notes = "".join(f"\n! {w}" for w in self.warnings)
        return f"\n{body}{notes}"
