"""The paper exchange: validates orders, matches them against the simulated market, keeps the
books and emits every trade, account and non-trade event on its streams.

It is plain synchronous code driven by :meth:`Exchange.tick`; the HTTP server calls into it
from one event loop, so no locking is needed. REST-facing methods raise
:class:`~tui_trader.sim.errors.ApiFailure` with Alpaca's status codes and bodies.

Lifecycles (API.md §4.1): a new order answers ``accepted`` over REST; on the next tick it
emits ``pending_new`` and ``new``, then ``partial_fill``/``fill`` as liquidity allows. A cancel
answers 204 and ``canceled`` follows on the next tick; a replace emits ``replaced`` for the old
order and ``new`` for its successor. Day orders still open at the close get ``expired``;
``opg`` orders fill at the next open, ``cls`` orders at the close.

The exchange is one object split by job, one mixin per module, each over the jobs it uses:

* ``state``: options, shared state and lookups (:class:`ExchangeState`);
* ``accounts``: held quantities, buying power, account and position wire shapes;
* ``events``: the trades, accounts and nta streams, and activity records;
* ``queries``: the order and activity list endpoints, and query-string times;
* ``checks``: pre-trade funds and wash-trade checks;
* ``intake``: new orders and the legs of bracket, OTO and OCO orders;
* ``lifecycle``: routing, cancels and replaces;
* ``fills``: an execution's effect on order, position, cash (TAF) and the order's group;
* ``matching``: which orders trade now (limits, stops, trailing stops) and at what price;
* ``session``: the tick, the auctions, expiry, fees, dividends and ``last_equity``;
* ``closing``: close-position requests as orders;
* ``synthetic``: injected events and benchmark backlogs.

Mixins rather than separate objects keep each method's code as it was in the single class
(one ``self`` holding one state), while each module holds one job.
"""

from __future__ import annotations

from tui_trader.sim.exchange.closing import PositionClosing
from tui_trader.sim.exchange.queries import OrderQueries, parse_query_time
from tui_trader.sim.exchange.session import Sessions
from tui_trader.sim.exchange.state import ExchangeOptions
from tui_trader.sim.exchange.synthetic import SyntheticHistory

__all__ = ["Exchange", "ExchangeOptions", "parse_query_time"]


class Exchange(Sessions, PositionClosing, SyntheticHistory, OrderQueries):
    """The paper exchange: every job above on one state (built by ``ExchangeState``)."""
