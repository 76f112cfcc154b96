"""Plain text for numbers, ages and sparklines: no Textual, so it is tested in microseconds
and every pane formats the same quantity the same way."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal

BLOCKS = "▁▂▃▄▅▆▇█"


def money(value: Decimal | float | None, signed: bool = False) -> str:
    if value is None:
        return "-"
    text = f"{float(value):+,.2f}" if signed else f"{float(value):,.2f}"
    return text


def pct(value: Decimal | float | None, signed: bool = True, places: int = 2) -> str:
    if value is None:
        return "-"
    return f"{float(value):+.{places}f}%" if signed else f"{float(value):.{places}f}%"


def qty(value: Decimal | None) -> str:
    if value is None:
        return "-"
    text = format(value.normalize(), "f") if value == value.to_integral() else str(value)
    return text


def price(value: Decimal | float | None) -> str:
    if value is None:
        return "-"
    return f"{float(value):,.2f}"


def seconds(value: float | None) -> str:
    """A duration or an age, short: 0.4s, 12s, 3m05s, 2h10m."""
    if value is None:
        return "-"
    if value < 10:
        return f"{value:.1f}s"
    whole = int(value)
    if whole < 60:
        return f"{whole}s"
    if whole < 3600:
        return f"{whole // 60}m{whole % 60:02d}s"
    return f"{whole // 3600}h{(whole % 3600) // 60:02d}m"


def countdown(until: datetime | None, now: datetime) -> str:
    if until is None:
        return "-"
    return seconds(max(0.0, (until - now).total_seconds()))


def sparkline(values: Sequence[float], width: int = 12) -> str:
    """The last ``width`` values as block characters, scaled to their own range."""
    tail = list(values)[-width:]
    if not tail:
        return ""
    low, high = min(tail), max(tail)
    if high - low <= 1e-12:
        return BLOCKS[len(BLOCKS) // 2 - 1] * len(tail)
    top = len(BLOCKS) - 1
    return "".join(BLOCKS[round((v - low) / (high - low) * top)] for v in tail)


def bps(value: float) -> str:
    return f"{value * 1e4:+.1f}"


def weight(value: float) -> str:
    return f"{value * 100:+.1f}%"


def shorten(text: str, width: int) -> str:
    return text if len(text) <= width else text[: max(0, width - 1)] + "…"
