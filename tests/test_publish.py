"""Unit tests of the book renderer: qmd parsing, project config, assembly, cross-references,
engine selection. No kernel is started here (see test_publish_render.py)."""

from __future__ import annotations

import base64
import json
import os
import stat
import sys
from pathlib import Path

import pytest

from medbook.errors import ConfigError, RenderError
from medbook.publish import render_book
from medbook.publish.assemble import assemble_chapter
from medbook.publish.builtin import chapter_numbers
from medbook.publish.cache import ConversionCache, data_files
from medbook.publish.crossref import PandocRunner, number_chapter, resolve_chapter
from medbook.publish.execute import ExecutedChapter, cell_options
from medbook.publish.project import load_project
from medbook.publish.qmd import Cell, InlineExpr, parse_qmd
from medbook.publish.quarto import find_quarto, quarto_command

FIXTURE = Path(__file__).parent / "fixtures" / "book"

QMD = """---
title: Hello
execute:
  echo: false
---

Intro `{python} 1 + 1` text.

```{python}
#| label: fig-a
#| fig-cap: "Cap"
x = 1
```

````markdown
```{python}
not a cell
```
````

```{r}
1
```
"""


def test_parse_qmd_cells_options_inline_and_fences() -> None:
    doc = parse_qmd(QMD, "t.qmd")
    assert doc.meta == {"title": "Hello", "execute": {"echo": False}}
    cells = doc.cells
    assert [c.lang for c in cells] == ["python", "r"]
    assert cells[0].options == {"label": "fig-a", "fig-cap": "Cap"}
    assert cells[0].source == "x = 1"
    assert cells[0].name == "cell 1 (line 9) 'fig-a'"
    inline = [p for b in doc.blocks if not isinstance(b, Cell) for p in b.inline]
    assert inline == [InlineExpr("1 + 1", 1)]
    parts = [p for b in doc.blocks if not isinstance(b, Cell) for p in b.parts]
    text = "".join(p for p in parts if isinstance(p, str))
    assert "not a cell" in text  # a cell inside a longer fence stays text


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("```{python}\nx = 1\n", "never closed"),
        ("```{python}\n#| label: [oops\nx = 1\n```\n", "invalid '#|' cell options"),
        ("---\n- a\n---\nbody\n", "front matter must be a YAML mapping"),
    ],
)
def test_parse_qmd_errors(text: str, message: str) -> None:
    with pytest.raises(RenderError, match=message):
        parse_qmd(text, "bad.qmd")


def test_cell_options_precedence() -> None:
    cell = parse_qmd("```{python}\n#| echo: true\n#| output: asis\nx\n```\n", "t").cells[0]
    opts = cell_options(cell, {"echo": False, "warning": False})
    assert opts.echo is True and opts.output == "asis" and opts.warning is False
    assert opts.eval and opts.include and not opts.error


def test_load_fixture_project() -> None:
    book = load_project(FIXTURE)
    assert book.title == "Fixture Book" and book.authors == ("Test Author",)
    assert [c.rel for c in book.chapters] == [
        "index.qmd",
        "chapters/intro.qmd",
        "chapters/methods.qmd",
        "chapters/results.qmd",
        "references.qmd",
    ]
    assert [c.part for c in book.chapters] == [None, "Basics", "Basics", "Results", None]
    assert book.chapters[1].page == "chapters/intro.html"
    assert book.pdf_name == "Fixture-Book.pdf"
    assert book.output_dir == FIXTURE.resolve() / "_book"
    docs = [parse_qmd(c.path.read_text(), c.rel) for c in book.chapters]
    assert chapter_numbers(book.chapters, docs) == ["", "1", "2", "3", ""]


def _write_project(root: Path, config: str, files: dict[str, str]) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "_quarto.yml").write_text(config)
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    return root


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ("project:\n  type: website\n", "project.type must be 'book'"),
        ("project:\n  type: book\nbook:\n  chapters: [missing.qmd]\n", "'missing.qmd' does not"),
        ("project: [1\n", "not valid YAML"),
        ("project:\n  type: book\nbook:\n  chapters: []\n", "book.chapters is empty"),
        (
            "project:\n  type: book\nbook:\n  chapters: [a.qmd, a.qmd]\n",
            "listed twice",
        ),
    ],
)
def test_load_project_errors(tmp_path: Path, config: str, message: str) -> None:
    _write_project(tmp_path, config, {"a.qmd": "# A\n"})
    with pytest.raises(ConfigError, match=message):
        load_project(tmp_path)


