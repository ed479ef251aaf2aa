"""One memo per segment (region, product, channel, ...) and an index comparing them.

:func:`write_segment_memos` splits the data by a column's values, writes one complete
memo folder per segment through a caller-supplied writer, and skips a segment that is
too small or degenerate to analyse, recording why. :func:`index_markdown` lists every
segment with its headline numbers; :func:`forest_table` feeds the forest plot across
segments. Segment values are untrusted text: folder names are ASCII slugs with a hash
of the value (stable across runs, so each segment keeps its own history), and every
value shown is escaped by the caller's escaper.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import shutil
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from .errors import ConfigError, DataError, FitError
from .history import Estimate, Previous, RunRecord, read_previous
from .sanitize import clean_text

__all__ = [
    "INDEX_NAMES",
    "MAX_SEGMENTS",
    "MIN_SEGMENT_ROWS",
    "SegmentOutcome",
    "forest_table",
    "index_markdown",
    "owned_by_segments",
    "previous_segment_root",
    "segment_slug",
    "segment_values",
    "terminal_text",
    "write_segment_memos",
]

#: A segment with fewer rows is listed as skipped rather than analysed: below this,
#: bootstrap intervals of an indirect effect are too wide to support a decision.
MIN_SEGMENT_ROWS = 100
#: More distinct values than this is an identifier, not a segment column.
MAX_SEGMENTS = 500
#: Files of a segmented output folder besides the segment folders.
INDEX_NAMES = frozenset({"index.html", "index.md", "segments.json", "figures"})
_SLUG_TEXT = 40
_SHOWN_TEXT = 80
_SLUG = re.compile(r"[a-z0-9-]{1,60}")
_MAX_LISTING_BYTES = 8 << 20

WriteOne = Callable[[pd.DataFrame, Path, "Previous | None"], RunRecord]


@dataclass(frozen=True)
class SegmentOutcome:
    """What happened to one segment: its memo's headline numbers, or why it was skipped."""

    value: str
    slug: str
    n: int
    record: RunRecord | None = None
    skipped_because: str = ""

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe summary (a row of ``segments.json``)."""
        return {
            "value": clean_text(self.value),
            "folder": self.slug if self.record is not None else None,
            "n": self.n,
            "status": "written" if self.record is not None else "skipped",
            "skipped_because": self.skipped_because or None,
            "headline": self.record.to_dict()["estimates"] if self.record is not None else None,
            "recommendation": self.record.recommendation if self.record is not None else None,
        }


def segment_slug(value: str) -> str:
    """A folder name for a segment value: ASCII letters, digits and dashes, plus a hash.

    Examples
    --------
    >>> segment_slug("North-East")
    'north-east-a3056a33'
    >>> segment_slug("../x").startswith("x-")
    True
    """
    ascii_text = unicodedata.normalize("NFKD", value).encode("ascii", "ignore").decode("ascii")
    stem = re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")[:_SLUG_TEXT].strip("-")
    digest = hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()[:8]
    return f"{stem or 'segment'}-{digest}"


def segment_values(frame: pd.DataFrame, column: str) -> tuple[pd.Series, int]:
    """Each row's segment as text (missing values as None) and the count of such rows."""
    if column not in frame.columns:
        raise DataError(f"segment column {column!r} not found in the data")
    values = frame[column]
    missing = values.isna()
    text = values.map(_value_text).where(~missing, None)
    return text, int(missing.sum())


def write_segment_memos(
    frame: pd.DataFrame,
    column: str,
    folder: Path,
    *,
    write_one: WriteOne,
    previous_root: Path | None,
    progress: Callable[[str], None] = lambda value: None,
) -> list[SegmentOutcome]:
    """Write one memo folder per segment value into ``folder``.

    Parameters
    ----------
    frame : pandas.DataFrame
        All rows.
    column : str
        The segment column.
    folder : pathlib.Path
        The (temporary) output root; segment folders are created inside it.
    write_one : callable
        ``write_one(rows, segment_folder, previous)`` writes one memo and returns
        its :class:`~medbook.history.RunRecord`; a :class:`DataError` or
        :class:`FitError` it raises marks the segment as skipped.
    previous_root : pathlib.Path or None
        An earlier segmented output; each segment compares with its own folder there.
    progress : callable
        Called with each segment's value once it is written or skipped.

    Returns
    -------
    list of SegmentOutcome
        In the order of the sorted segment values.
    """
    text, _ = segment_values(frame, column)
    positions = text.dropna().groupby(text.dropna(), sort=True).indices
    if not positions:
        raise DataError(f"segment column {column!r} has no values")
    if len(positions) > MAX_SEGMENTS:
        raise DataError(
            f"segment column {column!r} has {len(positions):,} distinct values; one memo per "
            f"value is written for at most {MAX_SEGMENTS:,} segments"
        )
    outcomes = []
    for value, where in positions.items():
        rows = frame.loc[text.dropna().index[where]]
        outcomes.append(_write_segment(value, rows, folder, write_one, previous_root))
        progress(value)
    if all(o.record is None for o in outcomes):
        first = outcomes[0]
        raise DataError(
            f"no segment of {column!r} could be analysed (e.g. {_shown(first.value)!r}: "
            f"{first.skipped_because})"
        )
    return outcomes


