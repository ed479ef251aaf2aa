"""The built-in pipeline: execute chapters, run pandoc, write the site and the PDFs.

Mirrors what Quarto does (nbclient execution, then pandoc) for the features a
Quarto book uses. Everything is written into a temporary folder next to the
output folder and swapped in at the end, so a failed render publishes nothing.
"""

from __future__ import annotations

import copy
import hashlib
import json
import re
import shutil
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import FIRST_EXCEPTION, Future, ThreadPoolExecutor, wait
from pathlib import Path
from typing import Any

from ..errors import RenderError
from ..interrupts import deferred_signals
from .assemble import ChapterSource, assemble_chapter
from .cache import ChapterCache, ConversionCache, chapter_cache_key, package_hash
from .client import kill_kernels, output_limit
from .crossref import ChapterIndex, PandocRunner, number_chapter, resolve_chapter, set_meta
from .execute import ExecutedChapter, execute_document
from .outdir import check_output_dir, write_stamp
from .pdf import PdfChapter, write_pdfs
from .project import BookProject, ChapterEntry
from .qmd import MarkdownChunk, QmdDocument, parse_qmd
from .site import SitePage, write_site
from .summary import RenderSummary

__all__ = ["render_builtin"]

CACHE_DIR = ".medbook-cache"
_H1 = re.compile(r"^#\s+.*?(\{(?P<attrs>[^}]*)\})?\s*$", flags=re.MULTILINE)
_REFS_MD = "# References {.unnumbered}\n\n::: {#refs}\n:::\n"
# A chapter's own bibliography (web page, handout): "## References" and the refs div.
_REFS_BLOCKS = [
    {
        "t": "Header",
        "c": [2, ["chapter-references", ["unnumbered"], []], [{"t": "Str", "c": "References"}]],
    },
    {"t": "Div", "c": [["refs", [], []], []]},
]

Log = Callable[[str], None]


def _first_h1_attrs(doc: QmdDocument) -> str | None:
    for block in doc.blocks:
        if not isinstance(block, MarkdownChunk):
            continue
        for part in block.parts:
            if isinstance(part, str) and not part.lstrip().startswith(("```", "~~~")):
                match = _H1.search(part)
                if match:
                    return match.group("attrs") or ""
    return None


def chapter_numbers(entries: tuple[ChapterEntry, ...], docs: list[QmdDocument]) -> list[str]:
    """Chapter numbers: 1, 2, … for chapters, A, B, … for appendices, "" if unnumbered."""
    numbers, main, appendix = [], 0, 0
    for entry, doc in zip(entries, docs, strict=True):
        attrs = _first_h1_attrs(doc)
        classes = (attrs or "").split()
        if ".unnumbered" in classes or "-" in classes or doc.meta.get("number-sections") is False:
            numbers.append("")
        elif entry.appendix:
            appendix += 1
            numbers.append(chr(ord("A") + appendix - 1))
        else:
            main += 1
            numbers.append(str(main))
    return numbers


def _execute_defaults(project: BookProject, doc: QmdDocument) -> dict[str, Any]:
    chapter = doc.meta.get("execute") or {}
    return {**project.execute, **(chapter if isinstance(chapter, dict) else {})}


def _needs_kernel(doc: QmdDocument) -> bool:
    return any(c.lang == "python" for c in doc.cells) or any(
        b.inline for b in doc.blocks if isinstance(b, MarkdownChunk)
    )


def _run_chapter(
    project: BookProject, entry: ChapterEntry, doc: QmdDocument, defaults: dict[str, Any]
) -> ChapterSource:
    cwd = project.root if project.execute_dir == "project" else entry.path.parent
    if _needs_kernel(doc):
        executed = execute_document(doc, cwd=cwd, defaults=defaults)
    else:
        executed = ExecutedChapter(outputs={}, inline={})
    return assemble_chapter(doc, executed, defaults, entry.slug)


