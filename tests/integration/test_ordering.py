"""Orders exactly once through faults, and flatten that ends flat or says why, against the
emulator over real HTTP."""

from __future__ import annotations

import asyncio
from collections import Counter
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.integration.conftest import KEY, KEY_HEADERS, SECRET
from tui_trader.broker.journal import Journal
from tui_trader.broker.ordering import OrderSender, Outcome, flatten
from tui_trader.broker.rest import AlpacaREST
from tui_trader.core.backoff import BackoffPolicy
from tui_trader.core.orders import OrderBuilder
from tui_trader.sim.runner import RunningEmulator

FAST = BackoffPolicy(base=0.01, cap=0.05, jitter=False)


async def no_sleep(seconds: float) -> None:
    await asyncio.sleep(0)


def rest_for(sim: RunningEmulator) -> AlpacaREST:
    return AlpacaREST(sim.url, sim.url, KEY, SECRET, backoff=FAST, sleep=no_sleep)


async def admin(sim: RunningEmulator, path: str, body: Any = None, method: str = "POST") -> Any:
    async with httpx.AsyncClient(base_url=sim.url, timeout=30) as c:
        r = await c.request(method, path, json=body if body is not None else {})
        assert r.status_code == 200, r.text
        return r.json()


async def all_orders(sim: RunningEmulator) -> list[dict[str, Any]]:
    async with httpx.AsyncClient(base_url=sim.url, headers=KEY_HEADERS, timeout=30) as c:
        r = await c.get("/v2/orders", params={"status": "all", "limit": 500})
        assert r.status_code == 200
        return list(r.json())


async def test_n_intents_become_n_orders_through_dropped_answers_and_5xx(
    sim: RunningEmulator, tmp_path: Path
) -> None:
    await admin(
        sim,
        "/_emulator/faults",
        [
            {"kind": "drop_order_response", "count": 4},
            {"kind": "connect", "status": 503, "scope": "rest", "count": 6},
        ],
    )
    journal = Journal.open(tmp_path / "j.sqlite3")
    async with rest_for(sim) as rest:
        sender = OrderSender(rest, journal, sleep=no_sleep)
        intents = [OrderBuilder().symbol("AAPL").buy(1).market().day().build() for _ in range(12)]
        results = [await sender.send(order, "test") for order in intents]
    journal.close()
    assert [r.outcome for r in results] == [Outcome.SUBMITTED] * 12
    placed = Counter(o["client_order_id"] for o in await all_orders(sim))
    assert set(placed) == {o.client_order_id for o in intents}
    assert all(count == 1 for count in placed.values())  # never more than one
    state = await admin(sim, "/_emulator/state", method="GET")
    assert state["injected"].get("drop_order_response") == 4
    assert state["injected"].get("connect_503") == 6


async def test_a_refused_order_is_rejected_not_retried(
    sim: RunningEmulator, tmp_path: Path
) -> None:
    journal = Journal.open(tmp_path / "j.sqlite3")
    async with rest_for(sim) as rest:
        sender = OrderSender(rest, journal, sleep=no_sleep)
        too_big = OrderBuilder().symbol("SPY").buy(1_000_000).market().day().build()
        result = await sender.send(too_big, "test")
    assert result.outcome is Outcome.REJECTED and "buying power" in result.detail
    assert journal.intents(["rejected"])[0].client_order_id == too_big.client_order_id
    journal.close()
    assert await all_orders(sim) == []


async def test_leftover_intents_are_resolved_never_sent_blind(
    sim: RunningEmulator, tmp_path: Path
) -> None:
    journal = Journal.open(tmp_path / "j.sqlite3")
    async with rest_for(sim) as rest:
        reached = OrderBuilder().symbol("MSFT").buy(1).market().day().build()
        lost = OrderBuilder().symbol("MSFT").buy(2).market().day().build()
        # a previous run wrote both intents; it died after sending the first only
        journal.record_intent(reached.client_order_id, "MSFT", reached.to_request(), "policy")
        journal.record_intent(lost.client_order_id, "MSFT", lost.to_request(), "policy")
        await rest.submit_order(reached)
        results = {
            r.client_order_id: r.outcome for r in await OrderSender(rest, journal).resolve_pending()
        }
    journal.close()
    assert results == {
        reached.client_order_id: Outcome.SUBMITTED,
        lost.client_order_id: Outcome.ABANDONED,
    }
    assert [o["client_order_id"] for o in await all_orders(sim)] == [reached.client_order_id]


