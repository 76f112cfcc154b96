"""Annualisation from timestamps, the Sharpe's standard error, drawdowns and the permutation
test: pure functions, checked against values known in closed form or by simulation."""

from __future__ import annotations

import math
from datetime import UTC, date, datetime, timedelta

import numpy as np
import pytest

from tui_trader.core import annualise, stats
from tui_trader.core.stats import (
    drawdown,
    long_run_variance,
    permutation_test,
    sharpe,
    sharpe_standard_error,
)

# -- periods per year from the timestamps --------------------------------------------------


def weekdays(start: date, end: date) -> list[date]:
    days, d = [], start
    while d <= end:
        if d.weekday() < 5:
            days.append(d)
        d += timedelta(days=1)
    return days


def at(d: date, hour: int = 21, minute: int = 0) -> datetime:
    return datetime(d.year, d.month, d.day, hour, minute, tzinfo=UTC)


def session_minutes(days: list[date]) -> list[datetime]:
    """One-minute bars 14:30-20:59 UTC (a US regular session), overnight gaps between."""
    return [at(d, 14, 30) + timedelta(minutes=i) for d in days for i in range(390)]


def test_daily_bars_over_whole_years_count_the_bars_of_a_whole_year() -> None:
    days = weekdays(date(2019, 1, 2), date(2021, 12, 31))
    holidays = set(weekdays(date(2020, 3, 2), date(2020, 3, 13)))  # ten days missing in 2020
    stamps = [at(d) for d in days if d not in holidays]
    year = annualise.infer(stamps)
    assert year.periods_per_year == sum(1 for d in days if d.year == 2020) - 10 == 252
    assert year.source == "inferred"
    assert "whole calendar year" in year.reason and "2020" in year.reason
    assert "1 day" in year.reason


def test_a_short_daily_sample_is_252_a_year_and_365_where_it_trades_weekends() -> None:
    stock = [at(d) for d in weekdays(date(2024, 3, 1), date(2024, 5, 31))]
    assert annualise.infer(stock).periods_per_year == 252
    assert "no weekend bars" in annualise.infer(stock).reason
    crypto = [at(date(2024, 3, 1)) + timedelta(days=i) for i in range(90)]
    assert annualise.infer(crypto).periods_per_year == 365


def test_minute_bars_of_regular_sessions_are_390_a_session_whatever_the_overnight_gap() -> None:
    stamps = session_minutes(weekdays(date(2024, 3, 4), date(2024, 3, 15)))
    year = annualise.infer(stamps)
    assert year.periods_per_year == 390 * 252 == 98_280
    assert "1 minute" in year.reason and "390 bars in a trading day" in year.reason
    # a single session, part of one, or a sample cut mid-session at both ends: 390 a day
    assert annualise.infer(stamps[:390]).periods_per_year == 98_280
    assert annualise.infer(stamps[:300]).periods_per_year == 98_280
    assert annualise.infer(stamps[200:-200]).periods_per_year == 98_280


def test_hourly_bars_of_a_24_hour_market() -> None:
    start = datetime(2024, 3, 1, tzinfo=UTC)  # a Friday
    always = [start + timedelta(hours=i) for i in range(24 * 30)]
    assert annualise.infer(always).periods_per_year == 24 * 365
    weekdays_only = [t for t in always if t.weekday() < 5]
    assert annualise.infer(weekdays_only).periods_per_year == 24 * 252


def test_weekly_and_monthly_bars() -> None:
    fridays = [at(date(2024, 1, 5)) + timedelta(weeks=i) for i in range(30)]
    assert annualise.infer(fridays).periods_per_year == 52
    assert "7 days" in annualise.infer(fridays).reason
    years = [at(date(2015, 1, 2)) + timedelta(weeks=i) for i in range(52 * 6)]
    assert annualise.infer(years).periods_per_year in (52, 53)
    months = [at(date(2024, m, 28)) for m in range(1, 11)]
    assert annualise.infer(months).periods_per_year == 12


