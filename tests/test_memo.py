"""``medbook memo`` end to end: outputs, golden Markdown, bad input, injection, real data."""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import medbook
from medbook.cli import main
from medbook.io import read_table

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "onboarding"
GOLDEN = Path(__file__).resolve().parent / "golden"
DATA = Path(__file__).resolve().parent / "data"
UPDATE_GOLDEN = os.environ.get("MEDBOOK_UPDATE_GOLDEN") == "1"
RUN_EPOCH = "1790000000"  # a fixed run date, so two runs are byte-identical


def run_cli(capsys, *args: str) -> tuple[int, str]:
    code = main(["memo", *map(str, args), "--quiet"])
    return code, capsys.readouterr().err


def write_study(folder: Path, data: str | Path, **overrides: object) -> Path:
    config: dict[str, object] = {
        "data": str(data),
        "treatment": {"column": "treatment", "label": "Coaching"},
        "mediator": {"column": "mediator", "label": "Engagement"},
        "outcome": {"column": "outcome", "label": "Revenue"},
        "covariates": ["x", "plan"],
        "n_boot": 50,
        "seed": 3,
    }
    config.update(overrides)
    path = folder / "study.yml"
    path.write_text(json.dumps(config), encoding="utf-8")  # JSON is YAML
    return path


def small_frame(n: int = 300, seed: int = 4) -> pd.DataFrame:
    columns = ["treatment", "mediator", "outcome", "x"]
    frame = medbook.simulate.simulate_linear(seed=seed, n=n)[columns]
    rng = np.random.default_rng(seed)
    frame["plan"] = rng.choice(["basic", "pro", "enterprise"], size=n)
    return frame.round(4)


def pdf_text(path: Path) -> str:
    from pypdf import PdfReader

    text = " ".join(page.extract_text() for page in PdfReader(path).pages)
    return " ".join(text.split())


def files_digest(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*")) if p.is_file()
    }


# --- the example study: outputs and golden Markdown ------------------------------------------

