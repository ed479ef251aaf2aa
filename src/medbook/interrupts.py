"""Stopping cleanly: SIGTERM unwinds like Ctrl-C, and swaps are not cut in half.

By default SIGTERM ends a Python process on the spot, so the temporary folders of
``medbook memo`` and ``medbook render`` stayed behind. :func:`exit_on_sigterm`
(installed by the CLI) turns SIGTERM into :class:`Terminated`, which unwinds
through the same cleanup as an interrupt. :func:`deferred_signals` holds SIGINT
and SIGTERM back while an output folder is being swapped in.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Any

__all__ = ["Terminated", "deferred_signals", "exit_on_sigterm", "restore_sigterm"]

_HELD = (signal.SIGINT, signal.SIGTERM)


class Terminated(SystemExit):
    """Raised in the main thread when the process receives SIGTERM (exit status 143)."""


def _on_sigterm(signum: int, _frame: FrameType | None) -> None:
    signal.signal(signal.SIGTERM, signal.SIG_IGN)  # a second SIGTERM must not cut the cleanup
    raise Terminated(128 + signum)


def exit_on_sigterm() -> Any:
    """Make SIGTERM raise :class:`Terminated` in the main thread (no-op elsewhere).

    Returns the handler it replaced (``None`` outside the main thread), for
    :func:`restore_sigterm`.
    """
    if threading.current_thread() is not threading.main_thread():
        return None
    return signal.signal(signal.SIGTERM, _on_sigterm)


def restore_sigterm(previous: Any) -> None:
    """Put back the SIGTERM handler :func:`exit_on_sigterm` replaced."""
    if previous is not None and threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, previous)


@contextmanager
def deferred_signals() -> Iterator[None]:
    """Hold SIGINT and SIGTERM until the block is done, then act on them.

    Only in the main thread (where Python runs signal handlers); elsewhere a no-op.

    Examples
    --------
    >>> with deferred_signals():
    ...     pass
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    pending: list[int] = []
    previous = {s: signal.signal(s, lambda signum, _frame: pending.append(signum)) for s in _HELD}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        for signum in dict.fromkeys(pending):
            handler = previous[signum]
            if callable(handler):
                handler(signum, None)
            elif handler == signal.SIG_DFL:
                signal.raise_signal(signum)