def test_order_and_repeats_do_not_matter_and_one_bar_is_an_assumption() -> None:
    stamps = session_minutes(weekdays(date(2024, 3, 4), date(2024, 3, 8)))
    shuffled = list(reversed(stamps)) + stamps[:100]
    assert annualise.infer(shuffled) == annualise.infer(stamps)
    one = annualise.infer(stamps[:1])
    assert one.source == "assumed" and one.periods_per_year == 252
    with pytest.raises(ValueError):
        annualise.given(0, "nonsense")
    with pytest.raises(ValueError):
        annualise.given(math.nan, "nonsense")


def test_describe_seconds() -> None:
    assert annualise.describe_seconds(60) == "1 minute"
    assert annualise.describe_seconds(3600) == "1 hour"
    assert annualise.describe_seconds(86_400) == "1 day"
    assert annualise.describe_seconds(7 * 86_400) == "7 days"
    assert annualise.describe_seconds(5400) == "1.5 hours"


# -- Sharpe and its standard error -----------------------------------------------------------


def test_sharpe_of_a_flat_or_tiny_series_is_zero() -> None:
    assert sharpe(np.zeros(100), 252) == 0.0
    assert sharpe(np.array([0.01]), 252) == 0.0
    assert sharpe_standard_error(np.zeros(100), 252) == 0.0


def test_the_standard_error_of_iid_returns_is_the_textbook_one() -> None:
    rng = np.random.default_rng(1)
    r = 0.0005 + 0.01 * rng.standard_normal(20_000)
    per_bar = r.mean() / r.std()
    textbook = math.sqrt((1 + per_bar**2 / 2) / r.size) * math.sqrt(252)
    assert sharpe_standard_error(r, 252) == pytest.approx(textbook, rel=0.05)


def test_the_standard_error_widens_with_autocorrelation_and_matches_a_simulation() -> None:
    """AR(1) returns with rho = 0.5: the Sharpe estimate's spread across 400 samples is about
    sqrt((1 + rho) / (1 - rho)) = 1.7 times the iid formula; the HAC error reports it."""
    rng = np.random.default_rng(2)
    n, rho, reps = 2000, 0.5, 400
    estimates, errors = [], []
    for _ in range(reps):
        e = rng.standard_normal(n + 50)
        x = np.empty_like(e)
        x[0] = e[0]
        for t in range(1, e.size):
            x[t] = rho * x[t - 1] + e[t]
        r = 0.0002 + 0.01 * x[50:] * math.sqrt(1 - rho**2)
        estimates.append(sharpe(r, 1))
        errors.append(sharpe_standard_error(r, 1))
    spread = float(np.std(estimates))
    assert float(np.mean(errors)) == pytest.approx(spread, rel=0.15)
    assert float(np.mean(errors)) > 1.4 * math.sqrt(1 / n)  # the iid formula understates


def test_long_run_variance_of_white_noise_is_its_variance() -> None:
    x = np.random.default_rng(3).standard_normal(50_000)
    assert long_run_variance(x) == pytest.approx(1.0, rel=0.05)


# -- drawdown -----------------------------------------------------------------------------------


def test_drawdown_depth_and_length() -> None:
    fall = drawdown(np.array([1.0, 2.0, 1.0, 1.5, 2.5, 2.0]))
    assert (fall.depth, fall.peak, fall.trough, fall.end) == (0.5, 1, 2, 4)
    assert fall.recovered and fall.bars == 3
    still = drawdown(np.array([1.0, 2.0, 1.0, 1.5]))
    assert not still.recovered and still.end == 3 and still.bars == 2
    assert drawdown(np.array([1.0, 1.0, 2.0])).depth == 0.0


# -- the permutation test ------------------------------------------------------------------------