def _execute_all(
    project: BookProject,
    docs: list[QmdDocument],
    fresh: bool,
    package_dir: Path,
    jobs: int,
    log: Log,
) -> tuple[list[ChapterSource], list[str], list[str]]:
    cache = ChapterCache(project.root / CACHE_DIR)
    pkg_digest = package_hash(package_dir)
    total = len(docs)
    sources: list[ChapterSource | None] = [None] * total
    keys: list[str] = []
    executed: list[str] = []
    cached: list[str] = []
    pending: list[int] = []
    for i, (entry, doc) in enumerate(zip(project.chapters, docs, strict=True)):
        defaults = _execute_defaults(project, doc)
        runs_code = _needs_kernel(doc)
        if runs_code:  # the output limit cuts outputs, so it is part of the key
            defaults = {**defaults, "medbook-output-limit": output_limit()}
        key = chapter_cache_key(project.root, entry.path, doc, defaults, pkg_digest, runs_code)
        keys.append(key)
        hit = None if fresh else cache.get(entry.slug, key)
        if hit is not None:
            sources[i] = hit
            cached.append(entry.rel)
            log(f"[{i + 1}/{total}] {entry.rel}: cached")
        else:
            pending.append(i)

    def work(i: int) -> tuple[int, ChapterSource, float]:
        start = time.perf_counter()
        entry, doc = project.chapters[i], docs[i]
        source = _run_chapter(project, entry, doc, _execute_defaults(project, doc))
        return i, source, time.perf_counter() - start

    if pending:
        with ThreadPoolExecutor(max_workers=max(1, min(jobs, len(pending)))) as pool:
            futures: set[Future[tuple[int, ChapterSource, float]]] = {
                pool.submit(work, i) for i in pending
            }
            try:
                while futures:
                    done, futures = wait(futures, return_when=FIRST_EXCEPTION)
                    for future in done:
                        if future.exception() is not None:
                            for other in futures:
                                other.cancel()
                            raise future.exception()  # type: ignore[misc]
                        i, source, seconds = future.result()
                        entry = project.chapters[i]
                        cache.put(entry.slug, keys[i], source)
                        sources[i] = source
                        executed.append(entry.rel)
                        what = "executed" if _needs_kernel(docs[i]) else "converted (no code)"
                        log(f"[{i + 1}/{total}] {entry.rel}: {what} in {seconds:.1f} s")
            except BaseException:
                kill_kernels()  # interrupted or failed: no chapter keeps running
                raise
    return [s for s in sources if s is not None], executed, cached


def _read_image(entry: ChapterEntry, src: str, root: Path) -> tuple[str, bytes]:
    """An authored image inside the project: its project-relative name and bytes."""
    shown = src if len(src) <= 80 else src[:77] + "..."
    try:
        path = (entry.path.parent / src).resolve()
        if not path.is_relative_to(root):
            raise RenderError(f"{entry.rel}: image {shown!r} is outside the project")
        if not path.is_file():
            raise RenderError(f"{entry.rel}: image {shown!r} does not exist")
        return path.relative_to(root).as_posix(), path.read_bytes()
    except (OSError, ValueError) as err:
        reason = getattr(err, "strerror", None) or str(err)
        raise RenderError(f"{entry.rel}: image {shown!r} cannot be read: {reason}") from None


def _copy_images(
    ast: dict[str, Any], entry: ChapterEntry, project: BookProject, known: set[str], build: Path
) -> dict[str, bytes]:
    """Make authored image paths project-relative and copy the files into the site."""
    copied: dict[str, bytes] = {}

    def visit(node: Any) -> None:
        if isinstance(node, dict):
            if node.get("t") == "Image":
                target = node["c"][2]
                src = target[0]
                if src in known or re.match(r"^[a-zA-Z][\w+.-]*:|^/|^#", src):
                    return
                rel, data = _read_image(entry, src, project.root)
                (build / rel).parent.mkdir(parents=True, exist_ok=True)
                (build / rel).write_bytes(data)
                copied[rel] = data
                target[0] = rel
                return
            for value in node.values():
                visit(value)
        elif isinstance(node, list):
            for value in node:
                visit(value)

    visit(ast["blocks"])
    return copied


def _xref_table(project: BookProject, indexes: list[ChapterIndex]) -> dict[str, dict[str, str]]:
    table: dict[str, dict[str, str]] = {}
    owner: dict[str, str] = {}
    for entry, index in zip(project.chapters, indexes, strict=True):
        for label, info in index.labels.items():
            if label in table:
                raise RenderError(
                    f"label '{label}' is defined in both {owner[label]} and {entry.rel}"
                )
            table[label] = {**info, "page": entry.page}
            owner[label] = entry.rel
    return table


