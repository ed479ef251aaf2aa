"""Write the HTML site: one page per chapter, sidebar, on-page contents, search index.

Pages mirror the source layout (``chapters/intro.qmd`` → ``chapters/intro.html``),
as Quarto names them, so links between ``.qmd`` files keep working. Static files
(``site_libs/medbook/``) ship with the package; search runs client-side from
``search-index.js`` and needs no server or network.
"""

from __future__ import annotations

import json
import posixpath
import re
from dataclasses import dataclass
from html.parser import HTMLParser
from importlib import resources
from pathlib import Path
from typing import Any

import jinja2
from markupsafe import Markup, escape

from ..templating import environment
from .project import BookProject, ChapterEntry

__all__ = ["SitePage", "write_site"]

STATIC = ("style.css", "search.js", "site.js")
STATIC_DIR = "site_libs/medbook"
_WS = re.compile(r"\s+")


@dataclass(frozen=True)
class SitePage:
    """A rendered chapter page."""

    entry: ChapterEntry
    number: str
    title: str
    body: str
    toc: list[dict[str, Any]]


class _TextSections(HTMLParser):
    """Plain text of an HTML fragment, split at ``<h1>``–``<h3>`` headings with an id."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.sections: list[dict[str, Any]] = [{"id": "", "level": 0, "title": [], "text": []}]
        self._heading: dict[str, Any] | None = None
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("h1", "h2", "h3"):
            ident = dict(attrs).get("id") or ""
            self._heading = {"id": ident, "level": int(tag[1]), "title": [], "text": []}
        elif tag in ("annotation", "script", "style"):
            self._skip += 1

    def handle_endtag(self, tag: str) -> None:
        if tag in ("h1", "h2", "h3") and self._heading is not None:
            self.sections.append(self._heading)
            self._heading = None
        elif tag in ("annotation", "script", "style") and self._skip:
            self._skip -= 1

    def handle_data(self, data: str) -> None:
        if self._skip:
            return
        if self._heading is not None:
            self._heading["title"].append(data)
        else:
            self.sections[-1]["text"].append(data)


def _search_records(page: SitePage) -> list[dict[str, str | int]]:
    """One record per section: ``u`` link, ``t`` shown title, ``h`` the words ranked as
    a title, ``k`` 0 when ``h`` is the chapter's title and 1 for a section heading,
    ``x`` the body text (search.js ranks titles, then headings, then body text)."""
    parser = _TextSections()
    parser.feed(page.body)
    records: list[dict[str, str | int]] = []
    for section in parser.sections:
        text = _WS.sub(" ", " ".join(section["text"])).strip()
        heading = _WS.sub(" ", "".join(section["title"])).strip()
        if not text and not heading:
            continue
        anchor = f"#{section['id']}" if section["id"] else ""
        top = section["level"] <= 1 or heading == page.title  # the chapter's own title
        title = page.title if top else f"{page.title} › {heading}"
        records.append(
            {
                "u": page.entry.page + anchor,
                "t": title,
                "h": f"{page.title} {heading}" if top else heading,
                "k": 0 if top else 1,
                "x": text,
            }
        )
    return records


def _rel(from_page: str, target: str) -> str:
    start = posixpath.dirname(from_page) or "."
    return posixpath.relpath(target, start)


def _environment() -> jinja2.Environment:
    loader = jinja2.FunctionLoader(
        lambda name: resources.files(__package__).joinpath(name).read_text("utf-8")
    )
    return environment(loader, autoescape=True)


def write_site(
    project: BookProject, pages: list[SitePage], out: Path, pdf_name: str | None
) -> list[Path]:
    """Write every page, the search index and the static files into ``out``.

    Parameters
    ----------
    project
        The book project (title, authors, parts).
    pages
        The chapters in reading order.
    out
        The site folder (it already holds the figures).
    pdf_name
        File name of the whole-book PDF to link, or ``None`` for no download link.

    Returns
    -------
    list of Path
        The HTML files written.
    """
    template = _environment().get_template("page.html")
    static = out / STATIC_DIR
    static.mkdir(parents=True, exist_ok=True)
    for name in STATIC:
        (static / name).write_text(
            resources.files(__package__).joinpath(name).read_text("utf-8"), encoding="utf-8"
        )
    records = [r for page in pages for r in _search_records(page)]
    payload = json.dumps(records, ensure_ascii=False, separators=(",", ":")).replace("</", "<\\/")
    (out / "search-index.js").write_text(f"window.MEDBOOK_SEARCH = {payload};\n", encoding="utf-8")

    written = []
    for i, page in enumerate(pages):
        here = page.entry.page

        def link(target: str, here: str = here) -> str:
            return _rel(here, target)

        groups: list[dict[str, Any]] = []
        for other in pages:
            part = other.entry.part or ("Appendices" if other.entry.appendix else None)
            if not groups or groups[-1]["part"] != part:
                groups.append({"part": part, "items": []})
            groups[-1]["items"].append(
                {
                    "href": link(other.entry.page),
                    "number": other.number,
                    "title": other.title,
                    "current": other is page,
                }
            )
        neighbours = {
            "prev": pages[i - 1] if i > 0 else None,
            "next": pages[i + 1] if i + 1 < len(pages) else None,
        }
        html = template.render(
            book_title=project.title,
            authors=", ".join(project.authors),
            page=page,
            body=Markup(page.body),
            groups=groups,
            prev=(
                {"href": link(neighbours["prev"].entry.page), "page": neighbours["prev"]}
                if neighbours["prev"]
                else None
            ),
            next=(
                {"href": link(neighbours["next"].entry.page), "page": neighbours["next"]}
                if neighbours["next"]
                else None
            ),
            root=link("index.html").removesuffix("index.html"),
            static=link(STATIC_DIR),
            search_index=link("search-index.js"),
            pdf_href=link(pdf_name) if pdf_name else None,
            home=link(pages[0].entry.page),
        )
        target = out / here
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(html, encoding="utf-8")
        written.append(target)
    if not (out / "index.html").exists():
        first = pages[0].entry.page
        (out / "index.html").write_text(
            '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            f"<title>{escape(project.title)}</title>"
            f'<meta http-equiv="refresh" content="0; url={first}"></head>'
            f'<body><a href="{first}">{escape(project.title)}</a></body></html>\n',
            encoding="utf-8",
        )
        written.append(out / "index.html")
    return written
