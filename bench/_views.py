"""bench/ui.py's helpers for the views and the quote load: which view is shown and the key
that switches it, the quotes and trades the desk took, the charts' plot builds, and the
first-frame figures of bench/startup.py (another bench; optional here)."""

from __future__ import annotations

import importlib
import time
from collections.abc import Callable
from typing import Any

from textual import events
from textual.widgets import ContentSwitcher

from tui_trader.desk.live import Tape

VIEW_KEYS = {"panes": "1", "watch": "2", "charts": "4"}
"""The views a loaded phase cycles through, and their keys: the desk's grid, the watchlist
(repaints every quote), the charts (plotext, at most 2 redraws a second)."""


def send_key(app: Any, key: str) -> None:
    """What ``App._press_keys`` (``Pilot.press``) does to deliver a key, without its waits."""
    event = events.Key(key, key)
    event.set_sender(app)
    assert app._driver is not None
    app._driver.send_message(event)


class Views:
    """Switches the desk screen's view every ``period`` seconds (between two timed key
    actions, never during one), and keeps how long each view was shown and how long each
    switch took (press -> the switcher shows it)."""

    def __init__(self, app: Any, screen: Any, period: float) -> None:
        self.app, self.screen, self.period = app, screen, period
        self.enabled = False
        self.switches: list[float] = []  # ms, view key -> switcher shows the view
        self.shown: dict[str, float] = {}  # seconds each view was shown while enabled
        self._order = list(VIEW_KEYS)
        self._next = 0
        self._since = time.perf_counter()
        self._current = self.current()

    def current(self) -> str:
        return str(self.screen.query_one("#views", ContentSwitcher).current or "")

    def start(self) -> None:
        self.enabled = True
        self._since = time.perf_counter()
        self._current = self.current()

    def stop(self) -> None:
        self._account()
        self.enabled = False

    def _account(self) -> None:
        now = time.perf_counter()
        if self.enabled:
            self.shown[self._current] = self.shown.get(self._current, 0.0) + now - self._since
        self._since = now

    async def maybe_switch(self, until: Callable[..., Any]) -> None:
        if not self.enabled or time.perf_counter() - self._since < self.period:
            return
        self._next = (self._next + 1) % len(self._order)
        name = self._order[self._next]
        if name == self._current:
            return
        self._account()
        t = time.perf_counter()
        send_key(self.app, VIEW_KEYS[name])
        if await until(lambda: self.current() == name, 30, 0.002):
            self.switches.append((time.perf_counter() - t) * 1000)
        self._current = self.current()
        self._since = time.perf_counter()


class TapeCount:
    """Quotes and trades the desk took from the data stream (``Tape.quote``/``Tape.trade``:
    every one that reached a watched symbol's tape, REST polls included)."""

    def __init__(self) -> None:
        self.quotes = 0
        self.trades = 0
        quote, trade = Tape.quote, Tape.trade
        count = self

        def quote_(tape: Tape, q: Any) -> None:
            count.quotes += 1
            quote(tape, q)

        def trade_(tape: Tape, t: Any) -> None:
            count.trades += 1
            trade(tape, t)

        Tape.quote = quote_  # type: ignore[method-assign]
        Tape.trade = trade_  # type: ignore[method-assign]

    def read(self) -> tuple[int, int]:
        return self.quotes, self.trades


# ------------------------------------------------------------------ first frame (startup.py)
def first_frames(runs: int) -> None:
    """FIRST FRAME, in the same invocation: bench/startup.py's ``first_frames(runs)`` (the
    real app against a bare Textual app, on this machine, now), when that bench exists."""
    if runs <= 0:
        print("first frame: skipped (--first-frames 0)")
        return
    try:
        startup = importlib.import_module("startup")  # bench/ is on sys.path
    except ModuleNotFoundError as exc:
        if exc.name != "startup":
            raise
        print("first frame: skipped (bench/startup.py is not there)")
        return
    measure = getattr(startup, "first_frames", None)
    if measure is None:
        print("first frame: skipped (bench/startup.py has no first_frames(runs))")
        return
    print(f"first frame ({runs} runs each, bench/startup.py):", flush=True)
    figures: dict[str, float] = measure(runs)
    for name, value in figures.items():
        print(f"  {name:<48}{value:>10,.3f}")
