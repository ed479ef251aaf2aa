"""``medbook render`` under careless and hostile input: it never deletes what it did not
write, keeps chapters inside the project, rejects malformed ``_quarto.yml`` on one line,
and stops dead kernels, endless cells and floods of output."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from medbook.cli import main
from medbook.errors import ConfigError, RenderError
from medbook.publish import render_book
from medbook.publish.outdir import STAMP, check_output_dir
from medbook.publish.project import load_project

CONFIG = "project:\n  type: book\n{project}book:\n  title: T\n  chapters: [{chapters}]\n"


def make_book(root: Path, chapters: dict[str, str], project: str = "") -> Path:
    """A small book whose chapters are listed in the given order."""
    root.mkdir(parents=True, exist_ok=True)
    names = ", ".join(chapters)
    (root / "_quarto.yml").write_text(CONFIG.format(project=project, chapters=names))
    for name, text in chapters.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    return root


def snapshot(folder: Path) -> dict[str, bytes]:
    return {
        p.relative_to(folder).as_posix(): p.read_bytes()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def error_line(err: str) -> str:
    """The CLI's one error line (progress lines may precede it; no traceback)."""
    errors = [line for line in err.splitlines() if line.startswith("medbook: error: ")]
    assert len(errors) == 1 and "Traceback" not in err, err
    assert err.rstrip("\n").splitlines()[-1] == errors[0]
    return errors[0]


def cli_render(capsys: pytest.CaptureFixture[str], *args: object) -> tuple[int, str]:
    code = main(["render", *map(str, args), "--engine", "builtin", "--to", "html"])
    return code, capsys.readouterr().err


# --- output folder: never delete what render did not write --------------------------------


@pytest.fixture
def plain_book(tmp_path: Path) -> Path:
    book = make_book(tmp_path / "book", {"index.qmd": "# Home\n\nNo code here.\n"})
    (book / ".git").mkdir()
    (book / ".git" / "HEAD").write_text("ref: refs/heads/main\n")
    (book / "notes.txt").write_text("mine")
    return book


@pytest.mark.parametrize(
    ("target", "message"),
    [
        (".", "is the project folder"),
        ("..", "contains the project folder"),
        ("/", "contains the project folder"),
        (".git", "did not write"),
        ("notes.txt", "is not a folder"),
        (".medbook-cache", "render cache"),
        ("elsewhere", "did not write"),
    ],
)
def test_render_refuses_folders_it_did_not_create(
    plain_book: Path, capsys: pytest.CaptureFixture[str], target: str, message: str
) -> None:
    elsewhere = plain_book.parent / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "holiday.jpg").write_bytes(b"\xff\xd8")
    before, around = snapshot(plain_book), snapshot(plain_book.parent)
    out = target if target.startswith("/") else plain_book / target
    if target == "elsewhere":
        out = elsewhere
    code, err = cli_render(capsys, plain_book, "--output-dir", out)
    assert code == 2 and message in error_line(err)
    assert snapshot(plain_book) == before and snapshot(plain_book.parent) == around


@pytest.mark.parametrize("output_dir", ["'.'", "'..'", "chapters", "'../..'", "[a, b]", "{x: 1}"])
def test_output_dir_in_quarto_yml(tmp_path: Path, output_dir: str) -> None:
    book = make_book(
        tmp_path / "p" / "book",
        {"chapters/a.qmd": "# A\n"},
        project=f"  output-dir: {output_dir}\n",
    )
    before = snapshot(tmp_path)
    with pytest.raises(ConfigError, match=r"output folder|output-dir must be text"):
        render_book(book, engine="builtin", quiet=True)
    assert snapshot(tmp_path) == before


def test_symlinked_output_dir_is_followed(plain_book: Path) -> None:
    (plain_book / "_book").symlink_to(plain_book)
    with pytest.raises(ConfigError, match="is the project folder"):
        render_book(plain_book, engine="builtin", quiet=True)
    (plain_book / "_book").unlink()
    (plain_book / "_book").symlink_to(plain_book / "_book")  # a loop
    with pytest.raises(ConfigError, match="output folder"):
        render_book(plain_book, engine="builtin", quiet=True)


