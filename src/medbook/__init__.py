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

from . import data, errors, simulate
from .errors import ConfigError, DataError, FitError, MedbookError, RenderError
from .mediation import mediate
from .results import MediationResult

__all__ = [
    "ConfigError",
    "DataError",
    "FitError",
    "MedbookError",
    "MediationResult",
    "RenderError",
    "__version__",
    "data",
    "errors",
    "mediate",
    "simulate",
]
