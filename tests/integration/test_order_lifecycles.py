"""Each order type, placed over REST, yields Alpaca's event sequence on the SSE trade stream."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import httpx
import pytest

from tests.integration.conftest import client_for
from tests.integration.sse import Received, read_stream, wait_for
from tui_trader.sim.runner import RunningEmulator

REPLAY_ALL = {"since": "2000-01-01"}


def place(client: httpx.Client, **body: Any) -> dict[str, Any]:
    response = client.post("/v2/orders", json=body)
    assert response.status_code == 200, response.text
    order: dict[str, Any] = response.json()
    assert order["status"] == "accepted"
    return order


def quote(client: httpx.Client, symbol: str) -> tuple[Decimal, Decimal]:
    q = client.get(f"/v2/stocks/{symbol}/quotes/latest").json()["quote"]
    return Decimal(str(q["bp"])), Decimal(str(q["ap"]))


def events_of(received: Received, order_id: str) -> list[dict[str, Any]]:
    return [e for e in received.events if e["order"]["id"] == order_id]


def trail(client: httpx.Client, order_id: str, last: str, max_seconds: float = 10) -> list[str]:
    """The event types of one order, read from a replay of the stream until ``last`` arrives."""

    def done(r: Received) -> bool:
        return any(e["event"] == last for e in events_of(r, order_id))

    got = read_stream(client, "/v2/events/trades", REPLAY_ALL, stop=done, max_seconds=max_seconds)
    assert got.ended == "stopped", f"no {last!r} for {order_id}: {got.types()}"
    return [e["event"] for e in events_of(got, order_id)]


def order_events(client: httpx.Client, order_id: str) -> list[dict[str, Any]]:
    """Every stored event of one order: a replay read until the first heartbeat (caught up)."""
    got = read_stream(
        client,
        "/v2/events/trades",
        REPLAY_ALL,
        stop=lambda r: len(r.comments) > 0,
        max_seconds=5,
    )
    return events_of(got, order_id)


def test_market_order_new_then_fill(client: httpx.Client) -> None:
    order = place(client, symbol="AAPL", qty="3", side="buy", type="market", time_in_force="day")
    assert trail(client, order["id"], "fill") == ["pending_new", "new", "fill"]
    fill = next(e for e in order_events(client, order["id"]) if e["event"] == "fill")
    assert fill["qty"] == "3"
    assert fill["position_qty"] == "3"
    assert fill["order"]["status"] == "filled"
    assert fill["order"]["filled_qty"] == "3"
    assert Decimal(fill["price"]) == Decimal(fill["order"]["filled_avg_price"])
    assert fill["execution_id"] and fill["settle_date"]
    # the full order key set rides on every event (API.md §4.2)
    for key in ("legs", "replaced_by", "filled_at", "trail_percent", "hwm", "order_type"):
        assert key in fill["order"]


def test_large_market_order_fills_in_parts(sim_with: Any) -> None:
    running: RunningEmulator = sim_with(starting_cash=Decimal(50_000_000))
    with client_for(running) as client:
        order = place(
            client, symbol="AAPL", qty="20000", side="buy", type="market", time_in_force="day"
        )
        types = trail(client, order["id"], "fill", max_seconds=20)
        assert types[:2] == ["pending_new", "new"]
        assert types[-1] == "fill"
        assert "partial_fill" in types
        events = order_events(client, order["id"])
        fills = [e for e in events if e["event"] in ("partial_fill", "fill")]
        assert sum(Decimal(e["qty"]) for e in fills) == 20000
        # position_qty grows with each execution and ends at the order's size
        positions = [Decimal(e["position_qty"]) for e in fills]
        assert positions == sorted(positions) and positions[-1] == 20000
        partial = fills[0]["order"]
        assert partial["status"] == "partially_filled"


def test_notional_order_fills_fractional_quantity(client: httpx.Client) -> None:
    order = place(
        client, symbol="MSFT", notional="500", side="buy", type="market", time_in_force="day"
    )
    assert order["qty"] is None and order["notional"] == "500"
    trail(client, order["id"], "fill")
    fill = next(e for e in order_events(client, order["id"]) if e["event"] == "fill")
    qty = Decimal(fill["qty"])
    assert qty != qty.to_integral_value()
    assert abs(qty * Decimal(fill["price"]) - 500) < 1


def test_resting_limit_then_cancel(client: httpx.Client) -> None:
    bid, _ = quote(client, "NVDA")
    order = place(
        client,
        symbol="NVDA",
        qty="2",
        side="buy",
        type="limit",
        time_in_force="gtc",
        limit_price=str((bid * Decimal("0.8")).quantize(Decimal("0.01"))),
    )
    assert trail(client, order["id"], "new") == ["pending_new", "new"]
    assert client.delete(f"/v2/orders/{order['id']}").status_code == 204
    assert trail(client, order["id"], "canceled") == ["pending_new", "new", "canceled"]
    got = client.get(f"/v2/orders/{order['id']}").json()
    assert got["status"] == "canceled" and got["canceled_at"]
    # a second cancel of a closed order is refused with Alpaca's body
    again = client.delete(f"/v2/orders/{order['id']}")
    assert again.status_code == 422 and "message" in again.json()


def test_marketable_limit_fills_at_or_better(client: httpx.Client) -> None:
    _, ask = quote(client, "SPY")
    limit = (ask * Decimal("1.01")).quantize(Decimal("0.01"))
    order = place(
        client,
        symbol="SPY",
        qty="1",
        side="buy",
        type="limit",
        time_in_force="day",
        limit_price=str(limit),
    )
    trail(client, order["id"], "fill")
    fill = next(e for e in order_events(client, order["id"]) if e["event"] == "fill")
    assert Decimal(fill["price"]) <= limit


def test_stop_and_stop_limit_trigger_and_fill(client: httpx.Client) -> None:
    place(client, symbol="TSLA", qty="10", side="buy", type="market", time_in_force="day")
    wait_for(lambda: client.get("/v2/positions/TSLA").status_code == 200)
    bid, _ = quote(client, "TSLA")
    # a sell stop above the bid has already triggered: it becomes a market order
    stop = place(
        client,
        symbol="TSLA",
        qty="4",
        side="sell",
        type="stop",
        time_in_force="day",
        stop_price=str((bid * Decimal("1.05")).quantize(Decimal("0.01"))),
    )
    assert trail(client, stop["id"], "fill")[-1] == "fill"
    low = (bid * Decimal("0.9")).quantize(Decimal("0.01"))
    stop_limit = place(
        client,
        symbol="TSLA",
        qty="3",
        side="sell",
        type="stop_limit",
        time_in_force="day",
        stop_price=str((bid * Decimal("1.05")).quantize(Decimal("0.01"))),
        limit_price=str(low),
    )
    trail(client, stop_limit["id"], "fill")
    fill = next(e for e in order_events(client, stop_limit["id"]) if e["event"] == "fill")
    assert Decimal(fill["price"]) >= low
    assert fill["position_qty"] == "3"


def test_untriggered_stop_rests(client: httpx.Client) -> None:
    place(client, symbol="AAPL", qty="5", side="buy", type="market", time_in_force="day")
    wait_for(lambda: client.get("/v2/positions/AAPL").status_code == 200)
    bid, _ = quote(client, "AAPL")
    stop = place(
        client,
        symbol="AAPL",
        qty="5",
        side="sell",
        type="stop",
        time_in_force="gtc",
        stop_price=str((bid * Decimal("0.5")).quantize(Decimal("0.01"))),
    )
    assert trail(client, stop["id"], "new") == ["pending_new", "new"]
    assert client.get(f"/v2/orders/{stop['id']}").json()["status"] == "new"


def test_trailing_stop_tracks_high_water_mark_and_fires(sim_with: Any) -> None:
    running: RunningEmulator = sim_with(speed=0)  # the clock moves only when told
    with client_for(running) as client, httpx.Client(base_url=running.url) as admin:
        place(client, symbol="NVDA", qty="10", side="buy", type="market", time_in_force="day")
        admin.post("/_emulator/clock/advance", json={"seconds": 1})
        wait_for(lambda: client.get("/v2/positions/NVDA").status_code == 200)
        order = place(
            client,
            symbol="NVDA",
            qty="10",
            side="sell",
            type="trailing_stop",
            time_in_force="day",
            trail_price="0.05",
        )
        for _ in range(200):  # bounded: a 5-cent pullback comes within minutes of sim time
            admin.post("/_emulator/clock/advance", json={"seconds": 5})
            if client.get(f"/v2/orders/{order['id']}").json()["status"] == "filled":
                break
        final = client.get(f"/v2/orders/{order['id']}").json()
        assert final["status"] == "filled"
        assert final["hwm"] is not None
        assert Decimal(final["filled_avg_price"]) <= Decimal(final["hwm"])
        assert trail(client, order["id"], "fill") == ["pending_new", "new", "fill"]


def test_ioc_and_fok_cancel_what_cannot_fill(client: httpx.Client) -> None:
    bid, _ = quote(client, "MSFT")
    far = str((bid * Decimal("0.5")).quantize(Decimal("0.01")))
    ioc = place(
        client,
        symbol="MSFT",
        qty="1",
        side="buy",
        type="limit",
        time_in_force="ioc",
        limit_price=far,
    )
    assert trail(client, ioc["id"], "canceled") == ["pending_new", "new", "canceled"]
    fok = place(
        client,
        symbol="MSFT",
        qty="1",
        side="buy",
        type="limit",
        time_in_force="fok",
        limit_price=far,
    )
    assert trail(client, fok["id"], "canceled")[-1] == "canceled"
    ioc_fill = place(client, symbol="MSFT", qty="1", side="buy", type="market", time_in_force="ioc")
    assert trail(client, ioc_fill["id"], "fill")[-1] == "fill"


def test_opg_and_cls_wait_for_the_auction_and_day_orders_expire(sim_with: Any) -> None:
    running: RunningEmulator = sim_with(speed=0)
    with client_for(running) as client, httpx.Client(base_url=running.url) as admin:
        bid, _ = quote(client, "SPY")
        opg = place(client, symbol="SPY", qty="2", side="buy", type="market", time_in_force="opg")
        cls = place(client, symbol="SPY", qty="1", side="buy", type="market", time_in_force="cls")
        day = place(
            client,
            symbol="SPY",
            qty="1",
            side="buy",
            type="limit",
            time_in_force="day",
            limit_price=str((bid * Decimal("0.5")).quantize(Decimal("0.01"))),
        )
        gtc = place(
            client,
            symbol="SPY",
            qty="1",
            side="buy",
            type="limit",
            time_in_force="gtc",
            limit_price=str((bid * Decimal("0.5")).quantize(Decimal("0.01"))),
        )
        admin.post("/_emulator/clock/advance", json={"seconds": 60})
        assert client.get(f"/v2/orders/{opg['id']}").json()["status"] == "new"
        assert client.get(f"/v2/orders/{cls['id']}").json()["status"] == "new"
        # to the close and through to the next open (one session is 23,400 s)
        admin.post("/_emulator/clock/advance", json={"seconds": 23_400})
        status = {
            o["id"]: o["status"] for o in client.get("/v2/orders", params={"status": "all"}).json()
        }
        assert status[cls["id"]] == "filled"
        assert status[opg["id"]] == "filled"
        assert status[day["id"]] == "expired"
        assert status[gtc["id"]] == "new"
        assert trail(client, day["id"], "expired") == ["pending_new", "new", "expired"]
        opg_fill = client.get(f"/v2/orders/{opg['id']}").json()
        cls_fill = client.get(f"/v2/orders/{cls['id']}").json()
        assert opg_fill["filled_at"] > cls_fill["filled_at"]  # next morning after the close


def test_bracket_activates_legs_and_one_cancels_the_other(client: httpx.Client) -> None:
    bid, _ = quote(client, "AAPL")
    take = (bid * Decimal("0.99")).quantize(Decimal("0.01"))  # marketable once active
    stop = (bid * Decimal("0.90")).quantize(Decimal("0.01"))
    parent = place(
        client,
        symbol="AAPL",
        qty="5",
        side="buy",
        type="market",
        time_in_force="gtc",
        order_class="bracket",
        take_profit={"limit_price": str(take)},
        stop_loss={"stop_price": str(stop)},
    )
    legs = parent["legs"]
    assert parent["order_class"] == "bracket" and len(legs) == 2
    assert {leg["status"] for leg in legs} == {"held"}
    take_leg = next(leg for leg in legs if leg["type"] == "limit")
    stop_leg = next(leg for leg in legs if leg["type"] == "stop")
    assert trail(client, parent["id"], "fill")[-1] == "fill"
    assert trail(client, take_leg["id"], "fill") == ["new", "fill"]
    assert trail(client, stop_leg["id"], "canceled") == ["new", "canceled"]
    wait_for(lambda: client.get("/v2/positions/AAPL").status_code == 404)


def test_replace_emits_replaced_then_new(client: httpx.Client) -> None:
    bid, _ = quote(client, "MSFT")
    old = place(
        client,
        symbol="MSFT",
        qty="3",
        side="buy",
        type="limit",
        time_in_force="gtc",
        limit_price=str((bid * Decimal("0.8")).quantize(Decimal("0.01"))),
    )
    trail(client, old["id"], "new")
    new_limit = str((bid * Decimal("0.85")).quantize(Decimal("0.01")))
    response = client.patch(f"/v2/orders/{old['id']}", json={"limit_price": new_limit})
    assert response.status_code == 200, response.text
    new = response.json()
    assert new["id"] != old["id"] and new["replaces"] == old["id"]
    assert new["limit_price"] == new_limit and new["qty"] == "3"
    assert trail(client, old["id"], "replaced")[-1] == "replaced"
    assert trail(client, new["id"], "new")[-1] == "new"
    replaced = client.get(f"/v2/orders/{old['id']}").json()
    assert replaced["status"] == "replaced" and replaced["replaced_by"] == new["id"]


def test_validation_and_funds_errors_have_alpaca_bodies(client: httpx.Client) -> None:
    bad = client.post(
        "/v2/orders",
        json={"symbol": "AAPL", "qty": "1", "side": "buy", "type": "limit", "time_in_force": "day"},
    )
    assert bad.status_code == 422
    assert bad.json()["code"] == 40010001 and "limit_price" in bad.json()["message"]
    unknown = client.post(
        "/v2/orders",
        json={
            "symbol": "ZZZZ",
            "qty": "1",
            "side": "buy",
            "type": "market",
            "time_in_force": "day",
        },
    )
    assert unknown.status_code == 422
    broke = client.post(
        "/v2/orders",
        json={
            "symbol": "SPY",
            "qty": "100000",
            "side": "buy",
            "type": "market",
            "time_in_force": "day",
        },
    )
    assert broke.status_code == 403
    body = broke.json()
    assert body["code"] == 40310000 and body["message"] == "insufficient buying power"
    assert "buying_power" in body and "cost_basis" in body
    place(
        client,
        symbol="AAPL",
        qty="2",
        side="buy",
        type="market",
        time_in_force="day",
        client_order_id="dup-1",
    )
    dup = client.post(
        "/v2/orders",
        json={
            "symbol": "AAPL",
            "qty": "2",
            "side": "buy",
            "type": "market",
            "time_in_force": "day",
            "client_order_id": "dup-1",
        },
    )
    assert dup.status_code == 422 and "unique" in dup.json()["message"]
    missing = client.get("/v2/orders/00000000-0000-4000-8000-000000000000")
    assert missing.status_code == 404 and missing.json()["code"] == 40410000
    assert client.get("/v2/orders/not-an-id").json()["message"] == "order_id is missing"


@pytest.mark.parametrize("encoding", ["apca", "alpaca-py"])
def test_both_client_encodings_are_accepted(client: httpx.Client, encoding: str) -> None:
    """APCA sends strings and explicit nulls; alpaca-py sends numbers and leaves keys out."""
    if encoding == "apca":
        body: dict[str, Any] = {
            "symbol": "AAPL",
            "qty": "1",
            "notional": None,
            "side": "buy",
            "type": "limit",
            "time_in_force": "day",
            "limit_price": "1.00",
            "stop_price": None,
            "trail_price": None,
            "trail_percent": None,
            "extended_hours": False,
            "client_order_id": None,
            "order_class": "simple",
            "take_profit": None,
            "stop_loss": None,
        }
    else:
        body = {
            "symbol": "AAPL",
            "qty": 1,
            "side": "buy",
            "type": "limit",
            "time_in_force": "day",
            "limit_price": 1.0,
            "extended_hours": "True",
        }
    order = place(client, **body)
    assert order["limit_price"] == "1" and order["qty"] == "1"
    assert order["client_order_id"]
