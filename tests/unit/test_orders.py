"""Order intent, builder and the create-order wire body (API.md §5.2)."""

from __future__ import annotations

import copy
import json
import pickle
import re
import string
import uuid
from collections.abc import Callable
from dataclasses import FrozenInstanceError, dataclass, field
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from tui_trader.core.orders import (
    Order,
    OrderBuilder,
    OrderClass,
    OrderType,
    OrderValidationError,
    PositionIntent,
    Side,
    StopLoss,
    TakeProfit,
    TimeInForce,
    validate_order,
)

PRICE_KEYS = ("limit_price", "stop_price", "trail_price", "trail_percent")
ALL_KEYS = (
    "symbol",
    "qty",
    "notional",
    "side",
    "type",
    "time_in_force",
    *PRICE_KEYS,
    "extended_hours",
    "client_order_id",
    "order_class",
    "take_profit",
    "stop_loss",
    "position_intent",
)
PLAIN_DECIMAL = re.compile(r"(0|[1-9][0-9]*)(\.[0-9]*[1-9])?")
AAPL = OrderBuilder().symbol("AAPL")


def without_id(body: dict[str, Any]) -> dict[str, Any]:
    rest = dict(body)
    del rest["client_order_id"]
    return rest


def is_uuid4(text: str) -> bool:
    try:
        return uuid.UUID(text).version == 4 and str(uuid.UUID(text)) == text
    except ValueError:
        return False


def raises_on(field_name: str, action: Callable[[], object]) -> OrderValidationError:
    with pytest.raises(OrderValidationError) as info:
        action()
    assert info.value.field == field_name, str(info.value)
    return info.value


# --- examples ---------------------------------------------------------------------------------


def test_readme_example() -> None:
    order = OrderBuilder().symbol("AAPL").buy(1).limit(100).day().build()

    body = order.to_request()
    assert without_id(body) == {
        "symbol": "AAPL",
        "qty": "1",
        "side": "buy",
        "type": "limit",
        "time_in_force": "day",
        "limit_price": "100",
    }
    assert is_uuid4(body["client_order_id"])
    assert order.qty == Decimal(1) and order.limit_price == Decimal(100)


@pytest.mark.parametrize(
    ("builder", "expected"),
    [
        pytest.param(
            AAPL.sell(5).market().gtc(),
            {
                "symbol": "AAPL",
                "qty": "5",
                "side": "sell",
                "type": "market",
                "time_in_force": "gtc",
            },
            id="market-qty",
        ),
        pytest.param(
            AAPL.buy(notional="250.50").market().day(),
            {
                "symbol": "AAPL",
                "notional": "250.5",
                "side": "buy",
                "type": "market",
                "time_in_force": "day",
            },
            id="market-notional",
        ),
        pytest.param(
            AAPL.buy(0.1).market().day(),
            {
                "symbol": "AAPL",
                "qty": "0.1",
                "side": "buy",
                "type": "market",
                "time_in_force": "day",
            },
            id="market-fractional-float",
        ),
        pytest.param(
            AAPL.buy(2).limit("150.10").gtc().extended_hours(),
            {
                "symbol": "AAPL",
                "qty": "2",
                "side": "buy",
                "type": "limit",
                "time_in_force": "gtc",
                "limit_price": "150.1",
                "extended_hours": True,
            },
            id="limit-extended-hours",
        ),
        pytest.param(
            AAPL.sell(3).stop(Decimal("140.00")).day(),
            {
                "symbol": "AAPL",
                "qty": "3",
                "side": "sell",
                "type": "stop",
                "time_in_force": "day",
                "stop_price": "140",
            },
            id="stop",
        ),
        pytest.param(
            AAPL.sell(3).stop_limit(140, "139.5").gtc(),
            {
                "symbol": "AAPL",
                "qty": "3",
                "side": "sell",
                "type": "stop_limit",
                "time_in_force": "gtc",
                "stop_price": "140",
                "limit_price": "139.5",
            },
            id="stop-limit",
        ),
        pytest.param(
            AAPL.sell(1).trailing_stop(price="2.50").day(),
            {
                "symbol": "AAPL",
                "qty": "1",
                "side": "sell",
                "type": "trailing_stop",
                "time_in_force": "day",
                "trail_price": "2.5",
            },
            id="trailing-price",
        ),
        pytest.param(
            AAPL.sell(1).trailing_stop(percent=1.5).gtc(),
            {
                "symbol": "AAPL",
                "qty": "1",
                "side": "sell",
                "type": "trailing_stop",
                "time_in_force": "gtc",
                "trail_percent": "1.5",
            },
            id="trailing-percent",
        ),
        pytest.param(
            AAPL.buy(10).limit(100).gtc().bracket(take_profit=110, stop_loss=95, stop_limit=94.5),
            {
                "symbol": "AAPL",
                "qty": "10",
                "side": "buy",
                "type": "limit",
                "time_in_force": "gtc",
                "limit_price": "100",
                "order_class": "bracket",
                "take_profit": {"limit_price": "110"},
                "stop_loss": {"stop_price": "95", "limit_price": "94.5"},
            },
            id="bracket-limit",
        ),
        pytest.param(
            AAPL.sell(10).market().day().bracket(take_profit=90, stop_loss=105),
            {
                "symbol": "AAPL",
                "qty": "10",
                "side": "sell",
                "type": "market",
                "time_in_force": "day",
                "order_class": "bracket",
                "take_profit": {"limit_price": "90"},
                "stop_loss": {"stop_price": "105"},
            },
            id="bracket-market-sell",
        ),
        pytest.param(
            # Alpaca's own OCO example: an exit-only sell, take profit above the stop.
            AAPL.sell(10).gtc().oco(take_profit=325, stop_loss=250, stop_limit="249.5"),
            {
                "symbol": "AAPL",
                "qty": "10",
                "side": "sell",
                "type": "limit",
                "time_in_force": "gtc",
                "order_class": "oco",
                "take_profit": {"limit_price": "325"},
                "stop_loss": {"stop_price": "250", "limit_price": "249.5"},
            },
            id="oco",
        ),
        pytest.param(
            AAPL.buy(10).market().gtc().oto(stop_loss=250).position_intent("buy_to_open"),
            {
                "symbol": "AAPL",
                "qty": "10",
                "side": "buy",
                "type": "market",
                "time_in_force": "gtc",
                "order_class": "oto",
                "stop_loss": {"stop_price": "250"},
                "position_intent": "buy_to_open",
            },
            id="oto-stop-loss",
        ),
    ],
)
def test_each_type_produces_exact_request(builder: OrderBuilder, expected: dict[str, Any]) -> None:
    order = builder.build()
    assert without_id(order.to_request()) == expected
    assert Order.from_request(order.to_request()) == order


@pytest.mark.parametrize("tif", list(TimeInForce))
def test_each_time_in_force_produces_exact_request(tif: TimeInForce) -> None:
    body = AAPL.buy(7).limit("0.5123").time_in_force(tif.value).build().to_request()
    assert without_id(body) == {
        "symbol": "AAPL",
        "qty": "7",
        "side": "buy",
        "type": "limit",
        "time_in_force": tif.value,
        "limit_price": "0.5123",
    }
    shortcut = getattr(AAPL.buy(7).limit("0.5123"), tif.value)()
    assert shortcut.build().time_in_force is tif


