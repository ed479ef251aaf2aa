"""Parse Quarto Markdown (``.qmd``): front matter, Markdown, Python cells, inline expressions.

A cell is a fenced block opened by ```` ```{python} ```` (three or more backticks);
its leading ``#| key: value`` lines are YAML cell options. Inline expressions are
written `` `{python} expr` ``. Fenced code blocks of other languages are kept
verbatim (a ```` ```{python} ```` inside a longer fence is not a cell).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import yaml

from ..errors import RenderError

__all__ = ["Cell", "InlineExpr", "MarkdownChunk", "QmdDocument", "parse_qmd", "read_front_matter"]

_CELL_OPEN = re.compile(r"^(?P<fence>`{3,})\s*\{(?P<lang>[A-Za-z0-9_+-]+)(?P<rest>[^}]*)\}\s*$")
_FENCE_OPEN = re.compile(r"^(?P<fence>`{3,}|~{3,})")
_INLINE = re.compile(r"`\{python\}\s+(?P<expr>[^`]+?)\s*`")
_OPTION = re.compile(r"^#\|\s?(?P<yaml>.*)$")


@dataclass(frozen=True)
class InlineExpr:
    """An inline `` `{python} expr` `` value; ``index`` counts them in the document."""

    expr: str
    index: int


@dataclass(frozen=True)
class MarkdownChunk:
    """Markdown text between cells, as literal strings interleaved with inline expressions."""

    parts: tuple[str | InlineExpr, ...]

    @property
    def inline(self) -> tuple[InlineExpr, ...]:
        """The inline expressions of the chunk, in order."""
        return tuple(p for p in self.parts if isinstance(p, InlineExpr))


@dataclass(frozen=True)
class Cell:
    """A code cell.

    Attributes
    ----------
    source
        Code without the ``#|`` option lines.
    options
        Cell options (``label``, ``fig-cap``, ``echo``, ...).
    number
        1-based position among the document's cells.
    line
        Line of the opening fence in the file.
    lang
        Cell language; only ``python`` cells are executed.
    """

    source: str
    options: dict[str, Any]
    number: int
    line: int
    lang: str = "python"

    @property
    def label(self) -> str | None:
        """The cell's ``label`` option, if any."""
        value = self.options.get("label")
        return str(value) if value else None

    @property
    def name(self) -> str:
        """How error messages refer to the cell."""
        where = f"cell {self.number} (line {self.line})"
        return f"{where} '{self.label}'" if self.label else where


@dataclass(frozen=True)
class QmdDocument:
    """A parsed ``.qmd`` file."""

    name: str
    meta: dict[str, Any]
    blocks: tuple[MarkdownChunk | Cell, ...] = field(default_factory=tuple)

    @property
    def cells(self) -> tuple[Cell, ...]:
        """The document's code cells."""
        return tuple(b for b in self.blocks if isinstance(b, Cell))


def read_front_matter(text: str, name: str) -> tuple[dict[str, Any], str]:
    """Split YAML front matter from a document.

    Returns
    -------
    tuple
        ``(metadata, body)``; the body keeps the front matter's line count as
        blank lines so line numbers stay true.

    Raises
    ------
    RenderError
        If the front matter is not a YAML mapping.
    """
    text = text.lstrip("\ufeff")
    lines = text.split("\n")
    if not lines or lines[0].strip() != "---":
        return {}, text
    for end in range(1, len(lines)):
        if lines[end].strip() in ("---", "..."):
            try:
                meta = yaml.safe_load("\n".join(lines[1:end])) or {}
            except yaml.YAMLError as err:
                raise RenderError(f"{name}: invalid YAML front matter: {err}") from err
            if not isinstance(meta, dict):
                raise RenderError(f"{name}: front matter must be a YAML mapping")
            return meta, "\n" * end + "\n" + "\n".join(lines[end + 1 :])
    return {}, text


def _split_inline(text: str, counter: list[int]) -> list[str | InlineExpr]:
    parts: list[str | InlineExpr] = []
    pos = 0
    for match in _INLINE.finditer(text):
        parts.append(text[pos : match.start()])
        counter[0] += 1
        parts.append(InlineExpr(match.group("expr"), counter[0]))
        pos = match.end()
    parts.append(text[pos:])
    return parts


def _cell_options(body: list[str], name: str, line: int) -> tuple[dict[str, Any], str]:
    option_lines = []
    for raw in body:
        match = _OPTION.match(raw)
        if not match:
            break
        option_lines.append(match.group("yaml"))
    source = "\n".join(body[len(option_lines) :]).strip("\n")
    if not option_lines:
        return {}, source
    try:
        options = yaml.safe_load("\n".join(option_lines)) or {}
    except yaml.YAMLError as err:
        raise RenderError(f"{name}: invalid '#|' cell options at line {line}: {err}") from err
    if not isinstance(options, dict):
        raise RenderError(f"{name}: '#|' cell options at line {line} are not 'key: value' lines")
    return options, source


def parse_qmd(text: str, name: str) -> QmdDocument:
    """Parse a Quarto Markdown document.

    Parameters
    ----------
    text
        File contents.
    name
        Used in error messages (usually the path relative to the project).

    Raises
    ------
    RenderError
        On invalid front matter or cell options, or an unclosed cell.
    """
    meta, body = read_front_matter(text, name)
    lines = body.split("\n")
    blocks: list[MarkdownChunk | Cell] = []
    pending: list[str | InlineExpr] = []
    counter = [0]
    prose: list[str] = []
    n_cells = 0

    def flush_prose() -> None:
        if prose:
            pending.extend(_split_inline("\n".join(prose) + "\n", counter))
            prose.clear()

    def flush_chunk() -> None:
        flush_prose()
        if pending:
            blocks.append(MarkdownChunk(tuple(p for p in pending if p != "")))
            pending.clear()

    i = 0
    while i < len(lines):
        line = lines[i]
        cell = _CELL_OPEN.match(line)
        fence = _FENCE_OPEN.match(line)
        if cell or fence:
            mark = (cell or fence).group("fence")  # type: ignore[union-attr]
            end = i + 1
            closer = re.compile(rf"^{re.escape(mark[0])}{{{len(mark)},}}\s*$")
            while end < len(lines) and not closer.match(lines[end]):
                end += 1
            if end == len(lines) and cell:
                raise RenderError(f"{name}: code cell opened at line {i + 1} is never closed")
            if cell:
                flush_chunk()
                n_cells += 1
                options, source = _cell_options(lines[i + 1 : end], name, i + 1)
                blocks.append(Cell(source, options, n_cells, i + 1, cell.group("lang").lower()))
            else:
                flush_prose()
                pending.append("\n".join(lines[i : end + 1]) + "\n")
            i = end + 1
            continue
        prose.append(line)
        i += 1
    flush_chunk()
    return QmdDocument(name=name, meta=meta, blocks=tuple(blocks))
