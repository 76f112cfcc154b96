"""The flatten preview (key ``f``) asks the broker for its open orders and its positions at
once, not one after the other: under load each request waits on a busy broker, and the
trader waits for both before the confirm dialog shows (bench/ui.py: "f -> confirm modal
drawn", 0.4-0.8 s p50 under load with the two in turn). No network: the REST calls are
stand-ins that wait for each other."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from pydantic import SecretStr

from tui_trader.broker.journal import Journal
from tui_trader.broker.rest import AlpacaError
from tui_trader.config import ApiFamily, Settings
from tui_trader.desk.desk import Desk, DeskOptions
from tui_trader.desk.target import Target


@pytest.fixture
def desk(tmp_path: Path) -> Iterator[Desk]:
    target = Target(
        "http://127.0.0.1:9",
        "http://127.0.0.1:9",
        ApiFamily.TRADING,
        SecretStr("k"),
        SecretStr("s"),
        "acct",
    )
    journal = Journal.open(tmp_path / "j.sqlite3")
    try:
        yield Desk(Settings(), target, journal, DeskOptions())
    finally:
        journal.close()


def order(symbol: str) -> Any:
    return SimpleNamespace(
        side="buy", qty=Decimal(2), notional=None, symbol=symbol, type="limit", limit_price=1
    )


async def test_the_preview_asks_for_orders_and_positions_at_once(
    desk: Desk, monkeypatch: pytest.MonkeyPatch
) -> None:
    asked = asyncio.Event()

    async def list_orders(status: str) -> list[Any]:
        assert status == "open"
        # answered only once the positions have been asked for too: in turn, this waits
        await asyncio.wait_for(asked.wait(), 5)
        return [order("MSFT")]

    async def list_positions() -> list[Any]:
        asked.set()
        return [SimpleNamespace(symbol="AAPL", qty=Decimal(5))]

    monkeypatch.setattr(desk.rest, "list_orders", list_orders)
    monkeypatch.setattr(desk.rest, "list_positions", list_positions)
    preview = await desk.preview_flatten()
    assert preview.error is None
    assert preview.open_orders == ("buy 2 MSFT limit @ 1",)
    assert preview.positions == (("AAPL", Decimal(5)),)


async def test_a_refusal_of_either_is_said_and_nothing_else_is_shown(
    desk: Desk, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def list_orders(status: str) -> list[Any]:
        return [order("MSFT")]

    async def list_positions() -> list[Any]:
        raise AlpacaError("internal error", status=500)

    monkeypatch.setattr(desk.rest, "list_orders", list_orders)
    monkeypatch.setattr(desk.rest, "list_positions", list_positions)
    preview = await desk.preview_flatten()
    assert preview.error is not None and "could not list" in preview.error
    assert preview.open_orders == () and preview.positions == ()
