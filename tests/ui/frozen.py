"""A desk frozen in time for snapshot tests: its state is built from the real core objects
(ledger, risk engine, policy, convexity detector) fed seeded prices, and the clock never moves,
so every picture is the same on every machine. Commands change that state the way the real
desk would (pause, resume, reset) and record what was asked of the broker."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from functools import cache

from tui_trader.broker.ordering import FlattenReport
from tui_trader.broker.status import ConnectionStatus, State, StreamStatus
from tui_trader.core.convexity import ConvexityDetector, ConvexityReading
from tui_trader.core.models import Position
from tui_trader.core.orders import Order, OrderBuilder
from tui_trader.core.policy import Decision, OnlinePolicy, PolicyConfig
from tui_trader.core.portfolio import Portfolio
from tui_trader.core.risk import RiskEngine, RiskLimits, Verdict
from tui_trader.desk.base import RiskBook as _RiskBook
from tui_trader.desk.launch.backtest import synthetic_bars
from tui_trader.desk.snapshot import DeskSnapshot, EventLine, FlattenPreview
from tui_trader.sim.regimes import PLANTED

NOW = datetime(2026, 11, 24, 15, 42, 7, tzinfo=UTC)
SYMBOLS = ("AAPL", "MSFT", "NVDA", "TSLA", "SPY")
HELD = {"AAPL": Decimal(40), "NVDA": Decimal(-60), "SPY": Decimal(12)}


@cache
def seeded_closes(seed: int = 7, bars: int = 3000) -> dict[str, list[float]]:
    """Minute closes from the emulator's own market model, seeded, with the planted regime
    (a policy with something to say fills the signals pane)."""
    series = synthetic_bars(SYMBOLS, seed, bars, PLANTED.drift, PLANTED.minutes)
    return {s: [c for _, c in series[s]] for s in SYMBOLS}


@cache
def _policy_view(equity: Decimal) -> tuple[dict[str, Decision], dict[str, ConvexityReading]]:
    """The real policy and detector after the seeded history (built once: it takes seconds)."""
    closes = seeded_closes()
    detector = ConvexityDetector()
    policy = OnlinePolicy(PolicyConfig(), detector)
    start = NOW - timedelta(minutes=len(closes["AAPL"]))
    for i in range(len(closes["AAPL"])):
        for symbol in SYMBOLS:
            policy.observe(symbol, closes[symbol][i], start + timedelta(minutes=i))
    signals = {
        s: policy.decide(
            s, Decimal(str(round(closes[s][-1], 2))), equity, HELD.get(s, Decimal(0)), NOW
        )
        for s in SYMBOLS
    }
    return signals, {s: detector.reading(s) for s in SYMBOLS}


def streams(state: State, **changes: object) -> ConnectionStatus:
    base = {
        "reason": "connected",
        "since": NOW - timedelta(minutes=12),
        "last_event_id": "01JDQ5ZK2R8W3B7Y4N6M1C0XVA",
        "last_event_at": (NOW - timedelta(seconds=3)).isoformat(),
        "last_event_age": 3.2,
        "events": 1843,
        "events_per_sec": 4.6,
        "reconnects": 2,
        "downtime": 7.5,
        "duplicates": 14,
        "gaps": 1,
        "gaps_recovered": 1,
        "idle_timeout": 45.0,
        "heartbeat_cadence": 15.0,
        "heartbeat_age": 4.1,
    }
    trades = StreamStatus(name="trades", state=state, **{**base, **changes})  # type: ignore[arg-type]
    others = [
        StreamStatus(name=n, state=State.STREAMING, **{**base, "events": 12})  # type: ignore[arg-type]
        for n in ("accounts", "nta")
    ]
    return ConnectionStatus(state=state, streams=(trades, *others), at=NOW)


def events() -> tuple[EventLine, ...]:
    lines = []
    kinds = [
        ("trades", "new", "AAPL", "new buy 40 AAPL market"),
        ("trades", "fill", "AAPL", "fill 40 @ 187.12 (buy 40 AAPL) pos 40"),
        ("trades", "new", "NVDA", "new sell 60 NVDA market"),
        ("trades", "partial_fill", "NVDA", "partial_fill 25 @ 121.40 (sell 60 NVDA) pos -25"),
        ("trades", "fill", "NVDA", "fill 35 @ 121.38 (sell 60 NVDA) pos -60"),
        ("nta", "FEE", "NVDA", "FEE -0.02 TAF fee [server text is shown as is]"),
        ("trades", "new", "TSLA", "new buy 10 TSLA limit"),
        ("trades", "canceled", "TSLA", "canceled buy 10 TSLA limit"),
        ("accounts", "account_status", None, "status ACTIVE -> ACTIVE"),
        ("trades", "new", "SPY", "new buy 12 SPY market"),
        ("trades", "fill", "SPY", "fill 12 @ 589.31 (buy 12 SPY) pos 12"),
        ("trades", "rejected", "MSFT", "rejected buy 900 MSFT market"),
    ]
    for i, (stream, kind, symbol, text) in enumerate(kinds, start=1):
        at = (NOW - timedelta(seconds=5 * (len(kinds) - i))).isoformat().replace("+00:00", "Z")
        source = "poll" if i == 6 else "stream"
        lines.append(EventLine(at, stream, kind, symbol, text, source, i))
    return tuple(lines)


class FrozenDesk:
    """Fits :class:`tui_trader.ui.port.DeskPort`; nothing runs, nothing is sent."""

    def __init__(
        self,
        *,
        state: State = State.STREAMING,
        loss: Decimal = Decimal(0),
        paused: bool = False,
        mode: str = "sim",
        connection: ConnectionStatus | None = None,
    ) -> None:
        self.listeners: list[Callable[[], None]] = []
        self.calls: list[str] = []
        closes = seeded_closes()
        self.portfolio = Portfolio()
        positions = []
        for symbol, qty in HELD.items():
            entry = Decimal(str(round(closes[symbol][-60], 2)))
            positions.append(
                Position.model_validate(
                    {"symbol": symbol, "qty": str(qty), "avg_entry_price": str(entry)}
                )
            )
        self.portfolio.reconcile(positions, Decimal("88000"))
        self.prices = {s: Decimal(str(round(c[-1], 2))) for s, c in closes.items()}
        for symbol, price in self.prices.items():
            if symbol in HELD:
                self.portfolio.mark(symbol, price)
        # a modest day, or a loss past the daily limit when asked for
        self.portfolio.start_day(self.portfolio.snapshot().equity - Decimal("412.35") + loss)
        self.signals, self.readings = _policy_view(equity=self.portfolio.snapshot().equity)
        self.history = {s: tuple(c[-30:]) for s, c in closes.items()}
        self.prev_close = {s: Decimal(str(round(c[-200], 2))) for s, c in closes.items()}
        self.risk = RiskEngine(RiskLimits(), paused=paused)
        self.connection = connection or streams(state)
        self.mode = mode
        self.verdicts: dict[str, Verdict] = {}
        big = OrderBuilder().symbol("MSFT").buy(900).market().day().build()
        self._update_risk()
        self.verdicts["MSFT"] = self.check(big)
        self.preview = FlattenPreview(
            ("buy 10 TSLA limit @ 240.00", "sell 5 AAPL stop @ 180.00"),
            tuple((s, q) for s, q in HELD.items()),
        )
        self.submitted: list[Order] = []
        self.events: list[EventLine] = list(events())

    def _book(self) -> _RiskBook:
        return _RiskBook(self.portfolio.snapshot(), self.prices)

    def _update_risk(self) -> None:
        self.risk.update(
            self._book(),
            now=NOW,
            market_data_age=1.0,
            stream_up=self.connection.state is State.STREAMING,
            reconciling=False,
        )

    # --- the port
    async def run(self) -> None:
        await asyncio.Event().wait()

    def stop(self) -> None:
        self.calls.append("stop")

    async def aclose(self) -> None:
        self.calls.append("aclose")

    def on_change(self, listener: Callable[[], None]) -> None:
        self.listeners.append(listener)

    def emit(self, kind: str, symbol: str | None, text: str, n: int = 1) -> None:
        """Append ``n`` events as the stream would, then tell the listeners."""
        seq = self.events[-1].seq if self.events else 0
        at = NOW.isoformat().replace("+00:00", "Z")
        for i in range(1, n + 1):
            self.events.append(EventLine(at, "trades", kind, symbol, text, "stream", seq + i))
        del self.events[:-200]
        for listener in self.listeners:
            listener()

    def snapshot(self) -> DeskSnapshot:
        return DeskSnapshot(
            at=NOW,
            target="embedded emulator" if self.mode == "sim" else "paper-api.alpaca.markets",
            trading=True,
            connection=self.connection,
            book=self.portfolio.snapshot(),
            risk=self.risk.snapshot(),
            signals=dict(self.signals),
            convexity=dict(self.readings),
            events=tuple(self.events[-200:]),  # the desk keeps its last 200 too
            orders=(),
            notices=(),
            market_data_age=1.0,
            symbols=SYMBOLS,
            mode=self.mode,
            account="PA3TRADER42",
            prices=dict(self.prices),
            history=dict(self.history),
            prev_close=dict(self.prev_close),
            verdicts=dict(self.verdicts),
            backoff_delays=(("trades", 1.3), ("trades", 2.6), ("trades", 4.1)),
            faults=("drop", "stall", "429", "503", "malformed", "dropped")
            if self.mode == "sim"
            else (),
        )

    def check(self, order: Order) -> Verdict:
        return self.risk.check(order, self._book(), price=self.prices.get(order.symbol), now=NOW)

    async def submit(self, order: Order) -> Verdict:
        self.submitted.append(order)
        return self.check(order)

    def pause(self, reason: str = "by the trader") -> None:
        self.calls.append("pause")
        self.risk.pause()

    def resume(self) -> str:
        self.calls.append("resume")
        return str(self.risk.resume())

    async def preview_flatten(self) -> FlattenPreview:
        return self.preview

    async def flatten(self) -> FlattenReport:
        self.calls.append("flatten")
        return FlattenReport(True, 2, tuple(HELD), ())

    async def cancel_all(self) -> str:
        self.calls.append("cancel_all")
        return "cancel all: 2 cancel requests accepted"

    def reset_breaker(self, name: str) -> Verdict:
        self.calls.append(f"reset {name}")
        return self.risk.reset(name, NOW)

    async def inject_fault(self, key: str) -> str:
        self.calls.append(f"fault {key}")
        return key


def backoff() -> FrozenDesk:
    conn = streams(
        State.BACKOFF,
        reason="connection dropped: RemoteProtocolError",
        attempt=3,
        next_retry_at=NOW + timedelta(seconds=12),
        last_event_age=9.4,
        events_per_sec=0.0,
        heartbeat_age=9.9,
    )
    return FrozenDesk(state=State.BACKOFF, connection=conn)


def polling() -> FrozenDesk:
    conn = streams(
        State.POLLING,
        reason="stream down 31 s: polling REST activities and orders",
        attempt=6,
        polled=37,
        downtime=31.0,
        events_per_sec=0.9,
        heartbeat_age=None,
    )
    return FrozenDesk(state=State.POLLING, connection=conn)


def halted() -> FrozenDesk:
    """A day loss past the limit: DAILY_LOSS trips and latches HALTED."""
    return FrozenDesk(loss=Decimal("2600"))


__all__ = ["FrozenDesk", "backoff", "halted", "polling", "replace"]
