"""``medbook memo``: regenerate the decision memo and mediation report from a data file.

:func:`build_memo` runs the whole chain — study config → data file → analysis →
sensitivity and diagnostics → figures → Markdown → HTML / typst PDF / JSON —
into a temporary folder next to the target and moves it into place only when
everything succeeded. On any error nothing is left behind and an existing
output folder keeps its previous results.
"""

from __future__ import annotations

import base64
import json
import platform
import sys
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from markupsafe import Markup

from . import __version__
from .convert import escape_markdown, markdown_to_typst, pandoc_convert
from .errors import ConfigError
from .filenames import check_path_text
from .fonts import uncovered_characters
from .history import (
    Comparison,
    Previous,
    RunRecord,
    compare,
    history_records,
    read_previous,
    run_date,
    run_record,
    write_history,
)
from .jsonsafe import jsonable
from .mediation import mediate
from .report import (
    Readout,
    analyse,
    render_memo_markdown,
    render_report_markdown,
    template_environment,
)
from .results import MediationResult
from .sanitize import clean_text, clean_tree, display_name
from .segments import (
    SegmentOutcome,
    forest_table,
    index_markdown,
    owned_by_segments,
    previous_segment_root,
    segment_values,
    terminal_text,
    write_segment_memos,
)
from .sources import read_source, source_digest
from .staging import check_target, staged_folder
from .study import Study, load_study

if TYPE_CHECKING:
    import pandas as pd

    from .memo_cluster import ClusterRun

__all__ = ["FORMATS", "OUTPUT_NAMES", "DataSource", "build_memo", "write_memo"]

FORMATS = ("html", "pdf", "md", "json")
#: Every name ``build_memo`` may write; an existing output folder holding anything
#: else is refused rather than replaced.
OUTPUT_NAMES = frozenset({
    "memo.html", "memo.pdf", "memo.md", "report.html", "report.pdf", "report.md",
    "results.json", "history.json", "figures",
})
#: pandoc reads our Markdown with raw HTML/TeX/attributes disabled, so nothing in it
#: can become markup other than what the (escaped) Markdown says.
MARKDOWN_READER = "markdown-raw_html-raw_tex-raw_attribute"
_FIGURE_FILES = {
    "dag": "figures/dag",
    "effects": "figures/effects",
    "sensitivity": "figures/sensitivity",
    "mediator": "figures/mediator_by_arm",
    "trend": "figures/trend",
}
#: The memo draws the trend of its headline estimates from this many runs on.
TREND_MIN_RUNS = 3


def build_memo(
    study_path: Path,
    data_path: Path | None = None,
    out_dir: Path = Path("memo-out"),
    formats: Sequence[str] = FORMATS,
    drop_missing: bool = False,
    progress: bool = True,
    previous: Path | None = None,
    by: str | None = None,
    scheduler: str | None = None,
) -> Path:
    """Analyse a study and write the memo, the report, results and figures.

    Parameters
    ----------
    study_path : pathlib.Path
        Study configuration (YAML), see :func:`medbook.study.load_study`.
    data_path : pathlib.Path, optional
        Data file overriding the config's ``data`` entry.
    out_dir : pathlib.Path
        Output folder; created, or replaced if it holds a previous memo.
    formats : sequence of str
        Any of ``"html"`` (memo.html, report.html), ``"pdf"`` (memo.pdf,
        report.pdf), ``"md"`` (memo.md, report.md), ``"json"`` (results.json).
        Figures are always written.
    drop_missing : bool
        Drop rows with missing values (their number is reported) instead of failing.
    progress : bool
        Show a progress bar on stderr.
    previous : pathlib.Path, optional
        An earlier memo folder or its ``results.json`` to compare with. By default
        the earlier run in ``out_dir``, if there is one. The memo then says what
        changed, ``results.json`` gains a ``previous`` section, and ``history.json``
        keeps one record per run (the memo draws a trend from the third run on).
    by : str, optional
        Segment column (default: the study's ``segments``). Writes one memo folder
        per value under ``out_dir``, plus ``index.html``/``index.md`` and
        ``segments.json`` listing every segment, and a forest plot across them;
        segments too small or degenerate to analyse are listed as skipped.
    scheduler : str, optional
        Address of a Dask scheduler (``tcp://host:8786``): the headline estimates and
        intervals are computed on that cluster from every row of the Parquet data,
        the sensitivity analysis, diagnostics and figures from a random sample of at
        most :data:`medbook.memo_cluster.SAMPLE_ROWS` rows (see
        :mod:`medbook.memo_cluster`). None (default) analyses the data in memory.

    Returns
    -------
    pathlib.Path
        The output folder.

    Raises
    ------
    MedbookError
        ``ConfigError``/``DataError``/``FitError``/``RenderError`` with a
        one-line message; the output folder is then left as it was.
    """
    wanted = _formats(formats)
    scheduler = scheduler or None
    study = load_study(Path(study_path), Path(data_path) if data_path is not None else None)
    check_path_text(study.data, "data file")  # its name goes into every page
    out_dir = Path(out_dir).absolute()
    column = by if by is not None else study.segments
    if scheduler is not None:
        from .memo_cluster import check_cluster_study

        check_cluster_study(study, column, by_flag=by is not None)
    if column:
        return _build_segmented(study, column, out_dir, wanted, drop_missing, progress, previous)
    check_target(out_dir, lambda p: p.name in OUTPUT_NAMES)
    earlier = _earlier_run(out_dir, previous)
    frame = read_source(study.data) if scheduler is None else None
    source = DataSource(display_name(study.data), *source_digest(study.data))
    bar = _progress(len(_steps(wanted)), progress)
    step = _stepper(bar)
    try:
        with staged_folder(out_dir) as tmp:
            write_memo(study, frame, tmp, source=source, formats=wanted,
                       drop_missing=drop_missing, previous=earlier, step=step,
                       scheduler=scheduler)
            step("finish")
        bar.update()
    finally:
        bar.close()
    return out_dir


