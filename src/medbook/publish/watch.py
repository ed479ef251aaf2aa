"""Watch the sources of a book for ``medbook preview``.

Polling file modification times (no extra dependency, works on every file
system): the chapters and ``_quarto.yml``, the bibliography and CSL style, the
``medbook`` package the chapters import, and the project's ``data/`` and
``examples/`` folders (the files the chapter cache hashes).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

from ..errors import MedbookError
from .project import load_project

__all__ = ["SourceWatcher"]

_DATA_DIRS = ("data", "examples")
_SKIP_DIRS = {"__pycache__", ".ipynb_checkpoints", "node_modules"}


def _walk(folder: Path) -> Iterator[Path]:
    """Files under ``folder``, skipping hidden entries and caches."""
    for dirpath, dirnames, filenames in os.walk(folder):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith(".") and d not in _SKIP_DIRS)
        for name in sorted(filenames):
            if not name.startswith(".") and not name.endswith((".pyc", "~")):
                yield Path(dirpath) / name


class SourceWatcher:
    """Report which source files of a book project changed since the last look.

    Parameters
    ----------
    root
        The project folder (holding ``_quarto.yml``).
    package_dir
        The package whose code the chapters run (the installed ``medbook``).

    Examples
    --------
    >>> import tempfile, time
    >>> from pathlib import Path
    >>> root = Path(tempfile.mkdtemp())
    >>> _ = (root / "_quarto.yml").write_text(
    ...     "project: {type: book}\\nbook: {title: T, chapters: [index.qmd]}\\n")
    >>> _ = (root / "index.qmd").write_text("# Hello\\n")
    >>> watcher = SourceWatcher(root, root / "pkg")
    >>> watcher.changes()
    []
    >>> _ = (root / "index.qmd").write_text("# Hello again\\n")
    >>> [p.name for p in watcher.changes()]
    ['index.qmd']
    """

    def __init__(self, root: Path, package_dir: Path) -> None:
        self.root = Path(root).resolve()
        self.package_dir = Path(package_dir).resolve()
        self._listed: set[Path] = set()
        self._state = self._snapshot()

    def sources(self) -> list[Path]:
        """Every file watched now (re-read from ``_quarto.yml`` on each call)."""
        files = {self.root / "_quarto.yml"}
        try:
            project = load_project(self.root)
        except MedbookError:
            pass  # a broken _quarto.yml: keep watching what it listed before
        else:
            listed = {entry.path for entry in project.chapters} | set(project.bibliography)
            self._listed = listed | ({project.csl} if project.csl is not None else set())
        files.update(self._listed)
        for folder in (self.package_dir, *(self.root / d for d in _DATA_DIRS)):
            if folder.is_dir():
                files.update(_walk(folder))
        return sorted(files)

    def _snapshot(self) -> dict[Path, tuple[int, int]]:
        state = {}
        for path in self.sources():
            try:
                info = path.stat()
            except OSError:
                continue  # listed but missing: its appearance counts as a change
            state[path] = (info.st_mtime_ns, info.st_size)
        return state

    def changes(self) -> list[Path]:
        """Files added, modified or removed since the previous call (or construction)."""
        state = self._snapshot()
        changed = {
            p for p in state.keys() | self._state.keys() if state.get(p) != self._state.get(p)
        }
        self._state = state
        return sorted(changed)
