"""One memo per segment: skipped segments, hostile segment values, the index, history."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import medbook
from medbook.cli import main
from medbook.segments import MIN_SEGMENT_ROWS, segment_slug

HOSTILE = ["../x", "<script>alert(1)</script>", "#set page(height: 5pt)"]


@pytest.mark.parametrize("value", [*HOSTILE, "", " ", "Ünïcødé", "東京", "a/b\\c", "x" * 500,
                                   "\x1b[31mred", "..", "CON"])
def test_slugs_are_safe_stable_folder_names(value):
    slug = segment_slug(value)
    assert re.fullmatch(r"[a-z0-9-]{1,60}", slug) and not slug.startswith("-")
    assert slug == segment_slug(value)
    assert slug != segment_slug(value + "!")


def _frame(sizes: dict[str, int], seed: int = 5) -> pd.DataFrame:
    frames = []
    for i, (value, n) in enumerate(sizes.items()):
        part = medbook.simulate.simulate_linear(seed=seed + i, n=n)
        part = part[["treatment", "mediator", "outcome", "x"]].round(4)
        part["region"] = value
        frames.append(part)
    return pd.concat(frames, ignore_index=True).sample(frac=1.0, random_state=seed)


def _study(folder: Path, **extra: object) -> Path:
    config = {
        "data": "d.csv",
        "treatment": {"column": "treatment", "label": "Coaching"},
        "mediator": {"column": "mediator", "label": "Engagement"},
        "outcome": {"column": "outcome", "label": "Revenue"},
        "covariates": ["x", "region"], "n_boot": 50, "seed": 3, **extra,
    }
    path = folder / "study.yml"
    path.write_text(json.dumps(config), encoding="utf-8")
    return path


def _run(study: Path, out: Path, *extra: str) -> int:
    return main(["memo", str(study), "--out", str(out), "--to", "md,json", "--quiet", *extra])


@pytest.fixture(scope="module")
def segmented(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("segments")
    sizes = {HOSTILE[0]: 150, HOSTILE[1]: 160, HOSTILE[2]: 170, "West": 48}
    _frame(sizes).to_csv(folder / "d.csv", index=False)
    study = _study(folder)
    assert _run(study, folder / "out", "--by", "region") == 0
    return folder / "out"


def test_four_segments_one_too_small(segmented):
    listing = json.loads((segmented / "segments.json").read_text(encoding="utf-8"))
    rows = {r["value"]: r for r in listing["segments"]}
    assert set(rows) == {*HOSTILE, "West"}
    assert rows["West"]["status"] == "skipped" and rows["West"]["folder"] is None
    assert f"fewer than the minimum of {MIN_SEGMENT_ROWS}" in rows["West"]["skipped_because"]
    written = sorted(p.name for p in segmented.iterdir() if p.is_dir() and p.name != "figures")
    assert written == sorted(segment_slug(v) for v in HOSTILE)
    for value in HOSTILE:
        memo = segmented / segment_slug(value) / "memo.md"
        assert memo.is_file()
        results = json.loads((memo.parent / "results.json").read_text(encoding="utf-8"))
        assert results["analysis"]["n"] == rows[value]["n"]
        assert "region" not in results["analysis"]["spec"]["covariates"]  # constant within
    assert {p.name for p in (segmented / "figures").iterdir()} == {"forest.svg", "forest.png"}


def test_index_lists_every_segment_and_escapes_values(segmented):
    index = (segmented / "index.md").read_text(encoding="utf-8")
    assert "3 written, 1 skipped" in index
    assert "## Skipped segments" in index and "**West** (48 rows)" in index
    assert "<script>" not in index and r"\<script\>" in index
    assert "\n#set" not in index and "](figures/forest.png)" in index
    for value in HOSTILE:
        assert f"]({segment_slug(value)}/memo.md)" in index
    html = (segmented / "index.html").read_text(encoding="utf-8")
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert 'src="data:image/svg+xml;base64,' in html
    # nothing escaped the output folder
    assert not (segmented.parent / "x").exists()


def test_degenerate_segment_is_skipped_with_its_reason(tmp_path):
    frame = _frame({"A": 150, "B": 150})
    frame.loc[frame["region"] == "B", "treatment"] = 1
    frame.to_csv(tmp_path / "d.csv", index=False)
    assert _run(_study(tmp_path, segments="region"), tmp_path / "out") == 0
    listing = json.loads((tmp_path / "out" / "segments.json").read_text(encoding="utf-8"))
    b = next(r for r in listing["segments"] if r["value"] == "B")
    assert b["status"] == "skipped" and "treatment" in b["skipped_because"]
    assert len(b["skipped_because"].splitlines()) == 1


def test_rerun_compares_each_segment_and_refuses_foreign_files(tmp_path, capsys):
    _frame({"A": 150, "B": 150}).to_csv(tmp_path / "d.csv", index=False)
    study = _study(tmp_path)
    out = tmp_path / "out"
    assert _run(study, out, "--by", "region") == 0
    _frame({"A": 180, "B": 160}, seed=9).to_csv(tmp_path / "d.csv", index=False)
    assert _run(study, out, "--by", "region") == 0
    memo = (out / segment_slug("A") / "memo.md").read_text(encoding="utf-8")
    assert "What changed since the previous memo" in memo
    history = json.loads((out / segment_slug("B") / "history.json").read_text(encoding="utf-8"))
    assert [row["n"] for row in history] == [150, 160]
    (out / "notes.txt").write_text("mine", encoding="utf-8")
    assert _run(study, out, "--by", "region") == 2
    assert "holds files medbook did not write (notes.txt)" in capsys.readouterr().err


def test_nothing_analysable_fails_and_writes_nothing(tmp_path, capsys):
    _frame({"A": 40, "B": 30}).to_csv(tmp_path / "d.csv", index=False)
    assert _run(_study(tmp_path), tmp_path / "out", "--by", "region") == 2
    err = capsys.readouterr().err
    assert "no segment of 'region' could be analysed" in err and len(err.splitlines()) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["d.csv", "study.yml"]


def test_unknown_segment_column(tmp_path, capsys):
    frame = _frame({"A": 150})
    frame["treatment"] = np.where(frame.index % 2 == 0, 0, 1)
    frame.to_csv(tmp_path / "d.csv", index=False)
    assert _run(_study(tmp_path), tmp_path / "out", "--by", "regoin") == 2
    assert "segment column 'regoin' not found" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_identifier_column_is_refused_before_any_work(tmp_path, capsys):
    frame = _frame({"A": 700})
    frame["region"] = np.arange(len(frame))
    frame.to_csv(tmp_path / "d.csv", index=False)
    assert _run(_study(tmp_path), tmp_path / "out", "--by", "region") == 2
    err = capsys.readouterr().err
    assert "has 700 distinct values" in err and len(err.splitlines()) == 1
    assert not (tmp_path / "out").exists()


def test_control_and_bidi_characters_in_segment_values_are_inert():
    from medbook.convert import escape_markdown
    from medbook.segments import SegmentOutcome, index_markdown

    value = "\u202eevil\x1b[2J\u2028# injected\udc80"
    skipped = SegmentOutcome(value, segment_slug(value), 12, skipped_because="too small")
    text = index_markdown([skipped], title="T", column="region", n_missing=0,
                          memo_file=None, forest=None, escape=escape_markdown)
    assert "\n# injected" not in text and "\x1b" not in text and "\u202e" not in text
    assert json.dumps(skipped.to_dict(), ensure_ascii=False).encode("utf-8")
    assert "\x1b" not in skipped.to_dict()["value"]
