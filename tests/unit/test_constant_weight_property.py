"""Property (issue 14): a constant-weight book, rebalanced every bar, reports the Sharpe of
its own return series annualised with the spacing's periods, at every bar spacing: minute bars
of regular sessions, hourly bars of a 24-hour market, daily and weekly bars. Its per-bar
returns are exactly ``w * r`` (no costs), so the analytic value is ``sign(w)`` times the
series' per-bar Sharpe times the square root of the periods a year, whatever ``w``."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from tui_trader.core.annualise import infer
from tui_trader.core.backtest import _Market, _stats


def minute_sessions(days: int) -> list[datetime]:
    start = datetime(2024, 3, 4, tzinfo=UTC)  # a Monday
    out = []
    for k in range(days * 7 // 5 + 3):
        d = start + timedelta(days=k)
        if d.weekday() < 5 and len(out) < days * 390:
            out += [d + timedelta(hours=14, minutes=30 + i) for i in range(390)]
    return out


def daily_sessions(years: int) -> list[datetime]:
    """252 sessions in each calendar year, as an exchange has."""
    out = []
    for y in range(2015, 2015 + years):
        d = datetime(y, 1, 2, 21, tzinfo=UTC)
        while len([t for t in out if t.year == y]) < 252:
            if d.weekday() < 5:
                out.append(d)
            d += timedelta(days=1)
    return out


SPACINGS = {
    "minute bars of regular sessions": (lambda: minute_sessions(10), 390 * 252),
    "hourly bars of a 24-hour market": (
        lambda: [datetime(2024, 3, 1, tzinfo=UTC) + timedelta(hours=i) for i in range(24 * 45)],
        24 * 365,
    ),
    "daily bars": (lambda: daily_sessions(3), 252),
    "weekly bars": (
        lambda: [datetime(2015, 1, 2, 21, tzinfo=UTC) + timedelta(weeks=i) for i in range(312)],
        52,
    ),
}
STAMPS = {name: make() for name, (make, _) in SPACINGS.items()}


@settings(max_examples=40, deadline=None)
@given(
    spacing=st.sampled_from(sorted(SPACINGS)),
    weight=st.floats(0.05, 1.5) | st.floats(-1.0, -0.05),
    vol=st.floats(0.05, 0.8),
    drift=st.floats(-0.5, 0.5),
    seed=st.integers(0, 2**16),
)
def test_a_constant_weight_book_reports_the_analytic_sharpe_at_every_spacing(
    spacing: str, weight: float, vol: float, drift: float, seed: int
) -> None:
    stamps = STAMPS[spacing]
    periods = SPACINGS[spacing][1]
    rng = np.random.default_rng(seed)
    steps = drift / periods + vol / math.sqrt(periods) * rng.standard_normal(len(stamps))
    closes = 100 * np.exp(np.cumsum(steps))
    market = _Market({"X": list(zip(stamps, closes.tolist(), strict=True))})
    year = infer(list(market.timestamps)).periods_per_year
    if spacing == "weekly bars":  # six whole years of Fridays: 52 or 53 in a calendar year
        assert year in (52, 53)
    else:
        assert year == periods
    n = len(stamps)
    run = market.hold(np.full((n, 1), weight), np.ones((n, 1), dtype=bool), cost=0.0, equity0=1e5)
    reported = _stats(run, 1e5, year, market.timestamps).sharpe
    r = closes[1:] / closes[:-1] - 1
    analytic = math.copysign(1.0, weight) * float(r.mean() / r.std()) * math.sqrt(year)
    # the book's first bar buys (no return); its returns from then on are w * r exactly
    book = np.diff(run.equity) / run.equity[:-1]
    assert np.allclose(book, weight * r, rtol=1e-9, atol=1e-12)
    assert reported == np.float64(analytic) or math.isclose(reported, analytic, rel_tol=1e-9)
