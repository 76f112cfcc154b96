"""Read-only queries over the books: orders and activities as the REST list endpoints filter,
sort and page them, and the query-string times they are filtered by.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime
from typing import Any

from tui_trader.core.types import parse_timestamp
from tui_trader.sim import errors
from tui_trader.sim.book import SimAccount, SimOrder
from tui_trader.sim.exchange.state import ExchangeState


class OrderQueries(ExchangeState):
    """The list endpoints: filters, order and paging as Alpaca applies them."""

    def list_orders(
        self,
        acct: SimAccount,
        status: str = "open",
        limit: int = 50,
        after: datetime | None = None,
        until: datetime | None = None,
        direction: str = "desc",
        nested: bool = False,
        symbols: Iterable[str] | None = None,
        side: str | None = None,
    ) -> list[dict[str, Any]]:
        wanted = {x.strip().upper() for x in symbols} if symbols else None
        out: list[SimOrder] = []
        for o in acct.orders.values():
            if nested and o.parent is not None:
                continue
            if status == "open" and not o.is_open:
                continue
            if status == "closed" and o.is_open:
                continue
            if after is not None and o.created_at <= after:
                continue
            if until is not None and o.created_at >= until:
                continue
            if wanted is not None and o.symbol not in wanted:
                continue
            if side is not None and o.side != side:
                continue
            out.append(o)
        out.sort(key=lambda o: (o.created_at, o.nanos), reverse=(direction != "asc"))
        return [o.wire(nested_legs=nested) for o in out[:limit]]

    def activities(
        self,
        accounts: Iterable[SimAccount],
        types: set[str] | None,
        category: str | None,
        on_date: date | None,
        after: datetime | None,
        until: datetime | None,
        direction: str,
        page_size: int | None,
        page_token: str | None,
        with_account_id: bool,
    ) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        for acct in accounts:
            for act in acct.activities:
                kind = act["activity_type"]
                if types is not None and kind not in types:
                    continue
                if category == "trade_activity" and kind != "FILL":
                    continue
                if category == "non_trade_activity" and kind == "FILL":
                    continue
                when: datetime = act["_at"]
                if on_date is not None and when.date() != on_date:
                    continue
                if after is not None and when <= after:
                    continue
                if until is not None and when >= until:
                    continue
                items.append(act)
        items.sort(key=lambda a: a["id"], reverse=(direction != "asc"))
        if page_token:
            if direction == "asc":
                items = [a for a in items if a["id"] > page_token]
            else:
                items = [a for a in items if a["id"] < page_token]
        if on_date is None:
            items = items[: min(page_size or 100, 100)]
        elif page_size:
            items = items[:page_size]
        out = []
        for act in items:
            wire = {k: v for k, v in act.items() if not k.startswith("_")}
            if not with_account_id:
                wire.pop("account_id", None)
            out.append(wire)
        return out


def parse_query_time(value: str | None, name: str) -> datetime | None:
    """A date or RFC3339 time from a query string; '+' may arrive decoded as a space."""
    if value is None or value == "":
        return None
    text = value.strip()
    if len(text) > 10 and text[-6] == " " and text[-5:-3].isdigit():
        text = text[:-6] + "+" + text[-5:]
    try:
        parsed = parse_timestamp(text)
    except ValueError:
        parsed = None
    if parsed is None:
        raise errors.bad_request(f"invalid {name}: {value!r}")
    return parsed