@dataclass(frozen=True)
class DataSource:
    """Provenance of the analysed data: file name, SHA-256 and size in bytes."""

    name: str
    sha256: str
    size: int


def write_memo(
    study: Study,
    frame: pd.DataFrame | None,
    folder: Path,
    *,
    source: DataSource,
    formats: set[str],
    drop_missing: bool = False,
    previous: Previous | None = None,
    step: Callable[[str], None] = lambda name: None,
    scheduler: str | None = None,
) -> RunRecord:
    """Analyse ``frame`` and write the memo's files into the existing ``folder``.

    The caller owns ``folder`` (normally a temp folder of :func:`staged_folder`);
    ``previous`` is the earlier run to compare with; ``step(name)`` is called before
    each stage, for progress reporting. With ``scheduler`` (``frame`` is then None)
    the study's data are analysed on that Dask cluster instead
    (:func:`medbook.memo_cluster.analyse_on_cluster`). Returns this run's :class:`RunRecord`.
    """
    step("analysis")
    run: ClusterRun | None = None
    if scheduler is None:
        res = mediate(frame, **study.mediate_kwargs(), drop_missing=drop_missing)
    else:
        from .memo_cluster import analyse_on_cluster

        run = analyse_on_cluster(study, scheduler, drop_missing=drop_missing)
        res = run.headline
    if res.data.n_dropped:
        _note(f"dropped {res.data.n_dropped} row(s) with missing values (--drop-missing)")
    res.warnings.extend(_font_warnings(study, res))
    step("sensitivity")
    readout = analyse(res, on_step=step) if run is None else run.readout(on_step=step)
    plain = readout.context(study, escape=clean_text)
    execution = None if run is None else run.execution
    results = _results(readout, study, plain, source, drop_missing, formats, execution)
    record = run_record(results)
    comparison = compare(previous.record, record) if previous is not None else None
    runs = history_records(previous, record)
    if comparison is not None:
        results["previous"] = _previous_section(comparison)
    step("figures")
    figures = _figures(res, res if run is None else run.rows, study, readout.curve, folder, runs)
    step("markdown")
    pngs = {k: f"{v}.png" for k, v in figures.items()}
    context = readout.context(study, figures=pngs, comparison=comparison)
    documents = {
        "memo": render_memo_markdown(context),
        "report": render_report_markdown(context),
    }
    if "md" in formats:
        for name, text in documents.items():
            (folder / f"{name}.md").write_text(text, encoding="utf-8")
    page = _page(study, source, str(plain["title"]))
    if "html" in formats:
        step("html")
        for name, text in documents.items():
            html = _to_html(text, folder, figures, page)
            (folder / f"{name}.html").write_text(html, encoding="utf-8")
    if "pdf" in formats:
        step("pdf")
        for name, text in documents.items():
            _to_pdf(text, folder / f"{name}.pdf", folder, page)
    step("results")
    write_history(folder, runs)
    if "json" in formats:
        text = json.dumps(results, indent=2, ensure_ascii=False, allow_nan=False)
        (folder / "results.json").write_text(text + "\n", encoding="utf-8")
    return record


