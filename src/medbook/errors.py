"""The single exception family raised by medbook.

Every error a user can trigger is a :class:`MedbookError`; the CLI prints its
message on one line and exits with status 2.
"""

from __future__ import annotations

__all__ = [
    "ConfigError",
    "DataError",
    "FitError",
    "MedbookError",
    "RenderError",
]


class MedbookError(Exception):
    """Base class of every error medbook raises on purpose."""


class DataError(MedbookError, ValueError):
    """A data file or data frame cannot be used (missing column, bad values, ...)."""


class ConfigError(MedbookError, ValueError):
    """An argument or a study configuration is invalid."""


class FitError(MedbookError, RuntimeError):
    """A model could not be fitted (non-convergence, separation, rank deficiency)."""


class RenderError(MedbookError, RuntimeError):
    """The book, report or memo could not be rendered."""
