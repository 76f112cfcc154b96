"""Acceptance: the desk on a Trading API account, its trade stream over the emulator's trading
websocket (the real Trading host's behaviour: no ``/v2/events/trades``, 404 on the Broker-only
streams), while orders keep filling: the socket is cut, made silent, closed with a code, or
refused with 429 while the vanished connection's hold runs. Afterwards every fill is booked
once (journal and ledger), every order's final state is the emulator's, and the ledger equals
the emulator's positions and cash without any reconcile having had to correct it.

Orders are placed over REST with plain httpx (several symbols, market and limit, sizes past
the quoted size so that some fill in parts; resting limits canceled while the socket is down).
Timings are scaled down: the emulator's hold 1 s (Alpaca's ~90 s), pings every 0.1 s with a
0.3 s timeout (10 s / 20 s by default), backoff 0.05-0.4 s, the 429 floor 0.3 s (5 s).
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import defaultdict
from collections.abc import AsyncIterator, Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.integration.conftest import KEY, KEY_HEADERS, SECRET
from tests.waiting import until
from tui_trader.broker.journal import Journal
from tui_trader.broker.status import State
from tui_trader.config import load_settings
from tui_trader.desk.desk import Desk, DeskOptions
from tui_trader.desk.target import Target
from tui_trader.sim.runner import RunningEmulator

HOLD = 1.0
FLOOR = 0.3
FAST_STREAM = {
    "backoff_base_seconds": 0.05,
    "backoff_cap_seconds": 0.4,
    "ping_interval_seconds": 0.1,
    "ping_timeout_seconds": 0.3,
    "reconcile_timeout_seconds": 10,
}
SYMBOLS = ("AAPL", "MSFT", "TSLA")
FINAL = {"filled", "canceled", "expired", "rejected", "replaced"}


def trading_host(sim_with: Any, **changes: Any) -> RunningEmulator:
    """The emulator as the real Trading host: the websocket only, Broker-only paths 404."""
    changes.setdefault("ws_hold_seconds", HOLD)
    running: RunningEmulator = sim_with(
        trading_sse=False,
        broker_streams_for_trading_keys=False,
        rate_limit_per_minute=100_000,
        starting_cash=Decimal(100_000_000),
        **changes,
    )
    return running


@pytest.fixture
async def desk_on() -> AsyncIterator[Callable[..., Any]]:
    made: list[tuple[Desk, asyncio.Task[None], Journal]] = []

    async def make(
        sim: RunningEmulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, **stream: Any
    ) -> Desk:
        for name in ("APCA_API_BASE_URL", "APCA_API_DATA_URL", "TUI_TRADER_CONFIG"):
            monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv("APCA_API_STREAM_URL", raising=False)
        monkeypatch.setenv("APCA_API_KEY_ID", KEY)
        monkeypatch.setenv("APCA_API_SECRET_KEY", SECRET)
        # Alpaca's hold of a vanished socket is long, so the floor after a 429 is 5 s; scaled
        settings = load_settings(
            base_url=sim.url,
            stream={**FAST_STREAM, "refused_floor_seconds": FLOOR, **stream},
        )
        target = Target(sim.url, sim.url, settings.api, settings.key_id, settings.secret_key)
        store = Journal.open(tmp_path / f"journal-{len(made)}.sqlite3")
        desk = Desk(settings, target, store, DeskOptions(poll_interval=0.5, symbols=SYMBOLS))
        task = asyncio.create_task(desk.run())
        made.append((desk, task, store))
        await until(lambda: trades(desk).state is State.STREAMING, 15, "the trade stream up")
        return desk

    yield make
    for desk, task, store in made:
        if not task.done():
            desk.stop()
            await asyncio.wait_for(task, 15)
        await desk.aclose()
        store.close()


def trades(desk: Desk) -> Any:
    return next(s for s in desk.snapshot().connection.streams if s.name == "trades")


# ------------------------------------------------------------------------- the emulator
class Broker:
    """The emulator's REST, as a second client of the same account sees it."""

    def __init__(self, sim: RunningEmulator) -> None:
        self.sim = sim
        self.http = httpx.AsyncClient(base_url=sim.url, headers=KEY_HEADERS, timeout=10.0)
        self.admin = httpx.AsyncClient(base_url=sim.url, timeout=10.0)
        self.placed: list[str] = []

    async def aclose(self) -> None:
        await self.http.aclose()
        await self.admin.aclose()

    async def order(self, symbol: str, side: str, qty: int, limit: Decimal | None = None) -> str:
        body: dict[str, Any] = {
            "symbol": symbol,
            "qty": str(qty),
            "side": side,
            "type": "market" if limit is None else "limit",
            "time_in_force": "day",
        }
        if limit is not None:
            body["limit_price"] = str(limit)
        r = await self.http.post("/v2/orders", json=body)
        assert r.status_code == 200, r.text
        order_id: str = r.json()["id"]
        self.placed.append(order_id)
        return order_id

    async def ask(self, symbol: str) -> Decimal:
        r = await self.http.get(f"/v2/stocks/{symbol}/quotes/latest")
        assert r.status_code == 200, r.text
        return Decimal(str(r.json()["quote"]["ap"]))

    async def wave(self) -> list[str]:
        """Market buys (one past the quoted size: partial fills), a marketable limit, and a
        limit far below the market that rests until canceled."""
        ids = [
            await self.order("AAPL", "buy", 7),
            await self.order("MSFT", "buy", 3),
            await self.order("TSLA", "buy", 2500),
            await self.order("MSFT", "buy", 4, _cents((await self.ask("MSFT")) * Decimal("1.02"))),
        ]
        low = _cents((await self.ask("AAPL")) * Decimal("0.5"))
        ids.append(await self.order("AAPL", "buy", 5, low))
        return ids

    async def cancel_open(self) -> None:
        r = await self.http.delete("/v2/orders")
        assert r.status_code in (200, 207), r.text

    async def orders(self) -> dict[str, dict[str, Any]]:
        out = {}
        for order_id in self.placed:
            r = await self.http.get(f"/v2/orders/{order_id}")
            out[order_id] = r.json()
        return out

    async def settled(self) -> bool:
        return all(o["status"] in FINAL for o in (await self.orders()).values())

    async def fill_activities(self) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        token = None
        for _ in range(50):
            params: dict[str, Any] = {"activity_types": "FILL", "direction": "asc"}
            params["page_size"] = 100
            if token:
                params["page_token"] = token
            page = (await self.http.get("/v2/account/activities", params=params)).json()
            out.extend(page)
            if len(page) < 100:
                return out
            token = page[-1]["id"]
        raise AssertionError("too many fill pages")

    async def positions(self) -> dict[str, Decimal]:
        rows = (await self.http.get("/v2/positions")).json()
        return {p["symbol"]: Decimal(p["qty"]) for p in rows}

    async def cash(self) -> Decimal:
        return Decimal((await self.http.get("/v2/account")).json()["cash"])

    async def fault(self, spec: dict[str, Any]) -> None:
        r = await self.admin.post("/_emulator/faults", json=spec)
        assert r.status_code == 200, r.text

    async def state(self) -> dict[str, Any]:
        state: dict[str, Any] = (await self.admin.get("/_emulator/state")).json()
        return state


