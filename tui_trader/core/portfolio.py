"""The book: positions, cash and P&L, built from trade events (API.md §3.1, §3.4, §4.1).

Fed by the engine with parsed stream events, quotes and the occasional broker REST
snapshot; read by the UI as immutable :class:`BookSnapshot` objects (cached, so reading
at 20 Hz costs nothing between changes). Pure and synchronous, like the rest of the core.

Streams are replayed with an overlap after every reconnect (§2.4), so every input is
idempotent: fills per execution id, NTA entries per event key. Each symbol keeps the list
of its executions, so that a ``trade_bust`` or ``trade_correct`` simply edits that list and
recomputes the symbol, which undoes quantity, cash and realized P&L together. A reconcile
that finds the broker's position different records the difference (shares and cost) at its
place in that list, so a later bust or correction of an earlier execution still recomputes
the symbol: it moves quantity, basis and cash by its own amount and realizes nothing unless
a sale did. Money stays Decimal; the open cost is kept as an exact sum rather than as an
average, so fills neither create nor destroy money (``cash + cost basis - realized`` is
conserved).

Until the broker's account has been read (``Portfolio(None)``), cash and the day's starting
equity are unknown and the snapshot says so (:attr:`BookSnapshot.account_known`): the risk
engine then cannot measure a loss and holds the desk to reducing orders.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal, InvalidOperation
from types import MappingProxyType
from typing import Any, Final

from tui_trader.core.events import NtaEvent, TradeEvent
from tui_trader.core.fastparse import FILL_KINDS
from tui_trader.core.models import Position, WireOrder
from tui_trader.core.types import format_decimal, parse_timestamp, to_decimal

__all__ = ["BookSnapshot", "Portfolio", "PositionView", "symbol_key"]

_ZERO: Final = Decimal(0)
MAX_EXECS: Final = 20_000
"""Executions remembered for busts, corrections and replay checks; older ones are folded
into their symbol's base so that a long session's memory stays flat."""
_COST_QUANTUM: Final = Decimal("1e-12")
"""Pro-rata cost taken off a reduced position is rounded here, so sums stay exact."""
_SHOW_QUANTUM: Final = Decimal("1e-6")
_AVG_TOLERANCE: Final = Decimal("1e-6")
"""Relative difference of average entry that is rounding, not a discrepancy: reconcile leaves
the book's exact figure (adopting the broker's rounding would turn it into an adjustment
that a later bust or correction carries along)."""
_CASH_TOLERANCE: Final = Decimal("0.005")
"""Cash differences under half a cent are rounding, not a missed fee."""


def symbol_key(symbol: str) -> str:
    """One key for every spelling of a symbol: orders say ``BTC/USD``, positions ``BTCUSD``
    (API.md §8), and a ledger that kept both would show a phantom position.
    """
    return symbol.strip().upper().replace("/", "")


def _direction(side: str) -> int:
    """+1 for buys, -1 for sells (Broker's ``buy_minus``, ``sell_short``... included); 0 for
    sides whose direction cannot be told (``cross``, ``undisclosed``): those are not booked
    and a reconcile corrects the book.
    """
    text = side.strip().lower()
    if text.startswith("buy"):
        return 1
    if text.startswith("sell"):
        return -1
    return 0


def _round_cost(value: Decimal) -> Decimal:
    try:
        rounded = value.quantize(_COST_QUANTUM)
    except InvalidOperation:  # beyond 16 integer digits: no room to round, keep as is
        return value
    return value if rounded == value else rounded  # exact values keep their digits


def _show(value: Decimal) -> str:
    exponent = value.as_tuple().exponent
    if isinstance(exponent, int) and exponent < -6:
        value = value.quantize(_SHOW_QUANTUM)
    return format_decimal(value)


def _later(a: datetime | None, b: datetime | None) -> datetime | None:
    if a is None:
        return b
    if b is None:
        return a
    return max(a, b)


def _step(
    qty: Decimal, cost: Decimal, realized: Decimal, trade: Decimal, price: Decimal
) -> tuple[Decimal, Decimal, Decimal]:
    """Book one signed trade on a position held as (qty, total cost, realized P&L).

    Adding moves the cost by ``trade * price`` (a weighted average entry); reducing takes
    the pro-rata cost off and realizes the difference to the proceeds; crossing zero closes
    the whole position that way and opens the rest at ``price``.
    """
    if trade == 0:
        return qty, cost, realized
    if qty == 0 or (qty > 0) == (trade > 0):
        return qty + trade, cost + trade * price, realized
    closing = trade if abs(trade) <= abs(qty) else -qty  # part of the trade that closes
    removed = cost if closing == -qty else _round_cost(cost * -closing / qty)
    realized += -closing * price - removed
    qty += closing
    cost -= removed
    rest = trade - closing
    if rest:
        qty, cost = rest, rest * price
    return qty, cost, realized


@dataclass(frozen=True)
class PositionView:
    """One symbol as the UI shows it. ``qty`` and money are signed: a short has negative
    ``qty``, ``cost_basis`` and ``market_value``. Without a mark the position is valued at
    its cost, so ``unrealized`` is zero until a price arrives.
    """

    symbol: str
    qty: Decimal
    avg_entry: Decimal
    realized: Decimal
    mark: Decimal | None
    unrealized: Decimal
    market_value: Decimal
    cost_basis: Decimal
    last_fill_at: datetime | None


@dataclass(frozen=True)
class BookSnapshot:
    """The whole book at one moment; immutable, so the UI can hold it across frames.

    ``positions`` holds open positions only (what the broker lists); realized P&L of closed
    symbols is still in ``realized_pnl`` and in :meth:`Portfolio.position`.
    """

    cash: Decimal
    equity: Decimal
    positions: Mapping[str, PositionView]
    realized_pnl: Decimal
    unrealized_pnl: Decimal
    day_pnl: Decimal
    day_start_equity: Decimal
    peak_equity: Decimal
    drawdown: Decimal
    gross_exposure: Decimal
    net_exposure: Decimal
    leverage: Decimal
    fills: int
    as_of: datetime | None
    account_known: bool = True
    """False until the broker's cash and the day's starting equity have been read: equity,
    day P&L and drawdown are then not the account's."""

    def qty(self, symbol: str) -> Decimal:
        """Signed quantity held (0 when flat): with :meth:`price`, the risk engine's Book."""
        view = self._view(symbol)
        return _ZERO if view is None else view.qty

    def price(self, symbol: str) -> Decimal | None:
        view = self._view(symbol)
        return None if view is None else view.mark

    def _view(self, symbol: str) -> PositionView | None:
        view = self.positions.get(symbol)
        if view is None:
            key = symbol_key(symbol)
            view = next((v for v in self.positions.values() if symbol_key(v.symbol) == key), None)
        return view

    def weight(self, symbol: str) -> Decimal:
        """Market value of ``symbol`` over equity (signed; 0 when flat or equity <= 0)."""
        if self.equity <= 0:
            return _ZERO
        view = self._view(symbol)
        return _ZERO if view is None else view.market_value / self.equity


@dataclass(slots=True, eq=False)
class _Exec:
    """One execution as booked. ``side`` is kept apart from ``qty`` so a correction to
    zero shares cannot lose the direction.
    """

    key: str
    line: _Line
    side: int
    qty: Decimal
    price: Decimal
    at: datetime | None
    live: bool = True
    forgotten: bool = False
    """Folded into its line's base (a long session): a bust or correction naming it is not
    booked any more (the next reconcile repairs the book)."""


@dataclass(slots=True, eq=False)
class _Adjust:
    """A reconcile's correction at its place among a line's executions: the broker held
    ``qty`` more shares at ``cost`` more basis than the book had booked until then."""

    qty: Decimal
    cost: Decimal


@dataclass(slots=True, eq=False)
class _Line:
    """One symbol's ledger: a base (zero, or what a long session folded away) plus its
    executions and reconcile adjustments, in the order they were booked."""

    symbol: str
    base_qty: Decimal = _ZERO
    base_cost: Decimal = _ZERO
    base_realized: Decimal = _ZERO
    base_at: datetime | None = None
    execs: list[_Exec | _Adjust] = field(default_factory=list)
    qty: Decimal = _ZERO
    cost: Decimal = _ZERO
    realized: Decimal = _ZERO
    last_fill_at: datetime | None = None
    mark: Decimal | None = None
    traded: bool = False

    def book(self, ex: _Exec) -> None:
        self.qty, self.cost, self.realized = _step(
            self.qty, self.cost, self.realized, ex.qty, ex.price
        )
        self.last_fill_at = _later(self.last_fill_at, ex.at)

    def adjust(self, item: _Adjust) -> None:
        """Apply a reconcile's difference; a line it leaves flat has no basis left."""
        self.qty += item.qty
        self.cost = self.cost + item.cost if self.qty else _ZERO

    def refold(self) -> None:
        self.qty, self.cost, self.realized = self.base_qty, self.base_cost, self.base_realized
        self.last_fill_at = self.base_at
        for item in self.execs:
            if isinstance(item, _Adjust):
                self.adjust(item)
            elif item.live:
                self.book(item)

    def fold(self, upto: int) -> None:
        """Fold the first ``upto`` entries into the base (the book does not change): their
        executions are forgotten; the later ones stay live."""
        done, rest = self.execs[:upto], self.execs[upto:]
        self.execs = done
        self.refold()
        self.base_qty, self.base_cost = self.qty, self.cost
        self.base_realized, self.base_at = self.realized, self.last_fill_at
        for item in done:
            if isinstance(item, _Exec):
                item.forgotten = True
        self.execs = rest
        self.refold()

    def reconcile(self, qty: Decimal, cost: Decimal) -> None:
        """Take the broker's quantity and basis, recorded as a difference at this point."""
        self.execs.append(_Adjust(qty - self.qty, cost - self.cost))
        self.qty, self.cost = qty, cost
        self.traded = True

    @property
    def avg(self) -> Decimal:
        return self.cost / self.qty if self.qty else _ZERO

    @property
    def market_value(self) -> Decimal:
        return self.cost if self.mark is None else self.qty * self.mark

    def view(self) -> PositionView:
        value = self.market_value
        return PositionView(
            symbol=self.symbol,
            qty=self.qty,
            avg_entry=self.avg,
            realized=self.realized,
            mark=self.mark,
            unrealized=value - self.cost,
            market_value=value,
            cost_basis=self.cost,
            last_fill_at=self.last_fill_at,
        )


class Portfolio:
    """The ledger. Feed it :meth:`apply` / :meth:`apply_nta` / :meth:`mark`; read it through
    :meth:`snapshot`. Never raises on odd events: what it cannot book it ignores (returning
    False), and :meth:`reconcile` against the broker repairs whatever drifted.

    ``cash`` None: the account has not been read yet. Cash counts as 0 and the day's start
    is unknown until :meth:`reconcile` brings cash and :meth:`start_day` the day's start.
    """

    def __init__(
        self,
        cash: Decimal | None = _ZERO,
        *,
        day_start_equity: Decimal | None = None,
        max_execs: int = MAX_EXECS,
    ) -> None:
        self._cash_known = cash is not None
        self._day_known = cash is not None or day_start_equity is not None
        cash = _ZERO if cash is None else cash
        self._cash = cash
        self._max_execs = max(2, max_execs)
        self._lines: dict[str, _Line] = {}
        self._execs: dict[str, _Exec] = {}  # execution key (and correction ids) -> execution
        self._voided: set[str] = set()  # busted before their fill arrived
        self._pending: dict[str, tuple[Decimal | None, Decimal | None, str | None]] = {}
        self._seen: set[str] = set()  # corrections and NTA entries already booked
        self._fills = 0
        self._as_of: datetime | None = None
        self._day_start = cash if day_start_equity is None else day_start_equity
        self._peak = cash
        self._snap: BookSnapshot | None = None

    # --- inputs ---------------------------------------------------------------------------

    def apply(self, event: TradeEvent) -> bool:
        """Book a trade event; True if the book changed. Replays and non-trade kinds are no-ops."""
        kind = event.event
        if kind in FILL_KINDS:
            changed = self._fill(event)
        elif kind == "trade_bust":
            changed = self._bust(event)
        elif kind == "trade_correct":
            changed = self._correct(event)
        else:
            return False
        if changed:
            self._touched(event.timestamp or event.at)
        return changed

    def book_execution(
        self, key: str, symbol: str, side: str, qty: Decimal, price: Decimal, at: datetime | None
    ) -> bool:
        """Book one plain execution exactly as :meth:`apply` books a single-leg fill with
        these values (``key``: its execution id, or ``order:<id>:<filled qty>``), for fills
        read natively (:func:`tui_trader.core.fastparse.brief_fill`)."""
        changed = self._book(key, symbol, side, qty, price, at)
        if changed:
            self._touched(at)
        return changed

    def apply_nta(self, event: NtaEvent) -> bool:
        """Add a non-trade activity's ``net_amount`` to cash (fees negative, dividends
        positive), once per event key. ``pending`` entries are not booked yet: the executed
        one arrives as its own event.
        """
        amount = event.net_amount
        if amount is None or amount == 0 or (event.status or "").lower() == "pending":
            return False
        key = f"nta:{event.key}"
        if key in self._seen:
            return False
        self._seen.add(key)
        self._cash += amount
        self._touched(event.at)
        return True

    def mark(self, symbol: str, price: Decimal, at: datetime | None = None) -> None:
        """Set the price that values ``symbol`` (last trade or mid, the caller's choice)."""
        if not price.is_finite():
            raise ValueError(f"mark for {symbol} is not a finite price: {price}")
        at = parse_timestamp(at)  # a naive time is read as UTC, like every wire time
        line = self._line(symbol)
        if line.mark == price and (at is None or (self._as_of is not None and at <= self._as_of)):
            return
        line.mark = price
        self._touched(at)

    def start_day(self, equity: Decimal | None = None) -> None:
        """Start a new day's P&L from ``equity`` (the broker's ``last_equity``) or from now."""
        self._day_start = self._equity() if equity is None else equity
        self._day_known = True
        self._snap = None

    def forget_day(self) -> None:
        """A new trading day began and its starting equity is not known yet: until
        :meth:`start_day`, the snapshot says the account is not known."""
        self._day_known = False
        self._snap = None

    def reconcile(self, positions: Iterable[Position], cash: Decimal | None = None) -> list[str]:
        """Make the book equal the broker's positions (and cash, if given).

        Returns one readable line per real discrepancy it corrected. An average entry that
        differs by rounding only is left as the book has it; cash is always taken, silently
        when the difference is rounding. Marks are taken from ``current_price``. Realized
        P&L is kept: the broker does not report it. Positions and cash should come from one
        moment of the broker's account (see the engine), or equity is off by what moved.
        """
        messages: list[str] = []
        broker: dict[str, Position] = {}
        for position in positions:
            broker[symbol_key(position.symbol)] = position
        for key, line in self._lines.items():
            if line.qty and key not in broker:
                messages.append(
                    f"{line.symbol}: book had {_show(line.qty)} @ {_show(line.avg)}, broker is flat"
                )
                line.reconcile(_ZERO, _ZERO)
        for position in broker.values():
            line = self._line(position.symbol)
            if position.current_price is not None:
                line.mark = position.current_price
            qty = position.signed_qty
            avg = position.avg_entry_price
            if avg is None:
                same_side = line.qty and (line.qty > 0) == (qty > 0)
                avg = line.avg if same_side else (position.current_price or _ZERO)
            cost = qty * avg
            if line.qty == qty and line.cost == cost:
                continue
            rounding = _AVG_TOLERANCE * max(Decimal(1), abs(avg))
            if line.qty == qty and qty and abs(line.avg - avg) <= rounding:
                continue  # the same position: keep the book's exact basis
            if not qty:
                messages.append(
                    f"{line.symbol}: book had {_show(line.qty)} @ {_show(line.avg)}, broker is flat"
                )
            elif not line.qty:
                messages.append(
                    f"{line.symbol}: broker has {_show(qty)} @ {_show(avg)}, book had none"
                )
            else:
                changes = []
                if line.qty != qty:
                    changes.append(f"qty {_show(line.qty)} -> {_show(qty)}")
                if abs(line.avg - avg) > rounding:
                    changes.append(f"avg entry {_show(line.avg)} -> {_show(avg)}")
                if changes:
                    messages.append(f"{line.symbol}: " + ", ".join(changes))
            line.reconcile(qty, cost)
        if cash is not None:
            if cash != self._cash and abs(cash - self._cash) >= _CASH_TOLERANCE:
                messages.append(f"cash {_show(self._cash)} -> {_show(cash)}")
            self._cash = cash
            if not self._cash_known:  # a peak from before the cash was known means nothing
                self._cash_known = True
                self._peak = self._equity()
        self._touched(None)
        return messages

    # --- outputs --------------------------------------------------------------------------

    def snapshot(self) -> BookSnapshot:
        """The current book; the same object is returned until something changes."""
        if self._snap is None:
            self._snap = self._build()
        return self._snap

    def position(self, symbol: str) -> PositionView | None:
        """``symbol``'s line, flat ones included (for their realized P&L); None if never traded."""
        line = self._lines.get(symbol_key(symbol))
        return line.view() if line is not None and line.traded else None

    # --- internals ------------------------------------------------------------------------

    def _line(self, symbol: str) -> _Line:
        key = symbol_key(symbol)
        line = self._lines.get(key)
        if line is None:
            line = self._lines[key] = _Line(symbol.strip())
        elif "/" in symbol and "/" not in line.symbol:
            line.symbol = symbol.strip()  # BTC/USD reads better than BTCUSD
        return line

    def _touched(self, at: datetime | None) -> None:
        self._as_of = _later(self._as_of, at)
        self._peak = max(self._peak, self._equity())
        self._snap = None

    def _equity(self) -> Decimal:
        return self._cash + sum((line.market_value for line in self._lines.values()), _ZERO)

    def _fill(self, event: TradeEvent) -> bool:
        order = event.order
        if event.legs:
            return self._fill_legs(event, order)
        if order is None or event.qty is None or event.price is None:
            return False
        # A fill without execution id is keyed by how much of its order it completes.
        key = event.execution_id or f"order:{order.id}:{format_decimal(order.filled_qty)}"
        return self._book(
            key, order.symbol, order.side, event.qty, event.price, event.timestamp or event.at
        )

    def _fill_legs(self, event: TradeEvent, order: WireOrder | None) -> bool:
        """Multi-leg fills: one execution per leg; the side comes from the parent order's
        child of that leg (the leg entry itself carries none).
        """
        children = (order.legs or []) if order is not None else []
        changed = False
        for index, leg in enumerate(event.legs or []):
            try:
                qty = to_decimal(leg.get("qty"))
                price = to_decimal(leg.get("price"))
                at = parse_timestamp(leg.get("timestamp")) or event.timestamp or event.at
            except ValueError:
                continue
            symbol = _text(leg.get("symbol"))
            order_id = _text(leg.get("order_id"))
            child = next((c for c in children if order_id and c.id == order_id), None)
            if child is None and symbol:
                child = next(
                    (c for c in children if symbol_key(c.symbol) == symbol_key(symbol)), None
                )
            side = _text(leg.get("side")) or (child.side if child is not None else "")
            symbol = symbol or (child.symbol if child is not None else "")
            key = _text(leg.get("execution_id")) or f"leg:{event.key}:{index}"
            if qty is not None and price is not None:
                changed |= self._book(key, symbol, side, qty, price, at)
        return changed

    def _book(
        self, key: str, symbol: str, side: str, qty: Decimal, price: Decimal, at: datetime | None
    ) -> bool:
        sign = _direction(side)
        if not sign or not symbol.strip() or not qty or key in self._execs or key in self._voided:
            return False
        fix = self._pending.pop(key, None)
        if fix is not None:  # a correction that arrived before its fill
            qty = qty if fix[0] is None else fix[0]
            price = price if fix[1] is None else fix[1]
        line = self._line(symbol)
        ex = _Exec(key, line, sign, sign * abs(qty), price, at)
        self._execs[key] = ex
        if fix is not None and fix[2] is not None:
            self._execs.setdefault(fix[2], ex)
        line.execs.append(ex)
        line.traded = True
        line.book(ex)
        self._cash -= ex.qty * ex.price
        self._fills += 1
        if len(self._execs) > self._max_execs:
            self._forget_oldest()
        return True

    def _forget_oldest(self) -> None:
        """Forget the older half of the executions, folding each symbol's list up to its
        last forgotten one into the symbol's base.

        The book does not change. What is lost: a bust or correction naming a forgotten
        execution is not booked (the next reconcile with the broker repairs that), and a
        replay of one is no longer recognised here (the journal's de-duplication still is).
        Later executions of the same symbol stay live.
        """
        old = list(self._execs)[: len(self._execs) // 2]
        last: dict[_Line, _Exec] = {}
        for key in old:
            ex = self._execs[key]
            last[ex.line] = ex
        for line, ex in last.items():
            if ex.forgotten:
                continue
            upto = next((i for i, item in enumerate(line.execs) if item is ex), None)
            if upto is not None:
                line.fold(upto + 1)
        for key in old:
            del self._execs[key]

    def _bust(self, event: TradeEvent) -> bool:
        target = event.previous_execution_id
        if target is None:
            return False
        ex = self._execs.get(target)
        if ex is None:
            self._voided.add(target)  # its fill, if it ever comes, must not be booked
            return False
        if not ex.live or ex.forgotten:
            return False
        self._void(ex)
        return True

    def _correct(self, event: TradeEvent) -> bool:
        target = event.previous_execution_id
        if target is None or (event.qty is None and event.price is None):
            return False
        own = f"correct:{event.execution_id or event.key}"
        if own in self._seen:
            return False
        self._seen.add(own)
        ex = self._execs.get(target)
        if ex is None:
            if target not in self._voided:
                self._pending[target] = (event.qty, event.price, event.execution_id)
            return False
        if event.execution_id is not None:  # a later bust or correct may name the correction
            self._execs.setdefault(event.execution_id, ex)
        if not ex.live or ex.forgotten:
            return False
        qty = ex.qty if event.qty is None else ex.side * abs(event.qty)
        price = ex.price if event.price is None else event.price
        if qty == ex.qty and price == ex.price:
            return False
        self._cash += ex.qty * ex.price - qty * price
        ex.qty, ex.price = qty, price
        ex.line.refold()
        return True

    def _void(self, ex: _Exec) -> None:
        """Take an execution out: recompute its symbol as if it had never been (reconcile
        adjustments after it stay in place)."""
        self._cash += ex.qty * ex.price
        ex.live = False
        ex.line.refold()

    def _build(self) -> BookSnapshot:
        views: dict[str, PositionView] = {}
        realized = unrealized = gross = net = _ZERO
        for line in self._lines.values():
            realized += line.realized
            if line.qty:
                view = line.view()
                views[view.symbol] = view
                unrealized += view.unrealized
                gross += abs(view.market_value)
                net += view.market_value
        equity = self._cash + net
        peak = max(self._peak, equity)
        drawdown = (peak - equity) / peak if peak > 0 else _ZERO
        return BookSnapshot(
            cash=self._cash,
            equity=equity,
            positions=MappingProxyType(views),
            realized_pnl=realized,
            unrealized_pnl=unrealized,
            day_pnl=equity - self._day_start,
            day_start_equity=self._day_start,
            peak_equity=peak,
            drawdown=max(drawdown, _ZERO),
            gross_exposure=gross,
            net_exposure=net,
            leverage=gross / equity if equity > 0 else _ZERO,
            fills=self._fills,
            as_of=self._as_of,
            account_known=self._cash_known and self._day_known,
        )


def _text(value: Any) -> str:
    return value.strip() if isinstance(value, str) else ""
