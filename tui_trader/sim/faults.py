"""Fault injection: the network misbehaviour a streaming client must survive, on demand.

Faults are armed from tests (Python or the ``/_emulator/faults`` admin route) or drawn at
random with ``--chaos RATE``. Connection faults answer the next K attempts with an error
(HTTP requests, SSE connections, trading- or market-data-websocket upgrades); stream faults
fire on a live SSE connection after it has sent N events, trading-websocket faults on the
listening socket, market-data-websocket faults on an authenticated data socket.
Each armed fault is consumed by the connections it applies to, so a test states exactly what
happens.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, field_validator

StreamName = Literal["trades", "accounts", "nta"]


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid")


StreamFaultKind = Literal[
    "drop",
    "eof",
    "stall",
    "stall_heartbeats",
    "slow_reader",
    "gap_burst",
    "internal_error",
    "malformed",
]


class StreamFault(_Spec):
    """Fires on an SSE connection once it has sent ``after_events`` events.

    * ``drop``: the TCP connection is cut mid-body (no terminating chunk);
    * ``eof``: the body ends cleanly, as if the server closed the stream;
    * ``stall``: the socket stays open with no bytes at all for ``seconds``;
    * ``stall_heartbeats``: only ``:heartbeat`` comments for ``seconds``;
    * ``slow_reader``: ``: you are reading too slowly, dropped N messages`` and the next
      ``dropped`` events are skipped on this connection (they stay replayable);
    * ``gap_burst``: the same notice, but written in one write together with the events
      pending before it and the ``burst`` events after the skipped ones, as a busy server
      flushes its buffer (during a backlog replay: events, notice, events in one chunk);
    * ``internal_error``: ``: internal server error`` and the body ends;
    * ``malformed``: one bad ``data:`` line (``line``, default broken JSON), then carry on.
    """

    kind: StreamFaultKind
    after_events: int = Field(0, ge=0)
    seconds: float = Field(1.0, ge=0, le=600)
    dropped: int = Field(5, ge=0)
    burst: int = Field(64, ge=1, le=1_000_000)  # gap_burst: events written with the notice
    line: str | None = None
    stream: StreamName | None = None
    count: int = Field(1, ge=1)


class ConnectFault(_Spec):
    """Answers the next ``count`` matching requests with ``status`` (5xx or 429), after
    letting ``after`` of them through (so a test can refuse the reconnect that follows a
    stream fault, not the connection that suffers it)."""

    kind: Literal["connect"] = "connect"
    status: int = Field(503, ge=400, le=599)
    retry_after: float | None = Field(None, ge=0)
    retry_after_raw: str | None = None  # sent as is: an HTTP-date, a far future, garbage
    # trade_socket: /stream upgrades; data_socket: /v2/{feed} market-data upgrades
    scope: Literal["sse", "rest", "trade_socket", "data_socket", "any"] = "sse"
    stream: StreamName | None = None
    count: int = Field(1, ge=1)
    after: int = Field(0, ge=0)


SocketAction = Literal["close", "error", "cut", "silent"]
TradeSocketAction = SocketAction
DataErrorCode = Literal[406, 407, 500]  # connection limit exceeded, slow client, internal error


class _SocketFault(_Spec):
    """What both websockets' faults share: how a close frame ends it, how long it stays
    silent, how many connections take it."""

    code: int = Field(1011, ge=1000, le=4999)
    reason: str = Field("", max_length=123)  # a close frame's reason fits in 123 bytes
    seconds: float = Field(30.0, ge=0, le=3600)
    count: int = Field(1, ge=1)

    @field_validator("code")
    @classmethod
    def _sendable(cls, code: int) -> int:
        if code in (1004, 1005, 1006, 1015):
            raise ValueError(f"close code {code} is reserved and never sent in a close frame")
        return code


class TradeSocketFault(_SocketFault):
    """Fires on the trading websocket (``/stream``) that is listening to ``trade_updates`` (or
    the next one to listen) once it has sent ``after_events`` updates since taking the fault:

    * ``close``: a close frame with ``code`` and ``reason``; a clean close, the slot frees;
    * ``error``: ``{"action":"error","data":{"error_message": message}}``, then close 1011;
    * ``cut``: the TCP connection is aborted, no close frame (the account's slot stays held
      for ``ws_hold_seconds``, as Alpaca holds a half-dead socket);
    * ``silent``: the socket stays open but sends nothing and answers no ping for
      ``seconds`` (reading is paused), then it is cut as above.
    """

    kind: Literal["trade_socket"] = "trade_socket"
    action: TradeSocketAction
    after_events: int = Field(0, ge=0)
    message: str = "internal server error"


class DataSocketFault(_SocketFault):
    """Fires on an authenticated market-data websocket (``/v2/{feed}``; ``feed`` None: any)
    once it has sent ``after_messages`` data messages since taking the fault:

    * ``close``: a close frame with ``code`` and ``reason``;
    * ``error``: Alpaca's in-protocol ``[{"T":"error","code":error,...}]``: 406 (connection
      limit exceeded) and 407 (slow client) then close 1008 as Alpaca ends the connection,
      500 leaves it open. Taken by a connection still authenticating, it answers the auth;
    * ``cut``: the TCP connection is aborted, no close frame;
    * ``silent``: open but mute (no data, no pong) for ``seconds``; the endpoint's slot
      stays taken meanwhile (a reconnect gets 406), then it is cut.
    """

    kind: Literal["data_socket"] = "data_socket"
    action: SocketAction
    after_messages: int = Field(0, ge=0)
    error: DataErrorCode = 407
    feed: Literal["iex", "sip", "delayed_sip", "test"] | None = None


class NotOffered(_Spec):
    """``stream`` is not offered by this host: its route answers ``status`` (404 by default,
    as a Trading-API host may for ``/v2/events/trades``; 410 or 400 also) to the next
    ``count`` connections, or until cleared."""

    kind: Literal["not_offered"] = "not_offered"
    stream: StreamName = "trades"
    status: Literal[400, 404, 410] = 404
    count: int | None = Field(None, ge=1)  # None: until cleared


class AuthFault(_Spec):
    """Rejects credentials: 401 with Alpaca's body, or 403 ``forbidden.`` without a code."""

    kind: Literal["reject_auth"] = "reject_auth"
    status: Literal[401, 403] = 401
    count: int | None = Field(None, ge=1)  # None: until cleared