_BIB_ENTRY = re.compile(r"@\s*(?P<type>\w+)\s*[{(]\s*(?P<key>[^,\s]+)\s*,")


def _check_citations(project: BookProject, indexes: list[ChapterIndex]) -> None:
    """Fail on citation keys missing from the BibTeX bibliography (pandoc only warns)."""
    if not project.bibliography or any(p.suffix.lower() != ".bib" for p in project.bibliography):
        return
    keys = {
        m.group("key")
        for path in project.bibliography
        for m in _BIB_ENTRY.finditer(path.read_text(encoding="utf-8", errors="replace"))
        if m.group("type").lower() not in ("string", "comment", "preamble")
    }
    names = ", ".join(p.name for p in project.bibliography)
    for entry, index in zip(project.chapters, indexes, strict=True):
        missing = [key for key in index.cites if key not in keys]
        if missing:
            raise RenderError(
                f"{entry.rel}: citation key(s) not found in {names}: {', '.join(missing)}"
            )


def _with_meta(ast: dict[str, Any], **meta: Any) -> dict[str, Any]:
    out = copy.deepcopy(ast)
    for key, value in meta.items():
        if value is not None:
            set_meta(out, key.replace("_", "-"), value)
    return out


def _swap(build: Path, out: Path, to: str, pdf_name: str, project: BookProject) -> None:
    """Publish the build folder (``pdf`` only replaces the PDFs), signals held off."""
    with deferred_signals():
        check_output_dir(out, project)  # again: the folder may have changed meanwhile
        if to != "pdf":
            write_stamp(build)
            backup = _hidden_name(out, "old")
            if out.exists():
                out.replace(backup)
            build.replace(out)
            shutil.rmtree(backup, ignore_errors=True)
            return
        out.mkdir(parents=True, exist_ok=True)
        (build / pdf_name).replace(out / pdf_name)
        old = _hidden_name(out / "handouts", "old")
        if (out / "handouts").exists():
            (out / "handouts").replace(old)
        (build / "handouts").replace(out / "handouts")
        shutil.rmtree(old, ignore_errors=True)
        write_stamp(out)
    shutil.rmtree(build, ignore_errors=True)


def _hidden_name(path: Path, what: str) -> Path:
    """An unused hidden name next to ``path`` (nothing existing is ever replaced)."""
    made = Path(tempfile.mkdtemp(prefix=f".{path.name}.{what}-", dir=path.parent))
    made.rmdir()
    return made


def _build_dir(out: Path) -> Path:
    """A fresh, empty folder next to ``out`` to build the site in."""
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        return Path(tempfile.mkdtemp(prefix=f".{out.name}.building-", dir=out.parent))
    except OSError as err:
        raise RenderError(f"cannot write the output folder {out}: {err.strerror}") from err


