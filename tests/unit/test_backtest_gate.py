"""The backtest trades through the desk's sizing and risk gate, not around it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from tui_trader.core.policy import Decision
from tui_trader.core.risk import RiskEngine, RiskLimits
from tui_trader.desk.launch.backtest import GatedPolicy

T0 = datetime(2024, 1, 2, 15, 0, tzinfo=UTC)


class AlwaysBuy:
    """A policy that wants 500 more shares every bar."""

    def observe(self, symbol: str, close: float, at: datetime) -> None:
        return None

    def decide(
        self, symbol: str, price: Decimal, equity: Decimal, current_qty: Decimal, at: datetime
    ) -> Decision:
        return Decision(symbol, at, {}, 0.01, 0.01, 1.0, 0.0, 1.0, Decimal(500), "buy")


def test_proposals_are_sized_to_the_notional_limit() -> None:
    gate = GatedPolicy(
        AlwaysBuy(), RiskEngine(RiskLimits(max_symbol_notional=Decimal(10_000))), 1e5
    )
    first = gate.decide("AAPL", Decimal(100), Decimal(100_000), Decimal(0), T0)
    assert first.proposed_qty == Decimal(98)
    full = gate.decide(
        "AAPL", Decimal(100), Decimal(100_000), Decimal(98), T0 + timedelta(minutes=1)
    )
    assert full.proposed_qty is None


def test_the_rate_breaker_denies_and_is_counted() -> None:
    limits = RiskLimits(max_orders_per_minute=2, max_symbol_notional=Decimal(1_000_000))
    gate = GatedPolicy(AlwaysBuy(), RiskEngine(limits), 1e6)
    sent = [
        gate.decide(
            "AAPL", Decimal(10), Decimal(1_000_000), Decimal(500 * i), T0 + timedelta(seconds=i)
        )
        for i in range(4)
    ]
    assert [d.proposed_qty for d in sent[:2]] == [Decimal(500), Decimal(500)]
    assert all(d.proposed_qty is None and d.reason.startswith("denied") for d in sent[2:])
    assert sum(gate.denied.values()) == 2


def test_a_loss_past_the_daily_limit_halts_the_backtest_policy() -> None:
    limits = RiskLimits(daily_loss_limit=Decimal(1_000), max_symbol_notional=Decimal(1_000_000))
    gate = GatedPolicy(AlwaysBuy(), RiskEngine(limits), 100_000.0)
    first = gate.decide("AAPL", Decimal(10), Decimal(100_000), Decimal(0), T0)
    assert first.proposed_qty == Decimal(500)
    gate.fill("AAPL", 500.0, 10.0, 1.0, T0 + timedelta(minutes=1))
    # the ledger, not the equity the caller passes, is what the risk engine reads
    later = gate.decide(
        "AAPL", Decimal(7), Decimal(100_000), Decimal(500), T0 + timedelta(minutes=5)
    )
    assert gate.ledger.snapshot().day_pnl == Decimal(-1501)
    assert later.proposed_qty is None
    assert gate.risk.state.value == "HALTED"


def test_the_ledger_books_every_fill_and_agrees_with_the_backtest() -> None:
    from tui_trader.core.backtest import run_backtest
    from tui_trader.core.convexity import ConvexityDetector
    from tui_trader.core.policy import OnlinePolicy, PolicyConfig
    from tui_trader.desk.launch.backtest import synthetic_bars
    from tui_trader.sim.regimes import PLANTED

    # the planted regime's switching, asked for: a policy that trades, so there are fills
    bars = synthetic_bars(
        ["AAPL", "MSFT"], seed=3, bars=1500, drift=10.0, regime_minutes=PLANTED.minutes
    )
    gates: list[GatedPolicy] = []

    def factory() -> GatedPolicy:
        gates.append(
            GatedPolicy(OnlinePolicy(PolicyConfig(), ConvexityDetector()), RiskEngine(), 1e5)
        )
        return gates[-1]

    result = run_backtest(bars, factory, cost_bps=5.0, on_fill=lambda *f: gates[0].fill(*f))
    book = gates[0].ledger.snapshot()
    assert result.policy.trades > 0
    assert book.fills == result.policy.trades
    assert abs(float(book.equity) - float(result.equity[-1])) < 0.01 * result.policy.trades + 1e-6


def _day(n: int) -> datetime:
    return datetime(2024, 1, 2, 21, 0, tzinfo=UTC) + timedelta(days=n)


def test_a_latched_drawdown_is_reset_at_the_next_sessions_open_as_documented() -> None:
    """The backtest's review rule (desk/launch/backtest_gate.py): a DRAWDOWN that latched on
    day 1 holds every order for the rest of day 1; at day 2's first bar it is reset, the
    high-water mark re-based to the equity then, and the reset is recorded with its dates."""
    limits = RiskLimits(max_drawdown_pct=Decimal(10), max_symbol_notional=Decimal(1_000_000))
    gate = GatedPolicy(AlwaysBuy(), RiskEngine(limits), 100_000.0)
    assert gate.decide("AAPL", Decimal(100), Decimal(100_000), Decimal(0), _day(0)).proposed_qty
    gate.fill("AAPL", 500.0, 100.0, 0.0, _day(0))
    # a 40% fall on 50,000 of stock: equity 80,000, 20% below the peak: DRAWDOWN latches
    fell = _day(1)
    denied = gate.decide("AAPL", Decimal(60), Decimal(80_000), Decimal(500), fell)
    assert denied.proposed_qty is None and "HALTED" in denied.reason
    assert gate.risk.state.value == "HALTED" and gate.resets == []
    later = gate.decide("AAPL", Decimal(60), Decimal(80_000), Decimal(500), fell.replace(hour=22))
    assert later.proposed_qty is None, "still latched for the rest of the session"
    opened = _day(2)
    allowed = gate.decide("AAPL", Decimal(60), Decimal(80_000), Decimal(500), opened)
    assert allowed.proposed_qty == Decimal(500)
    assert gate.risk.state.value == "ACTIVE"
    assert [(r.at, r.breakers, r.latched_at) for r in gate.resets] == [
        (opened, ("DRAWDOWN",), fell)
    ]
    assert gate.resets[0].equity == 80_000.0
    assert gate.denied["HALTED"] == 2


def test_a_longer_cool_off_and_no_review_hold_the_breaker_as_configured() -> None:
    limits = RiskLimits(max_drawdown_pct=Decimal(10), max_symbol_notional=Decimal(1_000_000))
    for after, reset_day in ((3, 4), (None, None)):
        gate = GatedPolicy(AlwaysBuy(), RiskEngine(limits), 100_000.0, reset_after=after)
        gate.decide("AAPL", Decimal(100), Decimal(100_000), Decimal(0), _day(0))
        gate.fill("AAPL", 500.0, 100.0, 0.0, _day(0))
        sent = [
            gate.decide("AAPL", Decimal(60), Decimal(80_000), Decimal(500), _day(d)).proposed_qty
            for d in range(1, 7)
        ]
        first = next((d for d, q in enumerate(sent, start=1) if q is not None), None)
        assert first == reset_day
        assert len(gate.resets) == (0 if after is None else 1)