def _write_segment(
    value: str, rows: pd.DataFrame, folder: Path, write_one: WriteOne, previous_root: Path | None
) -> SegmentOutcome:
    slug = segment_slug(value)
    if len(rows) < MIN_SEGMENT_ROWS:
        return SegmentOutcome(
            value, slug, len(rows),
            skipped_because=f"{len(rows):,} rows, fewer than the minimum of "
                            f"{MIN_SEGMENT_ROWS} for a segment memo",
        )
    target = folder / slug
    target.mkdir()
    try:
        record = write_one(rows, target, _previous_segment(previous_root, slug))
    except (DataError, FitError) as err:
        shutil.rmtree(target, ignore_errors=True)
        return SegmentOutcome(value, slug, len(rows), skipped_because=_one_line(str(err)))
    return SegmentOutcome(value, slug, len(rows), record=record)


def forest_table(outcomes: Sequence[SegmentOutcome]) -> pd.DataFrame:
    """Headline estimates of the analysed segments, one row per segment and estimand."""
    rows = [
        {"segment": _shown(o.value), "estimand": key, "estimate": e.estimate,
         "ci_lower": e.ci_lower, "ci_upper": e.ci_upper}
        for o in outcomes if o.record is not None
        for key, e in o.record.estimates.items() if key in ("te", "nie1", "nde0")
    ]
    return pd.DataFrame(rows, columns=["segment", "estimand", "estimate", "ci_lower",
                                       "ci_upper"])


def index_markdown(
    outcomes: Sequence[SegmentOutcome],
    *,
    title: str,
    column: str,
    n_missing: int,
    memo_file: str | None,
    forest: str | None,
    escape: Callable[[object], str],
) -> str:
    """The index page (pandoc Markdown) listing every segment.

    ``escape`` makes the user's text inert in Markdown; ``memo_file`` is the memo
    document each row links to (None: no link); ``forest`` the forest figure's path.
    """
    written = [o for o in outcomes if o.record is not None]
    skipped = [o for o in outcomes if o.record is None]
    conf = f"{100 * written[0].record.conf_level:g}%" if written else "95%"
    lines = [
        f"# {escape(title)}", "",
        f"One memo per value of {escape(column)}: {len(written)} written, "
        f"{len(skipped)} skipped. Each memo is a separate analysis of that segment's rows; "
        "segment intervals are not adjusted for comparing several segments.", "",
    ]
    if n_missing:
        lines += [f"{n_missing:,} row(s) with no {escape(column)} value are in no segment.", ""]
    lines += [
        f"| Segment | Units | Total effect ({conf} CI) | Indirect effect NIE(1) | "
        "Direct effect NDE(0) | Recommendation |",
        "|:---|---:|:---:|:---:|:---:|:---|",
    ]
    for o in written:
        name = escape(_shown(o.value))
        link = f"[{name}]({o.slug}/{memo_file})" if memo_file else name
        cells = [_cell(o.record.estimates[k]) for k in ("te", "nie1", "nde0")]
        lines.append(f"| {link} | {o.n:,} | {' | '.join(cells)} | {o.record.recommendation} |")
    lines.append("")
    if forest and written:
        lines += [f"![Total, indirect and direct effects by segment]({forest})", ""]
    if skipped:
        lines += ["## Skipped segments", ""]
        lines += [f"- **{escape(_shown(o.value))}** ({o.n:,} rows): "
                  f"{escape(o.skipped_because.rstrip('.'))}." for o in skipped]
        lines.append("")
    return "\n".join(lines)


def previous_segment_root(out_dir: Path, previous: Path | None) -> Path | None:
    """The earlier segmented output to compare with: ``previous`` or ``out_dir`` itself."""
    root = Path(previous) if previous is not None else out_dir
    if (root / "segments.json").is_file():
        return root
    if previous is not None:
        raise ConfigError(
            f"previous run {str(previous)!r} is not a segmented memo folder (no segments.json)"
        )
    return None


def owned_by_segments(out_dir: Path) -> Callable[[Path], bool]:
    """``owned(path)`` for an existing segmented output: the index files and the segment
    folders its ``segments.json`` lists (an unreadable listing owns no folder)."""
    slugs: set[str] = set()
    listing = out_dir / "segments.json"
    try:
        if listing.is_file() and listing.stat().st_size < _MAX_LISTING_BYTES:
            rows = json.loads(listing.read_text(encoding="utf-8")).get("segments", [])
            slugs = {r["folder"] for r in rows
                     if isinstance(r, dict) and isinstance(r.get("folder"), str)
                     and _SLUG.fullmatch(r["folder"])}
    except (OSError, ValueError, AttributeError, RecursionError):
        slugs = set()
    return lambda p: p.name in INDEX_NAMES or (p.name in slugs and p.is_dir())


def _previous_segment(root: Path | None, slug: str) -> Previous | None:
    if root is None or not (root / slug).is_dir():
        return None
    return read_previous(root / slug)


def _value_text(value: Any) -> str:
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        return str(int(value))
    return str(value)


def _shown(value: str) -> str:
    return value if len(value) <= _SHOWN_TEXT else value[: _SHOWN_TEXT - 1] + "…"


def terminal_text(value: str, limit: int = 30) -> str:
    """A segment value safe to print on a terminal: no control characters, short."""
    return "".join(ch if ch.isprintable() else "?" for ch in value[:limit])


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _cell(estimate: Estimate) -> str:
    if estimate.estimate is None:
        return "n/a"
    return (f"{estimate.estimate:.3f} ({estimate.ci_lower:.3f} to {estimate.ci_upper:.3f})"
            if estimate.ci_lower is not None else f"{estimate.estimate:.3f}")
