"""Turn a parsed chapter and its executed outputs into pandoc Markdown plus figure files.

Conventions of the generated Markdown (read by ``medbook.lua``):

* a cell is a ``.cell`` div; echoed code is a ``.python .cell-code`` block and text
  output a ``.cell-output`` block;
* a figure is ``![caption](figures/<chapter>/<name>.svg){#fig-... fig-alt=... pdf-src=...}``
  (``pdf-src`` names the PNG twin used in the PDF); several figures of one
  labelled cell form a ``::: {#fig-...}`` div whose last paragraph is the caption;
* a table caption is a pandoc ``: caption {#tbl-...}`` line after the table;
* HTML-only outputs are raw HTML followed by a ``.medbook-pdf-only`` div with their text.
"""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass, field
from typing import Any

from ..convert import escape_markdown
from .execute import ExecutedChapter, cell_options
from .qmd import Cell, InlineExpr, MarkdownChunk, QmdDocument

__all__ = ["ChapterSource", "assemble_chapter"]

_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
# ipykernel names cell code files after the kernel's process id; hide it for stable output.
_CELL_FILE = re.compile(r"(?:/[^\s:\"']*)?/ipykernel_\d+/\d+\.py")
_H1 = re.compile(r"^#\s+\S", flags=re.MULTILINE)
_PIPE_TABLE = re.compile(r"^\|.*\|\s*$", flags=re.MULTILINE)


@dataclass
class ChapterSource:
    """A chapter ready for pandoc: Markdown text and the files it references."""

    markdown: str
    assets: dict[str, bytes] = field(default_factory=dict)


def _fence(text: str, attrs: str) -> str:
    longest = max((len(m) for m in re.findall(r"`{3,}", text)), default=2)
    tick = "`" * max(3, longest + 1)
    return f"{tick} {attrs}\n{text.rstrip()}\n{tick}\n"


def _attr(value: Any) -> str:
    """A double-quoted pandoc attribute value."""
    text = " ".join(str(value).split())
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _text(value: Any) -> str:
    return "".join(value) if isinstance(value, list) else str(value)


class _CellWriter:
    """Markdown for one cell; collects figure files into ``assets``."""

    def __init__(self, cell: Cell, slug: str, assets: dict[str, bytes]) -> None:
        self.cell = cell
        self.slug = slug
        self.assets = assets
        self.figures: list[tuple[str, str]] = []
        self.parts: list[str] = []
        self.table_captioned = False

    def _save(self, data: dict[str, Any]) -> None:
        stem = self.cell.label or f"cell-{self.cell.number}"
        base = f"figures/{self.slug}/{stem}-{len(self.figures) + 1}"
        svg = data.get("image/svg+xml")
        png = data.get("image/png")
        web = pdf = ""
        if svg is not None:
            web = f"{base}.svg"
            self.assets[web] = _text(svg).encode("utf-8")
        if png is not None:
            pdf = f"{base}.png"
            self.assets[pdf] = base64.b64decode(_text(png))
        if not web:
            web = pdf
        if not pdf:
            pdf = web
        self.figures.append((web, pdf))

    def figure_markdown(self) -> str:
        if not self.figures:
            return ""
        opts = self.cell.options
        label = self.cell.label if (self.cell.label or "").startswith("fig-") else None
        caption = str(opts.get("fig-cap", "")) if opts.get("fig-cap") else ""
        alt = f" fig-alt={_attr(opts['fig-alt'])}" if opts.get("fig-alt") else ""
        if len(self.figures) == 1:
            web, pdf = self.figures[0]
            ident = f"#{label} " if label else ""
            return f"![{caption}]({web}){{{ident}pdf-src={_attr(pdf)}{alt}}}\n"
        images = "\n\n".join(
            f"![]({web}){{pdf-src={_attr(pdf)}{alt}}}" for web, pdf in self.figures
        )
        ident = f"#{label}" if label else ".figure"
        return f"::: {{{ident}}}\n{images}\n\n{caption}\n:::\n"

    def table_caption(self, markdown: str) -> str:
        opts = self.cell.options
        label = self.cell.label if (self.cell.label or "").startswith("tbl-") else None
        caption = str(opts.get("tbl-cap") or "")
        if self.table_captioned or not (caption or label) or not _PIPE_TABLE.search(markdown):
            return markdown
        self.table_captioned = True
        ident = f" {{#{label}}}" if label else ""
        return f"{markdown.rstrip()}\n\n: {caption}{ident}\n"

    def add_output(self, output: dict[str, Any], asis: bool) -> None:
        kind = output.get("output_type")
        if kind == "stream":
            text = _CELL_FILE.sub("<cell>", _text(output.get("text", "")))
            if asis and output.get("name") == "stdout":
                self.parts.append(text)
            else:
                name = output.get("name", "stdout")
                self.parts.append(_fence(text, f"{{.cell-output .cell-output-{name}}}"))
        elif kind == "error":
            trace = _CELL_FILE.sub("<cell>", _ANSI.sub("", "\n".join(output.get("traceback", []))))
            self.parts.append(_fence(trace, "{.cell-output .cell-output-error}"))
        elif kind in ("display_data", "execute_result"):
            self._add_data(output.get("data", {}), asis)

    def _add_data(self, data: dict[str, Any], asis: bool) -> None:
        if "image/svg+xml" in data or "image/png" in data:
            self._save(data)
        elif "text/markdown" in data:
            self.parts.append(self.table_caption(_text(data["text/markdown"])))
        elif asis and "text/plain" in data:
            self.parts.append(_text(data["text/plain"]))
        elif "text/html" in data:
            html = _text(data["text/html"])
            plain = _text(data.get("text/plain", ""))
            pdf = _fence(plain, "{.cell-output .cell-output-display}") if plain else ""
            self.parts.append(f"```{{=html}}\n{html}\n```\n\n::: {{.medbook-pdf-only}}\n{pdf}:::\n")
        elif "text/plain" in data:
            text = _text(data["text/plain"])
            self.parts.append(_fence(text, "{.cell-output .cell-output-display}"))

    def markdown(self) -> str:
        return "\n\n".join(p.rstrip("\n") + "\n" for p in self.parts if p.strip())


