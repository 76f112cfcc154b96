"""The book of working orders: every order that may still fill, as the risk gate counts it.

An order enters when the desk lets it through the gate (``queued``: before it is sent, so
three quick orders are each judged against the ones before them), or when the broker reports
it open (a trade event, a reconcile's open-order list: orders placed elsewhere count too).
It leaves on its terminal event (filled, canceled, expired, rejected, replaced,
done_for_day), when the broker refuses the send, or when a reconcile read after its last
news no longer lists it. A partial fill shrinks it to what remains (``qty - filled_qty``).
A send whose answer was lost stays in the book (``unknown``) until the broker says what
became of it: it may exist, so it counts.

Pure: no I/O and no clock; the engine feeds it. A finished order's id is remembered (a
bounded memory) so that news arriving late, a REST answer after the stream's ``fill`` or a
reconcile read just before the fill, cannot bring it back.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Any, NamedTuple

import msgspec

from tui_trader.core.models import TERMINAL_ORDER_STATUSES, WireOrder
from tui_trader.core.orders import Order, Side
from tui_trader.core.portfolio import symbol_key

__all__ = [
    "LIST_PAGE",
    "TERMINAL_STATUSES",
    "UNREPLACEABLE_STATUSES",
    "OrderNews",
    "WorkState",
    "Working",
    "WorkingOrders",
    "news_from_payload",
    "news_from_wire",
]

_ZERO = Decimal(0)
TERMINAL_STATUSES = TERMINAL_ORDER_STATUSES | {"done_for_day"}
"""Order statuses after which an order cannot fill today. ``done_for_day`` may resume next
session: it is not remembered as finished, so its next news (or the open-order list read at
the day's roll) brings it back."""
UNREPLACEABLE_STATUSES = frozenset({"accepted", "pending_new", "pending_cancel", "pending_replace"})
"""Statuses in which Alpaca refuses to replace an order (422; API.md §5.3): not routed yet,
or a cancel or replace already in flight."""
LIST_PAGE = 500
"""Alpaca's page of orders: an open-order list this long may be cut, so nothing absent from
it is taken as finished."""


class WorkState(StrEnum):
    QUEUED = "queued"  # through the gate, not yet answered by the broker
    OPEN = "open"  # the broker has it and it may fill
    UNKNOWN = "unknown"  # the send's answer was lost: it may or may not exist


@dataclass(frozen=True, slots=True)
class Working:
    """One working order as the gate counts it: what may still fill, in shares or dollars."""

    client_order_id: str
    symbol: str
    side: Side
    qty: Decimal | None  # shares still to fill; None for a notional order
    notional: Decimal | None  # dollars still to fill (notional orders)
    limit_price: Decimal | None
    state: WorkState
    order_id: str | None = None
    seq: int = 0  # the book's counter at its last news (see WorkingOrders.mark)
    # what the orders pane shows (the gate reads none of it): as the last news told it
    order_type: str = ""
    stop_price: Decimal | None = None
    filled_qty: Decimal = _ZERO
    status: str = ""
    created_at: datetime | None = None
    time_in_force: str = ""

    @property
    def sign(self) -> int:
        return 1 if self.side is Side.BUY else -1

    def shares(self, price: Decimal | None) -> Decimal | None:
        """Remaining size in shares (unsigned). A notional order converts at its limit
        price, else at ``price`` (the symbol's mark); None when neither is known."""
        if self.qty is not None:
            return self.qty
        if self.notional is None:
            return _ZERO
        at = self.limit_price if self.limit_price is not None else price
        if at is None or at <= 0:
            return None
        return self.notional / at


class OrderNews(NamedTuple):
    """What one trade event or REST order says about an order, as the book needs it."""

    kind: str  # the trade event ("new", "fill" ...), or "rest" for a REST order
    client_order_id: str | None
    order_id: str | None
    symbol: str | None
    side: str | None
    qty: Decimal | None
    notional: Decimal | None
    filled_qty: Decimal | None
    filled_avg_price: Decimal | None
    limit_price: Decimal | None
    status: str
    # for the orders pane only
    order_type: str = ""
    stop_price: Decimal | None = None
    created_at: datetime | None = None
    time_in_force: str = ""


class _NewsOrder(msgspec.Struct):
    id: str | None = None
    client_order_id: str | None = None
    symbol: str | None = None
    side: str | None = None
    qty: str | float | None = None
    notional: str | float | None = None
    filled_qty: str | float | None = None
    filled_avg_price: str | float | None = None
    limit_price: str | float | None = None
    status: str | None = None
    type: str | None = None
    stop_price: str | float | None = None
    created_at: str | None = None
    time_in_force: str | None = None


class _News(msgspec.Struct):
    event: str
    order: _NewsOrder | None = None


_NEWS = msgspec.json.Decoder(_News)
_ENDING = frozenset({"fill", "done_for_day"})


def news_from_payload(data: str) -> OrderNews | None:
    """The order news in one trade-stream payload; None when it has none or is unusual
    (the caller may then read the full model with :func:`news_from_wire`). Read for every
    trade event, so numbers are parsed only for news that keeps an order working."""
    try:
        event = _NEWS.decode(data)
        order = event.order
        if order is None or not order.status:
            return None
        symbol = order.symbol.strip() if order.symbol else None
        if order.status.lower() in TERMINAL_STATUSES or event.event in _ENDING:
            return OrderNews(
                event.event,
                order.client_order_id or None,
                order.id or None,
                symbol,
                order.side,
                None,
                None,
                None,
                None,
                None,
                order.status,
            )
        return OrderNews(
            event.event,
            order.client_order_id or None,
            order.id or None,
            symbol,
            order.side,
            _number(order.qty),
            _number(order.notional),
            _number(order.filled_qty),
            _number(order.filled_avg_price),
            _number(order.limit_price),
            order.status,
            order.type or "",
            _number(order.stop_price),
            _when(order.created_at),
            order.time_in_force or "",
        )
    except (msgspec.DecodeError, ValueError):
        return None


def _when(text: str | None) -> datetime | None:
    """An order's wire timestamp, or None; Alpaca's nanoseconds parse to microseconds."""
    if not text:
        return None
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        return None


def _number(value: str | float | None) -> Decimal | None:
    """Wire decimal text (or a JSON number) to Decimal; ValueError for anything else."""
    if value is None or value == "":
        return None
    try:
        result = Decimal(repr(value)) if isinstance(value, float) else Decimal(value)
    except InvalidOperation:
        raise ValueError(f"not a decimal number: {value!r}") from None
    if not result.is_finite():
        raise ValueError(f"not a finite number: {value!r}")
    return result


def news_from_wire(kind: str, order: WireOrder) -> OrderNews:
    return OrderNews(
        kind,
        order.client_order_id or None,
        order.id,
        order.symbol or None,
        order.side or None,
        order.qty,
        order.notional,
        order.filled_qty,
        order.filled_avg_price,
        order.limit_price,
        order.status,
        order.type or order.order_type or "",
        order.stop_price,
        order.created_at,
        order.time_in_force or "",
    )


class WorkingOrders:
    """The working orders of one account, keyed by ``client_order_id``."""

    def __init__(self, *, memory: int = 10_000) -> None:
        self._orders: dict[str, Working] = {}
        # finished ids, oldest first: a plain dict trimmed in chunks (an OrderedDict gave
        # every id a node of its own, churned at the order rate; not what made the arenas
        # creep in bench/ui.py, issue 15, but one small object fewer per order)
        self._finished: dict[str, None] = {}
        self._memory = max(1, memory)
        self._seq = 0

    # --- reading --------------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self._orders)

    def __contains__(self, client_order_id: object) -> bool:
        return client_order_id in self._orders

    def orders(self) -> tuple[Working, ...]:
        return tuple(self._orders.values())

    def of(self, symbol: str) -> tuple[Working, ...]:
        key = symbol_key(symbol)
        return tuple(w for w in self._orders.values() if symbol_key(w.symbol) == key)

    def busy(self, symbol: str) -> bool:
        """Whether any order of ``symbol`` may still fill (the policy then waits)."""
        key = symbol_key(symbol)
        return any(symbol_key(w.symbol) == key for w in self._orders.values())

    def get(self, client_order_id: str) -> Working | None:
        return self._orders.get(client_order_id)

    def unknown(self) -> tuple[Working, ...]:
        return tuple(w for w in self._orders.values() if w.state is WorkState.UNKNOWN)

    def mark(self) -> int:
        """A point in the book's history: take it before reading the open-order list that
        :meth:`sync` is then given, so that news after the read is not undone by it."""
        return self._seq

    # --- the desk's own orders ------------------------------------------------------------

    def add(self, order: Order) -> None:
        """The gate let ``order`` through: it counts from now, before it is sent."""
        self._put(
            Working(
                order.client_order_id,
                order.symbol,
                order.side,
                order.qty,
                order.notional,
                order.limit_price,
                WorkState.QUEUED,
                order_type=str(order.type),
                stop_price=order.stop_price,
                status="queued",
                time_in_force=str(order.time_in_force),
            )
        )

    def restore(self, client_order_id: str, request: Mapping[str, Any]) -> None:
        """An intent a previous run left unresolved (its create-order body): it may exist."""
        try:
            order = Order.from_request({**request, "client_order_id": client_order_id})
        except Exception:  # an unreadable intent: count nothing rather than guess a size
            return
        self.add(order)
        self.lost(client_order_id)

    def sent(self, client_order_id: str, placed: WireOrder | None) -> None:
        """The broker took the order; ``placed`` is its answer (status and fills so far)."""
        if placed is not None:
            self.observe(news_from_wire("rest", placed), client_order_id)
            return
        current = self._orders.get(client_order_id)
        if current is not None:
            self._put(replace(current, state=WorkState.OPEN))

    def lost(self, client_order_id: str) -> None:
        """The send's answer was lost: the order may exist, so it keeps counting."""
        current = self._orders.get(client_order_id)
        if current is not None and current.state is not WorkState.OPEN:
            self._put(replace(current, state=WorkState.UNKNOWN))

    def drop(self, client_order_id: str) -> Working | None:
        """The order does not exist or will never fill (refused, abandoned, not found)."""
        return self._finish(client_order_id)

    # --- the broker's news ----------------------------------------------------------------

    def observe(self, news: OrderNews, client_order_id: str | None = None) -> bool:
        """Apply one piece of news; True if the book changed. What remains of an order only
        shrinks: a REST answer older than the stream's partial fills cannot grow it back."""
        cid = client_order_id or news.client_order_id or news.order_id
        if not cid:
            return False
        status = news.status.strip().lower()
        if status in TERMINAL_STATUSES or news.kind in _ENDING:
            return self._finish(cid, remember=status != "done_for_day") is not None
        if cid in self._finished:
            return False
        current = self._orders.get(cid)
        side = _side(news.side) or (current.side if current is not None else None)
        symbol = news.symbol or (current.symbol if current is not None else None)
        if side is None or not symbol:
            return False
        filled = news.filled_qty or _ZERO
        qty = notional = None
        if news.qty is not None:
            qty = _least(max(news.qty - filled, _ZERO), current.qty if current else None)
        elif news.notional is not None:
            spent = filled * news.filled_avg_price if news.filled_avg_price else _ZERO
            notional = max(news.notional - spent, _ZERO)
            notional = _least(notional, current.notional if current else None)
        elif current is not None:
            qty, notional = current.qty, current.notional
        else:
            return False  # no size at all: nothing to count
        if qty == 0 or notional == 0:
            return self._finish(cid) is not None
        self._seq += 1
        self._orders[cid] = (
            Working(  # built with its seq: a replace() per event was a fifth of observe()
                cid,
                symbol,
                side,
                qty,
                notional,
                news.limit_price if news.limit_price is not None else _limit(current),
                WorkState.OPEN,
                news.order_id or (current.order_id if current is not None else None),
                order_type=news.order_type or (current.order_type if current else ""),
                stop_price=news.stop_price if news.stop_price is not None else _stop(current),
                filled_qty=max(filled, current.filled_qty if current else _ZERO),
                status=_later(
                    _later(status, _TOLD.get(news.kind, "")), current.status if current else ""
                ),
                created_at=news.created_at or (current.created_at if current else None),
                time_in_force=news.time_in_force or (current.time_in_force if current else ""),
                seq=self._seq,
            )
        )
        return True

    def merge(self, orders: Iterable[WireOrder]) -> None:
        """Orders the broker lists as open: added or brought up to date, never removed."""
        for order in orders:
            self.observe(news_from_wire("rest", order))

    def sync(self, orders: Iterable[WireOrder], *, since: int) -> list[str]:
        """Make the open orders equal the broker's list, read after :meth:`mark` gave
        ``since``. An open order absent from the list finished meanwhile (its news may be
        late or lost) unless it had news after ``since``. Queued and unknown orders are not
        taken from the list: the first are not at the broker yet, the second are resolved
        by looking them up. A list of a whole page may be cut: nothing is removed then.
        Returns the client order ids removed."""
        listed = list(orders)
        ids = set()
        for order in listed:
            self.observe(news_from_wire("rest", order))
            ids.add(order.client_order_id or order.id)
        if len(listed) >= LIST_PAGE:
            return []
        gone = [
            cid
            for cid, w in self._orders.items()
            if w.state is WorkState.OPEN and w.seq <= since and cid not in ids
        ]
        for cid in gone:
            self._finish(cid)
        return gone

    # --- internals ------------------------------------------------------------------------

    def _put(self, working: Working) -> None:
        self._seq += 1
        self._orders[working.client_order_id] = replace(working, seq=self._seq)

    def _finish(self, cid: str, *, remember: bool = True) -> Working | None:
        self._seq += 1
        if remember:
            self._finished.pop(cid, None)
            self._finished[cid] = None  # the newest
            if len(self._finished) > self._memory + self._memory // 2:
                newest = list(self._finished)[-self._memory :]
                self._finished = dict.fromkeys(newest)
        return self._orders.pop(cid, None)


def _side(text: str | None) -> Side | None:
    value = (text or "").strip().lower()
    if value.startswith("buy"):
        return Side.BUY
    if value.startswith("sell"):
        return Side.SELL
    return None


def _least(value: Decimal, before: Decimal | None) -> Decimal:
    return value if before is None else min(value, before)


def _limit(current: Working | None) -> Decimal | None:
    return current.limit_price if current is not None else None


_STAGE = {"pending_new": 0, "accepted": 0, "new": 1, "partially_filled": 2}


_TOLD = {"new": "new", "partial_fill": "partially_filled"}  # what the event says it is


def _later(status: str, before: str) -> str:
    """The status to show: news read before other news (a REST answer's ``pending_new``
    after the stream's ``new``, a polled ``new`` event whose order still read
    ``pending_new``) must not take an order back a stage."""
    return before if _STAGE.get(status, 1) < _STAGE.get(before, -1) else status


def _stop(current: Working | None) -> Decimal | None:
    return current.stop_price if current is not None else None
