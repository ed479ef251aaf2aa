"""Read a study's data file (CSV, TSV or Parquet) defensively.

Data files are untrusted input. :func:`read_table` checks the file before pandas
sees it — existence, size, format, text encoding, delimiter, header, and that
every row has as many fields as the header — and raises a one-line
:class:`~medbook.errors.DataError` naming the file and the line or column.
Nothing in a file is ever executed or evaluated: values are parsed as text and
numbers only.
"""

from __future__ import annotations

import codecs
import csv
import re
from pathlib import Path

import numpy as np
import pandas as pd

from .errors import DataError
from .sanitize import clean_text

__all__ = ["DEFAULT_MAX_BYTES", "TEXT_SUFFIXES", "read_table"]

TEXT_SUFFIXES = {".csv": None, ".tsv": "\t", ".txt": None}
_PARQUET_SUFFIXES = (".parquet", ".pq")
DEFAULT_MAX_BYTES = 4 * 1024**3
_DELIMITERS = (",", ";", "\t")
_SNIFF_BYTES = 64 * 1024
_SCAN_BLOCK = 16 * 1024 * 1024
_DECIMAL_COMMA = re.compile(r"^[+-]?\d+,\d+$")
_DECIMAL_POINT = re.compile(r"^[+-]?\d+\.\d+$")
_LINE_BREAK = re.compile(r"\r\n|\r|\n")  # not str.splitlines: U+2028 etc. may be in a cell
_NA_VALUES = ["", "NA", "N/A", "n/a", "NaN", "nan", "NULL", "null", "None", "#N/A", "."]


def read_table(path: Path, *, max_bytes: int = DEFAULT_MAX_BYTES) -> pd.DataFrame:
    """Load a CSV, TSV or Parquet file as a data frame, validating it first.

    Parameters
    ----------
    path : pathlib.Path
        The data file. ``.csv``/``.txt`` may be comma-, semicolon- or
        tab-delimited (detected); ``.tsv`` is tab-delimited; ``.parquet``/``.pq``.
        A UTF-8 byte-order mark is accepted.
    max_bytes : int
        Refuse files larger than this (default 4 GiB).

    Returns
    -------
    pandas.DataFrame
        Columns as in the file; text columns stay text, missing markers
        (blank, ``NA``, ``NaN``, ``null``...) become NaN.

    Raises
    ------
    DataError
        For a missing, unreadable, empty, oversized, mis-typed or malformed file
        (ragged/truncated rows, bad encoding, duplicate column names).

    Examples
    --------
    >>> import tempfile
    >>> folder = Path(tempfile.mkdtemp())
    >>> _ = (folder / "d.csv").write_text("t;m;y\\n0;1,5;2\\n1;2,5;3\\n")
    >>> read_table(folder / "d.csv")["m"].tolist()
    [1.5, 2.5]
    """
    path = Path(path)
    name = path.name
    if not path.exists():
        raise DataError(f"data file {str(path)!r} does not exist")
    if not path.is_file():
        raise DataError(f"data file {str(path)!r} is not a regular file")
    try:
        size = path.stat().st_size
        with path.open("rb") as handle:
            head = handle.read(_SNIFF_BYTES)
    except OSError as err:
        raise DataError(f"cannot read data file {str(path)!r}: {err.strerror}") from err
    if size == 0:
        raise DataError(f"data file {name!r} is empty")
    if size > max_bytes:
        raise DataError(
            f"data file {name!r} is {size / 1024**3:.1f} GiB, above the {max_bytes / 1024**3:.1f} "
            "GiB limit"
        )
    suffix = path.suffix.lower()
    is_parquet_bytes = head.startswith(b"PAR1")
    if suffix in _PARQUET_SUFFIXES:
        if not is_parquet_bytes:
            raise DataError(f"data file {name!r} has a Parquet extension but is not a Parquet file")
        return _read_parquet(path)
    if suffix not in TEXT_SUFFIXES:
        allowed = ", ".join([*TEXT_SUFFIXES, *_PARQUET_SUFFIXES])
        raise DataError(f"data file {name!r} has unsupported extension {suffix or '(none)'!r}; "
                        f"use one of {allowed}")
    if is_parquet_bytes:
        raise DataError(f"data file {name!r} is a Parquet file; rename it to .parquet")
    if head.startswith(b"\x1f\x8b"):
        raise DataError(f"data file {name!r} is gzip-compressed; decompress it first")
    if head.startswith((b"PK\x03\x04", b"\xd0\xcf\x11\xe0")):
        raise DataError(f"data file {name!r} is a spreadsheet/zip file, not delimited text; "
                        "export it as CSV")
    if b"\x00" in head:
        raise DataError(f"data file {name!r} is binary, not delimited text")
    text_head = _decode_head(head, name, complete=size <= _SNIFF_BYTES)
    delimiter = TEXT_SUFFIXES[suffix] or _detect_delimiter(text_head, name)
    header = _scan_rows(path, delimiter, name)
    decimal = "," if delimiter == ";" and _uses_decimal_comma(text_head, delimiter) else "."
    try:
        frame = pd.read_csv(
            path,
            sep=delimiter,
            decimal=decimal,
            encoding="utf-8-sig",
            engine="c",
            quotechar='"',
            na_values=_NA_VALUES,
            keep_default_na=False,
            skip_blank_lines=True,
            low_memory=False,
        )
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError) as err:
        message = " ".join(str(err).split())
        raise DataError(f"cannot parse data file {name!r}: {message}") from err
    frame.columns = [clean_text(c) for c in header]
    return _plain_dtypes(frame)


