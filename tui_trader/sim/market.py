"""The emulator's market: seeded prices with stochastic volatility, jumps and drift regimes.

Model, per symbol, stepped once per trading second (``dt`` in years of 252 x 6.5 h):

* variance ``v`` follows a Heston-style mean-reverting square-root process
  (``kappa`` 6/yr towards ``theta`` = the symbol's vol squared, vol-of-vol ``xi`` 0.8,
  correlation ``rho`` -0.6 with returns: the leverage effect);
* log returns are ``(mu - v/2) dt + sqrt(v dt) z + J`` with Poisson jumps ``J`` (about four a
  year, N(0, 2.5%)), and an overnight gap at each open (N(0, vol * sqrt(overnight share))).
* ``mu`` is a **persistent drift regime**: a three-state Markov chain (-1, 0, +1) times
  ``regime_drift``, switching on average every ``regime_minutes`` trading minutes:
  realistic by default, the strong planted regime on request (:mod:`.regimes` says what
  each is and why); ``regime_drift=0`` gives a pure random walk with no edge at all.

Quotes are the mid +- half a spread of a few basis points (at least a cent), sizes random
round lots; trades add volume to one-minute bars, which are what the data API serves. The
same seed always gives the same path for the same sequence of steps.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Final
from zoneinfo import ZoneInfo

import numpy as np

from tui_trader.sim.regimes import DEFAULT_REGIME_DRIFT, DEFAULT_REGIME_MINUTES

NEW_YORK = ZoneInfo("America/New_York")
SECONDS_PER_YEAR = 252 * 6.5 * 3600
DT = 1.0 / SECONDS_PER_YEAR
SESSION_MINUTES = 390
KEEP_BARS: Final = 7 * SESSION_MINUTES
"""Minute bars kept per symbol: seven sessions, more than the desk's warm-up asks for (five
calendar days). The oldest go in chunks past that: at the demo pace (a bar a second for each
of nine symbols, about 380 bytes a bar) an unbounded list grew the desk's RSS ~12 MB an hour."""


@dataclass(frozen=True)
class SymbolSpec:
    symbol: str
    price: float
    vol: float  # annualised
    volume_per_minute: float = 20_000.0
    spread_bps: float = 2.0


DEFAULT_SYMBOLS: dict[str, SymbolSpec] = {
    "AAPL": SymbolSpec("AAPL", 231.50, 0.25, 60_000),
    "MSFT": SymbolSpec("MSFT", 418.20, 0.22, 30_000),
    "NVDA": SymbolSpec("NVDA", 141.80, 0.45, 250_000),
    "TSLA": SymbolSpec("TSLA", 252.40, 0.55, 120_000, 3.0),
    "SPY": SymbolSpec("SPY", 583.10, 0.15, 80_000, 1.0),
}


LISTED_EXTRA: dict[str, SymbolSpec] = {
    "AMZN": SymbolSpec("AMZN", 201.30, 0.32, 45_000),
    "GOOGL": SymbolSpec("GOOGL", 171.90, 0.30, 30_000),
    "AMD": SymbolSpec("AMD", 138.60, 0.50, 50_000, 3.0),
    "QQQ": SymbolSpec("QQQ", 503.20, 0.20, 40_000, 1.0),
}
"""Symbols the embedded emulator lists beyond the watched ones, so a trader trying the
watchlist's ``+`` has something to add (an unlisted ticker is refused, as Alpaca does).
Few: each listing costs the emulator's start its 5 days of history (~40 ms a symbol)."""


def listed(watched: Sequence[str]) -> tuple[str, ...]:
    """The embedded emulator's symbols: the watched ones first, then the extra listings."""
    return tuple(dict.fromkeys([*(s.upper() for s in watched), *LISTED_EXTRA]))


def spec_for(symbol: str, rng: np.random.Generator) -> SymbolSpec:
    """A known symbol's realistic spec, or a plausible seeded one for any other ticker."""
    if symbol in DEFAULT_SYMBOLS:
        return DEFAULT_SYMBOLS[symbol]
    if symbol in LISTED_EXTRA:
        return LISTED_EXTRA[symbol]
    price = float(np.round(np.exp(rng.uniform(np.log(15), np.log(400))), 2))
    return SymbolSpec(symbol, price, float(rng.uniform(0.2, 0.6)))


