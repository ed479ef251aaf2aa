"""Pandoc passes of the built-in renderer: numbering, cross-references, citations.

Each chapter goes through pandoc twice with the Lua filter ``medbook.lua``:

1. :func:`number_chapter` — Markdown to a JSON AST with numbered chapters, sections,
   figures, tables and equations, and an index of its labels;
2. :func:`resolve_chapter` — JSON AST to HTML or typst with every ``@fig-``/``@tbl-``/
   ``@sec-``/``@eq-`` reference resolved from the book-wide label table, callouts
   boxed and citations formatted by ``--citeproc``.

Every pandoc run is memoised in a :class:`~medbook.publish.cache.ConversionCache`.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from ..convert import pandoc_convert
from ..errors import RenderError
from .cache import ConversionCache

__all__ = ["ChapterIndex", "PandocRunner", "number_chapter", "resolve_chapter", "set_meta"]

READER = "markdown"
_FILTER_ERROR = re.compile(r"Error running filter [^\n]*\n(?:[^\n]*\.lua:\d+: )?(?P<msg>[^\n]*)")


def _clean(err: RenderError) -> str:
    """Pandoc's message without the Lua stack trace."""
    match = _FILTER_ERROR.search(str(err))
    return match.group("msg") if match else str(err)


@dataclass
class ChapterIndex:
    """What the numbering pass learned about a chapter."""

    title: str
    labels: dict[str, dict[str, str]]
    toc: list[dict[str, Any]]
    cites: list[str]
    has_refs: bool
    number: str = ""


class PandocRunner:
    """Runs pandoc with the medbook Lua filter, memoising every conversion.

    Parameters
    ----------
    memo
        Where results are stored.
    workdir
        Working directory of pandoc (resource path).
    bibliography, csl
        Citation sources passed to ``--citeproc``.
    """

    def __init__(
        self, memo: ConversionCache, workdir: Path, bibliography: tuple[Path, ...], csl: Path | None
    ) -> None:
        self.memo = memo
        self.workdir = workdir
        self.filter = resources.files(__package__).joinpath("medbook.lua")
        self.filter_text = self.filter.read_text(encoding="utf-8")
        self.bibliography = bibliography
        self.csl = csl
        self.citation_digest = ConversionCache.key(
            *(p.read_bytes() for p in bibliography), csl.read_bytes() if csl else b""
        )

    def run(self, text: str, from_format: str, to_format: str, args: list[str], extra: str) -> str:
        """Convert ``text``; ``extra`` must hash every input not in ``text`` or ``args``."""
        key = ConversionCache.key(
            text,
            from_format,
            to_format,
            "\0".join(args),
            extra,
            self.filter_text,
            self.citation_digest,
        )
        cached = self.memo.get(key)
        if cached is not None:
            return cached.decode("utf-8")
        with resources.as_file(self.filter) as lua:
            out = pandoc_convert(
                text,
                from_format=from_format,
                to_format=to_format,
                extra_args=[f"--lua-filter={lua}", *args],
                resource_path=self.workdir,
            )
        self.memo.put(key, out.encode("utf-8"))
        return out

    def citeproc_args(self) -> list[str]:
        """Options that format citations and the bibliography."""
        args = ["--citeproc", *(f"--bibliography={p}" for p in self.bibliography)]
        if self.csl is not None:
            args.append(f"--csl={self.csl}")
        return args


def set_meta(ast: dict[str, Any], key: str, value: Any) -> None:
    """Set a metadata field of a pandoc JSON AST (str, bool or a list of citation keys)."""
    if isinstance(value, bool):
        ast["meta"][key] = {"t": "MetaBool", "c": value}
    elif isinstance(value, str):
        ast["meta"][key] = {"t": "MetaString", "c": value}
    else:
        citations = [
            {
                "citationId": k,
                "citationPrefix": [],
                "citationSuffix": [],
                "citationMode": {"t": "NormalCitation"},
                "citationNoteNum": 0,
                "citationHash": 0,
            }
            for k in value
        ]
        ast["meta"][key] = {"t": "MetaInlines", "c": [{"t": "Cite", "c": [citations, []]}]}


def number_chapter(
    runner: PandocRunner, markdown: str, name: str, number: str, appendix: bool
) -> tuple[dict[str, Any], ChapterIndex]:
    """Parse and number one chapter.

    Returns
    -------
    tuple
        The JSON AST and the chapter's :class:`ChapterIndex`.

    Raises
    ------
    RenderError
        Naming the chapter if pandoc or the filter fails (e.g. a duplicate label).
    """
    args = [
        "-M",
        "medbook-phase=number",
        "-M",
        f"medbook-chapter={number}",
        "-M",
        f"medbook-appendix={'true' if appendix else 'false'}",
    ]
    try:
        out = runner.run(markdown, READER, "json", args, extra="")
    except RenderError as err:
        raise RenderError(f"{name}: {_clean(err)}") from None
    ast = json.loads(out)
    index = json.loads(ast["meta"].pop("medbook-index")["c"])
    for key in ("medbook-phase", "medbook-chapter", "medbook-appendix"):
        ast["meta"].pop(key, None)
    return ast, ChapterIndex(
        title=index["title"],
        labels=index["labels"] or {},
        toc=index["toc"] or [],
        cites=index["cites"] or [],
        has_refs=bool(index["refs"]),
        number=number,
    )


def resolve_chapter(
    runner: PandocRunner,
    ast: dict[str, Any],
    *,
    name: str,
    to_format: str,
    page: str,
    xref_file: Path,
    xref_digest: str,
    extra_args: tuple[str, ...] = (),
) -> str:
    """Convert a numbered chapter AST to ``html`` or ``typst`` with references resolved.

    Raises
    ------
    RenderError
        Naming the chapter on an unresolved cross-reference or a pandoc failure.
    """
    writer = "html5" if to_format == "html" else to_format
    args = [
        "-M",
        "medbook-phase=resolve",
        "-M",
        f"medbook-page={page}",
        "-M",
        f"medbook-xref-file={xref_file}",
        *runner.citeproc_args(),
        "--wrap=none",
        *extra_args,
    ]
    if writer == "html5":
        args += ["--mathml", "-M", "link-citations=true"]
    try:
        return runner.run(json.dumps(ast, sort_keys=True), "json", writer, args, xref_digest)
    except RenderError as err:
        raise RenderError(f"{name}: {_clean(err)}") from None
