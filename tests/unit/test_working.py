"""The book of working orders (review finding #4): what may still fill, from the moment the
gate lets an order through until the broker says it is done; late or stale news never brings
an order back or grows it."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

from tui_trader.core.models import WireOrder
from tui_trader.core.orders import Order, OrderBuilder, Side
from tui_trader.core.working import (
    LIST_PAGE,
    OrderNews,
    WorkingOrders,
    WorkState,
    news_from_payload,
    news_from_wire,
)

D = Decimal
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "alpaca"


def sell(qty: int = 100, symbol: str = "AAPL") -> Order:
    return OrderBuilder().symbol(symbol).sell(qty).market().day().build()


def wire(order: Order, status: str = "new", filled: str = "0", **extra: Any) -> WireOrder:
    return WireOrder.model_validate(
        {
            "id": f"id-{order.client_order_id}",
            "client_order_id": order.client_order_id,
            "symbol": order.symbol,
            "side": order.side.value,
            "qty": None if order.qty is None else str(order.qty),
            "notional": None if order.notional is None else str(order.notional),
            "filled_qty": filled,
            "status": status,
            **extra,
        }
    )


def news(order: Order, kind: str, status: str, filled: str = "0") -> OrderNews:
    return news_from_wire(kind, wire(order, status, filled))


def test_review_04_an_order_counts_from_the_gate_until_its_fill() -> None:
    book = WorkingOrders()
    order = sell()
    book.add(order)
    assert [(w.state, w.qty, w.side) for w in book.orders()] == [
        (WorkState.QUEUED, D(100), Side.SELL)
    ]
    assert book.busy("aapl") and not book.busy("MSFT")
    book.sent(order.client_order_id, wire(order, "accepted"))
    (working,) = book.of("AAPL")
    assert (working.state, working.order_id) == (WorkState.OPEN, f"id-{order.client_order_id}")
    book.observe(news(order, "partial_fill", "partially_filled", "40"))
    assert book.of("AAPL")[0].qty == D(60)
    book.observe(news(order, "fill", "filled", "100"))
    assert len(book) == 0 and not book.busy("AAPL")


def test_review_04_late_and_stale_news_never_bring_an_order_back_or_grow_it() -> None:
    book = WorkingOrders()
    order = sell()
    book.add(order)
    book.observe(news(order, "partial_fill", "partially_filled", "30"))  # before the REST answer
    book.sent(order.client_order_id, wire(order, "accepted"))  # the answer, from before the fill
    assert book.of("AAPL")[0].qty == D(70)
    book.observe(news(order, "fill", "filled", "100"))
    book.sent(order.client_order_id, wire(order, "new"))  # an answer that arrives last of all
    book.merge([wire(order, "new", "30")])  # a list read before the fill
    assert len(book) == 0


def test_review_04_refused_orders_leave_and_unknown_ones_stay() -> None:
    book = WorkingOrders()
    refused, lost = sell(), sell()
    book.add(refused)
    book.add(lost)
    book.drop(refused.client_order_id)
    book.lost(lost.client_order_id)
    assert [(w.client_order_id, w.state) for w in book.orders()] == [
        (lost.client_order_id, WorkState.UNKNOWN)
    ]
    assert book.unknown()[0].client_order_id == lost.client_order_id
    book.observe(news(lost, "new", "new"))  # it did reach the broker
    assert book.of("AAPL")[0].state is WorkState.OPEN
    book.lost(lost.client_order_id)  # the broker's word beats a lost answer
    assert book.of("AAPL")[0].state is WorkState.OPEN


def test_review_04_done_for_day_leaves_but_may_come_back() -> None:
    book = WorkingOrders()
    order = OrderBuilder().symbol("AAPL").sell(5).limit(500).gtc().build()
    book.observe(news(order, "new", "new"))
    book.observe(news(order, "done_for_day", "done_for_day"))
    assert len(book) == 0
    book.merge([wire(order, "new")])  # the next session's open-order list
    assert len(book) == 1


def test_review_04_orders_placed_elsewhere_count_and_a_sync_drops_only_what_it_can() -> None:
    book = WorkingOrders()
    mine, queued, lost = sell(10), sell(20), sell(30)
    other = OrderBuilder().symbol("MSFT").buy(7).limit(10).gtc().build()
    book.add(mine)
    book.sent(mine.client_order_id, wire(mine))
    book.add(queued)
    book.add(lost)
    book.lost(lost.client_order_id)
    since = book.mark()
    late = sell(40)
    book.add(late)
    book.sent(late.client_order_id, wire(late))  # answered after the list was read
    gone = book.sync([wire(other, "new")], since=since)
    assert gone == [mine.client_order_id]
    held = {w.client_order_id: w.state for w in book.orders()}
    assert held == {
        queued.client_order_id: WorkState.QUEUED,
        lost.client_order_id: WorkState.UNKNOWN,
        late.client_order_id: WorkState.OPEN,
        other.client_order_id: WorkState.OPEN,
    }
    page = [wire(sell(1)) for _ in range(LIST_PAGE)]
    assert book.sync(page, since=book.mark()) == []  # a full page may be cut: nothing dropped


def test_review_04_a_notional_order_converts_at_its_limit_or_the_mark() -> None:
    book = WorkingOrders()
    order = OrderBuilder().symbol("AAPL").buy(notional="1000").market().day().build()
    book.add(order)
    (working,) = book.orders()
    assert (working.qty, working.notional) == (None, D(1000))
    assert working.shares(D(50)) == D(20)
    assert working.shares(None) is None
    spent = news_from_wire(
        "partial_fill",
        wire(order, "partially_filled", "4", filled_avg_price="50"),
    )
    book.observe(spent)
    assert book.orders()[0].notional == D(800)


def test_review_04_an_intent_left_unresolved_by_a_previous_run_counts_as_unknown() -> None:
    book = WorkingOrders()
    request = sell(12).to_request()
    book.restore("cid-from-journal", request)
    (working,) = book.orders()
    assert (working.client_order_id, working.qty, working.state) == (
        "cid-from-journal",
        D(12),
        WorkState.UNKNOWN,
    )
    book.restore("garbage", {"symbol": "AAPL"})  # unreadable: counts nothing
    assert len(book) == 1


def test_news_from_a_trade_stream_payload() -> None:
    payload = (FIXTURES / "trade_event_fill.json").read_text()
    parsed = news_from_payload(payload)
    data = json.loads(payload)
    assert parsed is not None
    assert (parsed.kind, parsed.client_order_id, parsed.status) == (
        data["event"],
        data["order"]["client_order_id"],
        data["order"]["status"],
    )
    assert news_from_payload('{"event": "new"}') is None
    assert news_from_payload("not json") is None
    assert news_from_payload('{"event": "new", "order": {"status": "new", "qty": "x"}}') is None


def test_finished_orders_are_remembered_newest_first_within_the_bound() -> None:
    """At least the newest ``memory`` finished orders stay finished (late news cannot bring
    them back), and at most half as many again are kept: the memory is bounded."""
    book = WorkingOrders(memory=4)
    orders = [sell(1) for _ in range(11)]
    for order in orders:
        book.add(order)
        book.observe(news_from_wire("canceled", wire(order, "canceled")))
    assert len(book._finished) <= 6
    for order in orders[-4:]:  # the newest four: a late "new" changes nothing
        assert not book.observe(news_from_wire("new", wire(order, "new")))
    assert len(book) == 0
    assert book.observe(news_from_wire("new", wire(orders[0], "new")))  # long forgotten