def test_builder_is_immutable_and_reusable_as_template() -> None:
    template = OrderBuilder().symbol("msft").buy(3)
    limit = template.limit(300).day()
    market = template.market().gtc()

    assert template == OrderBuilder().symbol("MSFT").buy(3)
    raises_on("type", template.build)
    a, b = limit.build(), market.build()
    assert (a.type, a.limit_price, a.time_in_force) == (
        OrderType.LIMIT,
        Decimal(300),
        TimeInForce.DAY,
    )
    assert (b.type, b.limit_price, b.time_in_force) == (OrderType.MARKET, None, TimeInForce.GTC)
    assert limit.sell(1).build().side is Side.SELL
    assert limit.build().side is Side.BUY
    with pytest.raises(FrozenInstanceError):
        template._symbol = "X"  # type: ignore[misc]


def test_each_build_gets_a_fresh_client_order_id() -> None:
    template = AAPL.buy(1).market().day()
    ids = {template.build().client_order_id for _ in range(5)}
    assert len(ids) == 5 and all(is_uuid4(cid) for cid in ids)

    pinned = template.client_order_id("my-order-1")
    assert {pinned.build().client_order_id for _ in range(3)} == {"my-order-1"}

    fresh = template.client_order_id()
    cid = fresh.build().client_order_id
    assert is_uuid4(cid) and fresh.build().client_order_id == cid
    assert template.client_order_id().build().client_order_id != cid


@pytest.mark.parametrize(
    ("builder", "missing"),
    [
        (OrderBuilder().buy(1).market().day(), "symbol"),
        (OrderBuilder().symbol("AAPL").qty(1).market().day(), "side"),
        (OrderBuilder().symbol("AAPL").buy(1).day(), "type"),
        (OrderBuilder().symbol("AAPL").buy(1).market(), "time_in_force"),
    ],
)
def test_build_refuses_to_guess_unset_fields(builder: OrderBuilder, missing: str) -> None:
    raises_on(missing, builder.build)


def test_builder_setters_replace_each_other() -> None:
    order = AAPL.buy(notional=100).qty(2).stop(5).limit(10).day().build()
    assert (order.qty, order.notional, order.stop_price) == (Decimal(2), None, None)
    order = AAPL.buy(2).notional("99.99").market().day().build()
    assert (order.qty, order.notional) == (None, Decimal("99.99"))
    order = AAPL.buy(1).limit(10).day().extended_hours().extended_hours(False).build()
    assert order.extended_hours is False
    with_intent = AAPL.buy(1).market().day().position_intent(PositionIntent.BUY_TO_CLOSE)
    assert with_intent.build().position_intent is PositionIntent.BUY_TO_CLOSE
    assert with_intent.position_intent(None).build().position_intent is None


def test_builder_rejects_unparseable_values_immediately() -> None:
    raises_on("limit_price", lambda: AAPL.limit("abc"))
    raises_on("qty", lambda: AAPL.buy(True))
    raises_on("notional", lambda: AAPL.sell(notional="NaN"))
    raises_on("time_in_force", lambda: AAPL.time_in_force("gtd"))
    raises_on("position_intent", lambda: AAPL.position_intent("to_open"))
    raises_on("stop_loss.stop_price", lambda: AAPL.oto(take_profit=10, stop_limit=9))


def test_builder_numbers_are_exact() -> None:
    order = AAPL.buy(notional=0.1).market().day().build()
    assert order.notional == Decimal("0.1")
    assert AAPL.buy("1e2").limit(Decimal("150.50")).day().build().to_request()["qty"] == "100"
    raises_on("notional", AAPL.buy(1, notional=5).market().day().build)


def test_tick_and_decimal_boundaries() -> None:
    def limit_at(price: str) -> Order:
        return AAPL.buy(1).limit(price).day().build()

    assert limit_at("0.9999").limit_price == Decimal("0.9999")
    assert limit_at("1.01").limit_price == Decimal("1.01")
    assert limit_at("1.0100000").to_request()["limit_price"] == "1.01"
    raises_on("limit_price", lambda: limit_at("0.99995"))
    raises_on("limit_price", lambda: limit_at("1.001"))
    raises_on("limit_price", lambda: limit_at("0"))
    assert AAPL.buy("0.123456789").market().day().build().qty == Decimal("0.123456789")
    raises_on("qty", AAPL.buy("0.1234567891").market().day().build)
    raises_on("qty", AAPL.buy("1.5").limit(10).day().build)
    raises_on("notional", AAPL.buy(notional="1.005").market().day().build)
    raises_on("notional", AAPL.buy(notional=10).limit(10).day().build)


def test_symbols() -> None:
    assert OrderBuilder().symbol(" brk.b ").buy(1).market().day().build().symbol == "BRK.B"
    crypto = OrderBuilder().symbol("btc/usd").buy(1).market().gtc().build()
    assert crypto.to_request()["symbol"] == "BTC/USD"
    assert Order.from_request({**crypto.to_request(), "symbol": "  BF-B"}).symbol == "BF-B"
    for bad in ("", "   ", "AA PL", "AAPL$", "ÄPPL"):
        raises_on("symbol", OrderBuilder().symbol(bad).buy(1).market().day().build)


def test_error_carries_field_and_message() -> None:
    err = raises_on("extended_hours", AAPL.buy(1).market().day().extended_hours().build)
    assert str(err) == f"extended_hours: {err.message}"
    assert isinstance(err, ValueError)
    clone = pickle.loads(pickle.dumps(err))
    assert (clone.field, clone.message, str(clone)) == (err.field, err.message, str(err))


def test_direct_model_is_frozen_and_validated_on_demand() -> None:
    order = Order(symbol=" aapl", side="buy", type="limit", time_in_force="day", qty=1)
    assert order.symbol == "AAPL" and is_uuid4(order.client_order_id)
    raises_on("limit_price", lambda: validate_order(order))
    with pytest.raises(ValidationError):
        order.qty = Decimal(2)
    with pytest.raises(ValidationError):
        Order(symbol="AAPL", side="buy", type="limit", time_in_force="day", colour="red")


# --- from_request: what real clients send ----------------------------------------------------


def test_from_request_apca_style() -> None:
    body = {
        "symbol": "AAPL",
        "qty": "10",
        "side": "buy",
        "type": "limit",
        "time_in_force": "day",
        "limit_price": "150.25",
        "stop_price": None,
        "trail_price": None,
        "trail_percent": None,
        "extended_hours": False,
        "client_order_id": None,
        "order_class": "simple",
        "take_profit": None,
        "stop_loss": None,
        "position_intent": None,
    }
    order = Order.from_request(body)
    assert order == Order(
        symbol="AAPL",
        side=Side.BUY,
        type=OrderType.LIMIT,
        time_in_force=TimeInForce.DAY,
        qty=Decimal(10),
        limit_price=Decimal("150.25"),
        client_order_id=order.client_order_id,
    )
    assert is_uuid4(order.client_order_id)
    bracket = {
        **body,
        "order_class": "bracket",
        "take_profit": {"limit_price": "160"},
        "stop_loss": {"stop_price": "140", "limit_price": None},
        "client_order_id": "apca-1",
    }
    parsed = Order.from_request(bracket)
    assert parsed.take_profit == TakeProfit(limit_price=Decimal(160))
    assert parsed.stop_loss == StopLoss(stop_price=Decimal(140))
    assert parsed.client_order_id == "apca-1"


