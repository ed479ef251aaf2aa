"""Convert results to plain JSON values (no NaN, no numpy scalars)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["jsonable", "records"]


def jsonable(value: Any) -> Any:
    """A JSON-safe copy: NaN and infinities become None, numpy values Python ones.

    Examples
    --------
    >>> jsonable({"a": np.float64("nan"), "b": (np.int64(2), np.array([1.5]))})
    {'a': None, 'b': [2, [1.5]]}
    """
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return [jsonable(v) for v in value.tolist()]
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return float(value) if math.isfinite(float(value)) else None
    if value is None or isinstance(value, str):
        return value
    return str(value)


def records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """The rows of ``frame`` as JSON-safe dicts."""
    return [jsonable(row) for row in frame.to_dict(orient="records")]
