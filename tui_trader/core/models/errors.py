"""Error replies and 207 multi-status replies, read so that no body can crash the error path.

A proxy's HTML page, an empty body, a plain string or garbage all become an :class:`ApiError`
with a short readable message; one unreadable item of a 207 becomes a failed item, not a
failed reply.
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Annotated, Any, Final

from pydantic import BeforeValidator, ValidationError

from tui_trader.core.models.base import OptSymbol, WireModel, parse_json
from tui_trader.core.models.orders import WireOrder
from tui_trader.core.types import OptStr

_MAX_MESSAGE: Final = 200
"""Most characters of a server body that ever reach an :class:`ApiError` message."""


def _cut(text: str, limit: int = _MAX_MESSAGE) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


_HTML_TITLE = re.compile(r"<title[^>]*>(.*?)</title>", re.IGNORECASE | re.DOTALL)
_SPACES = re.compile(r"\s+")


def _int_or_none(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        text = value.strip()
        return int(text) if text.isascii() and text.isdigit() and len(text) <= 18 else None
    if isinstance(value, Decimal) and value.is_finite() and value == value.to_integral_value():
        return int(value)
    return None


def _body_excerpt(text: str) -> str:
    """A short readable excerpt of a non-JSON body: the HTML title if any, else the text."""
    match = _HTML_TITLE.search(text[:4096])
    if match is not None and match.group(1).strip():
        text = match.group(1)
    return _cut(_SPACES.sub(" ", text).strip(), 160)


class ApiError(WireModel):
    """An error reply (§6). ``code`` is often absent; context keys (``buying_power``,
    ``available``...) stay in ``model_extra``. Build it with :meth:`from_body`, which never
    raises, so an HTML page from a proxy cannot crash the caller's error path.
    """

    code: int | None = None
    message: str = ""
    http_status: int | None = None

    @classmethod
    def from_body(cls, status: int, body: bytes | str | None) -> ApiError:
        """Read any error body: JSON with or without ``code``, HTML, text, empty, garbage."""
        try:
            if body is None:
                text = ""
            elif isinstance(body, bytes | bytearray):
                text = bytes(body).decode("utf-8", errors="replace")
            else:
                text = str(body)
            if not text.strip():
                return cls(http_status=status, message=f"HTTP {status} (empty body)")
            try:
                data = parse_json(text)
            except (ValueError, RecursionError):
                return cls(
                    http_status=status,
                    message=f"HTTP {status} (non-JSON body): {_body_excerpt(text)}",
                )
            return cls.from_payload(status, data)
        except Exception:
            return cls._fallback(status)

    @classmethod
    def from_payload(cls, status: int | None, data: Any) -> ApiError:
        """Build from already-parsed JSON (e.g. the ``body`` of a 207 item). Never raises."""
        try:
            if isinstance(data, dict):
                message = data.get("message")
                if message is None or message == "":
                    message = f"HTTP {status}" if status is not None else "error"
                context = {
                    k: v
                    for k, v in data.items()
                    if k not in ("code", "message", "http_status") and not k.startswith("_")
                }
                return cls.model_validate(
                    {
                        **context,
                        "code": _int_or_none(data.get("code")),
                        "message": _cut(str(message)),
                        "http_status": status,
                    }
                )
            if isinstance(data, str) and data.strip():
                return cls(http_status=status, message=_cut(data.strip()))
            kind = "null" if data is None else type(data).__name__
            return cls(http_status=status, message=f"HTTP {status} (non-JSON body: {kind})")
        except Exception:
            return cls._fallback(status)

    @classmethod
    def _fallback(cls, status: int | None) -> ApiError:
        message = f"HTTP {status} (unreadable body)"
        return cls.model_construct(code=None, message=message, http_status=status)

    def __str__(self) -> str:
        """``HTTP 403 40310000: insufficient buying power``: what a status line shows."""
        if self.message.startswith("HTTP "):
            return self.message
        parts = [f"HTTP {self.http_status}"] if self.http_status is not None else []
        if self.code is not None:
            parts.append(str(self.code))
        prefix = " ".join(parts)
        return f"{prefix}: {self.message}" if prefix else self.message


def _body_as_dict(value: Any) -> Any:
    """A 207 item's body: a plain-string error body becomes ``{"message": ...}``."""
    if value is None or isinstance(value, dict):
        return value
    if isinstance(value, str):
        return {"message": value} if value.strip() else None
    return {"message": _cut(repr(value))}


class MultiStatusItem(WireModel):
    """One element of a 207 reply: cancel-all ``{id, status, body?}`` or close-all
    ``{symbol, status, body}`` (sometimes with ``order_id``). ``status`` is the HTTP status
    of that one operation, so a 207 may mix successes and failures.
    """

    status: int
    id: OptStr = None
    symbol: OptSymbol = None
    order_id: OptStr = None
    body: Annotated[dict[str, Any] | None, BeforeValidator(_body_as_dict)] = None

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    @property
    def order(self) -> WireOrder | None:
        """The order in a successful item's body; None when absent or not an order."""
        if not self.ok or not self.body or "id" not in self.body:
            return None
        try:
            return WireOrder.model_validate(self.body)
        except (ValidationError, ArithmeticError):
            return None

    @property
    def error(self) -> ApiError | None:
        """The failure of a non-2xx item, with the body's context keys kept."""
        if self.ok:
            return None
        if self.body is None:
            return ApiError(http_status=self.status, message=f"HTTP {self.status}")
        return ApiError.from_payload(self.status, self.body)


def parse_multi_status(data: list[Any]) -> list[MultiStatusItem]:
    """Parse a 207 array item by item; an unreadable item becomes a failed one (status 0)
    rather than failing the whole reply, because the other items still happened.
    """
    if not isinstance(data, list):
        raise ValueError(f"a multi-status reply must be a JSON array, not {type(data).__name__}")
    items: list[MultiStatusItem] = []
    for raw in data:
        try:
            items.append(MultiStatusItem.model_validate(raw))
        except (ValidationError, ArithmeticError):
            ident = raw if isinstance(raw, dict) else {}
            items.append(
                MultiStatusItem(
                    status=0,
                    id=ident.get("id") if isinstance(ident.get("id"), str) else None,
                    symbol=ident.get("symbol") if isinstance(ident.get("symbol"), str) else None,
                    body={"message": _cut(f"unreadable multi-status item: {raw!r}")},
                )
            )
    return items
