"""The exchange's shared state, its options and the lookups every part of it uses.

:class:`ExchangeState` holds what the exchange's jobs share (every account's books, the open
orders, the event logs, the seeded random source, the session the market has reached) and
answers plain lookups on it. Each job is a mixin over it in its own module (accounts, events,
order intake, lifecycle, fills, matching, sessions, ...); :class:`~tui_trader.sim.exchange.Exchange`
puts them together, so they share one object's state as the single class did.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from tui_trader.core.orders import AssetClass, asset_class_of
from tui_trader.sim import errors
from tui_trader.sim.book import SimAccount, SimOrder, dec, price_tick
from tui_trader.sim.clock import SESSION_SECONDS, SimClock, session_open
from tui_trader.sim.eventlog import EventLog
from tui_trader.sim.ids import UlidFactory, normalise_uuid, seeded_uuid
from tui_trader.sim.market import MarketModel

STREAMS = ("trades", "accounts", "nta")


@dataclass
class ExchangeOptions:
    starting_cash: Decimal = Decimal(100_000)
    accounts: int = 1
    slippage_bps: float = 1.0
    emit_pending_new: bool = True
    dividend_probability: float = 0.02  # per symbol held, per session close
    retention: int | None = None
    late_new: bool = False  # fault: hold `new` back until a cancel, then send it after


class ExchangeState:
    """The state every part of the exchange reads and writes, built once from the seed.

    The seeded random source draws ids, account numbers and dividends in one fixed order, so a
    seed replays the same run: keep every draw where it is.
    """

    def __init__(
        self,
        market: MarketModel,
        clock: SimClock,
        seed: int,
        options: ExchangeOptions | None = None,
    ) -> None:
        self.market = market
        self.clock = clock
        self.options = options or ExchangeOptions()
        self._rng = random.Random(seed)
        self.ulids = UlidFactory(random.Random(seed + 1))
        self.logs: dict[str, EventLog] = {
            "trades": EventLog("trades", 10_000_001, self.options.retention),
            "accounts": EventLog("accounts", 12_000_001, self.options.retention),
            "nta": EventLog("nta", 14_000_001, self.options.retention),
        }
        self._nanos = 0
        self._asset_ids = {sym: seeded_uuid(self._rng) for sym in market.symbols}
        self._session = clock.session_time(clock.trading_seconds()).session
        self._market_seconds = int(clock.trading_seconds())
        now = clock.now()
        self.accounts: dict[str, SimAccount] = {}
        for i in range(max(1, self.options.accounts)):
            acct = SimAccount(
                id=seeded_uuid(self._rng),
                number=f"PA{self._rng.randrange(10**9, 10**10)}",
                cash=self.options.starting_cash,
                created_at=now - timedelta(days=30 + i),
            )
            acct.last_equity = acct.cash
            self.accounts[acct.id] = acct
        self._open: list[SimOrder] = []  # open orders of every account, oldest first
        self.halted: set[str] = set()  # symbols the venue will not trade (a trading halt)
        self._pending_cancels: list[SimOrder] = []

    # ----------------------------------------------------------------------------- lookups
    @property
    def default_account(self) -> SimAccount:
        return next(iter(self.accounts.values()))

    def account(self, account_id: str) -> SimAccount:
        key = normalise_uuid(account_id) or account_id
        acct = self.accounts.get(key)
        if acct is None:
            raise errors.not_found("account not found")
        return acct

    def now(self) -> datetime:
        return self.clock.now()

    def asset_id(self, symbol: str) -> str:
        return self._asset_ids[symbol]

    def resolve_symbol(self, symbol_or_asset_id: str) -> str | None:
        text = symbol_or_asset_id.strip().upper()
        if self.market.has(text):
            return text
        if asset_class_of(text) is AssetClass.CRYPTO:  # BTCUSD names BTC/USD, as at Alpaca
            flat = text.replace("/", "")
            for sym in self.market.symbols:
                if sym.replace("/", "") == flat:
                    return sym
        asset = normalise_uuid(symbol_or_asset_id)
        for sym, aid in self._asset_ids.items():
            if aid == asset:
                return sym
        return None

    def find_order(self, acct: SimAccount, order_id: str) -> SimOrder:
        key = normalise_uuid(order_id)
        if key is None:
            raise errors.validation("order_id is missing")
        order = acct.orders.get(key)
        if order is None:
            raise errors.not_found("order not found")
        return order

    def find_by_client_id(self, acct: SimAccount, client_order_id: str) -> SimOrder:
        order = acct.client_ids.get(client_order_id)
        if order is None:
            raise errors.not_found("order not found")
        return order

    def mark(self, symbol: str) -> Decimal:
        return price_tick(dec(self.market.last_trade(symbol)[0]))

    def _session_close(self, at: datetime) -> datetime:
        st = self.clock.session_time()
        return session_open(self.clock.session_day(st.session)) + timedelta(seconds=SESSION_SECONDS)
