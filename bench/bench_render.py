"""Render benchmark: cold render (HTML + PDF) and warm re-render with nothing changed.

Renders the fixture book (``tests/fixtures/book``) and, when ``_quarto.yml`` exists at
the repository root, the real book — each from a fresh temporary copy, so the caches
of the working tree are not touched. Prints seconds and the warm/cold ratio
(target: warm <= 3 s).

Run with ``make bench-render`` (or ``python bench/bench_render.py``).
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

import medbook
from medbook.errors import MedbookError
from medbook.publish import render_book
from medbook.publish.cache import package_hash

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = Path(medbook.__file__).resolve().parent
# What a copy of the repository needs to render the book (the package is installed).
SKIP = shutil.ignore_patterns(
    "_book", "_freeze", ".medbook-cache", ".quarto", ".venv", ".git", "out", "__pycache__"
)
NOT_BOOK = {"src", "tests", "bench", ".ci", "templates"}


def copy_book(source: Path, target: Path) -> Path:
    """Copy a book project without outputs, caches or (for the repository) the code."""
    if source != ROOT:
        shutil.copytree(source, target, ignore=SKIP)
        return target
    target.mkdir(parents=True)
    for item in source.iterdir():
        if item.name in NOT_BOOK or SKIP(str(source), [item.name]):
            continue
        if item.is_dir():
            shutil.copytree(item, target / item.name, ignore=SKIP)
        else:
            shutil.copy2(item, target / item.name)
    return target


def bench(name: str, source: Path, workdir: Path) -> tuple[float, float]:
    """Cold and warm render times of one book, in seconds."""
    project = copy_book(source, workdir / name)
    digest = package_hash(PACKAGE)
    start = time.perf_counter()
    cold = render_book(project, to="all", engine="builtin", quiet=True)
    cold_s = time.perf_counter() - start
    start = time.perf_counter()
    warm = render_book(project, to="all", engine="builtin", quiet=True)
    warm_s = time.perf_counter() - start
    if warm.executed:
        changed = package_hash(PACKAGE) != digest
        print(
            f"  warning: warm render re-executed {warm.executed}"
            + (" (src/medbook changed during the cold render)" if changed else ""),
            file=sys.stderr,
        )
    print(
        f"{name:<8} chapters={len(cold.executed) + len(cold.cached):>2}  "
        f"cold={cold_s:6.2f} s  warm={warm_s:5.2f} s  warm/cold={warm_s / cold_s:.3f}  "
        f"warm<=3s: {'yes' if warm_s <= 3 else 'NO'}"
    )
    return cold_s, warm_s


def main() -> int:
    """Run the benchmark; returns the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fixture-only", action="store_true", help="skip the real book")
    args = parser.parse_args()
    books = [("fixture", ROOT / "tests" / "fixtures" / "book")]
    if not args.fixture_only and (ROOT / "_quarto.yml").is_file():
        books.append(("book", ROOT))
    status = 0
    with tempfile.TemporaryDirectory(prefix="medbook-bench-") as tmp:
        for name, source in books:
            try:
                bench(name, source, Path(tmp))
            except MedbookError as err:
                print(f"{name:<8} failed: {err}")
                status = 1
    return status


if __name__ == "__main__":
    sys.exit(main())
