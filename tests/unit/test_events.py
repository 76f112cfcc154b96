"""SSE payload parsing: the published samples, the §8 checklist, and hostile input."""

from __future__ import annotations

import json
import pickle
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tui_trader.core.events import (
    AccountStatusEvent,
    EventParseError,
    EventStream,
    NtaEvent,
    TradeEvent,
    parse_event,
)
from tui_trader.core.models import WireOrder

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "alpaca"
AT = "2024-03-01T14:30:00.123456789Z"


def wire_line(name: str) -> str:
    """A fixture as the one compact line the SSE stream carries (numbers kept verbatim)."""
    data = json.loads((FIXTURES / name).read_text(), parse_float=Decimal)
    return json.dumps(data, separators=(",", ":"), default=str)


def trade_payload(**fields: Any) -> str:
    base: dict[str, Any] = {
        "account_id": "529248ad-c4cc-4a50-bea4-6bfd2953f83a",
        "at": AT,
        "event": "new",
        "event_id": "01HR0000000000000000000000",
        "order": {"id": "edada91a-8b55-4916-a153-8c7a9817e708", "symbol": "TSLA"},
        "timestamp": AT,
    }
    base.update(fields)
    return json.dumps({k: v for k, v in base.items() if v is not ...})


def trade(data: str) -> TradeEvent:
    event = parse_event(EventStream.TRADES, data)
    assert isinstance(event, TradeEvent)
    return event


# --- the published samples -----------------------------------------------------------------------


def test_fill_sample() -> None:
    line = wire_line("trade_event_fill.json")
    event = trade(line)
    assert event.key == "01HCMKNJK1Y0R7VF6Q6CAC3SH7"
    assert event.kind == "fill"
    assert event.stream is EventStream.TRADES
    assert event.account_id == "aa4439c3-cf7d-4251-8689-a575a169d6d3"
    assert event.price == Decimal("181.36")
    assert event.qty == Decimal("0.05513895")
    assert event.position_qty == Decimal("0.1102779")
    assert event.execution_id == "33cbb614-bfc0-468b-b4d0-ccf08588ef77"
    assert event.execution_key == ("33cbb614-bfc0-468b-b4d0-ccf08588ef77", "fill")
    assert event.timestamp == datetime(2023, 10, 13, 13, 30, 0, 658388, tzinfo=UTC)
    assert event.at == datetime(2023, 10, 13, 13, 30, 0, 673857, tzinfo=UTC)
    assert event.at_raw == "2023-10-13T13:30:00.673857Z"
    order = event.order
    assert order is not None
    assert order.id == "bb2403bc-88ec-430b-b41c-f9ee80c8f0e1"
    assert order.status == "filled" and not order.is_open and order.is_simple
    assert order.qty is None and order.notional == Decimal("10")
    assert order.filled_qty == Decimal("0.05513895")
    assert order.filled_avg_price == Decimal("181.36")
    assert order.commission == Decimal("0")
    assert order.expires_at is None and order.position_intent is None  # missing in the sample
    assert order.filled_at == datetime(2023, 10, 13, 13, 30, 0, 658388, tzinfo=UTC)
    assert event.raw == line


def test_new_sample_converts_offsets_to_utc() -> None:
    event = trade(wire_line("trade_event_new.json"))
    assert event.kind == "new" and event.key == "01G112NTT0XAXKDZK3AABK68TH"
    assert event.previous_execution_id == "aeb60660-412f-4537-8d1f-1101b3fc8f64"  # on a `new`
    assert event.execution_id == "7e544af3-3104-4e1a-8cbc-dab2624949ff"
    assert event.price is None and event.qty is None and event.position_qty is None
    order = event.order
    assert order is not None
    # "2022-04-19T10:12:30.57117938-04:00": 8 digits, -04:00 offset.
    assert order.created_at == datetime(2022, 4, 19, 14, 12, 30, 571179, tzinfo=UTC)
    # "2022-04-19T10:12:30.403135025-04:00": 9 digits, truncated to microseconds.
    assert order.submitted_at == datetime(2022, 4, 19, 14, 12, 30, 403135, tzinfo=UTC)
    assert order.submitted_at is not None and order.submitted_at.utcoffset() == timedelta(0)
    assert order.expires_at == datetime(2022, 4, 19, 21, 0, tzinfo=UTC)
    assert order.limit_price == Decimal("700") and order.qty == Decimal("4")
    assert order.commission == Decimal("1")
    assert order.position_intent == "buy_to_open"
    assert order.is_open and order.is_simple


