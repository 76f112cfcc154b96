"""Measure, at real scale, how long a busy trade stream that goes silent takes to be abandoned
and reconnected (issue 11, point 3; target: within 16 s with 5 s heartbeats).

The emulator beats only idle connections, every 5 s; a trade event is written every 50 ms so
the trade stream never shows a heartbeat. Once the quiet streams have taught the host's
cadence, the next trade connection goes silent mid-burst for 40 s. Prints the silence at which
it was abandoned, the bound, and the time until the trade stream was STREAMING again.

    PYTHONPATH=. .venv/bin/python scripts/busy_stall.py      (about 30 s)
"""

from __future__ import annotations

import asyncio
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import httpx

from tests.integration.conftest import BASE_CONFIG, KEY, KEY_HEADERS, SECRET
from tui_trader.broker.journal import Journal
from tui_trader.broker.rest import AlpacaREST
from tui_trader.broker.status import ConnectionStatus, State, Transition
from tui_trader.broker.supervisor import Supervisor, SupervisorOptions
from tui_trader.sim.runner import start_in_thread


def tick(url: str, done: threading.Event) -> None:
    with httpx.Client(base_url=url, timeout=10) as c:
        while not done.wait(0.05):
            c.post("/_emulator/events", json={"stream": "trades"})


async def main() -> None:
    config = replace(
        BASE_CONFIG, heartbeat_seconds=5.0, heartbeat_mode="idle", rate_limit_per_minute=10**6
    )
    sim = start_in_thread(config)
    done = threading.Event()
    ticker = threading.Thread(target=tick, args=(sim.url, done), daemon=True)
    journal = Journal.open(Path(tempfile.mkdtemp()) / "journal.sqlite3")
    try:
        async with (
            AlpacaREST(sim.url, sim.url, KEY, SECRET) as rest,
            httpx.AsyncClient(base_url=sim.url) as http,
        ):
            options = SupervisorOptions(poll=False, reconcile=False)  # production defaults
            sup = Supervisor(rest, journal, http, dict(KEY_HEADERS), options)
            trades = sup._streams["trades"]
            seen: list[tuple[float, State, str]] = []  # (loop time, trades state, reason)
            changed = asyncio.Event()

            def on_status(t: Transition, _: ConnectionStatus) -> None:
                if t.stream == "trades":
                    seen.append((time.monotonic(), t.state, t.reason))
                changed.set()

            sup.on_status(on_status)
            task = asyncio.create_task(sup.run())
            ticker.start()
            learned = asyncio.Event()
            stop = sup._meters[str(http.base_url)].listen(learned.set)
            await asyncio.wait_for(learned.wait(), 30)
            stop()
            print(f"cadence learned from the quiet streams: {trades.watch.cadence:.3f} s")
            print(f"trade stream heartbeats seen: {trades.watch.last_beat is not None}")
            async with httpx.AsyncClient(base_url=sim.url) as admin:
                fault = {"kind": "stall", "stream": "trades", "seconds": 40, "after_events": 20}
                await admin.post("/_emulator/faults", json=fault)
                await admin.post("/_emulator/disconnect")

            async def first(pred: Callable[[tuple[float, State, str]], bool]) -> float:
                while True:
                    for item in seen:
                        if pred(item):
                            return item[0]
                    changed.clear()
                    await asyncio.wait_for(changed.wait(), 60)

            abandoned = await first(lambda x: x[2].startswith("no bytes"))
            back = await first(lambda x: x[0] >= abandoned and x[1] is State.STREAMING)
            silence, bound = trades.stalls[0]
            print(f"abandoned after {silence:.3f} s of silence (bound {bound:.3f} s)")
            print(
                f"STREAMING again {back - abandoned:.3f} s later: "
                f"{silence + back - abandoned:.3f} s from the last byte"
            )
            sup.stop()
            await asyncio.wait_for(task, 20)
    finally:
        done.set()
        journal.close()
        sim.stop()


if __name__ == "__main__":
    asyncio.run(main())
