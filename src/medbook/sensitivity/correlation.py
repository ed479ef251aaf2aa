"""The correlation-of-errors (rho) analysis: one route for every model pair.

:func:`rho` builds the problem (:func:`~medbook.sensitivity.problem.build_problem`),
looks up the engine of its model pair (:func:`~medbook.sensitivity.problem.engine_for`),
evaluates the curve and its zero crossings and returns a :class:`RhoSensitivity`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
import pandas as pd
from scipy import stats

from ..contract import Result
from ..errors import ConfigError
from ..results import MediationResult
from . import bivariate, closed_form, latent  # noqa: F401  (register the engines)
from .problem import SENSITIVITY_ESTIMANDS, Curve, Note, build_problem, engine_for

__all__ = ["DEFAULT_GRID", "RhoSensitivity", "rho"]

DEFAULT_GRID = np.round(np.arange(-0.9, 0.9001, 0.05), 2)


def _wording() -> Any:
    from ..report import sensitivity_wording as wording

    return wording


@dataclass(repr=False)
class RhoSensitivity(Result):
    """Effects as a function of the error correlation ``rho``.

    Attributes
    ----------
    table : pandas.DataFrame
        ``rho, estimand, estimate, ci_lower, ci_upper`` (see :meth:`to_frame`).
    zero_crossing : dict
        For each of ``nie0, nie1, nde0, nde1``: the ``rho`` nearest zero at which
        the point curve crosses zero (root-found, not read off the grid), or None.
    crossings : dict
        Every crossing in ``(-0.99, 0.99)`` per estimand.
    r2_star_product, r2_tilde_product : dict
        The zero crossing expressed as ``R2_M* x R2_Y* = rho^2`` (share of the
        unexplained variances explained by the confounder) and
        ``R~2_M x R~2_Y = rho^2 (1 - R2_M)(1 - R2_Y)`` (share of the total
        variances), as in ``medsens``' summary.
    r2_mediator, r2_outcome : float
        R-squared of the mediator and outcome models (latent-scale
        ``var(xb) / (1 + var(xb))`` for a probit model, as ``medsens``).
    main_estimate : dict
        The estimates of the analysis being probed.
    kinds : tuple of str
        ``(mediator kind, outcome kind)``, each ``"continuous"`` or ``"binary"``.
    mediator_family, outcome_family : str
        Models used for the sensitivity analysis (logit is refit as probit).
    interaction : bool
    conf_level : float
    interval_method : str
        How the bands were computed: ``"sur_delta"`` or ``"latent_delta"``.
    note_codes : tuple of Note
        Approximations and restrictions as codes (:attr:`notes` words them).
    """

    table: pd.DataFrame
    zero_crossing: dict[str, float | None]
    crossings: dict[str, list[float]]
    r2_star_product: dict[str, float | None]
    r2_tilde_product: dict[str, float | None]
    r2_mediator: float
    r2_outcome: float
    main_estimate: dict[str, float]
    kinds: tuple[str, str]
    mediator_family: str
    outcome_family: str
    interaction: bool
    conf_level: float
    interval_method: str
    note_codes: tuple[Note, ...] = field(default_factory=tuple)

    _json_names: ClassVar[dict[str, str]] = {"table": "curve"}

    @property
    def model(self) -> str:
        """``"continuous mediator, binary outcome"`` etc."""
        return _wording().model_pair(self.kinds)

    @property
    def interval(self) -> str:
        """How the bands were computed, in words."""
        return _wording().rho_interval(self.interval_method)

    @property
    def notes(self) -> list[str]:
        """The :attr:`note_codes` as plain sentences."""
        return [_wording().rho_note(note) for note in self.note_codes]

    def to_frame(self) -> pd.DataFrame:
        """Tidy curve: one row per (rho, estimand) with the interval bounds (a copy)."""
        return self.table.copy()

    def at(self, rho_value: float) -> dict[str, float]:
        """Point estimates at a grid value of ``rho``."""
        rows = self.table[np.isclose(self.table["rho"], rho_value)]
        if rows.empty:
            raise KeyError(f"rho = {rho_value} is not on the grid")
        return {str(r.estimand): float(r.estimate) for r in rows.itertuples()}

    def grid_crossing(self) -> dict[str, float | None]:
        """Grid value of ``rho`` where ``|estimate|`` is smallest (what ``medsens`` prints)."""
        out: dict[str, float | None] = {}
        for key in SENSITIVITY_ESTIMANDS:
            rows = self.table[(self.table["estimand"] == key) & self.table["estimate"].notna()]
            out[key] = (
                float(rows["rho"].iloc[int(np.argmin(np.abs(rows["estimate"])))])
                if not rows.empty else None
            )
        return out

    def ci_covers_zero_from(self) -> dict[str, float | None]:
        """Smallest ``|rho|`` on the grid at which the confidence band contains zero."""
        out: dict[str, float | None] = {}
        for key in SENSITIVITY_ESTIMANDS:
            rows = self.table[self.table["estimand"] == key]
            covers = rows[(rows["ci_lower"] <= 0) & (rows["ci_upper"] >= 0)]
            out[key] = float(covers["rho"].abs().min()) if not covers.empty else None
        return out

    def headline(self, estimand: str = "nie1") -> dict[str, Any]:
        """Numbers (and one plain sentence) a memo can quote about ``estimand``."""
        if estimand not in SENSITIVITY_ESTIMANDS:
            raise ConfigError(f"estimand must be one of {', '.join(SENSITIVITY_ESTIMANDS)}")
        numbers = {
            "estimand": estimand,
            "label": _wording().estimand_label(estimand),
            "estimate": self.main_estimate.get(estimand, float("nan")),
            "rho_at_zero": self.zero_crossing[estimand],
            "r2_star_product": self.r2_star_product[estimand],
            "r2_tilde_product": self.r2_tilde_product[estimand],
            "ci_covers_zero_from_abs_rho": self.ci_covers_zero_from()[estimand],
            "model": self.model,
        }
        return {**numbers, "sentence": _wording().rho_headline(numbers)}

    def _json_extras(self) -> dict[str, Any]:
        return {
            "zero_crossing_on_grid": self.grid_crossing(),
            "ci_covers_zero_from_abs_rho": self.ci_covers_zero_from(),
            "model": self.model,
            "interval": self.interval,
            "notes": self.notes,
            "headline": self.headline("nie1"),
        }

    def _describe(self) -> str:
        cross = ", ".join(
            f"{k}={'none' if v is None else f'{v:.3f}'}" for k, v in self.zero_crossing.items()
        )
        return f"{self.model}; {self.table['rho'].nunique()} rho values; zero crossing: {cross}"


def _grid(grid: Sequence[float] | np.ndarray | None) -> np.ndarray:
    if grid is None:
        return DEFAULT_GRID.copy()
    values = np.unique(np.round(np.asarray(grid, dtype=float).ravel(), 12))
    if values.size == 0 or not np.all(np.isfinite(values)) or np.any(np.abs(values) >= 1.0):
        raise ConfigError("rho grid must hold finite values strictly between -1 and 1")
    if not np.any(values == 0.0):
        values = np.sort(np.append(values, 0.0))
    return values


def _table(rho_values: np.ndarray, curve: Curve) -> pd.DataFrame:
    return pd.concat(
        [
            pd.DataFrame(
                {
                    "rho": rho_values,
                    "estimand": key,
                    "estimate": np.broadcast_to(curve[key][0], rho_values.shape),
                    "ci_lower": np.broadcast_to(curve[key][1], rho_values.shape),
                    "ci_upper": np.broadcast_to(curve[key][2], rho_values.shape),
                }
            )
            for key in SENSITIVITY_ESTIMANDS
        ],
        ignore_index=True,
    )


def _known(rho_values: np.ndarray, curve: Curve) -> dict[float, dict[str, float]]:
    points = {k: np.broadcast_to(curve[k][0], rho_values.shape) for k in SENSITIVITY_ESTIMANDS}
    return {
        float(r): {k: float(points[k][i]) for k in SENSITIVITY_ESTIMANDS}
        for i, r in enumerate(rho_values)
    }


def rho(
    res: MediationResult,
    grid: Sequence[float] | np.ndarray | None = None,
    conf_level: float | None = None,
) -> RhoSensitivity:
    """Correlation-of-errors sensitivity analysis of a mediation result.

    The sensitivity parameter ``rho`` is the correlation between the errors of
    the mediator and outcome models; an unmeasured mediator-outcome confounder
    makes it non-zero, and ``rho = 0`` reproduces the analysis. For each ``rho``
    the structural coefficients implied by the fitted models are recovered and
    ``NIE(0), NIE(1), NDE(0), NDE(1)`` recomputed (Imai, Keele & Yamamoto 2010,
    Theorem 2 and sec. 5; Imai, Keele & Tingley 2010, appendix; the R function
    ``mediation::medsens``).

    * continuous mediator and outcome: closed form, identical to ``medsens``'
      SUR estimates (with or without treatment-mediator interaction); bands are
      ``medsens``' delta-method normal intervals;
    * binary mediator, continuous outcome: ``medsens``' probit control-function
      estimator (interaction allowed);
    * continuous mediator, binary outcome: ``medsens``' closed form for a probit
      outcome, extended to the interaction model;
    * binary mediator and outcome (not in ``medsens``): a bivariate normal latent
      model with ``rho`` fixed, fitted by two-step maximum likelihood.

    Count outcome models (Poisson, negative binomial) and the ratio and
    odds-ratio scales are not supported: the analysis raises a
    :class:`~medbook.errors.ConfigError` that says so.

    Logit models are refit as probit for the analysis (noted in the result). For
    the three latent cases the bands are delta-method normal intervals over the
    mediator- and outcome-model covariances (``medsens`` uses simulation
    quantiles); the curve itself is evaluated at the estimates, so it equals the
    main estimate at ``rho = 0``. Zero crossings are solved exactly (closed
    form) or to within 1e-7 between sign changes on the grid extended to +-0.99
    (polynomial interpolation through the neighbouring curve values, safeguarded
    by the bracket; :func:`~medbook.sensitivity.latent.zero`); the crossing
    nearest zero is reported.

    Parameters
    ----------
    res : MediationResult
        Output of :func:`medbook.mediate`.
    grid : sequence of float, optional
        Values of ``rho`` in ``(-1, 1)``; default -0.9 to 0.9 by 0.05 (0 is always added).
    conf_level : float, optional
        Level of the bands; default that of ``res``.

    Returns
    -------
    RhoSensitivity

    Examples
    --------
    >>> import medbook
    >>> res = medbook.mediate(medbook.simulate.simulate_linear(), "treatment", "mediator",
    ...                       "outcome", ["x"], method="delta")
    >>> curve = rho(res, grid=[-0.5, 0.5])
    >>> abs(curve.at(0.0)["nie1"] - res["nie1"]) < 1e-12
    True
    """
    if res.spec.scale != "difference":
        raise ConfigError(
            f"the correlation-of-errors (rho) analysis is on the difference scale only, and "
            f"this result is on the {res.scale} scale; use bias_grid (which has a ratio form) "
            "or refit with scale='difference'"
        )
    level = res.spec.conf_level if conf_level is None else float(conf_level)
    if not 0.5 <= level < 1.0:
        raise ConfigError(f"conf_level must lie in [0.5, 1); got {conf_level!r}")
    z = float(stats.norm.ppf(0.5 + level / 2.0))
    rho_values = _grid(grid)
    prob, notes = build_problem(res)
    engine = engine_for(prob)
    notes += engine.notes()
    curve = engine.curve(rho_values, z)
    crossings = engine.crossings(_known(rho_values, curve))
    if engine.failed:
        notes.append(Note("failed_rho", rho=tuple(engine.failed)))
    r2_m, r2_y = engine.r2()
    zero: dict[str, float | None] = {}
    r2s: dict[str, float | None] = {}
    r2t: dict[str, float | None] = {}
    for key in SENSITIVITY_ESTIMANDS:
        roots = crossings[key]
        zero[key] = r = min(roots, key=abs) if roots else None
        r2s[key] = None if r is None else r * r
        r2t[key] = None if r is None else r * r * (1.0 - r2_m) * (1.0 - r2_y)
    return RhoSensitivity(
        table=_table(rho_values, curve), zero_crossing=zero, crossings=crossings,
        r2_star_product=r2s, r2_tilde_product=r2t, r2_mediator=r2_m, r2_outcome=r2_y,
        main_estimate={k: res[k] for k in SENSITIVITY_ESTIMANDS}, kinds=engine.kinds,
        mediator_family=prob.m_family, outcome_family=prob.y_family,
        interaction=bool(res.spec.interaction), conf_level=level,
        interval_method=engine.interval, note_codes=tuple(notes),
    )
