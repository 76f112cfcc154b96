"""Backoff pacing: the exact schedule, jitter bounds, server floors, health resets, and
Retry-After parsing. Time, randomness and sleep are all injected: nothing here waits."""

from __future__ import annotations

import random
from datetime import UTC, datetime
from email.utils import format_datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tui_trader.config import StreamSettings
from tui_trader.core.backoff import BackoffPolicy, ReconnectStrategy, parse_retry_after

NO_JITTER = BackoffPolicy(jitter=False)


class FakeClock:
    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_schedule_without_jitter_is_exact_and_capped() -> None:
    strategy = ReconnectStrategy(NO_JITTER)
    delays = [strategy.next_delay() for _ in range(10)]
    assert delays == [1, 2, 4, 8, 16, 32, 60, 60, 60, 60]
    assert strategy.attempt == 10
    assert strategy.last_delay == 60


def test_huge_attempt_counts_stay_at_the_cap() -> None:
    assert NO_JITTER.capped(5000) == 60  # 2.0**5000 overflows a float


@pytest.mark.parametrize(
    "changes",
    [
        {"base": 0},
        {"base": -1},
        {"factor": 0.5},
        {"cap": 0.5},
        {"jitter_fraction": 1.5},
        {"jitter_fraction": -0.1},
        {"healthy_after": -1},
        {"base": float("nan")},
        {"cap": float("inf")},
    ],
)
def test_policy_rejects_nonsense(changes: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        BackoffPolicy(**changes)  # type: ignore[arg-type]


def test_policy_from_settings() -> None:
    settings = StreamSettings(
        backoff_base_seconds=0.5,
        backoff_factor=3,
        backoff_cap_seconds=20,
        jitter=False,
        healthy_after_seconds=7,
    )
    policy = settings.backoff()
    assert policy == BackoffPolicy(base=0.5, factor=3, cap=20, jitter=False, healthy_after=7)
    strategy = ReconnectStrategy(policy)
    assert [strategy.next_delay() for _ in range(5)] == [0.5, 1.5, 4.5, 13.5, 20]


@given(
    attempt=st.integers(min_value=0, max_value=80),
    draw=st.floats(min_value=0, max_value=1, exclude_max=True),
    fraction=st.floats(min_value=0, max_value=1),
)
def test_jitter_stays_within_equal_jitter_bounds(
    attempt: int, draw: float, fraction: float
) -> None:
    policy = BackoffPolicy(jitter_fraction=fraction)
    strategy = ReconnectStrategy(policy, random=lambda: draw)
    for _ in range(attempt):
        strategy.next_delay()
    delay = strategy.next_delay()
    d = min(60.0, 2.0**attempt)
    assert (1 - fraction) * d - 1e-9 <= delay <= d + 1e-9


def test_jitter_uses_the_whole_range() -> None:
    low = ReconnectStrategy(random=lambda: 0.0)
    high = ReconnectStrategy(random=lambda: 0.999999)
    for _ in range(3):
        low.next_delay()
        high.next_delay()
    assert low.next_delay() == pytest.approx(4.0)  # half of 8
    assert high.next_delay() == pytest.approx(8.0, abs=1e-4)


def test_many_clients_spread_out() -> None:
    """100 clients that all lost the server at once do not all come back at once."""
    delays = []
    for seed in range(100):
        strategy = ReconnectStrategy(random=random.Random(seed).random)
        for _ in range(4):
            strategy.next_delay()
        delays.append(strategy.next_delay())  # attempt 4: d = 16
    assert all(8 <= d <= 16 for d in delays)
    assert len({round(d, 6) for d in delays}) > 90
    assert max(delays) - min(delays) > 4  # a real spread, not a cluster


def test_retry_after_beats_the_cap_and_the_exponential_term() -> None:
    strategy = ReconnectStrategy(NO_JITTER)
    assert strategy.next_delay(retry_after=5) == 5  # above the first term (1)
    assert strategy.next_delay(retry_after=0.5) == 2  # below: the exponential term wins
    for _ in range(10):
        strategy.next_delay()
    assert strategy.next_delay(retry_after=90) == 90  # the cap (60) never shortens it
    assert strategy.next_delay(retry_after=-4) == 60  # a negative floor is no floor


def test_rate_limit_reset_is_a_floor_measured_on_the_wall_clock() -> None:
    wall = FakeClock(1_700_000_000.0)
    strategy = ReconnectStrategy(NO_JITTER, wall=wall)
    assert strategy.next_delay(rate_limit_reset=wall.now + 42) == 42
    assert strategy.next_delay(rate_limit_reset=wall.now - 10) == 2  # past reset: no floor
    for _ in range(10):
        strategy.next_delay()
    assert strategy.next_delay(rate_limit_reset=wall.now + 75) == 75  # beyond the cap
    both = strategy.next_delay(retry_after=80, rate_limit_reset=wall.now + 70)
    assert both == 80  # the larger floor wins


def test_a_healthy_connection_resets_the_schedule() -> None:
    clock = FakeClock()
    strategy = ReconnectStrategy(NO_JITTER, clock=clock)
    for _ in range(4):
        strategy.next_delay()
    strategy.connected()
    assert not strategy.healthy()
    clock.now += 29.9
    assert not strategy.healthy()
    clock.now += 0.1
    assert strategy.healthy()
    assert strategy.attempt == 4  # healthy() only looks
    assert strategy.disconnected() is True
    assert strategy.attempt == 0
    assert strategy.next_delay() == 1


def test_a_connection_that_dies_young_does_not_reset() -> None:
    clock = FakeClock()
    strategy = ReconnectStrategy(NO_JITTER, clock=clock)
    for _ in range(3):
        strategy.next_delay()
    strategy.connected()
    clock.now += 0.2  # dies right after its first event
    assert strategy.disconnected() is False
    assert strategy.attempt == 3
    assert strategy.next_delay() == 8
    assert not strategy.healthy()  # not connected at all now
    assert strategy.disconnected() is False  # a second disconnect changes nothing


def test_explicit_reset() -> None:
    strategy = ReconnectStrategy(NO_JITTER)
    strategy.next_delay()
    strategy.next_delay()
    strategy.reset()
    assert strategy.next_delay() == 1


async def test_wait_uses_the_injected_sleep() -> None:
    slept: list[float] = []

    async def fake_sleep(seconds: float) -> None:
        slept.append(seconds)

    wall = FakeClock(5000.0)
    strategy = ReconnectStrategy(NO_JITTER, sleep=fake_sleep, wall=wall)
    assert await strategy.wait() == 1
    assert await strategy.wait(retry_after=7) == 7
    assert await strategy.wait(rate_limit_reset=5009.5) == 9.5
    assert slept == [1, 7, 9.5]
    assert strategy.attempt == 3


NOW = datetime(2026, 11, 24, 15, 0, tzinfo=UTC).timestamp()


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("120", 120.0),
        (" 3 ", 3.0),
        ("0", 0.0),
        ("1.5", 1.5),
        ("-5", 0.0),
        (format_datetime(datetime(2026, 11, 24, 15, 0, 30, tzinfo=UTC), usegmt=True), 30.0),
        ("Tue, 24 Nov 2026 14:59:00 GMT", 0.0),  # in the past: retry now
        ("soon", None),
        ("", None),
        ("1e3", None),
        ("nan", None),
        ("12abc", None),
        (None, None),
    ],
)
def test_parse_retry_after(value: str | None, expected: float | None) -> None:
    assert parse_retry_after(value, NOW) == expected


