"""Sending orders exactly once, and flattening an account honestly.

Exactly once: every intent is written to the journal *before* it is sent, with the
``client_order_id`` it will carry. When the answer is lost (a timeout, a dropped response, a
5xx), the order may or may not exist: it is looked up by ``client_order_id`` before anything
is sent again, and a resend reuses the same id, which Alpaca refuses to accept twice. An
intent found still pending at start-up (the process died around the send) is resolved the
same way and never sent blind.

Flatten: cancel every open order, close every position with ``cancel_orders``, then keep
checking until the account is flat or the time runs out, retrying what remains and
reporting per symbol what failed and why, from the 207 bodies.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TypeVar

from tui_trader.broker.journal import Journal
from tui_trader.broker.rest import (
    AlpacaError,
    AlpacaREST,
    NotFoundError,
    RateLimitError,
    ServerError,
    TransportError,
    UnprocessableError,
)
from tui_trader.core.models import WireOrder
from tui_trader.core.orders import Order

log = logging.getLogger("tui_trader.orders")

UNCERTAIN = (TransportError, ServerError, RateLimitError)  # the order may exist: look it up
_T = TypeVar("_T")


class Outcome(StrEnum):
    SUBMITTED = "submitted"
    REJECTED = "rejected"
    UNKNOWN = "unknown"  # the broker neither confirmed nor denied; nothing was resent
    ABANDONED = "abandoned"  # a leftover intent that never reached the broker


@dataclass(frozen=True)
class OrderResult:
    client_order_id: str
    symbol: str
    outcome: Outcome
    order: WireOrder | None = None
    detail: str = ""
    attempts: int = 1


class OrderSender:
    """Sends one order at a time through the journal, exactly once."""

    def __init__(
        self,
        rest: AlpacaREST,
        journal: Journal,
        *,
        attempts: int = 3,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        lookup_wait: float = 0.5,
    ) -> None:
        self.rest = rest
        self.journal = journal
        self.attempts = attempts
        self._sleep = sleep
        self._lookup_wait = lookup_wait

    async def send(self, order: Order, source: str) -> OrderResult:
        cid = order.client_order_id
        self.journal.record_intent(cid, order.symbol, order.to_request(), source)
        detail = ""
        for attempt in range(1, self.attempts + 1):
            try:
                placed = await self.rest.submit_order(order)
            except UNCERTAIN as exc:
                detail = str(exc)
                log.warning(
                    "order answer lost; looking it up",
                    extra={"client_order_id": cid, "error": detail[:200], "attempt": attempt},
                )
                found = await self._lookup(cid)
                if found is not None:
                    return self._submitted(
                        cid, order.symbol, found, attempt, "found after: " + detail
                    )
                await self._sleep(self._lookup_wait * attempt)
                continue
            except UnprocessableError as exc:
                if "unique" in exc.message.lower():  # an earlier attempt did get through
                    found = await self._lookup(cid)
                    if found is not None:
                        return self._submitted(cid, order.symbol, found, attempt, str(exc))
                return self._rejected(cid, order.symbol, exc, attempt)
            except AlpacaError as exc:
                return self._rejected(cid, order.symbol, exc, attempt)
            return self._submitted(cid, order.symbol, placed, attempt, "")
        self.journal.update_intent(cid, Outcome.UNKNOWN, detail=detail[:500])
        return OrderResult(cid, order.symbol, Outcome.UNKNOWN, None, detail, self.attempts)

    async def resolve_pending(self) -> list[OrderResult]:
        """Settle intents a previous run left pending: found means submitted, not found
        means it never reached the broker (abandoned, not resent: no surprise orders)."""
        results = []
        for row in self.journal.intents(["pending", "unknown"]):
            try:
                found = await self._lookup(row.client_order_id, wait=False)
            except AlpacaError as exc:
                results.append(
                    OrderResult(row.client_order_id, row.symbol, Outcome.UNKNOWN, None, str(exc))
                )
                continue
            if found is not None:
                results.append(
                    self._submitted(
                        row.client_order_id, row.symbol, found, 0, "resolved at start-up"
                    )
                )
            else:
                self.journal.update_intent(
                    row.client_order_id,
                    Outcome.ABANDONED,
                    detail="not at the broker after a restart",
                )
                results.append(
                    OrderResult(
                        row.client_order_id,
                        row.symbol,
                        Outcome.ABANDONED,
                        None,
                        "never reached the broker",
                    )
                )
        return results

    async def _lookup(self, cid: str, wait: bool = True) -> WireOrder | None:
        for attempt in range(3 if wait else 1):
            try:
                return await self.rest.get_order_by_client_id(cid)
            except NotFoundError:
                if not wait:
                    return None
                await self._sleep(self._lookup_wait * (attempt + 1))
            except UNCERTAIN:
                await self._sleep(self._lookup_wait * (attempt + 1))
        return None

    def _submitted(
        self, cid: str, symbol: str, order: WireOrder, attempts: int, detail: str
    ) -> OrderResult:
        self.journal.update_intent(
            cid, Outcome.SUBMITTED, order_id=order.id, detail=detail[:500] or None
        )
        return OrderResult(cid, symbol, Outcome.SUBMITTED, order, detail, attempts)

    def _rejected(self, cid: str, symbol: str, exc: AlpacaError, attempts: int) -> OrderResult:
        self.journal.update_intent(cid, Outcome.REJECTED, detail=str(exc)[:500])
        return OrderResult(cid, symbol, Outcome.REJECTED, None, str(exc), attempts)


# --------------------------------------------------------------------------------- flatten
@dataclass(frozen=True)
class SymbolFailure:
    symbol: str
    status: int
    message: str


@dataclass(frozen=True)
class FlattenReport:
    flat: bool
    canceled_orders: int
    closed: tuple[str, ...]
    failures: tuple[SymbolFailure, ...]
    remaining: dict[str, str] = field(default_factory=dict)  # symbol -> qty still held
    open_orders: int = 0
    seconds: float = 0.0
    rounds: int = 0

    def summary(self) -> str:
        if self.flat:
            return (
                f"flat in {self.seconds:.1f} s: closed {', '.join(self.closed) or 'nothing'}"
                f", canceled {self.canceled_orders} orders"
            )
        parts = [f"NOT flat after {self.seconds:.1f} s"]
        if self.remaining:
            parts.append(
                "still holding " + ", ".join(f"{s} {q}" for s, q in self.remaining.items())
            )
        if self.open_orders:
            parts.append(f"{self.open_orders} open orders")
        for f in self.failures:
            parts.append(f"{f.symbol}: HTTP {f.status} {f.message}")
        return "; ".join(parts)


async def flatten(
    rest: AlpacaREST,
    *,
    deadline: float = 30.0,
    poll: float = 0.5,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> FlattenReport:
    """Cancel all, close all, and check until flat (or ``deadline`` seconds pass)."""
    started = time.monotonic()
    canceled = 0
    closed: list[str] = []
    failures: dict[str, SymbolFailure] = {}
    rounds = 0
    with_retry = _retrying(sleep)
    items = await with_retry(rest.cancel_all_orders)
    canceled += sum(1 for i in items if i.ok)
    remaining: dict[str, str] = {}
    open_orders = 0
    while True:
        rounds += 1
        results = await with_retry(lambda: rest.close_all_positions(cancel_orders=True))
        for item in results:
            symbol = item.symbol or "?"
            if item.ok:
                closed.append(symbol)
                failures.pop(symbol, None)
            else:
                error = item.error
                failures[symbol] = SymbolFailure(
                    symbol, item.status, error.message if error is not None else "failed"
                )
        for _ in range(max(1, int(5 / poll))):  # give the closing orders a moment to fill
            positions = await with_retry(rest.list_positions)
            orders = await with_retry(lambda: rest.list_orders(status="open"))
            remaining = {p.symbol: str(p.signed_qty) for p in positions if p.signed_qty != 0}
            open_orders = len(orders)
            if not remaining and not open_orders:
                return FlattenReport(
                    True,
                    canceled,
                    tuple(dict.fromkeys(closed)),
                    (),
                    {},
                    0,
                    time.monotonic() - started,
                    rounds,
                )
            if not open_orders or time.monotonic() - started > deadline:
                break
            await sleep(poll)
        if time.monotonic() - started > deadline:
            break
        if open_orders:  # orders that are not ours to wait for: cancel them and go again
            items = await with_retry(rest.cancel_all_orders)
            canceled += sum(1 for i in items if i.ok)
        await sleep(poll)
    still = tuple(f for f in failures.values() if f.symbol in remaining or not remaining)
    return FlattenReport(
        False,
        canceled,
        tuple(dict.fromkeys(closed)),
        still,
        remaining,
        open_orders,
        time.monotonic() - started,
        rounds,
    )


def _retrying(
    sleep: Callable[[float], Awaitable[None]],
) -> Callable[[Callable[[], Awaitable[_T]]], Awaitable[_T]]:
    async def call(fn: Callable[[], Awaitable[_T]]) -> _T:
        """Flatten must not give up on a blip: DELETEs are safe to repeat here."""
        for attempt in range(4):
            try:
                return await fn()
            except UNCERTAIN:
                if attempt == 3:
                    raise
                await sleep(0.5 * (attempt + 1))
        raise AssertionError("unreachable")

    return call


__all__ = [
    "FlattenReport",
    "OrderResult",
    "OrderSender",
    "Outcome",
    "SymbolFailure",
    "flatten",
]
