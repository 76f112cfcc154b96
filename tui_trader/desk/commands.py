"""The trader's levers, through the same gate as the policy's orders: the gate's verdict,
manual orders, pause and resume (kept in the journal, where ``tui-trader pause`` from another
shell writes too), flatten and its preview, cancel all, breaker resets and the emulator's
faults. Each is written to the audit trail and told on the notices line.
"""

from __future__ import annotations

from tui_trader.broker.faults import FAULT_MENU, FaultError
from tui_trader.broker.faults import inject as inject_fault
from tui_trader.broker.ordering import FlattenReport, flatten
from tui_trader.broker.rest import AlpacaError
from tui_trader.core.orders import Order
from tui_trader.core.risk import Flatten, Verdict
from tui_trader.desk.base import DeskBase, RiskBook
from tui_trader.desk.snapshot import FlattenPreview

PAUSED_KEY = "paused"


class Commands(DeskBase):
    """What the screen (or a script) asks of the desk; :meth:`_sync_pause` honours the shell's."""

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

    async def flatten(self) -> FlattenReport:
        """Pause, cancel everything, close everything, check until flat; stay paused."""
        verdict = self.risk.check(
            Flatten(),
            RiskBook(self.portfolio.snapshot(), self._prices),
            price=None,
            now=self._clock(),
        )
        assert verdict.allowed  # flatten always passes
        self.pause("flatten")
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
        """Ask the broker (not the ledger) what is open, as flatten will."""
        try:
            orders = await self.rest.list_orders("open")
            positions = await self.rest.list_positions()
        except AlpacaError as exc:
            return FlattenPreview((), (), f"could not list open orders and positions: {exc}")
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
