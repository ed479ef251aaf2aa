"""The result of a book render."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["RenderSummary"]


@dataclass
class RenderSummary:
    """What :func:`medbook.publish.render_book` produced.

    Attributes
    ----------
    engine
        ``"builtin"`` or ``"quarto"``.
    output_dir
        The site folder.
    pages
        HTML pages written.
    pdf
        The whole-book PDF, if rendered.
    handouts
        Chapter handout PDFs.
    executed, cached
        Chapters (paths relative to the project) run in a kernel / taken from the cache.
    seconds
        Wall-clock time of the render.
    """

    engine: str
    output_dir: Path
    pages: list[Path] = field(default_factory=list)
    pdf: Path | None = None
    handouts: list[Path] = field(default_factory=list)
    executed: list[str] = field(default_factory=list)
    cached: list[str] = field(default_factory=list)
    seconds: float = 0.0
