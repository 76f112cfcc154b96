"""Market-data routes (API.md §7): latest quotes, trades and bars, snapshots, historical bars.

Unlike the trading API, prices and sizes are JSON numbers here. Bars come from the market
model's one-minute bars, aggregated for larger timeframes.
"""

from __future__ import annotations

import base64
import re
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tui_trader.sim import errors
from tui_trader.sim.book import ts6
from tui_trader.sim.clock import SESSION_SECONDS, session_open
from tui_trader.sim.exchange import parse_query_time
from tui_trader.sim.feeds import rest_feed
from tui_trader.sim.market import Bar
from tui_trader.sim.responses import JSON

if TYPE_CHECKING:
    from tui_trader.sim.emulator import Emulator

_TIMEFRAME = re.compile(r"^(\d+)(Min|T|Hour|H|Day|D)$")


def _json(content: Any, status: int = 200) -> Response:
    return JSON(content, status_code=status)


def parse_timeframe(text: str) -> tuple[str, int]:
    match = _TIMEFRAME.match(text.strip())
    if not match:
        raise errors.ApiFailure(400, None, f"invalid timeframe: {text!r}")
    n = int(match.group(1))
    unit = {"Min": "min", "T": "min", "Hour": "hour", "H": "hour", "Day": "day", "D": "day"}[
        match.group(2)
    ]
    limits = {"min": 59, "hour": 23, "day": 1}
    if not 1 <= n <= limits[unit]:
        raise errors.ApiFailure(400, None, f"invalid timeframe: {text!r}")
    return unit, n


def aggregate(bars: list[Bar], minutes: int) -> list[Bar]:
    """Group one-minute bars into ``minutes``-wide buckets aligned to the hour grid."""
    if minutes == 1:
        return bars
    out: list[Bar] = []
    for b in bars:
        epoch = int(b.t.timestamp())
        start = datetime.fromtimestamp(epoch - epoch % (minutes * 60), tz=b.t.tzinfo)
        if out and out[-1].t == start:
            out[-1].absorb(b)
        else:
            out.append(b.copy_at(start))
    return out


