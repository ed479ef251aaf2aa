"""Post-treatment confounders: randomised interventional analogues of natural effects.

When a measured variable ``L`` is caused by treatment and confounds the
mediator-outcome relation, natural direct and indirect effects are not
identified, whatever the models. VanderWeele, Vansteelandt & Robins (2014)
replace the unit's own counterfactual mediator by a random draw ``G(a*)`` from
the distribution of the mediator under treatment ``a*`` among units with the
same covariates:

``Q(a, a*) = E[Y(a, L(a), G(a*))]``
    ``= E_C sum_l E[Y | a, l, m, C] f(l | a, C) f(m | a*, C) dm``, where
    ``f(m | a*, C) = int f(m | a*, l', C) f(l' | a*, C) dl'``.

The effects are ``rnde0 = Q(1,0) - Q(0,0)``, ``rnie1 = Q(1,1) - Q(1,0)``,
``rnde1 = Q(1,1) - Q(0,1)``, ``rnie0 = Q(0,1) - Q(0,0)`` and
``rte = Q(1,1) - Q(0,0) = rnde0 + rnie1``. ``rte`` is the effect of treatment
when the mediator is drawn at random (not the total effect), and ``rnie``
measures how much shifting the mediator's *distribution* moves the outcome;
neither describes what happens within a unit. Controlled direct effects
``E[Y(1, m)] - E[Y(0, m)]`` remain identified (the g-formula over ``L``).

Models: confounder ``j`` on treatment, covariates and earlier confounders;
mediator ``k`` on treatment, every confounder, earlier mediators and
covariates; the outcome on treatment, mediators, confounders and covariates
(``interaction`` adds treatment x each mediator).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .effects import cde_key
from .fit import Family
from .gformula import Node, Step
from .paths import contrast

__all__ = [
    "INTERVENTIONAL_NOTE",
    "interventional_estimands",
    "interventional_keys",
    "interventional_nodes",
    "interventional_plans",
]

INTERVENTIONAL_NOTE = (
    "natural direct and indirect effects are not identified when a post-treatment variable "
    "confounds the mediator and the outcome; the table reports the randomised interventional "
    "analogues (VanderWeele, Vansteelandt & Robins 2014), which compare random draws of the "
    "mediator from its distribution under each arm, not each unit's own mediator value"
)


def interventional_nodes(
    confounder_families: Sequence[Family],
    mediator_families: Sequence[Family],
    outcome_family: Family,
    interaction: bool,
) -> list[Node]:
    """Models: confounders (in order), mediators (after all confounders), then the outcome.

    Examples
    --------
    >>> interventional_nodes(["logit"], ["linear"], "linear", True)[-1]
    Node(family='linear', parents=(1, 0), interacts=(1,))
    """
    q, k = len(confounder_families), len(mediator_families)
    conf = tuple(range(q))
    meds = tuple(range(q, q + k))
    nodes = [Node(f, tuple(range(j))) for j, f in enumerate(confounder_families)]
    nodes += [Node(f, conf + meds[:j]) for j, f in enumerate(mediator_families)]
    return [*nodes, Node(outcome_family, meds + conf, meds if interaction else ())]


def _plan(q: int, k: int, a: int, a_star: int) -> tuple[Step, ...]:
    """Confounders and mediators under ``a*`` (the draw G), confounders under ``a``, outcome."""
    ghost = [Step(j, a_star, tuple(range(j))) for j in range(q)]
    mediators = [Step(q + j, a_star, tuple(range(q + j))) for j in range(k)]
    own = [Step(j, a, tuple(range(q + k, q + k + j))) for j in range(q)]
    parents = tuple(range(q, q + k)) + tuple(range(q + k, 2 * q + k))
    return (*ghost, *mediators, *own, Step(q + k, a, parents))


def _controlled_plan(q: int, a: int, m: float) -> tuple[Step, ...]:
    own = [Step(j, a, tuple(range(j))) for j in range(q)]
    fixed = Step(q, a, (), fixed=m)
    return (*own, fixed, Step(q + 1, a, (q, *range(q))))


def interventional_plans(
    q: int, k: int, cde_at: Sequence[float] = ()
) -> dict[str, tuple[Step, ...]]:
    """Plans of ``Q(a, a*)`` (keyed ``"y<a>g<a*>"``) and of the controlled means.

    Controlled effects need a single mediator (``k == 1``).

    Examples
    --------
    >>> sorted(interventional_plans(1, 1, [0.5]))
    ['cde0|0.5', 'cde1|0.5', 'y0g0', 'y0g1', 'y1g0', 'y1g1']
    """
    plans = {f"y{a}g{s}": _plan(q, k, a, s) for a in (0, 1) for s in (0, 1)}
    for m in cde_at:
        for a in (0, 1):
            plans[f"cde{a}|{m:.10g}"] = _controlled_plan(q, a, float(m))
    return plans


def interventional_keys(cde_at: Sequence[float] = ()) -> list[str]:
    """Estimand keys in reporting order."""
    return ["rte", "rnde0", "rnde1", "rnie0", "rnie1", *(cde_key(m) for m in cde_at)]


def interventional_estimands(
    q: dict[str, np.ndarray], cde_at: Sequence[float] = ()
) -> dict[str, np.ndarray]:
    """Interventional effects (and controlled direct effects) from the means ``q``.

    Examples
    --------
    >>> import numpy as np
    >>> q = {k: np.array([v]) for k, v in
    ...      {"y0g0": 1.0, "y1g0": 1.6, "y0g1": 1.3, "y1g1": 2.0}.items()}
    >>> est = interventional_estimands(q)
    >>> [round(float(est[k][0]), 3) for k in ("rte", "rnde0", "rnie1")]
    [1.0, 0.6, 0.4]
    """
    out = {
        "rte": contrast(q["y1g1"], q["y0g0"]),
        "rnde0": contrast(q["y1g0"], q["y0g0"]),
        "rnde1": contrast(q["y1g1"], q["y0g1"]),
        "rnie0": contrast(q["y0g1"], q["y0g0"]),
        "rnie1": contrast(q["y1g1"], q["y1g0"]),
    }
    for m in cde_at:
        out[cde_key(m)] = contrast(q[f"cde1|{m:.10g}"], q[f"cde0|{m:.10g}"])
    return out
