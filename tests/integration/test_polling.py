"""REST polling as the trade stream's stand-in, over real HTTP (review finding #12): its
window moves with what it has read, it pages through more than 500 orders, and each poll
costs the same however long the session has run."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.integration.conftest import KEY, SECRET
from tests.integration.harness import Harness, admin, harnesses
from tui_trader.broker.poller import TradePoller
from tui_trader.broker.rest import AlpacaREST
from tui_trader.broker.status import State
from tui_trader.core.events import TradeEvent
from tui_trader.sim.runner import RunningEmulator


@pytest.fixture
async def harness_for(tmp_path: Path) -> AsyncIterator[Callable[..., Any]]:
    async with harnesses(tmp_path) as make:
        yield make


def _gets(sim: RunningEmulator) -> int:
    """Every GET the emulator has answered (the gate counts them per route)."""
    stats = dict(sim.emulator.stats)
    return sum(n for key, n in stats.items() if key.startswith("http GET "))


def _resting(sim: RunningEmulator, n: int) -> list[str]:
    """``n`` limit buys far below the market (they rest), placed on the emulator's loop."""
    ex = sim.emulator.exchange
    body = {
        "symbol": "AAPL",
        "qty": "1",
        "side": "buy",
        "type": "limit",
        "limit_price": "1.00",
        "time_in_force": "day",
    }
    ids: list[str] = sim.call(lambda: [ex.submit(ex.default_account, body).id for _ in range(n)])
    return ids


def _events(h: Harness, kind: str) -> set[str]:
    return {
        str(d.event.order.id)
        for d in h.delivered
        if d.type == kind and isinstance(d.event, TradeEvent) and d.event.order is not None
    }


async def test_review_12_polling_pages_through_more_than_500_orders(
    sim_with: Any, harness_for: Any
) -> None:
    sim: RunningEmulator = sim_with(rate_limit_per_minute=1_000_000)
    await admin(sim, "/_emulator/faults", {"kind": "not_offered", "stream": "trades"})
    h: Harness = await harness_for(sim, streams=("trades",), poll_interval=0.2, reconcile=False)
    # polling: the stream is not offered
    await h.until(lambda: h.supervisor.status().streams[0].state is State.POLLING, 10)
    placed = set(_resting(sim, 600))
    await admin(sim, "/_emulator/clock/advance", {"seconds": 1})  # route them: status new
    await h.until(lambda: placed <= _events(h, "new"), 10)
    lookups = sim.emulator.stats.get("http GET /v2/orders/{id}", 0)
    sim.call(lambda: sim.emulator.exchange.cancel_all(sim.emulator.exchange.default_account))
    await h.until(lambda: placed <= _events(h, "canceled"), 10)
    # a mass cancel is read by sweeping the closed orders, not one request per order
    assert sim.emulator.stats.get("http GET /v2/orders/{id}", 0) - lookups <= 5
    assert h.journal.count("trades") == len(h.delivered)


async def test_review_12_each_poll_costs_the_same_as_the_history_grows(
    sim_with: Any,
) -> None:
    """Eight rounds of 120 filled orders, the sim clock moved 30 s between rounds: each poll
    reads from the newest fill it has seen minus its 5 s overlap (so the previous round, all
    stamped in one instant, once more: the journal drops those as duplicates), never the
    whole history: the same requests and the same reading in the eighth round as in the
    second."""
    sim: RunningEmulator = sim_with(rate_limit_per_minute=1_000_000)
    ex = sim.emulator.exchange
    async with AlpacaREST(sim.url, sim.url, KEY, SECRET) as rest:
        poller = TradePoller(rest, overlap=5.0, first_overlap=120.0)
        poller.begin(sim.call(ex.now) - timedelta(seconds=1))
        requests: list[int] = []
        read: list[int] = []
        new: list[int] = []
        seen: set[str] = set()
        for _ in range(8):
            sim.call(lambda: ex.backlog(ex.default_account, 120))
            before = _gets(sim)
            items = await poller.poll()
            requests.append(_gets(sim) - before)
            keys = {item[1] for item in items if item[2] in ("fill", "partial_fill")}
            read.append(len(keys))
            new.append(len(keys - seen))
            seen |= keys
            await admin(sim, "/_emulator/clock/advance", {"seconds": 30})
    assert new == [120] * 8, new
    assert read == [120] + [240] * 7, read  # this round and the one inside the overlap
    # first poll: activities 100 + 20 + the empty page that ends them, the orders submitted
    # since the cursor, the open orders (none: market orders fill at once, so not asked
    # again); then 100 + 100 + 40 + empty, and the orders
    assert requests == [5] * 8, requests


async def test_a_polled_order_the_broker_has_only_accepted_is_not_said_to_be_new(
    sim_with: Any, harness_for: Any
) -> None:
    """An order the broker has taken in but not routed reads ``accepted``, and cannot be
    replaced yet (API.md §5.3). Polled, it was told as a ``new`` event, so the desk's book
    showed it working at the venue, and a replace sent on that word was refused (422); the
    real ``new`` later was then dropped as the same fact. It is told as ``accepted`` now,
    and ``new`` once a poll reads it routed. (The emulator routes on its tick, here only
    when the test moves the clock.)"""
    sim: RunningEmulator = sim_with(tick_seconds=3600.0)
    await admin(sim, "/_emulator/faults", {"kind": "not_offered", "stream": "trades"})
    h: Harness = await harness_for(sim, streams=("trades",), poll_interval=0.2, reconcile=False)
    await h.until(lambda: h.supervisor.status().streams[0].state is State.POLLING, 10)
    (order_id,) = _resting(sim, 1)
    await h.until(lambda: order_id in _events(h, "accepted") | _events(h, "new"), 10)
    assert order_id in _events(h, "accepted") and order_id not in _events(h, "new")
    await admin(sim, "/_emulator/clock/advance", {"seconds": 1})  # routed: status new
    await h.until(lambda: order_id in _events(h, "new"), 10)
    kinds = [
        d.type
        for d in h.delivered
        if isinstance(d.event, TradeEvent)
        and d.event.order is not None
        and str(d.event.order.id) == order_id
    ]
    assert kinds == ["accepted", "new"], kinds
