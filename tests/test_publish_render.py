"""End-to-end renders with the built-in engine: the fixture book to HTML and PDF, the
chapter cache, failing cells and reproducibility."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from pypdf import PdfReader

from medbook.cli import main
from medbook.errors import RenderError
from medbook.publish import RenderSummary, render_book

FIXTURE = Path(__file__).parent / "fixtures" / "book"


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, RenderSummary]:
    project = tmp_path_factory.mktemp("fixture") / "book"
    shutil.copytree(FIXTURE, project, ignore=shutil.ignore_patterns("_book", ".medbook-cache"))
    summary = render_book(project, to="all", engine="builtin", quiet=True)
    return project, summary


def _html(project: Path, page: str) -> str:
    return (project / "_book" / page).read_text(encoding="utf-8")


def _pdf_text(path: Path) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(path).pages)


def test_outputs_exist(rendered: tuple[Path, RenderSummary]) -> None:
    project, summary = rendered
    out = project / "_book"
    assert summary.engine == "builtin" and summary.output_dir == out
    assert sorted(p.relative_to(out).as_posix() for p in summary.pages) == [
        "chapters/intro.html",
        "chapters/methods.html",
        "chapters/results.html",
        "index.html",
        "references.html",
    ]
    assert summary.pdf == out / "Fixture-Book.pdf" and summary.pdf.is_file()
    assert sorted(p.name for p in summary.handouts) == [
        "chapters-intro.pdf",
        "chapters-methods.pdf",
        "chapters-results.pdf",
        "index.pdf",
        "references.pdf",
    ]
    assert all(p.is_file() for p in summary.handouts)
    assert sorted(summary.executed) == [
        "chapters/intro.qmd",
        "chapters/methods.qmd",
        "chapters/results.qmd",
        "index.qmd",
        "references.qmd",
    ]
    assert not list(project.glob("._book.*")), "temporary build folders left behind"


def test_html_features(rendered: tuple[Path, RenderSummary]) -> None:
    project, _ = rendered
    pages = {
        p: _html(project, p)
        for p in (
            "index.html",
            "chapters/intro.html",
            "chapters/methods.html",
            "chapters/results.html",
            "references.html",
        )
    }
    for name, html in pages.items():
        assert "@fig-" not in html and "@tbl-" not in html and "?@" not in html, name
        assert not re.search(r"""<(script|link)[^>]+(src|href)="https?:""", html), name
        assert "Download PDF" in html and 'href="' in html
    intro, methods, results = (pages[f"chapters/{n}.html"] for n in ("intro", "methods", "results"))
    assert '<h1 id="sec-intro"><span class="header-section-number">1</span> Introduction' in intro
    assert 'alt="A line rising from the lower left to the upper right"' in intro
    assert "Figure 1.1: A straight line" in intro and "<math" in intro
    assert '<a href="../chapters/results.html#tbl-summary" class="xref">Table 3.1</a>' in intro
    assert '<a href="#eq-total" class="xref">1.1</a>' in intro  # [-@eq-total]
    assert "The answer is 42 and a formatted value is 5.250." in intro
    assert 'class="callout callout-tip"' in intro and 'class="callout callout-warning"' in intro
    assert "Baron and Kenny 1986" in intro
    assert '<a href="../chapters/intro.html#fig-line" class="xref">Figure 1.1</a>' in methods
    assert "Figure 2.1: Treatment, mediator and outcome" in methods
    assert "UserWarning: fixture-warning-shown" in methods
    assert "UserWarning: fixture-warning-hidden" not in methods
    assert "ipykernel_" not in methods
    assert "output without code" in methods and 'print("output without code")' not in methods
    assert "this cell is never run" in methods and "RuntimeError:" not in methods
    assert "Generated <strong>markdown</strong> from a cell." in methods
    assert "hidden_value = 99" not in methods and ">99<" in methods.replace("\n", "")
    assert "ValueError: an expected failure" in methods  # error: true keeps going
    assert "callout-caution" in methods and "callout-important" in methods
    assert '<details class="callout callout-tip"><summary class="callout-title">' in results
    assert "Exercise solution</summary>" in results and "forty-two" in results
    assert '<table id="tbl-summary"' in results and "Table 3.1: Summary of values" in results
    assert "Table 3.2: Effects defined in the text" in results and "2.625" in results
    assert "Baron, Reuben M." in pages["references.html"]
    assert "Imai, Kosuke" in pages["references.html"]
    assert '<p class="sidebar-part">Basics</p>' in intro and "Results" in intro
    dag = project / "_book" / "figures" / "chapters-methods" / "fig-dag-1.svg"
    assert dag.read_text().lstrip().startswith(("<?xml", "<svg", "<!--"))
    assert "zymurgy" in (project / "_book" / "search-index.js").read_text()


