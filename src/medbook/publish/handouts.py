"""Chapter handouts of the Quarto route, cut from the book PDF Quarto rendered.

A Quarto book renders to one typst PDF; rendering a chapter on its own would run it
outside the book (cross-references to other chapters unresolved) and, in a book
project, Quarto re-renders the whole book for a single-file format anyway. So the
handouts are page ranges of the book PDF: each chapter from the page of its
level-1 bookmark to the page before the next chapter's, without the trailing
blank and part pages, followed by the references pages when the chapter cites
works. Nothing is executed or rendered again.
"""

from __future__ import annotations

import re
import shutil
from dataclasses import dataclass
from pathlib import Path

from ..errors import RenderError
from .project import BookProject, ChapterEntry
from .qmd import read_front_matter

__all__ = ["ChapterPages", "chapter_title", "locate_chapters", "write_handouts"]

_HEADING = re.compile(r"^#\s+(?P<title>.+?)\s*(\{[^}]*\})?\s*$", flags=re.MULTILINE)
_FENCE = re.compile(r"^(```|~~~).*?^\1", flags=re.MULTILINE | re.DOTALL)
_CITE = re.compile(r"(?<![\w.@])-?@(?P<key>[\w:.#$%&+?<>~/-]*\w)")
_BIB_KEY = re.compile(r"@\s*(?P<type>\w+)\s*[{(]\s*(?P<key>[^,\s]+)\s*,")
_BLANK_LINES = 2  # a running header (and page number) at most


@dataclass(frozen=True)
class ChapterPages:
    """Where a chapter sits in the book PDF: 0-based ``first`` to ``last``, inclusive."""

    entry: ChapterEntry
    first: int
    last: int


def _normal(text: str) -> str:
    """Lower-case words only, so typst's bookmark text matches Markdown source text."""
    return " ".join(re.findall(r"[^\W_]+", text.lower()))


def chapter_title(entry: ChapterEntry) -> str:
    """The chapter's title: ``title`` in its front matter, else its first ``#`` heading.

    Examples
    --------
    >>> from pathlib import Path
    >>> import tempfile
    >>> folder = Path(tempfile.mkdtemp())
    >>> _ = (folder / "a.qmd").write_text("# Linear mediation {#sec-linear}\\n\\nText.\\n")
    >>> chapter_title(ChapterEntry(folder / "a.qmd", "a.qmd"))
    'Linear mediation'
    """
    meta, body = read_front_matter(entry.path.read_text(encoding="utf-8"), entry.rel)
    if meta.get("title"):
        return str(meta["title"])
    match = _HEADING.search(_FENCE.sub("", body))
    if match is None:
        raise RenderError(f"{entry.rel}: no title (front matter 'title' or a '#' heading)")
    return match.group("title")


def _top_bookmarks(reader: object) -> list[tuple[str, int]]:
    """(title, 0-based page) of the PDF's top-level bookmarks (typst's level-1 headings)."""
    items = []
    for item in reader.outline:  # type: ignore[attr-defined]
        if isinstance(item, list):  # the children of the previous item
            continue
        page = reader.get_destination_page_number(item)  # type: ignore[attr-defined]
        if page is not None and page >= 0:
            items.append((str(item.title), page))
    return items


def locate_chapters(project: BookProject, reader: object) -> list[ChapterPages]:
    """Find every chapter of ``project`` in the book PDF opened by ``reader``.

    Raises
    ------
    RenderError
        If a chapter's title is not among the PDF's top-level bookmarks (in order).
    """
    marks = _top_bookmarks(reader)
    n_pages = len(reader.pages)  # type: ignore[attr-defined]
    found: list[tuple[ChapterEntry, int, int]] = []  # entry, bookmark index, page
    at = 0
    for entry in project.chapters:
        title = _normal(chapter_title(entry))
        index = next(
            (i for i in range(at, len(marks)) if _normal(marks[i][0]).endswith(title)), None
        )
        if index is None:
            raise RenderError(
                f"{entry.rel}: chapter {chapter_title(entry)!r} not found in the book PDF's outline"
            )
        found.append((entry, index, marks[index][1]))
        at = index + 1
    pages = []
    for k, (entry, index, first) in enumerate(found):
        later = [page for _, page in marks[index + 1 :] if page > first]
        last = (min(later) if later else n_pages) - 1
        next_part = found[k + 1][0].part if k + 1 < len(found) else None
        new_part = next_part if next_part and next_part != entry.part else None
        last = _trim(reader, first, last, new_part)
        pages.append(ChapterPages(entry, first, last))
    return pages


