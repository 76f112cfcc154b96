"""REST polling for the trade stream's facts, while the stream is down or not offered at all.

A Trading-API host may answer 404 on ``/v2/events/trades`` for good (API.md §9 #12), so this
can run for a whole session: each poll must cost the same in its first minute and its
seventh hour. It keeps cursors of its own and moves them with what it reads:

* fills: ``GET /account/activities?activity_types=FILL&after=<cursor>``, the cursor being the
  latest ``transaction_time`` seen minus ``overlap`` (activities page by id, until empty);
* orders submitted since the last poll: ``GET /orders?status=all&after=<cursor>``, ascending,
  paged past Alpaca's 500 by ``created_at`` (the cursor: the latest ``created_at`` seen
  minus ``overlap``);
* orders that were open: ``GET /orders?status=open`` (only while some are known to be open);
  those that left the open list are read with ``GET /orders/{id}`` when they are a few, or
  with one sweep of ``GET /orders?status=closed&after=<the oldest's created_at>``.

So a poll makes two to four requests, plus one per 100 new fills and per 500 new orders (and
a sweep after a mass cancel): it follows what happened since the last poll, never the size of
the day's history. What it reads becomes synthetic trade events keyed by the same facts
the stream carries (``fill:<order>:<cum qty>``, ``canceled:<order>``...), so the journal
keeps one copy whichever way an execution arrives.
"""

from __future__ import annotations

import json
import time
from collections import OrderedDict
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from tui_trader.core.fastparse import fact_of
from tui_trader.core.types import format_decimal

if TYPE_CHECKING:
    from tui_trader.broker.rest import AlpacaREST
    from tui_trader.core.models import Activity, WireOrder

Item = tuple[str, str, str, str, str]
"""(at, id, kind, payload, fact) of one synthetic trade event."""

ORDER_PAGE = 500  # Alpaca's most per page
MAX_ORDER_PAGES = 20  # 10,000 orders submitted between two polls: beyond that, the next poll
REMEMBERED = 5_000  # orders (and their last status) kept to find a fill's order
FEW_LOOKUPS = 5  # orders looked up one by one per poll; more are found by a sweep


class TradePoller:
    """One poll at a time (the supervisor's poll loop); the cursors live here."""

    def __init__(self, rest: AlpacaREST, *, overlap: float, first_overlap: float) -> None:
        self.rest = rest
        self.overlap = timedelta(seconds=overlap)
        self.first_overlap = timedelta(seconds=first_overlap)
        self.fills_after: datetime | None = None
        self.orders_after: datetime | None = None
        # open at the last poll: id -> created_at; None: not asked yet in this episode
        self._open: dict[str, datetime | None] | None = None
        self._gone: dict[str, datetime | None] = {}  # left the open list, status not yet read
        self._orders: OrderedDict[str, WireOrder] = OrderedDict()
        self._status: OrderedDict[str, str] = OrderedDict()  # id -> last status synthesised
        self.last_ok: float | None = None  # monotonic time the last poll completed
        self.polls = 0

    def begin(self, anchor: datetime) -> None:
        """A polling episode starts; the stream stood at ``anchor``. Cursors never move back:
        what an earlier episode read stays read, what the stream delivered since is skipped."""
        start = anchor - self.first_overlap
        self.fills_after = start if self.fills_after is None else max(self.fills_after, start)
        self.orders_after = start if self.orders_after is None else max(self.orders_after, start)
        self._open = None  # whatever was open then, ask again

    async def poll(self) -> list[Item]:
        """Everything new since the last poll, as synthetic trade events in time order."""
        assert self.fills_after is not None and self.orders_after is not None, "begin() first"
        fills = await self.rest.activities(
            activity_types=["FILL"], after=self.fills_after, direction="asc"
        )
        seen: dict[str, WireOrder] = {o.id: o for o in await self._new_orders()}
        if self._open is None or self._open:
            seen.update((o.id, o) for o in await self._list(status="open"))
            for order_id, created in (self._open or {}).items():
                if order_id not in seen:
                    self._gone[order_id] = created
        if self._gone:  # filled, canceled, expired...: read what became of them
            for order_id in list(self._gone):
                if order_id in seen:
                    del self._gone[order_id]
            resolved = await self._resolve(self._gone)
            for order_id, order in resolved.items():
                seen[order_id] = order
                self._gone.pop(order_id, None)
        self._open = {o.id: o.created_at for o in seen.values() if _is_open(o)}
        for order in seen.values():
            self._remember(order)
        items: list[Item] = []
        for act in fills:
            of = await self._order_of(act)
            if of is not None and act.cum_qty is not None:
                items.append(synth_fill(act, of))
        for order in seen.values():
            status = str(order.status)
            if self._status.get(order.id) == status:
                continue  # already said
            self._status[order.id] = status
            self._status.move_to_end(order.id)
            synth = synth_status(order)
            if synth is not None:
                items.append(synth)
        while len(self._status) > REMEMBERED:
            self._status.popitem(last=False)
        self._advance(fills, seen.values())
        items.sort(key=lambda item: item[0])
        self.polls += 1
        self.last_ok = time.monotonic()
        return items

    async def _new_orders(self) -> list[WireOrder]:
        """Orders submitted after the cursor, every page of them."""
        return await self._list(status="all", after=self.orders_after)

    async def _list(self, status: str, after: datetime | None = None) -> list[WireOrder]:
        got: dict[str, WireOrder] = {}
        for _ in range(MAX_ORDER_PAGES):
            page = await self.rest.list_orders(
                status=status, after=after, direction="asc", limit=ORDER_PAGE
            )
            fresh = [o for o in page if o.id not in got]
            got.update((o.id, o) for o in fresh)
            if len(page) < ORDER_PAGE or not fresh:
                break
            last = page[-1].created_at
            if last is None:
                break
            # `after` is exclusive: step back a microsecond so that orders sharing the last
            # one's timestamp are not skipped (they come again and are dropped as seen)
            after = last - timedelta(microseconds=1)
        return list(got.values())

    async def _resolve(self, gone: dict[str, datetime | None]) -> dict[str, WireOrder]:
        """The orders in ``gone`` as they are now: one GET each when they are few, else one
        sweep of the closed orders submitted since the oldest of them (a mass cancel of 600
        orders costs two pages, not 600 requests). What the sweep misses is looked up a few
        at a time, the rest on the next polls: the request rate stays bounded."""
        found: dict[str, WireOrder] = {}
        if len(gone) > FEW_LOOKUPS:
            known = [c for c in gone.values() if c is not None]
            if known:
                sweep = await self._list(
                    status="closed", after=min(known) - timedelta(microseconds=1)
                )
                found = {o.id: o for o in sweep if o.id in gone}
        for order_id in [x for x in gone if x not in found][:FEW_LOOKUPS]:
            found[order_id] = await self.rest.get_order(order_id)
        return found

    async def _order_of(self, act: Activity) -> WireOrder | None:
        if not act.order_id:
            return None
        order_id = str(act.order_id)
        order = self._orders.get(order_id)
        if order is None:
            order = await self.rest.get_order(order_id)
            self._remember(order)
        return order

    def _remember(self, order: WireOrder) -> None:
        self._orders[order.id] = order
        self._orders.move_to_end(order.id)
        while len(self._orders) > REMEMBERED:
            self._orders.popitem(last=False)

    def _advance(self, fills: list[Activity], orders: Any) -> None:
        times = [a.transaction_time for a in fills if a.transaction_time is not None]
        if times and self.fills_after is not None:
            self.fills_after = max(self.fills_after, max(times) - self.overlap)
        created = [o.created_at for o in orders if o.created_at is not None]
        if created and self.orders_after is not None:
            self.orders_after = max(self.orders_after, max(created) - self.overlap)


