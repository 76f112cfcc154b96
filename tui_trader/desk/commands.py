"""The trader's levers, through the same gate as the policy's orders: the gate's verdict,
manual orders, pause and resume (kept in the journal, where ``tui-trader pause`` from another
shell writes too), flatten and its preview, cancel all, one order's cancel and replace, one
position's close, breaker resets and the emulator's faults. Each is written to the audit
trail and told on the notices line.
"""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING

from tui_trader.broker.faults import FAULT_MENU, FaultError
from tui_trader.broker.faults import inject as inject_fault
from tui_trader.broker.ordering import FlattenReport, Outcome, flatten
from tui_trader.broker.rest import AlpacaError
from tui_trader.core.orders import Order
from tui_trader.core.risk import ALLOWED, Cancel, Flatten, TradingState, Verdict
from tui_trader.core.working import UNREPLACEABLE_STATUSES, Working, news_from_wire
from tui_trader.desk.base import DeskBase, RiskBook
from tui_trader.desk.orders import replace_fields
from tui_trader.desk.snapshot import FlattenPreview

if TYPE_CHECKING:
    from tui_trader.broker.ordering import OrderResult

PAUSED_KEY = "paused"
CLOSE_WAIT = 5.0
"""Seconds a position's close waits for the cancels of its symbol's open orders."""


