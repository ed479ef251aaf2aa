"""Data entries that name a folder or a glob of Parquet files (partitioned exports)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from medbook.errors import DataError
from medbook.memo import build_memo
from medbook.sources import parquet_parts, read_source, source_digest

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "onboarding"


def _split(frame: pd.DataFrame, folder: Path, parts: int) -> Path:
    folder.mkdir()
    for i, rows in enumerate(np.array_split(np.arange(len(frame)), parts)):
        frame.iloc[rows].to_parquet(folder / f"part-{i:02d}.parquet", index=False)
    return folder


def test_folders_and_globs_stack_their_parts_in_order(tmp_path):
    frame = pd.DataFrame({"a": np.arange(10), "b": list("abcdefghij")})
    folder = _split(frame, tmp_path / "events", 3)
    (folder / "README.txt").write_text("not data")
    assert [p.name for p in parquet_parts(folder)] == [f"part-0{i}.parquet" for i in range(3)]
    pd.testing.assert_frame_equal(read_source(folder), frame, check_dtype=False)
    pd.testing.assert_frame_equal(read_source(folder / "part-*.parquet"), frame,
                                  check_dtype=False)
    digest, size = source_digest(folder)
    assert len(digest) == 64 and size > 0
    assert parquet_parts(folder / "part-00.parquet") is None


def test_bad_folders_and_globs_are_one_line_errors(tmp_path):
    with pytest.raises(DataError, match="no data file matches"):
        parquet_parts(tmp_path / "nothing-*.parquet")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match=r"holds no \.parquet files"):
        parquet_parts(tmp_path / "empty")
    (tmp_path / "x.csv").write_text("a\n1\n")
    with pytest.raises(DataError, match=r"is not a \.parquet file"):
        parquet_parts(tmp_path / "x.*")
    folder = tmp_path / "ragged"
    folder.mkdir()
    pd.DataFrame({"a": [1, 2]}).to_parquet(folder / "p0.parquet")
    pd.DataFrame({"b": [1, 2]}).to_parquet(folder / "p1.parquet")
    with pytest.raises(DataError, match="every part needs the same"):
        read_source(folder)


def test_memo_reads_a_glob_of_parquet_parts(tmp_path):
    frame = pd.read_csv(EXAMPLE / "data.csv")
    _split(frame, tmp_path / "events", 4)
    config = (EXAMPLE / "study.yml").read_text(encoding="utf-8").replace("n_boot: 2000",
                                                                          "n_boot: 50")
    study = tmp_path / "study.yml"
    study.write_text(config.replace("data: data.csv", "data: events/part-*.parquet"),
                     encoding="utf-8")
    build_memo(study, out_dir=tmp_path / "out", formats=["json"], progress=False)
    results = json.loads((tmp_path / "out" / "results.json").read_text(encoding="utf-8"))
    assert results["analysis"]["n"] == len(frame)
    assert results["inputs"]["data_sha256"] == source_digest(tmp_path / "events")[0]
