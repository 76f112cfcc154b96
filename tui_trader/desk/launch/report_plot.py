"""``tui-trader backtest --plot``: the equity curves and drawdowns of a run, in the terminal.

Drawn by plotext (5.x: its ``plot``/``build`` API; 6.x is a rewrite with another one). Every
named curve the result carries is drawn, the policy's and each baseline's, so a new baseline
shows up without a change here. Two panels: equity on a log scale (equal distances are equal
percentage moves, which is how a 20-year curve should be read; linear where a curve touches
zero) and the drawdown of each curve from its running peak, in percent.

Size and colour follow the output: a terminal's size and colours on a terminal, a fixed size
and plain text (with one marker character per curve, so the curves stay apart without
colour) when the output is a pipe or a file, or when ``NO_COLOR`` is set.
"""

from __future__ import annotations

import shutil
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TextIO

import numpy as np

from tui_trader.desk.launch.report_axes import (
    Vector,
    buckets,
    date_labels,
    drawdown_percent,
    nice_ticks,
    tick_label,
)

__all__ = ["FIXED_HEIGHT", "FIXED_WIDTH", "Canvas", "canvas_for", "plot"]

FIXED_WIDTH = 100
FIXED_HEIGHT = 36
MIN_WIDTH = 40
MIN_HEIGHT = 24
PLAIN_MARKERS = "*+ox#%@=~^"
"""One marker per curve without colour: the legend says which is which."""


@dataclass(frozen=True)
class Canvas:
    """Where the figure goes: its size in characters and whether it may use colour."""

    width: int
    height: int
    colour: bool


def canvas_for(stream: TextIO, environ: Mapping[str, str]) -> Canvas:
    """The terminal's size and colours on a terminal; a fixed size, plain, anywhere else.
    ``NO_COLOR`` (https://no-color.org: set and not empty) turns colour off everywhere."""
    tty = bool(getattr(stream, "isatty", lambda: False)())
    colour = tty and not environ.get("NO_COLOR")
    if not tty:
        return Canvas(FIXED_WIDTH, FIXED_HEIGHT, colour)
    size = shutil.get_terminal_size((FIXED_WIDTH, FIXED_HEIGHT))
    height = max(MIN_HEIGHT, min(size.lines - 1, 2 * FIXED_HEIGHT))
    return Canvas(max(MIN_WIDTH, size.columns), height, colour)


def _reset(plt: Any) -> None:
    """plotext keeps one global figure; ``clear_figure`` clears only the *active* subplot,
    so the master is made active first (a second figure otherwise inherits the first's
    subplots and fails to build)."""
    plt.main().clear_figure()


def plot(
    curves: Mapping[str, Sequence[float] | Vector],
    timestamps: Sequence[datetime],
    canvas: Canvas,
) -> str:
    """Both panels as text, ``canvas.width`` columns wide at most."""
    import plotext as plt  # type: ignore[import-untyped]  # plotext ships no types

    series = {name: np.asarray(c, dtype=np.float64) for name, c in curves.items()}
    n = min((len(c) for c in series.values()), default=0)
    if n < 2:
        return "(not enough points to plot)"
    stamps = list(timestamps)[:n] if len(timestamps) >= n else []
    parts = [slice(0, 1)] + [
        slice(p.start + 1, p.stop + 1) for p in buckets(n - 1, 2 * canvas.width)
    ]
    xs = [p.stop - 1 for p in parts]  # each bucket drawn at its last bar, the first bar alone
    log = all(bool(np.all(c[:n] > 0)) for c in series.values())
    equity = {name: [float(c[p.stop - 1]) for p in parts] for name, c in series.items()}
    falls = {  # the deepest point of each bucket, so no drawdown is hidden by the sampling
        name: [float(f[p].min()) for p in parts]
        for name, f in ((name, drawdown_percent(c[:n])) for name, c in series.items())
    }
    panels = (
        ("equity" + (" (log scale)" if log else ""), equity, log),
        ("drawdown from the running peak, %", falls, False),
    )
    yticks = [
        nice_ticks(min(map(min, ys.values())), max(map(max, ys.values())), log=is_log)
        for _, ys, is_log in panels
    ]
    pad = max(len(tick_label(v)) for ticks in yticks for v in ticks) if any(yticks) else 1
    xticks = sorted({xs[round(i * (len(xs) - 1) / 4)] for i in range(5)})
    _reset(plt)
    # each panel holds its legend, a line a curve, with room to spare (plotext fails otherwise)
    plt.plotsize(canvas.width, max(canvas.height, 2 * (len(series) + 9)))
    plt.subplots(2, 1)
    for row, ((title, ys, is_log), ticks) in enumerate(zip(panels, yticks, strict=True), 1):
        plt.subplot(row, 1)
        plt.title(title)
        if stamps:
            plt.xticks(xticks, date_labels(stamps, xticks))
        if is_log:
            plt.yscale("log")
        if ticks:  # labels of one width: the two panels' axes line up
            plt.yticks(ticks, [tick_label(v).rjust(pad) for v in ticks])
        # the first curve (the policy) drawn last, on top of the baselines it may overlap
        for k, (name, values) in reversed(list(enumerate(ys.items()))):
            marker = "hd" if canvas.colour else PLAIN_MARKERS[k % len(PLAIN_MARKERS)]
            plt.plot(xs, values, label=name, marker=marker)
    plt.theme("pro" if canvas.colour else "clear")
    text: str = plt.build()
    _reset(plt)
    if not canvas.colour:
        text = plt.uncolorize(text)
    return "\n".join(line.rstrip() for line in text.splitlines()).rstrip("\n")
