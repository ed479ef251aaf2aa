"""Content-addressed caches of the built-in renderer (under ``<project>/.medbook-cache/``).

Chapter cache: executed-and-assembled chapters are keyed by a SHA-256 over

1. the chapter file's text and its effective ``execute`` options;
2. every file of the medbook package (``src/medbook``, excluding ``__pycache__``);
3. the *data files*: every file under the project's ``data/`` and ``examples/``
   folders, plus every existing file whose path appears as a string literal in the
   chapter's code (resolved against the chapter's folder and the project root);
4. the Python version and this renderer's format version.

Any change to one of these re-executes the chapter; nothing else does. A chapter
without code (no cells, no inline expressions) depends on its text only.

:func:`chapter_cache_key` assembles these inputs for one chapter.

Conversion cache: pure conversions (pandoc runs, typst compiles) are keyed by a hash
of all their inputs, so an unchanged page is not converted again.

Only the built-in renderer uses these caches. The Quarto route relies on Quarto's
own ``_freeze/`` folder instead (``medbook render --fresh`` thaws it).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import sys
from collections.abc import Callable, Iterable
from pathlib import Path

from .assemble import ChapterSource
from .qmd import MarkdownChunk, QmdDocument

__all__ = [
    "ChapterCache",
    "ConversionCache",
    "chapter_cache_key",
    "chapter_key",
    "data_files",
    "hash_files",
    "package_hash",
]

FORMAT_VERSION = "medbook-render-1"
DATA_DIRS = ("data", "examples")
_LITERAL = re.compile(r"""["']([^"'\n\\]{1,255})["']""")


def hash_files(paths: Iterable[Path], base: Path) -> str:
    """SHA-256 over the names (relative to ``base``) and contents of ``paths``."""
    digest = hashlib.sha256()
    for path in sorted(set(paths)):
        try:
            rel = path.relative_to(base).as_posix()
        except ValueError:
            rel = path.as_posix()
        digest.update(os.fsencode(rel) + b"\0")  # names need not be UTF-8
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


def _tree(folder: Path) -> list[Path]:
    if not folder.is_dir():
        return []
    return [
        p
        for p in folder.rglob("*")
        if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc"
    ]


def package_hash(package_dir: Path) -> str:
    """Hash of every file of the package folder (the code the book runs)."""
    return hash_files(_tree(package_dir), package_dir)


def data_files(project_root: Path, chapter: Path, code: str) -> list[Path]:
    """Data files a chapter may read (see the module docstring for the rule)."""
    files = [p for d in DATA_DIRS for p in _tree(project_root / d)]
    for literal in _LITERAL.findall(code):
        for base in (chapter.parent, project_root):
            candidate = base / literal
            try:
                if candidate.is_file():
                    files.append(candidate.resolve())
            except OSError:
                continue
    return files


def chapter_key(
    text: str, options: dict[str, object], package_digest: str, data_digest: str
) -> str:
    """The cache key of an executed chapter."""
    digest = hashlib.sha256()
    for part in (
        FORMAT_VERSION,
        sys.version,
        text,
        json.dumps(options, sort_keys=True, default=str),
        package_digest,
        data_digest,
    ):
        digest.update(part.encode("utf-8") + b"\0")
    return digest.hexdigest()


def chapter_cache_key(
    project_root: Path,
    chapter: Path,
    doc: QmdDocument,
    options: dict[str, object],
    package_digest: str,
    runs_code: bool,
) -> str:
    """The cache key of one chapter, from the inputs the module docstring lists.

    ``runs_code`` is False for a chapter without cells or inline expressions: its
    text and options alone decide.
    """
    text = chapter.read_text(encoding="utf-8")
    if not runs_code:
        return chapter_key(text, options, "", "")
    code = "\n".join(c.source for c in doc.cells)
    code += "\n".join(
        e.expr for b in doc.blocks if isinstance(b, MarkdownChunk) for e in b.inline
    )
    files = data_files(project_root, chapter, code)
    return chapter_key(text, options, package_digest, hash_files(files, project_root))


def _atomic_dir(final: Path, fill: Callable[[Path], None]) -> None:
    tmp = final.with_name(f"{final.name}.tmp-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    try:
        fill(tmp)
        shutil.rmtree(final, ignore_errors=True)
        tmp.replace(final)
    except BaseException:  # interrupted or failed: no half-written entry is left
        shutil.rmtree(tmp, ignore_errors=True)
        raise


class ChapterCache:
    """Executed chapters (Markdown + figure files), one entry per chapter and key."""

    def __init__(self, root: Path) -> None:
        self.root = root / "chapters"

    def get(self, slug: str, key: str) -> ChapterSource | None:
        """The cached chapter, or ``None`` on a miss."""
        entry = self.root / slug / key
        manifest = entry / "assets.json"
        if not manifest.is_file():
            return None
        names = json.loads(manifest.read_text(encoding="utf-8"))
        assets = {name: (entry / "assets" / name).read_bytes() for name in names}
        markdown = (entry / "chapter.md").read_text(encoding="utf-8")
        return ChapterSource(markdown=markdown, assets=assets)

    def put(self, slug: str, key: str, source: ChapterSource) -> None:
        """Store a chapter, replacing older entries of the same chapter."""

        def fill(folder: Path) -> None:
            (folder / "chapter.md").write_text(source.markdown, encoding="utf-8")
            for name, data in source.assets.items():
                target = folder / "assets" / name
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(data)
            (folder / "assets.json").write_text(json.dumps(sorted(source.assets)), "utf-8")

        chapter_dir = self.root / slug
        if chapter_dir.is_dir():
            for old in chapter_dir.iterdir():
                if old.name != key:
                    shutil.rmtree(old, ignore_errors=True)
        _atomic_dir(chapter_dir / key, fill)


class ConversionCache:
    """Results of pure conversions, keyed by a hash of everything they depend on."""

    def __init__(self, root: Path, kind: str) -> None:
        self.root = root / kind
        self.used: set[str] = set()

    @staticmethod
    def key(*parts: str | bytes) -> str:
        """Hash of the given inputs."""
        digest = hashlib.sha256()
        for part in parts:
            data = part.encode("utf-8") if isinstance(part, str) else part
            digest.update(hashlib.sha256(data).digest())
        return digest.hexdigest()

    def get(self, key: str) -> bytes | None:
        """A stored result, or ``None``."""
        self.used.add(key)
        path = self.root / key[:2] / key
        return path.read_bytes() if path.is_file() else None

    def put(self, key: str, data: bytes) -> None:
        """Store a result atomically."""
        path = self.root / key[:2] / key
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f"{key}.tmp-{os.getpid()}-{id(data)}")
        tmp.write_bytes(data)
        tmp.replace(path)
        self.used.add(key)

    def prune(self) -> None:
        """Delete results not read or written since this store was opened."""
        if not self.used or not self.root.is_dir():
            return
        for path in self.root.glob("*/*"):
            if path.name not in self.used:
                path.unlink(missing_ok=True)
