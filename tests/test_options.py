"""One options table (medbook.options): Python, study files and the CLI agree on every row."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import yaml

import medbook
from medbook.cli import main
from medbook.errors import ConfigError
from medbook.options import OPTIONS, Option, resolve
from medbook.simulate import simulate_binary
from medbook.study import load_study

FRAME = simulate_binary(n=200, seed=4)
ROLES = {"data": "d.csv", "treatment": "treatment", "mediator": "mediator", "outcome": "outcome",
         "covariates": ["x"]}
#: Options an option needs beside it to be exercised (bca needs the bootstrap, ...).
CONTEXT = {
    "n_boot": {"method": "quasi_bayes"},
    "ci": {"method": "bootstrap", "n_boot": 50},
    "bootstrap_weights": {"method": "bootstrap", "n_boot": 50},
    "method": {"n_boot": 50},
}


def _values(option: Option) -> tuple[list, list]:
    """Values the row must accept and values it must refuse, derived from the row itself."""
    if option.kind == "choice":
        return [*option.choices, option.choices[-1].upper().replace("_", "-")], ["nonsense", 3]
    if option.kind == "integer":
        return [option.low, option.high], [option.low - 1, option.high + 1, 1.5, True, "7"]
    if option.kind == "number":
        inside = (option.low + option.high) / 2
        return [option.low, inside], [option.high, option.low - 0.1, "0.9", True, math.nan]
    if option.kind == "boolean":
        return [True, False], ["yes", 1]
    if option.kind == "numbers":
        return [0.5, [0, 1]], [["a"], "x", [math.nan], True]
    return [0, 1], [[1, 2], {"a": 1}]


CASES = [
    (name, value, good)
    for name, option in OPTIONS.items()
    for good, values in zip((True, False), _values(option), strict=True)
    for value in values
]


def _python(name, value):
    try:
        medbook.mediate(FRAME, "treatment", "mediator", "outcome", ["x"],
                        **{"method": "delta", **CONTEXT.get(name, {}), name: value})
    except ConfigError as err:
        return str(err)
    return None


def _study_file(folder: Path, name, value) -> Path:
    path = folder / "study.yml"
    config = {**ROLES, **CONTEXT.get(name, {}), name: value}
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    return path


def _yaml(folder: Path, name, value):
    try:
        load_study(_study_file(folder, name, value))
    except ConfigError as err:
        return str(err)
    return None


def _problem(message: str, name: str) -> str:
    return message.split(f"{name!r} " if message.startswith("study file") else f"{name} ", 1)[1]


@pytest.mark.parametrize(("name", "value", "good"), CASES)
def test_every_row_through_python_and_yaml(tmp_path, name, value, good):
    option = OPTIONS[name]
    below_memo_floor = option.memo_low is not None and good and value < option.memo_low
    python, study = _python(name, value), _yaml(tmp_path, name, value)
    assert (python is None) is good, python
    assert (study is None) is (good and not below_memo_floor), study
    if not good:
        assert python.startswith(f"{name} ") and f"{name!r}" in study
        if option.memo_low is None:
            assert _problem(python, name) == _problem(study, name)


@pytest.mark.parametrize(("name", "value"), [(n, v) for n, v, good in CASES if not good])
def test_every_refusal_through_the_cli(tmp_path, capsys, name, value):
    study = _study_file(tmp_path, name, value)
    code = main(["memo", str(study), "--out", str(tmp_path / "out"), "--to", "json", "--quiet"])
    err = capsys.readouterr().err
    assert code == 2 and err == f"medbook: error: {_yaml(tmp_path, name, value)}\n"
    assert not (tmp_path / "out").exists()


def test_accepted_options_reach_the_analysis_through_the_cli(tmp_path, capsys):
    FRAME.to_csv(tmp_path / "d.csv", index=False)
    chosen = {"interaction": True, "mediator_model": "Probit", "outcome_model": "logit",
              "method": "bootstrap", "n_boot": 50, "ci": "bca", "conf_level": 0.9,
              "cde_at": [1], "seed": 7, "treated": 1, "bootstrap_weights": "poisson",
              "scale": "Odds-Ratio", "auto_counts": True}
    assert set(chosen) == set(OPTIONS)
    path = tmp_path / "study.yml"
    path.write_text(yaml.safe_dump({**ROLES, **chosen}), encoding="utf-8")
    code = main(["memo", str(path), "--out", str(tmp_path / "out"), "--to", "json", "--quiet"])
    assert code == 0, capsys.readouterr().err
    results = json.loads((tmp_path / "out" / "results.json").read_text(encoding="utf-8"))
    spec = results["analysis"]["spec"]
    assert spec["mediator_model"] == "probit" and spec["ci"] == "bca" and spec["seed"] == 7
    assert spec["scale"] == "odds_ratio" and results["analysis"]["scale"] == "odds ratio"
    assert results["analysis"]["details"]["bootstrap_weights"] == "poisson"
    direct = medbook.mediate(FRAME, "treatment", "mediator", "outcome", ["x"], **chosen)
    assert results["analysis"]["effects"][0]["estimate"] == pytest.approx(direct["te"])


def test_defaults_differ_only_where_the_table_says():
    python, study = resolve({}), resolve({}, study_file="s.yml")
    differ = {name for name in OPTIONS if python[name] != study[name]}
    assert differ == {n for n, o in OPTIONS.items() if o.study_default() != o.default} == {"seed"}
