"""Causal diagrams (DAGs) for mediation studies, drawn with Graphviz in one house style.

Node identifiers are fixed internal names (``T, M, Y, X, U, L``); user text only
ever appears inside HTML-like labels, escaped with :func:`html.escape`, so column
names or labels containing quotes, ``<script>``, braces or backslashes can
neither break the DOT source nor inject markup into the rendered SVG.
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from pathlib import Path

import graphviz

from .errors import ConfigError, RenderError
from .sanitize import clean_text

__all__ = [
    "PALETTE",
    "post_treatment_confounder_dag",
    "render_dag",
    "simple_mediation_dag",
    "study_dag",
    "unmeasured_confounder_dag",
]

# Okabe & Ito (2008) colour-blind-safe palette
PALETTE = {
    "measured": "#0072B2",  # blue
    "measured_fill": "#E8F1F8",
    "threat": "#D55E00",  # vermillion
    "threat_fill": "#FBEDE5",
    "edge": "#333333",
}
_MAX_COVARIATES_LISTED = 6
_FORMATS = ("svg", "png", "pdf")


def _label(text: str, detail: str | None = None) -> str:
    """HTML-like Graphviz label: cleaned, escaped text (newlines break lines), optional detail.

    Text that is empty once cleaned becomes a no-break space: Graphviz rejects ``<B></B>``.
    """
    def esc(value: str) -> str:
        lines = (clean_text(part) for part in str(value).split("\n"))
        return "<BR/>".join(html.escape(line, quote=True) for line in lines) or "&#160;"

    body = f"<B>{esc(text)}</B>"
    if detail:
        body += f'<BR/><FONT POINT-SIZE="10">{esc(detail)}</FONT>'
    return f"<{body}>"


def _digraph(name: str) -> graphviz.Digraph:
    dot = graphviz.Digraph(
        name,
        graph_attr={"rankdir": "LR", "nodesep": "0.4", "ranksep": "0.6", "bgcolor": "white",
                    "fontname": "Helvetica"},
        node_attr={"shape": "box", "style": "rounded,filled", "fontname": "Helvetica",
                   "fontsize": "12", "color": PALETTE["measured"],
                   "fillcolor": PALETTE["measured_fill"], "penwidth": "1.4"},
        edge_attr={"color": PALETTE["edge"], "fontname": "Helvetica", "fontsize": "10",
                   "penwidth": "1.2", "arrowsize": "0.8"},
    )
    return dot


def _threat_node(dot: graphviz.Digraph, node: str, label: str, dashed: bool) -> None:
    dot.node(node, label, color=PALETTE["threat"], fillcolor=PALETTE["threat_fill"],
             style="rounded,filled,dashed" if dashed else "rounded,filled")


def _threat_edge(dot: graphviz.Digraph, tail: str, head: str) -> None:
    dot.edge(tail, head, color=PALETTE["threat"], penwidth="1.6")


def simple_mediation_dag() -> graphviz.Digraph:
    """The notebook's basic story: onboarding -> activation -> renewal, with covariates X."""
    return study_dag(
        "treatment", "mediator", "outcome", covariates=("x",),
        labels={"treatment": "Treatment\nonboarding", "mediator": "Mediator\nactivation",
                "outcome": "Outcome\nrenewal",
                "x": "Pre-treatment covariates\nplan, tenure, prior usage"},
        name="simple_mediation", covariate_title=None,
    )


def unmeasured_confounder_dag() -> graphviz.Digraph:
    """The notebook's warning: an unmeasured U drives both mediator and outcome."""
    return study_dag(
        "treatment", "mediator", "outcome", covariates=("x",),
        labels={"treatment": "Treatment", "mediator": "Mediator", "outcome": "Outcome",
                "x": "Measured pre-treatment\ncovariates",
                "U": "Unmeasured factor\nmotivation, severity,\nmanager quality"},
        unmeasured=True, name="unmeasured_confounder", covariate_title=None,
    )


def post_treatment_confounder_dag() -> graphviz.Digraph:
    """The notebook's post-treatment confounder L: treatment moves L, L moves M and Y."""
    return study_dag(
        "treatment", "mediator", "outcome", covariates=("x",),
        labels={"treatment": "Treatment", "mediator": "Mediator", "outcome": "Outcome",
                "x": "Baseline X", "l": "Post-treatment\nconfounder L"},
        post_treatment="l", name="post_treatment_confounder", covariate_title=None,
    )


def _columns(value: str | Sequence[str] | None, role: str) -> list[str]:
    items = [] if value is None else [value] if isinstance(value, str) else list(value)
    for item in items:
        if not isinstance(item, str) or not item:
            raise ConfigError(f"{role} must be a non-empty column name")
    return items


def _ids(prefix: str, count: int) -> list[str]:
    """Internal node names: ``M``, ``M2``, ``M3``, ... (never user text)."""
    return [prefix if i == 0 else f"{prefix}{i + 1}" for i in range(count)]


