"""Market data and the policy's decisions: quotes mark the ledger; every new bar feeds the
policy (after days of history at start, the warm-up). Prices and bars come from the data
stream while it is up (:mod:`.live`: backfilled over REST after each (re)connect), and are
polled over REST otherwise; its proposal, fitted to the limits, goes
through the risk gate to the order worker's queue when the desk trades. Each turn of the loop
also does the chores that are due: an account to read again, the market clock, orders whose
answer was lost, a pause or resume given from another shell.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import time
from collections import deque
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from tui_trader.broker.rest import AlpacaError
from tui_trader.core.models import Bar
from tui_trader.core.orders import OrderBuilder, market_time_in_force
from tui_trader.core.policy import Decision
from tui_trader.core.sizing import fit_to_limits
from tui_trader.desk.account import AccountSync
from tui_trader.desk.commands import Commands
from tui_trader.desk.live import LiveData
from tui_trader.desk.orders import OrderWorker
from tui_trader.desk.watchlist import Watchlist

log = logging.getLogger("tui_trader.desk")

MAX_HISTORY = 60  # closes per symbol for the sparkline
WARM_UP_SLICE = 200
"""Bars the policy learns from between two turns of the event loop during the warm-up (at
start, 5 days of minute bars per symbol held the screen still for ~2 s on the 2-core machine)."""


class MarketFeed(Watchlist, LiveData, AccountSync, OrderWorker, Commands):
    """The market loop and the policy; it reads the account and the clock (:class:`AccountSync`),
    looks up lost answers (:class:`OrderWorker`), asks the gate (:class:`Commands`) and reads
    the data stream's prices and bars (:class:`LiveData`)."""

    _starting: str | None  # the start-up's step for the header; None once started

    @property
    def started(self) -> bool:
        """The start-up is over: the account read (or its retry scheduled), the policy warm."""
        return self._starting is None

    def _step(self, text: str | None) -> None:
        """Where the start-up is (None: done), for the screen's header."""
        self._starting = text
        self._changed()

    async def _warm_up(self) -> None:
        """Feed the policy the recent history (days of minute bars): its model learns from
        all of it, not just the warm-up minimum, so it can act on the first live bar.
        The latest quotes first: every watched symbol shows a price while it learns."""
        self._step("reading the latest quotes…")
        with contextlib.suppress(AlpacaError):
            for symbol, q in (await self.rest.latest_quotes(list(self.symbols))).items():
                self._take_quote(symbol, q)
            self._changed()
        self._step("reading the policy's history…")
        try:
            clock = await self.rest.get_clock()
            now = _parse_time(str(clock.get("timestamp", ""))) or self._clock()
            history = await self.rest.bars(
                list(self.symbols), "1Min", start=now - timedelta(days=5), end=now
            )
        except AlpacaError as exc:
            self._notice(f"no history for the policy ({exc}); it warms up live")
            return
        total, fed = sum(len(bars) for bars in history.values()), 0
        for symbol, bars in history.items():
            day = bars[-1].timestamp.date() if bars else None
            for bar in bars:
                if bar.timestamp.date() == day:  # the charts show the latest session
                    self.charts.bar(symbol, bar)
                self._record_close(symbol, bar.timestamp, bar.close)
                self._tape(symbol).bar(bar)
                self.policy.observe(symbol, float(bar.close), bar.timestamp)
                self._last_bar[symbol] = bar.timestamp
                fed += 1
                if fed % WARM_UP_SLICE == 0:  # days of bars take seconds: the screen keeps going
                    self._step(f"warming up the policy {fed:,}/{total:,} bars")
                    await asyncio.sleep(0)
                    if self._stop.is_set():  # a quit while warming up: no need to finish
                        return
            self._readings[symbol] = self.convexity.reading(symbol)
        # the signals pane shows the policy's view from the start, not after the next bar;
        # nothing is traded on it (the next live bar decides)
        book = self.portfolio.snapshot()
        for symbol, (at, close) in self._last_close.items():
            pos = book.positions.get(symbol)
            held = pos.qty if pos is not None else Decimal(0)
            self._signals[symbol] = self.policy.decide(symbol, close, book.equity, held, at)

    async def _market_loop(self) -> None:
        while not self._stop.is_set():
            try:
                if self._stream_up():
                    await self._stream_bars()
                else:
                    await self._poll_market()
            except AlpacaError as exc:
                log.warning("market data poll failed", extra={"error": str(exc)[:200]})
            except Exception:  # a bug in one poll must not stop the desk
                log.exception("market loop error")
            try:
                await self._housekeeping()
            except Exception:
                log.exception("housekeeping error")
            # the equity curve's end moves between bars too
            self.charts.sample_book(self.portfolio.snapshot())
            self._sync_pause()
            self._evaluate_risk()
            self._changed()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), self.options.poll_interval)

    async def _poll_market(self) -> None:
        quotes = await self.rest.latest_quotes(list(self.symbols))
        self._data_at = time.monotonic()
        for symbol, q in quotes.items():
            self._take_quote(symbol, q)
        # every bar since the last one seen, not just the latest: the policy's features
        # assume consecutive bars, and a poll may span several (a fast sim, a slow poll)
        seen = [self._last_bar[s] for s in self.symbols if s in self._last_bar]
        if seen:
            new = await self.rest.bars(
                list(self.symbols), "1Min", start=min(seen) + timedelta(seconds=1)
            )
        else:
            latest = await self.rest.latest_bars(list(self.symbols))
            new = {s: [b] for s, b in latest.items() if b is not None}
        await self._take_bars(new)
        await self._take_inbox()  # bars the stream delivered before it went down

    async def _stream_bars(self) -> None:
        """The stream's bars, after the REST backfill a (re)connect calls for: should the
        backfill fail, the inbox waits for the next turn (no bar taken past a hole)."""
        if self._backfill_due:
            seen = [self._last_bar[s] for s in self.symbols if s in self._last_bar]
            if seen:
                await self._take_bars(
                    await self.rest.bars(
                        list(self.symbols), "1Min", start=min(seen) + timedelta(seconds=1)
                    )
                )
            self._backfill_due = False
        await self._take_inbox()

    async def _take_inbox(self) -> None:
        """Bars from the stream in arrival order: a new minute goes to the policy; the same
        minute again (a ``u``, or the ``b`` of a minute the backfill already returned)
        corrects it; older ones are duplicates."""
        while self._bar_inbox:
            symbol, bar, _corrected = self._bar_inbox.popleft()
            last = self._last_bar.get(symbol)
            if last is not None and bar.timestamp <= last:
                if self._correct_bar(symbol, bar):
                    self.charts.bar(symbol, bar)  # the same minute: replaced
                continue
            await self._take_bars({symbol: [bar]})

    async def _take_bars(self, new: dict[str, list[Bar]]) -> None:
        # bars of a new session: the day rolls before the policy trades on them
        await self._check_day(
            max((b.timestamp for bars in new.values() for b in bars), default=None)
        )
        for symbol in self.symbols:
            for bar in sorted(new.get(symbol, []), key=lambda b: b.timestamp):
                last = self._last_bar.get(symbol)
                if last is not None and bar.timestamp <= last:
                    continue
                self._last_bar[symbol] = bar.timestamp
                self._record_close(symbol, bar.timestamp, bar.close)
                self._tape(symbol).bar(bar)
                self.charts.bar(symbol, bar)
                self.policy.observe(symbol, float(bar.close), bar.timestamp)
                self._readings[symbol] = self.convexity.reading(symbol)
                await self._decide(symbol, bar.timestamp, bar.close)
        self.charts.sample_book(self.portfolio.snapshot())

    def _record_close(self, symbol: str, at: datetime, close: Decimal) -> None:
        """Keep the sparkline's closes and the previous session's last close."""
        last = self._last_close.get(symbol)
        if last is not None and last[0].date() != at.date():
            self._prev_close[symbol] = last[1]
        self._last_close[symbol] = (at, close)
        self._history.setdefault(symbol, deque(maxlen=MAX_HISTORY)).append(float(close))

    async def _decide(self, symbol: str, at: datetime, close: Decimal) -> None:
        if self.working.busy(symbol):  # one order per symbol at a time, whoever placed it
            return
        book = self.portfolio.snapshot()
        price = self._prices.get(symbol, close)
        pos = book.positions.get(symbol)
        decision = self.policy.decide(
            symbol, price, book.equity, pos.qty if pos is not None else Decimal(0), at
        )
        self._signals[symbol] = decision
        # the price decided at and the bar's close: what a replay marks the ledger with
        seen = {"price": str(price), "close": str(close), "convexity": self._reading_data(symbol)}
        self._audit("signal", {**_decision_data(decision), **seen}, symbol)
        qty = fit_to_limits(
            decision.proposed_qty,
            pos.qty if pos is not None else Decimal(0),
            price,
            self.risk.limits.max_symbol_notional,
        )
        if not self.options.trade or qty is None or qty == 0:
            return
        order = (
            (
                OrderBuilder().symbol(symbol).buy(qty)
                if qty > 0
                else OrderBuilder().symbol(symbol).sell(-qty)
            )
            .market()
            .time_in_force(market_time_in_force(symbol))
            .build()
        )
        verdict = self.check(order)
        self._verdicts[symbol] = verdict
        self._audit(
            "risk",
            {
                "client_order_id": order.client_order_id,
                "verdict": str(verdict),
                "allowed": verdict.allowed,
                "order": order.to_request(),
            },
            symbol,
        )
        if verdict.allowed:
            self.working.add(order)  # counts from now: the next check sees it
            await self._queue.put((order, "policy"))

    def _reading_data(self, symbol: str) -> dict[str, Any] | None:
        reading = self._readings.get(symbol)
        return None if reading is None else dataclasses.asdict(reading)

    async def _housekeeping(self) -> None:
        """The account when it must be read again, the market clock, lost answers."""
        if self._account_retry_at is not None and time.monotonic() >= self._account_retry_at:
            self._account_retry_at = None
            await self._sync_account(None, self._ledger_events, "retry")
        await self._check_day()
        if self.working.unknown() and time.monotonic() >= self._unknown_at:
            self._unknown_at = time.monotonic() + self.options.lookup_every
            await self._resolve_unknown()


def _parse_time(text: str) -> datetime | None:
    from tui_trader.core.types import parse_timestamp

    try:
        return parse_timestamp(text)
    except ValueError:
        return None


def _decision_data(d: Decision) -> dict[str, Any]:
    return {
        "at": d.at.isoformat() if d.at else None,
        "mu": d.mu,
        "sigma": d.sigma,
        "target_weight": d.target_weight,
        "current_weight": d.current_weight,
        "utility_gain": d.utility_gain,
        "proposed_qty": None if d.proposed_qty is None else str(d.proposed_qty),
        "reason": d.reason,
        "features": dict(d.features),
    }
