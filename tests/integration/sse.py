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


class LiveStream:
    """One SSE connection read line by line, so that a test can act between two lines.

    Every wait is bounded: httpx's read timeout bounds a silent socket and ``read_until``
    bounds the number of lines it looks at (heartbeats keep lines coming).
    """

    def __init__(
        self,
        client: httpx.Client,
        path: str,
        params: dict[str, Any] | None = None,
        *,
        read_timeout: float = 3.0,
        **kwargs: Any,
    ) -> None:
        timeout = httpx.Timeout(5.0, read=read_timeout)
        self._cm = client.stream("GET", path, params=params, timeout=timeout, **kwargs)
        self.seen: list[tuple[float, str]] = []  # (monotonic arrival, non-blank line)

    def __enter__(self) -> LiveStream:
        self.response = self._cm.__enter__()
        self._lines = self.response.iter_lines()
        return self

    def __exit__(self, *exc: object) -> None:
        self._cm.__exit__(*exc)

    def next_line(self) -> str | None:
        """The next non-blank line, or None when the body ends cleanly."""
        for line in self._lines:
            if line:
                self.seen.append((time.monotonic(), line))
                return line
        return None

    def read_until(self, pred: Callable[[str], bool], max_lines: int = 60) -> list[str]:
        """Lines up to and including the first one ``pred`` accepts."""
        got: list[str] = []
        for _ in range(max_lines):
            line = self.next_line()
            if line is None:
                raise AssertionError(f"body ended while waiting; got {got}")
            got.append(line)
            if pred(line):
                return got
        raise AssertionError(f"no matching line within {max_lines} lines: {got}")


def is_heartbeat(line: str) -> bool:
    return line == ":heartbeat"


def is_event(line: str) -> bool:
    return line.startswith("data: ")


def payload(line: str) -> dict[str, Any]:
    assert line.startswith("data: "), line
    value = json.loads(line[len("data: ") :])
    assert isinstance(value, dict)
    return value


def inject(admin: httpx.Client, stream: str = "trades", n: int = 1, **body: Any) -> None:
    for _ in range(n):
        r = admin.post("/_emulator/events", json={"stream": stream, **body})
        assert r.status_code == 200, r.text


def advance(admin: httpx.Client, seconds: float = 1.0) -> None:
    """Move sim time on by hand: the exchange routes, matches and cancels right away."""
    r = admin.post("/_emulator/clock/advance", json={"seconds": seconds})
    assert r.status_code == 200, r.text
