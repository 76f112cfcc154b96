"""A Supervisor on the test's own loop against a real emulator, with everything it says
recorded: the shared rig of the streaming tests (test_streaming, test_stream_gaps, ...)."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from tests.integration.conftest import KEY, KEY_HEADERS, SECRET
from tui_trader.broker.journal import Journal
from tui_trader.broker.rest import AlpacaREST
from tui_trader.broker.status import ConnectionStatus, Transition
from tui_trader.broker.supervisor import Delivered, Supervisor, SupervisorOptions
from tui_trader.core.backoff import BackoffPolicy
from tui_trader.sim.runner import RunningEmulator

FAST = BackoffPolicy(base=0.05, factor=2.0, cap=0.4, healthy_after=0.5)
BEGINNING = datetime(2026, 11, 1, tzinfo=UTC)  # before every emulator event: replay it all


@dataclass
class Harness:
    """A supervisor on the test's loop, with everything it says recorded."""

    sim: RunningEmulator
    journal: Journal
    supervisor: Supervisor
    rest: AlpacaREST
    http: httpx.AsyncClient
    delivered: list[Delivered] = field(default_factory=list)
    transitions: list[Transition] = field(default_factory=list)
    slept: list[float] = field(default_factory=list)
    task: asyncio.Task[None] | None = None

    def ids(self, stream: str) -> list[str]:
        return [d.id for d in self.delivered if d.stream == stream]

    def emulator_ids(self, stream: str) -> list[str]:
        log = self.sim.emulator.exchange.logs[stream]
        return self.sim.call(lambda: [log.get(i).ulid for i in range(log.first_index(), log.end)])  # type: ignore[union-attr]

    async def until(self, check: Callable[[], bool], seconds: float = 30.0) -> None:
        deadline = time.monotonic() + seconds
        while not check():
            if time.monotonic() > deadline:
                raise AssertionError(f"not reached within {seconds} s: {self.status_line()}")
            if self.task is not None and self.task.done():
                self.task.result()
                raise AssertionError("the supervisor stopped early")
            await asyncio.sleep(0.02)

    def status_line(self) -> str:
        s = self.supervisor.status()
        return " | ".join(f"{x.name}:{x.state}:{x.events}ev:{x.reason}" for x in s.streams)

    async def stop(self) -> None:
        self.supervisor.stop()
        if self.task is not None:
            await asyncio.wait_for(self.task, 10)


@contextlib.asynccontextmanager
async def harnesses(tmp_path: Path) -> AsyncIterator[Callable[..., Any]]:
    """``make(sim, sleep_scale=1.0, **SupervisorOptions)`` starts a supervisor; all are
    stopped and closed on exit. ``sleep_scale`` shrinks the supervisor's real sleeps (the
    delays it chose are still recorded in full in ``Harness.slept``)."""
    made: list[Harness] = []

    async def make(sim: RunningEmulator, sleep_scale: float = 1.0, **options: Any) -> Harness:
        journal = Journal.open(tmp_path / f"journal-{len(made)}.sqlite3")
        rest = AlpacaREST(sim.url, sim.url, KEY, SECRET)
        http = httpx.AsyncClient(base_url=sim.url)
        holder: list[Harness] = []

        async def sleep(seconds: float) -> None:
            holder[0].slept.append(seconds)
            await asyncio.sleep(seconds * sleep_scale)

        options.setdefault("backoff", FAST)
        options.setdefault("idle_timeout_ceiling", 2.0)
        opts = SupervisorOptions(**options)
        supervisor = Supervisor(rest, journal, http, dict(KEY_HEADERS), opts, sleep=sleep)
        h = Harness(sim, journal, supervisor, rest, http)
        holder.append(h)
        supervisor.on_events(h.delivered.extend)

        def on_status(t: Transition, _: ConnectionStatus) -> None:
            h.transitions.append(t)

        supervisor.on_status(on_status)
        h.task = asyncio.create_task(supervisor.run())
        made.append(h)
        return h

    try:
        yield make
    finally:
        for h in made:
            if h.task is not None and not h.task.done():
                await h.stop()
            await h.http.aclose()
            await h.rest.aclose()
            h.journal.close()


def admin_sync(sim: RunningEmulator, path: str, body: Any = None) -> Any:
    r = httpx.post(f"{sim.url}{path}", json=body if body is not None else {}, timeout=30)
    assert r.status_code == 200, r.text
    return r.json()


async def admin(sim: RunningEmulator, path: str, body: Any = None) -> Any:
    """The admin routes without blocking the loop the supervisor runs on."""
    async with httpx.AsyncClient(base_url=sim.url, timeout=30) as c:
        r = await c.post(path, json=body if body is not None else {})
        assert r.status_code == 200, r.text
        return r.json()
