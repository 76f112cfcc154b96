"""The desk's levers on one order or one position, against the emulator: cancel one order,
replace one through the risk gate (judged as a new order in the old one's place; while paused
only what reduces), close one position (allowed while paused). The broker's word is checked,
and the desk's book of working orders and journal follow it."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import httpx
import pytest

from tests.integration.conftest import KEY_HEADERS
from tests.integration.test_desk import desk_for as desk_for  # the fixture, shared
from tests.integration.test_desk import ready
from tests.waiting import until
from tui_trader.core.orders import Order, OrderBuilder
from tui_trader.desk.desk import Desk
from tui_trader.sim.runner import RunningEmulator

pytestmark = pytest.mark.integration


def limit_buy(symbol: str, qty: int, price: Decimal) -> Order:
    return OrderBuilder().symbol(symbol).buy(qty).limit(price).gtc().build()


def half(desk: Desk, symbol: str) -> Decimal:
    """A buy limit at half the market: it rests."""
    return (desk.snapshot().prices[symbol] / 2).quantize(Decimal("0.01"))


async def working(desk: Desk, symbol: str, n: int) -> list[Any]:
    """Until the desk's book holds ``n`` working orders of ``symbol`` the broker has taken."""

    def found() -> list[Any] | None:
        lines = [
            o
            for o in desk.snapshot().working_orders
            if o.symbol == symbol and o.order_id and o.status == "new"
        ]
        return lines if len(lines) == n else None

    got: list[Any] = await until(
        found, 15, lambda: f"{n} working {symbol} orders: {desk.snapshot().working_orders}"
    )
    return got


def broker(sim: RunningEmulator) -> httpx.AsyncClient:
    return httpx.AsyncClient(base_url=sim.url, headers=KEY_HEADERS, timeout=10.0)


async def test_cancel_one_order_leaves_the_others(sim: RunningEmulator, desk_for: Any) -> None:
    desk: Desk = await desk_for(sim)
    await ready(desk)
    price = half(desk, "AAPL")
    for qty in (1, 2, 3):
        assert (await desk.submit(limit_buy("AAPL", qty, price))).allowed
    lines = await working(desk, "AAPL", 3)
    target = lines[1]

    text = await desk.cancel_order(target.order_id)

    assert "cancel requested" in text
    await until(lambda: len(desk.snapshot().working_orders) == 2, 15, "the book drops it")
    async with broker(sim) as b:
        orders = {o["id"]: o["status"] for o in (await b.get("/v2/orders?status=all")).json()}
    assert orders[target.order_id] == "canceled"
    assert [s for i, s in orders.items() if i != target.order_id] == ["new", "new"]
    assert desk.journal.audit_entries(kind="cancel")[0].data == {"order_id": target.order_id}


async def test_replace_moves_the_price_and_the_book_and_journal_follow(
    sim: RunningEmulator, desk_for: Any
) -> None:
    desk: Desk = await desk_for(sim)
    await ready(desk)
    price = half(desk, "MSFT")
    assert (await desk.submit(limit_buy("MSFT", 2, price))).allowed
    (old,) = await working(desk, "MSFT", 1)
    new_price = price - Decimal("1.00")
    replacement = limit_buy("MSFT", 2, new_price)

    assert desk.check_replace(old.client_order_id, replacement).allowed
    verdict = await desk.replace(old.client_order_id, replacement)

    assert verdict.allowed
    (line,) = await until(
        lambda: (
            [o for o in desk.snapshot().working_orders if o.symbol == "MSFT"]
            if [o.client_order_id for o in desk.snapshot().working_orders if o.symbol == "MSFT"]
            == [replacement.client_order_id]
            else None
        ),
        15,
        lambda: (
            f"the book holds the new order only: {desk.snapshot().working_orders}; "
            f"the replace: {[e.data for e in desk.journal.audit_entries(kind='replace')]}"
        ),
    )
    assert line.limit_price == new_price
    async with broker(sim) as b:
        got = (await b.get(f"/v2/orders/{old.order_id}")).json()
        new = (await b.get(f"/v2/orders/{line.order_id}")).json()
    assert got["status"] == "replaced" and got["replaced_by"] == line.order_id
    assert new["replaces"] == old.order_id and Decimal(new["limit_price"]) == new_price
    intent = next(
        i for i in desk.journal.intents() if i.client_order_id == replacement.client_order_id
    )
    assert intent.source == "replace" and intent.state == "submitted"
    assert intent.intent["replaces"] == old.order_id and intent.order_id == line.order_id


