"""REST routes of both families: positions, close-all/cancel-all 207s, activities paging,
account arithmetic, auth schemes, rate limits and market data, over real HTTP."""

from __future__ import annotations

import base64
import time
from decimal import Decimal
from typing import Any

import httpx

from tests.integration.conftest import KEY, KEY_HEADERS, SECRET, client_for
from tests.integration.sse import wait_for
from tui_trader.sim.runner import RunningEmulator


def buy(client: httpx.Client, symbol: str, qty: str, side: str = "buy") -> dict[str, Any]:
    response = client.post(
        "/v2/orders",
        json={"symbol": symbol, "qty": qty, "side": side, "type": "market", "time_in_force": "day"},
    )
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def filled(client: httpx.Client, order_id: str) -> bool:
    return client.get(f"/v2/orders/{order_id}").json()["status"] == "filled"


def resting_limit(client: httpx.Client, symbol: str, qty: str, side: str) -> dict[str, Any]:
    q = client.get(f"/v2/stocks/{symbol}/quotes/latest").json()["quote"]
    far = Decimal(str(q["bp"])) * (Decimal("0.7") if side == "buy" else Decimal("1.3"))
    response = client.post(
        "/v2/orders",
        json={
            "symbol": symbol,
            "qty": qty,
            "side": side,
            "type": "limit",
            "time_in_force": "gtc",
            "limit_price": str(far.quantize(Decimal("0.01"))),
        },
    )
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def test_close_all_returns_207_per_symbol_and_leaves_no_positions(client: httpx.Client) -> None:
    long_a = buy(client, "AAPL", "10")
    long_b = buy(client, "MSFT", "4")
    short = buy(client, "TSLA", "6", side="sell")
    for o in (long_a, long_b, short):
        wait_for(lambda o=o: filled(client, o["id"]))
    resting_limit(client, "NVDA", "3", "buy")
    positions = {p["symbol"]: p for p in client.get("/v2/positions").json()}
    assert positions["TSLA"]["side"] == "short" and positions["TSLA"]["qty"] == "-6"
    assert positions["AAPL"]["qty"] == "10" and positions["AAPL"]["side"] == "long"

    response = client.delete("/v2/positions", params={"cancel_orders": "True"})
    assert response.status_code == 207
    items = response.json()
    assert {i["symbol"] for i in items} == {"AAPL", "MSFT", "TSLA"}
    assert all(i["status"] == 200 for i in items)
    sides = {i["symbol"]: i["body"]["side"] for i in items}
    assert sides == {"AAPL": "sell", "MSFT": "sell", "TSLA": "buy"}
    wait_for(lambda: client.get("/v2/positions").json() == [])
    assert client.get("/v2/orders").json() == []  # the resting NVDA order was canceled first


def test_close_all_reports_a_symbol_it_cannot_close(client: httpx.Client) -> None:
    order = buy(client, "AAPL", "10")
    wait_for(lambda: filled(client, order["id"]))
    buy(client, "SPY", "2")
    wait_for(lambda: client.get("/v2/positions/SPY").status_code == 200)
    resting_limit(client, "AAPL", "10", "sell")  # holds every AAPL share
    items = {i["symbol"]: i for i in client.delete("/v2/positions").json()}
    assert items["SPY"]["status"] == 200
    assert items["AAPL"]["status"] == 403
    body = items["AAPL"]["body"]
    assert body["code"] == 40310000 and body["held_for_orders"] == "10"
    assert body["available"] == "0" and "insufficient qty" in body["message"]
    wait_for(lambda: client.get("/v2/positions/SPY").status_code == 404)
    assert client.get("/v2/positions/AAPL").json()["qty"] == "10"


def test_close_one_position_by_qty_and_percentage(client: httpx.Client) -> None:
    order = buy(client, "NVDA", "20")
    wait_for(lambda: filled(client, order["id"]))
    part = client.delete("/v2/positions/NVDA", params={"qty": "5"})
    assert part.status_code == 200 and part.json()["qty"] == "5"
    wait_for(lambda: client.get("/v2/positions/NVDA").json()["qty"] == "15")
    half = client.delete("/v2/positions/NVDA", params={"percentage": "50"})
    assert half.json()["qty"] == "7.5"
    both = client.delete("/v2/positions/NVDA", params={"qty": "1", "percentage": "5"})
    assert both.status_code == 422
    assert client.delete("/v2/positions/ZZZ").status_code == 404


def test_cancel_all_is_207_with_one_item_per_open_order(client: httpx.Client) -> None:
    a = resting_limit(client, "AAPL", "1", "buy")
    b = resting_limit(client, "MSFT", "1", "buy")
    response = client.delete("/v2/orders")
    assert response.status_code == 207
    assert {i["id"] for i in response.json()} == {a["id"], b["id"]}
    assert all(i["status"] == 200 for i in response.json())
    wait_for(lambda: client.get("/v2/orders").json() == [])