def _build_segmented(
    study: Study,
    column: str,
    out_dir: Path,
    wanted: set[str],
    drop_missing: bool,
    progress: bool,
    previous: Path | None,
) -> Path:
    """One memo folder per value of ``column``, an index and a forest plot, staged as one."""
    check_target(out_dir, owned_by_segments(out_dir))
    previous_root = previous_segment_root(out_dir, previous)
    frame = read_source(study.data)
    values, n_missing = segment_values(frame, column)
    source = DataSource(display_name(study.data), *source_digest(study.data))
    base = replace(study, covariates=tuple(c for c in study.covariates if c != column))
    title = study.title or f"{study.treatment.label} through {study.mediator.label}"

    def write_one(rows: pd.DataFrame, folder: Path, earlier: Previous | None) -> RunRecord:
        value = values[rows.index[0]]
        segment_study = replace(base, title=f"{title} ({column}: {value})")
        return write_memo(segment_study, rows, folder, source=source, formats=wanted,
                          drop_missing=drop_missing, previous=earlier)

    from tqdm import tqdm

    with tqdm(total=values.nunique(), desc="medbook memo", unit="segment", file=sys.stderr,
              disable=not progress, leave=False, dynamic_ncols=True) as bar:
        def advance(value: str) -> None:
            bar.set_postfix_str(terminal_text(value))
            bar.update()

        with staged_folder(out_dir) as tmp:
            outcomes = write_segment_memos(frame, column, tmp, write_one=write_one,
                                           previous_root=previous_root, progress=advance)
            _write_index(tmp, outcomes, wanted, title=f"{title}: by {column}", column=column,
                         n_missing=n_missing, page=_page(study, source, f"{title}: by {column}"))
    return out_dir


def _write_index(
    folder: Path, outcomes: Sequence[SegmentOutcome], wanted: set[str], *, title: str,
    column: str, n_missing: int, page: dict[str, Any],
) -> None:
    """index.md / index.html, segments.json and the forest plot of a segmented run."""
    import matplotlib as mpl

    from . import plots

    figures: dict[str, str] = {}
    table = forest_table(outcomes)
    if not table.empty:
        (folder / "figures").mkdir()
        with mpl.rc_context({"svg.hashsalt": "medbook", "svg.fonttype": "path"}):
            fig = plots.segment_forest(table)
            fig.savefig(folder / "figures" / "forest.svg", bbox_inches="tight",
                        metadata={"Date": None})
            fig.savefig(folder / "figures" / "forest.png", dpi=150, bbox_inches="tight",
                        metadata={"Software": None})
        figures["forest"] = "figures/forest"
    memo_file = "memo.html" if "html" in wanted else "memo.md" if "md" in wanted else None
    text = index_markdown(
        outcomes, title=title, column=column, n_missing=n_missing, memo_file=memo_file,
        forest="figures/forest.png" if figures else None, escape=escape_markdown,
    )
    (folder / "index.md").write_text(text, encoding="utf-8")
    html = _to_html(text, folder, figures, page)
    (folder / "index.html").write_text(html, encoding="utf-8")
    listing = {"column": column, "rows_without_segment": n_missing,
               "segments": [o.to_dict() for o in outcomes]}
    (folder / "segments.json").write_text(
        json.dumps(jsonable(listing), indent=2, ensure_ascii=False, allow_nan=False) + "\n",
        encoding="utf-8",
    )


def _page(study: Study, source: DataSource, title: str) -> dict[str, Any]:
    """Header and footer facts of an HTML / PDF page."""
    return {
        "version": __version__,
        "data_name": source.name,
        "data_sha256_short": source.sha256[:12],
        "seed": study.seed,
        "title": " ".join(title.split()),
    }


def _earlier_run(out_dir: Path, previous: Path | None) -> Previous | None:
    """The run to compare with: ``previous`` if given, else the one in ``out_dir``."""
    if previous is not None:
        return read_previous(Path(previous))
    if any((out_dir / name).is_file() for name in ("results.json", "history.json")):
        return read_previous(out_dir)
    return None


def _steps(formats: set[str]) -> list[str]:
    steps = ["analysis", "sensitivity", "diagnostics", "figures", "markdown"]
    return steps + [f for f in ("html", "pdf") if f in formats] + ["results", "finish"]


