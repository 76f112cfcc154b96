"""A deliberately plain SSE reader for tests: raw lines over httpx, comments kept.

Independent of the product's client on purpose: the emulator's wire format is checked
with nothing but httpx and json, as any third-party client would see it.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx


@dataclass
class Received:
    events: list[dict[str, Any]] = field(default_factory=list)
    comments: list[str] = field(default_factory=list)
    bad_lines: list[str] = field(default_factory=list)
    lines: list[str] = field(default_factory=list)  # every non-blank line, in order
    ended: str = ""  # "eof" (body ended cleanly), "stopped" (condition met), or an error name
    status: int = 0

    def types(self) -> list[str]:
        return [str(e.get("event")) for e in self.events]

    def ids(self, key: str = "event_id") -> list[Any]:
        return [e.get(key) for e in self.events]


def read_stream(
    client: httpx.Client,
    path: str,
    params: dict[str, Any] | None = None,
    *,
    stop: Callable[[Received], bool] | None = None,
    max_seconds: float = 10.0,
    read_timeout: float = 5.0,
) -> Received:
    """Read ``path`` until ``stop(received)`` is true, the body ends, an error, or time's up.

    Bounded twice: by ``max_seconds`` overall (checked on every line, and heartbeats keep lines
    coming) and by httpx's read timeout for a silent socket.
    """
    got = Received()
    deadline = time.monotonic() + max_seconds
    timeout = httpx.Timeout(10.0, read=read_timeout)
    try:
        with client.stream("GET", path, params=params, timeout=timeout) as response:
            got.status = response.status_code
            if response.status_code != 200:
                response.read()
                got.events.append(response.json() if response.content else {})
                got.ended = "http"
                return got
            for line in _lines(response):
                if line:
                    got.lines.append(line)
                if line.startswith(":"):
                    got.comments.append(line)
                elif line.startswith("data:"):
                    text = line[5:].lstrip(" ")
                    try:
                        payload = json.loads(text)
                    except ValueError:
                        got.bad_lines.append(text)
                    else:
                        if isinstance(payload, dict) and (
                            "event_id" in payload or "event_ulid" in payload
                        ):
                            got.events.append(payload)
                        else:
                            got.bad_lines.append(text)
                if stop is not None and stop(got):
                    got.ended = "stopped"
                    return got
                if time.monotonic() > deadline:
                    got.ended = "deadline"
                    return got
            got.ended = "eof"
    except httpx.HTTPError as exc:
        got.ended = type(exc).__name__
    return got


def _lines(response: httpx.Response) -> Iterator[str]:
    yield from response.iter_lines()


def wait_for(check: Callable[[], Any], max_seconds: float = 10.0, every: float = 0.02) -> Any:
    """Poll ``check`` until it returns something truthy; bounded. Returns that value."""
    deadline = time.monotonic() + max_seconds
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {max_seconds} s")
        time.sleep(every)
