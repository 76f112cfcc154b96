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

Its jobs live in mixins beside this module, each over the state that
:class:`~tui_trader.desk.base.DeskBase` declares: applying the broker's events
(:mod:`.events`), the account and the trading day (:mod:`.account`), market data and the
policy (:mod:`.market`), the order worker (:mod:`.orders`) and the trader's levers
(:mod:`.commands`). This module wires them: the state, the lifecycle (start-up, run, stop)
and the snapshot.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from tui_trader.broker.ordering import OrderSender, Outcome
from tui_trader.broker.rest import AlpacaREST
from tui_trader.broker.supervisor import Delivered, Supervisor, SupervisorOptions
from tui_trader.core.convexity import ConvexityDetector, ConvexityReading
from tui_trader.core.models import Bar
from tui_trader.core.orders import Order
from tui_trader.core.policy import Decision, OnlinePolicy
from tui_trader.core.portfolio import Portfolio
from tui_trader.core.risk import RiskEngine, Verdict
from tui_trader.core.tradingday import TradingDay
from tui_trader.core.working import WorkingOrders, news_from_wire
from tui_trader.desk.account import AccountSync
from tui_trader.desk.base import MAX_FILLS, DeskOptions
from tui_trader.desk.charts import ChartRecorder
from tui_trader.desk.commands import PAUSED_KEY, Commands
from tui_trader.desk.events import BrokerEvents
from tui_trader.desk.live import Tape
from tui_trader.desk.market import MarketFeed
from tui_trader.desk.orders import OrderWorker, result_data
from tui_trader.desk.snapshot import DeskSnapshot, EventLine, FillLine, OrderLine
from tui_trader.desk.watchlist import remembered

if TYPE_CHECKING:
    from tui_trader.broker.journal import Journal
    from tui_trader.config import Settings
    from tui_trader.desk.target import Target

__all__ = ["Desk", "DeskOptions"]

MAX_EVENTS = 200
MAX_ORDERS = 100
MAX_NOTICES = 20
MAX_BACKOFFS = 8


