"""Render the report and memo templates (Jinja2, one environment per output format).

Every plain string a template prints passes through the format's escaper; our
own preformatted text arrives as :class:`markupsafe.Markup` and is printed as is.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import jinja2
from markupsafe import Markup

from ..convert import escape_html, escape_markdown, escape_typst
from ..errors import RenderError
from ..templating import environment

__all__ = [
    "render_memo_markdown",
    "render_report_markdown",
    "template_dir",
    "template_environment",
]

Escape = Callable[[object], str]


def template_dir() -> Path:
    """Folder holding the Jinja templates.

    Looked up in order: ``$MEDBOOK_TEMPLATES``, then the templates shipped inside the
    package (``src/medbook/templates``, which the repository's ``templates/`` links to).

    Raises
    ------
    RenderError
        If no folder with ``report.md.j2`` is found.
    """
    candidates = []
    if os.environ.get("MEDBOOK_TEMPLATES"):
        candidates.append(Path(os.environ["MEDBOOK_TEMPLATES"]))
    candidates.append(Path(str(resources.files("medbook") / "templates")))
    for folder in candidates:
        if (folder / "report.md.j2").is_file():
            return folder
    raise RenderError(
        "report templates not found (looked in "
        + ", ".join(str(c) for c in candidates) + "); set MEDBOOK_TEMPLATES"
    )


def _finalize_with(escape: Escape) -> Callable[[Any], str]:
    def finalize(value: Any) -> str:
        if isinstance(value, Markup):
            return str(value)
        if isinstance(value, bool) or value is None:
            return escape(str(value))
        if isinstance(value, (int, float)):
            return str(value)
        return escape(value)

    return finalize


@cache
def template_environment(kind: Literal["markdown", "html", "typst"]) -> jinja2.Environment:
    """Jinja environment for one output format.

    Unknown variables raise (``StrictUndefined``). Any plain string printed by a
    template is escaped for the format; our own preformatted text is passed as
    :class:`markupsafe.Markup`.
    """
    escape = {"markdown": escape_markdown, "html": escape_html, "typst": escape_typst}[kind]
    return environment(
        jinja2.FileSystemLoader(str(template_dir())),
        finalize=_finalize_with(escape),
        trim_blocks=True,
    )


def _render(name: str, kind: Literal["markdown", "html", "typst"], context: Mapping) -> str:
    try:
        return template_environment(kind).get_template(name).render(**context)
    except jinja2.TemplateError as err:
        raise RenderError(f"template {name} failed: {err}") from err


def render_report_markdown(context: Mapping[str, Any]) -> str:
    """The full mediation report (seven sections) as pandoc Markdown."""
    return _render("report.md.j2", "markdown", context)


def render_memo_markdown(context: Mapping[str, Any]) -> str:
    """The one-page decision memo as pandoc Markdown."""
    return _render("memo.md.j2", "markdown", context)
