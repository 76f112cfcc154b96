"""Pre-trade risk: the trading state (ACTIVE / REDUCING / HALTED) and its named breakers.

Every new order passes one gate that can say no in words a person and the journal can read
(``CODE: key=value``). Losses latch: once the day has lost too much, nothing new goes out until
someone has looked and called :meth:`RiskEngine.reset`. Passing trouble (an order flood, a reject
streak, stale data, a stream that is down or reconciling) only stops orders that add exposure,
and lifts by itself. Cancels and flatten always pass: getting out must never be blocked by the
thing that is meant to protect us. When a check cannot be computed, the order is denied; when
the day's starting equity is not known (the account could not be read), no loss can be
measured and the desk is held REDUCING until it is.

The gate sees the whole book: an order is judged against the position *plus every working
order* (:mod:`tui_trader.core.working`: sent, queued or resting). An order "reduces" only if
it cannot take the position past zero or beyond its current size whichever working orders
fill, partly or not at all: a sell must fit in the position less every working sell (a buy,
likewise, in a short less every working buy); working orders on the other side are never
counted on. SYMBOL_NOTIONAL caps the size the symbol can reach in the order's direction with
every working order on that side filled, and GROSS_EXPOSURE adds what every symbol's working
orders can reach. Sizes are in shares; a notional (dollar) working order converts at its limit
price or else the mark, and one that cannot be converted makes its symbol's exposure unknown,
which denies what would need it.

Pure: the clock is an argument (``now``) and the book is any object with the attributes of
:class:`Book`, so the ledger, a test fake or a replay all plug in.

Comparisons: a limit on something that accumulates (loss, drawdown, order count, rejects) trips
when the value reaches it (``>=``); a cap (symbol notional, gross exposure) and the data age
allow the value itself and trip only above it (``>``). Warnings start at
``warning_fraction * limit``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from decimal import Decimal, localcontext
from enum import StrEnum
from typing import Protocol, TypeAlias

from tui_trader.core.orders import Order, Side
from tui_trader.core.portfolio import symbol_key
from tui_trader.core.types import format_decimal, to_decimal
from tui_trader.core.working import Working

__all__ = [
    "ALLOWED",
    "LATCHING",
    "RATE_WINDOW",
    "Book",
    "Breaker",
    "BreakerName",
    "BreakerState",
    "Cancel",
    "Flatten",
    "Intent",
    "RiskEngine",
    "RiskLimits",
    "RiskSnapshot",
    "TradingState",
    "Verdict",
]

RATE_WINDOW = timedelta(seconds=60)
"""ORDER_RATE counts the orders recorded in this sliding window ("per minute")."""

_ZERO = Decimal(0)
_ONE = Decimal(1)
_HUNDRED = Decimal(100)
_CENT = Decimal("0.01")


class TradingState(StrEnum):
    """What the desk may send: everything, only exposure-reducing orders, or nothing new."""

    ACTIVE = "ACTIVE"
    REDUCING = "REDUCING"
    HALTED = "HALTED"


class BreakerState(StrEnum):
    OK = "ok"
    WARNING = "warning"
    TRIPPED = "tripped"


class BreakerName(StrEnum):
    """Stable codes: they appear in denials, the journal's breaker log and ``reset``."""

    DAILY_LOSS = "DAILY_LOSS"
    DAILY_LOSS_PCT = "DAILY_LOSS_PCT"
    DRAWDOWN = "DRAWDOWN"
    ORDER_RATE = "ORDER_RATE"
    REJECT_STREAK = "REJECT_STREAK"
    SYMBOL_NOTIONAL = "SYMBOL_NOTIONAL"
    GROSS_EXPOSURE = "GROSS_EXPOSURE"
    STALE_DATA = "STALE_DATA"
    STREAM = "STREAM"


LATCHING = frozenset({BreakerName.DAILY_LOSS, BreakerName.DAILY_LOSS_PCT, BreakerName.DRAWDOWN})
"""Breakers that hold HALTED until a manual reset: a loss is not undone by waiting."""

# Judged per order: the breaker shows the last check and never changes the trading state.
_PER_ORDER = frozenset({BreakerName.SYMBOL_NOTIONAL})
# Caps allow the value itself; the rest trip when the value reaches the limit.
_CAPS = frozenset({BreakerName.SYMBOL_NOTIONAL, BreakerName.GROSS_EXPOSURE, BreakerName.STALE_DATA})


