"""The desk's options; the state its jobs share, declared once; the helpers they all call.

:class:`~tui_trader.desk.desk.Desk` is one object whose methods are grouped by job in mixins
(:mod:`.events`, :mod:`.account`, :mod:`.market`, :mod:`.orders`, :mod:`.commands`), so every
job reads and changes the same state as when the desk was one class. :class:`DeskBase`
declares that state (``Desk.__init__`` builds it), so each mixin type-checks on its own, and
holds what every job calls: the risk evaluation, the audit trail, the notices and the change
listeners. :class:`RiskBook` is the ledger as the risk engine reads it.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from tui_trader.core.risk import BreakerState

if TYPE_CHECKING:
    import httpx

    from tui_trader.broker.journal import Journal
    from tui_trader.broker.ordering import OrderSender
    from tui_trader.broker.rest import AlpacaREST
    from tui_trader.broker.supervisor import Delivered, Supervisor
    from tui_trader.config import Settings
    from tui_trader.core.convexity import ConvexityDetector, ConvexityReading
    from tui_trader.core.orders import Order
    from tui_trader.core.policy import Decision, OnlinePolicy
    from tui_trader.core.portfolio import BookSnapshot, Portfolio
    from tui_trader.core.risk import RiskEngine, TradingState, Verdict
    from tui_trader.core.tradingday import TradingDay
    from tui_trader.core.working import WorkingOrders
    from tui_trader.desk.charts import ChartRecorder
    from tui_trader.desk.snapshot import EventLine, FillLine, OrderLine
    from tui_trader.desk.target import Target

log = logging.getLogger("tui_trader.desk")


class RiskBook:
    """The ledger's snapshot in the shape the risk engine reads (positions and prices)."""

    def __init__(self, book: BookSnapshot, prices: Mapping[str, Decimal]) -> None:
        self._book = book
        self._prices = prices
        self.equity = book.equity
        # no day start while the account is unknown: the loss breakers cannot be measured
        self.day_start_equity = book.day_start_equity if book.account_known else None
        self.peak_equity = book.peak_equity
        self.gross_exposure = book.gross_exposure

    def qty(self, symbol: str) -> Decimal:
        pos = self._book.positions.get(symbol)
        return pos.qty if pos is not None else Decimal(0)

    def price(self, symbol: str) -> Decimal | None:
        if symbol in self._prices:
            return self._prices[symbol]
        pos = self._book.positions.get(symbol)
        return pos.mark if pos is not None else None


MAX_FILLS = 50
"""The latest executions the orders pane lists (this session's)."""


@dataclass
class DeskOptions:
    trade: bool = False  # the policy sends orders (False: it only proposes)
    poll_interval: float = 1.0  # seconds between market data polls
    symbols: tuple[str, ...] = ()
    # None: the settings' ``stream.streams``; either way a Trading API account opens only
    # ``trades`` of them (Target.streams_for)
    streams: tuple[str, ...] | None = None
    since: datetime | None = None
    warmup: bool = True  # fetch history for the policy at start
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    account_retry: float = 2.0  # first wait before reading an unreadable account again
    clock_every: float = 60.0  # seconds between readings of the market clock
    lookup_every: float = 10.0  # seconds between lookups of orders whose answer was lost


