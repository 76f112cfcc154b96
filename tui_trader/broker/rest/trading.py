"""The trading calls: account, clock, positions, orders and activities.

The same calls serve both route families (:mod:`~tui_trader.broker.rest.routes`); only the
clock and the activities live at Broker API routes of their own, chosen here.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable
from typing import Any, Final

from tui_trader.broker.rest.errors import AlpacaError
from tui_trader.broker.rest.routes import (
    MAX_PAGES,
    TimeArg,
    number_param,
    segment,
    symbols_param,
    time_param,
)
from tui_trader.broker.rest.transport import RESTTransport
from tui_trader.config import ApiFamily
from tui_trader.core.models import Account, Activity, MultiStatusItem, Position, WireOrder
from tui_trader.core.orders import Number, Order, TimeInForce

_ACTIVITY_PAGE_CAP: Final = 100  # Alpaca caps page_size at 100 without `date` (§5.11)


class TradingCalls(RESTTransport):
    """Orders, positions, account, activities and the clock, on the Trading or Broker API."""

    # ----------------------------------------------------------------------------- account

    async def get_account(self) -> Account:
        response = await self._get(self._route("/account"))
        return self._model(Account, self._body(response), response)

    async def get_clock(self) -> dict[str, Any]:
        """The market clock. The Broker API serves it at ``/v1/clock``, Trading at ``/v2``."""
        path = "/v1/clock" if self.api is ApiFamily.BROKER else "/v2/clock"
        response = await self._get(f"{self.base_url}{path}")
        return self._object(response, "clock")

    async def get_asset(self, symbol: str) -> dict[str, Any]:
        """One asset the broker lists (``/v2/assets/{symbol}``; the Broker API's
        ``/v1/assets``): a 404 :class:`AlpacaError` when it lists none by that name."""
        path = "/v1/assets" if self.api is ApiFamily.BROKER else "/v2/assets"
        response = await self._get(f"{self.base_url}{path}/{self._symbol_segment(symbol)}")
        return self._object(response, "asset")

    # --------------------------------------------------------------------------- positions

    async def list_positions(self) -> list[Position]:
        return self._models(Position, await self._get(self._route("/positions")))

    async def get_position(self, symbol: str) -> Position:
        """``symbol`` may be a ticker, an asset id, or a pair like ``BTC/USD`` (sent ``BTCUSD``)."""
        response = await self._get(self._route(f"/positions/{self._symbol_segment(symbol)}"))
        return self._model(Position, self._body(response), response)

    async def close_position(
        self, symbol: str, *, qty: Number | None = None, percentage: Number | None = None
    ) -> WireOrder:
        """Liquidate all or part of one position; returns the liquidation order (not a fill)."""
        if qty is not None and percentage is not None:
            raise ValueError("give qty or percentage, not both")
        params: dict[str, Any] = {}
        if qty is not None:
            params["qty"] = number_param(qty, "qty")
        if percentage is not None:
            params["percentage"] = number_param(percentage, "percentage")
        url = self._route(f"/positions/{self._symbol_segment(symbol)}")
        response = await self._request("DELETE", url, params=params or None)
        return self._model(WireOrder, self._body(response), response)

    async def close_all_positions(self, cancel_orders: bool = True) -> list[MultiStatusItem]:
        """Flatten: one 207 item per symbol; items may mix successes and failures."""
        params = {"cancel_orders": "true"} if cancel_orders else None
        response = await self._request("DELETE", self._route("/positions"), params=params)
        return self._multi_status(response)

    @staticmethod
    def _symbol_segment(symbol: str) -> str:
        return segment(symbol.strip().upper().replace("/", ""), "symbol")

    # ------------------------------------------------------------------------------ orders

    async def submit_order(self, order: Order) -> WireOrder:
        """Send once. On :class:`TransportError` the order may exist: look it up with
        :meth:`get_order_by_client_id` before sending it again.
        """
        response = await self._request("POST", self._route("/orders"), json=order.to_request())
        return self._model(WireOrder, self._body(response), response)

    async def get_order(self, order_id: str) -> WireOrder:
        response = await self._get(self._route(f"/orders/{segment(order_id, 'order_id')}"))
        return self._model(WireOrder, self._body(response), response)

    async def get_order_by_client_id(self, client_order_id: str) -> WireOrder:
        if not client_order_id or not client_order_id.strip():
            raise ValueError("client_order_id must be a non-empty string")
        response = await self._get(
            self._route("/orders:by_client_order_id"), {"client_order_id": client_order_id}
        )
        return self._model(WireOrder, self._body(response), response)

    async def list_orders(
        self,
        status: str = "open",
        *,
        after: TimeArg | None = None,
        until: TimeArg | None = None,
        limit: int = 500,
        direction: str = "asc",
        nested: bool = False,
        symbols: str | Iterable[str] | None = None,
    ) -> list[WireOrder]:
        """One page of orders (Alpaca's limit is 500); ``until`` is exclusive."""
        if status not in ("open", "closed", "all"):
            raise ValueError("status must be open, closed or all")
        if direction not in ("asc", "desc"):
            raise ValueError("direction must be asc or desc")
        if not 1 <= limit <= 500:
            raise ValueError("limit must be within 1..500")
        params: dict[str, Any] = {
            "status": status,
            "limit": limit,
            "direction": direction,
            "nested": "true" if nested else "false",
        }
        if after is not None:
            params["after"] = time_param(after)
        if until is not None:
            params["until"] = time_param(until)
        if symbols is not None:
            params["symbols"] = symbols_param(symbols)
        return self._models(WireOrder, await self._get(self._route("/orders"), params))

    async def replace_order(
        self,
        order_id: str,
        *,
        qty: Number | None = None,
        limit_price: Number | None = None,
        stop_price: Number | None = None,
        trail: Number | None = None,
        time_in_force: TimeInForce | str | None = None,
        client_order_id: str | None = None,
    ) -> WireOrder:
        """PATCH the order; returns the *new* order (new id, ``replaces`` = the old id).

        A 200 does not prove the replace happened: the old order may fill first (§5.3).
        """
        body: dict[str, Any] = {}
        for name, value in (
            ("qty", qty),
            ("limit_price", limit_price),
            ("stop_price", stop_price),
            ("trail", trail),
        ):
            if value is not None:
                body[name] = number_param(value, name)
        if time_in_force is not None:
            body["time_in_force"] = TimeInForce(str(time_in_force).strip().lower()).value
        if client_order_id is not None:
            body["client_order_id"] = client_order_id
        if not body:
            raise ValueError("replace_order needs at least one field to change")
        url = self._route(f"/orders/{segment(order_id, 'order_id')}")
        response = await self._request("PATCH", url, json=body)
        return self._model(WireOrder, self._body(response), response)

    async def cancel_order(self, order_id: str) -> None:
        """Request a cancel (204). The order is canceled only when the stream says so."""
        await self._request("DELETE", self._route(f"/orders/{segment(order_id, 'order_id')}"))

    async def cancel_all_orders(self) -> list[MultiStatusItem]:
        """One 207 item per open order, each with the status of its own cancel."""
        return self._multi_status(await self._request("DELETE", self._route("/orders")))

    # -------------------------------------------------------------------------- activities

    async def iter_activities(
        self,
        *,
        activity_types: str | Iterable[str] | None = None,
        category: str | None = None,
        after: TimeArg | None = None,
        until: TimeArg | None = None,
        direction: str = "asc",
        page_size: int = 100,
        max_pages: int = MAX_PAGES,
    ) -> AsyncIterator[Activity]:
        """Account activities, page by page (``page_token`` = last id) until an empty page.

        Ids already seen are skipped, and a page with nothing new ends the walk, so a server
        that ignores ``page_token`` cannot make this loop or repeat itself.
        """
        if direction not in ("asc", "desc"):
            raise ValueError("direction must be asc or desc")
        if category is not None and activity_types is not None:
            raise ValueError("give activity_types or category, not both")
        if category is not None and category not in ("trade_activity", "non_trade_activity"):
            raise ValueError("category must be trade_activity or non_trade_activity")
        if not 1 <= page_size <= _ACTIVITY_PAGE_CAP:
            raise ValueError(f"page_size must be within 1..{_ACTIVITY_PAGE_CAP}")
        if max_pages < 1:
            raise ValueError("max_pages must be >= 1")
        params: dict[str, Any] = {"direction": direction, "page_size": page_size}
        if activity_types is not None:
            params["activity_types"] = symbols_param(activity_types)
        if category is not None:
            params["category"] = category
        if after is not None:
            params["after"] = time_param(after)
        if until is not None:
            params["until"] = time_param(until)
        if self.api is ApiFamily.BROKER:
            url = f"{self.base_url}/v1/accounts/activities"
            params["account_id"] = self.account_id
        else:
            url = f"{self.base_url}/v2/account/activities"
        seen: set[str] = set()
        for _ in range(max_pages):
            page = self._models(Activity, await self._get(url, params))
            fresh = [a for a in page if a.id not in seen]
            if not fresh:
                return
            for activity in fresh:
                seen.add(activity.id)
                yield activity
            params["page_token"] = page[-1].id
        raise AlpacaError(f"activities: still more after {max_pages} pages; narrow the query")

    async def activities(
        self,
        *,
        activity_types: str | Iterable[str] | None = None,
        category: str | None = None,
        after: TimeArg | None = None,
        until: TimeArg | None = None,
        direction: str = "asc",
        page_size: int = 100,
        max_pages: int = MAX_PAGES,
    ) -> list[Activity]:
        """Every matching activity, all pages collected (see :meth:`iter_activities`)."""
        return [
            activity
            async for activity in self.iter_activities(
                activity_types=activity_types,
                category=category,
                after=after,
                until=until,
                direction=direction,
                page_size=page_size,
                max_pages=max_pages,
            )
        ]
