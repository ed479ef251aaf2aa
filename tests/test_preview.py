"""``medbook preview``: the source watcher, the 127.0.0.1-only server (nothing outside
the output folder), the reload and error banner, the Quarto delegation, and a clean
stop on Ctrl-C."""

from __future__ import annotations

import http.client
import json
import os
import shutil
import signal
import stat
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from medbook.cli import main
from medbook.publish.preview import PreviewServer, PreviewState, preview_book
from medbook.publish.watch import SourceWatcher

FIXTURE = Path(__file__).parent / "fixtures" / "book"
FAKE = Path(__file__).parent / "fake_quarto.py"


def _touch(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    later = time.time() + 2  # a new mtime even on coarse file-system clocks
    os.utime(path, (later, later))


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "book"
    shutil.copytree(FIXTURE, root, ignore=shutil.ignore_patterns("_book", ".medbook-cache"))
    return root


def test_watcher_sees_every_kind_of_source(project: Path, tmp_path: Path) -> None:
    package = tmp_path / "pkg"
    (package / "__pycache__").mkdir(parents=True)
    (package / "fit.py").write_text("x = 1\n")
    watcher = SourceWatcher(project, package)
    watched = {p.relative_to(tmp_path).as_posix() for p in watcher.sources()}
    assert {
        "book/_quarto.yml",
        "book/index.qmd",
        "book/chapters/intro.qmd",
        "book/references.bib",
        "pkg/fit.py",
    } <= watched
    assert watcher.changes() == []
    for name in ("chapters/intro.qmd", "_quarto.yml", "references.bib"):
        _touch(project / name, (project / name).read_text() + "\n")
        assert watcher.changes() == [project / name], name
    _touch(package / "fit.py", "x = 2\n")
    assert watcher.changes() == [package / "fit.py"]
    _touch(project / "data" / "new.csv", "a\n1\n")  # a new data file
    assert watcher.changes() == [project / "data" / "new.csv"]
    _touch(package / "__pycache__" / "fit.cpython-311.pyc", "junk")  # caches are not sources
    _touch(project / "_book" / "index.html", "output")  # nor is the output
    _touch(project / "notes.txt", "not part of the book")
    assert watcher.changes() == []
    (project / "data" / "new.csv").unlink()
    assert watcher.changes() == [project / "data" / "new.csv"]


def test_watcher_survives_a_broken_quarto_yml(project: Path, tmp_path: Path) -> None:
    watcher = SourceWatcher(project, tmp_path / "pkg")
    _touch(project / "_quarto.yml", "project: [unclosed\n")
    assert watcher.changes() == [project / "_quarto.yml"]
    assert project / "_quarto.yml" in watcher.sources()


@pytest.fixture
def server(tmp_path: Path):
    site = tmp_path / "site"
    (site / "chapters").mkdir(parents=True)
    (site / "index.html").write_text("<html><body><p>front</p></body></html>")
    (site / "chapters" / "a.html").write_text("<html><body><p>chapter a</p></body></html>")
    (site / "style.css").write_text("p {}")
    (tmp_path / "secret.txt").write_text("do not serve")
    (site / "link.txt").symlink_to(tmp_path / "secret.txt")
    srv = PreviewServer(site, 0, PreviewState())
    import threading

    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield srv
    srv.shutdown()
    srv.server_close()
    thread.join()


def _get(srv: PreviewServer, path: str) -> tuple[int, str]:
    conn = http.client.HTTPConnection("127.0.0.1", srv.server_address[1], timeout=5)
    conn.request("GET", path)  # sent as written: no client-side normalisation
    response = conn.getresponse()
    body = response.read().decode("utf-8", errors="replace")
    conn.close()
    return response.status, body


def test_server_binds_localhost_and_serves_the_site(server: PreviewServer) -> None:
    assert server.server_address[0] == "127.0.0.1"
    status, body = _get(server, "/")
    assert status == 200 and "front" in body and "/__medbook__/version" in body
    status, body = _get(server, "/chapters/a.html")
    assert status == 200 and "chapter a" in body
    assert _get(server, "/style.css") == (200, "p {}")
    assert _get(server, "/missing.html")[0] == 404
    status, body = _get(server, "/__medbook__/version")
    assert json.loads(body) == {"version": 0, "error": None}


@pytest.mark.parametrize(
    "path",
    [
        "/../secret.txt",
        "/chapters/../../secret.txt",
        "/%2e%2e/secret.txt",
        "/..%2fsecret.txt",
        "/chapters/%2E%2E%2F%2E%2E%2Fsecret.txt",
        "//etc/passwd",
        "/link.txt",
        "/%00index.html",
    ],
)
def test_server_refuses_paths_outside_the_site(server: PreviewServer, path: str) -> None:
    status, body = _get(server, path)
    assert status in (403, 404), path
    assert "do not serve" not in body and "root:" not in body


def test_failed_render_shows_its_error_and_keeps_the_page(server: PreviewServer) -> None:
    server.state.rendered("chapters/a.qmd: cell 2 (line 9) failed: <ZeroDivisionError>")
    status, body = _get(server, "/chapters/a.html")
    assert status == 200 and "chapter a" in body  # the last good page
    assert 'id="medbook-preview-error"' in body
    assert "&lt;ZeroDivisionError&gt;" in body and "<ZeroDivisionError>" not in body
    assert json.loads(_get(server, "/__medbook__/version")[1])["version"] == 1
    server.state.rendered(None)
    assert "medbook-preview-error" not in _get(server, "/chapters/a.html")[1]


def test_preview_delegates_to_quarto(
    project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    script = bin_dir / "quarto"
    script.write_text(f'#!/bin/sh\nexec "{sys.executable}" "{FAKE}" "$@"\n')
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    log = tmp_path / "calls.jsonl"
    monkeypatch.setenv("FAKE_QUARTO_LOG", str(log))
    monkeypatch.delenv("QUARTO_PATH", raising=False)
    monkeypatch.setenv("PATH", f"{bin_dir}:/usr/bin:/bin")
    assert main(["preview", str(project), "--port", "4567", "--no-browser"]) == 0
    record = json.loads(log.read_text())
    assert record["argv"] == ["preview", str(project), "--port", "4567", "--no-browser"]
    assert record["python"] == sys.executable and record["cwd"] == str(project)
    assert not (project / "_book").exists()  # quarto preview renders, not medbook


def test_stopping_medbook_stops_quarto_preview(project: Path, tmp_path: Path) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    script = bin_dir / "quarto"
    script.write_text(f'#!/bin/sh\nexec "{sys.executable}" "{FAKE}" "$@"\n')
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    log = tmp_path / "calls.jsonl"
    env = {**os.environ, "FAKE_QUARTO_LOG": str(log), "FAKE_QUARTO_PREVIEW_SECONDS": "300"}
    env["PATH"] = f"{bin_dir}:/usr/bin:/bin"
    env.pop("QUARTO_PATH", None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "medbook.cli", "preview", str(project), "--no-browser"],
        env=env,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while not (log.is_file() and log.read_text().strip()) and time.monotonic() < deadline:
            time.sleep(0.1)
        record = json.loads(log.read_text())
        assert record["argv"] == ["preview", str(project), "--no-browser"]
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=20) == 0
        with pytest.raises(ProcessLookupError):
            os.kill(record["pid"], 0)  # quarto preview was stopped and reaped
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_preview_bad_arguments(project: Path) -> None:
    assert main(["preview", str(project), "--port", "70000", "--engine", "builtin"]) == 2
    with pytest.raises(Exception, match="--engine"):
        preview_book(project, engine="nope")


TINY = """project:
  type: book
book:
  title: Tiny
  chapters: [index.qmd]
"""


def _start_preview(root: Path) -> tuple[subprocess.Popen[str], str]:
    """``medbook preview ROOT --port 0 --no-browser --engine builtin`` and its URL."""
    args = ["preview", str(root), "--port", "0", "--no-browser", "--engine", "builtin"]
    proc = subprocess.Popen(
        [sys.executable, "-m", "medbook.cli", *args],
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    lines = []
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        line = proc.stderr.readline()  # type: ignore[union-attr]
        lines.append(line)
        if " at http://127.0.0.1:" in line:
            return proc, line.split(" at ", 1)[1].split()[0]
        if not line and proc.poll() is not None:
            break
    proc.kill()
    raise AssertionError("preview did not start:\n" + "".join(lines))


def _wait_for(url: str, needle: str, seconds: float = 20) -> float:
    start = time.monotonic()
    while time.monotonic() - start < seconds:
        if needle in urllib.request.urlopen(url).read().decode():
            return time.monotonic() - start
        time.sleep(0.2)
    raise AssertionError(f"{needle!r} never appeared at {url}")


def test_builtin_preview_rerenders_shows_errors_and_stops_on_ctrl_c(tmp_path: Path) -> None:
    root = tmp_path / "tiny"
    root.mkdir()
    (root / "_quarto.yml").write_text(TINY)
    (root / "index.qmd").write_text("# Tiny\n\nFirst words.\n")
    proc, url = _start_preview(root)
    try:
        assert url.startswith("http://127.0.0.1:")
        assert "First words." in urllib.request.urlopen(url + "index.html").read().decode()
        _touch(root / "index.qmd", "# Tiny\n\nSecond words.\n")
        assert _wait_for(url + "index.html", "Second words.") < 15
        _touch(root / "index.qmd", "# Tiny\n\n`{python} 1/0`\n")  # fails to execute
        _wait_for(url + "index.html", "medbook-preview-error", 60)
        page = urllib.request.urlopen(url + "index.html").read().decode()
        assert "Second words." in page and "ZeroDivisionError" in page
        proc.send_signal(signal.SIGINT)
        err = proc.communicate(timeout=30)[1]
        assert proc.returncode == 0, err
        assert "ZeroDivisionError" in err and "preview stopped" in err
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
