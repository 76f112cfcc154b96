"""The official alpaca-py SDK against the emulator: an independent client proves the wire format.

alpaca-py builds every URL as ``base_url + "/v2" + path`` (``alpaca/common/rest.py``
``RESTClient._request``), so ``url_override`` takes the bare host root, exactly the emulator's
URL. The same holds for ``StockHistoricalDataClient(url_override=...)``. It talks over
``requests`` with the APCA key headers; a 4xx/5xx raises ``alpaca.common.exceptions.APIError``
and a 429 is retried after 3 s, so nothing here may hit the rate limit (one emulator per test,
polls spaced at 50 ms).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from datetime import timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest
from alpaca.data.historical import StockHistoricalDataClient
from alpaca.data.requests import StockBarsRequest, StockLatestQuoteRequest
from alpaca.data.timeframe import TimeFrame
from alpaca.trading.client import TradingClient
from alpaca.trading.enums import (
    OrderClass,
    OrderSide,
    OrderStatus,
    OrderType,
    QueryOrderStatus,
    TimeInForce,
)
from alpaca.trading.models import Order, Position
from alpaca.trading.requests import (
    GetOrdersRequest,
    LimitOrderRequest,
    MarketOrderRequest,
    StopLossRequest,
    TakeProfitRequest,
)

from tests.integration.conftest import KEY, SECRET, START
from tests.integration.sse import wait_for
from tui_trader.sim.runner import RunningEmulator

POLL = {"max_seconds": 5.0, "every": 0.05}
OPEN = {OrderStatus.NEW, OrderStatus.ACCEPTED, OrderStatus.PENDING_NEW, OrderStatus.HELD}


@pytest.fixture(autouse=True)
def _no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    """requests honours *_PROXY variables; the emulator is on loopback and must be hit directly."""
    for name in (
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "ALL_PROXY",
        "http_proxy",
        "https_proxy",
        "all_proxy",
    ):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def trading(sim: RunningEmulator) -> Iterator[TradingClient]:
    tc = TradingClient(KEY, SECRET, paper=True, url_override=sim.url)
    yield tc
    tc._session.close()


@pytest.fixture
def data(sim: RunningEmulator) -> Iterator[StockHistoricalDataClient]:
    dc = StockHistoricalDataClient(KEY, SECRET, url_override=sim.url)
    yield dc
    dc._session.close()


def _order(tc: TradingClient, order_id: Any) -> Order:
    order = tc.get_order_by_id(order_id)
    assert isinstance(order, Order)
    return order


def _status_is(tc: TradingClient, order_id: Any, status: OrderStatus) -> Callable[[], Order | None]:
    def check() -> Order | None:
        order = _order(tc, order_id)
        return order if order.status == status else None

    return check


def _positions(tc: TradingClient) -> dict[str, Position]:
    positions = tc.get_all_positions()
    assert isinstance(positions, list)
    return {p.symbol: p for p in positions}


def _mid(data: StockHistoricalDataClient, symbol: str) -> Decimal:
    quote = data.get_stock_latest_quote(StockLatestQuoteRequest(symbol_or_symbols=symbol))[symbol]
    return Decimal(str((quote.bid_price + quote.ask_price) / 2)).quantize(Decimal("0.01"))


def _fill_bracket(tc: TradingClient, data: StockHistoricalDataClient) -> tuple[Order, Decimal]:
    """A filled 1-share SPY bracket whose take-profit and stop-loss legs are live."""
    mid = _mid(data, "SPY")
    take, stop = (mid * 2).quantize(Decimal("0.01")), (mid / 2).quantize(Decimal("0.01"))
    order = tc.submit_order(
        MarketOrderRequest(
            symbol="SPY",
            qty=1,
            side=OrderSide.BUY,
            time_in_force=TimeInForce.GTC,
            order_class=OrderClass.BRACKET,
            take_profit=TakeProfitRequest(limit_price=float(take)),
            stop_loss=StopLossRequest(stop_price=float(stop)),
        )
    )
    assert isinstance(order, Order)
    assert order.order_class == OrderClass.BRACKET
    assert order.legs is not None and len(order.legs) == 2
    filled = wait_for(_status_is(tc, order.id, OrderStatus.FILLED), **POLL)
    assert filled.legs is not None

    def legs_live() -> bool:
        legs = [_order(tc, leg.id) for leg in filled.legs or []]
        return all(leg.status == OrderStatus.NEW for leg in legs)

    wait_for(legs_live, **POLL)
    return filled, mid


# ---------------------------------------------------------------------------------- trading
def test_account_orders_positions_and_flatten(
    trading: TradingClient, client: httpx.Client, sim: RunningEmulator
) -> None:
    tc = trading
    # the account, as the emulator reports it (raw JSON) and as configured (1,000,000 cash)
    account = tc.get_account()
    raw = client.get("/v2/account").json()
    assert (
        str(account.id) == raw["id"] == sim.call(lambda: sim.emulator.exchange.default_account.id)
    )
    assert Decimal(account.cash) == Decimal(raw["cash"]) == Decimal(1_000_000)
    assert Decimal(account.equity) == Decimal(raw["equity"]) == Decimal(1_000_000)
    assert account.status.value == "ACTIVE"
    assert not account.trading_blocked

    # a market order with our own client order id, and a limit order far below the market
    cid = f"sdk-{uuid.uuid4().hex[:12]}"
    market = tc.submit_order(
        MarketOrderRequest(
            symbol="AAPL",
            qty=3,
            side=OrderSide.BUY,
            time_in_force=TimeInForce.DAY,
            client_order_id=cid,
        )
    )
    assert isinstance(market, Order)
    assert (market.symbol, market.qty, market.client_order_id) == ("AAPL", "3", cid)
    assert market.type == OrderType.MARKET and market.side == OrderSide.BUY
    limit = tc.submit_order(
        LimitOrderRequest(
            symbol="MSFT", qty=2, side=OrderSide.BUY, time_in_force=TimeInForce.GTC, limit_price=50
        )
    )
    assert isinstance(limit, Order)
    assert limit.type == OrderType.LIMIT and Decimal(limit.limit_price or "0") == 50

    # by id and by client order id: the same order
    assert _order(tc, market.id).client_order_id == cid
    by_cid = tc.get_order_by_client_id(cid)
    assert isinstance(by_cid, Order) and by_cid.id == market.id

    # the market order fills; the limit order rests
    filled = wait_for(_status_is(tc, market.id, OrderStatus.FILLED), **POLL)
    assert Decimal(filled.filled_qty or "0") == 3
    assert Decimal(filled.filled_avg_price or "0") > 0
    resting = _order(tc, limit.id)
    assert resting.status in OPEN and Decimal(resting.filled_qty or "0") == 0

    everything = tc.get_orders(GetOrdersRequest(status=QueryOrderStatus.ALL))
    assert {market.id, limit.id} <= {o.id for o in everything}
    open_ids = {o.id for o in tc.get_orders(GetOrdersRequest(status=QueryOrderStatus.OPEN))}
    assert limit.id in open_ids and market.id not in open_ids
    msft_only = tc.get_orders(GetOrdersRequest(status=QueryOrderStatus.ALL, symbols=["MSFT"]))
    assert [o.id for o in msft_only] == [limit.id]

    # cancel answers 204 (None from the SDK); `canceled` follows on the next tick
    assert tc.cancel_order_by_id(limit.id) is None
    canceled = wait_for(_status_is(tc, limit.id, OrderStatus.CANCELED), **POLL)
    assert canceled.canceled_at is not None
    closed_ids = {o.id for o in tc.get_orders(GetOrdersRequest(status=QueryOrderStatus.CLOSED))}
    assert {market.id, limit.id} <= closed_ids

    # a notional (fractional) market order
    notional = tc.submit_order(
        MarketOrderRequest(
            symbol="NVDA", notional=1000, side=OrderSide.BUY, time_in_force=TimeInForce.DAY
        )
    )
    assert isinstance(notional, Order)
    assert notional.qty is None and Decimal(notional.notional or "0") == 1000
    nvda = wait_for(_status_is(tc, notional.id, OrderStatus.FILLED), **POLL)
    nvda_qty = Decimal(nvda.filled_qty or "0")
    assert nvda_qty != nvda_qty.to_integral_value(), "a $1000 notional buy is fractional"
    assert abs(nvda_qty * Decimal(nvda.filled_avg_price or "0") - 1000) < 1

    # positions
    positions = wait_for(lambda: (p := _positions(tc)).keys() >= {"AAPL", "NVDA"} and p, **POLL)
    assert set(positions) == {"AAPL", "NVDA"}
    assert Decimal(positions["AAPL"].qty) == 3
    assert Decimal(positions["NVDA"].qty) == nvda_qty
    assert positions["AAPL"].side.value == "long"
    assert Decimal(positions["AAPL"].avg_entry_price) == Decimal(filled.filled_avg_price or "0")

    # close one position: a market sell of the whole position
    closing = tc.close_position("AAPL")
    assert isinstance(closing, Order)
    assert closing.symbol == "AAPL" and closing.side == OrderSide.SELL
    assert Decimal(closing.qty or "0") == 3
    wait_for(lambda: "AAPL" not in _positions(tc), **POLL)

    # a fresh resting order, then flatten everything with cancel_orders=True
    rest = tc.submit_order(
        LimitOrderRequest(
            symbol="TSLA", qty=1, side=OrderSide.BUY, time_in_force=TimeInForce.DAY, limit_price=20
        )
    )
    assert isinstance(rest, Order)
    responses = tc.close_all_positions(cancel_orders=True)
    assert isinstance(responses, list)
    assert [r.symbol for r in responses] == ["NVDA"]
    assert responses[0].status == 200
    body = responses[0].body
    assert isinstance(body, Order), body
    assert body.side == OrderSide.SELL and Decimal(body.qty or "0") == nvda_qty
    assert _order(tc, rest.id).status == OrderStatus.CANCELED  # canceled before liquidating
    wait_for(lambda: _positions(tc) == {}, **POLL)
    assert tc.get_orders() == []  # nothing open is left behind


def test_bracket_order(trading: TradingClient, data: StockHistoricalDataClient) -> None:
    filled, mid = _fill_bracket(trading, data)
    assert filled.order_class == OrderClass.BRACKET
    legs = {leg.type: _order(trading, leg.id) for leg in filled.legs or []}
    assert set(legs) == {OrderType.LIMIT, OrderType.STOP}
    take, stop = legs[OrderType.LIMIT], legs[OrderType.STOP]
    assert Decimal(take.limit_price or "0") == (mid * 2).quantize(Decimal("0.01"))
    assert Decimal(stop.stop_price or "0") == (mid / 2).quantize(Decimal("0.01"))
    for leg in (take, stop):
        assert leg.side == OrderSide.SELL and Decimal(leg.qty or "0") == 1
        assert leg.status == OrderStatus.NEW
    assert Decimal(_positions(trading)["SPY"].qty) == 1


def test_close_all_positions_cancels_bracket_legs(
    trading: TradingClient, data: StockHistoricalDataClient
) -> None:
    filled, _ = _fill_bracket(trading, data)
    responses = trading.close_all_positions(cancel_orders=True)
    assert [(r.symbol, r.status) for r in responses] == [("SPY", 200)]
    for leg in filled.legs or []:
        assert _order(trading, leg.id).status == OrderStatus.CANCELED
    wait_for(lambda: _positions(trading) == {}, **POLL)


def test_cancel_orders_cancels_bracket_legs(
    trading: TradingClient, data: StockHistoricalDataClient
) -> None:
    filled, _ = _fill_bracket(trading, data)
    leg_ids = {leg.id for leg in filled.legs or []}
    responses = trading.cancel_orders()
    assert isinstance(responses, list)
    assert {r.id for r in responses} == leg_ids
    for leg_id in leg_ids:
        wait_for(_status_is(trading, leg_id, OrderStatus.CANCELED), **POLL)


def test_bracket_legs_reserve_the_position_once(
    trading: TradingClient, data: StockHistoricalDataClient
) -> None:
    _fill_bracket(trading, data)
    position = trading.get_open_position("SPY")
    assert isinstance(position, Position)
    assert Decimal(position.qty) == 1
    assert Decimal(position.qty_available or "NaN") == 0


# ------------------------------------------------------------------------------ market data
def test_latest_quotes(data: StockHistoricalDataClient) -> None:
    quotes = data.get_stock_latest_quote(
        StockLatestQuoteRequest(symbol_or_symbols=["AAPL", "MSFT"])
    )
    assert set(quotes) == {"AAPL", "MSFT"}
    for symbol, quote in quotes.items():
        assert quote.symbol == symbol
        assert 0 < quote.bid_price < quote.ask_price
        assert quote.bid_size > 0 and quote.ask_size > 0
        assert START <= quote.timestamp <= START + timedelta(minutes=10)
    # the seeded market starts near each symbol's reference price (AAPL 231.50, MSFT 418.20)
    assert 150 < quotes["AAPL"].bid_price < 350
    assert 300 < quotes["MSFT"].bid_price < 550


def test_historical_minute_bars(data: StockHistoricalDataClient) -> None:
    # the previous session (Monday 10:00-11:00 New York), well inside the two days of history
    start = START - timedelta(days=1)
    end = start + timedelta(hours=1)
    bars = data.get_stock_bars(
        StockBarsRequest(
            symbol_or_symbols=["AAPL", "MSFT"], timeframe=TimeFrame.Minute, start=start, end=end
        )
    )
    assert set(bars.data) == {"AAPL", "MSFT"}
    for symbol, series in bars.data.items():
        times = [b.timestamp for b in series]
        assert len(series) == 61, "one bar a minute, start and end inclusive"
        assert times == [start + timedelta(minutes=i) for i in range(61)]
        for bar in series:
            assert bar.symbol == symbol
            assert bar.low <= min(bar.open, bar.close) <= max(bar.open, bar.close) <= bar.high
            assert bar.volume > 0 and (bar.trade_count or 0) > 0
            assert bar.low <= (bar.vwap or 0) <= bar.high


def test_historical_hour_and_day_bars(data: StockHistoricalDataClient) -> None:
    hours = data.get_stock_bars(
        StockBarsRequest(
            symbol_or_symbols="AAPL",
            timeframe=TimeFrame.Hour,
            start=START - timedelta(days=5),
            end=START - timedelta(minutes=1),
        )
    ).data["AAPL"]
    # Friday and Monday sessions, 09:30-16:00 New York: seven hour buckets each (14:00Z-20:00Z)
    assert len(hours) == 14
    assert all(b.timestamp.minute == 0 for b in hours)
    assert [b.timestamp.date().day for b in hours] == [20] * 7 + [23] * 7

    limited = data.get_stock_bars(
        StockBarsRequest(
            symbol_or_symbols=["AAPL", "MSFT"],
            timeframe=TimeFrame.Minute,
            start=START - timedelta(days=1),
            limit=100,
        )
    )
    assert sum(len(v) for v in limited.data.values()) == 100, "limit counts bars across symbols"

    days = data.get_stock_bars(
        StockBarsRequest(
            symbol_or_symbols="AAPL", timeframe=TimeFrame.Day, start=START - timedelta(days=5)
        )
    ).data["AAPL"]
    assert [b.timestamp.date().day for b in days] == [20, 23, 24]
    assert days[0].volume > 0 and days[1].volume > 0
