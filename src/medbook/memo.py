"""``medbook memo``: regenerate the decision memo and mediation report from a data file.

:func:`build_memo` runs the whole chain — study config → data file → analysis →
sensitivity and diagnostics → figures → Markdown → HTML / typst PDF / JSON —
into a temporary folder next to the target and moves it into place only when
everything succeeded. On any error nothing is left behind and an existing
output folder keeps its previous results.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import platform
import shutil
import sys
import tempfile
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

from markupsafe import Markup

from . import __version__
from .convert import markdown_to_typst, pandoc_convert
from .errors import ConfigError, MedbookError, RenderError
from .io import read_table
from .jsonsafe import jsonable
from .mediation import mediate
from .report import (
    SensitivitySummary,
    build_context,
    diagnostics_inputs,
    render_memo_markdown,
    render_report_markdown,
    summarize_sensitivity,
    template_environment,
)
from .results import MediationResult
from .study import Study, load_study

__all__ = ["FORMATS", "OUTPUT_NAMES", "build_memo"]

FORMATS = ("html", "pdf", "md", "json")
#: Every name ``build_memo`` may write; an existing output folder holding anything
#: else is refused rather than replaced.
OUTPUT_NAMES = frozenset({
    "memo.html", "memo.pdf", "memo.md", "report.html", "report.pdf", "report.md",
    "results.json", "figures",
})
#: pandoc reads our Markdown with raw HTML/TeX/attributes disabled, so nothing in it
#: can become markup other than what the (escaped) Markdown says.
MARKDOWN_READER = "markdown-raw_html-raw_tex-raw_attribute"
_FIGURE_FILES = {
    "dag": "figures/dag",
    "effects": "figures/effects",
    "sensitivity": "figures/sensitivity",
    "mediator": "figures/mediator_by_arm",
}


def build_memo(
    study_path: Path,
    data_path: Path | None = None,
    out_dir: Path = Path("memo-out"),
    formats: Sequence[str] = FORMATS,
    drop_missing: bool = False,
    progress: bool = True,
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
    study = load_study(Path(study_path), Path(data_path) if data_path is not None else None)
    out_dir = Path(out_dir).absolute()
    _check_target(out_dir)
    frame = read_table(study.data)
    data_sha256 = _sha256(study.data)

    steps = ["analysis", "sensitivity", "diagnostics", "figures", "markdown"]
    steps += [f for f in ("html", "pdf") if f in wanted] + ["results", "finish"]
    bar = _progress(len(steps), progress)
    created = _missing_parents(out_dir)
    try:
        out_dir.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.medbook-", dir=out_dir.parent))
        tmp.chmod(0o777 & ~_umask())
    except OSError as err:
        _remove_dirs(created)
        bar.close()
        raise RenderError(
            f"output directory {str(out_dir)!r} is not writable: {err.strerror or err}"
        ) from err
    try:
        bar.set_postfix_str("analysis")
        res = mediate(frame, **study.mediate_kwargs(), drop_missing=drop_missing)
        del frame
        if res.data.n_dropped:
            _note(f"dropped {res.data.n_dropped} row(s) with missing values (--drop-missing)")
        bar.update()
        bar.set_postfix_str("sensitivity")
        sens, sens_detail, robustness = summarize_sensitivity(res)
        bar.update()
        bar.set_postfix_str("diagnostics")
        diag_warnings, balance, diag_detail = diagnostics_inputs(res)
        bar.update()
        bar.set_postfix_str("figures")
        figures = _figures(res, study, sens_detail, tmp)
        bar.update()
        bar.set_postfix_str("markdown")
        pngs = {k: f"{v}.png" for k, v in figures.items()}
        context = build_context(
            res, study, sens,
            diagnostics_warnings=diag_warnings, balance=balance, figures=pngs,
        )
        documents = {
            "memo": render_memo_markdown(context),
            "report": render_report_markdown(context),
        }
        if "md" in wanted:
            for name, text in documents.items():
                (tmp / f"{name}.md").write_text(text, encoding="utf-8")
        bar.update()
        plain = build_context(res, study, sens, diagnostics_warnings=diag_warnings, escape=str)
        page = {
            "version": __version__,
            "data_name": study.data.name,
            "data_sha256_short": data_sha256[:12],
            "seed": study.seed,
            "title": " ".join(str(plain["title"]).split()),
        }
        if "html" in wanted:
            bar.set_postfix_str("html")
            for name, text in documents.items():
                html = _to_html(text, tmp, figures, page)
                (tmp / f"{name}.html").write_text(html, encoding="utf-8")
            bar.update()
        if "pdf" in wanted:
            bar.set_postfix_str("pdf")
            for name, text in documents.items():
                _to_pdf(text, tmp / f"{name}.pdf", tmp, page)
            bar.update()
        bar.set_postfix_str("results")
        if "json" in wanted:
            results = _results(
                res, study, plain, data_sha256, drop_missing, wanted, sens, sens_detail,
                robustness, diag_detail,
            )
            text = json.dumps(results, indent=2, ensure_ascii=False, allow_nan=False)
            (tmp / "results.json").write_text(text + "\n", encoding="utf-8")
        bar.update()
        bar.set_postfix_str("finish")
        _move_into_place(tmp, out_dir)
        bar.update()
    except MedbookError:
        _discard(tmp, created)
        raise
    except OSError as err:
        _discard(tmp, created)
        raise RenderError(f"cannot write the memo to {str(out_dir)!r}: {err}") from err
    except BaseException:
        _discard(tmp, created)
        raise
    finally:
        bar.close()
    return out_dir


# --- analysis steps -------------------------------------------------------------------------

def _figures(
    res: MediationResult, study: Study, curve: Any, folder: Path
) -> dict[str, str]:
    """Write the DAG and the plots as SVG + PNG; return key -> path stem (relative)."""
    import matplotlib as mpl
    import pandas as pd

    from . import dags, plots

    (folder / "figures").mkdir()
    written: dict[str, str] = {}
    roles = [getattr(study, r) for r in ("treatment", "mediator", "outcome")]
    graph = dags.study_dag(
        *(role.column for role in roles),
        covariates=list(study.covariates),
        labels={role.column: role.label for role in roles},
        unmeasured="Unmeasured mediator-outcome confounder",
    )
    stem = folder / _FIGURE_FILES["dag"]
    dags.render_dag(graph, stem.with_suffix(".svg"))
    dags.render_dag(graph, stem.with_suffix(".png"))
    written["dag"] = _FIGURE_FILES["dag"]

    t_name, m_name = study.treatment.label, study.mediator.label
    if t_name == m_name:
        t_name, m_name = f"{t_name} (treatment)", f"{m_name} (mediator)"
    arms = pd.DataFrame({t_name: res.data.treatment.astype(int), m_name: res.data.mediator})
    figs: list[tuple[str, Callable[[], Any]]] = [
        ("effects", lambda: plots.effects_plot(res)),
        ("mediator", lambda: plots.mediator_distribution(arms, t_name, m_name)),
    ]
    if curve is not None:
        figs.append(("sensitivity", lambda: plots.sensitivity_curve(curve, "nie1")))
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
    res: MediationResult,
    study: Study,
    plain: dict[str, Any],
    data_sha256: str,
    drop_missing: bool,
    formats: Iterable[str],
    sens: SensitivitySummary,
    curve: Any,
    robustness: Any,
    diag: Any,
) -> dict[str, Any]:
    """Everything computed, plus the exact inputs, as a JSON-safe dict."""
    return jsonable({
        "medbook_version": __version__,
        "inputs": {
            "study_file": study.path.name,
            "study_sha256": study.sha256,
            "config": study.raw,
            "data_file": study.data.name,
            "data_sha256": data_sha256,
            "data_bytes": study.data.stat().st_size,
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
        "analysis": res.to_dict(),
        "sensitivity": {
            "available": sens.available,
            "rho_zero_nie1": sens.rho_zero,
            "rho_ci_zero_nie1": sens.rho_ci_zero,
            "robustness_value": sens.robustness_value,
            "note": sens.note,
            "curve": curve.to_dict() if curve is not None else None,
            "robustness": robustness.to_dict() if robustness is not None else None,
        },
        "diagnostics": diag.to_dict() if diag is not None else None,
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
    })


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


def _check_target(out_dir: Path) -> None:
    """Refuse an output path that is a file or a folder holding unrelated files."""
    if out_dir.exists() or out_dir.is_symlink():
        if not out_dir.is_dir() or out_dir.is_symlink():
            raise ConfigError(f"output path {str(out_dir)!r} exists and is not a directory")
        try:
            foreign = sorted(p.name for p in out_dir.iterdir() if p.name not in OUTPUT_NAMES)
        except OSError as err:
            raise RenderError(
                f"output directory {str(out_dir)!r} is not readable: {err.strerror}"
            ) from err
        if foreign:
            raise ConfigError(
                f"output directory {str(out_dir)!r} holds files medbook did not write "
                f"({', '.join(foreign[:3])}); choose an empty or new directory"
            )
    for parent in out_dir.parents:
        if parent.exists():
            if not parent.is_dir():
                raise RenderError(
                    f"output directory {str(out_dir)!r} is not writable: "
                    f"{str(parent)!r} is not a directory"
                )
            if not os.access(parent, os.W_OK | os.X_OK):
                raise RenderError(
                    f"output directory {str(out_dir)!r} is not writable: "
                    f"no write permission in {str(parent)!r}"
                )
            break


def _missing_parents(out_dir: Path) -> list[Path]:
    """Ancestors of ``out_dir`` that do not exist yet, deepest first."""
    missing = [p for p in out_dir.parents if not p.exists()]
    return missing


def _remove_dirs(folders: list[Path]) -> None:
    for folder in folders:
        try:
            folder.rmdir()
        except OSError:
            break


def _discard(tmp: Path, created: list[Path]) -> None:
    shutil.rmtree(tmp, ignore_errors=True)
    _remove_dirs(created)


def _move_into_place(tmp: Path, out_dir: Path) -> None:
    """Swap the finished folder in; an existing folder is replaced only at the end."""
    if not out_dir.exists():
        tmp.rename(out_dir)
        return
    backup = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.old-", dir=out_dir.parent))
    backup.rmdir()
    out_dir.rename(backup)
    try:
        tmp.rename(out_dir)
    except OSError:
        backup.rename(out_dir)
        raise
    shutil.rmtree(backup, ignore_errors=True)


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _note(message: str) -> None:
    print(f"medbook: note: {message}", file=sys.stderr)


def _progress(total: int, enabled: bool) -> Any:
    from tqdm import tqdm

    return tqdm(
        total=total, desc="medbook memo", unit="step", file=sys.stderr,
        disable=not enabled, leave=False, dynamic_ncols=True,
    )