async def wait_filled(rest: AlpacaREST, order_id: str) -> None:
    for _ in range(200):
        if (await rest.get_order(order_id)).status == "filled":
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"order {order_id} did not fill")


async def build_messy_book(rest: AlpacaREST) -> None:
    """Long and short positions, a resting order, a bracket's live legs and a large order
    still filling in parts when flatten starts."""
    long_ = await rest.submit_order(OrderBuilder().symbol("AAPL").buy(30).market().day().build())
    short = await rest.submit_order(OrderBuilder().symbol("TSLA").sell(12).market().day().build())
    await wait_filled(rest, long_.id)
    await wait_filled(rest, short.id)
    quote = (await rest.latest_quotes(["MSFT"]))["MSFT"]
    far = (quote.bid_price * Decimal("0.7")).quantize(Decimal("0.01"))
    await rest.submit_order(OrderBuilder().symbol("MSFT").buy(5).limit(far).gtc().build())
    spy = (await rest.latest_quotes(["SPY"]))["SPY"]
    bracket = await rest.submit_order(
        OrderBuilder()
        .symbol("SPY")
        .buy(3)
        .market()
        .gtc()
        .bracket(
            take_profit=(spy.ask_price * Decimal("1.5")).quantize(Decimal("0.01")),
            stop_loss=(spy.bid_price * Decimal("0.5")).quantize(Decimal("0.01")),
        )
        .build()
    )
    await wait_filled(rest, bracket.id)
    await rest.submit_order(OrderBuilder().symbol("NVDA").buy(6000).market().day().build())


async def test_flatten_ends_flat_from_a_messy_book(sim_with: Any) -> None:
    sim: RunningEmulator = sim_with(starting_cash=Decimal(10_000_000))
    async with rest_for(sim) as rest:
        await build_messy_book(rest)
        before = await rest.list_positions()
        assert {p.symbol for p in before} >= {"AAPL", "TSLA", "SPY"}
        report = await flatten(rest, deadline=30, poll=0.1)
        assert report.flat, report.summary()
        assert await rest.list_positions() == []
        assert await rest.list_orders(status="open") == []
        assert report.failures == ()
        assert "flat in" in report.summary()


async def test_flatten_reports_a_symbol_it_cannot_close(sim_with: Any) -> None:
    sim: RunningEmulator = sim_with(starting_cash=Decimal(10_000_000))
    async with rest_for(sim) as rest:
        await build_messy_book(rest)
        await admin(sim, "/_emulator/halt", {"symbols": ["TSLA"]})
        report = await flatten(rest, deadline=3, poll=0.1)
        assert not report.flat
        assert report.remaining == {"TSLA": "-12"}
        assert [f.symbol for f in report.failures] == ["TSLA"]
        assert report.failures[0].status == 403
        assert "not tradable" in report.failures[0].message
        summary = report.summary()
        assert "NOT flat" in summary and "TSLA" in summary
        remaining = {p.symbol for p in await rest.list_positions()}
        assert remaining == {"TSLA"}  # everything else was closed anyway


@pytest.mark.parametrize("fault", [{"kind": "connect", "status": 503, "scope": "rest", "count": 3}])
async def test_flatten_rides_out_transient_errors(sim: RunningEmulator, fault: Any) -> None:
    async with rest_for(sim) as rest:
        order = await rest.submit_order(OrderBuilder().symbol("AAPL").buy(2).market().day().build())
        await wait_filled(rest, order.id)
        await admin(sim, "/_emulator/faults", fault)
        report = await flatten(rest, deadline=20, poll=0.1)
        assert report.flat, report.summary()
