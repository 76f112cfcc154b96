"""The emulator's HTTP surface (Starlette): Trading, Broker and market-data REST routes, the
SSE event streams, and the ``/_emulator`` admin routes for tests and demos.

Route shapes and bodies follow ../shared/alpaca/API.md; where Alpaca is silent, §9's defaults.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

from pydantic import ValidationError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import BaseRoute, Route

from tui_trader.sim import errors
from tui_trader.sim.book import SimAccount
from tui_trader.sim.data_socket import DataSocket
from tui_trader.sim.emulator import Emulator
from tui_trader.sim.errors import ApiFailure
from tui_trader.sim.exchange import parse_query_time
from tui_trader.sim.faults import FAULT_SPECS
from tui_trader.sim.gate import DROP_KEY, Gate
from tui_trader.sim.marketdata import MarketData
from tui_trader.sim.responses import JSON
from tui_trader.sim.streams import EventStreamer
from tui_trader.sim.trade_socket import TradeSocket


def truthy(value: str | None) -> bool:
    return value is not None and value.strip().lower() in ("true", "1", "yes")


def _decimal_param(request: Request, name: str) -> Decimal | None:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return None
    try:
        value = Decimal(raw)
    except ArithmeticError:
        raise errors.validation(f"invalid {name}") from None
    if not value.is_finite():
        raise errors.validation(f"invalid {name}")
    return value


def _int_param(request: Request, name: str, default: int, lo: int, hi: int) -> int:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise errors.validation(f"invalid {name}") from None
    if not lo <= value <= hi:
        raise errors.validation(f"{name} must be between {lo} and {hi}")
    return value


async def _json_body(request: Request) -> dict[str, Any]:
    raw = await request.body()
    try:
        body = json.loads(raw or b"{}", parse_float=Decimal)
    except (ValueError, UnicodeDecodeError):
        raise errors.bad_request("request body format is invalid") from None
    if not isinstance(body, dict):
        raise errors.bad_request("request body format is invalid")
    return body


class Api:
    """Route handlers bound to one emulator."""

    def __init__(self, emulator: Emulator) -> None:
        self.emu = emulator
        self.ex = emulator.exchange
        self.data = MarketData(emulator)
        self.streams = EventStreamer(emulator)
        self.trade_socket = TradeSocket(emulator)

    # ------------------------------------------------------------------------ plumbing
    def _account(self, request: Request) -> SimAccount:
        account_id = request.path_params.get("account_id")
        return self.ex.default_account if account_id is None else self.ex.account(account_id)

    @staticmethod
    def _broker(request: Request) -> bool:
        return request.url.path.startswith("/v1/")

    def routes(self) -> list[BaseRoute]:
        def both(path: str, endpoint: Any, methods: list[str]) -> list[Route]:
            return [
                Route(f"/v2{path}", endpoint, methods=methods),
                Route(f"/v1/trading/accounts/{{account_id}}{path}", endpoint, methods=methods),
            ]

        return [
            *both("/account", self.get_account, ["GET"]),
            Route("/v2/orders:by_client_order_id", self.get_by_client_id, methods=["GET"]),
            Route(
                "/v1/trading/accounts/{account_id}/orders:by_client_order_id",
                self.get_by_client_id,
                methods=["GET"],
            ),
            *both("/orders", self.orders, ["GET", "POST", "DELETE"]),
            *both("/orders/{order_id}", self.order, ["GET", "PATCH", "DELETE"]),
            *both("/positions", self.positions, ["GET", "DELETE"]),
            *both("/positions/{symbol}", self.position, ["GET", "DELETE"]),
            Route("/v2/account/activities", self.activities, methods=["GET"]),
            Route("/v2/account/activities/{activity_type}", self.activities, methods=["GET"]),
            Route("/v1/accounts/activities", self.activities, methods=["GET"]),
            Route("/v1/accounts/activities/{activity_type}", self.activities, methods=["GET"]),
            Route("/v1/accounts", self.list_accounts, methods=["GET"]),
            Route("/v2/clock", self.get_clock, methods=["GET"]),
            Route("/v2/assets", self.list_assets, methods=["GET"]),
            Route("/v2/assets/{symbol}", self.get_asset, methods=["GET"]),
            *self.streams.routes(),
            *self.trade_socket.routes(),
            *self.data.routes(),
            Route("/_emulator/state", self.admin_state, methods=["GET"]),
            Route("/_emulator/faults", self.admin_faults, methods=["GET", "POST", "DELETE"]),
            Route("/_emulator/clock/advance", self.admin_advance, methods=["POST"]),
            Route("/_emulator/events", self.admin_event, methods=["POST"]),
            Route("/_emulator/config", self.admin_config, methods=["POST"]),
            Route("/_emulator/backlog", self.admin_backlog, methods=["POST"]),
            Route("/_emulator/disconnect", self.admin_disconnect, methods=["POST"]),
            Route("/_emulator/halt", self.admin_halt, methods=["POST", "DELETE"]),
            Route("/_emulator/accounts/{account_id}", self.admin_account, methods=["POST"]),
        ]

    # ------------------------------------------------------------------------- account
    async def get_account(self, request: Request) -> Response:
        return JSON(self.ex.account_wire(self._account(request)))

    async def list_accounts(self, request: Request) -> Response:
        return JSON(
            [
                {
                    "id": a.id,
                    "account_number": a.number,
                    "status": a.status,
                    "currency": "USD",
                    "created_at": self.ex.account_wire(a)["created_at"],
                    "last_equity": str(a.last_equity),
                }
                for a in self.ex.accounts.values()
            ]
        )

    # -------------------------------------------------------------------------- orders
    async def orders(self, request: Request) -> Response:
        acct = self._account(request)
        if request.method == "POST":
            body = await _json_body(request)
            order = self.ex.submit(acct, body)
            if self.emu.faults.take_drop_order_response():
                request.scope[DROP_KEY]["drop"] = True
            return JSON(order.wire())
        if request.method == "DELETE":
            canceled = self.ex.cancel_all(acct)
            broker = self._broker(request)
            items = []
            for o in canceled:
                item: dict[str, Any] = {"id": o.id, "status": 200}
                if broker:
                    item["body"] = o.wire()
                items.append(item)
            return JSON(items, status_code=207)
        q = request.query_params
        status = q.get("status", "open")
        if status not in ("open", "closed", "all"):
            raise errors.validation("status must be open, closed or all")
        direction = q.get("direction", "desc")
        if direction not in ("asc", "desc"):
            raise errors.validation("direction must be asc or desc")
        symbols = [s for s in q.get("symbols", "").split(",") if s.strip()] or None
        return JSON(
            self.ex.list_orders(
                acct,
                status=status,
                limit=_int_param(request, "limit", 50, 1, 500),
                after=parse_query_time(q.get("after"), "after"),
                until=parse_query_time(q.get("until"), "until"),
                direction=direction,
                nested=truthy(q.get("nested")),
                symbols=symbols,
                side=q.get("side"),
            )
        )

    async def order(self, request: Request) -> Response:
        acct = self._account(request)
        order_id = request.path_params["order_id"]
        if request.method == "PATCH":
            body = await _json_body(request)
            return JSON(self.ex.replace(acct, order_id, body).wire())
        if request.method == "DELETE":
            self.ex.cancel(acct, order_id)
            return Response(status_code=204)
        nested = request.query_params.get("nested")
        return JSON(
            self.ex.find_order(acct, order_id).wire(nested_legs=nested is None or truthy(nested))
        )

    async def get_by_client_id(self, request: Request) -> Response:
        acct = self._account(request)
        cid = request.query_params.get("client_order_id")
        if not cid:
            raise errors.validation("client_order_id is missing")
        return JSON(self.ex.find_by_client_id(acct, cid).wire())

    # ----------------------------------------------------------------------- positions
    async def positions(self, request: Request) -> Response:
        acct = self._account(request)
        if request.method == "DELETE":
            cancel = truthy(request.query_params.get("cancel_orders"))
            results = self.ex.close_all(acct, cancel)
            return JSON(
                [{"symbol": sym, "status": st, "body": body} for sym, st, body in results],
                status_code=207,
            )
        return JSON(self.ex.positions_wire(acct))

    async def position(self, request: Request) -> Response:
        acct = self._account(request)
        symbol = request.path_params["symbol"]
        if request.method == "DELETE":
            order = self.ex.close_position(
                acct,
                symbol,
                qty=_decimal_param(request, "qty"),
                percentage=_decimal_param(request, "percentage"),
            )
            return JSON(order.wire())
        return JSON(self.ex.position_wire(acct, self.ex.position(acct, symbol)))

    # ---------------------------------------------------------------------- activities
    async def activities(self, request: Request) -> Response:
        q = request.query_params
        broker = self._broker(request)
        if broker:
            account_id = q.get("account_id")
            accounts = (
                [self.ex.account(account_id)] if account_id else list(self.ex.accounts.values())
            )
        else:
            accounts = [self.ex.default_account]
        types: set[str] | None = None
        path_type = request.path_params.get("activity_type")
        listed = [t for v in q.getlist("activity_types") for t in v.split(",") if t.strip()]
        if path_type:
            types = {path_type.upper()}
        elif listed:
            types = {t.strip().upper() for t in listed}
        category = q.get("category")
        if category is not None and category not in ("trade_activity", "non_trade_activity"):
            raise errors.validation("category must be trade_activity or non_trade_activity")
        if category and types:
            raise errors.validation("category cannot be used with activity_types")
        on_date = parse_query_time(q.get("date"), "date")
        direction = q.get("direction", "desc")
        if direction not in ("asc", "desc"):
            raise errors.validation("direction must be asc or desc")
        page_size = q.get("page_size")
        return JSON(
            self.ex.activities(
                accounts,
                types,
                category,
                on_date.date() if on_date else None,
                parse_query_time(q.get("after"), "after"),
                parse_query_time(q.get("until"), "until"),
                direction,
                _int_param(request, "page_size", 100, 1, 10_000) if page_size else None,
                q.get("page_token"),
                with_account_id=broker,
            )
        )

    # ----------------------------------------------------------------- clock and assets
    async def get_clock(self, request: Request) -> Response:
        return JSON(self.data.clock())

    async def list_assets(self, request: Request) -> Response:
        return JSON([self.data.asset(s) for s in self.ex.market.symbols])

    async def get_asset(self, request: Request) -> Response:
        symbol = self.ex.resolve_symbol(request.path_params["symbol"])
        if symbol is None:
            raise errors.not_found("asset not found")
        return JSON(self.data.asset(symbol))

    # --------------------------------------------------------------------------- admin
    async def admin_state(self, request: Request) -> Response:
        return JSON(
            {
                "now": self.ex.now().isoformat(),
                "speed": self.emu.clock.speed,
                "accounts": [a.id for a in self.ex.accounts.values()],
                "symbols": self.ex.market.symbols,
                "events": {name: log.end for name, log in self.ex.logs.items()},
                "connections": self.emu.connections(),
                "faults": self.emu.pending_faults(),
                "injected": self.emu.faults.injected,
                "stats": self.emu.stats,
            }
        )

    async def admin_faults(self, request: Request) -> Response:
        if request.method == "DELETE":
            self.emu.clear_faults()
        elif request.method == "POST":
            raw = await _json_body_any(request)
            try:
                specs = FAULT_SPECS.validate_python(raw if isinstance(raw, list) else [raw])
            except ValidationError as exc:
                raise errors.validation(_first_error(exc)) from None
            for spec in specs:
                self.emu.arm(spec)
        return JSON({"pending": self.emu.pending_faults(), "injected": self.emu.faults.injected})

    async def admin_advance(self, request: Request) -> Response:
        body = await _json_body(request)
        seconds = body.get("seconds", 0)
        if not isinstance(seconds, int | float | Decimal) or not 0 <= seconds <= 86_400 * 30:
            raise errors.validation("seconds must be a number of trading seconds, 0..2592000")
        self.emu.advance(float(seconds))
        return JSON({"now": self.ex.now().isoformat()})

    async def admin_event(self, request: Request) -> Response:
        body = await _json_body(request)
        stream = body.get("stream", "trades")
        acct = (
            self.ex.account(str(body["account_id"]))
            if body.get("account_id")
            else self.ex.default_account
        )
        now = self.ex.now()
        if stream == "trades":
            self.ex.inject_trade_event(acct, str(body.get("type", "restated")), now)
        elif stream == "accounts":
            changes = body.get("changes") or {"status_from": "ACTIVE", "status_to": "ACTIVE"}
            if not isinstance(changes, dict):
                raise errors.validation("changes must be an object")
            self.ex.emit_account_status(acct, now, **changes)
        elif stream == "nta":
            amount = Decimal(str(body.get("net_amount", "10")))
            self.ex.emit_nta(
                acct,
                now,
                str(body.get("entry_type", "JNLC")),
                amount,
                str(body.get("description", "")),
                symbol=str(body.get("symbol", "")),
            )
        else:
            raise errors.validation("stream must be trades, accounts or nta")
        return JSON({"events": {name: log.end for name, log in self.ex.logs.items()}})

    async def admin_halt(self, request: Request) -> Response:
        """Halt trading in symbols (orders for them get 403), or lift every halt (DELETE)."""
        if request.method == "DELETE":
            self.ex.halted.clear()
        else:
            body = await _json_body(request)
            symbols = body.get("symbols", [])
            if not isinstance(symbols, list):
                raise errors.validation("symbols must be a list")
            self.ex.halted.update(str(s).strip().upper() for s in symbols)
        return JSON({"halted": sorted(self.ex.halted)})

    async def admin_disconnect(self, request: Request) -> Response:
        return JSON({"cut": self.emu.disconnect_all()})

    async def admin_backlog(self, request: Request) -> Response:
        body = await _json_body(request)
        orders = body.get("orders", 1000)
        if not isinstance(orders, int) or not 1 <= orders <= 1_000_000:
            raise errors.validation("orders must be an integer in 1..1000000")
        acct = (
            self.ex.account(str(body["account_id"]))
            if body.get("account_id")
            else self.ex.default_account
        )
        symbol = body.get("symbol")
        if symbol is not None and not self.ex.market.has(str(symbol).upper()):
            raise errors.validation(f'asset "{symbol}" not found')
        written = self.ex.backlog(acct, orders, str(symbol).upper() if symbol else None)
        return JSON({"trade_events": written, "end": self.ex.logs["trades"].end})

    async def admin_config(self, request: Request) -> Response:
        body = await _json_body(request)
        cfg = self.emu.config
        if "rate_limit_per_minute" in body:
            cfg.rate_limit_per_minute = int(body["rate_limit_per_minute"])
            self.emu.limiter.limit = cfg.rate_limit_per_minute
        if "heartbeat_seconds" in body:
            cfg.heartbeat_seconds = float(body["heartbeat_seconds"])
        if "heartbeat_mode" in body:
            if body["heartbeat_mode"] not in ("idle", "fixed"):
                raise errors.validation("heartbeat_mode must be idle or fixed")
            cfg.heartbeat_mode = body["heartbeat_mode"]
        for flag in ("strict_auth", "legacy_v1_trades", "ws_binary_frames", "ws_event_ids"):
            if flag in body:
                setattr(cfg, flag, bool(body[flag]))
        if "chaos" in body:
            self.emu.faults.chaos = float(body["chaos"])
        return JSON({"ok": True})

    async def admin_account(self, request: Request) -> Response:
        acct = self.ex.account(request.path_params["account_id"])
        body = await _json_body(request)
        changes: dict[str, Any] = {}
        if "status" in body:
            changes["status_from"], changes["status_to"] = acct.status, str(body["status"])
            acct.status = str(body["status"])
        for flag in ("trading_blocked", "account_blocked", "shorting_enabled"):
            if flag in body:
                setattr(acct, flag, bool(body[flag]))
                if flag != "shorting_enabled":
                    changes[flag] = bool(body[flag])
        if "cash" in body:
            acct.cash = Decimal(str(body["cash"]))
        if changes:
            self.ex.emit_account_status(acct, self.ex.now(), **changes)
        return JSON(self.ex.account_wire(acct))


async def _json_body_any(request: Request) -> Any:
    raw = await request.body()
    try:
        return json.loads(raw or b"{}")
    except ValueError:
        raise errors.bad_request("request body format is invalid") from None


def _first_error(exc: ValidationError) -> str:
    err = exc.errors()[0]
    where = ".".join(str(p) for p in err["loc"])
    return f"{where}: {err['msg']}" if where else str(err["msg"])


async def _api_failure(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiFailure)
    return JSON(exc.body(), status_code=exc.status, headers=exc.headers)


async def _not_found(request: Request, exc: Exception) -> Response:
    return JSON({"code": errors.NOT_FOUND, "message": "endpoint not found"}, status_code=404)


async def _not_allowed(request: Request, exc: Exception) -> Response:
    return JSON({"code": 40510000, "message": "method not allowed"}, status_code=405)


def create_app(emulator: Emulator) -> Gate:
    """The ASGI app: the gate in front of the routes; the tick loop runs with its lifespan."""

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await emulator.start()
        try:
            yield
        finally:
            await emulator.stop()

    api = Api(emulator)
    app = Starlette(
        routes=[*api.routes(), *DataSocket(emulator).routes()],
        exception_handlers={ApiFailure: _api_failure, 404: _not_found, 405: _not_allowed},
        lifespan=lifespan,
    )
    return Gate(app, emulator)


__all__ = ["JSON", "StreamingResponse", "create_app"]
