"""Checks of the book's sources: configuration, citations, cross-references, figures, rules.

The fast tests read the ``.qmd`` files only. The slow test executes every chapter in a
fresh kernel (the renderer's executor) and compares the reproduced numbers with the
source notebook's tables; full renders are tested with the renderer.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml

from medbook.publish.execute import execute_document
from medbook.publish.qmd import Cell, MarkdownChunk, parse_qmd

ROOT = Path(__file__).resolve().parents[1]
CONFIG = yaml.safe_load((ROOT / "_quarto.yml").read_text(encoding="utf-8"))

REF_KINDS = ("fig", "tbl", "sec", "eq")
_CITATION = re.compile(r"(?<![\w.@`/-])-?@([A-Za-z][A-Za-z0-9_:-]*[A-Za-z0-9_])")
_LABEL_ATTR = re.compile(r"\{#((?:fig|tbl|sec|eq)-[A-Za-z0-9_-]+)[^}]*\}")
_INLINE_CODE = re.compile(r"`[^`\n]*`")
_FENCE = re.compile(r"^(`{3,}|~{3,}).*?^\1\s*$", re.MULTILINE | re.DOTALL)
_BIB_KEY = re.compile(r"^@\w+\{([^,\s]+),", re.MULTILINE)
# Helper functions a chapter may define: text formatting only, never estimation.
ALLOWED_FUNCTIONS = {"as_callout"}
FORBIDDEN_CODE = (
    "statsmodels",
    "smf.",
    "sklearn",
    "linregress",
    "lstsq",
    "polyfit",
    ".integers(",
    "replace=True",
    "scipy",
)
# Variables each chapter exposes for the slow reproduction test.
REPRODUCED = {
    "chapters/03-linear.qmd": (
        "{'nie1': lin['nie1'], 'nde0': lin['nde0'], 'te': lin['te'], "
        "'a': float(m_coef['treatment']), 'b': float(y_coef['mediator']), "
        "'pm': lin['pm'], 'rows': {k: lin.row(k) for k in ('te', 'nde0', 'nie1', 'pm')}}"
    ),
    "chapters/04-nonlinear.qmd": (
        "{'po': nonlinear.potential_outcomes, 'te': nonlinear['te'], "
        "'nde0': nonlinear['nde0'], 'nie1': nonlinear['nie1'], "
        "'arms': arms.to_dict(orient='list')}"
    ),
    "chapters/06-confounding.qmd": "sweep.to_dict(orient='records')",
}


def chapter_files() -> list[str]:
    """Every file listed under ``book.chapters``, parts flattened, in order."""
    files: list[str] = []
    for item in CONFIG["book"]["chapters"]:
        if isinstance(item, dict):
            files.extend(item.get("chapters", []))
        else:
            files.append(item)
    return files


def documents() -> dict[str, str]:
    return {name: (ROOT / name).read_text(encoding="utf-8") for name in chapter_files()}


def prose(text: str) -> str:
    """Markdown without fenced blocks (cells, shell examples) and without inline code."""
    return _INLINE_CODE.sub(" ", _FENCE.sub(" ", text))


def cells(text: str, name: str) -> list[Cell]:
    return list(parse_qmd(text, name).cells)


def bib_keys() -> set[str]:
    return set(_BIB_KEY.findall((ROOT / CONFIG["bibliography"]).read_text(encoding="utf-8")))


def labels() -> list[str]:
    found: list[str] = []
    for name, text in documents().items():
        found += _LABEL_ATTR.findall(_FENCE.sub(" ", text))
        found += [c.label for c in cells(text, name) if c.label and c.label[:3] in ("fig", "tbl")]
    return found


def test_quarto_config_lists_every_chapter() -> None:
    assert CONFIG["project"]["type"] == "book"
    assert {"html", "typst"} <= set(CONFIG["format"])
    listed = chapter_files()
    assert listed[0] == "index.qmd"
    assert len(listed) == len(set(listed))
    for name in listed:
        assert (ROOT / name).is_file(), name
    on_disk = {f"chapters/{p.name}" for p in (ROOT / "chapters").glob("*.qmd")}
    assert on_disk == {n for n in listed if n.startswith("chapters/")}
    assert (ROOT / CONFIG["bibliography"]).is_file()


def test_every_citation_resolves() -> None:
    keys = bib_keys()
    cited = set()
    for name, text in documents().items():
        for key in _CITATION.findall(prose(text)):
            if key.split("-")[0] in REF_KINDS:
                continue
            assert key in keys, f"{name}: citation @{key} is not in references.bib"
            cited.add(key)
    assert cited, "the book cites nothing"
    assert not keys - cited, f"uncited entries in references.bib: {sorted(keys - cited)}"


def test_source_notebook_references_have_dois() -> None:
    bib = (ROOT / CONFIG["bibliography"]).read_text(encoding="utf-8")
    for doi in (
        "10.1037/a0020761",
        "10.1214/10-STS321",
        "10.1111/j.1467-985X.2012.01032.x",
        "10.1097/00001648-199203000-00013",
        "10.1093/ije/dyw277",
        "10.1093/aje/kwq332",
    ):
        assert f"doi     = {{{doi}}}" in bib, doi


def test_every_cross_reference_resolves() -> None:
    found = labels()
    duplicates = {label for label in found if found.count(label) > 1}
    assert not duplicates, f"labels defined twice: {sorted(duplicates)}"
    known = set(found)
    used = set()
    for name, text in documents().items():
        for key in _CITATION.findall(prose(text)):
            if key.split("-")[0] in REF_KINDS:
                assert key in known, f"{name}: @{key} has no matching label"
                used.add(key)
    figures_and_tables = {label for label in known if label.startswith(("fig-", "tbl-"))}
    assert not figures_and_tables - used, (
        f"figures/tables never referenced: {sorted(figures_and_tables - used)}"
    )


def test_figure_and_table_cells_are_captioned() -> None:
    for name, text in documents().items():
        for cell in cells(text, name):
            label = cell.label or ""
            if label.startswith("fig-"):
                for key in ("fig-cap", "fig-alt"):
                    assert str(cell.options.get(key, "")).strip(), f"{name} {label}: no {key}"
            elif label.startswith("tbl-"):
                assert str(cell.options.get("tbl-cap", "")).strip(), f"{name} {label}: no tbl-cap"
            draws = re.search(r"^(plots\.\w+|dags\.\w+)\(", cell.source, re.MULTILINE)
            if draws:
                assert label.startswith("fig-"), f"{name} {cell.name}: figure without fig- label"


def test_chapters_start_with_hidden_setup_importing_medbook() -> None:
    for name, text in documents().items():
        chapter_cells = cells(text, name)
        if not chapter_cells:
            continue
        first = chapter_cells[0]
        assert first.options.get("include") is False, f"{name}: first cell is not hidden"
        assert "import medbook" in first.source, f"{name}: setup does not import medbook"


def test_no_analysis_reimplemented_in_chapters() -> None:
    for name, text in documents().items():
        for cell in cells(text, name):
            for token in FORBIDDEN_CODE:
                assert token not in cell.source, f"{name} {cell.name}: uses {token!r}"
            for function in re.findall(r"^\s*def (\w+)", cell.source, re.MULTILINE):
                assert function in ALLOWED_FUNCTIONS, f"{name}: defines {function}()"


def _source_numbers(tables: dict) -> set[str]:
    """Numbers the notebook printed, as they could be typed into prose."""
    numbers: set[str] = set()

    def add(value: float, digits: int) -> None:
        numbers.add(f"{value:.{digits}f}")

    linear = tables["linear"]
    for value in linear["decomposition"].values():
        add(value, 3)
    for entry in linear["bootstrap"].values():
        if isinstance(entry, dict):
            for value in entry.values():
                add(value, 3)
    add(linear["truth"]["indirect"], 4)
    add(linear["truth"]["total"], 4)
    binary = tables["binary"]
    for value in binary["g_computation"].values():
        add(value, 3)
    for arm in binary["arms"].values():
        add(arm["activation_rate"], 3)
        add(arm["renewal_rate"], 3)
        numbers.update({f"{arm['n']}", f"{arm['n']:,}"})
    for row in tables["unmeasured_confounding"]["rows"]:
        for key, value in row.items():
            if key != "u_strength":
                add(value, 3)
    memo = tables["memo"]
    numbers.update({f"{memo['total']:.2f}", f"{memo['indirect']:.2f}", f"{memo['direct']:.2f}"})
    numbers.add(memo["proportion_mediated"])
    return numbers


def test_prose_has_no_hard_coded_results(source_tables: dict) -> None:
    numbers = _source_numbers(source_tables)
    pattern = re.compile(r"(?<![\d.])(\d[\d,]*\.?\d*%?)")
    for name, text in documents().items():
        for token in pattern.findall(prose(text)):
            assert token.rstrip(".,") not in numbers, f"{name}: typed result {token!r}"


def _execute(name: str, extra: str | None = None):
    text = (ROOT / name).read_text(encoding="utf-8")
    if extra is not None:
        text += f"\n```{{python}}\nimport json\nprint(json.dumps({extra}, default=float))\n```\n"
    doc = parse_qmd(text, name)
    defaults = dict(CONFIG.get("execute", {}))
    defaults.pop("freeze", None)
    return doc, execute_document(doc, cwd=(ROOT / name).parent, defaults=defaults)


def _check_clean(name: str, doc, executed) -> None:
    for number, outputs in executed.outputs.items():
        for output in outputs:
            assert output.get("output_type") != "error", f"{name} cell {number}: error"
            if output.get("output_type") == "stream":
                assert output.get("name") != "stderr", (
                    f"{name} cell {number} wrote to stderr (a warning?): {output.get('text')}"
                )
    inline = [e for block in doc.blocks if isinstance(block, MarkdownChunk) for e in block.inline]
    assert len(executed.inline) == len(inline), f"{name}: inline expressions missing"


def _printed(executed, doc) -> object:
    last = doc.cells[-1].number
    streams = [o for o in executed.outputs[last] if o["output_type"] == "stream"]
    text = "".join(o.get("text", "") for o in streams)
    return json.loads(text)


@pytest.mark.slow
@pytest.mark.parametrize("name", [n for n in chapter_files() if n.endswith(".qmd")])
def test_chapter_executes_cleanly_and_reproduces_the_notebook(
    name: str, source_tables: dict
) -> None:
    doc, executed = _execute(name, REPRODUCED.get(name))
    _check_clean(name, doc, executed)
    if name not in REPRODUCED:
        return
    got = _printed(executed, doc)
    if name.endswith("03-linear.qmd"):
        table = source_tables["linear"]
        want = table["decomposition"]
        assert round(got["a"], 3) == want["a"]
        assert round(got["b"], 3) == want["b"]
        assert round(got["nie1"], 3) == want["indirect"]
        assert round(got["nde0"], 3) == want["direct"]
        assert round(got["te"], 3) == want["total"]
        assert round(got["nie1"] + got["nde0"], 3) == want["direct_plus_indirect"]
        boot = table["bootstrap"]
        for key, source in (
            ("nie1", "indirect"), ("nde0", "direct"), ("te", "total"), ("pm", "proportion_mediated")
        ):
            assert round(got["rows"][key]["estimate"], 3) == boot[source]["point"]
            assert got["rows"][key]["ci_lower"] == pytest.approx(boot[source]["ci_lower"], abs=0.02)
            assert got["rows"][key]["ci_upper"] == pytest.approx(boot[source]["ci_upper"], abs=0.02)
    elif name.endswith("04-nonlinear.qmd"):
        want = source_tables["binary"]
        g = want["g_computation"]
        for key, source in (
            ("y1m1", "E[Y(1,M(1))]"), ("y0m0", "E[Y(0,M(0))]"),
            ("y1m0", "E[Y(1,M(0))]"), ("y0m1", "E[Y(0,M(1))]"),
        ):
            assert round(got["po"][key], 3) == g[source]
        assert round(got["te"], 3) == g["total"]
        assert round(got["nde0"], 3) == g["nde0"]
        assert round(got["nie1"], 3) == g["nie1"]
        arms = got["arms"]
        for i, arm in enumerate(("control", "treatment")):
            assert arms["accounts"][i] == want["arms"][arm]["n"]
            assert round(arms["activation rate"][i], 3) == want["arms"][arm]["activation_rate"]
            assert round(arms["renewal rate"][i], 3) == want["arms"][arm]["renewal_rate"]
    else:
        rows = source_tables["unmeasured_confounding"]["rows"]
        assert len(got) == len(rows)
        for mine, theirs in zip(got, rows, strict=True):
            for key, value in theirs.items():
                assert round(mine[key], 3) == pytest.approx(value, abs=1e-9), (key, mine)
