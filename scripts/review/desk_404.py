# ruff: noqa
# Adapted copy of /work/shared/review/desk_404.py (review finding #2). What changed and why:
# ``tui_trader.engine`` and ``tui_trader.target`` became ``tui_trader.desk`` and
# ``tui_trader.desk.target`` (issue 12); ``Target`` now names its API family; a Trading API
# account's trade updates come over the trading websocket by default (issue 13), so the
# settings ask for the SSE transport, whose ``/v2/events/trades`` a Trading host may not offer
# (the path this finding is about). What it checks is unchanged: with the trade stream answering
# 404, is the desk stuck in REDUCING, or does a manual buy go out and fill?
"""Desk against the emulator when /v2/events/trades answers 404 (what a Trading API account may
get; API.md §9 #12). Does the desk ever allow an order that adds exposure?"""
import asyncio, os, sys, tempfile
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, os.environ.get("PROJECT", "."))
from tests.integration.conftest import BASE_CONFIG, KEY, SECRET
from tui_trader.sim.runner import start_in_thread
import tui_trader.broker.sse as sse
from tui_trader.broker.journal import Journal
from tui_trader.config import load_settings
from tui_trader.core.orders import OrderBuilder
from tui_trader.desk.desk import Desk, DeskOptions
from tui_trader.desk.target import Target

if len(sys.argv) > 1 and sys.argv[1] == "404":
    for k in ("trades", "accounts", "nta"):
        r = sse.ROUTES[k]
        sse.ROUTES[k] = sse.StreamRoute(r.name, r.path + "-not-here", r.version)


async def main():
    sim = start_in_thread(replace(BASE_CONFIG, history_days=1))
    try:
        for n in ("APCA_API_BASE_URL", "APCA_API_DATA_URL", "TUI_TRADER_CONFIG"):
            os.environ.pop(n, None)
        os.environ["APCA_API_KEY_ID"], os.environ["APCA_API_SECRET_KEY"] = KEY, SECRET
        os.environ["XDG_CONFIG_HOME"] = tempfile.mkdtemp()
        settings = load_settings(
            base_url=sim.url, stream={"poll_after_seconds": 1.0, "transport": "sse"}
        )
        target = Target(sim.url, sim.url, settings.api, settings.key_id, settings.secret_key)
        journal = Journal.open(Path(tempfile.mkdtemp()) / "j.sqlite3")
        desk = Desk(
            settings, target, journal, DeskOptions(trade=False, poll_interval=0.5, symbols=("AAPL",))
        )
        task = asyncio.create_task(desk.run())
        await asyncio.sleep(8)
        snap = desk.snapshot()
        print("connection:", snap.connection.state,
              [(s.name, str(s.state), s.reason) for s in snap.connection.streams])
        print("risk state:", snap.risk.state, "tripped:", [b.name for b in snap.risk.breakers if b.tripped])
        order = OrderBuilder().symbol("AAPL").buy(1).market().day().build()
        v = await desk.submit(order)
        print("manual buy 1 AAPL ->", v)
        await asyncio.sleep(4)
        snap = desk.snapshot()
        print("book AAPL:", snap.book.positions.get("AAPL"))
        print("events seen:", [(e.kind, e.source) for e in snap.events][-6:])
        desk.stop()
        await asyncio.wait_for(task, 15)
        await desk.aclose()
        journal.close()
    finally:
        sim.stop()


asyncio.run(main())
