"""What the market-data websocket streams: the emulator's market sampled as its clock runs.

One :class:`DataHub` per emulator runs while any socket is subscribed. Each cycle (every
``tick_seconds`` of wall time) it reads the synthetic market that the tick loop advances and
turns what changed into Alpaca's v2 data messages (API.md §11.4.3):

* ``q`` quotes: one per market step (the bid/ask around the price path), or ``quote_hz`` per
  second per symbol when set (a benchmark's load; sizes vary, prices follow the path);
* ``t`` trades: the last trade when the market booked new ones, or ``trade_hz`` per second per
  symbol when set (a benchmark's load: each a print at the last trade's price and size, under
  an id of its own from ``PACED_TRADE_IDS`` up, so none repeats a booked trade's);
* ``b`` minute bars right after each minute closes, ``d`` the day's bar so far with them;
* ``u`` updated bars: with ``late_bar_probability`` a finished bar gets a late trade half a
  minute after it was sent (its volume, count, VWAP and maybe high/low change, in the market's
  own bar, so REST agrees), and the corrected bar is sent;
* ``s`` statuses when a symbol is halted or resumed (``/_emulator/halt``).

The ``/v2/test`` endpoint has a market of its own with the one symbol ``FAKEPACA``, as
Alpaca's test stream does. ``delayed_sip`` gets the same messages 15 simulated minutes late.
Message ``t`` values are aware datetimes: the socket encodes them as RFC-3339 text in JSON and
as msgpack Timestamps in msgpack.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from tui_trader.sim.feeds import stream_delay
from tui_trader.sim.market import Bar, MarketModel, Quote, round_price

if TYPE_CHECKING:
    from tui_trader.sim.emulator import Emulator

Message = dict[str, Any]
TEST_SYMBOL = "FAKEPACA"
CHANNEL_OF = {
    "t": "trades",
    "q": "quotes",
    "b": "bars",
    "u": "updatedBars",
    "d": "dailyBars",
    "s": "statuses",
}
LATE_AFTER = timedelta(seconds=90)  # a bar is sent at its start + 60 s; the late trade at +90 s
PENDING_LIMIT = 200_000  # messages a reader may fall behind before it is a slow client (407)
DELAY_LIMIT = 500_000  # messages held for delayed_sip
PACED_TRADE_IDS = 10**15  # trade_hz prints count up from here (the market's own ids are small)


@dataclass(eq=False)
class Listener:
    """One socket's subscription and its outbox (control replies and data, in order)."""

    feed: str
    channels: dict[str, set[str]] = field(default_factory=dict)
    outbox: list[Message] = field(default_factory=list)
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    overflow: bool = False

    def wants(self, channel: str, symbol: str) -> bool:
        symbols = self.channels.get(channel)
        return symbols is not None and (symbol in symbols or "*" in symbols)

    def push(self, message: Message) -> None:
        if len(self.outbox) >= PENDING_LIMIT:
            self.overflow = True
        else:
            self.outbox.append(message)
        self.wake.set()

    def control(self, message: Message) -> None:
        """A control reply: never dropped, sent in order with the data."""
        self.outbox.append(message)
        self.wake.set()


def quote_message(symbol: str, q: Quote, at: datetime, bs: int, asz: int) -> Message:
    return {
        "T": "q",
        "S": symbol,
        "bx": "V",
        "bp": q.bid,
        "bs": bs,
        "ax": "V",
        "ap": q.ask,
        "as": asz,
        "c": ["R"],
        "z": "C",
        "t": at,
    }


def trade_message(symbol: str, i: int, price: float, size: int, at: datetime) -> Message:
    return {
        "T": "t",
        "S": symbol,
        "i": i,
        "x": "V",
        "p": price,
        "s": size,
        "c": ["@"],
        "z": "C",
        "t": at,
    }


def _paced(credits: dict[str, float], symbol: str, hz: float, wall_dt: float) -> int:
    """How many of ``hz`` a second are due for ``symbol`` after ``wall_dt`` s (the fraction
    carries to the next cycle; a stalled cycle sends at most a second's worth: no flood)."""
    credit = credits.get(symbol, 0.0) + hz * wall_dt
    n = min(int(credit), int(hz) + 1)
    credits[symbol] = min(credit - int(credit), 1.0)
    return n


