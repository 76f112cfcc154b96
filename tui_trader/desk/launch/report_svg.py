"""Line charts as SVG text, for the backtest's HTML report: no browser-side library, no
network, nothing to install. A chart is one ``<svg>`` element (valid standalone, so
``rsvg-convert`` renders it too): a frame, round ticks, dated x labels, one polyline per named
series in a colour-blind-safe palette (Okabe-Ito) with a dash pattern of its own, a legend.

Long series are drawn from the lowest and highest point of each of a few buckets per pixel
column, so a drawdown's bottom or a peak is never sampled away. Every text is escaped.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from datetime import datetime
from html import escape

import numpy as np

from tui_trader.desk.launch.report_axes import (
    Vector,
    buckets,
    date_labels,
    nice_ticks,
    tick_label,
)

__all__ = ["PALETTE", "line_chart"]

PALETTE = ("#000000", "#E69F00", "#0072B2", "#009E73", "#D55E00", "#56B4E9", "#CC79A7", "#999933")
DASHES = ("", "7 3", "2 3", "9 3 2 3")
_LEFT, _RIGHT, _TOP, _BOTTOM = 72, 170, 34, 34
_NAMESPACE = ' xmlns="http://www.w3.org/2000/svg"'


def _points(curve: Vector, width: int) -> list[int]:
    """Indices to draw: both extremes of each bucket, in time order, and the last point."""
    keep: set[int] = {0, len(curve) - 1}
    for part in buckets(len(curve), 2 * width):
        chunk = np.where(np.isfinite(curve[part]), curve[part], np.nan)
        if np.isnan(chunk).all():
            continue
        keep.add(part.start + int(np.nanargmin(chunk)))
        keep.add(part.start + int(np.nanargmax(chunk)))
    return sorted(keep)


def line_chart(
    series: Mapping[str, Sequence[float] | Vector],
    timestamps: Sequence[datetime],
    *,
    title: str,
    log: bool = False,
    width: int = 880,
    height: int = 300,
    standalone: bool = False,
) -> str:
    """One chart of every series (sampled at ``timestamps``), ``log`` scaled where all are
    positive. Series that are not finite at some point are drawn where they are.
    ``standalone`` adds the SVG namespace a file needs (HTML's inline SVG needs none, and the
    page keeps clear of any URL)."""
    data = {name: np.asarray(c, dtype=np.float64) for name, c in series.items()}
    n = min((len(c) for c in data.values()), default=0)
    pw, ph = width - _LEFT - _RIGHT, height - _TOP - _BOTTOM
    values = np.concatenate([c[:n] for c in data.values()]) if data else np.empty(0)
    finite = values[np.isfinite(values)]
    log = log and finite.size > 0 and bool(np.all(finite > 0))
    out = [
        f'<svg{_NAMESPACE if standalone else ""} width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="12" '
        f'role="img" aria-label="{escape(title)}">',
        f'<rect x="0" y="0" width="{width}" height="{height}" fill="#ffffff"/>',
        f'<text x="{_LEFT}" y="{_TOP - 12}" font-size="14" font-weight="bold">'
        f"{escape(title)}</text>",
    ]
    if n < 2 or finite.size == 0:
        out.append(f'<text x="{_LEFT}" y="{_TOP + 20}">not enough points to draw</text></svg>')
        return "\n".join(out)
    lo, hi = float(finite.min()), float(finite.max())
    if hi == lo:
        lo, hi = (lo * 0.9, hi * 1.1) if log else (lo - 1.0, hi + 1.0)

    def scale(v: float) -> float:
        return math.log10(v) if log else v

    slo, shi = scale(lo), scale(hi)

    def y(v: float) -> float:
        return _TOP + ph - (scale(v) - slo) / (shi - slo) * ph

    def x(i: int) -> float:
        return _LEFT + i / (n - 1) * pw

    out.append(
        f'<rect x="{_LEFT}" y="{_TOP}" width="{pw}" height="{ph}" fill="none" stroke="#888"/>'
    )
    for v in nice_ticks(lo, hi, log=log):
        yy = y(v)
        out.append(
            f'<line x1="{_LEFT}" x2="{_LEFT + pw}" y1="{yy:.1f}" y2="{yy:.1f}" stroke="#e4e4e4"/>'
            f'<text x="{_LEFT - 6}" y="{yy + 4:.1f}" text-anchor="end">'
            f"{escape(tick_label(v))}</text>"
        )
    ticks = sorted({round(k * (n - 1) / 4) for k in range(5)})
    labels = date_labels(list(timestamps)[:n], ticks) if len(timestamps) >= n else []
    for i, label in zip(ticks, labels, strict=False):
        anchor = "start" if i == 0 else "end" if i == n - 1 else "middle"
        out.append(
            f'<line x1="{x(i):.1f}" x2="{x(i):.1f}" y1="{_TOP + ph}" y2="{_TOP + ph + 4}" '
            f'stroke="#888"/><text x="{x(i):.1f}" y="{_TOP + ph + 18}" '
            f'text-anchor="{anchor}">{escape(label)}</text>'
        )
    for k, (name, curve) in enumerate(data.items()):
        colour, dash = PALETTE[k % len(PALETTE)], DASHES[(k // len(PALETTE) + k) % len(DASHES)]
        c = curve[:n]
        pts = [i for i in _points(c, pw) if np.isfinite(c[i])]
        path = " ".join(f"{x(i):.1f},{y(float(c[i])):.1f}" for i in pts)
        style = f' stroke-dasharray="{dash}"' if dash else ""
        out.append(
            f'<polyline fill="none" stroke="{colour}" stroke-width="1.4"{style} '
            f'points="{path}"><title>{escape(name)}</title></polyline>'
        )
        ly = _TOP + 8 + 18 * k
        lx = _LEFT + pw + 12
        out.append(
            f'<line x1="{lx}" x2="{lx + 24}" y1="{ly}" y2="{ly}" stroke="{colour}" '
            f'stroke-width="2"{style}/><text x="{lx + 30}" y="{ly + 4}">{escape(name)}</text>'
        )
    out.append("</svg>")
    return "\n".join(out)
