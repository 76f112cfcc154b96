"""The desk on live market data: REST (orders, account, bars) from the emulator, the data
stream from a scripted §11.4 server. Prices come from stream quotes; after a reconnect the
missed minute bars come over REST so the policy sees every minute once, in order; an
updatedBars correction replaces the bar it corrects; one silent symbol is stale on its own.
Emulator at speed 60 (a minute bar a second); stream silence bound 5 s (not under test)."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from tests.data_server import DataServer, bar, quote
from tests.integration.conftest import KEY, SECRET
from tests.integration.test_desk import settings_for, stop
from tests.waiting import until
from tui_trader.broker.data_status import DataState
from tui_trader.broker.journal import Journal
from tui_trader.core.orders import OrderBuilder
from tui_trader.desk.desk import Desk, DeskOptions
from tui_trader.desk.target import Target
from tui_trader.sim.runner import RunningEmulator

SYMBOLS = ("AAPL", "MSFT")


def stamp(at: datetime) -> str:
    return at.strftime("%Y-%m-%dT%H:%M:%SZ")


@pytest.fixture
async def server() -> AsyncIterator[DataServer]:
    async with DataServer(key=KEY, secret=SECRET).running() as s:
        yield s


async def desk_on(
    sim: RunningEmulator,
    server: DataServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    **overrides: Any,
) -> tuple[Desk, asyncio.Task[None], Journal, list[tuple[str, datetime]]]:
    settings = settings_for(sim, monkeypatch, data={"silence_seconds": 5}, **overrides)
    target = Target(
        sim.url,
        sim.url,
        settings.api,
        settings.key_id,
        settings.secret_key,
        data_stream_url=server.url("iex"),
    )
    journal = Journal.open(tmp_path / "journal.sqlite3")
    desk = Desk(settings, target, journal, DeskOptions(poll_interval=0.2, symbols=SYMBOLS))
    observed: list[tuple[str, datetime]] = []
    real = desk.policy.observe

    def observe(symbol: str, close: float, at: datetime) -> None:
        observed.append((symbol, at))
        real(symbol, close, at)

    desk.policy.observe = observe  # type: ignore[method-assign]
    task = asyncio.create_task(desk.run())
    # the stream opens before the warm-up: both, since the tests read the warm-up's history
    await until(lambda: desk._stream_up() and desk.started, 15, "data stream up, desk warm")
    return desk, task, journal, observed


def in_order(observed: list[tuple[str, datetime]], symbol: str) -> list[datetime]:
    return [at for s, at in observed if s == symbol]


async def test_stream_prices_backfill_after_a_gap_and_corrections(
    sim_with: Any, server: DataServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sim = sim_with(speed=60.0)
    first = sim.call(sim.emulator.clock.now)  # the emulator's first moment: its session's start
    # the stream comes back within a loop turn, so the backfill (not a poll) fills the gap
    desk, task, journal, observed = await desk_on(
        sim, server, tmp_path, monkeypatch, stream={"backoff_base_seconds": 0.01}
    )
    try:
        await server.push(quote("AAPL", "189.10", "189.20"))
        await until(lambda: desk.snapshot().prices.get("AAPL") == Decimal("189.15"), 5)
        snap = desk.snapshot()
        assert snap.market_data is not None and snap.market_data.state is DataState.STREAMING
        assert snap.market_data.feed == "iex" and "AAPL" in snap.quote_ages

        # the stream stays up but delivers no bars while the emulator makes minutes: the
        # desk does not poll (the stream is up), so only the backfill can fill the gap
        await until(lambda: desk._backfill_due is False, 5)
        before = len(in_order(observed, "AAPL"))
        await asyncio.sleep(2.5)  # ~2.5 emulated minutes; the bound under test is the gap
        assert len(in_order(observed, "AAPL")) == before
        # the gap must hold minutes of the emulator's first session to check below (its
        # history has none of them): the desk may be warm within a second of its start
        await until(lambda: sim.call(sim.emulator.clock.now) >= first + timedelta(minutes=4), 10)
        assert len(in_order(observed, "AAPL")) == before
        await server.cut()
        stream = desk.data_stream
        assert stream is not None
        await until(lambda: stream.status().connects == 2 and not desk._backfill_due, 10)
        assert len(in_order(observed, "AAPL")) >= before + 2  # the missed minutes
        # the stream's own bars for minutes the backfill already gave are not taken twice
        last = desk._last_bar["AAPL"]
        await until(lambda: server.live, 5, "the server has the new connection")
        for back in range(3):
            assert (
                await server.push(bar("AAPL", stamp(last - timedelta(minutes=back)), "190.5")) == 1
            )
        await asyncio.sleep(0.6)  # three loop turns
        times = in_order(observed, "AAPL")
        assert times == sorted(set(times)), "a duplicate or an out-of-order bar"
        # today's minutes (history before them has nights; the emulator's starts at 10:01)
        live = [t for t in times if t.date() == last.date()]
        assert len(live) >= 3
        steps = {b - a for a, b in itertools.pairwise(live)}
        assert steps == {timedelta(minutes=1)}, steps  # no hole across the gap
        # ...but the same minute with another close is a correction: it replaces the bar
        assert desk._last_close["AAPL"] == (last, Decimal("190.5"))
        await server.push(bar("AAPL", stamp(last), "191.25", kind="u"))
        await until(lambda: desk._last_close["AAPL"] == (last, Decimal("191.25")), 5)
        assert desk.snapshot().history["AAPL"][-1] == 191.25
        assert desk.policy._states["AAPL"].last_close == 191.25
        assert in_order(observed, "AAPL").count(last) == 1
    finally:
        await stop(desk, task)
        journal.close()


async def test_a_silent_symbol_is_stale_on_its_own(
    sim: RunningEmulator, server: DataServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    desk, task, journal, _ = await desk_on(
        sim, server, tmp_path, monkeypatch, risk={"stale_data_seconds": 1.0}
    )
    try:
        await until(lambda: desk.portfolio.snapshot().account_known, 10)
        # the start-up reconcile done: while it runs the STREAM breaker denies any buy
        await until(lambda: not desk.snapshot().risk.breaker("STREAM").tripped, 10)

        async def keep_quoting() -> None:
            while True:
                await server.push(quote("AAPL", "100.00", "100.02"))
                await asyncio.sleep(0.1)

        quoting = asyncio.create_task(keep_quoting())
        try:
            await asyncio.sleep(1.5)  # MSFT's last quote (a REST poll) is now > 1 s old
            aapl = desk.check(OrderBuilder().symbol("AAPL").buy(1).market().day().build())
            msft = desk.check(OrderBuilder().symbol("MSFT").buy(1).market().day().build())
        finally:
            quoting.cancel()
        assert aapl.allowed, str(aapl)
        assert not msft.allowed and "STALE_DATA" in str(msft)
        assert desk.snapshot().quote_ages["MSFT"] > 1.0 > desk.snapshot().quote_ages["AAPL"]
    finally:
        await stop(desk, task)
        journal.close()
