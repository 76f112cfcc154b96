"""The emulator's state to and from its file (:mod:`tui_trader.sim.persist`).

:class:`Saver` turns a running emulator into one save: the mutable state whole (clock, the
market's prices and random state, cash, positions, ids), the orders that may still change,
and what grew since the last save (events, fills and fees, minute bars). :func:`load` reads a
file back into plain objects first, so a file whose content cannot be resumed is set aside
before anything is built on it; :func:`apply` then puts them into a freshly built emulator.

The market resumes where it stopped: the same prices, volatility, regime, bars and random
state, at the sim time of the save (the paper world pauses while nothing runs). After an
unclean stop the last second of changes may be lost, while a client may have seen events of it:
time then moves on past that second and fresh random sources draw new ids, so nothing a client
saw is issued again with another meaning.
"""

from __future__ import annotations

import dataclasses
import os
import random
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any, Protocol

from tui_trader.sim.book import SimAccount, SimOrder, SimPosition
from tui_trader.sim.clock import SimClock
from tui_trader.sim.eventlog import StoredEvent
from tui_trader.sim.exchange import Exchange
from tui_trader.sim.market import Bar
from tui_trader.sim.persist import AccountStore, Pending, Saved


class Emulator(Protocol):
    """What is saved of an emulator (the emulator imports this module: no cycle)."""

    exchange: Exchange
    clock: SimClock


_ORDER_LINKS = ("legs", "parent", "replace_with")
_ORDER_FIELDS = tuple(f.name for f in dataclasses.fields(SimOrder) if f.name not in _ORDER_LINKS)
_MARKET_FIELDS = (
    "price",
    "var",
    "regime",
    "last_trade",
    "last_trade_size",
    "last_trade_at",
    "trade_seq",
    "prev_close",
    "day_open",
)


