"""The terminal desk under load: key latency, frame rate, loop lag and memory.

One emulator in a process of its own, a pusher in another that feeds it trade events at a
paced rate (``POST /_emulator/backlog`` with a few dozen one-share orders every 20 ms; each
order writes its trade events at once, and the pusher reads how many from the reply), and in
this process the real app: ``build_app`` over a real :class:`Desk` (``trade=False``, so the
policy sends nothing; the journal in a temp dir) reading the emulator's streams.

The app runs under Textual's headless driver (``App.run_test(size=(160, 50))``): there is no
real terminal. Textual still lays out and renders every update (the compositor's work), but it
does not turn the update into escape codes nor write them, so a real terminal costs more per
frame than what is measured here.

Keys reach the app the way ``Pilot.press`` delivers them (a ``Key`` event through the
driver, ``App._press_keys``), but the wait after each press is for the desk's reaction (timed
by wrappers around the desk's methods), not Pilot's ``wait_for_idle``: on a busy process that
always runs to its 1 s cap twice, which would allow one press per two seconds. A few
``await pilot.press("p")`` at idle cross-check that both paths measure the same thing.

Measured three times in the same run, with the same key actions: first with the desk idle
(no event load: the baseline), then under load twice (each from the first push until every
pushed event has reached the desk): ``load``, the trade events alone (the data stream carries
the market's own quotes and trades, about one a second per symbol), and ``load+quotes``, the
same events plus ``--quote-hz`` quotes and as many trades a second for every watched symbol
on the market-data websocket (the emulator's ``quote_hz``/``trade_hz``, set through its
stdin). Both loaded phases show each view in turn for ``--view-seconds`` (``1`` the grid,
``2`` the watchlist, ``4`` the charts: their repaints are part of the load), switching
between two key actions, and spread the key actions over the whole load:

* key -> desk acting: ``p`` until ``desk.risk.pause()``/``resume()`` returned (the flag
  flipped) and until ``desk.pause()``/``resume()`` returned (journal written); flatten as ``f``,
  wait until the confirm modal is drawn (a trader answers what is on the screen) and 50 ms
  more, then ``y`` -> ``desk.flatten()`` called, -> trading paused, -> the first cancel
  request handed to httpx (an httpx request hook), and separately -> the whole flatten done
  (cancel, close, poll until flat). A position (5 MSFT, a market order straight to
  the emulator) is reopened before every flatten;
* the UI: ``DeskScreen.frames`` per second (the screen's coalesced repaints, at most
  ``ui.refresh_hz``) and compositor updates per second; the loop's responsiveness, as the lag
  of a 10 ms ``asyncio.sleep`` probe on the app's loop, and the garbage collector's pauses;
* where the loop thread's CPU went (``time.thread_time`` inside a few wrapped functions), and
  how much CPU the rest of the machine took meanwhile (other processes skew every figure);
* memory of this process (app + desk; not the emulator's): RSS sampled every second while the
  events flow, RSS at 1 minute and at the end, the slope after the first minute, and the peak
  (``VmHWM``, ``ru_maxrss``).

Prints figures next to the issue's targets (key p99 < 50 ms under load; RSS flat after the
first minute; per key also by the view shown at the press), then the first-frame figures of
``bench/startup.py`` (the real app against a bare Textual app) when that bench is there;
no pass/fail beyond sanity (it exits 1 only if nothing could be measured).

Run: ``make bench`` or ``.venv/bin/python bench/ui.py [--quick] [--events N] [--rate R]``;
``--gc-census`` also says what the cyclic garbage of the load was (by type and module);
``--heap-columns`` adds glibc's heap in use and free, malloc's mmaps and Python's allocated
blocks to the RSS table (which of them the RSS follows). Each key action over 50 ms is listed
with the collector's pauses inside it; each phase's RSS trend is given with its uncertainty.
The default, 1,000,000 events a loaded phase at 5,000/s, takes at least eight minutes (the
idle phase, twice 200 s of pushing, and however long the desk needs to catch up);
``--quick`` (50,000 events a phase) about one. ``--toggles 0 --flattens 0`` is a memory run:
no key figures, the views still cycle (exit 0).
"""

from __future__ import annotations

import _sqlite3
import argparse
import array
import asyncio
import collections
import collections.abc
import contextlib
import cProfile
import ctypes
import functools
import gc
import io
import json
import logging
import math
import os
import platform
import pstats
import random
import re
import resource
import signal
import subprocess
import sys
import tempfile
import threading
import time
import tracemalloc
import types
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, overload

import _views
import httpx
import numpy as np
import textual
from _isolation import KEY, SECRET, isolated_env  # bench/ is on sys.path
from _revision import revision
from _turns import TurnWatch
from _views import send_key
from textual.css.stylesheet import Stylesheet
from textual.screen import Screen

from tui_trader.broker.journal import Journal
from tui_trader.broker.status import State
from tui_trader.broker.supervisor import Delivered
from tui_trader.config import load_settings
from tui_trader.core.portfolio.state import MAX_EXECS
from tui_trader.desk.desk import Desk, DeskOptions
from tui_trader.desk.target import Target
from tui_trader.heap_trim import limit_arenas, trimmer
from tui_trader.ui.app import TraderApp, build_app
from tui_trader.ui.panes.charts import ChartPlot, ChartsPane
from tui_trader.ui.panes.events import EventsPane
from tui_trader.ui.panes.watchlist import WatchlistPane
from tui_trader.ui.screens.confirm import ConfirmScreen
from tui_trader.ui.screens.main import DeskScreen

SIM_START = "2026-11-24T15:00:00+00:00"  # a Tuesday, 10:00 New York: the market is open
REOPEN = {"symbol": "MSFT", "qty": "5", "side": "buy", "type": "market", "time_in_force": "day"}
TARGET_P99_MS = 50.0

EMULATOR = """\
import sys
from datetime import datetime
from decimal import Decimal
from tui_trader.sim.emulator import EmulatorConfig
from tui_trader.sim.runner import start_in_thread
key, secret, start = sys.argv[1], sys.argv[2], sys.argv[3]
config = EmulatorConfig(
    key_id=key, secret_key=secret, start=datetime.fromisoformat(start),
    heartbeat_seconds=5.0, rate_limit_per_minute=10_000_000,
    starting_cash=Decimal(10_000_000),
    retention=200_000,  # ~40 s at 5,000/s for a reconnect; unbounded, 9M events took 24 GB
)
running = start_in_thread(config, "127.0.0.1", 0, log_level="error")
print(running.url, flush=True)
for line in sys.stdin:  # "rates Q T": quotes and trades a second per symbol (0: the market's)
    cmd = line.split()
    if cmd and cmd[0] == "rates":
        running.emulator.config.quote_hz = float(cmd[1]) or None
        running.emulator.config.trade_hz = float(cmd[2]) or None
        print("ok", flush=True)
running.stop()  # the parent closed our stdin
"""

# Paced backlog requests, each on a fresh connection: the emulator's keep-alive responses
# wait ~40 ms for a delayed ACK (its listening socket is not TCP_NODELAY), a new connection
# answers in a millisecond or two. Even batches alternate buy/sell, so they leave no position.
PUSHER = """\
import http.client, json, sys, time
host, port, key, secret = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
total, rate = int(sys.argv[5]), float(sys.argv[6])
headers = {"APCA-API-KEY-ID": key, "APCA-API-SECRET-KEY": secret,
           "Content-Type": "application/json", "Connection": "close"}
def post(orders):
    conn = http.client.HTTPConnection(host, port, timeout=60)
    try:
        conn.request("POST", "/_emulator/backlog", json.dumps({"orders": orders}), headers)
        resp = conn.getresponse()
        body = resp.read()
        if resp.status != 200:
            raise SystemExit(f"backlog: HTTP {resp.status}: {body[:200]!r}")
        return json.loads(body)["trade_events"]
    finally:
        conn.close()
start = time.perf_counter()
per_order = max(1, post(2) // 2)
written, requests, orders_sent, worst = 2 * per_order, 1, 2, 0.0
report = start + 0.2
while written < total:
    now = time.perf_counter()
    remaining = total - written
    due = min(remaining, int((now - start) * rate) - written)
    if due >= remaining:  # the rest is due: finish (this last batch may be odd)
        orders = -(-remaining // per_order)
    else:
        orders = due // per_order // 2 * 2
    orders = min(orders, 4000)
    if orders > 0:
        t = time.perf_counter()
        written += post(orders)
        worst = max(worst, time.perf_counter() - t)
        requests += 1
        orders_sent += orders
    if now >= report:
        print(json.dumps({"written": written, "t": now - start}), flush=True)
        report += 0.2
    time.sleep(max(0.0, 0.02 - (time.perf_counter() - now)))
elapsed = time.perf_counter() - start
print(json.dumps({"done": True, "written": written, "seconds": elapsed, "requests": requests,
                  "orders": orders_sent, "per_order": per_order, "worst_request_s": worst}),
      flush=True)
"""


# ------------------------------------------------------------------------------ numbers
def pct(values: list[float], p: float) -> float:
    """Nearest-rank percentile (NaN for no values)."""
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


def fmt(value: float, digits: int = 1) -> str:
    return "-" if value is None or math.isnan(value) else f"{value:,.{digits}f}"


def slope(points: list[tuple[float, float]]) -> float:
    """Least-squares slope of y over x (NaN with fewer than two distinct x)."""
    if len(points) < 2:
        return math.nan
    n = len(points)
    mx = sum(x for x, _ in points) / n
    my = sum(y for _, y in points) / n
    sxx = sum((x - mx) ** 2 for x, _ in points)
    if sxx == 0:
        return math.nan
    return sum((x - mx) * (y - my) for x, y in points) / sxx


TREND_BLOCK_S = 30.0
"""The RSS's trend is fitted to means of this many seconds (its sawtooth: the heap trims, the
ledger's window; see :func:`block_slope`)."""