def test_account_arithmetic_and_full_key_set(client: httpx.Client) -> None:
    import json
    from pathlib import Path

    sample = json.loads((Path(__file__).parents[1] / "fixtures/alpaca/account.json").read_text())
    order = buy(client, "SPY", "10")
    wait_for(lambda: filled(client, order["id"]))
    account = client.get("/v2/account").json()
    assert set(sample) <= set(account)
    cash = Decimal(account["cash"])
    equity = Decimal(account["equity"])
    long_mv = Decimal(account["long_market_value"])
    assert abs(cash + long_mv + Decimal(account["short_market_value"]) - equity) <= Decimal("0.02")
    assert cash < Decimal(1_000_000)  # the purchase was paid for
    assert Decimal(account["buying_power"]) < 2 * equity


def test_activities_page_with_page_token(client: httpx.Client) -> None:
    for _ in range(5):
        order = buy(client, "AAPL", "1")
        wait_for(lambda order=order: filled(client, order["id"]))
    first = client.get("/v2/account/activities", params={"page_size": 2}).json()
    assert len(first) == 2 and all(a["activity_type"] == "FILL" for a in first)
    assert "account_id" not in first[0]  # only the Broker route adds it
    seen = [a["id"] for a in first]
    token = first[-1]["id"]
    for _ in range(10):  # bounded: loop until an empty page, as alpaca-py does
        page = client.get(
            "/v2/account/activities", params={"page_size": 2, "page_token": token}
        ).json()
        if not page:
            break
        seen += [a["id"] for a in page]
        token = page[-1]["id"]
    assert len(seen) == len(set(seen)) == 5
    assert seen == sorted(seen, reverse=True)  # desc by default
    fills = client.get("/v2/account/activities/FILL").json()
    assert len(fills) == 5
    repeated = client.get("/v2/account/activities?activity_types=FILL&activity_types=DIV").json()
    assert len(repeated) == 5
    assert (
        client.get("/v2/account/activities", params={"category": "non_trade_activity"}).json() == []
    )


def test_broker_routes_with_basic_auth(sim: RunningEmulator) -> None:
    token = base64.b64encode(f"{KEY}:{SECRET}".encode()).decode()
    with httpx.Client(base_url=sim.url, headers={"Authorization": f"Basic {token}"}) as broker:
        accounts = broker.get("/v1/accounts").json()
        account_id = accounts[0]["id"]
        base = f"/v1/trading/accounts/{account_id}"
        assert broker.get(f"{base}/account").json()["id"] == account_id
        order = broker.post(
            f"{base}/orders",
            json={
                "symbol": "AAPL",
                "qty": "2",
                "side": "buy",
                "type": "market",
                "time_in_force": "day",
            },
        )
        assert order.status_code == 200
        wait_for(lambda: broker.get(f"{base}/positions").json() != [])
        acts = broker.get("/v1/accounts/activities", params={"account_id": account_id}).json()
        assert acts and acts[0]["account_id"] == account_id
        hyphenless = order.json()["id"].replace("-", "")
        assert broker.get(f"{base}/orders/{hyphenless}").status_code == 200
        assert (
            broker.get(
                "/v1/trading/accounts/00000000-0000-4000-8000-000000000000/account"
            ).status_code
            == 404
        )


def test_credentials_and_strict_mode(sim_with: Any) -> None:
    running: RunningEmulator = sim_with(strict_auth=True)
    token = base64.b64encode(f"{KEY}:{SECRET}".encode()).decode()
    with httpx.Client(base_url=running.url) as plain:
        missing = plain.get("/v2/account")
        assert missing.status_code == 401
        assert missing.json() == {"code": 40110000, "message": "request is not authorized"}
        wrong = plain.get("/v2/account", headers={**KEY_HEADERS, "APCA-API-SECRET-KEY": "nope"})
        assert wrong.status_code == 401
        assert plain.get("/v2/account", headers=KEY_HEADERS).status_code == 200
        # strict: /v2 wants the key headers, Broker and SSE routes want Basic
        basic = {"Authorization": f"Basic {token}"}
        assert plain.get("/v2/account", headers=basic).status_code == 401
        assert plain.get("/v1/accounts", headers=basic).status_code == 200
        assert plain.get("/v1/accounts", headers=KEY_HEADERS).status_code == 401


def test_rate_limit_headers_and_429(sim_with: Any) -> None:
    running: RunningEmulator = sim_with(rate_limit_per_minute=5)
    with client_for(running) as client:
        remaining = []
        for _ in range(5):
            r = client.get("/v2/account")
            assert r.status_code == 200
            remaining.append(int(r.headers["X-RateLimit-Remaining"]))
            assert r.headers["X-RateLimit-Limit"] == "5"
        assert remaining == [4, 3, 2, 1, 0]
        over = client.get("/v2/account")
        assert over.status_code == 429
        assert over.json() == {"code": 42910000, "message": "rate limit exceeded"}
        reset = int(over.headers["X-RateLimit-Reset"])
        assert 0 < reset - time.time() <= 60
        assert 1 <= int(over.headers["Retry-After"]) <= 60


