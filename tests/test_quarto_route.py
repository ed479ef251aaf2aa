"""The Quarto route against a stand-in ``quarto`` (tests/fake_quarto.py): the exact
commands medbook runs, no chapter executed twice, and handouts in the same
``handouts/`` layout as the built-in route."""

from __future__ import annotations

import json
import shutil
import stat
import sys
from pathlib import Path

import pytest
from pypdf import PdfReader

from medbook.cli import main
from medbook.publish import render_book
from medbook.publish.handouts import chapter_title
from medbook.publish.project import load_project

FIXTURE = Path(__file__).parent / "fixtures" / "book"
FAKE = Path(__file__).parent / "fake_quarto.py"
HANDOUTS = [
    "chapters-intro.pdf",
    "chapters-methods.pdf",
    "chapters-results.pdf",
    "index.pdf",
    "references.pdf",
]


@pytest.fixture
def quarto(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fake ``quarto`` on PATH; returns its JSON-lines call log."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    script = bin_dir / "quarto"
    script.write_text(f'#!/bin/sh\nexec "{sys.executable}" "{FAKE}" "$@"\n')
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    log = tmp_path / "calls.jsonl"
    monkeypatch.setenv("FAKE_QUARTO_LOG", str(log))
    monkeypatch.delenv("QUARTO_PATH", raising=False)
    monkeypatch.setenv("PATH", f"{bin_dir}:/usr/bin:/bin")
    return log


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "book"
    shutil.copytree(FIXTURE, root, ignore=shutil.ignore_patterns("_book", ".medbook-cache"))
    return root


def _calls(log: Path) -> list[list[str]]:
    return [json.loads(line)["argv"] for line in log.read_text().splitlines()]


def _text(path: Path) -> str:
    return " ".join(" ".join((p.extract_text() or "").split()) for p in PdfReader(path).pages)


def test_render_all_runs_quarto_once_and_cuts_handouts(quarto: Path, project: Path) -> None:
    assert main(["render", str(project), "--engine", "quarto", "--to", "all"]) == 0
    calls = _calls(quarto)
    assert calls == [["render", str(project)]]  # one render, no --execute, no chapter re-run
    record = json.loads(quarto.read_text().splitlines()[0])
    assert record["python"] == sys.executable and record["cwd"] == str(project)
    out = project / "_book"
    assert sorted(p.name for p in (out / "handouts").iterdir()) == HANDOUTS
    book = load_project(project)
    titles = [chapter_title(e) for e in book.chapters]
    assert titles == ["Preface", "Introduction", "Methods", "Results", "References"]
    for i, entry in enumerate(book.chapters):
        text = _text(out / "handouts" / f"{entry.slug}.pdf")
        assert text.startswith(titles[i]) or f" {titles[i]} " in f" {text} ", entry.rel
        for other in titles[i + 1 : -1]:  # later chapters never leak in
            assert other not in text.split(" ")[:3], (entry.rel, other)
    methods = PdfReader(out / "handouts" / "chapters-methods.pdf")
    assert len(methods.pages) >= 3  # the long chapter keeps all its pages...
    methods_text = _text(out / "handouts" / "chapters-methods.pdf")
    assert "Results" not in methods_text.replace("References", "")  # ...not the part page
    assert "Imai" in methods_text or "imai2010" in methods_text or "References" in methods_text
    intro_text = _text(out / "handouts" / "chapters-intro.pdf")
    assert "Basics" not in intro_text  # the part page of its own part precedes it


def test_handouts_have_no_blank_or_part_pages(quarto: Path, project: Path) -> None:
    render_book(project, to="pdf", engine="quarto", quiet=True)
    assert _calls(quarto) == [["render", str(project), "--to", "typst"]]
    out = project / "_book" / "handouts"
    for name in HANDOUTS:
        for page in PdfReader(out / name).pages:
            lines = [line for line in (page.extract_text() or "").splitlines() if line.strip()]
            assert len(lines) > 2, f"blank page in {name}"
            assert lines[0].strip() != "Results" or name == "chapters-results.pdf", name


def test_html_only_makes_no_handouts(quarto: Path, project: Path) -> None:
    summary = render_book(project, to="html", engine="quarto", quiet=True)
    assert _calls(quarto) == [["render", str(project), "--to", "html"]]
    assert summary.handouts == [] and summary.pdf is None
    assert not (project / "_book" / "handouts").exists()


def test_output_dir_and_fresh(quarto: Path, project: Path, tmp_path: Path) -> None:
    site = tmp_path / "site"
    (project / "_freeze" / "stale").mkdir(parents=True)
    summary = render_book(
        project, to="pdf", engine="quarto", output_dir=site, fresh=True, quiet=True
    )
    assert _calls(quarto) == [
        ["render", str(project), "--to", "typst", "--output-dir", str(site), "--execute"]
    ]
    assert not (project / "_freeze" / "stale").exists()
    assert summary.pdf == site / "Fixture-Book.pdf"
    assert [p.name for p in summary.handouts] == [
        "index.pdf",
        "chapters-intro.pdf",
        "chapters-methods.pdf",
        "chapters-results.pdf",
        "references.pdf",
    ]
    assert all(p.parent == site / "handouts" and p.is_file() for p in summary.handouts)


def test_quarto_failure_keeps_previous_handouts(
    quarto: Path, project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    render_book(project, to="pdf", engine="quarto", quiet=True)
    before = sorted((project / "_book" / "handouts").iterdir())
    monkeypatch.setenv("FAKE_QUARTO_EXIT", "1")
    assert main(["render", str(project), "--engine", "quarto", "--to", "pdf"]) == 2
    assert sorted((project / "_book" / "handouts").iterdir()) == before


def test_quarto_typst_callouts_break_across_pages() -> None:
    """_typst/callouts.typ (included after Quarto's definitions) replaces Quarto's
    unbreakable callout: a long callout nested in another runs on over pages."""
    import typst

    root = Path(__file__).resolve().parents[1]
    config = (root / "_quarto.yml").read_text(encoding="utf-8")
    assert "include-in-header: _typst/callouts.typ" in config and "citeproc: true" in config
    source = (root / "_typst" / "callouts.typ").read_text(encoding="utf-8") + (
        "#set page(height: 10cm)\n"
        '#callout(title: [Solution], icon: [i], background_color: rgb("#ccf1e3"), body: [\n'
        "#lorem(60)\n"
        "#callout(title: [Readout], body: [#lorem(400) The end of the readout.])\n"
        "])\n"
        "Next paragraph.\n"
    )
    pdf = typst.compile(source.encode("utf-8"), format="pdf")
    pages = [p.extract_text() or "" for p in PdfReader(__import__("io").BytesIO(pdf)).pages]
    assert len(pages) >= 3  # 10 cm pages: the readout alone needs two
    last = max(i for i, text in enumerate(pages) if "The end of the readout." in text)
    assert last >= 2 and "Next paragraph." in pages[last]  # after the callouts, not under
    assert all("Next paragraph." not in text for text in pages[:last])
