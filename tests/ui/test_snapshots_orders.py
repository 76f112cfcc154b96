"""The orders view (key 3), frozen: working orders of every kind and state (a partial fill, a
stop limit, one still queued at the desk) above the latest fills, built by hand on the frozen
desk of :mod:`tests.ui.frozen`. Each SVG was rendered to PNG and looked at before it was
accepted; ``pytest --snapshot-update`` rewrites them."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import timedelta
from decimal import Decimal
from typing import Any

from textual.pilot import Pilot

from tests.ui.frozen import NOW, FrozenDesk
from tests.ui.test_snapshots import NARROW, WIDE, Snap, make_app, until_screen
from tui_trader.desk.snapshot import DeskSnapshot, FillLine, WorkingOrderLine
from tui_trader.ui.app import TraderApp
from tui_trader.ui.screens.confirm import ConfirmScreen

__all__ = ["make_app"]  # the fixture, used by name

D = Decimal


def working() -> tuple[WorkingOrderLine, ...]:
    def line(n: int, symbol: str, side: str, kind: str, qty: int, **kw: Any) -> WorkingOrderLine:
        base: dict[str, Any] = {
            "filled": D(0),
            "limit_price": None,
            "stop_price": None,
            "status": "new",
            "created_at": NOW - timedelta(seconds=37 * (9 - n) ** 2),
            "time_in_force": "day",
        }
        base.update(kw)
        return WorkingOrderLine(
            f"cid-{n}", f"{n:08d}-0000-4000-8000-000000000000", symbol, side, kind, D(qty), **base
        )

    return (
        line(1, "TSLA", "buy", "limit", 10, limit_price=D("240.00"), time_in_force="gtc"),
        line(2, "AAPL", "sell", "stop", 5, stop_price=D("180.00"), time_in_force="gtc"),
        line(
            3,
            "NVDA",
            "buy",
            "limit",
            60,
            filled=D(25),
            limit_price=D("121.40"),
            status="partially_filled",
        ),
        line(4, "SPY", "sell", "stop_limit", 12, stop_price=D("585.00"), limit_price=D("584.50")),
        line(5, "MSFT", "buy", "limit", 3, limit_price=D("401.10"), status="pending_replace"),
        WorkingOrderLine(
            "cid-6", None, "AAPL", "buy", "market", D(2), D(0), None, None, "queued", None
        ),
    )


def fills() -> tuple[FillLine, ...]:
    rows = [
        ("AAPL", "buy", 40, "187.12", "fill"),
        ("NVDA", "sell", 25, "121.40", "partial_fill"),
        ("NVDA", "sell", 35, "121.38", "fill"),
        ("SPY", "buy", 12, "589.31", "fill"),
        ("NVDA", "buy", 25, "121.40", "partial_fill"),
    ]
    return tuple(
        FillLine(NOW - timedelta(seconds=45 * (len(rows) - i)), s, side, D(q), D(p), k, i + 1)
        for i, (s, side, q, p, k) in enumerate(rows)
    )


class OrdersDesk(FrozenDesk):
    """The frozen desk with working orders and fills; its order levers are recorded."""

    def snapshot(self) -> DeskSnapshot:
        return replace(super().snapshot(), working_orders=working(), fills=fills())

    async def cancel_order(self, order_id: str) -> str:
        self.calls.append(f"cancel {order_id}")
        return "cancel requested"


def orders_view(*keys: str) -> Callable[[Pilot[Any]], Any]:
    async def run(pilot: Pilot[Any]) -> None:
        await pilot.press("3", *keys)
        await pilot.pause()
        await pilot.pause()

    return run


def test_orders_view_wide(snap_compare: Snap, make_app: Callable[..., TraderApp]) -> None:
    assert snap_compare(make_app(OrdersDesk()), terminal_size=WIDE, run_before=orders_view("down"))


def test_orders_view_80x24(snap_compare: Snap, make_app: Callable[..., TraderApp]) -> None:
    assert snap_compare(make_app(OrdersDesk()), terminal_size=NARROW, run_before=orders_view())


def test_cancel_order_confirm(snap_compare: Snap, make_app: Callable[..., TraderApp]) -> None:
    async def run(pilot: Pilot[Any]) -> None:
        await orders_view("down", "down")(pilot)
        await pilot.press("d")
        await until_screen(pilot, ConfirmScreen)

    assert snap_compare(make_app(OrdersDesk()), terminal_size=WIDE, run_before=run)
