"""Data-generating processes with known mediation estimands.

The first three reproduce the teaching notebook's simulations draw for draw
(same seeds give the same data, hence the same printed tables); the others add
a treatment-mediator interaction, a post-treatment confounder and a binary
mediator with a continuous outcome. Processes with several mediators or a
post-treatment confounder, and their truths by nested counterfactual simulation,
live in :mod:`medbook.simulate_sequential` and are re-exported here.

Each process is a :class:`Process`: a covariate generator plus the structural
mean functions of the mediator and the outcome. :func:`truth` integrates those
equations over a large covariate sample, so the true estimands come from the
full structural model, including variables that a fitted model may omit.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy.special import expit

from .scales import Scale, contrast, decompose
from .simulate_sequential import (
    SEQUENTIAL_PROCESSES,
    sequential_truth,
    simulate_binary_confounder,
    simulate_linear_chain,
    simulate_mediator_chain,
)

__all__ = [
    "PROCESSES",
    "SEQUENTIAL_PROCESSES",
    "Process",
    "add_measurement_error",
    "brute_force_truth",
    "confounding_sweep",
    "sequential_truth",
    "simulate",
    "simulate_binary",
    "simulate_binary_confounder",
    "simulate_binary_mediator_continuous_outcome",
    "simulate_continuous_mediator_binary_outcome",
    "simulate_count_outcome",
    "simulate_interaction",
    "simulate_linear",
    "simulate_linear_chain",
    "simulate_mediator_chain",
    "simulate_negbin_outcome",
    "simulate_post_treatment",
    "simulate_unmeasured",
    "truth",
]

Covariates = dict[str, np.ndarray]
_TRUTH_SEED = 20_261_125
_TRUTH_N = 2_000_000
_TRUTH_NODES = 120


def _standardise(v: np.ndarray) -> np.ndarray:
    return (v - v.mean()) / v.std()


@dataclass(frozen=True)
class Process:
    """A structural mediation model.

    Attributes
    ----------
    covariates : callable
        ``(rng, n, **params) -> dict`` of pre-treatment variables (latent ones included).
    mediator_mean : callable
        ``(t, cov, **params) -> E[M | t, cov]`` (a probability when ``binary_mediator``).
    outcome_mean : callable
        ``(t, m, cov, **params) -> E[Y | t, m, cov]`` (a probability when ``binary_outcome``).
    mediator_sd, outcome_sd : float
        Error standard deviations of continuous mediator / outcome.
    binary_mediator, binary_outcome : bool
    observed : tuple of str
        Covariate columns included in the returned data frame.
    post_treatment : callable, optional
        ``(t, cov) -> dict`` of observed post-treatment variables (the potential
        value under the assigned arm).
    outcome_draw : callable, optional
        ``(rng, mean) -> y``: draws a non-normal outcome around its mean (counts).
    """

    covariates: Callable[..., Covariates]
    mediator_mean: Callable[..., np.ndarray]
    outcome_mean: Callable[..., np.ndarray]
    mediator_sd: float = 1.0
    outcome_sd: float = 1.0
    binary_mediator: bool = False
    binary_outcome: bool = False
    observed: tuple[str, ...] = ("x",)
    post_treatment: Callable[[np.ndarray, Covariates], dict[str, np.ndarray]] | None = None
    outcome_draw: Callable[[np.random.Generator, np.ndarray], np.ndarray] | None = None

    def draw(self, seed: int | None, n: int, **params: Any) -> pd.DataFrame:
        """Simulate ``n`` units: covariates, then treatment, mediator and outcome."""
        rng = np.random.default_rng(seed)
        cov = self.covariates(rng, n, **params)
        t = rng.binomial(1, 0.5, size=n)
        m_mean = self.mediator_mean(t, cov, **params)
        if self.binary_mediator:
            m = rng.binomial(1, m_mean)
        else:
            m = m_mean + rng.normal(0, self.mediator_sd, size=n)
        y_mean = self.outcome_mean(t, m, cov, **params)
        if self.binary_outcome:
            y = rng.binomial(1, y_mean)
        elif self.outcome_draw is not None:
            y = self.outcome_draw(rng, y_mean)
        else:
            y = y_mean + rng.normal(0, self.outcome_sd, size=n)
        columns = {k: cov[k] for k in self.observed}
        if self.post_treatment is not None:
            columns.update(self.post_treatment(t, cov))
        return pd.DataFrame({**columns, "treatment": t, "mediator": m, "outcome": y})

    def expected_outcome(self, t: int, t_m: int, cov: Covariates, **params: Any) -> float:
        """``E[Y(t, M(t_m))]`` averaged over the covariate sample ``cov``."""
        n = next(iter(cov.values())).shape[0]
        p_or_mean = self.mediator_mean(np.full(n, t_m), cov, **params)
        if self.binary_mediator:
            y1 = self.outcome_mean(np.full(n, t), np.ones(n), cov, **params)
            y0 = self.outcome_mean(np.full(n, t), np.zeros(n), cov, **params)
            return float(np.mean(p_or_mean * y1 + (1 - p_or_mean) * y0))
        if self.binary_outcome or self.outcome_draw is not None:
            # Integrate the outcome mean over the normal mediator (Gauss-Hermite).
            z, w = np.polynomial.hermite.hermgauss(_TRUTH_NODES)
            total = 0.0
            for z_k, w_k in zip(z, w, strict=True):
                m = p_or_mean + np.sqrt(2.0) * self.mediator_sd * z_k
                total += w_k / np.sqrt(np.pi) * self.outcome_mean(np.full(n, t), m, cov, **params)
            return float(np.mean(total))
        # The outcome is linear in the mediator here, so plugging in its mean is exact.
        return float(np.mean(self.outcome_mean(np.full(n, t), p_or_mean, cov, **params)))

    def controlled(self, t: int, m: float, cov: Covariates, **params: Any) -> float:
        """``E[Y(t, m)]`` averaged over the covariate sample."""
        n = next(iter(cov.values())).shape[0]
        return float(np.mean(self.outcome_mean(np.full(n, t), np.full(n, m), cov, **params)))


# --- the notebook's linear onboarding experiment -------------------------------------------

def _linear_covariates(rng: np.random.Generator, n: int) -> Covariates:
    prior_usage = rng.normal(0, 1, size=n)
    account_value = rng.lognormal(mean=1.6, sigma=0.55, size=n)
    support_burden = rng.poisson(lam=np.clip(1.4 - 0.25 * prior_usage, 0.2, 4.0), size=n)
    enterprise = rng.binomial(1, expit(-0.6 + 0.35 * np.log1p(account_value)), size=n)
    readiness = (
        0.55 * prior_usage
        + 0.30 * enterprise
        + 0.18 * np.log1p(account_value)
        - 0.32 * support_burden
        + rng.normal(0, 0.8, size=n)
    )
    return {
        "prior_usage": prior_usage,
        "account_value": account_value,
        "support_burden": support_burden,
        "enterprise": enterprise,
        "x": _standardise(readiness),
    }


LINEAR = Process(
    covariates=_linear_covariates,
    mediator_mean=lambda t, c: (
        0.4 + 0.85 * t + 0.65 * c["x"] + 0.20 * c["enterprise"] - 0.18 * c["support_burden"]
    ),
    outcome_mean=lambda t, m, c: (
        2.0
        + 1.15 * t
        + 1.55 * m
        + 0.55 * c["x"]
        + 0.16 * np.log1p(c["account_value"])
        - 0.12 * c["support_burden"]
    ),
    mediator_sd=1.0,
    outcome_sd=1.2,
    observed=("prior_usage", "account_value", "support_burden", "enterprise", "x"),
)


# --- the notebook's binary activation / renewal funnel -----------------------------------

def _binary_covariates(rng: np.random.Generator, n: int) -> Covariates:
    prior_usage = rng.normal(0, 1, size=n)
    account_complexity = rng.gamma(shape=2.0, scale=0.7, size=n)
    enterprise = rng.binomial(1, expit(-0.4 + 0.45 * prior_usage), size=n)
    readiness = (
        0.70 * prior_usage
        + 0.35 * enterprise
        - 0.30 * account_complexity
        + rng.normal(0, 0.9, size=n)
    )
    return {
        "prior_usage": prior_usage,
        "account_complexity": account_complexity,
        "enterprise": enterprise,
        "x": _standardise(readiness),
    }


BINARY = Process(
    covariates=_binary_covariates,
    mediator_mean=lambda t, c: expit(
        -0.35 + 1.10 * t + 0.75 * c["x"] + 0.20 * c["enterprise"] - 0.22 * c["account_complexity"]
    ),
    outcome_mean=lambda t, m, c: expit(
        -1.25
        + 0.55 * t
        + 1.05 * m
        + 0.75 * t * m
        + 0.45 * c["x"]
        + 0.18 * c["enterprise"]
        - 0.20 * c["account_complexity"]
    ),
    binary_mediator=True,
    binary_outcome=True,
    observed=("prior_usage", "account_complexity", "enterprise", "x"),
)


# --- the notebook's unmeasured mediator-outcome confounder U ------------------------------

def _unmeasured_covariates(rng: np.random.Generator, n: int, **_: Any) -> Covariates:
    prior_usage = rng.normal(0, 1, size=n)
    support_burden = rng.poisson(lam=np.clip(1.3 - 0.20 * prior_usage, 0.2, 4.0), size=n)
    x_raw = 0.65 * prior_usage - 0.30 * support_burden + rng.normal(0, 0.9, size=n)
    return {
        "prior_usage": prior_usage,
        "support_burden": support_burden,
        "x": _standardise(x_raw),
        "u": rng.normal(0, 1, size=n),
    }


def _unmeasured_outcome(t, m, c, u_strength, outcome_strength=None):
    effect_on_y = u_strength if outcome_strength is None else outcome_strength
    return 1.5 + 1.10 * t + 1.50 * m + 0.45 * c["x"] + effect_on_y * c["u"]


UNMEASURED = Process(
    covariates=_unmeasured_covariates,
    mediator_mean=lambda t, c, u_strength, outcome_strength=None: (
        0.3 + 0.80 * t + 0.55 * c["x"] + u_strength * c["u"]
    ),
    outcome_mean=_unmeasured_outcome,
    mediator_sd=1.0,
    outcome_sd=1.2,
    observed=("prior_usage", "support_burden", "x", "u"),
)


# --- additions: interaction, post-treatment confounder, binary mediator ---------------------

def _standard_normal_x(rng: np.random.Generator, n: int, **_: Any) -> Covariates:
    return {"x": rng.normal(0, 1, size=n)}


def _interaction_outcome(t, m, c, interaction=0.5):
    return 1.0 + 0.9 * t + 1.2 * m + interaction * t * m + 0.5 * c["x"]


INTERACTION = Process(
    covariates=_standard_normal_x,
    mediator_mean=lambda t, c, interaction=0.5: 0.3 + 0.8 * t + 0.6 * c["x"],
    outcome_mean=_interaction_outcome,
    mediator_sd=1.0,
    outcome_sd=1.0,
)


def _post_treatment_covariates(rng: np.random.Generator, n: int) -> Covariates:
    x = rng.normal(0, 1, size=n)
    # L(0) and L(1) share the unit's error term; the observed L is picked by treatment later.
    e_l = rng.normal(0, 1, size=n)
    return {"x": x, "l0": 0.5 + 0.5 * x + e_l, "l1": 0.5 + 0.7 + 0.5 * x + e_l}


def _post_l(t: np.ndarray, c: Covariates) -> np.ndarray:
    return np.where(t == 1, c["l1"], c["l0"])


POST_TREATMENT = Process(
    covariates=_post_treatment_covariates,
    mediator_mean=lambda t, c: 0.2 + 0.6 * t + 0.8 * _post_l(t, c) + 0.5 * c["x"],
    outcome_mean=lambda t, m, c: 1.0 + 0.8 * t + 1.2 * m + 0.9 * _post_l(t, c) + 0.4 * c["x"],
    mediator_sd=1.0,
    outcome_sd=1.0,
    observed=("x",),
    post_treatment=lambda t, c: {"l": _post_l(t, c)},
)


BINARY_MEDIATOR = Process(
    covariates=_standard_normal_x,
    mediator_mean=lambda t, c: expit(-0.3 + 1.0 * t + 0.6 * c["x"]),
    outcome_mean=lambda t, m, c: 1.0 + 0.5 * t + 1.5 * m + 0.6 * t * m + 0.5 * c["x"],
    outcome_sd=1.0,
    binary_mediator=True,
)

CONTINUOUS_MEDIATOR_BINARY_OUTCOME = Process(
    covariates=_standard_normal_x,
    mediator_mean=lambda t, c: 0.2 + 0.7 * t + 0.5 * c["x"],
    outcome_mean=lambda t, m, c: expit(-0.8 + 0.5 * t + 0.9 * m + 0.3 * t * m + 0.4 * c["x"]),
    mediator_sd=1.0,
    binary_outcome=True,
)

Draw = Callable[[np.random.Generator, np.ndarray], np.ndarray]


def _negative_binomial(dispersion: float) -> Draw:
    """NB2 draws with mean ``mu`` and variance ``mu + dispersion * mu^2`` (gamma-Poisson)."""

    def draw(rng: np.random.Generator, mu: np.ndarray) -> np.ndarray:
        return rng.poisson(rng.gamma(1.0 / dispersion, dispersion * mu))

    return draw


COUNT_OUTCOME = Process(
    covariates=_standard_normal_x,
    mediator_mean=lambda t, c: 0.2 + 0.7 * t + 0.5 * c["x"],
    outcome_mean=lambda t, m, c: np.exp(0.1 + 0.3 * t + 0.35 * m + 0.15 * t * m + 0.3 * c["x"]),
    mediator_sd=0.8,
    outcome_draw=lambda rng, mu: rng.poisson(mu),
)

NEGBIN_OUTCOME = Process(
    covariates=_standard_normal_x,
    mediator_mean=lambda t, c: expit(-0.2 + 0.9 * t + 0.5 * c["x"]),
    outcome_mean=lambda t, m, c: np.exp(0.5 + 0.25 * t + 0.6 * m + 0.3 * c["x"]),
    binary_mediator=True,
    outcome_draw=_negative_binomial(1.2),
)

PROCESSES: dict[str, Process] = {
    "linear": LINEAR,
    "binary": BINARY,
    "unmeasured": UNMEASURED,
    "interaction": INTERACTION,
    "post_treatment": POST_TREATMENT,
    "binary_mediator": BINARY_MEDIATOR,
    "binary_outcome": CONTINUOUS_MEDIATOR_BINARY_OUTCOME,
    "count_outcome": COUNT_OUTCOME,
    "negbin_outcome": NEGBIN_OUTCOME,
}


def simulate(name: str, seed: int | None = None, n: int = 5000, **params: Any) -> pd.DataFrame:
    """Draw a data set from the process called ``name`` (a key of :data:`PROCESSES`)."""
    if name not in PROCESSES:
        raise KeyError(f"unknown process {name!r}; choose from {', '.join(PROCESSES)}")
    return PROCESSES[name].draw(seed, n, **params)


def simulate_linear(seed: int = 123, n: int = 6000) -> pd.DataFrame:
    """The notebook's onboarding experiment: continuous activation and revenue (Simulation 1).

    True effects: NIE = 0.85 * 1.55 = 1.3175, NDE = 1.15, TE = 2.4675.

    Examples
    --------
    >>> simulate_linear().shape
    (6000, 8)
    """
    return simulate("linear", seed, n)


def simulate_binary(seed: int = 321, n: int = 10000) -> pd.DataFrame:
    """The notebook's funnel: binary activation and renewal, T x M interaction (Simulation 2)."""
    return simulate("binary", seed, n)


