"""The one way medbook builds a Jinja environment (report templates and site pages).

Both the report's Markdown/HTML/typst templates (:mod:`medbook.report.templates`)
and the built-in site renderer's page template (:mod:`medbook.publish.site`) use
:func:`environment`: unknown variables raise (``StrictUndefined``), trailing
newlines are kept, and nothing is evaluated from user text.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jinja2

__all__ = ["environment"]


def environment(
    loader: jinja2.BaseLoader,
    *,
    autoescape: bool = False,
    finalize: Callable[[Any], Any] | None = None,
    trim_blocks: bool = False,
) -> jinja2.Environment:
    """A strict Jinja environment.

    Parameters
    ----------
    loader : jinja2.BaseLoader
        Where the templates come from.
    autoescape : bool
        HTML autoescaping (the site); the report escapes through ``finalize``.
    finalize : callable, optional
        Applied to every printed value (the report's per-format escaper).
    trim_blocks : bool
        Strip the newline after a block tag (and leading block whitespace).

    Examples
    --------
    >>> env = environment(jinja2.DictLoader({"t": "{{ x }}"}))
    >>> env.get_template("t").render(x=1)
    '1'
    """
    return jinja2.Environment(
        loader=loader,
        undefined=jinja2.StrictUndefined,
        autoescape=autoescape,
        keep_trailing_newline=True,
        trim_blocks=trim_blocks,
        lstrip_blocks=trim_blocks,
        finalize=finalize,
    )
