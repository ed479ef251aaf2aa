"""A study's ``data:`` entry: one file, a folder of Parquet files, or a glob of them.

Partitioned exports (``events/``, ``events/part-*.parquet``) are read file by file
in sorted order and stacked; every part must have the same columns. The
provenance recorded in a memo (SHA-256, size) covers all parts.
"""

from __future__ import annotations

import glob
import hashlib
from pathlib import Path

import pandas as pd

from .errors import DataError
from .io import read_table
from .staging import sha256_file

__all__ = ["parquet_parts", "read_source", "source_digest"]

_PARQUET = (".parquet", ".pq")
_GLOB_CHARS = "*?["


def parquet_parts(path: Path) -> list[Path] | None:
    """The Parquet files named by a folder or a glob, sorted; None for a single file.

    Examples
    --------
    >>> parquet_parts(Path("data.csv")) is None
    True
    """
    text = str(path)
    if any(ch in text for ch in _GLOB_CHARS):
        parts = sorted(Path(p) for p in glob.glob(text, recursive=True) if Path(p).is_file())
        if not parts:
            raise DataError(f"no data file matches {text!r}")
    elif path.is_dir():
        parts = sorted(p for p in path.rglob("*") if p.is_file() and not p.name.startswith("."))
        parts = [p for p in parts if p.suffix.lower() in _PARQUET]
        if not parts:
            raise DataError(f"data folder {text!r} holds no .parquet files")
    else:
        return None
    for part in parts:
        if part.suffix.lower() not in _PARQUET:
            raise DataError(
                f"data file {part.name!r} matched by {text!r} is not a .parquet file; "
                "a glob or folder of data must hold Parquet files only"
            )
    return parts


def read_source(path: Path) -> pd.DataFrame:
    """Read one data file, or stack the Parquet parts of a folder or glob (same columns)."""
    parts = parquet_parts(path)
    if parts is None:
        return read_table(path)
    frames = []
    for part in parts:
        frame = read_table(part)
        if frames and list(frame.columns) != list(frames[0].columns):
            raise DataError(
                f"data file {part.name!r} has columns {list(frame.columns)[:8]} but "
                f"{parts[0].name!r} has {list(frames[0].columns)[:8]}; every part needs the same"
            )
        frames.append(frame)
    return pd.concat(frames, ignore_index=True)


def source_digest(path: Path) -> tuple[str, int]:
    """``(sha256, bytes)`` of the data: of the file, or of all parts in order."""
    parts = parquet_parts(path)
    if parts is None:
        return sha256_file(path), path.stat().st_size
    digest = hashlib.sha256()
    for part in parts:
        digest.update(f"{part.name}\0{sha256_file(part)}\n".encode())
    return digest.hexdigest(), sum(p.stat().st_size for p in parts)