class Book(Protocol):
    """What the engine reads from a portfolio; plain attributes or properties both fit.

    ``qty`` is signed (short < 0) and 0 for an unknown symbol; ``price`` is the mark, ``None``
    when there is none. ``gross_exposure`` is the sum of |market value| over all positions.
    ``day_start_equity`` is None while the account is not known (not read yet, or a new day
    whose starting equity could not be read): equity means nothing then.
    """

    @property
    def equity(self) -> Decimal: ...

    @property
    def day_start_equity(self) -> Decimal | None: ...

    @property
    def peak_equity(self) -> Decimal: ...

    @property
    def gross_exposure(self) -> Decimal: ...

    def qty(self, symbol: str) -> Decimal: ...

    def price(self, symbol: str) -> Decimal | None: ...


@dataclass(frozen=True)
class Cancel:
    """Cancel a resting order: always allowed, it can only reduce risk."""

    order_id: str


@dataclass(frozen=True)
class Flatten:
    """Close positions (one symbol, or all when ``symbol`` is None): always allowed."""

    symbol: str | None = None


Intent: TypeAlias = Order | Cancel | Flatten


@dataclass(frozen=True)
class RiskLimits:
    """The breaker limits in the engine's units: money and percentages as Decimal."""

    daily_loss_limit: Decimal = Decimal("2000")
    daily_loss_pct: Decimal = Decimal("3")
    max_drawdown_pct: Decimal = Decimal("10")
    max_orders_per_minute: int = 30
    max_reject_streak: int = 5
    max_symbol_notional: Decimal = Decimal("25000")
    max_gross_exposure: Decimal = Decimal("1.5")  # a multiple of equity
    stale_data_seconds: float = 30.0
    warning_fraction: Decimal = Decimal("0.8")
    rate_cooldown_seconds: float = 60.0

    def __post_init__(self) -> None:
        positive: dict[str, Decimal | int | float] = {
            "daily_loss_limit": self.daily_loss_limit,
            "daily_loss_pct": self.daily_loss_pct,
            "max_drawdown_pct": self.max_drawdown_pct,
            "max_orders_per_minute": self.max_orders_per_minute,
            "max_reject_streak": self.max_reject_streak,
            "max_symbol_notional": self.max_symbol_notional,
            "max_gross_exposure": self.max_gross_exposure,
            "stale_data_seconds": self.stale_data_seconds,
            "rate_cooldown_seconds": self.rate_cooldown_seconds,
        }
        for name, value in positive.items():
            number = to_decimal(value)
            if number is None or number <= 0:
                raise ValueError(f"{name} must be > 0")
        if not _ZERO < self.warning_fraction < _ONE:
            raise ValueError("warning_fraction must be between 0 and 1")


@dataclass(frozen=True)
class Breaker:
    """One named breaker as the UI shows it.

    ``value`` is None when it is not known (no market data yet). ``tripped_at`` and
    ``reason`` (``CODE: key=value``) describe the moment it tripped and stay while it holds;
    a warning carries the current reason and no time.
    """

    name: BreakerName
    limit: Decimal
    value: Decimal | None = _ZERO
    state: BreakerState = BreakerState.OK
    tripped_at: datetime | None = None
    reason: str | None = None
    latching: bool = False

    @property
    def tripped(self) -> bool:
        return self.state is BreakerState.TRIPPED

    @property
    def utilisation(self) -> Decimal | None:
        """value / limit (1 = at the limit); infinite for a positive value under a zero limit."""
        if self.value is None:
            return None
        if self.limit <= 0:
            return Decimal("Infinity") if self.value > 0 else _ZERO
        return self.value / self.limit


@dataclass(frozen=True)
class Verdict:
    """The gate's answer. ``detail`` is the whole ``CODE: key=value ...`` text, or "allowed"."""

    allowed: bool
    code: str | None = None
    detail: str = "allowed"

    def __str__(self) -> str:
        return self.detail

    @classmethod
    def deny(cls, code: str, **context: object) -> Verdict:
        return cls(allowed=False, code=str(code), detail=_text(code, context))


ALLOWED = Verdict(allowed=True)


@dataclass(frozen=True)
class RiskSnapshot:
    """Immutable view for the UI and the journal; breakers in :class:`BreakerName` order."""

    state: TradingState
    paused: bool
    breakers: tuple[Breaker, ...]
    last_verdict: Verdict | None
    fault: str | None = None

    def breaker(self, name: BreakerName | str) -> Breaker:
        wanted = BreakerName(name)
        return next(b for b in self.breakers if b.name is wanted)


