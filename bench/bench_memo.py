"""Benchmark ``medbook memo`` end to end on a 1,000,000-row CSV (all formats).

Generates the onboarding example's data-generating process at the requested
size (binary mediator and outcome, interaction, a categorical covariate), writes
it as CSV, then runs ``medbook memo`` in a child process and reports its wall
time and peak resident memory (the child and the pandoc/typst processes it
waits for). Targets: under 60 s and 3 GB on 2 cores.

Usage: ``python bench/bench_memo.py [--rows 1000000] [--n-boot 1000] [--keep DIR]``
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _onboarding import example_process

ROOT = Path(__file__).resolve().parents[1]
TARGET_SECONDS = 60.0
TARGET_GB = 3.0


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; exit status 0 if both targets are met, 1 otherwise."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--n-boot", type=int, default=1000)
    parser.add_argument("--keep", type=Path, help="keep the outputs in this folder")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="medbook-bench-") as scratch:
        folder = Path(scratch)
        start = time.perf_counter()
        text = example_process().make_data(seed=7, n=args.rows)
        data = folder / "data.csv"
        data.write_text(text, encoding="utf-8")
        del text
        size_mb = data.stat().st_size / 1024**2
        made = time.perf_counter() - start
        config = (ROOT / "examples" / "onboarding" / "study.yml").read_text(encoding="utf-8")
        config = config.replace("n_boot: 2000", f"n_boot: {args.n_boot}")
        study = folder / "study.yml"
        study.write_text(config, encoding="utf-8")
        out = args.keep if args.keep else folder / "out"

        command = [sys.executable, "-m", "medbook.cli", "memo", str(study), "--out", str(out)]
        start = time.perf_counter()
        proc = subprocess.run(command, check=False)
        seconds = time.perf_counter() - start
        peak_gb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024**2
        if proc.returncode != 0:
            print(f"medbook memo failed with status {proc.returncode}", file=sys.stderr)
            return 1
        results = json.loads((out / "results.json").read_text(encoding="utf-8"))

    print(f"rows                 {args.rows:,}")
    print(f"bootstrap replicates {args.n_boot} ({results['analysis']['n_replicates']} succeeded)")
    print(f"csv size             {size_mb:.0f} MB")
    print(f"data generation      {made:.1f} s (not counted)")
    print(f"medbook memo         {seconds:.1f} s   (target < {TARGET_SECONDS:.0f} s)")
    print(f"peak RSS             {peak_gb:.2f} GB (target < {TARGET_GB:.0f} GB)")
    ok = seconds < TARGET_SECONDS and peak_gb < TARGET_GB
    print("targets met" if ok else "TARGETS MISSED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
