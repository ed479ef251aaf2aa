"""Read a Quarto book project (``_quarto.yml``) into a plain description.

Only keys real Quarto understands are read: ``project.output-dir``,
``project.execute-dir``, ``book.title/subtitle/author/date/output-file``,
``book.chapters`` (files and ``part:`` groups), ``book.appendices``,
``bibliography``, ``csl``, ``execute`` and ``format``.
"""

from __future__ import annotations

import datetime
import re
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

import yaml

from ..errors import ConfigError
from ..filenames import check_path_text

__all__ = ["BookProject", "ChapterEntry", "load_project"]

_SLUG = re.compile(r"[^A-Za-z0-9._-]+")
_MAX_NAME = 200  # bytes of a chapter slug or PDF name (file systems allow 255)


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


def _kind(value: Any) -> str:
    return "a list" if isinstance(value, list) else f"a {type(value).__name__}"


def _mapping(value: Any, where: str) -> dict[str, Any]:
    """``value`` if it is a mapping (``None`` counts as empty), else a ConfigError."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ConfigError(f"_quarto.yml: {where} must be a mapping, not {_kind(value)}")
    return value


def _text(value: Any, where: str) -> str | None:
    """``value`` as text if it is a scalar (``None`` stays ``None``), else a ConfigError."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(
        value, (str, int, float, datetime.date)
    ):
        raise ConfigError(f"_quarto.yml: {where} must be text, not {_kind(value)}")
    return str(value)


def _texts(value: Any, where: str) -> list[str]:
    """A text or a list of texts."""
    return [t for t in (_text(v, where) for v in _as_list(value)) if t]


def _inside_file(root: Path, name: str, where: str) -> tuple[Path, str]:
    """A file named in ``_quarto.yml`` that must live inside the project.

    Returns the absolute path and its normalised project-relative name; refuses
    absolute names, ``..`` and symbolic links leading out of the project.
    """
    check_path_text(name, f"_quarto.yml: {where}")
    pure = PurePosixPath(name)
    if not name.strip() or pure.is_absolute() or ".." in pure.parts:
        raise ConfigError(
            f"_quarto.yml: {where} {name!r} is not inside the project; "
            "chapters live inside the project folder (a relative path without '..')"
        )
    try:
        path = (root / pure).resolve()
        if not path.is_relative_to(root):
            raise ConfigError(
                f"_quarto.yml: {where} {name!r} leads outside the project (symbolic link); "
                "chapters live inside the project folder"
            )
        exists = path.is_file()
    except OSError as err:
        raise ConfigError(f"_quarto.yml: {where} {name!r} cannot be read: {err.strerror}") from err
    if not exists:
        raise ConfigError(f"_quarto.yml: {where} {name!r} does not exist")
    return path, pure.as_posix()


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
    path, _ = _inside_file(root, part, "part file")
    from .qmd import read_front_matter

    meta, body = read_front_matter(path.read_text(encoding="utf-8"), str(path))
    if meta.get("title"):
        return str(meta["title"])
    heading = re.search(r"^#\s+(.+?)\s*(\{.*\})?\s*$", body, flags=re.MULTILINE)
    return heading.group(1) if heading else path.stem


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _entries(root: Path, items: Any, where: str, appendix: bool) -> list[ChapterEntry]:
    out: list[ChapterEntry] = []

    def add(item: Any, part: str | None) -> None:
        if isinstance(item, dict) and "href" in item:
            item = item["href"]
        if not isinstance(item, str):
            raise ConfigError(f"_quarto.yml: {where} entry {_short(item)} is not a file name")
        path, rel = _inside_file(root, item, "chapter file")
        entry = ChapterEntry(path, rel, part, appendix)
        if len(entry.slug.encode()) > _MAX_NAME:  # pages, handouts and cache entries use it
            raise ConfigError(f"_quarto.yml: chapter path {item[:60]!r}... is too long")
        out.append(entry)

    for item in _as_list(items):
        if isinstance(item, dict) and "part" in item:
            title = _text(item["part"], f"{where} part") or ""
            title = _part_title(root, title)
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
    root = check_path_text(root, "project folder").resolve()
    config_path = root / "_quarto.yml"
    if not config_path.is_file():
        raise ConfigError(f"no _quarto.yml in {root}")
    try:
        config = yaml.safe_load(config_path.read_text(encoding="utf-8")) or {}
    except (yaml.YAMLError, UnicodeDecodeError) as err:
        message = " ".join(str(err).split())[:300]
        raise ConfigError(f"_quarto.yml is not valid YAML: {message}") from err
    if not isinstance(config, dict):
        raise ConfigError("_quarto.yml must be a mapping")
    project = _mapping(config.get("project"), "project")
    if project.get("type") != "book":
        raise ConfigError("_quarto.yml: project.type must be 'book'")
    book = _mapping(config.get("book"), "book")
    if not book.get("chapters"):
        raise ConfigError("_quarto.yml: book.chapters is empty")
    chapters = _entries(root, book["chapters"], "book.chapters", appendix=False)
    chapters += _entries(root, book.get("appendices"), "book.appendices", appendix=True)
    seen: set[str] = set()
    for entry in chapters:
        if entry.rel in seen:
            raise ConfigError(f"_quarto.yml: chapter {entry.rel!r} is listed twice")
        seen.add(entry.rel)
    title = _text(book.get("title") or config.get("title"), "book.title") or root.name
    bibliography = []
    for bib in _texts(config.get("bibliography") or book.get("bibliography"), "bibliography"):
        path = root / check_path_text(bib, "_quarto.yml: bibliography")
        if not path.is_file():
            raise ConfigError(f"_quarto.yml: bibliography {bib!r} does not exist")
        bibliography.append(path)
    csl = _text(config.get("csl"), "csl")
    output_file = _text(book.get("output-file"), "book.output-file")
    output_file = output_file or _SLUG.sub("-", title).strip("-")[:100] or "book"
    check_path_text(output_file, "_quarto.yml: book.output-file")
    if "/" in output_file or output_file in (".", "..") or len(output_file.encode()) > _MAX_NAME:
        raise ConfigError(
            f"_quarto.yml: book.output-file {output_file[:60]!r} must be a short file name"
        )
    output_dir = _text(project.get("output-dir"), "project.output-dir") or "_book"
    execute_dir = _text(project.get("execute-dir"), "project.execute-dir") or "file"
    if execute_dir not in ("file", "project"):
        raise ConfigError(
            f"_quarto.yml: project.execute-dir must be 'file' or 'project', not {execute_dir!r}"
        )
    subtitle = _text(book.get("subtitle"), "book.subtitle")
    date = _text(book.get("date"), "book.date")
    return BookProject(
        root=root,
        title=title,
        subtitle=subtitle or None,
        authors=_authors(book.get("author", config.get("author"))),
        date=date or None,
        chapters=tuple(chapters),
        bibliography=tuple(bibliography),
        csl=root / check_path_text(csl, "_quarto.yml: csl") if csl else None,
        output_dir=root / check_path_text(output_dir, "_quarto.yml: project.output-dir"),
        output_file=output_file.removesuffix(".pdf"),
        execute=dict(_mapping(config.get("execute"), "execute")),
        execute_dir=execute_dir,
        formats=dict(_mapping(config.get("format"), "format")),
    )
