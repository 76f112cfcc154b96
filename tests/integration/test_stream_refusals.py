"""Refused connections over real HTTP: how long the supervisor waits when the server says so,
when a refusal of credentials is a verdict, and what happens to a stream the server does not
offer (review findings #2, #12 and #13)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from tests.integration.harness import BEGINNING, Harness, admin, harnesses
from tui_trader.broker.status import State
from tui_trader.core.backoff import BackoffPolicy
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
