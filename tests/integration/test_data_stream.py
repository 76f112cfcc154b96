"""The market-data stream client against a scripted §11.4 server on 127.0.0.1: quotes and
bars arrive as exact Decimals; a final refusal stops it and says why; 406 is retried no
sooner than the limit wait; 409 on sip falls back to iex once; a mute socket is dropped and
the stream comes back. Timings scaled: silence 0.3 s, limit wait 0.6 s, backoff 0.05 s."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import pytest

from tests.data_server import KEY, SECRET, DataServer, Script, bar, quote
from tests.integration.conftest import KEY as SIM_KEY
from tests.integration.conftest import SECRET as SIM_SECRET
from tests.waiting import until
from tui_trader.broker.data_socket import DataCallbacks, DataStreamOptions, MarketDataStream
from tui_trader.broker.data_status import DataState
from tui_trader.core.backoff import BackoffPolicy

FAST = DataStreamOptions(
    backoff=BackoffPolicy(base=0.05, cap=0.2, jitter=True, healthy_after=30.0),
    not_offered=BackoffPolicy(base=0.5, cap=1.0, healthy_after=0.0),
    silence=0.3,
    ping_interval=0.2,
    ping_timeout=0.5,
    limit_wait=0.6,
    handshake_timeout=2.0,
)


class Seen:
    def __init__(self) -> None:
        self.quotes: list[tuple[str, Any]] = []
        self.bars: list[tuple[str, Any, bool]] = []
        self.notices: list[str] = []
        self.connected = 0
        self.dropped: list[str] = []

    def callbacks(self) -> DataCallbacks:
        return DataCallbacks(
            on_quote=lambda s, q: self.quotes.append((s, q)),
            on_bar=lambda s, b, c: self.bars.append((s, b, c)),
            on_notice=self.notices.append,
            on_connected=self._connected,
            on_disconnected=self.dropped.append,
        )

    def _connected(self) -> None:
        self.connected += 1


@pytest.fixture
async def server() -> AsyncIterator[DataServer]:
    async with DataServer().running() as s:
        yield s


async def started(
    server: DataServer, seen: Seen, feed: str = "iex", key: str = KEY, **kw: Any
) -> tuple[MarketDataStream, asyncio.Task[None]]:
    stream = MarketDataStream(
        server.url(feed),
        key,
        SECRET,
        ["AAPL", "MSFT"],
        options=FAST,
        callbacks=seen.callbacks(),
        **kw,
    )
    return stream, asyncio.create_task(stream.run())


async def finish(stream: MarketDataStream, task: asyncio.Task[None]) -> None:
    stream.stop()
    await asyncio.wait_for(task, 5)


async def test_auth_subscribe_and_data_as_exact_decimals(server: DataServer) -> None:
    seen = Seen()
    stream, task = await started(server, seen)
    await until(lambda: stream.status().state is DataState.STREAMING, 5)
    assert server.received[0] == {"action": "auth", "key": KEY, "secret": SECRET}
    sub = server.received[1]
    assert sub["action"] == "subscribe"
    for channel in ("quotes", "trades", "bars", "updatedBars"):
        assert sub[channel] == ["AAPL", "MSFT"]
    await server.push(
        quote("AAPL", 189.5, 189.52),
        bar("MSFT", "2026-11-24T15:00:00Z", 412.07),
        bar("MSFT", "2026-11-24T15:00:00Z", 412.1, kind="u"),
    )
    await until(lambda: len(seen.bars) == 2, 5)
    assert seen.quotes[0][1].bid_price == Decimal("189.5")
    assert [(b.close, c) for _, b, c in seen.bars] == [
        (Decimal("412.07"), False),
        (Decimal("412.1"), True),
    ]
    status = stream.status()
    assert status.messages == 3 and status.feed == "iex" and status.last_message_age is not None
    assert SECRET not in repr(stream) and KEY not in repr(stream)
    await finish(stream, task)
    assert stream.status().state is DataState.STOPPED


async def test_bad_keys_are_final_said_once_and_never_retried(server: DataServer) -> None:
    seen = Seen()
    stream, task = await started(server, seen, key="wrong")
    await asyncio.wait_for(task, 5)  # run() returns by itself
    assert stream.status().state is DataState.FAILED
    assert len(server.attempts) == 1
    assert len(seen.notices) == 1 and "402" in seen.notices[0]
    assert SECRET not in seen.notices[0]


@pytest.mark.parametrize("code", [401, 410, 411])
async def test_other_final_codes_stop_too(server: DataServer, code: int) -> None:
    server.script = Script(auth_error=(code, "no"))
    seen = Seen()
    stream, task = await started(server, seen)
    await asyncio.wait_for(task, 5)
    assert stream.status().state is DataState.FAILED and len(server.attempts) == 1


async def test_connection_limit_is_retried_no_sooner_than_the_limit_wait(
    server: DataServer,
) -> None:
    server.script = Script(limit_first=3)
    seen = Seen()
    stream, task = await started(server, seen)
    await until(lambda: stream.status().state is DataState.STREAMING, 10)
    times = [t for t, _ in server.attempts]
    assert len(times) == 4
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert all(g >= FAST.limit_wait * 0.95 for g in gaps[:3]), gaps  # never a storm
    assert sum("406" in n for n in seen.notices) == 1  # said once, not per attempt
    await finish(stream, task)


async def test_sip_refused_falls_back_to_iex_once_with_a_notice(server: DataServer) -> None:
    server.script = Script(refuse_feeds={"sip"})
    seen = Seen()
    stream, task = await started(server, seen, feed="sip")
    await until(lambda: stream.status().state is DataState.STREAMING, 5)
    assert [p for _, p in server.attempts] == ["/v2/sip", "/v2/iex"]
    assert stream.feed == "iex" and stream.status().feed == "iex"
    assert len(seen.notices) == 1 and "sip" in seen.notices[0] and "iex" in seen.notices[0]
    await finish(stream, task)


async def test_insufficient_subscription_on_iex_is_final(server: DataServer) -> None:
    server.script = Script(refuse_feeds={"iex"})
    seen = Seen()
    stream, task = await started(server, seen)
    await asyncio.wait_for(task, 5)
    assert stream.status().state is DataState.FAILED and len(server.attempts) == 1


async def test_a_mute_socket_is_dropped_and_the_stream_comes_back(server: DataServer) -> None:
    server.script = Script(mute_first=1)  # subscribed, pongs answered, no data ever
    seen = Seen()
    stream, task = await started(server, seen)
    await until(lambda: seen.connected == 2, 5, "reconnected after the silence")
    assert any("no data" in d for d in seen.dropped)
    await server.push(quote("AAPL", 1, 2))
    await until(lambda: seen.quotes, 5)
    await finish(stream, task)


async def test_silence_is_fine_while_the_market_is_closed(server: DataServer) -> None:
    seen = Seen()
    stream, task = await started(server, seen, market_open=lambda: False)
    await until(lambda: stream.status().state is DataState.STREAMING, 5)
    await asyncio.sleep(FAST.silence * 3)  # the bound under test: three silences pass
    assert seen.connected == 1 and len(server.attempts) == 1
    await finish(stream, task)


async def test_a_cut_connection_reconnects_with_backoff(server: DataServer) -> None:
    seen = Seen()
    stream, task = await started(server, seen)
    await until(lambda: seen.connected == 1, 5)
    await server.cut()
    await until(lambda: seen.connected == 2, 5)
    assert len(server.attempts) == 2 and seen.dropped
    await finish(stream, task)


@pytest.mark.parametrize("status", [404, 401])
async def test_an_upgrade_refused_means_not_offered_said_once(
    server: DataServer, status: int
) -> None:
    server.script = Script(upgrade_status=status)
    seen = Seen()
    stream, task = await started(server, seen)
    await until(lambda: stream.status().state is DataState.NOT_OFFERED, 5)
    await asyncio.sleep(1.2)  # not-offered retries are rare: 0.5 s then 1 s
    assert len(server.attempts) <= 3
    assert len(seen.notices) == 1 and "not offered" in seen.notices[0]
    await finish(stream, task)


async def test_429_on_the_upgrade_honours_retry_after(server: DataServer) -> None:
    server.script = Script(upgrade_status=429, retry_after="1")
    seen = Seen()
    stream, task = await started(server, seen)
    await until(lambda: len(server.attempts) == 1, 5)
    await until(lambda: stream.status().state is DataState.BACKOFF, 5)
    server.script = Script()
    await until(lambda: stream.status().state is DataState.STREAMING, 5)
    first, second = (t for t, _ in server.attempts[:2])
    assert second - first >= 0.95
    await finish(stream, task)


async def test_stop_ends_the_stream_while_frames_keep_coming(sim_with: Any) -> None:
    """A flood the handler cannot keep up with (frames always queued): stop() still ends
    run() at once. On Python 3.11 ``wait_for(ws.recv())`` returns a frame that is already
    there instead of the cancel, so a stream that relied on being cancelled never stopped
    (the desk hung on quit under fast quotes; bench/data_stream.py found it)."""
    sim = sim_with(quote_hz=3000.0, symbols=("AAPL", "MSFT"))
    got: list[Any] = []

    def slow(symbol: str, q: Any) -> None:
        got.append(q)
        time.sleep(0.0002)  # a handler slower than the 6,000 quotes/s offered

    url = sim.url.replace("http://", "ws://") + "/v2/iex"
    stream = MarketDataStream(
        url, SIM_KEY, SIM_SECRET, ["AAPL", "MSFT"], callbacks=DataCallbacks(on_quote=slow)
    )
    task = asyncio.create_task(stream.run())
    await until(lambda: len(got) >= 3000, 15, "a backlog of quotes")
    stream.stop()
    done, _ = await asyncio.wait({task}, timeout=5)
    assert task in done, "run() did not return within 5 s of stop()"
    assert stream.status().connects == 1


async def test_cancelling_the_stream_ends_it_while_frames_keep_coming(sim_with: Any) -> None:
    """The same flood, ended the other way: its task cancelled (as the desk's run() cancels
    its tasks when the supervisor stops, headless on SIGINT) without stop(). A cancel that
    3.11's ``wait_for`` swallowed left the session reading for good: headless still running
    5 s after SIGINT, about one run in two of the consent twins."""
    sim = sim_with(quote_hz=3000.0, symbols=("AAPL", "MSFT"))
    got: list[Any] = []

    def slow(symbol: str, q: Any) -> None:
        got.append(q)
        time.sleep(0.0002)

    url = sim.url.replace("http://", "ws://") + "/v2/iex"
    for _ in range(5):  # the race is a matter of timing: cancel at several moments
        stream = MarketDataStream(
            url, SIM_KEY, SIM_SECRET, ["AAPL", "MSFT"], callbacks=DataCallbacks(on_quote=slow)
        )
        task = asyncio.create_task(stream.run())
        await until(lambda s=stream: s.status().connects > 0 and len(got) >= 500, 15, "quotes")
        got.clear()
        task.cancel()
        done, _ = await asyncio.wait({task}, timeout=5)
        assert task in done, "run() still going 5 s after its task was cancelled"