def bar_message(kind: str, symbol: str, b: Bar) -> Message:
    return {
        "T": kind,
        "S": symbol,
        "o": round(b.o, 4),
        "h": round(b.h, 4),
        "l": round(b.l, 4),
        "c": round(b.c, 4),
        "v": b.v,
        "t": b.t,
        "n": b.n,
        "vw": round(b.vw, 6),
    }


class _Source:
    """One market's change tracking: what was already sent, what is due."""

    def __init__(self, market: MarketModel, rng: random.Random) -> None:
        self.market = market
        self.rng = rng
        self._quotes: dict[str, Quote] = {}
        self._seqs: dict[str, int] = {}
        self._bars: dict[str, int] = {}
        self._credit: dict[str, float] = {}
        self._trade_credit: dict[str, float] = {}
        self._paced_id = PACED_TRADE_IDS
        self._late: list[tuple[datetime, str, Bar]] = []
        self.halted: set[str] = set()

    def reset(self, halted: set[str]) -> None:
        """Forget the past: a (re)started hub sends only what happens from now on."""
        m = self.market
        for s in m.symbols:
            self._quotes[s] = m.quote(s)
            self._seqs[s] = m.last_trade(s)[3]
            self._bars[s] = m.bars_made(s)
        self._credit.clear()
        self._trade_credit.clear()
        self.halted = set(halted)

    def sample(
        self,
        wanted: dict[str, set[str]],
        quote_hz: float | None,
        late_p: float,
        wall_dt: float,
        halted: set[str],
        trade_hz: float | None = None,
    ) -> list[Message]:
        """The messages of what changed since the last cycle, for the wanted symbols."""
        m = self.market
        out: list[Message] = []
        now = m.now
        for s in m.symbols:
            quote = m.quote(s)
            changed = quote is not self._quotes.get(s)
            self._quotes[s] = quote
            if s in wanted.get("quotes", ()):
                n = int(changed) if not quote_hz else _paced(self._credit, s, quote_hz, wall_dt)
                for _ in range(n):
                    bs, asz = self.rng.randrange(1, 30), self.rng.randrange(1, 30)
                    out.append(quote_message(s, quote, now, bs, asz))
            price, size, at, seq = m.last_trade(s)
            if s in wanted.get("trades", ()):
                if trade_hz:
                    for _ in range(_paced(self._trade_credit, s, trade_hz, wall_dt)):
                        self._paced_id += 1
                        out.append(trade_message(s, self._paced_id, price, size, now))
                elif seq != self._seqs.get(s, seq):
                    out.append(trade_message(s, seq, price, size, at))
            self._seqs[s] = seq
            # counted from the market's first bar: the list's oldest bars go now and then
            bars, made = m.minute_bars(s), m.bars_made(s)
            new = min(made - self._bars.get(s, made), len(bars))
            fresh = bars[len(bars) - new :] if new > 0 else []
            self._bars[s] = made
            for b in fresh:
                if s in wanted.get("bars", ()):
                    out.append(bar_message("b", s, b))
                if late_p > 0 and self.rng.random() < late_p:
                    self._late.append((b.t + LATE_AFTER, s, b))
            if fresh and s in wanted.get("dailyBars", ()):
                out.append(bar_message("d", s, m.daily_bars(s)[-1]))
        out += self._late_trades(now, wanted)
        out += self._statuses(now, halted, wanted)
        return out

    def _late_trades(self, now: datetime, wanted: dict[str, set[str]]) -> list[Message]:
        due = [x for x in self._late if x[0] <= now]
        if not due:
            return []
        self._late = [x for x in self._late if x[0] > now]
        out: list[Message] = []
        for _, s, b in due:
            price = round_price(b.c * (1 + self.rng.uniform(-1, 1) * 0.001))
            size = 100 * self.rng.randrange(1, 5)
            b.h, b.l = max(b.h, price), min(b.l, price)
            b.vw = (b.vw * b.v + price * size) / (b.v + size)
            b.v += size
            b.n += 1
            if s in wanted.get("updatedBars", ()):
                out.append(bar_message("u", s, b))
        return out

    def _statuses(
        self, now: datetime, halted: set[str], wanted: dict[str, set[str]]
    ) -> list[Message]:
        if halted == self.halted:
            return []
        out: list[Message] = []
        for s in sorted(halted ^ self.halted):
            if s not in wanted.get("statuses", ()):
                continue
            if s in halted:
                sc, sm, rc, rm = "H", "Trading Halt", "T12", "Trading Halted; emulator halt"
            else:
                sc, sm, rc, rm = "T", "Trading Resumption", "", ""
            out.append(
                {"T": "s", "S": s, "sc": sc, "sm": sm, "rc": rc, "rm": rm, "t": now, "z": "C"}
            )
        self.halted = set(halted)
        return out