def _code(cell: Cell, echo: bool | str) -> str:
    if echo == "fenced":
        options = "".join(f"#| {k}: {v}\n" for k, v in cell.options.items())
        return _fence(f"```{{{cell.lang}}}\n{options}{cell.source}\n```", "{.markdown .cell-code}")
    return _fence(cell.source, f"{{.{cell.lang} .cell-code}}")


def _chunk(chunk: MarkdownChunk, executed: ExecutedChapter) -> str:
    out = []
    for part in chunk.parts:
        if isinstance(part, InlineExpr):
            is_markdown, text = executed.inline[part.index]
            out.append(text if is_markdown else escape_markdown(text))
        else:
            out.append(part)
    return "".join(out)


def assemble_chapter(
    doc: QmdDocument, executed: ExecutedChapter, defaults: dict[str, Any], slug: str
) -> ChapterSource:
    """Build the chapter's pandoc Markdown.

    Parameters
    ----------
    doc
        The parsed chapter.
    executed
        Its outputs (:func:`medbook.publish.execute.execute_document`).
    defaults
        Project ``execute`` options merged with the chapter's.
    slug
        The chapter's asset folder name under ``figures/``.
    """
    assets: dict[str, bytes] = {}
    pieces: list[str] = []
    for block in doc.blocks:
        if isinstance(block, MarkdownChunk):
            pieces.append(_chunk(block, executed))
            continue
        opts = cell_options(block, defaults)
        if not opts.include:
            continue
        writer = _CellWriter(block, slug, assets)
        if opts.echo:
            writer.parts.append(_code(block, opts.echo))
        if opts.output is not False:
            for output in executed.outputs.get(block.number, []):
                writer.add_output(output, asis=opts.output == "asis")
        writer.parts.append(writer.figure_markdown())
        body = writer.markdown()
        if body.strip():
            if opts.output == "asis" and not opts.echo:
                pieces.append(f"\n{body}\n")
            else:
                pieces.append(f"\n::::: {{.cell}}\n{body}\n:::::\n")
    markdown = "".join(pieces)
    title = doc.meta.get("title")
    if title and not _H1.search(_strip_fences(markdown)):
        classes = " {.unnumbered}" if doc.meta.get("number-sections") is False else ""
        markdown = f"# {title}{classes}\n\n{markdown}"
    return ChapterSource(markdown=markdown, assets=assets)


def _strip_fences(markdown: str) -> str:
    return re.sub(r"^(`{3,}|~{3,}).*?^\1", "", markdown, flags=re.MULTILINE | re.DOTALL)
