"""Hostile user text: random Unicode in every user string keeps documents and SVG intact."""

from __future__ import annotations

import re
import unicodedata
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

import medbook
from medbook import dags, plots
from medbook.convert import escape_html, escape_markdown, escape_typst
from medbook.report import analyse, render_memo_markdown, render_report_markdown
from medbook.sanitize import clean_text, clean_tree, display_name, isolate
from medbook.study import Role, Study

#: Characters that restructure documents or break XML, mixed into random text.
NASTY = [
    "\u2028", "\u2029", "\u0085", "\n", "\r", "\x0b", "\x0c", "\x1b", "\x07", "\x00", "\x7f",
    "\u202e", "\u202d", "\u202b", "\u2066", "\u2067", "\u2068", "\u2069", "\u200f", "\ufeff",
    "\ud800", "\udcff", "\ufffe", "\uffff", "\U0010ffff", "# ", "\n# ", "- ", "= ", "| ",
    "#", "$", "*", "<b>", "&", "[x](y)", "\\", "`", "@", "中文", "😀", "שלום", "عربى", "١٢",
]
TEXT = st.lists(
    st.one_of(st.characters(exclude_categories=()), st.sampled_from(NASTY)), max_size=12
).map("".join)
SETTINGS = settings(
    max_examples=25, deadline=None, derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
_BIDI_CONTROLS = set("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def _xml_char(c: str) -> bool:
    o = ord(c)
    return o in (0x9, 0xA, 0xD) or 0x20 <= o <= 0xD7FF or 0xE000 <= o <= 0xFFFD or o >= 0x10000


@settings(max_examples=400, deadline=None)
@given(text=TEXT)
def test_clean_text_is_one_line_of_valid_text(text):
    out = clean_text(text)
    out.encode("utf-8")  # no lone surrogates
    assert all(_xml_char(c) for c in out)
    assert not any(unicodedata.category(c) == "Cc" for c in out)
    assert not set(out) & _BIDI_CONTROLS
    assert "\u2028" not in out and "\u2029" not in out
    assert clean_text(out) == out  # idempotent
    for escape in (escape_markdown, escape_typst, escape_html):
        escaped = escape(text)
        escaped.encode("utf-8")
        assert "\n" not in escaped


def test_isolate_wraps_right_to_left_text_only():
    assert isolate("Onboarding") == "Onboarding"
    assert isolate("שלום 42") == "\u2068שלום 42\u2069"
    assert isolate("price ١٢") == "\u2068price ١٢\u2069"


def test_clean_tree_and_file_names():
    assert clean_tree({"a\x1b": ("b\u2028c", 1)}) == {"a": ["b c", 1]}
    assert display_name(Path("/data/caf\udce9.csv")) == "caf\ufffd.csv"


@SETTINGS
@given(treatment=TEXT, mediator=TEXT, outcome=TEXT, covariate=TEXT)
def test_dag_svg_stays_valid(tmp_path, treatment, mediator, outcome, covariate):
    graph = dags.study_dag(
        "t", "m", "y", covariates=["x", covariate or "x2"],
        labels={"t": treatment, "m": mediator, "y": outcome},
        unmeasured="Unmeasured U",
    )
    svg = dags.render_dag(graph, tmp_path / "dag.svg").read_bytes()
    ET.fromstring(svg)


@SETTINGS
@given(treatment=TEXT, mediator=TEXT)
def test_figure_svg_stays_valid(tmp_path, treatment, mediator):
    import pandas as pd

    # pandas cannot hold lone surrogates in column names (the memo's labels are clean)
    t_name, m_name = (re.sub("[\ud800-\udfff]", "", v) or d
                      for v, d in ((treatment, "t"), (mediator, "m")))
    if clean_text(t_name) == clean_text(m_name):
        m_name = f"{m_name} (mediator)"
    rng = np.random.default_rng(1)
    arms = pd.DataFrame({t_name: rng.integers(0, 2, 60), m_name: rng.normal(size=60)})
    fig = plots.mediator_distribution(arms, t_name, m_name)
    fig.savefig(tmp_path / "fig.svg", metadata={"Date": None})
    ET.fromstring((tmp_path / "fig.svg").read_bytes())


# --- the memo and report PDFs keep their structure ---------------------------------------------

@pytest.fixture(scope="module")
def readout_parts():
    frame = medbook.simulate.simulate_linear(seed=3, n=200)
    frame["arm"] = np.where(frame["treatment"] == 1, "coached", "waiting list")
    res = medbook.mediate(frame, "arm", "mediator", "outcome", ["x"], method="delta",
                          treated="coached")
    return analyse(res)


def _study(treatment, mediator, outcome, question, title) -> Study:
    return Study(
        path=Path("s.yml"), data=Path("d.csv"),
        treatment=Role("arm", treatment), mediator=Role("mediator", mediator),
        outcome=Role("outcome", outcome), covariates=("x",),
        question=question, title=title,
    )


def _pdf_structure(markdown: str, folder: Path) -> tuple[list[str], list[str]]:
    """Outline titles (headings) and the order of medbook's own bold lead-ins in the text."""
    from pypdf import PdfReader

    from medbook.memo import _to_pdf

    page = {"version": "x", "data_name": "d.csv", "data_sha256_short": "0" * 12, "seed": 1,
            "title": "t"}
    pdf = _to_pdf(markdown, folder / "doc.pdf", folder, page)
    reader = PdfReader(pdf)
    outline = [item.title for item in reader.outline if not isinstance(item, list)]
    text = " ".join(p.extract_text() for p in reader.pages)
    # A glyph first set from other text keeps it in the font's ToUnicode map (a zero-width
    # character in its cluster, "M\u200b"; U+3000 drawn with the space glyph); typst marks
    # later uses with ActualText, which pypdf ignores ("M\u200bediation", "Total\u3000effect").
    text = "".join(c for c in text if unicodedata.category(c) not in ("Cf", "Mn", "Me"))
    text = re.sub(r"\s+", " ", text)
    leads = re.findall(
        r"(Decision question:|Comparison:|Total effect:|Mediation estimate:|"
        r"Proportion mediated:|Main identifying risk:|Recommendation)", text
    )
    return outline, leads


@pytest.fixture(scope="module")
def baseline(readout_parts, tmp_path_factory):
    readout = readout_parts
    folder = tmp_path_factory.mktemp("baseline")
    context = readout.context(_study("T", "M", "Y", "Q?", "Title"))
    memo = _pdf_structure(render_memo_markdown(context), folder)
    report = _pdf_structure(render_report_markdown(context), folder)
    return memo, report


@settings(max_examples=8, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(treatment=TEXT, mediator=TEXT, outcome=TEXT, question=TEXT, title=TEXT)
# the report's "4. {mediator} is measured before {outcome}" item: typst read a leading "="
# as a heading and a leading "/" as a term list (no colon: the PDF failed to compile)
@example(treatment="", mediator="=", outcome="", question="", title="")
@example(treatment="", mediator="/", outcome="", question="", title="")
# text the font's ToUnicode map keeps for a glyph (see _pdf_structure)
@example(treatment="", mediator="", outcome="", question="", title="M\u200b")
@example(treatment="", mediator="", outcome="", question="", title="=\u3000=")
def test_random_text_leaves_pdf_structure_unchanged(
    tmp_path, readout_parts, baseline, treatment, mediator, outcome, question, title
):
    readout = readout_parts
    study = _study(treatment or "T", mediator or "M", outcome or "Y", question, title)
    context = readout.context(study)
    memo = _pdf_structure(render_memo_markdown(context), tmp_path)
    report = _pdf_structure(render_report_markdown(context), tmp_path)
    (memo_outline, memo_leads), (report_outline, report_leads) = memo, report
    (base_memo_outline, base_memo_leads), (base_report_outline, base_report_leads) = baseline
    assert len(memo_outline) == len(base_memo_outline)
    assert memo_leads == base_memo_leads
    assert report_outline[1:] == base_report_outline[1:]  # the first heading is the title
    assert report_leads == base_report_leads


def test_hostile_levels_and_names_are_cleaned_in_every_format():
    frame = medbook.simulate.simulate_linear(seed=3, n=200)
    frame["arm"] = np.where(frame["treatment"] == 1, "coach\x1bed\u2029# H", "wait\u202elist")
    frame = frame.rename(columns={"x": "x\u2028- item"})
    res = medbook.mediate(frame, "arm", "mediator", "outcome", ["x\u2028- item"],
                          method="delta", treated="coach\x1bed\u2029# H")
    readout = analyse(res)
    for escape in (clean_text, escape_markdown, escape_typst, escape_html):
        text = str(readout.context(None, escape=escape))
        for bad in ("\x1b", "\u2029", "\u2028", "\u202e"):
            assert bad not in text
    markdown = render_report_markdown(readout.context(None))
    assert "treated arm = coached \\# H" in markdown
    assert not any(line.startswith(("# H", "- item")) for line in markdown.splitlines())