def _wanted(listeners: list[Listener], symbols: list[str]) -> dict[str, set[str]]:
    """Per channel, the symbols of this market some listener wants."""
    out: dict[str, set[str]] = {}
    for ln in listeners:
        for channel, subscribed in ln.channels.items():
            if not subscribed:
                continue
            into = out.setdefault(channel, set())
            into.update(symbols if "*" in subscribed else subscribed)
    return out


class DataHub:
    """Samples the markets and fans the messages out to the listeners that want them."""

    def __init__(self, emulator: Emulator) -> None:
        self.emu = emulator
        self.listeners: set[Listener] = set()
        self._task: asyncio.Task[None] | None = None
        seed = emulator.config.seed
        self._live = _Source(emulator.exchange.market, random.Random(seed + 11))
        self._test: _Source | None = None
        self._test_seconds = 0
        self._delayed: deque[tuple[datetime, Message]] = deque(maxlen=DELAY_LIMIT)
        self.sent = 0  # data messages handed to listeners, for tests and benchmarks

    def register(self, listener: Listener) -> None:
        self.listeners.add(listener)
        if listener.feed == "test" and self._test is None:
            clock = self.emu.clock
            market = MarketModel(
                [TEST_SYMBOL], self.emu.config.seed + 99, clock.now(), history_days=0
            )
            self._test = _Source(market, random.Random(self.emu.config.seed + 98))
            self._test_seconds = int(clock.trading_seconds())
            self._test.reset(set())
        if self._task is None or self._task.done():
            self._live.reset(set(self.emu.exchange.halted))
            if self._test is not None:
                self._test.reset(set())
            self._task = asyncio.create_task(self._run(), name="emulator-data-hub")

    def unregister(self, listener: Listener) -> None:
        self.listeners.discard(listener)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        last = time.monotonic()
        while self.listeners and not self.emu.is_closing:
            await asyncio.sleep(self.emu.config.tick_seconds)
            now = time.monotonic()
            self.cycle(now - last)
            last = now

    def cycle(self, wall_dt: float) -> None:
        """One sampling pass: public so a test can drive it without the timer."""
        cfg = self.emu.config
        live = [ln for ln in self.listeners if ln.feed != "test"]
        test = [ln for ln in self.listeners if ln.feed == "test"]
        if live:
            market = self._live.market
            wanted = _wanted(live, market.symbols)
            halted = set(self.emu.exchange.halted)
            msgs = self._live.sample(
                wanted, cfg.quote_hz, cfg.late_bar_probability, wall_dt, halted, cfg.trade_hz
            )
            now = market.now
            prompt = [ln for ln in live if not stream_delay(ln.feed)]
            delayed = [ln for ln in live if stream_delay(ln.feed)]
            self._fan_out(msgs, prompt)
            if delayed:
                self._delayed.extend((now, m) for m in msgs)
                self._fan_out(self._release(now - stream_delay("delayed_sip")), delayed)
            else:
                self._delayed.clear()
        if test and self._test is not None:
            self._step_test()
            wanted = _wanted(test, [TEST_SYMBOL])
            self._fan_out(
                self._test.sample(wanted, cfg.quote_hz, 0.0, wall_dt, set(), cfg.trade_hz), test
            )

    def _step_test(self) -> None:
        assert self._test is not None
        clock = self.emu.clock
        target = int(clock.trading_seconds())
        seconds = min(target - self._test_seconds, 3600)
        if seconds > 0:
            self._test.market.step(seconds, clock.now())
        self._test_seconds = target

    def _release(self, upto: datetime) -> list[Message]:
        out: list[Message] = []
        while self._delayed and self._delayed[0][0] <= upto:
            out.append(self._delayed.popleft()[1])
        return out

    def _fan_out(self, msgs: list[Message], listeners: list[Listener]) -> None:
        if not msgs:
            return
        for m in msgs:
            channel = CHANNEL_OF[m["T"]]
            symbol = m["S"]
            for ln in listeners:
                if ln.wants(channel, symbol):
                    ln.push(m)
                    self.sent += 1
