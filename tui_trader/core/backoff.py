"""Reconnect and retry pacing: capped exponential backoff with equal jitter (API.md §6, §9).

Alpaca's advice is exponential backoff and no retry before ``X-RateLimit-Reset``; alpaca-py's
websocket reconnecting every ~10 ms caused 429 storms. So every delay here is at least the
server's own floor (``Retry-After``, or the rate-limit reset), and the exponential term is
jittered downwards by at most ``jitter_fraction`` so that many clients spread out without
any of them coming back almost at once.

Pure: time, randomness and sleeping are injected, so tests run without waiting and this
module imports no I/O library (``asyncio`` is imported only inside :meth:`wait`, and only
when no sleep was injected).
"""

from __future__ import annotations

import math
import random as _random
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC
from email.utils import parsedate_to_datetime

__all__ = ["BackoffPolicy", "ReconnectStrategy", "parse_retry_after"]


def _finite(name: str, value: float) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number")


@dataclass(frozen=True)
class BackoffPolicy:
    """The schedule ``min(cap, base * factor**attempt)``, optionally with equal jitter.

    With jitter the delay is uniform in ``[(1 - jitter_fraction) * d, d]``: spread enough to
    break up a thundering herd, never so short that a client hammers a struggling server.
    A connection that lived ``healthy_after`` seconds resets the schedule. A server's own
    wait (Retry-After, the rate-limit reset) is honoured up to ``retry_after_ceiling``: a
    mistaken or hostile header (an HTTP-date in 2099) must not park a stream for ever.
    """

    base: float = 1.0
    factor: float = 2.0
    cap: float = 60.0
    jitter: bool = True
    jitter_fraction: float = 0.5
    healthy_after: float = 30.0
    retry_after_ceiling: float = 600.0

    def __post_init__(self) -> None:
        for name in (
            "base",
            "factor",
            "cap",
            "jitter_fraction",
            "healthy_after",
            "retry_after_ceiling",
        ):
            _finite(name, getattr(self, name))
        if self.base <= 0:
            raise ValueError("base must be > 0")
        if self.factor < 1:
            raise ValueError("factor must be >= 1 (a shrinking backoff is no backoff)")
        if self.cap < self.base:
            raise ValueError("cap must not be below base")
        if not 0 <= self.jitter_fraction <= 1:
            raise ValueError("jitter_fraction must be within [0, 1]")
        if self.healthy_after < 0:
            raise ValueError("healthy_after must be >= 0")
        if self.retry_after_ceiling <= 0:
            raise ValueError("retry_after_ceiling must be > 0")

    def capped(self, attempt: int) -> float:
        """The un-jittered delay before attempt number ``attempt`` (0-based)."""
        if attempt < 0:
            raise ValueError("attempt must be >= 0")
        try:
            raw = self.base * self.factor**attempt
        except OverflowError:
            return self.cap
        return min(self.cap, raw)

    def delay(self, attempt: int, draw: float) -> float:
        """The delay for ``attempt`` given a uniform ``draw`` in [0, 1)."""
        d = self.capped(attempt)
        if not self.jitter or self.jitter_fraction == 0:
            return d
        u = min(max(draw, 0.0), 1.0) if math.isfinite(draw) else 0.0
        low = (1.0 - self.jitter_fraction) * d
        return low + (d - low) * u


def _floor(value: float | None) -> float:
    if value is None or not math.isfinite(value):
        return 0.0
    return max(0.0, value)


