"""What the screen reads of the desk: immutable values, rebuilt by
:meth:`tui_trader.desk.desk.Desk.snapshot` on demand, so the UI never holds the desk's live
state. They need none of the desk's machinery: the screen's snapshot tests build them by hand.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from tui_trader.broker.data_status import DataStreamStatus
from tui_trader.broker.status import ConnectionStatus
from tui_trader.core.convexity import ConvexityReading
from tui_trader.core.policy import Decision
from tui_trader.core.portfolio import BookSnapshot
from tui_trader.core.risk import RiskSnapshot, Verdict
from tui_trader.core.working import UNREPLACEABLE_STATUSES
from tui_trader.desk.charts import ChartData


@dataclass(frozen=True)
class EventLine:
    """One event as the events pane shows it."""

    at: str | None
    stream: str
    kind: str
    symbol: str | None
    text: str
    source: str = "stream"
    seq: int = 0  # increases by one per event: a pane appends only what it has not seen


@dataclass(frozen=True)
class OrderLine:
    client_order_id: str
    symbol: str
    side: str
    qty: str
    source: str
    state: str
    detail: str = ""


@dataclass(frozen=True)
class FlattenPreview:
    """What a flatten would send, for the trader to read before confirming."""

    open_orders: tuple[str, ...]  # one line per order to cancel
    positions: tuple[tuple[str, Decimal], ...]  # (symbol, signed qty) to close
    error: str | None = None  # the broker could not be asked; flatten still works

    @property
    def empty(self) -> bool:
        return not self.open_orders and not self.positions and self.error is None


@dataclass(frozen=True)
class ReplayStatus:
    """Where a replay of the journal is (``tui-trader replay``): the header shows it."""

    at: datetime | None  # the journal time being replayed
    speed: float | None  # times real time; None: as fast as it can
    paused: bool
    ended: bool
    played: int  # steps (events and decisions) played so far
    source: str  # the journal's file name


@dataclass(frozen=True)
class WatchLine:
    """One watched symbol's market beyond its mark: the two sides of the last quote, the
    last trade's price and the day's volume so far (None: not seen yet)."""

    bid: Decimal | None = None
    ask: Decimal | None = None
    last: Decimal | None = None
    volume: int | None = None


@dataclass(frozen=True)
class DeskSnapshot:
    """Everything the screen shows, at one moment, immutable."""

    at: datetime
    target: str
    trading: bool
    connection: ConnectionStatus
    book: BookSnapshot
    risk: RiskSnapshot
    signals: Mapping[str, Decision]
    convexity: Mapping[str, ConvexityReading]
    events: tuple[EventLine, ...]
    orders: tuple[OrderLine, ...]
    notices: tuple[str, ...]
    market_data_age: float | None
    symbols: tuple[str, ...]
    mode: str = "sim"
    account: str | None = None
    prices: Mapping[str, Decimal] = field(default_factory=dict)
    history: Mapping[str, tuple[float, ...]] = field(default_factory=dict)  # recent closes
    prev_close: Mapping[str, Decimal] = field(default_factory=dict)  # for the day change
    verdicts: Mapping[str, Verdict] = field(default_factory=dict)  # last gate verdict/symbol
    backoff_delays: tuple[tuple[str, float], ...] = ()  # recent (stream, seconds), oldest first
    faults: tuple[str, ...] = ()  # the SIM fault menu's keys; empty when not on the emulator
    market_data: DataStreamStatus | None = None  # the data stream; None: REST polling only
    quote_ages: Mapping[str, float] = field(default_factory=dict)  # seconds, per symbol
    replay: ReplayStatus | None = None  # a replay of the journal, not a live desk
    working_orders: tuple[WorkingOrderLine, ...] = ()  # the orders view, oldest first
    fills: tuple[FillLine, ...] = ()  # the latest executions, newest last
    watch: Mapping[str, WatchLine] = field(default_factory=dict)  # per watched symbol
    demo_speed: float | None = None  # the embedded emulator's pace when not real time
    charts: ChartData = field(default_factory=ChartData)  # the charts view's bars, fills, equity
    starting: str | None = None  # the desk's start-up step (account, warm-up); None: started


@dataclass(frozen=True)
class WorkingOrderLine:
    """One working order as the orders pane shows it (the gate's book of working orders)."""

    client_order_id: str
    order_id: str | None  # None until the broker has answered: it cannot be canceled yet
    symbol: str
    side: str
    order_type: str
    qty: Decimal | None  # as ordered (what remains plus what filled); None: notional
    filled: Decimal
    limit_price: Decimal | None
    stop_price: Decimal | None
    status: str  # the broker's status, or "queued"/"unknown" before it has answered
    created_at: datetime | None = None
    notional: Decimal | None = None
    time_in_force: str = ""

    @property
    def remaining(self) -> Decimal | None:
        return None if self.qty is None else self.qty - self.filled

    @property
    def replaceable(self) -> bool:
        """Alpaca replaces only priced or sized orders it has taken and routed, never
        notional ones, nor while a cancel or replace is in flight."""
        return (
            self.order_id is not None
            and self.qty is not None
            and self.order_type != "market"
            and self.status not in UNREPLACEABLE_STATUSES
        )


@dataclass(frozen=True)
class FillLine:
    """One execution, newest last, for the orders pane's fills."""

    at: datetime | None
    symbol: str
    side: str
    qty: Decimal
    price: Decimal
    kind: str = "fill"  # or partial_fill
    seq: int = 0  # the seq of its event line: a row key that no other fill has
