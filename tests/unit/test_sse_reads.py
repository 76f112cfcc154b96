"""The stream reads large chunks: httpcore's read size is raised where httpx cannot set it."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpcore
import httpx
import pytest

from tui_trader.broker import sse


def test_http11_connections_read_up_to_read_bytes() -> None:
    # fails loudly if an httpcore release renames the attribute (the raise would be a no-op)
    assert getattr(httpcore.AsyncHTTP11Connection, "READ_NUM_BYTES", None) == sse.READ_BYTES
    assert sse.READ_BYTES >= 256 * 1024


async def test_review_01_nothing_after_a_gap_notice_in_one_read_is_handed_over() -> None:
    """One network read: e1, the notice, e3, e4. Only e1 and the notice reach the handler
    (the journal); the connection ends with StreamGap."""
    body = (
        b'data: {"n":1}\n\n: you are reading too slowly, dropped 1 messages\n\n'
        b'data: {"n":3}\n\ndata: {"n":4}\n\n'
    )

    def serve(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, headers={"content-type": "text/event-stream"}, content=body)

    seen: list[list[sse.Frame]] = []
    async with httpx.AsyncClient(
        base_url="http://sim", transport=httpx.MockTransport(serve)
    ) as client:
        with pytest.raises(sse.StreamGap) as ended:
            await sse.read_stream(
                client,
                sse.ROUTES["trades"],
                {},
                {},
                sse.StreamWatch(sse.CadenceMeter(60.0)),
                seen.append,
            )
    assert ended.value.dropped == 1
    frames = [f for batch in seen for f in batch]
    assert frames[0] == '{"n":1}'
    assert isinstance(frames[1], sse.Comment) and frames[1].dropped == 1
    assert len(frames) == 2, frames


async def test_heartbeats_queued_in_one_read_teach_no_cadence() -> None:
    """A reader that falls behind (a busy loop) finds several heartbeats in one read: the
    gaps between them are the reader's lateness, not the server's cadence. Taken as periods
    they made the silence bound 3 x ~0 s (seen: a stream abandoned after 0.09 s of silence
    under load, holding the desk in REDUCING on cause=STREAM)."""
    body = b": heartbeat\n\n" * 4

    def serve(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, headers={"content-type": "text/event-stream"}, content=body)

    host = sse.CadenceMeter(60.0)
    async with httpx.AsyncClient(
        base_url="http://sim", transport=httpx.MockTransport(serve)
    ) as client:
        with pytest.raises(sse.StreamEnded):
            await sse.read_stream(
                client, sse.ROUTES["trades"], {}, {}, sse.StreamWatch(host), lambda _: None
            )
    assert host.cadence is None
    assert host.idle_timeout == 60.0


async def test_heartbeats_read_one_by_one_from_a_backlog_teach_no_cadence() -> None:
    """The same lateness spread over several reads: each heartbeat was already waiting in the
    buffer when the reader asked (a starved loop catching up), so the time between reads is
    ours, not the server's period. Taken as periods they set a 0.05 s silence bound (seen:
    a headless desk at 1200x on a loaded machine stalled out every few seconds, REDUCING on
    cause=STREAM)."""

    async def backlog() -> AsyncIterator[bytes]:
        for _ in range(6):
            yield b": heartbeat\n\n"

    def serve(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, headers={"content-type": "text/event-stream"}, content=backlog())

    host = sse.CadenceMeter(60.0)
    async with httpx.AsyncClient(
        base_url="http://sim", transport=httpx.MockTransport(serve)
    ) as client:
        with pytest.raises(sse.StreamEnded):
            await sse.read_stream(
                client, sse.ROUTES["trades"], {}, {}, sse.StreamWatch(host), lambda _: None
            )
    assert host.cadence is None
    assert host.idle_timeout == 60.0