def _plain_dtypes(frame: pd.DataFrame) -> pd.DataFrame:
    """Text and categorical columns as numpy ``object`` arrays with NaN for missing values.

    Every column is then numpy-backed (numbers, booleans or ``object`` text), the
    same for CSV and Parquet input; categorical levels become plain values.
    """
    for column in frame.columns:
        dtype = frame[column].dtype
        if isinstance(dtype, (pd.StringDtype, pd.CategoricalDtype)):
            frame[column] = frame[column].astype(object).where(frame[column].notna(), np.nan)
    return frame


def _decode_head(head: bytes, name: str, *, complete: bool) -> str:
    decoder = codecs.getincrementaldecoder("utf-8-sig")()
    try:
        return decoder.decode(head, final=complete)
    except UnicodeDecodeError as err:
        raise DataError(
            f"data file {name!r} is not UTF-8 text (byte 0x{head[err.start]:02x} at offset "
            f"{err.start}); re-save it as UTF-8"
        ) from err


def _detect_delimiter(text: str, name: str) -> str:
    """Pick the delimiter giving the most, and consistent, fields over the first lines."""
    lines = [line for line in _LINE_BREAK.split(text)[:50] if line.strip()]
    if not text.endswith(("\n", "\r")) and len(lines) > 1:
        lines = lines[:-1]  # the sniffed block may end mid-line
    best, best_fields = ",", 1
    for delimiter in _DELIMITERS:
        try:
            counts = [len(row) for row in csv.reader(lines, delimiter=delimiter)]
        except csv.Error:
            continue
        if not counts:
            continue
        header_fields = counts[0]
        matching = sum(c == header_fields for c in counts[1:])
        mostly_consistent = len(counts) == 1 or matching >= (len(counts) - 1) / 2
        if header_fields > best_fields and mostly_consistent:
            best, best_fields = delimiter, header_fields
    if best_fields == 1 and len(lines) > 1:
        raise DataError(
            f"data file {name!r}: cannot detect the delimiter (comma, semicolon or tab); "
            "the file has a single column or rows of unequal length"
        )
    return best


def _uses_decimal_comma(text: str, delimiter: str) -> bool:
    """Whether numbers in a semicolon file use a decimal comma (``1,5``)."""
    comma = point = 0
    for row in csv.reader(_LINE_BREAK.split(text)[1:50], delimiter=delimiter):
        for cell in row:
            cell = cell.strip()
            comma += bool(_DECIMAL_COMMA.match(cell))
            point += bool(_DECIMAL_POINT.match(cell))
    return comma > 0 and point == 0


def _scan_rows(path: Path, delimiter: str, name: str) -> list[str]:
    """Check encoding, header, and that every row has as many fields as the header.

    Returns the header's column names.
    """
    has_quotes = _check_utf8_and_quotes(path, name)
    if has_quotes:
        header, rows = _scan_rows_csv(path, delimiter, name)
    else:
        header, rows = _scan_rows_fast(path, delimiter, name)
    if not any(h.strip() for h in header):
        raise DataError(f"data file {name!r} has no header row")
    header = [h.strip() for h in header]
    for position, column in enumerate(header, start=1):
        if not column:
            raise DataError(f"data file {name!r}: column {position} has an empty name")
    seen: set[str] = set()
    for column in header:
        if column in seen:
            raise DataError(f"data file {name!r} has duplicate column name {column!r}")
        seen.add(column)
    if rows == 0:
        raise DataError(f"data file {name!r} has a header but no data rows")
    return header


