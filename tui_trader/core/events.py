"""Parsing of the ``data:`` payloads of Alpaca's SSE streams (API.md §2, §3, §4.1, §8).

One call, :func:`parse_event`, turns the text after ``data: `` into a typed, frozen event, or
raises :class:`EventParseError` and nothing else, so a stream reader can skip, count and show
a bad line and keep the connection open (``data: null`` happened for days in production).
Event types, statuses and entry types are open sets; unknown keys are kept; ids are opaque.
The parser is on the hot path (replays of 100k+ events): one JSON decode with exact
decimals (pydantic's own JSON mode rounds through float), one ``model_validate``.
"""

from __future__ import annotations

import json
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Any, ClassVar, Final, TypeAlias

from pydantic import (
    AliasChoices,
    BeforeValidator,
    Field,
    PlainValidator,
    PrivateAttr,
    ValidationError,
    model_validator,
)

from tui_trader.core.models import NullStr, OptSymbol, WireModel, WireOrder
from tui_trader.core.types import (
    OptDate,
    OptDec,
    OptStr,
    OptUtcDatetime,
    UtcDatetime,
    format_timestamp,
)

__all__ = [
    "AccountStatusEvent",
    "BaseEvent",
    "Event",
    "EventParseError",
    "EventStream",
    "NtaEvent",
    "TradeEvent",
    "parse_event",
]

_EXCERPT: Final = 120
_REASON: Final = 200
_DECODER: Final = json.JSONDecoder(parse_float=Decimal)
"""Built once: ``json.loads(..., parse_float=...)`` would build a decoder per event."""


class EventStream(StrEnum):
    """The three streams tui-trader reads; the value is the name used in logs and the journal."""

    TRADES = "trades"
    ACCOUNTS = "accounts"
    NTA = "nta"


def _excerpt(data: object) -> str:
    text = data if isinstance(data, str) else repr(data)
    return text if len(text) <= _EXCERPT else text[: _EXCERPT - 3] + "..."


class EventParseError(ValueError):
    """A ``data:`` payload that cannot become an event. Carries enough to log and show it."""

    def __init__(self, stream: str, reason: str, data: object) -> None:
        self.stream = str(stream)
        self.reason = reason
        self.excerpt = _excerpt(data)
        super().__init__(f"{self.stream} event rejected: {reason} (data: {self.excerpt!r})")

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild_error, (self.stream, self.reason, self.excerpt))


def _rebuild_error(stream: str, reason: str, excerpt: str) -> EventParseError:
    return EventParseError(stream, reason, excerpt)


def _event_id(value: Any) -> str | int | None:
    """v2 ids are strings (ULIDs, never validated: samples hold ``I`` and ``L``); v1 ids are
    integers. Kept as they came; ``""`` means none.
    """
    if value is None or value == "":
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    raise ValueError(f"an event id must be a string or an integer, not {type(value).__name__}")


def _at_text(value: Any) -> Any:
    return format_timestamp(value) if isinstance(value, datetime) else value


EventId = Annotated[str | int | None, PlainValidator(_event_id)]
"""``event_id``: a ULID string on v2 streams, a legacy integer on v1 streams."""

RawTimestamp = Annotated[str, BeforeValidator(_at_text)]


class BaseEvent(WireModel):
    """Fields and behaviour shared by every stream's event.

    ``at`` is normalised to UTC (microseconds); ``at_raw`` keeps the wire text with all nine
    digits, for exact equality and same-microsecond tie-breaks (Alpaca writes ``at`` in
    ``Z`` form, so the text sorts like the time). ``raw`` is the ``data:`` text as received, kept
    out of dumps and repr, so a journal can store the line byte for byte.
    """

    stream: ClassVar[EventStream]

    at: UtcDatetime
    # AliasChoices rather than a plain alias: mypy's pydantic plugin rejects two fields
    # aliased "at" in the generated __init__.
    at_raw: RawTimestamp = Field(validation_alias=AliasChoices("at"), exclude=True, repr=False)
    account_id: OptStr = None
    event_id: EventId = None
    event_ulid: OptStr = None

    _raw: str = PrivateAttr(default="")

    @model_validator(mode="before")
    @classmethod
    def _require_id(cls, data: Any) -> Any:
        if (
            isinstance(data, dict)
            and data.get("event_id") in (None, "")
            and data.get("event_ulid") in (None, "")
        ):
            raise ValueError("missing event id")
        return data

    @property
    def raw(self) -> str:
        """The original ``data:`` text (``""`` when the event was not built by parse_event)."""
        return self._raw

    def _key_or_none(self) -> str | None:
        # v1 streams: the ULID is the cursor; the legacy integer only as a last resort.
        if self.event_ulid is not None:
            return self.event_ulid
        return None if self.event_id is None else str(self.event_id)

    @property
    def key(self) -> str:
        """De-duplication key and resume cursor (``since_id`` on v2, ``since_ulid`` on v1)."""
        key = self._key_or_none()
        if key is None:  # only reachable through model_construct
            raise EventParseError(self.stream, "missing event id", self._raw)
        return key

    @property
    def kind(self) -> str:
        """What happened, as a short open-set string (for dispatch, logs and the UI)."""
        raise NotImplementedError


