"""Shared pytest fixtures: cached simulated data sets and the notebook's reference numbers."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from medbook import simulate

SOURCE_TABLES = Path(__file__).resolve().parents[2] / "shared" / "reference" / "source-tables.json"


@pytest.fixture(scope="session")
def source_tables() -> dict:
    """The numbers printed by the source notebook (skips when the reference file is absent)."""
    if not SOURCE_TABLES.exists():
        pytest.skip(f"reference tables not found at {SOURCE_TABLES}")
    return json.loads(SOURCE_TABLES.read_text())


@pytest.fixture(scope="session")
def linear_df() -> pd.DataFrame:
    """The notebook's linear onboarding simulation (seed 123, n = 6000). Do not mutate."""
    return simulate.simulate_linear()


@pytest.fixture(scope="session")
def binary_df() -> pd.DataFrame:
    """The notebook's binary funnel simulation (seed 321, n = 10000). Do not mutate."""
    return simulate.simulate_binary()