@pytest.fixture
async def broker_for() -> AsyncIterator[Callable[[RunningEmulator], Broker]]:
    made: list[Broker] = []

    def make(sim: RunningEmulator) -> Broker:
        b = Broker(sim)
        made.append(b)
        return b

    yield make
    for b in made:
        await b.aclose()


# --------------------------------------------------------------------------- checking
async def settle(desk: Desk, broker: Broker, before: int = 0) -> None:
    """Until the emulator has every order final and the desk has booked every fill."""

    async def final() -> bool:
        return await broker.settled()

    for _ in range(500):
        if await final():
            break
        await asyncio.sleep(0.05)
    else:
        raise AssertionError(f"orders not final: {await broker.orders()}")
    fills = len(await broker.fill_activities()) - before  # those before the start: read
    await until(
        lambda: desk.snapshot().book.fills >= fills,
        15,
        lambda: f"ledger fills {desk.snapshot().book.fills} of {fills}",
    )
    want = await broker.orders()

    def finals_seen() -> bool:
        last = last_status(desk)
        return all(last.get(i) == o["status"] for i, o in want.items())

    await until(finals_seen, 15, lambda: f"final states {last_status(desk)} vs {want}")


def trade_rows(desk: Desk) -> list[Any]:
    return desk.journal.events_after(0, stream="trades")


def last_status(desk: Desk) -> dict[str, str]:
    """Each order's last word in the journal (its ``order.status``), in arrival order."""
    out: dict[str, str] = {}
    for row in trade_rows(desk):
        order = json.loads(row.payload).get("order") or {}
        if order.get("id") and order.get("status"):
            out[order["id"]] = order["status"]
    return out