def test_from_request_alpaca_py_style() -> None:
    body = json.loads(
        '{"symbol": "aapl ", "qty": 2.0, "side": "buy", "type": "limit", "time_in_force": "gtc",'
        ' "limit_price": 150.1, "extended_hours": "True", "order_class": "",'
        ' "advanced_instructions": {"algorithm": "DMA"}, "commission": 1.25}'
    )
    order = Order.from_request(body)
    assert order.symbol == "AAPL"
    assert order.qty == Decimal(2) and order.limit_price == Decimal("150.1")
    assert order.extended_hours is True and order.order_class is OrderClass.SIMPLE
    assert without_id(order.to_request()) == {
        "symbol": "AAPL",
        "qty": "2",
        "side": "buy",
        "type": "limit",
        "time_in_force": "gtc",
        "limit_price": "150.1",
        "extended_hours": True,
    }
    assert Order.from_request({**body, "extended_hours": "false"}).extended_hours is False
    assert Order.from_request({**body, "extended_hours": "TRUE"}).extended_hours is True
    oco = Order.from_request(
        {
            "symbol": "AAPL",
            "qty": 10,
            "side": "sell",
            "type": "limit",
            "time_in_force": "gtc",
            "order_class": "oco",
            "take_profit": {"limit_price": 325},
            "stop_loss": {"stop_price": Decimal("250"), "limit_price": 249.5},
        }
    )
    assert oco.limit_price is None and oco.stop_loss == StopLoss(
        stop_price=Decimal(250), limit_price=Decimal("249.5")
    )


def test_from_request_forgives_case_and_blanks_in_enums() -> None:
    body = {"symbol": "spy", "qty": " 3 ", "side": " Buy", "type": "LIMIT", "limit_price": "1"}
    order = Order.from_request({**body, "time_in_force": "Day ", "order_class": " "})
    assert (order.side, order.type, order.time_in_force) == (
        Side.BUY,
        OrderType.LIMIT,
        TimeInForce.DAY,
    )
    assert order.qty == 3 and order.order_class is OrderClass.SIMPLE


def test_from_request_accepts_real_alpaca_py_requests() -> None:
    requests = pytest.importorskip("alpaca.trading.requests")
    enums = pytest.importorskip("alpaca.trading.enums")
    made = [
        requests.LimitOrderRequest(
            symbol="AAPL",
            qty=2,
            side=enums.OrderSide.BUY,
            time_in_force=enums.TimeInForce.DAY,
            limit_price=150.1,
            extended_hours=True,
        ),
        requests.MarketOrderRequest(
            symbol="AAPL",
            notional=250.5,
            side=enums.OrderSide.BUY,
            time_in_force=enums.TimeInForce.DAY,
        ),
        requests.LimitOrderRequest(
            symbol="AAPL",
            qty=2,
            side=enums.OrderSide.BUY,
            time_in_force=enums.TimeInForce.GTC,
            limit_price=150,
            order_class=enums.OrderClass.BRACKET,
            take_profit=requests.TakeProfitRequest(limit_price=160),
            stop_loss=requests.StopLossRequest(stop_price=140, limit_price=139.5),
        ),
        requests.TrailingStopOrderRequest(
            symbol="AAPL",
            qty=2,
            side=enums.OrderSide.SELL,
            time_in_force=enums.TimeInForce.GTC,
            trail_percent=1.5,
        ),
    ]
    expected: list[dict[str, Any]] = [
        {
            "qty": "2",
            "type": "limit",
            "time_in_force": "day",
            "limit_price": "150.1",
            "extended_hours": True,
        },
        {"notional": "250.5", "type": "market", "time_in_force": "day"},
        {
            "qty": "2",
            "type": "limit",
            "time_in_force": "gtc",
            "limit_price": "150",
            "order_class": "bracket",
            "take_profit": {"limit_price": "160"},
            "stop_loss": {"stop_price": "140", "limit_price": "139.5"},
        },
        {
            "qty": "2",
            "side": "sell",
            "type": "trailing_stop",
            "time_in_force": "gtc",
            "trail_percent": "1.5",
        },
    ]
    for request, want in zip(made, expected, strict=True):
        fields = request.to_request_fields()  # enum members and floats, keys left out
        sent = Order.from_request(json.loads(json.dumps(fields)))  # what reaches a server
        assert without_id(sent.to_request()) == {"symbol": "AAPL", "side": "buy", **want}
        direct = Order.from_request(fields)
        assert direct.model_copy(update={"client_order_id": sent.client_order_id}) == sent


def test_from_request_reads_an_order_echoed_back() -> None:
    # Alpaca's EquityOrderResponse sample (API.md §5.2): order_type duplicate, "" class, nulls.
    response = {
        "asset_class": "us_equity",
        "client_order_id": "5680c4bc-9ac1-4a12-a44c-df427ba53032",
        "extended_hours": False,
        "filled_qty": "0",
        "legs": None,
        "limit_price": "150",
        "notional": None,
        "order_class": "",
        "order_type": "limit",
        "qty": "2",
        "side": "buy",
        "status": "accepted",
        "stop_price": None,
        "symbol": "AAPL",
        "time_in_force": "gtc",
        "trail_percent": None,
        "trail_price": None,
        "type": "limit",
    }
    order = Order.from_request(response)
    assert order.to_request() == {
        "symbol": "AAPL",
        "qty": "2",
        "side": "buy",
        "type": "limit",
        "time_in_force": "gtc",
        "limit_price": "150",
        "client_order_id": "5680c4bc-9ac1-4a12-a44c-df427ba53032",
    }
    del response["type"]
    assert Order.from_request(response) == order


@pytest.mark.parametrize(
    ("change", "field_name"),
    [
        ({"side": "short"}, "side"),
        ({"side": None}, "side"),
        ({"type": "iceberg"}, "type"),
        ({"time_in_force": 3}, "time_in_force"),
        ({"qty": "abc"}, "qty"),
        ({"qty": [1]}, "qty"),
        ({"limit_price": "Infinity"}, "limit_price"),
        ({"symbol": 42}, "symbol"),
        ({"symbol": None}, "symbol"),
        ({"client_order_id": 7}, "client_order_id"),
        ({"extended_hours": "yes"}, "extended_hours"),
        ({"order_class": "mleg"}, "order_class"),
        ({"take_profit": "160"}, "take_profit"),
        ({"take_profit": {}}, "take_profit.limit_price"),
        ({"stop_loss": {"limit_price": "1"}}, "stop_loss.stop_price"),
        ({"stop_loss": {"stop_price": "1", "limit_price": "x"}}, "stop_loss.limit_price"),
    ],
)
def test_from_request_names_the_bad_field(change: dict[str, Any], field_name: str) -> None:
    body = {
        "symbol": "AAPL",
        "qty": "1",
        "side": "buy",
        "type": "limit",
        "time_in_force": "day",
        "limit_price": "10",
    }
    raises_on(field_name, lambda: Order.from_request({**body, **change}))


