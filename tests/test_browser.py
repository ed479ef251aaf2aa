"""The rendered fixture site in headless Chromium (Debian ``chromium`` driven by playwright).

Every page loads without console errors or network requests beyond localhost, every
internal link, anchor and image resolves, search finds a word of the last chapter,
and the layout fits a phone screen.
"""

from __future__ import annotations

import functools
import shutil
import threading
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urldefrag, urljoin, urlparse

import pytest

from medbook.publish import render_book

pytestmark = pytest.mark.browser

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
FIXTURE = Path(__file__).parent / "fixtures" / "book"
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

if CHROMIUM is None:
    pytest.skip("chromium is not installed", allow_module_level=True)


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        """Keep the test output clean."""


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    project = tmp_path_factory.mktemp("browser") / "book"
    shutil.copytree(FIXTURE, project, ignore=shutil.ignore_patterns("_book", ".medbook-cache"))
    summary = render_book(project, to="all", engine="builtin", quiet=True)
    handler = functools.partial(_QuietHandler, directory=str(summary.output_dir))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/", summary.output_dir
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(tmp_path_factory.mktemp("chromium-profile")),
            executable_path=CHROMIUM,
            headless=True,
            args=FLAGS,
        )
        outside: list[str] = []

        def guard(route: object) -> None:
            url = route.request.url  # type: ignore[attr-defined]
            if urlparse(url).hostname == "127.0.0.1" or url.startswith(("data:", "file:")):
                route.continue_()  # type: ignore[attr-defined]
            else:
                outside.append(url)
                route.abort()  # type: ignore[attr-defined]

        context.route("**/*", guard)
        context.outside_requests = outside
        try:
            yield context
        finally:
            context.close()


def test_every_page_link_and_image(site: tuple[str, Path], browser: object) -> None:
    base, _ = site
    page = browser.new_page()  # type: ignore[attr-defined]
    problems: list[str] = []
    page.on(
        "console",
        lambda m: (
            problems.append(f"console {m.type}: {m.text}")
            if m.type in ("error", "warning")
            else None
        ),
    )
    page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
    page.on(
        "response",
        lambda r: problems.append(f"HTTP {r.status}: {r.url}") if r.status >= 400 else None,
    )
    page.on("requestfailed", lambda r: problems.append(f"failed: {r.url}"))

    queue, seen, anchors = [base + "index.html"], set(), []
    files: set[str] = set()
    while queue:
        url = queue.pop()
        if url in seen:
            continue
        seen.add(url)
        page.goto(url, wait_until="load")
        images = page.eval_on_selector_all(
            "img", "els => els.map(e => [e.currentSrc, e.complete && e.naturalWidth > 0])"
        )
        problems += [f"broken image {src} on {url}" for src, ok in images if not ok]
        for href in page.eval_on_selector_all("a[href]", "els => els.map(e => e.href)"):
            target, fragment = urldefrag(urljoin(url, href))
            if not target.startswith(base):
                continue
            if fragment:
                anchors.append((target, fragment, url))
            if target.endswith(".html"):
                queue.append(target)
            else:
                files.add(target)
    assert len(seen) == 5
    for target, fragment, source in anchors:
        if target != page.url:
            page.goto(target, wait_until="load")
        if page.locator(f"[id='{fragment}']").count() != 1:
            problems.append(f"anchor #{fragment} missing on {target} (linked from {source})")
    for file_url in sorted(files):
        response = browser.request.get(file_url)  # type: ignore[attr-defined]
        if response.status != 200:
            problems.append(f"HTTP {response.status}: {file_url}")
    assert any(f.endswith("Fixture-Book.pdf") for f in files), "no Download PDF link"
    assert problems == []
    assert browser.outside_requests == []  # type: ignore[attr-defined]
    page.close()


def test_search_finds_word_of_last_chapter(site: tuple[str, Path], browser: object) -> None:
    base, _ = site
    page = browser.new_page()  # type: ignore[attr-defined]
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(base + "chapters/intro.html")
    page.fill("#search-input", "zymurgy")
    results = page.locator("#search-results a")
    results.first.wait_for()
    assert results.count() >= 1
    assert "results.html" in results.first.get_attribute("href")
    results.first.click()
    page.wait_for_url("**/chapters/results.html*")
    assert "zymurgy" in page.inner_text("main")
    page.fill("#search-input", "qqqnotaword")
    assert page.inner_text("#search-results") == "No results"
    assert errors == []
    page.close()


