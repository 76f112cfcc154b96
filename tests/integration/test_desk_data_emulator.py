"""The desk's market data against the emulator's own websocket (no scripted server): a free
plan streams IEX; a SIP setting falls back to IEX once; every fault of the data socket is
survived, with the policy seeing each minute bar once and in order, and the STALE_DATA breaker
holding a symbol whose data stopped.

Scale: the emulator at 60x (a minute bar per wall second, a quote per 0.02 s tick); the
desk polls every 0.2 s; its reconnect backoff starts at 0.05 s; other timings per test.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.integration.conftest import BASE_CONFIG
from tests.integration.test_desk import settings_for, stop
from tests.waiting import until
from tui_trader.broker.journal import Journal
from tui_trader.core.orders import OrderBuilder
from tui_trader.desk.desk import Desk, DeskOptions
from tui_trader.desk.target import Target
from tui_trader.sim.runner import RunningEmulator, start_in_thread

SYMBOLS = ("AAPL", "MSFT")
FAST_DATA = {"silence_seconds": 5, "ping_interval_seconds": 0.5, "ping_timeout_seconds": 1}


def emulator(**changes: Any) -> RunningEmulator:
    """Every setting these tests rely on, stated (the suite's defaults may move)."""
    config = replace(
        BASE_CONFIG,
        **{"speed": 60.0, "tick_seconds": 0.02, "plan": "free", "quote_hz": None} | changes,
    )
    return start_in_thread(config)


@pytest.fixture
def free() -> Iterator[RunningEmulator]:
    running = emulator()
    try:
        yield running
    finally:
        running.stop()


@dataclass
class Rig:
    desk: Desk
    task: asyncio.Task[None]
    sim: RunningEmulator
    observed: list[tuple[str, datetime]] = field(default_factory=list)

    @property
    def stream(self) -> Any:
        assert self.desk.data_stream is not None
        return self.desk.data_stream

    def stat(self, name: str) -> int:
        return int(self.sim.call(lambda: self.sim.emulator.stats.get(name, 0)))

    def fired(self, kind: str) -> int:
        return int(self.sim.call(lambda: self.sim.emulator.faults.injected.get(kind, 0)))

    def times(self, symbol: str) -> list[datetime]:
        return [at for s, at in self.observed if s == symbol]

    def notices(self) -> list[str]:
        return list(self.desk.snapshot().notices)

    def said(self) -> str:
        s = self.desk.snapshot().market_data
        return f"{s}; notices {self.notices()[-4:]}"


@pytest.fixture
async def rigs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[Callable[..., Any]]:
    made: list[tuple[Rig, Journal]] = []

    async def make(sim: RunningEmulator, *, up: bool = True, **overrides: Any) -> Rig:
        overrides.setdefault("data", FAST_DATA)
        overrides.setdefault("stream", {"backoff_base_seconds": 0.05, "backoff_cap_seconds": 1})
        settings = settings_for(sim, monkeypatch, **overrides)
        target = Target(
            sim.url,
            sim.url,
            settings.api,
            settings.key_id,
            settings.secret_key,
            feed=settings.data.feed,
        )
        journal = Journal.open(tmp_path / f"journal-{len(made)}.sqlite3")
        desk = Desk(settings, target, journal, DeskOptions(poll_interval=0.2, symbols=SYMBOLS))
        rig = Rig(desk, asyncio.create_task(desk.run()), sim)
        real = desk.policy.observe

        def observe(symbol: str, close: float, at: datetime) -> None:
            rig.observed.append((symbol, at))
            real(symbol, close, at)

        desk.policy.observe = observe  # type: ignore[method-assign]
        made.append((rig, journal))
        if up:  # the stream opens before the warm-up: wait for both, the tests read history
            await until(lambda: desk._stream_up() and desk.started, 15, rig.said)
        return rig

    yield make
    for rig, journal in made:
        await stop(rig.desk, rig.task)
        journal.close()


async def arm(sim: RunningEmulator, *specs: dict[str, Any]) -> None:
    async with httpx.AsyncClient(base_url=sim.url, timeout=10) as c:
        r = await c.post("/_emulator/faults", json=list(specs))
        assert r.status_code == 200, r.text


def assert_every_minute_once(rig: Rig, symbol: str = "AAPL") -> list[datetime]:
    times = rig.times(symbol)
    assert times == sorted(set(times)), "a duplicate or an out-of-order bar"
    today = [t for t in times if t.date() == times[-1].date()]
    steps = {b - a for a, b in itertools.pairwise(today)}
    assert steps == {timedelta(minutes=1)}, f"a hole: {sorted(steps)}"
    return today


# ------------------------------------------------------------------------- (a) free plan
async def test_a_free_plan_streams_iex_bars_and_quotes_across_a_cut(
    free: RunningEmulator, rigs: Any
) -> None:
    rig: Rig = await rigs(free)
    status = rig.desk.snapshot().market_data
    assert status is not None and status.feed == "iex" and status.url.endswith("/v2/iex")
    assert rig.stat("data_ws_connect_iex") == 1 and rig.stat("data_ws_connect_sip") == 0

    # prices on screen move between bars: many quotes within one bar's second
    before = len(rig.times("AAPL"))
    seen: set[Decimal] = set()
    started = time.monotonic()
    while time.monotonic() - started < 0.9:
        price = rig.desk.snapshot().prices.get("AAPL")
        if price is not None:
            seen.add(price)
        await asyncio.sleep(0.02)
    assert len(seen) >= 5, seen
    assert len(rig.times("AAPL")) - before <= 2  # ...while at most a bar or two came

    # the stream's bars reach the policy (the stream stays up: none of them were polled)
    await until(lambda: len(rig.times("AAPL")) >= before + 3, 6, rig.said)
    assert rig.stream.status().messages > 0

    # a cut: reconnect, REST backfill of the gap, no hole, no duplicate
    await arm(free, {"kind": "data_socket", "action": "cut"})
    await until(lambda: rig.fired("data_socket_cut") == 1, 3)
    await until(lambda: rig.stream.status().connects == 2, 5, rig.said)
    mark = len(rig.times("AAPL"))
    await until(lambda: len(rig.times("AAPL")) >= mark + 3, 6, rig.said)
    today = assert_every_minute_once(rig)
    assert len(today) >= 6
    assert rig.stat("data_ws_connect_iex") == 2 and rig.stat("data_ws_connect_sip") == 0


# ----------------------------------------------------------------------- (b) sip on free
async def test_sip_on_a_free_plan_falls_back_to_iex_once_and_says_so(
    free: RunningEmulator, rigs: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    import tui_trader.sim.marketdata as sim_marketdata

    refused: list[str] = []
    real = sim_marketdata.rest_feed

    def counting(raw: str | None, *args: Any) -> str:
        try:
            return real(raw, *args)
        except Exception:
            refused.append(str(raw))
            raise

    monkeypatch.setattr(sim_marketdata, "rest_feed", counting)
    rig: Rig = await rigs(free, data=FAST_DATA | {"feed": "sip"})
    status = rig.desk.snapshot().market_data
    assert status is not None and status.feed == "iex", rig.said()
    await until(lambda: len(rig.times("AAPL")) >= 3, 8, rig.said)  # bars come, over IEX
    await asyncio.sleep(1.0)  # a few more loop turns: nothing asks for SIP again
    assert rig.stat("data_ws_connect_sip") == 1, "one refused attempt on the SIP stream"
    assert rig.stat("data_ws_connect_iex") == 1
    assert refused == ["sip"], "one refused REST request, then IEX"
    assert rig.desk.rest.feed == "iex"
    notes = [n for n in rig.notices() if "sip refused" in n]
    assert len(notes) == 2, rig.notices()  # one for REST (403), one for the stream (409)
    assert any("403" in n for n in notes) and any("409" in n for n in notes)
    assert all("iex" in n for n in notes)


# ------------------------------------------------------------------------------ (c) faults
@pytest.mark.parametrize(
    "fault",
    [
        {"kind": "data_socket", "action": "close", "code": 1011, "reason": "going away"},
        {"kind": "data_socket", "action": "close", "code": 1000},
        {"kind": "data_socket", "action": "error", "error": 407},
        {"kind": "data_socket", "action": "error", "error": 500},
    ],
    ids=["close-1011", "close-1000", "error-407", "error-500"],
)
async def test_the_stream_recovers_from_a_fault(
    free: RunningEmulator, rigs: Any, fault: dict[str, Any]
) -> None:
    rig: Rig = await rigs(free)
    await arm(free, fault)
    await until(lambda: rig.fired(f"data_socket_{fault['action']}") == 1, 3)
    # each ends the session (a 500 leaves the server's socket open, but the desk cannot
    # know what state its subscription is in: it subscribes afresh), and one reconnect follows
    await until(lambda: rig.stream.status().connects == 2, 5, rig.said)
    mark = len(rig.times("AAPL"))
    await until(lambda: len(rig.times("AAPL")) >= mark + 2, 6, rig.said)
    assert_every_minute_once(rig)
    assert rig.stat("data_ws_connect_iex") <= 2, "no storm"


async def test_a_silent_socket_is_stale_then_recovers(free: RunningEmulator, rigs: Any) -> None:
    # silence noticed by the ping (0.3 s + 0.5 s); the server holds the half-dead socket for
    # the rest of its 3 s, so the reconnect meets 406 and waits limit_wait (1 s) per try
    rig: Rig = await rigs(
        free,
        data={
            "silence_seconds": 5,
            "ping_interval_seconds": 0.3,
            "ping_timeout_seconds": 0.5,
            "connection_limit_wait_seconds": 1.0,
        },
        risk={"stale_data_seconds": 0.5},
    )
    await until(lambda: rig.desk.portfolio.snapshot().account_known, 10)
    buy = OrderBuilder().symbol("AAPL").buy(1).market().day().build()
    await until(lambda: rig.desk.check(buy).allowed, 5, lambda: str(rig.desk.check(buy)))

    await arm(free, {"kind": "data_socket", "action": "silent", "seconds": 3})
    await until(lambda: rig.fired("data_socket_silent") == 1, 3)
    silent_at = time.monotonic()
    # the stale figure rises while the stream still looks up...
    await until(lambda: rig.desk.snapshot().quote_ages.get("AAPL", 0) > 0.5, 3, rig.said)
    verdict = rig.desk.check(buy)
    assert not verdict.allowed and "STALE_DATA" in str(verdict)
    peak = max(rig.desk.snapshot().quote_ages.values())
    # ...until the unanswered ping ends it
    await until(lambda: not rig.stream.status().up, 3, rig.said)
    noticed = time.monotonic() - silent_at
    assert noticed < 2.0, noticed
    # REST stands in, then the stream comes back once the server lets the socket go
    await until(lambda: rig.desk.check(buy).allowed, 5, lambda: str(rig.desk.check(buy)))
    await until(lambda: rig.stream.status().connects == 2, 10, rig.said)
    back = time.monotonic() - silent_at
    mark = len(rig.times("AAPL"))
    await until(lambda: len(rig.times("AAPL")) >= mark + 2, 6, rig.said)
    assert_every_minute_once(rig)
    attempts = rig.stat("data_ws_connect_iex")
    assert attempts <= 7, f"{attempts} attempts in {back:.1f} s: a storm"  # 5 measured
    print(
        f"silent: noticed {noticed:.2f} s, stale peak {peak:.2f} s, back {back:.2f} s, "
        f"{attempts} attempts"
    )


async def test_application_silence_is_noticed_without_pings(
    free: RunningEmulator, rigs: Any
) -> None:
    # pings far apart: the silence bound (1 s with the market open) notices the mute socket,
    # long before the server's own cut ends it (3 s)
    rig: Rig = await rigs(
        free,
        data={
            "silence_seconds": 1.0,
            "ping_interval_seconds": 60,
            "ping_timeout_seconds": 60,
            "connection_limit_wait_seconds": 0.5,
        },
    )
    await arm(free, {"kind": "data_socket", "action": "silent", "seconds": 3})
    await until(lambda: rig.fired("data_socket_silent") == 1, 3)
    silent_at = time.monotonic()
    await until(lambda: not rig.stream.status().up, 3, rig.said)
    noticed = time.monotonic() - silent_at
    assert 0.8 < noticed < 1.6, noticed  # no wait for a close handshake the server ignores
    await until(lambda: rig.stream.status().connects == 2, 8, rig.said)
    print(f"application silence: noticed {noticed:.2f} s")


@pytest.mark.parametrize(("status", "retry_after"), [(429, 2.0), (503, 1.0)])
async def test_upgrade_refusals_honour_retry_after_without_a_storm(
    free: RunningEmulator, rigs: Any, status: int, retry_after: float
) -> None:
    rig: Rig = await rigs(free)
    # cut the socket, and refuse the next two upgrades with Retry-After
    await arm(
        free,
        {"kind": "connect", "scope": "data_socket", "status": status}
        | {"retry_after": retry_after, "count": 2},
        {"kind": "data_socket", "action": "cut"},
    )
    cut_at = time.monotonic()
    await until(lambda: rig.stat(f"data_ws_refused_{status}") == 1, 3, rig.said)
    first = time.monotonic()
    await until(lambda: rig.stat(f"data_ws_refused_{status}") == 2, 3 * retry_after + 2)
    second = time.monotonic()
    await until(lambda: rig.stream.status().connects == 2, 3 * retry_after + 2, rig.said)
    back = time.monotonic() - cut_at
    gap = second - first
    assert gap >= retry_after - 0.1, f"the second attempt came {gap:.2f} s after the first"
    assert rig.stat("data_ws_connect_iex") == 4  # the first, two refused, the one that took
    assert back >= 2 * retry_after - 0.2
    mark = len(rig.times("AAPL"))
    await until(lambda: len(rig.times("AAPL")) >= mark + 2, 6, rig.said)
    assert_every_minute_once(rig)
    print(f"{status}: retry gap {gap:.2f} s (Retry-After {retry_after:g}), back in {back:.2f} s")


async def test_a_406_waits_the_connection_limit_then_recovers(
    free: RunningEmulator, rigs: Any
) -> None:
    rig: Rig = await rigs(free, data=FAST_DATA | {"connection_limit_wait_seconds": 1.0})
    await arm(free, {"kind": "data_socket", "action": "error", "error": 406})
    await until(lambda: rig.fired("data_socket_error") == 1, 5, rig.said)
    refused_at = time.monotonic()
    await until(lambda: rig.stream.status().connects == 2, 5, rig.said)
    waited = time.monotonic() - refused_at
    assert waited >= 0.9, waited
    assert rig.stat("data_ws_connect_iex") == 2  # the one that got 406, the one after
    assert any("406" in n for n in rig.notices()), rig.notices()