def test_from_request_rejects_a_non_object() -> None:
    raises_on("body", lambda: Order.from_request([1, 2]))  # type: ignore[arg-type]


# --- hypothesis: valid orders -----------------------------------------------------------------

CENTS = st.integers(100, 10_000_000).map(lambda n: Decimal(n).scaleb(-2))
SUB_DOLLAR = st.integers(1, 9_999).map(lambda n: Decimal(n).scaleb(-4))
PRICES = st.one_of(CENTS, SUB_DOLLAR)
TRIPLES = st.lists(PRICES, min_size=3, max_size=3, unique=True).map(sorted)
WHOLE_QTY = st.integers(1, 100_000).map(Decimal)
FRACTIONAL_QTY = st.integers(1, 10**13).map(lambda n: Decimal(n).scaleb(-9))
NOTIONAL = st.integers(1, 10**9).map(lambda n: Decimal(n).scaleb(-2))
PERCENT = st.integers(1, 9_999).map(lambda n: Decimal(n).scaleb(-2))
SYMBOLS = st.one_of(
    st.from_regex(r"[A-Za-z]{1,5}", fullmatch=True),
    st.sampled_from(["BRK.B", "BF-B", "SPY", "USD"]),  # equities: crypto has its own tests
).flatmap(lambda s: st.sampled_from([s, f" {s}", f"{s}  "]))
CLIENT_IDS = st.text(string.ascii_letters + string.digits + "-_:.", min_size=1, max_size=128)

TYPES_BY_CLASS = {
    OrderClass.SIMPLE: tuple(OrderType),
    OrderClass.BRACKET: (OrderType.MARKET, OrderType.LIMIT),
    OrderClass.OCO: (OrderType.LIMIT,),
    OrderClass.OTO: (OrderType.MARKET, OrderType.LIMIT, OrderType.STOP, OrderType.STOP_LIMIT),
}
DAY_GTC = (TimeInForce.DAY, TimeInForce.GTC)


@dataclass
class Plan:
    """What the strategy asked the builder for: the test's own model of the result."""

    builder: OrderBuilder
    symbol: str
    side: Side
    kind: OrderType
    tif: TimeInForce
    klass: OrderClass
    size_key: str
    size: Decimal
    prices: dict[str, Decimal] = field(default_factory=dict)
    take_profit: Decimal | None = None
    stop_loss: tuple[Decimal, Decimal | None] | None = None
    extended_hours: bool = False
    client_order_id: str | None = None
    intent: str | None = None


def as_input(draw: st.DrawFn, value: Decimal) -> Any:
    """Hand a number to the builder as a caller might: Decimal, str, int or float."""
    forms: list[Any] = [value, str(value), format(value, "f")]
    if value == value.to_integral_value():
        forms.append(int(value))
    if Decimal(repr(float(value))) == value:
        forms.append(float(value))
    return draw(st.sampled_from(forms))


@st.composite
def plans(
    draw: st.DrawFn,
    classes: tuple[OrderClass, ...] = tuple(OrderClass),
    types: tuple[OrderType, ...] = tuple(OrderType),
    sides: tuple[Side, ...] = tuple(Side),
) -> Plan:
    usable = [c for c in classes if set(TYPES_BY_CLASS[c]) & set(types)]
    # Fractional qty and notional live only in the market/day/simple corner: visit it often.
    if OrderClass.SIMPLE in usable and OrderType.MARKET in types and draw(st.integers(0, 3)) == 0:
        klass, kind, tif = OrderClass.SIMPLE, OrderType.MARKET, TimeInForce.DAY
    else:
        weighted = [c for c in usable for _ in range(3 if c is OrderClass.SIMPLE else 1)]
        klass = draw(st.sampled_from(weighted))
        kind = draw(st.sampled_from([t for t in TYPES_BY_CLASS[klass] if t in types]))
        if klass is OrderClass.SIMPLE and kind in (OrderType.MARKET, OrderType.LIMIT):
            tif = draw(st.sampled_from([*DAY_GTC, *DAY_GTC, *TimeInForce]))
        else:
            tif = draw(st.sampled_from(DAY_GTC))
    side = draw(st.sampled_from(sides))
    symbol = draw(SYMBOLS)

    if kind is OrderType.MARKET and tif is TimeInForce.DAY and klass is OrderClass.SIMPLE:
        size_key = draw(st.sampled_from(["qty", "notional"]))
        size = draw(st.one_of(WHOLE_QTY, FRACTIONAL_QTY) if size_key == "qty" else NOTIONAL)
    else:
        size_key, size = "qty", draw(WHOLE_QTY)

    calls: list[Callable[[OrderBuilder], OrderBuilder]] = [lambda b: b.symbol(symbol)]
    size_in = as_input(draw, size)
    side_call = getattr(OrderBuilder, side.value)
    if draw(st.booleans()):
        calls.append(lambda b: side_call(b, **{size_key: size_in}))
    else:
        calls.append(lambda b: side_call(b))
        calls.append(lambda b: getattr(b, size_key)(size_in))
    tif_call = draw(st.booleans())
    calls.append(lambda b: getattr(b, tif.value)() if tif_call else b.time_in_force(tif))

    lo, mid, hi = draw(TRIPLES)
    other = draw(PRICES)
    plan = Plan(OrderBuilder(), symbol, side, kind, tif, klass, size_key, size)
    closes_long = (side is Side.SELL) if klass is OrderClass.OCO else (side is Side.BUY)
    tp, sl = (hi, lo) if closes_long else (lo, hi)

    if kind is OrderType.LIMIT:
        if klass is OrderClass.OCO:
            if draw(st.booleans()):
                plan.prices["limit_price"] = tp
        else:
            plan.prices["limit_price"] = mid
    elif kind is OrderType.STOP:
        plan.prices["stop_price"] = other
    elif kind is OrderType.STOP_LIMIT:
        plan.prices["stop_price"] = other
        plan.prices["limit_price"] = mid
    elif kind is OrderType.TRAILING_STOP:
        if draw(st.booleans()):
            plan.prices["trail_price"] = other
        else:
            plan.prices["trail_percent"] = draw(PERCENT)
    p = {k: as_input(draw, v) for k, v in plan.prices.items()}
    type_calls: dict[OrderType, Callable[[OrderBuilder], OrderBuilder]] = {
        OrderType.MARKET: lambda b: b.market(),
        OrderType.LIMIT: lambda b: b.limit(p["limit_price"]),
        OrderType.STOP: lambda b: b.stop(p["stop_price"]),
        OrderType.STOP_LIMIT: lambda b: b.stop_limit(p["stop_price"], p["limit_price"]),
        OrderType.TRAILING_STOP: lambda b: b.trailing_stop(
            price=p.get("trail_price"), percent=p.get("trail_percent")
        ),
    }
    if klass is not OrderClass.OCO or "limit_price" in plan.prices:
        calls.append(type_calls[kind])  # oco() sets type limit itself

    if klass is not OrderClass.SIMPLE:
        use_tp = use_sl = True
        if klass is OrderClass.OTO:
            use_tp = draw(st.booleans())
            use_sl = not use_tp
        sl_limit = None
        if use_sl and draw(st.booleans()):
            sl_limit = min(draw(PRICES), sl) if closes_long else max(draw(PRICES), sl)
        plan.take_profit = tp if use_tp else None
        plan.stop_loss = (sl, sl_limit) if use_sl else None
        legs = {
            "take_profit": as_input(draw, tp) if use_tp else None,
            "stop_loss": as_input(draw, sl) if use_sl else None,
            "stop_limit": None if sl_limit is None else as_input(draw, sl_limit),
        }
        method = getattr(OrderBuilder, klass.value)
        if klass is not OrderClass.OTO:
            legs = {k: v for k, v in legs.items() if v is not None or k != "stop_limit"}
        calls.append(lambda b: method(b, **legs))

    if kind is OrderType.LIMIT and tif in DAY_GTC and klass is OrderClass.SIMPLE:
        plan.extended_hours = draw(st.booleans())
        ext = plan.extended_hours
        calls.append(lambda b: b.extended_hours(ext))
    if draw(st.booleans()):
        plan.client_order_id = draw(CLIENT_IDS)
        cid = plan.client_order_id
        calls.append(lambda b: b.client_order_id(cid))
    if draw(st.booleans()):
        plan.intent = draw(st.sampled_from([f"{side.value}_to_open", f"{side.value}_to_close"]))
        intent = plan.intent
        calls.append(lambda b: b.position_intent(intent))

    builder = OrderBuilder()
    for call in draw(st.permutations(calls)):
        builder = call(builder)
    plan.builder = builder
    return plan