async def assert_booked_once(desk: Desk, broker: Broker) -> dict[str, Any]:
    rows = trade_rows(desk)
    facts = [r.fact for r in rows if r.fact]
    assert len(facts) == len(set(facts)), "a fact journaled twice"
    cums: dict[str, list[Decimal]] = defaultdict(list)
    for r in rows:
        if r.type in ("fill", "partial_fill"):
            order = json.loads(r.payload)["order"]
            cums[order["id"]].append(Decimal(order["filled_qty"]))
    orders = await broker.orders()
    for order_id, order in orders.items():
        seen = cums.get(order_id, [])
        assert seen == sorted(set(seen)), f"{order_id}: fills out of order or twice: {seen}"
        filled = Decimal(order["filled_qty"])
        assert (seen[-1] if seen else Decimal(0)) == filled, (order_id, seen, order)
    activities = await broker.fill_activities()
    book = desk.snapshot().book
    assert book.fills == len(activities), (book.fills, len(activities))
    positions = await broker.positions()
    mine = {s: p.qty for s, p in book.positions.items() if p.qty}
    assert mine == positions, [e.data for e in desk.journal.audit_entries(kind="reconcile")]
    assert abs(book.cash - await broker.cash()) < Decimal("0.005")
    # quantities and cash only: the emulator rounds its average entry to the cent at each
    # fill (sim/exchange/fills.py), so the book's exact average differs by rounding
    corrections = [
        c
        for e in desk.journal.audit_entries(kind="reconcile")
        if e.data.get("why") != "start-up"
        for c in e.data.get("corrections", [])
        if "avg entry" not in c
    ]
    assert not corrections, f"the ledger had to be corrected: {corrections}"
    sources = defaultdict(int)
    for r in rows:
        sources[r.source] += 1
    return {"fills": len(activities), "orders": len(orders), "sources": dict(sources)}


# ------------------------------------------------------------------------------ tests
FAULTS = {
    "cut": {"kind": "trade_socket", "action": "cut", "after_events": 3},
    "silent": {"kind": "trade_socket", "action": "silent", "after_events": 3, "seconds": 3},
    "close": {"kind": "trade_socket", "action": "close", "after_events": 3, "code": 1001},
    "error": {"kind": "trade_socket", "action": "error", "after_events": 3},
}


