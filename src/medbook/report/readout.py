"""One analysis step for the memo and the book: :func:`analyse` a result into a :class:`Readout`.

A readout holds the mediation result and everything computed from it for the
report -- the sensitivity summary, the full rho curve and robustness value, and
the diagnostics. :meth:`Readout.context` turns it into the template context.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import MedbookError
from ..results import MediationResult
from .formatting import finite

if TYPE_CHECKING:
    from ..diagnostics import Diagnostics
    from ..sensitivity import RhoSensitivity, Robustness

__all__ = [
    "Readout",
    "SensitivitySummary",
    "analyse",
    "diagnostics_inputs",
    "summarize_sensitivity",
]


@dataclass(frozen=True)
class SensitivitySummary:
    """Numbers of the sensitivity analysis the report quotes.

    Attributes
    ----------
    available : bool
        Whether the correlation-of-errors analysis ran.
    rho_zero : float or None
        Error correlation at which NIE(1) is zero (None if it never is).
    rho_ci_zero : float or None
        Smallest ``|rho|`` at which the NIE(1) interval includes zero.
    r2_star, r2_tilde : float or None
        The zero crossing as R²_M*·R²_Y* (share of the residual variances a
        confounder must explain) and R̃²_M·R̃²_Y (share of the total variances).
    robustness_value : float or None
        Bias-formula robustness value (smallest confounding strength moving the
        interval's limit to zero), if computed.
    robustness_sentence : str
        medbook's own sentence explaining ``robustness_value`` (no user text).
    note : str
        Why the analysis is unavailable, or a caveat it carries.
    """

    available: bool
    rho_zero: float | None = None
    rho_ci_zero: float | None = None
    r2_star: float | None = None
    r2_tilde: float | None = None
    robustness_value: float | None = None
    robustness_sentence: str = ""
    note: str = ""



def summarize_sensitivity(
    res: MediationResult,
) -> tuple[SensitivitySummary, RhoSensitivity | None, Robustness | None]:
    """Run the sensitivity analyses of NIE(1) and collect the numbers the report quotes.

    Parameters
    ----------
    res : MediationResult

    Returns
    -------
    (SensitivitySummary, RhoSensitivity or None, Robustness or None)
        The summary, and the full results (for figures and ``results.json``).
    """
    from .. import sensitivity

    try:
        robustness = sensitivity.robustness_value(res, "nie1")
    except MedbookError:
        robustness = None
    extra = {}
    if robustness is not None and finite(robustness.value):
        extra = {"robustness_value": float(robustness.value),
                 "robustness_sentence": robustness.sentence}
    try:
        curve = sensitivity.rho(res)
    except (MedbookError, np.linalg.LinAlgError) as err:
        note = " ".join(str(err).split())
        return SensitivitySummary(available=False, note=note, **extra), None, robustness
    rho_zero = curve.zero_crossing.get("nie1")
    summary = SensitivitySummary(
        available=True,
        rho_zero=None if rho_zero is None else float(rho_zero),
        rho_ci_zero=curve.ci_covers_zero_from().get("nie1"),
        r2_star=curve.r2_star_product.get("nie1"),
        r2_tilde=curve.r2_tilde_product.get("nie1"),
        note=" ".join(curve.notes),
        **extra,
    )
    return summary, curve, robustness


def diagnostics_inputs(res: MediationResult) -> tuple[list[str], list[dict[str, Any]], Any]:
    """Diagnostic warnings, covariate-balance rows ``{"covariate", "smd"}`` and the
    full :class:`medbook.diagnostics.Diagnostics`, as :func:`build_context` takes them."""
    from .. import diagnostics

    diag = diagnostics.diagnose(res)
    return list(diag.warnings), _balance(diag), diag


def _balance(diag: Diagnostics) -> list[dict[str, Any]]:
    return [
        {"covariate": row["covariate"], "smd": row["smd"]}
        for row in diag.balance.to_dict("records")
    ]


@dataclass(frozen=True)
class Readout:
    """A result and everything the report computes from it.

    Attributes
    ----------
    result : MediationResult
    sensitivity : SensitivitySummary
        The numbers the report quotes.
    curve : RhoSensitivity or None
        The full rho analysis (None when unavailable for the model pair).
    robustness : Robustness or None
        The bias-formula robustness value of NIE(1).
    diagnostics : Diagnostics
    sample_rows : int or None
        Rows of the random sample that the sensitivity analysis and the diagnostics
        used when ``result`` used more rows (``medbook memo --scheduler``); None when
        they used the rows of ``result``.
    """

    result: MediationResult
    sensitivity: SensitivitySummary
    curve: RhoSensitivity | None
    robustness: Robustness | None
    diagnostics: Diagnostics
    sample_rows: int | None = None

    @property
    def balance(self) -> list[dict[str, Any]]:
        """Covariate-balance rows ``{"covariate", "smd"}``."""
        return _balance(self.diagnostics)

    def context(self, framing: Any = None, **options: Any) -> dict[str, Any]:
        """The template context: :func:`medbook.report.build_context` of this readout.

        ``options`` are its keywords ``figures``, ``escape``, ``comparison``, ``sections``.
        """
        from .context import build_context

        return build_context(
            self.result, framing, self.sensitivity,
            diagnostics_warnings=list(self.diagnostics.warnings), balance=self.balance,
            sample_rows=self.sample_rows, **options,
        )


def analyse(
    res: MediationResult, *, on_step: Callable[[str], None] | None = None
) -> Readout:
    """Run the sensitivity analyses and the diagnostics of a result.

    Parameters
    ----------
    res : MediationResult
    on_step : callable, optional
        Called with ``"diagnostics"`` when the sensitivity analyses are done (the
        memo's progress bar).

    Returns
    -------
    Readout

    Examples
    --------
    >>> import medbook
    >>> res = medbook.mediate(medbook.simulate.simulate_linear(), "treatment", "mediator",
    ...                       "outcome", ["x"], method="delta")
    >>> readout = analyse(res)
    >>> readout.sensitivity.available, str(readout.context()["robustness"])
    (True, 'robust')
    """
    from .. import diagnostics

    summary, curve, robustness = summarize_sensitivity(res)
    if on_step is not None:
        on_step("diagnostics")
    return Readout(res, summary, curve, robustness, diagnostics.diagnose(res))
