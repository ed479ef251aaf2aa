"""The real book (``_quarto.yml`` at the repository root) renders end to end with the
built-in engine. Slow: it runs every chapter (``make test-slow``)."""

from __future__ import annotations

import html as htmllib
import re
import shutil
from pathlib import Path

import pytest
from pypdf import PdfReader

from medbook.publish import render_book
from medbook.publish.project import load_project

ROOT = Path(__file__).resolve().parent.parent
NOT_BOOK = {"src", "tests", "bench", ".ci", "templates", ".git", ".venv", "out"}
SKIP = shutil.ignore_patterns("_book", "_freeze", ".medbook-cache", ".quarto", "__pycache__")

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not (ROOT / "_quarto.yml").is_file(), reason="no book at the root"),
]


def _copy_book(target: Path) -> Path:
    target.mkdir()
    for item in ROOT.iterdir():
        if item.name in NOT_BOOK or item.name in ("_book", "_freeze", ".medbook-cache"):
            continue
        if item.is_dir():
            shutil.copytree(item, target / item.name, ignore=SKIP)
        else:
            shutil.copy2(item, target / item.name)
    return target


def _squash(text: str) -> str:
    return re.sub(r"\s+", " ", text.replace("-\n", "")).strip()


def test_real_book_renders_to_html_and_pdf(tmp_path: Path) -> None:
    project = _copy_book(tmp_path / "book")
    book = load_project(project)
    summary = render_book(project, to="all", engine="builtin", quiet=True)
    out = summary.output_dir
    assert sorted(p.relative_to(out).as_posix() for p in summary.pages) == sorted(
        {c.page for c in book.chapters} | {"index.html"}
    )
    assert summary.pdf == out / book.pdf_name
    assert len(summary.handouts) == len(book.chapters)
    pdf_text = _squash("\n".join(p.extract_text() for p in PdfReader(summary.pdf).pages))
    for pattern in ("?@", "@fig-", "@tbl-", "@sec-", "@eq-"):
        assert pattern not in pdf_text
    for chapter in book.chapters:
        page = (out / chapter.page).read_text(encoding="utf-8")
        for pattern in ("?@", "@fig-", "@tbl-", "@sec-", "@eq-"):
            assert pattern not in page, (chapter.rel, pattern)
        heading = re.search(r"<h1[^>]*>(.*?)</h1>", page, flags=re.DOTALL)
        assert heading is not None, chapter.rel
        title = _squash(htmllib.unescape(re.sub(r"<[^>]+>", "", heading.group(1))))
        assert title[:25] in pdf_text, (chapter.rel, title)
        images = re.findall(r'<img src="([^"]+)"', page)
        for src in images:
            assert (out / chapter.page).parent.joinpath(src).resolve().is_file(), src
    assert "csl-entry" in "".join(p.read_text(encoding="utf-8") for p in summary.pages)
