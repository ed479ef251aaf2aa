"""What every rho engine shares: the fitted problem, notes as codes, the engine protocol.

:func:`build_problem` turns a :class:`~medbook.results.MediationResult` into the
arrays and coefficients the formulas need (refitting logit models as probit);
:class:`Engine` is the one interface every model-pair engine implements, and
:func:`engine_for` looks the engine up by the pair of model families. A new
model pair is a new module with a class decorated by :func:`register`.

Nothing here writes English: a :class:`Note` is a code with its values, and
:mod:`medbook.report.sensitivity_wording` turns codes into sentences.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar, Protocol

import numpy as np

from ..effects import mediator_design, outcome_design
from ..errors import ConfigError
from ..fit import fit_model
from ..results import MediationResult
from ..sequential import check_sensitivity_scope
from ..weights import ReplicateWeights

__all__ = [
    "SEARCH_EDGE",
    "SENSITIVITY_ESTIMANDS",
    "Curve",
    "Engine",
    "Note",
    "Problem",
    "build_problem",
    "engine_for",
    "kappa_unit",
    "r2_latent",
    "r2_linear",
    "register",
    "rho_from_k",
]

SENSITIVITY_ESTIMANDS = ("nie0", "nie1", "nde0", "nde1")
#: Zero crossings are searched in ``(-SEARCH_EDGE, SEARCH_EDGE)``.
SEARCH_EDGE = 0.99

#: estimand -> (estimate, lower, upper), each an array over the rho grid.
Curve = dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]


@dataclass(frozen=True)
class Note:
    """A caveat of the analysis as a code; :mod:`medbook.report.sensitivity_wording` words it.

    Attributes
    ----------
    code : str
        ``"refit_probit"`` (with ``role``), ``"failed_rho"`` (with ``rho``) or the
        code of an engine (``"binary_mediator"``, ``"binary_outcome"``,
        ``"interaction_extension"``, ``"binary_binary"``).
    role : str
        ``"mediator"`` or ``"outcome"`` where the note concerns one model.
    rho : tuple of float
        Values of rho the note concerns.
    """

    code: str
    role: str = ""
    rho: tuple[float, ...] = ()


@dataclass
class Problem:
    """Arrays and fitted coefficients the rho formulas need."""

    xm: np.ndarray
    xy: np.ndarray
    m: np.ndarray
    y: np.ndarray
    t_col_m: int
    t_col_y: int
    m_col: int
    tm_col: int | None
    shared: np.ndarray  # outcome columns that correspond to mediator columns (const, t, covs)
    a: np.ndarray
    va: np.ndarray
    sigma_m: float
    df_m: float
    c: np.ndarray
    vc: np.ndarray
    df_y: float
    m_family: str
    y_family: str

    @property
    def n(self) -> int:
        return self.m.shape[0]

    def xm_at(self, t: float) -> np.ndarray:
        x = self.xm.copy()
        x[:, self.t_col_m] = t
        return x


def build_problem(res: MediationResult) -> tuple[Problem, list[Note]]:
    """The problem of ``res`` and the notes it raises (logit models are refit as probit)."""
    check_sensitivity_scope(res, "rho")
    data = res.data
    interaction = bool(res.spec.interaction)
    xm, m_names = mediator_design(data)
    xy, y_names = outcome_design(data, interaction)
    if tuple(m_names) != tuple(res.mediator_fit.names) or tuple(y_names) != tuple(
        res.outcome_fit.names
    ):
        raise ConfigError("the result's model columns do not match its data; refit with mediate")
    unit = ReplicateWeights(data.n)
    fits = {}
    notes: list[Note] = []
    for role, fit, x, v, names in (
        ("mediator", res.mediator_fit, xm, data.mediator, m_names),
        ("outcome", res.outcome_fit, xy, data.outcome, y_names),
    ):
        if fit.family == "logit":
            column = data.names[role]
            fit = fit_model("probit", x, v, unit, names, response=column)
            notes.append(Note("refit_probit", role=role))
        fits[role] = fit
    med, out = fits["mediator"], fits["outcome"]
    k = data.covariates.shape[1]
    tm_col = 3 if interaction else None
    first_cov = 4 if interaction else 3
    shared = np.array([0, 1, *range(first_cov, first_cov + k)])
    problem = Problem(
        xm=xm, xy=xy, m=data.mediator, y=data.outcome,
        t_col_m=1, t_col_y=1, m_col=2, tm_col=tm_col, shared=shared,
        a=med.coef[0].copy(), va=np.asarray(med.cov), sigma_m=float(med.sigma[0]),
        df_m=float(med.df_resid), c=out.coef[0].copy(), vc=np.asarray(out.cov),
        df_y=float(out.df_resid), m_family=med.family, y_family=out.family,
    )
    return problem, notes


class Engine(Protocol):
    """One model pair's rho analysis.

    ``curve`` evaluates the effects and their bands over the grid (recording in
    ``failed`` the values of rho where the model cannot be re-estimated);
    ``crossings`` returns every root of each point curve in
    ``(-SEARCH_EDGE, SEARCH_EDGE)``, given the curve values already known;
    ``r2`` gives the R-squared of the mediator and outcome models; ``notes``
    the caveats specific to the pair.
    """

    kinds: ClassVar[tuple[str, str]]
    interval: ClassVar[str]
    failed: list[float]

    def __init__(self, problem: Problem) -> None: ...

    def curve(self, rho_values: np.ndarray, z: float) -> Curve: ...

    def crossings(self, known: dict[float, dict[str, float]]) -> dict[str, list[float]]: ...

    def r2(self) -> tuple[float, float]: ...

    def notes(self) -> list[Note]: ...


_ENGINES: dict[tuple[str, str], type[Engine]] = {}


def register(mediator_family: str, outcome_family: str) -> Callable[[type], type]:
    """Class decorator: the engine for one (mediator family, outcome family) pair."""

    def add(cls: type) -> type:
        _ENGINES[(mediator_family, outcome_family)] = cls
        return cls

    return add


def engine_for(problem: Problem) -> Engine:
    """The engine registered for the problem's model families.

    Raises
    ------
    ConfigError
        If no engine covers the pair.
    """
    pair = (problem.m_family, problem.y_family)
    if pair not in _ENGINES:
        raise ConfigError(
            f"no correlation-of-errors analysis for a {pair[0]} mediator model with a "
            f"{pair[1]} outcome model"
        )
    return _ENGINES[pair](problem)


def r2_linear(x: np.ndarray, v: np.ndarray, coef: np.ndarray) -> float:
    """R-squared of a linear model."""
    resid = v - x @ coef
    centred = v - v.mean()
    return float(1.0 - resid @ resid / (centred @ centred))


def r2_latent(x: np.ndarray, coef: np.ndarray) -> float:
    """Latent-scale R-squared ``var(xb) / (1 + var(xb))`` of a probit model (as ``medsens``)."""
    var = float(np.var(x @ coef, ddof=1))
    return var / (1.0 + var)


def kappa_unit(rho_values: np.ndarray) -> np.ndarray:
    """``rho / sqrt(1 - rho^2)``."""
    return rho_values / np.sqrt(1.0 - rho_values**2)


def rho_from_k(k: float) -> float:
    """Inverse of :func:`kappa_unit`."""
    return float(k / math.sqrt(1.0 + k * k))
