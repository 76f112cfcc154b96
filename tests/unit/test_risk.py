"""Risk engine: every breaker trips at its limit and not a cent or a unit before, losses latch
until a reset, passing trouble lifts by itself, REDUCING lets only shrinking orders through,
and the gate fails closed. The clock is injected: nothing here sleeps."""

from __future__ import annotations

from dataclasses import FrozenInstanceError, dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tui_trader.config import RiskSettings
from tui_trader.core.models import WireOrder
from tui_trader.core.orders import Order, OrderBuilder, OrderType, Side, TimeInForce
from tui_trader.core.risk import (
    ALLOWED,
    Book,
    BreakerName,
    BreakerState,
    Cancel,
    Flatten,
    Intent,
    RiskEngine,
    RiskLimits,
    TradingState,
    Verdict,
)
from tui_trader.core.working import WorkingOrders, news_from_wire

D = Decimal
T0 = datetime(2024, 3, 4, 15, 0, tzinfo=UTC)
CENT = D("0.01")
START = D("100000")
ZERO = D(0)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


@dataclass
class FakeBook:
    equity: Decimal = START
    day_start_equity: Decimal | None = START
    peak_equity: Decimal = START
    gross_exposure: Decimal = ZERO
    positions: dict[str, Decimal] = field(default_factory=dict)
    marks: dict[str, Decimal] = field(default_factory=dict)

    def qty(self, symbol: str) -> Decimal:
        return self.positions.get(symbol, D(0))

    def price(self, symbol: str) -> Decimal | None:
        return self.marks.get(symbol)


class BrokenBook(FakeBook):
    """A ledger in a bad state: reading equity blows up."""

    @property
    def equity(self) -> Decimal:
        raise RuntimeError("ledger corrupt")

    @equity.setter
    def equity(self, value: Decimal) -> None:
        pass


def order(
    side: Side = Side.BUY,
    qty: str | None = None,
    *,
    notional: str | None = None,
    limit: str | None = None,
    symbol: str = "AAPL",
) -> Order:
    return Order(
        symbol=symbol,
        side=side,
        type=OrderType.LIMIT if limit is not None else OrderType.MARKET,
        time_in_force=TimeInForce.DAY,
        qty=None if qty is None else D(qty),
        notional=None if notional is None else D(notional),
        limit_price=None if limit is None else D(limit),
    )


def buy(qty: str | None = None, **kw: Any) -> Order:
    return order(Side.BUY, qty, **kw)


def sell(qty: str | None = None, **kw: Any) -> Order:
    return order(Side.SELL, qty, **kw)


def refresh(
    engine: RiskEngine,
    book: Book,
    now: datetime = T0,
    *,
    age: float | None = 1.0,
    up: bool = True,
    reconciling: bool = False,
) -> None:
    engine.update(book, now=now, market_data_age=age, stream_up=up, reconciling=reconciling)


def ready(limits: RiskLimits | None = None, book: Book | None = None) -> RiskEngine:
    engine = RiskEngine(limits)
    refresh(engine, book or FakeBook())
    return engine


def check(
    engine: RiskEngine,
    intent: Intent,
    book: Book,
    price: str | None = "100",
    now: datetime = T0,
) -> Verdict:
    return engine.check(intent, book, price=None if price is None else D(price), now=now)


# --- limits and verdicts ------------------------------------------------------------------------


def test_limits_from_default_settings_match_the_defaults() -> None:
    assert RiskSettings().limits() == RiskLimits()


def test_limits_from_settings_keep_float_text_exact() -> None:
    limits = RiskSettings(daily_loss_pct=3.1, max_gross_exposure=1.1).limits()
    assert limits.daily_loss_pct == D("3.1")
    assert limits.max_gross_exposure == D("1.1")