class DropOrderResponse(_Spec):
    """Accepts the next ``count`` order submissions, then cuts the connection unanswered."""

    kind: Literal["drop_order_response"] = "drop_order_response"
    count: int = Field(1, ge=1)


class UlidInversion(_Spec):
    """The next ``count`` event ids in one millisecond sort lower than their predecessor."""

    kind: Literal["ulid_inversion"] = "ulid_inversion"
    count: int = Field(1, ge=1)


class LateNew(_Spec):
    """Hold ``new`` back until the order is canceled, then send it after ``canceled``."""

    kind: Literal["late_new"] = "late_new"
    enabled: bool = True


class SingleConnection(_Spec):
    """A second concurrent connection to one stream gets 429 (one per account, as on WS)."""

    kind: Literal["single_connection"] = "single_connection"
    enabled: bool = True


FaultSpec = Annotated[
    StreamFault
    | ConnectFault
    | TradeSocketFault
    | DataSocketFault
    | NotOffered
    | AuthFault
    | DropOrderResponse
    | UlidInversion
    | LateNew
    | SingleConnection,
    Field(discriminator="kind"),
]
FAULT_SPECS: TypeAdapter[list[FaultSpec]] = TypeAdapter(list[FaultSpec])

CHAOS_KINDS: tuple[str, ...] = get_args(StreamFaultKind)  # every stream fault, in order
TRADE_SOCKET_CHAOS: tuple[str, ...] = get_args(TradeSocketAction)  # every websocket fault


@dataclass
class _Armed:
    spec: StreamFault | ConnectFault | TradeSocketFault | DataSocketFault
    left: int
    passed: int = 0  # matching requests let through (ConnectFault.after)


