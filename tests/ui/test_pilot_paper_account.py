"""Quit and restart on a kept paper account (issue 15), the desk and the app over the real
emulator: the same account, positions and open orders are back, and the journal (kept in the
data dir, named for the account) continues with every event of the emulator once, no gap."""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path

import httpx
import pytest

from tests.integration.conftest import BASE_CONFIG, KEY, KEY_HEADERS, SECRET
from tests.waiting import until
from tui_trader.broker.journal import Journal
from tui_trader.broker.status import State
from tui_trader.config import load_settings
from tui_trader.desk.desk import Desk, DeskOptions
from tui_trader.desk.target import Target
from tui_trader.sim.persist import state_path
from tui_trader.sim.runner import start_in_thread
from tui_trader.ui.app import build_app

pytestmark = pytest.mark.integration

SYMBOLS = ("AAPL", "MSFT")


async def _session(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, first: bool
) -> dict[str, object]:
    for name in list(os.environ):
        if name.upper().startswith(("APCA_", "TUI_TRADER_")):
            monkeypatch.delenv(name)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("APCA_API_KEY_ID", KEY)
    monkeypatch.setenv("APCA_API_SECRET_KEY", SECRET)
    data = tmp_path / "data"
    config = replace(
        BASE_CONFIG, heartbeat_seconds=1.0, state_path=state_path(data), save_seconds=0.2
    )
    running = start_in_thread(config)
    settings = load_settings(base_url=running.url, data_dir=data, ui={"refresh_hz": 4})
    assert settings.key_id is not None and settings.secret_key is not None
    target = Target(
        running.url,
        running.url,
        settings.api,
        settings.key_id,
        settings.secret_key,
        embedded=running,
    )
    path, scratch = target.journal_file(data)
    assert scratch is None and path.parent == data  # kept, not a throwaway
    journal = Journal.open(path)
    desk = Desk(
        settings, target, journal, DeskOptions(trade=False, poll_interval=0.5, symbols=SYMBOLS)
    )
    app = build_app(settings, desk, user_themes=tmp_path / "themes")
    out: dict[str, object] = {
        "path": path,
        "number": running.emulator.exchange.default_account.number,
    }
    try:
        async with (
            app.run_test(size=(160, 50)) as pilot,
            httpx.AsyncClient(base_url=running.url, headers=KEY_HEADERS, timeout=10) as broker,
        ):
            try:
                await until(lambda: desk.snapshot().connection.state is State.STREAMING, 20)
                if first:
                    reply = await broker.post(
                        "/v2/orders",
                        json={
                            "symbol": "AAPL",
                            "qty": "4",
                            "side": "buy",
                            "type": "market",
                            "time_in_force": "day",
                        },
                    )
                    assert reply.status_code == 200
                    reply = await broker.post(
                        "/v2/orders",
                        json={
                            "symbol": "MSFT",
                            "qty": "2",
                            "side": "buy",
                            "type": "limit",
                            "limit_price": "1.00",
                            "time_in_force": "gtc",
                        },
                    )
                    out["resting"] = reply.json()["id"]
                await until(lambda: "AAPL" in desk.snapshot().book.positions, 20)
                preview = await desk.preview_flatten()
                out["orders"] = preview.open_orders
                out["positions"] = {
                    s: (p.qty, p.avg_entry) for s, p in desk.snapshot().book.positions.items()
                }
                if first:  # every event of the first session is in the journal before quitting:
                    # the fill and the resting order's "new" (waiting for the fill alone let the
                    # limit's events land after the count was taken, once in a fresh clone)
                    await until(
                        lambda: (
                            _types(journal).count("fill") == 1
                            and out["resting"] in journal_orders(journal)
                        ),
                        20,
                    )
                else:  # a new event after the restart reaches the journal, once
                    resting = next(iter(journal_orders(journal)))
                    assert (await broker.delete(f"/v2/orders/{resting}")).status_code == 204
                    await until(lambda: "canceled" in _types(journal), 20)
                out["journal"] = [(e.id, e.fact) for e in journal.events_after(0, "trades")]
                await pilot.pause()
            finally:
                await app.shutdown()
    finally:
        journal.close()
        target.embedded = None
        running.stop()
    return out


def _statuses(journal: Journal, order_id: str) -> list[str]:
    """The event types the journal holds for one order."""
    import json

    return [
        e.type
        for e in journal.events_after(0, "trades")
        if json.loads(e.payload).get("order", {}).get("id") == order_id
    ]


def _types(journal: Journal) -> list[str]:
    return [e.type for e in journal.events_after(0, "trades")]


def journal_orders(journal: Journal) -> set[str]:
    """Ids of the orders the journal saw that are still open (the resting limit)."""
    import json

    status: dict[str, str] = {}
    for e in journal.events_after(0, "trades"):
        order = json.loads(e.payload).get("order", {})
        status[order.get("id")] = order.get("status")
    return {oid for oid, st in status.items() if st in ("new", "accepted", "pending_new")}


async def test_quit_and_restart_brings_the_account_back_and_the_journal_continues(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    one = await _session(tmp_path, monkeypatch, first=True)
    two = await _session(tmp_path, monkeypatch, first=False)
    assert two["number"] == one["number"] and two["path"] == one["path"]
    assert two["positions"] == one["positions"]
    assert two["orders"] == one["orders"] and len(one["orders"]) == 1  # type: ignore[arg-type]
    before, after = one["journal"], two["journal"]
    assert isinstance(before, list) and isinstance(after, list)
    # the journal continues: the first session's rows unchanged, nothing twice, the new event
    assert after[: len(before)] == before
    assert len({fact or id_ for id_, fact in after}) == len(after)
    assert len(after) == len(before) + 1
