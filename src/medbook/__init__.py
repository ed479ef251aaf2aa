"""medbook: causal mediation analysis, with a book and decision memos that compute themselves.

The front door is :func:`mediate`; see the book for a guided tour.

Examples
--------
>>> import medbook
>>> df = medbook.simulate.simulate_linear()
>>> res = medbook.mediate(df, "treatment", "mediator", "outcome", ["x"], n_boot=200, seed=1)
>>> list(res.to_frame().columns)
['estimand', 'estimate', 'std_error', 'ci_lower', 'ci_upper', 'p_value']
"""

from __future__ import annotations

__version__ = "0.1.0"

import importlib
from typing import Any

from . import data, diagnostics, errors, sensitivity, simulate
from .errors import ConfigError, DataError, FitError, MedbookError, RenderError
from .mediation import mediate
from .results import MediationResult

_LAZY = ("dags", "plots", "report")  # import graphviz / matplotlib / jinja2 only when used


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return importlib.import_module(f".{name}", __name__)
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
    "errors",
    "mediate",
    "plots",
    "report",
    "sensitivity",
    "simulate",
]
