"""Market-data feeds and plans: which feed a request names, and what a plan may see.

Alpaca sells two stock-data plans: the free one (IEX; SIP only when older than 15 minutes)
and a paid one (SIP in real time). API.md §7 and §11.4.4; issue 13 for the default: a REST
request without ``feed`` is answered as SIP, so on the free plan one that reaches into the
last 15 minutes is refused with a 403, as Alpaca refuses a free account's historical bars.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Literal

from tui_trader.sim import errors

Plan = Literal["free", "unlimited"]
PLANS: tuple[Plan, ...] = ("free", "unlimited")
REST_FEEDS = ("iex", "sip", "delayed_sip")
STREAM_FEEDS = ("iex", "sip", "delayed_sip", "test")
SIP_DELAY = timedelta(minutes=15)
RECENT_SIP = "subscription does not permit querying recent SIP data"


def rest_feed(raw: str | None, plan: Plan, now: datetime, reaches: datetime | None) -> str:
    """The feed a REST data request is served from, or the 400/403 Alpaca answers.

    ``reaches`` is the latest instant the request asks about (None: "now", as the latest
    quote, trade, bar and snapshot routes do).
    """
    feed = "sip" if raw is None or raw == "" else raw
    if feed not in REST_FEEDS:
        raise errors.ApiFailure(400, None, f"invalid feed: {raw!r}")
    recent = reaches is None or reaches > now - SIP_DELAY
    if feed == "sip" and plan == "free" and recent:
        raise errors.ApiFailure(403, None, RECENT_SIP)
    return feed


def stream_allowed(feed: str, plan: Plan) -> bool:
    """Whether a plan may open the market-data websocket of ``feed``: real-time SIP is paid."""
    return not (feed == "sip" and plan == "free")


def stream_delay(feed: str) -> timedelta:
    """How far behind real time a stream's data runs: 15 minutes on ``delayed_sip``."""
    return SIP_DELAY if feed == "delayed_sip" else timedelta(0)