def block_slope(points: list[tuple[float, float]], block: float) -> tuple[float, float, int]:
    """Slope of y over x with its standard error, fitted to the means of consecutive blocks
    of ``block`` in x: the RSS moves in a sawtooth (the heap trimmer's period, the ledger's
    window), so neighbouring samples are not independent and a slope over them alone would
    claim more certainty than the data holds. Returns (slope, standard error, blocks)."""
    if not points:
        return math.nan, math.nan, 0
    x0 = points[0][0]
    groups: dict[int, list[tuple[float, float]]] = {}
    for x, y in points:
        groups.setdefault(int((x - x0) // block), []).append((x, y))
    means = [
        (sum(x for x, _ in g) / len(g), sum(y for _, y in g) / len(g))
        for g in groups.values()
        if len(g) >= 2
    ]
    k = len(means)
    b = slope(means)
    if k < 4 or math.isnan(b):
        return b, math.nan, k
    mx = sum(x for x, _ in means) / k
    my = sum(y for _, y in means) / k
    sxx = sum((x - mx) ** 2 for x, _ in means)
    resid = sum((y - my - b * (x - mx)) ** 2 for x, y in means)
    return b, math.sqrt(resid / (k - 2) / sxx), k


def proc_status_kib(field_name: bytes, pid: int | str = "self") -> int:
    try:
        with open(f"/proc/{pid}/status", "rb") as f:
            for line in f:
                if line.startswith(field_name):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def rss_peak_mb() -> float:
    """The largest RSS since the last call (VmHWM), which is then reset to the current RSS
    (``/proc/self/clear_refs``, Linux >= 4.0): a moment's peak between two samples, e.g. a
    burst held in memory, which the samples themselves miss. NaN where it cannot be read."""
    peak = proc_status_kib(b"VmHWM:") / 1024
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        return math.nan
    return peak if peak else math.nan


def proc_cpu(pid: int) -> float:
    """utime + stime of another process, in seconds (0 once it is gone)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            fields = f.read().rsplit(b")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return 0.0


def runq_wait(tid: int) -> float:
    """Seconds thread ``tid`` of this process spent runnable but waiting for a CPU."""
    try:
        with open(f"/proc/self/task/{tid}/schedstat") as f:
            return int(f.read().split()[1]) / 1e9
    except (OSError, IndexError, ValueError):
        return 0.0


def machine_busy() -> float:
    """CPU-seconds the whole machine has spent busy (every CPU, every process)."""
    with open("/proc/stat") as f:
        ticks = [int(x) for x in f.readline().split()[1:]]
    idle = ticks[3] + ticks[4]  # idle + iowait
    return (sum(ticks[:8]) - idle) / os.sysconf("SC_CLK_TCK")


# ------------------------------------------------------------------------ measurements
@dataclass
class Phase:
    name: str
    toggle_flip: list[float] = field(default_factory=list)  # ms, press -> risk flag flipped
    toggle_done: list[float] = field(default_factory=list)  # ms, press -> desk.pause returned
    pilot_flip: list[float] = field(default_factory=list)  # ms, same via pilot.press
    flat_enter: list[float] = field(default_factory=list)  # ms, y -> desk.flatten() called
    flat_paused: list[float] = field(default_factory=list)  # ms, y -> risk paused
    flat_cancel: list[float] = field(default_factory=list)  # ms, y -> cancel request sent
    flat_done: list[float] = field(default_factory=list)  # ms, y -> flatten complete
    modal: list[float] = field(default_factory=list)  # ms, f -> confirm modal drawn
    not_flat: int = 0
    timeouts: int = 0
    lag: array.array[float] = field(default_factory=lambda: array.array("d"))  # ms
    t0: float = 0.0
    t1: float = 0.0
    frames0: int = 0
    frames1: int = 0
    updates0: int = 0
    updates1: int = 0
    meter0: dict[str, float] = field(default_factory=dict)
    meter1: dict[str, float] = field(default_factory=dict)
    cpu_loop: float = 0.0  # seconds of the loop thread's CPU during the phase
    cpu_proc: float = 0.0
    runq_wait: float = 0.0  # seconds the loop thread was runnable but had no CPU
    machine_busy: float = 0.0  # CPU-seconds used on the whole machine
    # the collector's records as doubles, like the samples (SampleLog): no objects per pass
    gc: dict[int, array.array[float]] = field(
        default_factory=lambda: {g: array.array("d") for g in (0, 1, 2)}
    )  # ms
    gc_collected: list[int] = field(default_factory=list)  # what each full collection freed
    gc_spans: array.array[float] = field(default_factory=lambda: array.array("d"))  # start,
    # end, generation: three doubles a pass
    slow: list[tuple[str, float, str]] = field(default_factory=list)  # key, ms, GC inside
    objects: int = 0  # GC-tracked objects at the phase's end
    # the loaded phases'
    quotes: tuple[float, float] = (0.0, 0.0)  # emulator's rates asked: quotes, trades /s/symbol
    charts_thread: bool = True  # ChartPlot.background: live chart updates built in a thread
    taken0: tuple[int, int] = (0, 0)  # quotes, trades the desk took (Tape), at the start
    taken1: tuple[int, int] = (0, 0)
    draws0: int = 0  # ChartsPane plot builds
    draws1: int = 0
    flip_by_view: dict[str, list[float]] = field(default_factory=dict)  # ms, p -> flipped
    view_switch: list[float] = field(default_factory=list)  # ms, view key -> view shown
    view_time: dict[str, float] = field(default_factory=dict)  # s each view was shown
    events_delivered: int = 0
    delivery_seconds: float = math.nan  # first push -> last event delivered
    drain_seconds: float | None = None  # last push -> last event delivered (None: never)
    pusher: dict[str, Any] = field(default_factory=dict)
    emulator_cpu: float = 0.0
    pusher_cpu: float = 0.0

    @property
    def seconds(self) -> float:
        return max(self.t1 - self.t0, 1e-9)


class Probe:
    """Timestamps the desk's reactions to a key press, through wrappers on its methods."""

    def __init__(self, desk: Desk) -> None:
        self.t0: float | None = None
        self.marks: dict[str, float] = {}
        self.changed = asyncio.Event()
        self.report: Any = None
        risk = desk.risk
        pause, resume = risk.pause, risk.resume
        desk_pause, desk_resume, flatten = desk.pause, desk.resume, desk.flatten

        def risk_pause() -> None:
            pause()
            self.mark("flip")

        def risk_resume() -> Any:
            state = resume()
            self.mark("flip")
            return state

        def pause_(reason: str = "by the trader") -> None:
            desk_pause(reason)
            self.mark("done")

        def resume_() -> str:
            state = desk_resume()
            self.mark("done")
            return state

        def flatten_() -> Any:
            self.mark("enter")
            task = flatten()  # pauses now; the task cancels, closes and checks

            def done(t: asyncio.Task[Any]) -> None:
                if not t.cancelled() and t.exception() is None:
                    self.report = t.result()
                    self.mark("flat")

            task.add_done_callback(done)
            return task

        async def on_request(request: httpx.Request) -> None:
            if request.method == "DELETE" and request.url.path.endswith("/orders"):
                self.mark("cancel")

        risk.pause = risk_pause  # type: ignore[method-assign]
        risk.resume = risk_resume  # type: ignore[method-assign]
        desk.pause = pause_  # type: ignore[method-assign]
        desk.resume = resume_  # type: ignore[method-assign]
        desk.flatten = flatten_  # type: ignore[method-assign]
        desk.rest._client.event_hooks.setdefault("request", []).append(on_request)

    def arm(self) -> None:
        self.marks = {}
        self.report = None
        self.changed.clear()
        self.t0 = time.perf_counter()

    def mark(self, name: str) -> None:
        if self.t0 is not None and name not in self.marks:
            self.marks[name] = time.perf_counter()
            self.changed.set()

    def ms(self, name: str) -> float | None:
        at = self.marks.get(name)
        return None if at is None or self.t0 is None else (at - self.t0) * 1000

    async def wait_for(self, name: str, seconds: float) -> bool:
        deadline = time.perf_counter() + seconds
        while name not in self.marks:
            left = deadline - time.perf_counter()
            if left <= 0:
                return False
            self.changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.changed.wait(), left)
        return True

    def disarm(self) -> None:
        self.t0 = None


class LagProbe:
    """A 10 ms sleep on the app's loop, again and again; each overshoot is a lag sample."""

    def __init__(self) -> None:
        self.phase: Phase | None = None
        self.running = True

    async def run(self) -> None:
        while self.running:
            t = time.perf_counter()
            await asyncio.sleep(0.010)
            lag = (time.perf_counter() - t - 0.010) * 1000
            if self.phase is not None:
                self.phase.lag.append(lag)


class GcWatch:
    """Pauses of the cyclic garbage collector (it runs on the loop thread, stopping it)."""

    def __init__(self) -> None:
        self.phase: Phase | None = None
        self._start = 0.0
        gc.callbacks.append(self._callback)

    def _callback(self, stage: str, info: dict[str, Any]) -> None:
        if stage == "start":
            self._start = time.perf_counter()
        elif self.phase is not None:
            end = time.perf_counter()
            self.phase.gc[info["generation"]].append((end - self._start) * 1000)
            self.phase.gc_spans.extend((self._start, end, info["generation"]))
            if info["generation"] == 2:
                self.phase.gc_collected.append(info["collected"])

    def close(self) -> None:
        gc.callbacks.remove(self._callback)


class Meter:
    """CPU time of the loop thread inside a few wrapped functions (``time.thread_time``)."""

    def __init__(self) -> None:
        self.spent: dict[str, float] = {}

    def wrap(self, owner: Any, attr: str, name: str) -> None:
        inner = getattr(owner, attr)
        self.spent[name] = 0.0
        spent = self.spent
        clock = time.thread_time

        def timed(*args: Any, **kwargs: Any) -> Any:
            t = clock()
            try:
                return inner(*args, **kwargs)
            finally:
                spent[name] += clock() - t

        setattr(owner, attr, timed)

    def read(self) -> dict[str, float]:
        return dict(self.spent)


# (label, meter name, nested under the row above) in the order the breakdown prints them
BREAKDOWN = [
    ("stream: validate + stage (_on_frames)", "frames", False),
    ("after commit: count + listeners (_written)", "written", False),
    ("  of which desk._on_events (ledger, risk)", "desk_events", True),
    ("DeskScreen.paint (every pane)", "paint", False),
    ("  desk.snapshot() (paint's and the keys')", "snapshot", True),
    ("  of which EventsPane.render_snapshot", "events_pane", True),
    ("  of which WatchlistPane.render_snapshot", "watch", True),
    ("  ChartsPane.draw (plot data; also on its timer)", "charts_draw", True),
    ("Textual layout + compositor (screen timer)", "compositor", False),
    ("  of which ChartPlot.render (plotext)", "plot_render", True),
    ("Textual CSS (Stylesheet.update_nodes)", "css", False),
]


async def until(check: Callable[[], Any], seconds: float, step: float = 0.005) -> bool:
    deadline = time.perf_counter() + seconds
    while not check():
        if time.perf_counter() > deadline:
            return False
        await asyncio.sleep(step)
    return True


SLOW_MS = 50.0
"""A key action slower than this is listed with the collector's pauses inside it."""


def note_slow(phase: Phase, key: str, t0: float, ms: float) -> None:
    """Keep a slow key action with the GC pauses that overlapped it (generation: ms)."""
    if ms <= SLOW_MS:
        return
    t1 = t0 + ms / 1000
    inside = [
        f"gen{gen:.0f} {(min(e, t1) - max(s, t0)) * 1000:.0f}"
        for s, e, gen in zip(
            phase.gc_spans[0::3], phase.gc_spans[1::3], phase.gc_spans[2::3], strict=True
        )
        if s < t1 and e > t0
    ]
    waited = (
        "; callbacks: " + ", ".join(f"{label} {cms:.0f}" for label, cms in TURNS[0].between(t0, t1))
        if TURNS
        else ""
    )
    phase.slow.append((key, ms, (", ".join(inside) or "no GC") + waited))


TURNS: list[TurnWatch] = []
"""--turns: the loop's turn watch, for :func:`note_slow`."""


class Keys:
    """Presses the trading keys and records how long the desk takes to act."""

    def __init__(
        self,
        app: TraderApp,
        desk: Desk,
        probe: Probe,
        client: httpx.AsyncClient,
        modal_drawn: list[float],
    ) -> None:
        self.app, self.desk, self.probe, self.client = app, desk, probe, client
        self.drawn = modal_drawn  # [when a confirm modal last went to the display]
        self.views: _views.Views | None = None  # a loaded phase switches views between keys

    def on_desk(self) -> bool:
        return isinstance(self.app.screen, DeskScreen)

    async def toggle(self, phase: Phase) -> None:
        await until(self.on_desk, 30)
        view = self.views.current() if self.views is not None else "panes"
        self.probe.arm()
        send_key(self.app, "p")
        ok = await self.probe.wait_for("done", 30)
        flip, done = self.probe.ms("flip"), self.probe.ms("done")
        pressed = self.probe.t0 or 0.0
        self.probe.disarm()
        if not ok or flip is None or done is None:
            phase.timeouts += 1
            return
        phase.toggle_flip.append(flip)
        note_slow(phase, "p", pressed, flip)
        phase.toggle_done.append(done)
        phase.flip_by_view.setdefault(view, []).append(flip)

    async def pilot_toggle(self, pilot: Any, phase: Phase) -> None:
        await until(self.on_desk, 30)
        self.probe.arm()
        await pilot.press("p")
        ok = await self.probe.wait_for("flip", 30)
        flip = self.probe.ms("flip")
        self.probe.disarm()
        if ok and flip is not None:
            phase.pilot_flip.append(flip)
        else:
            phase.timeouts += 1

    async def reopen(self) -> bool:
        """Buy 5 MSFT straight at the emulator; wait until the desk's ledger holds them."""
        reply = await self.client.post("/v2/orders", json=REOPEN)
        if reply.status_code != 200:
            return False

        def held() -> bool:
            pos = self.desk.portfolio.snapshot().positions.get("MSFT")
            return pos is not None and pos.qty > 0

        return await until(held, 20, 0.02)

    async def flatten(self, phase: Phase) -> None:
        await until(self.on_desk, 30)
        if not await self.reopen():
            phase.timeouts += 1
            return
        t = time.perf_counter()
        send_key(self.app, "f")
        shown = await until(
            lambda: (
                isinstance(self.app.screen, ConfirmScreen)
                and bool(self.app.screen.query("#confirm"))
            ),
            30,
            0.002,
        )
        mounted = time.perf_counter()
        # a trader answers what is on the screen: the press comes once the modal is drawn
        if not shown or not await until(lambda: self.drawn[0] > mounted, 30, 0.002):
            phase.timeouts += 1
            return
        phase.modal.append((time.perf_counter() - t) * 1000)
        await asyncio.sleep(0.05)  # a (very) quick reader; not part of any figure
        self.probe.arm()
        send_key(self.app, "y")
        ok = await self.probe.wait_for("flat", 90)
        marks = {k: self.probe.ms(k) for k in ("enter", "flip", "cancel", "flat")}
        report = self.probe.report
        pressed = self.probe.t0 or 0.0
        self.probe.disarm()
        if not ok or any(v is None for v in marks.values()):
            phase.timeouts += 1
            return
        phase.flat_enter.append(marks["enter"])  # type: ignore[arg-type]
        note_slow(phase, "y", pressed, marks["enter"] or 0.0)
        phase.flat_paused.append(marks["flip"])  # type: ignore[arg-type]
        phase.flat_cancel.append(marks["cancel"])  # type: ignore[arg-type]
        phase.flat_done.append(marks["flat"])  # type: ignore[arg-type]
        if report is not None and not report.flat:
            phase.not_flat += 1
        await until(self.on_desk, 30)

    async def run(
        self,
        phase: Phase,
        toggles: int,
        flattens: int,
        spacing: Callable[[int], float],
        stop: Callable[[], bool] = lambda: False,
    ) -> None:
        """Toggles with the flattens spread evenly among them; ``spacing(i)`` is when (s from
        the start) action ``i`` is due; nothing new starts once ``stop()``."""
        plan = ["p"] * toggles
        for j in range(flattens):
            plan.insert(round((j + 0.5) * len(plan) / flattens) + j, "f")
        start = time.perf_counter()
        if not plan and self.views is not None:
            # no key actions (--toggles 0 --flattens 0): the views still cycle, so a run can
            # tell the views' part (the charts' builds) from the keys' (the dialogs)
            while not stop():
                await self.views.maybe_switch(until)
                await asyncio.sleep(0.25)
            return
        for i, action in enumerate(plan):
            wait = start + spacing(i) - time.perf_counter()
            if wait > 0:
                await asyncio.sleep(wait)
            if stop():
                break
            if self.views is not None:
                await self.views.maybe_switch(until)
            await (self.flatten(phase) if action == "f" else self.toggle(phase))


@dataclass(slots=True)
class Sample:
    t: float  # seconds since the load started
    rss_mb: float
    events: int  # delivered to the desk since the load started
    pushed: int
    execs: int  # executions the ledger remembers (a window of MAX_EXECS: it fills, then holds)
    peak_mb: float = math.nan  # the largest RSS since the sample before (VmHWM, reset each time)
    held: int = 0  # the most committed events the desk held unapplied since the sample before
    heap: tuple[float, ...] = ()  # --heap-columns: see HeapWatch.columns
    # HeapWatch.classes, kept only at the first sample after a minute
    classes: dict[int, tuple[int, int, int]] = field(default_factory=dict)


class SampleLog(collections.abc.Sequence[Sample]):
    """The samples, kept as columns of doubles while the load runs and read back as
    :class:`Sample` afterwards. A list of ``Sample`` objects grew, in the very process it
    measures, the pymalloc classes it counts: a dozen floats and ints (32-byte blocks), a
    tuple and the sample itself every second, about 1.5 MB in a 40-minute run."""

    def __init__(self) -> None:
        # t, rss_mb, events, pushed, execs, peak_mb, held
        self._cols = [array.array("d") for _ in range(7)]
        self._heap: array.array[float] = array.array("d")
        self._width = 0  # heap columns a sample
        self._classes: dict[int, tuple[int, int, int]] = {}
        self._classes_at = -1

    def append(
        self,
        t: float,
        rss_mb: float,
        events: int,
        pushed: int,
        execs: int,
        peak_mb: float,
        held: int,
        heap: tuple[float, ...],
    ) -> None:
        values = (t, rss_mb, events, pushed, execs, peak_mb, held)
        for col, value in zip(self._cols, values, strict=True):
            col.append(value)
        self._width = len(heap)
        self._heap.extend(heap)

    def keep_classes(self, classes: dict[int, tuple[int, int, int]]) -> None:
        """HeapWatch.classes at the newest sample (once, at the first minute)."""
        self._classes, self._classes_at = dict(classes), len(self) - 1

    @property
    def has_classes(self) -> bool:
        return self._classes_at >= 0

    def __len__(self) -> int:
        return len(self._cols[0])

    @overload
    def __getitem__(self, i: int) -> Sample: ...
    @overload
    def __getitem__(self, i: slice) -> list[Sample]: ...
    def __getitem__(self, i: int | slice) -> Sample | list[Sample]:
        if isinstance(i, slice):
            return [self[k] for k in range(*i.indices(len(self)))]
        k = range(len(self))[i]
        t, rss, events, pushed, execs, peak, held = (col[k] for col in self._cols)
        w = self._width
        return Sample(
            t,
            rss,
            int(events),
            int(pushed),
            int(execs),
            peak,
            int(held),
            tuple(self._heap[k * w : (k + 1) * w]),
            self._classes if k == self._classes_at else {},
        )


class Pusher:
    """The pusher process, and a thread that reads its progress lines."""

    def __init__(self, url: str, total: int, rate: float, env: dict[str, str], root: Path) -> None:
        host, port = url.removeprefix("http://").rsplit(":", 1)
        argv = [sys.executable, "-c", PUSHER, host, port, KEY, SECRET]
        self.stderr = root / "pusher.stderr"
        with self.stderr.open("wb") as err:
            self.proc = subprocess.Popen(
                [*argv, str(total), str(rate)],
                stdout=subprocess.PIPE,
                stderr=err,
                stdin=subprocess.DEVNULL,
                env=env,
                text=True,
            )
        self.written = 0
        self.final: dict[str, Any] | None = None
        self.started = time.perf_counter()
        self.ended: float | None = None
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            with contextlib.suppress(ValueError):
                data = json.loads(line)
                self.written = int(data["written"])
                if data.get("done"):
                    self.final = data
        self.proc.wait()
        self.ended = time.perf_counter()

    @property
    def running(self) -> bool:
        return self.ended is None

    def error(self) -> str:
        if self.proc.returncode in (0, None):
            return ""
        lines = self.stderr.read_text(errors="replace").strip().splitlines()
        return f"exit {self.proc.returncode}: {lines[-1] if lines else ''}"

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(timeout=5)
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


@dataclass
class Result:
    idle: Phase
    loads: list[Phase]  # events only, then events + quotes and trades for every symbol
    samples: SampleLog
    rss_before_mb: float
    hwm_mb: float
    maxrss_mb: float
    hz: float
    symbols: int
    profile: str = ""


class Counter(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.count = 0
        self.first: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.count += 1
        if len(self.first) < 3:
            self.first.append(f"{record.name}: {record.getMessage()[:120]}")


# ------------------------------------------------------------------------------ the run
def clean_env(root: Path) -> dict[str, str]:
    return isolated_env(root)


@contextlib.contextmanager
def emulator(env: dict[str, str], root: Path) -> Iterator[tuple[str, subprocess.Popen[str]]]:
    """The emulator in a process of its own, so its work does not take this loop's GIL."""
    err = (root / "emulator.stderr").open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-c", EMULATOR, KEY, SECRET, SIM_START],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=err,
        env=env,
        text=True,
    )
    try:
        assert proc.stdout is not None
        url = proc.stdout.readline().strip()
        if not url.startswith("http://"):
            tail = (root / "emulator.stderr").read_text(errors="replace")[-500:]
            raise SystemExit(f"the emulator did not start: {tail}")
        yield url, proc
    finally:
        with contextlib.suppress(OSError):
            assert proc.stdin is not None
            proc.stdin.close()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=10)
        err.close()