def _stepper(bar: Any) -> Callable[[str], None]:
    """A ``step(name)`` callback that closes the previous stage and names the next."""
    started = [False]

    def step(name: str) -> None:
        if started[0]:
            bar.update()
        started[0] = True
        bar.set_postfix_str(name)

    return step


# --- analysis steps -------------------------------------------------------------------------

def _figures(
    res: MediationResult, rows: MediationResult, study: Study, curve: Any, folder: Path,
    runs: Sequence[RunRecord],
) -> dict[str, str]:
    """Write the DAG and the plots as SVG + PNG; return key -> path stem (relative).

    The effects come from ``res``; the mediator by arm from the rows of ``rows`` (``res``
    itself, or the random sample of ``--scheduler``).
    """
    import matplotlib as mpl
    import pandas as pd

    from . import dags, plots

    (folder / "figures").mkdir()
    written: dict[str, str] = {}
    mediators = study.mediators or (study.mediator,)
    roles = [study.treatment, *mediators, study.outcome, *study.post_treatment]
    graph = dags.study_dag(
        study.treatment.column, [m.column for m in mediators], study.outcome.column,
        covariates=list(study.covariates),
        labels={role.column: role.label for role in roles},
        unmeasured="Unmeasured mediator-outcome confounder",
        post_treatment=[c.column for c in study.post_treatment] or None,
    )
    stem = folder / _FIGURE_FILES["dag"]
    dags.render_dag(graph, stem.with_suffix(".svg"))
    dags.render_dag(graph, stem.with_suffix(".png"))
    written["dag"] = _FIGURE_FILES["dag"]

    t_name, m_name = study.treatment.label, study.mediator.label
    if t_name == m_name:
        t_name, m_name = f"{t_name} (treatment)", f"{m_name} (mediator)"
    arms = pd.DataFrame({t_name: rows.data.treatment.astype(int), m_name: rows.data.mediator})
    figs: list[tuple[str, Callable[[], Any]]] = [
        ("effects", lambda: plots.effects_plot(res)),
        ("mediator", lambda: plots.mediator_distribution(arms, t_name, m_name)),
    ]
    if curve is not None:
        figs.append(("sensitivity", lambda: plots.sensitivity_curve(curve, "nie1")))
    if len(runs) >= TREND_MIN_RUNS:
        figs.append(("trend", lambda: plots.trend_plot(runs)))
    # Fixed SVG id salt and no timestamps: the same inputs give byte-identical files.
    with mpl.rc_context({"svg.hashsalt": "medbook", "svg.fonttype": "path"}):
        for key, make in figs:
            fig = make()
            stem = folder / _FIGURE_FILES[key]
            fig.savefig(stem.with_suffix(".svg"), bbox_inches="tight", metadata={"Date": None})
            fig.savefig(stem.with_suffix(".png"), dpi=150, bbox_inches="tight",
                        metadata={"Software": None})
            written[key] = _FIGURE_FILES[key]
    return written


# --- rendering ------------------------------------------------------------------------------

def _to_html(markdown: str, folder: Path, figures: dict[str, str], page: dict[str, Any]) -> str:
    fragment = pandoc_convert(
        markdown, from_format=MARKDOWN_READER, to_format="html5",
        extra_args=("--wrap=none",), resource_path=folder,
    )
    for stem in figures.values():
        svg = (folder / f"{stem}.svg").read_bytes()
        uri = "data:image/svg+xml;base64," + base64.b64encode(svg).decode("ascii")
        fragment = fragment.replace(f'src="{stem}.png"', f'src="{uri}"')
    env = template_environment("html")
    return env.get_template("page.html.j2").render(**page, body=Markup(fragment))


def _to_pdf(markdown: str, out_pdf: Path, folder: Path, page: dict[str, Any]) -> Path:
    body = markdown_to_typst(markdown, from_format=MARKDOWN_READER, resource_path=folder)
    env = template_environment("typst")
    source = env.get_template("page.typ.j2").render(**page, body=Markup(body))
    return _compile(source, out_pdf, folder)


def _compile(source: str, out_pdf: Path, root: Path) -> Path:
    from .convert import compile_typst

    return compile_typst(source, out_pdf, root)


# --- results.json ---------------------------------------------------------------------------

