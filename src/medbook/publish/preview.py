"""``medbook preview``: a live preview of the book while you write.

With Quarto installed, the work is handed to ``quarto preview``. Without it, the
built-in engine renders the website, a small HTTP server serves the output folder
on 127.0.0.1 only, and a :class:`~medbook.publish.watch.SourceWatcher` re-renders
when a source changes (the chapter cache re-executes only what changed). Every
served page carries a short script that polls ``/__medbook__/version`` and
reloads the page after each render. A render that fails leaves the last good site
in place; its error is printed in the terminal and shown at the top of every page
until the next render succeeds.
"""

from __future__ import annotations

import json
import mimetypes
import os
import signal
import subprocess
import sys
import threading
import time
import webbrowser
from collections.abc import Callable
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlsplit

from ..convert import escape_html
from ..errors import ConfigError, MedbookError, RenderError
from .outdir import check_output_dir
from .project import load_project
from .quarto import find_quarto
from .watch import SourceWatcher

__all__ = ["PreviewServer", "PreviewState", "preview_book", "quarto_preview_command"]

VERSION_PATH = "/__medbook__/version"
DEFAULT_PORT = 4848
_RELOAD = """<script>
(function () {
  var seen = %d;
  function poll() {
    fetch("%s", {cache: "no-store"}).then(function (r) { return r.json(); }).then(
      function (state) {
        if (state.version !== seen) { window.location.reload(); } else { setTimeout(poll, 500); }
      },
      function () { setTimeout(poll, 1500); });
  }
  setTimeout(poll, 500);
})();
</script>
"""
_BANNER = (
    '<div id="medbook-preview-error" role="alert" style="position:sticky;top:0;z-index:99;'
    "margin:0;padding:0.8em 1em;background:#fde8e8;color:#7a0c0c;border-bottom:2px solid "
    '#c1121f;font:14px/1.4 sans-serif"><strong>medbook preview: the last render failed; '
    'showing the last good version.</strong><pre style="white-space:pre-wrap;margin:0.5em 0 0">'
    "%s</pre></div>"
)