def decimal_leaves(body: dict[str, Any]) -> list[Any]:
    leaves: list[Any] = []
    for key, value in body.items():
        if isinstance(value, dict):
            leaves.extend(value.values())
        elif key in ("qty", "notional", *PRICE_KEYS):
            leaves.append(value)
    return leaves


def apca_style(body: dict[str, Any]) -> dict[str, Any]:
    padded: dict[str, Any] = dict.fromkeys(ALL_KEYS)
    padded.update(extended_hours=False, order_class="simple")
    padded.update(body)
    for leg in ("stop_loss",):
        if isinstance(padded[leg], dict):
            padded[leg] = {"limit_price": None, **padded[leg]}
    return padded


def numbers_style(body: dict[str, Any]) -> dict[str, Any]:
    """As alpaca-py sends them: JSON numbers (decoded here without going through float)."""
    text = json.dumps(body)
    for key in ("qty", "notional", *PRICE_KEYS):
        text = re.sub(rf'"{key}": "([0-9.]+)"', rf'"{key}": \1', text)
    decoded: dict[str, Any] = json.loads(text, parse_float=Decimal)
    return decoded


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(plans())
def test_valid_plans_build_and_round_trip(plan: Plan) -> None:
    order = plan.builder.build()
    body = order.to_request()
    wire = json.loads(json.dumps(body))
    assert wire == body

    assert Order.from_request(wire) == order
    assert Order.from_request(apca_style(wire)) == order
    assert Order.from_request(numbers_style(wire)) == order

    assert wire["symbol"] == plan.symbol.strip().upper()
    assert (wire["side"], wire["type"], wire["time_in_force"]) == (
        plan.side.value,
        plan.kind.value,
        plan.tif.value,
    )
    assert [k for k in ("qty", "notional") if k in wire] == [plan.size_key]
    assert Decimal(wire[plan.size_key]) == plan.size
    assert {k for k in PRICE_KEYS if k in wire} == set(plan.prices)
    for key, value in plan.prices.items():
        assert Decimal(wire[key]) == value
    leaves = decimal_leaves(wire)
    assert all(isinstance(v, str) and PLAIN_DECIMAL.fullmatch(v) for v in leaves), leaves
    assert wire.get("extended_hours", False) is plan.extended_hours
    assert ("extended_hours" in wire) is plan.extended_hours
    assert wire.get("order_class", "simple") == plan.klass.value
    assert ("order_class" in wire) is (plan.klass is not OrderClass.SIMPLE)
    if plan.take_profit is None:
        assert "take_profit" not in wire
    else:
        assert wire["take_profit"] == {"limit_price": wire["take_profit"]["limit_price"]}
        assert Decimal(wire["take_profit"]["limit_price"]) == plan.take_profit
    if plan.stop_loss is None:
        assert "stop_loss" not in wire
    else:
        stop, limit = plan.stop_loss
        assert Decimal(wire["stop_loss"]["stop_price"]) == stop
        assert set(wire["stop_loss"]) == ({"stop_price"} | ({"limit_price"} if limit else set()))
        if limit is not None:
            assert Decimal(wire["stop_loss"]["limit_price"]) == limit
    assert wire.get("position_intent") == plan.intent
    if plan.client_order_id is None:
        assert is_uuid4(wire["client_order_id"])
    else:
        assert wire["client_order_id"] == plan.client_order_id
    assert set(wire) <= set(ALL_KEYS)


# --- hypothesis: one known-invalid mutation of a valid body -----------------------------------

Body = dict[str, Any]


@dataclass(frozen=True)
class Mutation:
    name: str
    field: str
    base: st.SearchStrategy[Body]
    apply: Callable[[Body, st.DataObject], None]

    def __str__(self) -> str:
        return self.name


def bodies(**kwargs: Any) -> st.SearchStrategy[Body]:
    return plans(**kwargs).map(lambda plan: plan.builder.build().to_request())


ANY = bodies()
SIMPLE = (OrderClass.SIMPLE,)
WITH_ENTRY_LIMIT = (OrderClass.SIMPLE, OrderClass.BRACKET, OrderClass.OTO)


def closes_long(body: Body) -> bool:
    """Independent of the code under test: which way the exit legs trade."""
    if body.get("order_class") == "oco":
        return bool(body["side"] == "sell")
    return bool(body["side"] == "buy")


def setter(**values: Any) -> Callable[[Body, st.DataObject], None]:
    def apply(body: Body, data: st.DataObject) -> None:
        for key, value in values.items():
            if isinstance(value, st.SearchStrategy):
                value = data.draw(value, label=key)
            if value is _POP:
                body.pop(key, None)
            else:
                body[key] = value

    return apply


_POP = object()


def both_sizes(body: Body, data: st.DataObject) -> None:
    if "qty" in body:
        body["notional"] = "100"
    else:
        body["qty"] = "1"


def bad_price_on_present_key(
    value: st.SearchStrategy[str],
) -> Callable[[Body, st.DataObject], None]:
    def apply(body: Body, data: st.DataObject) -> None:
        key = data.draw(st.sampled_from([k for k in ("limit_price", "stop_price") if k in body]))
        body[key] = data.draw(value)
        body["_expect"] = key

    return apply


def swap_legs(body: Body, data: st.DataObject) -> None:
    tp, sl = body["take_profit"]["limit_price"], body["stop_loss"]["stop_price"]
    body["take_profit"]["limit_price"], body["stop_loss"]["stop_price"] = sl, tp


def stop_limit_wrong_side(body: Body, data: st.DataObject) -> None:
    stop = Decimal(body["stop_loss"]["stop_price"])
    tick = Decimal("0.01") if stop >= 1 else Decimal("0.0001")
    wrong = stop + tick if closes_long(body) else stop - tick
    body["stop_loss"]["limit_price"] = str(wrong)


