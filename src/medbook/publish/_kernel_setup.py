"""Run in every chapter's kernel before its first cell (hidden; never published).

Makes outputs deterministic and convertible: matplotlib figures as both SVG (web)
and PNG (PDF), DataFrames as pandoc pipe tables (``text/markdown``), and helpers
for inline expressions and ``warning: false`` cells.
"""

import warnings as _medbook_warnings

import matplotlib as _medbook_mpl
from IPython import get_ipython as _medbook_get_ipython
from IPython.display import display as _medbook_display

_medbook_mpl.rcParams["svg.hashsalt"] = "medbook"
_medbook_mpl.rcParams["svg.fonttype"] = "path"
_medbook_ip = _medbook_get_ipython()
# Inline backend: pyplot figures are shown at the end of a cell, and Figure objects
# (also ones made without pyplot) are displayed through the formatters set below.
_medbook_ip.run_line_magic("matplotlib", "inline")
_medbook_ip.run_line_magic("config", "InlineBackend.figure_formats = ['svg', 'png']")
_medbook_ip.run_line_magic(
    "config", "InlineBackend.print_figure_kwargs = {'bbox_inches': 'tight', 'dpi': 144}"
)
_medbook_ip.run_line_magic("config", "InlineBackend.close_figures = True")


def _medbook_escape(text):
    from medbook.convert import escape_markdown

    return escape_markdown(text)


def _medbook_frame_markdown(frame):
    """A DataFrame as a pandoc pipe table, or None (HTML/text output) if it cannot be one."""
    try:
        return _medbook_frame_table(frame)
    except Exception:
        return None


def _medbook_frame_table(frame):
    """A DataFrame as a pandoc pipe table (index shown unless it is the default range)."""
    import pandas as pd

    try:  # pandas' own column formatting (common decimals per column), as in to_string()
        from pandas.io.formats.format import format_array
    except ImportError:  # pragma: no cover - moved in a future pandas

        def format_array(values, _formatter):
            return [str(v) for v in values]

    max_rows = pd.get_option("display.max_rows") or len(frame)
    if len(frame) > max_rows:
        half = max(max_rows // 2, 1)
        shown = pd.concat([frame.head(half), frame.tail(half)])
    else:
        half, shown = None, frame
    show_index = (
        not (isinstance(shown.index, pd.RangeIndex) and shown.index.name is None)
        or half is not None
    )

    def header(key):
        return " / ".join(map(str, key)) if isinstance(key, tuple) else str(key)

    columns = []
    if show_index:
        index_name = header(frame.index.name) if frame.index.name is not None else ""
        columns.append((index_name, [header(k) for k in shown.index], "left"))
    for position, name in enumerate(shown.columns):
        values = shown.iloc[:, position]
        numeric = pd.api.types.is_numeric_dtype(values.dtype)
        try:
            cells = [c.strip() for c in format_array(values.to_numpy(), None)]
        except (TypeError, ValueError):
            cells = [str(v) for v in values]
        columns.append((header(name), cells, "right" if numeric else "left"))
    rows = list(zip(*(cells for _, cells, _ in columns), strict=True))
    if half is not None:
        rows.insert(half, tuple("…" for _ in columns))
    # Dash counts set the relative column widths when pandoc has to wrap a wide table.
    widths = [max(3, len(name), *(len(c) for c in cells)) for name, cells, _ in columns]
    rule = [
        ":" + "-" * w if a == "left" else "-" * w + ":"
        for w, (_, _, a) in zip(widths, columns, strict=True)
    ]
    lines = [
        "| " + " | ".join(_medbook_escape(name) or " " for name, _, _ in columns) + " |",
        "|" + "|".join(rule) + "|",
    ]
    lines += ["| " + " | ".join(_medbook_escape(c) for c in row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


for _medbook_module in ("pandas", "pandas.core.frame"):
    _medbook_ip.display_formatter.formatters["text/markdown"].for_type_by_name(
        _medbook_module, "DataFrame", _medbook_frame_markdown
    )


def _medbook_inline(*values):
    """Display inline-expression values: Markdown objects as Markdown, others as text."""
    out = []
    for value in values:
        if hasattr(value, "_repr_markdown_"):
            markdown = value._repr_markdown_()
            if isinstance(markdown, tuple):
                markdown = markdown[0]
            out.append({"markdown": True, "text": str(markdown)})
        else:
            out.append({"markdown": False, "text": str(value)})
    _medbook_display({"application/vnd.medbook.inline+json": {"values": out}}, raw=True)


_medbook_quiet_stack = []


def _medbook_quiet():
    """Silence warnings until :func:`_medbook_loud` (for ``warning: false`` cells)."""
    context = _medbook_warnings.catch_warnings()
    context.__enter__()
    _medbook_warnings.simplefilter("ignore")
    _medbook_quiet_stack.append(context)


def _medbook_loud():
    """Restore the warning filters saved by :func:`_medbook_quiet`."""
    _medbook_quiet_stack.pop().__exit__(None, None, None)


class _MedbookCappedStream:
    """``sys.stdout``/``sys.stderr`` that stop passing text on once a cell printed too much.

    The renderer truncates each cell's output at ``MEDBOOK_OUTPUT_LIMIT`` and says so;
    capping at the source as well keeps a cell printing gigabytes from flooding the
    kernel's messages (the renderer still sees that the limit was passed).
    """

    def __init__(self, stream, budget):
        self._medbook_stream = stream
        self._medbook_budget = budget
        self._medbook_used = 0

    def write(self, text):
        room = self._medbook_budget - self._medbook_used
        if room > 0:
            self._medbook_stream.write(text[:room])
        self._medbook_used += len(text)
        return len(text)

    def __getattr__(self, name):
        return getattr(self._medbook_stream, name)


def _medbook_cap_streams():
    import os
    import sys

    budget = int(os.environ.get("MEDBOOK_OUTPUT_LIMIT") or 100_000) + 1_000
    out = sys.stdout = _MedbookCappedStream(sys.stdout, budget)
    err = sys.stderr = _MedbookCappedStream(sys.stderr, budget)

    def reset(*_args):
        out._medbook_used = err._medbook_used = 0

    _medbook_ip.events.register("pre_run_cell", reset)


_medbook_cap_streams()