@pytest.mark.parametrize(
    "bad",
    [
        {"daily_loss_limit": D(0)},
        {"max_orders_per_minute": 0},
        {"stale_data_seconds": -1.0},
        {"warning_fraction": D(1)},
    ],
)
def test_limits_refuse_nonsense(bad: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        RiskLimits(**bad)


def test_verdict_text_is_code_colon_key_value() -> None:
    verdict = Verdict.deny("SYMBOL_NOTIONAL", symbol="AAPL", notional="25000.01", limit=25000)
    assert str(verdict) == "SYMBOL_NOTIONAL: symbol=AAPL notional=25000.01 limit=25000"
    assert (verdict.allowed, verdict.code) == (False, "SYMBOL_NOTIONAL")
    assert str(Verdict.deny("X", why="two words")) == "X: why=two_words"
    assert str(ALLOWED) == "allowed"
    assert ALLOWED.code is None


# --- loss breakers: trip at the limit, latch, reset -----------------------------------------


def test_daily_loss_trips_at_the_limit_not_a_cent_before() -> None:
    engine = ready()
    book = FakeBook(equity=D("100000") - D("2000") + CENT)
    refresh(engine, book, at(1))
    b = engine.breaker(BreakerName.DAILY_LOSS)
    assert (b.value, b.state) == (D("1999.99"), BreakerState.WARNING)
    assert engine.state is TradingState.ACTIVE

    book.equity = D("98000")
    refresh(engine, book, at(2))
    b = engine.breaker(BreakerName.DAILY_LOSS)
    assert b.state is BreakerState.TRIPPED
    assert b.tripped_at == at(2)
    assert b.reason == "DAILY_LOSS: loss=2000.00 limit=2000"
    assert b.latching
    assert engine.state is TradingState.HALTED


def test_daily_loss_pct_trips_at_the_limit_not_a_cent_before() -> None:
    engine = ready(RiskLimits(daily_loss_limit=D("1e9")))
    book = FakeBook(equity=D("97000.01"))
    refresh(engine, book)
    assert engine.breaker(BreakerName.DAILY_LOSS_PCT).state is BreakerState.WARNING
    assert engine.state is TradingState.ACTIVE
    book.equity = D("97000")
    refresh(engine, book)
    b = engine.breaker(BreakerName.DAILY_LOSS_PCT)
    assert (b.value, b.state) == (D(3), BreakerState.TRIPPED)
    assert b.reason == "DAILY_LOSS_PCT: loss_pct=3.00 limit=3"
    assert engine.state is TradingState.HALTED


def test_drawdown_trips_at_the_limit_not_a_cent_before() -> None:
    engine = ready()
    # Flat on the day (no daily loss), but 10% under the peak.
    book = FakeBook(equity=D("108000.01"), day_start_equity=D("108000.01"), peak_equity=D(120000))
    refresh(engine, book)
    assert engine.breaker(BreakerName.DRAWDOWN).state is BreakerState.WARNING
    assert engine.state is TradingState.ACTIVE
    book.equity = book.day_start_equity = D("108000")
    refresh(engine, book)
    b = engine.breaker(BreakerName.DRAWDOWN)
    assert (b.value, b.state) == (D(10), BreakerState.TRIPPED)
    assert engine.breaker(BreakerName.DAILY_LOSS).state is BreakerState.OK
    assert engine.state is TradingState.HALTED


def test_loss_warning_starts_at_eighty_percent() -> None:
    engine = ready()
    refresh(engine, FakeBook(equity=D("98400.01")))  # loss 1599.99
    assert engine.breaker(BreakerName.DAILY_LOSS).state is BreakerState.OK
    refresh(engine, FakeBook(equity=D("98400")))  # loss 1600 = 0.8 x 2000
    b = engine.breaker(BreakerName.DAILY_LOSS)
    assert b.state is BreakerState.WARNING
    assert b.utilisation == D("0.8")
    assert b.reason == "DAILY_LOSS: loss=1600.00 limit=2000"
    assert b.tripped_at is None


def test_a_loss_latches_until_reset_even_after_equity_recovers() -> None:
    engine = ready()
    book = FakeBook(equity=D("97900"))
    refresh(engine, book, at(1))
    book.equity = D("100000")
    refresh(engine, book, at(600))
    b = engine.breaker(BreakerName.DAILY_LOSS)
    assert b.state is BreakerState.TRIPPED
    assert b.value == 0
    assert (b.tripped_at, b.reason) == (at(1), "DAILY_LOSS: loss=2100.00 limit=2000")
    assert engine.state is TradingState.HALTED
    assert engine.resume() is TradingState.HALTED  # resume does not lift a latch

    assert engine.reset("DAILY_LOSS", at(601)).allowed
    b = engine.breaker(BreakerName.DAILY_LOSS)
    assert (b.state, b.tripped_at, b.reason) == (BreakerState.OK, None, None)
    assert engine.state is TradingState.ACTIVE


def test_reset_refuses_while_the_value_is_still_at_the_limit() -> None:
    engine = ready()
    book = FakeBook(equity=D("97900"))
    refresh(engine, book)
    refused = engine.reset(BreakerName.DAILY_LOSS, at(1))
    assert not refused.allowed
    assert str(refused) == "RESET_REFUSED: breaker=DAILY_LOSS value=2100.00 limit=2000"
    assert engine.state is TradingState.HALTED
    book.equity = D("98000")  # exactly at the limit: still refused
    refresh(engine, book, at(2))
    assert not engine.reset(BreakerName.DAILY_LOSS, at(2)).allowed
    book.equity = D("98000.01")
    refresh(engine, book, at(3))
    assert engine.reset(BreakerName.DAILY_LOSS, at(3)).allowed
    assert engine.breaker(BreakerName.DAILY_LOSS).state is BreakerState.WARNING
    assert engine.state is TradingState.ACTIVE


def test_reset_of_an_unknown_or_healthy_breaker() -> None:
    engine = ready()
    assert str(engine.reset("NOPE", T0)) == "RESET_REFUSED: breaker=NOPE reason=unknown"
    assert engine.reset("DRAWDOWN", T0).allowed


def test_check_sees_a_loss_before_the_next_update() -> None:
    engine = ready()
    verdict = check(engine, buy("1"), FakeBook(equity=D("98000")))
    assert str(verdict) == "HALTED: breaker=DAILY_LOSS value=2000.00 limit=2000"
    assert engine.state is TradingState.HALTED


# --- HALTED -------------------------------------------------------------------------------------


def test_halted_denies_every_new_order_but_not_cancel_or_flatten() -> None:
    engine = ready()
    book = FakeBook(equity=D("97000"), positions={"AAPL": D(10)}, marks={"AAPL": D(100)})
    refresh(engine, book)
    assert engine.state is TradingState.HALTED
    for intent in (buy("1"), sell("1"), sell("10")):  # even a reducing sell
        verdict = check(engine, intent, book)
        assert not verdict.allowed
        assert verdict.code == "HALTED"
    assert check(engine, Cancel("abc"), book).allowed
    assert check(engine, Flatten(), book).allowed
    assert check(engine, Flatten("AAPL"), book).allowed
    assert engine.snapshot().last_verdict == ALLOWED


# --- ORDER_RATE ---------------------------------------------------------------------------------


def test_order_rate_trips_at_the_limit_not_one_before() -> None:
    engine = ready()
    for i in range(29):
        engine.record_order(at(i))
    b = engine.breaker(BreakerName.ORDER_RATE)
    assert (b.value, b.state) == (D(29), BreakerState.WARNING)
    assert engine.state is TradingState.ACTIVE
    engine.record_order(at(29))
    b = engine.breaker(BreakerName.ORDER_RATE)
    assert (b.value, b.state, b.tripped_at) == (D(30), BreakerState.TRIPPED, at(29))
    assert b.reason == "ORDER_RATE: orders=30 window=60s limit=30"
    assert not b.latching
    assert engine.state is TradingState.REDUCING
    denied = check(engine, buy("1"), FakeBook(), now=at(29))
    assert str(denied) == "REDUCING: symbol=AAPL side=buy position=0 cause=ORDER_RATE"


def test_order_rate_warns_at_eighty_percent() -> None:
    engine = ready()
    for i in range(23):
        engine.record_order(at(i))
    assert engine.breaker(BreakerName.ORDER_RATE).state is BreakerState.OK
    engine.record_order(at(23))  # 24 = 0.8 x 30
    assert engine.breaker(BreakerName.ORDER_RATE).state is BreakerState.WARNING


def test_order_rate_window_slides() -> None:
    engine = ready()
    for _ in range(29):
        engine.record_order(at(0))
    engine.record_order(at(60))  # the 29 at t=0 are a full minute old
    b = engine.breaker(BreakerName.ORDER_RATE)
    assert (b.value, b.state) == (D(1), BreakerState.OK)


def test_order_rate_recovers_by_itself_after_the_cooldown() -> None:
    engine = ready()
    for _ in range(30):
        engine.record_order(at(0))
    engine.tick(at(59.999))
    assert engine.state is TradingState.REDUCING
    engine.tick(at(60))
    b = engine.breaker(BreakerName.ORDER_RATE)
    assert (b.state, b.value, b.tripped_at) == (BreakerState.OK, D(0), None)
    assert engine.state is TradingState.ACTIVE


def test_order_rate_holds_past_the_cooldown_while_orders_keep_coming() -> None:
    limits = RiskLimits(rate_cooldown_seconds=10)
    engine = ready(limits)
    for i in range(30):
        engine.record_order(at(i / 10))  # 30 orders in 3 s; tripped at 2.9
    engine.tick(at(20))  # cooldown over but the window still holds 30
    b = engine.breaker(BreakerName.ORDER_RATE)
    assert (b.state, b.tripped_at) == (BreakerState.TRIPPED, at(2.9))
    engine.tick(at(60.05))  # the first order left the window: 29 < 30
    assert engine.breaker(BreakerName.ORDER_RATE).state is BreakerState.WARNING
    assert engine.state is TradingState.ACTIVE


# --- REJECT_STREAK ------------------------------------------------------------------------------


def test_reject_streak_trips_at_the_limit_and_clears_on_accept() -> None:
    engine = ready()
    for i in range(4):
        engine.record_reject(at(i))
    b = engine.breaker(BreakerName.REJECT_STREAK)
    assert (b.value, b.state) == (D(4), BreakerState.WARNING)  # 4 = 0.8 x 5
    engine.record_reject(at(4))
    b = engine.breaker(BreakerName.REJECT_STREAK)
    assert (b.state, b.tripped_at, b.reason) == (
        BreakerState.TRIPPED,
        at(4),
        "REJECT_STREAK: rejects=5 limit=5",
    )
    assert engine.state is TradingState.REDUCING
    engine.record_accept(at(5))
    b = engine.breaker(BreakerName.REJECT_STREAK)
    assert (b.value, b.state) == (D(0), BreakerState.OK)
    assert engine.state is TradingState.ACTIVE


def test_an_accept_breaks_the_streak() -> None:
    engine = ready()
    for i in range(4):
        engine.record_reject(at(i))
    engine.record_accept(at(4))
    for i in range(4):
        engine.record_reject(at(5 + i))
    assert engine.breaker(BreakerName.REJECT_STREAK).state is not BreakerState.TRIPPED


def test_reject_streak_recovers_after_the_cooldown_and_counts_from_zero() -> None:
    engine = ready()
    for _ in range(5):
        engine.record_reject(at(0))
    engine.tick(at(59.999))
    assert engine.state is TradingState.REDUCING
    engine.tick(at(60))
    b = engine.breaker(BreakerName.REJECT_STREAK)
    assert (b.value, b.state) == (D(0), BreakerState.OK)
    assert engine.state is TradingState.ACTIVE
    engine.record_reject(at(61))
    assert engine.breaker(BreakerName.REJECT_STREAK).value == 1


def test_reject_streak_can_be_reset_by_hand() -> None:
    engine = ready()
    for _ in range(5):
        engine.record_reject(at(0))
    assert engine.reset(BreakerName.REJECT_STREAK, at(1)).allowed
    assert engine.breaker(BreakerName.REJECT_STREAK).value == 0
    assert engine.state is TradingState.ACTIVE


# --- SYMBOL_NOTIONAL ----------------------------------------------------------------------------


def test_symbol_notional_allows_the_limit_and_denies_a_cent_more() -> None:
    engine = ready()
    book = FakeBook()
    assert check(engine, buy(notional="25000"), book).allowed
    denied = check(engine, buy(notional="25000.01"), book)
    assert str(denied) == "SYMBOL_NOTIONAL: symbol=AAPL notional=25000.01 limit=25000"
    assert denied.code == BreakerName.SYMBOL_NOTIONAL
    b = engine.breaker(BreakerName.SYMBOL_NOTIONAL)
    assert (b.value, b.state, b.tripped_at) == (D("25000.01"), BreakerState.TRIPPED, T0)
    # A per-order breaker: the desk stays ACTIVE and the next order is judged on its own.
    assert engine.state is TradingState.ACTIVE
    assert check(engine, buy("1"), book).allowed
    assert engine.breaker(BreakerName.SYMBOL_NOTIONAL).state is BreakerState.OK


def test_symbol_notional_counts_the_position_and_the_limit_price() -> None:
    engine = ready()
    long = FakeBook(positions={"AAPL": D(200)})
    assert check(engine, buy("50"), long).allowed  # (200 + 50) x 100 = 25000
    assert check(engine, buy("50.0001"), long).code == "SYMBOL_NOTIONAL"
    flat = FakeBook()
    assert check(engine, buy("100", limit="250"), flat, price=None).allowed
    assert check(engine, buy("100", limit="250.01"), flat, price=None).code == "SYMBOL_NOTIONAL"
    short = FakeBook(positions={"AAPL": D(-200)})
    assert check(engine, sell("50"), short).allowed
    assert check(engine, sell("51"), short).code == "SYMBOL_NOTIONAL"
    # A flip lands on the other side: long 100, sell 350 leaves short 250 = 25000.
    flip = FakeBook(positions={"AAPL": D(100)})
    assert check(engine, sell("350"), flip).allowed
    assert check(engine, sell("351"), flip).code == "SYMBOL_NOTIONAL"


def test_symbol_notional_warns_at_eighty_percent() -> None:
    engine = ready()
    check(engine, buy(notional="19999.99"), FakeBook())
    assert engine.breaker(BreakerName.SYMBOL_NOTIONAL).state is BreakerState.OK
    check(engine, buy(notional="20000"), FakeBook())
    assert engine.breaker(BreakerName.SYMBOL_NOTIONAL).state is BreakerState.WARNING


# --- GROSS_EXPOSURE -----------------------------------------------------------------------------


def test_gross_exposure_allows_the_limit_and_denies_a_cent_more() -> None:
    engine = ready(RiskLimits(max_symbol_notional=D("1e9")))
    book = FakeBook(gross_exposure=D(140000))  # limit 1.5 x 100000 = 150000
    assert check(engine, buy(notional="10000"), book).allowed
    denied = check(engine, buy(notional="10000.01"), book)
    assert str(denied) == "GROSS_EXPOSURE: symbol=AAPL gross=150000.01 limit=150000.00"


def test_gross_exposure_breaker_trips_above_the_cap_and_recovers() -> None:
    engine = ready()
    book = FakeBook(gross_exposure=D(120000) - CENT)
    refresh(engine, book)
    assert engine.breaker(BreakerName.GROSS_EXPOSURE).state is BreakerState.OK
    book.gross_exposure = D(120000)  # 0.8 x 150000
    refresh(engine, book)
    assert engine.breaker(BreakerName.GROSS_EXPOSURE).state is BreakerState.WARNING
    book.gross_exposure = D(150000)
    refresh(engine, book)
    assert engine.breaker(BreakerName.GROSS_EXPOSURE).state is BreakerState.WARNING
    assert engine.state is TradingState.ACTIVE
    book.gross_exposure = D(150000) + CENT
    refresh(engine, book, at(5))
    b = engine.breaker(BreakerName.GROSS_EXPOSURE)
    assert (b.state, b.limit, b.tripped_at) == (BreakerState.TRIPPED, D(150000), at(5))
    assert engine.state is TradingState.REDUCING
    book.gross_exposure = D(100000)
    refresh(engine, book, at(6))
    assert engine.state is TradingState.ACTIVE


def test_an_over_limit_position_can_still_be_reduced() -> None:
    engine = ready()
    book = FakeBook(positions={"AAPL": D(1000)}, gross_exposure=D(200000))  # marked at 100
    refresh(engine, book)
    assert engine.state is TradingState.REDUCING
    assert check(engine, sell("1"), book).allowed
    assert check(engine, buy("1"), book).code == "REDUCING"


# --- STALE_DATA and STREAM ----------------------------------------------------------------------


def test_stale_data_allows_the_limit_and_trips_above_it() -> None:
    engine = ready()
    refresh(engine, FakeBook(), age=23.9)
    assert engine.breaker(BreakerName.STALE_DATA).state is BreakerState.OK
    refresh(engine, FakeBook(), age=24.0)
    assert engine.breaker(BreakerName.STALE_DATA).state is BreakerState.WARNING
    refresh(engine, FakeBook(), age=30.0)
    assert engine.state is TradingState.ACTIVE
    refresh(engine, FakeBook(), at(3), age=30.001)
    b = engine.breaker(BreakerName.STALE_DATA)
    assert (b.state, b.tripped_at, b.reason) == (
        BreakerState.TRIPPED,
        at(3),
        "STALE_DATA: age=30.0 limit=30",
    )
    assert engine.state is TradingState.REDUCING
    refresh(engine, FakeBook(), at(4), age=0.5)
    assert engine.state is TradingState.ACTIVE


def test_unknown_data_age_blocks_only_orders_that_add_exposure() -> None:
    engine = RiskEngine()  # never updated: no market data yet
    book = FakeBook(positions={"AAPL": D(10)})
    assert engine.breaker(BreakerName.STALE_DATA).value is None
    assert engine.breaker(BreakerName.STALE_DATA).state is BreakerState.WARNING
    assert str(check(engine, buy("1"), book)) == "STALE_DATA: age=unknown limit=30"
    assert check(engine, sell("5"), book).allowed
    refresh(engine, book, age=None)
    assert check(engine, buy("1"), book).code == "STALE_DATA"
    refresh(engine, book, age=float("nan"))
    assert check(engine, buy("1"), book).code == "STALE_DATA"
    refresh(engine, book, age=2.0)
    assert check(engine, buy("1"), book).allowed


@pytest.mark.parametrize(("up", "reconciling"), [(False, False), (True, True), (False, True)])
def test_stream_down_or_reconciling_reduces_and_recovers(up: bool, reconciling: bool) -> None:
    engine = ready()
    refresh(engine, FakeBook(), at(1), up=up, reconciling=reconciling)
    b = engine.breaker(BreakerName.STREAM)
    assert (b.state, b.tripped_at) == (BreakerState.TRIPPED, at(1))
    assert b.reason == f"STREAM: up={str(up).lower()} reconciling={str(reconciling).lower()}"
    assert engine.state is TradingState.REDUCING
    assert check(engine, buy("1"), FakeBook()).code == "REDUCING"
    refresh(engine, FakeBook(), at(2))
    assert engine.breaker(BreakerName.STREAM).state is BreakerState.OK
    assert engine.state is TradingState.ACTIVE


# --- REDUCING and the user's pause --------------------------------------------------------------


@pytest.mark.parametrize(
    ("position", "intent", "allowed"),
    [
        ("100", sell("40"), True),
        ("100", sell("100"), True),  # to flat
        ("100", sell("100.5"), False),  # flips short
        ("100", buy("1"), False),
        ("-100", buy("40"), True),
        ("-100", buy("100"), True),
        ("-100", buy("101"), False),
        ("-100", sell("1"), False),
        ("0", buy("1"), False),
        ("0", sell("1"), False),
        ("100", sell(notional="5000"), True),  # 5000 of 10000 at 100
        ("100", sell(notional="10000.01"), False),
    ],
)
def test_reducing_allows_only_orders_that_shrink_the_position(
    position: str, intent: Order, allowed: bool
) -> None:
    engine = ready()
    engine.pause()
    assert engine.paused
    assert engine.state is TradingState.REDUCING
    verdict = check(engine, intent, FakeBook(positions={"AAPL": D(position)}))
    assert verdict.allowed is allowed
    if not allowed:
        assert verdict.code == "REDUCING"


def test_reducing_denial_text_and_notional_without_price() -> None:
    engine = ready()
    engine.pause()
    book = FakeBook(positions={"AAPL": D(100)})
    assert str(check(engine, buy("1"), book)) == (
        "REDUCING: symbol=AAPL side=buy position=100 cause=paused"
    )
    # Without a price a notional sell cannot be shown to stay within the position.
    assert check(engine, sell(notional="10"), book, price=None).code == "REDUCING"
    assert check(engine, sell("10"), book, price=None).allowed  # shares need no price


def test_reducing_cause_lists_every_reason() -> None:
    engine = ready()
    engine.pause()
    refresh(engine, FakeBook(), up=False)
    assert str(check(engine, buy("1"), FakeBook())).endswith("cause=paused,STREAM")


def test_pause_resume_and_a_restored_pause() -> None:
    engine = ready()
    engine.pause()
    assert engine.resume() is TradingState.ACTIVE
    assert not engine.paused
    restored = RiskEngine(paused=True)
    refresh(restored, FakeBook())
    assert restored.paused
    assert restored.state is TradingState.REDUCING


# --- prices -------------------------------------------------------------------------------------


def test_an_exposure_increasing_order_without_a_price_is_denied() -> None:
    engine = ready()
    assert str(check(engine, buy("1"), FakeBook(), price=None)) == "NO_PRICE: symbol=AAPL"
    assert check(engine, buy(notional="100"), FakeBook(), price=None).code == "NO_PRICE"
    assert check(engine, buy("1"), FakeBook(marks={"AAPL": D(5)}), price=None).allowed
    assert check(engine, buy("1"), FakeBook(), price="0").code == "NO_PRICE"


def test_the_callers_price_wins_over_the_books_mark() -> None:
    engine = ready()
    book = FakeBook(marks={"AAPL": D(1)})
    assert check(engine, buy("250"), book, price="100").allowed
    assert check(engine, buy("251"), book, price="100").code == "SYMBOL_NOTIONAL"


# --- fail closed --------------------------------------------------------------------------------


def test_an_error_inside_a_check_denies_but_flatten_and_cancel_pass() -> None:
    engine = ready()
    book = BrokenBook()
    denied = check(engine, sell("1"), book)
    assert str(denied) == "RISK_ERROR: error=RuntimeError"
    assert check(engine, Flatten(), book).allowed
    assert check(engine, Cancel("x"), book).allowed


@pytest.mark.parametrize(
    "book",
    [
        FakeBook(positions={"AAPL": 1.5}),  # type: ignore[dict-item]
        FakeBook(gross_exposure=D("NaN")),
    ],
)
def test_bad_book_values_deny(book: FakeBook) -> None:
    assert not check(ready(), buy("1"), book).allowed


def test_a_non_order_intent_and_a_malformed_order_are_denied() -> None:
    engine = ready()
    not_an_order: Any = "buy 1 AAPL"
    assert str(check(engine, not_an_order, FakeBook())) == "RISK_ERROR: error=TypeError"
    no_size = Order(
        symbol="AAPL", side=Side.SELL, type=OrderType.MARKET, time_in_force=TimeInForce.DAY
    )
    assert str(check(engine, no_size, FakeBook())) == "RISK_ERROR: error=ValueError"
    negative = buy("-5")  # a "buy" of -5 must not pass as a reducing sell
    assert check(engine, negative, FakeBook(positions={"AAPL": D(10)})).code == "RISK_ERROR"


def test_an_unreadable_book_on_update_halts_until_it_reads_again() -> None:
    engine = ready()
    refresh(engine, BrokenBook())
    assert engine.state is TradingState.HALTED
    assert engine.snapshot().fault == "RuntimeError"
    refresh(engine, FakeBook())
    assert engine.state is TradingState.ACTIVE
    assert engine.snapshot().fault is None


# --- snapshot -----------------------------------------------------------------------------------


def test_snapshot_is_frozen_and_in_a_stable_order() -> None:
    engine = ready()
    check(engine, buy("1"), FakeBook())
    snap = engine.snapshot()
    assert [b.name for b in snap.breakers] == list(BreakerName)
    assert snap.state is TradingState.ACTIVE
    assert not snap.paused
    assert snap.last_verdict == ALLOWED
    assert snap.breaker("STREAM").limit == 1
    assert [b.name for b in snap.breakers if b.latching] == [
        BreakerName.DAILY_LOSS,
        BreakerName.DAILY_LOSS_PCT,
        BreakerName.DRAWDOWN,
    ]
    with pytest.raises(FrozenInstanceError):
        snap.paused = True  # type: ignore[misc]


def test_utilisation() -> None:
    engine = ready()
    refresh(engine, FakeBook(equity=D(99000)))
    assert engine.breaker(BreakerName.DAILY_LOSS).utilisation == D("0.5")
    refresh(engine, FakeBook(equity=D(0), day_start_equity=D(0), peak_equity=D(0)))
    assert engine.breaker(BreakerName.GROSS_EXPOSURE).utilisation == 0
    assert engine.breaker(BreakerName.STALE_DATA).utilisation is not None
    assert RiskEngine().breaker(BreakerName.STALE_DATA).utilisation is None


# --- property: the gate never raises and never lets anything new out while HALTED ----------

money = st.decimals(min_value=-1000, max_value=300000, places=2)
size = st.decimals(min_value=-5, max_value=400, places=2)
books = st.builds(
    FakeBook,
    equity=money,
    day_start_equity=money,
    peak_equity=money,
    gross_exposure=money,
    positions=st.dictionaries(st.sampled_from(["AAPL", "MSFT"]), size, max_size=2),
    marks=st.dictionaries(st.sampled_from(["AAPL", "MSFT"]), size, max_size=2),
)
orders = st.builds(
    order,
    st.sampled_from(Side),
    st.one_of(st.none(), size.map(str)),
    notional=st.one_of(st.none(), size.map(str)),
    limit=st.one_of(st.none(), size.map(str)),
    symbol=st.sampled_from(["AAPL", "MSFT"]),
)
intents = st.one_of(orders, st.just(Flatten()), st.builds(Cancel, st.text(max_size=3)))
steps = st.one_of(
    st.tuples(
        st.just("update"),
        st.one_of(books, st.builds(BrokenBook)),
        st.one_of(
            st.none(),
            st.floats(min_value=-1, max_value=100),
            st.sampled_from([float("nan"), float("inf")]),
        ),
        st.booleans(),
        st.booleans(),
    ),
    st.tuples(st.just("check"), intents, st.one_of(books, st.builds(BrokenBook)), st.none()),
    st.tuples(st.just("check"), intents, books, size),
    st.tuples(st.sampled_from(["order", "reject", "accept", "pause", "resume", "reset"])),
)


@settings(max_examples=150, deadline=None)
@given(
    st.lists(st.tuples(steps, st.integers(min_value=0, max_value=90)), max_size=25),
    st.sampled_from(list(BreakerName)),
)
def test_random_sequences_never_raise_and_never_allow_new_orders_while_halted(
    sequence: list[tuple[tuple[Any, ...], int]], reset_name: BreakerName
) -> None:
    engine = RiskEngine(RiskLimits(max_orders_per_minute=3, max_reject_streak=2))
    now = T0
    for step, elapsed in sequence:
        now += timedelta(seconds=elapsed)
        kind = step[0]
        if kind == "update":
            _, book, age, up, reconciling = step
            refresh(engine, book, now, age=age, up=up, reconciling=reconciling)
        elif kind == "check":
            _, intent, book, price = step
            verdict = engine.check(intent, book, price=price, now=now)
            if isinstance(intent, Cancel | Flatten):
                assert verdict.allowed
            elif verdict.allowed:
                assert engine.state is not TradingState.HALTED
                if engine.state is TradingState.REDUCING and intent.qty is not None:
                    before = book.qty(intent.symbol)
                    sign = 1 if intent.side is Side.BUY else -1
                    after = before + sign * intent.qty
                    assert abs(after) < abs(before)
                    assert after * before >= 0  # no flip
            else:
                assert verdict.code
                assert str(verdict).startswith(f"{verdict.code}")
        elif kind == "order":
            engine.record_order(now)
        elif kind == "reject":
            engine.record_reject(now)
        elif kind == "accept":
            engine.record_accept(now)
        elif kind == "pause":
            engine.pause()
        elif kind == "resume":
            engine.resume()
        else:
            engine.reset(reset_name, now)
        snap = engine.snapshot()
        if any(b.latching and b.tripped for b in snap.breakers):
            assert snap.state is TradingState.HALTED


# --- review #4: the gate sees the whole book ---------------------------------------------------


def gate(
    engine: RiskEngine,
    book: FakeBook,
    working: WorkingOrders,
    intent: Order,
    price: str | None = "100",
) -> Verdict:
    """What the desk does: judge against every working order; an allowed order joins them."""
    verdict = engine.check(
        intent, book, price=None if price is None else D(price), now=T0, working=working.orders()
    )
    if verdict.allowed:
        working.add(intent)
    return verdict


def test_review_04_three_sells_of_100_against_long_100_while_paused() -> None:
    engine = ready()
    engine.pause()
    book, working = FakeBook(positions={"AAPL": D(100)}), WorkingOrders()
    verdicts = [gate(engine, book, working, sell("100")) for _ in range(3)]
    assert [v.allowed for v in verdicts] == [True, False, False]
    assert str(verdicts[1]) == (
        "REDUCING: symbol=AAPL side=sell position=100 working_buys=0 working_sells=100 cause=paused"
    )
    # a fill moves shares from the working order to the position: the room stays used up
    (first,) = working.orders()
    working.observe(news_from_wire("fill", _wire(first.client_order_id, "sell", 100, "filled")))
    book.positions["AAPL"] = D(0)
    assert gate(engine, book, working, sell("1")).code == "REDUCING"


def test_review_04_a_working_order_on_the_other_side_is_not_counted_on() -> None:
    """Long 100 with a resting buy of 50 (from before the pause): selling 120 would leave the
    account short 20 if the buy never fills, so only up to the position goes out."""
    engine = ready()
    engine.pause()
    book, working = FakeBook(positions={"AAPL": D(100)}), WorkingOrders()
    working.observe(news_from_wire("new", _wire("resting-buy", "buy", 50, "new")))
    assert gate(engine, book, working, sell("120")).code == "REDUCING"
    assert gate(engine, book, working, sell("100")).allowed
    assert gate(engine, book, working, buy("1")).code == "REDUCING"


def test_review_04_a_partial_fill_frees_only_what_filled() -> None:
    engine = ready()
    engine.pause()
    book, working = FakeBook(positions={"AAPL": D(100)}), WorkingOrders()
    assert gate(engine, book, working, sell("60")).allowed
    (first,) = working.orders()
    working.observe(
        news_from_wire(
            "partial_fill", _wire(first.client_order_id, "sell", 60, "partially_filled", 25)
        )
    )
    book.positions["AAPL"] = D(75)  # 35 still working: 40 may go
    assert gate(engine, book, working, sell("41")).code == "REDUCING"
    assert gate(engine, book, working, sell("40")).allowed


def test_review_04_resting_buys_count_against_the_symbol_notional_cap() -> None:
    engine = ready()
    book, working = FakeBook(), WorkingOrders()
    verdicts = [gate(engine, book, working, buy("240", limit="100")) for _ in range(3)]
    assert [v.allowed for v in verdicts] == [True, False, False]
    assert str(verdicts[1]) == "SYMBOL_NOTIONAL: symbol=AAPL notional=48000.00 limit=25000"
    # the other way is judged against the sells: a short of 250 is within the cap
    assert gate(engine, book, working, sell("250")).allowed
    assert gate(engine, book, working, sell("1")).code == "SYMBOL_NOTIONAL"
    # a notional order counts in dollars: 1,000 left under the cap on the buy side
    assert gate(engine, FakeBook(), WorkingOrders(), buy(notional="25000")).allowed
    two = WorkingOrders()
    gate(engine, FakeBook(), two, buy(notional="24000"))
    assert gate(engine, FakeBook(), two, buy(notional="1000")).allowed
    assert gate(engine, FakeBook(), two, buy(notional="0.01")).code == "SYMBOL_NOTIONAL"


def test_review_04_working_orders_of_every_symbol_count_against_gross_exposure() -> None:
    engine = ready(RiskLimits(max_symbol_notional=D("1e9")))
    book = FakeBook(gross_exposure=D(130000), marks={"MSFT": D(50)})  # limit 150000
    working = WorkingOrders()
    working.observe(news_from_wire("new", _wire("msft-buy", "buy", 200, "new", symbol="MSFT")))
    assert gate(engine, book, working, buy(notional="10000")).allowed  # 130k + 10k MSFT + 10k
    denied = gate(engine, book, working, buy(notional="0.01"))
    assert str(denied) == "GROSS_EXPOSURE: symbol=AAPL gross=150000.01 limit=150000.00"
    unpriced = WorkingOrders()  # a market notional order for a symbol with no price
    unpriced.add(OrderBuilder().symbol("NVDA").buy(notional="500").market().day().build())
    assert str(gate(engine, FakeBook(), unpriced, buy("1"))) == (
        "GROSS_EXPOSURE: symbol=AAPL gross=unknown working=unpriced"
    )


def _wire(
    cid: str, side: str, qty: int, status: str, filled: int = 0, symbol: str = "AAPL"
) -> WireOrder:
    return WireOrder.model_validate(
        {
            "id": f"id-{cid}",
            "client_order_id": cid,
            "symbol": symbol,
            "side": side,
            "qty": str(qty),
            "filled_qty": str(filled),
            "status": status,
        }
    )


@st.composite
def paused_histories(draw: st.DrawFn) -> tuple[int, list[tuple[str, int]], list[tuple[Any, ...]]]:
    """A position, orders resting from before the pause, then what the trader and the broker
    do: new orders of any size either way (some in dollars), acknowledgements (some stale,
    some after the fill), partial and whole fills of any working order in any order,
    cancels."""
    start = draw(st.integers(-300, 300))
    resting = draw(
        st.lists(st.tuples(st.sampled_from(["buy", "sell"]), st.integers(1, 200)), max_size=3)
    )
    steps = draw(
        st.lists(
            st.one_of(
                st.tuples(
                    st.just("order"),
                    st.sampled_from(["buy", "sell"]),
                    st.integers(1, 400),
                    st.booleans(),
                ),
                st.tuples(st.just("ack"), st.integers(0, 20), st.booleans()),
                st.tuples(st.just("fill"), st.integers(0, 20), st.integers(1, 100)),
                st.tuples(st.just("cancel"), st.integers(0, 20)),
            ),
            max_size=30,
        )
    )
    return start, resting, steps


@settings(max_examples=300, deadline=None)
@given(paused_histories())
def test_review_04_a_paused_desk_never_grows_or_flips_its_exposure(
    history: tuple[int, list[tuple[str, int]], list[tuple[Any, ...]]],
) -> None:
    """Position plus working orders never grows in size and never changes sign through
    orders and fills; and the span the position can reach (each working order filled or
    not) never widens, nor reaches across zero further than it already did."""
    start, resting, steps = history
    engine = ready()
    engine.pause()
    book, working = FakeBook(positions={"AAPL": D(start)}), WorkingOrders()
    # the broker's truth: client id -> (sign, qty, filled, live)
    truth: dict[str, list[Any]] = {}
    for n, (side, qty) in enumerate(resting):
        cid = f"resting-{n}"
        truth[cid] = [1 if side == "buy" else -1, qty, 0, True]
        working.observe(news_from_wire("new", _wire(cid, side, qty, "new")))

    def span() -> tuple[Decimal, Decimal, Decimal]:
        pos = book.positions["AAPL"]
        live = [t for t in truth.values() if t[3]]
        buys = sum((D(t[1] - t[2]) for t in live if t[0] > 0), D(0))
        sells = sum((D(t[1] - t[2]) for t in live if t[0] < 0), D(0))
        return pos - sells, pos + buys, pos + buys - sells

    low0, high0, _ = span()
    for step in steps:
        low, high, net = span()
        live = [cid for cid, t in truth.items() if t[3]]
        kind = step[0]
        if kind == "order":
            _, side, size, dollars = step
            intent = (
                order(Side(side), notional=str(size * 100))
                if dollars
                else order(Side(side), str(size))
            )
            if gate(engine, book, working, intent).allowed:
                truth[intent.client_order_id] = [1 if side == "buy" else -1, size, 0, True]
        elif kind == "ack" and truth:
            cid = list(truth)[step[1] % len(truth)]
            sign, qty, filled, _ = truth[cid]
            shown = 0 if step[2] else filled  # a stale answer shows no fills
            working.sent(cid, _wire(cid, "buy" if sign > 0 else "sell", qty, "accepted", shown))
        elif kind == "fill" and live:
            cid = live[step[1] % len(live)]
            t = truth[cid]
            amount = max(1, (t[1] - t[2]) * step[2] // 100)
            t[2] += amount
            book.positions["AAPL"] += t[0] * amount
            done = t[2] == t[1]
            t[3] = not done
            status = "filled" if done else "partially_filled"
            side = "buy" if t[0] > 0 else "sell"
            working.observe(
                news_from_wire(
                    "fill" if done else "partial_fill", _wire(cid, side, t[1], status, t[2])
                )
            )
        elif kind == "cancel" and live:
            cid = live[step[1] % len(live)]
            truth[cid][3] = False
            t = truth[cid]
            side = "buy" if t[0] > 0 else "sell"
            working.observe(news_from_wire("canceled", _wire(cid, side, t[1], "canceled", t[2])))
        new_low, new_high, new_net = span()
        # the book counts exactly what may still fill
        counted = sum(((w.shares(D(100)) or D(0)) * w.sign for w in working.orders()), D(0))
        assert counted == new_net - book.positions["AAPL"]
        if kind != "cancel":
            assert abs(new_net) <= abs(net) and new_net * net >= 0
        assert new_low >= min(low, D(0)) and new_high <= max(high, D(0))
        assert new_low >= min(low0, D(0)) and new_high <= max(high0, D(0))
    if not resting:  # nothing from before the pause: the position never left [0, start]
        assert book.positions["AAPL"] * start >= 0
        assert abs(book.positions["AAPL"]) <= abs(start)


# --- review #6: no zero day-start -------------------------------------------------------------


def test_review_06_an_unknown_day_start_holds_reducing_and_says_why() -> None:
    engine = ready()
    book = FakeBook(positions={"AAPL": D(10)})
    book.day_start_equity = None
    refresh(engine, book)
    assert engine.state is TradingState.REDUCING
    loss = engine.breaker(BreakerName.DAILY_LOSS)
    assert (loss.value, loss.state, loss.reason) == (
        None,
        BreakerState.WARNING,
        "DAILY_LOSS: loss=unknown account=unknown limit=2000",
    )
    assert engine.breaker(BreakerName.DRAWDOWN).value is None
    denied = check(engine, buy("1"), book)
    assert str(denied) == (
        "REDUCING: symbol=AAPL side=buy position=10 cause=DAILY_LOSS,DAILY_LOSS_PCT,DRAWDOWN"
    )
    assert check(engine, sell("10"), book).allowed  # getting out is never blocked
    assert engine.reset(BreakerName.DAILY_LOSS, T0).allowed  # nothing to reset: it holds
    assert engine.state is TradingState.REDUCING
    book.day_start_equity = START
    refresh(engine, book)
    assert engine.state is TradingState.ACTIVE


def test_review_06_a_latched_loss_stays_latched_while_the_day_is_unknown() -> None:
    engine = ready()
    refresh(engine, FakeBook(equity=START - 2000))
    assert engine.state is TradingState.HALTED
    unknown = FakeBook()
    unknown.day_start_equity = None
    refresh(engine, unknown)
    loss = engine.breaker(BreakerName.DAILY_LOSS)
    assert loss.tripped and loss.value is None
    assert engine.state is TradingState.HALTED
