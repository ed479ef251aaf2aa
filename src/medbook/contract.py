"""The result contract: what every medbook result offers, whatever it holds.

:class:`~medbook.results.MediationResult`, :class:`~medbook.sensitivity.RhoSensitivity`,
:class:`~medbook.sensitivity.BiasGrid`, :class:`~medbook.sensitivity.Robustness` and
:class:`~medbook.diagnostics.Diagnostics` derive from :class:`Result`:

* ``to_frame()`` -- the tidy table of the result (a copy);
* ``to_dict()`` -- every public field, JSON-safe (tables as lists of records, nested
  results as their own dicts), plus the derived values a class declares in
  ``_json_extras``;
* ``repr()`` -- a first line ``Name(summary)``, then whatever detail the class adds.

A new result type (a new estimand's or backend's) derives from :class:`Result`,
is a ``@dataclass(repr=False)`` with typed fields, and implements ``to_frame``
and ``_describe``; the contract test then covers it.
"""

from __future__ import annotations

import dataclasses
from typing import Any, ClassVar

import pandas as pd

from .jsonsafe import jsonable, records

__all__ = ["Result", "plain"]


def plain(value: Any) -> Any:
    """A JSON-ready form of a field value (tables as records, results as dicts)."""
    if isinstance(value, pd.DataFrame):
        return records(value)
    if hasattr(value, "to_dict") and not isinstance(value, (dict, pd.Series)):
        return value.to_dict()
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    return value


class Result:
    """Base of every result: ``to_frame``, a generic ``to_dict`` and a common repr header.

    Subclasses are dataclasses (``repr=False``). Class attributes steer the
    generic serialisation: ``_private`` lists fields left out of :meth:`to_dict`
    (arrays kept for computation), ``_json_names`` renames fields in it.
    """

    _private: ClassVar[tuple[str, ...]] = ()
    _json_names: ClassVar[dict[str, str]] = {}

    def to_frame(self) -> pd.DataFrame:
        """The tidy table of the result (a copy)."""
        raise NotImplementedError

    def _describe(self) -> str:
        """The text inside ``Name(...)`` on the first line of the repr."""
        raise NotImplementedError

    def _repr_tail(self) -> str:
        """Lines after the header (none by default)."""
        return ""

    def _json_extras(self) -> dict[str, Any]:
        """Derived values :meth:`to_dict` adds to the fields."""
        return {}

    def to_dict(self) -> dict[str, Any]:
        """Every public field and the declared derived values, JSON-safe."""
        out = {
            self._json_names.get(f.name, f.name): plain(getattr(self, f.name))
            for f in dataclasses.fields(self)  # type: ignore[arg-type]
            if f.name not in self._private
        }
        out.update(self._json_extras())
        return jsonable(out)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._describe()}){self._repr_tail()}"
