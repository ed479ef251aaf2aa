"""Tests of medbook.dags: valid DOT that the dot binary renders, escaping of user labels."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from medbook import dags
from medbook.errors import ConfigError, RenderError

pytestmark = pytest.mark.skipif(shutil.which("dot") is None, reason="graphviz dot not installed")

EVIL = '"quoted" <script>alert(1)</script> {braces} back\\slash & done'


def _dot_svg(source: str) -> str:
    run = subprocess.run(["dot", "-Tsvg"], input=source, capture_output=True, text=True,
                         check=False, timeout=60)
    assert run.returncode == 0, run.stderr
    assert "Warning" not in run.stderr and "Error" not in run.stderr, run.stderr
    return run.stdout


@pytest.mark.parametrize(
    "builder",
    [dags.simple_mediation_dag, dags.unmeasured_confounder_dag,
     dags.post_treatment_confounder_dag],
)
def test_notebook_diagrams_render(builder, tmp_path):
    dot = builder()
    svg = _dot_svg(dot.source)
    assert svg.count('class="node"') >= 4
    for fmt in ("svg", "png"):
        out = dags.render_dag(dot, tmp_path / f"{dot.name}.{fmt}")
        assert out.stat().st_size > 500
    assert (tmp_path / f"{dot.name}.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_notebook_diagram_contents():
    unmeasured = dags.unmeasured_confounder_dag().source
    assert "U -&gt; M" not in unmeasured and "U -> M" in unmeasured and "U -> Y" in unmeasured
    post = dags.post_treatment_confounder_dag().source
    for edge in ("T -> L", "L -> M", "L -> Y", "X -> L", "T -> M", "M -> Y", "T -> Y"):
        assert edge in post
    simple = dags.simple_mediation_dag().source
    assert "activation" in simple and " U " not in simple


def test_study_dag_escapes_untrusted_labels(tmp_path):
    dot = dags.study_dag(
        EVIL, "m", "y", covariates=[EVIL, "age"], labels={"m": "{weird} label\nline two"},
        unmeasured=EVIL, post_treatment="l",
    )
    svg = _dot_svg(dot.source)
    assert "<script>" not in svg and "<script>" not in dot.source
    assert "&lt;script&gt;" in svg
    assert "{braces}" in svg and "back\\slash" in svg
    path = dags.render_dag(dot, tmp_path / "evil.svg")
    assert "<script>" not in path.read_text()


def test_study_dag_optional_nodes_and_covariate_listing():
    plain = dags.study_dag("t", "m", "y").source
    assert "X ->" not in plain and "U ->" not in plain and "L ->" not in plain
    many = dags.study_dag("t", "m", "y", covariates=[f"c{i}" for i in range(9)]).source
    assert "+ 3 more" in many
    _dot_svg(many)


def test_render_errors(tmp_path):
    dot = dags.simple_mediation_dag()
    with pytest.raises(ConfigError, match="format"):
        dags.render_dag(dot, tmp_path / "x.gif")
    with pytest.raises(RenderError, match="cannot write"):
        dags.render_dag(dot, tmp_path / "missing-dir" / "x.svg")
    with pytest.raises(ConfigError):
        dags.study_dag("", "m", "y")