def cache_sizes() -> dict[str, int]:
    """Entries in every ``functools.lru_cache`` and Textual ``LRUCache``/``FIFOCache`` alive,
    by where it lives: caches that fill slowly (keyed by styles, text, geometry) grow the heap
    for minutes after the windows of events are full."""
    from textual.cache import FIFOCache, LRUCache

    sizes: dict[str, int] = collections.Counter()
    for o in gc.get_objects():
        if isinstance(o, functools._lru_cache_wrapper):
            fn = getattr(o, "__wrapped__", o)
            name = f"{getattr(fn, '__module__', '?')}.{getattr(fn, '__qualname__', '?')}"
            sizes[name] += o.cache_info().currsize
        elif isinstance(o, (LRUCache, FIFOCache)):
            sizes[f"{type(o).__name__} of {o._maxsize}"] += len(o)
    return sizes


def print_caches(ref: dict[str, int], ref_at: float) -> None:
    end = cache_sizes()
    grew = sorted(((n - ref.get(k, 0), k) for k, n in end.items()), reverse=True)
    grew = [(more, name) for more, name in grew[:12] if more > 0]
    print(f"caches that grew from {ref_at:.0f} s to the end (entries): {len(grew) or 'none'}")
    for more, name in grew:
        print(f"    {more:>+8,} -> {end[name]:>7,}  {name}")
    big = sorted(((n, k) for k, n in end.items()), reverse=True)[:8]
    print("  the largest at the end: " + ", ".join(f"{k} {n:,}" for n, k in big))


