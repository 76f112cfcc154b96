"""REST wire models: the published samples, tolerance rules of API.md §8, error bodies."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from tui_trader.core.models import (
    TERMINAL_ORDER_STATUSES,
    Account,
    Activity,
    ApiError,
    Bar,
    MultiStatusItem,
    Position,
    Quote,
    Snapshot,
    Trade,
    WireOrder,
    parse_json,
    parse_multi_status,
)

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "alpaca"


def fixture(name: str) -> Any:
    return parse_json((FIXTURES / name).read_text())


# --- orders --------------------------------------------------------------------------------------


def test_order_bodies_of_the_samples_parse() -> None:
    new = WireOrder.model_validate(fixture("trade_event_new.json")["order"])
    assert new.symbol == "TSLA" and new.type == new.order_type == "limit"
    assert new.created_at == datetime(2022, 4, 19, 14, 12, 30, 571179, tzinfo=UTC)
    fill = WireOrder.model_validate(fixture("trade_event_fill.json")["order"])
    assert fill.filled_avg_price == Decimal("181.36") and fill.status == "filled"
    closing = WireOrder.model_validate(fixture("close_all_positions_207.json")[0]["body"])
    assert closing.symbol == "BTC/USD" and closing.asset_class == "crypto"
    assert closing.qty == Decimal("0.0283") and closing.status == "pending_new"
    assert closing.position_intent == "sell_to_close" and closing.source is None


def test_only_the_id_is_required() -> None:
    order = WireOrder.model_validate({"id": "7b08df51-c1ac-453c-99f9-323a5f075f0d"})
    assert order.filled_qty == Decimal(0) and order.qty is None
    assert order.status == "" and order.order_class == "" and order.symbol == ""
    assert order.extended_hours is False and order.legs is None
    assert order.is_open and order.is_simple
    with pytest.raises(ValidationError):
        WireOrder.model_validate({"symbol": "AAPL"})
    with pytest.raises(ValidationError):
        WireOrder.model_validate({"id": ""})


def test_null_and_missing_are_the_same_for_orders() -> None:
    nulls = {name: None for name in WireOrder.model_fields if name != "id"}
    assert WireOrder.model_validate({"id": "x", **nulls}) == WireOrder.model_validate({"id": "x"})


@pytest.mark.parametrize(
    ("status", "is_open"),
    [
        *[(status, False) for status in sorted(TERMINAL_ORDER_STATUSES)],
        ("FILLED", False),
        ("new", True),
        ("partially_filled", True),
        ("accepted", True),
        ("pending_new", True),
        ("held", True),
        ("done_for_day", True),
        ("pending_cancel", True),
        ("some_future_status", True),
    ],
)
def test_is_open(status: str, is_open: bool) -> None:
    assert WireOrder(id="o", status=status).is_open is is_open


@pytest.mark.parametrize(
    ("order_class", "simple"),
    [
        ("", True),
        (None, True),
        ("simple", True),
        ("bracket", False),
        ("oco", False),
        ("mleg", False),
    ],
)
def test_is_simple(order_class: str | None, simple: bool) -> None:
    assert WireOrder.model_validate({"id": "o", "order_class": order_class}).is_simple is simple


@pytest.mark.parametrize("commission", ['"1.25"', "1.25", '"1.250"'])
def test_commission_as_string_or_number(commission: str) -> None:
    order = WireOrder.model_validate(parse_json(f'{{"id":"o","commission":{commission}}}'))
    assert order.commission == Decimal("1.25")


def test_decimals_never_go_through_float() -> None:
    order = WireOrder.model_validate(
        parse_json('{"id":"o","limit_price":0.1,"stop_price":"0.30000000000000000001"}')
    )
    assert str(order.limit_price) == "0.1"
    assert order.stop_price == Decimal("0.30000000000000000001")
    # A float that slipped through (plain json.loads) still keeps its shortest digits.
    assert WireOrder.model_validate({"id": "o", "qty": 0.1}).qty == Decimal("0.1")


def test_order_tolerance() -> None:
    order = WireOrder.model_validate(
        {
            "id": "o",
            "symbol": " AAPL ",
            "status": "brand_new_status",
            "side": "sell_short_exempt",
            "order_class": "mleg",
            "asset_class": "",
            "legs": [{"id": "l1", "ratio_qty": "2", "symbol": "X "}],
            "submitted_at": "2023-12-12T22:31:24.577215743+05:30",
            "future_field": {"a": 1},
        }
    )
    assert order.symbol == "AAPL" and order.status == "brand_new_status"
    assert order.side == "sell_short_exempt" and not order.is_simple
    assert order.legs is not None and order.legs[0].symbol == "X"
    assert order.legs[0].ratio_qty == Decimal(2)
    assert order.submitted_at == datetime(2023, 12, 12, 17, 1, 24, 577215, tzinfo=UTC)
    assert order.model_extra == {"future_field": {"a": 1}}


def test_models_are_frozen() -> None:
    order = WireOrder(id="o")
    with pytest.raises(ValidationError):
        order.status = "filled"  # type: ignore[misc]


def test_dump_writes_decimals_as_plain_strings() -> None:
    order = WireOrder.model_validate({"id": "o", "qty": "1E+2", "filled_qty": None})
    dumped = order.model_dump(mode="json")
    assert dumped["qty"] == "100" and dumped["filled_qty"] == "0" and dumped["limit_price"] is None


# --- positions, account, activities --------------------------------------------------------------


def test_position_sample() -> None:
    position = Position.model_validate(fixture("position.json"))
    assert position.symbol == "AAPL"  # "AAPL " in the docs
    assert position.asset_marginable is None  # missing in the docs sample
    assert position.qty == Decimal(5) and position.qty_available == Decimal(4)
    assert position.avg_entry_price == Decimal("100.0")
    assert position.unrealized_plpc == Decimal("0.20")
    assert position.side == "long" and position.signed_qty == Decimal(5)
    assert position.exchange == "NASDAQ" and position.asset_class == "us_equity"


@pytest.mark.parametrize(("qty", "expected"), [("-3", Decimal(-3)), ("3", Decimal(-3))])
def test_short_position_qty_is_negative(qty: str, expected: Decimal) -> None:
    position = Position.model_validate({"symbol": "TSLA", "qty": qty, "side": "short"})
    assert position.signed_qty == expected


def test_position_needs_symbol_and_qty() -> None:
    with pytest.raises(ValidationError):
        Position.model_validate({"symbol": "  ", "qty": "1"})
    with pytest.raises(ValidationError):
        Position.model_validate({"symbol": "AAPL"})


def test_account_sample_keeps_every_key() -> None:
    raw = fixture("account.json")
    account = Account.model_validate(raw)
    dumped = account.model_dump()
    assert set(raw) <= set(dumped)
    assert account.model_extra == {}  # every published key is a declared field
    assert account.status == "ACTIVE" and account.account_number == "PALPACA_123"
    assert account.last_equity == Decimal("122011.09751111286868")
    assert account.equity == Decimal("123346.11") and account.cash == Decimal("122086.5")
    assert account.crypto_tier == 1 and account.options_trading_level == 2
    assert account.multiplier == Decimal(2)
    assert account.balance_asof == date(2023, 9, 27)
    assert account.created_at == datetime(2023, 1, 1, 18, 20, 20, 272275, tzinfo=UTC)
    assert account.user_configurations is None and account.admin_configurations == {}
    assert account.pattern_day_trader is None and account.daytrade_count is None


def test_account_with_pdt_fields_and_unknown_keys() -> None:
    account = Account.model_validate(
        {
            "id": "a",
            "status": "ACCOUNT_UPDATED",
            "pattern_day_trader": False,
            "daytrade_count": 0,
            "daytrading_buying_power": "0",
            "bod_dtbp": "0",
        }
    )
    assert account.pattern_day_trader is False and account.daytrade_count == 0
    assert account.model_extra == {"bod_dtbp": "0"}


def test_fill_activity() -> None:
    activity = Activity.model_validate(
        {
            "id": "20220304095318500::092cd749-b783-49cb-a36e-4d8666be201f",
            "account_id": "6e8cb861-e8b9-4278-8ed2-c8452535a165",
            "activity_type": "FILL",
            "transaction_time": "2022-03-04T14:53:18.500245Z",
            "type": "fill",
            "price": "2630.95",
            "qty": "9",
            "side": "buy",
            "symbol": "GOOGL",
            "leaves_qty": "0",
            "order_id": "b677e464-c2d0-4fdd-a4b1-8830b386aa50",
            "cum_qty": "10.177047834",
            "order_status": "filled",
        }
    )
    assert activity.is_fill and activity.id.startswith("20220304095318500::")
    assert activity.price == Decimal("2630.95") and activity.cum_qty == Decimal("10.177047834")
    assert activity.transaction_time == datetime(2022, 3, 4, 14, 53, 18, 500245, tzinfo=UTC)


def test_non_trade_activity() -> None:
    activity = Activity.model_validate(
        {
            "id": "20220419000000000::fd84741b-59c5-4ddd-a303-69f70eb7753f",
            "account_id": "aba134b6-217d-4fd2-b460-e3c80bbfb9b4",
            "activity_type": "CSD",
            "date": "2022-04-19",
            "net_amount": "33324.35",
            "description": "",
            "status": "executed",
            "symbol": "",
            "per_share_amount": None,
        }
    )
    assert not activity.is_fill and activity.activity_type == "CSD"
    assert activity.date == date(2022, 4, 19) and activity.net_amount == Decimal("33324.35")
    assert activity.description is None and activity.symbol is None
    assert activity.transaction_time is None and activity.price is None


# --- errors --------------------------------------------------------------------------------------


@pytest.mark.parametrize("case", fixture("error_bodies.json"), ids=lambda case: case["case"][:40])
def test_error_bodies(case: dict[str, Any]) -> None:
    body = case["body"]
    for wire in (json.dumps(body), json.dumps(body).encode()):
        error = ApiError.from_body(case["http_status"], wire)
        assert error.http_status == case["http_status"]
        assert error.message == body["message"]
        assert error.code == body.get("code")
        extra = {k: v for k, v in body.items() if k not in ("code", "message")}
        assert error.model_extra == extra


def test_error_without_code() -> None:
    error = ApiError.from_body(403, b'{"message":"forbidden."}')
    assert error.code is None and error.message == "forbidden."
    assert str(error) == "HTTP 403: forbidden."


def test_error_context_is_kept() -> None:
    error = ApiError.from_body(
        403,
        '{"buying_power":"176531.28","code":40310000,"cost_basis":"48640000",'
        '"message":"insufficient buying power"}',
    )
    assert error.code == 40310000
    assert error.model_extra == {"buying_power": "176531.28", "cost_basis": "48640000"}
    assert str(error) == "HTTP 403 40310000: insufficient buying power"


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (None, "HTTP 502 (empty body)"),
        (b"", "HTTP 502 (empty body)"),
        ("  \n", "HTTP 502 (empty body)"),
        (
            "<html><head><title>502 Bad Gateway</title></head><body><h1>nginx</h1></body></html>",
            "HTTP 502 (non-JSON body): 502 Bad Gateway",
        ),
        ("429 rate limit exceeded", "HTTP 502 (non-JSON body): 429 rate limit exceeded"),
        (b"\xff\xfe\x00garbage", "HTTP 502 (non-JSON body): \ufffd\ufffd\x00garbage"),
        ("[1, 2]", "HTTP 502 (non-JSON body: list)"),
        ("null", "HTTP 502 (non-JSON body: null)"),
        ("42", "HTTP 502 (non-JSON body: int)"),
        ('"upstream timeout"', "upstream timeout"),
        ("{}", "HTTP 502"),
        ('{"code":"50010000"}', "HTTP 502"),
        ('{"message":null,"code":null}', "HTTP 502"),
        ('{"message":{"nested":true}}', "{'nested': True}"),
        ("[" * 100_000, "HTTP 502 (non-JSON body): " + "[" * 157 + "..."),
    ],
)
def test_error_from_hostile_bodies(body: bytes | str | None, expected: str) -> None:
    error = ApiError.from_body(502, body)
    assert error.message == expected and error.http_status == 502


def test_error_code_forms() -> None:
    assert ApiError.from_body(500, '{"code":"50010000","message":"x"}').code == 50010000
    assert ApiError.from_body(500, '{"code":"abc","message":"x"}').code is None
    assert ApiError.from_body(500, '{"code":true,"message":"x"}').code is None
    assert ApiError.from_body(500, '{"code":4.0E+7,"message":"x"}').code == 40000000


def test_error_message_is_bounded() -> None:
    long_message = json.dumps({"code": 1, "message": "m" * 10_000})
    assert len(ApiError.from_body(400, long_message).message) <= 200
    html = "<html><body>" + "x" * 10_000 + "</body></html>"
    assert len(ApiError.from_body(502, html).message) <= 200
    title = "<title>" + "t " * 5_000 + "</title>"
    assert len(ApiError.from_body(502, title).message) <= 200


@settings(max_examples=200, deadline=None)
@given(st.integers(min_value=100, max_value=599), st.one_of(st.none(), st.text(), st.binary()))
def test_from_body_never_raises(status: int, body: bytes | str | None) -> None:
    error = ApiError.from_body(status, body)
    assert isinstance(error, ApiError) and error.message
    assert len(error.message) <= 200


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=20,
)


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(st.sampled_from(["code", "message", "http_status", "_x", "a"]), json_values))
def test_from_body_never_raises_on_json_objects(body: dict[str, Any]) -> None:
    error = ApiError.from_body(400, json.dumps(body))
    assert isinstance(error, ApiError) and len(error.message) <= 200


# --- multi-status (207) --------------------------------------------------------------------------


def test_close_all_positions_207() -> None:
    items = parse_multi_status(fixture("close_all_positions_207.json"))
    assert [item.ok for item in items] == [True, False, False]
    assert [item.symbol for item in items] == ["BTCUSD", "SQQQ", "NYC"]

    done = items[0]
    assert done.error is None
    order = done.order
    assert order is not None and order.symbol == "BTC/USD"  # differs from the item's symbol
    assert order.id == "e6419d12-56e4-4d67-a61b-f6e464e1f8a8" and order.side == "sell"

    short = items[1]
    assert short.order is None
    error = short.error
    assert error is not None and error.code == 40310000 and error.http_status == 403
    assert error.message.startswith("insufficient qty available")
    assert error.model_extra is not None
    assert error.model_extra["available"] == "0" and error.model_extra["held_for_orders"] == "1000"

    refused = items[2].error
    assert refused is not None and refused.message == "account is not allowed to short"


def test_cancel_all_207() -> None:
    items = parse_multi_status(
        parse_json(
            '[{"id":"497f6eca-6276-4993-bfeb-53cbbbba6f08","status":200},'
            '{"id":"72249bb6-6c89-4ea7-b8cf-73f1a140812b","status":404,'
            '"body":{"code":40410000,"message":"order not found"}},'
            '{"id":"c","status":200,"body":{"id":"c","status":"pending_cancel"}},'
            '{"symbol":"AAPL","order_id":"o9","status":"200"}]'
        )
    )
    assert [item.ok for item in items] == [True, False, True, True]
    assert items[0].order is None and items[0].error is None  # no body: nothing more to say
    error = items[1].error
    assert error is not None and error.code == 40410000 and error.message == "order not found"
    order = items[2].order
    assert order is not None and order.status == "pending_cancel"
    assert items[3].order_id == "o9" and items[3].status == 200


def test_multi_status_odd_items() -> None:
    items = parse_multi_status(
        [
            {"id": "a", "status": 500},
            {"symbol": "X", "status": 403, "body": "forbidden"},
            {"symbol": "Y", "status": 200, "body": {"not": "an order"}},
            {"symbol": "Z", "status": 200, "body": {"id": "o", "qty": "lots"}},
            "junk",
            {"id": "b"},
        ]
    )
    assert items[0].error is not None and items[0].error.message == "HTTP 500"
    assert items[1].error is not None and items[1].error.message == "forbidden"
    assert items[2].ok and items[2].order is None
    assert items[3].ok and items[3].order is None
    assert [item.status for item in items[4:]] == [0, 0]
    assert items[5].id == "b" and not items[5].ok
    assert items[4].error is not None and "unreadable" in items[4].error.message
    with pytest.raises(ValueError, match="JSON array"):
        parse_multi_status({"status": 200})  # type: ignore[arg-type]


def test_multi_status_item_model() -> None:
    item = MultiStatusItem.model_validate({"symbol": " MSFT ", "status": 201, "extra": 1})
    assert item.symbol == "MSFT" and item.ok and item.model_extra == {"extra": 1}
    assert not MultiStatusItem(status=300).ok and not MultiStatusItem(status=199).ok


# --- market data ---------------------------------------------------------------------------------


QUOTE = (
    '{"ap":172.7,"as":1,"ax":"Q","bp":172.62,"bs":2,"bx":"Q","c":["R"],'
    '"t":"2022-08-17T10:07:40.286587431Z","z":"C"}'
)
TRADE = (
    '{"c":["@","F","T"],"i":826,"p":172.78,"s":100,"t":"2022-08-17T09:50:43.361102308Z",'
    '"x":"Q","z":"C"}'
)
BAR = (
    '{"c":172.79,"h":172.81,"l":172.78,"n":20,"o":172.81,"t":"2022-08-17T08:58:00Z",'
    '"v":1002,"vw":172.791417}'
)


def test_quote() -> None:
    quote = Quote.model_validate(parse_json(QUOTE))
    assert quote.ask_price == Decimal("172.7") and quote.ask_size == Decimal(1)
    assert quote.bid_price == Decimal("172.62") and quote.bid_size == Decimal(2)
    assert quote.ask_exchange == quote.bid_exchange == "Q"
    assert quote.conditions == ["R"] and quote.tape == "C"
    assert quote.timestamp == datetime(2022, 8, 17, 10, 7, 40, 286587, tzinfo=UTC)
    # Floats from a plain response.json() still become the same Decimals.
    assert Quote.model_validate(json.loads(QUOTE)) == quote


def test_trade() -> None:
    trade = Trade.model_validate(parse_json(TRADE))
    assert trade.price == Decimal("172.78") and trade.size == Decimal(100)
    assert trade.id == 826 and trade.exchange == "Q" and trade.update is None
    assert trade.conditions == ["@", "F", "T"]


def test_bar() -> None:
    bar = Bar.model_validate(parse_json(BAR))
    assert (bar.open, bar.high, bar.low, bar.close) == (
        Decimal("172.81"),
        Decimal("172.81"),
        Decimal("172.78"),
        Decimal("172.79"),
    )
    assert bar.volume == Decimal(1002) and bar.trade_count == 20
    assert bar.vwap == Decimal("172.791417")
    assert bar.timestamp == datetime(2022, 8, 17, 8, 58, tzinfo=UTC)
    assert bar.model_dump(by_alias=True)["o"] == "172.81"
    same = Bar(
        timestamp=bar.timestamp,
        open=bar.open,
        high=bar.high,
        low=bar.low,
        close=bar.close,
        volume=bar.volume,
        trade_count=20,
        vwap=bar.vwap,
    )
    assert same == bar


def test_snapshot() -> None:
    full = Snapshot.model_validate(
        parse_json(
            f'{{"dailyBar":{BAR},"latestQuote":{QUOTE},"latestTrade":{TRADE},'
            f'"minuteBar":{BAR},"prevDailyBar":{BAR}}}'
        )
    )
    assert full.daily_bar is not None and full.daily_bar.close == Decimal("172.79")
    assert full.latest_quote is not None and full.latest_quote.ask_size == 1
    assert full.latest_trade is not None and full.latest_trade.price == Decimal("172.78")
    assert full.prev_daily_bar == full.minute_bar == full.daily_bar
    empty = Snapshot.model_validate({"latestTrade": None})
    assert empty.latest_trade is None and empty.daily_bar is None


def test_parse_json_reads_numbers_exactly() -> None:
    assert parse_json('{"x": 0.1, "y": -0.01, "z": 3}') == {
        "x": Decimal("0.1"),
        "y": Decimal("-0.01"),
        "z": 3,
    }
    assert isinstance(parse_json("1.5"), Decimal)
