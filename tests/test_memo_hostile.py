"""``medbook memo`` under unusual input: treatment direction, tiny effects, hostile text."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from test_memo import small_frame, write_study

from medbook.cli import main


def memo(capsys, study: Path, out: Path, to: str = "md,json") -> tuple[int, str]:
    code = main(["memo", str(study), "--out", str(out), "--to", to, "--quiet"])
    return code, capsys.readouterr().err


@pytest.fixture()
def labelled_csv(tmp_path) -> Path:
    frame = small_frame()
    frame["treatment"] = frame["treatment"].map({1: "treated", 0: "untreated"})
    path = tmp_path / "arms.csv"
    frame.to_csv(path, index=False)
    return path


def test_text_treatment_levels_need_treated(tmp_path, capsys, labelled_csv):
    out = tmp_path / "out"
    code, err = memo(capsys, write_study(tmp_path, labelled_csv), out)
    assert code == 2
    assert err.count("\n") == 1 and err.startswith("medbook: error: ")
    assert "'treated', 'untreated'" in err or "'untreated', 'treated'" in err
    assert "treated: ..." in err
    assert not out.exists()


@pytest.mark.parametrize("treated, verb", [("treated", "increased"), ("untreated", "decreased")])
def test_memo_states_the_treated_arm_and_follows_it(tmp_path, capsys, labelled_csv, treated, verb):
    out = tmp_path / "out"
    code, err = memo(capsys, write_study(tmp_path, labelled_csv, treated=treated), out)
    assert code == 0, err
    control = "untreated" if treated == "treated" else "treated"
    text = (out / "memo.md").read_text(encoding="utf-8")
    assert f"treated arm = {treated} (" in text and f"control arm = {control} (" in text
    assert f"Coaching {verb} Revenue by" in text
    report = (out / "report.md").read_text(encoding="utf-8")
    assert f"treated arm = {treated}, control arm = {control}" in report
    analysis = json.loads((out / "results.json").read_text(encoding="utf-8"))["analysis"]
    assert (analysis["treated_level"], analysis["control_level"]) == (treated, control)


def test_tiny_effects_keep_their_digits(tmp_path, capsys):
    frame = small_frame()
    frame["outcome"] = frame["outcome"] * 1e-7
    frame.to_csv(tmp_path / "tiny.csv", index=False)
    out = tmp_path / "out"
    code, err = memo(capsys, write_study(tmp_path, tmp_path / "tiny.csv"), out)
    assert code == 0, err
    for name in ("memo.md", "report.md"):
        text = (out / name).read_text(encoding="utf-8")
        assert "0.000 (95% CI 0.000 to 0.000)" not in text
        assert not re.search(r"\| -?0\.000 \| (-?0\.000 \| )?-?0\.000 to -?0\.000 \|", text)
        assert "× 10⁻" in text
