"""Plain text for numbers, ages and sparklines: no Textual, so it is tested in microseconds
and every pane formats the same quantity the same way."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal

BLOCKS = "▁▂▃▄▅▆▇█"


def number(value: float, places: int, *, signed: bool = True, commas: bool = False) -> str:
    """``value`` to ``places`` decimals, with its sign; what rounds to zero is an unsigned
    zero ("0.00", never "-0.00" or "+0.00": a sign there would claim a direction)."""
    group = "," if commas else ""
    text = f"{value:{'+' if signed else ''}{group}.{places}f}"
    if float(text.replace(",", "")) == 0:
        return f"{0:.{places}f}"
    return text


def money(value: Decimal | float | None, signed: bool = False) -> str:
    if value is None:
        return "-"
    return number(float(value), 2, signed=signed, commas=True)


def pct(value: Decimal | float | None, signed: bool = True, places: int = 2) -> str:
    if value is None:
        return "-"
    return number(float(value), places, signed=signed) + "%"


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


def bps(value: float, signed: bool = True) -> str:
    """A return in basis points to two decimals: a minute bar's forecast is a fraction of a
    basis point (0.1 bps is ~0.01 of a minute's standard deviation), so one decimal read 0.0."""
    return number(value * 1e4, 2, signed=signed)


def weight(value: float) -> str:
    """A weight of equity in percent to two decimals (0.01 % of $100,000 is $10)."""
    return number(value * 100, 2) + "%"


def shorten(text: str, width: int) -> str:
    return text if len(text) <= width else text[: max(0, width - 1)] + "…"