def test_account_status_sample() -> None:
    event = parse_event("accounts", wire_line("account_status_event.json"))
    assert isinstance(event, AccountStatusEvent)
    assert event.key == "01HCMKXS94ST351NFGEZR57EHV"
    assert event.event_id == 12627518
    assert event.kind == "account_status"
    assert (event.status_from, event.status_to) == ("APPROVED", "ACTIVE")
    assert event.account_number == "307137914"
    assert event.trading_blocked is None  # unchanged properties are absent
    assert event.at == datetime(2023, 10, 13, 13, 34, 29, 668043, tzinfo=UTC)


def test_nta_fee_sample() -> None:
    event = parse_event("nta", wire_line("nta_event.json"))
    assert isinstance(event, NtaEvent)
    assert event.key == "01JCEZ1ZDCE44GFX6WZ75N4199"
    assert event.kind == "FEE" and event.entry_sub_type == "TAF"
    assert event.id == "d96cea8a-6a77-46cd-bb7b-df6d74442653"
    assert event.net_amount == Decimal("-0.01")
    assert str(event.net_amount) == "-0.01"  # exact, not -0.01000000000000000020816...
    assert event.qty == 0
    assert event.symbol is None  # "" means none
    assert event.system_date == date(2024, 11, 11)
    assert event.settle_date == date(2024, 11, 12)
    assert event.status == "executed"


def test_nta_journal_sample_from_the_docs() -> None:
    data = (
        '{"account_id":"8e00606a-c9ac-409a-ba45-f55e8f77984a","at":"2024-11-26T15:25:17.803914Z",'
        '"description":"","entry_type":"JNLC","event_ulid":"01JDMH7BKCCB4XY5F11HN63NZX",'
        '"id":"afb78fa2-7e4c-4e0a-bca2-2e0d26a87f88","net_amount":10,"qty":0,'
        '"settle_date":"2024-11-26","status":"executed","symbol":"","system_date":"2024-11-26"}'
    )
    event = parse_event(EventStream.NTA, data)
    assert isinstance(event, NtaEvent)
    assert event.kind == "JNLC" and event.net_amount == Decimal(10)
    assert event.description is None and event.symbol is None


# --- §8 checklist --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kind", ["held", "restated", "some_future_type", "accepted", "trade_bust", "done_for_day"]
)
def test_unknown_and_rare_event_types_are_kept(kind: str) -> None:
    event = trade(trade_payload(event=kind))
    assert event.kind == kind == event.event
    assert event.order is not None and event.order.symbol == "TSLA"


def test_unknown_fields_are_kept_everywhere() -> None:
    data = trade_payload(
        brand_new={"nested": [1, 2]},
        order={"id": "o1", "status": "some_new_status", "new_order_field": "x"},
    )
    event = trade(data)
    assert event.model_extra == {"brand_new": {"nested": [1, 2]}}
    assert event.order is not None
    assert event.order.model_extra == {"new_order_field": "x"}
    assert event.order.status == "some_new_status" and event.order.is_open


def test_null_and_missing_mean_the_same() -> None:
    nulls = {
        "execution_id": None,
        "previous_execution_id": None,
        "price": None,
        "qty": None,
        "position_qty": None,
        "settle_date": None,
        "swap_rate": None,
        "reason": None,
        "legs": None,
        "position_qtys": None,
        "timestamp": None,
        "account_id": None,
        "order": None,
    }
    with_nulls = trade(trade_payload(**nulls))
    missing = trade(trade_payload(**{key: ... for key in nulls}))
    assert with_nulls.model_dump() == missing.model_dump()
    assert with_nulls.order is None and with_nulls.timestamp is None


