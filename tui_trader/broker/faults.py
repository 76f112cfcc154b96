"""The SIM fault menu: one named network failure at a time, armed on the embedded emulator so
anyone can watch the desk recover live.

Stream faults in the emulator are taken when a connection opens, so each fault is armed and
then the open streams are cut: the reconnect meets the fault at once instead of whenever the
current connection happens to end.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx


@dataclass(frozen=True)
class FaultChoice:
    key: str
    label: str
    specs: tuple[dict[str, Any], ...]  # what /_emulator/faults is given before the cut


FAULT_MENU: tuple[FaultChoice, ...] = (
    FaultChoice("drop", "drop the connections (TCP cut)", ()),
    FaultChoice(
        "stall",
        "stall the trade stream (no bytes, not even heartbeats)",
        ({"kind": "stall", "stream": "trades", "seconds": 30},),
    ),
    FaultChoice(
        "429",
        "429 Too Many Requests, Retry-After 3 s, twice",
        ({"kind": "connect", "status": 429, "retry_after": 3, "scope": "sse", "count": 2},),
    ),
    FaultChoice(
        "503",
        "503 Service Unavailable on the next 3 connects",
        ({"kind": "connect", "status": 503, "scope": "sse", "count": 3},),
    ),
    FaultChoice(
        "malformed",
        "one malformed event on the trade stream (quarantined)",
        ({"kind": "malformed", "stream": "trades"},),
    ),
    FaultChoice(
        "dropped",
        "slow reader: the server skips 5 messages (a gap to re-read)",
        ({"kind": "slow_reader", "stream": "trades", "dropped": 5},),
    ),
)


class FaultError(RuntimeError):
    """The emulator did not take the fault (not an emulator, or it refused it)."""


async def inject(http: httpx.AsyncClient, base_url: str, key: str) -> str:
    """Arm the fault named ``key`` on the emulator at ``base_url`` and cut its streams."""
    choice = next((c for c in FAULT_MENU if c.key == key), None)
    if choice is None:
        raise FaultError(f"unknown fault {key!r}")
    root = base_url.rstrip("/")
    try:
        for spec in choice.specs:
            r = await http.post(f"{root}/_emulator/faults", json=spec, timeout=5.0)
            if r.status_code != 200:
                raise FaultError(f"the emulator refused {key}: HTTP {r.status_code}")
        r = await http.post(f"{root}/_emulator/disconnect", timeout=5.0)
        if r.status_code != 200:
            raise FaultError(f"the emulator did not cut the streams: HTTP {r.status_code}")
    except httpx.HTTPError as exc:
        raise FaultError(f"could not reach the emulator: {type(exc).__name__}") from None
    return choice.label