def simulate_unmeasured(
    u_strength: float, seed: int = 555, n: int = 7000, outcome_strength: float | None = None
) -> pd.DataFrame:
    """The notebook's Simulation 3: a latent ``u`` of strength ``u_strength`` drives M and Y.

    ``outcome_strength`` sets U's effect on Y separately (default: ``u_strength``).
    True effects do not depend on either: NIE = 0.8 * 1.5 = 1.2, NDE = 1.1.
    """
    return simulate(
        "unmeasured", seed, n, u_strength=u_strength, outcome_strength=outcome_strength
    )


def add_measurement_error(
    frame: pd.DataFrame, column: str, sd: float, seed: int | None = None
) -> pd.DataFrame:
    """A copy of ``frame`` whose ``column`` is observed with independent N(0, sd^2) noise.

    Examples
    --------
    >>> noisy = add_measurement_error(simulate_linear(), "mediator", 1.0, seed=1)
    >>> bool((noisy["mediator"] != simulate_linear()["mediator"]).all())
    True
    """
    rng = np.random.default_rng(seed)
    out = frame.copy()
    out[column] = out[column] + rng.normal(0.0, sd, size=len(out))
    return out


def simulate_interaction(seed: int = 7, n: int = 5000, interaction: float = 0.5) -> pd.DataFrame:
    """Continuous mediator and outcome with a treatment-mediator interaction ``interaction``."""
    return simulate("interaction", seed, n, interaction=interaction)


