"""The policy as the desk runs it, inside a backtest: sized to the limits, through the desk's
risk gate, with the review a trader gives a latched breaker.

The rule for a latched loss breaker (``DAILY_LOSS``, ``DAILY_LOSS_PCT``, ``DRAWDOWN``), stated
once here and in every report: the live desk holds HALTED until someone looks and resets it,
and a desk left running would not sit HALTED for years. So the backtest models that review:
a breaker that latched during session ``d`` stays latched for the rest of ``d`` and the next
``reset_after - 1`` sessions (every order denied, the book held as it stood), and is reset
at the first bar of session ``d + reset_after`` (default 1: the next session's open), before
that bar's decision. The reset goes through :meth:`RiskEngine.reset`, which clears only a
value back within its limit: the day's loss is counted afresh from the new session's
starting equity, and for ``DRAWDOWN`` the review re-bases the high-water mark the gate reads
to the equity at the reset (the trader accepts the loss, as a restarted desk does: its
ledger's peak starts at the session's equity). Each reset is recorded with its date, the
breakers reset and the equity (:attr:`GatedPolicy.resets`). ``reset_after=None`` keeps the
old reading: latched for the rest of the run.
"""

from __future__ import annotations

import textwrap
from collections import Counter
from dataclasses import dataclass, replace
from datetime import date, datetime
from decimal import Decimal

from tui_trader.core.backtest import PolicyLike
from tui_trader.core.events import NtaEvent, TradeEvent
from tui_trader.core.orders import OrderBuilder, market_time_in_force
from tui_trader.core.policy import Decision
from tui_trader.core.portfolio import Portfolio
from tui_trader.core.portfolio.views import BookSnapshot
from tui_trader.core.risk import RiskEngine, TradingState
from tui_trader.core.sizing import fit_to_limits

__all__ = [
    "RESET_AFTER_SESSIONS",
    "RESET_RULE",
    "BreakerReset",
    "GatedPolicy",
    "reset_rule",
    "resets_json",
    "resets_text",
]

RESET_AFTER_SESSIONS = 1
RESET_RULE = (
    "a latched loss breaker (DAILY_LOSS, DAILY_LOSS_PCT, DRAWDOWN) holds every order for the "
    "rest of its session and is reset at the open of the session {n} later (a trader's "
    "review); a DRAWDOWN reset re-bases the high-water mark to the equity at the reset"
)


WIDTH = 100
"""The report's lines are wrapped to this (the rule alone is ~250 characters)."""


def reset_rule(after: int | None) -> str:
    """The reset rule in words, for the reports."""
    if after is None:
        return "a latched loss breaker stays latched for the rest of the run (no review)"
    return RESET_RULE.format(n=after)


@dataclass(frozen=True)
class BreakerReset:
    """One review: when, which breakers, when they latched and the equity then."""

    at: datetime
    breakers: tuple[str, ...]
    latched_at: datetime | None
    equity: float


