"""Data-generating processes with several mediators or a post-treatment confounder.

Each process is written as structural equations with explicit unit-level errors,
so potential outcomes under any combination of interventions can be drawn for
the same units. The truths returned by :func:`sequential_truth` are computed by
brute-force nested counterfactual simulation, never by the g-formula that the
estimators use:

* path-specific effects: for every unit, ``M1(c)``, then ``M2(b, M1(c))``, then
  ``Y(a, M1(c), M2(b, M1(c)))``, from the unit's own errors;
* interventional effects: ``L(a)`` from the unit's errors, and a random draw
  ``G(a*)`` of the mediator under ``a*`` taken from an independent "ghost"
  copy of the unit with the same covariates (fresh errors for ``L`` and ``M``),
  which is exactly a draw from the distribution of ``M(a*)`` given ``C``.

Outcome errors average out of every estimand, so the unit's outcome *mean*
given its other variables is averaged (Rao-Blackwellisation).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy.special import expit

__all__ = [
    "SEQUENTIAL_PROCESSES",
    "sequential_truth",
    "simulate_binary_confounder",
    "simulate_linear_chain",
    "simulate_mediator_chain",
]

_TRUTH_SEED = 20_261_130
_TRUTH_N = 1_000_000


@dataclass(frozen=True)
class _Errors:
    """Unit-level exogenous errors (one array per variable) and the covariate ``x``."""

    x: np.ndarray
    e: dict[str, np.ndarray]


def _errors(rng: np.random.Generator, n: int, names: tuple[str, ...]) -> _Errors:
    x = rng.normal(0.0, 1.0, size=n)
    draws = {k: rng.random(n) if k.startswith("u") else rng.normal(size=n) for k in names}
    return _Errors(x, draws)


# --- a continuous -> binary mediator chain with a binary outcome ----------------------------

def _chain_usage(t, x, e):
    return 0.3 + 0.8 * t + 0.5 * x + e


def _chain_activation(t, usage, x, u):
    return (u < expit(-0.6 + 0.7 * t + 0.9 * usage + 0.3 * x)).astype(float)


def _chain_outcome(t, usage, activation, x):
    return expit(-1.2 + 0.4 * t + 0.4 * usage + 1.1 * activation + 0.5 * t * activation + 0.3 * x)


def _draw_chain(rng: np.random.Generator, n: int) -> pd.DataFrame:
    err = _errors(rng, n, ("e1", "u2", "uy"))
    t = rng.binomial(1, 0.5, size=n).astype(float)
    usage = _chain_usage(t, err.x, err.e["e1"])
    activation = _chain_activation(t, usage, err.x, err.e["u2"])
    outcome = (err.e["uy"] < _chain_outcome(t, usage, activation, err.x)).astype(int)
    return pd.DataFrame({"x": err.x, "treatment": t.astype(int), "usage": usage,
                         "activation": activation.astype(int), "outcome": outcome})


def _chain_potential(err: _Errors, a: int, b: int, c: int) -> float:
    """``E[Y(a, M1(c), M2(b, M1(c)))]`` over the units."""
    usage = _chain_usage(c, err.x, err.e["e1"])
    activation = _chain_activation(b, usage, err.x, err.e["u2"])
    return float(np.mean(_chain_outcome(a, usage, activation, err.x)))


# --- a linear chain of two continuous mediators ------------------------------------------

def _linear_usage(t, x, e):
    return 0.2 + 0.5 * t + 0.4 * x + e


def _linear_activation(t, usage, x, e):
    return 0.1 + 0.4 * t + 0.6 * usage + 0.3 * x + e


def _linear_outcome(t, usage, activation, x):
    return 1.0 + 0.3 * t + 0.7 * usage + 0.9 * activation + 0.2 * t * activation + 0.5 * x


def _draw_linear(rng: np.random.Generator, n: int) -> pd.DataFrame:
    err = _errors(rng, n, ("e1", "e2", "ey"))
    t = rng.binomial(1, 0.5, size=n).astype(float)
    usage = _linear_usage(t, err.x, err.e["e1"])
    activation = _linear_activation(t, usage, err.x, err.e["e2"])
    outcome = _linear_outcome(t, usage, activation, err.x) + err.e["ey"]
    return pd.DataFrame({"x": err.x, "treatment": t.astype(int), "usage": usage,
                         "activation": activation, "outcome": outcome})


def _linear_potential(err: _Errors, a: int, b: int, c: int) -> float:
    usage = _linear_usage(c, err.x, err.e["e1"])
    activation = _linear_activation(b, usage, err.x, err.e["e2"])
    return float(np.mean(_linear_outcome(a, usage, activation, err.x)))


# --- a binary post-treatment confounder of a continuous mediator and outcome ---------------

def _support(t, x, u):
    return (u < expit(-0.4 + 1.0 * t + 0.5 * x)).astype(float)


def _confounded_usage(t, support, x, e):
    return 0.2 + 0.5 * t + 0.9 * support + 0.4 * x + e


def _confounded_outcome(t, usage, support, x):
    return 1.0 + 0.6 * t + 1.1 * usage + 0.4 * t * usage + 0.8 * support + 0.3 * x


def _draw_confounder(rng: np.random.Generator, n: int) -> pd.DataFrame:
    err = _errors(rng, n, ("ul", "em", "ey"))
    t = rng.binomial(1, 0.5, size=n).astype(float)
    support = _support(t, err.x, err.e["ul"])
    usage = _confounded_usage(t, support, err.x, err.e["em"])
    outcome = _confounded_outcome(t, usage, support, err.x) + err.e["ey"]
    return pd.DataFrame({"x": err.x, "treatment": t.astype(int), "support": support.astype(int),
                         "usage": usage, "outcome": outcome})


def _interventional_potential(err: _Errors, ghost: _Errors, a: int, a_star: int) -> float:
    """``E[Y(a, L(a), G(a*))]``: the mediator drawn from a ghost unit with the same ``x``."""
    support = _support(a, err.x, err.e["ul"])
    ghost_support = _support(a_star, err.x, ghost.e["ul"])
    drawn = _confounded_usage(a_star, ghost_support, err.x, ghost.e["em"])
    return float(np.mean(_confounded_outcome(a, drawn, support, err.x)))


def _total_potential(err: _Errors, a: int) -> float:
    """``E[Y(a)] = E[Y(a, L(a), M(a, L(a)))]``: each unit's own mediator."""
    support = _support(a, err.x, err.e["ul"])
    usage = _confounded_usage(a, support, err.x, err.e["em"])
    return float(np.mean(_confounded_outcome(a, usage, support, err.x)))