class Commands(DeskBase):
    """What the screen (or a script) asks of the desk; :meth:`_sync_pause` honours the shell's."""

    if TYPE_CHECKING:  # the order worker's (desk/orders.py), beside this mixin in the Desk

        async def _send_replace(self, old: Working, new: Order) -> OrderResult: ...

    def check(self, order: Order) -> Verdict:
        """The gate's verdict on current facts: the risk state is re-evaluated first, so an
        order placed right after the first prices is not judged on the state before them,
        with the data age of the order's own symbol (one silent symbol holds only its own
        orders that add exposure), then again for the desk as a whole;
        every working order counts, the ones queued here but not yet sent included."""
        self._evaluate_risk(order.symbol)  # STALE_DATA: this symbol's last quote
        book = RiskBook(self.portfolio.snapshot(), self._prices)
        try:
            return self.risk.check(
                order,
                book,
                price=self._prices.get(order.symbol),
                now=self._clock(),
                working=self.working.orders(),
            )
        finally:
            self._evaluate_risk()

    async def submit(self, order: Order) -> Verdict:
        """A manual order through the same risk gate; queued if allowed."""
        verdict = self.check(order)
        self._verdicts[order.symbol] = verdict
        self._audit(
            "risk",
            {
                "client_order_id": order.client_order_id,
                "verdict": str(verdict),
                "allowed": verdict.allowed,
                "order": order.to_request(),
                "source": "manual",
            },
            order.symbol,
        )
        if verdict.allowed:
            self.working.add(order)
            await self._queue.put((order, "manual"))
        else:
            self._notice(f"denied: {verdict}")
        self._changed()
        return verdict

    def pause(self, reason: str = "by the trader") -> None:
        self.risk.pause()
        self.journal.set_setting(PAUSED_KEY, True)
        self._audit("pause", {"reason": reason})
        self._notice(f"paused ({reason}): only orders that reduce exposure go out")
        self._changed()

    def resume(self) -> str:
        state = self.risk.resume()
        self.journal.set_setting(PAUSED_KEY, False)
        self._audit("resume", {"state": str(state)})
        self._notice(f"resumed: {state}")
        self._changed()
        return str(state)

    def flatten(self) -> asyncio.Task[FlattenReport]:
        """Pause now, then (the task returned) cancel everything, close everything and check
        until flat; trading stays paused.

        The pause happens in the caller's turn, the trader's key: no order the desk decides
        from then on goes out. Under load a task waits a loop turn (tens of ms) before it
        starts, and the pause used to wait with it (``bench/ui.py``).
        """
        verdict = self.risk.check(
            Flatten(),
            RiskBook(self.portfolio.snapshot(), self._prices),
            price=None,
            now=self._clock(),
        )
        assert verdict.allowed  # flatten always passes
        self.pause("flatten")
        return asyncio.get_running_loop().create_task(self._flatten(), name="flatten")

    async def _flatten(self) -> FlattenReport:
        report = await flatten(self.rest)
        self._audit(
            "flatten",
            {
                "flat": report.flat,
                "summary": report.summary(),
                "failures": [f.__dict__ for f in report.failures],
            },
        )
        self._notice(report.summary())
        self._changed()
        return report

    async def preview_flatten(self) -> FlattenPreview:
        """Ask the broker (not the ledger) what is open, as flatten will: both at once, since
        the trader waits for the slower of the two before the dialog shows."""
        listed = asyncio.ensure_future(self.rest.list_orders("open"))
        held_at = asyncio.ensure_future(self.rest.list_positions())
        try:
            orders, positions = await asyncio.gather(listed, held_at)
        except AlpacaError as exc:
            return FlattenPreview((), (), f"could not list open orders and positions: {exc}")
        finally:
            for request in (listed, held_at):
                if not request.done():
                    request.cancel()  # the other one failed: its answer is not shown
                elif not request.cancelled():
                    request.exception()  # both failed: the second is said with the first
        lines = tuple(
            f"{o.side} {o.qty or o.notional or ''} {o.symbol} {o.type}"
            + (f" @ {o.limit_price}" if o.limit_price is not None else "")
            for o in orders
        )
        held = tuple((p.symbol, p.qty) for p in positions if p.qty)
        return FlattenPreview(lines, held)

    async def cancel_all(self) -> str:
        """Cancel every open order (positions stay); the stream reports each cancel."""
        self._audit("cancel_all", {})
        try:
            items = await self.rest.cancel_all_orders()
        except AlpacaError as exc:
            text = f"cancel all failed: {exc}"
        else:
            failed = [i for i in items if i.status >= 300]
            text = f"cancel all: {len(items) - len(failed)} cancel requests accepted"
            if failed:
                text += f", {len(failed)} refused"
        self._notice(text)
        self._changed()
        return text

    async def cancel_order(self, order_id: str) -> str:
        """Cancel one order (always allowed: it can only reduce); the stream says when it is
        canceled, so the working-order book keeps it until then."""
        self.risk.check(Cancel(order_id), self._risk_book(), price=None, now=self._clock())
        symbol = next((w.symbol for w in self.working.orders() if w.order_id == order_id), None)
        self._audit("cancel", {"order_id": order_id}, symbol)
        try:
            await self.rest.cancel_order(order_id)
        except AlpacaError as exc:
            text = f"cancel {symbol or order_id} failed: {exc}"
        else:
            text = f"cancel requested: {symbol or ''} order {order_id[:8]}".replace("  ", " ")
        self._notice(text)
        self._changed()
        return text

    def check_replace(self, client_order_id: str, order: Order) -> Verdict:
        """The gate's verdict on ``order`` taking the place of a working order: judged as a
        new order with the old one no longer counted, so a replacement that would grow
        exposure past a limit is denied exactly as a new order would be. While REDUCING
        (paused, or a breaker blocking new exposure), besides what the gate lets through as
        reducing, a replacement that only shrinks the order (same prices, smaller qty) passes:
        it takes exposure away."""
        old = self.working.get(client_order_id)
        if old is None:
            return Verdict.deny("NOT_WORKING", client_order_id=client_order_id)
        if old.order_id is None:
            return Verdict.deny("NOT_AT_BROKER", client_order_id=client_order_id)
        if old.status in UNREPLACEABLE_STATUSES:  # Alpaca would refuse it (422)
            return Verdict.deny("NOT_REPLACEABLE", status=old.status)
        if not replace_fields(old, order):
            return Verdict.deny("NO_CHANGE", symbol=order.symbol)
        others = tuple(w for w in self.working.orders() if w.client_order_id != client_order_id)
        self._evaluate_risk(order.symbol)
        try:
            verdict = self.risk.check(
                order,
                self._risk_book(),
                price=self._prices.get(order.symbol),
                now=self._clock(),
                working=others,
            )
        finally:
            self._evaluate_risk()
        if not verdict.allowed and self.risk.state is TradingState.REDUCING and shrinks(old, order):
            return ALLOWED
        return verdict

    async def replace(self, client_order_id: str, order: Order) -> Verdict:
        """Replace a working order's qty/limit/stop with ``order``'s, through the gate."""
        verdict = self.check_replace(client_order_id, order)
        self._verdicts[order.symbol] = verdict
        old = self.working.get(client_order_id)
        self._audit(
            "risk",
            {
                "client_order_id": order.client_order_id,
                "verdict": str(verdict),
                "allowed": verdict.allowed,
                "order": order.to_request(),
                "source": "replace",
                "replaces": old.order_id if old is not None else None,
            },
            order.symbol,
        )
        if not verdict.allowed or old is None:
            self._notice(f"replace denied: {verdict}")
            self._changed()
            return verdict
        result = await self._send_replace(old, order)
        if result.outcome is not Outcome.SUBMITTED:
            self._notice(f"replace {order.symbol}: {result.outcome} {result.detail[:120]}")
            if result.outcome is Outcome.REJECTED:
                self.risk.record_reject(self._clock())
        else:
            self._notice(f"replace {order.symbol}: sent as {order.client_order_id[:12]}")
        return verdict

    async def close_position(self, symbol: str) -> str:
        """Close one position at the broker (``DELETE /v2/positions/{symbol}``): the broker
        closes exactly what it holds, where an order sized from the ledger could overshoot
        a fill the stream has not told yet. The symbol's open orders are canceled first, as
        flatten does: they hold the shares (the close is refused while they do), and a
        resting stop left behind would open the other side. Always allowed (it reduces),
        paused or not."""
        self.risk.check(Flatten(symbol), self._risk_book(), price=None, now=self._clock())
        self._audit("close", {"symbol": symbol}, symbol)
        try:
            canceled = await self._cancel_symbol(symbol)
            placed = await self.rest.close_position(symbol)
        except AlpacaError as exc:
            text = f"close {symbol} failed: {exc}"
        else:
            self.working.observe(news_from_wire("rest", placed))
            self._audit(
                "order",
                {"order_id": placed.id, "outcome": "submitted", "source": "close"},
                symbol,
            )
            text = f"close {symbol}: {placed.side} {placed.qty or ''} {placed.type} sent"
            if canceled:
                text += f" after canceling {canceled} open orders"
        self._notice(text)
        self._changed()
        return text

    async def _cancel_symbol(self, symbol: str) -> int:
        """Cancel ``symbol``'s open orders and wait (bounded) until the broker lists none."""
        orders = await self.rest.list_orders("open", symbols=[symbol])
        for o in orders:
            try:
                await self.rest.cancel_order(o.id)
            except AlpacaError:  # filled or canceled meanwhile: the listing below tells
                continue
        deadline = time.monotonic() + CLOSE_WAIT
        while orders and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
            if not await self.rest.list_orders("open", symbols=[symbol]):
                break
        return len(orders)

    def _risk_book(self) -> RiskBook:
        return RiskBook(self.portfolio.snapshot(), self._prices)

    @property
    def fault_keys(self) -> tuple[str, ...]:
        """The SIM fault menu, offered only against the embedded emulator."""
        if self.target.embedded is None:
            return ()
        return tuple(c.key for c in FAULT_MENU)

    async def inject_fault(self, key: str) -> str:
        if key not in self.fault_keys:
            raise FaultError("faults can only be injected into the embedded emulator")
        label = await inject_fault(self.http, self.target.base_url, key)
        self._audit("fault", {"fault": key})
        self._notice(f"fault injected: {label}")
        self._changed()
        return label

    def reset_breaker(self, name: str) -> Verdict:
        verdict = self.risk.reset(name, self._clock())
        self._audit("reset", {"breaker": name, "verdict": str(verdict)})
        self._notice(f"reset {name}: {verdict}")
        self._changed()
        return verdict

    def _sync_pause(self) -> None:
        """Honour ``tui-trader pause``/``resume`` given from another shell."""
        wanted = bool(self.journal.get_setting(PAUSED_KEY, False))
        if wanted and not self.risk.paused:
            self.risk.pause()
            self._notice("paused from the command line")
        elif not wanted and self.risk.paused:
            self.risk.resume()
            self._notice("resumed from the command line")


def shrinks(old: Working, new: Order) -> bool:
    """``new`` asks for less of the same than ``old`` still could fill, at the same prices."""
    return (
        old.qty is not None
        and new.qty is not None
        and new.qty < old.qty
        and new.side is old.side
        and new.limit_price == old.limit_price
        and new.stop_price == old.stop_price
    )
