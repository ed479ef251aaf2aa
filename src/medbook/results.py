"""Result containers returned by :func:`medbook.mediate`."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import pandas as pd

from .data import StudyData
from .fit import ModelFit
from .jsonsafe import jsonable
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


@dataclass
class MediationResult:
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
    data : StudyData
        The arrays analysed (not serialised).
    details : dict
        Method-specific extras (quadrature error, BCa acceleration, ...).
    models : dict
        Every fitted model keyed by its response column, for analyses with
        several mediators or post-treatment confounders (empty otherwise).
    model_data : dict
        The design matrix and response of each of ``models`` (not serialised).
    accounting : ReplicateAccounting
        Replicates kept, kept as limit fits (``n_quasi_separated``) and excluded by reason.
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
    data: StudyData = field(repr=False)
    details: dict[str, Any] = field(default_factory=dict)
    models: dict[str, ModelFit] = field(default_factory=dict)
    model_data: dict[str, tuple[Any, Any]] = field(default_factory=dict, repr=False)
    accounting: ReplicateAccounting = field(
        default_factory=lambda: ReplicateAccounting(requested=0, kept=0)
    )

    @property
    def n_quasi_separated(self) -> int:
        """Kept replicates in which a model is a limit fit (nuisance quasi-separation)."""
        return self.accounting.n_quasi_separated

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

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dictionary of estimates and metadata."""
        effects = [
            {k: (row[k] if k == "estimand" else jsonable(row[k])) for k in EFFECT_COLUMNS}
            for _, row in self.effects.iterrows()
        ]
        spec = asdict(self.spec)
        spec["covariates"] = list(spec["covariates"])
        spec["cde_at"] = list(spec["cde_at"])
        spec["mediators"] = list(spec["mediators"])
        spec["post_treatment"] = list(spec["post_treatment"])
        models = {"mediator": self.mediator_fit.to_dict(), "outcome": self.outcome_fit.to_dict()}
        if self.models:
            models["chain"] = {k: fit.to_dict() for k, fit in self.models.items()}
        return {
            "effects": effects,
            "potential_outcomes": {k: jsonable(v) for k, v in self.potential_outcomes.items()},
            "n": self.n,
            "n_dropped": self.data.n_dropped,
            "arm_sizes": dict(zip(("control", "treated"), self.data.arm_sizes(), strict=True)),
            "treatment_levels": [str(v) for v in self.data.treatment_levels],
            "treated_level": str(self.data.treatment_levels[1]),
            "control_level": str(self.data.treatment_levels[0]),
            "method": self.spec.method,
            "ci": self.spec.ci,
            "conf_level": self.spec.conf_level,
            "n_boot": self.spec.n_boot,
            "n_replicates": self.n_replicates,
            "n_failed": self.n_failed,
            "n_quasi_separated": self.n_quasi_separated,
            "replicate_accounting": self.accounting.to_dict(),
            "seed": self.spec.seed,
            "scale": self.scale,
            "spec": spec,
            "models": models,
            "warnings": list(self.warnings),
            "details": {k: jsonable(v) for k, v in self.details.items()},
        }

    def __repr__(self) -> str:
        spec = self.spec
        head = (
            f"MediationResult({spec.treatment} -> {' -> '.join(spec.mediators or (spec.mediator,))}"
            f" -> {spec.outcome}; n={self.n}, treated={self.data.treatment_levels[1]!r} vs "
            f"control={self.data.treatment_levels[0]!r}, "
            f"{spec.mediator_model}/{spec.outcome_model} models, "
            f"interaction={spec.interaction}, method={spec.method}"
        )
        if spec.method != "delta":
            head += f", {self.n_replicates} replicates"
        head += f", scale={self.scale})"
        with pd.option_context("display.float_format", "{:.4f}".format, "display.width", 120):
            body = self.effects.to_string(index=False)
        notes = "".join(f"\n! {w}" for w in self.warnings)
        return f"{head}\n{body}{notes}"