class RiskEngine:
    """The trading state and its breakers; one instance per desk, driven by the engine loop.

    Call :meth:`update` whenever the book, market data or stream status change,
    :meth:`record_order` / :meth:`record_reject` / :meth:`record_accept` as orders go out and
    come back, and :meth:`check` before sending anything. ``paused`` restores the user's pause
    after a restart.
    """

    def __init__(self, limits: RiskLimits | None = None, *, paused: bool = False) -> None:
        self._limits = limits if limits is not None else RiskLimits()
        self._paused = paused
        self._orders: list[datetime] = []
        self._rejects = 0
        self._data_age: Decimal | None = None
        self._last: Verdict | None = None
        self._fault: str | None = None
        lim = self._limits
        initial = {
            BreakerName.DAILY_LOSS: lim.daily_loss_limit,
            BreakerName.DAILY_LOSS_PCT: lim.daily_loss_pct,
            BreakerName.DRAWDOWN: lim.max_drawdown_pct,
            BreakerName.ORDER_RATE: Decimal(lim.max_orders_per_minute),
            BreakerName.REJECT_STREAK: Decimal(lim.max_reject_streak),
            BreakerName.SYMBOL_NOTIONAL: lim.max_symbol_notional,
            BreakerName.GROSS_EXPOSURE: _ZERO,  # max_gross_exposure x equity, once known
            BreakerName.STALE_DATA: _dec(lim.stale_data_seconds),
            BreakerName.STREAM: _ONE,
        }
        self._breakers = {
            name: Breaker(name, limit, latching=name in LATCHING) for name, limit in initial.items()
        }
        # No market data yet: adding exposure is refused until an age is known.
        self._breakers[BreakerName.STALE_DATA] = replace(
            self._breakers[BreakerName.STALE_DATA],
            value=None,
            state=BreakerState.WARNING,
            reason=self._stale_reason(None),
        )

    # --- reading --------------------------------------------------------------------------

    @property
    def limits(self) -> RiskLimits:
        return self._limits

    @property
    def paused(self) -> bool:
        return self._paused

    @property
    def state(self) -> TradingState:
        """HALTED if a loss breaker latched or the book could not be read; REDUCING if paused
        or a self-recovering breaker is tripped; else ACTIVE."""
        breakers = self._breakers.values()
        if self._fault is not None or any(b.tripped and b.latching for b in breakers):
            return TradingState.HALTED
        if self._paused or any(self._blocks_increase(b) for b in breakers):
            return TradingState.REDUCING
        return TradingState.ACTIVE

    def breaker(self, name: BreakerName | str) -> Breaker:
        return self._breakers[BreakerName(name)]

    def snapshot(self) -> RiskSnapshot:
        return RiskSnapshot(
            state=self.state,
            paused=self._paused,
            breakers=tuple(self._breakers[name] for name in BreakerName),
            last_verdict=self._last,
            fault=self._fault,
        )

    # --- inputs ---------------------------------------------------------------------------

    def update(
        self,
        book: Book,
        *,
        now: datetime,
        market_data_age: float | None,
        stream_up: bool,
        reconciling: bool,
    ) -> None:
        """Re-evaluate the state breakers. A book that cannot be read does not raise: it halts
        new orders (fail closed) until a later update or check reads it again."""
        try:
            self._eval_book(book, now)
        except Exception as exc:
            self._fault = type(exc).__name__
        self._eval_market(market_data_age, stream_up=stream_up, reconciling=reconciling, now=now)
        self._tick(now)

    def tick(self, now: datetime) -> None:
        """Let time-based breakers move (the rate window slides, cooldowns end)."""
        self._tick(now)

    def record_order(self, now: datetime) -> None:
        """An order went out: ORDER_RATE trips when the last minute holds the limit."""
        self._orders.append(now)
        self._tick(now)

    def record_reject(self, now: datetime) -> None:
        """The broker refused an order: REJECT_STREAK trips after the limit in a row."""
        self._tick(now)
        self._rejects += 1
        self._tick(now)

    def record_accept(self, now: datetime) -> None:
        """The broker took an order: the streak ends, and a tripped REJECT_STREAK clears,
        since the broker demonstrably accepts orders again."""
        self._rejects = 0
        self._tick(now)

    def pause(self) -> None:
        """The user's pause: REDUCING until :meth:`resume`."""
        self._paused = True

    def resume(self) -> TradingState:
        """Lift the user's pause. A latched breaker still halts: it needs :meth:`reset`."""
        self._paused = False
        return self.state

    def reset(self, name: BreakerName | str, now: datetime) -> Verdict:
        """Clear a tripped breaker by hand, only if its value (as of the last update or check)
        is back within the limit; ORDER_RATE may be cleared this way before its cooldown ends.

        REJECT_STREAK always clears (the streak starts again from zero); SYMBOL_NOTIONAL only
        records the last check, so it clears too. A refusal says why in ``CODE: key=value``.
        """
        try:
            key = BreakerName(name)
        except ValueError:
            return Verdict.deny("RESET_REFUSED", breaker=name, reason="unknown")
        self._tick(now)
        breaker = self._breakers[key]
        if not breaker.tripped:
            return ALLOWED
        if key is BreakerName.REJECT_STREAK:
            self._rejects = 0
            breaker = replace(breaker, value=_ZERO)
        elif key not in _PER_ORDER and self._over(breaker):
            return Verdict.deny(
                "RESET_REFUSED",
                breaker=key,
                value=_money(breaker.value),
                limit=_num(breaker.limit),
            )
        self._breakers[key] = replace(
            breaker, state=self._level(breaker), tripped_at=None, reason=None
        )
        return ALLOWED

    # --- the gate -------------------------------------------------------------------------

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
                "position": _num(current),
            }
            if resting:
                context["working_buys"] = _num(buys)
                context["working_sells"] = _num(sells)
            context["cause"] = self._reducing_cause()
            return Verdict.deny("REDUCING", **context)
        if px is None:
            return Verdict.deny("NO_PRICE", symbol=symbol)
        if self._data_age is None:
            return Verdict.deny(
                "STALE_DATA", age="unknown", limit=_num(self.breaker(BreakerName.STALE_DATA).limit)
            )
        if low is None or high is None:  # a working notional order with no price to convert
            return Verdict.deny("NO_PRICE", symbol=symbol, working="unpriced")

        # Money: the order's own size, and where the symbol can go in its direction.
        size = order.notional if order.notional is not None else _qty(order) * px
        reach = (high if sign > 0 else low) * px + sign * size
        projected = abs(reach)
        notional_limit = self._limits.max_symbol_notional
        over = projected > notional_limit
        reason = _text(
            BreakerName.SYMBOL_NOTIONAL,
            {"symbol": symbol, "notional": _money(projected), "limit": _num(notional_limit)},
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
                gross=_money(gross),
                limit=_money(gross_limit),
            )
        return ALLOWED

    def _halted(self) -> Verdict:
        if self._fault is not None:
            return Verdict.deny("RISK_ERROR", error=self._fault, during="update")
        latched = next(b for b in self._breakers.values() if b.latching and b.tripped)
        return Verdict.deny(
            "HALTED", breaker=latched.name, value=_money(latched.value), limit=_num(latched.limit)
        )

    def _reducing_cause(self) -> str:
        causes = ["paused"] if self._paused else []
        causes += [b.name for b in self._breakers.values() if self._blocks_increase(b)]
        return ",".join(causes)

    # --- evaluation -----------------------------------------------------------------------

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
                {"loss": _money(loss), "limit": _num(lim.daily_loss_limit)},
            ),
            (
                BreakerName.DAILY_LOSS_PCT,
                loss_pct,
                lim.daily_loss_pct,
                {"loss_pct": _money(loss_pct), "limit": _num(lim.daily_loss_pct)},
            ),
            (
                BreakerName.DRAWDOWN,
                drawdown_pct,
                lim.max_drawdown_pct,
                {
                    "drawdown_pct": _money(drawdown_pct),
                    "limit": _num(lim.max_drawdown_pct),
                    "peak": _money(peak),
                    "equity": _money(equity),
                },
            ),
            (
                BreakerName.GROSS_EXPOSURE,
                gross,
                gross_limit,
                {
                    "gross": _money(gross),
                    "limit": _money(gross_limit),
                    "multiple": _num(lim.max_gross_exposure),
                },
            ),
        ]
        for name, value, limit, context in updates:
            over = value > limit if name in _CAPS else value >= limit
            self._set(name, value, limit, over=over, reason=_text(name, context), now=now)
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
            reason = _text(name, {label: "unknown", "account": "unknown", "limit": _num(limit)})
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
            reason=_text(
                BreakerName.GROSS_EXPOSURE,
                {
                    "gross": _money(gross),
                    "limit": _money(gross_limit),
                    "multiple": _num(lim.max_gross_exposure),
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
            reason=_text(
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
            reason=_text(
                BreakerName.ORDER_RATE,
                {"orders": _num(count), "window": "60s", "limit": _num(rate.limit)},
            ),
            now=now,
        )
        streak = Decimal(self._rejects)
        self._set(
            BreakerName.REJECT_STREAK,
            streak,
            rejects.limit,
            over=streak >= rejects.limit,
            reason=_text(
                BreakerName.REJECT_STREAK, {"rejects": _num(streak), "limit": _num(rejects.limit)}
            ),
            now=now,
        )

    def _set(
        self,
        name: BreakerName,
        value: Decimal,
        limit: Decimal,
        *,
        over: bool,
        reason: str,
        now: datetime,
    ) -> None:
        """Store a new value. A latched breaker stays tripped; a trip keeps its first time
        and reason while it holds."""
        prev = self._breakers[name]
        new = replace(prev, value=value, limit=limit)
        if over or (prev.latching and prev.tripped):
            if prev.tripped:
                new = replace(new, state=BreakerState.TRIPPED)
            else:
                new = replace(new, state=BreakerState.TRIPPED, tripped_at=now, reason=reason)
        elif self._level(new) is BreakerState.WARNING:
            new = replace(new, state=BreakerState.WARNING, tripped_at=None, reason=reason)
        else:
            new = replace(new, state=BreakerState.OK, tripped_at=None, reason=None)
        self._breakers[name] = new

    def _level(self, breaker: Breaker) -> BreakerState:
        """OK or WARNING from the value alone (for a breaker that is not, or no longer, tripped)."""
        value, limit = breaker.value, breaker.limit
        if value is None:
            return BreakerState.WARNING
        if limit > 0 and value >= self._limits.warning_fraction * limit:
            return BreakerState.WARNING
        return BreakerState.OK

    @staticmethod
    def _over(breaker: Breaker) -> bool:
        if breaker.value is None:
            return False
        if breaker.name in _CAPS:
            return breaker.value > breaker.limit
        return breaker.value >= breaker.limit

    @staticmethod
    def _blocks_increase(breaker: Breaker) -> bool:
        """A passing trip, or a loss breaker that cannot be measured (the account unknown)."""
        if breaker.latching:
            return breaker.value is None and not breaker.tripped
        return breaker.tripped and breaker.name not in _PER_ORDER

    def _stale_reason(self, age: Decimal | None) -> str:
        shown = "unknown" if age is None else _fixed(age, Decimal("0.1"))
        return _text(
            BreakerName.STALE_DATA,
            {"age": shown, "limit": _num(_dec(self._limits.stale_data_seconds))},
        )


# --- helpers ----------------------------------------------------------------------------------


def _dec(value: float) -> Decimal:
    result = to_decimal(value)
    if result is None:  # pragma: no cover - to_decimal returns None only for None and ""
        raise ValueError("a number is required")
    return result


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


def _percent(part: Decimal, whole: Decimal) -> Decimal:
    """part as a percentage of whole; losing anything from nothing counts as 100%."""
    if whole <= 0:
        return _HUNDRED if part > 0 else _ZERO
    with localcontext() as ctx:
        ctx.prec = 60  # keep rounding far below anything a limit could sit on
        return part * _HUNDRED / whole


def _money(value: Decimal | None) -> str:
    return "unknown" if value is None else _fixed(value, _CENT)


def _fixed(value: Decimal, step: Decimal) -> str:
    with localcontext() as ctx:
        ctx.prec = 1000  # quantize fails when the digits exceed the precision
        return f"{value.quantize(step):f}"


def _num(value: Decimal | None) -> str:
    return "unknown" if value is None else format_decimal(value)


def _text(code: str, context: Mapping[str, object]) -> str:
    """``CODE: key=value ...``; values are tokens (spaces would break the format)."""
    pairs = " ".join(f"{key}={str(value).replace(' ', '_')}" for key, value in context.items())
    return f"{code}: {pairs}" if pairs else str(code)
