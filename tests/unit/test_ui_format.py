"""The UI's number and time formatting: pure, so checked without a screen."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from tui_trader.ui import format as fmt


def test_money_and_signs() -> None:
    assert fmt.money(Decimal("1234.5")) == "1,234.50"
    assert fmt.money(Decimal("-2187.654"), signed=True) == "-2,187.65"
    assert fmt.money(Decimal("0.5"), signed=True) == "+0.50"
    assert fmt.money(None) == "-"
    assert fmt.pct(Decimal("-2.244")) == "-2.24%"


def test_quantities_keep_fractions_and_drop_noise() -> None:
    assert fmt.qty(Decimal("40")) == "40"
    assert fmt.qty(Decimal("40.000")) == "40"
    assert fmt.qty(Decimal("0.5")) == "0.5"
    assert fmt.qty(Decimal("-60")) == "-60"


def test_durations_read_short() -> None:
    assert fmt.seconds(0.42) == "0.4s"
    assert fmt.seconds(12.9) == "12s"
    assert fmt.seconds(185) == "3m05s"
    assert fmt.seconds(7800) == "2h10m"
    assert fmt.seconds(None) == "-"


def test_countdown_never_goes_negative() -> None:
    now = datetime(2026, 11, 24, 15, 0, tzinfo=UTC)
    assert fmt.countdown(now + timedelta(seconds=12), now) == "12s"
    assert fmt.countdown(now - timedelta(seconds=3), now) == "0.0s"
    assert fmt.countdown(None, now) == "-"


def test_sparkline_spans_the_range_and_the_width() -> None:
    line = fmt.sparkline([1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0], width=8)
    assert line == fmt.BLOCKS  # lowest to highest block, one per value
    assert len(fmt.sparkline(list(range(100)), width=10)) == 10
    assert fmt.sparkline([]) == ""
    flat = fmt.sparkline([3.0, 3.0, 3.0])
    assert len(set(flat)) == 1 and len(flat) == 3


def test_shorten_marks_the_cut() -> None:
    assert fmt.shorten("inside the no-trade band", 10) == "inside th…"
    assert fmt.shorten("ok", 10) == "ok"


def test_forecasts_and_weights_are_readable_and_never_a_negative_zero() -> None:
    """The signals pane's units: a minute bar's forecast is a fraction of a basis point, and
    the policy's shrinkage makes an insignificant one exactly -0.0 (a zero times a negative)."""
    assert fmt.bps(1.234e-5) == "+0.12"  # one decimal read "+0.1"; a column of them "-0.0"
    assert fmt.bps(-4.6e-6) == "-0.05"
    assert fmt.bps(5.86e-4, signed=False) == "5.86"
    assert fmt.weight(0.087092) == "+8.71%"
    assert fmt.weight(-0.0004) == "-0.04%"
    for zero in (0.0, -0.0, -1e-9, 1e-9):
        assert fmt.bps(zero) == "0.00"
        assert fmt.weight(zero) == "0.00%"
        assert fmt.pct(zero) == "0.00%"
        assert fmt.money(zero, signed=True) == "0.00"
    assert fmt.money(Decimal("-0.004"), signed=True) == "0.00"
    assert fmt.money(Decimal("-1234.5"), signed=True) == "-1,234.50"
