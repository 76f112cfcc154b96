"""What the charts view draws, recorded by the desk as it goes: each watched symbol's minute
bars and the account's fills of it (the entries and exits), and the day's equity, one sample
per minute with its drawdown from the day's high-water mark.

Bounded: a day of minutes per symbol and for the equity, a few hundred fills per symbol; all
of it starts over when the trading day rolls (the desk's :meth:`ChartRecorder.new_day`).
Times are the broker's (bar stamps, fill times), never the desk's wall clock, so a fast
emulator's day reads like a real one and the fills sit on the bars they traded in.

:meth:`ChartRecorder.data` hands the screen an immutable :class:`ChartData`, rebuilt only for
what changed since the last call: the desk takes it for every snapshot, many a second.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from tui_trader.core.models import Bar
from tui_trader.core.portfolio import BookSnapshot

__all__ = [
    "MAX_BARS",
    "MAX_EQUITY",
    "MAX_FILLS",
    "ChartData",
    "ChartRecorder",
    "ChartSeries",
    "EquityCurve",
    "EquityPoint",
    "FillMark",
    "MinuteBar",
]

MAX_BARS = 1440
"""Minute bars kept per symbol: a whole day, even a 24-hour crypto one."""
MAX_EQUITY = 1440
"""Equity samples kept: one per minute of a day."""
MAX_FILLS = 500
"""Fills kept per symbol (markers); the oldest go first."""


@dataclass(frozen=True)
class MinuteBar:
    at: datetime  # the minute's start, as the broker stamps it
    open: float
    high: float
    low: float
    close: float


@dataclass(frozen=True)
class FillMark:
    """One execution of the account in a symbol: a marker on its price chart."""

    at: datetime
    side: str  # "buy" or "sell"
    qty: Decimal
    price: Decimal
    key: str  # the execution's key: a fill delivered twice is marked once


@dataclass(frozen=True)
class ChartSeries:
    """One symbol's day: its bars and its fills; ``version`` changes whenever either does."""

    symbol: str
    version: int
    bars: tuple[MinuteBar, ...] = ()
    fills: tuple[FillMark, ...] = ()


@dataclass(frozen=True)
class EquityPoint:
    at: datetime  # the minute sampled (the newest broker time the desk had seen)
    equity: Decimal
    drawdown: Decimal  # equity less the day's high-water mark so far: zero or below


@dataclass(frozen=True)
class EquityCurve:
    version: int = 0
    points: tuple[EquityPoint, ...] = ()

    @property
    def max_drawdown(self) -> Decimal:
        return min((p.drawdown for p in self.points), default=Decimal(0))


@dataclass(frozen=True)
class ChartData:
    """Everything the charts view draws, at one moment, immutable."""

    series: Mapping[str, ChartSeries] = field(default_factory=dict)
    equity: EquityCurve = field(default_factory=EquityCurve)
    day: int = 0  # counts the trading days the recorder has started: a roll is news


class _Symbol:
    """One symbol's live record; its immutable series is cached until it changes."""

    def __init__(self, symbol: str) -> None:
        self.symbol = symbol
        self.bars: deque[MinuteBar] = deque(maxlen=MAX_BARS)
        self.fills: deque[FillMark] = deque(maxlen=MAX_FILLS)
        self.keys: set[str] = set()  # the fills' keys, to mark a fill once
        self.version = 0
        self.frozen: ChartSeries | None = None

    def touched(self, version: int) -> None:
        self.version = version
        self.frozen = None

    def series(self) -> ChartSeries:
        if self.frozen is None:
            self.frozen = ChartSeries(
                self.symbol, self.version, tuple(self.bars), tuple(self.fills)
            )
        return self.frozen