def add_missing_leg(body: Body, data: st.DataObject) -> None:
    if "take_profit" in body:
        body["stop_loss"] = {"stop_price": "0.0001" if closes_long(body) else "99999"}
    else:
        body["take_profit"] = {"limit_price": "99999" if closes_long(body) else "0.0001"}


def wrong_intent(body: Body, data: st.DataObject) -> None:
    other = "sell" if body["side"] == "buy" else "buy"
    body["position_intent"] = data.draw(
        st.sampled_from([f"{other}_to_open", f"{other}_to_close", "to_open", "hold"])
    )


MUTATIONS = [
    Mutation(
        "stop_price on a limit order",
        "stop_price",
        bodies(types=(OrderType.LIMIT,), classes=WITH_ENTRY_LIMIT),
        setter(stop_price="5"),
    ),
    Mutation(
        "limit_price on a market order",
        "limit_price",
        bodies(types=(OrderType.MARKET,)),
        setter(limit_price="5"),
    ),
    Mutation(
        "trail_percent on a stop order",
        "trail_percent",
        bodies(types=(OrderType.STOP,)),
        setter(trail_percent="1"),
    ),
    Mutation("qty and notional together", "notional", ANY, both_sizes),
    Mutation("neither qty nor notional", "qty", ANY, setter(qty=_POP, notional=_POP)),
    Mutation(
        "non-positive qty",
        "qty",
        ANY,
        setter(notional=_POP, qty=st.sampled_from(["-1", "0", "-0.5", -3])),
    ),
    Mutation("zero notional", "notional", ANY, setter(qty=_POP, notional="0")),
    Mutation("qty with 10 decimals", "qty", ANY, setter(notional=_POP, qty="1.0000000001")),
    Mutation("notional with 3 decimals", "notional", ANY, setter(qty=_POP, notional="10.005")),
    Mutation(
        "3-decimal price above $1",
        "_expect",
        bodies(
            types=(OrderType.LIMIT, OrderType.STOP, OrderType.STOP_LIMIT), classes=WITH_ENTRY_LIMIT
        ),
        bad_price_on_present_key(st.sampled_from(["101.125", "1.001", "5000.999"])),
    ),
    Mutation(
        "5-decimal price below $1",
        "_expect",
        bodies(
            types=(OrderType.LIMIT, OrderType.STOP, OrderType.STOP_LIMIT), classes=WITH_ENTRY_LIMIT
        ),
        bad_price_on_present_key(st.sampled_from(["0.12345", "0.99999"])),
    ),
    Mutation(
        "non-positive price",
        "_expect",
        bodies(types=(OrderType.LIMIT, OrderType.STOP), classes=WITH_ENTRY_LIMIT),
        bad_price_on_present_key(st.sampled_from(["0", "-1", "-0.01"])),
    ),
    Mutation(
        "sub-tick take_profit",
        "take_profit.limit_price",
        bodies(classes=(OrderClass.BRACKET, OrderClass.OCO)),
        lambda body, data: body["take_profit"].update(limit_price="12.345"),
    ),
    Mutation(
        "extended_hours on a market order",
        "extended_hours",
        bodies(types=(OrderType.MARKET,)),
        setter(extended_hours=st.sampled_from([True, "True", "true"])),
    ),
    Mutation(
        "extended_hours on an ioc limit",
        "extended_hours",
        bodies(types=(OrderType.LIMIT,), classes=SIMPLE),
        setter(extended_hours=True, time_in_force=st.sampled_from(["ioc", "fok", "opg", "cls"])),
    ),
    Mutation(
        "extended_hours on a bracket",
        "extended_hours",
        bodies(types=(OrderType.LIMIT,), classes=(OrderClass.BRACKET,)),
        setter(extended_hours=True),
    ),
    Mutation(
        "extended_hours not a boolean",
        "extended_hours",
        ANY,
        setter(extended_hours=st.sampled_from(["yes", 1, "on"])),
    ),
    Mutation(
        "take_profit on the losing side of stop_loss",
        "take_profit.limit_price",
        bodies(classes=(OrderClass.BRACKET, OrderClass.OCO)),
        swap_legs,
    ),
    Mutation(
        "buy bracket with take_profit below stop_loss",
        "take_profit.limit_price",
        bodies(classes=(OrderClass.BRACKET,), sides=(Side.BUY,)),
        swap_legs,
    ),
    Mutation(
        "take_profit not beyond the limit entry",
        "take_profit.limit_price",
        bodies(classes=(OrderClass.BRACKET,), types=(OrderType.LIMIT,)),
        lambda body, data: body["take_profit"].update(limit_price=body["limit_price"]),
    ),
    Mutation(
        "stop_loss not beyond the limit entry",
        "stop_loss.stop_price",
        bodies(classes=(OrderClass.BRACKET,), types=(OrderType.LIMIT,)),
        lambda body, data: body["stop_loss"].update(stop_price=body["limit_price"]),
    ),
    Mutation(
        "stop_loss limit on the wrong side of its stop",
        "stop_loss.limit_price",
        bodies(classes=(OrderClass.BRACKET, OrderClass.OCO)),
        stop_limit_wrong_side,
    ),
    Mutation(
        "fractional qty on a gtc limit",
        "qty",
        bodies(types=(OrderType.LIMIT,), classes=SIMPLE),
        setter(time_in_force="gtc", qty=st.sampled_from(["1.5", "0.001", 2.25])),
    ),
    Mutation(
        "fractional qty on a bracket",
        "qty",
        bodies(types=(OrderType.MARKET,), classes=(OrderClass.BRACKET,)),
        setter(time_in_force="day", qty="2.5"),
    ),
    Mutation(
        "notional on a limit order",
        "notional",
        bodies(types=(OrderType.LIMIT,), classes=SIMPLE),
        setter(qty=_POP, notional="250"),
    ),
    Mutation(
        "notional on a gtc market order",
        "notional",
        bodies(types=(OrderType.MARKET,), classes=SIMPLE),
        setter(qty=_POP, notional="250", time_in_force="gtc"),
    ),
    Mutation(
        "missing limit_price on a limit order",
        "limit_price",
        bodies(types=(OrderType.LIMIT,), classes=WITH_ENTRY_LIMIT),
        setter(limit_price=_POP),
    ),
    Mutation(
        "missing stop_price on a stop_limit order",
        "stop_price",
        bodies(types=(OrderType.STOP_LIMIT,)),
        setter(stop_price=st.sampled_from([_POP, None, ""])),
    ),
    Mutation(
        "trail_price and trail_percent together",
        "trail_percent",
        bodies(types=(OrderType.TRAILING_STOP,)),
        setter(trail_price="1", trail_percent="1"),
    ),
    Mutation(
        "trailing_stop without a trail",
        "trail_price",
        bodies(types=(OrderType.TRAILING_STOP,)),
        setter(trail_price=_POP, trail_percent=_POP),
    ),
    Mutation(
        "trail_percent out of range",
        "trail_percent",
        bodies(types=(OrderType.TRAILING_STOP,)),
        setter(trail_price=_POP, trail_percent=st.sampled_from(["0", "100", "150", "-1"])),
    ),
    Mutation(
        "trailing_stop with an immediate time in force",
        "time_in_force",
        bodies(types=(OrderType.TRAILING_STOP,)),
        setter(time_in_force=st.sampled_from(["ioc", "fok", "opg", "cls"])),
    ),
    Mutation(
        "opg on a stop order",
        "time_in_force",
        bodies(types=(OrderType.STOP, OrderType.STOP_LIMIT), classes=SIMPLE),
        setter(time_in_force=st.sampled_from(["opg", "cls", "ioc", "fok"])),
    ),
    Mutation(
        "opg on a bracket",
        "time_in_force",
        bodies(classes=(OrderClass.BRACKET,)),
        setter(time_in_force=st.sampled_from(["opg", "cls", "ioc", "fok"])),
    ),
    Mutation(
        "unknown side",
        "side",
        ANY,
        setter(side=st.sampled_from(["short", "sell_short", "", None, "b"])),
    ),
    Mutation("unknown type", "type", ANY, setter(type=st.sampled_from(["iceberg", "", 1]))),
    Mutation(
        "unknown time_in_force",
        "time_in_force",
        ANY,
        setter(time_in_force=st.sampled_from(["gtd", "GTX", None])),
    ),
    Mutation(
        "unknown order_class",
        "order_class",
        ANY,
        setter(order_class=st.sampled_from(["otoco", "mleg", 3])),
    ),
    Mutation(
        "qty not a number",
        "qty",
        ANY,
        setter(qty=st.sampled_from(["abc", True, "1,000", [1], "NaN"])),
    ),
    Mutation(
        "limit_price not a number",
        "limit_price",
        ANY,
        setter(limit_price=st.sampled_from(["1,000", "$5", False, {}])),
    ),
    Mutation(
        "bad symbol",
        "symbol",
        ANY,
        setter(symbol=st.sampled_from(["", "  ", "AA PL", "AAPL$", None, 7, "-"])),
    ),
    Mutation(
        "bad client_order_id",
        "client_order_id",
        ANY,
        setter(client_order_id=st.sampled_from(["x" * 129, 123, ["a"]])),
    ),
    Mutation(
        "bracket or oco without stop_loss",
        "stop_loss",
        bodies(classes=(OrderClass.BRACKET, OrderClass.OCO)),
        setter(stop_loss=st.sampled_from([_POP, None])),
    ),
    Mutation(
        "bracket or oco without take_profit",
        "take_profit",
        bodies(classes=(OrderClass.BRACKET, OrderClass.OCO)),
        setter(take_profit=_POP),
    ),
    Mutation(
        "oto with both legs",
        "stop_loss",
        bodies(classes=(OrderClass.OTO,)),
        add_missing_leg,
    ),
    Mutation(
        "oto with no leg",
        "take_profit",
        bodies(classes=(OrderClass.OTO,)),
        setter(take_profit=_POP, stop_loss=_POP),
    ),
    Mutation(
        "take_profit on a simple order",
        "take_profit",
        bodies(classes=SIMPLE),
        setter(take_profit={"limit_price": "1"}),
    ),
    Mutation(
        "stop_loss on a simple order",
        "stop_loss",
        bodies(classes=SIMPLE),
        setter(stop_loss={"stop_price": "1"}),
    ),
    Mutation(
        "take_profit not an object",
        "take_profit",
        bodies(classes=(OrderClass.BRACKET,)),
        setter(take_profit=st.sampled_from(["110", 110, ["110"]])),
    ),
    Mutation(
        "take_profit without a limit_price",
        "take_profit.limit_price",
        bodies(classes=(OrderClass.BRACKET, OrderClass.OCO)),
        setter(take_profit=st.sampled_from([{}, {"limit_price": None}, {"limit_price": "x"}])),
    ),
    Mutation(
        "bracket with a stop entry",
        "type",
        bodies(classes=(OrderClass.BRACKET,), types=(OrderType.MARKET,)),
        setter(type="stop", stop_price="10"),
    ),
    Mutation(
        "oco that is not a limit order",
        "type",
        bodies(classes=(OrderClass.OCO,)),
        setter(type="market", limit_price=_POP),
    ),
    Mutation("position_intent against the side", "position_intent", ANY, wrong_intent),
]