def simulate_post_treatment(seed: int = 11, n: int = 5000) -> pd.DataFrame:
    """A post-treatment confounder ``l``: treatment moves L, and L moves both M and Y."""
    return simulate("post_treatment", seed, n)


def simulate_binary_mediator_continuous_outcome(seed: int = 13, n: int = 5000) -> pd.DataFrame:
    """Binary mediator, continuous outcome, with a treatment-mediator interaction."""
    return simulate("binary_mediator", seed, n)


def simulate_continuous_mediator_binary_outcome(seed: int = 17, n: int = 5000) -> pd.DataFrame:
    """Continuous mediator, binary (logistic) outcome, with a treatment-mediator interaction."""
    return simulate("binary_outcome", seed, n)


def simulate_count_outcome(seed: int = 19, n: int = 5000) -> pd.DataFrame:
    """Continuous mediator, Poisson count outcome (log link) with a treatment-mediator interaction.

    Examples
    --------
    >>> frame = simulate_count_outcome(n=1000)
    >>> bool((frame["outcome"] >= 0).all() and (frame["outcome"] % 1 == 0).all())
    True
    """
    return simulate("count_outcome", seed, n)


def simulate_negbin_outcome(seed: int = 23, n: int = 5000) -> pd.DataFrame:
    """Binary mediator, overdispersed NB2 count outcome: variance ``mu + 1.2 mu^2``."""
    return simulate("negbin_outcome", seed, n)


