"""Refused connections over real HTTP: how long the supervisor waits when the server says so,
when a refusal of credentials is a verdict, and what happens to a stream the server does not
offer (review findings #2, #12 and #13)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.integration.conftest import KEY_HEADERS
from tests.integration.harness import BEGINNING, Harness, admin, harnesses
from tui_trader.broker.status import State
from tui_trader.core.backoff import BackoffPolicy
from tui_trader.core.events import TradeEvent
from tui_trader.sim.runner import RunningEmulator

# FAST's schedule with a Retry-After ceiling of 1.5 s: the production 600 s, scaled down
CEILED = BackoffPolicy(base=0.05, factor=2.0, cap=0.4, healthy_after=0.5, retry_after_ceiling=1.5)


@pytest.fixture
async def harness_for(tmp_path: Path) -> AsyncIterator[Callable[..., Any]]:
    async with harnesses(tmp_path) as make:
        yield make


def _refusals(h: Harness) -> list[Any]:
    return [t for t in h.transitions if t.state is State.BACKOFF and "HTTP 503" in t.reason]


async def test_review_13_a_retry_after_beyond_the_ceiling_is_cut_and_said(
    sim: RunningEmulator, harness_for: Any
) -> None:
    await admin(
        sim,
        "/_emulator/faults",
        [
            {"kind": "connect", "status": 503, "retry_after_raw": "99999999999"},
            {"kind": "connect", "status": 503, "retry_after_raw": "Wed, 21 Oct 2099 07:28:00 GMT"},
            {"kind": "connect", "status": 503, "retry_after": 1},  # within it: honoured
        ],
    )
    h: Harness = await harness_for(  # the waits are recorded in full, slept at 1/5
        sim,
        sleep_scale=0.2,
        backoff=CEILED,
        streams=("trades",),
        poll=False,
        reconcile=False,
        since=BEGINNING,
    )
    trades = h.supervisor._streams["trades"]
    await h.until(lambda: trades.state is State.STREAMING, 10)
    refused = _refusals(h)
    assert refused[0].retry_after == 99999999999
    assert refused[1].retry_after is not None and refused[1].retry_after > 2 * 10**9  # 2099
    assert [t.delay for t in refused] == [1.5, 1.5, 1.0]
    # the cut is said where a trader looks: the stream's reason (and the log)
    assert "asked to wait 1157407 days, waiting 1.5 s (ceiling)" in refused[0].reason
    assert "(ceiling)" in refused[1].reason
    assert "ceiling" not in refused[2].reason


async def test_review_13_a_401_between_other_failures_is_not_twice_in_a_row(
    sim: RunningEmulator, harness_for: Any
) -> None:
    await admin(
        sim,
        "/_emulator/faults",
        [
            {"kind": "connect", "status": 401},
            {"kind": "connect", "status": 503},
            {"kind": "connect", "status": 401},
        ],
    )
    h: Harness = await harness_for(
        sim, streams=("trades",), poll=False, reconcile=False, since=BEGINNING
    )
    trades = h.supervisor._streams["trades"]
    await h.until(lambda: trades.state is State.STREAMING, 10)
    assert h.supervisor.auth_failure is None
    assert sim.emulator.faults.injected == {"connect_401": 2, "connect_503": 1}
    # two in a row, though, is a verdict (and nothing after it is tried)
    await admin(sim, "/_emulator/faults", [{"kind": "connect", "status": 401, "count": 2}])
    await admin(sim, "/_emulator/disconnect")
    await h.until(lambda: h.task is not None and h.task.done(), 10)
    assert h.supervisor.auth_failure is not None and "401" in h.supervisor.auth_failure
    assert h.supervisor.status().state is State.AUTH_FAILED


# the production schedule for a stream that is not offered (60 s doubling to 15 min), / 200
SLOW = BackoffPolicy(base=0.3, factor=2.0, cap=1.2, healthy_after=0.5)


async def _buy(sim: RunningEmulator, qty: str = "3") -> str:
    async with httpx.AsyncClient(base_url=sim.url, headers=KEY_HEADERS) as client:
        body = {"symbol": "AAPL", "qty": qty, "side": "buy", "type": "market"}
        r = await client.post("/v2/orders", json={**body, "time_in_force": "day"})
        assert r.status_code == 200, r.text
        return str(r.json()["id"])


def _filled_orders(h: Harness, source: str) -> set[str]:
    return {
        str(d.event.order.id)
        for d in h.delivered
        if d.source == source
        and d.type == "fill"
        and isinstance(d.event, TradeEvent)
        and d.event.order is not None
    }


async def test_review_02_a_stream_that_is_not_offered_is_retried_slowly_and_polled(
    sim_with: Any, harness_for: Any
) -> None:
    sim: RunningEmulator = sim_with(rate_limit_per_minute=100_000)
    await admin(sim, "/_emulator/faults", {"kind": "not_offered", "stream": "trades"})
    h: Harness = await harness_for(
        sim,
        streams=("trades",),
        poll_interval=0.1,
        unoffered_backoff=SLOW,
        reconcile=False,
        since=BEGINNING,
    )
    trades = h.supervisor._streams["trades"]
    # asked again, slowly, for as long as it runs (the old supervisor asked once, then gave up)
    await h.until(lambda: sim.emulator.faults.injected.get("not_offered_404", 0) >= 3, 10)
    retries = [t for t in h.transitions if t.state is State.POLLING and t.delay is not None]
    assert len(retries) >= 2
    delays = [t.delay or 0.0 for t in retries]
    assert 0.15 <= delays[0] <= 0.3 and 0.3 <= delays[1] <= 0.6, delays  # jittered, doubling
    assert "not offered (HTTP 404: endpoint not found), retrying in" in retries[0].reason
    assert retries[0].reason.endswith("; polling")
    # meanwhile polling delivers, and counts as a working transport
    assert h.supervisor.trades_delivering()
    order = await _buy(sim)
    await h.until(lambda: order in _filled_orders(h, "poll"), 10)
    # once the host offers the stream again, the next retry finds it; the stream's replay of
    # that fill is a duplicate of the polled one
    async with httpx.AsyncClient(base_url=sim.url) as c:
        assert (await c.delete("/_emulator/faults")).status_code == 200
    await h.until(lambda: trades.state is State.STREAMING, 5)
    await h.until(lambda: trades.duplicates >= 1, 5)
    assert _filled_orders(h, "stream") == set()  # delivered once: by the poll
    assert h.supervisor.trades_delivering()


async def test_review_02_polling_counts_as_delivering_only_within_its_bound(
    sim_with: Any, harness_for: Any
) -> None:
    sim: RunningEmulator = sim_with(rate_limit_per_minute=100_000)
    await admin(sim, "/_emulator/faults", {"kind": "not_offered", "stream": "trades"})
    h: Harness = await harness_for(
        sim, streams=("trades",), poll_interval=0.1, unoffered_backoff=SLOW, reconcile=False
    )
    await h.until(h.supervisor.trades_delivering, 10)
    # REST fails for a while (8 requests, the client retrying each 3 times at 0.2 s): the last
    # good poll ages past 3 intervals, and then nothing delivers trade events: the STREAM
    # breaker's input goes down, and comes back with the next good poll
    h.rest.backoff = BackoffPolicy(base=0.2, cap=0.2, jitter=False)
    await admin(
        sim, "/_emulator/faults", {"kind": "connect", "scope": "rest", "status": 503, "count": 8}
    )
    await h.until(lambda: not h.supervisor.trades_delivering(), 5)
    await h.until(h.supervisor.trades_delivering, 10)
    assert h.supervisor.status().streams[0].state is State.POLLING