def _controlled_potential(err: _Errors, a: int, m: float) -> float:
    support = _support(a, err.x, err.e["ul"])
    return float(np.mean(_confounded_outcome(a, np.full_like(err.x, m), support, err.x)))


# --- registry and truths ---------------------------------------------------------------

@dataclass(frozen=True)
class _Process:
    draw: Callable[[np.random.Generator, int], pd.DataFrame]
    errors: tuple[str, ...]
    kind: str  # "paths" or "interventional"
    roles: dict[str, Any]
    potential: Callable[..., float]


SEQUENTIAL_PROCESSES: dict[str, _Process] = {
    "mediator_chain": _Process(
        _draw_chain, ("e1", "u2", "uy"), "paths",
        {"mediator": ["usage", "activation"]}, _chain_potential,
    ),
    "linear_chain": _Process(
        _draw_linear, ("e1", "e2", "ey"), "paths",
        {"mediator": ["usage", "activation"]}, _linear_potential,
    ),
    "binary_confounder": _Process(
        _draw_confounder, ("ul", "em", "ey"), "interventional",
        {"mediator": "usage", "post_treatment": ["support"]}, _interventional_potential,
    ),
}


def simulate_mediator_chain(seed: int = 19, n: int = 5000) -> pd.DataFrame:
    """Continuous ``usage`` -> binary ``activation`` -> binary ``outcome``, covariate ``x``.

    Usage affects activation; treatment affects all three; the outcome model has
    a treatment x activation interaction.

    Examples
    --------
    >>> list(simulate_mediator_chain(n=10).columns)
    ['x', 'treatment', 'usage', 'activation', 'outcome']
    """
    return _draw_chain(np.random.default_rng(seed), n)


def simulate_linear_chain(seed: int = 23, n: int = 5000) -> pd.DataFrame:
    """Two continuous mediators (``usage`` -> ``activation``) and a continuous outcome.

    Linear equations (treatment x activation interaction 0.2), so the true
    path-specific effects are also available by hand: ``pse(direct) = 0.3``,
    ``pse(activation) = 0.4 * 1.1 = 0.44``, ``pse(usage) = 0.5 * (0.7 + 0.6 * 1.1) = 0.68``.
    """
    return _draw_linear(np.random.default_rng(seed), n)


