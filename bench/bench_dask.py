"""Benchmark the Dask route on a partitioned Parquet study (default 10,000,000 rows).

Writes the study in 500,000-row Parquet files (generated chunk by chunk in a
child process, so the client's memory only reflects the analysis), starts a
``LocalCluster`` (2 worker processes, 1 thread each), runs
``medbook.mediate(dd.read_parquet(folder), ...)`` with a binary mediator and
outcome, their interaction and a categorical covariate, and reports the wall
time, the client's peak resident memory (target < 1 GB) and each worker's peak.

Usage: ``python bench/bench_dask.py [--rows 10000000] [--n-boot 100] [--keep DIR]``
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import special

FILE_ROWS = 500_000
TARGET_CLIENT_GB = 1.0


def _peak_gb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2


def write_study(folder: Path, rows: int, seed: int = 12) -> None:
    """The study as ``ceil(rows / FILE_ROWS)`` Parquet files, one chunk in memory at a time."""
    folder.mkdir(parents=True, exist_ok=True)
    for index, start in enumerate(range(0, rows, FILE_ROWS)):
        n = min(FILE_ROWS, rows - start)
        rng = np.random.default_rng([seed, index])
        x = rng.normal(size=n)
        plan = rng.choice(np.array(["basic", "pro", "team"]), size=n)
        t = rng.integers(0, 2, size=n)
        m = rng.binomial(1, special.expit(-0.3 + 0.8 * t + 0.5 * x + 0.3 * (plan == "pro")))
        y = rng.binomial(1, special.expit(-0.2 + 0.5 * t + 0.7 * m + 0.4 * t * m + 0.3 * x))
        frame = pd.DataFrame({"treatment": t, "mediator": m, "outcome": y, "x": x, "plan": plan})
        frame.to_parquet(folder / f"part-{index:04d}.parquet", index=False)


def _worker_peak_gb() -> float:
    import resource as res

    return res.getrusage(res.RUSAGE_SELF).ru_maxrss / 1024**2


def run(folder: Path, n_boot: int) -> int:
    import dask.dataframe as dd
    from distributed import Client, LocalCluster

    import medbook

    with LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0"
    ) as cluster, Client(cluster) as client:
        ddf = dd.read_parquet(str(folder))
        start = time.perf_counter()
        res = medbook.mediate(
            ddf, "treatment", "mediator", "outcome", ["x", "plan"], interaction=True,
            n_boot=n_boot, seed=1,
        )
        seconds = time.perf_counter() - start
        workers = client.run(_worker_peak_gb)
    client_gb = _peak_gb()
    print(res)
    print(f"rows                 {res.n:,} in {ddf.npartitions} partitions")
    print(f"bootstrap replicates {n_boot} ({res.n_replicates} succeeded)")
    print(f"wall time            {seconds:.1f} s")
    print(f"client peak RSS      {client_gb:.2f} GB (target < {TARGET_CLIENT_GB:.0f} GB)")
    for address, gb in sorted(workers.items()):
        print(f"worker peak RSS      {gb:.2f} GB ({address})")
    return 0 if client_gb < TARGET_CLIENT_GB else 1


def main(argv: list[str] | None = None) -> int:
    """Generate the data (in a child process), then run and time the analysis."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--n-boot", type=int, default=100)
    parser.add_argument("--keep", type=Path, help="write (or reuse) the Parquet files here")
    parser.add_argument("--generate-only", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.generate_only:
        write_study(args.generate_only, args.rows)
        return 0
    with tempfile.TemporaryDirectory(prefix="medbook-bench-dask-") as scratch:
        folder = args.keep or Path(scratch) / "study"
        if not folder.exists():
            start = time.perf_counter()
            subprocess.run(
                [sys.executable, __file__, "--rows", str(args.rows), "--generate-only",
                 str(folder)],
                check=True,
            )
            print(f"data generation      {time.perf_counter() - start:.1f} s (not counted)")
        return run(folder, args.n_boot)


if __name__ == "__main__":
    sys.exit(main())
