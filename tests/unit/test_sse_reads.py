"""The stream reads large chunks: httpcore's read size is raised where httpx cannot set it."""

from __future__ import annotations

import httpcore

from tui_trader.broker import sse


def test_http11_connections_read_up_to_read_bytes() -> None:
    # fails loudly if an httpcore release renames the attribute (the raise would be a no-op)
    assert getattr(httpcore.AsyncHTTP11Connection, "READ_NUM_BYTES", None) == sse.READ_BYTES
    assert sse.READ_BYTES >= 256 * 1024