class TradeEvent(BaseEvent):
    """An order update from ``/v2/events/trades`` (§3.1; v1 shape of §3.2 recognised too).

    ``event`` is kept whatever it says (``held``, ``restated``, future types). ``qty`` is this
    execution's quantity and is negative on a ``trade_bust``; ``position_qty`` is the position
    afterwards. Multi-leg fills carry ``legs`` and ``position_qtys`` (kept as sent: the spec
    says string, the sample is an object) and no ``execution_id``.
    """

    stream: ClassVar[EventStream] = EventStream.TRADES

    event: str = Field(min_length=1)
    order: WireOrder | None = None
    timestamp: OptUtcDatetime = None
    execution_id: OptStr = None
    previous_execution_id: OptStr = None
    price: OptDec = None
    qty: OptDec = None
    position_qty: OptDec = None
    settle_date: OptDate = None
    swap_rate: OptDec = None
    reason: OptStr = None
    legs: list[dict[str, Any]] | None = None
    position_qtys: Any = None

    def _key_or_none(self) -> str | None:
        # v2: the string event_id is the cursor; a v1 event has an integer id plus the ULID.
        if isinstance(self.event_id, str):
            return self.event_id
        return super()._key_or_none()

    @property
    def kind(self) -> str:
        return self.event

    @property
    def execution_key(self) -> tuple[str, str] | None:
        """Second de-duplication key for trade facts, ``(execution_id, event)`` (§2.4)."""
        return None if self.execution_id is None else (self.execution_id, self.event)


class AccountStatusEvent(BaseEvent):
    """A change on the account (``/v1/events/accounts/status``, §3.3). Only the properties
    that changed are present; ``""`` in a ``*_from`` field means there was no previous value.
    """

    stream: ClassVar[EventStream] = EventStream.ACCOUNTS

    account_number: OptStr = None
    status_from: OptStr = None
    status_to: OptStr = None
    crypto_status_from: OptStr = None
    crypto_status_to: OptStr = None
    account_blocked: bool | None = None
    trading_blocked: bool | None = None
    pattern_day_trader: bool | None = None
    admin_configurations: dict[str, Any] | None = None
    cash_interest: Any = None
    fpsl: Any = None
    kyc_results: Any = None
    options: Any = None
    reason: OptStr = None

    @property
    def kind(self) -> str:
        return "account_status"


class NtaEvent(BaseEvent):
    """A non-trade activity (``/v1/events/nta``, §3.4): fees, dividends, journals, transfers.

    ``id`` is the activity id (what REST activities call it), not the event id. Amounts come
    as JSON numbers here and are read exactly.
    """

    stream: ClassVar[EventStream] = EventStream.NTA

    id: OptStr = None
    entry_type: NullStr = ""
    entry_sub_type: OptStr = None
    system_date: OptDate = None
    settle_date: OptDate = None
    net_amount: OptDec = None
    qty: OptDec = None
    per_share_amount: OptDec = None
    price: OptDec = None
    status: OptStr = None
    symbol: OptSymbol = None
    description: OptStr = None
    cusip: OptStr = None
    group_id: OptStr = None

    @property
    def kind(self) -> str:
        return self.entry_type


Event: TypeAlias = TradeEvent | AccountStatusEvent | NtaEvent

_MODELS: Final[dict[str, type[TradeEvent] | type[AccountStatusEvent] | type[NtaEvent]]] = {
    EventStream.TRADES: TradeEvent,
    EventStream.ACCOUNTS: AccountStatusEvent,
    EventStream.NTA: NtaEvent,
}


def _describe(exc: ValidationError) -> str:
    """The first validation error as ``loc: message``, short enough for a status line."""
    errors = exc.errors(include_url=False, include_context=False, include_input=False)
    if not errors:
        return "invalid event"
    first = errors[0]
    loc = ".".join(str(part) for part in first["loc"])
    msg = first["msg"].removeprefix("Value error, ")
    reason = f"{loc}: {msg}" if loc else msg
    if len(errors) > 1:
        reason += f" (+{len(errors) - 1} more)"
    return reason if len(reason) <= _REASON else reason[: _REASON - 3] + "..."


def _json_kind(value: object) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float | Decimal):
        return "number"
    if isinstance(value, str):
        return "string"
    return "array" if isinstance(value, list) else type(value).__name__


def parse_event(stream: str | EventStream, data: str) -> Event:
    """Parse one ``data:`` payload of ``stream`` into its event model.

    Raises :class:`EventParseError` for anything that is not a valid event: bad JSON,
    ``null``, a non-object, no event id, or a field that fails validation. An unknown
    ``stream`` is a programming error and raises a plain ``ValueError``.
    """
    model = _MODELS.get(stream)
    if model is None:
        raise ValueError(f"unknown event stream: {stream!r}")
    name = model.stream.value
    try:
        obj = _DECODER.decode(data)
    except (ValueError, TypeError, RecursionError) as exc:
        raise EventParseError(name, "not JSON", data) from exc
    if type(obj) is not dict:
        reason = "null payload" if obj is None else f"not a JSON object ({_json_kind(obj)})"
        raise EventParseError(name, reason, data)
    try:
        event = model.model_validate(obj)
    except ValidationError as exc:
        raise EventParseError(name, _describe(exc), data) from exc
    except Exception as exc:
        # Validators can leak other errors (OverflowError for year 1 at +01:00); a stream
        # reader must only ever see EventParseError.
        raise EventParseError(name, f"invalid value ({type(exc).__name__})", data) from exc
    event._raw = data
    return event
