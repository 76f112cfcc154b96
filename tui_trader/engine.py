"""The desk: events feed the ledger and the risk engine; market data feeds the policy; the
policy's proposals pass the risk gate and go out exactly once; the trader's levers (pause,
resume, flatten, manual orders, breaker resets) act through the same gate.

The gate judges every order, the policy's and the trader's, against the position plus the
book of working orders (:mod:`tui_trader.core.working`): an order joins that book the moment
the gate lets it through, before it is sent, and leaves it on the broker's word. The money is
the broker's: cash, positions and open orders are taken from one consistent reading of the
account at start-up, after every reconcile and at each new trading day (the market's next
open, from ``/v2/clock``), when the day's P&L restarts from the broker's previous close
(``last_equity``). Until the account has been read, the desk stays REDUCING and says why.

It owns no screen and speaks HTTP only through the broker layer. The UI (and anything else)
reads :meth:`Desk.snapshot`, an immutable view rebuilt on demand, and calls the commands.
Every decision (signal, risk verdict, order, denial, lever) is written to the journal's
audit trail, so the journal explains every order.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from tui_trader.broker.faults import FAULT_MENU, FaultError
from tui_trader.broker.faults import inject as inject_fault
from tui_trader.broker.ordering import FlattenReport, OrderResult, OrderSender, Outcome, flatten
from tui_trader.broker.rest import AlpacaError, AlpacaREST, NotFoundError
from tui_trader.broker.status import ConnectionStatus, Transition
from tui_trader.broker.supervisor import Delivered, Supervisor, SupervisorOptions
from tui_trader.core.convexity import ConvexityDetector, ConvexityReading
from tui_trader.core.events import AccountStatusEvent, NtaEvent, TradeEvent
from tui_trader.core.fastparse import FILL_KINDS, BriefFill, BriefTrade, brief_fill, brief_trade
from tui_trader.core.models import Account, Position, WireOrder
from tui_trader.core.orders import Order, OrderBuilder, market_time_in_force
from tui_trader.core.policy import Decision, OnlinePolicy, PolicyConfig
from tui_trader.core.portfolio import BookSnapshot, Portfolio, symbol_key
from tui_trader.core.risk import Flatten, RiskEngine, RiskLimits, RiskSnapshot, Verdict
from tui_trader.core.sizing import fit_to_limits
from tui_trader.core.tradingday import MarketClock, TradingDay
from tui_trader.core.working import WorkingOrders, news_from_payload, news_from_wire

if TYPE_CHECKING:
    from tui_trader.broker.journal import Journal
    from tui_trader.config import Settings
    from tui_trader.desk.target import Target

log = logging.getLogger("tui_trader.desk")

PAUSED_KEY = "paused"
MAX_EVENTS = 200
MAX_ORDERS = 100
MAX_NOTICES = 20
MAX_HISTORY = 60  # closes per symbol for the sparkline
MAX_BACKOFFS = 8
# trade events that book, undo or amend executions: the ledger needs the full model
WARM_UP_SLICE = 200
"""Bars the policy learns from between two turns of the event loop during the warm-up (at
start, 5 days of minute bars per symbol held the screen still for ~2 s on the 2-core machine)."""
LEDGER_KINDS = FILL_KINDS | {"trade_bust", "trade_correct"}
ACCEPT_KINDS = frozenset({"new", "fill", "partial_fill"})  # the broker took the order
ACCOUNT_TRIES = 3
"""Readings of the account for one consistent snapshot before giving up until the next."""
ACCOUNT_SETTLE = 0.25
"""Seconds to let in-flight trade events land between two tries (times the try number)."""
ACCOUNT_RETRY_MAX = 60.0


@dataclass(frozen=True)
class EventLine:
    """One event as the events pane shows it."""

    at: str | None
    stream: str
    kind: str
    symbol: str | None
    text: str
    source: str = "stream"
    seq: int = 0  # increases by one per event: a pane appends only what it has not seen


@dataclass(frozen=True)
class OrderLine:
    client_order_id: str
    symbol: str
    side: str
    qty: str
    source: str
    state: str
    detail: str = ""


@dataclass(frozen=True)
class FlattenPreview:
    """What a flatten would send, for the trader to read before confirming."""

    open_orders: tuple[str, ...]  # one line per order to cancel
    positions: tuple[tuple[str, Decimal], ...]  # (symbol, signed qty) to close
    error: str | None = None  # the broker could not be asked; flatten still works

    @property
    def empty(self) -> bool:
        return not self.open_orders and not self.positions and self.error is None


@dataclass(frozen=True)
class DeskSnapshot:
    """Everything the screen shows, at one moment, immutable."""

    at: datetime
    target: str
    trading: bool
    connection: ConnectionStatus
    book: BookSnapshot
    risk: RiskSnapshot
    signals: Mapping[str, Decision]
    convexity: Mapping[str, ConvexityReading]
    events: tuple[EventLine, ...]
    orders: tuple[OrderLine, ...]
    notices: tuple[str, ...]
    market_data_age: float | None
    symbols: tuple[str, ...]
    mode: str = "sim"
    account: str | None = None
    prices: Mapping[str, Decimal] = field(default_factory=dict)
    history: Mapping[str, tuple[float, ...]] = field(default_factory=dict)  # recent closes
    prev_close: Mapping[str, Decimal] = field(default_factory=dict)  # for the day change
    verdicts: Mapping[str, Verdict] = field(default_factory=dict)  # last gate verdict/symbol
    backoff_delays: tuple[tuple[str, float], ...] = ()  # recent (stream, seconds), oldest first
    faults: tuple[str, ...] = ()  # the SIM fault menu's keys; empty when not on the emulator


class _RiskBook:
    """The ledger's snapshot in the shape the risk engine reads (positions and prices)."""

    def __init__(self, book: BookSnapshot, prices: Mapping[str, Decimal]) -> None:
        self._book = book
        self._prices = prices
        self.equity = book.equity
        # no day start while the account is unknown: the loss breakers cannot be measured
        self.day_start_equity = book.day_start_equity if book.account_known else None
        self.peak_equity = book.peak_equity
        self.gross_exposure = book.gross_exposure

    def qty(self, symbol: str) -> Decimal:
        pos = self._book.positions.get(symbol)
        return pos.qty if pos is not None else Decimal(0)

    def price(self, symbol: str) -> Decimal | None:
        if symbol in self._prices:
            return self._prices[symbol]
        pos = self._book.positions.get(symbol)
        return pos.mark if pos is not None else None


