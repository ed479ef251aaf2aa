"""A stand-in for the ``quarto`` CLI in tests (no real Quarto can be installed here).

Every call appends its arguments (and ``QUARTO_PYTHON``) as one JSON line to
``$FAKE_QUARTO_LOG``. ``quarto render PROJECT [--to html|typst] [--output-dir DIR]``
writes what Quarto 1.9 writes for a book: the HTML pages, and for typst the book
PDF laid out like Quarto's default typst book template (orange-book): a title
page, part pages on odd pages listing their chapters, every chapter opening on an
odd page with its level-1 heading (a PDF bookmark), running headers on the other
pages, and blank pages where a chapter must start on an odd page. It never runs a
cell. ``quarto preview ...`` records its arguments and sleeps
``$FAKE_QUARTO_PREVIEW_SECONDS`` (as if serving).
"""

from __future__ import annotations

import json
import os
import re
import sys
import time
from pathlib import Path

import typst
import yaml

HEADING = re.compile(r"^#\s+(.+?)\s*(\{[^}]*\})?\s*$", flags=re.MULTILINE)


def _chapters(config: dict) -> list[tuple[str | None, str]]:
    out: list[tuple[str | None, str]] = []
    for item in config["book"]["chapters"]:
        if isinstance(item, dict):
            out += [(item["part"], c) for c in item["chapters"]]
        else:
            out.append((None, item))
    return out


def _string(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _book_typst(root: Path, config: dict) -> str:
    lines = [
        '#set page(paper: "a4", header: context {',
        "  let here-page = here().page()",
        "  if query(heading.where(level: 1)).any(h => h.location().page() == here-page) { return }",
        "  let before = query(selector(heading.where(level: 1)).before(here()))",
        "  if before != () { text(8pt)[#here-page #h(1fr) #before.last().body] }",
        "})",
        '#show heading.where(level: 1): it => { pagebreak(to: "odd", weak: true); it }',
        f"#align(center)[#text(24pt)[{_string(config['book']['title'])}]]",
        "#pagebreak()",
        "#outline()",
    ]
    current = None
    chapters = _chapters(config)
    for part, rel in chapters:
        text = (root / rel).read_text(encoding="utf-8")
        title = HEADING.search(text).group(1)
        if part and part != current:
            members = [
                HEADING.search((root / r).read_text(encoding="utf-8")).group(1)
                for p, r in chapters
                if p == part
            ]
            lines += [
                '#pagebreak(to: "odd", weak: true)',
                f"#text(30pt)[{_string(part)}]",
                *(f"- #{_string(m)}" for m in members),
            ]
        current = part
        prose = [
            line
            for line in text.splitlines()
            if line.strip() and not line.startswith(("#", "`", ":::", "|", "$"))
        ]
        lines.append(f"#heading(level: 1, {_string(title)})")
        lines += [f"#{_string(line)}\n" for line in prose]
        # a long chapter: enough text to run over several pages
        lines += ["#lorem(120)\n" for _ in range(12 if rel.endswith("methods.qmd") else 1)]
    return "\n".join(lines) + "\n"


def _render(root: Path, args: list[str]) -> None:
    config = yaml.safe_load((root / "_quarto.yml").read_text(encoding="utf-8"))
    to = args[args.index("--to") + 1] if "--to" in args else None
    out = Path(args[args.index("--output-dir") + 1]) if "--output-dir" in args else None
    out = out or root / config["project"].get("output-dir", "_book")
    out.mkdir(parents=True, exist_ok=True)
    formats = ["html", "typst"] if to is None else [to]
    for _part, rel in _chapters(config):
        freeze = root / "_freeze" / Path(rel).with_suffix("") / "execute-results"
        freeze.mkdir(parents=True, exist_ok=True)
        for fmt in formats:
            (freeze / f"{'typ' if fmt == 'typst' else fmt}.json").write_text("{}")
        if "html" in formats:
            page = out / Path(rel).with_suffix(".html")
            page.parent.mkdir(parents=True, exist_ok=True)
            page.write_text(f"<html><body>{rel}</body></html>\n")
    if "typst" in formats:
        name = config["book"].get("output-file") or config["book"]["title"].replace(" ", "-")
        pdf = typst.compile(_book_typst(root, config).encode("utf-8"), format="pdf")
        (out / f"{name}.pdf").write_bytes(pdf)


def main(argv: list[str]) -> int:
    log = os.environ.get("FAKE_QUARTO_LOG")
    if log:
        with open(log, "a", encoding="utf-8") as handle:
            record = {
                "argv": argv,
                "python": os.environ.get("QUARTO_PYTHON"),
                "cwd": os.getcwd(),
                "pid": os.getpid(),
            }
            handle.write(json.dumps(record) + "\n")
    if argv and argv[0] == "preview":  # serves until stopped, like quarto preview
        time.sleep(float(os.environ.get("FAKE_QUARTO_PREVIEW_SECONDS", "0")))
    if argv and argv[0] == "render":
        root = Path(argv[1]) if len(argv) > 1 and not argv[1].startswith("-") else Path.cwd()
        _render(root, argv[2:])
    return int(os.environ.get("FAKE_QUARTO_EXIT", "0"))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