def truth(
    name: str,
    cde_at: tuple[float, ...] = (0.0, 1.0),
    n: int = _TRUTH_N,
    seed: int = _TRUTH_SEED,
    scale: Scale = "difference",
    **params: Any,
) -> dict[str, Any]:
    """True estimands of a process, from its structural equations.

    Potential outcomes are averaged over a large covariate sample (exact for the
    linear processes, Monte Carlo error about ``1e-4`` otherwise); a continuous
    mediator under a binary outcome is integrated out by Gauss-Hermite quadrature.

    Parameters
    ----------
    name : str
        Key of :data:`PROCESSES`.
    cde_at : tuple of float
        Mediator values for the controlled direct effects.
    n, seed : int
        Size and seed of the covariate sample.
    scale : {"difference", "ratio", "odds_ratio"}
        Contrast of the potential-outcome means (:mod:`medbook.scales`).
    **params
        Process parameters (e.g. ``u_strength``, ``interaction``).

    Returns
    -------
    dict
        ``te, nde0, nde1, nie0, nie1, pm``, the four potential-outcome means
        ``y1m1, y0m0, y1m0, y0m1`` and ``cde`` (a dict mediator value -> effect).

    Examples
    --------
    >>> round(truth("linear")["nie1"], 4)
    1.3175
    """
    process = PROCESSES[name]
    cov = process.covariates(np.random.default_rng(seed), n, **params)
    po = {
        f"y{t}m{tm}": process.expected_outcome(t, tm, cov, **params)
        for t in (0, 1)
        for tm in (0, 1)
    }
    controlled = {
        float(m): (process.controlled(1, m, cov, **params), process.controlled(0, m, cov, **params))
        for m in cde_at
    }
    return _on_scale(po, controlled, scale)


