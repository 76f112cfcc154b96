"""How the breakers follow the book, the market data and the clock.

Loss, drawdown and gross exposure come from the book (unknown, and holding REDUCING, while
the day's starting equity is not); stale data and the stream from the market; the order rate
and the reject streak slide with the clock. The gate evaluates the book again before it
judges an order, so a loss latches the moment any caller sees it.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from decimal import Decimal, localcontext

from tui_trader.core.risk.board import BreakerBoard
from tui_trader.core.risk.book import Book
from tui_trader.core.risk.states import CAPS, BreakerName, BreakerState
from tui_trader.core.risk.text import money, num, text
from tui_trader.core.types import to_decimal

RATE_WINDOW = timedelta(seconds=60)
"""ORDER_RATE counts the orders recorded in this sliding window ("per minute")."""

_ZERO = Decimal(0)
_ONE = Decimal(1)
_HUNDRED = Decimal(100)


class Evaluation(BreakerBoard):
    """The breakers' values from what the engine is told and the time it is told at."""

    def _eval_book(self, book: Book, now: datetime) -> None:
        """Loss, drawdown and gross exposure from the book; all read before any is stored.
        Without the day's starting equity, loss and drawdown are unknown (and hold REDUCING)."""
        equity = book.equity
        start = book.day_start_equity
        peak = book.peak_equity
        gross = book.gross_exposure
        lim = self._limits
        if start is None:
            self._unknown_losses(equity, gross, now)
            return
        loss = max(start - equity, _ZERO)
        loss_pct = _percent(loss, start)
        drawdown = max(peak - equity, _ZERO)
        drawdown_pct = _percent(drawdown, peak)
        gross_limit = max(lim.max_gross_exposure * equity, _ZERO)
        updates = [
            (
                BreakerName.DAILY_LOSS,
                loss,
                lim.daily_loss_limit,
                {"loss": money(loss), "limit": num(lim.daily_loss_limit)},
            ),
            (
                BreakerName.DAILY_LOSS_PCT,
                loss_pct,
                lim.daily_loss_pct,
                {"loss_pct": money(loss_pct), "limit": num(lim.daily_loss_pct)},
            ),
            (
                BreakerName.DRAWDOWN,
                drawdown_pct,
                lim.max_drawdown_pct,
                {
                    "drawdown_pct": money(drawdown_pct),
                    "limit": num(lim.max_drawdown_pct),
                    "peak": money(peak),
                    "equity": money(equity),
                },
            ),
            (
                BreakerName.GROSS_EXPOSURE,
                gross,
                gross_limit,
                {
                    "gross": money(gross),
                    "limit": money(gross_limit),
                    "multiple": num(lim.max_gross_exposure),
                },
            ),
        ]
        for name, value, limit, context in updates:
            over = value > limit if name in CAPS else value >= limit
            self._set(name, value, limit, over=over, reason=text(name, context), now=now)
        self._fault = None

    def _unknown_losses(self, equity: Decimal, gross: Decimal, now: datetime) -> None:
        """The account is not known: the loss breakers show no value and a reason; a trip
        that had latched stays. Gross exposure is still measured from the positions."""
        lim = self._limits
        for name, label, limit in (
            (BreakerName.DAILY_LOSS, "loss", lim.daily_loss_limit),
            (BreakerName.DAILY_LOSS_PCT, "loss_pct", lim.daily_loss_pct),
            (BreakerName.DRAWDOWN, "drawdown_pct", lim.max_drawdown_pct),
        ):
            prev = self._breakers[name]
            reason = text(name, {label: "unknown", "account": "unknown", "limit": num(limit)})
            if prev.tripped:
                self._breakers[name] = replace(prev, value=None)
            else:
                self._breakers[name] = replace(
                    prev, value=None, state=BreakerState.WARNING, tripped_at=None, reason=reason
                )
        gross_limit = max(lim.max_gross_exposure * equity, _ZERO)
        self._set(
            BreakerName.GROSS_EXPOSURE,
            gross,
            gross_limit,
            over=gross > gross_limit,
            reason=text(
                BreakerName.GROSS_EXPOSURE,
                {
                    "gross": money(gross),
                    "limit": money(gross_limit),
                    "multiple": num(lim.max_gross_exposure),
                },
            ),
            now=now,
        )
        self._fault = None

    def _eval_market(
        self, age: float | None, *, stream_up: bool, reconciling: bool, now: datetime
    ) -> None:
        try:
            known = to_decimal(age)
        except ValueError:  # NaN or infinity: as good as no data
            known = None
        if known is not None:
            known = max(known, _ZERO)  # a clock a little ahead of the feed
        self._data_age = known
        stale = self._breakers[BreakerName.STALE_DATA]
        if known is None:
            self._breakers[BreakerName.STALE_DATA] = replace(
                stale,
                value=None,
                state=BreakerState.WARNING,
                tripped_at=None,
                reason=self._stale_reason(None),
            )
        else:
            self._set(
                BreakerName.STALE_DATA,
                known,
                stale.limit,
                over=known > stale.limit,
                reason=self._stale_reason(known),
                now=now,
            )
        down = not stream_up or reconciling
        self._set(
            BreakerName.STREAM,
            _ONE if down else _ZERO,
            _ONE,
            over=down,
            reason=text(
                BreakerName.STREAM,
                {"up": str(stream_up).lower(), "reconciling": str(reconciling).lower()},
            ),
            now=now,
        )

    def _tick(self, now: datetime) -> None:
        """Slide the rate window and end cooldowns.

        ORDER_RATE clears ``rate_cooldown_seconds`` after it tripped, once the window holds
        fewer orders than the limit. REJECT_STREAK clears on the next accept or, failing that,
        the same cooldown after it tripped; the streak then counts again from zero.
        """
        lim = self._limits
        cooldown = timedelta(seconds=lim.rate_cooldown_seconds)
        rejects = self._breakers[BreakerName.REJECT_STREAK]
        if (
            rejects.tripped
            and rejects.tripped_at is not None
            and now >= rejects.tripped_at + cooldown
        ):
            self._rejects = 0

        self._orders = [t for t in self._orders if t > now - RATE_WINDOW]
        count = Decimal(len(self._orders))
        rate = self._breakers[BreakerName.ORDER_RATE]
        cooling = rate.tripped and rate.tripped_at is not None and now < rate.tripped_at + cooldown
        self._set(
            BreakerName.ORDER_RATE,
            count,
            rate.limit,
            over=count >= rate.limit or cooling,
            reason=text(
                BreakerName.ORDER_RATE,
                {"orders": num(count), "window": "60s", "limit": num(rate.limit)},
            ),
            now=now,
        )
        streak = Decimal(self._rejects)
        self._set(
            BreakerName.REJECT_STREAK,
            streak,
            rejects.limit,
            over=streak >= rejects.limit,
            reason=text(
                BreakerName.REJECT_STREAK, {"rejects": num(streak), "limit": num(rejects.limit)}
            ),
            now=now,
        )


def _percent(part: Decimal, whole: Decimal) -> Decimal:
    """part as a percentage of whole; losing anything from nothing counts as 100%."""
    if whole <= 0:
        return _HUNDRED if part > 0 else _ZERO
    with localcontext() as ctx:
        ctx.prec = 60  # keep rounding far below anything a limit could sit on
        return part * _HUNDRED / whole