class ReconnectStrategy:
    """Counts attempts and says how long to wait before the next one.

    One instance per connection (or per retried request). ``next_delay`` counts an attempt;
    ``connected``/``disconnected`` reset the count only after a connection proved healthy, so
    a server that accepts and then drops every connection still gets an ever longer pause.
    """

    def __init__(
        self,
        policy: BackoffPolicy = BackoffPolicy(),
        *,
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
        random: Callable[[], float] = _random.random,
        sleep: Callable[[float], Awaitable[None]] | None = None,
    ) -> None:
        self.policy = policy
        self._clock = clock
        self._wall = wall
        self._random = random
        self._sleep = sleep
        self._attempt = 0
        self._last_delay: float | None = None
        self._last_cut: float | None = None
        self._connected_at: float | None = None

    def __repr__(self) -> str:
        return (
            f"ReconnectStrategy(attempt={self._attempt}, last_delay={self._last_delay}, "
            f"connected={self._connected_at is not None})"
        )

    @property
    def attempt(self) -> int:
        """Attempts counted since the last reset."""
        return self._attempt

    @property
    def last_delay(self) -> float | None:
        """The delay the last :meth:`next_delay` returned; None before the first."""
        return self._last_delay

    @property
    def last_cut(self) -> float | None:
        """What the server asked for when the last :meth:`next_delay` cut it to the
        ceiling (seconds from then); None when nothing was cut."""
        return self._last_cut

    def next_delay(
        self, *, retry_after: float | None = None, rate_limit_reset: float | None = None
    ) -> float:
        """The wait before the next attempt, counting that attempt.

        ``retry_after`` is seconds from now; ``rate_limit_reset`` is the Unix time of
        ``X-RateLimit-Reset``. Both are floors that the backoff cap never shortens (the
        server said when it will answer again, so asking earlier only earns another
        refusal), up to ``policy.retry_after_ceiling``; a longer wait is cut to the ceiling
        and reported by :attr:`last_cut`.
        """
        delay = self.policy.delay(self._attempt, self._random())
        asked = _floor(retry_after)
        if rate_limit_reset is not None:
            asked = max(asked, _floor(rate_limit_reset - self._wall()))
        ceiling = self.policy.retry_after_ceiling
        self._last_cut = asked if asked > ceiling else None
        delay = max(delay, min(asked, ceiling))
        self._attempt += 1
        self._last_delay = delay
        return delay

    async def wait(
        self, *, retry_after: float | None = None, rate_limit_reset: float | None = None
    ) -> float:
        """:meth:`next_delay`, then sleep that long; returns the delay."""
        delay = self.next_delay(retry_after=retry_after, rate_limit_reset=rate_limit_reset)
        sleep = self._sleep
        if sleep is None:
            import asyncio  # lazily: the core must not pull in asyncio at import time

            sleep = asyncio.sleep
        await sleep(delay)
        return delay

    def reset(self) -> None:
        """Start the schedule again from ``base``."""
        self._attempt = 0

    def connected(self) -> None:
        """A connection is up now; :meth:`healthy` measures from here."""
        self._connected_at = self._clock()

    def connected_for(self) -> float | None:
        """Seconds the current connection has been up; None when not connected."""
        if self._connected_at is None:
            return None
        return self._clock() - self._connected_at

    def healthy(self) -> bool:
        """True once the current connection has lasted ``healthy_after`` seconds."""
        uptime = self.connected_for()
        return uptime is not None and uptime >= self.policy.healthy_after

    def disconnected(self) -> bool:
        """The connection ended. Resets the schedule only if it was healthy; returns whether."""
        was_healthy = self.healthy()
        self._connected_at = None
        if was_healthy:
            self.reset()
        return was_healthy


_DELTA_SECONDS = re.compile(r"^-?\d{1,12}(?:\.\d{1,9})?$")


def parse_retry_after(value: str | None, wall_now: float) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (RFC 9110: delta-seconds or HTTP-date).

    A decimal is accepted too (some proxies send one). A negative delta or a date in the past
    means "now" (0). Anything unreadable is None: the caller falls back to its own backoff.
    """
    if value is None:
        return None
    text = value.strip()
    if not text:
        return None
    if _DELTA_SECONDS.match(text):
        return max(0.0, float(text))
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    try:
        seconds = when.timestamp() - wall_now
    except (OverflowError, OSError, ValueError):
        return None
    return max(0.0, seconds) if math.isfinite(seconds) else None
