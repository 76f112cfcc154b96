"""How many bars make a year, read from the bars' own timestamps.

A Sharpe ratio is annualised by ``sqrt(periods per year)``. Annualising daily bars as if they
were one-minute bars (``sqrt(98,280)`` instead of ``sqrt(252)``) overstates it 19.7 times
(review finding #8), so the count comes from the data, and the report quotes how it was found:

1. **The data spans whole calendar years** (at least one year strictly between the first
   bar's and the last bar's): the median number of bars in a whole year. That is what the data
   holds at any spacing: about 252 for US daily bars, 52 for weekly, 8,760 for hourly bars of
   a market that never closes.
2. **A shorter sample**, from its structure (days are UTC calendar dates):

   * median spacing of at least two days (weekly, monthly): ``365.25 days / spacing``,
     rounded (52, 12);
   * daily spacing (at least 20 hours): one bar a day;
   * intraday: the bars of a full day, ``(last - first bar of the day) / spacing + 1``, the
     median over the days strictly inside the sample (its first and last may be partial; with
     fewer than three days, the longest day but at least a US regular session of 6.5 hours).
     One-minute bars of a US regular session give 390 whatever the overnight gap; hourly bars
     of a 24-hour market give 24;

   times the days in a year: 365 where bars fall on both Saturdays and Sundays (a market that
   never closes), else 252 trading days.

Whoever knows better (the synthetic market knows its own clock; a user with ``--periods-per-
year``) says so with :func:`given`. Pure; no I/O.
"""

from __future__ import annotations

import math
import statistics
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from itertools import pairwise

__all__ = ["TRADING_DAYS_PER_YEAR", "Annualisation", "describe_seconds", "given", "infer"]

TRADING_DAYS_PER_YEAR = 252
CALENDAR_DAYS_PER_YEAR = 365
_DAY = 86_400.0
REGULAR_SESSION = 6.5 * 3600  # seconds in a US equity regular session (09:30-16:00 ET)
_WEEKEND = {5, 6}  # Saturday, Sunday


@dataclass(frozen=True)
class Annualisation:
    """Periods per year and, in words, where the number came from."""

    periods_per_year: float
    source: str  # "inferred", "given" or "assumed"
    reason: str

    def __post_init__(self) -> None:
        if not (math.isfinite(self.periods_per_year) and self.periods_per_year > 0):
            raise ValueError("periods per year must be a finite number > 0")


def given(periods_per_year: float, why: str) -> Annualisation:
    """A count someone stated (``why`` says who and on what grounds)."""
    return Annualisation(float(periods_per_year), "given", why)


def describe_seconds(seconds: float) -> str:
    """``60`` -> ``"1 minute"``, ``86400`` -> ``"1 day"``, ``5400`` -> ``"1.5 hours"``."""
    for size, unit in ((_DAY, "day"), (3600.0, "hour"), (60.0, "minute"), (1.0, "second")):
        if seconds >= size or unit == "second":
            n = seconds / size
            text = f"{n:.0f}" if abs(n - round(n)) < 0.05 else f"{n:.1f}"
            return f"{text} {unit}{'' if text == '1' else 's'}"
    raise AssertionError("unreachable")


def _utc(at: datetime) -> datetime:
    return at.astimezone(UTC) if at.tzinfo is not None else at.replace(tzinfo=UTC)


def _count(n: float) -> str:
    return f"{n:,.0f}" if n == round(n) else f"{n:,.1f}"


def infer(timestamps: Sequence[datetime]) -> Annualisation:
    """Periods per year for bars stamped ``timestamps`` (any order; repeats count once)."""
    stamps = sorted({_utc(t) for t in timestamps})
    if len(stamps) < 2:
        return Annualisation(
            TRADING_DAYS_PER_YEAR,
            "assumed",
            f"too few bars to read a spacing; assumed daily: {TRADING_DAYS_PER_YEAR}",
        )
    gaps = [(b - a).total_seconds() for a, b in pairwise(stamps)]
    spacing = statistics.median(gaps)
    said = f"median spacing {describe_seconds(spacing)}"
    whole = range(stamps[0].year + 1, stamps[-1].year)
    if len(whole) >= 1:
        per_year = Counter(t.year for t in stamps)
        counts = [per_year[y] for y in whole]
        n = float(statistics.median(counts))
        years = f"{whole[0]}" if len(whole) == 1 else f"{whole[0]}-{whole[-1]}"
        return Annualisation(
            n,
            "inferred",
            f"inferred from the timestamps: {_count(n)} bars in a whole calendar year "
            f"(median of {len(counts)}, {years}); {said}",
        )
    if spacing >= 2 * _DAY:
        n = float(max(1, round(365.25 * _DAY / spacing)))
        return Annualisation(n, "inferred", f"inferred from the timestamps: {said}: {_count(n)}")
    days = sorted({t.date() for t in stamps})
    weekend = {d.weekday() for d in days} >= _WEEKEND
    per_day_year = CALENDAR_DAYS_PER_YEAR if weekend else TRADING_DAYS_PER_YEAR
    why_days = (
        f"{per_day_year} days a year (bars on Saturdays and Sundays)"
        if weekend
        else f"{per_day_year} trading days a year (no weekend bars)"
    )
    if spacing >= 20 * 3600:
        n = float(per_day_year)
        return Annualisation(
            n, "inferred", f"inferred from the timestamps: {said}, 1 bar a day x {why_days}"
        )
    bars = _bars_per_day(stamps, days, spacing)
    n = float(bars * per_day_year)
    return Annualisation(
        n,
        "inferred",
        f"inferred from the timestamps: {said}, {_count(bars)} bars in a trading day "
        f"x {why_days} = {_count(n)}",
    )


def _bars_per_day(stamps: Sequence[datetime], days: Sequence[date], spacing: float) -> float:
    first: dict[date, datetime] = {}
    last: dict[date, datetime] = {}
    for t in stamps:
        d = t.date()
        first.setdefault(d, t)
        last[d] = t
    most = max(1, round(_DAY / spacing))

    def extent(d: date) -> int:
        return min(most, round((last[d] - first[d]).total_seconds() / spacing) + 1)

    if len(days) >= 3:
        return float(statistics.median(extent(d) for d in days[1:-1]))
    # no whole day in the sample: its longest, and at least a US regular session
    return float(max(max(extent(d) for d in days), min(most, round(REGULAR_SESSION / spacing))))
