"""The replay's pace: which recorded steps are due at a given moment, at a given speed.

Pure: it is told the time (a monotonic reading) rather than reading a clock, so tests step
it without sleeping. Journal time advances ``speed`` times as fast as the wall clock while
playing, not at all while paused; a step plays when journal time reaches its stamp. A silence
in the recording longer than ``max_idle`` wall seconds at the current speed is skipped to
``max_idle`` before its next step: an idle hour is not watched for six minutes at 10x.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Final

from tui_trader.desk.replay_source import Step

SPEEDS: Final[tuple[float | None, ...]] = (1, 2, 5, 10, 30, 60, 120, 300, 600, None)
"""The speed ladder of the ``[``/``]`` keys; None: as fast as it can."""
BURST: Final = 500
"""Steps taken at most per turn as fast as it can (the screen keeps repainting)."""


def faster(speed: float | None) -> float | None:
    if speed is None:
        return None
    return next((s for s in SPEEDS if s is None or s > speed), None)


def slower(speed: float | None) -> float | None:
    if speed is None:
        return SPEEDS[-2]
    lower = [s for s in SPEEDS if s is not None and s < speed]
    return lower[-1] if lower else speed


class Player:
    """Steps in order, handed out when due; pause, step one, change speed."""

    def __init__(
        self,
        steps: Iterator[Step],
        *,
        speed: float | None = 10.0,
        max_idle: float = 2.0,
    ) -> None:
        self._steps = steps
        self._next: Step | None = next(steps, None)
        self.at: float | None = None if self._next is None else self._next.t  # journal time
        self.speed = speed
        self.max_idle = max_idle
        self.paused = False
        self.played = 0
        self._wall: float | None = None  # the wall time ``at`` was last moved to

    @property
    def ended(self) -> bool:
        return self._next is None

    def _take(self) -> Step:
        step = self._next
        assert step is not None
        self._next = next(self._steps, None)
        self.played += 1
        self.at = step.t if self.at is None else max(self.at, step.t)
        return step

    def before(self, t: float) -> Iterator[Step]:
        """Every step stamped before ``t``, at once (``--from``); journal time is then ``t``."""
        while self._next is not None and self._next.t < t:
            yield self._take()
        self.at = t

    def due(self, now: float) -> list[Step]:
        """The steps due at wall time ``now`` (none while paused)."""
        if self._next is None or self.paused:
            self._wall = now
            return []
        if self.speed is None:
            out: list[Step] = []
            while self._next is not None and len(out) < BURST:
                out.append(self._take())
            self._wall = now
            return out
        self._advance(now)
        out = []
        while self._next is not None and self.at is not None and self._next.t <= self.at:
            out.append(self._take())
        self._skip_idle()
        return out

    def _advance(self, now: float) -> None:
        """Move journal time to wall time ``now`` at the current speed (playing only); the
        steps it passes stay queued for :meth:`due`."""
        if self._next is None or self.paused or self.speed is None:
            self._wall = now
            return
        if self._wall is None or self.at is None:
            self._wall, self.at = now, self._next.t if self.at is None else self.at
        self.at += (now - self._wall) * self.speed
        self._wall = now
        self._skip_idle()

    def _skip_idle(self) -> None:
        """A silence longer than ``max_idle`` at this speed: skip to ``max_idle`` before."""
        if self._next is None or self.at is None or self.speed is None or self.paused:
            return
        if self._next.t - self.at > self.max_idle * self.speed:
            self.at = self._next.t - self.max_idle * self.speed

    def wait(self) -> float | None:
        """Wall seconds until the next step is due; None: nothing will be (ended or paused)."""
        if self._next is None or self.paused:
            return None
        if self.speed is None or self.at is None:
            return 0.0
        return max(0.0, (self._next.t - self.at) / self.speed)

    def step(self, now: float) -> Step | None:
        """The next step at once, whatever its time (paused: one at a time)."""
        if self._next is None:
            return None
        self._wall = now
        return self._take()

    def toggle(self, now: float) -> bool:
        """Pause or resume; returns whether it is paused now."""
        self._advance(now)  # journal time up to now at the old state
        self.paused = not self.paused
        self._wall = now
        return self.paused

    def set_speed(self, speed: float | None, now: float) -> None:
        self._advance(now)  # journal time up to now at the old speed
        self.speed = speed
        self._wall = now
