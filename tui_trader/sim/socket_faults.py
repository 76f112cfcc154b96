"""What a fault does to a websocket connection, at the level of the server's transport:
refuse the upgrade with an HTTP error, cut the TCP connection, or keep it open and mute.

The specs (when, how often) live in :mod:`tui_trader.sim.faults`; these are the mechanics,
shared by the sockets that fire them (the trading socket and the market-data socket). They
need uvicorn's websockets-sansio protocol object, which the gate puts in the scope
(:data:`tui_trader.sim.gate.PROTOCOL_KEY`).
"""

from __future__ import annotations

import asyncio
import contextlib
import math
from typing import Any

from starlette.websockets import WebSocket

from tui_trader.sim import errors
from tui_trader.sim.faults import ConnectFault
from tui_trader.sim.gate import json_body

REASONS = {
    429: "too many connections",
    500: "internal server error",
    502: "bad gateway",
    503: "service unavailable",
    504: "gateway timeout",
}


def retry_after(fault: ConnectFault) -> str | None:
    """The Retry-After header a refusal carries: raw as armed, else whole seconds."""
    if fault.retry_after_raw is not None:
        return fault.retry_after_raw
    if fault.retry_after is not None:
        return str(math.ceil(fault.retry_after))
    return None


async def refuse_upgrade(ws: WebSocket, status: int, retry: str | None) -> None:
    """Answer the upgrade with an HTTP error instead of 101 (ASGI's denial response)."""
    if status == 429:
        code = errors.RATE_LIMITED
    elif status == 401:
        code = errors.UNAUTHORIZED
    else:
        code = status * 100_000
    extra = [(b"retry-after", retry.encode("latin-1"))] if retry else []
    status, headers, body = json_body(
        status, {"code": code, "message": REASONS.get(status, "server error")}, extra
    )
    if "websocket.http.response" not in ws.scope.get("extensions", {}):
        await ws.close()  # a server without the extension can only say 403
        return
    await ws.send({"type": "websocket.http.response.start", "status": status, "headers": headers})
    await ws.send({"type": "websocket.http.response.body", "body": body})


def cut(protocol: Any) -> None:
    """Abort the TCP connection: no close frame, as a network failure ends it."""
    transport = getattr(protocol, "transport", None)
    if transport is not None:
        transport.abort()


async def go_silent(protocol: Any, seconds: float, closing: asyncio.Event | None) -> None:
    """Keep the TCP connection open but mute for ``seconds`` (or until the emulator closes).

    Pongs are written by the server's protocol as it parses a ping, so pausing the
    transport's reading is what keeps them from going out (the caller stops its reader
    first: the protocol resumes reading whenever the application asks for a message); the
    server's own keepalive pings stop too, as they are data.
    """
    transport = getattr(protocol, "transport", None)
    if transport is not None:
        transport.pause_reading()
    stop_keepalive = getattr(protocol, "stop_keepalive", None)
    if stop_keepalive is not None:
        stop_keepalive()
    if closing is None:
        await asyncio.sleep(seconds)
    else:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(closing.wait(), seconds)