def _site(traceback: tracemalloc.Traceback, depth: int) -> str:
    """Where a block was allocated: ``depth`` frames outside this file, shortest paths."""
    here = str(Path(__file__).resolve())
    frames = [f for f in traceback if f.filename != here][:depth]
    return " < ".join(
        f"{f.filename.split('site-packages/')[-1].split('tui_trader/')[-1]}:{f.lineno}"
        for f in frames
    )


def print_traced(ref: tracemalloc.Snapshot | None, ref_at: float) -> None:
    """``--trace-malloc``: the small blocks allocated after the first minute that still live
    at the end, by where they were allocated, for the size classes whose pools grew: what
    the load keeps for a while (windows, caches) or for good, interleaved with its garbage.
    Then the blocks over 512 bytes (glibc's heap), and what grew site by site from ``ref``
    (``--trace-ref``) to the end, whatever the size."""
    gc.collect()
    snapshot = tracemalloc.take_snapshot()
    tracemalloc.stop()
    classes = (32, 64, 80, 96, 128)
    sites: dict[int, collections.Counter[str]] = {c: collections.Counter() for c in classes}
    for trace in snapshot.traces:
        size = (trace.size + 15) // 16 * 16
        if size not in sites:
            continue
        where = _site(trace.traceback, 2)
        sites[size][where] += 1
    print("blocks allocated after the first minute and alive at the end, by size class and site:")
    for size in classes:
        total = sum(sites[size].values())
        print(f"  {size} B: {total:,} blocks")
        for where, n in sites[size].most_common(8):
            print(f"    {n:>8,}  {where}")
    # blocks over 512 bytes bypass pymalloc: they are part of glibc's heap in use
    large: collections.Counter[str] = collections.Counter()
    count: collections.Counter[str] = collections.Counter()
    for trace in snapshot.traces:
        if trace.size <= 512:
            continue
        where = _site(trace.traceback, 3)
        large[where] += trace.size
        count[where] += 1
    total = sum(large.values())
    print(f"  over 512 B (glibc's heap): {total / 1e6:.2f} MB")
    for where, size in large.most_common(12):
        print(f"    {size / 1e6:>7.2f} MB {count[where]:>7,}  {where}")
    if ref is None:
        return
    # what grew between the reference and the end, whatever the size: the creep by site
    diffs = [d for d in snapshot.compare_to(ref, "traceback") if d.size_diff > 0]
    grown = sum(d.size_diff for d in diffs)
    print(f"grew from {ref_at:.0f} s to the end (traced blocks only): +{grown / 1e6:.2f} MB")
    for d in diffs[:16]:
        print(
            f"    {d.size_diff / 1e3:>+9.1f} kB {d.count_diff:>+8,} blocks  {_site(d.traceback, 3)}"
        )


def print_gc_census() -> None:
    """What the cyclic collector found during the load, by type and module (run with
    ``gc.DEBUG_SAVEALL``): how the Textual strip cycles were found
    (tui_trader/ui/textual_patches.py)."""
    gc.collect()
    garbage = gc.garbage
    by_type = collections.Counter(type(o).__qualname__ for o in garbage)
    by_module = collections.Counter(getattr(type(o), "__module__", "?") for o in garbage)
    print(f"cyclic garbage of the load: {len(garbage):,} objects")
    print("  by type:   " + ", ".join(f"{k} {v:,}" for k, v in by_type.most_common(12)))
    print("  by module: " + ", ".join(f"{k} {v:,}" for k, v in by_module.most_common(8)))
    gc.set_debug(0)
    garbage.clear()


MALLINFO2_FIELDS = "arena ordblks smblks hblks hblkhd usmblks fsmblks uordblks fordblks keepcost"


@functools.cache
def _mallinfo2() -> Callable[[], Any] | None:
    """glibc's ``mallinfo2``, loaded once: not a library handle and a ctypes class made at
    every sample in the process being measured."""
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:
        return None

    class MallInfo2(ctypes.Structure):
        _fields_ = [(name, ctypes.c_size_t) for name in MALLINFO2_FIELDS.split()]

    libc.mallinfo2.restype = MallInfo2
    return libc.mallinfo2  # type: ignore[no-any-return]


@functools.cache
def _sqlite3_memory_used() -> Callable[[], int] | None:
    """SQLite's ``sqlite3_memory_used`` from the library Python's sqlite3 runs on, loaded once."""
    try:
        lib = ctypes.CDLL(_sqlite3.__file__)
    except OSError:
        return None
    lib.sqlite3_memory_used.restype = ctypes.c_int64
    return lib.sqlite3_memory_used  # type: ignore[no-any-return]


class HeapWatch:
    """``--heap-census``: the objects the collector tracks, the frozen ones too (a full
    collection walks all but those: its length grows with them), and which containers grew
    from the first minute to the end of the load, or were made meanwhile (an unbounded set or
    cache makes RSS climb). The census freezes what lives at its mark, so the GC and memory
    figures of such a run are not comparable with others'."""

    SIZES = (dict, list, set, frozenset, collections.deque)
    classes: ClassVar[dict[int, tuple[int, int, int]]] = {}
    """pymalloc's size classes at the last :meth:`pymalloc`: block size -> (pools, blocks in
    use, free blocks in those pools)."""

    def __init__(self) -> None:
        self.ids = self.lens = self.kinds = np.zeros(0)
        self.blocks = 0
        self.at = 0.0
        self.malloc = ""

    @staticmethod
    def mallinfo() -> str:
        """glibc's view: heap from the system, in use, free in it, mmapped (other libcs: "")."""
        mallinfo2 = _mallinfo2()
        if mallinfo2 is None:
            return ""
        m = mallinfo2()
        mb = 1024 * 1024
        used = _sqlite3_memory_used()
        sqlite = "" if used is None else f"SQLite {used() / mb:.1f} MB, "
        return sqlite + (
            f"malloc heap {m.arena / mb:.1f} MB (in use {m.uordblks / mb:.1f}, free "
            f"{m.fordblks / mb:.1f} in {m.ordblks:,} chunks), mmapped {m.hblkhd / mb:.1f} MB "
            f"in {m.hblks} blocks; RSS {proc_status_kib(b'VmRSS:') / 1024:.1f} MB (anonymous "
            f"{proc_status_kib(b'RssAnon:') / 1024:.1f}, "
            f"files {proc_status_kib(b'RssFile:') / 1024:.1f})"
        )

    @staticmethod
    def columns() -> tuple[float, ...]:
        """MB: anonymous RSS, glibc's heap in use and free (all arenas), mmapped by malloc,
        and Python's small-object blocks (count, thousands): which of them the RSS follows."""
        mallinfo2 = _mallinfo2()
        if mallinfo2 is None:
            return ()
        m = mallinfo2()
        mb = 1024 * 1024
        return (
            proc_status_kib(b"RssAnon:") / 1024,
            m.uordblks / mb,
            m.fordblks / mb,
            HeapWatch.sqlite_used() / mb,
            m.hblkhd / mb,
            sys.getallocatedblocks() / 1000,
            *HeapWatch.pymalloc(),
        )

    @staticmethod
    def sqlite_used() -> float:
        """Bytes SQLite's allocator holds in this process (every connection's page cache,
        statements, schema): a part of glibc's heap in use that tracemalloc cannot see."""
        used = _sqlite3_memory_used()
        return math.nan if used is None else float(used())

    @staticmethod
    def pymalloc() -> tuple[float, float]:
        """MB in Python's small-object arenas, and in the blocks allocated in them
        (``sys._debugmallocstats``, which writes to the C stderr: read back from a file)."""
        with tempfile.TemporaryFile() as f:
            sys.stderr.flush()
            saved = os.dup(2)
            try:
                os.dup2(f.fileno(), 2)
                sys._debugmallocstats()
            finally:
                os.dup2(saved, 2)
                os.close(saved)
            f.seek(0)
            text = f.read().decode(errors="replace")
        HeapWatch.classes = {
            int(m[2]): (int(m[3]), int(m[4]), int(m[5]))
            for m in re.finditer(r"(?m)^\s*(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s*$", text)
        }
        arenas = re.search(r"# arenas allocated current\s*=\s*([\d,]+)", text)
        used = re.search(r"# bytes in allocated blocks\s*=\s*([\d,]+)", text)
        if arenas is None or used is None:
            return (math.nan, math.nan)
        # an arena is 1 MiB (Python >= 3.10), so arenas count MB
        return (
            float(int(arenas[1].replace(",", ""))),
            int(used[1].replace(",", "")) / (1024 * 1024),
        )

    @staticmethod
    def everything(refreeze: bool = True) -> list[object]:
        """Every object the collector tracks, frozen ones too: ``gc.get_objects()`` skips the
        permanent generation, where the app's collector put start-up's objects (the desk,
        its books and buffers), so a census without them is blind to what they hold."""
        frozen = gc.get_freeze_count()
        if frozen:
            gc.unfreeze()
        try:
            return gc.get_objects()
        finally:
            if frozen and refreeze:
                gc.freeze()  # what was frozen, and what lived at the census: no creep from it

    def mark(self, at: float) -> None:
        self.at = at
        self.blocks = sys.getallocatedblocks()
        self.malloc = self.mallinfo()
        # numpy arrays, not a dict: a dict of ints would fill the very size classes the
        # census looks at (ids and lengths of every container of 10 or more)
        kinds = {k: i for i, k in enumerate(self.SIZES)}
        live = self.everything()
        found: list[Any] = [o for o in live if type(o) in kinds and len(o) >= 10]  # type: ignore[arg-type]
        ids = np.fromiter((id(o) for o in found), dtype=np.uint64, count=len(found))
        order = np.argsort(ids)
        self.ids = ids[order]
        self.lens = np.fromiter((len(o) for o in found), np.int64, len(found))[order]
        self.kinds = np.fromiter((kinds[type(o)] for o in found), np.uint8, len(found))[order]
        del live, found

    def at_mark(self, o: object) -> int | None:
        """The container's length at the mark (None: not there, or fewer than 10)."""
        i = int(np.searchsorted(self.ids, id(o)))
        found = i < len(self.ids) and int(self.ids[i]) == id(o)
        if found and self.SIZES[int(self.kinds[i])] is type(o):
            return int(self.lens[i])
        return None

    @staticmethod
    def owner(o: object, skip: set[int]) -> str:
        """Who holds a container: an attribute's name where it is one (``skip``: the
        census's own lists)."""

        def holders(x: object) -> list[object]:
            return [
                h
                for h in gc.get_referrers(x)
                if id(h) not in skip and not isinstance(h, types.FrameType)
            ]

        for holder in holders(o):
            if isinstance(holder, dict):
                for name, value in holder.items():
                    if value is o:
                        up = [type(h).__qualname__ for h in holders(holder)]
                        return f"{up[0] if up else 'dict'}.{name}"
            cache_info = getattr(holder, "cache_info", None)
            if callable(cache_info):  # a functools cache: say whose, and its bound
                info = cache_info()
                name = (
                    f"{getattr(holder, '__module__', '?')}.{getattr(holder, '__qualname__', '?')}"
                )
                return f"cache {name} ({info.currsize:,} of {info.maxsize or 'unbounded'})"
            return type(holder).__qualname__
        return "?"

    def report(self, t: float, load: Phase) -> None:
        freed = load.gc_collected
        if freed:
            print(f"full collections under load freed {min(freed):,}..{max(freed):,} objects")
        start = time.perf_counter()
        gc.collect()
        print(f"a full collection after the load: {(time.perf_counter() - start) * 1000:.0f} ms")
        start = time.perf_counter()
        gc.collect()
        again = (time.perf_counter() - start) * 1000
        print(f"  and the next one, with nothing to free: {again:.0f} ms")
        live = self.everything(refreeze=False)  # the load is over; get_referrers needs them
        # indexes into ``live``, not the objects: a list or tuple of the bench's own would
        # be the first holder the census names
        sizes: list[Any] = [o if type(o) in self.SIZES else () for o in live]
        skip = {id(live), id(sizes)}
        big = sorted(
            (i for i, o in enumerate(sizes) if len(o) >= 1000), key=lambda i: -len(sizes[i])
        )
        print(
            "  the largest containers (frozen ones too): "
            + ", ".join(
                f"{type(live[i]).__qualname__} {len(sizes[i]):,} in {self.owner(live[i], skip)}"
                for i in big[:12]
            )
        )
        by_type = collections.Counter(type(o).__qualname__ for o in live)
        by_module = collections.Counter(getattr(type(o), "__module__", "?") for o in live)
        print(f"GC-tracked objects at the end of the load, frozen ones too: {len(live):,}")
        print("  by type:   " + ", ".join(f"{k} {v:,}" for k, v in by_type.most_common(16)))
        print("  by module: " + ", ".join(f"{k} {v:,}" for k, v in by_module.most_common(10)))
        blocks = sys.getallocatedblocks()
        print(
            f"allocated blocks {self.blocks:,} at {self.at:.0f} s -> {blocks:,} at {t:.0f} s; "
            "containers that grew meanwhile (10 or more items at the mark), and new ones:"
        )
        grew: list[tuple[int, int, int]] = []  # (more, at the mark, index)
        new: list[int] = []
        for i, o in enumerate(sizes):
            if o == ():
                continue
            size = self.at_mark(o)
            if size is not None and len(o) > size:
                grew.append((len(o) - size, size, i))
            elif size is None and len(o) >= 1000:
                new.append(i)
        print(f"  at the mark: {self.malloc}\n  at the end:  {self.mallinfo()}")
        grew.sort(reverse=True)
        for more, size, i in grew[:16]:
            kind, where = type(live[i]).__qualname__, self.owner(live[i], skip)
            print(f"  +{more:,} ({size:,} -> {len(sizes[i]):,}) {kind} in {where}")
        new.sort(key=lambda i: -len(sizes[i]))
        for i in new[:8]:
            kind, where = type(live[i]).__qualname__, self.owner(live[i], skip)
            print(f"  new: {kind} {len(sizes[i]):,} in {where}")


async def measure(
    args: argparse.Namespace, url: str, emu: subprocess.Popen[str], root: Path
) -> Result:
    env = dict(os.environ)
    settings = load_settings(base_url=url)
    target = Target(url, url, settings.api, settings.key_id, settings.secret_key)
    journal = Journal.open(root / "journal.sqlite3")
    desk = Desk(settings, target, journal, DeskOptions(trade=False))
    probe = Probe(desk)
    if args.gc_every is not None:  # the app's full collections this often (ui/collector.py)
        import tui_trader.ui.app as app_module
        from tui_trader.ui.collector import Collector

        # and whatever the young generations did meanwhile (CPython's own condition, 10
        # middle passes, held them to about one every 100 s under this load)
        app_module.Collector = functools.partial(  # type: ignore[misc]
            Collector, every=args.gc_every, young_passes=0
        )
    app = build_app(settings, desk, user_themes=root / "themes", memory=None, freeze_gc=True)
    if not args.no_trim:
        limit_arenas()  # as ui/launch.py runs the app
    trim = None if args.no_trim else trimmer()  # as ui/launch.py runs the app
    if trim is not None:
        trim.start()
    updates = 0
    display = app._display

    modal_drawn = [0.0]

    def counted(screen: Any, renderable: Any) -> None:
        nonlocal updates
        if renderable is not None:
            updates += 1
        display(screen, renderable)
        if renderable is not None and isinstance(screen, ConfirmScreen):
            modal_drawn[0] = time.perf_counter()

    app._display = counted  # type: ignore[method-assign]
    meter = Meter()
    meter.wrap(desk.supervisor, "_on_frames", "frames")
    meter.wrap(desk.supervisor, "_written", "written")
    # the desk's listener (_on_committed) applies each slice through self._on_events: the
    # instance's wrapped attribute is what it calls
    meter.wrap(desk, "_on_events", "desk_events")
    meter.wrap(desk, "snapshot", "snapshot")
    meter.wrap(Screen, "_on_timer_update", "compositor")
    meter.wrap(Stylesheet, "update_nodes", "css")
    meter.wrap(WatchlistPane, "render_snapshot", "watch")
    meter.wrap(ChartsPane, "draw", "charts_draw")
    meter.wrap(ChartPlot, "render", "plot_render")
    lagger = LagProbe()
    client = httpx.AsyncClient(
        base_url=url,
        headers={"APCA-API-KEY-ID": KEY, "APCA-API-SECRET-KEY": SECRET, "Connection": "close"},
        timeout=30,
    )
    idle = Phase("idle")
    samples = SampleLog()
    taken = _views.TapeCount()

    async def set_rates(quotes: float, trades: float) -> None:
        """The emulator's quote and trade rates per symbol (0: the market's own)."""
        assert emu.stdin is not None and emu.stdout is not None
        emu.stdin.write(f"rates {quotes} {trades}\n")
        emu.stdin.flush()
        reply = await asyncio.to_thread(emu.stdout.readline)
        if reply.strip() != "ok":
            raise SystemExit(f"the emulator did not take the rates: {reply!r}")

    try:
        async with app.run_test(size=(160, 50)) as pilot:
            ready = await until(
                lambda: (
                    desk.supervisor.status().state is State.STREAMING
                    and desk.snapshot().market_data_age is not None
                ),
                60,
                0.05,
            )
            if not ready:
                raise SystemExit("the desk did not start streaming within 60 s")
            screen = app.desk_screen
            assert screen is not None
            keys = Keys(app, desk, probe, client, modal_drawn)
            meter.wrap(screen, "paint", "paint")
            meter.wrap(screen.query_one(EventsPane), "render_snapshot", "events_pane")
            lag_task = asyncio.create_task(lagger.run())

            loop_tid = threading.get_native_id()
            gcw = GcWatch()
            turns = TurnWatch(asyncio.get_running_loop()) if args.turns else None
            TURNS[:] = [turns] if turns is not None else []

            def begin(phase: Phase) -> None:
                lagger.phase = gcw.phase = phase
                phase.t0 = time.perf_counter()
                phase.frames0, phase.updates0 = screen.frames, updates
                phase.cpu_loop, phase.cpu_proc = -time.thread_time(), -time.process_time()
                phase.runq_wait, phase.machine_busy = -runq_wait(loop_tid), -machine_busy()
                phase.meter0 = meter.read()

            def end(phase: Phase) -> None:
                lagger.phase = gcw.phase = None
                phase.t1 = time.perf_counter()
                phase.frames1, phase.updates1 = screen.frames, updates
                phase.cpu_loop += time.thread_time()
                phase.meter1 = meter.read()
                phase.cpu_proc += time.process_time()
                phase.runq_wait += runq_wait(loop_tid)
                phase.machine_busy += machine_busy()

            def schedule(offset: float, spacing: float) -> Callable[[int], float]:
                """Action i is due ``offset`` + i gaps of 0.5..1.5 x ``spacing`` in."""
                n = args.toggles + args.flattens
                gaps = [random.uniform(0.5, 1.5) * spacing for _ in range(n)]
                due = [offset + sum(gaps[:i]) for i in range(n)]
                return lambda i: due[i]

            # ---- the baseline: no event load
            print(
                f"idle: {args.pilot_check} + {args.toggles} pause toggles, {args.flattens} "
                "flattens ...",
                flush=True,
            )
            begin(idle)
            for _ in range(args.pilot_check):
                await keys.pilot_toggle(pilot, idle)
                await asyncio.sleep(random.uniform(0.5, 1.5) * args.spacing)
            await keys.run(idle, args.toggles, args.flattens, schedule(0.0, args.spacing))
            await asyncio.sleep(2.0)  # a quiet stretch at the end, for the frame rate and lag
            end(idle)
            idle.objects = len(gc.get_objects())

            # ---- under load: events only, then events + quotes and trades for every symbol
            rss_before = proc_status_kib(b"VmRSS:") / 1024
            base_events = desk.supervisor.status().events
            base_pushed = 0
            rates = (args.quote_hz, args.quote_hz)
            loads = [Phase("load", quotes=(0.0, 0.0)), Phase("load+quotes", quotes=rates)]
            if args.compare_charts:  # the same load, the charts built on the loop: before
                loads.insert(1, Phase("+q, plots on loop", quotes=rates, charts_thread=False))
            views = _views.Views(app, screen, args.view_seconds)
            charts = screen.query_one(ChartsPane)
            pusher: Pusher | None = None
            profiler = cProfile.Profile() if args.profile else None
            if args.gc_census:  # keep what the cyclic collector finds, to say what it is
                gc.set_debug(gc.DEBUG_SAVEALL)
            heap = HeapWatch() if args.heap_census else None
            duration = args.events / args.rate
            mark_at = min(60.0, duration)  # the heap census's baseline
            # --trace-malloc's reference: into the second phase, its windows full by then
            ref_at = (
                args.trace_ref
                if args.trace_ref is not None
                else duration + min(120.0, duration / 2)
            )
            traced_ref: list[tracemalloc.Snapshot] = []
            caches_ref: dict[str, int] = {}
            held = [0]  # the desk's longest backlog since the last sample

            def after_desk(_: list[Delivered]) -> None:
                # heard after the desk's own listener: the backlog each commit left it
                held[0] = max(held[0], desk.waiting)

            desk.supervisor.on_events(after_desk)
            rss_peak_mb()  # from here on, each sample's peak is its own interval's
            t_load = time.perf_counter()

            async def sample() -> None:
                next_at = t_load
                while True:
                    now = time.perf_counter()
                    if heap is not None and not heap.at and now - t_load >= mark_at:
                        heap.mark(now - t_load)
                    tracing = tracemalloc.is_tracing()
                    if args.trace_malloc and not tracing and now - t_load >= mark_at:
                        tracemalloc.start(3)
                    if tracing and not traced_ref and now - t_load >= ref_at:
                        traced_ref.append(tracemalloc.take_snapshot())
                        caches_ref.update(cache_sizes())
                    written = pusher.written if pusher is not None else 0
                    samples.append(
                        now - t_load,
                        proc_status_kib(b"VmRSS:") / 1024,
                        desk.supervisor.status().events - base_events,
                        base_pushed + written,
                        desk.portfolio.remembered_execs,
                        rss_peak_mb(),
                        held[0],
                        HeapWatch.columns() if args.heap_columns else (),
                    )
                    held[0] = desk.waiting
                    if args.heap_columns and now - t_load >= 60 and not samples.has_classes:
                        # once, at the first minute: a copy at every sample grew the very
                        # blocks it counts (tens of thousands of ints and tuples)
                        samples.keep_classes(HeapWatch.classes)
                    if pusher is not None:
                        ph = next(x for x in reversed(loads) if x.t0 or x is loads[0])
                        ph.pusher_cpu = max(ph.pusher_cpu, proc_cpu(pusher.proc.pid))
                    next_at += args.sample
                    await asyncio.sleep(max(0.0, next_at - time.perf_counter()))

            sampler = asyncio.create_task(sample())

            async def run_phase(load: Phase) -> None:
                nonlocal pusher, base_pushed
                q, t = load.quotes
                print(
                    f"{load.name}: {args.events:,} events at {args.rate:,.0f}/s "
                    f"(~{duration:.0f} s), quotes {q:g}/s and trades {t:g}/s per symbol "
                    f"(0: the market's own, ~1/s at most), views cycling "
                    f"{'/'.join(_views.VIEW_KEYS)} ...",
                    flush=True,
                )
                await set_rates(q, t)
                ChartPlot.background = load.charts_thread
                await asyncio.sleep(1.0)  # the rates reach the stream before the phase counts
                phase_events = desk.supervisor.status().events
                emu_cpu0 = proc_cpu(emu.pid)
                begin(load)
                load.taken0, load.draws0 = taken.read(), charts.draws
                views.start()
                keys.views = views
                pusher = Pusher(url, args.events, args.rate, env, root)
                if profiler is not None:
                    profiler.enable()
                if turns is not None:
                    turns.armed = True
                loaded = True  # until every pushed event has reached the desk
                n = args.toggles + args.flattens
                spread = max(args.spacing, duration / max(n, 1))  # keys (and views) all along
                key_task = asyncio.create_task(
                    keys.run(
                        load,
                        args.toggles,
                        args.flattens,
                        schedule(1.0, spread),
                        lambda: not loaded,
                    )
                )
                running = pusher
                await until(lambda: not running.running, duration * 3 + 120, 0.1)
                last_push = running.ended or time.perf_counter()
                total = pusher.written
                delivered = await until(
                    lambda: desk.supervisor.status().events - phase_events >= total,
                    max(180.0, 2 * duration),
                    0.02,
                )
                loaded = False
                drained_at = time.perf_counter()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(key_task, 120)
                if profiler is not None:
                    profiler.disable()
                if turns is not None:
                    turns.armed = False
                views.stop()
                keys.views = None
                load.view_switch, load.view_time = views.switches, views.shown
                views.switches, views.shown = [], {}
                load.taken1, load.draws1 = taken.read(), charts.draws
                end(load)
                load.objects = len(gc.get_objects())
                load.events_delivered = desk.supervisor.status().events - phase_events
                load.delivery_seconds = drained_at - load.t0
                load.drain_seconds = (drained_at - last_push) if delivered else None
                load.emulator_cpu = proc_cpu(emu.pid) - emu_cpu0
                load.pusher = pusher.final or {"written": pusher.written}
                error = pusher.error()
                pusher.stop()
                base_pushed += pusher.written
                pusher = None
                if error:
                    print(f"pusher failed: {error}", file=sys.stderr)
                send_key(app, "1")  # back to the grid, as the phase began

            for load in loads:
                await run_phase(load)
            await set_rates(0.0, 0.0)
            sampler.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await sampler
            if args.gc_census:
                print_gc_census()
            if heap is not None:
                heap.report(time.perf_counter() - t_load, loads[-1])
            if tracemalloc.is_tracing():
                if caches_ref:
                    print_caches(caches_ref, ref_at)
                print_traced(traced_ref[0] if traced_ref else None, ref_at)
            lagger.running = False
            await lag_task
            gcw.close()
            profile = ""
            if turns is not None:
                turns.close()
                profile = turns.report() + "\n\n"
            if profiler is not None:
                out = io.StringIO()
                if args.profile_out is not None:
                    profiler.dump_stats(args.profile_out)
                stats = pstats.Stats(profiler, stream=out).strip_dirs()
                stats.sort_stats("tottime").print_stats(25)
                stats.sort_stats("cumulative").print_stats(25)
                profile += out.getvalue()
            await app.shutdown()
    finally:
        if trim is not None:
            trim.stop()
        await client.aclose()
        journal.close()
    return Result(
        idle=idle,
        loads=loads,
        samples=samples,
        rss_before_mb=rss_before,
        hwm_mb=max((x.peak_mb for x in samples if not math.isnan(x.peak_mb)), default=math.nan),
        maxrss_mb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        hz=settings.ui.refresh_hz,
        symbols=len(desk.symbols),
        profile=profile,
    )


# ---------------------------------------------------------------------------- report
def report(args: argparse.Namespace, r: Result, counter: Counter) -> None:
    idle, phases = r.idle, [r.idle, *r.loads]
    print()
    print(
        f"config: --events {args.events:,} per loaded phase at --rate {args.rate:,.0f}/s; per "
        f"phase {args.toggles} pause toggles + {args.flattens} flattens, one every "
        f"{args.spacing:g} s on average at idle, spread over the load when it lasts longer "
        f"(idle also {args.pilot_check} toggles via pilot.press); loaded phases switch the "
        f"view every {args.view_seconds:g} s ({', '.join(_views.VIEW_KEYS)}); paint cap "
        f"ui.refresh_hz = {r.hz:g}; {r.symbols} watched symbols"
    )
    for load in r.loads:
        p = load.pusher
        pushed = int(p.get("written", 0))
        push_s = float(p.get("seconds", math.nan))
        drain = "never (timed out)" if load.drain_seconds is None else f"{load.drain_seconds:.2f} s"
        (q0, t0), (q1, t1) = load.taken0, load.taken1
        print(
            f"{load.name}: pushed {pushed:,} trade events in {push_s:.1f} s = "
            f"{pushed / push_s:,.0f}/s (slowest backlog request "
            f"{float(p.get('worst_request_s', math.nan)) * 1000:.0f} ms); desk got "
            f"{load.events_delivered:,} in {load.delivery_seconds:.1f} s = "
            f"{load.events_delivered / load.delivery_seconds:,.0f}/s, the last {drain} after "
            f"the last push; quotes taken {(q1 - q0) / load.seconds:,.0f}/s, trades "
            f"{(t1 - t0) / load.seconds:,.0f}/s (asked: {load.quotes[0]:g} and "
            f"{load.quotes[1]:g} per symbol, 0 = the market's own)"
        )
        ours = load.cpu_proc + load.emulator_cpu + load.pusher_cpu
        others = max(0.0, load.machine_busy - ours)
        print(
            f"  CPU ({load.seconds:.0f} s, {os.cpu_count()} CPUs): app loop thread "
            f"{100 * load.cpu_loop / load.seconds:.0f}% of a core (runnable but without a CPU "
            f"another {100 * load.runq_wait / load.seconds:.0f}%), app process "
            f"{100 * load.cpu_proc / load.seconds:.0f}%, emulator "
            f"{100 * load.emulator_cpu / load.seconds:.0f}%, pusher "
            f"{100 * load.pusher_cpu / load.seconds:.0f}%, other processes on the machine "
            f"{100 * others / load.seconds:.0f}%"
        )
    others_idle = max(0.0, idle.machine_busy - idle.cpu_proc)
    print(
        f"idle ({idle.seconds:.0f} s): app loop thread "
        f"{100 * idle.cpu_loop / idle.seconds:.0f}% (runnable without a CPU "
        f"{100 * idle.runq_wait / idle.seconds:.0f}%), everything else on the machine "
        f"(emulator included) {100 * others_idle / idle.seconds:.0f}%"
    )
    print()
    width = 29
    print(f"{'key -> desk acts (ms)':<40}" + "".join(f"{ph.name:^{width}}" for ph in phases))
    head = f"{'n':>5}{'p50':>8}{'p99':>8}{'max':>8}"
    print(f"{'':<40}" + "".join(f"{head:<{width}}" for _ in phases) + "target")

    def cells(v: list[float]) -> str:
        top = max(v, default=math.nan)
        return f"{len(v):>5}{fmt(pct(v, 50)):>8}{fmt(pct(v, 99)):>8}{fmt(top):>8}   "

    def row(label: str, pick: Callable[[Phase], list[float]], target: bool = False) -> None:
        verdict = ""
        if target:
            worst = max((pct(pick(ph), 99) for ph in r.loads if pick(ph)), default=math.nan)
            verdict = (
                "p99 < 50 (no samples)"
                if math.isnan(worst)
                else f"p99 < 50: {'met' if worst < TARGET_P99_MS else 'MISSED'}"
            )
        print(f"{label:<40}" + "".join(cells(pick(ph)) for ph in phases) + verdict)

    row("p -> pause/resume flag flipped", lambda ph: ph.toggle_flip, True)
    for view in _views.VIEW_KEYS:
        row(f"  of which with the {view} view shown", lambda ph, v=view: ph.flip_by_view.get(v, []))
    row("p -> desk.pause/resume returned", lambda ph: ph.toggle_done)
    row("p via pilot.press -> flipped (idle only)", lambda ph: ph.pilot_flip)
    row("y -> desk.flatten() called", lambda ph: ph.flat_enter, True)
    row("y -> trading paused", lambda ph: ph.flat_paused)
    row("y -> first cancel request sent", lambda ph: ph.flat_cancel)
    row("y -> whole flatten done (not a target)", lambda ph: ph.flat_done)
    row("f -> confirm modal drawn (2 REST calls)", lambda ph: ph.modal)
    row("view key -> view shown", lambda ph: ph.view_switch)
    for ph in phases:
        if ph.timeouts or ph.not_flat:
            print(f"  {ph.name}: {ph.timeouts} presses timed out, {ph.not_flat} flattens not flat")
    for load in r.loads:
        shown = ", ".join(f"{k} {v:.0f} s" for k, v in load.view_time.items())
        print(f"  {load.name}: views shown {shown or '-'}")
    print()
    print(f"{'UI and loop':<40}" + "".join(f"{ph.name:>14}" for ph in phases))

    def line(label: str, cell: Callable[[Phase], str], tail: str = "") -> None:
        print(f"{label:<40}" + "".join(f"{cell(ph):>14}" for ph in phases) + tail)

    line(
        "desk repaints (DeskScreen.frames)",
        lambda ph: f"{(ph.frames1 - ph.frames0) / ph.seconds:.1f}/s",
        f"   cap {r.hz:g}/s",
    )
    line("compositor updates", lambda ph: f"{(ph.updates1 - ph.updates0) / ph.seconds:.1f}/s")
    line("chart plot builds", lambda ph: f"{(ph.draws1 - ph.draws0) / ph.seconds:.2f}/s")
    for label, q in (("p50", 50), ("p99", 99), ("p99.9", 99.9)):
        line(
            f"loop lag of a 10 ms sleep, {label} (ms)", lambda ph, q=q: fmt(pct(list(ph.lag), q), 2)
        )
    line("loop lag of a 10 ms sleep, max (ms)", lambda ph: fmt(max(ph.lag, default=math.nan), 2))
    line("  probe samples", lambda ph: f"{len(ph.lag):,}")
    for gen in (0, 1, 2):

        def gcs(ph: Phase, gen: int = gen) -> str:
            pauses = ph.gc[gen]
            return f"{len(pauses)}/{sum(pauses):.0f}/{max(pauses, default=0):.0f}"

        line(f"GC gen{gen} pauses: n/total ms/max ms", gcs)
    line("GC-tracked objects at the end", lambda ph: f"{ph.objects:,}")
    for ph in phases:
        if ph.slow:
            print(
                f"  {ph.name}: key actions over {SLOW_MS:.0f} ms (GC pauses inside, ms): "
                + "; ".join(f"{k} {ms:.0f} ({gcs})" for k, ms, gcs in ph.slow)
            )
    print()
    breakdown(phases)
    print()
    memory(r)
    print()
    extra = f" (first: {'; '.join(counter.first)})" if counter.first else ""
    print(f"warnings logged by the app: {counter.count}{extra}")
    print(
        "note: Textual headless driver (App.run_test, 160x50), no real terminal: updates are "
        "composed but never encoded nor written."
    )
    if r.profile:
        print()
        print("the loop while loaded (--turns, --profile):")
        print(r.profile)


def breakdown(phases: list[Phase]) -> None:
    """Where the loop thread's CPU went, per phase: ms per second and share of the loop."""
    print(
        f"{'loop thread CPU, ms per second (share)':<48}"
        + "".join(f"{ph.name:>16}" for ph in phases)
    )

    def cell(ph: Phase, name: str | None) -> str:
        spent = ph.cpu_loop
        if name is not None:
            spent = ph.meter1.get(name, 0.0) - ph.meter0.get(name, 0.0)
        share = 100 * spent / ph.cpu_loop if ph.cpu_loop else math.nan
        return f"{1000 * spent / ph.seconds:.0f} ({share:.0f}%)"

    print(f"{'whole loop thread':<48}" + "".join(f"{cell(ph, None):>16}" for ph in phases))
    for label, name, _nested in BREAKDOWN:
        print(f"{label:<48}" + "".join(f"{cell(ph, name):>16}" for ph in phases))

    def rest(ph: Phase) -> str:
        top = sum(
            ph.meter1.get(n, 0.0) - ph.meter0.get(n, 0.0)
            for _, n, nested in BREAKDOWN
            if not nested
        )
        spent = ph.cpu_loop - top
        share = 100 * spent / ph.cpu_loop if ph.cpu_loop else math.nan
        return f"{1000 * spent / ph.seconds:.0f} ({share:.0f}%)"

    label = "the rest (SSE reads, message pump, REST, ...)"
    print(f"{label:<48}" + "".join(f"{rest(ph):>16}" for ph in phases))


