"""Shared pytest fixtures: cached simulated data sets and the notebook's reference numbers."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from medbook import simulate

DATA = Path(__file__).resolve().parent / "data"
SOURCE_TABLES = DATA / "source-tables.json"


@pytest.fixture(scope="session")
def source_tables() -> dict:
    """The numbers printed by the source notebook (``tests/data/source-tables.json``)."""
    return json.loads(SOURCE_TABLES.read_text())


@pytest.fixture(scope="session")
def linear_df() -> pd.DataFrame:
    """The notebook's linear onboarding simulation (seed 123, n = 6000). Do not mutate."""
    return simulate.simulate_linear()


@pytest.fixture(scope="session")
def binary_df() -> pd.DataFrame:
    """The notebook's binary funnel simulation (seed 321, n = 10000). Do not mutate."""
    return simulate.simulate_binary()


@pytest.fixture
def close_on_second_pass(monkeypatch):
    """``arm(cluster)``: the second pass over the Dask blocks first closes ``cluster``
    (a cluster that dies mid-run)."""

    def arm(cluster) -> None:
        from medbook.backends import dask_fit

        calls = []
        real = dask_fit.reduce_blocks

        def dying(*args, **kwargs):
            calls.append(1)
            if len(calls) == 2:
                cluster.close()
            return real(*args, **kwargs)

        monkeypatch.setattr(dask_fit, "reduce_blocks", dying)

    return arm