@dataclass
class DeskOptions:
    trade: bool = False  # the policy sends orders (False: it only proposes)
    poll_interval: float = 1.0  # seconds between market data polls
    symbols: tuple[str, ...] = ()
    streams: tuple[str, ...] = ("trades", "accounts", "nta")
    since: datetime | None = None
    warmup: bool = True  # fetch history for the policy at start
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    account_retry: float = 2.0  # first wait before reading an unreadable account again
    clock_every: float = 60.0  # seconds between readings of the market clock
    lookup_every: float = 10.0  # seconds between lookups of orders whose answer was lost


class Desk:
    def __init__(
        self, settings: Settings, target: Target, journal: Journal, options: DeskOptions
    ) -> None:
        self.settings = settings
        self.target = target
        self.journal = journal
        self.options = options
        self.symbols = tuple(options.symbols or settings.sim.symbols)
        self.rest: AlpacaREST = target.rest()
        self.http = target.http()
        self.supervisor = Supervisor(
            self.rest,
            journal,
            self.http,
            target.auth_headers(),
            SupervisorOptions.from_settings(
                settings.stream, streams=options.streams, since=options.since
            ),
        )
        self.portfolio = Portfolio(None)  # the account is unknown until it has been read
        self.risk = RiskEngine(
            RiskLimits.from_settings(settings.risk),
            paused=bool(journal.get_setting(PAUSED_KEY, False)),
        )
        self.convexity = ConvexityDetector()
        self.policy = OnlinePolicy(PolicyConfig.from_settings(settings.policy), self.convexity)
        self.sender = OrderSender(self.rest, journal)
        self._clock = options.clock
        self._signals: dict[str, Decision] = {}
        self._readings: dict[str, ConvexityReading] = {}
        self._prices: dict[str, Decimal] = {}
        self._last_bar: dict[str, datetime] = {}
        self._events: deque[EventLine] = deque(maxlen=MAX_EVENTS)
        self._orders: deque[OrderLine] = deque(maxlen=MAX_ORDERS)
        self._notices: deque[str] = deque(maxlen=MAX_NOTICES)
        self._data_at: float | None = None
        self._seq = 0
        self._history: dict[str, deque[float]] = {}
        self._prev_close: dict[str, Decimal] = {}
        self._last_close: dict[str, tuple[datetime, Decimal]] = {}
        self._verdicts: dict[str, Verdict] = {}
        self._backoffs: deque[tuple[str, float]] = deque(maxlen=MAX_BACKOFFS)
        self._account: str | None = None
        self.working = WorkingOrders()  # every order that may still fill, ours or not
        self.day = TradingDay(options.clock_every)
        self._ledger_events = 0  # trade events that moved the ledger (fills, busts, fixes)
        self._account_lock = asyncio.Lock()
        self._account_delay = options.account_retry
        self._account_retry_at: float | None = None  # monotonic: read the account again
        self._unknown_at = 0.0  # monotonic: look up orders whose send answer was lost
        self._background: set[asyncio.Task[Any]] = set()
        self._queue: asyncio.Queue[tuple[Order, str]] = asyncio.Queue()
        self._stop = asyncio.Event()
        self._tasks: list[asyncio.Task[Any]] = []
        self._listeners: list[Callable[[], None]] = []
        self.supervisor.on_events(self._on_events)
        self.supervisor.on_reconcile(self._on_reconcile)
        self.supervisor.on_status(self._on_status)

    # ------------------------------------------------------------------------ lifecycle
    async def run(self) -> None:
        """Run until :meth:`stop` (or an authentication failure)."""
        await self._bootstrap()
        self._tasks = [
            asyncio.create_task(self.supervisor.run(), name="supervisor"),
            asyncio.create_task(self._market_loop(), name="market"),
            asyncio.create_task(self._order_loop(), name="orders"),
        ]
        try:
            await self._tasks[0]  # the supervisor ends on stop() or AUTH_FAILED
        finally:
            self._stop.set()
            rest = [*self._tasks[1:], *self._background]  # a reconcile's account reading too
            for task in rest:
                task.cancel()
            await asyncio.gather(*rest, return_exceptions=True)

    def stop(self) -> None:
        self._stop.set()
        self.supervisor.stop()

    async def aclose(self) -> None:
        await self.http.aclose()
        await self.rest.aclose()

    def on_change(self, listener: Callable[[], None]) -> None:
        """Told (without arguments) whenever the snapshot would differ; read it then."""
        self._listeners.append(listener)

    async def _bootstrap(self) -> None:
        await self._sync_account(None, self._ledger_events, "start-up")
        await self._check_day()
        pending = {row.client_order_id: row for row in self.journal.intents(["pending", "unknown"])}
        for result in await self.sender.resolve_pending():
            self._audit("order", _result_data(result), result.symbol)
            row = pending.get(result.client_order_id)
            if result.outcome is Outcome.SUBMITTED and result.order is not None:
                self.working.observe(news_from_wire("rest", result.order), result.client_order_id)
            elif result.outcome is Outcome.UNKNOWN and row is not None:
                self.working.restore(result.client_order_id, row.intent)  # it may exist
        if self.options.warmup:
            await self._warm_up()
        if self.risk.paused:
            self._notice("trading is paused (from the journal); resume to trade")

    async def _warm_up(self) -> None:
        """Feed the policy the recent history (days of minute bars): its model learns from
        all of it, not just the warm-up minimum, so it can act on the first live bar."""
        try:
            clock = await self.rest.get_clock()
            now = _parse_time(str(clock.get("timestamp", ""))) or self._clock()
            history = await self.rest.bars(
                list(self.symbols), "1Min", start=now - timedelta(days=5), end=now
            )
        except AlpacaError as exc:
            self._notice(f"no history for the policy ({exc}); it warms up live")
            return
        for symbol, bars in history.items():
            for n, bar in enumerate(bars, 1):
                self._record_close(symbol, bar.timestamp, bar.close)
                self.policy.observe(symbol, float(bar.close), bar.timestamp)
                self._last_bar[symbol] = bar.timestamp
                if n % WARM_UP_SLICE == 0:  # days of bars take seconds: the screen keeps going
                    await asyncio.sleep(0)
            self._readings[symbol] = self.convexity.reading(symbol)
        # the signals pane shows the policy's view from the start, not after the next bar;
        # nothing is traded on it (the next live bar decides)
        book = self.portfolio.snapshot()
        for symbol, (at, close) in self._last_close.items():
            pos = book.positions.get(symbol)
            held = pos.qty if pos is not None else Decimal(0)
            self._signals[symbol] = self.policy.decide(symbol, close, book.equity, held, at)

    # ---------------------------------------------------------------------------- events
    def _on_events(self, items: list[Delivered]) -> None:
        """Apply a committed batch. Trade events that cannot move the ledger (``new``,
        ``canceled`` ...) and plain fills are read by the native brief readers, not the full
        model: at thousands of events a second the full parse was half of the UI loop
        (bench/ui.py). Busts, corrections, multi-leg fills and anything unusual take the model.
        Consecutive accepts count once for the reject streak (the order with rejects is kept).
        """
        now = self._clock()
        accepted = False
        for d in items:
            symbol = d.symbol
            brief: BriefTrade | BriefFill | None = None
            if d.stream == "trades":
                self._working_news(d)
                if d.type in LEDGER_KINDS:
                    self._ledger_events += 1
                if d.type in FILL_KINDS:
                    brief = fill = brief_fill(d.payload)
                    if fill is not None:
                        self.portfolio.book_execution(
                            fill.key, fill.symbol, fill.side, fill.qty, fill.price, fill.at
                        )
                elif d.type not in LEDGER_KINDS:
                    brief = brief_trade(d.payload)
            if brief is not None:
                accepted = self._tally(brief.kind, accepted, now)
                symbol = brief.symbol or symbol
                text = brief.text
            else:
                event = d.event
                if isinstance(event, TradeEvent):
                    self.portfolio.apply(event)
                    accepted = self._tally(event.event, accepted, now)
                    symbol = event.order.symbol if event.order is not None else symbol
                    text = _trade_text(event)
                elif isinstance(event, NtaEvent):
                    self.portfolio.apply_nta(event)
                    text = (
                        f"{event.entry_type} {event.net_amount} {event.description or ''}".strip()
                    )
                elif isinstance(event, AccountStatusEvent):
                    text = _account_text(event)
                    if event.trading_blocked:
                        self._notice("the broker blocked trading on this account")
                else:
                    text = d.type
            self._seq += 1
            self._events.append(
                EventLine(d.at, d.stream, d.type, symbol, text, d.source, self._seq)
            )
        if accepted:
            self.risk.record_accept(now)
        self._evaluate_risk()
        self._changed()

    def _tally(self, kind: str, accepted: bool, now: datetime) -> bool:
        """Feed the reject streak in event order, a run of accepts counting once; returns
        whether an accept is still to be recorded."""
        if kind == "rejected":
            if accepted:
                self.risk.record_accept(now)
            self.risk.record_reject(now)
            return False
        return accepted or kind in ACCEPT_KINDS

    def _working_news(self, d: Delivered) -> None:
        """A trade event's word on its order, for the book of working orders."""
        news = news_from_payload(d.payload)
        if news is None:
            event = d.event
            if isinstance(event, TradeEvent) and event.order is not None:
                news = news_from_wire(event.event, event.order)
        if news is not None:
            self.working.observe(news)

    def _on_reconcile(self, positions: list[Position], orders: list[WireOrder]) -> None:
        """The supervisor's positions and open orders, consistent with the events applied so
        far. The orders join the working book at once; positions wait for the account's
        cash (:meth:`_sync_account`): a position without its cash is phantom equity."""
        self.working.merge(orders)
        self._spawn(self._sync_account(positions, self._ledger_events, "reconcile"))
        self._changed()

    # -------------------------------------------------------------------------- account
    async def _sync_account(self, first: list[Position] | None, events: int, why: str) -> bool:
        """Take positions, cash and open orders from the broker as one consistent snapshot.

        The account (cash, ``last_equity``) and the open orders are read between two
        readings of the positions (``first`` may be the supervisor's, taken when the ledger
        had applied ``events`` trade events). The snapshot is taken only if the positions
        did not change between the two readings (so no fill landed between the reads of
        positions and cash) and the ledger applied no fill, bust or correction meanwhile
        (so it neither has one the snapshot lacks, nor lacks one it has). A fill between the
        two reads fails the first test: the snapshot is dropped and read again, a few times;
        then left to the next reconcile. Positions are never taken without their cash.
        """
        async with self._account_lock:
            before = first
            for attempt in range(ACCOUNT_TRIES):
                since = self.working.mark()
                try:
                    if before is None:
                        events = self._ledger_events
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
                if self._ledger_events == events and _holdings(before) == _holdings(after):
                    self._take_account(account, after, orders, since, why)
                    return True
                before = None
                await asyncio.sleep(ACCOUNT_SETTLE * (attempt + 1))
            self._account_unread(why, "trades kept arriving while it was read")
            return False

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
        gone = self.working.sync(orders, since=since)
        book = self.portfolio.snapshot()
        if not book.account_known:  # never read, or a new day: the broker's previous close
            last = account.last_equity
            self.portfolio.start_day(last if last is not None and last > 0 else None)
            start = self.portfolio.snapshot().day_start_equity
            self._audit("day", {"why": why, "day_start": str(start), "last_equity": str(last)})
            self._notice(
                f"day P&L from {start:,.2f}"
                + (" (the broker's previous close)" if last else " (no previous close: from now)")
            )
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
        if self.day.observe(clock, time.monotonic()):
            before = self.portfolio.snapshot()
            self.portfolio.forget_day()
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

    async def _resolve_unknown(self) -> None:
        """Orders whose send answer was lost keep counting until the broker is asked."""
        for working in self.working.unknown():
            cid = working.client_order_id
            try:
                found = await self.rest.get_order_by_client_id(cid)
            except NotFoundError:
                self.working.drop(cid)
                self.journal.update_intent(cid, Outcome.ABANDONED, detail="not at the broker")
                self._audit(
                    "order", {"client_order_id": cid, "outcome": "abandoned"}, working.symbol
                )
                self._notice(f"{working.symbol}: the order whose answer was lost never arrived")
            except AlpacaError:
                continue
            else:
                self.working.observe(news_from_wire("rest", found), cid)
                self.journal.update_intent(
                    cid, Outcome.SUBMITTED, order_id=found.id, detail="found after a lost answer"
                )
                self._audit(
                    "order",
                    {"client_order_id": cid, "outcome": "submitted", "order_id": found.id},
                    working.symbol,
                )

    async def _housekeeping(self) -> None:
        """The account when it must be read again, the market clock, lost answers."""
        if self._account_retry_at is not None and time.monotonic() >= self._account_retry_at:
            self._account_retry_at = None
            await self._sync_account(None, self._ledger_events, "retry")
        await self._check_day()
        if self.working.unknown() and time.monotonic() >= self._unknown_at:
            self._unknown_at = time.monotonic() + self.options.lookup_every
            await self._resolve_unknown()

    def _spawn(self, work: Any) -> None:
        task = asyncio.get_running_loop().create_task(work)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    def _on_status(self, transition: Transition, status: ConnectionStatus) -> None:
        if transition.delay is not None:
            self._backoffs.append((transition.stream, transition.delay))
        self._evaluate_risk()
        self._changed()

    # ------------------------------------------------------------------------ market data
    async def _market_loop(self) -> None:
        while not self._stop.is_set():
            try:
                await self._poll_market()
            except AlpacaError as exc:
                log.warning("market data poll failed", extra={"error": str(exc)[:200]})
            except Exception:  # a bug in one poll must not stop the desk
                log.exception("market loop error")
            try:
                await self._housekeeping()
            except Exception:
                log.exception("housekeeping error")
            self._sync_pause()
            self._evaluate_risk()
            self._changed()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), self.options.poll_interval)

    async def _poll_market(self) -> None:
        quotes = await self.rest.latest_quotes(list(self.symbols))
        self._data_at = time.monotonic()
        for symbol, q in quotes.items():
            if q.bid_price and q.ask_price and q.bid_price > 0 and q.ask_price > 0:
                mid = (q.bid_price + q.ask_price) / 2
                self._prices[symbol] = mid
                self.portfolio.mark(symbol, mid)
        # every bar since the last one seen, not just the latest: the policy's features
        # assume consecutive bars, and a poll may span several (a fast sim, a slow poll)
        seen = [self._last_bar[s] for s in self.symbols if s in self._last_bar]
        if seen:
            new = await self.rest.bars(
                list(self.symbols), "1Min", start=min(seen) + timedelta(seconds=1)
            )
        else:
            latest = await self.rest.latest_bars(list(self.symbols))
            new = {s: [b] for s, b in latest.items() if b is not None}
        # bars of a new session: the day rolls before the policy trades on them
        await self._check_day(
            max((b.timestamp for bars in new.values() for b in bars), default=None)
        )
        for symbol in self.symbols:
            for bar in new.get(symbol, []):
                last = self._last_bar.get(symbol)
                if last is not None and bar.timestamp <= last:
                    continue
                self._last_bar[symbol] = bar.timestamp
                self._record_close(symbol, bar.timestamp, bar.close)
                self.policy.observe(symbol, float(bar.close), bar.timestamp)
                self._readings[symbol] = self.convexity.reading(symbol)
                await self._decide(symbol, bar.timestamp, bar.close)

    def _record_close(self, symbol: str, at: datetime, close: Decimal) -> None:
        """Keep the sparkline's closes and the previous session's last close."""
        last = self._last_close.get(symbol)
        if last is not None and last[0].date() != at.date():
            self._prev_close[symbol] = last[1]
        self._last_close[symbol] = (at, close)
        self._history.setdefault(symbol, deque(maxlen=MAX_HISTORY)).append(float(close))

    async def _decide(self, symbol: str, at: datetime, close: Decimal) -> None:
        if self.working.busy(symbol):  # one order per symbol at a time, whoever placed it
            return
        book = self.portfolio.snapshot()
        price = self._prices.get(symbol, close)
        pos = book.positions.get(symbol)
        decision = self.policy.decide(
            symbol, price, book.equity, pos.qty if pos is not None else Decimal(0), at
        )
        self._signals[symbol] = decision
        self._audit("signal", _decision_data(decision), symbol)
        qty = fit_to_limits(
            decision.proposed_qty,
            pos.qty if pos is not None else Decimal(0),
            price,
            self.risk.limits.max_symbol_notional,
        )
        if not self.options.trade or qty is None or qty == 0:
            return
        order = (
            (
                OrderBuilder().symbol(symbol).buy(qty)
                if qty > 0
                else OrderBuilder().symbol(symbol).sell(-qty)
            )
            .market()
            .time_in_force(market_time_in_force(symbol))
            .build()
        )
        verdict = self.check(order)
        self._verdicts[symbol] = verdict
        self._audit(
            "risk",
            {
                "client_order_id": order.client_order_id,
                "verdict": str(verdict),
                "allowed": verdict.allowed,
                "order": order.to_request(),
            },
            symbol,
        )
        if verdict.allowed:
            self.working.add(order)  # counts from now: the next check sees it
            await self._queue.put((order, "policy"))

    # --------------------------------------------------------------------------- orders
    async def _order_loop(self) -> None:
        while not self._stop.is_set():
            order, source = await self._queue.get()
            result = await self._send(order, source)
            self._audit("order", _result_data(result), order.symbol)

    async def _send(self, order: Order, source: str) -> OrderResult:
        now = self._clock()
        self.risk.record_order(now)
        line = OrderLine(
            order.client_order_id,
            order.symbol,
            str(order.side),
            str(order.qty or order.notional),
            source,
            "pending",
        )
        self._orders.append(line)
        self._changed()
        result = await self.sender.send(order, source)
        cid = order.client_order_id
        if result.outcome is Outcome.SUBMITTED:
            self.working.sent(cid, result.order)
        elif result.outcome is Outcome.UNKNOWN:
            self.working.lost(cid)  # it may exist: it keeps counting until the broker says
            self._unknown_at = time.monotonic() + self.options.lookup_every
            self._notice(f"{order.symbol} {order.side}: answer lost; counted as working")
        else:
            self.working.drop(cid)
        if result.outcome is Outcome.REJECTED:
            self.risk.record_reject(self._clock())
            self._notice(f"{order.symbol} {order.side} rejected: {result.detail[:120]}")
        self._orders.append(
            OrderLine(
                line.client_order_id,
                line.symbol,
                line.side,
                line.qty,
                source,
                str(result.outcome),
                result.detail[:200],
            )
        )
        self._changed()
        return result

    # ------------------------------------------------------------------------- commands
    def check(self, order: Order) -> Verdict:
        """The gate's verdict on current facts: the risk state is re-evaluated first, so an
        order placed right after the first prices is not judged on the state before them;
        every working order counts, the ones queued here but not yet sent included."""
        self._evaluate_risk()
        book = _RiskBook(self.portfolio.snapshot(), self._prices)
        return self.risk.check(
            order,
            book,
            price=self._prices.get(order.symbol),
            now=self._clock(),
            working=self.working.orders(),
        )

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
            _RiskBook(self.portfolio.snapshot(), self._prices),
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

    # ------------------------------------------------------------------------- snapshot
    def snapshot(self) -> DeskSnapshot:
        age = None if self._data_at is None else round(time.monotonic() - self._data_at, 3)
        return DeskSnapshot(
            at=self._clock(),
            target=self.target.label,
            trading=self.options.trade,
            connection=self.supervisor.status(),
            book=self.portfolio.snapshot(),
            risk=self.risk.snapshot(),
            signals=dict(self._signals),
            convexity=dict(self._readings),
            events=tuple(self._events),
            orders=tuple(self._orders),
            notices=tuple(self._notices),
            market_data_age=age,
            symbols=self.symbols,
            mode=self.settings.mode.value,
            account=self._account,
            prices=dict(self._prices),
            history={s: tuple(h) for s, h in self._history.items()},
            prev_close=dict(self._prev_close),
            verdicts=dict(self._verdicts),
            backoff_delays=tuple(self._backoffs),
            faults=self.fault_keys,
        )

    # -------------------------------------------------------------------------- helpers
    def _evaluate_risk(self) -> None:
        # up: trade events are being delivered, by the stream or (standing in for a stream
        # that is down or not offered) by a REST poll within its bound
        stream_up = self.supervisor.trades_delivering()
        age = None if self._data_at is None else time.monotonic() - self._data_at
        before = self.risk.state
        self.risk.update(
            _RiskBook(self.portfolio.snapshot(), self._prices),
            now=self._clock(),
            market_data_age=age,
            stream_up=stream_up,
            reconciling=self.supervisor.reconciling,  # bounded: reconcile_timeout_seconds
        )
        after = self.risk.state
        if after != before:
            self._audit("state", {"from": str(before), "to": str(after)})
            self._notice(f"trading state {before} -> {after}")

    def _sync_pause(self) -> None:
        """Honour ``tui-trader pause``/``resume`` given from another shell."""
        wanted = bool(self.journal.get_setting(PAUSED_KEY, False))
        if wanted and not self.risk.paused:
            self.risk.pause()
            self._notice("paused from the command line")
        elif not wanted and self.risk.paused:
            self.risk.resume()
            self._notice("resumed from the command line")

    def _audit(self, kind: str, data: Mapping[str, Any], symbol: str | None = None) -> None:
        try:
            self.journal.audit(kind, data, symbol)
        except Exception:  # the audit trail must not stop trading decisions... but say so
            log.exception("audit write failed")

    def _notice(self, text: str) -> None:
        stamp = self._clock().strftime("%H:%M:%S")
        self._notices.append(f"{stamp} {text}")
        log.info("notice", extra={"text": text[:300]})

    def _changed(self) -> None:
        for listener in self._listeners:
            listener()


