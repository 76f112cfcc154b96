"""The emulator's front door: authentication, rate limits, connection faults, and the
ability to cut a connection, as one pure ASGI middleware around the routes.

It is pure ASGI (not ``BaseHTTPMiddleware``) so that SSE bodies stream through untouched and
so that it can reach uvicorn's transport: dropping a connection without an answer, or in the
middle of a body, is a fault a real network produces and a client must survive.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import math
import re
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any, Literal

from tui_trader.sim import errors
from tui_trader.sim.emulator import Emulator

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

ADMIN_PREFIX = "/_emulator"
_SSE = re.compile(r"^/v(?:1|2|2beta1)/events/(trades|accounts/status|nta)/?$")
_STREAM_OF = {"trades": "trades", "accounts/status": "accounts", "nta": "nta"}

_REASONS = {
    500: "internal server error",
    502: "bad gateway",
    503: "service unavailable",
    504: "gateway timeout",
}

ABORT_KEY = "tui_trader.abort"
DROP_KEY = "tui_trader.drop_response"
STREAM_KEY = "tui_trader.stream"
PROTOCOL_KEY = "tui_trader.protocol"  # the server's protocol object of a websocket connection


def classify(path: str) -> tuple[Literal["admin", "sse", "broker", "trading", "data"], str | None]:
    if path.startswith(ADMIN_PREFIX):
        return "admin", None
    match = _SSE.match(path)
    if match:
        return "sse", _STREAM_OF[match.group(1)]
    if path.startswith("/v2/stocks"):
        return "data", None
    if path.startswith("/v1/"):
        return "broker", None
    return "trading", None


_ID_SEGMENT = re.compile(r"^(?=[^/]*\d)[^/]{16,}$")


def route_key(path: str) -> str:
    """``path`` with its id-like segments (uuids, order ids) as ``{id}``: one counter per route."""
    return "/".join("{id}" if _ID_SEGMENT.match(seg) else seg for seg in path.split("/"))


def _credentials(headers: dict[str, str]) -> tuple[str | None, str | None, str | None]:
    """(scheme, key id, secret) from either Alpaca auth scheme."""
    auth = headers.get("authorization", "")
    if auth[:6].lower() == "basic ":
        try:
            decoded = base64.b64decode(auth[6:].strip(), validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            return "basic", None, None
        key, _, secret = decoded.partition(":")
        return "basic", key or None, secret or None
    key_id = headers.get("apca-api-key-id")
    secret_key = headers.get("apca-api-secret-key")
    if key_id is not None or secret_key is not None:
        return "headers", key_id, secret_key
    return None, None, None


def json_body(
    status: int, body: Any, headers: list[tuple[bytes, bytes]] | None = None
) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
    data = json.dumps(body, separators=(",", ":")).encode()
    hdrs = [(b"content-type", b"application/json"), (b"content-length", str(len(data)).encode())]
    return status, hdrs + (headers or []), data


class Gate:
    def __init__(self, app: ASGIApp, emulator: Emulator) -> None:
        self.app = app
        self.emulator = emulator

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            if scope["type"] == "websocket":  # a socket authenticates itself; its faults are ours
                protocol = getattr(send, "__self__", None)
                scope[PROTOCOL_KEY] = protocol
                transport = getattr(protocol, "transport", None)
                scope[ABORT_KEY] = transport.abort if transport is not None else None
            await self.app(scope, receive, send)
            return
        transport = getattr(getattr(send, "__self__", None), "transport", None)
        state = {"aborted": False, "drop": False}

        def abort() -> None:
            state["aborted"] = True
            if transport is not None:
                transport.abort()

        scope[ABORT_KEY] = abort
        scope[DROP_KEY] = state
        path: str = scope["path"]
        family, stream = classify(path)
        scope[STREAM_KEY] = stream
        extra_headers: list[tuple[bytes, bytes]] = []

        if family != "admin":
            # what clients asked for, by route: tests count a poller's or a reconcile's requests
            self.emulator.count(f"http {scope.get('method', 'GET')} {route_key(path)}")
            refusal = self._admit(scope, family, stream, extra_headers)
            if refusal is not None:
                await _respond(send, *refusal)
                return

        async def guarded_send(message: Message) -> None:
            if state["aborted"]:
                return
            if message["type"] == "http.response.start":
                if state["drop"]:
                    abort()
                    await asyncio.sleep(0)  # let the transport report the loss
                    return
                message = dict(message)
                message["headers"] = [*message.get("headers", []), *extra_headers]
            await send(message)

        await self.app(scope, receive, guarded_send)

    def _admit(
        self,
        scope: Scope,
        family: str,
        stream: str | None,
        extra: list[tuple[bytes, bytes]],
    ) -> tuple[int, list[tuple[bytes, bytes]], bytes] | None:
        emu = self.emulator
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        scheme, key, secret = _credentials(headers)
        forced = emu.faults.take_auth()
        if forced == 403:
            return json_body(403, {"message": "forbidden."})
        ok = forced is None and emu.check_credentials(key, secret)
        if ok and emu.config.strict_auth:
            wanted = "basic" if family in ("broker", "sse") else "headers"
            ok = scheme == wanted
        if not ok:
            emu.count("auth_rejected")
            return json_body(
                401, {"code": errors.UNAUTHORIZED, "message": "request is not authorized"}
            )
        allowed, limit, remaining, reset = emu.limiter.hit(f"{family == 'data'}:{key}")
        extra += [
            (b"x-ratelimit-limit", str(limit).encode()),
            (b"x-ratelimit-remaining", str(remaining).encode()),
            (b"x-ratelimit-reset", str(reset).encode()),
        ]
        if not allowed:
            retry = emu.limiter.retry_after(reset)
            return json_body(
                429,
                {"code": errors.RATE_LIMITED, "message": "rate limit exceeded"},
                [*extra, (b"retry-after", str(retry).encode())],
            )
        fault = emu.faults.take_connect("sse" if family == "sse" else "rest", stream)
        if fault is not None:
            hdrs = list(extra)
            if fault.retry_after_raw is not None:
                hdrs.append((b"retry-after", fault.retry_after_raw.encode("latin-1")))
            elif fault.retry_after is not None:
                hdrs.append((b"retry-after", _seconds(fault.retry_after)))
            if fault.status == 429:
                body: dict[str, Any] = {
                    "code": errors.RATE_LIMITED,
                    "message": "rate limit exceeded",
                }
            elif fault.status == 401:  # Alpaca's own words, as a real refusal says them
                body = {"code": errors.UNAUTHORIZED, "message": "request is not authorized"}
            elif fault.status == 404:
                body = {"code": errors.NOT_FOUND, "message": "endpoint not found"}
            else:
                reason = _REASONS.get(fault.status, "server error")
                body = {"code": fault.status * 100_000, "message": reason}
            return json_body(fault.status, body, hdrs)
        return None


def _seconds(value: float) -> bytes:
    """Retry-After is whole seconds (RFC 9110): a fractional request is rounded up."""
    return str(math.ceil(value)).encode()


async def _respond(
    send: Send, status: int, headers: list[tuple[bytes, bytes]], body: bytes
) -> None:
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body, "more_body": False})
