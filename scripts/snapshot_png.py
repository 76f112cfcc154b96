"""Render a Textual snapshot SVG to PNG for looking at it: every character at its own cell.

Textual's SVG places each run of same-styled text once, with ``textLength`` saying how wide
it is; rsvg-convert ignores ``textLength``, so a long run (a plot's axis label and the blank
cells after it, merged into one run) comes out narrower than its cells, and what follows on
the line seems to be shifted left. Splitting every run into one element per cell, at the x
its cell has, gives the picture the terminal shows. The font is DejaVu Sans Mono.

    python3 scripts/snapshot_png.py SNAPSHOT.svg OUT.png [--width 1400]

Needs ``rsvg-convert`` (Debian: librsvg2-bin).
"""

from __future__ import annotations

import argparse
import html
import re
import subprocess
import tempfile
from pathlib import Path

RUN = re.compile(r"<text([^>]*)>([^<]*)</text>")
X = re.compile(r' x="([\d.]+)"')
LENGTH = re.compile(r'textLength="([\d.]+)"')


def by_cell(svg: str) -> str:
    """The SVG with one ``<text>`` per character, each at its cell's x."""

    def split(run: re.Match[str]) -> str:
        attrs, chars = run.group(1), html.unescape(run.group(2))
        x, length = X.search(attrs), LENGTH.search(attrs)
        if x is None or length is None or len(chars) <= 1:
            return run.group(0)
        left, cell = float(x.group(1)), float(length.group(1)) / len(chars)
        out = []
        for i, ch in enumerate(chars):
            a = X.sub(f' x="{left + i * cell:.1f}"', attrs)
            a = LENGTH.sub(f'textLength="{cell:.1f}"', a)
            out.append(f"<text{a}>{html.escape(ch)}</text>")
        return "".join(out)

    svg = RUN.sub(split, svg)
    return re.sub(r'font-family:[^;"]*', "font-family:DejaVu Sans Mono", svg)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("svg", type=Path)
    parser.add_argument("png", type=Path)
    parser.add_argument("--width", type=int, default=1400)
    args = parser.parse_args()
    with tempfile.NamedTemporaryFile("w", suffix=".svg") as f:
        f.write(by_cell(args.svg.read_text()))
        f.flush()
        subprocess.run(
            ["rsvg-convert", "-w", str(args.width), f.name, "-o", str(args.png)], check=True
        )


if __name__ == "__main__":
    main()