def test_pdf_book_text(rendered: tuple[Path, RenderSummary]) -> None:
    _, summary = rendered
    assert summary.pdf is not None
    text = _pdf_text(summary.pdf)
    for needle in (
        "Fixture Book",
        "Contents",
        "Basics",
        "1 Introduction",
        "2 Methods",
        "3 Results",
        "Figure 1.1: A straight line",
        "Figure 2.1: Treatment, mediator and outcome",
        "Table 3.1: Summary of values by group",
        "refers back to Figure 1.1 from Chapter 1",
        "Baron, Reuben M.",
        "Imai, Kosuke",
        "Sequential ignorability",
        "zymurgy",
    ):
        assert needle in text, needle
    assert "@fig-" not in text and "@tbl-" not in text and "?@" not in text
    assert text.count("Imai, Kosuke") == 1  # one bibliography, in the references chapter


def test_pdf_contents_lists_parts(rendered: tuple[Path, RenderSummary]) -> None:
    _, summary = rendered
    assert summary.pdf is not None
    pages = [page.extract_text() for page in PdfReader(summary.pdf).pages]
    contents = next(text for text in pages if text.lstrip().startswith("Contents"))
    lines = [" ".join(line.replace(".", " ").split()) for line in contents.splitlines()]
    lines = [line for line in lines if line]
    order = [
        next(i for i, line in enumerate(lines) if line.startswith(w))
        for w in (
            "Preface",
            "Basics",
            "1 Introduction",
            "2 Methods",
            "Results",
            "3 Results",
            "References",
        )
    ]
    assert order == sorted(order), lines
    assert lines[order[1]] == "Basics"  # a part: bold title, no page number
    assert sum(line.startswith("References") for line in lines) == 1


def test_pdf_handouts(rendered: tuple[Path, RenderSummary]) -> None:
    project, _ = rendered
    methods = _pdf_text(project / "_book" / "handouts" / "chapters-methods.pdf")
    assert "2 Methods" in methods and "Figure 1.1" in methods and "Figure 2.1:" in methods
    assert "Imai, Kosuke" in methods and "1 Introduction" not in methods
    assert len(PdfReader(project / "_book" / "handouts" / "chapters-methods.pdf").pages) < 6


def test_cli_render_warm(
    rendered: tuple[Path, RenderSummary], capsys: pytest.CaptureFixture[str]
) -> None:
    project, _ = rendered
    assert main(["render", str(project), "--to", "html", "--engine", "builtin"]) == 0
    err = capsys.readouterr().err
    assert "[2/5] chapters/intro.qmd: " in err and "html: 5 pages" in err and "done in" in err
    assert not (project / "_book" / "Fixture-Book.pdf").exists()  # html-only site has no PDF
    assert "Download PDF" not in _html(project, "chapters/intro.html")


def test_pdf_only_render_keeps_the_site(rendered: tuple[Path, RenderSummary]) -> None:
    project, _ = rendered
    pages_before = sorted((project / "_book").rglob("*.html"))
    summary = render_book(project, to="pdf", engine="builtin", quiet=True)
    assert summary.pages == [] and summary.pdf == project / "_book" / "Fixture-Book.pdf"
    assert summary.pdf.is_file() and len(summary.handouts) == 5
    assert sorted((project / "_book").rglob("*.html")) == pages_before


TINY_CONFIG = """project:
  type: book
book:
  title: Tiny
  chapters:
    - c.qmd
"""

TINY_CHAPTER = """# Tiny {#sec-tiny}

```{python}
#| label: fig-tiny
#| fig-cap: Tiny figure
import matplotlib.pyplot as plt
plt.plot([1, 2], [2, 1])
plt.show()
```

Value: `{python} open("data/value.txt").read().strip()`
"""


def _tiny(root: Path) -> Path:
    (root / "data").mkdir(parents=True)
    (root / "data" / "value.txt").write_text("seven\n")
    (root / "_quarto.yml").write_text(TINY_CONFIG)
    (root / "c.qmd").write_text(TINY_CHAPTER)
    return root


