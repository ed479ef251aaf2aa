"""Render with the real Quarto CLI when it is installed.

Quarto is found on ``PATH`` or through the ``QUARTO_PATH`` environment variable
(the convention of the ``quarto-cli`` PyPI package). ``QUARTO_PYTHON`` is set to
the running interpreter so Quarto executes cells in the environment medbook is
installed in. The chapter handouts are cut from the book PDF Quarto renders
(:mod:`medbook.publish.handouts`), so no chapter runs twice.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from ..errors import RenderError
from .handouts import write_handouts
from .project import BookProject
from .summary import RenderSummary

__all__ = ["find_quarto", "quarto_command", "render_quarto"]

_FORMATS = {"html": ["--to", "html"], "pdf": ["--to", "typst"], "all": []}


def find_quarto() -> str | None:
    """Path of the ``quarto`` executable, or ``None`` when Quarto is not installed."""
    explicit = os.environ.get("QUARTO_PATH")
    if explicit:
        path = Path(explicit)
        if path.is_dir():
            path = path / "bin" / "quarto"
        if path.is_file() and os.access(path, os.X_OK):
            return str(path)
    return shutil.which("quarto")


def quarto_command(
    quarto: str, project: BookProject, to: str, output_dir: Path | None, fresh: bool
) -> list[str]:
    """The ``quarto render`` command line for a render request."""
    cmd = [quarto, "render", str(project.root), *_FORMATS[to]]
    if output_dir is not None:
        cmd += ["--output-dir", str(output_dir)]
    if fresh:
        # Frozen outputs are removed by render_quarto; --cache-refresh would switch on
        # Jupyter Cache, which rejects inline expressions.
        cmd.append("--execute")
    return cmd


def render_quarto(
    project: BookProject, quarto: str, to: str, output_dir: Path | None, fresh: bool
) -> RenderSummary:
    """Run ``quarto render`` on the project.

    Raises
    ------
    RenderError
        If Quarto cannot be started or exits with an error.
    """
    cmd = quarto_command(quarto, project, to, output_dir, fresh)
    if fresh:
        shutil.rmtree(project.root / "_freeze", ignore_errors=True)
    env = {**os.environ, "QUARTO_PYTHON": sys.executable}
    try:
        proc = subprocess.run(cmd, cwd=project.root, env=env, check=False)
    except OSError as err:
        raise RenderError(f"cannot run quarto ({quarto}): {err}") from err
    if proc.returncode != 0:
        raise RenderError(f"quarto render failed with exit status {proc.returncode}")
    out = output_dir or project.output_dir
    pdf = out / project.pdf_name
    if to != "html" and not pdf.is_file():
        raise RenderError(f"quarto render wrote no book PDF ({pdf})")
    handouts = write_handouts(project, pdf, out / "handouts") if to != "html" else []
    return RenderSummary(
        engine="quarto",
        output_dir=out,
        pages=sorted(out.rglob("*.html")) if out.is_dir() else [],
        pdf=pdf if pdf.is_file() else None,
        handouts=handouts,
    )
