"""Write a folder of outputs atomically: build it in a hidden temp folder, then swap it in.

:func:`staged_folder` is the one rule every ``medbook memo`` route follows: the new
outputs are written next to the target and moved into place only when everything
succeeded, so a failed run leaves an earlier output folder exactly as it was and no
half-written files behind.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from .errors import ConfigError, MedbookError, RenderError
from .interrupts import deferred_signals

__all__ = ["check_target", "sha256_file", "staged_folder"]


def check_target(out_dir: Path, owned: Callable[[Path], bool]) -> None:
    """Refuse an output path that is a file, or a folder holding files medbook did not write.

    Parameters
    ----------
    out_dir : pathlib.Path
        The folder the outputs will replace.
    owned : callable
        ``owned(path)`` is true for an entry of ``out_dir`` that medbook may replace.
    """
    if out_dir.exists() or out_dir.is_symlink():
        if not out_dir.is_dir() or out_dir.is_symlink():
            raise ConfigError(f"output path {str(out_dir)!r} exists and is not a directory")
        try:
            foreign = sorted(p.name for p in out_dir.iterdir() if not owned(p))
        except OSError as err:
            raise RenderError(
                f"output directory {str(out_dir)!r} is not readable: {err.strerror}"
            ) from err
        if foreign:
            raise ConfigError(
                f"output directory {str(out_dir)!r} holds files medbook did not write "
                f"({', '.join(foreign[:3])}); choose an empty or new directory"
            )
    for parent in out_dir.parents:
        if parent.exists():
            if not parent.is_dir():
                raise RenderError(
                    f"output directory {str(out_dir)!r} is not writable: "
                    f"{str(parent)!r} is not a directory"
                )
            if not os.access(parent, os.W_OK | os.X_OK):
                raise RenderError(
                    f"output directory {str(out_dir)!r} is not writable: "
                    f"no write permission in {str(parent)!r}"
                )
            break


@contextmanager
def staged_folder(out_dir: Path) -> Iterator[Path]:
    """Yield an empty temp folder beside ``out_dir``; move it into place on success.

    On any exception the temp folder and any parent folders created for it are
    removed, and ``out_dir`` keeps its previous content.
    """
    created = [p for p in out_dir.parents if not p.exists()]
    try:
        out_dir.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.medbook-", dir=out_dir.parent))
        tmp.chmod(0o777 & ~_umask())
    except OSError as err:
        _remove_dirs(created)
        raise RenderError(
            f"output directory {str(out_dir)!r} is not writable: {err.strerror or err}"
        ) from err
    try:
        yield tmp
        with deferred_signals():  # SIGINT/SIGTERM wait until the swap is complete
            _move_into_place(tmp, out_dir)
    except MedbookError:
        _discard(tmp, created)
        raise
    except OSError as err:
        _discard(tmp, created)
        raise RenderError(f"cannot write to {str(out_dir)!r}: {err}") from err
    except BaseException:
        _discard(tmp, created)
        raise


def sha256_file(path: Path) -> str:
    """Hex SHA-256 of a file, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _remove_dirs(folders: list[Path]) -> None:
    for folder in folders:
        try:
            folder.rmdir()
        except OSError:
            break


def _discard(tmp: Path, created: list[Path]) -> None:
    shutil.rmtree(tmp, ignore_errors=True)
    _remove_dirs(created)


def _move_into_place(tmp: Path, out_dir: Path) -> None:
    """Swap the finished folder in; an existing folder is replaced only at the end."""
    if not out_dir.exists():
        tmp.rename(out_dir)
        return
    backup = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.old-", dir=out_dir.parent))
    backup.rmdir()
    out_dir.rename(backup)
    try:
        tmp.rename(out_dir)
    except OSError:
        backup.rename(out_dir)
        raise
    shutil.rmtree(backup, ignore_errors=True)


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask
