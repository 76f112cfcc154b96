"""What the charts view costs: one redraw at 140x42, and the event loop's share while the
desk's data changes faster than the view redraws.

The real app under Textual's headless driver (``App.run_test``) over the snapshot tests'
frozen desk (``tests/ui/frozen.py``) with a session of seeded chart data (390 minute bars
per symbol, a few fills, 390 equity samples), the charts view shown (key ``4``).

1. Per redraw, CPU of the loop thread (``time.thread_time``) for one cycle: the data
   changes, the screen repaints from the snapshot, Textual renders and composes (waited for
   with ``pilot.pause()``). Three kinds, ``--cycles`` each, interleaved:
   * ``empty``: a repaint with no chart data changed (the baseline: what every repaint of the
     desk costs, charts or not);
   * ``equity``: a new equity sample (the equity and drawdown plots are built again; about
     once a second live);
   * ``full``: a new bar and an equity sample (all three plots; once a minute live).
   Also a figure's build alone (``charts._build``: plotext, then its lines), per plot size;
   a live update runs it in a thread, so it is not in the loop's CPU above.
2. The loop's share over ``--seconds``: the desk says something changed 20 times a second
   (a bar and an equity sample each time: far faster than live, so the view's 4 Hz cap is
   what bounds it), measured with the desk view shown (the baseline: the charts are never
   drawn) and with the charts view shown.

Run from the repository root: ``PYTHONPATH=$PWD .venv/bin/python bench/charts.py``.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import os
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # tests/ui/frozen.py

from tests.ui.frozen import NOW, FrozenDesk
from tui_trader.config import load_settings
from tui_trader.core.models import Bar
from tui_trader.desk.charts import ChartData, ChartRecorder
from tui_trader.desk.snapshot import DeskSnapshot
from tui_trader.ui.app import TraderApp, build_app
from tui_trader.ui.panes import charts
from tui_trader.ui.panes.charts import ChartsPane
from tui_trader.ui.themes import ThemeMemory

SIZE = (140, 42)
SESSION = 390


class BenchDesk(FrozenDesk):
    """The frozen desk with a recorder it feeds on demand."""

    def __init__(self) -> None:
        super().__init__()
        self.rng = random.Random(5)
        self.rec = ChartRecorder(tuple(self.prices))
        self.minute = 0
        self.close = {s: float(p) for s, p in self.prices.items()}
        self.equity = 100_000.0
        for _ in range(SESSION):
            self.add_bar()
            self.sample()
        for n, minute in enumerate(range(30, SESSION, 60)):
            side = "buy" if n % 2 == 0 else "sell"
            at = NOW - timedelta(minutes=2 * SESSION - minute)
            price = Decimal(str(round(self.close["AAPL"], 2)))
            self.rec.fill(f"x{n}", "AAPL", side, Decimal(10), price, at)
        self.charts: ChartData = self.rec.data()

    def add_bar(self) -> None:
        at = NOW - timedelta(minutes=2 * SESSION - self.minute)
        self.minute += 1
        for s in self.close:
            o = self.close[s]
            c = o * (1 + self.rng.gauss(0, 0.0008))
            self.close[s] = c
            wire = {"t": at.isoformat(), "o": o, "h": max(o, c), "l": min(o, c), "c": c}
            self.rec.bar(s, Bar.model_validate(wire))

    def sample(self) -> None:
        self.equity += self.rng.gauss(0, 30)
        self.rec.sample_equity(Decimal(str(round(self.equity, 2))), Decimal(100_000))

    def change(self, bar: bool, equity: bool, notify: bool = True) -> None:
        if bar:
            self.add_bar()
        if equity:
            self.sample()
        self.charts = self.rec.data()
        for listener in self.listeners if notify else ():
            listener()

    def snapshot(self) -> DeskSnapshot:
        return replace(super().snapshot(), charts=self.charts)


def make_app(desk: BenchDesk, tmp: Path) -> TraderApp:
    os.environ["TUI_TRADER_CONFIG"] = str(tmp / "none.toml")
    (tmp / "none.toml").write_text("")
    for name in ("APCA_API_KEY_ID", "APCA_API_SECRET_KEY", "APCA_API_BASE_URL"):
        os.environ.pop(name, None)
    memory = ThemeMemory(tmp / "theme.json")
    memory.set("desk-dark")
    settings = load_settings(**{"ui": {"refresh_hz": 10}})
    app = build_app(settings, desk, user_themes=tmp / "themes", memory=memory, start_desk=False)
    app.animation_level = "none"
    return app


def ms(values: list[float]) -> str:
    if not values:
        return "-"
    v = sorted(values)
    p90 = v[min(len(v) - 1, int(0.9 * len(v)))]
    return f"median {1000 * statistics.median(v):6.2f} ms  p90 {1000 * p90:6.2f} ms"


async def per_redraw(cycles: int) -> None:
    desk = BenchDesk()
    builds: dict[str, list[float]] = {}
    original: Callable[..., Any] = charts._build

    def timed(plot: Any, size: tuple[int, int], *args: Any) -> Any:
        t = time.thread_time()  # the thread's own CPU: the loop contends for the same cores
        try:
            return original(plot, size, *args)
        finally:
            builds.setdefault(f"{size[0]}x{size[1]}", []).append(time.thread_time() - t)

    charts._build = timed  # type: ignore[assignment]
    try:
        with tempfile.TemporaryDirectory() as tmp:
            app = make_app(desk, Path(tmp))
            async with app.run_test(size=SIZE) as pilot:
                await pilot.press("4")
                await pilot.pause()
                pane = app.screen.query_one(ChartsPane)
                clock = itertools.count(1e12, 1.0)  # a second per reading: no 4 Hz wait here
                pane.monotonic = lambda: next(clock)
                kinds = {"empty": (False, False), "equity": (False, True), "full": (True, True)}
                cpu: dict[str, list[float]] = {k: [] for k in kinds}
                for _ in range(3):  # warm
                    desk.change(True, True)
                    await pilot.pause()
                builds.clear()
                for _ in range(cycles):
                    for kind, (bar, equity) in kinds.items():
                        start = time.thread_time()
                        desk.change(bar, equity, notify=False)
                        app.screen.paint()  # type: ignore[attr-defined]
                        await pilot.pause()
                        cpu[kind].append(time.thread_time() - start)
    finally:
        charts._build = original
    print(f"1. one redraw at {SIZE[0]}x{SIZE[1]}, loop-thread CPU per cycle ({cycles} each):")
    base = statistics.median(cpu["empty"])
    for kind in kinds:
        extra = statistics.median(cpu[kind]) - base
        print(f"   {kind:<7} {ms(cpu[kind])}   over empty: {1000 * extra:+6.2f} ms")
    print("   a figure's build alone (charts._build, in its thread's CPU), per plot size:")
    for plot, values in sorted(builds.items()):
        print(f"   {plot:<15} {ms(values)}  ({len(values)} builds)")


async def share(seconds: float) -> None:
    desk = BenchDesk()
    print(f"2. loop share over {seconds:.0f} s, the desk changing 20 times a second:")
    with tempfile.TemporaryDirectory() as tmp:
        app = make_app(desk, Path(tmp))
        async with app.run_test(size=SIZE) as pilot:
            await pilot.pause()
            pane = app.screen.query_one(ChartsPane)
            for view in ("1", "4"):
                await pilot.press(view)
                await pilot.pause()
                draws = pane.draws
                wall, cpu = time.monotonic(), time.thread_time()
                while time.monotonic() - wall < seconds:
                    desk.change(True, True)
                    await asyncio.sleep(0.05)
                wall, cpu = time.monotonic() - wall, time.thread_time() - cpu
                name = "desk view (baseline)" if view == "1" else "charts view"
                print(
                    f"   {name:<21} loop thread busy {100 * cpu / wall:5.1f}%"
                    f"   chart redraws {(pane.draws - draws) / wall:4.1f}/s"
                )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cycles", type=int, default=30)
    parser.add_argument("--seconds", type=float, default=10.0)
    args = parser.parse_args()
    os.environ["TEXTUAL_ANIMATIONS"] = "none"
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} cores; headless, {SIZE}")
    asyncio.run(per_redraw(args.cycles))
    asyncio.run(share(args.seconds))


if __name__ == "__main__":
    main()