def _is_open(order: WireOrder) -> bool:
    return str(order.status) in OPEN_STATUSES


OPEN_STATUSES = frozenset(
    {
        "new",
        "accepted",
        "pending_new",
        "accepted_for_bidding",
        "partially_filled",
        "pending_cancel",
        "pending_replace",
        "held",
        "calculated",
        "stopped",
        "suspended",
        "done_for_day",
    }
)


# ------------------------------------------------------------------------ synthesis
def _order_json(order: WireOrder) -> dict[str, Any]:
    data: dict[str, Any] = order.model_dump(mode="json", by_alias=True)
    return data


def synth_fill(act: Activity, order: WireOrder) -> Item:
    cum = format_decimal(act.cum_qty) if act.cum_qty is not None else "0"
    at = act.transaction_time.isoformat().replace("+00:00", "Z") if act.transaction_time else ""
    kind = "fill" if str(act.type or "fill") == "fill" else "partial_fill"
    order_json = _order_json(order)
    order_json["filled_qty"] = cum  # the order as of this execution
    payload = {
        "account_id": getattr(act, "account_id", None),
        "at": at,
        "event": kind,
        "event_id": f"poll:{act.id}",
        "execution_id": None,
        "order": order_json,
        "price": None if act.price is None else format_decimal(act.price),
        "qty": None if act.qty is None else format_decimal(act.qty),
        "timestamp": at,
        "source": "poll",
    }
    fact = fact_of(kind, order.id, act.cum_qty) or f"fill:{order.id}:{cum}"
    return at, f"poll:{act.id}", kind, json.dumps(payload, separators=(",", ":")), fact


_STATUS_EVENT = {
    # taken in or routed, not yet working at the venue: said as such (Alpaca's own events),
    # not as ``new``: such an order cannot be replaced yet (API.md §5.3), and a polled
    # ``new`` would take the fact ``new:<id>`` the real one needs when it comes
    "accepted": "accepted",
    "pending_new": "pending_new",
    "new": "new",
    "partially_filled": "new",
    "canceled": "canceled",
    "expired": "expired",
    "rejected": "rejected",
    "replaced": "replaced",
}


def synth_status(order: WireOrder) -> Item | None:
    kind = _STATUS_EVENT.get(str(order.status))
    if kind is None:
        return None
    stamp = order.updated_at or order.created_at
    at = stamp.isoformat().replace("+00:00", "Z") if stamp else ""
    payload = {
        "account_id": None,
        "at": at,
        "event": kind,
        "event_id": f"poll:{kind}:{order.id}",
        "order": _order_json(order),
        "timestamp": at,
        "source": "poll",
    }
    return (
        at,
        f"poll:{kind}:{order.id}",
        kind,
        json.dumps(payload, separators=(",", ":")),
        fact_of(kind, order.id, None) or f"{kind}:{order.id}",
    )


__all__ = ["TradePoller", "synth_fill", "synth_status"]
