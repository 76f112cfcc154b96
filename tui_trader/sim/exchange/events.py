"""What the exchange writes: events on its three streams (trades, accounts, nta) and the
activity records the activities endpoint lists.

A non-trade activity (a fee, a dividend) also moves the account's cash here, so the stream,
the activity list and the balance cannot disagree.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from tui_trader.sim.book import ZERO, SimAccount, SimOrder, s, ts, ts6
from tui_trader.sim.clock import next_trading_day
from tui_trader.sim.exchange.state import ExchangeState
from tui_trader.sim.ids import seeded_uuid


class EventWriter(ExchangeState):
    """Appends events to the stream logs and activities to the accounts."""

    def _activity_id(self, at: datetime) -> str:
        stamp = at.astimezone(UTC)
        return f"{stamp:%Y%m%d%H%M%S}{stamp.microsecond // 1000:03d}::{seeded_uuid(self._rng)}"

    def _emit_trade(self, order: SimOrder, event: str, at: datetime, **extra: Any) -> None:
        root = order
        ulid = self.ulids.new(at)
        payload: dict[str, Any] = {
            "account_id": order.account_id,
            "at": ts6(at),
            "event": event,
            "event_id": ulid,
            "execution_id": extra.pop("execution_id", None) or seeded_uuid(self._rng),
            "order": root.wire(),
        }
        payload.update(extra)
        payload["timestamp"] = ts(at, self._nanos)
        self.logs["trades"].append(ulid, at, payload)

    def emit_account_status(self, acct: SimAccount, at: datetime, **changes: Any) -> None:
        log = self.logs["accounts"]
        ulid = self.ulids.new(at)
        payload = {
            "account_id": acct.id,
            "account_number": acct.number,
            "at": ts6(at),
            "event_id": log.next_legacy,
            "event_ulid": ulid,
            **changes,
        }
        log.append(ulid, at, payload)

    def emit_nta(
        self,
        acct: SimAccount,
        at: datetime,
        entry_type: str,
        net_amount: Decimal,
        description: str,
        symbol: str = "",
        qty: Decimal = ZERO,
        per_share: Decimal | None = None,
        sub_type: str | None = None,
    ) -> None:
        log = self.logs["nta"]
        ulid = self.ulids.new(at)
        activity_id = seeded_uuid(self._rng)
        settle = next_trading_day(at.date()).isoformat()
        payload: dict[str, Any] = {
            "account_id": acct.id,
            "at": ts6(at),
            "description": description,
            "entry_type": entry_type,
            "event_id": log.next_legacy,
            "event_ulid": ulid,
            "id": activity_id,
            "net_amount": float(net_amount),
            "per_share_amount": None if per_share is None else float(per_share),
            "price": "0",
            "qty": float(qty),
            "settle_date": settle,
            "status": "executed",
            "symbol": symbol,
            "system_date": at.date().isoformat(),
        }
        if sub_type:
            payload["entry_sub_type"] = sub_type
        log.append(ulid, at, payload)
        act: dict[str, Any] = {
            "id": self._activity_id(at),
            "account_id": acct.id,
            "activity_type": entry_type,
            "date": at.date().isoformat(),
            "net_amount": s(net_amount),
            "description": description,
            "status": "executed",
            "symbol": symbol or None,
            "qty": s(qty) if qty else None,
            "per_share_amount": s(per_share),
            "_at": at,
        }
        acct.activities.append(act)
        acct.cash += net_amount