def test_empty_strings_mean_none() -> None:
    event = parse_event(
        "accounts",
        json.dumps(
            {
                "account_id": "a",
                "at": AT,
                "event_ulid": "01HCMKXS94ST351NFGEZR57EHV",
                "status_from": "",
                "status_to": "APPROVED",
                "account_number": "",
                "crypto_status_from": "",
            }
        ),
    )
    assert isinstance(event, AccountStatusEvent)
    assert event.status_from is None and event.status_to == "APPROVED"
    assert event.account_number is None and event.crypto_status_from is None
    order_event = trade(trade_payload(order={"id": "o", "order_class": "", "asset_class": ""}))
    assert order_event.order is not None
    assert order_event.order.is_simple and order_event.order.asset_class == ""


@pytest.mark.parametrize(
    ("as_string", "as_number"),
    [
        ('"181.36"', "181.36"),
        ('"-0.01"', "-0.01"),
        ('"0"', "0"),
        ('"12"', "12"),
        ('"0.123456789012345678901234567890"', "0.123456789012345678901234567890"),
        ('"122011.09751111286868"', "122011.09751111286868"),
        ('"1E+3"', "1E+3"),
    ],
)
def test_numbers_as_strings_or_numbers_give_equal_exact_decimals(
    as_string: str, as_number: str
) -> None:
    prefix = trade_payload(event="fill").removesuffix("}")
    a = trade(f'{prefix},"price":{as_string},"position_qty":{as_string}}}')
    b = trade(f'{prefix},"price":{as_number},"position_qty":{as_number}}}')
    expected = Decimal(json.loads(as_string))
    assert a.price == b.price == a.position_qty == b.position_qty == expected
    assert str(a.price) == str(b.price) == str(expected)  # same digits, nothing via float
    nta = parse_event("nta", f'{{"at":"{AT}","event_ulid":"u","net_amount":{as_number}}}')
    assert isinstance(nta, NtaEvent) and nta.net_amount == expected


def test_legacy_v1_trade_event_is_keyed_by_its_ulid() -> None:
    event = trade(
        trade_payload(event="fill", event_id=10676567, event_ulid="01HCMKNJJRJ4E3RNFA1XR8CX7R")
    )
    assert event.key == "01HCMKNJJRJ4E3RNFA1XR8CX7R"
    assert event.event_id == 10676567  # the integer is kept as it came


@pytest.mark.parametrize("stream", list(EventStream))
def test_legacy_event_with_only_the_integer_id(stream: EventStream) -> None:
    data = json.dumps({"at": AT, "event": "fill", "entry_type": "FEE", "event_id": 10676567})
    assert parse_event(stream, data).key == "10676567"


@pytest.mark.parametrize("stream", list(EventStream))
def test_ids_are_opaque_even_outside_the_ulid_alphabet(stream: EventStream) -> None:
    odd = "01HCMKNJILLIIL0UOU0ULID!::x"
    v2 = parse_event(stream, json.dumps({"at": AT, "event": "fill", "event_id": odd}))
    assert v2.key == odd
    v1 = parse_event(stream, json.dumps({"at": AT, "event": "fill", "event_ulid": odd}))
    assert v1.key == odd


def test_v1_streams_prefer_the_ulid_over_the_integer() -> None:
    data = json.dumps({"at": AT, "event_id": 5, "event_ulid": "01JCEZ1ZDCE44GFX6WZ75N4199"})
    assert parse_event("nta", data).key == "01JCEZ1ZDCE44GFX6WZ75N4199"
    assert parse_event("accounts", data).key == "01JCEZ1ZDCE44GFX6WZ75N4199"


