"""Async REST client for Alpaca's Trading and Broker route families and market data.

One class, :class:`AlpacaREST`, because the desk needs both families behind one interface
(API.md §5.1): the Trading API acts on the key's own account under ``/v2``, the Broker API on
``/v1/trading/accounts/{account_id}`` with HTTP Basic. Market data lives on its own host with
the key headers (§7).

The package holds one job per module: :mod:`~tui_trader.broker.rest.transport` (credentials,
retries, rate limits, parsing: the safety rules are there),
:mod:`~tui_trader.broker.rest.errors` (:class:`AlpacaError` and its kinds),
:mod:`~tui_trader.broker.rest.routes` (the route family, path segments, parameters),
:mod:`~tui_trader.broker.rest.trading` (orders, positions, account, activities, clock) and
:mod:`~tui_trader.broker.rest.marketdata` (bars and quotes). :class:`AlpacaREST` joins the
calls as mixins over the one transport.
"""

from __future__ import annotations

from tui_trader.broker.rest.errors import (
    AlpacaError,
    AuthenticationError,
    ForbiddenError,
    NotFoundError,
    RateLimitError,
    ServerError,
    TransportError,
    UnprocessableError,
)
from tui_trader.broker.rest.marketdata import MarketDataCalls
from tui_trader.broker.rest.routes import MAX_PAGES, TimeArg
from tui_trader.broker.rest.trading import TradingCalls
from tui_trader.broker.rest.transport import RateLimit, tls_context

__all__ = [
    "MAX_PAGES",
    "AlpacaError",
    "AlpacaREST",
    "AuthenticationError",
    "ForbiddenError",
    "NotFoundError",
    "RateLimit",
    "RateLimitError",
    "ServerError",
    "TimeArg",
    "TransportError",
    "UnprocessableError",
    "tls_context",
]


class AlpacaREST(TradingCalls, MarketDataCalls):
    """Alpaca REST for one account: orders, positions, account, activities, market data.

    ``api`` picks the route family and auth (Broker: Basic on ``/v1/trading/accounts/{id}``;
    Trading: key headers on ``/v2``). GETs are retried ``retries`` times; nothing else is.
    ``sleep`` is injectable so tests see the retry delays without waiting them out. A retry
    that would have to wait longer than ``max_retry_wait`` (a far ``Retry-After``) is not
    made: the error is raised at once with ``retry_after`` set, so a screen never hangs.
    """
