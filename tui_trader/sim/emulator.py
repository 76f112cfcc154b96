"""The emulator as one object: clock, market, exchange, faults, limits and the tick loop.

The HTTP layer (:mod:`tui_trader.sim.server`) is a thin adapter over this; tests that need
to reach inside (advance the clock, arm a fault) use the same object the server uses.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import logging
import math
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Literal

from tui_trader.sim.clock import SimClock, default_start
from tui_trader.sim.exchange import Exchange, ExchangeOptions
from tui_trader.sim.faults import Faults, FaultSpec, LateNew, UlidInversion
from tui_trader.sim.market import DEFAULT_SYMBOLS, KEEP_BARS, MarketModel
from tui_trader.sim.persist import AccountStore
from tui_trader.sim.regimes import drift_regime
from tui_trader.sim.replay_market import ReplayMarket
from tui_trader.sim.resume import Resumed, Saver, apply, load

log = logging.getLogger("tui_trader.sim")


@dataclass
class EmulatorConfig:
    symbols: tuple[str, ...] = tuple(DEFAULT_SYMBOLS)
    seed: int = 42
    speed: float = 1.0
    start: datetime | None = None
    heartbeat_seconds: float = 15.0
    # "idle": a connection gets ":heartbeat" only after heartbeat_seconds without a write, so
    # a busy stream never shows one (Alpaca's cadence is undocumented); "fixed": every
    # heartbeat_seconds, events or not
    heartbeat_mode: Literal["idle", "fixed"] = "idle"
    tick_seconds: float = 0.1
    key_id: str | None = None  # None: any non-empty credentials are accepted
    secret_key: str | None = None
    strict_auth: bool = False
    rate_limit_per_minute: int = 200
    chaos: float = 0.0
    chaos_max_stall: float = 4.0
    legacy_v1_trades: bool = False
    accounts: int = 1
    starting_cash: Decimal = Decimal(100_000)
    csv: Path | None = None
    history_days: int = 5
    # the market's drift regimes (sim/regimes.py): realistic by default (+-5 %/yr, switching
    # about weekly: nothing a policy can learn in a session); planted=True gives the strong
    # regime a demo or a test of learning needs (+-800 %/yr, switching every ~2 h). The two
    # numbers below, when given, override the chosen regime's (regime_drift=0: a random walk)
    planted: bool = False
    regime_drift: float | None = None
    regime_minutes: float | None = None
    # events kept per stream for replay (None: the whole session, API.md §9 #6) and minute
    # bars per symbol (None: all); the embedded emulator lives in the desk's process, so it
    # keeps a bounded window of both (SimSettings.retention_for, market.KEEP_BARS)
    retention: int | None = None
    keep_bars: int | None = KEEP_BARS
    slippage_bps: float = 1.0
    emit_pending_new: bool = True
    dividend_probability: float = 0.02  # per symbol held, per session close
    # the trading websocket (/stream, trade_updates), as the paper host serves it
    ws_binary_frames: bool = True  # paper sends binary frames; False: text, as live does
    ws_event_ids: bool = True  # False: no event_id/at, as Alpaca's older single-leg samples
    ws_hold_seconds: float = 5.0  # a connection that vanished keeps its account's slot this long
    # market data (API.md §7, §11.4): "free" refuses real-time SIP on REST (403) and on the
    # stream (409), as Alpaca's free plan; the data websocket's auth window, its quote and
    # trade rates per symbol (None: one per market step, a trade when the market booked one;
    # a rate is a benchmark's load), and the chance a finished bar gets a late trade
    plan: Literal["free", "unlimited"] = "unlimited"
    data_auth_timeout: float = 10.0
    quote_hz: float | None = None
    trade_hz: float | None = None
    late_bar_probability: float = 0.0
    # the Trading host: /v2/events/trades for Trading keys is an undocumented courtesy, and
    # the Broker-only streams answer them 404 (off = as the real Trading host)
    trading_sse: bool = False
    broker_streams_for_trading_keys: bool = False
    # the paper account's file (sim/persist.py): resumed at start when it holds one, saved
    # every save_seconds while something changed and at a clean stop; None: nothing kept.
    # Not with csv (a replay restarts from its file)
    state_path: Path | None = None
    save_seconds: float = 1.0

    def __repr__(self) -> str:  # the secret never shows, even in a traceback's locals
        return (
            f"EmulatorConfig(symbols={self.symbols!r}, seed={self.seed}, speed={self.speed}, "
            f"planted={self.planted}, "
            f"key_id={self.key_id!r}, secret_key={'***' if self.secret_key else None})"
        )


@dataclass
class RateLimiter:
    """Fixed one-minute windows per key, as Alpaca's ``X-RateLimit-*`` headers describe."""

    limit: int
    wall: Callable[[], float] = time.time
    _windows: dict[str, tuple[int, int]] = field(default_factory=dict)

    def hit(self, key: str) -> tuple[bool, int, int, int]:
        """Count one request: (allowed, limit, remaining, reset epoch seconds)."""
        now = self.wall()
        window = int(now // 60)
        start, used = self._windows.get(key, (window, 0))
        if start != window:
            start, used = window, 0
        reset = (window + 1) * 60
        if used >= self.limit:
            return False, self.limit, 0, reset
        used += 1
        self._windows[key] = (start, used)
        return True, self.limit, self.limit - used, reset

    def retry_after(self, reset: int) -> int:
        return max(1, math.ceil(reset - self.wall()))


class Emulator:
    def __init__(
        self,
        config: EmulatorConfig | None = None,
        monotonic: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
    ) -> None:
        self.config = config = config or EmulatorConfig()
        start = config.start or default_start()
        symbols = [s.upper() for s in config.symbols]
        self.store: AccountStore | None = None
        resumed: Resumed | None = None
        if config.state_path is not None and config.csv is None:
            self.store = AccountStore(config.state_path)
            resumed = load(self.store)  # StateInUse: another emulator runs this account
        if resumed is not None:
            start = resumed.now  # the paper world paused while nothing ran
            symbols += [s for s in resumed.symbols() if s not in symbols]
        if config.csv is not None:
            market: MarketModel = ReplayMarket(config.csv, config.start, config.seed)
            start = market.now
        else:
            regime = drift_regime(config.planted)
            market = MarketModel(
                symbols,
                config.seed,
                start,
                regime_drift=regime.drift if config.regime_drift is None else config.regime_drift,
                regime_minutes=regime.minutes
                if config.regime_minutes is None
                else config.regime_minutes,
                history_days=config.history_days,
                keep_bars=config.keep_bars,
            )
        self.clock = SimClock(start, config.speed, monotonic)
        self.exchange = Exchange(
            market,
            self.clock,
            config.seed,
            ExchangeOptions(
                starting_cash=config.starting_cash,
                accounts=config.accounts,
                slippage_bps=config.slippage_bps,
                emit_pending_new=config.emit_pending_new,
                dividend_probability=config.dividend_probability,
                retention=config.retention,
            ),
        )
        self.faults = Faults(
            chaos=config.chaos, max_stall=config.chaos_max_stall, rng=random.Random(config.seed + 7)
        )
        self.limiter = RateLimiter(config.rate_limit_per_minute, wall)
        self.closing = asyncio.Event() if _has_loop() else None
        self._connections: dict[str, int] = {}
        self.stats: dict[str, int] = {}  # what clients did: auth refusals, SSE connects ...
        self._aborts: dict[int, Callable[[], None]] = {}
        self._ticker: asyncio.Task[None] | None = None
        self.resumed = resumed is not None
        # the paper account's identity across restarts (None: not kept): names its journal
        self.instance: str | None = self.store.instance if self.store is not None else None
        self.store_note = self.store.note if self.store is not None else None  # a file set aside
        self._saver: Saver | None = None
        self._saved_at = 0.0
        self._saved_mark: tuple[int, ...] = ()
        if self.store is not None:
            self._saver = Saver(self)
            if resumed is not None:
                apply(self, resumed, bump_seconds=config.save_seconds * max(config.speed, 1) + 1)
                self._saver.resumed_from(resumed)
                return
        # every account starts with the status change that activated it
        for acct in self.exchange.accounts.values():
            self.exchange.emit_account_status(
                acct, self.clock.now(), status_from="APPROVED", status_to="ACTIVE"
            )

    # -------------------------------------------------------------------------- lifecycle
    async def start(self) -> None:
        self.closing = asyncio.Event()
        self._ticker = asyncio.create_task(self._tick_loop(), name="emulator-ticker")

    async def stop(self) -> None:
        """End every stream and the tick loop, and save the account; safe to call twice."""
        if self.closing is not None:
            self.closing.set()
        for stream_log in self.exchange.logs.values():
            stream_log.wake_all()
        if self._ticker is not None:
            self._ticker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._ticker
            self._ticker = None
        self.close_store()

    def save(self) -> None:
        """Write the paper account's changes to its file now (one transaction)."""
        if self.store is None or self._saver is None:
            return
        self.store.save(self._saver.pending())
        self._saved_at = time.monotonic()
        self._saved_mark = self._mark()

    def close_store(self) -> None:
        """The last save and the file released (a clean stop: the next start resumes exactly)."""
        if self.store is None:
            return
        try:
            self.save()
            self.store.close(clean=True)
        except Exception:
            log.exception("saving the paper account failed")
            self.store.close(clean=False)
        self.store = None

    def _mark(self) -> tuple[int, ...]:
        """Changes as counts: a new event, order or fill moves one of them."""
        ex = self.exchange
        return (
            *(log.end for log in ex.logs.values()),
            ex._nanos,
            len(ex._pending_cancels),
            int(self.clock.trading_seconds() // 60),  # the market: a new minute's bar
        )

    def _save_due(self) -> None:
        if self.store is None or time.monotonic() - self._saved_at < self.config.save_seconds:
            return
        if self._mark() != self._saved_mark:
            try:
                self.save()
            except Exception:  # a full disk must not stop the market; said in the log
                log.exception("saving the paper account failed")
                self._saved_at = time.monotonic()

    @property
    def is_closing(self) -> bool:
        return self.closing is not None and self.closing.is_set()

    async def _tick_loop(self) -> None:
        while True:
            try:
                self.exchange.tick()
            except Exception:  # keep serving; a bug in matching must not kill the server
                log.exception("emulator tick failed")
            self._save_due()
            await asyncio.sleep(self.config.tick_seconds)

    def advance(self, seconds: float) -> None:
        """Move the sim clock forward by hand and process what became due."""
        self.clock.advance(seconds)
        self.exchange.tick()

    # ----------------------------------------------------------------------------- faults
    def arm(self, spec: FaultSpec) -> None:
        if isinstance(spec, UlidInversion):
            self.exchange.ulids.invert_next += spec.count
        elif isinstance(spec, LateNew):
            self.exchange.options.late_new = spec.enabled
        else:
            self.faults.arm(spec)

    def pending_faults(self) -> list[dict[str, object]]:
        """Everything armed, including the switches that live on the exchange."""
        out = self.faults.pending()
        if self.exchange.ulids.invert_next:
            out.append({"kind": "ulid_inversion", "left": self.exchange.ulids.invert_next})
        if self.exchange.options.late_new:
            out.append({"kind": "late_new", "enabled": True})
        if self.faults.single_connection:
            out.append({"kind": "single_connection", "enabled": True})
        return out

    def clear_faults(self) -> None:
        self.faults.clear()
        self.exchange.options.late_new = False
        self.exchange.ulids.invert_next = 0

    # ------------------------------------------------------------------------ connections
    def count(self, what: str) -> None:
        self.stats[what] = self.stats.get(what, 0) + 1

    def open_connection(self, stream: str) -> bool:
        """Register an SSE connection; False if the single-connection fault refuses it."""
        self.count(f"connect_{stream}")
        current = self._connections.get(stream, 0)
        if self.faults.single_connection and current > 0:
            return False
        self._connections[stream] = current + 1
        return True

    def close_connection(self, stream: str) -> None:
        self._connections[stream] = max(0, self._connections.get(stream, 0) - 1)

    def connections(self) -> dict[str, int]:
        return dict(self._connections)

    def track(self, key: int, abort: Callable[[], None] | None) -> None:
        """Remember (or, with None, forget) how to cut one live SSE connection."""
        if abort is None:
            self._aborts.pop(key, None)
        else:
            self._aborts[key] = abort

    def disconnect_all(self) -> int:
        """Cut every live SSE connection mid-body, as a network failure would."""
        aborts, self._aborts = list(self._aborts.values()), {}
        for abort in aborts:
            abort()
        return len(aborts)

    # ------------------------------------------------------------------------------- auth
    def check_credentials(self, key_id: str | None, secret: str | None) -> bool:
        if not key_id or not secret:
            return False
        if self.config.key_id is None or self.config.secret_key is None:
            return True
        return hmac.compare_digest(key_id, self.config.key_id) and hmac.compare_digest(
            secret, self.config.secret_key
        )


def _has_loop() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True