def test_multi_leg_fill() -> None:
    data = trade_payload(
        event="fill",
        execution_id=...,
        order={
            "id": "parent",
            "order_class": "mleg",
            "asset_class": "",
            "symbol": "",
            "qty": "1",
            "status": "filled",
            "legs": [
                {"id": "leg1", "symbol": "AAPL250620C00100000", "ratio_qty": "1", "side": "buy"},
                {"id": "leg2", "symbol": "AAPL250620C00110000", "ratio_qty": "2", "side": "sell"},
            ],
        },
        legs=[
            {
                "execution_id": "e1",
                "order_id": "leg1",
                "price": "1.5",
                "qty": "1",
                "symbol": "AAPL250620C00100000",
                "timestamp": AT,
            },
            {
                "execution_id": "e2",
                "order_id": "leg2",
                "price": "0.5",
                "qty": "2",
                "symbol": "AAPL250620C00110000",
                "timestamp": AT,
            },
        ],
        position_qtys={"AAPL250620C00100000": "1", "AAPL250620C00110000": "-2"},
    )
    event = trade(data)
    assert event.execution_id is None and event.execution_key is None
    assert event.position_qty is None
    assert event.position_qtys == {"AAPL250620C00100000": "1", "AAPL250620C00110000": "-2"}
    assert event.legs is not None and [leg["order_id"] for leg in event.legs] == ["leg1", "leg2"]
    order = event.order
    assert order is not None and order.legs is not None
    assert not order.is_simple and order.asset_class == "" and order.symbol == ""
    assert all(isinstance(leg, WireOrder) for leg in order.legs)
    assert [leg.ratio_qty for leg in order.legs] == [Decimal(1), Decimal(2)]


def test_position_qtys_as_a_string_is_kept_too() -> None:
    event = trade(trade_payload(event="fill", position_qtys='{"AAPL":"1"}'))
    assert event.position_qtys == '{"AAPL":"1"}'


def test_trade_bust_with_negative_qty() -> None:
    data = trade_payload(
        event="trade_bust",
        execution_id="b0b0b0b0-0000-0000-0000-000000000001",
        previous_execution_id="33cbb614-bfc0-468b-b4d0-ccf08588ef77",
        qty="-0.05513895",
        position_qty="0.05513895",
        order={"id": "o", "status": "filled", "filled_qty": "0", "filled_avg_price": None},
    )
    event = trade(data)
    assert event.kind == "trade_bust"
    assert event.qty == Decimal("-0.05513895")
    assert event.position_qty == Decimal("0.05513895")
    assert event.previous_execution_id == "33cbb614-bfc0-468b-b4d0-ccf08588ef77"
    assert event.order is not None
    assert event.order.status == "filled" and event.order.filled_qty == 0


def test_trade_correct() -> None:
    data = trade_payload(
        event="trade_correct",
        execution_id="c0",
        previous_execution_id="33cbb614-bfc0-468b-b4d0-ccf08588ef77",
        qty="10",
        price="101.25",
        order={"id": "o", "status": "filled", "filled_qty": "10", "filled_avg_price": "101.25"},
    )
    event = trade(data)
    assert event.kind == "trade_correct" and event.qty == 10 and event.price == Decimal("101.25")
    assert event.execution_key == ("c0", "trade_correct")


def test_rejection_reason_and_settle_date() -> None:
    event = trade(
        trade_payload(event="order_cancel_rejected", reason="TOO_LATE_TO_CANCEL", settle_date="")
    )
    assert event.reason == "TOO_LATE_TO_CANCEL" and event.settle_date is None
    fill = trade(trade_payload(event="fill", settle_date="2024-03-05", swap_rate="1.0825"))
    assert fill.settle_date == date(2024, 3, 5) and fill.swap_rate == Decimal("1.0825")


def test_account_event_with_admin_configurations_and_nested_objects() -> None:
    data = json.dumps(
        {
            "account_id": "a",
            "at": "2024-01-02T03:04:05.6789+02:00",
            "event_id": 7,
            "event_ulid": "01HQ",
            "admin_configurations": {"allow_instant_ach": True, "disable_shorting": False},
            "trading_blocked": True,
            "pattern_day_trader": False,
            "kyc_results": {"accept": ["X"], "summary": "pass"},
            "options": {"approved_level_from": 0, "approved_level_to": 2},
            "cash_interest": {"USD": {"apr_tier_name": "x"}},
            "fpsl": "anything",
        }
    )
    event = parse_event("accounts", data)
    assert isinstance(event, AccountStatusEvent)
    assert event.admin_configurations == {"allow_instant_ach": True, "disable_shorting": False}
    assert event.trading_blocked is True and event.pattern_day_trader is False
    assert event.options == {"approved_level_from": 0, "approved_level_to": 2}
    assert event.at == datetime(2024, 1, 2, 1, 4, 5, 678900, tzinfo=UTC)
    assert event.at_raw == "2024-01-02T03:04:05.6789+02:00"


