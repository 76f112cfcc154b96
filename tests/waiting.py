"""Bounded waiting for tests: poll a condition while the event loop runs, never sleep blind."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any


async def until(check: Callable[[], Any], seconds: float, what: str = "") -> Any:
    """The first truthy value of ``check()``, polled every 20 ms for at most ``seconds``."""
    deadline = time.monotonic() + seconds
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {seconds} s" + (f": {what}" if what else ""))
        await asyncio.sleep(0.02)
