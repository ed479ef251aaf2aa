"""File names a user passes in: refuse the ones medbook cannot write out.

On POSIX a file name is bytes; Python decodes names that are not valid UTF-8 with
lone surrogates, which then fail (``UnicodeEncodeError``) wherever the name is
written into a page, a JSON file or a hash. :func:`check_path_text` turns that into
a one-line :class:`~medbook.errors.ConfigError` at the door.
"""

from __future__ import annotations

import os
from pathlib import Path

from .errors import ConfigError

__all__ = ["check_path_text", "printable_path"]


def printable_path(path: str | os.PathLike[str]) -> str:
    r"""``path`` as text that can always be printed (undecodable bytes as ``\xNN``).

    Examples
    --------
    >>> printable_path(os.fsdecode(b"data-\xff.csv"))
    'data-\\xff.csv'
    """
    text = os.fspath(path)
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def check_path_text(path: str | os.PathLike[str], what: str) -> Path:
    r"""``path`` as a :class:`~pathlib.Path`, if its name is valid UTF-8 text.

    Parameters
    ----------
    path
        A file or folder name given by the user (or found under a folder they gave).
    what
        How the error message names it, e.g. ``"--data"``.

    Raises
    ------
    ConfigError
        If the name holds bytes that are not UTF-8, or a NUL character.

    Examples
    --------
    >>> check_path_text("memo-out", "--out")
    PosixPath('memo-out')
    >>> check_path_text(os.fsdecode(b"out-\xff"), "--out")
    Traceback (most recent call last):
    ...
    medbook.errors.ConfigError: --out 'out-\xff' is not a valid UTF-8 file name; rename it
    """
    text = os.fspath(path)
    if "\0" in text:
        raise ConfigError(f"{what} '{printable_path(text)}' contains a NUL character")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise ConfigError(
            f"{what} '{printable_path(text)}' is not a valid UTF-8 file name; rename it"
        ) from None
    return Path(text)
