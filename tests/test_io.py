"""Defensive loading of data files (medbook.io.read_table)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from medbook.errors import DataError
from medbook.io import read_table

DATA = Path(__file__).resolve().parent / "data"


def _write(tmp_path: Path, name: str, content: str | bytes) -> Path:
    path = tmp_path / name
    if isinstance(content, str):
        path.write_text(content, encoding="utf-8", newline="")
    else:
        path.write_bytes(content)
    return path


def test_plain_csv_roundtrip(tmp_path):
    frame = pd.DataFrame({"t": [0, 1, 0, 1], "m": [0.5, 1.5, 2.0, 3.25], "g": list("abab")})
    path = tmp_path / "d.csv"
    frame.to_csv(path, index=False)
    out = read_table(path)
    assert out.columns.tolist() == ["t", "m", "g"]
    assert out["m"].tolist() == [0.5, 1.5, 2.0, 3.25]
    assert out["g"].dtype == object


def test_bom_and_semicolon_with_decimal_comma(tmp_path):
    path = _write(tmp_path, "d.csv", b"\xef\xbb\xbft;m;y\r\n0;1,5;2\r\n1;2,5;3\r\n")
    out = read_table(path)
    assert out.columns.tolist() == ["t", "m", "y"]
    assert out["m"].tolist() == [1.5, 2.5]


def test_semicolon_with_decimal_point(tmp_path):
    out = read_table(_write(tmp_path, "d.csv", "t;m\n0;1.5\n1;2.5\n"))
    assert out["m"].tolist() == [1.5, 2.5]


def test_tab_in_csv_and_tsv(tmp_path):
    assert read_table(_write(tmp_path, "a.csv", "t\tm\n0\t1\n")).shape == (1, 2)
    assert read_table(_write(tmp_path, "b.tsv", "t\tm x\n0\t1\n")).columns.tolist() == ["t", "m x"]


def test_quoted_fields_with_delimiters(tmp_path):
    out = read_table(_write(tmp_path, "d.csv", 'a,b\n1,"x, y"\n2,"z"\n'))
    assert out["b"].tolist() == ["x, y", "z"]


def test_missing_markers_become_nan(tmp_path):
    out = read_table(_write(tmp_path, "d.csv", "a,b\n1,NA\n2,\n3,4\n"))
    assert np.isnan(out["b"].iloc[0]) and np.isnan(out["b"].iloc[1])


def test_parquet(tmp_path):
    frame = pd.DataFrame({"t": [0, 1], "plan": ["a", "b"], "tier": pd.Categorical(["x", None])})
    path = tmp_path / "d.parquet"
    frame.to_parquet(path)
    out = read_table(path)
    assert out["plan"].tolist() == ["a", "b"]
    assert out["plan"].dtype == object
    assert out["tier"].dtype == object and out["tier"].iloc[0] == "x" and np.isnan(out["tier"][1])


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("empty.csv", b"", "is empty"),
        ("header.csv", "a,b\n", "header but no data rows"),
        ("trunc.csv", "a,b,c\n1,2,3\n4,5\n", "line 3 has 2 fields, expected 3"),
        ("long.csv", "a,b\n1,2\n3,4,5\n", "line 3 has 3 fields, expected 2"),
        ("quote.csv", 'a,b\n1,"x\n', "malformed near line"),
        ("dup.csv", "a,b,a\n1,2,3\n", "duplicate column name 'a'"),
        ("blankname.csv", "a,,c\n1,2,3\n", "column 2 has an empty name"),
        ("latin1.csv", b"a,b\n1,caf\xe9\n", "not UTF-8"),
        ("binary.csv", b"a,b\x00\x01\n", "binary"),
        ("sheet.csv", b"PK\x03\x04rest", "spreadsheet"),
        ("packed.csv", b"\x1f\x8b\x08\x00rest", "gzip-compressed"),
        ("pq.csv", b"PAR1....", "Parquet file"),
        ("fake.parquet", "a,b\n1,2\n", "not a Parquet file"),
        ("data.xlsx", "a,b\n1,2\n", "unsupported extension"),
    ],
)
def test_malformed_files(tmp_path, name, content, message):
    path = _write(tmp_path, name, content)
    with pytest.raises(DataError, match=message) as info:
        read_table(path)
    assert "\n" not in str(info.value)
    assert name in str(info.value)


def test_missing_file_and_directory(tmp_path):
    with pytest.raises(DataError, match="does not exist"):
        read_table(tmp_path / "nope.csv")
    with pytest.raises(DataError, match="not a regular file"):
        read_table(tmp_path)


def test_size_limit(tmp_path):
    path = _write(tmp_path, "d.csv", "a,b\n1,2\n")
    with pytest.raises(DataError, match="limit"):
        read_table(path, max_bytes=4)


def test_ragged_line_in_large_quote_free_file(tmp_path):
    lines = ["x,y,z"] + [f"{i},{i + 1},{i + 2}" for i in range(20000)]
    lines[12345] = "1,2"
    path = _write(tmp_path, "big.csv", "\n".join(lines) + "\n")
    with pytest.raises(DataError, match="line 12346 has 2 fields"):
        read_table(path)


def test_hostile_column_names_are_kept_verbatim(tmp_path):
    header = '"<script>alert(1)</script>","#set page(width: 1pt)",y\n'
    path = _write(tmp_path, "d.csv", header + "1,2,3\n")
    assert read_table(path).columns.tolist() == [
        "<script>alert(1)</script>", "#set page(width: 1pt)", "y",
    ]


def test_real_data_sets():
    framing = read_table(DATA / "framing.csv")
    assert framing.shape == (265, 15)
    jobs = read_table(DATA / "jobs.csv")
    assert jobs.shape[0] == 899