def test_appendices_are_lettered(tmp_path: Path) -> None:
    config = "project:\n  type: book\nbook:\n  chapters: [a.qmd]\n  appendices: [b.qmd]\n"
    _write_project(tmp_path, config, {"a.qmd": "# A\n", "b.qmd": "# B\n"})
    book = load_project(tmp_path)
    docs = [parse_qmd(c.path.read_text(), c.rel) for c in book.chapters]
    assert chapter_numbers(book.chapters, docs) == ["1", "A"]


PNG = base64.b64encode(b"\x89PNG fake").decode()


def test_assemble_figures_tables_asis_and_escaping() -> None:
    text = (
        "# T\n\nValue `{python} v` and `{python} m`.\n\n"
        "```{python}\n#| label: fig-p\n#| fig-cap: Plot\n#| fig-alt: 'Alt \"q\"'\nplot()\n```\n\n"
        "```{python}\n#| label: tbl-t\n#| tbl-cap: Tab\nframe\n```\n\n"
        "```{python}\n#| output: asis\n#| echo: false\nprint('**b**')\n```\n\n"
        "```{python}\n#| include: false\nhidden()\n```\n"
    )
    doc = parse_qmd(text, "c.qmd")
    executed = ExecutedChapter(
        outputs={
            1: [
                {
                    "output_type": "display_data",
                    "data": {"image/svg+xml": "<svg/>", "image/png": PNG},
                }
            ],
            2: [
                {
                    "output_type": "execute_result",
                    "data": {"text/markdown": "| a |\n|---|\n| 1 |\n"},
                }
            ],
            3: [{"output_type": "stream", "name": "stdout", "text": "**b**\n"}],
            4: [{"output_type": "stream", "name": "stdout", "text": "SECRET\n"}],
        },
        inline={1: (False, "<b>*x*</b>"), 2: (True, "*md*")},
    )
    source = assemble_chapter(doc, executed, {}, "c")
    md = source.markdown
    assert set(source.assets) == {"figures/c/fig-p-1.svg", "figures/c/fig-p-1.png"}
    assert (
        '![Plot](figures/c/fig-p-1.svg){#fig-p pdf-src="figures/c/fig-p-1.png" '
        'fig-alt="Alt \\"q\\""}' in md
    )
    assert ": Tab {#tbl-t}" in md
    assert "\\<b\\>\\*x\\*\\<\\/b\\>" in md and "*md*" in md
    assert "\n**b**\n" in md and "plot()" in md
    assert "SECRET" not in md and "hidden()" not in md


def test_data_files_rule(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "a.csv").write_text("x\n")
    (tmp_path / "chapters").mkdir()
    (tmp_path / "chapters" / "local.csv").write_text("y\n")
    chapter = tmp_path / "chapters" / "c.qmd"
    found = data_files(tmp_path, chapter, "pd.read_csv('local.csv'); open(\"nothing.txt\")")
    assert sorted(p.name for p in found) == ["a.csv", "local.csv"]


def _runner(tmp_path: Path) -> PandocRunner:
    bib = tmp_path / "refs.bib"
    bib.write_text("@book{knuth, author={Knuth, Donald}, title={TAOCP}, year={1968}}\n")
    return PandocRunner(ConversionCache(tmp_path, "pandoc"), tmp_path, (bib,), None)


