"""The market-data websocket's frames and URLs (API.md §11.4): numbers to exact Decimals,
nanosecond timestamps, several messages per array, unknown kinds tolerated."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from tui_trader.broker.data_messages import ProtocolError, parse_frame
from tui_trader.broker.data_socket import stream_url, with_feed


def test_a_quote_reads_prices_as_the_exact_decimals_written() -> None:
    raw = (
        '[{"T":"q","S":"FAKEPACA","bx":"O","bp":133.85,"bs":4,"ax":"R","ap":135.77,"as":5,'
        '"c":["R"],"z":"A","t":"2024-07-24T07:56:53.639713735Z"}]'
    )
    frame = parse_frame(raw)
    ((symbol, q),) = frame.quotes
    assert symbol == "FAKEPACA"
    assert q.bid_price == Decimal("133.85") and str(q.bid_price) == "133.85"
    assert q.ask_price == Decimal("135.77") and q.ask_size == Decimal(5)
    # nanoseconds are cut to microseconds, never rounded up into the next one
    assert q.timestamp == datetime(2024, 7, 24, 7, 56, 53, 639713, tzinfo=UTC)


def test_a_price_no_float_can_hold_stays_exact() -> None:
    frame = parse_frame(
        '[{"T":"t","S":"X","i":1,"x":"V","p":0.1000000000000000055511151231,"s":3,"t":"2026-01-02T15:00:00Z"}]'
    )
    ((_, trade),) = frame.trades
    assert trade.price == Decimal("0.1000000000000000055511151231")


def test_several_messages_in_one_array_and_unknown_kinds_tolerated() -> None:
    raw = (
        '[{"T":"b","S":"SPY","o":388.985,"h":389.13,"l":388.975,"c":389.12,"v":49378,'
        '"t":"2021-02-22T19:15:00Z","n":16,"vw":389.01},'
        '{"T":"u","S":"SPY","o":388.985,"h":389.2,"l":388.975,"c":389.2,"v":49390,'
        '"t":"2021-02-22T19:15:00Z"},'
        '{"T":"t","S":"AAPL","i":628,"x":"K","p":162.92,"s":3,"c":["@","F"],"z":"C",'
        '"t":"2023-04-06T11:54:26.838232225Z"},'
        '{"T":"s","S":"AAPL","sc":"H","sm":"Trading Halt","t":"2021-02-22T19:15:00Z"},'
        '{"T":"zz","S":"AAPL"},'
        '{"T":"q","S":"AAPL","bp":"oops","t":"2021-02-22T19:15:00Z"}]'
    )
    frame = parse_frame(raw)
    assert [(s, b.close, corrected) for s, b, corrected in frame.bars] == [
        ("SPY", Decimal("389.12"), False),
        ("SPY", Decimal("389.2"), True),
    ]
    assert frame.bars[0][1].high == Decimal("389.13") and frame.bars[0][1].vwap == Decimal("389.01")
    assert frame.bars[0][1].timestamp == datetime(2021, 2, 22, 19, 15, tzinfo=UTC)
    assert frame.trades[0][1].price == Decimal("162.92")
    assert frame.data == 3 and frame.ignored == 3  # status, unknown kind, a bad quote


def test_control_messages_are_kept_apart() -> None:
    frame = parse_frame(b'[{"T":"error","code":406,"msg":"connection limit exceeded"}]')
    assert frame.control == ({"T": "error", "code": 406, "msg": "connection limit exceeded"},)
    assert frame.data == 0


@pytest.mark.parametrize("raw", ["not json", "42", "[1, 2]"])
def test_a_frame_that_is_not_an_array_of_objects_is_a_protocol_error(raw: str) -> None:
    with pytest.raises(ProtocolError):
        parse_frame(raw)


@pytest.mark.parametrize(
    ("data_url", "feed", "expected"),
    [
        ("https://data.alpaca.markets", "iex", "wss://stream.data.alpaca.markets/v2/iex"),
        ("https://data.alpaca.markets", "sip", "wss://stream.data.alpaca.markets/v2/sip"),
        (
            "https://data.sandbox.alpaca.markets",
            "iex",
            "wss://stream.data.sandbox.alpaca.markets/v2/iex",
        ),
        ("http://127.0.0.1:8123", "iex", "ws://127.0.0.1:8123/v2/iex"),
        (
            "https://proxy.example:8443/alpaca",
            "delayed_sip",
            "wss://proxy.example:8443/alpaca/v2/delayed_sip",
        ),
    ],
)
def test_the_stream_url_comes_from_the_data_url(data_url: str, feed: str, expected: str) -> None:
    assert stream_url(data_url, feed) == expected


def test_an_override_wins_and_gets_the_feed_where_it_has_none() -> None:
    base = "https://data.alpaca.markets"
    assert stream_url(base, "iex", "wss://h.example") == "wss://h.example/v2/iex"
    assert stream_url(base, "sip", "wss://h.example/v2") == "wss://h.example/v2/sip"
    assert stream_url(base, "iex", "wss://h.example/v2/test") == "wss://h.example/v2/test"


def test_falling_back_changes_only_the_feed_segment() -> None:
    assert with_feed("wss://stream.data.alpaca.markets/v2/sip", "iex") == (
        "wss://stream.data.alpaca.markets/v2/iex"
    )
    assert with_feed("wss://h.example/custom", "iex") == "wss://h.example/custom"
