"""Honest bookkeeping of bootstrap replicates: kept, limit fits, excluded and why.

A replicate is kept when both models converged, or when a model is a limit fit
(quasi-separation by a nuisance covariate: that covariate's coefficient runs to
infinity, the fitted probabilities of its rows go to 0 or 1, and the effects are
the limit's, as R's ``glm`` and ``mediation::mediate`` keep them). It is excluded
when the effects themselves are undefined in that resample; the intervals are
computed from the rest and the result says how many and why.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .data import AnalysisData
from .errors import FitError
from .fitcore import ModelFit, Status

__all__ = ["ReplicateAccounting", "account", "limit_fit_warnings"]

# Above this share of excluded replicates the intervals would rest on a biased subset.
_EXCLUDED_SHARE_LIMIT = 0.5
_NON_FINITE = "effects not finite"


@dataclass(frozen=True)
class ReplicateAccounting:
    """What happened to every requested replicate.

    Attributes
    ----------
    requested : int
        Replicates (or draws) asked for; 0 for the delta method.
    kept : int
        Replicates the intervals use (including limit fits).
    n_quasi_separated : int
        Kept replicates in which a model is a limit fit (quasi-separation by a
        nuisance covariate).
    excluded : dict of str to int
        Excluded replicates by reason.

    Examples
    --------
    >>> acc = ReplicateAccounting(1000, 995, 12, {"no convergence": 5})
    >>> acc.n_excluded, acc.excluded_share
    (5, 0.005)
    """

    requested: int
    kept: int
    n_quasi_separated: int = 0
    excluded: Mapping[str, int] = field(default_factory=dict)

    @property
    def n_excluded(self) -> int:
        """Replicates left out of the intervals."""
        return int(sum(self.excluded.values()))

    @property
    def excluded_share(self) -> float:
        """Excluded replicates as a share of those requested (0 when none were)."""
        return self.n_excluded / self.requested if self.requested else 0.0

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe form (for ``results.json`` and ``MediationResult.to_dict``)."""
        return {
            "requested": self.requested,
            "kept": self.kept,
            "n_quasi_separated": self.n_quasi_separated,
            "n_excluded": self.n_excluded,
            "excluded_share": self.excluded_share,
            "excluded": dict(self.excluded),
        }

    def sentence(self) -> str:
        """One plain sentence for a methods section ("" when there are no replicates)."""
        if not self.requested:
            return ""
        text = f"{self.kept} of {self.requested} replicates were used"
        if self.n_quasi_separated:
            text += (
                f", {self.n_quasi_separated} of them limit fits in which a sparse covariate "
                "level separates the outcome (kept, as R's glm does)"
            )
        if self.n_excluded:
            reasons = "; ".join(f"{reason}: {count}" for reason, count in self.excluded.items())
            text += (
                f"; {self.n_excluded} were excluded because the effects are undefined in them "
                f"({reasons})"
            )
        return text + "."


def account(
    fits: Sequence[ModelFit], draws: Mapping[str, np.ndarray], keys: Sequence[str]
) -> tuple[np.ndarray, ReplicateAccounting]:
    """Mask of kept replicates and their accounting.

    Parameters
    ----------
    fits : sequence of ModelFit
        The replicate fits of every model (their ``status`` arrays); empty for draws
        that need no fit (quasi-Bayes).
    draws : mapping of str to numpy.ndarray
        ``(B,)`` estimands per replicate.
    keys : sequence of str
        Estimands that must be finite for a replicate to count (the proportion
        mediated, a ratio, is left out: a zero total effect makes it undefined alone).

    Raises
    ------
    FitError
        When fewer than two replicates are kept or more than half are excluded.
    """
    size = len(next(iter(draws.values())))
    worst = np.zeros(size, dtype=np.int8)
    for fit in fits:
        worst = np.maximum(worst, fit.status)
    finite = np.all([np.isfinite(draws[k]) for k in keys if k != "pm"], axis=0)
    excluded: dict[str, int] = {}
    for code in (Status.SEPARATED, Status.SINGULAR, Status.NOT_CONVERGED):
        count = int(np.sum(worst == code))
        if count:
            excluded[code.reason] = count
    usable = worst <= Status.LIMIT
    if np.any(usable & ~finite):
        excluded[_NON_FINITE] = int(np.sum(usable & ~finite))
    ok = usable & finite
    accounting = ReplicateAccounting(
        requested=size,
        kept=int(ok.sum()),
        n_quasi_separated=int(np.sum(ok & (worst == Status.LIMIT))),
        excluded=excluded,
    )
    if accounting.kept < 2 or accounting.excluded_share > _EXCLUDED_SHARE_LIMIT:
        reasons = ", ".join(f"{r}: {c}" for r, c in excluded.items())
        raise FitError(
            f"{accounting.n_excluded} of {size} bootstrap replicates failed ({reasons}); "
            "the models are too fragile for these data"
        )
    return ok, accounting


def limit_fit_warnings(study: AnalysisData, fits: Mapping[str, ModelFit]) -> list[str]:
    """Plain-language warnings for point fits that are limit fits, naming column and level.

    ``fits`` maps the response column to its point fit.
    """
    out = []
    for response, fit in fits.items():
        if fit.limit_rows is None:
            continue
        rows = np.zeros(study.n, dtype=bool)
        rows[fit.limit_rows] = True
        values = np.unique(_response(study, response)[rows])
        has = f"has {response} = {values[0]:g}" if values.size == 1 else "is fitted exactly"
        out.append(
            f"{fit.family} model for {response!r}: every row with {_describe(study, rows)} "
            f"{has}, so the coefficients of {', '.join(map(repr, fit.limit_terms))} diverge "
            "(quasi-separation); the limit fit is used, as R's glm does, and the effects are "
            "unaffected"
        )
    return out


def _describe(study: AnalysisData, rows: np.ndarray) -> str:
    """``"occp = 'farm'"`` when ``rows`` are one level of a categorical covariate."""
    for column in study.covariate_columns:
        prefix = f"{column}["
        cols = [i for i, name in enumerate(study.covariate_names)
                if name.startswith(prefix) and name.endswith("]")]
        if column not in study.reference_levels or not cols:
            continue
        block = study.covariates[:, cols] == 1.0
        if np.array_equal(~block.any(axis=1), rows):
            return f"{column} = {study.reference_levels[column]!r}"
        for j, i in enumerate(cols):
            if np.array_equal(block[:, j], rows):
                return f"{column} = {study.covariate_names[i][len(prefix):-1]!r}"
    shown = ", ".join(str(r + 1) for r in np.flatnonzero(rows)[:5])
    return f"these {int(rows.sum())} covariate patterns (rows {shown}, ...)"


def _response(study: AnalysisData, column: str) -> np.ndarray:
    return study.outcome if column == study.names["outcome"] else study.mediator