def _check_utf8_and_quotes(path: Path, name: str) -> bool:
    """Stream the file once: fail on invalid UTF-8; report whether it holds quotes."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    has_quotes = False
    lines_before = 0
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(_SCAN_BLOCK), b""):
            try:
                decoder.decode(block)
            except UnicodeDecodeError as err:
                line = lines_before + block.count(b"\n", 0, max(err.start, 0)) + 1
                raise DataError(
                    f"data file {name!r} is not UTF-8 text (line {line}); re-save it as UTF-8"
                ) from err
            has_quotes = has_quotes or b'"' in block
            lines_before += block.count(b"\n")
        try:
            decoder.decode(b"", final=True)
        except UnicodeDecodeError as err:
            raise DataError(
                f"data file {name!r} ends inside a UTF-8 character (truncated file?)"
            ) from err
    return has_quotes


def _scan_rows_csv(path: Path, delimiter: str, name: str) -> tuple[list[str], int]:
    """Field-count check with the csv module (handles quoted fields)."""
    header: list[str] = []
    rows = 0
    with path.open("r", encoding="utf-8-sig", newline="") as handle:
        reader = csv.reader(handle, delimiter=delimiter, quotechar='"', strict=True)
        try:
            for row in reader:
                if not row or (len(row) == 1 and not row[0].strip()):
                    continue
                if not header:
                    header = row
                    continue
                rows += 1
                if len(row) != len(header):
                    _ragged(name, reader.line_num, len(row), len(header))
        except csv.Error as err:
            raise DataError(
                f"data file {name!r} is malformed near line {reader.line_num}: {err} "
                "(unbalanced quote or truncated file?)"
            ) from err
        except UnicodeDecodeError as err:
            raise DataError(
                f"data file {name!r} is not UTF-8 text (near line {reader.line_num + 1}); "
                "re-save it as UTF-8"
            ) from err
    return header, rows


def _scan_rows_fast(path: Path, delimiter: str, name: str) -> tuple[list[str], int]:
    """Field-count check for files without quote characters (a delimiter count per line)."""
    header: list[str] = []
    expected = 0
    rows = 0
    sep = delimiter.encode()
    with path.open("rb") as handle:
        for number, raw in enumerate(handle, start=1):
            line = raw.rstrip(b"\r\n")
            if not line.strip(b" \t" if delimiter != "\t" else b" "):
                continue
            if not header:
                text = line.decode("utf-8-sig")
                header = next(csv.reader([text], delimiter=delimiter))
                expected = len(header)
                continue
            rows += 1
            fields = line.count(sep) + 1
            if fields != expected:
                _ragged(name, number, fields, expected)
    return header, rows


def _ragged(name: str, line: int, got: int, expected: int) -> None:
    kind = "truncated or short" if got < expected else "too long"
    raise DataError(
        f"data file {name!r} line {line} has {got} field{'s' if got != 1 else ''}, expected "
        f"{expected} ({kind} row)"
    )


def _read_parquet(path: Path) -> pd.DataFrame:
    import pyarrow as pa
    import pyarrow.parquet as pq

    name = path.name
    try:
        schema = pq.read_schema(path)
    except (pa.ArrowException, OSError) as err:
        raise DataError(f"cannot read Parquet file {name!r}: {' '.join(str(err).split())}") from err
    seen: set[str] = set()
    for column in schema.names:
        if column in seen:
            raise DataError(f"data file {name!r} has duplicate column name {column!r}")
        seen.add(column)
    try:
        table = pq.read_table(path)
    except (pa.ArrowException, OSError) as err:
        raise DataError(f"cannot read Parquet file {name!r}: {' '.join(str(err).split())}") from err
    if table.num_rows == 0:
        raise DataError(f"data file {name!r} has no data rows")
    # Plain conversion: no pandas metadata hooks, extension types become plain columns.
    frame = table.to_pandas(ignore_metadata=True, types_mapper=None)
    frame.columns = [clean_text(c) for c in frame.columns]
    frame.index = pd.RangeIndex(len(frame))
    return _plain_dtypes(frame)
