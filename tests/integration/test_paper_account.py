"""The paper account persists (issue 15): the emulator keeps cash, positions, open orders,
event history and ids in its file and resumes them; a client resuming from its cursor sees no
gap and no duplicate; a kill -9 leaves a file that resumes; a bad file is set aside, not lost.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.integration.conftest import BASE_CONFIG, KEY_HEADERS
from tests.integration.sse import read_stream, wait_for
from tui_trader.sim.emulator import Emulator, EmulatorConfig
from tui_trader.sim.persist import AccountStore, StateInUse
from tui_trader.sim.runner import RunningEmulator, start_in_thread


def _config(path: Path) -> EmulatorConfig:
    return replace(BASE_CONFIG, speed=1.0, state_path=path, save_seconds=0.2)


def _client(running: RunningEmulator) -> httpx.Client:
    return httpx.Client(base_url=running.url, headers=KEY_HEADERS, timeout=10.0)


def _order(client: httpx.Client, **body: Any) -> dict[str, Any]:
    reply = client.post("/v2/orders", json={"time_in_force": "day", "side": "buy", **body})
    assert reply.status_code == 200, reply.text
    return dict(reply.json())


def _trades(client: httpx.Client, n: int, **params: Any) -> list[dict[str, Any]]:
    if "since_id" not in params:
        params["since"] = "2000-01-01T00:00:00Z"  # from the start of the history
    got = read_stream(
        client, "/v2/events/trades", params, stop=lambda r: len(r.events) >= n, max_seconds=20
    )
    return got.events


def _book(client: httpx.Client) -> tuple[str, str, dict[str, str], list[str]]:
    acct = client.get("/v2/account").json()
    positions = {p["symbol"]: p["qty"] for p in client.get("/v2/positions").json()}
    orders = sorted(o["id"] for o in client.get("/v2/orders", params={"status": "open"}).json())
    return acct["account_number"], acct["cash"], positions, orders


def test_account_resumes_and_a_cursor_continues_without_gap_or_duplicate(tmp_path: Path) -> None:
    path = tmp_path / "sim-account.sqlite3"
    with start_in_thread(_config(path)) as running, _client(running) as client:
        filled = _order(client, symbol="AAPL", qty="5", type="market")
        resting = _order(client, symbol="MSFT", qty="2", type="limit", limit_price="1.00")
        wait_for(lambda: client.get(f"/v2/orders/{filled['id']}").json()["status"] == "filled")
        before = _book(client)
        total = running.call(lambda: running.emulator.exchange.logs["trades"].end)
        every_before = [e["event_id"] for e in _trades(client, total)]
        read = 2  # a client read this much, then went away
        cursor = every_before[read - 1]
    assert before[2] == {"AAPL": "5"} and before[3] == [resting["id"]]

    with start_in_thread(_config(path)) as running, _client(running) as client:
        assert running.emulator.resumed
        assert _book(client) == before  # number, cash, positions, the open order
        # the whole history is there, byte for byte in order
        assert [e["event_id"] for e in _trades(client, len(every_before))] == every_before
        more = _order(client, symbol="NVDA", qty="1", type="market")
        wait_for(lambda: client.get(f"/v2/orders/{more['id']}").json()["status"] == "filled")
        # the resting order may still have been pending_new at the stop: its "new" can come
        # after the resume, so read until NVDA's fill rather than a fixed count
        after = read_stream(
            client,
            "/v2/events/trades",
            {"since_id": cursor},
            stop=lambda r: any(
                e["event"] == "fill" and e["order"]["symbol"] == "NVDA" for e in r.events
            ),
            max_seconds=20,
        ).events
        ids = [e["event_id"] for e in after]
        assert ids[: total - read] == every_before[read:]  # no gap, nothing twice
        new = after[total - read :]
        assert len(set(ids)) == len(ids) and cursor not in ids
        assert ids == sorted(ids) and ids[0] > cursor  # new ids sort after the old ones
        assert [e["event"] for e in new if e["order"]["symbol"] == "NVDA"][-1] == "fill"
        assert {e["order"]["symbol"] for e in new} <= {"NVDA", "MSFT"}
        assert more["id"] not in {filled["id"], resting["id"]}
        # the open order still works: it can be canceled
        assert client.delete(f"/v2/orders/{resting['id']}").status_code == 204


def test_the_file_keeps_the_emulator_s_window_and_resumes_from_it(tmp_path: Path) -> None:
    """A bounded emulator (the embedded one) keeps a bounded file: the events and minute bars
    it let go are deleted from the file too, and a resume continues from what is kept."""
    import sqlite3

    path = tmp_path / "sim-account.sqlite3"
    config = replace(_config(path), retention=4, keep_bars=0)  # bars: the floor, 3 sessions
    with start_in_thread(config) as running, _client(running) as client:
        for symbol in ("AAPL", "MSFT", "NVDA"):
            order = _order(client, symbol=symbol, qty="1", type="market")
            wait_for(
                lambda o=order: client.get(f"/v2/orders/{o['id']}").json()["status"] == "filled"
            )
        em = running.emulator
        running.call(em.advance, 6 * 86_400.0)  # six days on: several sessions of bars
        log = em.exchange.logs["trades"]
        kept = running.call(lambda: [e.ulid for _, e in log.since(0)])
        end = running.call(lambda: log.end)
        bars = running.call(lambda: [b.t for b in em.exchange.market.minute_bars("AAPL")])
        base = running.call(em.exchange.market.bar_base, "AAPL")
    assert len(kept) == 4 and end >= 9  # three orders: pending_new, new and fill each
    assert base > 0 and len(bars) <= 3 * 390 + 3 * 390 // 8  # the oldest bars went

    with sqlite3.connect(path) as db:
        rows = db.execute("SELECT ulid FROM events WHERE stream = 'trades' ORDER BY idx")
        assert [r[0] for r in rows] == kept
        first, count = db.execute(
            "SELECT MIN(seq), COUNT(*) FROM bars WHERE symbol = 'AAPL'"
        ).fetchone()
        assert (first, count) == (base, len(bars))

    with start_in_thread(_config(path)) as running, _client(running) as client:
        assert running.emulator.resumed
        em = running.emulator
        assert running.call(em.exchange.market.bar_base, "AAPL") == base
        assert running.call(lambda: [b.t for b in em.exchange.market.minute_bars("AAPL")]) == bars
        # a reader from the start of time gets what is kept, byte for byte in order
        assert [e["event_id"] for e in _trades(client, 4)] == kept


def test_a_second_emulator_on_the_same_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "sim-account.sqlite3"
    with start_in_thread(_config(path)), pytest.raises(StateInUse, match="in use"):
        Emulator(_config(path))


def test_an_unreadable_file_is_set_aside_and_a_fresh_account_starts(tmp_path: Path) -> None:
    path = tmp_path / "sim-account.sqlite3"
    path.write_bytes(b"not a database at all" * 100)
    emulator = Emulator(_config(path))
    assert not emulator.resumed
    assert emulator.store_note is not None and "kept as" in emulator.store_note
    kept = list(tmp_path.glob("sim-account.sqlite3.unreadable-*"))
    assert len(kept) == 1 and kept[0].read_bytes().startswith(b"not a database")
    emulator.close_store()


def test_an_older_format_is_set_aside_and_said(tmp_path: Path) -> None:
    path = tmp_path / "sim-account.sqlite3"
    emulator = Emulator(_config(path))
    emulator.close_store()
    import sqlite3

    with sqlite3.connect(path) as db:
        db.execute("PRAGMA user_version=0")
    again = Emulator(_config(path))
    assert not again.resumed
    assert again.store_note is not None and "format 0" in again.store_note
    assert list(tmp_path.glob("sim-account.sqlite3.unreadable-*"))
    again.close_store()


KILLED = """
import sys, time
from dataclasses import replace
from pathlib import Path
from tests.integration.conftest import BASE_CONFIG
from tui_trader.sim.runner import start_in_thread
cfg = replace(BASE_CONFIG, state_path=Path(sys.argv[1]), save_seconds=0.2)
running = start_in_thread(cfg)
print(running.url, flush=True)
time.sleep(120)
"""


def test_kill_9_loses_at_most_the_last_moments(tmp_path: Path) -> None:
    path = tmp_path / "sim-account.sqlite3"
    env = {**os.environ, "PYTHONPATH": os.environ.get("PYTHONPATH", os.getcwd())}
    proc = subprocess.Popen(
        [sys.executable, "-c", KILLED, str(path)], stdout=subprocess.PIPE, text=True, env=env
    )
    try:
        assert proc.stdout is not None
        url = proc.stdout.readline().strip()
        with httpx.Client(base_url=url, headers=KEY_HEADERS, timeout=10) as client:
            order = _order(client, symbol="AAPL", qty="3", type="market")
            wait_for(lambda: client.get(f"/v2/orders/{order['id']}").json()["status"] == "filled")
            book = _book(client)

            def saved() -> bool:  # the debounced save has written the fill
                with AccountStore(path)._connect() as db:
                    row = db.execute("SELECT body FROM state").fetchone()
                    return row is not None and '"AAPL"' in json.dumps(
                        json.loads(row[0])["accounts"]
                    )

            wait_for(saved, max_seconds=20)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=20)
    with start_in_thread(_config(path)) as running, _client(running) as client:
        assert running.emulator.resumed
        number, cash, positions, _orders = _book(client)
        assert (number, cash, positions) == book[:3]
        # resumed after a kill: time moved past the lost moments, new ids sort after old ones
        last = running.call(
            lambda: running.emulator.exchange.logs["trades"].get(
                running.emulator.exchange.logs["trades"].end - 1
            )
        )
        more = _order(client, symbol="AAPL", qty="1", type="market")
        wait_for(lambda: client.get(f"/v2/orders/{more['id']}").json()["status"] == "filled")
        newest = _trades(client, 1, since_id=last.ulid)
        assert newest and newest[0]["event_id"] > last.ulid
