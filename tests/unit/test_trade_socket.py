"""The trading websocket's messages as journal events (API.md §11.3.3), without a network:
ids with and without ``event_id``, text and binary frames, ``data: null``, unknown events,
the in-stream error and refusal, and the URL."""

from __future__ import annotations

import json

import pytest

from tui_trader.broker.sse import AuthRejected, StreamBroken
from tui_trader.broker.supervisor import fact_for
from tui_trader.broker.trade_socket import derived_id, frames_of, stream_url, trade_update_text
from tui_trader.core.events import TradeEvent, parse_event
from tui_trader.core.fastparse import trade_facts

ORDER = {
    "id": "a5be8f5e-fdfa-41f5-a644-7a74fe947a8f",
    "client_order_id": "4642fd68",
    "symbol": "AAPL",
    "side": "buy",
    "qty": "10",
    "filled_qty": "10",
    "filled_avg_price": "105.5",
    "type": "market",
    "order_type": "market",
    "time_in_force": "day",
    "status": "filled",
    "created_at": "2026-11-24T15:00:00.1Z",
    "updated_at": "2026-11-24T15:00:01.2Z",
}
OLD_FILL = {  # the older shape: no event_id, no at (the docs' single-leg sample)
    "event": "fill",
    "execution_id": "2f63ea93-423d-4169-b3f6-3fdafc10c418",
    "order": ORDER,
    "position_qty": "10",
    "price": "105.5",
    "qty": "10",
    "timestamp": "2026-11-24T15:00:01.024916716Z",
}
NEW_FILL = {**OLD_FILL, "at": "2026-11-24T15:00:01.03Z", "event_id": "01JJ3WE73W5PG672TC4XACXH5R"}


def envelope(data: object) -> str:
    return json.dumps({"stream": "trade_updates", "data": data})


def test_an_update_with_event_id_keeps_its_id_and_at() -> None:
    [text] = frames_of(envelope(NEW_FILL))
    event = parse_event("trades", text)
    assert isinstance(event, TradeEvent)
    assert event.key == "01JJ3WE73W5PG672TC4XACXH5R"
    assert event.at_raw == "2026-11-24T15:00:01.03Z"
    assert event.kind == "fill"


def test_an_update_without_event_id_gets_a_stable_id_and_its_timestamp_as_at() -> None:
    [text] = frames_of(envelope(OLD_FILL))
    [again] = frames_of(envelope(OLD_FILL))
    event = parse_event("trades", text)
    assert event.key == parse_event("trades", again).key == derived_id(OLD_FILL)
    assert event.key == "ws:fill:2f63ea93-423d-4169-b3f6-3fdafc10c418"
    assert event.at_raw == OLD_FILL["timestamp"]
    # the fast path ingest takes reads it too (no quarantine for a missing id)
    facts = trade_facts(text)
    assert facts is not None and facts.key == event.key


def test_without_execution_id_the_id_comes_from_event_order_filled_qty_and_time() -> None:
    partial = {k: v for k, v in OLD_FILL.items() if k != "execution_id"}
    partial = {**partial, "event": "partial_fill", "order": {**ORDER, "filled_qty": "4.0"}}
    key = derived_id(partial)
    assert key == f"ws:partial_fill:{ORDER['id']}:4:{OLD_FILL['timestamp']}"
    later = {**partial, "order": {**ORDER, "filled_qty": "7"}}
    assert derived_id(later) != key  # two executions of one order never share an id


def test_the_fact_is_the_one_rest_polling_derives_so_a_fill_is_journaled_once() -> None:
    [text] = frames_of(envelope(OLD_FILL))
    event = parse_event("trades", text)
    assert fact_for(event) == f"fill:{ORDER['id']}:10"
    facts = trade_facts(text)
    assert facts is not None and facts.fact == f"fill:{ORDER['id']}:10"
    [new] = frames_of(envelope({"event": "new", "order": {**ORDER, "status": "new"}}))
    assert fact_for(parse_event("trades", new)) == f"new:{ORDER['id']}"


def test_binary_and_text_frames_read_alike() -> None:
    text = envelope(NEW_FILL)
    assert frames_of(text.encode()) == frames_of(text)


def test_an_update_that_carries_its_id_and_at_is_journaled_as_it_came() -> None:
    """The fast path hands over the payload's own bytes (key order, spacing, non-ASCII
    text all kept): it reads the same as the payload, and as the general path's text."""
    payload = json.dumps({**NEW_FILL, "note": "café ☕"}, ensure_ascii=False, indent=1)
    frame = '{"stream": "trade_updates", "data": ' + payload + "}"
    [text] = frames_of(frame.encode())
    assert text == payload
    fast = parse_event("trades", text)
    general = trade_update_text({**NEW_FILL, "note": "café ☕"})  # the dict path's text
    assert general is not None
    assert isinstance(fast, TradeEvent)
    assert (fast.key, fast.at_raw, fast.kind) == (
        NEW_FILL["event_id"],
        NEW_FILL["at"],
        "fill",
    )
    assert json.loads(text) == json.loads(general)
    # an empty or non-string id or at is not "carried": the general path fills them in
    for odd in ({**NEW_FILL, "event_id": ""}, {**NEW_FILL, "at": 5}, {**NEW_FILL, "at": ""}):
        [filled] = frames_of(envelope(odd))
        event = parse_event("trades", filled)
        assert event.key and event.at_raw


def test_a_list_frame_and_unicode_take_the_general_path_intact() -> None:
    frame = json.dumps(
        [
            {"stream": "trade_updates", "data": {**OLD_FILL, "note": "ünïcode"}},
            {"stream": "trade_updates", "data": NEW_FILL},
        ]
    )
    first, second = frames_of(frame)
    assert json.loads(first)["note"] == "ünïcode"
    assert parse_event("trades", first).key == derived_id(OLD_FILL)
    assert parse_event("trades", second).key == NEW_FILL["event_id"]


def test_data_null_and_unknown_messages_are_tolerated() -> None:
    assert frames_of(envelope(None)) == []
    assert frames_of('{"stream":"something_new","data":{}}') == []
    assert frames_of("not json") == []
    assert frames_of("[1, 2]") == []
    # an event type nobody documented still reaches the journal (the set is open)
    [odd] = frames_of(envelope({**OLD_FILL, "event": "trade_teleported"}))
    assert parse_event("trades", odd).kind == "trade_teleported"


def test_an_in_stream_error_ends_the_connection_and_unauthorized_is_an_auth_refusal() -> None:
    error = {"action": "error", "data": {"error_message": "internal server error"}}
    with pytest.raises(StreamBroken, match="internal server error"):
        frames_of(json.dumps(error))
    refusal = {"stream": "authorization", "data": {"status": "unauthorized", "action": "listen"}}
    with pytest.raises(AuthRejected):
        frames_of(json.dumps(refusal).encode())


@pytest.mark.parametrize(
    ("base", "override", "expected"),
    [
        ("https://paper-api.alpaca.markets", None, "wss://paper-api.alpaca.markets/stream"),
        ("https://api.alpaca.markets/", None, "wss://api.alpaca.markets/stream"),
        ("http://127.0.0.1:8123", None, "ws://127.0.0.1:8123/stream"),
        ("https://paper-api.alpaca.markets", " wss://example.test/s ", "wss://example.test/s"),
    ],
)
def test_the_url_is_derived_from_the_base_unless_given(
    base: str, override: str | None, expected: str
) -> None:
    assert stream_url(base, override) == expected
