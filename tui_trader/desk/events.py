"""The broker's word, applied: each committed batch of events from the supervisor moves the
ledger, the book of working orders, the reject streak and the events pane; a connection
transition is kept for the screen's backoff line and re-evaluates the trading state.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from datetime import datetime
from typing import TYPE_CHECKING

from tui_trader.core.events import AccountStatusEvent, NtaEvent, TradeEvent
from tui_trader.core.fastparse import FILL_KINDS, BriefFill, BriefTrade, brief_fill, brief_trade
from tui_trader.core.working import news_from_payload, news_from_wire
from tui_trader.desk.base import DeskBase
from tui_trader.desk.snapshot import EventLine, FillLine

if TYPE_CHECKING:
    from tui_trader.broker.status import ConnectionStatus, Transition
    from tui_trader.broker.supervisor import Delivered

# trade events that book, undo or amend executions: the ledger needs the full model
LEDGER_KINDS = FILL_KINDS | {"trade_bust", "trade_correct"}
ACCEPT_KINDS = frozenset({"new", "fill", "partial_fill"})  # the broker took the order
SLICE = 100
"""Committed events applied per turn of the event loop. The journal commits up to ~1,000 rows
at a time; applied at once they held the loop ~70 ms (bench/ui.py --profile: 113 batches, 8 s
under 5,000 events/s), and a trader's key waited behind them. A key waits for every callback
of the turns it crosses, so the slice is small: 100 events, a few ms (bench/ui.py --turns);
the loop turns hundreds of times a second, so 5,000 events a second still keep up."""

BACKLOG_HIGH = 1_000
"""Committed events waiting for their slices at which the streams' readers stop reading
(:meth:`BrokerEvents._room`, given to the supervisor as a hold): a burst then waits in the
socket and the broker's stream, where it costs the desk nothing, rather than here. Without
it the readers went on reading, validating and journaling while the slices lagged: under
bench/ui.py's 5,000 events/s the backlog reached 3,900-5,600 events every two minutes or
so, the RSS 8-10 MB above its level for those seconds (about two KB an event: the raw JSON
and what wraps it); a burst of 12,000 events (tests/integration/test_desk_backlog.py) left
3,336-3,953 waiting at once, one of 36,000 left 4,864. With the hold: at most 1,600 in the
bench, its peak RSS 125 MB against 135. 1,000 events are ten slices: the loop clears them in
a few dozen ms."""
BACKLOG_LOW = 300
"""The readers go on once the backlog is down to this: a few slices still to apply while
the next reads are validated and journaled, so the desk does not run dry."""


class BrokerEvents(DeskBase):
    """The supervisor's callbacks for committed events and connection transitions."""

    def _on_committed(self, items: list[Delivered]) -> None:
        """The supervisor's listener: a committed batch, applied :data:`SLICE` events per
        loop turn, in order (what waits is kept in ``_backlog``), so a key is never held
        behind a whole batch. Whoever reads the ledger's state against the broker's first
        calls :meth:`_drain_events`."""
        self._backlog.extend(items)
        if not self._draining:
            self._drain_slice()

    @property
    def waiting(self) -> int:
        """Committed events not yet applied (each waits for its slice)."""
        return len(self._backlog)

    def _room(self, coming: int) -> Awaitable[bool] | None:
        """The supervisor's hold (:meth:`Supervisor.hold
        <tui_trader.broker.supervisor.Supervisor.hold>`): None while the backlog and the
        ``coming`` events (read, not yet committed) stay under :data:`BACKLOG_HIGH`, else
        what the readers wait on until the backlog is down to :data:`BACKLOG_LOW`. Only a
        backlog above that is waited on: its slices are under way and will end the wait,
        whereas events still coming may all turn out to be duplicates and never arrive."""
        held = len(self._backlog)
        if held <= BACKLOG_LOW or held + coming < BACKLOG_HIGH:
            return None
        self._roomy.clear()
        return self._roomy.wait()

    def _drain_slice(self) -> None:
        backlog = self._backlog
        batch = [backlog.popleft() for _ in range(min(SLICE, len(backlog)))]
        self._draining = bool(backlog)
        if backlog:
            asyncio.get_running_loop().call_soon(self._drain_slice)
        if len(backlog) <= BACKLOG_LOW:
            self._roomy.set()
        if batch:
            self._on_events(batch)

    def _drain_events(self) -> None:
        """Apply every committed event still waiting for its slice, at once: before the
        ledger is compared with the broker's positions (a reconcile, an account read), it
        must hold everything the journal holds."""
        if self._backlog:
            batch = list(self._backlog)
            self._backlog.clear()
            self._roomy.set()
            self._on_events(batch)

    def _on_events(self, items: list[Delivered]) -> None:
        """Apply a committed batch. Trade events that cannot move the ledger (``new``,
        ``canceled`` ...) and plain fills are read by the native brief readers, not the full
        model: at thousands of events a second the full parse was half of the UI loop
        (bench/ui.py). Busts, corrections, multi-leg fills and anything unusual take the model.
        Consecutive accepts count once for the reject streak (the order with rejects is kept).
        """
        now = self._clock()
        accepted = False
        filled = False
        for d in items:
            symbol = d.symbol
            brief: BriefTrade | BriefFill | None = None
            if d.stream == "trades":
                self._working_news(d)
                if d.type in LEDGER_KINDS:
                    self._ledger_events += 1
                if d.type in FILL_KINDS:
                    brief = fill = brief_fill(d.payload)
                    if fill is not None:
                        self.portfolio.book_execution(
                            fill.key, fill.symbol, fill.side, fill.qty, fill.price, fill.at
                        )
                        self._fills.append(
                            FillLine(
                                fill.at,
                                fill.symbol,
                                fill.side,
                                fill.qty,
                                fill.price,
                                d.type,
                                self._seq + 1,  # the seq of this event's line
                            )
                        )
                        self.charts.fill(
                            fill.key, fill.symbol, fill.side, fill.qty, fill.price, fill.at
                        )
                        filled = True
                elif d.type not in LEDGER_KINDS:
                    brief = brief_trade(d.payload)
            if brief is not None:
                accepted = self._tally(brief.kind, accepted, now)
                symbol = brief.symbol or symbol
                text = brief.text
            else:
                event = d.event
                if isinstance(event, TradeEvent):
                    self.portfolio.apply(event)
                    self._fill_line(event)
                    filled = self._chart_fill(event) or filled
                    accepted = self._tally(event.event, accepted, now)
                    symbol = event.order.symbol if event.order is not None else symbol
                    text = _trade_text(event)
                elif isinstance(event, NtaEvent):
                    self.portfolio.apply_nta(event)
                    text = (
                        f"{event.entry_type} {event.net_amount} {event.description or ''}".strip()
                    )
                elif isinstance(event, AccountStatusEvent):
                    text = _account_text(event)
                    if event.trading_blocked:
                        self._notice("the broker blocked trading on this account")
                else:
                    text = d.type
            self._seq += 1
            self._events.append(
                EventLine(d.at, d.stream, d.type, symbol, text, d.source, self._seq)
            )
        if accepted:
            self.risk.record_accept(now)
        if filled:
            self.charts.sample_book(self.portfolio.snapshot())
        self._evaluate_risk()
        self._changed()

    def _chart_fill(self, event: TradeEvent) -> bool:
        """A fill the brief reader left to the full model (legs, odd text): its marker."""
        order = event.order
        if event.event not in FILL_KINDS or order is None or not event.price or not event.qty:
            return False
        key = event.execution_id or f"order:{order.id}:{order.filled_qty}"  # as the ledger's
        self.charts.fill(key, order.symbol, order.side, event.qty, event.price, event.timestamp)
        return True

    def _tally(self, kind: str, accepted: bool, now: datetime) -> bool:
        """Feed the reject streak in event order, a run of accepts counting once; returns
        whether an accept is still to be recorded."""
        if kind == "rejected":
            if accepted:
                self.risk.record_accept(now)
            self.risk.record_reject(now)
            return False
        return accepted or kind in ACCEPT_KINDS

    def _fill_line(self, event: TradeEvent) -> None:
        """A fill the brief reader left to the full model (multi-leg, unusual), for the
        orders pane; busts and corrections are in the events pane."""
        order = event.order
        if event.event in FILL_KINDS and order is not None and event.qty and event.price:
            self._fills.append(
                FillLine(
                    event.timestamp,
                    order.symbol,
                    order.side,
                    event.qty,
                    event.price,
                    event.event,
                    self._seq + 1,  # the seq of this event's line
                )
            )

    def _working_news(self, d: Delivered) -> None:
        """A trade event's word on its order, for the book of working orders."""
        news = news_from_payload(d.payload)
        if news is None:
            event = d.event
            if isinstance(event, TradeEvent) and event.order is not None:
                news = news_from_wire(event.event, event.order)
        if news is not None:
            self.working.observe(news)

    def _on_status(self, transition: Transition, status: ConnectionStatus) -> None:
        if transition.delay is not None:
            self._backoffs.append((transition.stream, transition.delay))
        self._evaluate_risk()
        self._changed()


def _trade_text(event: TradeEvent) -> str:
    order = event.order
    if order is None:
        return event.event
    what = f"{order.side} {order.qty or order.notional or ''} {order.symbol}".strip()
    if event.event in ("fill", "partial_fill"):
        return f"{event.event} {event.qty} @ {event.price} ({what}) pos {event.position_qty}"
    return f"{event.event} {what} {order.type}".strip()


def _account_text(event: AccountStatusEvent) -> str:
    parts = []
    if event.status_to:
        parts.append(f"status {event.status_from or '-'} -> {event.status_to}")
    for flag in ("trading_blocked", "account_blocked"):
        value = getattr(event, flag)
        if value is not None:
            parts.append(f"{flag}={value}")
    return ", ".join(parts) or "account update"