def test_market_data_shapes(client: httpx.Client) -> None:
    quotes = client.get("/v2/stocks/quotes/latest", params={"symbols": "AAPL,TSLA"}).json()
    q = quotes["quotes"]["AAPL"]
    assert isinstance(q["ap"], float) and q["ap"] > q["bp"] > 0 and isinstance(q["as"], int)
    trades = client.get("/v2/stocks/trades/latest", params={"symbols": "AAPL"}).json()
    assert {"p", "s", "t", "i", "x"} <= set(trades["trades"]["AAPL"])
    snap = client.get("/v2/stocks/snapshots", params={"symbols": "SPY"}).json()
    assert set(snap["SPY"]) == {
        "dailyBar",
        "latestQuote",
        "latestTrade",
        "minuteBar",
        "prevDailyBar",
    }  # no wrapper key
    bars = client.get(
        "/v2/stocks/bars",
        params={
            "symbols": "AAPL",
            "timeframe": "1Min",
            "start": "2026-11-23T14:30:00Z",
            "end": "2026-11-23T15:30:00Z",
            "limit": 40,
        },
    ).json()
    page = bars["bars"]["AAPL"]
    assert len(page) == 40 and bars["next_page_token"]
    rest = client.get(
        "/v2/stocks/bars",
        params={
            "symbols": "AAPL",
            "timeframe": "1Min",
            "start": "2026-11-23T14:30:00Z",
            "end": "2026-11-23T15:30:00Z",
            "limit": 40,
            "page_token": bars["next_page_token"],
        },
    ).json()
    assert len(rest["bars"]["AAPL"]) == 21 and rest["next_page_token"] is None
    hourly = client.get(
        "/v2/stocks/AAPL/bars",
        params={
            "timeframe": "1Hour",
            "start": "2026-11-23T14:30:00Z",
            "end": "2026-11-23T21:00:00Z",
        },
    ).json()
    assert hourly["symbol"] == "AAPL" and 6 <= len(hourly["bars"]) <= 8
    for bar in hourly["bars"]:
        assert bar["l"] <= min(bar["o"], bar["c"]) and bar["h"] >= max(bar["o"], bar["c"])
    daily = client.get(
        "/v2/stocks/AAPL/bars", params={"timeframe": "1Day", "start": "2026-11-01"}
    ).json()
    assert len(daily["bars"]) >= 2
    assert (
        client.get(
            "/v2/stocks/bars", params={"symbols": "AAPL", "timeframe": "7Fortnights"}
        ).status_code
        == 400
    )


def test_session_close_books_fees_and_dividends_as_non_trade_activities(sim_with: Any) -> None:
    running: RunningEmulator = sim_with(speed=0, dividend_probability=1.0)
    with client_for(running) as client, httpx.Client(base_url=running.url) as admin:
        order = buy(client, "AAPL", "100")
        admin.post("/_emulator/clock/advance", json={"seconds": 1})
        wait_for(lambda: filled(client, order["id"]))
        sell = buy(client, "AAPL", "40", side="sell")
        admin.post("/_emulator/clock/advance", json={"seconds": 1})
        wait_for(lambda: filled(client, sell["id"]))
        cash_before = Decimal(client.get("/v2/account").json()["cash"])
        admin.post("/_emulator/clock/advance", json={"seconds": 23_400})  # through the close
        acts = client.get(
            "/v2/account/activities", params={"category": "non_trade_activity"}
        ).json()
        kinds = {a["activity_type"]: a for a in acts}
        assert set(kinds) == {"FEE", "DIV"}
        fee, div = Decimal(kinds["FEE"]["net_amount"]), Decimal(kinds["DIV"]["net_amount"])
        assert fee < 0 < div
        assert kinds["DIV"]["symbol"] == "AAPL"
        cash_after = Decimal(client.get("/v2/account").json()["cash"])
        assert cash_after == cash_before + fee + div
        nta = read_nta(client)
        assert sorted(e["entry_type"] for e in nta) == ["DIV", "FEE"]
        assert all(isinstance(e["net_amount"], float) for e in nta)  # numbers on this stream
        assert {e["entry_sub_type"] for e in nta if e["entry_type"] == "FEE"} == {"TAF"}


def read_nta(client: httpx.Client) -> list[dict[str, Any]]:
    from tests.integration.sse import read_stream

    got = read_stream(
        client, "/v1/events/nta", {"since": "2000-01-01"}, stop=lambda r: bool(r.comments)
    )
    assert got.ended == "stopped"
    return got.events
