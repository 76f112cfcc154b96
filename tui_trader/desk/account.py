"""The money is the broker's: cash, positions and open orders are taken from one consistent
reading of the account at start-up, after every reconcile and at each new trading day (the
market's next open, from ``/v2/clock``), when the day's P&L restarts from the broker's previous
close (``last_equity``). Until the account has been read, the desk stays REDUCING and says why.
"""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import datetime
from decimal import Decimal
from typing import Any

from tui_trader.broker.rest import AlpacaError
from tui_trader.core.models import Account, Position, WireOrder
from tui_trader.core.portfolio import symbol_key
from tui_trader.core.tradingday import MarketClock
from tui_trader.desk.base import DeskBase

log = logging.getLogger("tui_trader.desk")

ACCOUNT_TRIES = 3
"""Readings of the account for one consistent snapshot before giving up until the next."""
ACCOUNT_SETTLE = 0.25
"""Seconds to let in-flight trade events land between two tries (times the try number)."""
ACCOUNT_RETRY_MAX = 60.0
LEDGER_FIELDS = {"symbol", "qty", "side", "avg_entry_price", "current_price"}
"""What the ``ledger`` audit entry keeps of each position: what the ledger takes of it."""


class AccountSync(DeskBase):
    """The reconcile's positions and the account read with them; the trading day's roll."""

    def _on_reconcile(self, positions: list[Position], orders: list[WireOrder]) -> None:
        """The supervisor's positions and open orders, consistent with the events applied so
        far. The orders join the working book at once; positions wait for the account's
        cash (:meth:`_sync_account`): a position without its cash is phantom equity."""
        self._drain_events()  # "applied so far" means every committed event
        self.working.merge(orders)
        settled = self.supervisor.trades_settled()
        self._spawn(self._sync_account(positions, self._ledger_events, "reconcile", settled))
        self._changed()

    async def _sync_account(
        self,
        first: list[Position] | None,
        events: int,
        why: str,
        settled: int | None = None,
    ) -> bool:
        """Take positions, cash and open orders from the broker as one consistent snapshot.

        The account (cash, ``last_equity``) and the open orders are read between two
        readings of the positions (``first`` may be the supervisor's, taken when the ledger
        had applied ``events`` trade events). The snapshot is taken only if the positions
        did not change between the two readings (so no fill landed between the reads of
        positions and cash) and the ledger applied no fill, bust or correction meanwhile
        (so it neither has one the snapshot lacks, nor lacks one it has). A fill between the
        two reads fails the first test: the snapshot is dropped and read again, a few times;
        then left to the next reconcile. Positions are never taken without their cash.

        Nor while fills may still be on their way: after start-up, a snapshot is taken only
        if the trade stream stayed live throughout (:meth:`Supervisor.trades_settled`, read
        with ``first`` when it was taken, else before ``before``). Read while the stream was
        down, the positions hold fills that its replay or catch-up books when it returns,
        and they counted twice. Then only a new day's start is taken from the reading
        (:meth:`_start_day_only`); positions and cash wait for the reconcile that follows
        the stream's return.
        """
        async with self._account_lock:
            before = first
            live = False
            account: Account | None = None
            for attempt in range(ACCOUNT_TRIES):
                since = self.working.mark()
                try:
                    if before is None:
                        self._drain_events()
                        events = self._ledger_events
                        settled = self.supervisor.trades_settled()
                        before = await self.rest.list_positions()
                    account = await self.rest.get_account()
                    orders = await self.rest.list_orders("open")
                    after = await self.rest.list_positions()
                except AlpacaError as exc:
                    self._account_unread(why, str(exc))
                    return False
                if account.cash is None:
                    self._account_unread(why, "the account has no cash figure")
                    return False
                self._drain_events()  # a fill committed meanwhile must count as "applied"
                now = self.supervisor.trades_settled()
                live = why == "start-up" or (settled is not None and settled == now)
                if not live:
                    break  # no use reading again soon: the stream's return brings a reconcile
                if self._ledger_events == events and _holdings(before) == _holdings(after):
                    self._take_account(account, after, orders, since, why)
                    return True
                before = None
                await asyncio.sleep(ACCOUNT_SETTLE * (attempt + 1))
            if not live and account is not None:
                return self._start_day_only(account, why)
            self._account_unread(why, "trades kept arriving while it was read")
            return False

    def _start_day_only(self, account: Account, why: str) -> bool:
        """The account was read while the trade stream was not live: its positions and
        cash are not taken (they may hold fills still to come). A new day still starts
        from the broker's previous close, if the ledger's cash and positions were taken
        once (at start-up); else the account stays unknown (REDUCING) until a reading
        with the stream live."""
        detail = "the trade stream is not live: fills may still be on their way"
        if self.portfolio.snapshot().account_known:
            log.info("account not adopted", extra={"why": why, "detail": detail})
            return False
        if self._account is None:
            self._account_unread(why, detail)
            return False
        self._start_day(account, why, "; positions and cash are taken once the stream is back")
        self._evaluate_risk()
        self._changed()
        return True

    def _start_day(self, account: Account, why: str, more: str = "") -> None:
        """The day's P&L from the broker's previous close (``last_equity``), said and audited."""
        last = account.last_equity
        self.portfolio.start_day(last if last is not None and last > 0 else None)
        start = self.portfolio.snapshot().day_start_equity
        self._audit("day", {"why": why, "day_start": str(start), "last_equity": str(last)})
        self._notice(
            f"day P&L from {start:,.2f}"
            + (" (the broker's previous close)" if last else " (no previous close: from now)")
            + more
        )

    def _take_account(
        self,
        account: Account,
        positions: list[Position],
        orders: list[WireOrder],
        since: int,
        why: str,
    ) -> None:
        self._account = account.account_number or account.id
        corrections = self.portfolio.reconcile(positions, account.cash)
        # the account as read, so a replay of the journal starts from the same ledger
        self._audit(
            "ledger",
            {
                "why": why,
                "account": self._account,
                "cash": str(account.cash),
                "positions": [p.model_dump(mode="json", include=LEDGER_FIELDS) for p in positions],
            },
        )
        gone = self.working.sync(orders, since=since)
        book = self.portfolio.snapshot()
        if not book.account_known:  # never read, or a new day: the broker's previous close
            self._start_day(account, why)
        self._account_retry_at = None
        self._account_delay = self.options.account_retry
        if corrections or gone:
            book = self.portfolio.snapshot()
            self._audit(
                "reconcile",
                {
                    "why": why,
                    "corrections": corrections,
                    "orders_gone": gone,
                    "cash": str(book.cash),
                    "equity": str(book.equity),
                    "broker_equity": str(account.equity),
                },
            )
            closed = [f"{len(gone)} open orders no longer listed"] if gone else []
            self._notice("ledger reconciled: " + "; ".join(corrections + closed)[:200])
        self._evaluate_risk()
        self._changed()

    def _account_unread(self, why: str, detail: str) -> None:
        """The account could not be read (consistently). Known before: the ledger keeps its
        figures until the next reconcile. Unknown: fail closed, REDUCING, and retry."""
        if self.portfolio.snapshot().account_known:
            self._notice(f"{why}: account not reconciled ({detail[:120]}); the next try will")
            return
        delay = self._account_delay
        self._account_retry_at = time.monotonic() + delay
        self._account_delay = min(delay * 2, ACCOUNT_RETRY_MAX)
        self._audit("account", {"why": why, "error": detail[:300], "retry_in": delay})
        self._notice(
            f"{why}: the account could not be read ({detail[:120]}); REDUCING until it is"
            f" (no day start, no loss limits); retrying in {delay:.0f} s"
        )
        self._evaluate_risk()
        self._changed()

    async def _check_day(self, seen: datetime | None = None) -> None:
        """Read the market clock when it is due (``seen``: the newest time the broker
        stamped, a bar's); a new trading day re-reads the account."""
        if not self.day.due(time.monotonic(), seen):
            return
        try:
            clock = MarketClock.from_wire(await self.rest.get_clock())
        except (AlpacaError, ValueError) as exc:
            self.day.failed(time.monotonic())
            log.warning("market clock not read", extra={"error": str(exc)[:200]})
            return
        self._market_is_open = clock.is_open  # the data stream's silence bound needs it
        if self.day.observe(clock, time.monotonic()):
            before = self.portfolio.snapshot()
            self.portfolio.forget_day()
            self.charts.new_day()  # the charts show the day: bars, fills and equity start over
            self._audit(
                "day_roll",
                {
                    "at": clock.timestamp.isoformat(),
                    "previous_day_pnl": str(before.day_pnl),
                    "next_roll": clock.next_open.isoformat(),
                },
            )
            self._notice("a new trading day: reading the broker's previous close")
            self._evaluate_risk()
            await self._sync_account(None, self._ledger_events, "new trading day")

    def _spawn(self, work: Any) -> None:
        task = asyncio.get_running_loop().create_task(work)
        self._background.add(task)
        task.add_done_callback(self._background.discard)


def _holdings(positions: list[Position]) -> dict[str, Decimal]:
    """Signed quantity per symbol: what a fill changes."""
    return {symbol_key(p.symbol): p.signed_qty for p in positions if p.signed_qty}
