"""The gate: allow or deny one intent against the whole book, working orders included.

Cancels and flatten always pass. An order that reduces (whichever working orders fill) passes
unless the desk is HALTED; one that adds exposure needs ACTIVE, a price, known data age, and
room under SYMBOL_NOTIONAL and GROSS_EXPOSURE with the working orders counted.
The module docstring of :mod:`tui_trader.core.risk` says how working orders count.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from datetime import datetime
from decimal import Decimal

from tui_trader.core.orders import Order, Side
from tui_trader.core.portfolio import symbol_key
from tui_trader.core.risk.book import Book
from tui_trader.core.risk.evaluation import Evaluation
from tui_trader.core.risk.states import BreakerName, TradingState
from tui_trader.core.risk.text import money, num, text
from tui_trader.core.risk.verdict import ALLOWED, Cancel, Flatten, Intent, Verdict
from tui_trader.core.working import Working

_ZERO = Decimal(0)
_ONE = Decimal(1)


class Gate(Evaluation):
    """The pre-trade check every new order passes (:meth:`check`)."""

    def check(
        self,
        intent: Intent,
        book: Book,
        *,
        price: Decimal | None,
        now: datetime,
        working: Iterable[Working] = (),
    ) -> Verdict:
        """Allow or deny one intent. ``price`` is the caller's mark for the order's symbol
        (the book's mark is used when it is None); ``working`` holds every order that may
        still fill, the desk's queued ones included. Never raises: an error denies."""
        if isinstance(intent, Cancel | Flatten):
            verdict = ALLOWED
        else:
            try:
                verdict = self._check_order(intent, book, price, now, tuple(working))
            except Exception as exc:
                verdict = Verdict.deny("RISK_ERROR", error=type(exc).__name__)
        self._last = verdict
        return verdict

    def _check_order(
        self,
        order: Order,
        book: Book,
        price: Decimal | None,
        now: datetime,
        working: tuple[Working, ...],
    ) -> Verdict:
        if not isinstance(order, Order):
            raise TypeError("not an order")
        self._tick(now)
        self._eval_book(book, now)  # a loss latches the moment any caller sees it
        state = self.state
        if state is TradingState.HALTED:
            return self._halted()

        symbol = order.symbol
        sign = _ONE if order.side is Side.BUY else -_ONE
        current = book.qty(symbol)
        mark = _positive(price if price is not None else book.price(symbol))
        px = _positive(order.limit_price) if order.limit_price is not None else mark
        if order.qty is not None:
            if order.qty <= 0:
                raise ValueError("qty must be positive")
        elif order.notional is not None:
            if order.notional <= 0:
                raise ValueError("notional must be positive")
        else:
            raise ValueError("order has neither qty nor notional")

        # The position's range whichever of its working orders fill: [low, high] in shares.
        key = symbol_key(symbol)
        resting = [w for w in working if symbol_key(w.symbol) == key]
        buys, sells = _resting(resting, mark if mark is not None else px)
        low = current - sells if sells is not None else None
        high = current + buys if buys is not None else None
        if _reduces(order, low, high, px):
            return ALLOWED

        if state is TradingState.REDUCING:
            context: dict[str, object] = {
                "symbol": symbol,
                "side": order.side.value,
                "position": num(current),
            }
            if resting:
                context["working_buys"] = num(buys)
                context["working_sells"] = num(sells)
            context["cause"] = self._reducing_cause()
            return Verdict.deny("REDUCING", **context)
        if px is None:
            return Verdict.deny("NO_PRICE", symbol=symbol)
        if self._data_age is None:
            return Verdict.deny(
                "STALE_DATA", age="unknown", limit=num(self.breaker(BreakerName.STALE_DATA).limit)
            )
        if low is None or high is None:  # a working notional order with no price to convert
            return Verdict.deny("NO_PRICE", symbol=symbol, working="unpriced")

        # Money: the order's own size, and where the symbol can go in its direction.
        size = order.notional if order.notional is not None else _qty(order) * px
        reach = (high if sign > 0 else low) * px + sign * size
        projected = abs(reach)
        notional_limit = self._limits.max_symbol_notional
        over = projected > notional_limit
        reason = text(
            BreakerName.SYMBOL_NOTIONAL,
            {"symbol": symbol, "notional": money(projected), "limit": num(notional_limit)},
        )
        self._set(
            BreakerName.SYMBOL_NOTIONAL,
            projected,
            notional_limit,
            over=over,
            reason=reason,
            now=now,
        )
        if over:
            self._breakers[BreakerName.SYMBOL_NOTIONAL] = replace(
                self._breakers[BreakerName.SYMBOL_NOTIONAL], tripped_at=now, reason=reason
            )
            return Verdict(allowed=False, code=str(BreakerName.SYMBOL_NOTIONAL), detail=reason)

        # Gross: the symbol at the larger of its two extremes (this order filled or not),
        # every other symbol at what its own working orders can reach.
        held = abs(current * (mark if mark is not None else px))
        extreme = max(
            abs(low * px + min(sign * size, _ZERO)), abs(high * px + max(sign * size, _ZERO))
        )
        elsewhere = _reach_elsewhere(working, key, book)
        if elsewhere is None:
            return Verdict.deny(
                BreakerName.GROSS_EXPOSURE, symbol=symbol, gross="unknown", working="unpriced"
            )
        gross = book.gross_exposure - held + extreme + elsewhere
        gross_limit = max(self._limits.max_gross_exposure * book.equity, _ZERO)
        if gross > gross_limit:
            return Verdict.deny(
                BreakerName.GROSS_EXPOSURE,
                symbol=symbol,
                gross=money(gross),
                limit=money(gross_limit),
            )
        return ALLOWED

    def _halted(self) -> Verdict:
        if self._fault is not None:
            return Verdict.deny("RISK_ERROR", error=self._fault, during="update")
        latched = next(b for b in self._breakers.values() if b.latching and b.tripped)
        return Verdict.deny(
            "HALTED", breaker=latched.name, value=money(latched.value), limit=num(latched.limit)
        )

    def _reducing_cause(self) -> str:
        causes = ["paused"] if self._paused else []
        causes += [b.name for b in self._breakers.values() if self._blocks_increase(b)]
        return ",".join(causes)


def _positive(value: Decimal | None) -> Decimal | None:
    return value if value is not None and value > 0 else None


def _qty(order: Order) -> Decimal:
    assert order.qty is not None
    return order.qty


def _resting(
    resting: Iterable[Working], price: Decimal | None
) -> tuple[Decimal | None, Decimal | None]:
    """Shares the working buys and sells could still add; None for a side holding a
    notional order that cannot be converted to shares."""
    buys: Decimal | None = _ZERO
    sells: Decimal | None = _ZERO
    for w in resting:
        shares = w.shares(price)
        if w.sign > 0:
            buys = None if shares is None or buys is None else buys + shares
        else:
            sells = None if shares is None or sells is None else sells + shares
    return buys, sells


def _reduces(
    order: Order, low: Decimal | None, high: Decimal | None, price: Decimal | None
) -> bool:
    """The order shrinks the position towards zero, and cannot cross it, whichever working
    orders fill: a sell fits in ``low`` (the position less every working sell), a buy in
    ``-high``. A notional order needs a price to tell; reaching zero counts."""
    room: Decimal | None = None
    if order.side is Side.SELL:
        room = low
    elif high is not None:
        room = -high
    if room is None or room <= 0:
        return False
    if order.qty is not None:
        return order.qty <= room
    if price is None or order.notional is None:
        return False
    return order.notional <= room * price


def _reach_elsewhere(working: Iterable[Working], key: str, book: Book) -> Decimal | None:
    """How much gross exposure the other symbols' working orders can add, each symbol at the
    larger of its extremes, valued at its mark (or its orders' highest limit price when it
    has none); None when one cannot be valued."""
    by_symbol: dict[str, list[Working]] = {}
    for w in working:
        other = symbol_key(w.symbol)
        if other != key:
            by_symbol.setdefault(other, []).append(w)
    extra = _ZERO
    for orders in by_symbol.values():
        symbol = orders[0].symbol
        limits = [w.limit_price for w in orders if w.limit_price is not None and w.limit_price > 0]
        price = _positive(book.price(symbol)) or (max(limits) if limits else None)
        if price is None:
            return None
        buys, sells = _resting(orders, price)
        if buys is None or sells is None:
            return None
        held = book.qty(symbol)
        extra += (max(abs(held - sells), abs(held + buys)) - abs(held)) * price
    return extra
