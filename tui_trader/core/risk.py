"""Pre-trade risk: the trading state (ACTIVE / REDUCING / HALTED) and its named breakers.

Every new order passes one gate that can say no in words a person and the journal can read
(``CODE: key=value``). Losses latch: once the day has lost too much, nothing new goes out until
someone has looked and called :meth:`RiskEngine.reset`. Passing trouble (an order flood, a reject
streak, stale data, a stream that is down or reconciling) only stops orders that add exposure,
and lifts by itself. Cancels and flatten always pass: getting out must never be blocked by the
thing that is meant to protect us. When a check cannot be computed, the order is denied.

Pure: the clock is an argument (``now``) and the book is any object with the attributes of
:class:`Book`, so the ledger, a test fake or a replay all plug in.

Comparisons: a limit on something that accumulates (loss, drawdown, order count, rejects) trips
when the value reaches it (``>=``); a cap (symbol notional, gross exposure) and the data age
allow the value itself and trip only above it (``>``). Warnings start at
``warning_fraction * limit``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from decimal import Decimal, localcontext
from enum import StrEnum
from typing import TYPE_CHECKING, Protocol, TypeAlias

from tui_trader.core.orders import Order, Side
from tui_trader.core.types import format_decimal, to_decimal

if TYPE_CHECKING:
    from tui_trader.config import RiskSettings

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
    """

    @property
    def equity(self) -> Decimal: ...

    @property
    def day_start_equity(self) -> Decimal: ...

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

    @classmethod
    def from_settings(cls, settings: RiskSettings) -> RiskLimits:
        """Floats from the config become Decimals through their shortest text (3.1 stays 3.1)."""
        return cls(
            daily_loss_limit=settings.daily_loss_limit,
            daily_loss_pct=_dec(settings.daily_loss_pct),
            max_drawdown_pct=_dec(settings.max_drawdown_pct),
            max_orders_per_minute=settings.max_orders_per_minute,
            max_reject_streak=settings.max_reject_streak,
            max_symbol_notional=settings.max_symbol_notional,
            max_gross_exposure=_dec(settings.max_gross_exposure),
            stale_data_seconds=settings.stale_data_seconds,
            warning_fraction=_dec(settings.warning_fraction),
            rate_cooldown_seconds=settings.rate_cooldown_seconds,
        )


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

    def check(self, intent: Intent, book: Book, *, price: Decimal | None, now: datetime) -> Verdict:
        """Allow or deny one intent. ``price`` is the caller's mark for the order's symbol
        (the book's mark is used when it is None). Never raises: an error denies the order."""
        if isinstance(intent, Cancel | Flatten):
            verdict = ALLOWED
        else:
            try:
                verdict = self._check_order(intent, book, price, now)
            except Exception as exc:
                verdict = Verdict.deny("RISK_ERROR", error=type(exc).__name__)
        self._last = verdict
        return verdict

    def _check_order(
        self, order: Order, book: Book, price: Decimal | None, now: datetime
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
        mark = price if price is not None else book.price(symbol)
        px = order.limit_price if order.limit_price is not None else mark
        if px is not None and px <= 0:
            px = None

        # Whether the order shrinks |position| without flipping it, in shares or in money.
        if order.qty is not None:
            if order.qty <= 0:
                raise ValueError("qty must be positive")
            before: Decimal | None = current
            after: Decimal | None = current + sign * order.qty
            shares, notional = order.qty, None
        elif order.notional is not None:
            if order.notional <= 0:
                raise ValueError("notional must be positive")
            shares, notional = _ZERO, order.notional
            before = current * px if px is not None else None
            after = before + sign * notional if before is not None else None
        else:
            raise ValueError("order has neither qty nor notional")
        if before is not None and after is not None and _reduces(before, after):
            return ALLOWED

        if state is TradingState.REDUCING:
            return Verdict.deny(
                "REDUCING",
                symbol=symbol,
                side=order.side.value,
                position=_num(current),
                cause=self._reducing_cause(),
            )
        if px is None:
            return Verdict.deny("NO_PRICE", symbol=symbol)
        if self._data_age is None:
            return Verdict.deny(
                "STALE_DATA", age="unknown", limit=_num(self.breaker(BreakerName.STALE_DATA).limit)
            )

        size = notional if notional is not None else shares * px
        projected = abs(current * px + sign * size)
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

        held = abs(current * (mark if mark is not None and mark > 0 else px))
        gross = book.gross_exposure - held + projected
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
        """Loss, drawdown and gross exposure from the book; all read before any is stored."""
        equity = book.equity
        start = book.day_start_equity
        peak = book.peak_equity
        gross = book.gross_exposure
        lim = self._limits
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
        return breaker.tripped and not breaker.latching and breaker.name not in _PER_ORDER

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


def _reduces(before: Decimal, after: Decimal) -> bool:
    """|position| shrinks and keeps its sign (reaching zero counts)."""
    if before > 0:
        return _ZERO <= after < before
    if before < 0:
        return before < after <= _ZERO
    return False


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
