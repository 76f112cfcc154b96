"""Gaps over real HTTP: a ``dropped N messages`` notice, what follows it in the same read, and
servers that send the notice on every connection (review findings #1 and #9).

The emulator's ``gap_burst`` fault writes the events pending before the notice, the notice and
the events after the dropped ones in ONE write, as a busy server flushing its buffer does; a
refused reconnect right after it makes the next attempt read the journal's committed cursor,
which is where the old client had let post-notice events move it past the gap.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from tests.integration.harness import BEGINNING, Harness, admin, harnesses
from tui_trader.broker.status import State
from tui_trader.sim.runner import RunningEmulator


@pytest.fixture
async def harness_for(tmp_path: Path) -> AsyncIterator[Callable[..., Any]]:
    async with harnesses(tmp_path) as make:
        yield make


def _history(sim: RunningEmulator, groups: int, orders: int) -> int:
    """``groups`` runs of trade events (``orders`` one-share orders each, or one injected
    event), each run in a millisecond of its own, so that an id cursor taken past the gap
    really lies beyond it. Written on the emulator's own loop, in one go."""
    emu = sim.emulator
    ex = emu.exchange

    def write() -> int:
        for _ in range(groups):
            if orders:
                ex.backlog(ex.default_account, orders)
            else:
                ex.inject_trade_event(ex.default_account, "restated", ex.now())
            emu.advance(0.002)
        return int(ex.logs["trades"].end)

    return int(sim.call(write))


@pytest.mark.parametrize(
    ("groups", "orders", "fault"),
    [
        # five events; e1, the notice, e3, e4, e5 in one write (e2 dropped)
        (5, 0, {"after_events": 1, "dropped": 1, "burst": 3}),
        # a backlog replay (one order a millisecond): the notice lands mid-batch and 600
        # events follow it in the same write
        (400, 1, {"after_events": 200, "dropped": 7, "burst": 600}),
    ],
    ids=["small-write", "backlog-replay"],
)
async def test_review_01_events_after_a_gap_notice_in_the_same_read_are_not_journaled(
    sim_with: Any, harness_for: Any, groups: int, orders: int, fault: dict[str, int]
) -> None:
    sim: RunningEmulator = sim_with(speed=0, rate_limit_per_minute=100_000)
    total = _history(sim, groups, orders)
    await admin(sim, "/_emulator/faults", {"kind": "gap_burst", "stream": "trades", **fault})
    # the immediate reconnect is refused once: the next attempt reads the committed cursor
    await admin(
        sim, "/_emulator/faults", {"kind": "connect", "status": 503, "count": 1, "after": 1}
    )
    h: Harness = await harness_for(
        sim, streams=("trades",), poll=False, reconcile=False, since=BEGINNING
    )
    trades = h.supervisor._streams["trades"]
    await h.until(lambda: len(set(h.ids("trades"))) >= total or trades.gaps_recovered >= 1, 20)
    await h.until(lambda: trades.state is State.STREAMING, 10)
    expected = h.emulator_ids("trades")
    assert len(expected) == total
    assert sim.emulator.faults.injected.get("gap_burst") == 1
    with contextlib.suppress(AssertionError):  # a lost event never comes: the assert says so
        await h.until(lambda: len(h.ids("trades")) >= total, 3)
    got = h.ids("trades")
    assert len(got) == len(set(got)), "an event was delivered twice"
    assert not set(expected) - set(got), f"lost {len(set(expected) - set(got))} event(s)"
    assert trades.gaps == 1 and trades.gaps_recovered == 1


async def test_review_09_a_gap_on_every_connection_backs_off_and_reconciles_once(
    sim_with: Any, harness_for: Any
) -> None:
    """A server that says 'dropped N messages' on every connection: the first gap reconnects
    at once, the next ones back off (floor 0.2 s, FAST's schedule 0.05 s doubling to 0.4 s:
    the production 1 s / 1 s / 60 s scaled down), and the REST reconcile runs once for the
    whole burst instead of after every reconnect."""
    sim: RunningEmulator = sim_with(rate_limit_per_minute=100_000)
    h: Harness = await harness_for(sim, streams=("trades",), poll=False, gap_floor=0.2)
    trades = h.supervisor._streams["trades"]
    await h.until(lambda: trades.state is State.STREAMING)
    await h.until(lambda: h.supervisor.status().reconciliation is not None)  # the start's
    positions_before = sim.emulator.stats.get("http GET /v2/positions", 0)
    await admin(
        sim,
        "/_emulator/faults",
        {
            "kind": "slow_reader",
            "stream": "trades",
            "after_events": 0,
            "dropped": 1,
            "count": 10_000,
        },
    )
    await admin(sim, "/_emulator/disconnect")
    await asyncio.sleep(2.0)  # the storm runs on its own for a while: count what it does
    await h.stop()
    # at once, then >= 0.2, 0.2, 0.2, 0.4, 0.4...: a handful of reconnects, not hundreds
    assert trades.gaps <= 10, trades.gaps
    reconciles = sim.emulator.stats.get("http GET /v2/positions", 0) - positions_before
    assert reconciles == 1, reconciles
    gaps = [t for t in h.transitions if "dropped" in t.reason]
    assert gaps and gaps[0].state is State.CONNECTING  # the first gap: at once, no backoff
    waits = [t.delay for t in gaps if t.state is State.BACKOFF]
    assert waits and all(d is not None and d >= 0.2 for d in waits), waits