@pytest.fixture(scope="module")
def example_out(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("example")
    config = (EXAMPLE / "study.yml").read_text(encoding="utf-8")
    config = config.replace("data: data.csv", f"data: {EXAMPLE / 'data.csv'}")
    config = config.replace("n_boot: 2000", "n_boot: 200")
    study = folder / "study.yml"
    study.write_text(config, encoding="utf-8")
    out = folder / "out"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SOURCE_DATE_EPOCH", RUN_EPOCH)
        assert main(["memo", str(study), "--out", str(out), "--quiet"]) == 0
    return out


def test_example_data_is_reproducible():
    proc = subprocess.run(
        [sys.executable, str(EXAMPLE / "make_data.py"), "--check"],
        capture_output=True, text=True, check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_all_outputs_written(example_out):
    names = {p.name for p in example_out.iterdir()}
    assert names == {"memo.html", "memo.pdf", "memo.md", "report.html", "report.pdf",
                     "report.md", "results.json", "history.json", "figures"}
    figures = {p.name for p in (example_out / "figures").iterdir()}
    for stem in ("dag", "effects", "sensitivity", "mediator_by_arm"):
        assert {f"{stem}.svg", f"{stem}.png"} <= figures
    assert not [p for p in example_out.parent.iterdir() if p.name.startswith(".")]


@pytest.mark.parametrize("name", ["memo.md", "report.md"])
def test_golden_markdown(example_out, name):
    produced = (example_out / name).read_text(encoding="utf-8")
    golden = GOLDEN / name
    if UPDATE_GOLDEN:
        GOLDEN.mkdir(exist_ok=True)
        golden.write_text(produced, encoding="utf-8")
    assert golden.exists(), "run with MEDBOOK_UPDATE_GOLDEN=1 to create the golden files"
    assert produced == golden.read_text(encoding="utf-8")


def test_results_json_numbers_and_inputs(example_out):
    results = json.loads((example_out / "results.json").read_text(encoding="utf-8"))
    data = EXAMPLE / "data.csv"
    assert results["inputs"]["data_sha256"] == hashlib.sha256(data.read_bytes()).hexdigest()
    assert results["inputs"]["seed"] == 2026
    assert results["inputs"]["config"]["n_boot"] == 200
    assert results["medbook_version"] == medbook.__version__
    res = medbook.mediate(
        read_table(data), "onboarding_call", "activated_7d", "renewed_90d",
        ["plan", "tenure_months", "prior_usage"], interaction=True, n_boot=200, seed=2026,
        cde_at=[0, 1],
    )
    effects = {e["estimand"]: e for e in results["analysis"]["effects"]}
    cde1 = next(k for k in effects if k.startswith("cde(m=1"))
    for key in ("te", "nde0", "nie1", "pm", cde1):
        assert effects[key]["estimate"] == pytest.approx(res[key], abs=1e-12)
        assert effects[key]["ci_lower"] == pytest.approx(res.row(key)["ci_lower"], abs=1e-12)
    sens = results["sensitivity"]
    assert sens["available"] and sens["rho_zero_nie1"] is not None
    assert f"{sens['rho_zero_nie1']:.2f}" in results["wording"]["sensitivity"]
    assert results["diagnostics"] is not None
    memo = (example_out / "memo.md").read_text(encoding="utf-8")
    assert f"{100 * res['te']:.1f} percentage points" in memo


def test_pdf_and_html_carry_the_headline_numbers(example_out):
    results = json.loads((example_out / "results.json").read_text(encoding="utf-8"))
    effects = {e["estimand"]: e for e in results["analysis"]["effects"]}
    te = f"{100 * effects['te']['estimate']:.1f} percentage points"
    nie = f"{100 * effects['nie1']['estimate']:.1f} percentage points"
    pm = f"{100 * effects['pm']['estimate']:.1f}%"
    for name in ("memo.pdf", "report.pdf"):
        text = pdf_text(example_out / name)
        assert te in text and nie in text and pm in text
        assert "Recommendation" in text
    html = (example_out / "memo.html").read_text(encoding="utf-8")
    assert te in html and nie in html
    assert 'src="data:image/svg+xml;base64,' in html
    assert "figures/" not in html  # self-contained
    report = pdf_text(example_out / "report.pdf")
    for section in ("Causal question", "Total effect", "Pathway estimands", "Identification",
                    "Estimation", "Sensitivity", "Action"):
        assert section in report


def test_same_inputs_give_identical_files_and_a_rerun_compares(example_out, tmp_path,
                                                                 monkeypatch):
    monkeypatch.setenv("SOURCE_DATE_EPOCH", RUN_EPOCH)
    study = example_out.parent / "study.yml"
    out = tmp_path / "again"
    assert main(["memo", str(study), "--out", str(out), "--quiet"]) == 0
    first = files_digest(example_out)
    assert files_digest(out) == first  # byte-identical, PDFs and PNGs too
    (out / "memo.md").write_text("stale", encoding="utf-8")
    assert main(["memo", str(study), "--out", str(out), "--quiet"]) == 0
    rerun = files_digest(out)
    compared = {"memo.md", "memo.html", "memo.pdf", "results.json", "history.json"}
    assert {k: v for k, v in rerun.items() if k not in compared} == {
        k: v for k, v in first.items() if k not in compared}
    memo = (out / "memo.md").read_text(encoding="utf-8")
    assert "What changed since the previous memo" in memo and "on the same data" in memo
    assert "The recommendation is unchanged (moderate)." in memo
    assert len(json.loads((out / "history.json").read_text(encoding="utf-8"))) == 2
    assert [p.name for p in tmp_path.iterdir()] == ["again"]


def test_progress_bar_on_stderr(tmp_path, capsys):
    frame = small_frame()
    frame.to_csv(tmp_path / "d.csv", index=False)
    study = write_study(tmp_path, "d.csv")
    code = main(["memo", str(study), "--out", str(tmp_path / "out"), "--to", "md"])
    err = capsys.readouterr().err
    assert code == 0
    assert "medbook memo" in err
    assert {p.name for p in (tmp_path / "out").iterdir()} == {
        "memo.md", "report.md", "history.json", "figures"}


# --- bad input: clear one-line error, exit 2, nothing written ---------------------------------

def _csv(frame: pd.DataFrame) -> str:
    return frame.to_csv(index=False, lineterminator="\n")


def _modify(change):
    def make() -> str:
        frame = small_frame()
        change(frame)
        return _csv(frame)
    return make


def _set(column, rows, value):
    def change(frame):
        frame[column] = frame[column].astype(object)
        frame.loc[rows, column] = value
    return change


def _separated() -> str:
    frame = small_frame()
    frame["mediator"] = (frame["mediator"] > frame["mediator"].median()).astype(int)
    frame["outcome"] = frame["mediator"]
    return _csv(frame)


def _truncated() -> str:
    text = _csv(small_frame())
    last_line_start = text.rfind("\n", 0, len(text) - 1) + 1
    return text[: last_line_start + 8].rsplit(",", 2)[0] + ",0."


def _three_levels(frame):
    frame.loc[:9, "treatment"] = 2


def _one_arm(frame):
    frame["treatment"] = 1


TWO_VALUES = "treatment column 'treatment' must have exactly two values"
BAD_DATA = {
    "three treatment levels": (_modify(_three_levels), {}, TWO_VALUES),
    "empty arm": (_modify(_one_arm), {}, TWO_VALUES + ", found 1"),
    "nan cell": (
        _modify(_set("mediator", [4], np.nan)), {},
        "column 'mediator' has 1 missing or non-finite value(s) (row 5)",
    ),
    "inf cell": (
        _modify(_set("outcome", [7, 9], "inf")), {},
        "column 'outcome' has 2 missing or non-finite value(s) (rows 8, 10)",
    ),
    "blank cell": (_modify(_set("x", [2], "")), {}, "column 'x' has 1 missing"),
    "text in mediator": (
        _modify(_set("mediator", [3], "high")), {},
        "mediator column 'mediator' holds non-numeric value 'high' (row 4)",
    ),
    "text in outcome": (
        _modify(_set("outcome", [0], "n.a.")), {},
        "outcome column 'outcome' holds non-numeric value",
    ),
    "text in covariate": (
        _modify(_set("x", [6], "seven")), {}, "covariate column 'x' holds non-numeric value 'seven'"
    ),
    "constant mediator": (
        _modify(_set("mediator", slice(None), 1.0)), {}, "column 'mediator' is constant"
    ),
    "constant outcome": (
        _modify(_set("outcome", slice(None), 0.0)), {}, "column 'outcome' is constant"
    ),
    "perfect separation": (_separated, {}, "separation"),
    "fewer rows than parameters": (
        lambda: _csv(small_frame().head(6)), {}, "only 6 usable rows"
    ),
    "duplicate columns": (
        lambda: "treatment,mediator,outcome,x,x\n1,2,3,4,5\n", {}, "duplicate column name 'x'"
    ),
    "empty file": (lambda: "", {}, "is empty"),
    "header only": (lambda: "treatment,mediator,outcome,x,plan\n", {}, "header but no data rows"),
    "truncated file": (
        _truncated, {}, "line 301 has 2 fields, expected 5 (truncated or short row)"
    ),
    "misspelled column": (
        lambda: _csv(small_frame()), {"mediator": "mediatr"},
        "column 'mediatr' not found in the data (did you mean 'mediator'?)",
    ),
    "missing covariate": (
        lambda: _csv(small_frame()), {"covariates": ["age"]}, "column 'age' not found"
    ),
    "unknown config key": (
        lambda: _csv(small_frame()), {"n_boots": 10}, "unknown key(s): n_boots"
    ),
    "bad method": (lambda: _csv(small_frame()), {"method": "magic"}, "'method' must be one of"),
}


@pytest.mark.parametrize("case", list(BAD_DATA))
def test_bad_input_fails_cleanly(tmp_path, capsys, case):
    make, overrides, message = BAD_DATA[case]
    (tmp_path / "d.csv").write_text(make(), encoding="utf-8")
    study = write_study(tmp_path, "d.csv", **overrides)
    out = tmp_path / "out"
    code, err = run_cli(capsys, study, "--out", out)
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("medbook: error: ")
    assert message in lines[0], lines[0]
    assert not out.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["d.csv", "study.yml"]


def test_missing_data_file_and_study(tmp_path, capsys):
    study = write_study(tmp_path, "nope.csv")
    code, err = run_cli(capsys, study, "--out", tmp_path / "out")
    assert code == 2 and "nope.csv' does not exist" in err
    code, err = run_cli(capsys, tmp_path / "missing.yml", "--out", tmp_path / "out")
    assert code == 2 and "study file" in err and "does not exist" in err
    code, err = run_cli(capsys, study, "--data", tmp_path / "other.tsv", "--out", tmp_path / "o")
    assert code == 2 and "other.tsv' does not exist" in err
    assert not (tmp_path / "out").exists() and not (tmp_path / "o").exists()


def test_unknown_format(tmp_path, capsys):
    (tmp_path / "d.csv").write_text(_csv(small_frame()), encoding="utf-8")
    study = write_study(tmp_path, "d.csv")
    code, err = run_cli(capsys, study, "--out", tmp_path / "out", "--to", "html,docx")
    assert code == 2 and "unknown output format(s): docx" in err


def test_drop_missing_reports_count(tmp_path, capsys):
    frame = small_frame().astype({"mediator": object, "x": object})
    frame.loc[[3, 10], "mediator"] = np.nan
    frame.loc[20, "x"] = ""
    (tmp_path / "d.csv").write_text(_csv(frame), encoding="utf-8")
    study = write_study(tmp_path, "d.csv")
    code, err = run_cli(
        capsys, study, "--out", tmp_path / "out", "--drop-missing", "--to", "md,json"
    )
    assert code == 0, err
    assert "dropped 3 row(s) with missing values" in err
    results = json.loads((tmp_path / "out" / "results.json").read_text(encoding="utf-8"))
    assert results["analysis"]["n_dropped"] == 3 and results["analysis"]["n"] == 297
    memo = (tmp_path / "out" / "memo.md").read_text(encoding="utf-8")
    assert re.search(r"3 row\\?\(s\\?\) with missing values were dropped", memo)


@pytest.mark.parametrize(
    ("name", "encode"),
    [
        ("bom.csv", lambda text: b"\xef\xbb\xbf" + text.encode()),
        ("semicolon.csv", lambda text: text.replace(",", ";").encode()),
        ("euro.csv", lambda text: text.replace(",", ";").replace(".", ",").encode()),
        ("tabs.tsv", lambda text: text.replace(",", "\t").encode()),
    ],
)
def test_bom_semicolon_and_tab_files_work(tmp_path, capsys, name, encode):
    frame = small_frame()
    (tmp_path / name).write_bytes(encode(_csv(frame)))
    study = write_study(tmp_path, name)
    code, err = run_cli(capsys, study, "--out", tmp_path / "out", "--to", "json")
    assert code == 0, err
    results = json.loads((tmp_path / "out" / "results.json").read_text(encoding="utf-8"))
    expected = medbook.mediate(frame, "treatment", "mediator", "outcome", ["x", "plan"],
                               n_boot=50, seed=3)
    assert results["analysis"]["effects"][0]["estimate"] == pytest.approx(expected["te"])


def test_parquet_via_data_override(tmp_path, capsys):
    frame = small_frame()
    frame.to_parquet(tmp_path / "d.parquet")
    study = write_study(tmp_path, "unused.csv")
    code, err = run_cli(capsys, study, "--data", tmp_path / "d.parquet", "--out", tmp_path / "out",
                        "--to", "json")
    assert code == 0, err
    results = json.loads((tmp_path / "out" / "results.json").read_text(encoding="utf-8"))
    assert results["inputs"]["data_file"] == "d.parquet"


def test_unwritable_output_dir(tmp_path, capsys):
    (tmp_path / "d.csv").write_text(_csv(small_frame()), encoding="utf-8")
    study = write_study(tmp_path, "d.csv")
    blocker = tmp_path / "file"
    blocker.write_text("x")
    code, err = run_cli(capsys, study, "--out", blocker / "out")
    assert code == 2 and "is not writable" in err and len(err.strip().splitlines()) == 1
    code, err = run_cli(capsys, study, "--out", blocker)
    assert code == 2 and "exists and is not a directory" in err
    assert blocker.read_text() == "x"


@pytest.mark.skipif(os.geteuid() == 0, reason="root ignores directory permissions")
def test_read_only_parent(tmp_path, capsys):
    (tmp_path / "d.csv").write_text(_csv(small_frame()), encoding="utf-8")
    study = write_study(tmp_path, "d.csv")
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        code, err = run_cli(capsys, study, "--out", locked / "out")
    finally:
        locked.chmod(0o700)
    assert code == 2 and "is not writable" in err


def test_failure_leaves_previous_results_untouched(example_out, tmp_path, capsys):
    out = tmp_path / "out"
    shutil.copytree(example_out, out)
    before = files_digest(out)
    frame = small_frame()
    frame.loc[:9, "treatment"] = 2
    (tmp_path / "d.csv").write_text(_csv(frame), encoding="utf-8")
    study = write_study(tmp_path, "d.csv")
    code, _ = run_cli(capsys, study, "--out", out)
    assert code == 2
    assert files_digest(out) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["d.csv", "out", "study.yml"]


def test_refuses_to_replace_unrelated_folder(tmp_path, capsys):
    (tmp_path / "d.csv").write_text(_csv(small_frame()), encoding="utf-8")
    study = write_study(tmp_path, "d.csv")
    out = tmp_path / "home"
    out.mkdir()
    (out / "thesis.tex").write_text("precious")
    code, err = run_cli(capsys, study, "--out", out)
    assert code == 2 and "holds files medbook did not write (thesis.tex)" in err
    assert (out / "thesis.tex").read_text() == "precious"


def test_render_failure_cleans_up(tmp_path, capsys, monkeypatch):
    import medbook.memo as memo_module
    from medbook.errors import RenderError

    def broken(*args, **kwargs):
        raise RenderError("typst failed for memo.pdf: boom")

    monkeypatch.setattr(memo_module, "_to_pdf", broken)
    (tmp_path / "d.csv").write_text(_csv(small_frame()), encoding="utf-8")
    study = write_study(tmp_path, "d.csv")
    code, err = run_cli(capsys, study, "--out", tmp_path / "new" / "deeper" / "out")
    assert code == 2 and "boom" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["d.csv", "study.yml"]


# --- injection ---------------------------------------------------------------------------------

HOSTILE = {
    "treatment": "<script>alert(1)</script>",
    "mediator": "#set page(width: 10pt)",
    "outcome": "[x](javascript:alert(1))",
    "x": "{{ 7 * 7 }}",
    "plan": "$x^2$ `code` *em* \\ <b>b</b>",
}


def test_hostile_names_and_labels_are_inert(tmp_path, capsys):
    frame = small_frame().rename(columns=HOSTILE)
    (tmp_path / "d.csv").write_text(_csv(frame), encoding="utf-8")
    study = write_study(
        tmp_path, "d.csv",
        treatment=HOSTILE["treatment"],
        mediator={"column": HOSTILE["mediator"], "label": "#set text(size: 1pt) <i>m</i>"},
        outcome={"column": HOSTILE["outcome"], "label": "[click](javascript:alert(2)) {{ 6 * 7 }}"},
        covariates=[HOSTILE["x"], HOSTILE["plan"]],
        question="</title><script>alert(3)</script> #pagebreak() {% raw %}",
        title="<h1>x</h1> #set page(height: 5pt)",
    )
    out = tmp_path / "out"
    code, err = run_cli(capsys, study, "--out", out)
    assert code == 0, err
    for name in ("memo.html", "report.html"):
        html = (out / name).read_text(encoding="utf-8")
        assert "<script" not in html and "<i>" not in html and "<b>" not in html
        assert "<h1>x" not in html
        assert "javascript:" not in html.replace("javascript:alert", "")  # only as text
        assert 'href="javascript' not in html and "<a " not in html
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
        head = html.split("<main>")[1].split("Total effect")[0]
        assert "{{ 6 * 7 }}" in html and "42" not in head
    memo = pdf_text(out / "memo.pdf")
    assert "<script>alert(1)</script>" in memo
    assert "#set text(size: 1pt) <i>m</i>" in memo
    assert "[click](javascript:alert(2)) {{ 6 * 7 }}" in memo
    assert "#set page(height: 5pt)" in memo
    from pypdf import PdfReader

    for name in ("memo.pdf", "report.pdf"):
        for page in PdfReader(out / name).pages:
            assert float(page.mediabox.width) == pytest.approx(595.3, abs=1)
            assert float(page.mediabox.height) == pytest.approx(841.9, abs=1)
    report = pdf_text(out / "report.pdf")
    assert "{{ 7 * 7 }}" in report and "$x^2$ `code` *em*" in report
    markdown = (out / "memo.md").read_text(encoding="utf-8")
    assert "<script>" not in markdown and "\\<script\\>" in markdown
    results = json.loads((out / "results.json").read_text(encoding="utf-8"))
    assert results["labels"]["treatment"]["column"] == HOSTILE["treatment"]


# --- real data ---------------------------------------------------------------------------------

def test_jobs_inconclusive_result_is_said_plainly(tmp_path, capsys):
    study = write_study(
        tmp_path, DATA / "jobs.csv",
        treatment={"column": "treat", "label": "Job-search workshop"},
        mediator={"column": "job_seek", "label": "Job-search self-efficacy"},
        outcome={"column": "depress2", "label": "Depression score"},
        covariates=["econ_hard", "sex", "age"], n_boot=200, seed=11,
    )
    code, err = run_cli(capsys, study, "--out", tmp_path / "out", "--to", "md,json")
    assert code == 0, err
    memo = (tmp_path / "out" / "memo.md").read_text(encoding="utf-8")
    results = json.loads((tmp_path / "out" / "results.json").read_text(encoding="utf-8"))
    effects = {e["estimand"]: e for e in results["analysis"]["effects"]}
    # R's mediation package documents ACME -0.0157, ADE -0.0403, total -0.0560 for this model.
    assert effects["nie1"]["estimate"] == pytest.approx(-0.0157, abs=5e-5)
    assert effects["nde0"]["estimate"] == pytest.approx(-0.0403, abs=5e-5)
    assert effects["te"]["estimate"] == pytest.approx(-0.0560, abs=5e-5)
    assert effects["nie1"]["ci_lower"] < 0 < effects["nie1"]["ci_upper"]
    assert "The data do not show a clear indirect effect" in memo
    assert "Recommendation (none)" in memo
    assert "unstable" in memo
    assert results["wording"]["proportion_mediated_stable"] is False
    accounting = results["analysis"]["replicate_accounting"]
    assert accounting["requested"] == 200 == accounting["kept"] + accounting["n_excluded"]
    report = (tmp_path / "out" / "report.md").read_text(encoding="utf-8")
    assert f"{accounting['kept']} of 200 replicates were used" in report


def test_framing_numbers_match_engine(tmp_path, capsys):
    study = write_study(
        tmp_path, DATA / "framing.csv",
        treatment="treat", mediator={"column": "emo", "label": "Emotional response"},
        outcome={"column": "cong_mesg", "label": "Message to Congress"},
        covariates=["age", "educ", "gender", "income"], n_boot=200, seed=5,
    )
    code, err = run_cli(capsys, study, "--out", tmp_path / "out", "--to", "md,json,html")
    assert code == 0, err
    res = medbook.mediate(read_table(DATA / "framing.csv"), "treat", "emo", "cong_mesg",
                          ["age", "educ", "gender", "income"], n_boot=200, seed=5)
    memo = (tmp_path / "out" / "memo.md").read_text(encoding="utf-8")
    assert f"{100 * res['nie1']:.1f} percentage points" in memo
    assert res.row("te")["ci_lower"] < 0  # total effect not clear at n = 265
    assert "The data do not show a clear total effect" in memo
    assert re.search(r"correlate at rho = 0\.\d\d", memo)
