"""The script-facing event stream: EventStream against a real emulator over HTTP, and the
example script end to end (the embedded emulator by default, Alpaca-style keys otherwise)."""

from __future__ import annotations

import asyncio
import gc
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.integration.conftest import KEY, SECRET
from tui_trader.broker.flow import Flow
from tui_trader.broker.status import State
from tui_trader.config import Settings, load_settings
from tui_trader.core.events import Event, TradeEvent
from tui_trader.core.orders import OrderBuilder
from tui_trader.sim.runner import RunningEmulator
from tui_trader.stream import EventStream, EventStreamError, symbol_of

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "stream_events.py"
WAIT = 15.0  # seconds any single expected event may take
QUIET = 0.3  # seconds of silence that mean "nothing more is coming"


@pytest.fixture(autouse=True)
def isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No real config, home or keys: only what each test sets."""
    for name in list(os.environ):
        if name.upper().startswith(("APCA_", "TUI_TRADER_")):
            monkeypatch.delenv(name)
    for name, sub in (
        ("HOME", "home"),
        ("XDG_CONFIG_HOME", "config"),
        ("XDG_DATA_HOME", "data"),
        ("XDG_STATE_HOME", "state"),
        ("XDG_CACHE_HOME", "cache"),
    ):
        monkeypatch.setenv(name, str(tmp_path / sub))


def settings_for(
    sim: RunningEmulator, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, secret: str = SECRET
) -> Settings:
    monkeypatch.setenv("APCA_API_KEY_ID", KEY)
    monkeypatch.setenv("APCA_API_SECRET_KEY", secret)
    # a Broker API account: the one kind with all three streams (trades, accounts, NTA)
    return load_settings(
        base_url=sim.url,
        data_dir=tmp_path / "data",
        api="broker",
        account_id=sim.emulator.exchange.default_account.id,
        stream={"backoff_base_seconds": 0.05, "backoff_cap_seconds": 0.2},
    )


@pytest.fixture
def open_stream(
    sim: RunningEmulator, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> Callable[..., Any]:
    async def make(**kwargs: Any) -> EventStream:
        settings = settings_for(sim, monkeypatch, tmp_path)
        kwargs.setdefault("journal", tmp_path / "journal.sqlite3")
        return await asyncio.wait_for(EventStream.open(settings, **kwargs), WAIT)

    return make


async def buy(stream: EventStream, symbol: str) -> str:
    order = OrderBuilder().symbol(symbol).buy(1).market().day().build()
    return (await stream.rest.submit_order(order)).id


async def admin(sim: RunningEmulator, path: str, body: dict[str, Any] | None = None) -> Any:
    """POST to the emulator's control routes (no credentials needed)."""
    async with httpx.AsyncClient(base_url=sim.url, timeout=10.0) as client:
        response = await client.post(path, json=body)
        response.raise_for_status()
        return response.json()


def order_id(event: Event) -> str | None:
    return event.order.id if isinstance(event, TradeEvent) and event.order else None


async def read_until(flow: Flow[Event], done: Callable[[list[Event]], bool]) -> list[Event]:
    got: list[Event] = []
    while not done(got):
        got.append(await asyncio.wait_for(anext(flow), WAIT))
    return got


async def drain(flow: Flow[Event]) -> list[Event]:
    """What is queued now, and whatever else arrives before a quiet spell."""
    got: list[Event] = []
    while True:
        try:
            got.append(await asyncio.wait_for(anext(flow), QUIET))
        except TimeoutError:
            return got


def filled(orders: list[str]) -> Callable[[list[Event]], bool]:
    def check(got: list[Event]) -> bool:
        fills = {order_id(e) for e in got if e.kind == "fill"}
        return set(orders) <= fills

    return check


def keys(events: list[Event]) -> list[str]:
    return [e.key for e in events]


