"""The watched symbols: added and removed by the trader while the desk runs, and remembered.

A symbol is added only once the broker lists it (``/v2/assets/{symbol}``, active and
tradable): the desk watches what its policy may trade, and a typo must say so rather than
sit forever without a price. The data stream subscribes to it at once (``subscribe`` on the
open connection), the policy learns its recent history as at start-up, and its latest quote
is read over REST so a price shows before the stream's first one.

The list lives in the account's journal (its ``settings`` table, key ``watchlist``): one
journal per account, so each account keeps its own list, and it travels with the journal the
desk already keeps, rather than in a user config file that every account would share.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Sequence
from datetime import datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from tui_trader.broker.rest import AlpacaError
from tui_trader.core.types import parse_timestamp
from tui_trader.desk.live import LiveData

if TYPE_CHECKING:
    from tui_trader.broker.journal import Journal

WATCHLIST_KEY = "watchlist"
MAX_WATCHED = 30  # Alpaca's free plan streams quotes and trades for 30 symbols at most
HISTORY_DAYS = 5  # as the start-up warm-up
_SYMBOL = re.compile(r"^[A-Z][A-Z0-9]{0,5}([./][A-Z]{1,2})?$")


class WatchError(ValueError):
    """Why a symbol cannot be added or removed, in words for the trader."""


def remembered(journal: Journal, default: Sequence[str]) -> tuple[str, ...]:
    """The watchlist the journal remembers for this account, else ``default``."""
    try:
        saved: Any = journal.get_setting(WATCHLIST_KEY, None)
    except Exception:  # an unreadable setting must not stop the desk: the default list
        saved = None
    if isinstance(saved, list) and saved and all(isinstance(s, str) for s in saved):
        return tuple(dict.fromkeys(saved))
    return tuple(default)


def normalise(text: str) -> str:
    """The ticker as the broker spells it, or :class:`WatchError` for what is not one."""
    symbol = text.strip().upper()
    if not symbol:
        raise WatchError("type a symbol, e.g. AMZN")
    if not _SYMBOL.match(symbol):
        raise WatchError(f"{text.strip()!r} is not a ticker symbol (letters, e.g. AMZN or BRK.B)")
    return symbol


class Watchlist(LiveData):
    """Adding and removing watched symbols while the desk runs."""

    _watch_lock: asyncio.Lock | None = None

    def _record_close(self, symbol: str, at: datetime, close: Decimal) -> None:
        raise NotImplementedError  # the market loop's (desk/market.py)

    async def add_symbol(self, text: str) -> str:
        """Watch one more symbol; returns what was done, raises :class:`WatchError`."""
        symbol = normalise(text)
        if symbol in self.symbols:
            raise WatchError(f"{symbol} is already watched")
        if len(self.symbols) >= MAX_WATCHED:
            raise WatchError(f"at most {MAX_WATCHED} symbols are watched (the data plan's limit)")
        if self._watch_lock is None:
            self._watch_lock = asyncio.Lock()
        async with self._watch_lock:
            if symbol in self.symbols:  # added meanwhile (a second press)
                raise WatchError(f"{symbol} is already watched")
            await self._check_listed(symbol)
            if self.data_stream is not None:
                await self.data_stream.subscribe(add=[symbol])
            # its history first, then it joins the watch (no await between, so no live
            # bar is taken before the history); a bar that closed meanwhile comes with
            # the backfill the next market turn makes, as after a reconnect
            await self._first_look(symbol)
            self.symbols = (*self.symbols, symbol)
            self.charts.watch(self.symbols)
            self._backfill_due = True
            self._remember()
            self._audit("watch", {"added": symbol, "symbols": list(self.symbols)}, symbol)
        self._notice(f"watching {symbol}")
        self._changed()
        return f"watching {symbol}"

    def remove_symbol(self, symbol: str) -> str:
        """Stop watching ``symbol``. Refused while it is held or has working orders: the
        position's mark and the gate's quote age come from the watch, and nothing the
        trader owns may go unwatched."""
        if symbol not in self.symbols:
            raise WatchError(f"{symbol} is not watched")
        if len(self.symbols) == 1:
            raise WatchError("the last symbol stays: the desk needs one to watch")
        pos = self.portfolio.snapshot().positions.get(symbol)
        if pos is not None and pos.qty != 0:
            raise WatchError(f"{symbol} is held ({pos.qty}): close the position first")
        if self.working.busy(symbol):
            raise WatchError(f"{symbol} has working orders: cancel them first")
        self.symbols = tuple(s for s in self.symbols if s != symbol)
        self.charts.watch(self.symbols)
        self._remember()
        self._audit("watch", {"removed": symbol, "symbols": list(self.symbols)}, symbol)
        # its price and quote time go, so a later add never shows an old price as fresh;
        # the policy's model and the last bar stay, so a re-add learns only what it missed
        for state in (self._prices, self._quote_at, self._tapes, self._signals, self._verdicts):
            state.pop(symbol, None)
        if self.data_stream is not None:
            stream = self.data_stream
            task = asyncio.get_running_loop().create_task(stream.subscribe(remove=[symbol]))
            self._background.add(task)
            task.add_done_callback(self._background.discard)
        self._notice(f"no longer watching {symbol}")
        self._changed()
        return f"removed {symbol} (+ adds it back)"

    # ------------------------------------------------------------------------- helpers
    async def _check_listed(self, symbol: str) -> None:
        try:
            asset = await self.rest.get_asset(symbol)
        except AlpacaError as exc:
            if exc.status == 404:
                raise WatchError(f"{symbol}: not an asset the broker lists") from None
            raise WatchError(f"{symbol}: the broker could not be asked ({exc})") from None
        if str(asset.get("status", "active")).lower() != "active":
            raise WatchError(f"{symbol} is not active at the broker")
        if asset.get("tradable") is False:
            raise WatchError(f"{symbol} is not tradable at the broker")

    def _remember(self) -> None:
        try:
            self.journal.set_setting(WATCHLIST_KEY, list(self.symbols))
        except Exception as exc:  # watching goes on; the trader learns it is not kept
            self._notice(f"the watchlist could not be saved ({exc})")

    async def _first_look(self, symbol: str) -> None:
        """A price at once (the latest quote over REST) and the policy's history, as the
        start-up warm-up gives every symbol; either may fail without undoing the add."""
        try:
            quotes = await self.rest.latest_quotes([symbol])
            if symbol in quotes:
                self._take_quote(symbol, quotes[symbol])
        except AlpacaError as exc:
            self._notice(f"no quote for {symbol} yet ({exc})")
        last = self._last_bar.get(symbol)
        try:
            clock = await self.rest.get_clock()  # the broker's time (the emulator's runs fast)
            now = parse_time(str(clock.get("timestamp", ""))) or self._clock()
            start = last + timedelta(seconds=1) if last else now - timedelta(days=HISTORY_DAYS)
            history = await self.rest.bars([symbol], "1Min", start=start, end=now)
        except AlpacaError as exc:
            self._notice(f"no history for {symbol} ({exc}); the policy warms up live")
            return
        for n, bar in enumerate(history.get(symbol, []), 1):
            seen = self._last_bar.get(symbol)
            if seen is not None and bar.timestamp <= seen:
                continue
            self._record_close(symbol, bar.timestamp, bar.close)
            self._tape(symbol).bar(bar)
            self.policy.observe(symbol, float(bar.close), bar.timestamp)
            self._last_bar[symbol] = bar.timestamp
            if n % 200 == 0:
                await asyncio.sleep(0)
        self._readings[symbol] = self.convexity.reading(symbol)


def parse_time(text: str) -> datetime | None:
    try:
        return parse_timestamp(text)
    except ValueError:
        return None