class MarketData:
    def __init__(self, emulator: Emulator) -> None:
        self.emu = emulator

    @property
    def market(self) -> Any:
        return self.emu.exchange.market

    def routes(self) -> list[Route]:
        return [
            Route("/v2/stocks/quotes/latest", self.latest_quotes, methods=["GET"]),
            Route("/v2/stocks/trades/latest", self.latest_trades, methods=["GET"]),
            Route("/v2/stocks/bars/latest", self.latest_bars, methods=["GET"]),
            Route("/v2/stocks/snapshots", self.snapshots, methods=["GET"]),
            Route("/v2/stocks/bars", self.bars, methods=["GET"]),
            Route("/v2/stocks/{symbol}/quotes/latest", self.latest_quote, methods=["GET"]),
            Route("/v2/stocks/{symbol}/trades/latest", self.latest_trade, methods=["GET"]),
            Route("/v2/stocks/{symbol}/bars/latest", self.latest_bar, methods=["GET"]),
            Route("/v2/stocks/{symbol}/snapshot", self.snapshot, methods=["GET"]),
            Route("/v2/stocks/{symbol}/bars", self.symbol_bars, methods=["GET"]),
        ]

    # ------------------------------------------------------------------------- helpers
    def _feed(self, request: Request, reaches: datetime | None = None) -> str:
        """Validate ``feed`` and apply the plan (feeds.py); None: the request is about now."""
        plan = self.emu.config.plan
        now = self.emu.exchange.now()
        return rest_feed(request.query_params.get("feed"), plan, now, reaches)

    def _symbols(self, request: Request) -> list[str]:
        raw = request.query_params.get("symbols", "")
        symbols = [s.strip().upper() for s in raw.split(",") if s.strip()]
        if not symbols:
            raise errors.ApiFailure(400, None, "symbols is required")
        return [s for s in symbols if self.market.has(s)]

    def _symbol(self, request: Request) -> str:
        symbol = str(request.path_params["symbol"]).strip().upper()
        if not self.market.has(symbol):
            raise errors.ApiFailure(404, None, f"symbol {symbol} not found")
        return symbol

    def quote(self, symbol: str) -> dict[str, Any]:
        q = self.market.quote(symbol)
        return {
            "ap": q.ask,
            "as": q.ask_size,
            "ax": "V",
            "bp": q.bid,
            "bs": q.bid_size,
            "bx": "V",
            "c": ["R"],
            "t": ts6(self.market.now),
            "z": "C",
        }

    def trade(self, symbol: str) -> dict[str, Any]:
        price, size, at, seq = self.market.last_trade(symbol)
        return {"c": ["@"], "i": seq, "p": price, "s": size, "t": ts6(at), "x": "V", "z": "C"}

    def last_minute_bar(self, symbol: str) -> dict[str, Any] | None:
        bars: list[Bar] = self.market.minute_bars(symbol)
        return bars[-1].to_wire() if bars else None

    def snapshot_of(self, symbol: str) -> dict[str, Any]:
        days = self.market.daily_bars(symbol)
        return {
            "dailyBar": days[-1].to_wire() if days else None,
            "latestQuote": self.quote(symbol),
            "latestTrade": self.trade(symbol),
            "minuteBar": self.last_minute_bar(symbol),
            "prevDailyBar": days[-2].to_wire() if len(days) > 1 else None,
        }

    def clock(self) -> dict[str, Any]:
        now = self.emu.exchange.now()
        st = self.emu.clock.session_time()
        opened = session_open(self.emu.clock.session_day(st.session))
        return {
            "timestamp": now.isoformat(),
            "is_open": True,
            "next_open": session_open(self.emu.clock.session_day(st.session + 1)).isoformat(),
            "next_close": (opened + timedelta(seconds=SESSION_SECONDS)).isoformat(),
        }

    def asset(self, symbol: str) -> dict[str, Any]:
        return {
            "id": self.emu.exchange.asset_id(symbol),
            "class": "us_equity",
            "exchange": "NASDAQ",
            "symbol": symbol,
            "name": f"{symbol} (simulated)",
            "status": "active",
            "tradable": True,
            "marginable": True,
            "shortable": True,
            "easy_to_borrow": True,
            "fractionable": True,
            "maintenance_margin_requirement": 30,
            "attributes": [],
        }

    # -------------------------------------------------------------------------- routes
    async def latest_quotes(self, request: Request) -> Response:
        self._feed(request)
        return _json({"quotes": {s: self.quote(s) for s in self._symbols(request)}})

    async def latest_trades(self, request: Request) -> Response:
        self._feed(request)
        return _json({"trades": {s: self.trade(s) for s in self._symbols(request)}})

    async def latest_bars(self, request: Request) -> Response:
        self._feed(request)
        return _json({"bars": {s: self.last_minute_bar(s) for s in self._symbols(request)}})

    async def snapshots(self, request: Request) -> Response:
        self._feed(request)
        return _json({s: self.snapshot_of(s) for s in self._symbols(request)})

    async def latest_quote(self, request: Request) -> Response:
        self._feed(request)
        s = self._symbol(request)
        return _json({"quote": self.quote(s), "symbol": s})

    async def latest_trade(self, request: Request) -> Response:
        self._feed(request)
        s = self._symbol(request)
        return _json({"symbol": s, "trade": self.trade(s)})

    async def latest_bar(self, request: Request) -> Response:
        self._feed(request)
        s = self._symbol(request)
        return _json({"bar": self.last_minute_bar(s), "symbol": s})

    async def snapshot(self, request: Request) -> Response:
        self._feed(request)
        return _json({"symbol": (s := self._symbol(request)), **self.snapshot_of(s)})

    async def bars(self, request: Request) -> Response:
        symbols = self._symbols(request)
        series, token = self._bars(request, symbols)
        return _json({"bars": series, "next_page_token": token})

    async def symbol_bars(self, request: Request) -> Response:
        symbol = self._symbol(request)
        series, token = self._bars(request, [symbol])
        return _json({"bars": series.get(symbol, []), "next_page_token": token, "symbol": symbol})

    def _bars(
        self, request: Request, symbols: list[str]
    ) -> tuple[dict[str, list[dict[str, Any]]], str | None]:
        q = request.query_params
        unit, n = parse_timeframe(q.get("timeframe", "1Min"))
        now = self.emu.exchange.now()
        start = parse_query_time(q.get("start"), "start")
        end = parse_query_time(q.get("end"), "end") or now
        self._feed(request, end)
        if start is None:
            start = session_open(self.emu.clock.session_day(self.emu.clock.session_time().session))
        try:
            limit = int(q.get("limit", "1000"))
        except ValueError:
            raise errors.ApiFailure(400, None, "invalid limit") from None
        if not 1 <= limit <= 10_000:
            raise errors.ApiFailure(400, None, "limit must be between 1 and 10000")
        descending = q.get("sort", "asc") == "desc"
        offset = 0
        if q.get("page_token"):
            try:
                offset = int(base64.urlsafe_b64decode(q["page_token"].encode()).decode())
            except (ValueError, UnicodeDecodeError):
                raise errors.ApiFailure(400, None, "invalid page_token") from None
        flat: list[tuple[str, Bar]] = []
        for symbol in sorted(symbols):
            if unit == "day":
                bars = self.market.daily_bars(symbol)
            else:
                bars = aggregate(
                    list(self.market.minute_bars(symbol)), n * (60 if unit == "hour" else 1)
                )
            selected = [b for b in bars if start <= b.t <= end]
            if descending:
                selected.reverse()
            flat.extend((symbol, b) for b in selected)
        page = flat[offset : offset + limit]
        series: dict[str, list[dict[str, Any]]] = {}
        for symbol, b in page:
            series.setdefault(symbol, []).append(b.to_wire())
        more = offset + limit < len(flat)
        token = base64.urlsafe_b64encode(str(offset + limit).encode()).decode() if more else None
        return series, token
