"""Fonts for user text in every script: fallbacks for figures and PDFs, and a warning.

The project's set-up (``make setup``) installs Debian's Noto CJK and Noto Color
Emoji fonts next to graphviz. Typst (the memo and report PDFs) and graphviz (the
DAG) find installed fonts through their own fallback; figures are drawn by
matplotlib, which falls back only along an explicit list, given by
:func:`figure_families`. Characters that no installed font covers would vanish
(or print as empty boxes), so :func:`uncovered_characters` finds them — with
fontconfig's ``fc-list`` — and the memo warns about them by name.
"""

from __future__ import annotations

import shutil
import subprocess
import unicodedata
from collections.abc import Iterable
from functools import cache

__all__ = ["FALLBACK_FAMILIES", "figure_families", "uncovered_characters"]

#: Fonts tried after the main one, in order (CJK, then emoji).
FALLBACK_FAMILIES = ("Noto Sans CJK SC", "Noto Sans CJK JP", "Noto Color Emoji")
_COLOUR_ONLY = {"Noto Color Emoji"}  # bitmap (CBDT) glyphs: typst and browsers, not matplotlib
_BUNDLED_UP_TO = 0x052F  # Latin, Greek, Cyrillic: covered by the fonts typst and matplotlib ship
_MAX_CHECKED = 64
_SKIPPED = {"Cc", "Cf", "Cs", "Mn", "Me"}  # controls, format characters, combining marks


@cache
def figure_families(base: str = "DejaVu Sans") -> tuple[str, ...]:
    """``base`` followed by the installed fallback families matplotlib can draw.

    Fonts installed after matplotlib cached its font list are registered from
    fontconfig's answer, so a stale cache does not hide them.

    Examples
    --------
    >>> figure_families()[0]
    'DejaVu Sans'
    """
    from matplotlib import font_manager

    manager = font_manager.fontManager
    wanted = [f for f in FALLBACK_FAMILIES if f not in _COLOUR_ONLY]
    for family in wanted:
        if family not in {font.name for font in manager.ttflist}:
            for path in _fontconfig_files(family):
                manager.addfont(path)
    installed = {font.name for font in manager.ttflist}
    return (base, *(f for f in wanted if f in installed))


def _fontconfig_files(family: str) -> list[str]:
    fc_list = shutil.which("fc-list")
    if fc_list is None:
        return []
    try:
        proc = subprocess.run(
            [fc_list, "--format", "%{file}\\n", f"{family}:style=Regular"],
            capture_output=True, text=True, timeout=10, check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return []
    return sorted({line for line in proc.stdout.splitlines() if line.strip()})


def uncovered_characters(texts: Iterable[str]) -> list[str]:
    """Characters of ``texts`` that no installed font can draw.

    Latin, Greek and Cyrillic letters are always covered (typst and matplotlib
    ship fonts for them); other characters are looked up with fontconfig. Without
    ``fc-list`` nothing is reported.

    Parameters
    ----------
    texts : iterable of str
        User strings that will be printed (labels, question, levels ...).

    Returns
    -------
    list of str
        Distinct uncovered characters, in order of appearance (at most 64 are checked).

    Examples
    --------
    >>> uncovered_characters(["Onboarding call", "7-day activation"])
    []
    """
    seen: dict[str, None] = {}
    for text in texts:
        for char in text:
            category = unicodedata.category(char)
            if ord(char) > _BUNDLED_UP_TO and category[0] != "Z" and category not in _SKIPPED:
                seen.setdefault(char)
    candidates = list(seen)[:_MAX_CHECKED]
    return [c for c in candidates if not _covered(ord(c))]


@cache
def _covered(codepoint: int) -> bool:
    fc_list = shutil.which("fc-list")
    if fc_list is None:
        return True
    try:
        proc = subprocess.run(
            [fc_list, "-q", f":charset={codepoint:x}"], capture_output=True, timeout=10,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return True
    return proc.returncode == 0
