"""Where ``medbook render`` may write: only into folders it created itself.

Every folder the renderer publishes carries a stamp file (:data:`STAMP`) listing
the files it wrote. An output folder is replaced only when it does not exist yet,
is empty, or carries the stamp and holds no file the stamp does not list; anything
else — the project folder, one of its parents, a folder holding the book's sources
or the render cache, an existing file, a folder with someone else's files — is
refused with a :class:`~medbook.errors.ConfigError` before anything runs, and
checked again just before the new site is swapped in.
"""

from __future__ import annotations

import json
from pathlib import Path

from ..errors import ConfigError
from ..filenames import printable_path
from .project import BookProject

__all__ = ["STAMP", "check_output_dir", "write_stamp"]

#: Name of the file that marks a folder as written by ``medbook render``.
STAMP = ".medbook-render"
_STAMP_NOTE = (
    "written by medbook render, which replaces this folder on every render; it refuses "
    "to when the folder holds files not listed here"
)
CACHE_NAME = ".medbook-cache"


def _inside(path: Path, folder: Path) -> bool:
    return path == folder or folder in path.parents


def _sources(project: BookProject) -> list[Path]:
    """Files the render reads and must never delete."""
    files = [project.root / "_quarto.yml", *(e.path for e in project.chapters)]
    files += list(project.bibliography)
    if project.csl is not None:
        files.append(project.csl)
    return files


def check_output_dir(out: Path, project: BookProject) -> Path:
    """The resolved output folder, if ``medbook render`` may replace it.

    Parameters
    ----------
    out
        The requested output folder (symbolic links are followed).
    project
        The book being rendered.

    Returns
    -------
    pathlib.Path
        ``out`` resolved.

    Raises
    ------
    ConfigError
        If ``out`` is the project folder or one of its parents, holds a source of
        the book or the render cache, is an existing file, or is a folder with
        files that ``medbook render`` did not write.

    Examples
    --------
    >>> from medbook.publish.project import load_project
    >>> book = load_project(Path("tests/fixtures/book"))
    >>> check_output_dir(book.root / "_book", book) == book.root / "_book"
    True
    >>> check_output_dir(book.root.parent, book)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    medbook.errors.ConfigError: output folder ... contains the project folder; ...
    """
    try:
        out = Path(out).resolve()
    except (OSError, RuntimeError) as err:  # symlink loops
        raise ConfigError(f"output folder {str(out)!r} cannot be resolved: {err}") from err
    root = project.root
    hint = "choose another --output-dir / project.output-dir"
    if out == root:
        raise ConfigError(f"output folder {str(out)!r} is the project folder; {hint}")
    if _inside(root, out):
        raise ConfigError(f"output folder {str(out)!r} contains the project folder; {hint}")
    cache = root / CACHE_NAME
    if _inside(out, cache) or _inside(cache, out):
        raise ConfigError(f"output folder {str(out)!r} overlaps the render cache; {hint}")
    for source in _sources(project):
        if _inside(source.resolve(), out):
            rel = source.relative_to(root) if _inside(source, root) else source
            raise ConfigError(
                f"output folder {str(out)!r} holds the book source {str(rel)!r}; {hint}"
            )
    try:
        foreign = _check_existing(out)
    except OSError as err:
        raise ConfigError(f"output folder {str(out)!r} cannot be used: {err.strerror}") from err
    if foreign == "":
        raise ConfigError(f"output folder {str(out)!r} exists and is not a folder; {hint}")
    if foreign:
        raise ConfigError(
            f"output folder {str(out)!r} holds files medbook render did not write "
            f"(e.g. {foreign!r}); move them away or {hint}"
        )
    return out


def _check_existing(out: Path) -> str | None:
    """``""`` if ``out`` is not a folder, else a file in it render did not write, or None."""
    if out.exists() and not out.is_dir():
        return ""
    if out.is_dir():
        return _foreign_files(out)
    return None


def _files(folder: Path) -> list[str]:
    """Files (and links) under ``folder``, relative, without the stamp."""
    return sorted(
        p.relative_to(folder).as_posix()
        for p in folder.rglob("*")
        if (p.is_symlink() or not p.is_dir()) and p != folder / STAMP
    )


def _foreign_files(folder: Path) -> str | None:
    """The first file under ``folder`` that its stamp does not list, if any."""
    stamp = folder / STAMP
    if stamp.is_symlink() or not stamp.is_file():
        first = next(iter(folder.iterdir()), None)
        return None if first is None else printable_path(first.name)
    try:
        listed = set(json.loads(stamp.read_text(encoding="utf-8"))["files"])
    except (ValueError, KeyError, TypeError, UnicodeDecodeError):
        return STAMP
    for name in _files(folder):
        if name not in listed:
            return printable_path(name)
    return None


def write_stamp(folder: Path) -> None:
    """Mark ``folder`` as written by ``medbook render``, listing the files in it now."""
    text = json.dumps({"note": _STAMP_NOTE, "files": _files(folder)}, indent=1)
    (folder / STAMP).write_text(text + "\n", encoding="utf-8")