def test_raw_and_at_raw_are_kept_but_not_dumped() -> None:
    data = trade_payload(at="2024-03-01T09:30:00.000000001-05:00")
    event = trade(data)
    assert event.raw == data
    assert event.at_raw == "2024-03-01T09:30:00.000000001-05:00"
    assert event.at == datetime(2024, 3, 1, 14, 30, tzinfo=UTC)
    dumped = event.model_dump()
    assert "raw" not in dumped and "_raw" not in dumped and "at_raw" not in dumped
    assert "raw=" not in repr(event) and "at_raw" not in repr(event)
    again = TradeEvent.model_validate(event.model_dump(mode="json"))
    assert again.key == event.key and again.at == event.at


def test_same_millisecond_events_compare_by_raw_at() -> None:
    first = trade(trade_payload(at="2024-03-01T14:30:00.123456700Z", event_id="b"))
    second = trade(trade_payload(at="2024-03-01T14:30:00.123456789Z", event_id="a"))
    assert first.at == second.at  # microsecond precision cannot tell them apart
    assert first.at_raw < second.at_raw


def test_stream_may_be_given_as_text_or_enum() -> None:
    line = wire_line("trade_event_fill.json")
    assert parse_event("trades", line) == parse_event(EventStream.TRADES, line)


def test_unknown_stream_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="unknown event stream") as info:
        parse_event("journals", "{}")
    assert not isinstance(info.value, EventParseError)


# --- hostile input -------------------------------------------------------------------------------

T0 = '"event_id":"x","event":"fill","at":"2024-03-01T14:30:00Z"'

HOSTILE = [
    "",
    " ",
    "null",
    "[]",
    "42",
    '"fill"',
    "true",
    "{",
    "{}",
    '{"event":"fill"}',
    '{"event":"fill","at":"2024-03-01T14:30:00Z"}',
    '{"event":"fill","at":"2024-03-01T14:30:00Z","event_id":"","event_ulid":""}',
    '{"event":"fill","at":"2024-03-01T14:30:00Z","event_id":null,"event_ulid":null}',
    '{"event":"fill","at":"2024-03-01T14:30:00Z","event_id":true}',
    '{"event":"fill","at":"2024-03-01T14:30:00Z","event_id":1.5}',
    '{"event":"fill","at":"2024-03-01T14:30:00Z","event_id":["x"]}',
    '{"event":"fill","at":"2024-03-01T14:30:00Z","event_ulid":7}',
    '{"event_id":"x","event":"fill","at":"yesterday"}',
    '{"event_id":"x","event":"fill"}',
    '{"event_id":"x","event":"fill","at":null}',
    '{"event_id":"x","event":"fill","at":"0001-01-01T00:00:00+01:00"}',
    '{"event_id":"x","event":"fill","at":"2024-03-01T14:30:00+99:99"}',
    '{"event_id":"x","event":"fill","at":"2024-13-45T25:61:61Z"}',
    '{"event_id":"x","event":"fill","at":12345}',
    "{" + T0 + ',"qty":' + "9" * 5000 + "}",
    "[" * 50_000 + "]" * 50_000,
    '{"a":' * 5_000 + "1" + "}" * 5_000,
    "data: {}",
    "\x00\ud800",
]

