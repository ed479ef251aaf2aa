"""Execute a parsed chapter in a fresh Jupyter kernel with nbclient.

The kernel is the current interpreter's ``ipykernel`` (an explicit kernelspec
pointing at :data:`sys.executable`), so cells see exactly the environment
medbook runs in, virtualenv included.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import sys
import tempfile
import threading
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import nbformat

from ..errors import RenderError
from .client import BoundedClient, cell_timeout, output_limit
from .qmd import Cell, MarkdownChunk, QmdDocument

__all__ = ["CellOptions", "ExecutedChapter", "cell_options", "execute_document"]

INLINE_MIME = "application/vnd.medbook.inline+json"
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
_KERNEL_NAME = "medbook-python"


@dataclass(frozen=True)
class CellOptions:
    """Effective options of a cell (project ``execute`` < chapter ``execute`` < ``#|``)."""

    eval: bool
    echo: bool | str
    include: bool
    output: bool | str
    warning: bool
    error: bool


@dataclass(frozen=True)
class ExecutedChapter:
    """Outputs of an executed chapter.

    Attributes
    ----------
    outputs
        nbformat output dicts per cell number (absent for cells not evaluated).
    inline
        ``{index: (is_markdown, text)}`` for each inline expression.
    """

    outputs: dict[int, list[dict[str, Any]]]
    inline: dict[int, tuple[bool, str]]


def _flag(value: Any, default: bool) -> bool:
    if value is None:
        return default
    return bool(value)


def cell_options(cell: Cell, defaults: dict[str, Any]) -> CellOptions:
    """Resolve a cell's options against project/chapter ``execute`` defaults."""
    merged = {**defaults, **cell.options}
    output = merged.get("output", True)
    echo = merged.get("echo", True)
    return CellOptions(
        eval=_flag(merged.get("eval"), True) and cell.lang == "python",
        echo=echo if echo == "fenced" else _flag(echo, True),
        include=_flag(merged.get("include"), True),
        output=output if output == "asis" else _flag(output, True),
        warning=_flag(merged.get("warning"), True),
        error=_flag(merged.get("error"), False),
    )


_KERNEL_DIR_LOCK = threading.Lock()


def _kernel_dir() -> str:
    """A kernelspec folder whose only kernel runs this interpreter's ipykernel."""
    with _KERNEL_DIR_LOCK:  # chapters run in threads: write the spec once per process
        return _write_kernel_dir()


@cache
def _write_kernel_dir() -> str:
    # One folder per interpreter (virtualenvs side by side must not share a spec).
    tag = hashlib.sha256(os.fsencode(sys.executable)).hexdigest()[:12]
    root = Path(tempfile.gettempdir()) / f"medbook-kernels-{os.getuid()}-{tag}"
    spec_dir = root / _KERNEL_NAME
    spec_dir.mkdir(parents=True, exist_ok=True)
    spec = {
        "argv": [
            sys.executable,
            "-m",
            "ipykernel_launcher",
            "--IPKernelApp.log_level=ERROR",
            "-f",
            "{connection_file}",
        ],
        "display_name": "medbook (Python)",
        "language": "python",
    }
    handle, name = tempfile.mkstemp(prefix=".kernel.json.", dir=spec_dir)
    with os.fdopen(handle, "w", encoding="utf-8") as out:
        out.write(json.dumps(spec))
    os.replace(name, spec_dir / "kernel.json")  # atomic: parallel renders read a whole file
    return str(root)


def _code_cell(source: str, **meta: Any) -> nbformat.NotebookNode:
    cell = nbformat.v4.new_code_cell(source)
    cell.metadata["medbook"] = meta
    return cell


def _notebook(doc: QmdDocument, defaults: dict[str, Any]) -> nbformat.NotebookNode:
    setup = resources.files(__package__).joinpath("_kernel_setup.py").read_text("utf-8")
    cells = [_code_cell(setup, role="setup")]
    for block in doc.blocks:
        if isinstance(block, MarkdownChunk):
            exprs = block.inline
            if exprs:
                args = ", ".join(f"({e.expr})" for e in exprs)
                cells.append(
                    _code_cell(
                        f"_medbook_inline({args},)",
                        role="inline",
                        indexes=[e.index for e in exprs],
                    )
                )
            continue
        opts = cell_options(block, defaults)
        if not opts.eval:
            continue
        if not opts.warning:
            cells.append(_code_cell("_medbook_quiet()", role="hidden"))
        cell = _code_cell(block.source, role="cell", number=block.number)
        if opts.error:
            cell.metadata["tags"] = ["raises-exception"]
        cells.append(cell)
        if not opts.warning:
            cells.append(_code_cell("_medbook_loud()", role="hidden"))
    nb = nbformat.v4.new_notebook(cells=cells)
    nb.metadata["kernelspec"] = {
        "name": _KERNEL_NAME,
        "display_name": "medbook",
        "language": "python",
    }
    return nb


def _is_setup(cell: nbformat.NotebookNode) -> bool:
    return cell.metadata.get("medbook", {}).get("role") == "setup"


def _where(doc: QmdDocument, cell: nbformat.NotebookNode) -> str:
    """How an error message names a notebook cell of the chapter."""
    meta = cell.metadata.get("medbook", {})
    if meta.get("role") == "cell":
        return {c.number: c for c in doc.cells}[meta["number"]].name
    if meta.get("role") == "inline":
        return "inline expression " + ", ".join(f"#{i}" for i in meta["indexes"])
    return "setup cell"


def _failure(
    doc: QmdDocument, nb: nbformat.NotebookNode, err: Exception, client: BoundedClient
) -> RenderError:
    from nbclient.exceptions import DeadKernelError

    running = nb.cells[client.running] if client.running is not None else None
    if isinstance(err, DeadKernelError):
        where = f"while running {_where(doc, running)}" if running is not None else "at start"
        return RenderError(
            f"{doc.name}: the Jupyter kernel died {where} "
            "(the code exited or crashed the Python process)"
        )
    if isinstance(err, TimeoutError) and running is not None:
        return RenderError(
            f"{doc.name}: {_where(doc, running)} did not finish within {client.timeout} s "
            "(MEDBOOK_CELL_TIMEOUT sets the limit per cell)"
        )
    for cell in nb.cells:
        errors = [o for o in cell.get("outputs", []) if o.get("output_type") == "error"]
        if not errors:
            continue
        trace = _ANSI.sub("", "\n".join(errors[0].get("traceback", [])))
        last = f"{errors[0].get('ename')}: {errors[0].get('evalue')}"
        return RenderError(f"{doc.name}: {_where(doc, cell)} failed: {last}\n{trace}")
    return RenderError(f"{doc.name}: execution failed: {_ANSI.sub('', str(err))[:500]}")


def execute_document(
    doc: QmdDocument, *, cwd: Path, defaults: dict[str, Any], timeout: int | None = None
) -> ExecutedChapter:
    """Run a chapter's cells in a fresh kernel.

    Parameters
    ----------
    doc
        The parsed chapter.
    cwd
        Working directory of the kernel.
    defaults
        ``execute`` options of the project merged with the chapter's.
    timeout
        Seconds allowed per cell (default: :func:`~medbook.publish.client.cell_timeout`).
        Output beyond :func:`~medbook.publish.client.output_limit` is truncated.

    Raises
    ------
    RenderError
        Naming the chapter and the cell, with the traceback, if a cell fails, runs
        out of time, or its kernel dies.
    """
    from jupyter_client.kernelspec import KernelSpecManager
    from jupyter_client.manager import AsyncKernelManager
    from nbclient.exceptions import CellExecutionError, DeadKernelError

    nb = _notebook(doc, defaults)
    limit = timeout or cell_timeout()
    ksm = KernelSpecManager(kernel_dirs=[_kernel_dir()])
    km = AsyncKernelManager(kernel_name=_KERNEL_NAME, kernel_spec_manager=ksm)
    client = BoundedClient(
        nb,
        km=km,
        limit=output_limit(),
        timeout=limit,
        # medbook's own setup cell (imports) is not held to a short user limit
        timeout_func=lambda cell: max(limit, 600) if _is_setup(cell) else limit,
        shutdown_kernel="immediate",
        allow_errors=False,
        record_timing=False,
        resources={"metadata": {"path": str(cwd)}},
    )
    env = {**os.environ, "SOURCE_DATE_EPOCH": "0", "PYTHONHASHSEED": "0"}
    env["MEDBOOK_OUTPUT_LIMIT"] = str(client.limit)  # the kernel caps its streams too
    env.pop("MPLBACKEND", None)
    try:
        client.execute(env=env, cwd=str(cwd))
    except (CellExecutionError, DeadKernelError, TimeoutError) as err:
        raise _failure(doc, nb, err, client) from None
    except RuntimeError as err:
        raise RenderError(f"{doc.name}: cannot start the Jupyter kernel: {err}") from err
    outputs: dict[int, list[dict[str, Any]]] = {}
    inline: dict[int, tuple[bool, str]] = {}
    for cell in nb.cells:
        meta = cell.metadata.get("medbook", {})
        if meta.get("role") == "cell":
            outputs[meta["number"]] = [dict(o) for o in cell.outputs]
        elif meta.get("role") == "inline":
            values = [
                o["data"][INLINE_MIME]["values"]
                for o in cell.outputs
                if o.get("output_type") == "display_data" and INLINE_MIME in o.get("data", {})
            ]
            if len(values) != 1:
                raise RenderError(f"{doc.name}: inline expressions {meta['indexes']} gave no value")
            for index, value in zip(meta["indexes"], values[0], strict=True):
                inline[index] = (bool(value["markdown"]), str(value["text"]))
    return ExecutedChapter(outputs=outputs, inline=inline)
