"""Study files, reports and memos for several mediators and post-treatment confounders."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import medbook
from medbook import ConfigError
from medbook.memo import build_memo
from medbook.report import analyse, render_memo_markdown, render_report_markdown
from medbook.report.sequential import path_phrase
from medbook.simulate import simulate_binary_confounder, simulate_mediator_chain
from medbook.study import load_study

CHAIN_STUDY = """\
data: chain.csv
treatment: {column: treatment, label: Onboarding call}
mediator:
  - {column: usage, label: "<b>usage</b>"}
  - {column: activation, label: activation}
outcome: {column: outcome, label: renewal}
covariates: [x]
mediator_model: [linear, auto]
method: delta
"""

CONFOUNDER_STUDY = """\
data: conf.csv
treatment: treatment
mediator: usage
post_treatment: {column: support, label: support contact}
outcome: outcome
covariates: [x]
method: delta
"""


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("sequential")
    simulate_mediator_chain(n=800).to_csv(root / "chain.csv", index=False)
    simulate_binary_confounder(n=800).to_csv(root / "conf.csv", index=False)
    (root / "chain.yml").write_text(CHAIN_STUDY)
    (root / "conf.yml").write_text(CONFOUNDER_STUDY)
    return root


def test_study_lists_mediators_and_post_treatment(folder):
    chain = load_study(folder / "chain.yml")
    kwargs = chain.mediate_kwargs()
    assert kwargs["mediator"] == ["usage", "activation"]
    assert kwargs["mediator_model"] == ["linear", "auto"] and kwargs["post_treatment"] is None
    conf = load_study(folder / "conf.yml").mediate_kwargs()
    assert conf["mediator"] == "usage" and conf["post_treatment"] == ["support"]


@pytest.mark.parametrize(
    ("entry", "message"),
    [("mediator: []", "must not be an empty list"),
     ("mediator: [usage, usage]", "listed twice"),
     ("mediator: [usage, activation]\nmediator_model: [auto]", "1 models for 2 mediator")],
)
def test_bad_study_lists(folder, entry, message):
    text = CHAIN_STUDY.replace(
        "mediator:\n  - {column: usage, label: \"<b>usage</b>\"}\n"
        "  - {column: activation, label: activation}\n", entry + "\n"
    ).replace("mediator_model: [linear, auto]\n", "")
    (folder / "bad.yml").write_text(text)
    with pytest.raises(ConfigError, match=message):
        load_study(folder / "bad.yml")


def test_path_wording():
    mediators = ["usage", "activation", "seats"]
    assert path_phrase(1, mediators) == (
        "through activation (including its effect via seats) but not through usage"
    )
    assert path_phrase(2, mediators) == "through seats but not through usage or activation"


def test_chain_report_words_every_path(folder):
    study = load_study(folder / "chain.yml")
    res = medbook.mediate(medbook.io.read_table(folder / "chain.csv"),
                          **study.mediate_kwargs())
    context = analyse(res).context(study)
    memo = render_memo_markdown(context)
    report = render_report_markdown(context)
    assert "but not through activation" not in memo  # activation comes after usage
    assert "through activation but not through" in memo
    assert "<b>" not in memo and "<b>" not in report
    assert "Path-specific effect through activation" in memo
    assert "sequential g-formula" in report


def test_confounder_memo_has_no_natural_effects(folder):
    out = build_memo(folder / "conf.yml", out_dir=folder / "memo", formats=("md", "json"),
                     progress=False)
    memo = (out / "memo.md").read_text()
    assert "not identified" in memo and "Interventional indirect effect rNIE(1)" in memo
    assert "Natural indirect effect" not in memo
    assert "no published sensitivity analysis" in memo
    results = json.loads((out / "results.json").read_text())
    keys = {row["estimand"] for row in results["analysis"]["effects"]}
    assert {"rte", "rnde0", "rnie1"} <= keys and "nie1" not in keys
    assert (out / "figures" / "dag.svg").read_text().count("support contact") == 1