@pytest.mark.parametrize("how", list(FAULTS))
async def test_fills_while_the_socket_fails_are_booked_once_and_the_ledger_is_the_brokers(
    how: str,
    sim_with: Any,
    desk_on: Any,
    broker_for: Any,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    sim = trading_host(sim_with)
    broker: Broker = broker_for(sim)
    desk: Desk = await desk_on(sim, tmp_path, monkeypatch)
    reasons: list[str] = []
    went_down: list[float] = []  # a transition seen, not polled: a reconnect may be quick

    def told(t: Any, _: Any) -> None:
        reasons.append(t.reason)
        if t.stream == "trades" and t.state is not State.STREAMING and not went_down:
            went_down.append(time.monotonic())

    desk.supervisor.on_status(told)
    await broker.wave()
    await broker.fault(FAULTS[how])
    armed_at = time.monotonic()
    await broker.wave()  # its events fire the fault

    await until(lambda: went_down, 10, f"the desk noticing the {how}")
    noticed = went_down[0] - armed_at
    await broker.wave()  # while it is down
    await broker.cancel_open()  # resting limits canceled: the socket may never say so
    await until(
        lambda: trades(desk).state is State.STREAMING and trades(desk).reconnects >= 1,
        15,
        "reconnected",
    )
    await broker.wave()
    await broker.cancel_open()
    await settle(desk, broker)
    figures = await assert_booked_once(desk, broker)
    assert sim.emulator.faults.injected.get(f"trade_socket_{how}", 0) >= 1
    assert trades(desk).transport == "websocket"
    assert trades(desk).catch_ups >= 2  # after the first connect and after the reconnect
    if how == "silent":
        # noticed by the client's ping (every 0.1 s, 0.3 s to answer, then 0.3 s for the
        # close), not by the server's cut 3 s later
        assert any("no pong" in r for r in reasons), reasons
        assert noticed < 2.0, noticed
    print(f"\n{how}: noticed after {noticed:.2f} s; {figures}")


@pytest.mark.parametrize("retry_after", [True, False])
async def test_a_429_while_the_vanished_connection_is_held_never_storms(
    retry_after: bool,
    sim_with: Any,
    desk_on: Any,
    broker_for: Any,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The socket is cut: the emulator holds the account's slot for ``hold`` seconds and
    answers every upgrade meanwhile 429 with Retry-After (the seconds left); or, without
    Retry-After, a 429 fault answers the next three upgrades. The desk waits, then is back."""
    hold = 2.0
    sim = trading_host(sim_with, ws_hold_seconds=hold)
    broker: Broker = broker_for(sim)
    desk: Desk = await desk_on(sim, tmp_path, monkeypatch)
    await broker.wave()
    if not retry_after:
        await broker.fault({"kind": "connect", "scope": "trade_socket", "status": 429, "count": 3})
    before = int((await broker.state())["stats"].get("connect_trade_socket", 0))
    await broker.fault({"kind": "trade_socket", "action": "cut", "after_events": 2})
    await broker.wave()
    await until(lambda: trades(desk).state is not State.STREAMING, 10, "the cut")
    down_at = time.monotonic()
    await broker.wave()
    await broker.cancel_open()
    await until(
        lambda: trades(desk).state is State.STREAMING and trades(desk).reconnects >= 1,
        20,
        "reconnected",
    )
    phase = time.monotonic() - down_at
    stats = (await broker.state())["stats"]
    attempts = int(stats.get("connect_trade_socket", 0)) - before
    refused = [
        t for t in desk.supervisor.status().streams if t.name == "trades"
    ]  # the figures below
    assert refused
    # one attempt per floor at most, and one that succeeds: no storm
    assert attempts <= phase / FLOOR + 2, (attempts, phase)
    if retry_after:
        # the hold's Retry-After is honoured: about one refusal, then the connection
        assert attempts <= 3, (attempts, phase)
        assert phase >= hold - 0.3, phase
    else:
        assert attempts >= 4  # three refused, then the connection
    await broker.wave()
    await broker.cancel_open()
    await settle(desk, broker)
    figures = await assert_booked_once(desk, broker)
    print(f"\n429 retry_after={retry_after}: {attempts} upgrades in {phase:.2f} s; {figures}")


def _cents(price: Decimal) -> Decimal:
    return price.quantize(Decimal("0.01"))


async def test_fills_from_before_the_start_are_not_booked_again_by_the_first_catch_up(
    sim_with: Any,
    desk_on: Any,
    broker_for: Any,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The desk takes the account (positions, cash) at start; the websocket's first catch-up
    must not read the fills of the minutes before it again (the SSE stream starts live too)."""
    sim = trading_host(sim_with)
    broker: Broker = broker_for(sim)
    await broker.wave()
    for _ in range(200):  # the market orders filled (in part at least), then cancel the rest
        if len(await broker.positions()) == len(SYMBOLS):
            break
        await asyncio.sleep(0.05)
    await broker.cancel_open()
    for _ in range(200):
        if await broker.settled():
            break
        await asyncio.sleep(0.05)
    assert len(await broker.positions()) == len(SYMBOLS)
    before = len(await broker.fill_activities())
    broker.placed.clear()  # final states: of the orders placed while the desk runs
    desk: Desk = await desk_on(sim, tmp_path, monkeypatch)
    await until(lambda: trades(desk).catch_ups >= 1, 10, "the first catch-up")
    await until(lambda: desk.snapshot().book.account_known, 10, "the account read")
    await broker.wave()  # and what happens afterwards is booked
    await broker.cancel_open()
    await settle(desk, broker, before)
    book = desk.snapshot().book
    assert book.fills == len(await broker.fill_activities()) - before
    assert {s: p.qty for s, p in book.positions.items() if p.qty} == await broker.positions()
    assert abs(book.cash - await broker.cash()) < Decimal("0.005")


async def test_a_broker_account_still_opens_trades_accounts_and_nta_over_sse(
    sim_with: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sim: RunningEmulator = sim_with(rate_limit_per_minute=100_000)
    account = sim.emulator.exchange.default_account.id
    for name in ("APCA_API_BASE_URL", "APCA_API_DATA_URL", "TUI_TRADER_CONFIG"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("APCA_API_KEY_ID", KEY)
    monkeypatch.setenv("APCA_API_SECRET_KEY", SECRET)
    settings = load_settings(
        base_url=sim.url, api="broker", account_id=account, stream=dict(FAST_STREAM)
    )
    target = Target(sim.url, sim.url, settings.api, settings.key_id, settings.secret_key, account)
    store = Journal.open(tmp_path / "journal.sqlite3")
    desk = Desk(settings, target, store, DeskOptions(poll_interval=0.5, symbols=SYMBOLS))
    task = asyncio.create_task(desk.run())
    try:

        def up() -> dict[str, str]:
            return {
                s.name: s.transport
                for s in desk.snapshot().connection.streams
                if s.state is State.STREAMING
            }

        await until(lambda: len(up()) == 3, 15, lambda: str(desk.snapshot().connection))
        assert up() == {"trades": "sse", "accounts": "sse", "nta": "sse"}
        stats = sim.emulator.stats
        assert not stats.get("connect_trade_socket"), stats
    finally:
        desk.stop()
        await asyncio.wait_for(task, 15)
        await desk.aclose()
        store.close()
