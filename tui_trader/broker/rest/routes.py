"""Where a call goes and how its arguments are written.

The route family (API.md §5.1): the Trading API acts on the key's own account under
``/v2``; the Broker API on one account under ``/v1/trading/accounts/{account_id}`` (and
serves the clock and activities at ``/v1`` routes of their own, chosen in those calls). Path
segments are percent-encoded so that an id can never change the route; symbols, times and
numbers are written the one way Alpaca reads them.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date, datetime
from typing import Final
from urllib.parse import quote

from tui_trader.config import ApiFamily
from tui_trader.core.orders import Number
from tui_trader.core.types import format_decimal, format_timestamp, to_decimal

MAX_PAGES: Final = 1000
"""Most pages one paged call follows; beyond that a server is looping, not paging."""

TimeArg = datetime | date | str


def route_prefix(api: ApiFamily, account_id: str | None) -> tuple[str | None, str]:
    """``(account_id, prefix)`` of the routes that act on the account, for ``api``."""
    if api is ApiFamily.BROKER:
        if account_id is None or not account_id.strip():
            raise ValueError(
                "the Broker API needs account_id: its routes are "
                "/v1/trading/accounts/{account_id}/..."
            )
        account = account_id.strip()
        return account, f"/v1/trading/accounts/{segment(account, 'account_id')}"
    return (account_id.strip() if account_id else None), "/v2"


def segment(value: str, name: str) -> str:
    """One path segment, percent-encoded so that an id can never change the route."""
    text = value.strip() if isinstance(value, str) else ""
    if not text:
        raise ValueError(f"{name} must be a non-empty string")
    return quote(text, safe="")


def symbols_param(symbols: str | Iterable[str]) -> str:
    items = symbols.split(",") if isinstance(symbols, str) else list(symbols)
    cleaned = [s.strip().upper() for s in items if s and s.strip()]
    if not cleaned:
        raise ValueError("at least one symbol is required")
    return ",".join(dict.fromkeys(cleaned))


def time_param(value: TimeArg) -> str:
    """RFC3339 in UTC with ``Z`` (nothing to encode); a naive datetime is taken as UTC."""
    if isinstance(value, datetime):
        aware = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
        return format_timestamp(aware)
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def number_param(value: Number, name: str) -> str:
    try:
        parsed = to_decimal(value)
    except ValueError:
        raise ValueError(f"{name} is not a number") from None
    if parsed is None:
        raise ValueError(f"{name} is not a number")
    return format_decimal(parsed)