class DeskBase:
    """The desk's state, as ``Desk.__init__`` builds it, and what every job calls."""

    settings: Settings
    target: Target
    journal: Journal
    options: DeskOptions
    symbols: tuple[str, ...]
    rest: AlpacaREST
    http: httpx.AsyncClient
    supervisor: Supervisor
    portfolio: Portfolio
    risk: RiskEngine
    convexity: ConvexityDetector
    policy: OnlinePolicy
    sender: OrderSender
    working: WorkingOrders
    day: TradingDay
    charts: ChartRecorder  # the charts view's bars, fills and equity (desk/charts.py)
    _clock: Callable[[], datetime]
    _signals: dict[str, Decision]
    _readings: dict[str, ConvexityReading]
    _prices: dict[str, Decimal]
    _last_bar: dict[str, datetime]
    _events: deque[EventLine]
    _orders: deque[OrderLine]
    _notices: deque[str]
    _data_at: float | None
    _quote_at: dict[str, float]  # monotonic time of each symbol's last quote
    _state_told: TradingState  # the trading state the trader was last told of
    _seq: int
    _history: dict[str, deque[float]]
    _prev_close: dict[str, Decimal]
    _last_close: dict[str, tuple[datetime, Decimal]]
    _verdicts: dict[str, Verdict]
    _backoffs: deque[tuple[str, float]]
    _account: str | None
    _ledger_events: int
    _backlog: deque[Delivered]  # committed events waiting for their slice (events.py)
    _draining: bool
    _roomy: asyncio.Event  # set while the backlog leaves the streams' readers room (events.py)

    if TYPE_CHECKING:

        def _drain_events(self) -> None: ...  # events.py: apply what waits for its slice

    _account_lock: asyncio.Lock
    _account_delay: float
    _account_retry_at: float | None
    _unknown_at: float
    _background: set[asyncio.Task[Any]]
    _queue: asyncio.Queue[tuple[Order, str]]
    _stop: asyncio.Event
    _tasks: list[asyncio.Task[Any]]
    _listeners: list[Callable[[], None]]
    _fills: deque[FillLine]  # the latest executions, for the orders pane

    def _symbol_age(self, symbol: str) -> float | None:
        """Seconds since ``symbol``'s last quote, from the stream or a REST poll."""
        at = self._quote_at.get(symbol)
        return None if at is None else time.monotonic() - at

    def _evaluate_risk(self, symbol: str | None = None) -> None:
        """The breakers on current facts. With ``symbol``, STALE_DATA reads that symbol's
        quote age (the gate judging its order), and the state it leaves is the gate's
        business, not news: no notice. Without, the age of the freshest data (the feed)."""
        # up: trade events are being delivered, by the stream or (standing in for a stream
        # that is down or not offered) by a REST poll within its bound
        stream_up = self.supervisor.trades_delivering()
        if symbol is not None:
            age = self._symbol_age(symbol)
        else:
            age = None if self._data_at is None else time.monotonic() - self._data_at
        self.risk.update(
            RiskBook(self.portfolio.snapshot(), self._prices),
            now=self._clock(),
            market_data_age=age,
            stream_up=stream_up,
            reconciling=self.supervisor.reconciling,  # bounded: reconcile_timeout_seconds
        )
        after, before = self.risk.state, self._state_told
        if after != before and symbol is None:
            self._state_told = after
            self._audit(
                "state",
                {"from": str(before), "to": str(after), "breakers": self._breakers_data()},
            )
            self._notice(f"trading state {before} -> {after}")

    def _breakers_data(self) -> list[dict[str, str | None]]:
        """The breakers that are not OK, as a replay shows them."""
        return [
            {
                "name": str(b.name),
                "state": str(b.state),
                "value": None if b.value is None else str(b.value),
                "reason": b.reason,
                "tripped_at": None if b.tripped_at is None else b.tripped_at.isoformat(),
            }
            for b in self.risk.snapshot().breakers
            if b.state is not BreakerState.OK
        ]

    def _audit(self, kind: str, data: Mapping[str, Any], symbol: str | None = None) -> None:
        try:
            self.journal.audit(kind, data, symbol)
        except Exception:  # the audit trail must not stop trading decisions... but say so
            log.exception("audit write failed")

    def _notice(self, text: str) -> None:
        stamp = self._clock().strftime("%H:%M:%S")
        self._notices.append(f"{stamp} {text}")
        log.info("notice", extra={"text": text[:300]})

    def _changed(self) -> None:
        for listener in self._listeners:
            listener()
