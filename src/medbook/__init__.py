"""medbook: causal mediation analysis, with a book and decision memos that compute themselves.

The front door is :func:`mediate`; see the book for a guided tour. Submodules are
imported on first use, so the command line starts quickly.

Examples
--------
>>> import medbook
>>> df = medbook.simulate.simulate_linear()
>>> res = medbook.mediate(df, "treatment", "mediator", "outcome", ["x"], n_boot=200, seed=1)
>>> list(res.to_frame().columns)
['estimand', 'estimate', 'std_error', 'ci_lower', 'ci_upper', 'p_value']
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from .errors import ConfigError, DataError, FitError, MedbookError, RenderError

__version__ = "0.1.0"

if TYPE_CHECKING:
    from . import dags, data, diagnostics, plots, report, scales, sensitivity, simulate
    from .mediation import mediate
    from .results import MediationResult

_SUBMODULES = (
    "dags", "data", "diagnostics", "plots", "report", "scales", "sensitivity", "simulate",
)
_OBJECTS = {"mediate": ".mediation", "MediationResult": ".results"}


def __getattr__(name: str) -> Any:
    if name in _SUBMODULES:
        return importlib.import_module(f".{name}", __name__)
    if name in _OBJECTS:
        return getattr(importlib.import_module(_OBJECTS[name], __name__), name)
    raise AttributeError(f"module 'medbook' has no attribute {name!r}")


__all__ = [
    "ConfigError",
    "DataError",
    "FitError",
    "MedbookError",
    "MediationResult",
    "RenderError",
    "__version__",
    "dags",
    "data",
    "diagnostics",
    "mediate",
    "plots",
    "report",
    "scales",
    "sensitivity",
    "simulate",
]