@dataclass(frozen=True)
class Quote:
    bid: float
    ask: float
    bid_size: int
    ask_size: int


@dataclass
class Bar:
    """One bar; ``t`` is the bar's start (UTC)."""

    t: datetime
    o: float
    h: float
    l: float  # noqa: E741 - Alpaca's own key
    c: float
    v: int = 0
    n: int = 0
    vw: float = 0.0

    def add(self, price: float, volume: int, trades: int) -> None:
        self.h = max(self.h, price)
        self.l = min(self.l, price)
        self.c = price
        if volume:
            self.vw = (self.vw * self.v + price * volume) / (self.v + volume)
            self.v += volume
            self.n += trades

    def absorb(self, later: Bar) -> None:
        """Extend this bar by a later, shorter one (aggregating minutes into hours or days)."""
        self.h, self.l, self.c = max(self.h, later.h), min(self.l, later.l), later.c
        if later.v:
            self.vw = (self.vw * self.v + later.vw * later.v) / (self.v + later.v)
            self.v += later.v
            self.n += later.n

    def copy_at(self, t: datetime) -> Bar:
        return Bar(t, self.o, self.h, self.l, self.c, self.v, self.n, self.vw)

    def to_wire(self) -> dict[str, object]:
        return {
            "t": self.t.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "o": round(self.o, 4),
            "h": round(self.h, 4),
            "l": round(self.l, 4),
            "c": round(self.c, 4),
            "v": self.v,
            "n": self.n,
            "vw": round(self.vw, 6),
        }


@dataclass
class _SymbolState:
    spec: SymbolSpec
    price: float
    var: float
    regime: int = 0
    quote: Quote = field(default_factory=lambda: Quote(0, 0, 0, 0))
    last_trade: float = 0.0
    last_trade_size: int = 100
    last_trade_at: datetime | None = None
    trade_seq: int = 0
    bars: list[Bar] = field(default_factory=list)  # completed one-minute bars, oldest first
    bar_base: int = 0  # the absolute sequence number of bars[0] (older ones were let go)
    current: Bar | None = None
    prev_close: float = 0.0
    day_open: float = 0.0


def round_price(price: float) -> float:
    """Cents at or above $1, hundredths of a cent below (Alpaca's tick rules)."""
    return round(price, 2) if price >= 1 else round(price, 4)