@dataclass
class Faults:
    """What is armed now. Plain state; the server consults it per request and per event."""

    chaos: float = 0.0
    max_stall: float = 4.0  # longest stall chaos draws, in seconds
    rng: random.Random = field(default_factory=lambda: random.Random(0))
    _stream: list[_Armed] = field(default_factory=list)
    _connect: list[_Armed] = field(default_factory=list)
    _trade_socket: list[_Armed] = field(default_factory=list)
    _data_socket: list[_Armed] = field(default_factory=list)
    auth_status: int | None = None
    auth_left: int | None = None
    drop_order_responses: int = 0
    single_connection: bool = False
    not_offered: dict[str, list[int | None]] = field(
        default_factory=dict
    )  # stream -> [status, left]
    injected: dict[str, int] = field(default_factory=dict)  # kind -> times fired

    def arm(self, spec: FaultSpec) -> None:
        if isinstance(spec, StreamFault):
            self._stream.append(_Armed(spec, spec.count))
        elif isinstance(spec, ConnectFault):
            self._connect.append(_Armed(spec, spec.count))
        elif isinstance(spec, TradeSocketFault):
            self._trade_socket.append(_Armed(spec, spec.count))
        elif isinstance(spec, DataSocketFault):
            self._data_socket.append(_Armed(spec, spec.count))
        elif isinstance(spec, AuthFault):
            self.auth_status, self.auth_left = spec.status, spec.count
        elif isinstance(spec, DropOrderResponse):
            self.drop_order_responses += spec.count
        elif isinstance(spec, SingleConnection):
            self.single_connection = spec.enabled
        elif isinstance(spec, NotOffered):
            self.not_offered[spec.stream] = [spec.status, spec.count]
        # UlidInversion and LateNew act on the exchange; the emulator applies them.

    def clear(self) -> None:
        self._stream.clear()
        self._connect.clear()
        self._trade_socket.clear()
        self._data_socket.clear()
        self.auth_status = self.auth_left = None
        self.drop_order_responses = 0
        self.single_connection = False
        self.not_offered.clear()

    def pending(self) -> list[dict[str, object]]:
        out: list[dict[str, object]] = []
        for armed in [*self._connect, *self._stream, *self._trade_socket, *self._data_socket]:
            out.append({**armed.spec.model_dump(), "left": armed.left})
        if self.auth_status is not None:
            out.append({"kind": "reject_auth", "status": self.auth_status, "left": self.auth_left})
        if self.drop_order_responses:
            out.append({"kind": "drop_order_response", "left": self.drop_order_responses})
        for stream, (status, left) in self.not_offered.items():
            out.append({"kind": "not_offered", "stream": stream, "status": status, "left": left})
        return out

    def _count(self, kind: str) -> None:
        self.injected[kind] = self.injected.get(kind, 0) + 1

    def take_auth(self) -> int | None:
        if self.auth_status is None:
            return None
        status = self.auth_status
        if self.auth_left is not None:
            self.auth_left -= 1
            if self.auth_left <= 0:
                self.auth_status = self.auth_left = None
        self._count("reject_auth")
        return status

    def take_connect(
        self, scope: Literal["sse", "rest", "trade_socket", "data_socket"], stream: str | None
    ) -> ConnectFault | None:
        for armed in self._connect:
            spec = armed.spec
            assert isinstance(spec, ConnectFault)
            if spec.scope not in (scope, "any"):
                continue
            if spec.stream is not None and spec.stream != stream:
                continue
            if armed.passed < spec.after:
                armed.passed += 1
                return None
            armed.left -= 1
            if armed.left <= 0:
                self._connect.remove(armed)
            self._count(f"connect_{spec.status}")
            return spec
        if self.chaos and self.rng.random() < self.chaos / (1 if scope == "sse" else 4):
            status = self.rng.choice((429, 500, 502, 503, 504))
            self._count(f"connect_{status}")
            return ConnectFault(
                status=status,
                scope=scope,
                retry_after=self.rng.randint(1, 3) if status in (429, 503) else None,
            )
        return None

    @staticmethod
    def _take(queue: list[_Armed], applies: Callable[[Any], bool]) -> Any:
        """The first armed spec in ``queue`` that ``applies``, counted down (None: none)."""
        for armed in queue:
            if not applies(armed.spec):
                continue
            armed.left -= 1
            if armed.left <= 0:
                queue.remove(armed)
            return armed.spec
        return None

    def take_stream(self, stream: str) -> StreamFault | None:
        """The armed fault (if any) the next connection to ``stream`` will suffer."""
        spec = self._take(self._stream, lambda s: s.stream is None or s.stream == stream)
        assert spec is None or isinstance(spec, StreamFault)
        return spec

    def chaos_event(self) -> StreamFault | None:
        """With probability ``chaos`` per event sent, a random mid-stream fault."""
        if not self.chaos or self.rng.random() >= self.chaos:
            return None
        kind = self.rng.choice(CHAOS_KINDS)
        return StreamFault(
            kind=kind,
            seconds=round(self.rng.uniform(min(0.5, self.max_stall), self.max_stall), 2),
            dropped=self.rng.randint(1, 20),
        )

    def take_trade_socket(self) -> TradeSocketFault | None:
        """The armed fault (if any) the listening trading websocket takes on."""
        spec = self._take(self._trade_socket, lambda _: True)
        assert spec is None or isinstance(spec, TradeSocketFault)
        return spec

    def take_data_socket(self, feed: str) -> DataSocketFault | None:
        """The armed fault (if any) an authenticated market-data socket on ``feed`` takes on."""
        spec = self._take(self._data_socket, lambda s: s.feed is None or s.feed == feed)
        assert spec is None or isinstance(spec, DataSocketFault)
        return spec

    def chaos_trade_socket(self) -> TradeSocketFault | None:
        """With probability ``chaos`` per trade update sent, a random websocket fault."""
        if not self.chaos or self.rng.random() >= self.chaos:
            return None
        action = self.rng.choice(TRADE_SOCKET_CHAOS)
        return TradeSocketFault(
            action=action,
            code=self.rng.choice((1001, 1011, 1012)),
            seconds=round(self.rng.uniform(min(0.5, self.max_stall), self.max_stall), 2),
        )

    def take_not_offered(self, stream: str) -> int | None:
        """The status a connection to ``stream`` gets when it is not offered, else None."""
        entry = self.not_offered.get(stream)
        if entry is None:
            return None
        status, left = entry
        if left is not None:
            if left <= 1:
                del self.not_offered[stream]
            else:
                entry[1] = left - 1
        self._count(f"not_offered_{status}")
        return status

    def take_drop_order_response(self) -> bool:
        if self.drop_order_responses <= 0:
            return False
        self.drop_order_responses -= 1
        self._count("drop_order_response")
        return True

    def fired(self, kind: str) -> None:
        self._count(kind)
