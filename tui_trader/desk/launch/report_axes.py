"""What the terminal figure, the SVG figures and the tables of a backtest report share: round
axis ticks, date labels, drawdowns, the sampling of long curves and how a span of time reads.
Pure numpy, no drawing here."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from datetime import datetime

import numpy as np
import numpy.typing as npt

__all__ = ["buckets", "date_labels", "drawdown_percent", "nice_ticks", "span", "tick_label"]

Vector = npt.NDArray[np.float64]


def drawdown_percent(curve: Sequence[float] | Vector) -> Vector:
    """How far below its running peak the curve is at each point, in percent (<= 0)."""
    c = np.asarray(curve, dtype=np.float64)
    top = np.maximum.accumulate(c)
    fall: Vector = np.where(top > 0, c / np.where(top > 0, top, 1.0) - 1.0, 0.0) * 100.0
    return fall


def buckets(n: int, count: int) -> list[slice]:
    """At most ``count`` consecutive, non-empty slices covering ``n`` points, so a long curve
    is drawn from a few points per column without losing its extremes (callers take each
    slice's last point, or its lowest, or both ends of its range)."""
    k = max(1, min(n, count))
    edges = np.linspace(0, n, k + 1).round().astype(int)
    return [slice(int(a), int(b)) for a, b in itertools.pairwise(edges) if b > a]


def nice_ticks(lo: float, hi: float, *, log: bool = False, most: int = 6) -> list[float]:
    """Round values to label an axis from ``lo`` to ``hi``: 1-2-5 steps, or on a log scale
    the 1, 2, 5 of each decade (and 3, 7 where that is too few; fewer where too many)."""
    if not (np.isfinite(lo) and np.isfinite(hi)) or hi <= lo:
        return [float(lo)] if np.isfinite(lo) else []
    if log and lo > 0:
        decades = range(int(np.floor(np.log10(lo))), int(np.ceil(np.log10(hi))) + 1)

        def marks(steps: tuple[int, ...]) -> list[float]:
            return [v for k in decades for m in steps if lo <= (v := m * 10.0**k) <= hi]

        inside = marks((1, 2, 5))
        if len(inside) > most:  # many decades: their first values, every other if need be
            inside = marks((1,))
            while len(inside) > most:
                inside = inside[::2]
        elif len(inside) < 3:  # under a decade
            inside = marks((1, 2, 3, 5, 7))
        if len(inside) >= 3:
            return inside
    raw = (hi - lo) / max(1, most - 1)
    scale = 10.0 ** np.floor(np.log10(raw))
    step = next(m * scale for m in (1, 2, 5, 10) if m * scale >= raw)
    first = np.ceil(lo / step) * step
    return [float(v) for v in np.arange(first, hi + step * 1e-9, step)]


def tick_label(value: float) -> str:
    """``100,000``, ``-20``, ``0.5``: thousands grouped, no needless decimals."""
    if abs(value) >= 100 or value == round(value):
        return f"{value:,.0f}"
    return f"{value:,.3g}"


def date_labels(stamps: Sequence[datetime], at: Sequence[int]) -> list[str]:
    """Dates where the run spans days, day and time within a few days."""
    seconds = (stamps[-1] - stamps[0]).total_seconds() if stamps else 0.0
    form = "%Y-%m-%d" if seconds > 3 * 86400 else "%m-%d %H:%M"
    return [stamps[i].strftime(form) for i in at]


def span(days: float) -> str:
    """A length of time as a trader reads it: ``3.2 y``, ``14.0 d``, ``5.5 h``, ``12 min``."""
    if days <= 0:
        return "-"
    if days >= 365:
        return f"{days / 365.25:.1f} y"
    if days >= 1:
        return f"{days:.1f} d"
    if days * 24 >= 1:
        return f"{days * 24:.1f} h"
    return f"{days * 1440:.0f} min"
