"""The emulator's market clock: trading time that runs at a speed factor and skips nights.

The emulated market is open whenever the program runs: sim time advances through the regular
session (09:30-16:00 New York) at ``speed`` times real time and jumps from one close straight
to the next weekday's open. That keeps demos and tests always "in session" while day orders,
``opg``/``cls`` orders and daily bars still see real session boundaries. Holidays are ignored.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

NEW_YORK = ZoneInfo("America/New_York")
SESSION_SECONDS = 6 * 3600 + 30 * 60
OPEN_HOUR, OPEN_MINUTE = 9, 30


def is_trading_day(day: date) -> bool:
    return day.weekday() < 5


def next_trading_day(day: date) -> date:
    day += timedelta(days=1)
    while not is_trading_day(day):
        day += timedelta(days=1)
    return day


def session_open(day: date) -> datetime:
    """The UTC instant of the regular-session open on ``day`` (DST handled by zoneinfo)."""
    local = datetime(day.year, day.month, day.day, OPEN_HOUR, OPEN_MINUTE, tzinfo=NEW_YORK)
    return local.astimezone(UTC)


def default_start(now: datetime | None = None) -> datetime:
    """Real now when the real market is in session, else the latest session's open.

    So that at speed 1 during market hours the emulator's timestamps match the wall clock,
    and at other times they still look like a trading day.
    """
    now = (now or datetime.now(UTC)).astimezone(UTC)
    local_day = now.astimezone(NEW_YORK).date()
    if is_trading_day(local_day):
        opened = session_open(local_day)
        if opened <= now < opened + timedelta(seconds=SESSION_SECONDS):
            return now
        if now >= opened:
            return opened
    day = local_day - timedelta(days=1)
    while not is_trading_day(day):
        day -= timedelta(days=1)
    return session_open(day)


@dataclass(frozen=True)
class SessionTime:
    """A point of trading time: which session (0 = the first) and seconds into it."""

    session: int
    seconds: float


class SimClock:
    """Maps real monotonic time to trading time.

    ``speed`` 0 freezes the clock: only :meth:`advance` moves it (deterministic tests).
    The real-time source is injectable for the same reason.
    """

    def __init__(
        self,
        start: datetime,
        speed: float = 1.0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        if speed < 0:
            raise ValueError("speed must be >= 0")
        start = start.astimezone(UTC)
        local_day = start.astimezone(NEW_YORK).date()
        opened = session_open(local_day)
        offset = (start - opened).total_seconds()
        if not is_trading_day(local_day) or not 0 <= offset < SESSION_SECONDS:
            raise ValueError(f"start {start.isoformat()} is not inside a regular session")
        self._first_day = local_day
        self._offset0 = offset
        self._speed = speed
        self._monotonic = monotonic
        self._real0 = monotonic()
        self._manual = 0.0
        self._days: list[date] = [local_day]

    @property
    def speed(self) -> float:
        return self._speed

    def advance(self, seconds: float) -> None:
        """Move trading time forward by hand (in addition to the real-time drift)."""
        if seconds < 0:
            raise ValueError("time only moves forward")
        self._manual += seconds

    def elapsed(self) -> float:
        """Trading seconds since the start."""
        return (self._monotonic() - self._real0) * self._speed + self._manual

    def trading_seconds(self) -> float:
        """Trading seconds since the first session's open."""
        return self._offset0 + self.elapsed()

    def session_time(self, trading_seconds: float | None = None) -> SessionTime:
        total = self.trading_seconds() if trading_seconds is None else trading_seconds
        session = int(total // SESSION_SECONDS)
        return SessionTime(session, total - session * SESSION_SECONDS)

    def session_day(self, session: int) -> date:
        while len(self._days) <= session:
            self._days.append(next_trading_day(self._days[-1]))
        return self._days[session]

    def to_datetime(self, trading_seconds: float) -> datetime:
        st = self.session_time(trading_seconds)
        return session_open(self.session_day(st.session)) + timedelta(seconds=st.seconds)

    def now(self) -> datetime:
        return self.to_datetime(self.trading_seconds())
