"""How the watchlist view looks, frozen (key 2): every watched symbol with its bid, ask,
last, day change, volume, sparkline and quote age, TSLA stale past the STALE_DATA limit, the
first row selected, and the header's DEMO pace; wide and at 80x24 (where the volume and the
sparkline give way). Each SVG was rendered to PNG and looked at before it was accepted."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from textual.pilot import Pilot

from tests.ui.frozen_watch import WatchDesk
from tests.ui.test_snapshots import NARROW, Snap, make_app  # noqa: F401 (the fixture)
from tui_trader.ui.app import TraderApp

SIZE = (140, 42)


def watch_view() -> Callable[[Pilot[Any]], Awaitable[None]]:
    async def run(pilot: Pilot[Any]) -> None:
        await pilot.pause()
        await pilot.press("2")
        await pilot.pause()
        await pilot.pause()

    return run


def test_watchlist_140x42(snap_compare: Snap, make_app: Callable[..., TraderApp]) -> None:  # noqa: F811
    assert snap_compare(make_app(WatchDesk()), terminal_size=SIZE, run_before=watch_view())


def test_watchlist_80x24(snap_compare: Snap, make_app: Callable[..., TraderApp]) -> None:  # noqa: F811
    assert snap_compare(make_app(WatchDesk()), terminal_size=NARROW, run_before=watch_view())
