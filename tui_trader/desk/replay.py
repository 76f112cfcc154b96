"""A recorded session played back through the desk's screen, read-only.

:class:`ReplayDesk` fits the UI's ``DeskPort``: it rebuilds what the live desk showed from
the journal alone, as the recording plays. Broker events go through the desk's own
event-application code (:class:`~tui_trader.desk.events.BrokerEvents`: the same ledger, book
of working orders and events-pane lines); the audit trail gives the rest: the account as it
was read (``ledger``), the day's start (``day``, ``day_roll``), every signal with the price it
was decided at and its convexity reading (``signal``), the gate's verdicts (``risk``), the
orders' outcomes (``order``), the trading state with its breakers (``state``), and the
trader's levers (``pause``, ``flatten``, ...), shown as the notices they were.

Nothing here can reach a broker: the replay desk has no REST client, no HTTP client and no
supervisor, and every trading command answers that a replay is read-only.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

from tui_trader.broker.faults import FaultError
from tui_trader.broker.status import ConnectionStatus, State
from tui_trader.broker.supervisor.delivered import Delivered
from tui_trader.core.convexity import ConvexityReading
from tui_trader.core.models import Position
from tui_trader.core.policy import Decision
from tui_trader.core.portfolio import Portfolio
from tui_trader.core.risk import (
    BreakerState,
    RiskEngine,
    RiskSnapshot,
    TradingState,
    Verdict,
)
from tui_trader.core.working import WorkingOrders
from tui_trader.desk.base import MAX_FILLS
from tui_trader.desk.charts import ChartRecorder
from tui_trader.desk.events import BrokerEvents
from tui_trader.desk.orders import working_line
from tui_trader.desk.replay_player import Player, faster, slower
from tui_trader.desk.replay_source import AuditStep, EventStep, Recording, Step
from tui_trader.desk.snapshot import (
    DeskSnapshot,
    EventLine,
    FillLine,
    FlattenPreview,
    OrderLine,
    ReplayStatus,
)

if TYPE_CHECKING:
    from tui_trader.broker.ordering import FlattenReport
    from tui_trader.config import Settings
    from tui_trader.core.orders import Order

READ_ONLY = "replay: read-only — trading keys are off"
MAX_EVENTS, MAX_ORDERS, MAX_NOTICES, MAX_HISTORY = 200, 100, 20, 60
SLICE = 500  # steps applied between two turns of the event loop when fast-forwarding


class ReadOnlyError(RuntimeError):
    """A trading command was asked of a replay."""


class ReplayDesk(BrokerEvents):
    """The desk's screen state rebuilt from a journal, step by step. Build it on an open
    :class:`~tui_trader.desk.replay_source.Recording`; ``start`` (epoch seconds) plays what
    comes before it at once; ``monotonic`` is the wall clock the pace reads (tests step it)."""

    def __init__(
        self,
        settings: Settings,
        recording: Recording,
        *,
        start: float | None = None,
        speed: float | None = 10.0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.settings = settings
        self.recording = recording
        self._start = start
        self._monotonic = monotonic
        self.player = Player(recording.steps(), speed=speed)
        self.portfolio = Portfolio(None)
        self.risk = RiskEngine(settings.risk.limits())  # the reject streak the events feed
        self._limits_view = self.risk.snapshot().breakers
        self._state = TradingState.REDUCING  # until the recording says (the desk's start)
        self._paused = False
        self._breakers: dict[str, dict[str, Any]] = {}
        self.working = WorkingOrders()
        self._clock = self._replay_time
        self._ledger_events = 0
        self._seq = 0
        self._events: deque[EventLine] = deque(maxlen=MAX_EVENTS)
        self._orders: deque[OrderLine] = deque(maxlen=MAX_ORDERS)
        self._notices: deque[str] = deque(maxlen=MAX_NOTICES)
        self._fills: deque[FillLine] = deque(maxlen=MAX_FILLS)  # as the live desk's
        self.charts = ChartRecorder(())  # the fills and equity; symbols join as they are seen
        self._signals: dict[str, Decision] = {}
        self._readings: dict[str, ConvexityReading] = {}
        self._prices: dict[str, Decimal] = {}
        self._history: dict[str, deque[float]] = {}
        self._prev_close: dict[str, Decimal] = {}
        self._last_close: dict[str, tuple[datetime, Decimal]] = {}
        self._verdicts: dict[str, Verdict] = {}
        self._symbols: dict[str, None] = {}  # first seen first
        self._account: str | None = None
        self._listeners: list[Callable[[], None]] = []
        self._stop = asyncio.Event()
        self._wake = asyncio.Event()

    # ------------------------------------------------------------------ lifecycle
    async def run(self) -> None:
        """Play until the recording ends and then stay on its last frame, or until stop."""
        if self._start is not None:
            for n, step in enumerate(self.player.before(self._start), 1):
                self._apply([step])
                if n % SLICE == 0:
                    await asyncio.sleep(0)
            self._changed()
        while not self._stop.is_set():
            steps = self.player.due(self._monotonic())
            if steps:
                self._apply(steps)
                self._changed()
            wait = self.player.wait()
            if wait == 0.0:
                await asyncio.sleep(0)
                continue
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), None if wait is None else min(wait, 0.5))

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()

    async def aclose(self) -> None:
        self.recording.close()

    def on_change(self, listener: Callable[[], None]) -> None:
        self._listeners.append(listener)

    # ------------------------------------------------------------------ the replay's keys
    def toggle(self) -> bool:
        """Pause or resume the replay (not trading); returns whether it is paused now."""
        paused = self.player.toggle(self._monotonic())
        self._wake.set()
        self._changed()
        return paused

    def step(self) -> bool:
        """Play the next step at once (the paused trader's ``n``); False at the end."""
        step = self.player.step(self._monotonic())
        if step is None:
            return False
        self._apply([step])
        self._changed()
        return True

    def faster(self) -> float | None:
        return self._set_speed(faster(self.player.speed))

    def slower(self) -> float | None:
        return self._set_speed(slower(self.player.speed))

    def _set_speed(self, speed: float | None) -> float | None:
        self.player.set_speed(speed, self._monotonic())
        self._wake.set()
        self._changed()
        return speed

    def status(self) -> ReplayStatus:
        at = self.player.at
        return ReplayStatus(
            at=None if at is None else datetime.fromtimestamp(at, UTC),
            speed=self.player.speed,
            paused=self.player.paused,
            ended=self.player.ended,
            played=self.player.played,
            source=self.recording.path.name,
        )

    # ------------------------------------------------------------------ applying steps
    def _apply(self, steps: Iterable[Step]) -> None:
        batch: list[Delivered] = []
        for step in steps:
            if isinstance(step, EventStep):
                batch.append(
                    Delivered(
                        step.rowid,
                        step.stream,
                        step.id,
                        step.type,
                        step.at,
                        step.payload,
                        step.source,
                    )
                )
                continue
            if batch:
                self._apply_events(batch)
                batch = []
            self._audit_step(step)
        if batch:
            self._apply_events(batch)

    def _apply_events(self, batch: list[Delivered]) -> None:
        """Broker events through the desk's own code; their symbols join the screen (and the
        charts, before their fills are marked)."""
        for d in batch:
            if d.symbol:
                self._symbols.setdefault(d.symbol, None)
        self.charts.watch(tuple(self._symbols))
        self._on_events(batch)

    def _evaluate_risk(self, symbol: str | None = None) -> None:
        """The breakers are the recording's (``state`` entries), not evaluated again."""

    def _audit_step(self, step: AuditStep) -> None:
        handler = _HANDLERS.get(step.kind)
        if handler is not None:
            handler(self, step.data, step.symbol)
        elif step.kind in _TOLD:
            self._notice(_TOLD[step.kind](step.data))

    def _ledger(self, data: dict[str, Any], _symbol: str | None) -> None:
        positions = []
        for item in data.get("positions") or []:
            with contextlib.suppress(ValueError):
                positions.append(Position.model_validate(item))
        self.portfolio.reconcile(positions, _dec(data.get("cash")))
        self._account = data.get("account") or self._account
        for p in positions:
            self._symbols.setdefault(p.symbol, None)
            self.charts.watch(tuple(self._symbols))

    def _day(self, data: dict[str, Any], _symbol: str | None) -> None:
        self.portfolio.start_day(_dec(data.get("day_start")))
        self._notice(f"day P&L from {data.get('day_start')}")

    def _day_roll(self, _data: dict[str, Any], _symbol: str | None) -> None:
        self.portfolio.forget_day()
        self._notice("a new trading day: reading the broker's previous close")

    def _signal(self, data: dict[str, Any], symbol: str | None) -> None:
        if symbol is None:
            return
        self._symbols.setdefault(symbol, None)
        self.charts.watch(tuple(self._symbols))
        at = _time(data.get("at")) or self._replay_time()
        with contextlib.suppress(TypeError, ValueError):
            self._signals[symbol] = Decision(
                symbol=symbol,
                at=at,
                features=dict(data.get("features") or {}),
                mu=float(data["mu"]),
                sigma=float(data["sigma"]),
                target_weight=float(data["target_weight"]),
                current_weight=float(data["current_weight"]),
                utility_gain=float(data["utility_gain"]),
                proposed_qty=_dec(data.get("proposed_qty")),
                reason=str(data.get("reason", "")),
            )
        reading = data.get("convexity")
        if isinstance(reading, dict):
            with contextlib.suppress(TypeError):
                self._readings[symbol] = ConvexityReading(**reading)
        price = _dec(data.get("price"))
        if price is not None:  # recorded since issue 15: older journals have no prices
            self._prices[symbol] = price
            self.portfolio.mark(symbol, price)
        close = _dec(data.get("close"))
        if close is not None:
            last = self._last_close.get(symbol)
            if last is not None and last[0].date() != at.date():
                self._prev_close[symbol] = last[1]
            self._last_close[symbol] = (at, close)
            self._history.setdefault(symbol, deque(maxlen=MAX_HISTORY)).append(float(close))

    def _risk(self, data: dict[str, Any], symbol: str | None) -> None:
        detail = str(data.get("verdict", ""))
        allowed = bool(data.get("allowed"))
        verdict = Verdict(allowed, None if allowed else detail.split(":", 1)[0], detail)
        order = data.get("order") or {}
        symbol = symbol or order.get("symbol")
        if symbol is None:
            return
        self._verdicts[symbol] = verdict
        source = str(data.get("source", "policy"))
        if not allowed:
            self._notice(f"denied ({source}): {detail}"[:200])
            return
        qty = order.get("qty") or order.get("notional") or ""
        self._orders.append(
            OrderLine(
                str(data.get("client_order_id", "")),
                symbol,
                str(order.get("side", "")),
                str(qty),
                source,
                "pending",
            )
        )

    def _order(self, data: dict[str, Any], symbol: str | None) -> None:
        cid = str(data.get("client_order_id", ""))
        line = next((o for o in reversed(self._orders) if o.client_order_id == cid), None)
        if line is None:
            line = OrderLine(cid, symbol or "", "", "", "", "")
        outcome = str(data.get("outcome", ""))
        self._orders.append(
            replace(line, state=outcome, detail=str(data.get("detail") or "")[:200])
        )
        if outcome == "rejected":
            self._notice(f"{line.symbol} {line.side} rejected: {str(data.get('detail'))[:120]}")

    def _trading_state(self, data: dict[str, Any], _symbol: str | None) -> None:
        with contextlib.suppress(ValueError):
            self._state = TradingState(str(data.get("to")))
        self._breakers = {
            str(b.get("name")): b for b in data.get("breakers") or [] if isinstance(b, dict)
        }
        self._notice(f"trading state {data.get('from')} -> {data.get('to')}")

    def _pause(self, data: dict[str, Any], _symbol: str | None) -> None:
        self._paused = True
        self._notice(f"paused ({data.get('reason', '')})")

    def _resume(self, data: dict[str, Any], _symbol: str | None) -> None:
        self._paused = False
        self._notice(f"resumed: {data.get('state', '')}")

    # ------------------------------------------------------------------ the snapshot
    def _replay_time(self) -> datetime:
        at = self.player.at
        return datetime.fromtimestamp(at, UTC) if at is not None else datetime.now(UTC)

    def _risk_view(self) -> RiskSnapshot:
        breakers = []
        for b in self._limits_view:
            seen = self._breakers.get(str(b.name))
            if seen is None:
                # not listed at the last state change: it was OK then; its value is not known
                breakers.append(replace(b, value=None, state=BreakerState.OK, reason=None))
                continue
            with contextlib.suppress(ValueError):
                b = replace(
                    b,
                    state=BreakerState(str(seen.get("state"))),
                    value=_dec(seen.get("value")),
                    reason=seen.get("reason"),
                    tripped_at=_time(seen.get("tripped_at")),
                )
            breakers.append(b)
        return RiskSnapshot(self._state, self._paused, tuple(breakers), None)

    def snapshot(self) -> DeskSnapshot:
        at = self._replay_time()
        return DeskSnapshot(
            at=at,
            target=f"replay of {self.recording.path.name}",
            trading=False,
            connection=ConnectionStatus(State.STOPPED, (), at=at),
            book=self.portfolio.snapshot(),
            risk=self._risk_view(),
            signals=dict(self._signals),
            convexity=dict(self._readings),
            events=tuple(self._events),
            orders=tuple(self._orders),
            notices=tuple(self._notices),
            market_data_age=None,
            symbols=tuple(self._symbols),
            mode="replay",
            account=self._account,
            prices=dict(self._prices),
            history={s: tuple(h) for s, h in self._history.items()},
            prev_close=dict(self._prev_close),
            verdicts=dict(self._verdicts),
            replay=self.status(),
            working_orders=tuple(working_line(w) for w in self.working.orders()),
            fills=tuple(self._fills),
            charts=self.charts.data(),
        )

    # ------------------------------------------------------------------ read-only commands
    def check(self, order: Order) -> Verdict:
        return Verdict(False, "READ_ONLY", READ_ONLY)

    async def submit(self, order: Order) -> Verdict:
        return self.check(order)

    def pause(self, reason: str = "") -> None:
        raise ReadOnlyError(READ_ONLY)

    def resume(self) -> str:
        raise ReadOnlyError(READ_ONLY)

    async def preview_flatten(self) -> FlattenPreview:
        return FlattenPreview((), (), READ_ONLY)

    async def flatten(self) -> FlattenReport:
        raise ReadOnlyError(READ_ONLY)

    async def cancel_all(self) -> str:
        raise ReadOnlyError(READ_ONLY)

    async def cancel_order(self, order_id: str) -> str:
        raise ReadOnlyError(READ_ONLY)

    def check_replace(self, client_order_id: str, order: Order) -> Verdict:
        return Verdict(False, "READ_ONLY", READ_ONLY)

    async def replace(self, client_order_id: str, order: Order) -> Verdict:
        return self.check_replace(client_order_id, order)

    async def close_position(self, symbol: str) -> str:
        raise ReadOnlyError(READ_ONLY)

    async def add_symbol(self, text: str) -> str:
        raise ReadOnlyError(READ_ONLY)

    def remove_symbol(self, symbol: str) -> str:
        raise ReadOnlyError(READ_ONLY)

    def reset_breaker(self, name: str) -> Verdict:
        return Verdict(False, "READ_ONLY", READ_ONLY)

    async def inject_fault(self, key: str) -> str:
        raise FaultError(READ_ONLY)


def _dec(value: object) -> Decimal | None:
    if value is None or value == "None" or value == "":
        return None
    try:
        result = Decimal(str(value))
    except InvalidOperation:
        return None
    return result if result.is_finite() else None


def _time(value: object) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        at = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)


_Handler = Callable[[ReplayDesk, dict[str, Any], str | None], None]
_HANDLERS: dict[str, _Handler] = {
    "ledger": ReplayDesk._ledger,
    "day": ReplayDesk._day,
    "day_roll": ReplayDesk._day_roll,
    "signal": ReplayDesk._signal,
    "risk": ReplayDesk._risk,
    "order": ReplayDesk._order,
    "state": ReplayDesk._trading_state,
    "pause": ReplayDesk._pause,
    "resume": ReplayDesk._resume,
}
_TOLD: dict[str, Callable[[dict[str, Any]], str]] = {
    "reconcile": lambda d: "ledger reconciled: " + "; ".join(d.get("corrections") or [])[:200],
    "account": lambda d: f"{d.get('why')}: the account could not be read ({d.get('error')})",
    "flatten": lambda d: f"flatten: {d.get('summary', '')}",
    "cancel_all": lambda d: "cancel all open orders",
    "reset": lambda d: f"reset {d.get('breaker')}: {d.get('verdict')}",
    "fault": lambda d: f"fault injected: {d.get('fault')}",
}
