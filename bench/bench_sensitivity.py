"""Benchmark the rho sensitivity analysis with a binary mediator and outcome (1,000,000 rows).

Generates the onboarding example's data-generating process at the requested
size (binary mediator and outcome, treatment x mediator interaction, a
categorical covariate), fits it with ``medbook.mediate`` (delta method: the rho
analysis does not use bootstrap replicates; not timed), then times
``medbook.sensitivity.rho`` with its default grid: the probit refits, the curve
and its bands over 37 values of rho, and the zero crossings (``latent.zero``).
``rho`` runs with the default number of threads and, unless ``--no-compare``,
again with one thread; the two must agree to 1e-12 and their ratio is the gain
from the threads alone. Target at 1,000,000 rows: under 30 s on 2 cores (the
curve and crossings took about 110 s there, on a quiet machine, before the row blocks).

Usage: ``python bench/bench_sensitivity.py [--rows 1000000] [--threads N] [--no-compare]``
"""

from __future__ import annotations

import argparse
import io
import resource
import sys
import time
from pathlib import Path
from unittest import mock

import numpy as np
import pandas as pd
from _onboarding import example_process

import medbook
from medbook.sensitivity import blocks
from medbook.sensitivity.bivariate import BinaryBinary
from medbook.study import load_study

ROOT = Path(__file__).resolve().parents[1]
TARGET_SECONDS = 30.0


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _timed_rho(res: medbook.MediationResult, threads: int) -> dict:
    """``rho(res)`` on ``threads`` threads: the result, its wall and CPU times and its parts."""
    parts: dict[str, float] = {}

    def timed(name: str):
        original = getattr(BinaryBinary, name)

        def call(self, *args):
            start = time.perf_counter()
            try:
                return original(self, *args)
            finally:
                parts[name] = time.perf_counter() - start

        return call

    blocks.THREADS = threads
    with (
        mock.patch.object(BinaryBinary, "curve", timed("curve")),
        mock.patch.object(BinaryBinary, "crossings", timed("crossings")),
    ):
        cpu, start = _cpu_seconds(), time.perf_counter()
        out = medbook.sensitivity.rho(res)
        seconds = time.perf_counter() - start
    return {"out": out, "seconds": seconds, "cpu": _cpu_seconds() - cpu, **parts}


def _numbers(out) -> np.ndarray:
    table = out.to_frame()[["estimate", "ci_lower", "ci_upper"]].to_numpy().ravel()
    roots = [r for key in sorted(out.crossings) for r in out.crossings[key]]
    return np.concatenate([table, roots])


def _line(label: str, run: dict) -> str:
    rest = run["seconds"] - run["curve"] - run["crossings"]
    return (
        f"{label:22s} {run['seconds']:6.1f} s  (curve {run['curve']:.1f} s, crossings "
        f"{run['crossings']:.1f} s, refits and setup {rest:.1f} s; CPU {run['cpu']:.1f} s)"
    )


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; exit status 0 if the target is met, 1 otherwise."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--threads", type=int, default=blocks.THREADS)
    parser.add_argument("--no-compare", action="store_true", help="skip the one-thread run")
    args = parser.parse_args(argv)

    frame = pd.read_csv(io.StringIO(example_process().make_data(seed=7, n=args.rows)))
    study = load_study(ROOT / "examples" / "onboarding" / "study.yml")
    kwargs = {**study.mediate_kwargs(), "method": "delta"}
    start = time.perf_counter()
    res = medbook.mediate(frame, **kwargs)
    fitted = time.perf_counter() - start

    print(f"rows                   {args.rows:,} (blocks of {blocks.BLOCK_ROWS:,} rows)")
    print(f"mediate (delta)        {fitted:6.1f} s  (not counted)")
    main_run = _timed_rho(res, args.threads)
    print(_line(f"rho(), {args.threads} thread(s)", main_run))
    if not args.no_compare and args.threads != 1:
        single = _timed_rho(res, 1)
        print(_line("rho(), 1 thread", single))
        diff = float(np.nanmax(np.abs(_numbers(single["out"]) - _numbers(main_run["out"]))))
        ratio = single["seconds"] / main_run["seconds"]
        print(f"threads speed-up       {ratio:.2f}x  (largest difference {diff:.1e})")
        if not diff <= 1e-12:
            print("RESULTS DIFFER between thread counts", file=sys.stderr)
            return 1
    print(f"rho at zero NIE(1)     {main_run['out'].zero_crossing['nie1']}")
    ok = main_run["seconds"] < TARGET_SECONDS
    print(
        f"target < {TARGET_SECONDS:.0f} s         "
        + ("met" if ok else "MISSED")
        + f" ({args.threads} thread(s))"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
