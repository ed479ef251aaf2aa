"""Generate ``data.csv`` of the onboarding example study with :mod:`medbook.simulate`.

A randomised onboarding call (``onboarding_call``) raises 7-day activation
(``activated_7d``), which raises 90-day renewal (``renewed_90d``); the call also
acts directly and more strongly among activated customers (an interaction).
Pre-treatment covariates: ``plan`` (basic / pro / enterprise), ``tenure_months``
and ``prior_usage``. Run ``python make_data.py`` to rewrite ``data.csv`` or
``python make_data.py --check`` to verify the committed file.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
from scipy.special import expit

from medbook.simulate import Process

SEED = 2026
N = 3000
PLANS = np.array(["basic", "pro", "enterprise"])
HERE = Path(__file__).resolve().parent


def _covariates(rng: np.random.Generator, n: int) -> dict[str, np.ndarray]:
    plan = PLANS[rng.choice(3, size=n, p=[0.5, 0.35, 0.15])]
    tenure = np.clip(np.round(rng.gamma(shape=2.0, scale=9.0, size=n)), 1, 96)
    usage = np.round(rng.normal(0.0, 1.0, size=n), 3)
    return {
        "plan": plan,
        "pro": (plan == "pro").astype(float),
        "enterprise": (plan == "enterprise").astype(float),
        "tenure_months": tenure.astype(int),
        "prior_usage": usage,
    }


ONBOARDING = Process(
    covariates=_covariates,
    mediator_mean=lambda t, c: expit(
        -0.7 + 0.6 * t + 0.55 * c["prior_usage"] + 0.25 * c["pro"] + 0.5 * c["enterprise"]
        + 0.01 * c["tenure_months"]
    ),
    outcome_mean=lambda t, m, c: expit(
        -1.1 + 0.25 * t + 0.5 * m + 0.3 * t * m + 0.3 * c["prior_usage"] + 0.2 * c["pro"]
        + 0.45 * c["enterprise"] + 0.015 * c["tenure_months"]
    ),
    binary_mediator=True,
    binary_outcome=True,
    observed=("plan", "tenure_months", "prior_usage"),
)


def make_data(seed: int = SEED, n: int = N) -> str:
    """The example data set as CSV text."""
    frame = ONBOARDING.draw(seed, n).rename(
        columns={
            "treatment": "onboarding_call",
            "mediator": "activated_7d",
            "outcome": "renewed_90d",
        }
    )
    return frame.to_csv(index=False, lineterminator="\n")


def main(argv: list[str] | None = None) -> int:
    """Write ``data.csv`` (or, with ``--check``, compare it with a fresh draw)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="verify data.csv instead of writing")
    args = parser.parse_args(argv)
    text = make_data()
    target = HERE / "data.csv"
    if args.check:
        same = target.exists() and target.read_text(encoding="utf-8") == text
        print("data.csv is up to date" if same else "data.csv differs from make_data.py")
        return 0 if same else 1
    target.write_text(text, encoding="utf-8")
    print(f"wrote {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
