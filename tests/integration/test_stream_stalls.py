"""A busy trade stream that goes silent, over real HTTP (issue 11, point 3).

The emulator beats only idle connections (``heartbeat_mode="idle"``, as a server may: Alpaca's
cadence is undocumented), so a trade stream that carries events without a break never shows a
heartbeat and could never learn a cadence of its own. The account and NTA streams of the same
host are quiet and do: the trade stream is judged by their cadence.

Scale: heartbeats every 0.5 s instead of 5 s (1/10), so the target "abandoned and reconnected
within 16 s" (3 periods + a margin) becomes 1.6 s. What this test pins down is the rule (the
bound is exactly 3 of the periods the quiet streams taught, and a silence is abandoned at it
and reconnected at once); on a loaded machine a heartbeat may arrive a little late, which
lengthens the learned period, so the period is allowed ``LATE`` of lateness. The real-scale
figure is measured by ``scripts/busy_stall.py`` (15.09 s at 5 s heartbeats).
"""

from __future__ import annotations

import threading
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.integration.harness import Harness, admin, harnesses
from tui_trader.broker.status import State
from tui_trader.sim.runner import RunningEmulator

PERIOD = 0.5  # 1/10 of a 5 s heartbeat: the 16 s target scales to 1.6 s
LATE = 0.15  # how late a heartbeat may arrive on a busy 2-core machine (timer latency)


@pytest.fixture
async def harness_for(tmp_path: Path) -> AsyncIterator[Callable[..., Any]]:
    async with harnesses(tmp_path) as make:
        yield make


class Ticker(threading.Thread):
    """A trade event every 20 ms (from another thread) until stopped: a busy stream."""

    def __init__(self, sim: RunningEmulator) -> None:
        super().__init__(daemon=True)
        self.sim = sim
        self.done = threading.Event()

    def run(self) -> None:
        with httpx.Client(base_url=self.sim.url, timeout=10) as c:
            for _ in range(2_000):  # bounded: 40 s at most
                if self.done.wait(0.02):
                    return
                c.post("/_emulator/events", json={"stream": "trades"}).raise_for_status()


async def test_a_busy_trade_stream_that_goes_silent_is_dropped_within_three_periods(
    sim_with: Any, harness_for: Any
) -> None:
    sim: RunningEmulator = sim_with(
        heartbeat_seconds=PERIOD, heartbeat_mode="idle", rate_limit_per_minute=1_000_000
    )
    # the ceiling (what a busy stream waited before) is 5 s here: the old client's bound
    h: Harness = await harness_for(sim, poll=False, reconcile=False, idle_timeout_ceiling=5.0)
    trades = h.supervisor._streams["trades"]
    ticker = Ticker(sim)
    ticker.start()
    try:
        await h.until(lambda: trades.state is State.STREAMING and trades.events >= 10, 10)
        await h.until(lambda: trades.watch.cadence is not None, 5)  # learned off the quiet ones
        assert trades.watch.last_beat is None  # trades itself never saw a heartbeat
        # the next trade connection goes silent mid-burst: no bytes for 3 s
        await admin(
            sim,
            "/_emulator/faults",
            {"kind": "stall", "stream": "trades", "seconds": 3, "after_events": 5},
        )
        await admin(sim, "/_emulator/disconnect")
        await h.until(lambda: len(trades.stalls) == 1, 10)
        stalled_at = time.monotonic()
        silence, bound = trades.stalls[0]
        await h.until(lambda: trades.state is State.STREAMING, 5)
        back = time.monotonic() - stalled_at
    finally:
        ticker.done.set()
        ticker.join(10)
    cadence = trades.watch.cadence
    assert cadence is not None and bound == pytest.approx(3 * cadence)
    assert PERIOD - 0.05 <= cadence <= PERIOD + LATE, cadence  # taught by the quiet streams
    assert silence <= bound + LATE, (silence, bound)  # abandoned at its bound (timer latency)
    # and reconnected at once: the silence already waited longer than any backoff would
    assert back <= 2 * LATE, (silence, back)
    assert not [t for t in h.transitions if t.state is State.BACKOFF and "no bytes" in t.reason]