def simulate_binary_confounder(seed: int = 29, n: int = 5000) -> pd.DataFrame:
    """A binary post-treatment confounder ``support`` of ``usage`` and a continuous ``outcome``.

    Treatment raises the chance of a support contact; support raises usage and
    the outcome, so it confounds the usage -> outcome relation and is itself
    caused by treatment (natural effects are not identified).
    """
    return _draw_confounder(np.random.default_rng(seed), n)


def _path_truth(process: _Process, err: _Errors) -> dict[str, Any]:
    q = {(a, b, c): process.potential(err, a, b, c) for a in (0, 1) for b in (0, 1) for c in (0, 1)}
    first, second = process.roles["mediator"]
    te = q[1, 1, 1] - q[0, 0, 0]
    return {
        "te": te,
        "nde0": q[1, 0, 0] - q[0, 0, 0],
        "nde1": q[1, 1, 1] - q[0, 1, 1],
        "nie0": q[0, 1, 1] - q[0, 0, 0],
        "nie1": q[1, 1, 1] - q[1, 0, 0],
        "pm": (q[1, 1, 1] - q[1, 0, 0]) / te,
        "pse(direct)": q[1, 0, 0] - q[0, 0, 0],
        f"pse({second})": q[1, 1, 0] - q[1, 0, 0],
        f"pse({first})": q[1, 1, 1] - q[1, 1, 0],
        "Q": q,
    }


def _interventional_truth(
    process: _Process, err: _Errors, ghost: _Errors, cde_at: tuple[float, ...]
) -> dict[str, Any]:
    q = {(a, s): process.potential(err, ghost, a, s) for a in (0, 1) for s in (0, 1)}
    out: dict[str, Any] = {
        "rte": q[1, 1] - q[0, 0],
        "rnde0": q[1, 0] - q[0, 0],
        "rnde1": q[1, 1] - q[0, 1],
        "rnie0": q[0, 1] - q[0, 0],
        "rnie1": q[1, 1] - q[1, 0],
        "Q": q,
        "total_effect": _total_potential(err, 1) - _total_potential(err, 0),
    }
    out["cde"] = {
        float(m): _controlled_potential(err, 1, m) - _controlled_potential(err, 0, m)
        for m in cde_at
    }
    return out


def sequential_truth(
    name: str, cde_at: tuple[float, ...] = (1.0,), n: int = _TRUTH_N, seed: int = _TRUTH_SEED
) -> dict[str, Any]:
    """True estimands of a process of :data:`SEQUENTIAL_PROCESSES` by nested simulation.

    Parameters
    ----------
    name : str
        ``"mediator_chain"``, ``"linear_chain"`` or ``"binary_confounder"``.
    cde_at : tuple of float
        Mediator values of the controlled direct effects (post-treatment process).
    n, seed : int
        Simulated units; every potential outcome reuses the same units' errors,
        so contrasts have Monte Carlo error well below ``1 / sqrt(n)``.

    Returns
    -------
    dict
        Joint natural and path-specific effects (``te, nde0, ..., pse(...)``) or
        the interventional ``rte, rnde0, rnde1, rnie0, rnie1``, ``cde`` and the
        ordinary ``total_effect`` ``E[Y(1)] - E[Y(0)]`` (which ``rte`` is not), plus
        the potential-outcome means under ``"Q"``.

    Examples
    --------
    >>> t = sequential_truth("linear_chain", n=10_000)
    >>> round(t["pse(activation)"], 6), round(t["pse(usage)"], 6)
    (0.44, 0.68)
    """
    if name not in SEQUENTIAL_PROCESSES:
        raise KeyError(f"unknown process {name!r}; choose from {', '.join(SEQUENTIAL_PROCESSES)}")
    process = SEQUENTIAL_PROCESSES[name]
    rng = np.random.default_rng(seed)
    err = _errors(rng, n, process.errors)
    if process.kind == "paths":
        return _path_truth(process, err)
    ghost = _errors(rng, n, process.errors)
    return _interventional_truth(process, err, ghost, tuple(cde_at))
