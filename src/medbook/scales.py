"""Effect scales: contrasts of potential-outcome means as differences, ratios or odds ratios.

With ``Q(t, t') = E[Y(t, M(t'))]`` (and ``Q(t | m) = E[Y(t, m)]`` for controlled
effects) every estimand is a contrast ``C(a, b)`` of two such means:

==========  ==================  =================  ===============================
estimand    a                   b                  meaning
==========  ==================  =================  ===============================
``te``      ``Q(1, 1)``         ``Q(0, 0)``        total effect
``nde0``    ``Q(1, 0)``         ``Q(0, 0)``        pure natural direct effect
``nde1``    ``Q(1, 1)``         ``Q(0, 1)``        total natural direct effect
``nie0``    ``Q(0, 1)``         ``Q(0, 0)``        pure natural indirect effect
``nie1``    ``Q(1, 1)``         ``Q(1, 0)``        total natural indirect effect
``cde``     ``Q(1 | m)``        ``Q(0 | m)``       controlled direct effect at ``m``
==========  ==================  =================  ===============================

* ``"difference"``: ``C(a, b) = a - b`` (a risk difference for a 0/1 outcome);
  decompositions add: ``te == nde0 + nie1 == nde1 + nie0``.
* ``"ratio"``: ``C(a, b) = a / b`` (risk ratio for a 0/1 outcome, rate ratio for a
  count, ratio of means otherwise); decompositions multiply: ``te == nde0 * nie1``.
* ``"odds_ratio"``: ``C(a, b) = odds(a) / odds(b)`` with ``odds(q) = q / (1 - q)``,
  the odds of the *marginal* means (0/1 outcomes only); it also multiplies.

The proportion mediated ``pm`` is ``nie1 / te`` on the difference scale. On the
two multiplicative scales it follows VanderWeele (2015, sec. 2.15; VanderWeele &
Vansteelandt 2010) for ratios,

    pm = nde0 * (nie1 - 1) / (nde0 * nie1 - 1) = nde0 * (nie1 - 1) / (te - 1),

the share of the *excess* ratio ``te - 1`` that runs through the mediator. On the
risk-ratio scale this equals the difference-scale ``pm`` exactly (divide numerator
and denominator by ``Q(0, 0)``); on the odds-ratio scale it approximates it when the
outcome is rare.

Every function is batched: arrays carry a leading replicate axis ``B`` (any
shape works), so point estimates, bootstrap replicates and delta-method
perturbations share the code. Ratio estimands are summarised on the log scale
(:func:`working`), where they are additive and their sampling distribution is
closer to normal; ``pm`` stays on its natural scale.
"""

from __future__ import annotations

from typing import Literal, get_args

import numpy as np

from .errors import ConfigError

__all__ = [
    "SCALES",
    "Scale",
    "cde_mean_key",
    "check_scale",
    "contrast",
    "decompose",
    "from_working",
    "is_multiplicative",
    "null_value",
    "proportion_mediated",
    "scale_label",
    "working",
]

Scale = Literal["difference", "ratio", "odds_ratio"]
SCALES: tuple[str, ...] = get_args(Scale)

# Natural-effect keys and the potential-outcome means (a, b) each one contrasts.
_PAIRS = {
    "te": ("y1m1", "y0m0"),
    "nde0": ("y1m0", "y0m0"),
    "nde1": ("y1m1", "y0m1"),
    "nie0": ("y0m1", "y0m0"),
    "nie1": ("y1m1", "y1m0"),
}


def check_scale(scale: str, outcome_kind: str, outcome: str = "outcome") -> Scale:
    """Normalise ``scale`` and check that it suits the outcome.

    Parameters
    ----------
    scale : {"difference", "ratio", "odds_ratio"}
        Case-insensitive; ``-`` and spaces count as ``_``.
    outcome_kind : {"binary", "continuous", "count"}
        Detected or modelled type of the outcome.
    outcome : str
        Column name, for the error message.

    Raises
    ------
    ConfigError
        For an unknown scale, or ``"odds_ratio"`` with an outcome that is not 0/1.

    Examples
    --------
    >>> check_scale("Odds-Ratio", "binary")
    'odds_ratio'
    """
    normalised = scale
    if isinstance(scale, str):
        normalised = scale.lower().replace("-", "_").replace(" ", "_")
    if normalised not in SCALES:
        raise ConfigError(f"scale must be one of {', '.join(SCALES)}; got {scale!r}")
    if normalised == "odds_ratio" and outcome_kind != "binary":
        raise ConfigError(
            f"scale 'odds_ratio' needs a 0/1 outcome, but {outcome!r} is not binary; "
            "use 'ratio' or 'difference'"
        )
    return normalised  # type: ignore[return-value]


def is_multiplicative(scale: Scale) -> bool:
    """Whether decompositions multiply (ratio and odds-ratio scales)."""
    return scale != "difference"


