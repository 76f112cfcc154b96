"""The ledger: hand-worked books, then the invariants replays and reconciles rely on."""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterable, Sequence
from dataclasses import FrozenInstanceError
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tui_trader.core.events import NtaEvent, TradeEvent, parse_event
from tui_trader.core.models import Position
from tui_trader.core.portfolio import BookSnapshot, Portfolio, PositionView, symbol_key

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "alpaca"
FILL_SAMPLE: dict[str, Any] = json.loads((FIXTURES / "trade_event_fill.json").read_text())
T0 = datetime(2024, 3, 1, 14, 30, tzinfo=UTC)
D = Decimal
_serial = itertools.count()

Event = TradeEvent | NtaEvent


def _stamp(n: int) -> str:
    return (T0 + timedelta(seconds=n)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def trade(event: str, **fields: Any) -> TradeEvent:
    """A trade event shaped like the published fill sample, through the real parser."""
    n = next(_serial)
    extra = fields.pop("order", {})
    order = (
        None
        if extra is None
        else {
            **FILL_SAMPLE["order"],
            "id": fields.pop("order_id", f"order-{n}"),
            "symbol": fields.pop("symbol", "AAPL"),
            "side": fields.pop("side", "buy"),
            "filled_qty": fields.pop("filled_qty", "0"),
            "filled_avg_price": fields.pop("filled_avg_price", None),
            **extra,
        }
    )
    payload = {
        **FILL_SAMPLE,
        "event": event,
        "event_id": fields.pop("event_id", f"01EV{n:022d}"),
        "at": _stamp(n),
        "timestamp": _stamp(n),
        "order": order,
        "execution_id": f"exec-{n}",
        **fields,
    }
    payload = {k: (str(v) if isinstance(v, Decimal) else v) for k, v in payload.items()}
    parsed = parse_event("trades", json.dumps({k: v for k, v in payload.items() if v is not ...}))
    assert isinstance(parsed, TradeEvent)
    return parsed


def fill(
    side: str, qty: str | Decimal, price: str | Decimal, symbol: str = "AAPL", **fields: Any
) -> TradeEvent:
    fields.setdefault("filled_qty", str(qty))
    kind = fields.pop("event", "fill")
    return trade(kind, side=side, qty=str(qty), price=str(price), symbol=symbol, **fields)


def bust(previous: str, qty: str = "-1") -> TradeEvent:
    return trade("trade_bust", previous_execution_id=previous, qty=qty, price=None)


def correct(previous: str, qty: str | None = None, price: str | None = None) -> TradeEvent:
    return trade("trade_correct", previous_execution_id=previous, qty=qty, price=price)


def nta(amount: str | Decimal, entry_type: str = "FEE", status: str = "executed") -> NtaEvent:
    n = next(_serial)
    data = {
        "at": _stamp(n),
        "event_ulid": f"01NT{n:022d}",
        "entry_type": entry_type,
        # a JSON number, as NTA sends it (two decimals survive float's shortest repr)
        "net_amount": float(amount),
        "status": status,
        "symbol": "",
    }
    parsed = parse_event("nta", json.dumps(data))
    assert isinstance(parsed, NtaEvent)
    return parsed


def position(
    symbol: str, qty: Decimal, avg: Decimal | None, current: Decimal | None = None
) -> Position:
    return Position.model_validate(
        {
            "symbol": symbol,
            "qty": str(qty),
            "side": "short" if qty < 0 else "long",
            "avg_entry_price": None if avg is None else str(avg),
            "current_price": None if current is None else str(current),
        }
    )


def feed(book: Portfolio, events: Iterable[Event]) -> None:
    for event in events:
        if isinstance(event, NtaEvent):
            book.apply_nta(event)
        else:
            book.apply(event)


def held(book: Portfolio, symbol: str) -> PositionView:
    view = book.position(symbol)
    assert view is not None
    return view


# --- hand-worked books ---------------------------------------------------------------------------


def test_buy_then_sell_part_realizes_at_the_average() -> None:
    book = Portfolio(D(10000))
    assert book.apply(fill("buy", "10", "100"))
    assert book.apply(fill("sell", "4", "110"))
    view = held(book, "AAPL")
    assert (view.qty, view.avg_entry, view.realized) == (D(6), D(100), D(40))
    assert view.cost_basis == D(600) and view.mark is None and view.unrealized == 0
    snap = book.snapshot()
    assert snap.cash == D(10000) - 1000 + 440
    assert snap.equity == D(10040) and snap.realized_pnl == D(40) and snap.fills == 2


def test_adding_updates_the_weighted_average() -> None:
    book = Portfolio()
    book.apply(fill("buy", "10", "100"))
    book.apply(fill("buy", "30", "104"))
    assert held(book, "AAPL").avg_entry == D(103)


def test_short_then_cover() -> None:
    book = Portfolio(D(5000))
    book.apply(fill("sell", "10", "100"))
    view = held(book, "AAPL")
    assert (view.qty, view.avg_entry, view.cost_basis) == (D(-10), D(100), D(-1000))
    book.apply(fill("buy", "4", "90"))
    view = held(book, "AAPL")
    assert (view.qty, view.avg_entry, view.realized) == (D(-6), D(100), D(40))
    book.apply(fill("buy", "6", "105"))
    view = held(book, "AAPL")
    assert (view.qty, view.realized, view.cost_basis) == (D(0), D(10), D(0))
    snap = book.snapshot()
    assert snap.positions == {} and snap.realized_pnl == D(10) and snap.cash == D(5010)


def test_crossing_zero_closes_at_the_average_and_opens_the_rest_at_the_price() -> None:
    book = Portfolio()
    book.apply(fill("buy", "6", "100"))
    book.apply(fill("sell", "10", "120"))
    view = held(book, "AAPL")
    assert (view.qty, view.avg_entry, view.realized) == (D(-4), D(120), D(120))
    book.apply(fill("buy", "7", "110"))  # cover 4 at +40, then long 3 @ 110
    view = held(book, "AAPL")
    assert (view.qty, view.avg_entry, view.realized) == (D(3), D(110), D(160))


def test_partial_fills_use_each_execution_not_the_order_average() -> None:
    book = Portfolio()
    common = {"order_id": "o-1"}
    book.apply(fill("buy", "3", "10", event="partial_fill", filled_avg_price="10", **common))
    book.apply(fill("buy", "2", "11", event="partial_fill", filled_qty="5", **common))
    book.apply(fill("buy", "5", "12", filled_qty="10", filled_avg_price="11.2", **common))
    view = held(book, "AAPL")
    assert (view.qty, view.avg_entry) == (D(10), D("11.2"))
    assert book.snapshot().cash == D(-112)


def test_marks_value_the_book() -> None:
    book = Portfolio(D(10000))
    book.apply(fill("buy", "10", "100"))
    book.apply(fill("sell", "5", "50", symbol="MSFT"))
    at = T0 + timedelta(hours=1)
    book.mark("AAPL", D(105), at)
    book.mark("MSFT", D(40))
    snap = book.snapshot()
    aapl, msft = snap.positions["AAPL"], snap.positions["MSFT"]
    assert (aapl.mark, aapl.market_value, aapl.unrealized) == (D(105), D(1050), D(50))
    assert (msft.market_value, msft.unrealized) == (D(-200), D(50))
    assert snap.cash == D(10000) - 1000 + 250
    assert snap.equity == snap.cash + 1050 - 200 == D(10100)
    assert snap.unrealized_pnl == D(100) and snap.realized_pnl == 0
    assert snap.gross_exposure == D(1250) and snap.net_exposure == D(850)
    assert snap.leverage == D(1250) / D(10100)
    assert snap.weight("AAPL") == D(1050) / D(10100) and snap.weight("MSFT") < 0
    assert snap.weight("TSLA") == 0
    assert snap.as_of == at


def test_unmarked_positions_are_valued_at_cost() -> None:
    book = Portfolio(D(1000))
    book.apply(fill("buy", "3", "100"))
    snap = book.snapshot()
    assert snap.equity == D(1000) and snap.positions["AAPL"].market_value == D(300)


def test_day_pnl_from_the_start_of_day() -> None:
    book = Portfolio(D(10000), day_start_equity=D(9900))
    assert book.snapshot().day_pnl == D(100)
    book.apply(fill("buy", "10", "100"))
    book.mark("AAPL", D(102))
    book.start_day()
    assert book.snapshot().day_start_equity == D(10020) and book.snapshot().day_pnl == 0
    book.mark("AAPL", D(99))
    assert book.snapshot().day_pnl == D(-30)
    book.start_day(D(10000))
    assert book.snapshot().day_pnl == D(-10)


def test_drawdown_from_the_peak() -> None:
    book = Portfolio(D(1000))
    book.apply(fill("buy", "10", "50"))
    book.mark("AAPL", D(60))
    assert book.snapshot().peak_equity == D(1100) and book.snapshot().drawdown == 0
    book.mark("AAPL", D(49))
    snap = book.snapshot()
    assert snap.equity == D(990) and snap.peak_equity == D(1100)
    assert snap.drawdown == D(110) / D(1100)
    book.mark("AAPL", D(70))
    assert book.snapshot().peak_equity == D(1200) and book.snapshot().drawdown == 0


def test_a_bust_undoes_a_fill_and_its_realized_pnl() -> None:
    book = Portfolio(D(10000))
    book.apply(fill("buy", "10", "100"))
    second = fill("buy", "10", "110")
    book.apply(second)
    book.apply(fill("sell", "10", "120"))
    assert held(book, "AAPL").realized == D(150)  # avg 105
    assert second.execution_id is not None
    assert book.apply(bust(second.execution_id, qty="-10"))
    view = held(book, "AAPL")
    assert (view.qty, view.realized) == (D(0), D(200))  # as if only 10 @ 100 had been bought
    assert book.snapshot().cash == D(10200)
    assert not book.apply(bust(second.execution_id, qty="-10"))  # voided once only


def test_a_bust_before_its_fill_voids_the_fill() -> None:
    book = Portfolio()
    late = fill("buy", "5", "10")
    assert late.execution_id is not None
    assert not book.apply(bust(late.execution_id))
    assert not book.apply(late)
    assert book.position("AAPL") is None and book.snapshot().cash == 0


def test_a_correction_changes_the_execution() -> None:
    book = Portfolio(D(1000))
    first = fill("buy", "10", "100")
    book.apply(first)
    book.apply(fill("sell", "5", "110"))
    assert first.execution_id is not None
    fix = correct(first.execution_id, qty="10", price="98")
    assert book.apply(fix)
    view = held(book, "AAPL")
    assert (view.qty, view.avg_entry, view.realized) == (D(5), D(98), D(60))
    assert book.snapshot().cash == D(1000) - 980 + 550
    assert not book.apply(fix)
    assert book.apply(correct(first.execution_id, qty="6"))  # price kept
    view = held(book, "AAPL")
    assert (view.qty, view.avg_entry) == (D(1), D(98))
    assert fix.execution_id is not None
    assert book.apply(bust(fix.execution_id))  # a bust may name the correction
    assert held(book, "AAPL").qty == D(-5)


def test_a_correction_before_its_fill_is_applied_when_it_arrives() -> None:
    book = Portfolio()
    late = fill("sell", "4", "20")
    assert late.execution_id is not None
    assert not book.apply(correct(late.execution_id, price="21"))
    assert book.apply(late)
    view = held(book, "AAPL")
    assert (view.qty, view.avg_entry) == (D(-4), D(21))


def test_a_repeated_fill_is_ignored() -> None:
    book = Portfolio(D(500))
    event = fill("buy", "2", "100")
    assert book.apply(event)
    before = book.snapshot()
    assert not book.apply(event)
    assert book.snapshot() is before
    assert held(book, "AAPL").qty == D(2) and before.fills == 1


def test_fills_without_execution_id_are_keyed_by_order_progress() -> None:
    book = Portfolio()
    first = fill("buy", "2", "10", order_id="o-9", filled_qty="2", execution_id=None)
    second = fill("buy", "3", "11", order_id="o-9", filled_qty="5.0", execution_id=None)
    assert book.apply(first) and book.apply(second)
    assert not book.apply(first) and not book.apply(second)
    assert held(book, "AAPL").qty == D(5)


def test_multi_leg_fill_books_every_leg() -> None:
    call, call2 = "AAPL250620C00100000", "AAPL250620C00110000"
    event = trade(
        "fill",
        execution_id=...,
        symbol="",
        side="buy",
        order={
            "order_class": "mleg",
            "asset_class": "",
            "legs": [
                {"id": "leg1", "symbol": call, "ratio_qty": "1", "side": "buy"},
                {"id": "leg2", "symbol": call2, "ratio_qty": "2", "side": "sell"},
            ],
        },
        legs=[
            {"execution_id": "e1", "order_id": "leg1", "price": "1.5", "qty": "1",
             "symbol": call, "timestamp": _stamp(0)},
            {"execution_id": "e2", "order_id": "leg2", "price": "0.5", "qty": "2",
             "symbol": call2, "timestamp": _stamp(0)},
        ],
        position_qtys={call: "1", call2: "-2"},
    )  # fmt: skip
    book = Portfolio(D(100))
    assert book.apply(event)
    assert not book.apply(event)
    snap = book.snapshot()
    assert (snap.positions[call].qty, snap.positions[call].avg_entry) == (D(1), D("1.5"))
    assert (snap.positions[call2].qty, snap.positions[call2].avg_entry) == (D(-2), D("0.5"))
    # Premium per unit as the legs report it; no contract multiplier is applied.
    assert snap.cash == D(100) - D("1.5") + D(1) and snap.fills == 2
    assert book.apply(bust("e2"))
    assert call2 not in book.snapshot().positions


def test_fees_and_dividends_move_cash_once() -> None:
    book = Portfolio(D(100))
    fee, dividend = nta("-0.01"), nta("3.25", entry_type="DIV")
    assert book.apply_nta(fee) and book.apply_nta(dividend)
    assert not book.apply_nta(fee) and not book.apply_nta(dividend)
    assert not book.apply_nta(nta("5", entry_type="CSD", status="pending"))
    snap = book.snapshot()
    assert snap.cash == D("103.24") and snap.equity == D("103.24") and snap.fills == 0


@pytest.mark.parametrize("kind", ["new", "canceled", "held", "some_future_type", "restated"])
def test_other_trade_events_change_nothing(kind: str) -> None:
    book = Portfolio(D(1))
    before = book.snapshot()
    assert not book.apply(trade(kind, qty="5", price="10"))
    assert book.snapshot() is before


def test_fills_it_cannot_book_are_ignored() -> None:
    book = Portfolio()
    assert not book.apply(fill("cross", "1", "10"))  # direction unknown
    assert not book.apply(fill("buy", "0", "10"))
    assert not book.apply(trade("fill", qty=None, price="10"))
    assert not book.apply(trade("fill", qty="1", price=None))
    assert not book.apply(trade("fill", qty="1", price="1", order=None))
    assert not book.apply(trade("trade_bust", previous_execution_id=None))
    assert not book.apply(correct("x"))  # nothing to change
    assert book.snapshot().fills == 0


def test_crypto_spellings_are_one_position() -> None:
    book = Portfolio()
    book.apply(fill("buy", "0.5", "60000", symbol="BTC/USD"))
    book.mark("BTCUSD", D(62000))
    snap = book.snapshot()
    assert list(snap.positions) == ["BTC/USD"]
    assert snap.positions["BTC/USD"].unrealized == D(1000)
    assert snap.weight("BTCUSD") == snap.weight("BTC/USD") != 0
    assert book.reconcile([position("BTCUSD", D("0.5"), D(60000), D(62000))]) == []


def test_reconcile_reports_and_corrects() -> None:
    book = Portfolio(D(1000))
    book.apply(fill("buy", "10", "100"))
    book.apply(fill("sell", "3", "50", symbol="MSFT"))
    book.apply(fill("buy", "1", "5", symbol="GONE"))
    messages = book.reconcile(
        [
            position("AAPL", D(12), D(101), current=D(103)),
            position("MSFT", D(-3), D("50.0000001")),  # rounding only
            position("TSLA", D(-2), D(200)),
        ],
        cash=D(1100),
    )
    assert messages == [
        "GONE: book had 1 @ 5, broker is flat",
        "AAPL: qty 10 -> 12, avg entry 100 -> 101",
        "TSLA: broker has -2 @ 200, book had none",
        "cash 145 -> 1100",
    ]
    snap = book.snapshot()
    assert {s: (v.qty, v.avg_entry) for s, v in snap.positions.items()} == {
        "AAPL": (D(12), D(101)),
        "MSFT": (D(-3), D(50)),  # rounding only: the book keeps its exact basis
        "TSLA": (D(-2), D(200)),
    }
    assert snap.positions["AAPL"].mark == D(103) and snap.cash == D(1100)
    assert book.reconcile([]) != [] and book.snapshot().positions == {}


def test_review_10_a_bust_after_a_reconcile_realizes_nothing_and_keeps_the_broker_basis() -> None:
    """The reconcile found 10 shares the book had missed (the broker's 20 @ 105 against the
    book's 10 @ 100: the missed 10 cost 1,100). A later bust of the book's own buy takes out
    its 10 @ 100 as if it had never been: 10 @ 110 remain (the missed ones), and the sell
    realizes against that basis. The old offsetting trade at the busted price left avg 105
    and realized 0 instead of 25."""
    book = Portfolio()
    first = fill("buy", "10", "100")
    book.apply(first)
    book.reconcile([position("AAPL", D(10), D(100))])  # agrees: nothing to correct
    book.reconcile([position("AAPL", D(20), D(105))])
    book.apply(fill("sell", "5", "115"))
    assert (held(book, "AAPL").qty, held(book, "AAPL").realized) == (D(15), D(50))
    assert first.execution_id is not None
    assert book.apply(bust(first.execution_id))
    view = held(book, "AAPL")
    assert (view.qty, view.avg_entry, view.realized) == (D(5), D(110), D(25))
    assert book.snapshot().cash == D(-1000) + 575 + 1000  # the buy's money back, the sale's in
    assert not book.apply(bust(first.execution_id))


def test_review_10_a_correction_after_a_reconcile_realizes_nothing() -> None:
    """Nothing was sold, so a price correction realizes nothing (the old offset booked -10).
    The reconcile had adopted the broker's basis, 1 a share above the book's; the correction
    lowers the execution's price by 1, so the basis moves by its own amount: 101 -> 100."""
    book = Portfolio()
    first = fill("buy", "10", "100")
    book.apply(first)
    assert book.reconcile([position("AAPL", D(10), D(101))]) == ["AAPL: avg entry 100 -> 101"]
    assert first.execution_id is not None
    assert book.apply(correct(first.execution_id, price="99"))
    view = held(book, "AAPL")
    assert (view.qty, view.avg_entry, view.realized) == (D(10), D(100), D(0))
    assert book.snapshot().cash == D(-990)
    assert book.apply(bust(first.execution_id))  # now names the corrected execution
    view = held(book, "AAPL")
    assert (view.qty, view.cost_basis, view.realized) == (0, 0, 0)
    assert book.snapshot().cash == 0 and book.snapshot().equity == 0


def test_review_10_a_bust_after_a_rounding_level_reconcile_is_exact() -> None:
    """The review's case 9b: the broker's average differs from the book's by rounding only
    (110.0001 against 110). The book keeps its exact figures, so a later bust of the first
    buy leaves exactly what the second bought: 10 @ 120, nothing realized."""
    book = Portfolio(D(100000))
    first = fill("buy", "10", "100")
    book.apply(first)
    book.apply(fill("buy", "10", "120"))
    assert book.reconcile([position("AAPL", D(20), D("110.0001"), D(110))]) == []
    assert first.execution_id is not None
    assert book.apply(bust(first.execution_id))
    view = held(book, "AAPL")
    assert (view.qty, view.avg_entry, view.realized) == (D(10), D(120), D(0))
    assert book.snapshot().cash == D(98800)


def test_review_10_a_bust_after_a_reconcile_that_agreed_is_exact() -> None:
    """The review's case 9: the reconcile agreed to the cent, then the first buy is busted."""
    book = Portfolio(D(100000))
    first = fill("buy", "10", "100")
    book.apply(first)
    book.apply(fill("buy", "10", "120"))
    assert book.reconcile([position("AAPL", D(20), D(110))], D(97800)) == []
    assert first.execution_id is not None
    assert book.apply(bust(first.execution_id))
    view = held(book, "AAPL")
    assert (view.qty, view.avg_entry, view.realized) == (D(10), D(120), D(0))
    assert book.snapshot().cash == D(98800)


def test_review_10_a_bust_after_a_reconcile_that_found_a_missed_fill() -> None:
    """Broker 25 @ 112 against the book's 20 @ 110: 5 shares the book missed, at 120. The
    first buy (10 @ 100) is then busted: 15 remain, 10 @ 120 and the missed 5 @ 120."""
    book = Portfolio(D(100000))
    first = fill("buy", "10", "100")
    book.apply(first)
    book.apply(fill("buy", "10", "120"))
    assert book.reconcile([position("AAPL", D(25), D(112))], D(97200)) == [
        "AAPL: qty 20 -> 25, avg entry 110 -> 112",
        "cash 97800 -> 97200",
    ]
    assert first.execution_id is not None
    assert book.apply(bust(first.execution_id))
    view = held(book, "AAPL")
    assert (view.qty, view.avg_entry, view.realized) == (D(15), D(120), D(0))
    assert book.snapshot().cash == D(98200)


def test_snapshots_are_immutable_and_cached() -> None:
    book = Portfolio(D(10))
    book.apply(fill("buy", "1", "5"))
    snap = book.snapshot()
    assert isinstance(snap, BookSnapshot) and book.snapshot() is snap
    with pytest.raises(TypeError):
        snap.positions["AAPL"] = snap.positions["AAPL"]  # type: ignore[index]
    with pytest.raises(FrozenInstanceError):
        snap.cash = D(0)  # type: ignore[misc]
    book.mark("AAPL", D(6))
    assert book.snapshot() is not snap and snap.equity == D(10)
    assert book.position("NEVER") is None and book.position("aapl") is not None


def test_marks_must_be_finite() -> None:
    with pytest.raises(ValueError):
        Portfolio().mark("AAPL", D("NaN"))


# --- invariants ----------------------------------------------------------------------------------

SYMBOLS = ("AAPL", "MSFT", "BTC/USD")
qtys = st.decimals(min_value=D("0.01"), max_value=D(50), places=2)
prices = st.decimals(min_value=D(1), max_value=D(500), places=2)


@st.composite
def event_sequences(draw: st.DrawFn) -> list[Event]:
    """Fills (some without execution id), busts and corrections aimed at earlier, later or
    unknown executions, NTA entries and non-fill events, in one account's order.
    """
    count = draw(st.integers(0, 30))
    events: list[Event] = []
    for index in range(count):
        kind = draw(st.sampled_from(["fill"] * 5 + ["partial", "bust", "correct", "nta", "other"]))
        target = f"x{draw(st.integers(0, max(count - 1, 0)))}"
        if kind in ("fill", "partial"):
            qty, price = draw(qtys), draw(prices)
            with_id = draw(st.booleans() | st.just(True))
            events.append(
                fill(
                    draw(st.sampled_from(["buy", "sell"])),
                    qty,
                    price,
                    draw(st.sampled_from(SYMBOLS)),
                    event="fill" if kind == "fill" else "partial_fill",
                    execution_id=f"x{index}" if with_id else None,
                    order_id=f"o{index}",
                )
            )
        elif kind == "bust":
            events.append(bust(target))
        elif kind == "correct":
            new_qty = draw(st.none() | qtys.map(str))
            new_price = draw(prices.map(str) if new_qty is None else st.none() | prices.map(str))
            events.append(correct(target, new_qty, new_price))
        elif kind == "nta":
            events.append(nta(draw(st.decimals(min_value=-50, max_value=50, places=2))))
        else:
            events.append(trade(draw(st.sampled_from(["new", "canceled"])), qty="1", price="1"))
    return events


def chunks(events: Sequence[Event], cuts: list[int], overlaps: list[int]) -> list[Sequence[Event]]:
    """The sequence as a resuming reader sees it: pieces that restart a little early."""
    bounds = sorted({min(cut, len(events)) for cut in cuts} | {0, len(events)})
    pieces = []
    for i, (start, end) in enumerate(itertools.pairwise(bounds)):
        back = overlaps[i % len(overlaps)] if overlaps else 0
        pieces.append(events[max(0, start - back) : end])
    return pieces


@settings(max_examples=150, deadline=None)
@given(
    events=event_sequences(),
    cuts=st.lists(st.integers(0, 30), max_size=6),
    overlaps=st.lists(st.integers(0, 4), max_size=6),
)
def test_replaying_in_overlapping_chunks_gives_the_same_book(
    events: list[Event], cuts: list[int], overlaps: list[int]
) -> None:
    once = Portfolio(D(10000))
    feed(once, events)
    resumed = Portfolio(D(10000))
    for piece in chunks(events, cuts, overlaps):
        feed(resumed, piece)
    assert resumed.snapshot() == once.snapshot()
    for symbol in SYMBOLS:
        assert resumed.position(symbol) == once.position(symbol)
    feed(resumed, events)  # a full replay on top changes nothing either
    assert resumed.snapshot() == once.snapshot()


broker_states = st.dictionaries(
    st.sampled_from(["AAPL", "MSFT", "BTCUSD", "TSLA"]),
    st.tuples(
        st.decimals(min_value=-50, max_value=50, places=3).filter(bool),
        st.decimals(min_value=D("0.0001"), max_value=D(900), places=4),
        st.none() | prices,
    ),
    max_size=4,
)


def assert_book_is(book: Portfolio, broker: list[Position]) -> None:
    """Same positions; the average entry equal, or within rounding (the book keeps its own)."""
    got = {symbol_key(s): (v.qty, v.avg_entry) for s, v in book.snapshot().positions.items()}
    want = {symbol_key(p.symbol): (p.signed_qty, p.avg_entry_price) for p in broker}
    assert {s: q for s, (q, _) in got.items()} == {s: q for s, (q, _) in want.items()}
    for symbol, (_, avg) in want.items():
        assert avg is not None
        assert abs(got[symbol][1] - avg) <= D("1e-6") * max(D(1), abs(avg))


@settings(max_examples=150, deadline=None)
@given(events=event_sequences(), state=broker_states, cash=st.none() | prices)
def test_reconcile_makes_the_book_equal_the_broker(
    events: list[Event],
    state: dict[str, tuple[Decimal, Decimal, Decimal | None]],
    cash: Decimal | None,
) -> None:
    book = Portfolio(D(10000))
    feed(book, events)
    mine = [
        position(v.symbol, v.qty, v.avg_entry, v.mark) for v in book.snapshot().positions.values()
    ]
    before = book.snapshot()
    assert book.reconcile(mine, before.cash) == []  # the book agrees with itself
    assert_book_is(book, mine)
    assert abs(book.snapshot().equity - before.equity) <= D("1e-12")  # avg entry rounding

    broker = [position(symbol, q, avg, mark) for symbol, (q, avg, mark) in state.items()]
    book.reconcile(broker, cash)
    assert_book_is(book, broker)
    if cash is not None:
        assert book.snapshot().cash == cash
    assert book.reconcile(broker, cash) == []
    feed(book, events)  # a replay after the reconcile books nothing again
    assert_book_is(book, broker)


@settings(max_examples=150, deadline=None)
@given(before=event_sequences(), after=event_sequences())
def test_review_10_busts_and_corrections_after_an_agreeing_reconcile_book_as_without_it(
    before: list[Event], after: list[Event]
) -> None:
    """A reconcile with a broker that agrees with the book (to rounding) leaves every later
    event, busts and corrections of earlier executions included, booking exactly as it
    would have without the reconcile: quantity, basis, realized P&L and cash."""
    plain, checked = Portfolio(D(10000)), Portfolio(D(10000))
    feed(plain, before)
    feed(checked, before)
    mine = [
        position(v.symbol, v.qty, v.avg_entry, v.mark)
        for v in checked.snapshot().positions.values()
    ]
    assert checked.reconcile(mine, checked.snapshot().cash) == []
    # the second list reuses execution ids x0.. so its busts and corrections hit the first's
    feed(plain, after)
    feed(checked, after)
    assert checked.snapshot().cash == plain.snapshot().cash
    for symbol in SYMBOLS:
        assert checked.position(symbol) == plain.position(symbol)


@settings(max_examples=150, deadline=None)
@given(
    events=event_sequences(),
    marks=st.dictionaries(st.sampled_from(SYMBOLS), prices),
)
def test_fills_create_no_money_and_pnl_adds_up(
    events: list[Event], marks: dict[str, Decimal]
) -> None:
    start = D(10000)
    book = Portfolio(start)
    feed(book, events)
    # Independent model of what stays booked: live executions with their latest figures.
    live: dict[str, tuple[str, Decimal, Decimal]] = {}
    voided: set[str] = set()
    external = D(0)
    for event in events:
        if isinstance(event, NtaEvent):
            external += event.net_amount or 0
        elif event.event in ("fill", "partial_fill") and event.execution_id not in voided:
            assert event.order is not None and event.qty is not None and event.price is not None
            sign = 1 if event.order.side == "buy" else -1
            key = event.execution_id or f"{event.order.id}"
            live[key] = (event.order.symbol, sign * event.qty, event.price)
        elif event.event == "trade_bust" and event.previous_execution_id is not None:
            target = event.previous_execution_id
            if live.pop(target, None) is None:
                voided.add(target)
    filled = {
        e.execution_id for e in events if isinstance(e, TradeEvent) and e.event != "trade_correct"
    }
    corrected = any(
        isinstance(e, TradeEvent)
        and e.event == "trade_correct"
        and e.previous_execution_id in filled
        for e in events
    )
    snap = book.snapshot()
    cost = sum((v.cost_basis for v in snap.positions.values()), D(0))
    assert snap.cash + cost - snap.realized_pnl == start + external
    if not corrected:  # the simple model does not replay corrections
        assert snap.cash == start + external - sum((q * p for _, q, p in live.values()), D(0))
        for symbol in SYMBOLS:
            view = book.position(symbol)
            flows = [(q, p) for s, q, p in live.values() if s == symbol]
            qty = sum((q for q, _ in flows), D(0))
            assert (view.qty if view else D(0)) == qty
            if view is not None:  # per symbol: open cost - realized = money paid in
                assert view.cost_basis - view.realized == sum((q * p for q, p in flows), D(0))
    for symbol, price in marks.items():
        book.mark(symbol, price)
    snap = book.snapshot()
    assert snap.realized_pnl + snap.unrealized_pnl == snap.equity - start - external
    assert snap.drawdown >= 0 and snap.peak_equity >= snap.equity
    assert snap.gross_exposure >= abs(snap.net_exposure)


# --- a long session ---------------------------------------------------------------------------


def test_a_long_session_forgets_old_executions_without_changing_the_book() -> None:
    """Memory stays flat: past the cap, older executions are folded into the base. The book
    equals one that remembers everything; a bust of a recent fill still books, exactly as
    in the full book; a bust naming a forgotten one is not booked (reconcile repairs it)."""
    capped, full = Portfolio(D(100000), max_execs=50), Portfolio(D(100000), max_execs=10**9)
    fills = []
    for i in range(400):
        symbol = ("AAPL", "MSFT", "TSLA")[i % 3]
        side = "buy" if (i // 3) % 4 != 3 else "sell"
        f = fill(side, str(1 + i % 5), str(100 + (i % 17)), symbol=symbol)
        fills.append(f)
        assert capped.apply(f) == full.apply(f)
        assert capped.remembered_execs <= 50
    assert full.remembered_execs == 400 and capped.remembered_execs >= 25  # halved, not emptied
    for symbol in ("AAPL", "MSFT", "TSLA"):
        a, b = held(capped, symbol), held(full, symbol)
        assert (a.qty, a.avg_entry, a.realized) == (b.qty, b.avg_entry, b.realized)
    assert capped.snapshot().cash == full.snapshot().cash
    recent = fills[-2]
    assert recent.execution_id is not None and recent.qty is not None
    undo = bust(recent.execution_id, qty=str(-recent.qty))
    assert capped.apply(undo) and full.apply(undo)
    symbol = recent.order.symbol if recent.order else "AAPL"
    a, b = held(capped, symbol), held(full, symbol)
    assert (a.qty, a.avg_entry, a.realized) == (b.qty, b.avg_entry, b.realized)
    assert capped.snapshot().cash == full.snapshot().cash
    assert not capped.apply(recent)  # still recognised as a replay
    forgotten = fills[0]
    assert forgotten.execution_id is not None
    before = capped.snapshot()
    assert not capped.apply(bust(forgotten.execution_id, qty="-1"))
    assert capped.snapshot().cash == before.cash


# --- review #6: no zero day-start ---------------------------------------------------------------


def test_review_06_a_ledger_whose_account_is_unknown_says_so_until_it_is_read() -> None:
    book = Portfolio(None)  # as the desk starts
    assert not book.snapshot().account_known
    book.reconcile([position("AAPL", D(10), D(100), current=D(100))])  # positions alone
    book.mark("AAPL", D(120))  # a peak made of positions without their cash
    assert not book.snapshot().account_known
    book.reconcile([position("AAPL", D(10), D(100), current=D(110))], D(-500))
    assert not book.snapshot().account_known  # cash, but not the day's start yet
    book.start_day(D(700))
    snap = book.snapshot()
    assert snap.account_known and (snap.equity, snap.day_pnl) == (D(600), D(-100))
    assert snap.peak_equity == D(600)  # the cash-less peak of 1,200 is forgotten
    book.forget_day()  # a new trading day whose start is not read yet
    assert not book.snapshot().account_known
    book.start_day(D(600))
    assert book.snapshot().account_known and book.snapshot().day_pnl == 0
    assert Portfolio().snapshot().account_known  # an explicit cash of 0 is known
