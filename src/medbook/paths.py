"""Several mediators in causal order: joint natural and sequential path-specific effects.

With mediators ``M1, ..., MK`` (each may affect the later ones), write
``Q(a; c1, ..., cK)`` for the mean outcome when the outcome's treatment is set
to ``a`` and mediator ``k`` takes its value under treatment ``ck`` given the
earlier mediators' (counterfactual) values; for two mediators
``Q(a; c, b) = E[Y(a, M1(c), M2(b, M1(c)))]``. The sequential decomposition
(Daniel et al. 2015; VanderWeele & Vansteelandt 2014) switches the treatment
from 0 to 1 first in the outcome, then in ``MK``, ..., finally in ``M1``:

* ``pse(direct)`` = ``Q(1; 0..0) - Q(0; 0..0)``
* ``pse(MK)`` = ``Q(1; 0..0, 1) - Q(1; 0..0)`` (through ``MK`` only)
* ...
* ``pse(M1)`` = ``Q(1; 1..1) - Q(1; 0, 1..1)`` (through ``M1``, including ``M1 -> later``)

They add up to ``te``. The joint natural effects treat ``(M1..MK)`` as one
mediator: ``nde0 = pse(direct)``, ``nie1 = te - nde0`` and so on.

Potential-outcome means are keyed ``"y<a>m<c1...cK>"``, e.g. ``"y1m10"``; the
joint ones are also given the single-mediator names ``y1m1, y0m0, y1m0, y0m1``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .fit import Family
from .gformula import Node, Step

__all__ = [
    "contrast",
    "path_estimands",
    "path_keys",
    "path_nodes",
    "path_plans",
    "pse_key",
]


def pse_key(name: str) -> str:
    """Estimand key of a path-specific effect, e.g. ``"pse(usage)"`` or ``"pse(direct)"``."""
    return f"pse({name})"


def contrast(treated: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """The contrast of two potential-outcome means (the difference scale)."""
    return treated - reference


def path_nodes(
    mediator_families: Sequence[Family], outcome_family: Family, interaction: bool
) -> list[Node]:
    """Models of the chain: mediator ``k`` on all earlier mediators; the outcome on all.

    Examples
    --------
    >>> path_nodes(["linear", "logit"], "logit", True)[-1]
    Node(family='logit', parents=(0, 1), interacts=(0, 1))
    """
    k = len(mediator_families)
    nodes = [Node(family, tuple(range(j))) for j, family in enumerate(mediator_families)]
    every = tuple(range(k))
    return [*nodes, Node(outcome_family, every, every if interaction else ())]


def _q_key(a: int, settings: Sequence[int]) -> str:
    return f"y{a}m{''.join(str(s) for s in settings)}"


def _sequence(k: int) -> list[tuple[int, tuple[int, ...]]]:
    """Settings of the sequential decomposition: outcome first, then mediators K..1."""
    out = [(0, (0,) * k), (1, (0,) * k)]
    for switched in range(1, k + 1):
        out.append((1, (0,) * (k - switched) + (1,) * switched))
    return out


def _plan(a: int, settings: Sequence[int]) -> tuple[Step, ...]:
    k = len(settings)
    steps = [Step(j, settings[j], tuple(range(j))) for j in range(k)]
    return (*steps, Step(k, a, tuple(range(k))))


def path_plans(k: int) -> dict[str, tuple[Step, ...]]:
    """Plans of every potential-outcome mean the estimands need.

    Examples
    --------
    >>> sorted(path_plans(2))
    ['y0m00', 'y0m11', 'y1m00', 'y1m01', 'y1m11']
    """
    wanted = [*_sequence(k), (0, (1,) * k)]
    return {_q_key(a, s): _plan(a, s) for a, s in wanted}


def path_keys(mediators: Sequence[str]) -> list[str]:
    """Estimand keys in reporting order: joint effects, then path-specific effects."""
    return [
        "te", "nde0", "nde1", "nie0", "nie1", "pm",
        pse_key("direct"), *(pse_key(m) for m in reversed(mediators)),
    ]


def joint_potential_outcomes(q: dict[str, np.ndarray], k: int) -> dict[str, np.ndarray]:
    """The four joint means under their single-mediator names (``y1m0`` = all mediators at 0)."""
    return {f"y{a}m{c}": q[_q_key(a, (c,) * k)] for a in (1, 0) for c in (1, 0)}


def path_estimands(q: dict[str, np.ndarray], mediators: Sequence[str]) -> dict[str, np.ndarray]:
    """Joint natural effects and sequential path-specific effects from the means ``q``.

    Examples
    --------
    >>> import numpy as np
    >>> q = {"y0m00": np.array([1.0]), "y1m00": np.array([1.5]), "y1m01": np.array([2.0]),
    ...      "y1m11": np.array([3.0]), "y0m11": np.array([2.2])}
    >>> est = path_estimands(q, ["usage", "activation"])
    >>> [float(est[k][0]) for k in ("te", "pse(direct)", "pse(activation)", "pse(usage)")]
    [2.0, 0.5, 0.5, 1.0]
    """
    k = len(mediators)
    joint = joint_potential_outcomes(q, k)
    te = contrast(joint["y1m1"], joint["y0m0"])
    nie1 = contrast(joint["y1m1"], joint["y1m0"])
    with np.errstate(divide="ignore", invalid="ignore"):
        pm = nie1 / te
    out = {
        "te": te,
        "nde0": contrast(joint["y1m0"], joint["y0m0"]),
        "nde1": contrast(joint["y1m1"], joint["y0m1"]),
        "nie0": contrast(joint["y0m1"], joint["y0m0"]),
        "nie1": nie1,
        "pm": pm,
    }
    sequence = [q[_q_key(a, s)] for a, s in _sequence(k)]
    names = ["direct", *reversed(mediators)]
    for name, before, after in zip(names, sequence[:-1], sequence[1:], strict=True):
        out[pse_key(name)] = contrast(after, before)
    return out