@pytest.mark.parametrize("mutation", MUTATIONS, ids=str)
@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_one_invalid_mutation_names_its_field(mutation: Mutation, data: st.DataObject) -> None:
    body = copy.deepcopy(data.draw(mutation.base, label="valid body"))
    mutation.apply(body, data)
    expected = body.pop("_expect") if mutation.field == "_expect" else mutation.field
    if data.draw(st.booleans(), label="apca style"):
        body = apca_style(body)
        body["advanced_instructions"] = None

    with pytest.raises(OrderValidationError) as info:
        Order.from_request(body)
    assert info.value.field == expected, f"{mutation.name}: {info.value}"
    assert str(info.value).startswith(f"{expected}: ")


# --- review #14: order rules for every asset class Alpaca trades ---------------------------------
# Crypto (docs.alpaca.markets/docs/crypto-orders): market, limit and stop_limit; gtc and ioc only;
# fractional qty or notional. alpaca-py's TimeInForce docstring says the same per asset class
# (equity: all six; options: day; crypto: gtc, ioc). Bracket, OCO and OTO take day or gtc.

BTC = OrderBuilder().symbol("BTC/USD")
CRYPTO_SYMBOLS = ("BTC/USD", "eth/usd", "ETH/BTC", "SHIB/USDT", "BTCUSD", "AAVEUSDC", "ltcbtc")


def test_review_14_a_crypto_pair_takes_fractional_qty_and_notional_with_gtc_or_ioc() -> None:
    order = BTC.buy("0.001").limit(60000).gtc().build()
    assert without_id(order.to_request()) == {
        "symbol": "BTC/USD",
        "qty": "0.001",
        "side": "buy",
        "type": "limit",
        "time_in_force": "gtc",
        "limit_price": "60000",
    }
    assert Order.from_request(order.to_request()) == order
    for symbol in CRYPTO_SYMBOLS:
        pair = OrderBuilder().symbol(symbol)
        assert pair.sell("0.123456789").market().ioc().build().qty == Decimal("0.123456789")
        assert pair.buy("2.5").stop_limit("3000.5", "3001.25").gtc().build().qty == Decimal("2.5")
        # Alpaca: notional and qty "can take up to 9 decimal point values"; a BTC-quoted
        # pair's notional is in BTC, so the equity 2-decimal dollar rule cannot apply.
        assert pair.buy(notional="0.000123456").market().gtc().build().notional is not None
        assert pair.buy(notional="25").limit("1.5").ioc().build().notional == Decimal(25)
    raises_on("qty", BTC.buy("0.0000000001").market().gtc().build)
    raises_on("notional", BTC.buy(notional="0.0000000001").market().gtc().build)


@pytest.mark.parametrize("tif", ["day", "opg", "cls", "fok"])
@pytest.mark.parametrize("symbol", ["BTC/USD", "BTCUSD", "ETH/BTC"])
def test_review_14_crypto_takes_only_gtc_or_ioc(symbol: str, tif: str) -> None:
    err = raises_on(
        "time_in_force", OrderBuilder().symbol(symbol).buy("1").market().time_in_force(tif).build
    )
    assert "gtc or ioc" in err.message
    body = {"symbol": symbol, "qty": "1", "side": "buy", "type": "market", "time_in_force": tif}
    raises_on("time_in_force", lambda: Order.from_request(body))