def test_render_replaces_only_its_own_folder(plain_book: Path) -> None:
    site = plain_book / "_book"
    render_book(plain_book, to="html", engine="builtin", quiet=True)
    assert (site / "index.html").is_file() and (site / STAMP).is_file()
    render_book(plain_book, to="html", engine="builtin", quiet=True)  # replaced: it is ours
    render_book(plain_book, to="pdf", engine="builtin", quiet=True)  # adds the PDFs
    assert (site / "index.html").is_file() and (site / "T.pdf").is_file()
    (site / "my-notes.md").write_text("keep me")  # a user's file in the site folder
    with pytest.raises(ConfigError, match=r"my-notes\.md"):
        render_book(plain_book, to="html", engine="builtin", quiet=True)
    assert (site / "my-notes.md").read_text() == "keep me"
    assert not [p for p in plain_book.iterdir() if p.name.startswith("._book")]


def test_output_dir_holding_sources_is_refused(tmp_path: Path) -> None:
    book = make_book(tmp_path / "book", {"index.qmd": "# A\n", "ch/b.qmd": "# B\n"})
    book_data = load_project(book)
    for target in (book / "ch", tmp_path):
        with pytest.raises(ConfigError, match=r"book source|project folder"):
            check_output_dir(target, book_data)


# --- chapters live inside the project ------------------------------------------------------


@pytest.mark.parametrize(
    ("listed", "message"),
    [
        ("/etc/hostname", "not inside the project"),
        ("../outside.qmd", "not inside the project"),
        ("chapters/../../outside.qmd", "not inside the project"),
        ("link.qmd", "leads outside the project"),
        ("linkdir/outside.qmd", "leads outside the project"),
    ],
)
def test_chapters_outside_the_project_are_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], listed: str, message: str
) -> None:
    (tmp_path / "outside.qmd").write_text("# Outside\n")
    book = make_book(tmp_path / "book", {"index.qmd": "# In\n"})
    (book / "link.qmd").symlink_to(tmp_path / "outside.qmd")
    (book / "linkdir").symlink_to(tmp_path)
    (book / "_quarto.yml").write_text(CONFIG.format(project="", chapters=f"index.qmd, {listed!r}"))
    with pytest.raises(ConfigError, match=message):
        load_project(book)
    code, err = cli_render(capsys, book)
    assert code == 2 and "chapters live inside the project" in error_line(err)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["book", "outside.qmd"]


def test_chapter_paths_are_normalised(tmp_path: Path) -> None:
    book = make_book(tmp_path / "book", {"ch/a.qmd": "# A\n"})
    (book / "_quarto.yml").write_text(CONFIG.format(project="", chapters="./ch/./a.qmd"))
    assert [c.rel for c in load_project(book).chapters] == ["ch/a.qmd"]


# --- _quarto.yml of the wrong shape: one line, exit 2 -----------------------------------


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ("project: [1, 2]\n", "project must be a mapping"),
        ("project: {type: book}\nbook: 3\n", "book must be a mapping"),
        ("project: {type: book}\nbook: {title: [x], chapters: [a.qmd]}\n", "book.title"),
        ("project: {type: book, output-dir: {a: 1}}\nbook: {chapters: [a.qmd]}\n", "output-dir"),
        ("project: {type: book}\nbook: {chapters: [a.qmd]}\nexecute: 5\n", "execute must be"),
        ("project: {type: book}\nbook: {chapters: [a.qmd]}\nformat: [html]\n", "format must"),
        ("project: {type: book, execute-dir: up}\nbook: {chapters: [a.qmd]}\n", "execute-dir"),
        ("project: {type: book}\nbook: {chapters: [a.qmd], output-file: ../x}\n", "output-file"),
        ("project: {type: book}\nbook: {chapters: [[a.qmd]]}\n", "is not a file name"),
        ("project: {type: book}\nbook: {chapters: [{part: [1], chapters: [a.qmd]}]}\n", "part"),
        ("project: {type: book}\nbook: {chapters: [a.qmd]}\nbibliography: [{a: 1}]\n", "bibli"),
        ('project: {type: book}\nbook: {chapters: ["a\\0.qmd"]}\n', "NUL"),
        ("project: {type: book}\nbook: {chapters: [" + "x" * 300 + ".qmd]}\n", "cannot be read"),
        ("\xff\xfe: 1\n", ""),
    ],
)
def test_malformed_quarto_yml(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], config: str, message: str
) -> None:
    (tmp_path / "a.qmd").write_text("# A\n")
    (tmp_path / "_quarto.yml").write_bytes(config.encode("latin-1"))
    code, err = cli_render(capsys, tmp_path)
    assert code == 2 and error_line(err).startswith("medbook: error: _quarto.yml")
    assert message in err


