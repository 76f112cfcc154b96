"""The market-data calls: latest bars and quotes, historical bars.

Market data lives on its own host with the key headers whatever the route family (API.md
§7), and Alpaca counts its rate limit apart (:attr:`RESTTransport.data_rate_limit`).

Every request names its ``feed`` (``iex`` by default): without it historical bars default
to SIP, which the free plan refuses with 403 ("subscription does not permit querying recent
SIP data"), and the policy would never see a bar. A 403 on another feed falls back to
``iex`` once, told through ``on_feed_change`` (and the log), and later requests ask ``iex``.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import httpx

from tui_trader.broker.rest.errors import AlpacaError
from tui_trader.broker.rest.routes import MAX_PAGES, TimeArg, symbols_param, time_param
from tui_trader.broker.rest.transport import RESTTransport
from tui_trader.core.models import Bar, Quote

log = logging.getLogger("tui_trader.broker.rest")

FALLBACK_FEED = "iex"


class MarketDataCalls(RESTTransport):
    """Stocks' bars and quotes from the data host."""

    async def _data_get(self, suffix: str, params: dict[str, Any]) -> tuple[Any, httpx.Response]:
        asked = self.feed
        try:
            response = await self._request(
                "GET", self._data(suffix), params={**params, "feed": asked}, market_data=True
            )
        except AlpacaError as exc:
            # Alpaca's refusal carries no code, so it classifies as an auth error: the
            # status decides (a bad key is refused on iex as well, and raised then)
            if exc.status != 403 or asked == FALLBACK_FEED:
                raise
            if self.feed == asked:  # the first refusal (a concurrent one may have switched)
                self._fall_back(asked, exc)
            response = await self._request(
                "GET", self._data(suffix), params={**params, "feed": self.feed}, market_data=True
            )
        return self._body(response), response

    def _fall_back(self, refused: str, exc: AlpacaError) -> None:
        """Ask ``iex`` from now on, and say so: never silently, and never more than once
        (``iex`` is the last resort: a 403 on it is raised as it is)."""
        self.feed = FALLBACK_FEED
        why = str(exc)[:160]
        log.warning("market data: feed %s refused (%s); using %s", refused, why, FALLBACK_FEED)
        if self.on_feed_change is not None:
            self.on_feed_change(refused, FALLBACK_FEED, why)

    def _keyed(self, data: Any, key: str, response: httpx.Response) -> dict[str, Any]:
        inner = data.get(key) if isinstance(data, dict) else None
        if inner is None:
            return {}
        if not isinstance(inner, dict):
            raise AlpacaError(
                f"expected an object under {key!r}",
                status=response.status_code,
                path=response.request.url.path,
            )
        return inner

    async def latest_bars(self, symbols: str | Sequence[str]) -> dict[str, Bar]:
        """The latest minute bar per symbol; symbols without one are left out."""
        data, response = await self._data_get("/bars/latest", {"symbols": symbols_param(symbols)})
        items = self._keyed(data, "bars", response).items()
        return {s: self._model(Bar, b, response) for s, b in items if b is not None}

    async def latest_quotes(self, symbols: str | Sequence[str]) -> dict[str, Quote]:
        """The latest quote per symbol; unknown symbols are left out."""
        data, response = await self._data_get("/quotes/latest", {"symbols": symbols_param(symbols)})
        items = self._keyed(data, "quotes", response).items()
        return {s: self._model(Quote, q, response) for s, q in items if q is not None}

    async def bars(
        self,
        symbols: str | Sequence[str],
        timeframe: str = "1Min",
        *,
        start: TimeArg,
        end: TimeArg | None = None,
        limit: int = 10000,
        max_pages: int = MAX_PAGES,
    ) -> dict[str, list[Bar]]:
        """Historical bars, every page followed; ``limit`` is the page size (≤ 10000)."""
        if not 1 <= limit <= 10000:
            raise ValueError("limit must be within 1..10000")
        if max_pages < 1:
            raise ValueError("max_pages must be >= 1")
        params: dict[str, Any] = {
            "symbols": symbols_param(symbols),
            "timeframe": timeframe,
            "start": time_param(start),
            "limit": limit,
        }
        if end is not None:
            params["end"] = time_param(end)
        out: dict[str, list[Bar]] = {}
        tokens: set[str] = set()
        for _ in range(max_pages):
            data, response = await self._data_get("/bars", params)
            for symbol, series in self._keyed(data, "bars", response).items():
                if not isinstance(series, list):
                    raise AlpacaError(
                        f"expected a list of bars for {symbol}",
                        status=response.status_code,
                        path=response.request.url.path,
                    )
                out.setdefault(symbol, []).extend(self._model(Bar, b, response) for b in series)
            token = data.get("next_page_token") if isinstance(data, dict) else None
            if not token:
                return out
            if token in tokens:  # a server repeating a token would loop forever
                raise AlpacaError("bars: the server repeated a next_page_token")
            tokens.add(token)
            params["page_token"] = token
        raise AlpacaError(f"bars: still more after {max_pages} pages; narrow the query")