def test_review_14_crypto_order_types_are_market_limit_and_stop_limit() -> None:
    raises_on("type", BTC.buy(1).stop(70000).gtc().build)
    raises_on("type", BTC.sell(1).trailing_stop(percent=2).gtc().build)
    for ok in (BTC.buy(1).market(), BTC.buy(1).limit(1), BTC.buy(1).stop_limit(2, 2)):
        assert ok.gtc().build().symbol == "BTC/USD"


def test_review_14_crypto_has_no_extended_hours() -> None:
    err = raises_on("extended_hours", BTC.buy(1).limit(60000).gtc().extended_hours().build)
    assert "crypto" in err.message


@pytest.mark.parametrize(
    "builder",
    [
        BTC.buy(1).limit(60000).gtc().bracket(take_profit=70000, stop_loss=50000),
        BTC.buy(1).market().gtc().oto(stop_loss=50000),
        BTC.sell(1).gtc().oco(take_profit=70000, stop_loss=50000),
    ],
    ids=["bracket", "oto", "oco"],
)
def test_review_14_crypto_orders_are_simple(builder: OrderBuilder) -> None:
    err = raises_on("order_class", builder.build)
    assert "crypto" in err.message


def test_review_14_crypto_prices_follow_the_pair_not_the_equity_tick() -> None:
    # Crypto price increments are per pair (the asset's ``price_increment``), not the equity
    # sub-penny rule: SHIB trades near $0.00001 and BTC/USD may be priced in dollars and cents.
    shib = OrderBuilder().symbol("SHIB/USD").buy(1_000_000).limit("0.00001234").gtc().build()
    assert shib.limit_price == Decimal("0.00001234")
    assert BTC.buy("0.5").stop_limit("60000.125", "60001.5").gtc().build().stop_price
    raises_on("limit_price", BTC.buy(1).limit("0").gtc().build)
    raises_on("stop_price", BTC.buy(1).stop_limit("-1", "5").gtc().build)
    # ... and equities keep the sub-penny rule
    raises_on("limit_price", AAPL.buy(1).limit("1.005").day().build)


@pytest.mark.parametrize(
    "symbol", ["AAPL250117C00150000", "SPY251219P00450000", "aapl1260116c00200000"]
)
def test_review_14_options_contracts_are_refused_naming_the_symbol(symbol: str) -> None:
    err = raises_on("symbol", OrderBuilder().symbol(symbol).buy(1).limit("2.5").day().build)
    assert "options" in err.message and "not supported" in err.message
    body = {
        "symbol": symbol,
        "qty": "1",
        "side": "buy",
        "type": "limit",
        "time_in_force": "day",
        "limit_price": "2.5",
    }
    raises_on("symbol", lambda: Order.from_request(body))


@pytest.mark.parametrize("tif", ["ioc", "fok"])
def test_review_14_oto_and_oco_take_day_or_gtc_only(tif: str) -> None:
    oto = AAPL.buy(1).limit(100).time_in_force(tif).oto(take_profit=110)
    oco = AAPL.sell(1).time_in_force(tif).oco(take_profit=110, stop_loss=90)
    bracket = AAPL.buy(1).limit(100).time_in_force(tif).bracket(take_profit=110, stop_loss=90)
    for builder in (oto, oco, bracket):
        err = raises_on("time_in_force", builder.build)
        assert "day or gtc" in err.message
    for ok in ("day", "gtc"):
        assert oto.time_in_force(ok).build().order_class is OrderClass.OTO
        assert oco.time_in_force(ok).build().order_class is OrderClass.OCO


def test_review_14_asset_class_is_told_from_the_symbol() -> None:
    from tui_trader.core.orders import AssetClass, asset_class_of, market_time_in_force

    for symbol in CRYPTO_SYMBOLS:
        assert asset_class_of(symbol) is AssetClass.CRYPTO, symbol
    # USD and USDU are ETF tickers, BRK.B a class share: short, or dotted, so not pairs
    for symbol in ("AAPL", "BRK.B", "BF-B", "USD", "USDU", "BTC", "SPY", "GOOGL"):
        assert asset_class_of(symbol) is AssetClass.US_EQUITY, symbol
    assert asset_class_of(" aapl250117c00150000 ") is AssetClass.US_OPTION
    assert BTC.buy(1).market().gtc().build().asset_class is AssetClass.CRYPTO
    assert market_time_in_force("AAPL") is TimeInForce.DAY
    assert market_time_in_force("btc/usd") is TimeInForce.GTC
    for symbol in ("AAPL", "BTCUSD"):
        built = OrderBuilder().symbol(symbol).buy(1).market()
        assert built.time_in_force(market_time_in_force(symbol)).build().symbol == symbol


CRYPTO_TIFS = {TimeInForce.GTC, TimeInForce.IOC}
CRYPTO_TYPES = {OrderType.MARKET, OrderType.LIMIT, OrderType.STOP_LIMIT}


def mostly(good: list[Any], bad: list[Any]) -> st.SearchStrategy[Any]:
    """Three draws in four from ``good``, so that whole orders are often valid."""
    return st.one_of(
        st.sampled_from(good), st.sampled_from(good), st.sampled_from(good), st.sampled_from(bad)
    )


@st.composite
def any_crypto_builder(draw: st.DrawFn) -> OrderBuilder:
    """Any combination of the builder's calls on a crypto pair, valid or not."""
    b = OrderBuilder().symbol(draw(st.sampled_from(CRYPTO_SYMBOLS)))
    size = draw(st.one_of(WHOLE_QTY, FRACTIONAL_QTY))
    if draw(st.booleans()):
        b = b.buy(size) if draw(st.booleans()) else b.sell(size)
    else:
        b = (b.buy if draw(st.booleans()) else b.sell)(notional=draw(NOTIONAL))
    price, other = draw(PRICES), draw(PRICES)
    b = draw(
        mostly(
            [b.market(), b.limit(price), b.stop_limit(price, other)],
            [b.stop(price), b.trailing_stop(percent=draw(PERCENT))],
        )
    )
    good_tifs = [TimeInForce.GTC, TimeInForce.IOC]
    b = b.time_in_force(draw(mostly(good_tifs, [t for t in TimeInForce if t not in good_tifs])))
    lo, _, hi = draw(TRIPLES)
    legs = draw(mostly(["none"], ["bracket", "oto", "oco"]))
    if legs == "bracket":
        b = b.bracket(take_profit=hi, stop_loss=lo)
    elif legs == "oto":
        b = b.oto(stop_loss=lo)
    elif legs == "oco":
        b = b.oco(take_profit=hi, stop_loss=lo)
    return b.extended_hours(draw(mostly([False], [True])))


@settings(max_examples=300, deadline=None)
@given(any_crypto_builder())
def test_review_14_any_crypto_order_the_builder_accepts_keeps_alpacas_crypto_rules(
    builder: OrderBuilder,
) -> None:
    try:
        order = builder.build()
    except OrderValidationError:
        return
    assert order.time_in_force in CRYPTO_TIFS
    assert order.type in CRYPTO_TYPES
    assert order.order_class is OrderClass.SIMPLE
    assert not order.extended_hours
    assert Order.from_request(order.to_request()) == order