def memory(r: Result) -> None:
    s = r.samples
    print("memory of this process (app + desk; the emulator and pusher are other processes)")
    if not s:
        print("  no samples")
        return
    end = s[-1]
    at_min = next((x for x in s if x.t >= 60), None)
    print(f"  RSS before the load: {r.rss_before_mb:.1f} MB")
    if at_min is not None:
        print(f"  RSS at 1 min: {at_min.rss_mb:.1f} MB ({at_min.events:,} events)")
    else:
        print(f"  RSS at 1 min: n/a (the load lasted {end.t:.0f} s)")
    print(f"  RSS at the end: {end.rss_mb:.1f} MB ({end.events:,} events, {end.t:.0f} s)")
    t_load = r.loads[0].t0
    print(
        "  phases (s from the first push): "
        + ", ".join(f"{ph.name} {ph.t0 - t_load:.0f}..{ph.t1 - t_load:.0f}" for ph in r.loads)
    )
    print(
        f"  peak during the load: {r.hwm_mb:.1f} MB (VmHWM, read and reset at each sample; "
        f"ru_maxrss {r.maxrss_mb:.1f} MB, since the last reset)"
    )
    late = [x for x in s if x.t >= 60 and not math.isnan(x.peak_mb)]
    if late:
        top = max(late, key=lambda x: x.peak_mb)
        print(f"  after the first minute the RSS peaked at {top.peak_mb:.1f} MB (by {top.t:.0f} s)")
    print(
        f"  the desk held at most {max(x.held for x in s):,} committed events unapplied "
        "at once (tui_trader.desk.events.BACKLOG_HIGH)"
    )
    if at_min is not None and end.t - at_min.t >= 30:
        tail, what = [x for x in s if x.t >= 60], "after the first minute"
    else:
        tail, what = [x for x in s if x.t >= end.t / 2], "over the second half (short run)"
    per_s = slope([(x.t, x.rss_mb) for x in tail])
    per_ev = slope([(x.events, x.rss_mb) for x in tail])
    grow = tail[-1].rss_mb - tail[0].rss_mb if tail else math.nan
    print(
        f"  slope {what}: {per_s * 60:+.2f} MB/min, {per_ev * 100_000:+.2f} MB per 100k "
        f"events; {grow:+.1f} MB from {tail[0].t:.0f} s to {tail[-1].t:.0f} s   target: flat"
    )
    # the phases carry different loads (quotes on the data socket in the second): a step
    # between them is that load's working set, so the slope within each says more
    for ph in r.loads:
        lo, hi = ph.t0 - t_load, ph.t1 - t_load
        inside = [x for x in s if max(lo + 20, 60) <= x.t <= hi]
        if len(inside) >= 10:
            within = slope([(x.events, x.rss_mb) for x in inside])
            b, se, k = block_slope([(x.t, x.rss_mb) for x in inside], TREND_BLOCK_S)
            trend = (
                f"; {b * 3600:+.1f} +/- {2 * se * 3600:.1f} MB an hour at this load "
                f"(slope of {k} {TREND_BLOCK_S:.0f} s means, +/- 2 SE)"
                if not math.isnan(se)
                else ""
            )
            print(
                f"  within {ph.name} ({inside[0].t:.0f}..{inside[-1].t:.0f} s): "
                f"{within * 100_000:+.2f} MB per 100k events, "
                f"{inside[-1].rss_mb - inside[0].rss_mb:+.1f} MB end to end{trend}"
            )
    step = max(1, len(s) // 20)
    picked = s[::step] if s[-1] in s[::step] else [*s[::step], s[-1]]
    heap = ("anon", "used", "free", "sqlite", "mmap", "kblk", "pyar", "pyuse") if s[-1].heap else ()
    print(
        f"  {'t (s)':>7}{'events':>12}{'pushed':>12}{'behind':>9}{'RSS MB':>9}{'peak':>8}"
        f"{'held':>7}{'execs':>9}" + "".join(f"{h:>8}" for h in heap)
    )
    print("  (events: delivered to the desk; pushed: as the pusher last said, <= 0.2 s old;")
    print("   peak, held: the largest RSS, and the most committed events the desk held")
    print("   unapplied, since the row before (every sample between counts);")
    print(f"   execs: the ledger's remembered executions, {MAX_EXECS:,} at most, halved when full)")
    since = 0.0
    for x in picked:
        between = [y for y in s if since < y.t <= x.t] or [x]
        since = x.t
        peaks = [y.peak_mb for y in between if not math.isnan(y.peak_mb)]
        print(
            f"  {x.t:>7.0f}{x.events:>12,}{x.pushed:>12,}{x.pushed - x.events:>9,}"
            f"{x.rss_mb:>9.1f}{max(peaks, default=math.nan):>8.1f}"
            f"{max(y.held for y in between):>7,}{x.execs:>9,}"
            + "".join(f"{h:>8.1f}" for h in x.heap)
        )
    if heap:
        print(
            "  (--heap-columns, MB: anonymous RSS; glibc's heap in use and free, all arenas; "
            "sqlite: SQLite's own allocations (part of used); mmapped by malloc; kblk: Python's "
            "allocated blocks, thousands; pyar, pyuse: Python's small-object arenas and the "
            "blocks in use in them)"
        )
        first = next((x for x in s if x.classes), None)
        last = HeapWatch.classes  # as the last sample read it
        if first is not None and last and first.t != s[-1].t:
            pool_kib = 16  # CPython >= 3.10
            grew = sorted(
                ((last[size][0] - first.classes.get(size, (0, 0, 0))[0], size) for size in last),
                reverse=True,
            )
            print(
                f"  pymalloc size classes whose pools grew most from {first.t:.0f} s to the end "
                "(block bytes: pools, blocks in use, free blocks in them; a pool is 16 KiB):"
            )
            for more, size in grew[:8]:
                then, end = first.classes.get(size, (0, 0, 0)), last[size]
                print(
                    f"    {size:>4} B: {more * pool_kib / 1024:+.2f} MB; "
                    f"pools {then[0]:,} -> {end[0]:,}, in use {then[1]:,} -> {end[1]:,}, "
                    f"free {then[2]:,} -> {end[2]:,}"
                )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--events", type=int, default=1_000_000, help="events pushed in each loaded phase"
    )
    parser.add_argument("--rate", type=float, default=5_000.0, help="events per second")
    parser.add_argument("--quick", action="store_true", help="50,000 events, fewer presses")
    parser.add_argument(
        "--no-trim",
        action="store_true",
        help="without the app's malloc_trim thread and arena limit (tui_trader.heap_trim)",
    )
    parser.add_argument(
        "--trace-malloc",
        action="store_true",
        help="tracemalloc from the first minute: which code's small blocks outlive the load "
        "(slows the app: its latency figures are not comparable)",
    )
    parser.add_argument(
        "--trace-ref",
        type=float,
        help="with --trace-malloc: seconds into the load of the snapshot the end is compared "
        "with, site by site (default: 2 minutes into the second loaded phase)",
    )
    parser.add_argument(
        "--gc-every",
        type=float,
        help="seconds between the app's full collections, whatever the young generations did "
        "(default: ui/collector.py's rule)",
    )
    parser.add_argument("--toggles", type=int, help="pause toggles per phase (default 200)")
    parser.add_argument("--flattens", type=int, help="flattens per phase (default 20)")
    parser.add_argument("--pilot-check", type=int, default=20, help="idle presses via Pilot")
    parser.add_argument(
        "--spacing", type=float, default=0.3, help="mean seconds between key actions"
    )
    parser.add_argument(
        "--heap-census",
        action="store_true",
        help="say what the collector tracks at the end of the load (frozen objects too), by "
        "type and module, and which containers grew after the first minute",
    )
    parser.add_argument(
        "--heap-columns",
        action="store_true",
        help="the RSS table also says glibc's heap in use / free, malloc's mmaps and "
        "Python's allocated blocks at each sample: which of them the RSS follows",
    )
    parser.add_argument("--sample", type=float, default=1.0, help="seconds between RSS samples")
    parser.add_argument("--profile", action="store_true", help="cProfile the loop under load")
    parser.add_argument(
        "--profile-out", type=Path, help="also keep the profile in this file (pstats)"
    )
    parser.add_argument(
        "--gc-census",
        action="store_true",
        help="say what the cyclic garbage of the load is (kept until the end: the memory "
        "and GC figures of such a run are not comparable)",
    )
    parser.add_argument(
        "--quote-hz",
        type=float,
        default=10.0,
        help="quotes and trades a second per watched symbol in the second loaded phase",
    )
    parser.add_argument(
        "--view-seconds",
        type=float,
        default=10.0,
        help="a loaded phase shows each view (1 grid, 2 watchlist, 4 charts) this long in turn",
    )
    parser.add_argument(
        "--first-frames",
        type=int,
        default=5,
        help="runs of bench/startup.py's first-frame figures after the load (0: none)",
    )
    parser.add_argument(
        "--compare-charts",
        action="store_true",
        help="one more loaded phase with quotes, before the other: the charts' live updates "
        "built on the event loop (as before the fix) rather than in a thread",
    )
    parser.add_argument(
        "--turns",
        action="store_true",
        help="time the loop's turns and callbacks under load: what the long turns hold",
    )
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    if args.quick:
        args.events = min(args.events, 50_000)
    args.toggles = args.toggles if args.toggles is not None else (40 if args.quick else 200)
    args.flattens = args.flattens if args.flattens is not None else (4 if args.quick else 20)
    if args.quick:
        args.pilot_check = min(args.pilot_check, 10)
        args.view_seconds = min(args.view_seconds, args.events / args.rate / 4)
        args.first_frames = min(args.first_frames, 2)
    random.seed(args.seed)

    print(
        f"machine: {os.cpu_count()} CPUs, Python {platform.python_version()}, "
        f"{platform.system()} {platform.machine()}; Textual {textual.__version__} "
        "(headless driver via App.run_test, no real terminal)"
    )
    print(f"code: tui-trader at {revision()}")
    counter = Counter()
    logging.getLogger().addHandler(counter)
    logging.getLogger().setLevel(logging.WARNING)
    with tempfile.TemporaryDirectory(prefix="tui-trader-bench-ui-") as tmp:
        root = Path(tmp)
        env = clean_env(root)
        os.environ.clear()
        os.environ.update(env)
        with emulator(env, root) as (url, proc):
            result = asyncio.run(measure(args, url, proc, root))
    report(args, result, counter)
    print()
    _views.first_frames(args.first_frames)  # FIRST FRAME: bench/startup.py, when it exists
    keyed = args.toggles > 0  # --toggles 0: a memory run, no key figures to expect
    measured = all((ph.toggle_flip or not keyed) and ph.events_delivered for ph in result.loads)
    if not measured or not result.samples:
        raise SystemExit(1)  # nothing measured: not a verdict on speed


if __name__ == "__main__":
    main()
