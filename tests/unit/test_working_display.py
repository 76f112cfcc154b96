"""What the orders view reads of the book of working orders: type, stop, TIF, fills and
status from the stream's payload, a status that never goes back a stage when news arrives
out of order, and the PATCH body a replacement needs (only what differs)."""

from __future__ import annotations

import json
from decimal import Decimal

from tui_trader.core.orders import OrderBuilder
from tui_trader.core.working import WorkingOrders, news_from_payload
from tui_trader.desk.commands import shrinks
from tui_trader.desk.orders import replace_fields, working_line


def payload(event: str, status: str, **order: object) -> str:
    body = {
        "id": "o1",
        "client_order_id": "c1",
        "symbol": "SPY",
        "side": "sell",
        "qty": "12",
        "filled_qty": "0",
        "type": "stop_limit",
        "stop_price": "585",
        "limit_price": "584.5",
        "time_in_force": "gtc",
        "created_at": "2026-11-24T15:00:00.123456789Z",
        "status": status,
        **order,
    }
    return json.dumps({"event": event, "order": body})


def test_the_stream_payload_fills_the_view_line() -> None:
    book = WorkingOrders()
    news = news_from_payload(payload("partial_fill", "partially_filled", filled_qty="5"))
    assert news is not None
    book.observe(news)
    line = working_line(book.orders()[0])
    assert (line.order_type, line.stop_price, line.limit_price) == (
        "stop_limit",
        Decimal(585),
        Decimal("584.5"),
    )
    assert (line.qty, line.filled, line.remaining) == (Decimal(12), Decimal(5), Decimal(7))
    assert line.time_in_force == "gtc" and line.status == "partially_filled"
    assert line.created_at is not None and line.created_at.microsecond == 123456
    assert line.replaceable


def test_status_never_goes_back_a_stage() -> None:
    book = WorkingOrders()
    for event, status in [("new", "new"), ("pending_new", "pending_new"), ("new", "accepted")]:
        news = news_from_payload(payload(event, status))
        assert news is not None
        book.observe(news)
    assert book.orders()[0].status == "new"


def test_a_queued_order_shows_queued_and_cannot_be_replaced_yet() -> None:
    book = WorkingOrders()
    book.add(OrderBuilder().symbol("AAPL").buy(2).limit("100").day().build())
    line = working_line(book.orders()[0])
    assert line.status == "queued" and line.order_id is None and not line.replaceable


def test_an_order_alpaca_has_not_routed_or_is_changing_cannot_be_replaced() -> None:
    """API.md §5.3: no replace while ``accepted``, ``pending_new``, ``pending_cancel`` or
    ``pending_replace`` (Alpaca answers 422): the orders view greys ``e`` out for them."""
    for event, status in [
        ("accepted", "accepted"),
        ("pending_new", "pending_new"),
        ("pending_cancel", "pending_cancel"),
        ("pending_replace", "pending_replace"),
    ]:
        book = WorkingOrders()
        news = news_from_payload(payload(event, status))
        assert news is not None
        book.observe(news)
        line = working_line(book.orders()[0])
        assert line.status == status and line.order_id == "o1"
        assert not line.replaceable, status


def test_a_replacement_sends_only_what_differs() -> None:
    book = WorkingOrders()
    news = news_from_payload(payload("new", "new", type="limit", stop_price=None, side="buy"))
    assert news is not None
    book.observe(news)
    old = book.orders()[0]
    same = OrderBuilder().symbol("SPY").buy(12).limit("584.5").gtc().build()
    cheaper = OrderBuilder().symbol("SPY").buy(12).limit("580").gtc().build()
    fewer = OrderBuilder().symbol("SPY").buy(5).limit("584.5").gtc().build()
    assert replace_fields(old, same) == {}
    assert replace_fields(old, cheaper) == {"limit_price": "580"}
    assert replace_fields(old, fewer) == {"qty": "5"}
    assert shrinks(old, fewer) and not shrinks(old, cheaper) and not shrinks(old, same)
