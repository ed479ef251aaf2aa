"""One sanitiser for every user string that reaches a document, figure or file.

Labels, the decision question, column names, treatment and covariate levels and
file names are untrusted text. Before any of them is escaped for an output format
(:mod:`medbook.convert`), drawn into a figure (:mod:`medbook.plots`,
:mod:`medbook.dags`) or written to ``results.json``, :func:`clean_text` makes it
a single line of well-formed text:

* line and paragraph separators (``\\n``, ``\\r``, VT, FF, NEL U+0085, U+2028,
  U+2029, the C0 information separators) and tabs become one space, so a label
  cannot start a heading, list item or table row in Markdown or typst;
* other control characters (NUL, BEL, ESC, DEL, the C1 range) are removed: they
  are invalid in XML (SVG) and meaningless in print;
* bidirectional embedding, override and isolate controls (U+202A-U+202E,
  U+2066-U+2069) are removed, so an unterminated right-to-left override cannot
  reverse the rest of a sentence, numbers included;
* surrogate pairs (YAML's ``"\\ud83d\\ude00"`` escapes make them) are joined;
  lone surrogates (from a non-UTF-8 file name or a ``"\\ud800"`` escape) become
  U+FFFD and Unicode noncharacters are removed, so the text always encodes as
  UTF-8 and is valid XML;
* the result is NFC-normalised, with runs of spaces collapsed.

:func:`isolate` then wraps text containing right-to-left letters in FIRST STRONG
ISOLATE ... POP DIRECTIONAL ISOLATE (U+2068 ... U+2069), which browsers and typst
both honour (the plain-text equivalent of HTML's ``<bdi>``): a Hebrew or Arabic
label keeps its own direction without reordering the English sentence around it.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from pathlib import PurePath
from typing import Any

__all__ = ["clean_text", "clean_tree", "display_name", "isolate"]

_FSI, _PDI = "\u2068", "\u2069"
_BREAKS = "\t\n\v\f\r\x1c\x1d\x1e\x1f\x85\u2028\u2029"
_BIDI_CONTROLS = "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
_TABLE: dict[int, Any] = {ord(c): " " for c in _BREAKS}
_TABLE.update({c: None for c in [*range(0x00, 0x20), *range(0x7F, 0xA0)] if c not in _TABLE})
_TABLE.update({ord(c): None for c in _BIDI_CONTROLS})
_TABLE[0xFEFF] = None  # a byte-order mark inside text
_TABLE.update({c: None for c in range(0xFDD0, 0xFDF0)})  # noncharacters: invalid in XML
_TABLE.update({(plane << 16) | low: None for plane in range(17) for low in (0xFFFE, 0xFFFF)})
_SURROGATE = re.compile("[\ud800-\udfff]")
_SPACES = re.compile(r" {2,}")
_RTL_CLASSES = frozenset({"R", "AL", "AN"})


def clean_text(value: object, *, limit: int | None = None) -> str:
    """User text as one line of printable, UTF-8-encodable, XML-valid text.

    Parameters
    ----------
    value : object
        Any value; converted with ``str``. Bytes are decoded as UTF-8 with
        replacement characters.
    limit : int, optional
        Keep at most this many characters (an ellipsis marks the cut).

    Returns
    -------
    str
        The cleaned text (possibly empty).

    Examples
    --------
    >>> clean_text("Activation\\u2028# Injected heading")
    'Activation # Injected heading'
    >>> clean_text("price \\u202edesrever 42")
    'price desrever 42'
    >>> clean_text("bell\\x07 and escape\\x1b[31m")
    'bell and escape[31m'
    >>> clean_text("name\\udcff.csv")
    'name\\ufffd.csv'
    >>> clean_text("smile \\ud83d\\ude00") == "smile \\U0001f600"
    True
    >>> clean_text("x" * 10, limit=4)
    'xxx…'
    """
    if isinstance(value, (bytes, bytearray)):
        text = bytes(value).decode("utf-8", "replace")
    else:
        text = str(value)
    if _SURROGATE.search(text):  # join pairs (YAML's "\\ud83d\\ude00"), then mark lone ones
        text = text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "surrogatepass")
        text = _SURROGATE.sub("\ufffd", text)
    text = text.translate(_TABLE)
    text = _SPACES.sub(" ", unicodedata.normalize("NFC", text)).strip()
    if limit is not None and len(text) > limit:
        text = text[: max(limit - 1, 0)].rstrip() + "…"
    return text


def isolate(text: str) -> str:
    """Wrap text holding right-to-left characters in a directional isolate.

    Text without Hebrew, Arabic or similar letters (or Arabic digits) cannot
    reorder the sentence around it and is returned unchanged.

    Examples
    --------
    >>> isolate("Onboarding call")
    'Onboarding call'
    >>> isolate("\\u05e9\\u05dc\\u05d5\\u05dd") == "\\u2068\\u05e9\\u05dc\\u05d5\\u05dd\\u2069"
    True
    """
    if any(unicodedata.bidirectional(c) in _RTL_CLASSES for c in text):
        return f"{_FSI}{text}{_PDI}"
    return text


def display_name(path: PurePath | str) -> str:
    """A file's name for display: cleaned, with undecodable bytes as U+FFFD.

    Examples
    --------
    >>> display_name("/tmp/data\\udce9.csv")
    'data\\ufffd.csv'
    """
    return clean_text(PurePath(path).name)


def clean_tree(value: Any) -> Any:
    """:func:`clean_text` applied to every string (keys too) of nested dicts and lists.

    Examples
    --------
    >>> clean_tree({"label\\x1b": ["a\\u2029b", 1.5, None]})
    {'label': ['a b', 1.5, None]}
    """
    if isinstance(value, str):
        return clean_text(value)
    if isinstance(value, Mapping):
        return {clean_tree(k): clean_tree(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [clean_tree(v) for v in value]
    return value
