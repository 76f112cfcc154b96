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
    charts: ChartData = field(default_factory=ChartData)  # the charts view's bars, fills, equity