def book(
    steps: int = 600, symbols: int = 2, seed: int = 0, skill: float = 0.0
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Random-walk returns and a book of runs of +-0.3 or 0 held 5-40 bars; with ``skill``,
    that share of runs is long where the run's returns are positive (a peek: an oracle)."""
    rng = np.random.default_rng(seed)
    returns = 0.01 * rng.standard_normal((steps, symbols))
    returns[0] = 0
    weights = np.zeros((steps, symbols))
    starts = np.zeros((steps, symbols), dtype=bool)
    for j in range(symbols):
        t = int(rng.integers(1, 10))
        while t < steps:
            length = int(rng.integers(5, 40))
            value = float(rng.choice([-0.3, 0.0, 0.3]))
            if value and rng.random() < skill:
                value = 0.3 * float(np.sign(returns[t + 1 : t + length + 1, j].sum()) or 1)
            starts[t, j] = True
            weights[t : t + length, j] = value
            t += length
    return weights, returns, starts, np.ones((steps, symbols), dtype=bool)


def run_test(
    seed: int = 5, permutations: int = 299, null: stats.Null = "timing", skill: float = 0.0
) -> stats.PermutationTest:
    w, r, s, a = book(skill=skill)
    return permutation_test(
        w,
        r,
        s,
        a,
        null=null,
        cost=2e-4,
        periods_per_year=252,
        permutations=permutations,
        seed=seed,
    )


def test_p_value_and_percentile_are_what_they_say() -> None:
    t = run_test()
    assert t.permutations == 299
    assert t.p_value == (t.exceed + 1) / 300
    assert 0.0 <= t.percentile <= 100.0
    assert t.p05 <= t.p50 <= t.p95
    assert run_test() == t  # seeded
    assert run_test(seed=6) != t


def test_the_draws_do_not_depend_on_the_chunking(monkeypatch: pytest.MonkeyPatch) -> None:
    whole = run_test(null="timing")
    signs = run_test(null="direction")
    monkeypatch.setattr(stats, "_CELLS_PER_CHUNK", 1000)  # one or two books per chunk
    assert run_test(null="timing") == whole
    assert run_test(null="direction") == signs


def test_an_oracle_is_significant() -> None:
    oracle = run_test(skill=1.0, null="timing")
    assert oracle.p_value == 1 / 300 and oracle.percentile > 99
    assert run_test(skill=1.0, null="direction").p_value == 1 / 300


def test_under_the_null_p_values_are_uniform() -> None:
    """A book that knows nothing: over 80 independent markets its p-values spread evenly."""
    ps = []
    for i in range(80):
        w, r, s, a = book(steps=300, symbols=1, seed=100 + i)
        ps.append(
            permutation_test(
                w,
                r,
                s,
                a,
                null="timing",
                cost=0.0,
                periods_per_year=252,
                permutations=99,
                seed=i,
            ).p_value
        )
    assert 0.0 <= sum(p <= 0.1 for p in ps) / len(ps) <= 0.2
    assert 0.35 <= float(np.mean(ps)) <= 0.65


def test_the_nulls_keep_the_books_exposure() -> None:
    w, r, s, a = book()
    symbol = stats._symbols(w, r, s, a)[0]
    rng = np.random.default_rng(0)
    drawn, starts, _ = stats._draw(symbol, "timing", 50, rng)
    for row, begin in zip(drawn, starts, strict=True):
        assert sorted(row) == sorted(symbol.weight)  # the same weights, moved in time
        assert sorted(np.diff(np.append(begin, row.size))) == sorted(symbol.lengths)
    flipped, _, _ = stats._draw(symbol, "direction", 50, rng)
    assert np.array_equal(np.abs(flipped), np.abs(np.broadcast_to(symbol.weight, flipped.shape)))


def test_a_book_that_never_trades_is_in_the_middle_of_its_null() -> None:
    steps = 200
    t = permutation_test(
        np.zeros((steps, 1)),
        np.random.default_rng(0).normal(0, 0.01, (steps, 1)),
        np.zeros((steps, 1), dtype=bool),
        np.ones((steps, 1), dtype=bool),
        null="timing",
        cost=2e-4,
        periods_per_year=252,
        permutations=200,
        seed=0,
    )
    assert t.observed == 0.0 and t.p_value == 1.0 and t.percentile == 50.0


def test_annual_return_compounds_and_never_overflows() -> None:
    from tui_trader.core.stats import annual_return

    assert annual_return(0.21, 504, 252) == pytest.approx(0.1)  # 1.1 ** 2 over two years
    assert annual_return(5.0, 3, 98_280) == math.inf  # a big move over a few minute bars
    assert annual_return(-1.0, 10, 252) == -1.0 and annual_return(0.5, 0, 252) == 0.0
