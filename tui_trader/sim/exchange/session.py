"""Time: the tick that advances the market to the clock and does what is due, and the session
boundaries (closing auction, day orders expiring, the TAF fee and dividends posted,
``last_equity`` rolled; the opening auction).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import ROUND_DOWN, Decimal

from tui_trader.core.types import format_decimal
from tui_trader.sim.book import ZERO, money
from tui_trader.sim.clock import SESSION_SECONDS, session_open
from tui_trader.sim.exchange.matching import Matching


class Sessions(Matching):
    """Drives the exchange through time, session by session."""

    def tick(self) -> None:
        """Advance the market to the clock and process everything that is due."""
        target = self.clock.trading_seconds()
        while True:
            session_end = (self._session + 1) * SESSION_SECONDS
            upto = min(int(target), session_end)
            if upto > self._market_seconds:
                at = self.clock.to_datetime(min(upto, session_end - 0.001))
                self.market.step(upto - self._market_seconds, at)
                self._market_seconds = upto
                self._work(at)
            if target < session_end:
                break
            self._close_session(self.clock.to_datetime(session_end - 0.001))
            self._session += 1
            opened = session_open(self.clock.session_day(self._session))
            self.market.session_break(opened)
            self._open_session(opened)
        self._work(self.now())

    def _work(self, at: datetime) -> None:
        self._route(at)
        self._process_cancels(at)
        self._process_replaces(at)
        self._match(at, phase="continuous")

    def _close_session(self, at: datetime) -> None:
        self._match(at, phase="close")
        for o in list(self._open):
            if o.time_in_force in ("day", "cls") and o.is_open:
                o.status = "expired"
                o.expired_at = at
                o.touch(at)
                self._drop_open(o)
                self._emit_trade(o, "expired", at)
        for acct in self.accounts.values():
            if acct.fees_today > 0:
                fee = max(Decimal("0.01"), money(acct.fees_today))
                self.emit_nta(
                    acct,
                    at,
                    "FEE",
                    -fee,
                    f"TAF fee for the session of {at.date().isoformat()}",
                    sub_type="TAF",
                )
                acct.fees_today = ZERO
            for pos in list(acct.positions.values()):
                if self._rng.random() < self.options.dividend_probability:
                    per_share = (
                        self.mark(pos.symbol)
                        * Decimal(str(round(self._rng.uniform(0.001, 0.004), 6)))
                    ).quantize(Decimal("0.0001"), ROUND_DOWN)
                    amount = money(per_share * pos.qty)
                    if amount != 0:
                        self.emit_nta(
                            acct,
                            at,
                            "DIV",
                            amount,
                            f"Cash DIV @ {format_decimal(per_share)}, Pos QTY: "
                            f"{format_decimal(pos.qty)}, Rec Date: {at.date().isoformat()}",
                            symbol=pos.symbol,
                            qty=pos.qty,
                            per_share=per_share,
                        )
            acct.last_equity = self.figures(acct)["equity"]
            acct.day_cost.clear()

    def _open_session(self, at: datetime) -> None:
        close = at + timedelta(seconds=SESSION_SECONDS)
        for o in self._open:
            if o.time_in_force == "day":
                o.expires_at = close
        self._match(at, phase="open")
