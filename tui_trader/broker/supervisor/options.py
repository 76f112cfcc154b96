"""What a supervisor is told: its streams, backoff schedules, timeouts and switches.

Built from the ``[stream]`` settings by :meth:`SupervisorOptions.from_settings`; tests and
scripts construct it directly with scaled-down timings.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Literal

from tui_trader.broker.trade_socket import SocketOptions
from tui_trader.core.backoff import BackoffPolicy

if TYPE_CHECKING:
    from tui_trader.config import StreamSettings

Transport = Literal["sse", "websocket"]


@dataclass
class SupervisorOptions:
    streams: tuple[str, ...] = ("trades", "accounts", "nta")
    backoff: BackoffPolicy = field(default_factory=BackoffPolicy)
    idle_timeout_ceiling: float = 60.0
    # before any heartbeat is known: silent for max(stall_events / rate, stall_floor) is dead
    stall_events: float = 100.0
    stall_floor: float = 20.0
    poll_after: float = 15.0  # seconds the trade stream must be down before polling starts
    poll_interval: float = 2.0
    overlap: float = 5.0  # seconds of resume overlap after a brief drop
    long_overlap: float = 120.0  # after a gap, an internal error or a long outage
    long_outage: float = 60.0
    since: datetime | None = None  # first start with an empty journal: replay from here
    gap_window: float = 30.0  # a gap this soon after the previous one backs off
    gap_floor: float = 1.0  # and waits at least this long
    reconcile_timeout: float = 30.0  # a reconciliation still unanswered by then has failed
    # a stream the server does not offer (404/410/400) is asked again slowly
    unoffered_backoff: BackoffPolicy = field(
        default_factory=lambda: BackoffPolicy(base=60.0, factor=2.0, cap=900.0)
    )
    reconcile: bool = True
    poll: bool = True
    # how the trade stream travels: SSE (/v2/events/trades), or Alpaca's trading websocket
    # (trade_updates, API.md §11.3), the only documented way for a Trading API account;
    # the other streams are SSE either way
    transport: Transport = "sse"
    stream_url: str | None = None  # the websocket's URL; None: derived from the base URL
    socket: SocketOptions = field(default_factory=SocketOptions)
    # a refused websocket upgrade (429: Alpaca still holds the previous connection) waits
    # at least this long, whatever the backoff's own schedule says
    refused_floor: float = 5.0
    # the REST catch-up after a websocket (re)connect: tries, and the wait between them
    catch_up_tries: int = 3

    @classmethod
    def from_settings(
        cls,
        s: StreamSettings,
        *,
        streams: tuple[str, ...],
        since: datetime | None = None,
        api: str = "trading",
        stream_url: str | None = None,
    ) -> SupervisorOptions:
        """``api`` is the family (``trading`` or ``broker``): the Broker API has no trading
        websocket, so its trade stream is SSE whatever the setting says."""
        transport: Transport = "sse" if api == "broker" else (s.transport or "websocket")
        return cls(
            transport=transport,
            stream_url=stream_url,
            socket=SocketOptions(
                ping_interval=s.ping_interval_seconds, ping_timeout=s.ping_timeout_seconds
            ),
            streams=streams,
            refused_floor=s.refused_floor_seconds,
            backoff=s.backoff(),
            idle_timeout_ceiling=s.idle_timeout_ceiling_seconds,
            stall_events=s.stall_events,
            stall_floor=s.stall_floor_seconds,
            poll_after=s.poll_after_seconds,
            poll_interval=s.poll_interval_seconds,
            reconcile_timeout=s.reconcile_timeout_seconds,
            unoffered_backoff=BackoffPolicy(
                base=s.not_offered_retry_base_seconds,
                factor=2.0,
                cap=s.not_offered_retry_cap_seconds,
                jitter=s.jitter,
                retry_after_ceiling=s.retry_after_ceiling_seconds,
            ),
            overlap=s.resume_overlap_seconds,
            gap_window=s.gap_repeat_window_seconds,
            gap_floor=s.gap_backoff_floor_seconds,
            since=since,
        )