async def test_open_waits_for_the_streams_and_filters_by_symbol_type_and_stream(
    open_stream: Callable[..., Any],
) -> None:
    async with await open_stream() as stream:
        assert stream.status().state is State.STREAMING
        assert not stream.embedded
        everything = stream.subscribe()
        aapl_fills = stream.subscribe(symbols=["aapl"], types=["fill"])
        msft = stream.subscribe(symbols="MSFT")  # one string is one symbol
        news = stream.subscribe(types="new", streams=["trades"])
        accounts = stream.subscribe(streams=["accounts"], symbols=["AAPL"])
        orders = [await buy(stream, s) for s in ("AAPL", "MSFT", "AAPL")]

        seen = await read_until(everything, filled(orders))
        seen += await drain(everything)
        got_aapl, got_msft, got_new = (
            await drain(aapl_fills),
            await drain(msft),
            await drain(news),
        )

        aapl_orders = {orders[0], orders[2]}
        assert {order_id(e) for e in got_aapl} == aapl_orders
        assert all(e.kind == "fill" and symbol_of(e) == "AAPL" for e in got_aapl)
        assert keys(got_aapl) == keys(
            [e for e in seen if e.kind == "fill" and symbol_of(e) == "AAPL"]
        )
        assert keys(got_msft) == keys([e for e in seen if symbol_of(e) == "MSFT"])
        assert {e.kind for e in got_msft} >= {"new", "fill"}
        assert {order_id(e) for e in got_msft} == {orders[1]}
        assert keys(got_new) == keys([e for e in seen if e.kind == "new"])
        assert {order_id(e) for e in got_new} == set(orders)
        # account events have no symbol: a symbol filter leaves them all out
        assert await drain(accounts) == []


async def test_every_subscriber_gets_every_event_from_its_start(
    open_stream: Callable[..., Any],
) -> None:
    async with await open_stream() as stream:
        first, second = stream.subscribe(), stream.subscribe()
        one = await buy(stream, "AAPL")
        a = await read_until(first, filled([one]))
        late = stream.subscribe()  # from now on only
        replayed = stream.subscribe(replay=True)  # plus what this stream delivered so far
        two = await buy(stream, "MSFT")
        a += await read_until(first, filled([two]))
        a += await drain(first)
        b = await drain(second)
        assert len(a) >= 4 and keys(a) == keys(b)
        assert [e.kind for e in a].count("fill") == 2
        got_late = await drain(late)
        assert {order_id(e) for e in got_late} == {two}
        assert keys(got_late) == keys([e for e in a if order_id(e) == two])
        assert keys(await drain(replayed)) == keys(a), "replay then live, no gap, no repeat"


async def test_take_releases_the_subscription_and_close_ends_readers(
    open_stream: Callable[..., Any],
) -> None:
    stream = await open_stream()
    try:
        first_fill = stream.subscribe(types=["fill"]).take(1)
        forever = stream.subscribe()
        reader = asyncio.create_task(forever.collect())
        await buy(stream, "AAPL")
        fills = await asyncio.wait_for(first_fill.collect(), WAIT)
        assert [e.kind for e in fills] == ["fill"]
        assert len(stream._subs) == 1, "take(1) unsubscribed as soon as its item arrived"
        stream.subscribe(types=["fill"])  # dropped unread and unclosed
        gc.collect()
        assert len(stream._subs) == 1, "a dropped subscription stops collecting"
    finally:
        await asyncio.wait_for(stream.aclose(), WAIT)
    got = await asyncio.wait_for(reader, WAIT)  # ends cleanly: no hang, no error
    assert "fill" in [e.kind for e in got]
    await stream.aclose()  # idempotent
    with pytest.raises(EventStreamError, match="closed"):
        stream.subscribe()


async def test_reconnects_are_invisible_to_subscribers(
    open_stream: Callable[..., Any], sim: RunningEmulator
) -> None:
    async with await open_stream() as stream:
        events = stream.subscribe(streams=["trades"])
        one = await buy(stream, "AAPL")
        got = await read_until(events, filled([one]))
        cut = (await admin(sim, "/_emulator/disconnect"))["cut"]
        assert cut >= 1
        two = await buy(stream, "MSFT")  # while the streams resume from the journal
        got += await read_until(events, filled([two]))
        got += await drain(events)
        assert len(keys(got)) == len(set(keys(got))), "the resume overlap is not repeated"
        assert {order_id(e) for e in got} == {one, two}
        assert stream.status().reconnects >= 1


async def test_credentials_revoked_later_end_subscribers_with_an_error(
    open_stream: Callable[..., Any], sim: RunningEmulator
) -> None:
    async with await open_stream() as stream:
        events = stream.subscribe()
        await admin(sim, "/_emulator/faults", {"kind": "reject_auth"})
        await admin(sim, "/_emulator/disconnect")
        with pytest.raises(EventStreamError, match="credentials rejected"):
            await read_until(events, lambda _: False)
        with pytest.raises(StopAsyncIteration):  # once told, the subscription is over
            await anext(events)
        assert stream.status().state is State.AUTH_FAILED