def test_search_works_offline_from_files(site: tuple[str, Path], browser: object) -> None:
    _, out = site
    page = browser.new_page()  # type: ignore[attr-defined]
    page.goto((out / "index.html").as_uri())
    page.fill("#search-input", "zymurgy")
    page.locator("#search-results a").first.wait_for()
    page.close()


def test_collapsed_callout_opens(site: tuple[str, Path], browser: object) -> None:
    base, _ = site
    page = browser.new_page()  # type: ignore[attr-defined]
    page.goto(base + "chapters/results.html")
    assert not page.is_visible("text=The hidden answer is forty-two.")
    page.click("summary:has-text('Exercise solution')")
    assert page.is_visible("text=The hidden answer is forty-two.")
    page.close()


def test_phone_layout(site: tuple[str, Path], browser: object) -> None:
    base, _ = site
    page = browser.new_page()  # type: ignore[attr-defined]
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(base + "chapters/methods.html")
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 1
    assert not page.is_visible("#sidebar")
    page.click(".sidebar-toggle")
    assert page.is_visible("#sidebar")
    page.close()


def test_search_ranks_titles_then_headings_then_body(
    site: tuple[str, Path], browser: object
) -> None:
    base, _ = site
    page = browser.new_page()  # type: ignore[attr-defined]
    page.goto(base + "chapters/intro.html")
    # the fixture's own index: a chapter title comes before headings and body text
    page.fill("#search-input", "methods")
    page.locator("#search-results a").first.wait_for()
    assert page.locator("#search-results a").first.inner_text() == "Methods"
    records = [
        {"u": "a.html", "t": "Body many", "h": "Body many", "k": 0, "x": "gamma " * 30},
        {"u": "b.html#s", "t": "B › Gamma heading", "h": "Gamma heading", "k": 1, "x": ""},
        {"u": "c.html", "t": "Gamma title", "h": "Gamma title", "k": 0, "x": "none"},
        {"u": "d.html", "t": "Body once", "h": "Body once", "k": 0, "x": "one gamma"},
        {"u": "e.html", "t": "Elsewhere", "h": "Elsewhere", "k": 0, "x": "delta"},
        {"u": "f.html#t", "t": "F › Gamma too", "h": "Gamma too", "k": 1, "x": "gamma delta"},
    ]
    page.evaluate("records => { window.MEDBOOK_SEARCH = records; }", records)
    page.fill("#search-input", "gamma")
    page.locator("#search-results a").first.wait_for()
    shown = page.eval_on_selector_all("#search-results a", "els => els.map(e => e.textContent)")
    assert shown == ["Gamma title", "B › Gamma heading", "F › Gamma too", "Body many", "Body once"]
    page.fill("#search-input", "gamma delta")  # every word must occur
    shown = page.eval_on_selector_all("#search-results a", "els => els.map(e => e.textContent)")
    assert shown == ["F › Gamma too"]
    page.close()


def test_preview_page_reloads_after_an_edit(site: tuple[str, Path], browser: object) -> None:
    import os
    import signal
    import subprocess
    import sys
    import tempfile
    import time

    _, out = site
    project = Path(tempfile.mkdtemp()) / "book"
    shutil.copytree(out.parent, project)  # with its warm chapter cache
    args = ["preview", str(project), "--port", "0", "--no-browser", "--engine", "builtin"]
    proc = subprocess.Popen(
        [sys.executable, "-m", "medbook.cli", *args],
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        line = ""
        while " at http://127.0.0.1:" not in line:
            line = proc.stderr.readline()  # type: ignore[union-attr]
            assert line or proc.poll() is None, "preview exited"
        url = line.split(" at ", 1)[1].split()[0]
        page = browser.new_page()  # type: ignore[attr-defined]
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(url + "chapters/intro.html")
        assert "into pieces" in page.inner_text("main")
        chapter = project / "chapters" / "intro.qmd"
        chapter.write_text(chapter.read_text().replace("into pieces", "into quokka-sized parts"))
        start = time.monotonic()
        page.wait_for_function(
            "document.querySelector('main').innerText.includes('quokka-sized')", timeout=60_000
        )
        seconds = time.monotonic() - start
        print(f"edit visible after {seconds:.1f} s")
        assert seconds < 30 and errors == []
        page.close()
        proc.send_signal(signal.SIGTERM)  # stops as cleanly as Ctrl-C
        assert proc.wait(timeout=30) == 0
        assert "preview stopped" in proc.stderr.read()  # type: ignore[union-attr]
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        shutil.rmtree(project.parent, ignore_errors=True)