TRADE_HOSTILE = [
    '{"event_id":"x","event":"","at":"2024-03-01T14:30:00Z"}',
    '{"event_id":"x","at":"2024-03-01T14:30:00Z"}',
    "{" + T0 + ',"order":[1,2]}',
    "{" + T0 + ',"order":"o"}',
    "{" + T0 + ',"order":{}}',
    "{" + T0 + ',"order":{"id":"o","qty":"many"}}',
    "{" + T0 + ',"order":{"id":"o","created_at":"yesterday"}}',
    "{" + T0 + ',"order":{"id":"o","legs":[{"id":1}]}}',
    "{" + T0 + ',"qty":"lots"}',
    "{" + T0 + ',"qty":NaN}',
    "{" + T0 + ',"price":"Infinity"}',
    "{" + T0 + ',"qty":true}',
    "{" + T0 + ',"legs":{"a":1}}',
    "{" + T0 + ',"settle_date":"soon"}',
]

NTA_HOSTILE = [
    "{" + T0 + ',"net_amount":"ten"}',
    "{" + T0 + ',"qty":NaN}',
    "{" + T0 + ',"system_date":"2024-02-30"}',
]

ACCOUNT_HOSTILE = [
    "{" + T0 + ',"admin_configurations":[1]}',
    "{" + T0 + ',"trading_blocked":"perhaps"}',
]

CASES = (
    [(stream, data) for stream in EventStream for data in HOSTILE]
    + [(EventStream.TRADES, data) for data in TRADE_HOSTILE]
    + [(EventStream.NTA, data) for data in NTA_HOSTILE]
    + [(EventStream.ACCOUNTS, data) for data in ACCOUNT_HOSTILE]
)


@pytest.mark.parametrize(("stream", "data"), CASES, ids=[f"{s.value}-{d[:40]!a}" for s, d in CASES])
def test_hostile_input_raises_event_parse_error(stream: EventStream, data: str) -> None:
    with pytest.raises(EventParseError) as info:
        parse_event(stream, data)
    error = info.value
    assert error.stream == stream.value
    assert error.reason and len(error.reason) <= 200
    assert len(error.excerpt) <= 120
    assert str(error).startswith(f"{stream.value} event rejected: ")


def test_error_message_shape() -> None:
    data = '{"account_id":"529248ad-c4cc-4a50-bea4-6bfd2953f83a","at":' + "x" * 300
    with pytest.raises(EventParseError) as info:
        parse_event("trades", data)
    error = info.value
    assert error.reason == "not JSON"
    assert error.excerpt == data[:117] + "..."
    assert str(error) == f"trades event rejected: not JSON (data: {error.excerpt!r})"
    assert isinstance(error, ValueError)


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        ("null", "null payload"),
        ("[]", "not a JSON object (array)"),
        ("42", "not a JSON object (number)"),
        ('{"event":"fill"}', "missing event id"),
        ('{"event_id":"x","event":"fill","at":"yesterday"}', "at: not a timestamp: 'yesterday'"),
    ],
)
def test_reasons_are_readable(data: str, reason: str) -> None:
    with pytest.raises(EventParseError) as info:
        parse_event("trades", data)
    assert info.value.reason == reason


def test_deeply_nested_orders_are_rejected_cleanly() -> None:
    order: dict[str, Any] = {"id": "leaf"}
    for depth in range(400):
        order = {"id": f"o{depth}", "legs": [order]}
    with pytest.raises(EventParseError):
        parse_event("trades", trade_payload(order=order))


def test_deep_junk_in_free_form_fields_is_tolerated() -> None:
    junk: Any = {"a": 1}
    for _ in range(300):
        junk = {"k": [junk]}
    event = trade(trade_payload(legs=[junk], position_qtys=junk, unknown=junk))
    assert event.position_qtys == junk


def test_event_parse_error_pickles() -> None:
    with pytest.raises(EventParseError) as info:
        parse_event("nta", "null")
    clone = pickle.loads(pickle.dumps(info.value))
    assert (clone.stream, clone.reason, clone.excerpt) == ("nta", "null payload", "null")
    assert str(clone) == str(info.value)


def test_key_without_any_id_raises_event_parse_error() -> None:
    event = TradeEvent.model_construct(event="fill", at=datetime.now(UTC), at_raw="")
    with pytest.raises(EventParseError, match="missing event id"):
        _ = event.key


