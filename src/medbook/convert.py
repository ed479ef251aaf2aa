"""Document conversion helpers shared by the book renderer and the memo generator.

* :func:`pandoc_convert` runs the pandoc binary bundled with ``pypandoc-binary``
  (no system pandoc needed) and turns its failures into :class:`RenderError`.
* :func:`markdown_to_typst` and :func:`compile_typst` take pandoc Markdown to a
  PDF through the ``typst`` Python package (no typst binary needed); literal
  text cannot turn into typst headings or lists on the way (``typst_text.lua``).
* :func:`escape_html`, :func:`escape_markdown` and :func:`escape_typst` make
  untrusted text (column names, labels, file names) inert in each format.
"""

from __future__ import annotations

import html
import os
import re
import subprocess
from collections.abc import Sequence
from functools import cache
from importlib import resources
from pathlib import Path

from .errors import RenderError
from .sanitize import clean_text

__all__ = [
    "compile_typst",
    "escape_html",
    "escape_markdown",
    "escape_typst",
    "markdown_to_typst",
    "pandoc_convert",
    "pandoc_path",
]

# Characters with a meaning in pandoc Markdown or typst markup. Both formats
# accept a backslash before any ASCII punctuation character as a literal.
_PUNCT = re.compile(r"""([\\`*_{}\[\]()<>#+\-.!|~^$@=/'":;,%&?])""")


@cache
def pandoc_path() -> str:
    """Path of the pandoc executable bundled with ``pypandoc-binary``.

    Returns
    -------
    str
        Absolute path of the pandoc binary.

    Raises
    ------
    RenderError
        If pypandoc is not installed or has no pandoc binary.
    """
    try:
        import pypandoc
    except ImportError as err:  # pragma: no cover - dependency of the package
        raise RenderError("pandoc is unavailable: install 'pypandoc-binary'") from err
    try:
        return str(pypandoc.get_pandoc_path())
    except OSError as err:  # pragma: no cover - broken installation
        raise RenderError(f"pandoc is unavailable: {err}") from err


def pandoc_convert(
    text: str,
    *,
    from_format: str,
    to_format: str,
    extra_args: Sequence[str] = (),
    resource_path: Path | None = None,
) -> str:
    """Convert ``text`` with pandoc.

    Parameters
    ----------
    text
        The source document.
    from_format, to_format
        Pandoc reader and writer names, with extensions (e.g. ``"markdown-smart"``).
    extra_args
        Further command-line options (``--citeproc``, ``--lua-filter=...``, ...).
    resource_path
        Folder against which relative paths (bibliography, images, filters) are
        resolved; pandoc runs with it as working directory. Default: current directory.

    Returns
    -------
    str
        The converted document.

    Raises
    ------
    RenderError
        If pandoc exits with an error; the message carries pandoc's stderr.
    """
    cmd = [pandoc_path(), f"--from={from_format}", f"--to={to_format}", *extra_args]
    try:
        proc = subprocess.run(
            cmd,
            input=text.encode("utf-8"),
            capture_output=True,
            cwd=str(resource_path) if resource_path is not None else None,
            check=False,
        )
    except OSError as err:
        raise RenderError(f"cannot run pandoc: {err}") from err
    if proc.returncode != 0:
        stderr = proc.stderr.decode("utf-8", "replace").strip()
        raise RenderError(f"pandoc failed ({from_format} -> {to_format}): {stderr}")
    return proc.stdout.decode("utf-8")


def markdown_to_typst(
    markdown: str,
    *,
    from_format: str = "markdown",
    extra_args: Sequence[str] = (),
    resource_path: Path | None = None,
) -> str:
    """Convert pandoc Markdown to typst markup.

    Literal text stays literal: the Lua filter ``typst_text.lua`` (run after any
    filter in ``extra_args``) escapes a leading ``=``, ``-``, ``+``, ``/`` or ``1.``
    of every text run, which typst would read as a heading or list marker at the
    start of a list item, table cell, link text or footnote, where pandoc's
    typst writer leaves it unescaped.

    Parameters
    ----------
    markdown
        Pandoc Markdown text.
    from_format, extra_args, resource_path
        As for :func:`pandoc_convert`.

    Returns
    -------
    str
        Typst markup (a fragment unless ``--standalone`` is in ``extra_args``).
    """
    with resources.as_file(resources.files(__package__).joinpath("typst_text.lua")) as lua:
        return pandoc_convert(
            markdown,
            from_format=from_format,
            to_format="typst",
            extra_args=[*extra_args, f"--lua-filter={lua}"],
            resource_path=resource_path,
        )


def compile_typst(source: str, out_pdf: Path, root: Path) -> Path:
    """Compile typst markup to a PDF file.

    Parameters
    ----------
    source
        Typst markup.
    out_pdf
        Where to write the PDF (its folder must exist).
    root
        Project root: images and includes are resolved relative to it and
        cannot escape it.

    Returns
    -------
    Path
        ``out_pdf``.

    Raises
    ------
    RenderError
        If typst reports an error (message, hints) or the file cannot be written.
    """
    import typst

    # Without a date typst stamps the compile time, and the same source gives other bytes.
    source = "#set document(date: none)\n" + source
    try:
        pdf = typst.compile(source.encode("utf-8"), root=str(root), format="pdf")
    except typst.TypstError as err:
        hints = "; ".join(getattr(err, "hints", []) or [])
        detail = f"{err} (hint: {hints})" if hints else str(err)
        raise RenderError(f"typst failed for {out_pdf.name}: {detail}") from err
    try:
        tmp = out_pdf.with_name(f".{out_pdf.name}.{os.getpid()}.tmp")
        tmp.write_bytes(pdf)
        tmp.replace(out_pdf)
    except OSError as err:
        raise RenderError(f"cannot write {out_pdf}: {err.strerror}") from err
    return out_pdf


def escape_html(text: object) -> str:
    """Escape text for HTML element content and quoted attribute values.

    The text is first made one clean line (:func:`medbook.sanitize.clean_text`).
    """
    return html.escape(clean_text(text), quote=True)


def escape_markdown(text: object) -> str:
    """Escape text for inline use in pandoc Markdown.

    Every ASCII punctuation character is backslash-escaped and line breaks
    collapse to one space, so the text can never start a heading, list, table,
    code block, raw HTML/LaTeX, span attribute or citation. Control, bidi and
    other line-breaking characters are normalised first
    (:func:`medbook.sanitize.clean_text`).
    """
    flat = clean_text(text)
    return _PUNCT.sub(r"\\\1", flat)


def escape_typst(text: object) -> str:
    """Escape text for inline use in typst markup.

    Every ASCII punctuation character is backslash-escaped (typst treats
    ``\\c`` as a literal ``c``) and line breaks collapse to one space, so the
    text cannot open code (``#``), math (``$``), labels, references, comments
    or markup. Control, bidi and other line-breaking characters are normalised
    first (:func:`medbook.sanitize.clean_text`).
    """
    flat = clean_text(text)
    return _PUNCT.sub(r"\\\1", flat)