def _on_scale(
    po: dict[str, float], controlled: dict[float, tuple[float, float]], scale: Scale
) -> dict[str, Any]:
    """Estimands on ``scale`` from the four means and the controlled means ``(Y(1,m), Y(0,m))``."""
    out: dict[str, Any] = {
        k: float(v) for k, v in decompose({k: np.asarray(v) for k, v in po.items()}, scale).items()
    }
    out.update(po)
    out["cde"] = {m: float(contrast(np.asarray(a), np.asarray(b), scale))
                  for m, (a, b) in controlled.items()}
    return out


# --- the notebook's confounding sweep ---------------------------------------------------

def _notebook_seed(strength: float) -> int:
    return 1000 + int(strength * 100)


def confounding_sweep(
    strengths: Sequence[float] | np.ndarray = np.linspace(0, 1.4, 8),  # noqa: B008
    n: int = 7000,
    seed_rule: Any = _notebook_seed,
) -> pd.DataFrame:
    """Omitted-U against oracle estimates over strengths of an unmeasured confounder.

    For each strength ``s`` the notebook's process
    :func:`simulate_unmeasured` is drawn with seed
    ``seed_rule(s)`` (default ``1000 + int(100 s)``, as in the notebook) and the
    linear mediation model is fitted twice with :func:`medbook.mediate` (product
    of coefficients, ``method="delta"``): adjusting for ``x`` only ("omitted")
    and for ``x`` and the latent ``u`` ("oracle").

    Parameters
    ----------
    strengths : sequence of float
        Effect of U on both mediator and outcome.
    n : int
        Units per simulated data set.
    seed_rule : callable
        ``strength -> seed``.

    Returns
    -------
    pandas.DataFrame
        One row per strength: ``u_strength, seed, omitted_indirect, omitted_direct,
        omitted_total, oracle_indirect, oracle_direct, oracle_total, true_indirect,
        true_direct, true_total, omitted_bias``.
    """
    from .mediation import mediate

    rows = []
    for s in np.asarray(strengths, dtype=float).ravel():
        seed = int(seed_rule(float(s)))
        df = simulate_unmeasured(float(s), seed=seed, n=int(n))
        row: dict[str, Any] = {"u_strength": float(s), "seed": seed}
        for label, covs in (("omitted", ["x"]), ("oracle", ["x", "u"])):
            fit = mediate(df, "treatment", "mediator", "outcome", covs, method="delta")
            row[f"{label}_indirect"] = fit["nie1"]
            row[f"{label}_direct"] = fit["nde0"]
            row[f"{label}_total"] = fit["te"]
        true = truth("unmeasured", u_strength=float(s))
        row["true_indirect"] = true["nie1"]
        row["true_direct"] = true["nde0"]
        row["true_total"] = true["te"]
        row["omitted_bias"] = row["omitted_indirect"] - row["true_indirect"]
        rows.append(row)
    return pd.DataFrame(rows)