# --- property tests: nothing but EventParseError ever escapes ------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=25,
)

ids = st.one_of(
    st.text(max_size=30), st.integers(), st.none(), st.just("01HCMKNJK1Y0R7VF6Q6CAC3SH7")
)
timestamps = st.one_of(
    st.text(max_size=40),
    st.just("2023-10-13T13:30:00.658388668Z"),
    st.just("2022-04-19T10:12:30.57117938-04:00"),
    st.datetimes(timezones=st.just(UTC)).map(lambda d: d.isoformat()),
)
decimals_text = st.one_of(
    st.decimals(allow_nan=False, allow_infinity=False).map(str),
    st.text(max_size=10),
    st.integers(),
    st.floats(),
)
TRADE_FIELDS = ["price", "qty", "position_qty", "swap_rate", "net_amount", "per_share_amount"]
order_dicts = st.fixed_dictionaries(
    {"id": st.text(max_size=10)},
    optional={
        "status": json_values,
        "qty": decimals_text,
        "filled_qty": decimals_text,
        "created_at": timestamps,
        "legs": st.none()
        | st.lists(st.fixed_dictionaries({"id": st.text(max_size=5)}), max_size=2),
        "symbol": json_values,
        "extended_hours": json_values,
    },
)
structured_events = st.fixed_dictionaries(
    {"at": timestamps},
    optional={
        "event_id": ids,
        "event_ulid": ids,
        "event": st.text(max_size=12),
        "order": order_dicts | json_values,
        "timestamp": timestamps,
        "settle_date": st.text(max_size=12) | st.dates().map(str),
        "status_from": json_values,
        "admin_configurations": json_values,
        "legs": json_values,
        "position_qtys": json_values,
        "entry_type": json_values,
        "symbol": json_values,
        **{name: decimals_text for name in TRADE_FIELDS},
    },
)


def check_parse(stream: EventStream, data: str) -> None:
    try:
        event = parse_event(stream, data)
    except EventParseError as error:
        assert error.stream == stream.value and len(error.excerpt) <= 120
        return
    assert event.stream is stream
    assert isinstance(event.key, str) and event.key
    assert isinstance(event.kind, str)
    assert event.raw == data
    assert event.at.utcoffset() == timedelta(0)


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(list(EventStream)), st.text())
def test_arbitrary_text_only_raises_event_parse_error(stream: EventStream, data: str) -> None:
    check_parse(stream, data)


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(list(EventStream)), json_values)
def test_arbitrary_json_only_raises_event_parse_error(stream: EventStream, value: Any) -> None:
    check_parse(stream, json.dumps(value))


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(list(EventStream)), structured_events)
def test_event_shaped_json_only_raises_event_parse_error(
    stream: EventStream, value: dict[str, Any]
) -> None:
    check_parse(stream, json.dumps(value))


@settings(max_examples=200, deadline=None)
@given(st.decimals(allow_nan=False, allow_infinity=False))
def test_any_decimal_reads_the_same_as_string_or_number(value: Decimal) -> None:
    text = str(value)
    as_string = trade(trade_payload(qty=text))
    as_number = trade(trade_payload().removesuffix("}") + f',"qty":{text}}}')
    assert as_string.qty == as_number.qty == value


@settings(max_examples=200, deadline=None)
@given(
    st.datetimes(min_value=datetime(1971, 1, 1), max_value=datetime(2200, 1, 1)),
    st.integers(min_value=-14 * 60, max_value=14 * 60),
    st.integers(min_value=0, max_value=999),
)
def test_at_is_utc_whatever_the_offset(naive: datetime, minutes: int, nanos: int) -> None:
    local = naive.replace(tzinfo=timezone(timedelta(minutes=minutes)))
    sign = "-" if minutes < 0 else "+"
    offset = f"{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"
    text = local.strftime("%Y-%m-%dT%H:%M:%S.%f") + f"{nanos:03d}" + offset
    event = trade(trade_payload(at=text))
    assert event.at == local and event.at.tzinfo == UTC
    assert event.at_raw == text
