"""Command-line interface: ``medbook render``, ``medbook preview`` and ``medbook memo``.

Thin wrappers over :mod:`medbook.publish` and :mod:`medbook.memo`. Every
:class:`~medbook.errors.MedbookError` is printed on one line and exits with 2.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from . import __version__
from .errors import MedbookError
from .filenames import printable_path
from .interrupts import Terminated, exit_on_sigterm, restore_sigterm

__all__ = ["main"]

#: Environment variable with the default of ``medbook memo --scheduler``.
SCHEDULER_ENV = "MEDBOOK_SCHEDULER"


def _cmd_render(args: argparse.Namespace) -> int:
    from .publish import render_book

    render_book(
        Path(args.project),
        to=args.to,
        engine=args.engine,
        output_dir=Path(args.output_dir) if args.output_dir else None,
        fresh=args.fresh,
    )
    return 0


def _cmd_preview(args: argparse.Namespace) -> int:
    from .publish.preview import preview_book

    return preview_book(
        Path(args.project), port=args.port, browser=not args.no_browser, engine=args.engine
    )


def _cmd_memo(args: argparse.Namespace) -> int:
    from .memo import build_memo

    scheduler = args.scheduler
    if scheduler is None:
        scheduler = os.environ.get(SCHEDULER_ENV, "")
    out = build_memo(
        Path(args.study),
        data_path=Path(args.data) if args.data else None,
        out_dir=Path(args.out),
        formats=args.to,
        drop_missing=args.drop_missing,
        progress=not args.quiet,
        previous=Path(args.previous) if args.previous else None,
        by=args.by,
        scheduler=scheduler.strip() or None,
    )
    if not args.quiet:
        print(f"medbook: wrote {out}", file=sys.stderr)
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``medbook`` command."""
    parser = argparse.ArgumentParser(
        prog="medbook", description="Causal mediation analysis: book, reports and decision memos."
    )
    parser.add_argument("--version", action="version", version=f"medbook {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    render = sub.add_parser("render", help="render the book to a website and PDF handouts")
    render.add_argument("project", nargs="?", default=".", help="book project folder (default: .)")
    render.add_argument("--to", choices=["html", "pdf", "all"], default="all")
    render.add_argument("--engine", choices=["auto", "quarto", "builtin"], default="auto")
    render.add_argument("--output-dir", help="where to write the site (default: from _quarto.yml)")
    render.add_argument("--fresh", action="store_true", help="ignore cached chapter outputs")
    render.set_defaults(func=_cmd_render)

    preview = sub.add_parser("preview", help="serve the book and re-render it on every save")
    preview.add_argument("project", nargs="?", default=".", help="book project folder (default: .)")
    preview.add_argument("--port", type=int, help="port on 127.0.0.1 (default: 4848 or a free one)")
    preview.add_argument("--no-browser", action="store_true", help="do not open a web browser")
    preview.add_argument("--engine", choices=["auto", "quarto", "builtin"], default="auto")
    preview.set_defaults(func=_cmd_preview)

    memo = sub.add_parser("memo", help="regenerate the decision memo and report from data")
    memo.add_argument("study", help="study config (YAML)")
    memo.add_argument("--data", help="data file overriding the config's 'data' entry")
    memo.add_argument("--out", default="memo-out", help="output folder (default: memo-out)")
    memo.add_argument("--to", default="html,pdf,md,json", help="formats: html,pdf,md,json")
    memo.add_argument("--drop-missing", action="store_true", help="drop rows with missing values")
    memo.add_argument(
        "--previous", metavar="PATH",
        help="earlier memo folder or results.json to compare with (default: the one in --out)",
    )
    memo.add_argument(
        "--by", metavar="COLUMN",
        help="one memo per value of COLUMN, plus an index (default: the study's 'segments')",
    )
    memo.add_argument(
        "--scheduler", metavar="ADDRESS",
        help="Dask scheduler to run on, e.g. tcp://host:8786: the headline estimates use every "
        "row of the Parquet data there, the sensitivity analysis, diagnostics and figures a "
        f"bounded random sample (default: ${SCHEDULER_ENV}; unset or '' runs in memory)",
    )
    memo.add_argument("--quiet", action="store_true", help="no progress bar")
    memo.set_defaults(func=_cmd_memo)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the process exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    previous = exit_on_sigterm()
    try:
        return int(args.func(args))
    except MedbookError as err:
        message = " ".join(str(err).split())
        print(f"medbook: error: {message}", file=sys.stderr)
        return 2
    except OSError as err:  # the machine's side (disk full, permissions): one line, no traceback
        where = f": {printable_path(err.filename)}" if isinstance(err.filename, str) else ""
        print(f"medbook: error: {err.strerror or err}{where}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("medbook: interrupted", file=sys.stderr)
        return 130
    except Terminated as stop:
        print("medbook: terminated", file=sys.stderr)
        return int(stop.code or 143)
    finally:
        restore_sigterm(previous)


if __name__ == "__main__":
    sys.exit(main())