async def test_bad_streams_are_refused(open_stream: Callable[..., Any]) -> None:
    with pytest.raises(ValueError, match="unknown stream"):
        await open_stream(streams=["trades", "quotes"])
    async with await open_stream(streams=["trades"]) as stream:
        assert [s.name for s in stream.status().streams] == ["trades"]
        with pytest.raises(ValueError, match="not opened: nta"):
            stream.subscribe(streams=["nta"])


async def test_rejected_credentials_raise_on_open(
    sim: RunningEmulator, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    settings = settings_for(sim, monkeypatch, tmp_path, secret="wrong-secret")
    with pytest.raises(EventStreamError, match="credentials rejected"):
        await asyncio.wait_for(
            EventStream.open(settings, journal=tmp_path / "journal.sqlite3"), WAIT
        )


async def test_default_journal_is_the_accounts_journal_in_the_data_dir(
    sim: RunningEmulator, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    settings = settings_for(sim, monkeypatch, tmp_path)
    async with await asyncio.wait_for(EventStream.open(settings), WAIT) as stream:
        assert stream.journal_path.parent == tmp_path / "data"
    assert stream.journal_path.exists(), "a remote account's journal is kept"


# ------------------------------------------------------------------- the example script
def run_example(env: dict[str, str], *args: str, timeout: float = 60.0) -> tuple[int, str]:
    proc = subprocess.run(
        [sys.executable, str(EXAMPLE), *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout + 30,
        check=False,
    )
    return proc.returncode, proc.stdout + proc.stderr


def test_example_runs_against_the_embedded_emulator_by_default(
    clean_env: dict[str, str], tmp_path: Path
) -> None:
    code, out = run_example(clean_env, "--fills", "3", "--timeout", "60")
    assert code == 0, out
    assert "connected to embedded emulator, planted drift (a demo); placing orders" in out
    for n in (1, 2, 3):
        assert f"fill {n}/3: " in out, out
    assert "batch of " in out and "done: 3 fills" in out, out
    assert not list(tmp_path.glob("xdg_data_home/**/journal*")), "the emulator's journal is temp"


def test_example_only_watches_alpaca_unless_told(
    sim: RunningEmulator, clean_env: dict[str, str]
) -> None:
    env = {
        **clean_env,
        "APCA_API_KEY_ID": KEY,
        "APCA_API_SECRET_KEY": SECRET,
        "APCA_API_BASE_URL": sim.url,
    }
    code, out = run_example(env, "--fills", "1", "--timeout", "3")
    assert code == 0, out
    assert "watching only" in out and "timed out after 3 s with 0/1 fills" in out, out
    headers = {"APCA-API-KEY-ID": KEY, "APCA-API-SECRET-KEY": SECRET}
    orders = httpx.get(f"{sim.url}/v2/orders", params={"status": "all"}, headers=headers)
    assert orders.json() == [], "no order without --place-orders"

    code, out = run_example(env, "--fills", "2", "--timeout", "30", "--place-orders")
    assert code == 0, out
    assert "placing orders" in out and "fill 2/2: " in out and "done: 2 fills" in out, out


async def test_a_trading_account_streams_trades_over_the_websocket_and_refuses_broker_streams(
    sim_with: Callable[..., RunningEmulator], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """A Trading API account has one stream, trades, over the trading websocket; asking it
    for a Broker-only stream by name is an error a script can read, not a silent drop."""
    real_host = sim_with(trading_sse=False, broker_streams_for_trading_keys=False)
    monkeypatch.setenv("APCA_API_KEY_ID", KEY)
    monkeypatch.setenv("APCA_API_SECRET_KEY", SECRET)
    settings = load_settings(base_url=real_host.url, data_dir=tmp_path / "data")
    async with await asyncio.wait_for(
        EventStream.open(settings, journal=tmp_path / "j.sqlite3"), WAIT
    ) as stream:
        assert [(s.name, s.transport) for s in stream.status().streams] == [("trades", "websocket")]
        fills = stream.subscribe(types=["fill"])
        order = await buy(stream, "AAPL")
        got = await read_until(fills, lambda seen: any(order_id(e) == order for e in seen))
        assert [order_id(e) for e in got].count(order) == 1
    with pytest.raises(EventStreamError, match="nta: Broker API stream"):
        await EventStream.open(settings, streams=["trades", "nta"], journal=tmp_path / "k.sqlite3")
