"""Bounded waiting for tests: poll a condition while the event loop runs, never sleep blind."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any


async def until(
    check: Callable[[], Any], seconds: float, what: str | Callable[[], str] = ""
) -> Any:
    """The first truthy value of ``check()``, polled every 20 ms for at most ``seconds``;
    ``what`` may be a callable so a failure can describe the state it timed out in."""
    deadline = time.monotonic() + seconds
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            said = what() if callable(what) else what
            raise AssertionError(f"not within {seconds} s" + (f": {said}" if said else ""))
        await asyncio.sleep(0.02)
