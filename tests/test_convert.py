"""Tests of medbook.convert: pandoc/typst wrappers and escaping of untrusted text."""

from __future__ import annotations

from pathlib import Path

import pytest
from pypdf import PdfReader

from medbook.convert import (
    compile_typst,
    escape_html,
    escape_markdown,
    escape_typst,
    markdown_to_typst,
    pandoc_convert,
)
from medbook.errors import RenderError

NASTY = [
    "<script>alert('x')</script> & \"q\"",
    "# heading *bold* _it_ `code` [link](http://x) @cite $x^2$",
    "| a | b |\n|---|---|\n- item\n1. one",
    '#import "evil.typ": * // comment /* block */ <lbl> = Title ~ \\',
    "{python} os.system('rm -rf /') {{ jinja }} {% tag %}",
    "",
]


def test_pandoc_convert_markdown_to_html() -> None:
    out = pandoc_convert("Hello *world*", from_format="markdown", to_format="html")
    assert out.strip() == "<p>Hello <em>world</em></p>"


def test_pandoc_convert_error_carries_stderr() -> None:
    with pytest.raises(RenderError, match=r"pandoc failed.*no-such-format"):
        pandoc_convert("x", from_format="markdown", to_format="no-such-format")


def test_pandoc_convert_resource_path(tmp_path: Path) -> None:
    (tmp_path / "snippet.md").write_text("included text\n", encoding="utf-8")
    out = pandoc_convert(
        "",
        from_format="markdown",
        to_format="plain",
        extra_args=["snippet.md"],
        resource_path=tmp_path,
    )
    assert "included text" in out


@pytest.mark.parametrize("text", NASTY)
def test_escape_html_is_inert(text: str) -> None:
    out = escape_html(text)
    assert "<" not in out and ">" not in out and '"' not in out
    assert pandoc_convert(out, from_format="html", to_format="plain").split() == text.split()


@pytest.mark.parametrize("text", NASTY)
def test_escape_markdown_round_trips_as_plain_text(text: str) -> None:
    md = f"Label: {escape_markdown(text)}"
    html = pandoc_convert(md, from_format="markdown", to_format="html")
    assert html.count("<p>") == 1
    assert "<script" not in html and "<em>" not in html and "<a " not in html
    assert "<code>" not in html and "<table" not in html and "math" not in html
    plain = pandoc_convert(
        md, from_format="markdown", to_format="plain", extra_args=["--wrap=none"]
    )
    assert plain.split() == ["Label:", *text.split()]


@pytest.mark.parametrize("text", NASTY)
def test_escape_typst_round_trips_through_pdf(tmp_path: Path, text: str) -> None:
    src = f"#set page(width: 40cm, height: auto)\nLabel: {escape_typst(text)} END"
    pdf = compile_typst(src, tmp_path / "x.pdf", tmp_path)
    extracted = PdfReader(pdf).pages[0].extract_text()
    assert extracted.split() == ["Label:", *text.split(), "END"]


def test_markdown_to_typst_and_compile(tmp_path: Path) -> None:
    typ = markdown_to_typst("# Title\n\nSome *text* with $x^2$.\n", extra_args=["--standalone"])
    assert "Title" in typ
    out = compile_typst(typ, tmp_path / "doc.pdf", tmp_path)
    assert out.read_bytes().startswith(b"%PDF")
    assert "Title" in PdfReader(out).pages[0].extract_text()


#: Text that starts with a typst heading, list, enumeration or term-list marker.
LEADING_MARKERS = ["=", "= x", "==", "-", "+", "/", "/ x: y", "1.", "12.", "=\u2003x", "-\u3000x"]
_KINDS = ("heading", "list", "enum", "terms")


@pytest.mark.parametrize("text", LEADING_MARKERS)
def test_markdown_to_typst_keeps_leading_markers_literal(tmp_path: Path, text: str) -> None:
    # pandoc's typst writer leaves these bare at the start of a list item, table cell,
    # link text or footnote, where typst reads them as structure ("=" became a heading)
    md = escape_markdown(text)
    typ = markdown_to_typst(
        f"1. {md} is measured before Y.\n\n| Name |\n|:--|\n| {md} |\n\n"
        f"See [{md}](https://example.org).[^1]\n\n[^1]: {md} in a note.\n"
    )
    shows = "".join(f"#show {kind}: it => [STRUCT-{kind} #it]\n" for kind in _KINDS)
    pdf = compile_typst(shows + typ, tmp_path / "doc.pdf", tmp_path)
    extracted = " ".join(page.extract_text() for page in PdfReader(pdf).pages)
    counts = {kind: extracted.count(f"STRUCT-{kind}") for kind in _KINDS}
    assert counts == {"heading": 0, "list": 0, "enum": 1, "terms": 0}
    assert extracted.count(text.split()[0]) >= 4


def test_compile_typst_error(tmp_path: Path) -> None:
    with pytest.raises(RenderError, match=r"typst failed for bad\.pdf"):
        compile_typst("#let x = ", tmp_path / "bad.pdf", tmp_path)
    assert not (tmp_path / "bad.pdf").exists()


def test_compile_typst_is_deterministic(tmp_path: Path) -> None:
    a = compile_typst("= A\nbody", tmp_path / "a.pdf", tmp_path).read_bytes()
    b = compile_typst("= A\nbody", tmp_path / "b.pdf", tmp_path).read_bytes()
    assert a == b
