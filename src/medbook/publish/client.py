"""The nbclient driver of the built-in renderer: bounded time, bounded output, no orphans.

* The kernel is started through jupyter_client's *asynchronous* manager, the kind
  nbclient's event loop is written for: with a blocking client, waiting for output
  blocked the loop, so neither the per-cell timeout nor the "kernel died" check
  could ever run.
* Each cell may run for :func:`cell_timeout` seconds (``MEDBOOK_CELL_TIMEOUT``,
  default 600).
* Each cell keeps at most :func:`output_limit` characters of printed text
  (``MEDBOOK_OUTPUT_LIMIT``, default 100,000: streams, tracebacks and plain-text
  results) and :data:`RICH_LIMIT` bytes of figures, tables and HTML; the rest is
  dropped and a note says so, so memory, time and page size stay bounded.
* Kernels still running when a render fails or is interrupted are killed
  (:func:`kill_kernels`).
"""

from __future__ import annotations

import os
import signal
import threading
from typing import Any

from nbclient import NotebookClient

from ..errors import ConfigError

__all__ = ["RICH_LIMIT", "BoundedClient", "cell_timeout", "kill_kernels", "output_limit"]

#: Bytes of rich output (figures, tables, HTML) kept per cell.
RICH_LIMIT = 64_000_000

_LIVE: set[Any] = set()
_LIVE_LOCK = threading.Lock()


def _positive_env(name: str, default: int) -> int:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(float(raw))
    except ValueError:
        value = 0
    if value <= 0:
        raise ConfigError(f"{name} must be a positive number, not {raw[:40]!r}")
    return value


def cell_timeout() -> int:
    """Seconds a cell may run (``MEDBOOK_CELL_TIMEOUT``, default 600).

    Examples
    --------
    >>> cell_timeout() > 0
    True
    """
    return _positive_env("MEDBOOK_CELL_TIMEOUT", 600)


def output_limit() -> int:
    """Characters of printed text kept per cell (``MEDBOOK_OUTPUT_LIMIT``, default 100,000).

    Examples
    --------
    >>> output_limit() > 0
    True
    """
    return _positive_env("MEDBOOK_OUTPUT_LIMIT", 100_000)


def _is_text(output: dict[str, Any]) -> bool:
    """Printed text (streams, tracebacks, plain-text results) rather than rich output."""
    kind = output.get("output_type")
    return kind in ("stream", "error") or set(output.get("data", {})) <= {"text/plain"}


def _size(output: dict[str, Any]) -> int:
    kind = output.get("output_type")
    if kind == "stream":
        return len(output.get("text", ""))
    if kind == "error":
        return sum(len(line) for line in output.get("traceback", []))
    data = output.get("data", {})
    return sum(len(v) if isinstance(v, str) else len(str(v)) for v in data.values())


def _clip(output: Any, room: int) -> Any:
    """``output`` cut to ``room`` characters, or ``None`` if it cannot be cut."""
    kind = output.get("output_type")
    if kind == "stream":
        output["text"] = output["text"][:room]
        return output
    if kind == "error":
        output["evalue"] = str(output.get("evalue", ""))[:200]
        kept, used = [], 0
        for line in output.get("traceback", []):
            kept.append(line[: max(room - used, 200)])
            used += len(kept[-1])
            if used >= room:
                break
        output["traceback"] = kept
        return output
    return None


class BoundedClient(NotebookClient):
    """An nbclient ``NotebookClient`` that bounds each cell's output.

    Also remembers the cell it is running (:attr:`running`), so a dead kernel
    or a timeout can be reported against that cell, and registers its kernel
    for :func:`kill_kernels`.
    """

    def __init__(self, nb: Any, *, limit: int, **kwargs: Any) -> None:
        super().__init__(nb, **kwargs)
        self.limit = limit
        self.running: int | None = None
        self.used: dict[tuple[int, bool], int] = {}

    async def async_execute_cell(self, cell: Any, cell_index: int, *args: Any, **kw: Any) -> Any:
        """Run one cell (see nbclient), remembering which one and noting truncation."""
        self.running = cell_index
        try:
            return await super().async_execute_cell(cell, cell_index, *args, **kw)
        finally:
            if self.used.get((cell_index, True), 0) > self.limit:
                cell.outputs.append(
                    _note(
                        f"printed more than {self.limit:,} characters",
                        "the first ones are kept (MEDBOOK_OUTPUT_LIMIT sets the limit)",
                    )
                )
            if self.used.get((cell_index, False), 0) > RICH_LIMIT:
                cell.outputs.append(
                    _note(
                        f"displayed more than {RICH_LIMIT:,} bytes of figures or tables",
                        "the later ones are left out",
                    )
                )

    async def async_start_new_kernel(self, **kwargs: Any) -> None:
        """Start the kernel (see nbclient) and register it for :func:`kill_kernels`."""
        await super().async_start_new_kernel(**kwargs)
        with _LIVE_LOCK:
            _LIVE.add(self.km)

    async def _async_cleanup_kernel(self) -> None:
        try:
            await super()._async_cleanup_kernel()
        finally:
            with _LIVE_LOCK:
                _LIVE.discard(self.km)

    def output(
        self, outs: list[Any], msg: dict[str, Any], display_id: str | None, cell_index: int
    ) -> Any:
        """Append an output unless the cell's output budget is spent (see nbclient)."""
        before = len(outs)
        out = super().output(outs, msg, display_id, cell_index)
        if out is None or len(outs) != before + 1 or outs[-1] is not out:
            return out
        text = _is_text(out)
        limit = self.limit if text else RICH_LIMIT
        used = self.used.get((cell_index, text), 0)
        size = _size(out)
        self.used[(cell_index, text)] = used + size
        if used + size <= limit:
            _coalesce(outs)
            return out
        if display_id:  # keep the slot nbclient indexed for display updates, empty
            outs[-1] = {"output_type": "display_data", "data": {}, "metadata": {}}
            return None
        outs.pop()
        room = limit - used
        if out.get("output_type") == "error" or room > 0:
            clipped = _clip(out, max(room, 0))
            if clipped is not None:
                outs.append(clipped)
                _coalesce(outs)
        return None


def _coalesce(outs: list[Any]) -> None:
    """Merge the last output into the one before when both are the same stream."""
    if len(outs) < 2:
        return
    last, prev = outs[-1], outs[-2]
    if last.get("output_type") == prev.get("output_type") == "stream" and last.get(
        "name"
    ) == prev.get("name"):
        prev["text"] += last["text"]
        outs.pop()


def _note(what: str, then: str) -> Any:
    import nbformat

    text = f"[medbook: output truncated: this cell {what}; {then}]\n"
    return nbformat.v4.new_output("stream", name="stderr", text=text)


def kill_kernels() -> None:
    """Kill every kernel a :class:`BoundedClient` started and has not shut down yet."""
    with _LIVE_LOCK:
        managers = list(_LIVE)
    for km in managers:
        process = getattr(getattr(km, "provisioner", None), "process", None)
        pid = getattr(process, "pid", None)
        if pid is None:
            continue
        try:
            os.killpg(pid, signal.SIGKILL)
        except OSError:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
