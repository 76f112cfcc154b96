"""The streaming engine against the emulator's faults, over real HTTP: nothing lost, nothing
twice, every reconnect waits what the server asked, stalls are caught, polling covers an
outage and positions are reconciled after it."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.integration.conftest import KEY, KEY_HEADERS
from tests.integration.harness import (
    BEGINNING,
    FAST,
    Harness,
    admin,
    admin_sync,
    harnesses,
)
from tui_trader.broker.journal import Journal
from tui_trader.broker.rest import AlpacaREST
from tui_trader.broker.status import State
from tui_trader.broker.supervisor import Supervisor, SupervisorOptions
from tui_trader.core.backoff import BackoffPolicy
from tui_trader.core.events import TradeEvent
from tui_trader.core.models import Position
from tui_trader.sim.runner import RunningEmulator

LATE = 0.3  # how late a heartbeat may arrive on a busy 2-core machine (timer latency): a
# fresh-clone CI run (the suite on two workers) learned a 0.27 s period once, so 0.15 failed;
# 3 x (0.1 + 0.3) = 1.2 s is still well below the 2 s ceiling an unlearned bound would show


@pytest.fixture
async def harness_for(tmp_path: Path) -> AsyncIterator[Callable[..., Any]]:
    async with harnesses(tmp_path) as make:
        yield make


def _admin(sim: RunningEmulator, path: str, body: Any = None) -> Any:
    return admin_sync(sim, path, body)


class Producer(threading.Thread):
    """Makes events on all three streams at a steady pace from another thread, and every few
    rounds a fault besides the chaos draws: the busy trade stream going silent, refusals with
    Retry-After, a gap notice written together with the events around it in a backlog
    replay, a stream the host stops offering for a while."""

    def __init__(self, sim: RunningEmulator, rounds: int, orders: int) -> None:
        super().__init__(daemon=True)
        self.sim, self.rounds, self.orders = sim, rounds, orders

    def run(self) -> None:
        for round_ in range(self.rounds):
            if round_ % 8 == 1:  # the next trade connection goes silent mid-replay
                stall = {"kind": "stall", "stream": "trades", "seconds": 0.8, "after_events": 10}
                _admin(self.sim, "/_emulator/faults", stall)
                _admin(self.sim, "/_emulator/disconnect")
            elif round_ % 8 == 3:  # refusals with Retry-After, then cut every connection
                status, wait = (503, 1) if round_ % 16 == 3 else (429, 2)
                fault = {"kind": "connect", "status": status, "retry_after": wait, "count": 2}
                _admin(self.sim, "/_emulator/faults", fault)
                _admin(self.sim, "/_emulator/disconnect")
            elif round_ % 8 == 5:  # the next trade replay: events, the notice, events in one
                burst = {"kind": "gap_burst", "stream": "trades", "after_events": 10}
                _admin(self.sim, "/_emulator/faults", {**burst, "dropped": 3, "burst": 40})
                _admin(self.sim, "/_emulator/disconnect")
            elif round_ % 8 == 7:  # the host stops offering a stream (404) for two connections
                gone = {"kind": "not_offered", "stream": "accounts", "count": 2}
                _admin(self.sim, "/_emulator/faults", gone)
                _admin(self.sim, "/_emulator/disconnect")
            _admin(self.sim, "/_emulator/backlog", {"orders": self.orders})
            for stream in ("accounts", "nta"):
                for _ in range(3):
                    _admin(self.sim, "/_emulator/events", {"stream": stream})
            time.sleep(0.05)


@pytest.mark.parametrize("seed", [11, 12, 13])
async def test_soak_across_three_streams_loses_nothing_and_doubles_nothing(
    sim_with: Any, harness_for: Any, seed: int
) -> None:
    # heartbeats every 0.1 s, only on idle connections: the busy trade stream never shows one
    sim: RunningEmulator = sim_with(
        chaos=0.02,
        chaos_max_stall=0.8,
        rate_limit_per_minute=100_000,
        seed=seed,
        heartbeat_mode="idle",
    )
    # Retry-After waits are honoured in full in the schedule but slept at 1/20 real time; a
    # stream that is not offered is asked again after 0.3 s doubling to 0.6 s (60 s / 15 min)
    h: Harness = await harness_for(
        sim,
        sleep_scale=0.05,
        since=BEGINNING,
        poll=False,
        unoffered_backoff=BackoffPolicy(base=0.3, cap=0.6, healthy_after=0.5),
    )
    # the quiet streams teach the host's cadence first (a stall before it is bounded by the
    # rate or the ceiling instead; test_liveness covers that)
    await h.until(lambda: h.supervisor._streams["trades"].watch.cadence is not None, 10)
    producer = Producer(sim, rounds=16, orders=25)  # 1,200 trade events + 96 others
    producer.start()
    await asyncio.to_thread(producer.join, 120)
    for stream in ("trades", "accounts", "nta"):
        count = len(h.emulator_ids(stream))
        await h.until(lambda s=stream, n=count: len(h.ids(s)) >= n, 90)
    await h.stop()

    injected = sim.emulator.faults.injected
    for stream in ("trades", "accounts", "nta"):
        got, expected = h.ids(stream), h.emulator_ids(stream)
        assert len(got) == len(set(got)), f"{stream}: duplicates delivered"
        assert set(got) == set(expected), f"{stream}: lost {len(set(expected) - set(got))}"
        assert h.journal.count(stream) == len(expected)
    assert len(h.ids("trades")) >= 1200
    assert sum(injected.values()) >= 12, injected  # dozens of faults really happened
    assert injected.get("gap_burst", 0) >= 2 and injected.get("not_offered_404", 0) >= 2
    kinds = {k.split("_")[0] for k in injected}
    assert {"drop", "slow", "internal"} & kinds, injected
    # every Retry-After honoured (in the schedule: the sleeps are scaled)
    refusals = [t for t in h.transitions if t.retry_after is not None]
    assert refusals
    for t in refusals:
        assert t.delay is not None and t.delay >= t.retry_after, t
    # every stall abandoned within its bound (timer latency aside), the bound 3 periods of
    # the host's 0.1 s heartbeat, on the busy trade stream as on the quiet ones (a period
    # learned on a loaded 2-core machine may include a heartbeat up to LATE late; the
    # ceiling these stalls would otherwise wait for is the harness's 2 s)
    stalls = [(s.name, *x) for s in h.supervisor._streams.values() for x in s.stalls]
    assert sum(name == "trades" for name, _, _ in stalls) >= 2, stalls
    for name, silence, bound in stalls:
        # the timer fires at the bound; what it measures past it is the loop's lag in this
        # worker (emulator and three streams share it): 0.26 s once in a fresh-clone make test
        assert silence <= bound + 0.5, (name, silence, bound)
        assert bound <= 3 * (0.1 + LATE), (name, bound)
    status = h.supervisor.status()
    assert status.reconnects >= 6, h.status_line()
    assert all(e.source == "stream" for e in h.delivered)


async def test_stall_is_detected_within_the_idle_timeout(sim_with: Any, harness_for: Any) -> None:
    sim: RunningEmulator = sim_with(heartbeat_seconds=0.1)
    h: Harness = await harness_for(sim, streams=("trades",), poll=False, reconcile=False)
    trades = h.supervisor._streams["trades"]
    await h.until(lambda: trades.watch.cadence is not None and trades.state is State.STREAMING)
    idle = trades.watch.timeout(time.monotonic())
    assert 0.2 <= idle <= 0.6  # learned: three periods of a 0.1 s heartbeat
    await admin(sim, "/_emulator/faults", {"kind": "stall", "seconds": 5, "after_events": 1})
    await admin(sim, "/_emulator/disconnect")  # the stall applies to the next connection
    await h.until(lambda: trades.state is State.STREAMING and trades.reconnects >= 1)
    # let the new connection learn again, then make it send one event and go silent
    await h.until(lambda: trades.watch.cadence is not None)
    sent = time.monotonic()
    await admin(sim, "/_emulator/events", {"stream": "trades"})
    await h.until(lambda: any(t.reason.startswith("no bytes") for t in h.transitions), 4)
    detected = time.monotonic() - sent
    assert detected < trades.watch.timeout(time.monotonic()) + 0.5, detected
    assert detected < 5  # long before the stall would have ended by itself


async def test_malformed_lines_are_quarantined_and_the_stream_goes_on(
    sim: RunningEmulator, harness_for: Any
) -> None:
    h: Harness = await harness_for(sim, streams=("trades",), poll=False, since=BEGINNING)
    trades = h.supervisor._streams["trades"]
    await h.until(lambda: trades.state is State.STREAMING)
    lines = ("data: null", "data: {not json", 'data: {"event":"fill"}', "data: [1,2]")
    for line in lines:
        await admin(
            sim, "/_emulator/faults", {"kind": "malformed", "after_events": 0, "line": line}
        )
        before = trades.reconnects
        await admin(sim, "/_emulator/disconnect")  # the next connection starts with the bad line
        await h.until(lambda b=before: trades.reconnects > b and trades.state is State.STREAMING)
        await admin(sim, "/_emulator/events", {"stream": "trades"})
    await h.until(lambda: len(h.ids("trades")) == 4 and h.journal.quarantined_count() == 4)
    assert h.supervisor.status().quarantined == 4
    assert all(d.event is not None for d in h.delivered)  # no bad line became an event
    assert set(h.ids("trades")) == set(h.emulator_ids("trades"))


async def test_bad_credentials_end_in_auth_failed_without_a_retry_storm(
    sim: RunningEmulator, tmp_path: Path
) -> None:
    journal = Journal.open(tmp_path / "j.sqlite3")
    async with (
        AlpacaREST(sim.url, sim.url, KEY, "wrong") as rest,
        httpx.AsyncClient(base_url=sim.url) as http,
    ):
        bad = {**KEY_HEADERS, "APCA-API-SECRET-KEY": "wrong"}
        supervisor = Supervisor(
            rest, journal, http, bad, SupervisorOptions(backoff=FAST, reconcile=False)
        )
        started = time.monotonic()
        await asyncio.wait_for(supervisor.run(), 10)
        took = time.monotonic() - started
    journal.close()
    assert supervisor.auth_failure is not None and "401" in supervisor.auth_failure
    assert supervisor.status().state is State.AUTH_FAILED
    assert took < 5
    async with httpx.AsyncClient(base_url=sim.url) as c:
        state = (await c.get("/_emulator/state")).json()
    assert state["injected"] == {}  # nothing armed: the refusals were the real check


async def test_polling_covers_an_outage_without_duplicates_and_reconciles(
    sim_with: Any, harness_for: Any
) -> None:
    sim: RunningEmulator = sim_with(rate_limit_per_minute=100_000)
    h: Harness = await harness_for(
        sim, streams=("trades",), poll_after=0.3, poll_interval=0.1, since=BEGINNING
    )
    trades = h.supervisor._streams["trades"]
    async with httpx.AsyncClient(base_url=sim.url, headers=KEY_HEADERS) as client:

        async def buy(symbol: str, qty: str) -> str:
            r = await client.post(
                "/v2/orders",
                json={
                    "symbol": symbol,
                    "qty": qty,
                    "side": "buy",
                    "type": "market",
                    "time_in_force": "day",
                },
            )
            assert r.status_code == 200, r.text
            return str(r.json()["id"])

        def polled_fills() -> set[str]:
            return {
                str(d.event.order.id)
                for d in h.delivered
                if d.source == "poll"
                and d.type == "fill"
                and isinstance(d.event, TradeEvent)
                and d.event.order is not None
            }

        def reconciled_after(moment: datetime) -> bool:
            rec = h.supervisor.status().reconciliation
            return rec is not None and rec.at >= moment

        await h.until(lambda: trades.state is State.STREAMING)
        await buy("AAPL", "3")
        await h.until(lambda: any(d.type == "fill" for d in h.delivered))
        # the stream goes down and stays down: every reconnect is refused
        await admin(
            sim,
            "/_emulator/faults",
            {"kind": "connect", "status": 503, "count": 10_000, "scope": "sse"},
        )
        await admin(sim, "/_emulator/disconnect")
        await h.until(lambda: h.supervisor.status().streams[0].state is State.POLLING, 10)
        placed = [
            await buy(symbol, qty) for symbol, qty in (("MSFT", "2"), ("NVDA", "5"), ("SPY", "1"))
        ]
        await h.until(lambda: set(placed) <= polled_fills(), 10)
        reconnects_before = trades.reconnects
        back = datetime.now(UTC)
        await client.delete("/_emulator/faults")
        await h.until(
            lambda: trades.reconnects > reconnects_before and trades.state is State.STREAMING,
            10,
        )
        await h.until(lambda: reconciled_after(back), 5)
        # the stream's replay repeats those fills: each execution is delivered exactly once
        await h.until(lambda: trades.duplicates >= 3, 10)
        facts = [
            (d.event.order.id, d.event.order.filled_qty)
            for d in h.delivered
            if d.type in ("fill", "partial_fill")
            and isinstance(d.event, TradeEvent)
            and d.event.order is not None
        ]
        assert len(facts) == len(set(facts)) == 4
        rec = h.supervisor.status().reconciliation
        assert rec is not None and rec.error is None
        positions = (await client.get("/v2/positions")).json()
        assert rec.positions == {p["symbol"]: p["qty"] for p in positions}
        assert trades.polled >= 3


async def test_resume_recovers_a_same_millisecond_event_that_sorts_lower(
    sim_with: Any, harness_for: Any
) -> None:
    """The hazard of API.md §2.5: resuming with since_id=<last id> would skip C."""
    sim: RunningEmulator = sim_with(speed=0)  # a frozen clock: every event in one millisecond
    h: Harness = await harness_for(
        sim, streams=("trades",), poll=False, reconcile=False, since=BEGINNING
    )
    trades = h.supervisor._streams["trades"]
    await h.until(lambda: trades.state is State.STREAMING)
    await admin(sim, "/_emulator/events", {"stream": "trades"})
    await admin(sim, "/_emulator/events", {"stream": "trades"})
    await h.until(lambda: len(h.ids("trades")) == 2)
    a, b = h.ids("trades")
    # the stream drops and is refused once; meanwhile C is written with an inverted id
    await admin(sim, "/_emulator/faults", {"kind": "connect", "status": 503, "count": 1})
    await admin(sim, "/_emulator/faults", {"kind": "ulid_inversion", "count": 1})
    await admin(sim, "/_emulator/disconnect")
    await admin(sim, "/_emulator/events", {"stream": "trades"})
    c = h.emulator_ids("trades")[-1]
    assert c < b and c[:10] == b[:10]  # same millisecond, sorts below the last one seen
    await h.until(lambda: c in h.ids("trades"), 10)
    assert sorted(h.ids("trades")) == sorted([a, b, c])


async def test_a_reconciliation_that_races_a_fill_is_taken_again(
    sim: RunningEmulator, harness_for: Any
) -> None:
    """Positions read before a fill but returned after the fill was applied would undo it
    ("broker is flat"); the supervisor sees trade events arrive during its snapshot and
    takes it again."""
    h: Harness = await harness_for(sim, streams=("trades",))
    await h.until(lambda: h.supervisor.status().state is State.STREAMING)
    await h.until(lambda: h.supervisor.status().reconciliation is not None)  # the start's
    told: list[list[Position]] = []
    h.supervisor.on_reconcile(lambda positions, _orders: told.append(positions))
    real = h.rest.list_positions
    calls = 0

    async def stale_then_real() -> list[Position]:
        nonlocal calls
        calls += 1
        before = await real()
        if calls == 1:  # a fill lands (and is applied) while this answer is on its way
            async with httpx.AsyncClient(base_url=sim.url, headers=KEY_HEADERS) as client:
                body = {"symbol": "AAPL", "qty": "7", "side": "buy", "type": "market"}
                r = await client.post("/v2/orders", json={**body, "time_in_force": "day"})
                assert r.status_code == 200, r.text
            await h.until(lambda: any(d.type == "fill" for d in h.delivered))
        return before

    h.rest.list_positions = stale_then_real  # type: ignore[method-assign]
    await h.supervisor._reconcile()
    assert calls == 2
    assert told and {p.symbol: p.qty for p in told[-1]} == {"AAPL": Decimal(7)}
    assert len(told) == 1  # the stale answer was never told