class Desk(BrokerEvents, MarketFeed, AccountSync, OrderWorker, Commands):
    """The desk: build it on a target and a journal, :meth:`run` it, read :meth:`snapshot`."""

    def __init__(
        self, settings: Settings, target: Target, journal: Journal, options: DeskOptions
    ) -> None:
        self.settings = settings
        self.target = target
        self.journal = journal
        self.options = options
        # the trader's watchlist for this account (desk/watchlist.py), else the configured one
        self.symbols = remembered(journal, tuple(options.symbols or settings.sim.symbols))
        self.rest: AlpacaREST = target.rest()
        self.http = target.http()
        self.supervisor = Supervisor(
            self.rest,
            journal,
            self.http,
            target.auth_headers(),
            SupervisorOptions.from_settings(
                settings.stream,
                streams=target.streams_for(options.streams or tuple(settings.stream.streams)),
                since=options.since,
                api=target.api.value,
                stream_url=target.stream_url(),
            ),
        )
        self.portfolio = Portfolio(None)  # the account is unknown until it has been read
        self.risk = RiskEngine(
            settings.risk.limits(),
            paused=bool(journal.get_setting(PAUSED_KEY, False)),
        )
        self._state_told = self.risk.state
        self.convexity = ConvexityDetector()
        demo = target.policy_overrides(settings)  # the planted demo market's bar (target.py)
        self.policy = OnlinePolicy(settings.policy.config(**demo), self.convexity)
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
        # live market data (desk/live.py): per-symbol quote times, the stream's bars
        self._quote_at: dict[str, float] = {}
        self._tapes: dict[str, Tape] = {}  # bid/ask/last/volume per symbol (the watchlist)
        self._bar_inbox: deque[tuple[str, Bar, bool]] = deque()
        self._backfill_due = False
        self._market_is_open = True  # until the clock says otherwise
        self.rest.on_feed_change = lambda old, new, why: self._notice(
            f"market data: {old} refused ({why}); using {new}"
        )
        self.data_stream = self._build_data_stream()
        self._seq = 0
        self._history: dict[str, deque[float]] = {}
        self._prev_close: dict[str, Decimal] = {}
        self._last_close: dict[str, tuple[datetime, Decimal]] = {}
        self._verdicts: dict[str, Verdict] = {}
        self._backoffs: deque[tuple[str, float]] = deque(maxlen=MAX_BACKOFFS)
        self._account: str | None = None
        self.working = WorkingOrders()  # every order that may still fill, ours or not
        self.day = TradingDay(options.clock_every)
        self.charts = ChartRecorder(self.symbols)
        self._ledger_events = 0  # trade events that moved the ledger (fills, busts, fixes)
        self._backlog: deque[Delivered] = deque()  # committed, not yet applied (a slice away)
        self._draining = False
        self._roomy = asyncio.Event()
        self._account_lock = asyncio.Lock()
        self._account_delay = options.account_retry
        self._account_retry_at: float | None = None  # monotonic: read the account again
        self._unknown_at = 0.0  # monotonic: look up orders whose send answer was lost
        self._background: set[asyncio.Task[Any]] = set()
        self._queue: asyncio.Queue[tuple[Order, str]] = asyncio.Queue()
        self._stop = asyncio.Event()
        self._tasks: list[asyncio.Task[Any]] = []
        self._listeners: list[Callable[[], None]] = []
        self._fills: deque[FillLine] = deque(maxlen=MAX_FILLS)
        self._starting: str | None = "starting the desk…"  # None once warm (``started``)
        if demo:
            self._notice(
                f"demo market: the policy acts on weaker evidence (min_t {demo['min_t']:g}; "
                "[policy] min_t sets it)"
            )
        self.supervisor.on_events(self._on_committed)
        self.supervisor.hold(self._room)  # a burst waits in the stream, not in _backlog
        self.supervisor.on_reconcile(self._on_reconcile)
        self.supervisor.on_status(self._on_status)

    # ------------------------------------------------------------------------ lifecycle
    async def run(self) -> None:
        """Run until :meth:`stop` (or an authentication failure).

        The data stream opens first, so prices move on the screen while the account is read
        and the policy warms up; its bars wait in the inbox for the market loop, which starts
        (with the broker's event streams and the order worker) once the desk is warm:
        :attr:`started` says when."""
        stream = []
        if self.data_stream is not None:
            stream = [asyncio.create_task(self.data_stream.run(), name="market-data")]
        self._tasks = stream
        try:
            await self._bootstrap()
            if self._stop.is_set():  # stopped while starting (a quit during the warm-up)
                return
            self._tasks = [
                asyncio.create_task(self.supervisor.run(), name="supervisor"),
                asyncio.create_task(self._market_loop(), name="market"),
                asyncio.create_task(self._order_loop(), name="orders"),
                *stream,
            ]
            await self._tasks[0]  # the supervisor ends on stop() or AUTH_FAILED
        finally:
            self._stop.set()
            if self.data_stream is not None:
                self.data_stream.stop()  # told, not only cancelled
            rest = [*self._tasks, *self._background]  # a reconcile's account reading too
            for task in rest:
                task.cancel()
            await asyncio.gather(*rest, return_exceptions=True)

    def stop(self) -> None:
        self._stop.set()
        self.supervisor.stop()
        if self.data_stream is not None:
            self.data_stream.stop()

    async def aclose(self) -> None:
        await self.http.aclose()
        await self.rest.aclose()

    def on_change(self, listener: Callable[[], None]) -> None:
        """Told (without arguments) whenever the snapshot would differ; read it then."""
        self._listeners.append(listener)

    async def _bootstrap(self) -> None:
        self._step("reading the account…")
        await self._sync_account(None, self._ledger_events, "start-up")
        await self._check_day()
        self._step("looking up orders sent before…")
        pending = {row.client_order_id: row for row in self.journal.intents(["pending", "unknown"])}
        for result in await self.sender.resolve_pending():
            self._audit("order", result_data(result), result.symbol)
            row = pending.get(result.client_order_id)
            if result.outcome is Outcome.SUBMITTED and result.order is not None:
                self.working.observe(news_from_wire("rest", result.order), result.client_order_id)
            elif result.outcome is Outcome.UNKNOWN and row is not None:
                self.working.restore(result.client_order_id, row.intent)  # it may exist
        if self.options.warmup:
            await self._warm_up()
        if self.risk.paused:
            self._notice("trading is paused (from the journal); resume to trade")
        self._step(None)

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
            market_data=self.data_status(),
            quote_ages=self.quote_ages(),
            working_orders=self.working_lines(),
            fills=tuple(self._fills),
            watch=self.watch_lines(),
            demo_speed=self.demo_speed(),
            charts=self.charts.data(),
            starting=self._starting,
        )
