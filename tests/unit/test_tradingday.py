"""The trading day rolls at the market's next open (review finding #6): readings of the
broker's clock over a weekend, with an injected monotonic time; then the ledger and the risk
engine across that roll, as the desk drives them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from tui_trader.core.portfolio import Portfolio
from tui_trader.core.risk import BreakerName, BreakerState, RiskEngine, RiskLimits, TradingState
from tui_trader.core.tradingday import MarketClock, TradingDay

D = Decimal
NY = timedelta(hours=-5)  # November: New York is UTC-5


def ny(day: int, hour: int, minute: int = 0) -> datetime:
    """A New York wall time in November 2026 (the 20th is a Friday), as UTC."""
    return datetime(2026, 11, day, hour, minute, tzinfo=UTC) - NY


def reading(now: datetime) -> MarketClock:
    """What /v2/clock says at ``now`` (regular sessions only, 09:30-16:00, Mon-Fri)."""
    local = now + NY
    opens = [ny(d, 9, 30) for d in range(16, 30) if datetime(2026, 11, d, tzinfo=UTC).weekday() < 5]
    today = next((o for o in opens if (o + NY).date() == local.date()), None)
    is_open = today is not None and today <= now < today + timedelta(hours=6.5)
    next_open = next(o for o in opens if o > now)
    next_close = next(o + timedelta(hours=6.5) for o in opens if o + timedelta(hours=6.5) > now)
    return MarketClock(now, is_open, next_open, next_close)


def test_review_06_the_day_rolls_once_at_mondays_open_after_a_weekend() -> None:
    day = TradingDay()
    times = [
        ny(20, 15),  # Friday, open
        ny(20, 17),  # Friday evening
        ny(21, 12),  # Saturday
        ny(22, 12),  # Sunday
        ny(23, 9, 29),  # Monday pre-market
        ny(23, 9, 31),  # Monday, open: a new day
        ny(23, 15),
        ny(24, 9, 30),  # Tuesday's open: another
    ]
    rolls = [day.observe(reading(t), float(i)) for i, t in enumerate(times)]
    assert rolls == [False, False, False, False, False, True, False, True]
    assert day.boundary == ny(25, 9, 30)


def test_review_06_the_clock_is_read_on_the_minute_and_when_the_boundary_comes() -> None:
    day = TradingDay(every=600.0)
    assert day.due(0.0)  # never read
    day.observe(reading(ny(23, 9, 29)), 0.0)  # the day ends at 09:30
    assert not day.due(59.0)  # 09:29:59 by the last reading and the time since
    assert day.due(60.0)  # 09:30: before the 600 s period is up
    assert day.due(1.0, seen=ny(23, 9, 30))  # a bar the broker stamped 09:30
    day.failed(61.0)  # the reading failed: wait the period, do not hammer the broker
    assert not day.due(62.0) and not day.due(62.0, seen=ny(23, 9, 31))
    assert day.due(661.0)
    assert day.observe(reading(ny(23, 9, 41)), 661.0)  # 09:30 + 10 min: the new day
    assert not day.due(662.0)


@pytest.mark.parametrize("missing", ["timestamp", "next_open", "next_close"])
def test_a_clock_without_its_times_is_refused(missing: str) -> None:
    wire = {
        "timestamp": "2026-11-23T09:31:00-05:00",
        "is_open": True,
        "next_open": "2026-11-24T09:30:00-05:00",
        "next_close": "2026-11-23T16:00:00-05:00",
    }
    assert MarketClock.from_wire(wire).next_open == ny(24, 9, 30)
    with pytest.raises(ValueError):
        MarketClock.from_wire({k: v for k, v in wire.items() if k != missing})


def test_review_06_monday_measures_the_loss_from_fridays_close() -> None:
    """The desk's roll with the ledger and the breakers: Friday closes at 100,000 after a
    day that lost 1,500 (under the 2,000 limit). Monday opens 1,000 lower. Measured from the
    launch the loss would be 2,500 and halt; measured from Friday's close it is 1,000."""
    book = Portfolio(None)  # as the desk starts: the account not read yet
    risk = RiskEngine(RiskLimits(daily_loss_limit=D(2000), daily_loss_pct=D(50)))
    day = TradingDay()

    def evaluate(now: datetime) -> None:
        snap = book.snapshot()
        risk.update(
            _Seen(snap.equity, snap.day_start_equity if snap.account_known else None),
            now=now,
            market_data_age=1.0,
            stream_up=True,
            reconciling=False,
        )

    evaluate(ny(20, 14))
    assert risk.state is TradingState.REDUCING  # no zero day-start: nothing is measured yet
    assert risk.breaker(BreakerName.DAILY_LOSS).value is None
    book.reconcile([], D(101500))  # the account, read: cash, and last_equity for the day
    book.start_day(D(101500))
    day.observe(reading(ny(20, 14)), 0.0)
    evaluate(ny(20, 14))
    assert risk.state is TradingState.ACTIVE
    book.apply_nta(_fee(D(-1500)))  # Friday's loss
    evaluate(ny(20, 15, 59))
    assert risk.breaker(BreakerName.DAILY_LOSS).value == D(1500)
    for n, t in enumerate([ny(21, 12), ny(22, 12), ny(23, 9, 31)], start=1):
        if day.observe(reading(t), float(n)):
            book.forget_day()  # the desk re-reads the account at the roll...
            evaluate(t)
            assert risk.state is TradingState.REDUCING  # ...and holds until it has
            book.start_day(D(100000))  # last_equity: Friday's close
    book.apply_nta(_fee(D(-1000)))  # Monday's opening drop
    evaluate(ny(23, 9, 32))
    snap = book.snapshot()
    assert (snap.day_start_equity, snap.day_pnl) == (D(100000), D(-1000))
    assert risk.breaker(BreakerName.DAILY_LOSS).value == D(1000)
    assert risk.breaker(BreakerName.DAILY_LOSS).state is BreakerState.OK
    assert risk.state is TradingState.ACTIVE


class _Seen:
    """The ledger as the desk's risk book shows it (no positions here)."""

    def __init__(self, equity: Decimal, start: Decimal | None) -> None:
        self.equity = equity
        self.day_start_equity = start
        self.peak_equity = equity
        self.gross_exposure = D(0)

    def qty(self, symbol: str) -> Decimal:
        return D(0)

    def price(self, symbol: str) -> Decimal | None:
        return None


def _fee(amount: Decimal) -> object:
    from tui_trader.core.events import NtaEvent

    _fee.n = getattr(_fee, "n", 0) + 1  # type: ignore[attr-defined]
    return NtaEvent.model_validate(
        {
            "at": "2026-11-20T20:00:00Z",
            "event_ulid": f"01FEE{_fee.n:021d}",  # type: ignore[attr-defined]
            "entry_type": "FEE",
            "net_amount": str(amount),
            "status": "executed",
        }
    )
