"""Typst PDFs: the whole book (title page, contents, parts, chapters) and chapter handouts."""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from ..convert import compile_typst, escape_typst
from .cache import ConversionCache
from .project import BookProject, ChapterEntry

__all__ = ["PdfChapter", "write_pdfs"]


@dataclass(frozen=True)
class PdfChapter:
    """A chapter's typst markup in its two variants."""

    entry: ChapterEntry
    book_body: str
    handout_body: str


def _template() -> str:
    return resources.files(__package__).joinpath("book.typ").read_text("utf-8")


def _string(text: str) -> str:
    """A typst string literal."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def book_source(project: BookProject, chapters: list[PdfChapter], back_matter: str = "") -> str:
    """Typst markup of the whole book; ``back_matter`` (typst) comes last."""
    authors = ", ".join(project.authors)
    subtitle = f"[{escape_typst(project.subtitle)}]" if project.subtitle else "none"
    parts = [
        _template(),
        f"#set document(title: {_string(project.title)}"
        + (f", author: ({', '.join(_string(a) for a in project.authors)},)" if authors else "")
        + ")",
        f"#title-page([{escape_typst(project.title)}], {subtitle}, "
        f"[{escape_typst(authors)}], [{escape_typst(project.date or '')}])",
        "#book-outline()",
    ]
    current: str | None = None
    for chapter in chapters:
        group = chapter.entry.part or ("Appendices" if chapter.entry.appendix else None)
        if group and group != current:
            parts.append(f"#part-page([{escape_typst(group)}])")
        current = group
        parts.append(chapter.book_body)
    if back_matter:
        parts.append(back_matter)
    return "\n\n".join(parts) + "\n"


def handout_source(project: BookProject, chapter: PdfChapter) -> str:
    """Typst markup of one chapter as a standalone handout."""
    return (
        "\n\n".join(
            [
                _template(),
                f"#set document(title: {_string(project.title)})",
                f"#show: handout-header.with([{escape_typst(project.title)}])",
                chapter.handout_body,
            ]
        )
        + "\n"
    )


def _compile(
    source: str, target: Path, root: Path, memo: ConversionCache, assets_digest: str
) -> Path:
    key = ConversionCache.key(source, assets_digest)
    cached = memo.get(key)
    target.parent.mkdir(parents=True, exist_ok=True)
    if cached is not None:
        target.write_bytes(cached)
        return target
    compile_typst(source, target, root)
    memo.put(key, target.read_bytes())
    return target


def write_pdfs(
    project: BookProject,
    chapters: list[PdfChapter],
    out: Path,
    memo: ConversionCache,
    assets_digest: str,
    back_matter: str = "",
) -> tuple[Path, list[Path]]:
    """Compile the book PDF and one handout per chapter into ``out``.

    Parameters
    ----------
    project
        The book project.
    chapters
        Chapters in reading order.
    out
        The output folder; it must already hold the figures (typst root).
    memo
        Compiled PDFs by hash of their source and of ``assets_digest``.
    assets_digest
        Hash of every image the chapters reference.
    back_matter
        Typst appended to the book only (the bibliography when no chapter holds one).

    Returns
    -------
    tuple
        The book PDF and the handout PDFs.
    """
    book = _compile(
        book_source(project, chapters, back_matter),
        out / project.pdf_name,
        out,
        memo,
        assets_digest,
    )
    handouts = [
        _compile(
            handout_source(project, chapter),
            out / "handouts" / f"{chapter.entry.slug}.pdf",
            out,
            memo,
            assets_digest,
        )
        for chapter in chapters
    ]
    return book, handouts