class ChartRecorder:
    """The desk's record for the charts; pure (no I/O, no clock of its own)."""

    def __init__(self, symbols: tuple[str, ...]) -> None:
        self._symbols = symbols
        self._day = 0
        self._version = 0  # one counter for every change, never reset: versions never repeat
        self._reset()

    def _reset(self) -> None:
        self._by_symbol = {s: _Symbol(s) for s in self._symbols}
        self._equity: deque[EquityPoint] = deque(maxlen=MAX_EQUITY)
        self._peak: Decimal | None = None
        self._equity_version = self._version
        self._newest: datetime | None = None  # the newest broker time seen
        self._data: ChartData | None = None

    @property
    def newest(self) -> datetime | None:
        """The newest broker time recorded (a bar's or a fill's)."""
        return self._newest

    def _bump(self) -> int:
        self._version += 1
        self._data = None
        return self._version

    def _seen(self, at: datetime) -> None:
        if self._newest is None or at > self._newest:
            self._newest = at

    def watch(self, symbols: tuple[str, ...]) -> None:
        """The watched symbols changed (the watchlist's ``+``/``-``): a new one gets an empty
        chart, one no longer watched loses its own; the others keep theirs."""
        self._symbols = symbols
        kept = {s: self._by_symbol.get(s) or _Symbol(s) for s in symbols}
        if list(kept) != list(self._by_symbol):
            self._by_symbol = kept
            self._bump()

    def new_day(self) -> None:
        """The trading day rolled: the day's bars, fills and equity start over."""
        self._day += 1
        self._reset()

    def bar(self, symbol: str, wire: Bar) -> None:
        """A minute bar; the same minute again replaces it (a correction), an older one is
        history the chart has already moved past (ignored)."""
        record = self._by_symbol.get(symbol)
        if record is None:
            return
        at = wire.timestamp
        bar = MinuteBar(at, float(wire.open), float(wire.high), float(wire.low), float(wire.close))
        bars = record.bars
        if bars and at <= bars[-1].at:
            if at != bars[-1].at or bars[-1] == bar:
                return
            bars[-1] = bar
        else:
            bars.append(bar)
        self._seen(at)
        record.touched(self._bump())

    def fill(
        self,
        key: str,
        symbol: str,
        side: str,
        qty: Decimal,
        price: Decimal,
        at: datetime | None,
    ) -> None:
        """One execution of the account (``at`` None: the newest time seen)."""
        record = self._by_symbol.get(symbol)
        when = at or self._newest
        if record is None or when is None or key in record.keys:
            return
        fills = record.fills
        if len(fills) == fills.maxlen:
            record.keys.discard(fills[0].key)
        fills.append(FillMark(when, side, qty, price, key))
        record.keys.add(key)
        self._seen(when)
        record.touched(self._bump())

    def sample_equity(self, equity: Decimal, day_start: Decimal | None) -> None:
        """The account's equity now, stamped with the newest broker time seen: within one
        minute the last sample is replaced (the curve's end moves live), a new minute adds
        one. The high-water mark starts at the day's start equity, when known."""
        at = self._newest
        if at is None:
            return
        minute = at.replace(second=0, microsecond=0)
        peak = max(equity, self._peak if self._peak is not None else equity)
        if day_start is not None:
            peak = max(peak, day_start)
        point = EquityPoint(minute, equity, equity - peak)
        points = self._equity
        if points and minute <= points[-1].at:
            if points[-1] == point:
                self._peak = peak
                return
            points[-1] = EquityPoint(points[-1].at, equity, equity - peak)
        else:
            points.append(point)
        self._peak = peak
        self._equity_version = self._bump()

    def sample_book(self, book: BookSnapshot) -> None:
        """:meth:`sample_equity` from the ledger; nothing before the account has been read
        (until then the equity is not the broker's)."""
        if book.account_known:
            self.sample_equity(book.equity, book.day_start_equity)

    def data(self) -> ChartData:
        """The record as immutable values; the same object until something changes."""
        if self._data is None:
            self._data = ChartData(
                {s: r.series() for s, r in self._by_symbol.items()},
                EquityCurve(self._equity_version, tuple(self._equity)),
                self._day,
            )
        return self._data