def brute_force_truth(
    name: str,
    cde_at: tuple[float, ...] = (0.0, 1.0),
    n: int = _TRUTH_N,
    seed: int = _TRUTH_SEED,
    scale: Scale = "difference",
    **params: Any,
) -> dict[str, Any]:
    """True estimands by nested potential-outcome simulation (a check on :func:`truth`).

    For every simulated unit, both potential mediators ``M(0)`` and ``M(1)`` are
    drawn from the structural equation (normal errors, or Bernoulli draws), then
    both potential outcomes ``Y(t, M(t'))`` and ``Y(t, m)`` are drawn (normal,
    Bernoulli, or the process's count distribution) and averaged. No integral
    or closed form is used, so agreement with :func:`truth` (quadrature) checks
    both; the Monte Carlo error is roughly ``SD(Y) / sqrt(n)``.

    Examples
    --------
    >>> tr = brute_force_truth("negbin_outcome", n=100_000, scale="ratio")
    >>> bool(abs(tr["te"] - truth("negbin_outcome", n=100_000, scale="ratio")["te"]) < 0.05)
    True
    """
    process = PROCESSES[name]
    rng = np.random.default_rng(seed)
    cov = process.covariates(rng, n, **params)
    m_of = {}
    for t_m in (0, 1):
        mean = process.mediator_mean(np.full(n, t_m), cov, **params)
        if process.binary_mediator:
            m_of[t_m] = rng.binomial(1, mean).astype(float)
        else:
            m_of[t_m] = mean + rng.normal(0.0, process.mediator_sd, size=n)

    def draw_outcome(t: int, m: np.ndarray) -> float:
        mean = process.outcome_mean(np.full(n, t), m, cov, **params)
        if process.binary_outcome:
            return float(np.mean(rng.binomial(1, mean)))
        if process.outcome_draw is not None:
            return float(np.mean(process.outcome_draw(rng, mean)))
        return float(np.mean(mean + rng.normal(0.0, process.outcome_sd, size=n)))

    po = {f"y{t}m{tm}": draw_outcome(t, m_of[tm]) for t in (0, 1) for tm in (0, 1)}
    controlled = {
        float(m): (draw_outcome(1, np.full(n, float(m))), draw_outcome(0, np.full(n, float(m))))
        for m in cde_at
    }
    return _on_scale(po, controlled, scale)
