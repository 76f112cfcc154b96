"""The emulator's timestamps: RFC3339 in UTC with Alpaca's digits, however the time was made."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from hypothesis import given
from hypothesis import strategies as st

from tui_trader.sim.book import ts, ts6

ZONES = st.sampled_from(
    [UTC, timezone(timedelta(hours=-5)), timezone(timedelta(hours=9, minutes=30))]
)
TIMES = st.datetimes(
    min_value=datetime(1990, 1, 1), max_value=datetime(2090, 1, 1), timezones=ZONES
)


@given(TIMES, st.integers(0, 10_000))
def test_stamps_are_utc_with_nine_or_six_digits(value: datetime, nanos: int) -> None:
    utc = value.astimezone(UTC)
    assert ts(value, nanos) == utc.strftime("%Y-%m-%dT%H:%M:%S.%f") + f"{nanos % 1000:03d}Z"
    assert ts6(value) == utc.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    assert datetime.fromisoformat(ts6(value)) == value  # the same instant, read back
    assert ts(None) is None
