"""Execution backends beyond one in-memory data frame.

:mod:`medbook.backends.dask_mediate` runs :func:`medbook.mediate` on a
``dask.dataframe.DataFrame``: the rows stay on the cluster and every pass over
them returns small per-block sufficient statistics, summed in a fixed tree.
Dask is an optional dependency (``pip install 'medbook[dask]'``).
"""

from __future__ import annotations

import sys
from typing import Any

__all__ = ["is_dask_frame"]


def is_dask_frame(data: Any) -> bool:
    """True when ``data`` is a ``dask.dataframe.DataFrame`` (without importing Dask).

    Examples
    --------
    >>> import pandas as pd
    >>> is_dask_frame(pd.DataFrame({"a": [1]}))
    False
    """
    if "dask.dataframe" not in sys.modules:
        return False
    import dask.dataframe as dd

    return isinstance(data, dd.DataFrame)