class PreviewState:
    """What the pages need to know: a render counter and the last render's error."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.version = 0
        self.error: str | None = None

    def rendered(self, error: str | None) -> None:
        """Record a finished render (``error`` is ``None`` when it succeeded)."""
        with self._lock:
            self.version += 1
            self.error = error

    def snapshot(self) -> tuple[int, str | None]:
        """The current version and error, read together."""
        with self._lock:
            return self.version, self.error


def _resolve(site: Path, url_path: str) -> Path | None:
    """The file a URL path names inside ``site``, or ``None`` if it would leave it."""
    relative = unquote(urlsplit(url_path).path)
    if "\0" in relative:
        return None
    root = site.resolve()
    target = (root / relative.lstrip("/")).resolve()
    if target != root and root not in target.parents:
        return None
    if target.is_dir():
        target = target / "index.html"
    return target


class _Handler(BaseHTTPRequestHandler):
    server: PreviewServer

    def log_message(self, format: str, *args: object) -> None:
        """Requests are not logged (the terminal shows renders and errors)."""

    def do_HEAD(self) -> None:
        self._respond(head=True)

    def do_GET(self) -> None:
        self._respond(head=False)

    def _send(self, status: int, body: bytes, content_type: str, head: bool) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        if not head:
            self.wfile.write(body)

    def _respond(self, head: bool) -> None:
        if urlsplit(self.path).path == VERSION_PATH:
            version, error = self.server.state.snapshot()
            body = json.dumps({"version": version, "error": error}).encode()
            self._send(HTTPStatus.OK, body, "application/json", head)
            return
        target = _resolve(self.server.site, self.path)
        if target is None:
            self._send(HTTPStatus.FORBIDDEN, b"outside the site\n", "text/plain", head)
            return
        try:
            body = target.read_bytes()
        except OSError:
            if self.server.state.snapshot()[1] and target.suffix == ".html":
                # no good version yet: a page that shows the error and reloads when fixed
                page = self._inject("<!DOCTYPE html><html><body></body></html>")
                self._send(HTTPStatus.OK, page.encode(), "text/html; charset=utf-8", head)
            else:
                self._send(HTTPStatus.NOT_FOUND, b"not found\n", "text/plain", head)
            return
        kind = mimetypes.guess_type(target.name)[0] or "application/octet-stream"
        if kind == "text/html":
            body = self._inject(body.decode("utf-8", errors="replace")).encode("utf-8")
            kind = "text/html; charset=utf-8"
        self._send(HTTPStatus.OK, body, kind, head)

    def _inject(self, html: str) -> str:
        version, error = self.server.state.snapshot()
        script = _RELOAD % (version, VERSION_PATH)
        banner = _BANNER % escape_html(error) if error else ""
        at = html.find("<body")
        if banner and at >= 0:
            close = html.find(">", at) + 1
            html = html[:close] + banner + html[close:]
        end = html.rfind("</body>")
        return html[:end] + script + html[end:] if end >= 0 else html + script


class PreviewServer(ThreadingHTTPServer):
    """An HTTP server for the output folder, bound to 127.0.0.1 only.

    Parameters
    ----------
    site
        The folder to serve (the book's output folder); nothing outside it is served.
    port
        The port; ``0`` picks a free one.
    state
        The render counter and last error the pages show.
    """

    daemon_threads = True

    def __init__(self, site: Path, port: int, state: PreviewState | None = None) -> None:
        self.site = Path(site)
        self.state = state or PreviewState()
        super().__init__(("127.0.0.1", port), _Handler)

    @property
    def url(self) -> str:
        """The address of the site's front page."""
        return f"http://127.0.0.1:{self.server_address[1]}/"


def quarto_preview_command(quarto: str, root: Path, port: int | None, browser: bool) -> list[str]:
    """The ``quarto preview`` command line for ``medbook preview``.

    Examples
    --------
    >>> quarto_preview_command("quarto", Path("/book"), 4321, browser=False)
    ['quarto', 'preview', '/book', '--port', '4321', '--no-browser']
    """
    cmd = [quarto, "preview", str(root)]
    if port is not None:
        cmd += ["--port", str(port)]
    if not browser:
        cmd.append("--no-browser")
    return cmd


def _run_quarto(quarto: str, root: Path, port: int | None, browser: bool) -> int:
    env = {**os.environ, "QUARTO_PYTHON": sys.executable}
    try:
        proc = subprocess.Popen(
            quarto_preview_command(quarto, root, port, browser), cwd=root, env=env
        )
    except OSError as err:
        raise RenderError(f"cannot run quarto ({quarto}): {err}") from err
    try:
        _term_as_interrupt()
        return proc.wait()
    except KeyboardInterrupt:
        proc.terminate()  # quarto preview stops on SIGTERM and cleans up
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        return 0
    finally:
        _term_as_interrupt(undo=True)


def _render(state: PreviewState, render: Callable[[], object], log: Callable[[str], None]) -> None:
    try:
        render()
    except MedbookError as err:
        message = " ".join(str(err).split())
        log(f"error: {message}")
        log("the last good version stays served; fix the source and save to retry")
        state.rendered(message)
    else:
        state.rendered(None)


def preview_book(
    project: Path,
    port: int | None = None,
    browser: bool = True,
    engine: str = "auto",
    *,
    package_dir: Path | None = None,
    interval: float = 0.4,
    log: Callable[[str], None] | None = None,
) -> int:
    """Serve the book and re-render it whenever a source changes, until Ctrl-C.

    Parameters
    ----------
    project
        Folder holding ``_quarto.yml``.
    port
        Port to listen on (default 4848, or a free port if that one is taken).
    browser
        Open the front page in the default web browser.
    engine
        ``"auto"`` (``quarto preview`` when Quarto is installed), ``"quarto"`` or ``"builtin"``.
    package_dir
        Code whose changes trigger a re-render (default: the installed ``medbook``).
    interval
        Seconds between looks at the sources.
    log
        Where progress and errors go (default: stderr, prefixed ``medbook:``).

    Returns
    -------
    int
        The exit status: 0 after Ctrl-C (or SIGTERM), else ``quarto preview``'s own.

    Raises
    ------
    ConfigError
        On an invalid argument or ``_quarto.yml``, or if the port is taken.
    """
    from . import render_book

    if engine not in ("auto", "quarto", "builtin"):
        raise ConfigError(f"--engine must be one of auto, quarto, builtin, not {engine!r}")
    if port is not None and not 0 <= port <= 65535:
        raise ConfigError(f"--port must be between 0 and 65535, not {port}")
    emit = log or (lambda message: print(f"medbook: {message}", file=sys.stderr, flush=True))
    book = load_project(Path(project))
    check_output_dir(book.output_dir, book)  # never serve (or replace) the project itself
    quarto = find_quarto() if engine in ("auto", "quarto") else None
    if engine == "quarto" and quarto is None:
        raise ConfigError("--engine quarto: quarto is not on PATH and QUARTO_PATH is not set")
    if quarto is not None:
        emit(f"previewing {book.root} with {quarto} preview")
        return _run_quarto(quarto, book.root, port, browser)

    package = package_dir or Path(__file__).resolve().parent.parent
    watcher = SourceWatcher(book.root, package)
    state = PreviewState()

    def render() -> None:
        render_book(book.root, to="html", engine="builtin", package_dir=package)

    _render(state, render, emit)
    server = _serve(book.output_dir, port, state)
    thread = threading.Thread(target=server.serve_forever, name="medbook-preview", daemon=True)
    thread.start()
    emit(f"serving {book.output_dir} at {server.url} (Ctrl-C stops)")
    if browser:
        webbrowser.open(server.url)
    try:
        _term_as_interrupt()
        while True:
            time.sleep(interval)
            changed = watcher.changes()
            if changed:
                names = ", ".join(_short(p, book.root) for p in changed[:3])
                more = f" and {len(changed) - 3} more" if len(changed) > 3 else ""
                emit(f"changed: {names}{more}; re-rendering")
                _render(state, render, emit)
    except KeyboardInterrupt:
        emit("preview stopped")
        return 0
    finally:
        _term_as_interrupt(undo=True)
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def _term_as_interrupt(undo: bool = False) -> None:
    """Make SIGTERM stop the preview as Ctrl-C does (main thread only; ``undo`` restores)."""
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, signal.SIG_DFL if undo else _interrupt)


def _short(path: Path, root: Path) -> str:
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return path.name


def _serve(site: Path, port: int | None, state: PreviewState) -> PreviewServer:
    try:
        return PreviewServer(site, DEFAULT_PORT if port is None else port, state)
    except OSError as err:
        if port is None:  # the default port is taken: any free one will do
            return PreviewServer(site, 0, state)
        raise ConfigError(
            f"--port {port}: cannot listen on 127.0.0.1:{port} ({err.strerror})"
        ) from err