# ---------------------------------------------------------------------------- helpers
def _parse_time(text: str) -> datetime | None:
    from tui_trader.core.types import parse_timestamp

    try:
        return parse_timestamp(text)
    except ValueError:
        return None


def _holdings(positions: list[Position]) -> dict[str, Decimal]:
    """Signed quantity per symbol: what a fill changes."""
    return {symbol_key(p.symbol): p.signed_qty for p in positions if p.signed_qty}


def _trade_text(event: TradeEvent) -> str:
    order = event.order
    if order is None:
        return event.event
    what = f"{order.side} {order.qty or order.notional or ''} {order.symbol}".strip()
    if event.event in ("fill", "partial_fill"):
        return f"{event.event} {event.qty} @ {event.price} ({what}) pos {event.position_qty}"
    return f"{event.event} {what} {order.type}".strip()


def _account_text(event: AccountStatusEvent) -> str:
    parts = []
    if event.status_to:
        parts.append(f"status {event.status_from or '-'} -> {event.status_to}")
    for flag in ("trading_blocked", "account_blocked"):
        value = getattr(event, flag)
        if value is not None:
            parts.append(f"{flag}={value}")
    return ", ".join(parts) or "account update"


def _decision_data(d: Decision) -> dict[str, Any]:
    return {
        "at": d.at.isoformat() if d.at else None,
        "mu": d.mu,
        "sigma": d.sigma,
        "target_weight": d.target_weight,
        "current_weight": d.current_weight,
        "utility_gain": d.utility_gain,
        "proposed_qty": None if d.proposed_qty is None else str(d.proposed_qty),
        "reason": d.reason,
        "features": dict(d.features),
    }


def _result_data(r: OrderResult) -> dict[str, Any]:
    return {
        "client_order_id": r.client_order_id,
        "outcome": str(r.outcome),
        "order_id": r.order.id if r.order is not None else None,
        "detail": r.detail[:300],
        "attempts": r.attempts,
    }
