"""The ingest fast path agrees with the tolerant parser, and steps aside when unsure."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tui_trader.broker.supervisor import fact_for
from tui_trader.core.events import TradeEvent, parse_event
from tui_trader.core.fastparse import fact_of, trade_facts

FIXTURES = Path(__file__).parents[1] / "fixtures" / "alpaca"


def sample(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((FIXTURES / name).read_text())
    return data


def agree(payload: dict[str, Any]) -> None:
    text = json.dumps(payload, separators=(",", ":"))
    fast = trade_facts(text)
    slow = parse_event("trades", text)
    assert isinstance(slow, TradeEvent)
    assert fast is not None
    assert fast.key == slow.key
    assert fast.kind == slow.kind
    assert fast.at == slow.at_raw
    assert fast.fact == fact_for(slow)
    assert fast.symbol == (slow.order.symbol if slow.order else None)


@pytest.mark.parametrize("name", ["trade_event_fill.json", "trade_event_new.json"])
def test_fixtures_agree_with_the_tolerant_parser(name: str) -> None:
    agree(sample(name))


decimal_text = st.decimals(min_value=0, max_value=10**6, places=4, allow_nan=False).map(
    lambda d: format(d.normalize(), "f") if d != 0 else "0"
)


@settings(max_examples=150)
@given(
    kind=st.sampled_from(["fill", "partial_fill", "new", "canceled", "restated", "held"]),
    filled=decimal_text,
    symbol=st.sampled_from(["AAPL", "MSFT ", " BRK.B"]),
    offset=st.sampled_from(["Z", "+00:00", "-04:00"]),
)
def test_generated_events_agree(kind: str, filled: str, symbol: str, offset: str) -> None:
    event = sample("trade_event_fill.json")
    event["event"] = kind
    event["at"] = f"2023-10-13T13:30:00.673857{offset}"
    event["order"]["filled_qty"] = filled
    event["order"]["symbol"] = symbol
    agree(event)


@pytest.mark.parametrize(
    "change",
    [
        {"price": 181.36},  # a JSON number where decimal text belongs: exact path instead
        {"qty": ""},  # "" meaning none
        {"event_id": None},  # the v1 shape is left to the tolerant parser's rules
        {"at": "yesterday"},
        {"at": "2023-10-13T13:30:00"},  # no zone
        {"order": {"id": ""}},
        {"order": "not an object"},
        {"event": ""},
    ],
)
def test_unusual_events_take_the_tolerant_path(change: dict[str, Any]) -> None:
    event = {**sample("trade_event_fill.json"), **change}
    assert trade_facts(json.dumps(event)) is None


def test_numbers_are_still_parsed_exactly_on_the_tolerant_path() -> None:
    from decimal import Decimal

    event = sample("trade_event_fill.json")
    event["qty"] = "QTY"
    text = json.dumps(event).replace('"QTY"', "0.1000000000000000055511151231257827")
    assert trade_facts(text) is None  # a float would round it: not the fast path's job
    slow = parse_event("trades", text)
    assert isinstance(slow, TradeEvent)
    assert slow.qty == Decimal("0.1000000000000000055511151231257827")


@settings(max_examples=300)
@given(st.text(max_size=200) | st.just('{"at":"2023-10-13T13:30:00Z","event":"x"}'))
def test_never_raises_on_garbage(text: str) -> None:
    result = trade_facts(text)
    assert result is None or result.key


def test_fact_spelling_is_canonical() -> None:
    from decimal import Decimal

    assert fact_of("fill", "o1", Decimal("10.500")) == "fill:o1:10.5"
    assert fact_of("partial_fill", "o1", Decimal("3")) == "fill:o1:3"
    assert fact_of("new", "o1", None) == "new:o1"
    assert fact_of("restated", "o1", Decimal(1)) is None
    for text in ("10.50", "007", "1.0", "0.0"):
        event = sample("trade_event_fill.json")
        event["order"]["filled_qty"] = text
        facts = trade_facts(json.dumps(event))
        assert facts is not None
        assert facts.fact == fact_of("fill", event["order"]["id"], Decimal(text))


@settings(max_examples=100)
@given(
    kind=st.sampled_from(["new", "pending_new", "canceled", "expired", "rejected", "replaced"]),
    status=st.sampled_from(["new", "accepted", "canceled", "expired", "rejected", "filled"]),
    symbol=st.sampled_from(["AAPL", "MSFT ", " BRK.B"]),
)
def test_the_brief_reader_agrees_with_the_full_model(kind: str, status: str, symbol: str) -> None:
    """What the desk takes from events that cannot move the ledger, read natively, is what
    the full model says: the order's id, symbol and whether it is still open, and the text."""
    from tui_trader.core.fastparse import brief_trade
    from tui_trader.desk.events import _trade_text

    event = sample("trade_event_new.json")
    event["event"] = kind
    event["order"]["status"] = status
    event["order"]["symbol"] = symbol
    text = json.dumps(event)
    brief = brief_trade(text)
    full = parse_event("trades", text)
    assert isinstance(full, TradeEvent) and full.order is not None and brief is not None
    assert brief.kind == full.event
    assert brief.client_order_id == full.order.client_order_id
    assert brief.symbol == full.order.symbol
    from tui_trader.core.models import TERMINAL_ORDER_STATUSES

    assert (brief.status.lower() not in TERMINAL_ORDER_STATUSES) == full.order.is_open
    assert brief.text == _trade_text(full)