class GatedPolicy:
    """The policy as the desk runs it: each proposal sized to the limits
    (:func:`fit_to_limits`) and passed through the same :class:`RiskEngine`, which reads a
    real :class:`Portfolio` ledger fed with the backtest's fills (and their costs as fees),
    on the backtest's clock. Denials are counted; latched breakers are reset by the rule of
    the module docstring (``reset_after`` sessions later) and every reset is recorded."""

    def __init__(
        self,
        policy: PolicyLike,
        risk: RiskEngine,
        equity: float,
        *,
        reset_after: int | None = RESET_AFTER_SESSIONS,
    ) -> None:
        if reset_after is not None and reset_after < 1:
            raise ValueError("reset_after must be at least one session (or None: never)")
        self.policy = policy
        self.risk = risk
        self.ledger = Portfolio(Decimal(repr(equity)))
        self.reset_after = reset_after
        self.resets: list[BreakerReset] = []
        self.denied: Counter[str] = Counter()
        self._day: date | None = None
        self._session = 0
        self._halted_session: int | None = None
        self._halted_at: datetime | None = None
        self._peak = Decimal(repr(equity))  # the high-water mark the gate reads
        self._fills = 0

    @property
    def rule(self) -> str:
        return reset_rule(self.reset_after)

    def observe(self, symbol: str, close: float, at: datetime) -> None:
        self.policy.observe(symbol, close, at)

    def fill(self, symbol: str, qty: float, price: float, fee: float, at: datetime) -> None:
        """Book one of the backtest's fills in the ledger, as the broker's events would."""
        self._fills += 1
        n, stamp = self._fills, at.isoformat()
        self.ledger.apply(
            TradeEvent.model_validate(
                {
                    "event": "fill",
                    "event_id": f"backtest-{n}",
                    "execution_id": f"backtest-{n}",
                    "qty": repr(abs(qty)),
                    "price": repr(price),
                    "timestamp": stamp,
                    "at": stamp,
                    "order": {
                        "id": f"backtest-{n}",
                        "symbol": symbol,
                        "side": "buy" if qty > 0 else "sell",
                        "filled_qty": repr(abs(qty)),
                    },
                }
            )
        )
        if fee:
            self.ledger.apply_nta(
                NtaEvent.model_validate(
                    {
                        "at": stamp,
                        "event_ulid": f"backtest-fee-{n}",
                        "entry_type": "FEE",
                        "net_amount": -fee,
                        "status": "executed",
                    }
                )
            )

    def _book(self) -> BookSnapshot:
        """The ledger's snapshot with the gate's own high-water mark (re-based at a review)."""
        book = self.ledger.snapshot()
        self._peak = max(self._peak, book.equity)
        if book.peak_equity == self._peak:
            return book
        fall = (self._peak - book.equity) / self._peak if self._peak > 0 else Decimal(0)
        return replace(book, peak_equity=self._peak, drawdown=max(fall, Decimal(0)))

    def _review(self, at: datetime) -> None:
        """At a session's first bar: reset what latched ``reset_after`` sessions ago."""
        due = self._halted_session is not None and self.reset_after is not None
        if not due or self._session - (self._halted_session or 0) < (self.reset_after or 0):
            return
        latched = [b.name for b in self.risk.snapshot().breakers if b.latching and b.tripped]
        equity = self.ledger.snapshot().equity
        if "DRAWDOWN" in latched:
            self._peak = equity
        self.risk.update(
            self._book(), now=at, market_data_age=0.0, stream_up=True, reconciling=False
        )
        cleared = tuple(str(n) for n in latched if self.risk.reset(n, at).allowed)
        if cleared:
            self.resets.append(BreakerReset(at, cleared, self._halted_at, float(equity)))
        if self.risk.state is not TradingState.HALTED:
            self._halted_session = self._halted_at = None

    def decide(
        self, symbol: str, price: Decimal, equity: Decimal, current_qty: Decimal, at: datetime
    ) -> Decision:
        self.ledger.mark(symbol, price, at)
        if at.date() != self._day:
            self._day = at.date()
            self._session += 1
            self.ledger.start_day()
            self._review(at)
        decision = self.policy.decide(symbol, price, equity, current_qty, at)
        qty = fit_to_limits(
            decision.proposed_qty, current_qty, price, self.risk.limits.max_symbol_notional
        )
        if qty is None:
            return replace(decision, proposed_qty=None)
        book = self._book()
        self.risk.update(book, now=at, market_data_age=0.0, stream_up=True, reconciling=False)
        side = OrderBuilder().symbol(symbol)
        tif = market_time_in_force(symbol)  # day for equities; crypto takes no day orders
        order = (side.buy(qty) if qty > 0 else side.sell(-qty)).market().time_in_force(tif).build()
        verdict = self.risk.check(order, book, price=price, now=at)
        if self.risk.state is TradingState.HALTED and self._halted_session is None:
            self._halted_session, self._halted_at = self._session, at
        if not verdict.allowed:
            self.denied[verdict.code or "DENIED"] += 1
            return replace(decision, proposed_qty=None, reason=f"denied: {verdict}")
        self.risk.record_order(at)
        return replace(decision, proposed_qty=qty)


def resets_json(gate: object) -> dict[str, object]:
    """The reset rule and every reset, for ``--json`` (empty for a gate that keeps none)."""
    resets: list[BreakerReset] = getattr(gate, "resets", [])
    return {
        "rule": reset_rule(getattr(gate, "reset_after", None)),
        "count": len(resets),
        "resets": [
            {
                "at": r.at.isoformat(),
                "breakers": list(r.breakers),
                "latched_at": r.latched_at.isoformat() if r.latched_at else None,
                "equity": r.equity,
            }
            for r in resets
        ],
    }


def resets_text(gate: object, limit: int = 12, *, rule: bool = True) -> str:
    """One line: how many resets and their dates (the first ``limit``), and the rule."""
    resets: list[BreakerReset] = getattr(gate, "resets", [])
    words = reset_rule(getattr(gate, "reset_after", None))
    how = "\n" + textwrap.fill(f"({words})", WIDTH, initial_indent="  ", subsequent_indent="   ")
    if not rule:
        how = ""
    if not resets:
        return f"breaker resets: none{how}"
    dates = ", ".join(f"{r.at:%Y-%m-%d} {'+'.join(r.breakers)}" for r in resets[:limit])
    more = f", ... ({len(resets) - limit} more in --json)" if len(resets) > limit else ""
    listed = textwrap.fill(f"breaker resets: {len(resets)}: {dates}{more}", WIDTH)
    return listed + how
