"""The onboarding example's data-generating process, shared by the benchmarks that use it."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parents[1]


def example_process() -> ModuleType:
    """``examples/onboarding/make_data.py`` as a module (its ``make_data(seed, n)`` writes CSV)."""
    spec = importlib.util.spec_from_file_location(
        "onboarding_make_data", ROOT / "examples" / "onboarding" / "make_data.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