def test_crossref_numbering_and_resolution(tmp_path: Path) -> None:
    runner = _runner(tmp_path)
    md = (
        "# Chap {#sec-chap}\n\n## Sub {#sec-sub}\n\n![Cap](x.svg){#fig-x}\n\n"
        "$$a=b$$ {#eq-ab}\n\nSee @fig-x, [-@eq-ab], @sec-sub, @tbl-other [@knuth]. @Fig-x.\n\n"
        "::: {.callout-note}\n## Title\nBody\n:::\n"
    )
    ast, index = number_chapter(runner, md, "c.qmd", "4", False)
    assert index.title == "Chap" and index.cites == ["knuth"]
    assert {k: v["text"] for k, v in index.labels.items()} == {
        "sec-chap": "Chapter 4",
        "sec-sub": "Section 4.1",
        "fig-x": "Figure 4.1",
        "eq-ab": "Equation 4.1",
    }
    xref = {k: {**v, "page": "chapters/c.html"} for k, v in index.labels.items()}
    xref["tbl-other"] = {"kind": "tbl", "number": "5.2", "text": "Table 5.2", "page": "d.html"}
    xref_file = tmp_path / "xref.json"
    xref_file.write_text(json.dumps(xref))
    kw = {"name": "c.qmd", "page": "chapters/c.html", "xref_file": xref_file, "xref_digest": "1"}
    html = resolve_chapter(runner, ast, to_format="html", **kw)
    assert html.count('<a href="#fig-x" class="xref">Figure 4.1</a>') == 2
    assert '<a href="#eq-ab" class="xref">4.1</a>' in html
    assert '<a href="../d.html#tbl-other" class="xref">Table 5.2</a>' in html
    assert "Figure 4.1: Cap" in html and "Knuth 1968" in html
    assert 'class="callout callout-note"' in html and "@fig-" not in html
    assert 'sec-sub"><span class="header-section-number">4.1</span>' in html
    typst = resolve_chapter(runner, ast, to_format="typst", **kw)
    assert '#xref("fig-x")[Figure 4\\.1]' in typst and '#callout("note", [Title])[' in typst


def test_unresolved_and_duplicate_labels(tmp_path: Path) -> None:
    runner = _runner(tmp_path)
    ast, _ = number_chapter(runner, "# A\n\nSee @fig-nope.\n", "a.qmd", "1", False)
    (tmp_path / "x.json").write_text("{}")
    with pytest.raises(RenderError, match=r"a\.qmd: .*unresolved cross-reference @fig-nope"):
        resolve_chapter(
            runner,
            ast,
            name="a.qmd",
            to_format="html",
            page="a.html",
            xref_file=tmp_path / "x.json",
            xref_digest="0",
        )
    with pytest.raises(RenderError, match="duplicate label 'fig-a'"):
        number_chapter(runner, "![a](a.png){#fig-a}\n\n![b](b.png){#fig-a}\n", "d.qmd", "1", False)


def _fake_quarto(folder: Path) -> Path:
    script = folder / "quarto"
    script.write_text(
        "#!/bin/sh\n"
        f'echo "$@" > "{folder}/args.txt"\n'
        f'echo "$QUARTO_PYTHON" > "{folder}/python.txt"\n'
    )
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    return script


def test_quarto_engine_via_quarto_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    script = _fake_quarto(tmp_path)
    monkeypatch.setenv("QUARTO_PATH", str(script))
    assert find_quarto() == str(script)
    summary = render_book(FIXTURE, to="html", engine="auto", quiet=True)
    assert summary.engine == "quarto"
    args = (tmp_path / "args.txt").read_text().split()
    assert args == ["render", str(FIXTURE.resolve()), "--to", "html"]
    assert (tmp_path / "python.txt").read_text().strip() == sys.executable
    book = load_project(FIXTURE)
    cmd = quarto_command("q", book, "all", Path("/o"), fresh=True)
    assert cmd == [
        "q",
        "render",
        str(book.root),
        "--output-dir",
        "/o",
        "--execute",
    ]


def test_quarto_engine_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("QUARTO_PATH", raising=False)
    monkeypatch.setenv("PATH", os.defpath if "quarto" not in os.defpath else "")
    if find_quarto() is not None:
        pytest.skip("a real quarto is installed")
    with pytest.raises(ConfigError, match="quarto is not on PATH"):
        render_book(FIXTURE, engine="quarto", quiet=True)


@pytest.mark.parametrize(
    ("kw", "message"), [({"to": "docx"}, "--to"), ({"engine": "x"}, "--engine")]
)
def test_render_book_bad_arguments(kw: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        render_book(FIXTURE, quiet=True, **kw)


def test_unwritable_output_dir_fails_before_executing(tmp_path: Path) -> None:
    blocker = tmp_path / "file.txt"
    blocker.write_text("not a folder")
    with pytest.raises(RenderError, match="cannot write the output folder"):
        render_book(FIXTURE, engine="builtin", output_dir=blocker / "site", quiet=True)
    assert not (FIXTURE / ".medbook-cache").exists()