def test_non_utf8_names_are_one_line_errors(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    odd = Path(os.fsdecode(bytes(tmp_path) + b"/b\xffk"))
    make_book(odd, {"index.qmd": "# A\n"})
    code, err = cli_render(capsys, odd)
    assert code == 2 and "b\\xffk' is not a valid UTF-8 file name" in err
    book = make_book(tmp_path / "book", {"index.qmd": "# A\n"})
    code, err = cli_render(capsys, book, "--output-dir", os.fsdecode(b"site-\xff"))
    assert code == 2 and "--output-dir" in error_line(err)


# --- runaway chapters ------------------------------------------------------------------------


def test_dead_kernel_fails_at_once_naming_the_cell(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = (
        "```{python}\n#| label: ok\nx = 1\n```\n\n"
        "```{python}\n#| label: quit\nimport os\nos._exit(3)\n```\n"
    )
    book = make_book(tmp_path / "book", {"index.qmd": "# A\n\n" + code})
    start = time.perf_counter()
    status, err = cli_render(capsys, book)
    assert time.perf_counter() - start < 60
    assert status == 2 and error_line(err)
    assert "index.qmd: the Jupyter kernel died while running cell 2" in err and "'quit'" in err
    assert not (book / "_book").exists()


def test_cell_timeout_holds(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MEDBOOK_CELL_TIMEOUT", "2")
    code = "```{python}\n#| label: spin\nwhile True:\n    pass\n```\n"
    book = make_book(tmp_path / "book", {"intro.qmd": "# A\n\n" + code})
    start = time.perf_counter()
    status, err = cli_render(capsys, book)
    assert time.perf_counter() - start < 60
    assert status == 2 and error_line(err)
    assert "intro.qmd: cell 1 (line 3) 'spin' did not finish within 2 s" in err


def test_bad_timeout_setting(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MEDBOOK_CELL_TIMEOUT", "soon")
    book = make_book(tmp_path / "book", {"a.qmd": "# A\n\n```{python}\n1\n```\n"})
    with pytest.raises(ConfigError, match="MEDBOOK_CELL_TIMEOUT must be a positive number"):
        render_book(book, engine="builtin", quiet=True)


def test_huge_output_is_truncated_with_a_note(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MEDBOOK_OUTPUT_LIMIT", "20000")
    code = (
        "```{python}\nimport sys\nfor _ in range(400):\n    sys.stdout.write('x' * 9999 + '\\n')\n"
        "print('go' + 'ne', file=sys.stderr)\n```\n\n```{python}\nprint('next cell')\n```\n"
    )
    book = make_book(tmp_path / "book", {"index.qmd": "# A\n\n" + code})
    render_book(book, to="html", engine="builtin", quiet=True)
    html = (book / "_book" / "index.html").read_text()
    assert "output truncated: this cell printed more than 20,000 characters" in html
    assert "next cell" in html and "gone" not in html
    assert 20_000 <= html.count("x") < 60_000
    monkeypatch.setenv("MEDBOOK_OUTPUT_LIMIT", "30000")  # cached outputs were cut shorter
    again = render_book(book, to="html", engine="builtin", quiet=True)
    assert again.executed == ["index.qmd"]
    assert 30_000 <= (book / "_book" / "index.html").read_text().count("x") < 70_000


def test_failed_chapter_keeps_the_previous_site(tmp_path: Path) -> None:
    book = make_book(tmp_path / "book", {"index.qmd": "# A\n"})
    render_book(book, to="html", engine="builtin", quiet=True)
    site = snapshot(book / "_book")
    (book / "index.qmd").write_text("# A\n\n```{python}\nraise ValueError('no')\n```\n")
    with pytest.raises(RenderError, match="ValueError: no"):
        render_book(book, to="html", engine="builtin", quiet=True)
    assert snapshot(book / "_book") == site


# --- SIGTERM ------------------------------------------------------------------------------------


def _wait_for(predicate, seconds: float = 60.0) -> None:
    deadline = time.monotonic() + seconds
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting")
        time.sleep(0.05)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return Path(f"/proc/{pid}").exists() and "Z" not in Path(f"/proc/{pid}/stat").read_text()


def test_sigterm_render_kills_the_kernel_and_leaves_nothing(tmp_path: Path) -> None:
    pid_file = tmp_path / "kernel.pid"
    code = (
        f"```{{python}}\nimport os, time\nopen({str(pid_file)!r}, 'w').write(str(os.getpid()))\n"
        "time.sleep(120)\n```\n"
    )
    book = make_book(tmp_path / "book", {"index.qmd": "# A\n\n" + code})
    proc = subprocess.Popen(
        [sys.executable, "-m", "medbook.cli", "render", str(book), "--engine", "builtin"],
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        _wait_for(lambda: pid_file.is_file() and pid_file.read_text().strip())
        kernel = int(pid_file.read_text())
        proc.send_signal(15)
        _, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 143 and "medbook: terminated" in err
    _wait_for(lambda: not _alive(kernel), seconds=10)
    assert sorted(p.name for p in book.iterdir() if p.name != ".medbook-cache") == [
        "_quarto.yml",
        "index.qmd",
    ]


def test_sigterm_memo_leaves_no_partial_folder(tmp_path: Path) -> None:
    example = Path(__file__).resolve().parents[1] / "examples" / "onboarding"
    shutil.copy(example / "data.csv", tmp_path / "data.csv")
    shutil.copy(example / "study.yml", tmp_path / "study.yml")
    out = tmp_path / "memo"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "medbook.cli",
            "memo",
            str(tmp_path / "study.yml"),
            "--out",
            str(out),
            "--quiet",
        ],
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        _wait_for(lambda: any(p.name.startswith(".memo.") for p in tmp_path.iterdir()))
        proc.send_signal(15)
        _, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 143, err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data.csv", "study.yml"]


def test_over_long_names(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    book = make_book(tmp_path / "book", {"index.qmd": "# A\n"})
    code, err = cli_render(capsys, book, "--output-dir", tmp_path / ("s" * 300))
    assert code == 2 and "cannot be used" in error_line(err)
    long_title = CONFIG.replace("title: T", "title: " + "t" * 400)
    (book / "_quarto.yml").write_text(long_title.format(project="", chapters="index.qmd"))
    assert len(load_project(book).output_file) == 100
    deep = "/".join(["d" * 60] * 4) + "/c.qmd"
    make_book(book, {deep: "# C\n"})
    with pytest.raises(ConfigError, match=r"chapter path .* is too long"):
        load_project(book)


def test_preview_refuses_an_unsafe_output_dir(tmp_path: Path) -> None:
    from medbook.publish.preview import preview_book

    book = make_book(tmp_path / "book", {"a.qmd": "# A\n"}, project="  output-dir: ..\n")
    with pytest.raises(ConfigError, match="contains the project folder"):
        preview_book(book, port=0, browser=False, engine="builtin")


@pytest.mark.parametrize(
    ("src", "message"),
    [
        ("a\0b.png", "cannot be read: embedded null byte"),
        ("y" * 300 + ".png", "cannot be read: File name too long"),
        ("../outside.png", "is outside the project"),
        ("missing.png", "does not exist"),
    ],
)
def test_bad_image_paths_are_one_line_errors(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], src: str, message: str
) -> None:
    (tmp_path / "outside.png").write_bytes(b"\x89PNG")
    book = make_book(tmp_path / "book", {"index.qmd": f"# A\n\n![cap]({src})\n"})
    code, err = cli_render(capsys, book)
    assert code == 2 and message in error_line(err)
    assert not (book / "_book").exists()


def test_os_errors_are_one_line(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def disk_full(*_args: object, **_kwargs: object) -> None:
        raise OSError(28, "No space left on device", os.fsdecode(b"/site/\xff.html"))

    monkeypatch.setattr("medbook.publish.render_book", disk_full)
    assert main(["render", "."]) == 2
    line = error_line(capsys.readouterr().err)
    assert line == "medbook: error: No space left on device: /site/\\xff.html"


def test_cli_puts_the_sigterm_handler_back(capsys: pytest.CaptureFixture[str]) -> None:
    import signal

    before = signal.getsignal(signal.SIGTERM)
    assert main(["render", "/nonexistent-medbook-project"]) == 2
    assert signal.getsignal(signal.SIGTERM) is before
    assert "no _quarto.yml" in error_line(capsys.readouterr().err)
