"""The reconciler: positions and open orders over REST, at start and once per reconnect burst.

Bounded: a reconciliation unanswered within ``reconcile_timeout`` has failed, so
:attr:`~Bookkeeping.reconciling` (which the desk's STREAM breaker reads) never holds for
longer than that. Its results go to the reconcile listeners (the ledger adopts them) and
into the published status.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime

from tui_trader.broker.status import Reconciliation, Transition
from tui_trader.broker.supervisor.bookkeeping import Bookkeeping, short
from tui_trader.core.types import format_decimal

log = logging.getLogger("tui_trader.stream")

RECONCILE_TRIES = 3  # REST snapshots taken before giving up on a quiet moment


class Reconciler(Bookkeeping):
    """Schedules, bounds and announces the REST snapshots a reconnect asks for."""

    def _schedule_reconcile(self, name: str) -> asyncio.Task[None]:
        task = asyncio.get_running_loop().create_task(self._reconcile_bounded(), name=name)
        first = not self._reconciles
        self._reconciles.add(task)
        task.add_done_callback(self._reconcile_done)
        if first:
            self._announce("reconciling")
        return task

    async def _reconcile_bounded(self) -> None:
        try:
            async with asyncio.timeout(self.options.reconcile_timeout):
                await self._reconcile()
        except TimeoutError:
            limit = self.options.reconcile_timeout
            self._reconciliation = Reconciliation(
                datetime.now(UTC), {}, 0, error=f"no answer within {limit:g} s"
            )
            log.warning("reconciliation timed out", extra={"seconds": limit})

    def _reconcile_done(self, task: asyncio.Task[None]) -> None:
        self._reconciles.discard(task)
        if self._reconciles or self._stopping.is_set():
            return
        rec = self._reconciliation
        failed = rec is not None and rec.error is not None
        self._announce(f"reconcile failed: {rec.error}" if failed and rec else "reconciled")

    def _announce(self, reason: str) -> None:
        """A connection-wide change (reconciling, reconciled) told to the status listeners
        as a transition of the trade stream (or the first one), so they re-evaluate."""
        if not self._status_listeners or not self._streams:
            return
        s = self._streams.get("trades") or next(iter(self._streams.values()))
        transition = Transition(s.name, s.shown_state, reason, datetime.now(UTC))
        status = self.status()
        for listener in self._status_listeners:
            listener(transition, status)

    async def _catch_ups_done(self) -> None:
        """Wait for the websocket's REST catch-ups under way (bounded by the reconcile's own
        timeout). A snapshot taken before a catch-up has delivered holds fills the ledger has
        not booked yet: adopted, and then booked when the catch-up delivers them, they would
        count twice."""
        pending = [t for t in self._catchups if t is not asyncio.current_task()]
        if pending:
            await asyncio.wait(pending)

    async def _reconcile(self) -> None:
        """Positions and open orders from REST, told to the listeners (the ledger adopts them).

        A snapshot is only good if no trade event arrived while it was being taken: a fill
        applied to the ledger during the request would otherwise be undone by a position
        list read before it ("broker is flat"). Such a snapshot is taken again (a few times),
        after the journal writer has applied everything already received.
        """
        async with self._reconcile_lock:
            await self._catch_ups_done()
            at = datetime.now(UTC)
            trades = self._streams.get("trades")
            try:
                for _ in range(RECONCILE_TRIES):
                    seen = trades.received if trades is not None else 0
                    positions = await self.rest.list_positions()
                    orders = await self.rest.list_orders(status="open")
                    if self._writer is not None:
                        await self._writer.drain()
                    if trades is None or trades.received == seen:
                        break
                else:
                    self._reconciliation = Reconciliation(
                        at, {}, 0, error="trade events kept arriving; the stream is the record"
                    )
                    log.info("reconciliation skipped: trade events arrived during every try")
                    return
            except Exception as exc:  # shown, not fatal: the next reconnect tries again
                self._reconciliation = Reconciliation(at, {}, 0, error=short(exc))
                log.warning("reconciliation failed", extra={"error": short(exc)})
                return
            for reconcile_listener in self._reconcile_listeners:
                reconcile_listener(positions, orders)
            book = {p.symbol: format_decimal(p.signed_qty) for p in positions}
            self._reconciliation = Reconciliation(at, book, len(orders))
            log.info("reconciled", extra={"positions": len(book), "open_orders": len(orders)})