class MarketModel:
    """Seeded simulated market; advanced by the emulator's clock one trading second a step."""

    def __init__(
        self,
        symbols: Sequence[str],
        seed: int,
        start: datetime,
        *,
        regime_drift: float = DEFAULT_REGIME_DRIFT,
        regime_minutes: float = DEFAULT_REGIME_MINUTES,
        history_days: int = 5,
        keep_bars: int | None = KEEP_BARS,
    ) -> None:
        if not symbols:
            raise ValueError("the market needs at least one symbol")
        if regime_minutes <= 0:
            raise ValueError("regime_minutes must be > 0")
        self._rng = np.random.default_rng(seed)
        self.regime_drift = regime_drift
        self.regime_minutes = regime_minutes
        self._switch_p = 1.0 / (regime_minutes * 60.0)
        # never fewer than the history it starts with and today's session
        self._keep_bars = (
            None if keep_bars is None else max(keep_bars, (history_days + 1) * SESSION_MINUTES)
        )
        self.now = start.astimezone(UTC)
        self._states: dict[str, _SymbolState] = {}
        for sym in symbols:
            spec = spec_for(sym, self._rng)
            st = _SymbolState(spec, spec.price, spec.vol**2, int(self._rng.integers(-1, 2)))
            self._states[sym] = st
        self._history(history_days)
        for st in self._states.values():
            self._requote(st)
            st.last_trade = round_price(st.price)
            st.last_trade_at = self.now
            st.current = Bar(self._minute(self.now), st.price, st.price, st.price, st.price)
            st.day_open = st.price

    # -- public read side -------------------------------------------------------------------
    @property
    def symbols(self) -> list[str]:
        return list(self._states)

    def has(self, symbol: str) -> bool:
        return symbol in self._states

    def price(self, symbol: str) -> float:
        return self._states[symbol].price

    def quote(self, symbol: str) -> Quote:
        return self._states[symbol].quote

    def last_trade(self, symbol: str) -> tuple[float, int, datetime, int]:
        st = self._states[symbol]
        return st.last_trade, st.last_trade_size, st.last_trade_at or self.now, st.trade_seq

    def regime(self, symbol: str) -> int:
        return self._states[symbol].regime

    def minute_bars(self, symbol: str) -> list[Bar]:
        """The completed minute bars kept (:data:`KEEP_BARS`), oldest first."""
        return self._states[symbol].bars

    def bar_base(self, symbol: str) -> int:
        """The absolute sequence number of ``minute_bars(symbol)[0]``: bars let go before it."""
        return self._states[symbol].bar_base

    def bars_made(self, symbol: str) -> int:
        """Completed minute bars since the market began, kept or not: what a reader that
        remembers where it was compares with (a list's length drops when the oldest go)."""
        st = self._states[symbol]
        return st.bar_base + len(st.bars)

    def _close_bar(self, st: _SymbolState, bar: Bar) -> None:
        st.bars.append(bar)
        keep = self._keep_bars
        if keep is not None and len(st.bars) > keep + keep // 8:
            self._trim_bars(st)

    def _trim_bars(self, st: _SymbolState) -> None:
        keep = self._keep_bars
        if keep is not None and len(st.bars) > keep:
            gone = len(st.bars) - keep
            del st.bars[:gone]
            st.bar_base += gone

    def current_bar(self, symbol: str) -> Bar | None:
        return self._states[symbol].current

    def daily_bars(self, symbol: str) -> list[Bar]:
        """Daily bars aggregated from the minute bars, oldest first, today's partial last."""
        st = self._states[symbol]
        bars = [*st.bars, *([st.current] if st.current else [])]
        days: list[Bar] = []
        for b in bars:
            # Alpaca stamps a daily bar at midnight New York, e.g. 2022-08-17T04:00:00Z
            local = b.t.astimezone(NEW_YORK).date()
            day = datetime(local.year, local.month, local.day, tzinfo=NEW_YORK).astimezone(UTC)
            if days and days[-1].t == day:
                days[-1].absorb(b)
            else:
                days.append(b.copy_at(day))
        return days

    def prev_close(self, symbol: str) -> float:
        return self._states[symbol].prev_close

    # -- stepping -----------------------------------------------------------------------------
    def step(self, seconds: int, until: datetime) -> None:
        """Advance ``seconds`` trading seconds, ending at wall time ``until``."""
        if seconds <= 0:
            self.now = max(self.now, until)
            return
        states = list(self._states.values())
        n = len(states)
        rng = self._rng
        price = np.array([s.price for s in states])
        var = np.array([s.var for s in states])
        theta = np.array([s.spec.vol**2 for s in states])
        regime = np.array([s.regime for s in states], dtype=float)
        kappa, xi, rho = 6.0, 0.8, -0.6
        z1 = rng.standard_normal((seconds, n))
        z2 = rho * z1 + math.sqrt(1 - rho * rho) * rng.standard_normal((seconds, n))
        jumps = rng.random((seconds, n)) < 4.0 * DT
        jump_size = rng.normal(0.0, 0.025, (seconds, n)) * jumps
        switches = rng.random((seconds, n)) < self._switch_p
        new_regimes = rng.integers(-1, 2, (seconds, n))
        vol_minute = np.array([s.spec.volume_per_minute for s in states])
        trades = rng.poisson(np.maximum(vol_minute / 60.0 / 100.0, 0.05), (seconds, n))
        start_t = until - timedelta(seconds=seconds)
        for i in range(seconds):
            regime = np.where(switches[i], new_regimes[i], regime)
            mu = regime * self.regime_drift
            sq = np.sqrt(var * DT)
            price = price * np.exp((mu - 0.5 * var) * DT + sq * z1[i] + jump_size[i])
            var = np.maximum(var + kappa * (theta - var) * DT + xi * sq * z2[i], 1e-4)
            t = start_t + timedelta(seconds=i + 1)
            for j, st in enumerate(states):
                p = float(price[j])
                st.price = p
                k = int(trades[i, j])
                if k:
                    self._trade(st, round_price(p), 100 * k, k, t)
                elif st.current is not None:
                    self._roll(st, t)
        for j, st in enumerate(states):
            st.var = float(var[j])
            st.regime = int(regime[j])
            self._requote(st)
        self.now = until

    def session_break(self, at: datetime) -> None:
        """Close one session and open the next: an overnight gap in every price."""
        for st in self._states.values():
            if st.current is not None:
                self._close_bar(st, st.current)
                st.current = None
            st.prev_close = st.price
            gap = float(self._rng.normal(0.0, st.spec.vol * math.sqrt(1 / 252 * 0.3)))
            st.price *= math.exp(gap)
            st.day_open = st.price
            st.current = Bar(self._minute(at), st.price, st.price, st.price, st.price)
            self._requote(st)
        self.now = at

    # -- internals ------------------------------------------------------------------------------
    @staticmethod
    def _minute(t: datetime) -> datetime:
        return t.replace(second=0, microsecond=0)

    def _roll(self, st: _SymbolState, t: datetime) -> None:
        minute = self._minute(t)
        if st.current is None or st.current.t != minute:
            if st.current is not None:
                self._close_bar(st, st.current)
            st.current = Bar(minute, st.price, st.price, st.price, st.price)

    def _trade(self, st: _SymbolState, price: float, size: int, count: int, t: datetime) -> None:
        self._roll(st, t)
        assert st.current is not None
        st.current.add(price, size, count)
        st.last_trade, st.last_trade_size, st.last_trade_at = price, size, t
        st.trade_seq += count

    def _requote(self, st: _SymbolState) -> None:
        mid = st.price
        half = max(mid * st.spec.spread_bps / 2e4, 0.005 if mid >= 1 else 0.00005)
        tick = 0.01 if mid >= 1 else 0.0001
        bid = math.floor((mid - half) / tick) * tick
        ask = max(math.ceil((mid + half) / tick) * tick, bid + tick)
        bs, asz = (100 * int(x) for x in self._rng.integers(1, 30, 2))
        st.quote = Quote(round_price(bid), round_price(ask), bs, asz)

    def _history(self, days: int) -> None:
        """Minute bars for ``days`` sessions before the start, ending at each start price."""
        if days <= 0:
            return
        from tui_trader.sim.clock import SESSION_SECONDS, session_open
        from tui_trader.sim.clock import is_trading_day as _is_day

        minutes = SESSION_SECONDS // 60
        sessions: list[datetime] = []
        day = self.now.date()
        while len(sessions) < days:
            day -= timedelta(days=1)
            if _is_day(day):
                sessions.append(session_open(day))
        sessions.reverse()
        dt_min = 60 * DT
        for st in self._states.values():
            total = days * minutes
            vol = st.spec.vol
            # the same drift regimes as the live path, so history teaches what live pays
            switches = self._rng.random(total) < self._switch_p * 60
            picks = self._rng.integers(-1, 2, total)
            picks[0] = st.regime
            switches[0] = True
            last = np.maximum.accumulate(np.where(switches, np.arange(total), 0))
            regimes = picks[last]
            st.regime = int(regimes[-1])
            steps = self._rng.standard_normal(total) * vol * math.sqrt(dt_min)
            steps += regimes * self.regime_drift * dt_min
            # overnight gaps between sessions
            steps[minutes::minutes] += self._rng.normal(0, vol * math.sqrt(0.3 / 252), days - 1)
            path = np.exp(np.cumsum(steps))
            path *= st.price / path[-1]
            noise = np.abs(self._rng.standard_normal((total, 2))) * vol * math.sqrt(dt_min) * 0.6
            volumes = self._rng.poisson(st.spec.volume_per_minute / 100.0, total) * 100
            prev = float(path[0])
            for k in range(total):
                session, minute = divmod(k, minutes)
                t = sessions[session] + timedelta(minutes=minute)
                o = prev if minute else float(path[k])
                c = float(path[k])
                h = max(o, c) * (1 + float(noise[k, 0]))
                lo = min(o, c) * (1 - float(noise[k, 1]))
                v = int(volumes[k])
                st.bars.append(
                    Bar(
                        t,
                        round_price(o),
                        round_price(h),
                        round_price(lo),
                        round_price(c),
                        v,
                        max(1, v // 100),
                        round((o + c + h + lo) / 4, 4),
                    )
                )
                prev = c
            st.prev_close = st.bars[-1].c
            self._trim_bars(st)
