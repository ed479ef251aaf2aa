"""Render the book (a Quarto book project) to a website and PDF handouts.

:func:`render_book` uses Quarto when it is installed and otherwise the built-in
pipeline (nbclient execution → pandoc → HTML site and typst PDFs), from the same
``_quarto.yml`` sources.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

from ..errors import ConfigError
from ..filenames import check_path_text
from .builtin import render_builtin
from .outdir import check_output_dir, write_stamp
from .project import load_project
from .quarto import find_quarto, render_quarto
from .summary import RenderSummary

__all__ = ["RenderSummary", "render_book"]

_TARGETS = ("html", "pdf", "all")
_ENGINES = ("auto", "quarto", "builtin")


def _stderr(message: str) -> None:
    print(f"medbook: {message}", file=sys.stderr, flush=True)


def render_book(
    project: Path,
    to: str = "all",
    engine: str = "auto",
    output_dir: Path | None = None,
    fresh: bool = False,
    *,
    quiet: bool = False,
    package_dir: Path | None = None,
    jobs: int | None = None,
) -> RenderSummary:
    """Render a Quarto book project.

    Parameters
    ----------
    project
        Folder holding ``_quarto.yml``.
    to
        ``"html"``, ``"pdf"`` or ``"all"``.
    engine
        ``"auto"`` (Quarto if found on PATH or via ``QUARTO_PATH``, else built-in),
        ``"quarto"`` or ``"builtin"``.
    output_dir
        Site folder; default ``project.output-dir`` of ``_quarto.yml`` (else ``_book``).
    fresh
        Re-execute every chapter, ignoring cached outputs.
    quiet
        No progress messages on stderr.
    package_dir
        The code whose changes invalidate cached chapters (default: the installed
        ``medbook`` package folder).
    jobs
        Chapters executed in parallel (default: up to 2, bounded by the CPU count).

    Returns
    -------
    RenderSummary

    Raises
    ------
    ConfigError
        On an invalid argument or ``_quarto.yml``.
    RenderError
        If a cell, pandoc or typst fails; the output folder is then left unchanged.
    """
    if to not in _TARGETS:
        raise ConfigError(f"--to must be one of {', '.join(_TARGETS)}, not {to!r}")
    if engine not in _ENGINES:
        raise ConfigError(f"--engine must be one of {', '.join(_ENGINES)}, not {engine!r}")
    start = time.perf_counter()
    log = (lambda _message: None) if quiet else _stderr
    book = load_project(check_path_text(project, "project folder"))
    requested = book.output_dir
    if output_dir is not None:
        requested = check_path_text(output_dir, "--output-dir").absolute()
    out = check_output_dir(requested, book)
    quarto = find_quarto() if engine in ("auto", "quarto") else None
    if engine == "quarto" and quarto is None:
        raise ConfigError("--engine quarto: quarto is not on PATH and QUARTO_PATH is not set")
    if quarto is not None:
        log(f"rendering {book.root} with {quarto}")
        summary = render_quarto(book, quarto, to, out if output_dir is not None else None, fresh)
        if summary.output_dir.is_dir():
            write_stamp(summary.output_dir)
    else:
        log(f"rendering {len(book.chapters)} chapters of {book.root.name} (built-in engine)")
        summary = render_builtin(
            book,
            to=to,
            out=out,
            fresh=fresh,
            package_dir=package_dir or Path(__file__).resolve().parent.parent,
            jobs=jobs or max(1, min(2, os.cpu_count() or 1)),
            log=log,
        )
    summary.seconds = time.perf_counter() - start
    log(f"done in {summary.seconds:.2f} s -> {summary.output_dir}")
    return summary
