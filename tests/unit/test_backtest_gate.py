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
