"""What the market-data connection looks like right now, for the connection pane and the
snapshot: plain values, no I/O (the screen imports this, never the socket)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class DataState(StrEnum):
    CONNECTING = "CONNECTING"
    STREAMING = "STREAMING"
    BACKOFF = "BACKOFF"
    NOT_OFFERED = "NOT_OFFERED"  # the endpoint refused the upgrade (404...): REST polling
    FAILED = "FAILED"  # a final refusal (bad keys, no subscription): REST polling
    STOPPED = "STOPPED"


@dataclass(frozen=True)
class DataStreamStatus:
    state: DataState
    feed: str
    reason: str = ""
    url: str = ""
    last_message_age: float | None = None  # seconds since the last frame of any kind
    messages: int = 0  # data messages (quotes, trades, bars) received
    connects: int = 0  # subscriptions acknowledged
    attempt: int = 0  # connection attempts since the last healthy connection
    retry_in: float | None = None  # seconds until the next attempt while backing off

    @property
    def up(self) -> bool:
        return self.state is DataState.STREAMING