# ------------------------------------------------------------------------------ encoding
def enc(value: Any) -> Any:
    """JSON-safe, exact: decimals as strings and times as ISO text, tagged to come back."""
    if isinstance(value, Decimal):
        return {"$d": str(value)}
    if isinstance(value, datetime):
        return {"$t": value.isoformat()}
    if isinstance(value, dict):
        return {k: enc(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [enc(v) for v in value]
    return value


def dec(value: Any) -> Any:
    if isinstance(value, dict):
        if len(value) == 1:
            if "$d" in value:
                return Decimal(value["$d"])
            if "$t" in value:
                return datetime.fromisoformat(value["$t"])
        return {k: dec(v) for k, v in value.items()}
    if isinstance(value, list):
        return [dec(v) for v in value]
    return value


def _bar_row(bar: Bar) -> list[Any]:
    return [bar.t.isoformat(), bar.o, bar.h, bar.l, bar.c, bar.v, bar.n, bar.vw]


def _bar(row: list[Any]) -> Bar:
    return Bar(datetime.fromisoformat(row[0]), *row[1:])


def _rng_state(rng: random.Random) -> list[Any]:
    version, internal, gauss = rng.getstate()
    return [version, list(internal), gauss]


def _set_rng(rng: random.Random, state: list[Any]) -> None:
    rng.setstate((state[0], tuple(state[1]), state[2]))


# ---------------------------------------------------------------------------------- save
class Saver:
    """Builds each save of one emulator, remembering what earlier saves already wrote."""

    def __init__(self, emulator: Emulator) -> None:
        self.emulator = emulator
        self._events = {name: log.first_index() for name, log in emulator.exchange.logs.items()}
        self._activities: dict[str, int] = {}
        self._bars: dict[str, int] = {}  # per symbol: absolute seq of the next bar to write
        self._bar_base: dict[str, int] = {}  # per symbol: seqs below it are gone from the file
        self._order_seq: dict[str, int] = {}
        self._final: set[str] = set()  # orders written in a state they never leave

    def resumed_from(self, resumed: Resumed) -> None:
        """What the file already holds, so the first save appends only what is new."""
        ex = self.emulator.exchange
        self._events = {name: log.end for name, log in ex.logs.items()}
        self._activities = {a.id: len(a.activities) for a in ex.accounts.values()}
        market = self.emulator.exchange.market
        self._bar_base = dict(resumed.bar_base)
        self._bars = {sym: market.bars_made(sym) for sym in resumed.bar_base}
        self._order_seq = dict(resumed.order_seq)
        self._final = {oid for oid, o in resumed.orders.items() if _final(o)}

    def pending(self) -> Pending:
        em = self.emulator
        ex = em.exchange
        market = ex.market
        states = market._states
        out = Pending(body=self._body(), orders=[], activities=[], events=[], bars=[], dropped={})
        for name, log in ex.logs.items():
            for index, e in log.since(self._events.get(name, 0)):
                out.events.append((name, index, e.ulid, e.legacy_id, e.at.isoformat(), e.line))
            self._events[name] = log.end
            out.dropped[name] = log.first_index()
        for acct in ex.accounts.values():
            done = self._activities.get(acct.id, 0)
            for n, act in enumerate(acct.activities[done:], done):
                out.activities.append((acct.id, n, enc(act)))
            self._activities[acct.id] = len(acct.activities)
            for oid, order in acct.orders.items():
                if oid in self._final:
                    continue
                seq = self._order_seq.setdefault(oid, len(self._order_seq))
                out.orders.append((oid, acct.id, seq, _order_body(order)))
                if _final(order):
                    self._final.add(oid)
        for sym, st in states.items():
            base = st.bar_base  # the market lets its oldest bars go (KEEP_BARS)
            start = max(self._bars.get(sym, base), base)
            for k in range(start - base, len(st.bars)):
                out.bars.append((sym, base + k, _bar_row(st.bars[k])))
            self._bars[sym] = base + len(st.bars)
            if self._bar_base.get(sym, 0) < base:  # the file lets them go too
                out.bars_dropped[sym] = self._bar_base[sym] = base
        return out

    def _body(self) -> dict[str, Any]:
        em = self.emulator
        ex = em.exchange
        market = ex.market
        symbols: dict[str, Any] = {}
        for sym, st in market._states.items():
            row = {name: enc(getattr(st, name)) for name in _MARKET_FIELDS}
            row["current"] = None if st.current is None else _bar_row(st.current)
            symbols[sym] = row
        accounts = []
        for acct in ex.accounts.values():
            accounts.append(
                {
                    "id": acct.id,
                    "number": acct.number,
                    "cash": enc(acct.cash),
                    "created_at": enc(acct.created_at),
                    "positions": [
                        [p.symbol, p.asset_id, enc(p.qty), enc(p.avg_entry_price)]
                        for p in acct.positions.values()
                    ],
                    "last_equity": enc(acct.last_equity),
                    "status": acct.status,
                    "trading_blocked": acct.trading_blocked,
                    "account_blocked": acct.account_blocked,
                    "shorting_enabled": acct.shorting_enabled,
                    "fees_today": enc(acct.fees_today),
                    "day_cost": enc(acct.day_cost),
                }
            )
        return {
            "now": em.clock.now().isoformat(),
            "symbols": symbols,
            "market_rng": market._rng.bit_generator.state,
            "accounts": accounts,
            "open": [o.id for o in ex._open],
            "pending_cancels": [o.id for o in ex._pending_cancels],
            "halted": sorted(ex.halted),
            "asset_ids": dict(ex._asset_ids),
            "nanos": ex._nanos,
            "rng": _rng_state(ex._rng),
            "ulid": [
                ex.ulids._last_ms,
                ex.ulids._last_rand,
                _rng_state(ex.ulids._rng),
            ],
            "logs": {n: log.next_legacy for n, log in ex.logs.items()},
        }


def _order_body(order: SimOrder) -> dict[str, Any]:
    body = {name: enc(getattr(order, name)) for name in _ORDER_FIELDS}
    body["legs"] = [leg.id for leg in order.legs]
    body["parent"] = None if order.parent is None else order.parent.id
    body["replace_with"] = None if order.replace_with is None else order.replace_with.id
    return body


def _final(order: SimOrder) -> bool:
    """Terminal with every leg terminal: nothing will change it again."""
    return (
        not order.is_open
        and order.replace_with is None
        and not any(leg.is_open for leg in order.legs)
    )


# ---------------------------------------------------------------------------------- load
@dataclass
class Resumed:
    """A saved emulator, decoded and linked, ready to be put into a fresh one."""

    now: datetime
    clean: bool
    body: dict[str, Any]
    accounts: dict[str, SimAccount]
    orders: dict[str, SimOrder]
    order_seq: dict[str, int]
    events: dict[str, tuple[int, list[StoredEvent]]]
    bars: dict[str, list[Bar]]
    bar_base: dict[str, int] = field(default_factory=dict)

    def symbols(self) -> list[str]:
        """Symbols the account still needs priced: held or with an order working."""
        out = {p for a in self.accounts.values() for p, pos in a.positions.items() if pos.qty}
        out |= {o.symbol for o in self.orders.values() if o.is_open}
        return sorted(out)


def load(store: AccountStore) -> Resumed | None:
    """Open the store; the saved emulator, or None (a new account, or a file set aside)."""
    saved = store.open()
    if saved is None:
        return None
    try:
        return _decode(saved)
    except (KeyError, ValueError, TypeError, IndexError, AttributeError) as exc:
        store.set_aside(f"{type(exc).__name__}: {exc}")
        return None


def _decode(saved: Saved) -> Resumed:
    body = saved.body
    orders: dict[str, SimOrder] = {}
    links: dict[str, dict[str, Any]] = {}
    seq: dict[str, int] = {}
    by_account: dict[str, list[SimOrder]] = {}
    for n, (account_id, raw) in enumerate(saved.orders):
        fields = {name: dec(raw[name]) for name in _ORDER_FIELDS if name in raw}
        order = SimOrder(**fields)
        orders[order.id] = order
        links[order.id] = raw
        seq[order.id] = n
        by_account.setdefault(account_id, []).append(order)
    for oid, raw in links.items():
        order = orders[oid]
        order.legs = [orders[i] for i in raw["legs"]]
        order.parent = orders.get(raw["parent"]) if raw["parent"] else None
        order.replace_with = orders.get(raw["replace_with"]) if raw["replace_with"] else None
    accounts: dict[str, SimAccount] = {}
    for raw in body["accounts"]:
        acct = SimAccount(
            id=raw["id"],
            number=raw["number"],
            cash=dec(raw["cash"]),
            created_at=dec(raw["created_at"]),
            last_equity=dec(raw["last_equity"]),
            status=raw["status"],
            trading_blocked=raw["trading_blocked"],
            account_blocked=raw["account_blocked"],
            shorting_enabled=raw["shorting_enabled"],
            fees_today=dec(raw["fees_today"]),
            day_cost=dec(raw["day_cost"]),
        )
        for sym, asset, qty, avg in raw["positions"]:
            acct.positions[sym] = SimPosition(sym, asset, dec(qty), dec(avg))
        for order in by_account.get(acct.id, []):
            acct.orders[order.id] = order
            acct.client_ids[order.client_order_id] = order
        acct.activities = [dec(a) for a in saved.activities.get(acct.id, [])]
        accounts[acct.id] = acct
    events = {
        stream: (
            first,
            [
                StoredEvent(u, legacy, datetime.fromisoformat(at), line)
                for _, u, legacy, at, line in rows
            ],
        )
        for stream, (first, rows) in saved.events.items()
    }
    bars = {sym: [_bar(r) for r in rows] for sym, (_, rows) in saved.bars.items()}
    return Resumed(
        now=datetime.fromisoformat(body["now"]),
        clean=saved.clean,
        body=body,
        accounts=accounts,
        orders=orders,
        order_seq=seq,
        events=events,
        bars=bars,
        bar_base={sym: first for sym, (first, _) in saved.bars.items()},
    )


def apply(emulator: Emulator, resumed: Resumed, bump_seconds: float) -> None:
    """Put ``resumed`` into ``emulator``, freshly built at ``resumed.now`` with its symbols."""
    ex = emulator.exchange
    market = ex.market
    body = resumed.body
    states = market._states
    for sym, row in body["symbols"].items():
        st = states.get(sym)
        if st is None:
            continue
        for name in _MARKET_FIELDS:
            setattr(st, name, dec(row[name]))
        st.current = None if row["current"] is None else _bar(row["current"])
        saved_bars = resumed.bars.get(sym, [])
        # the minute bars: the saved ones (the file holds seq numbers from its first bar on)
        if saved_bars:
            st.bars, st.bar_base = saved_bars, resumed.bar_base[sym]
            market._trim_bars(st)  # a file from before the window (or a longer one)
        market._requote(st)
    market._rng.bit_generator.state = body["market_rng"]
    market.now = resumed.now
    ex.accounts = resumed.accounts
    orders = resumed.orders
    ex._open = [orders[i] for i in body["open"] if i in orders]
    ex._pending_cancels = [orders[i] for i in body["pending_cancels"] if i in orders]
    ex.halted = set(body["halted"])
    ex._asset_ids.update(body["asset_ids"])
    ex._nanos = body["nanos"]
    _set_rng(ex._rng, body["rng"])
    last_ms, last_rand, ulid_rng = body["ulid"]
    ex.ulids._last_ms, ex.ulids._last_rand = last_ms, last_rand
    _set_rng(ex.ulids._rng, ulid_rng)
    for name, log in ex.logs.items():
        first, events = resumed.events.get(name, (0, []))
        log.restore(first, events, body["logs"].get(name, 0))
    if not resumed.clean:
        # killed: ids of the lost last moments may be known to a client; draw fresh ones
        ex._rng.seed(os.urandom(32))
        ex.ulids._rng.seed(os.urandom(32))
        emulator.clock.advance(bump_seconds)