def null_value(scale: Scale) -> float:
    """The value of "no effect": 0 for differences, 1 for ratios."""
    return 1.0 if is_multiplicative(scale) else 0.0


def scale_label(scale: Scale, outcome_kind: str) -> str:
    """Plain name of the contrast, e.g. ``"risk ratio"`` or ``"rate ratio"``.

    Examples
    --------
    >>> scale_label("difference", "binary"), scale_label("ratio", "count")
    ('risk difference', 'rate ratio')
    >>> scale_label("difference", "count")
    'difference'
    """
    if scale == "odds_ratio":
        return "odds ratio"
    if scale == "ratio":
        return {"binary": "risk ratio", "count": "rate ratio"}.get(outcome_kind, "ratio of means")
    return "risk difference" if outcome_kind == "binary" else "difference"


def _odds(q: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where((q > 0) & (q < 1), q / (1.0 - q), np.nan)


def contrast(a: np.ndarray, b: np.ndarray, scale: Scale) -> np.ndarray:
    """Contrast of mean ``a`` against mean ``b`` on ``scale``, elementwise.

    Ratios of non-positive means (and odds ratios of means outside ``(0, 1)``)
    are undefined and come back as NaN.

    Examples
    --------
    >>> round(float(contrast(np.array(0.3), np.array(0.2), "ratio")), 4)
    1.5
    >>> round(float(contrast(np.array(0.3), np.array(0.2), "odds_ratio")), 4)
    1.7143
    """
    a = np.asarray(a, dtype=float)
    b = np.asarray(b, dtype=float)
    if scale == "difference":
        return a - b
    if scale == "odds_ratio":
        a, b = _odds(a), _odds(b)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where((a > 0) & (b > 0), a / b, np.nan)


def proportion_mediated(
    nde0: np.ndarray, nie1: np.ndarray, te: np.ndarray, scale: Scale
) -> np.ndarray:
    """Proportion mediated: ``nie1 / te``, or ``nde0 (nie1 - 1) / (te - 1)`` for ratios."""
    with np.errstate(divide="ignore", invalid="ignore"):
        if is_multiplicative(scale):
            return nde0 * (nie1 - 1.0) / (te - 1.0)
        return nie1 / te


def cde_mean_key(t: int, m: float) -> str:
    """Key of ``E[Y(t, m)]`` in a potential-outcome dict, e.g. ``"y1|m=0"``."""
    return f"y{t}|m={m:.10g}"


def decompose(po: dict[str, np.ndarray], scale: Scale) -> dict[str, np.ndarray]:
    """Total, natural direct/indirect effects, ``pm`` and CDEs on ``scale``.

    Parameters
    ----------
    po : dict
        Arrays ``y1m1, y0m0, y1m0, y0m1`` of ``Q(t, t')`` and, for each mediator
        value ``v`` of a controlled effect, ``y1|m=<v>`` and ``y0|m=<v>`` (see
        :func:`cde_mean_key`); other keys are ignored.
    scale : {"difference", "ratio", "odds_ratio"}

    Returns
    -------
    dict
        ``te, nde0, nde1, nie0, nie1, pm`` and ``cde(m=<v>)``, same shapes as the input.

    Examples
    --------
    >>> po = {"y1m1": np.array([0.30]), "y0m0": np.array([0.10]),
    ...       "y1m0": np.array([0.20]), "y0m1": np.array([0.15])}
    >>> eff = decompose(po, "ratio")
    >>> round(float(eff["te"][0]), 6), round(float(eff["nde0"][0] * eff["nie1"][0]), 6)
    (3.0, 3.0)
    >>> round(float(eff["pm"][0]), 4), round(float(decompose(po, "difference")["pm"][0]), 4)
    (0.5, 0.5)
    """
    out = {key: contrast(po[a], po[b], scale) for key, (a, b) in _PAIRS.items()}
    out["pm"] = proportion_mediated(out["nde0"], out["nie1"], out["te"], scale)
    for key in po:
        if key.startswith("y1|m="):
            value = key[len("y1|"):]
            out[f"cde({value})"] = contrast(po[key], po[f"y0|{value}"], scale)
    return out


def _logged(key: str, scale: Scale) -> bool:
    return is_multiplicative(scale) and key != "pm"


def working(values: np.ndarray, key: str, scale: Scale) -> np.ndarray:
    """Map an estimand to the scale its intervals are built on (log for ratios).

    Non-positive ratios (undefined) become NaN.
    """
    values = np.asarray(values, dtype=float)
    if not _logged(key, scale):
        return values
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(values > 0, np.log(values), np.nan)


def from_working(values: np.ndarray, key: str, scale: Scale) -> np.ndarray:
    """Inverse of :func:`working` (``exp`` for ratio estimands)."""
    values = np.asarray(values, dtype=float)
    return np.exp(values) if _logged(key, scale) else values
