"""Lenient wire scalars shared by every Alpaca model.

Alpaca sends money and quantities as strings on the trading API and as JSON numbers on the
data and NTA APIs, timestamps with ``Z`` or offsets and up to nine fractional digits, and
``""`` where it means "none". These annotated types absorb all of that in one place so the
models stay declarative. Decimals are built from text, never through float.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any

from pydantic import BeforeValidator, PlainSerializer

_RFC3339 = re.compile(
    r"^(?P<date>\d{4}-\d{2}-\d{2})[Tt ](?P<h>\d{2}):(?P<m>\d{2}):(?P<s>\d{2})"
    r"(?:\.(?P<frac>\d{1,9}))?(?P<tz>[Zz]|[+-]\d{2}:?\d{2})?$"
)


_MAX_EXPONENT = 40  # no price or quantity needs more; bigger ones would be an attack or a bug


def to_decimal(value: Any) -> Decimal | None:
    """Parse a wire number (string, int, Decimal, or float as a last resort) into Decimal.

    ``None`` and ``""`` both mean "no value". Floats only arrive when a caller parsed JSON
    without ``parse_float=Decimal``; ``repr`` keeps the shortest round-trip digits.
    """
    if value is None:
        return None
    if isinstance(value, bool):
        raise ValueError("a boolean is not a number")
    if isinstance(value, Decimal):
        result = value
    elif isinstance(value, int):
        result = Decimal(value)
    elif isinstance(value, float):
        result = Decimal(repr(value))
    elif isinstance(value, str):
        text = value.strip()
        if not text:
            return None
        try:
            result = Decimal(text)
        except InvalidOperation:
            raise ValueError(f"not a decimal number: {value!r}") from None
    else:
        raise ValueError(f"not a decimal number: {type(value).__name__}")
    if not result.is_finite():
        raise ValueError(f"not a finite number: {value!r}")
    if not -_MAX_EXPONENT <= result.adjusted() <= _MAX_EXPONENT:
        raise ValueError(f"number out of range: {str(value)[:40]!r}")
    return result


def parse_timestamp(value: Any) -> datetime | None:
    """Parse RFC3339 (``Z`` or ``±HH:MM``, 0-9 fractional digits) into an aware UTC datetime.

    Digits beyond microseconds are truncated; callers that need exact equality keep the raw
    string as well. A naive value is read as UTC. A bare date means midnight UTC.
    """
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=UTC)
    if not isinstance(value, str):
        raise ValueError(f"not a timestamp: {type(value).__name__}")
    text = value.strip()
    if not text:
        return None
    if len(text) == 10:
        try:
            d = date.fromisoformat(text)
        except ValueError:
            raise ValueError(f"not a timestamp: {value!r}") from None
        return datetime(d.year, d.month, d.day, tzinfo=UTC)
    if (
        19 < len(text) < 36
        and text[4] == "-"
        and text[7] == "-"
        and text[10] == "T"
        and text[13] == ":"
        and text[16] == ":"
        and (text[-1] == "Z" or text[-6] in "+-")
    ):
        # fast path for the RFC3339 shapes Alpaca sends (3.11's parser takes 0-9 digits)
        try:
            return datetime.fromisoformat(text).astimezone(UTC)
        except (ValueError, OverflowError):
            pass
    match = _RFC3339.match(text)
    if match is None:
        raise ValueError(f"not a timestamp: {value!r}")
    frac = (match["frac"] or "").ljust(6, "0")[:6]
    tz_text = match["tz"]
    tz: timezone = UTC
    if tz_text and tz_text not in ("Z", "z"):
        sign = -1 if tz_text[0] == "-" else 1
        digits = tz_text[1:].replace(":", "")
        tz = timezone(sign * timedelta(hours=int(digits[:2]), minutes=int(digits[2:])))
    try:
        parsed = datetime.fromisoformat(f"{match['date']}T{match['h']}:{match['m']}:{match['s']}")
        return parsed.replace(microsecond=int(frac), tzinfo=tz).astimezone(UTC)
    except (ValueError, OverflowError):
        raise ValueError(f"not a timestamp: {value!r}") from None


def parse_date(value: Any) -> date | None:
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value.strip()[:10])
        except ValueError:
            raise ValueError(f"not a date: {value!r}") from None
    raise ValueError(f"not a date: {type(value).__name__}")


def format_timestamp(value: datetime) -> str:
    """RFC3339 in UTC with ``Z``: the form that never needs ``+`` encoded in a query."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def format_decimal(value: Decimal) -> str:
    """Plain (non-scientific) text for a Decimal, as Alpaca writes numbers."""
    text = format(value, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text or "0"


def _empty_to_none(value: Any) -> Any:
    return None if value == "" else value


Dec = Annotated[
    Decimal, BeforeValidator(to_decimal), PlainSerializer(format_decimal, return_type=str)
]
"""A Decimal read from a string or a number; serialised back as a plain string."""

OptDec = Annotated[
    Decimal | None,
    BeforeValidator(to_decimal),
    PlainSerializer(lambda v: None if v is None else format_decimal(v), return_type=str | None),
]
"""As :data:`Dec`, with ``None`` and ``""`` both meaning no value."""

UtcDatetime = Annotated[datetime, BeforeValidator(parse_timestamp)]
OptUtcDatetime = Annotated[datetime | None, BeforeValidator(parse_timestamp)]
OptDate = Annotated[date | None, BeforeValidator(parse_date)]
OptStr = Annotated[str | None, BeforeValidator(_empty_to_none)]
"""A string where ``""`` means none, as Alpaca sends for ``status_from`` and ``symbol``."""
