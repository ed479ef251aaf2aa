"""Read a Quarto book project (``_quarto.yml``) into a plain description.

Only keys real Quarto understands are read: ``project.output-dir``,
``project.execute-dir``, ``book.title/subtitle/author/date/output-file``,
``book.chapters`` (files and ``part:`` groups), ``book.appendices``,
``bibliography``, ``csl``, ``execute`` and ``format``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ..errors import ConfigError

__all__ = ["BookProject", "ChapterEntry", "load_project"]

_SLUG = re.compile(r"[^A-Za-z0-9._-]+")


@dataclass(frozen=True)
class ChapterEntry:
    """One page of the book, in reading order.

    Attributes
    ----------
    path
        The ``.qmd``/``.md`` file, absolute.
    rel
        Its path relative to the project, with forward slashes (``chapters/a.qmd``).
    part
        Title of the part the chapter belongs to, or ``None``.
    appendix
        Whether the chapter is listed under ``book.appendices``.
    """

    path: Path
    rel: str
    part: str | None = None
    appendix: bool = False

    @property
    def slug(self) -> str:
        """File-system-safe name used for the chapter's page and assets."""
        return _SLUG.sub("-", self.rel.rsplit(".", 1)[0]).replace("/", "-")

    @property
    def page(self) -> str:
        """The chapter's HTML page, relative to the site root (as Quarto names it)."""
        return self.rel.rsplit(".", 1)[0] + ".html"


@dataclass(frozen=True)
class BookProject:
    """A parsed ``_quarto.yml`` book project."""

    root: Path
    title: str
    subtitle: str | None
    authors: tuple[str, ...]
    date: str | None
    chapters: tuple[ChapterEntry, ...]
    bibliography: tuple[Path, ...]
    csl: Path | None
    output_dir: Path
    output_file: str
    execute: dict[str, Any] = field(default_factory=dict)
    execute_dir: str = "file"
    formats: dict[str, Any] = field(default_factory=dict)

    @property
    def pdf_name(self) -> str:
        """File name of the whole-book PDF."""
        return f"{self.output_file}.pdf"


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, list) else [value]


def _authors(value: Any) -> tuple[str, ...]:
    names = []
    for item in _as_list(value):
        if isinstance(item, dict):
            name = item.get("name")
            if isinstance(name, dict):
                name = name.get("literal") or " ".join(
                    str(name[k]) for k in ("given", "family") if k in name
                )
            if name:
                names.append(str(name))
        elif item is not None:
            names.append(str(item))
    return tuple(names)


def _part_title(root: Path, part: str) -> str:
    """Title of a ``part:`` entry: the string itself, or the title of a part file."""
    if not part.endswith((".qmd", ".md")):
        return part
    path = root / part
    if not path.is_file():
        raise ConfigError(f"_quarto.yml: part file {part!r} does not exist")
    from .qmd import read_front_matter

    meta, body = read_front_matter(path.read_text(encoding="utf-8"), str(path))
    if meta.get("title"):
        return str(meta["title"])
    heading = re.search(r"^#\s+(.+?)\s*(\{.*\})?\s*$", body, flags=re.MULTILINE)
    return heading.group(1) if heading else path.stem


def _entries(root: Path, items: Any, where: str, appendix: bool) -> list[ChapterEntry]:
    out: list[ChapterEntry] = []

    def add(item: Any, part: str | None) -> None:
        if isinstance(item, dict) and "href" in item:
            item = item["href"]
        if not isinstance(item, str):
            raise ConfigError(f"_quarto.yml: {where} entry {item!r} is not a file name")
        path = (root / item).resolve()
        if not path.is_file():
            raise ConfigError(f"_quarto.yml: chapter file {item!r} does not exist")
        out.append(ChapterEntry(path, Path(item).as_posix(), part, appendix))

    for item in _as_list(items):
        if isinstance(item, dict) and "part" in item:
            title = _part_title(root, str(item["part"]))
            for chapter in _as_list(item.get("chapters")):
                add(chapter, title)
        else:
            add(item, None)
    return out


def load_project(root: Path) -> BookProject:
    """Read ``root/_quarto.yml``.

    Parameters
    ----------
    root
        The project folder.

    Returns
    -------
    BookProject

    Raises
    ------
    ConfigError
        If the file is missing, is not valid YAML, is not a book project, or
        lists a chapter that does not exist.
    """
    root = root.resolve()
    config_path = root / "_quarto.yml"
    if not config_path.is_file():
        raise ConfigError(f"no _quarto.yml in {root}")
    try:
        config = yaml.safe_load(config_path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as err:
        raise ConfigError(f"_quarto.yml is not valid YAML: {err}") from err
    if not isinstance(config, dict):
        raise ConfigError("_quarto.yml must be a mapping")
    project = config.get("project") or {}
    if project.get("type") != "book":
        raise ConfigError("_quarto.yml: project.type must be 'book'")
    book = config.get("book") or {}
    if not book.get("chapters"):
        raise ConfigError("_quarto.yml: book.chapters is empty")
    chapters = _entries(root, book["chapters"], "book.chapters", appendix=False)
    chapters += _entries(root, book.get("appendices"), "book.appendices", appendix=True)
    seen: set[str] = set()
    for entry in chapters:
        if entry.rel in seen:
            raise ConfigError(f"_quarto.yml: chapter {entry.rel!r} is listed twice")
        seen.add(entry.rel)
    title = str(book.get("title") or config.get("title") or root.name)
    bibliography = []
    for bib in _as_list(config.get("bibliography") or book.get("bibliography")):
        path = root / str(bib)
        if not path.is_file():
            raise ConfigError(f"_quarto.yml: bibliography {bib!r} does not exist")
        bibliography.append(path)
    csl = config.get("csl")
    output_file = str(book.get("output-file") or _SLUG.sub("-", title).strip("-") or "book")
    return BookProject(
        root=root,
        title=title,
        subtitle=str(book["subtitle"]) if book.get("subtitle") else None,
        authors=_authors(book.get("author", config.get("author"))),
        date=str(book["date"]) if book.get("date") else None,
        chapters=tuple(chapters),
        bibliography=tuple(bibliography),
        csl=root / str(csl) if csl else None,
        output_dir=root / str(project.get("output-dir") or "_book"),
        output_file=output_file.removesuffix(".pdf"),
        execute=dict(config.get("execute") or {}),
        execute_dir=str(project.get("execute-dir") or "file"),
        formats=dict(config.get("format") or {}),
    )