def study_dag(
    treatment: str,
    mediator: str | Sequence[str],
    outcome: str,
    covariates: Sequence[str] = (),
    labels: Mapping[str, str] | None = None,
    unmeasured: bool | str = False,
    post_treatment: str | Sequence[str] | None = None,
    *,
    name: str = "study",
    covariate_title: str | None = "Pre-treatment covariates",
) -> graphviz.Digraph:
    """DAG of a mediation study from its roles.

    Parameters
    ----------
    treatment, outcome : str
        Column names (shown as labels unless ``labels`` renames them).
    mediator : str or sequence of str
        The mediator, or several in causal order (each points to the later ones).
    covariates : sequence of str
        Pre-treatment covariates, drawn as one node ``X`` listing them.
    labels : mapping, optional
        Display label per column name; ``"U"`` labels the unmeasured node.
    unmeasured : bool or str
        Add an unmeasured mediator-outcome confounder ``U`` (a string is its label).
    post_treatment : str or sequence of str, optional
        Post-treatment confounder column(s) ``L`` (affected by treatment,
        affecting the mediators and the outcome).
    name : str
        Graph name.
    covariate_title : str, optional
        Heading of the covariate node; None to show only the covariate label(s).

    Returns
    -------
    graphviz.Digraph
        Treatment-mediator(s)-outcome in a row; threats (U, L) in vermillion.

    Examples
    --------
    >>> dot = study_dag("t", ["usage", "activation"], "y", post_treatment="support")
    >>> sum(line.count("->") for line in dot.body)
    10
    """
    labels = dict(labels or {})
    for role, value in (("treatment", treatment), ("outcome", outcome)):
        if not isinstance(value, str) or not value:
            raise ConfigError(f"{role} must be a non-empty column name")
    mediators = _columns(mediator, "mediator")
    if not mediators:
        raise ConfigError("mediator must be a non-empty column name")
    confounders = _columns(post_treatment, "post_treatment")

    def text(column: str) -> str:
        return str(labels.get(column, column))

    dot = _digraph(name)
    m_ids = _ids("M", len(mediators))
    dot.node("T", _label(text(treatment), "treatment" if treatment not in labels else None))
    for node, column in zip(m_ids, mediators, strict=True):
        dot.node(node, _label(text(column), "mediator" if column not in labels else None))
    dot.node("Y", _label(text(outcome), "outcome" if outcome not in labels else None))
    for k, node in enumerate(m_ids):
        dot.edge("T", node)
        for later in m_ids[k + 1 :]:
            dot.edge(node, later)
        dot.edge(node, "Y")
    dot.edge("T", "Y", label="direct path")
    if covariates:
        shown = [text(c) for c in covariates[:_MAX_COVARIATES_LISTED]]
        extra = len(covariates) - len(shown)
        listing = ", ".join(shown) + (f" + {extra} more" if extra > 0 else "")
        if covariate_title is None:
            dot.node("X", _label(listing))
        else:
            dot.node("X", _label(covariate_title, listing))
        for node in m_ids:
            dot.edge("X", node)
        dot.edge("X", "Y")
    l_ids = _ids("L", len(confounders))
    for j, (node, column) in enumerate(zip(l_ids, confounders, strict=True)):
        detail = None if column in labels else "post-treatment confounder"
        _threat_node(dot, node, _label(text(column), detail), dashed=False)
        dot.edge("T", node)
        for later in l_ids[j + 1 :]:
            dot.edge(node, later)
        for m_node in m_ids:
            _threat_edge(dot, node, m_node)
        _threat_edge(dot, node, "Y")
        if covariates:
            dot.edge("X", node)
    if unmeasured:
        u_text = unmeasured if isinstance(unmeasured, str) else labels.get("U", "Unmeasured U")
        _threat_node(dot, "U", _label(u_text, "not measured"), dashed=True)
        for m_node in m_ids:
            _threat_edge(dot, "U", m_node)
        _threat_edge(dot, "U", "Y")
    return dot


def render_dag(dot: graphviz.Digraph, path: str | Path, format: str | None = None) -> Path:
    """Render a DAG with the ``dot`` binary to SVG, PNG or PDF.

    Parameters
    ----------
    dot : graphviz.Digraph
    path : str or Path
        Output file; its suffix gives the format when ``format`` is None.
    format : {"svg", "png", "pdf"}, optional

    Returns
    -------
    Path
        The file written.
    """
    path = Path(path)
    fmt = (format or path.suffix.lstrip(".")).lower()
    if fmt not in _FORMATS:
        raise ConfigError(f"DAG format must be one of {', '.join(_FORMATS)}; got {fmt!r}")
    try:
        data = dot.pipe(format=fmt)
    except (graphviz.ExecutableNotFound, graphviz.CalledProcessError) as err:
        raise RenderError(f"graphviz could not render {path.name}: {err}") from None
    try:
        path.write_bytes(data)
    except OSError as err:
        raise RenderError(f"cannot write DAG to {path}: {err.strerror}") from None
    return path