def _results(
    readout: Readout,
    study: Study,
    plain: dict[str, Any],
    source: DataSource,
    drop_missing: bool,
    formats: Iterable[str],
    execution: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Everything computed, plus the exact inputs, as a JSON-safe dict (with ``execution``,
    the cluster route's scheduler and row counts, when given)."""
    sens, curve, robustness = readout.sensitivity, readout.curve, readout.robustness
    extra = {} if execution is None else {"execution": execution}
    return jsonable(clean_tree({
        "medbook_version": __version__,
        "run": {"date": run_date()},
        "inputs": {
            "study_file": study.path.name,
            "study_sha256": study.sha256,
            "config": study.raw,
            "data_file": source.name,
            "data_sha256": source.sha256,
            "data_bytes": source.size,
            "drop_missing": drop_missing,
            "seed": study.seed,
            "formats": sorted(formats),
            "python": platform.python_version(),
        },
        "labels": {
            role: {"column": getattr(study, role).column, "label": getattr(study, role).label}
            for role in ("treatment", "mediator", "outcome")
        },
        "question": study.question,
        "analysis": readout.result.to_dict(),
        "sensitivity": {
            "available": sens.available,
            "rho_zero_nie1": sens.rho_zero,
            "rho_ci_zero_nie1": sens.rho_ci_zero,
            "robustness_value": sens.robustness_value,
            "note": sens.note,
            "curve": curve.to_dict() if curve is not None else None,
            "robustness": robustness.to_dict() if robustness is not None else None,
        },
        "diagnostics": readout.diagnostics.to_dict(),
        "wording": {
            "total_effect": str(plain["sentences"]["te"]),
            "indirect_effect": str(plain["sentences"]["nie"]),
            "direct_effect": str(plain["sentences"]["nde"]),
            "proportion_mediated": str(plain["sentences"]["pm"]),
            "proportion_mediated_stable": plain["pm_stable"],
            "sensitivity": str(plain["sentences"]["sensitivity"]),
            "robustness": plain["robustness"],
            "recommendation_strength": str(plain["recommendation"]["strength"]),
            "recommendation": str(plain["recommendation"]["text"]),
        },
        "warnings": [str(w) for w in plain["warnings"]],
        **extra,
    }))


# --- files ----------------------------------------------------------------------------------

def _formats(formats: Sequence[str] | str) -> set[str]:
    items = formats.split(",") if isinstance(formats, str) else list(formats)
    wanted = {str(f).strip().lower() for f in items if str(f).strip()}
    unknown = sorted(wanted - set(FORMATS))
    if unknown:
        raise ConfigError(
            f"unknown output format(s): {', '.join(unknown)} (choose from {', '.join(FORMATS)})"
        )
    if not wanted:
        raise ConfigError(f"no output format given (choose from {', '.join(FORMATS)})")
    return wanted


def _font_warnings(study: Study, res: MediationResult) -> list[str]:
    """A warning (also printed) naming characters of the user's text no installed font has."""
    texts = [study.question, study.title, study.population, *study.covariates]
    texts += [getattr(study, r).label for r in ("treatment", "mediator", "outcome")]
    texts += [str(level) for level in res.data.treatment_levels]
    missing = uncovered_characters(clean_text(t) for t in texts)
    if not missing:
        return []
    codes = ", ".join(f"U+{ord(c):04X}" for c in missing[:8])
    more = f" and {len(missing) - 8} more" if len(missing) > 8 else ""
    message = (
        f"no installed font can draw the characters {codes}{more} of the study's labels; "
        "they will be missing from the PDFs and figures (install fonts that cover them, "
        "e.g. Debian's fonts-noto-cjk and fonts-noto-color-emoji)"
    )
    _note(message)
    return [message]


def _note(message: str) -> None:
    print(f"medbook: note: {message}", file=sys.stderr)


def _progress(total: int, enabled: bool) -> Any:
    from tqdm import tqdm

    return tqdm(
        total=total, desc="medbook memo", unit="step", file=sys.stderr,
        disable=not enabled, leave=False, dynamic_ncols=True,
    )


def _previous_section(comparison: Comparison) -> dict[str, Any]:
    """``results.json``'s ``previous``: the earlier run and how this one compares."""
    return jsonable({
        **comparison.previous.to_dict(),
        "comparable": comparison.comparable,
        "not_comparable_because": comparison.reason or None,
        "same_data": comparison.same_data,
        "recommendation_changed": comparison.recommendation_changed,
        "outside_previous_interval": {
            c.key: c.outside_previous_interval for c in comparison.changes
        },
    })
