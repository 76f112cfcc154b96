"""Live market data from Alpaca's data stream (:mod:`tui_trader.broker.data_socket`):
quotes and trades move the prices on screen as they arrive, and each quote is that symbol's
freshness for the STALE_DATA breaker; minute bars (``b``) and their corrections (``u``) wait
in an inbox that the market loop (:mod:`.market`) hands to the policy in order, after the
REST backfill that every (re)connect calls for, so the policy sees no hole and no duplicate.

While the stream is not up (connecting, backing off, refused, not offered by the server) the
market loop polls REST as before; nothing here needs the stream to exist.
"""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from tui_trader.broker.data_socket import (
    DataCallbacks,
    DataStreamOptions,
    MarketDataStream,
    stream_url,
)
from tui_trader.broker.data_status import DataStreamStatus
from tui_trader.core.models import Bar, Quote, Trade
from tui_trader.desk.base import DeskBase
from tui_trader.desk.snapshot import WatchLine

MAX_INBOX = 10_000  # bars waiting for the loop (a minute's bars are one per symbol)


@dataclass
class Tape:
    """One symbol's market as the watchlist shows it: the last quote's sides, the last
    trade, and the day's volume (the minute bars' volumes, plus the trades printed since
    the last bar, which that bar's volume then includes)."""

    bid: Decimal | None = None
    ask: Decimal | None = None
    last: Decimal | None = None
    day: date | None = None
    bars_volume: int = 0
    last_bar_volume: int = 0  # the latest bar's, so a correction replaces it
    since_bar: int = 0  # trade sizes printed after the latest bar

    def quote(self, q: Quote) -> None:
        self.bid, self.ask = q.bid_price, q.ask_price

    def trade(self, t: Trade) -> None:
        self.last = t.price
        if t.size is not None and t.size > 0:
            self.since_bar += int(t.size)

    def bar(self, bar: Bar) -> None:
        """A new minute's bar: it counts towards its own day's volume."""
        day = bar.timestamp.date()
        if day != self.day:
            self.day, self.bars_volume = day, 0
        volume = int(bar.volume or 0)
        self.bars_volume += volume
        self.last_bar_volume = volume
        self.since_bar = 0
        if self.last is None:
            self.last = bar.close

    def corrected(self, bar: Bar) -> None:
        """A later word on the latest bar (``u``): its volume replaces the one counted."""
        if bar.timestamp.date() == self.day:
            volume = int(bar.volume or 0)
            self.bars_volume += volume - self.last_bar_volume
            self.last_bar_volume = volume

    def line(self) -> WatchLine:
        volume = self.bars_volume + self.since_bar if self.day is not None else None
        return WatchLine(self.bid, self.ask, self.last, volume)


class LiveData(DeskBase):
    """The data stream's callbacks and what the market loop reads of them."""

    data_stream: MarketDataStream | None
    _bar_inbox: deque[tuple[str, Bar, bool]]
    _backfill_due: bool
    _market_is_open: bool
    _tapes: dict[str, Tape]

    def _build_data_stream(self) -> MarketDataStream | None:
        """The stream for the desk's symbols and feed, or None when ``data.stream`` is off."""
        if not self.settings.data.stream:
            return None
        target = self.target
        url = stream_url(target.data_url, self.rest.feed, target.data_stream_url)
        return MarketDataStream(
            url,
            target.key_id.get_secret_value(),
            target.secret_key.get_secret_value(),
            self.symbols,
            feed=self.rest.feed,
            options=DataStreamOptions.from_settings(self.settings),
            callbacks=DataCallbacks(
                on_quote=self._on_stream_quote,
                on_trade=self._on_stream_trade,
                on_bar=self._on_stream_bar,
                on_connected=self._on_stream_connected,
                on_notice=self._notice,
            ),
            market_open=lambda: self._market_is_open,
        )

    def _stream_up(self) -> bool:
        return self.data_stream is not None and self.data_stream.status().up

    def data_status(self) -> DataStreamStatus | None:
        return None if self.data_stream is None else self.data_stream.status()

    def quote_ages(self) -> dict[str, float]:
        """Seconds since each symbol's last quote (stream or REST poll)."""
        now = time.monotonic()
        return {s: round(now - at, 3) for s, at in self._quote_at.items()}

    def _tape(self, symbol: str) -> Tape:
        tape = self._tapes.get(symbol)
        if tape is None:
            tape = self._tapes[symbol] = Tape()
        return tape

    def watch_lines(self) -> dict[str, WatchLine]:
        """Each watched symbol's quote, last trade and volume, for the snapshot."""
        return {s: self._tapes[s].line() for s in self.symbols if s in self._tapes}

    def demo_speed(self) -> float | None:
        """The embedded emulator's pace when it is not real time (the header says so)."""
        embedded = self.target.embedded
        if embedded is None:
            return None
        speed = float(embedded.emulator.config.speed)
        return None if speed == 1.0 else speed

    # ----------------------------------------------------------------- stream callbacks
    def _take_quote(self, symbol: str, q: Quote) -> None:
        """A quote with both sides moves the mark to its mid and refreshes the symbol."""
        if q.bid_price and q.ask_price and q.bid_price > 0 and q.ask_price > 0:
            mid = (q.bid_price + q.ask_price) / 2
            self._tape(symbol).quote(q)
            self._prices[symbol] = mid
            self.portfolio.mark(symbol, mid)
            now = time.monotonic()
            self._quote_at[symbol] = now
            self._data_at = now

    def _on_stream_quote(self, symbol: str, q: Quote) -> None:
        if symbol in self.symbols:
            self._take_quote(symbol, q)
            self._changed()

    def _on_stream_trade(self, symbol: str, t: Trade) -> None:
        """A print shows a price for a symbol no quote has priced yet; the quote's mid wins
        once there is one (a trade is not a two-sided market)."""
        if symbol not in self.symbols or t.price <= Decimal(0):
            return
        self._tape(symbol).trade(t)
        if symbol not in self._quote_at:
            self._prices[symbol] = t.price
        self._changed()

    def _on_stream_bar(self, symbol: str, bar: Bar, corrected: bool) -> None:
        if symbol in self.symbols and len(self._bar_inbox) < MAX_INBOX:
            self._bar_inbox.append((symbol, bar, corrected))

    def _on_stream_connected(self) -> None:
        # whatever was missed while it was down (or before it first came up) comes over REST
        self._backfill_due = True

    # ------------------------------------------------------------------- corrections
    def _correct_bar(self, symbol: str, bar: Bar) -> bool:
        """A later word on the bar already taken (``u``, or the stream's ``b`` after the
        REST backfill returned the same minute): it replaces that bar's close in the
        sparkline, the last close and the policy's next return. Older bars are history."""
        last = self._last_close.get(symbol)
        if last is None or last[0] != bar.timestamp or last[1] == bar.close:
            return False
        self._last_close[symbol] = (bar.timestamp, bar.close)
        self._tape(symbol).corrected(bar)
        history = self._history.get(symbol)
        if history:
            history[-1] = float(bar.close)
        self.policy.revise(symbol, float(bar.close), bar.timestamp)
        return True
