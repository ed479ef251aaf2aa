"""Hostile and unusual input: one-line errors (exit 2), bounded resources, no tracebacks."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from test_memo import small_frame, write_study

import medbook
from medbook.cli import main
from medbook.errors import ConfigError, DataError
from medbook.io import read_table
from medbook.study import load_study


def memo(capsys, study: Path, out: Path, *extra: str) -> tuple[int, str]:
    code = main(["memo", str(study), "--out", str(out), "--to", "md,json", "--quiet", *extra])
    return code, capsys.readouterr().err


def one_line_error(code: int, err: str) -> None:
    assert code == 2, err
    assert err.startswith("medbook: error: ") and err.count("\n") == 1, err
    assert "Traceback" not in err


# --- YAML alias bombs --------------------------------------------------------------------------

BOMB = (
    'a: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]\n'
    + "".join(
        f"{name}: &{name} [{', '.join(['*' + prev] * 9)}]\n"
        for prev, name in zip("abcdefgh", "bcdefghi", strict=True)
    )
)


@pytest.mark.parametrize("where", ["cde_at", "question", "covariates", "unknown", "key"])
def test_yaml_alias_bomb_is_refused_quickly(tmp_path, where):
    head = "data: d.csv\ntreatment: t\nmediator: m\noutcome: y\n"
    anchors = BOMB.replace("a: &a", "x_a: &a")
    for name in "bcdefghi":
        anchors = anchors.replace(f"{name}: &{name}", f"x_{name}: &{name}")
    body = {
        "cde_at": "cde_at: *i\n",
        "question": "question: *i\n",
        "covariates": "covariates: *i\n",
        "unknown": "",
        "key": "? *i\n: 1\n",
    }[where]
    path = tmp_path / "s.yml"
    path.write_text(head + anchors + body, encoding="utf-8")
    start = time.perf_counter()
    with pytest.raises(ConfigError) as info:
        load_study(path)
    assert time.perf_counter() - start < 5
    assert len(str(info.value)) < 400


def test_self_referencing_alias_is_refused(tmp_path):
    path = tmp_path / "s.yml"
    path.write_text("data: d.csv\ntreatment: t\nmediator: m\noutcome: y\ncde_at: &a [1, *a]\n")
    with pytest.raises(ConfigError, match="expands to more than"):
        load_study(path)


def test_long_option_values_are_quoted_short(tmp_path):
    path = tmp_path / "s.yml"
    path.write_text("data: d.csv\ntreatment: t\nmediator: m\noutcome: y\n"
                    f"method: {'x' * 5000}\n")
    with pytest.raises(ConfigError) as info:
        load_study(path)
    assert len(str(info.value)) < 300 and "x" * 100 not in str(info.value)


# --- wide files ----------------------------------------------------------------------------------

@pytest.mark.slow
def test_two_hundred_thousand_columns_are_checked_in_linear_time(tmp_path):
    n_cols = 200_000
    names = ["t", "m", "y", *(f"c{i}" for i in range(n_cols - 3))]
    rng = np.random.default_rng(0)
    rows = [",".join(names)]
    for _ in range(20):
        values = rng.integers(0, 2, n_cols).astype(str)
        rows.append(",".join(values))
    path = tmp_path / "wide.csv"
    path.write_text("\n".join(rows) + "\n")
    start = time.perf_counter()
    frame = read_table(path)
    with pytest.raises(DataError, match="column 'c_missing' not found"):
        medbook.data.prepare(frame, "t", "m", "c_missing")
    data = medbook.data.prepare(frame, "t", "m", "y", ["c1"])
    assert data.n == 20
    assert time.perf_counter() - start < 60


# --- Parquet oddities, huge values, file names, surrogates ---------------------------------------

def test_nested_parquet_columns_are_a_one_line_error(tmp_path, capsys):
    frame = small_frame()
    frame["tags"] = [[1, 2]] * len(frame)
    frame["info"] = [{"a": 1}] * len(frame)
    frame.to_parquet(tmp_path / "d.parquet")
    out = tmp_path / "out"
    study = write_study(tmp_path, tmp_path / "d.parquet", covariates=["x", "tags"])
    code, err = memo(capsys, study, out)
    one_line_error(code, err)
    assert "'tags'" in err and "list" in err
    study = write_study(tmp_path, tmp_path / "d.parquet",
                        outcome={"column": "info", "label": "Info"})
    one_line_error(*memo(capsys, study, out))
    study = write_study(tmp_path, tmp_path / "d.parquet")  # unused nested columns are fine
    code, err = memo(capsys, study, out)
    assert code == 0, err


def test_outcomes_near_1e154_do_not_overflow():
    frame = small_frame()
    frame["outcome"] = frame["outcome"] * 1e154
    res = medbook.mediate(frame, "treatment", "mediator", "outcome", ["x"], n_boot=50, seed=1)
    base = medbook.mediate(small_frame(), "treatment", "mediator", "outcome", ["x"],
                           n_boot=50, seed=1)
    cols = ["estimate", "ci_lower", "ci_upper"]
    effects = res.to_frame().set_index("estimand")[cols].drop(index="pm") / 1e154
    expected = base.to_frame().set_index("estimand")[cols].drop(index="pm")
    assert np.allclose(effects, expected, rtol=1e-8)


def test_overflowing_outcomes_are_a_one_line_error(tmp_path, capsys):
    frame = small_frame()
    frame["outcome"] = frame["outcome"] * 1e306
    frame.to_csv(tmp_path / "d.csv", index=False)
    code, err = memo(capsys, write_study(tmp_path, tmp_path / "d.csv"), tmp_path / "out")
    assert code in (0, 2), err
    assert "Traceback" not in err and err.count("\n") <= 2


def test_non_utf8_data_file_name_is_a_one_line_error(tmp_path):
    data = os.fsencode(tmp_path) + b"/caf\xe9-\xff.csv"
    small_frame().to_csv(os.fsdecode(data), index=False)
    study = write_study(tmp_path, "unused.csv")
    proc = subprocess.run(
        [sys.executable, "-m", "medbook.cli", "memo", str(study), "--data", data,
         "--out", str(tmp_path / "out"), "--to", "md,json", "--quiet"],
        capture_output=True, check=False,
    )
    err = proc.stderr.decode("utf-8", "replace")
    assert proc.returncode == 2 and err.startswith("medbook: error:") and err.count("\n") == 1


def test_lone_surrogates_and_bidi_controls_in_labels_are_cleaned(tmp_path, capsys):
    small_frame().to_csv(tmp_path / "d.csv", index=False)
    study = write_study(tmp_path, tmp_path / "d.csv",
                        treatment={"column": "treatment", "label": "Coach\ud800ing\u202e 😀"},
                        question="Does it work?\u2029# Injected\udcff")
    out = tmp_path / "out"
    code = main(["memo", str(study), "--out", str(out), "--to", "md,json,html", "--quiet"])
    assert code == 0, capsys.readouterr().err
    results = json.loads((out / "results.json").read_text(encoding="utf-8"))
    assert results["labels"]["treatment"]["label"] == "Coach\ufffding 😀"  # pair joined
    memo_md = (out / "memo.md").read_text(encoding="utf-8")
    assert "Coach\ufffding" in memo_md and "\u202e" not in memo_md
    assert not any(line.startswith("# Injected") for line in memo_md.splitlines())


def test_column_names_with_control_characters_match_after_cleaning(tmp_path, capsys):
    frame = small_frame().rename(columns={"mediator": "medi\x1bator\u2028"})
    frame.to_csv(tmp_path / "d.csv", index=False)
    study = write_study(tmp_path, tmp_path / "d.csv", mediator="medi\x1bator\u2028")
    code, err = memo(capsys, study, tmp_path / "out")
    assert code == 0, err
    assert pd.read_json(tmp_path / "out" / "results.json", typ="series")["labels"][
        "mediator"]["column"] == "mediator"