def test_review_13_retry_after_is_honoured_up_to_the_ceiling_and_a_cut_is_reported() -> None:
    wall = FakeClock(NOW)
    strategy = ReconnectStrategy(NO_JITTER, wall=wall)
    huge = parse_retry_after("99999999999", wall.now)
    far = parse_retry_after("Wed, 21 Oct 2099 07:28:00 GMT", wall.now)
    assert far is not None and far > 10**9
    delays = [
        strategy.next_delay(retry_after=120),  # above the cap, below the ceiling: honoured
        strategy.next_delay(retry_after=600),  # the ceiling itself is honoured
        strategy.next_delay(retry_after=huge),
        strategy.next_delay(retry_after=far),  # a date in 2099 parks nothing
        strategy.next_delay(rate_limit_reset=wall.now + 86_400),
    ]
    assert delays == [120, 600, 600, 600, 600]
    assert strategy.last_cut == 86_400  # what the server asked, for the log and the screen
    strategy.next_delay(retry_after=huge)
    assert strategy.last_cut == 99999999999
    assert strategy.next_delay() == 60  # a plain attempt: nothing cut
    assert strategy.last_cut is None
    strategy.next_delay(retry_after=120)
    assert strategy.last_cut is None


def test_the_retry_after_ceiling_is_a_setting() -> None:
    policy = StreamSettings(retry_after_ceiling_seconds=30).backoff()
    assert policy.retry_after_ceiling == 30
    assert ReconnectStrategy(policy).next_delay(retry_after=45) == 30
    with pytest.raises(ValueError):
        BackoffPolicy(retry_after_ceiling=0)
