"""Review #14 over real HTTP: the emulator refuses exactly what the order builder refuses, with
Alpaca's 422 ``{code, message}``, and trades a crypto pair it lists under crypto's rules.

The emulator lists no crypto pair by default (its account says ``crypto_status: INACTIVE``);
``sim_with(symbols=...)`` lists one, and alpaca-py, an independent client, trades it.
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import httpx
import pytest
from alpaca.common.exceptions import APIError
from alpaca.trading.client import TradingClient
from alpaca.trading.enums import AssetClass, OrderSide, OrderStatus, TimeInForce
from alpaca.trading.models import Order as PyOrder
from alpaca.trading.requests import LimitOrderRequest, MarketOrderRequest

from tests.integration.conftest import KEY, SECRET
from tests.integration.sse import wait_for
from tui_trader.core.orders import Order, OrderValidationError

POLL = {"max_seconds": 5.0, "every": 0.05}


@pytest.fixture(autouse=True)
def _no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    """requests honours *_PROXY variables; the emulator is on loopback."""
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy"):
        monkeypatch.delenv(name, raising=False)


def body(**changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {"symbol": "BTC/USD", "qty": "0.001", "side": "buy"}
    base.update(type="limit", time_in_force="gtc", limit_price="60000")
    base.update(changes)
    return {k: v for k, v in base.items() if v is not None}


REFUSED = [
    pytest.param(body(time_in_force="day"), "time_in_force", id="crypto-day"),
    pytest.param(
        body(type="market", limit_price=None, time_in_force="fok"),
        "time_in_force",
        id="crypto-market-fok",
    ),
    pytest.param(body(type="stop", limit_price=None, stop_price="70000"), "type", id="crypto-stop"),
    pytest.param(body(extended_hours=True), "extended_hours", id="crypto-extended-hours"),
    pytest.param(
        body(
            order_class="bracket",
            take_profit={"limit_price": "70000"},
            stop_loss={"stop_price": "50000"},
        ),
        "order_class",
        id="crypto-bracket",
    ),
    pytest.param(
        body(
            symbol="AAPL",
            qty="1",
            limit_price="100",
            time_in_force="ioc",
            order_class="oto",
            take_profit={"limit_price": "110"},
        ),
        "time_in_force",
        id="oto-ioc",
    ),
    pytest.param(
        body(
            symbol="AAPL",
            qty="1",
            side="sell",
            limit_price=None,
            time_in_force="fok",
            order_class="oco",
            take_profit={"limit_price": "110"},
            stop_loss={"stop_price": "90"},
        ),
        "time_in_force",
        id="oco-fok",
    ),
    pytest.param(
        body(symbol="AAPL250117C00150000", qty="1", limit_price="2.5", time_in_force="day"),
        "symbol",
        id="option-contract",
    ),
]


@pytest.mark.parametrize(("request_body", "field"), REFUSED)
def test_review_14_emulator_refuses_what_the_builder_refuses(
    client: httpx.Client, request_body: dict[str, Any], field: str
) -> None:
    with pytest.raises(OrderValidationError) as builder_says:
        Order.from_request(request_body)
    assert builder_says.value.field == field

    response = client.post("/v2/orders", json=request_body)
    assert response.status_code == 422, response.text
    assert response.json() == {"code": 40010001, "message": str(builder_says.value)}
    assert client.get("/v2/orders", params={"status": "all"}).json() == []


def test_review_14_a_valid_crypto_order_for_a_pair_not_listed_is_an_unknown_asset(
    client: httpx.Client,
) -> None:
    """Alpaca answers an asset it does not list with 422 40010001; so does the emulator,
    after the order itself passed the rules (the default emulator lists no crypto)."""
    response = client.post("/v2/orders", json=body())
    assert response.status_code == 422, response.text
    assert response.json() == {"code": 40010001, "message": 'asset "BTC/USD" not found'}


@pytest.fixture
def crypto_trading(sim_with: Any) -> Iterator[TradingClient]:
    running = sim_with(symbols=("AAPL", "BTC/USD"))
    tc = TradingClient(KEY, SECRET, paper=True, url_override=running.url)
    yield tc
    tc._session.close()


def test_review_14_alpaca_py_trades_a_listed_crypto_pair_by_crypto_rules(
    crypto_trading: TradingClient,
) -> None:
    tc = crypto_trading
    # Crypto cannot be sold short: a sell with nothing held is refused like Alpaca's 403s.
    with pytest.raises(APIError) as short:
        tc.submit_order(
            MarketOrderRequest(
                symbol="BTC/USD", qty=1, side=OrderSide.SELL, time_in_force=TimeInForce.GTC
            )
        )
    assert (short.value.status_code, short.value.code) == (403, 40310000)

    # The review's example: 0.001 BTC, limit, gtc. Resting far below the market.
    resting = tc.submit_order(
        LimitOrderRequest(
            symbol="BTC/USD",
            qty=0.001,
            side=OrderSide.BUY,
            time_in_force=TimeInForce.GTC,
            limit_price=1,
        )
    )
    assert isinstance(resting, PyOrder)
    assert (resting.symbol, resting.qty, resting.time_in_force) == (
        "BTC/USD",
        "0.001",
        TimeInForce.GTC,
    )
    assert resting.asset_class == AssetClass.CRYPTO

    def live() -> PyOrder | None:
        order = tc.get_order_by_id(resting.id)
        assert isinstance(order, PyOrder)
        return order if order.status == OrderStatus.NEW else None

    wait_for(live, **POLL)

    bought = tc.submit_order(
        MarketOrderRequest(
            symbol="BTC/USD", qty=0.001, side=OrderSide.BUY, time_in_force=TimeInForce.IOC
        )
    )
    assert isinstance(bought, PyOrder)

    def filled() -> PyOrder | None:
        order = tc.get_order_by_id(bought.id)
        assert isinstance(order, PyOrder)
        return order if order.status == OrderStatus.FILLED else None

    assert Decimal(str(wait_for(filled, **POLL).filled_qty)) == Decimal("0.001")
    positions = {p.symbol: p for p in tc.get_all_positions() if not isinstance(p, str)}
    assert Decimal(positions["BTC/USD"].qty) == Decimal("0.001")
    assert positions["BTC/USD"].asset_class == AssetClass.CRYPTO

    # Alpaca's position routes take the pair without its slash; the liquidation is gtc.
    # (The resting buy goes first, or the market sell would be refused as a wash trade.)
    tc.cancel_order_by_id(resting.id)
    wait_for(lambda: tc.get_orders() == [], **POLL)
    closing = tc.close_position("BTCUSD")
    assert isinstance(closing, PyOrder)
    assert (closing.symbol, closing.side, closing.time_in_force) == (
        "BTC/USD",
        OrderSide.SELL,
        TimeInForce.GTC,
    )
    wait_for(lambda: not [p for p in tc.get_all_positions() if not isinstance(p, str)], **POLL)
    account = tc.get_account()
    assert not isinstance(account, dict)
    assert Decimal(str(account.accrued_fees)) == 0  # FINRA's TAF is for equity sales only

    # A day order is Alpaca's refusal for crypto: 422 naming the field.
    with pytest.raises(APIError) as day:
        tc.submit_order(
            LimitOrderRequest(
                symbol="BTC/USD",
                qty=0.001,
                side=OrderSide.BUY,
                time_in_force=TimeInForce.DAY,
                limit_price=1,
            )
        )
    assert (day.value.status_code, day.value.code) == (422, 40010001)
    assert day.value.message.startswith("time_in_force: ")


def test_review_14_an_oco_without_a_top_level_limit_price_rests_and_matching_goes_on(
    client: httpx.Client,
) -> None:
    """alpaca-py sends an OCO's limit only as ``take_profit.limit_price``; the rules accept
    that, so the emulator must work it: it used to fail every tick from then on, and it put
    the stop leg on the wrong side, where it filled at once and bought instead of selling."""

    def status(order_id: str) -> str:
        return str(client.get(f"/v2/orders/{order_id}").json()["status"])

    market = {"type": "market", "limit_price": None, "time_in_force": "day"}
    bought = client.post("/v2/orders", json=body(symbol="AAPL", qty="5", **market))
    assert bought.status_code == 200, bought.text
    wait_for(lambda: status(bought.json()["id"]) == "filled", **POLL)
    oco = client.post(
        "/v2/orders",
        json=body(
            symbol="AAPL",
            qty="1",
            side="sell",
            limit_price=None,
            order_class="oco",
            take_profit={"limit_price": "100000"},
            stop_loss={"stop_price": "1"},
        ),
    )
    assert oco.status_code == 200, oco.text
    assert oco.json()["limit_price"] == "100000"
    wait_for(lambda: status(oco.json()["id"]) == "new", **POLL)
    # matching still runs: another symbol's market order fills (AAPL's would be a wash trade)
    other = client.post("/v2/orders", json=body(symbol="MSFT", qty="1", **market))
    assert other.status_code == 200, other.text
    wait_for(lambda: status(other.json()["id"]) == "filled", **POLL)
    nested = client.get(f"/v2/orders/{oco.json()['id']}", params={"nested": "true"}).json()
    assert nested["status"] == "new"
    assert [(leg["side"], leg["type"], leg["status"]) for leg in nested["legs"]] == [
        ("sell", "stop", "new")
    ]
    position = client.get("/v2/positions/AAPL").json()
    assert position["qty"] == "5"