def _page_text(reader: object, number: int) -> str:
    return reader.pages[number].extract_text() or ""  # type: ignore[attr-defined]


def _blank(text: str) -> bool:
    return sum(1 for line in text.splitlines() if line.strip()) <= _BLANK_LINES


def _trim(reader: object, first: int, last: int, new_part: str | None) -> int:
    """Drop trailing blank pages and the page of the part that begins after the chapter."""
    part = _normal(new_part) if new_part else None
    while last > first:
        text = _page_text(reader, last)
        if _blank(text):
            last -= 1
        elif part is not None and part in _normal(text):
            last -= 1
            part = None  # only one part page
        else:
            break
    return last


def _bib_keys(project: BookProject) -> set[str]:
    keys = set()
    for path in project.bibliography:
        for match in _BIB_KEY.finditer(path.read_text(encoding="utf-8", errors="replace")):
            if match.group("type").lower() not in ("string", "comment", "preamble"):
                keys.add(match.group("key"))
    return keys


def _cites(entry: ChapterEntry, keys: set[str]) -> bool:
    text = _FENCE.sub("", entry.path.read_text(encoding="utf-8"))
    return any(m.group("key") in keys for m in _CITE.finditer(text))


def _has_refs_div(entry: ChapterEntry) -> bool:
    return re.search(r"^:::+\s*\{#refs\b", entry.path.read_text("utf-8"), re.MULTILINE) is not None


def write_handouts(project: BookProject, book_pdf: Path, folder: Path) -> list[Path]:
    """Write one PDF per chapter, named ``<chapter slug>.pdf``, into ``folder``.

    The folder is replaced as a whole: the handouts are written to a temporary
    sibling folder first, so a failure leaves the previous handouts in place.

    Parameters
    ----------
    project
        The book project.
    book_pdf
        The whole-book PDF rendered by Quarto.
    folder
        The handouts folder (``<output-dir>/handouts``).

    Returns
    -------
    list of Path
        The handouts, in reading order.

    Raises
    ------
    RenderError
        If the PDF cannot be read or a chapter cannot be found in its outline.
    """
    from pypdf import PdfReader, PdfWriter
    from pypdf.errors import PdfReadError

    try:
        reader = PdfReader(book_pdf)
        located = locate_chapters(project, reader)
    except (OSError, PdfReadError) as err:
        raise RenderError(f"cannot read the book PDF {book_pdf}: {err}") from err
    refs = next((c for c in located if _has_refs_div(c.entry)), None)
    keys = _bib_keys(project) if refs is not None else set()
    building = folder.with_name(f".{folder.name}.building")
    shutil.rmtree(building, ignore_errors=True)
    building.mkdir(parents=True)
    written = []
    try:
        for chapter in located:
            writer = PdfWriter()
            writer.append(reader, pages=(chapter.first, chapter.last + 1), import_outline=False)
            if refs is not None and chapter is not refs and _cites(chapter.entry, keys):
                writer.append(reader, pages=(refs.first, refs.last + 1), import_outline=False)
            target = building / f"{chapter.entry.slug}.pdf"
            with target.open("wb") as handle:
                writer.write(handle)
            written.append(folder / target.name)
        old = folder.with_name(f".{folder.name}.old")
        shutil.rmtree(old, ignore_errors=True)
        if folder.exists():
            folder.replace(old)
        building.replace(folder)
        shutil.rmtree(old, ignore_errors=True)
    finally:
        shutil.rmtree(building, ignore_errors=True)
    return written