async def test_a_replacement_past_a_limit_is_denied_as_a_new_order_would_be(
    sim: RunningEmulator, desk_for: Any
) -> None:
    desk: Desk = await desk_for(sim, risk={"max_symbol_notional": "5000"})
    await ready(desk)
    price = half(desk, "AAPL")
    assert (await desk.submit(limit_buy("AAPL", 5, price))).allowed  # ~5 x 115
    (old,) = await working(desk, "AAPL", 1)
    big = int(Decimal(6000) / price) + 1
    too_big = limit_buy("AAPL", big, price)

    replace_verdict = desk.check_replace(old.client_order_id, too_big)
    new_verdict = desk.check(limit_buy("AAPL", big, price))

    assert not replace_verdict.allowed and replace_verdict.code == "SYMBOL_NOTIONAL"
    assert new_verdict.code == replace_verdict.code
    # the old order no longer counts against its replacement: up to the limit is fine
    fits = int(Decimal(4900) / price)
    assert desk.check_replace(old.client_order_id, limit_buy("AAPL", fits, price)).allowed
    assert not desk.check(limit_buy("AAPL", fits, price)).allowed  # beside the old: too much
    verdict = await desk.replace(old.client_order_id, too_big)
    assert not verdict.allowed
    assert not [i for i in desk.journal.intents() if i.source == "replace"]  # nothing sent


async def test_while_paused_only_a_replacement_that_reduces_passes(
    sim: RunningEmulator, desk_for: Any
) -> None:
    desk: Desk = await desk_for(sim)
    await ready(desk)
    price = half(desk, "AAPL")
    assert (await desk.submit(limit_buy("AAPL", 5, price))).allowed
    (old,) = await working(desk, "AAPL", 1)
    desk.pause("test")

    grows = desk.check_replace(old.client_order_id, limit_buy("AAPL", 8, price))
    chases = desk.check_replace(old.client_order_id, limit_buy("AAPL", 5, price + 1))
    shrinks = desk.check_replace(old.client_order_id, limit_buy("AAPL", 3, price))
    same = desk.check_replace(old.client_order_id, limit_buy("AAPL", 5, price))

    assert not grows.allowed and grows.code == "REDUCING"
    assert not chases.allowed and chases.code == "REDUCING"
    assert shrinks.allowed
    assert not same.allowed and same.code == "NO_CHANGE"


async def test_close_one_position_while_paused_leaves_the_other(
    sim: RunningEmulator, desk_for: Any
) -> None:
    desk: Desk = await desk_for(sim)
    await ready(desk)
    for symbol in ("AAPL", "MSFT"):
        assert (
            await desk.submit(OrderBuilder().symbol(symbol).buy(3).market().day().build())
        ).allowed
    await until(lambda: len(desk.snapshot().book.positions) == 2, 15, "two positions")
    # a resting sell on AAPL holds its shares: the close cancels it first
    stop = (desk.snapshot().prices["AAPL"] / 2).quantize(Decimal("0.01"))
    resting = OrderBuilder().symbol("AAPL").sell(3).stop(stop).gtc().build()
    assert (await desk.submit(resting)).allowed
    await working(desk, "AAPL", 1)
    desk.pause("test")

    text = await desk.close_position("AAPL")

    assert "close AAPL" in text and "failed" not in text, text
    await until(lambda: set(desk.snapshot().book.positions) == {"MSFT"}, 15, "AAPL closed")
    async with broker(sim) as b:
        held = {p["symbol"]: p["qty"] for p in (await b.get("/v2/positions")).json()}
        still = (await b.get("/v2/orders?status=open")).json()
    assert held == {"MSFT": "3"}
    assert still == []
    assert desk.snapshot().risk.paused


async def test_an_order_alpaca_has_not_routed_is_not_sent_a_replace(
    sim_with: Any, desk_for: Any
) -> None:
    """Alpaca refuses to replace an order it has only ``accepted`` (API.md §5.3, 422): the
    gate says so and nothing is sent. (The emulator routes on its tick, held back here.)"""
    sim: RunningEmulator = sim_with(tick_seconds=3600.0)
    desk: Desk = await desk_for(sim)
    await ready(desk)
    price = half(desk, "AAPL")
    assert (await desk.submit(limit_buy("AAPL", 2, price))).allowed
    line = await until(
        lambda: next((o for o in desk.snapshot().working_orders if o.order_id), None), 10
    )
    assert line.status == "accepted" and not line.replaceable

    verdict = await desk.replace(line.client_order_id, limit_buy("AAPL", 2, price - 1))

    assert not verdict.allowed and verdict.code == "NOT_REPLACEABLE", verdict
    async with broker(sim) as b:
        orders = (await b.get("/v2/orders?status=all")).json()
    assert [(o["status"], Decimal(o["limit_price"])) for o in orders] == [("accepted", price)]
    assert not desk.journal.audit_entries(kind="replace")