def test_the_brief_reader_steps_aside_when_unsure() -> None:
    from tui_trader.core.fastparse import brief_trade

    assert brief_trade("not json") is None
    assert brief_trade(json.dumps({"event": "new"})) is None  # no order: the full parser
    assert brief_trade(json.dumps({"event": "new", "order": {"id": "x"}})) is None  # no status


DEC = st.from_regex(r"\A(0|[1-9][0-9]{0,4})(\.[0-9]{1,4})?\Z")


@settings(max_examples=150)
@given(
    kind=st.sampled_from(["fill", "partial_fill"]),
    side=st.sampled_from(["buy", "sell", "sell_short", "Buy"]),
    status=st.sampled_from(["filled", "partially_filled", "canceled"]),
    qty=DEC,
    price=DEC,
    filled=st.one_of(st.none(), DEC),
    size=st.sampled_from([("qty", "7"), ("qty", "007"), ("notional", "10"), ("qty", None)]),
    execution_id=st.sampled_from(["33cbb614", "", None]),
    timestamp=st.sampled_from(["2023-10-13T13:30:00.658388668Z", "", None]),
    position=st.one_of(st.none(), DEC),
)
def test_the_fill_reader_books_what_the_full_model_books(
    kind: str,
    side: str,
    status: str,
    qty: str,
    price: str,
    filled: str | None,
    size: tuple[str, str | None],
    execution_id: str | None,
    timestamp: str | None,
    position: str | None,
) -> None:
    """A plain fill read natively lands in the ledger as the full model lands it (same
    execution key, quantity, price, time and cash), and the desk shows the same line."""
    from decimal import Decimal

    from tui_trader.core.fastparse import brief_fill
    from tui_trader.core.models import TERMINAL_ORDER_STATUSES
    from tui_trader.core.portfolio import Portfolio
    from tui_trader.desk.events import _trade_text

    event = sample("trade_event_fill.json")
    event.update(event=kind, qty=qty, price=price, position_qty=position)
    event["execution_id"], event["timestamp"] = execution_id, timestamp
    order = event["order"]
    order.update(side=side, status=status, filled_qty=filled, qty=None, notional=None)
    order[size[0]] = size[1]
    text = json.dumps(event)
    fast = brief_fill(text)
    full = parse_event("trades", text)
    assert isinstance(full, TradeEvent) and full.order is not None and fast is not None
    assert fast.text == _trade_text(full)
    assert fast.client_order_id == full.order.client_order_id
    assert (fast.status.lower() not in TERMINAL_ORDER_STATUSES) == full.order.is_open
    one, other = Portfolio(cash=Decimal(1000)), Portfolio(cash=Decimal(1000))
    booked = one.book_execution(fast.key, fast.symbol, fast.side, fast.qty, fast.price, fast.at)
    assert booked == other.apply(full)
    assert one.snapshot() == other.snapshot()
    # the same fill again, either way round, books nothing: the key is the same
    assert not other.book_execution(fast.key, fast.symbol, fast.side, fast.qty, fast.price, fast.at)
    assert not one.apply(full)


def test_the_fill_reader_steps_aside_when_unsure() -> None:
    from tui_trader.core.fastparse import brief_fill

    fill = sample("trade_event_fill.json")
    assert brief_fill(json.dumps(fill)) is not None
    for change in (
        {"legs": [{"symbol": "AAPL", "qty": "1", "price": "1"}]},  # multi-leg: the model
        {"price": None},
        {"price": 181.36},  # a JSON number: the exact path
        {"event": "trade_bust"},
        {"execution_id": " 33cb "},
    ):
        assert brief_fill(json.dumps({**fill, **change})) is None, change
    for order_change in ({"symbol": " AAPL"}, {"side": ""}, {"status": None}, {"id": ""}):
        odd = {**fill, "order": {**fill["order"], **order_change}}
        assert brief_fill(json.dumps(odd)) is None, order_change
    assert brief_fill("not json") is None
