"""The charts' recorder: bounded, the day starts over on a roll, fills become entry and exit
markers once each, the equity curve keeps one sample a minute with its drawdown."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from tui_trader.core.models import Bar
from tui_trader.core.portfolio import Portfolio
from tui_trader.desk.charts import MAX_BARS, MAX_EQUITY, MAX_FILLS, ChartRecorder

T0 = datetime(2026, 11, 24, 14, 30, tzinfo=UTC)


def bar(minute: int, close: float = 100.0) -> Bar:
    return Bar.model_validate(
        {
            "t": (T0 + timedelta(minutes=minute)).isoformat(),
            "o": close - 0.1,
            "h": close + 0.5,
            "l": close - 0.5,
            "c": close,
        }
    )


def test_bars_are_kept_per_symbol_and_bounded() -> None:
    rec = ChartRecorder(("AAPL", "MSFT"))
    for m in range(MAX_BARS + 50):
        rec.bar("AAPL", bar(m, 100 + m / 100))
    rec.bar("TSLA", bar(0))  # not watched: not recorded

    data = rec.data()
    bars = data.series["AAPL"].bars
    assert len(bars) == MAX_BARS
    assert bars[0].at == T0 + timedelta(minutes=50)  # the oldest went first
    assert bars[-1].close == 100 + (MAX_BARS + 49) / 100
    assert data.series["MSFT"].bars == ()
    assert "TSLA" not in data.series


def test_a_correction_replaces_the_minute_and_an_older_bar_is_ignored() -> None:
    rec = ChartRecorder(("AAPL",))
    rec.bar("AAPL", bar(0, 100))
    rec.bar("AAPL", bar(1, 101))
    before = rec.data().series["AAPL"]

    rec.bar("AAPL", bar(1, 101.5))  # the same minute, corrected
    rec.bar("AAPL", bar(0, 99))  # older: history the chart moved past

    after = rec.data().series["AAPL"]
    assert [b.close for b in after.bars] == [100, 101.5]
    assert after.version != before.version


def test_data_is_the_same_object_until_something_changes() -> None:
    """The desk takes it for every snapshot: unchanged, nothing is copied."""
    rec = ChartRecorder(("AAPL", "MSFT"))
    rec.bar("AAPL", bar(0))
    first = rec.data()
    assert rec.data() is first
    rec.bar("AAPL", bar(0))  # the same bar again: no change
    assert rec.data() is first

    rec.bar("MSFT", bar(0))
    second = rec.data()
    assert second is not first
    assert second.series["AAPL"] is first.series["AAPL"]  # only what changed is rebuilt
    assert second.series["MSFT"].version != first.series["MSFT"].version


def test_fills_mark_buys_and_sells_once_each_and_are_bounded() -> None:
    rec = ChartRecorder(("AAPL",))
    rec.bar("AAPL", bar(0))
    rec.fill("x1", "AAPL", "buy", Decimal(5), Decimal("100.10"), T0 + timedelta(seconds=20))
    rec.fill("x1", "AAPL", "buy", Decimal(5), Decimal("100.10"), T0 + timedelta(seconds=20))
    rec.fill("x2", "AAPL", "sell", Decimal(5), Decimal("100.40"), None)  # no time: the newest
    rec.fill("x3", "MSFT", "buy", Decimal(1), Decimal(1), T0)  # not watched

    fills = rec.data().series["AAPL"].fills
    assert [(f.side, f.qty, f.price, f.key) for f in fills] == [
        ("buy", 5, Decimal("100.10"), "x1"),
        ("sell", 5, Decimal("100.40"), "x2"),
    ]
    assert fills[1].at == T0 + timedelta(seconds=20)

    for n in range(MAX_FILLS + 10):
        rec.fill(f"k{n}", "AAPL", "buy", Decimal(1), Decimal(100), T0)
    fills = rec.data().series["AAPL"].fills
    assert len(fills) == MAX_FILLS and fills[0].key == "k10"
    rec.fill("x1", "AAPL", "buy", Decimal(5), Decimal("100.10"), T0)  # evicted: its key too
    assert rec.data().series["AAPL"].fills[-1].key == "x1"


def test_equity_one_sample_a_minute_with_its_drawdown_from_the_high_water_mark() -> None:
    rec = ChartRecorder(("AAPL",))
    rec.sample_equity(Decimal(100_000), Decimal(100_000))  # no broker time yet: nothing
    assert rec.data().equity.points == ()

    rec.bar("AAPL", bar(0))
    rec.sample_equity(Decimal(100_050), Decimal(100_000))
    rec.sample_equity(Decimal(100_200), Decimal(100_000))  # same minute: replaces
    rec.bar("AAPL", bar(1))
    rec.sample_equity(Decimal(99_900), Decimal(100_000))
    rec.bar("AAPL", bar(2))
    rec.sample_equity(Decimal(100_100), Decimal(100_000))

    curve = rec.data().equity
    assert [(p.equity, p.drawdown) for p in curve.points] == [
        (100_200, 0),
        (99_900, -300),  # the peak is 100,200 (the high-water mark, not the day start)
        (100_100, -100),
    ]
    assert [p.at for p in curve.points] == [T0 + timedelta(minutes=m) for m in range(3)]
    assert curve.max_drawdown == -300


def test_the_day_start_is_the_first_high_water_mark() -> None:
    rec = ChartRecorder(("AAPL",))
    rec.bar("AAPL", bar(0))
    rec.sample_equity(Decimal(99_000), Decimal(100_000))  # down from the open already
    assert rec.data().equity.points[0].drawdown == -1000


def test_equity_is_bounded() -> None:
    rec = ChartRecorder(("AAPL",))
    for m in range(MAX_EQUITY + 5):
        rec.bar("AAPL", bar(m))
        rec.sample_equity(Decimal(100_000 + m), None)
    points = rec.data().equity.points
    assert len(points) == MAX_EQUITY and points[0].at == T0 + timedelta(minutes=5)


def test_the_ledger_is_sampled_only_once_the_account_is_known() -> None:
    rec = ChartRecorder(("AAPL",))
    rec.bar("AAPL", bar(0))
    rec.sample_book(Portfolio(None).snapshot())  # unknown account: its equity is not real
    assert rec.data().equity.points == ()
    rec.sample_book(Portfolio(Decimal(50_000)).snapshot())
    assert [p.equity for p in rec.data().equity.points] == [50_000]


def test_a_new_day_starts_over() -> None:
    rec = ChartRecorder(("AAPL",))
    rec.bar("AAPL", bar(0))
    rec.fill("x1", "AAPL", "buy", Decimal(1), Decimal(100), T0)
    rec.sample_equity(Decimal(100_000), None)
    before = rec.data()

    rec.new_day()

    after = rec.data()
    assert after.day == before.day + 1
    assert after.series["AAPL"].bars == () and after.series["AAPL"].fills == ()
    assert after.equity.points == ()
    rec.sample_equity(Decimal(1), None)  # no broker time of the new day yet
    assert rec.data().equity.points == ()
    rec.bar("AAPL", bar(0))  # the new day's first minute may repeat an old stamp: taken
    rec.fill("x1", "AAPL", "buy", Decimal(1), Decimal(100), T0)  # keys start over too
    assert len(rec.data().series["AAPL"].fills) == 1


def test_a_plot_is_given_no_more_points_than_it_can_show() -> None:
    """The charts thin a long series to the plot's dots, keeping each run's worst drawdown
    and the positions of the points kept (the markers and time labels sit by position)."""
    from tui_trader.ui.panes.charts import thin

    values = [0.0] * 100
    values[37] = -50.0
    xs, ys = thin(values, 10, min)
    assert len(xs) == 10 and -50.0 in ys and xs[ys.index(-50.0)] == 37
    assert thin([1.0, 2.0], 10) == ([0, 1], [1.0, 2.0])
