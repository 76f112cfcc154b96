"""What the connection looks like right now: the states, transitions and snapshots the
supervisor publishes and the UI's connection pane (and ``headless`` status lines) show."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any


class State(StrEnum):
    CONNECTING = "CONNECTING"
    STREAMING = "STREAMING"
    BACKOFF = "BACKOFF"
    POLLING = "POLLING"
    AUTH_FAILED = "AUTH_FAILED"
    STOPPED = "STOPPED"


# worst first: the overall state is the worst of the streams'
_SEVERITY = [
    State.AUTH_FAILED,
    State.POLLING,
    State.BACKOFF,
    State.CONNECTING,
    State.STREAMING,
    State.STOPPED,
]


def severity(state: State) -> int:
    """0 for the worst state (AUTH_FAILED) up to STOPPED: sorts streams worst first."""
    return _SEVERITY.index(state)


def overall_state(states: list[State]) -> State:
    if not states:
        return State.STOPPED
    if all(s is State.STOPPED for s in states):
        return State.STOPPED
    live = [s for s in states if s is not State.STOPPED]
    return min(live, key=severity)


@dataclass(frozen=True)
class Transition:
    stream: str
    state: State
    reason: str
    at: datetime
    attempt: int = 0
    next_retry_at: datetime | None = None
    delay: float | None = None
    retry_after: float | None = None  # what the server asked for, when it did


@dataclass(frozen=True)
class StreamStatus:
    name: str
    state: State
    reason: str
    since: datetime
    attempt: int = 0
    next_retry_at: datetime | None = None
    last_event_id: str | None = None
    last_event_at: str | None = None
    last_event_age: float | None = None  # seconds since it was received
    events: int = 0
    events_per_sec: float = 0.0
    reconnects: int = 0
    downtime: float = 0.0  # seconds, total
    duplicates: int = 0
    gaps: int = 0
    gaps_recovered: int = 0
    quarantined: int = 0
    polled: int = 0  # events delivered by the REST polling fallback
    idle_timeout: float | None = None  # the longest silence allowed now (StreamWatch)
    heartbeat_cadence: float | None = None  # the host's, learned from all its streams
    heartbeat_age: float | None = None  # seconds since the last ``:heartbeat`` comment
    transport: str = "sse"  # "sse" or "websocket" (the trading websocket, trade_updates)
    catch_ups: int = 0  # REST catch-ups after websocket connects (it has no replay)


@dataclass(frozen=True)
class Reconciliation:
    at: datetime
    positions: dict[str, str]  # symbol -> signed qty as text
    open_orders: int
    error: str | None = None


@dataclass(frozen=True)
class ConnectionStatus:
    state: State
    streams: tuple[StreamStatus, ...]
    reconciliation: Reconciliation | None = None  # the latest one, done or failed
    reconciling: bool = False  # one is pending or running now
    at: datetime = field(default_factory=lambda: datetime.now(UTC))

    @property
    def events(self) -> int:
        return sum(s.events for s in self.streams)

    @property
    def duplicates(self) -> int:
        return sum(s.duplicates for s in self.streams)

    @property
    def quarantined(self) -> int:
        return sum(s.quarantined for s in self.streams)

    @property
    def reconnects(self) -> int:
        return sum(s.reconnects for s in self.streams)

    def to_json(self) -> dict[str, Any]:
        """A plain, JSON-ready view (datetimes as RFC3339)."""

        def clean(value: Any) -> Any:
            if isinstance(value, datetime):
                return value.isoformat().replace("+00:00", "Z")
            if isinstance(value, dict):
                return {k: clean(v) for k, v in value.items()}
            if isinstance(value, list | tuple):
                return [clean(v) for v in value]
            if isinstance(value, float):
                return round(value, 3)
            return value

        data = clean(asdict(self))
        assert isinstance(data, dict)
        return data