def render_builtin(
    project: BookProject,
    *,
    to: str,
    out: Path,
    fresh: bool,
    package_dir: Path,
    jobs: int,
    log: Log,
) -> RenderSummary:
    """Render the book with the built-in pipeline (see the module docstring)."""
    start = time.perf_counter()
    docs = []
    for entry in project.chapters:
        try:
            text = entry.path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as err:
            raise RenderError(f"cannot read {entry.rel}: {err}") from err
        docs.append(parse_qmd(text, entry.rel))
    numbers = chapter_numbers(project.chapters, docs)
    build = _build_dir(out)
    build.rmdir()  # checked writable before the (long) execution; re-created below
    sources, executed, cached = _execute_all(project, docs, fresh, package_dir, jobs, log)

    cache_root = project.root / CACHE_DIR
    memo = ConversionCache(cache_root, "pandoc")
    runner = PandocRunner(memo, project.root, project.bibliography, project.csl)
    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        numbered = list(
            pool.map(
                lambda i: number_chapter(
                    runner,
                    sources[i].markdown,
                    project.chapters[i].rel,
                    numbers[i],
                    project.chapters[i].appendix,
                ),
                range(len(docs)),
            )
        )
    asts = [ast for ast, _ in numbered]
    indexes = [index for _, index in numbered]
    xrefs = _xref_table(project, indexes)
    _check_citations(project, indexes)
    xref_text = json.dumps(xrefs, sort_keys=True, ensure_ascii=False)
    xref_file = cache_root / "xref.json"
    if not xref_file.is_file() or xref_file.read_text(encoding="utf-8") != xref_text:
        xref_file.write_text(xref_text, encoding="utf-8")
    xref_digest = hashlib.sha256(xref_text.encode()).hexdigest()
    all_cites = sorted({key for index in indexes for key in index.cites})
    has_refs_page = any(index.has_refs for index in indexes)

    build = _build_dir(out)
    summary = RenderSummary(engine="builtin", output_dir=out, executed=executed, cached=cached)
    try:
        assets: dict[str, bytes] = {}
        for source, ast, entry in zip(sources, asts, project.chapters, strict=True):
            for name, data in source.assets.items():
                (build / name).parent.mkdir(parents=True, exist_ok=True)
                (build / name).write_bytes(data)
            assets.update(source.assets)
            assets.update(_copy_images(ast, entry, project, set(source.assets), build))
        assets_digest = ConversionCache.key(
            *(
                name.encode() + b"\0" + hashlib.sha256(assets[name]).digest()
                for name in sorted(assets)
            )
        )

        def convert(i: int, fmt: str, variant: str) -> str:
            entry, index = project.chapters[i], indexes[i]
            nocite = all_cites if index.has_refs and all_cites else None
            if variant == "book" and not index.has_refs:
                ast = _with_meta(asts[i], suppress_bibliography=True)
            else:
                ast = _with_meta(asts[i], nocite=nocite)
                if index.cites and not index.has_refs:
                    ast["blocks"] += _REFS_BLOCKS
            return resolve_chapter(
                runner,
                ast,
                name=entry.rel,
                to_format=fmt,
                page=entry.page,
                xref_file=xref_file,
                xref_digest=xref_digest,
            )

        formats = ("html", "pdf") if to == "all" else (to,)
        with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
            n = len(docs)
            html_jobs = (
                [pool.submit(convert, i, "html", "page") for i in range(n)]
                if "html" in formats
                else []
            )
            pdf_jobs = (
                [
                    (
                        pool.submit(convert, i, "typst", "book"),
                        pool.submit(convert, i, "typst", "handout"),
                    )
                    for i in range(n)
                ]
                if "pdf" in formats
                else []
            )
            html_bodies = [job.result() for job in html_jobs]
            typst_bodies = [(a.result(), b.result()) for a, b in pdf_jobs]
        if "pdf" in formats:
            chapters = [
                PdfChapter(entry, book, handout)
                for entry, (book, handout) in zip(project.chapters, typst_bodies, strict=True)
            ]
            back_matter = ""
            if all_cites and not has_refs_page:
                refs_ast, _ = number_chapter(runner, _REFS_MD, "references", "", False)
                back_matter = resolve_chapter(
                    runner,
                    _with_meta(refs_ast, nocite=all_cites),
                    name="references",
                    to_format="typst",
                    page="references.html",
                    xref_file=xref_file,
                    xref_digest=xref_digest,
                )
            pdf_memo = ConversionCache(cache_root, "pdf")
            summary.pdf, summary.handouts = write_pdfs(
                project, chapters, build, pdf_memo, assets_digest, back_matter
            )
            pdf_memo.prune()
            log(f"pdf: {project.pdf_name} and {len(chapters)} handouts")
        if "html" in formats:
            pages = [
                SitePage(entry, index.number, index.title or entry.rel, body, index.toc)
                for entry, index, body in zip(project.chapters, indexes, html_bodies, strict=True)
            ]
            pdf_link = project.pdf_name if "pdf" in formats else None
            summary.pages = write_site(project, pages, build, pdf_link)
            log(f"html: {len(pages)} pages")
        if to == "all":
            memo.prune()
        _swap(build, out, to, project.pdf_name, project)
    except BaseException:
        shutil.rmtree(build, ignore_errors=True)
        raise
    summary.pages = [out / p.relative_to(build) for p in summary.pages]
    if summary.pdf is not None:
        summary.pdf = out / summary.pdf.relative_to(build)
        summary.handouts = [out / p.relative_to(build) for p in summary.handouts]
    summary.seconds = time.perf_counter() - start
    return summary
