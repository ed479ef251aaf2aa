"""Memo history: comparing a run with the previous one, the history file, the trend figure."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import medbook
from medbook.cli import main
from medbook.errors import ConfigError
from medbook.history import (
    Estimate,
    RunRecord,
    compare,
    history_records,
    read_previous,
    run_date,
)
from medbook.report import change_reasons, changes_context

MEDIATOR = "Engagement"


def record(**overrides: object) -> RunRecord:
    base = RunRecord(
        date="2026-10-01T00:00:00Z", data_file="d.csv", data_sha256="a" * 64, n=500,
        scale="difference", conf_level=0.95, roles=("t", "m", "y"),
        estimates={
            "te": Estimate(1.0, 0.5, 1.5), "nde0": Estimate(0.6, 0.1, 1.1),
            "nie1": Estimate(0.4, 0.2, 0.6), "pm": Estimate(0.4, 0.2, 0.7),
        },
        recommendation="moderate", robustness="moderate", pm_stable=True,
    )
    return replace(base, **overrides)


def test_compare_flags_estimates_outside_the_previous_interval():
    new = record(data_sha256="b" * 64, estimates={
        **record().estimates, "nie1": Estimate(0.9, 0.7, 1.1), "te": Estimate(1.2, 0.8, 1.6)})
    result = compare(record(), new)
    moved = {c.key: c.outside_previous_interval for c in result.changes}
    assert moved == {"te": False, "nde0": False, "nie1": True, "pm": False}
    assert result.comparable and not result.same_data and not result.recommendation_changed


def test_runs_of_other_columns_or_scales_are_not_compared():
    assert not compare(record(), record(roles=("t", "m2", "y"))).comparable
    other = compare(record(), record(scale="risk difference"))
    assert not other.comparable and "scale" in other.reason and other.changes == ()


def test_recommendation_change_is_explained_by_the_rule_inputs():
    new = record(
        recommendation="none", robustness="unknown", pm_stable=False,
        estimates={**record().estimates, "nie1": Estimate(0.1, -0.1, 0.3)},
    )
    reasons = change_reasons(compare(record(), new), mediator=MEDIATOR)
    assert reasons[0] == (
        "the indirect effect through Engagement was clearly positive and is now not clearly "
        "different from zero"
    )
    assert "moved from moderate to unknown" in reasons[1]
    assert reasons[2] == "the proportion mediated is now unstable"
    section = changes_context(compare(record(), new), mediator=MEDIATOR)
    assert section["recommendation"].startswith("The recommendation changed from moderate to none")
    unchanged = changes_context(compare(record(), record()), mediator=MEDIATOR)
    assert unchanged["recommendation"] == "The recommendation is unchanged (moderate)."
    assert "on the same data" in unchanged["intro"]


def test_history_grows_and_restarts_for_another_analysis(tmp_path):
    from medbook.history import Previous

    first = Previous(record=record(), history=(), source=tmp_path)
    runs = history_records(first, record(date="2026-11-01T00:00:00Z"))
    assert [r.date[:10] for r in runs] == ["2026-10-01", "2026-11-01"]
    again = Previous(record=runs[-1], history=tuple(runs), source=tmp_path)
    assert len(history_records(again, record(date="2026-12-01T00:00:00Z"))) == 3
    assert history_records(again, record(roles=("a", "b", "c"))) == [record(roles=("a", "b", "c"))]


def test_run_date_honours_source_date_epoch(monkeypatch):
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "0")
    assert run_date() == "1970-01-01T00:00:00Z"
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "soon")
    with pytest.raises(ConfigError, match="SOURCE_DATE_EPOCH"):
        run_date()


@pytest.mark.parametrize(("content", "message"), [
    ("{not json", "not valid JSON"),
    ("[1, 2]", "'inputs' is missing"),
    ('{"inputs": {}, "analysis": {"effects": 3}, "wording": {}, "labels": {}}',
     "'analysis.effects' is not a list"),
    ("[" * 100_000 + "]" * 100_000, "not valid JSON|nested too deeply"),
    (b"\xff\xfe{}", "not valid JSON"),
])
def test_malformed_previous_results_are_one_line_errors(tmp_path, content, message):
    path = tmp_path / "results.json"
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    with pytest.raises(ConfigError, match=message) as err:
        read_previous(path)
    assert "\n" not in str(err.value) and len(str(err.value)) < 300


def test_missing_previous_is_a_clear_error(tmp_path):
    with pytest.raises(ConfigError, match=r"has no results\.json or history\.json"):
        read_previous(tmp_path)


# --- end to end: three regenerations of one study -----------------------------------------------

def _frame(n: int, seed: int) -> pd.DataFrame:
    frame = medbook.simulate.simulate_linear(seed=seed, n=n)
    return frame[["treatment", "mediator", "outcome", "x"]].round(4)


def _study(folder: Path) -> Path:
    config = {
        "data": "d.csv",
        "treatment": {"column": "treatment", "label": "Coaching"},
        "mediator": {"column": "mediator", "label": MEDIATOR},
        "outcome": {"column": "outcome", "label": "Revenue"},
        "covariates": ["x"], "n_boot": 60, "seed": 3,
    }
    path = folder / "study.yml"
    path.write_text(json.dumps(config), encoding="utf-8")
    return path


def _memo(study: Path, out: Path, *extra: str) -> int:
    return main(["memo", str(study), "--out", str(out), "--to", "md,json", "--quiet", *extra])


def test_three_regenerations_compare_keep_history_and_draw_the_trend(tmp_path, monkeypatch):
    study, out = _study(tmp_path), tmp_path / "memo"
    for run, n in enumerate((300, 400, 500)):
        monkeypatch.setenv("SOURCE_DATE_EPOCH", str(1_790_000_000 + run * 86_400))
        _frame(n, seed=run).to_csv(tmp_path / "d.csv", index=False)
        assert _memo(study, out) == 0
        memo = (out / "memo.md").read_text(encoding="utf-8")
        assert ("What changed since the previous memo" in memo) == (run > 0)
        assert (out / "figures" / "trend.svg").exists() == (run == 2)
    results = json.loads((out / "results.json").read_text(encoding="utf-8"))
    history = json.loads((out / "history.json").read_text(encoding="utf-8"))
    assert [row["n"] for row in history] == [300, 400, 500]
    assert [row["date"][:10] for row in history] == ["2026-09-21", "2026-09-22", "2026-09-23"]
    previous = results["previous"]
    assert previous["n"] == 400 and previous["date"] == history[1]["date"]
    assert not previous["same_data"]
    nie = history[1]["estimates"]["nie1"]
    assert previous["outside_previous_interval"]["nie1"] == (
        not nie["ci_lower"] <= results["analysis"]["effects"][4]["estimate"] <= nie["ci_upper"]
    )
    assert "![Headline estimates across memo runs](figures/trend.png)" in memo
    assert r"400 units in d\.csv then, 500 now" in memo  # Markdown-escaped file name


def test_previous_flag_and_failed_regeneration_keeps_the_previous_memo(tmp_path, capsys):
    study = _study(tmp_path)
    _frame(300, seed=1).to_csv(tmp_path / "d.csv", index=False)
    assert _memo(study, tmp_path / "january") == 0
    _frame(350, seed=2).to_csv(tmp_path / "d.csv", index=False)
    assert _memo(study, tmp_path / "february", "--previous",
                 str(tmp_path / "january" / "results.json")) == 0
    february = json.loads((tmp_path / "february" / "results.json").read_text(encoding="utf-8"))
    assert february["previous"]["n"] == 300
    before = {p: p.read_bytes() for p in (tmp_path / "february").rglob("*") if p.is_file()}
    broken = _frame(350, seed=3)
    broken.loc[5, "outcome"] = np.inf
    broken.to_csv(tmp_path / "d.csv", index=False)
    assert _memo(study, tmp_path / "february") == 2
    assert "outcome" in capsys.readouterr().err
    after = {p: p.read_bytes() for p in (tmp_path / "february").rglob("*") if p.is_file()}
    assert after == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["d.csv", "february", "january",
                                                         "study.yml"]


def test_previous_must_exist(tmp_path, capsys):
    study = _study(tmp_path)
    _frame(300, seed=1).to_csv(tmp_path / "d.csv", index=False)
    assert _memo(study, tmp_path / "out", "--previous", str(tmp_path / "nowhere")) == 2
    assert "has no results.json" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()