def test_cache_hits_and_misses(tmp_path: Path) -> None:
    project = _tiny(tmp_path / "tiny")
    package = tmp_path / "pkg"
    package.mkdir()
    (package / "module.py").write_text("x = 1\n")

    def render() -> RenderSummary:
        return render_book(project, to="html", engine="builtin", quiet=True, package_dir=package)

    first = render()
    assert first.executed == ["c.qmd"]
    assert "Value: seven" in _html(project, "c.html")
    warm = render()
    assert warm.executed == [] and warm.cached == ["c.qmd"] and warm.seconds < 3
    with (project / "c.qmd").open("a") as handle:
        handle.write("\nOne more line.\n")
    assert render().executed == ["c.qmd"]
    (package / "module.py").write_text("x = 2\n")
    assert render().executed == ["c.qmd"]
    (project / "data" / "value.txt").write_text("eight\n")
    assert render().executed == ["c.qmd"]
    assert "Value: eight" in _html(project, "c.html")
    assert render().executed == []
    assert render_book(
        project, to="html", engine="builtin", quiet=True, package_dir=package, fresh=True
    ).executed == ["c.qmd"]


def test_failing_cell_publishes_nothing(tmp_path: Path) -> None:
    project = _tiny(tmp_path / "tiny")
    render_book(project, to="html", engine="builtin", quiet=True)
    before = _html(project, "c.html")
    assert 'url=c.html"' in _html(project, "index.html")  # no index.qmd: index redirects
    with (project / "c.qmd").open("a") as handle:
        handle.write("\n```{python}\n#| label: boom\nvalue = 1 / 0\n```\n")
    with pytest.raises(RenderError) as info:
        render_book(project, to="html", engine="builtin", quiet=True)
    message = str(info.value)
    assert message.startswith("c.qmd: cell 2 (line 13) 'boom' failed: ZeroDivisionError")
    assert "value = 1 / 0" in message and "----> 1" in message
    assert _html(project, "c.html") == before
    assert sorted(p.name for p in project.iterdir() if p.name.startswith(".")) == [".medbook-cache"]


def test_cli_reports_render_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    project = tmp_path / "bad"
    project.mkdir()
    (project / "_quarto.yml").write_text(TINY_CONFIG)
    (project / "c.qmd").write_text("# C\n\nSee @fig-missing.\n")
    assert main(["render", str(project), "--engine", "builtin", "--to", "html"]) == 2
    err = capsys.readouterr().err
    assert "medbook: error: c.qmd: unresolved cross-reference @fig-missing" in err


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "# C\n\nAs shown by @nobody2020.\n",
            r"c\.qmd: citation key\(s\) not found in refs\.bib: nobody2020",
        ),
        (
            "# C\n\n## Exercises\n\n## Sub {#sec-a}\n\n## Other {#sec-a}\n",
            "duplicate label 'sec-a'",
        ),
    ],
)
def test_bad_references_fail(tmp_path: Path, text: str, message: str) -> None:
    project = tmp_path / "refs"
    project.mkdir()
    (project / "_quarto.yml").write_text(TINY_CONFIG + "bibliography: refs.bib\n")
    (project / "refs.bib").write_text("@book{knuth1968, title={TAOCP}, year={1968}}\n")
    (project / "c.qmd").write_text(text)
    with pytest.raises(RenderError, match=message):
        render_book(project, to="html", engine="builtin", quiet=True)


def test_renders_are_reproducible(tmp_path: Path) -> None:
    project = _tiny(tmp_path / "tiny")
    render_book(project, to="all", engine="builtin", quiet=True)
    first = {
        p.relative_to(project / "_book"): p.read_bytes()
        for p in (project / "_book").rglob("*")
        if p.is_file()
    }
    render_book(project, to="all", engine="builtin", quiet=True, fresh=True)
    second = {
        p.relative_to(project / "_book"): p.read_bytes()
        for p in (project / "_book").rglob("*")
        if p.is_file()
    }
    assert first.keys() == second.keys()
    assert [k for k in first if first[k] != second[k]] == []


def test_kernel_spec_is_written_safely_from_many_threads():
    """Chapters execute in threads; the kernelspec must be written once, atomically."""
    from concurrent.futures import ThreadPoolExecutor

    from medbook.publish import execute

    folder = Path(execute._kernel_dir())
    shutil.rmtree(folder)
    execute._write_kernel_dir.cache_clear()
    with ThreadPoolExecutor(8) as pool:
        found = set(pool.map(lambda _: execute._kernel_dir(), range(32)))
    assert found == {str(folder)}
    assert [p.name for p in (folder / "medbook-python").iterdir()] == ["kernel.json"]
