"""The emulator's market-data socket never writes a frame of more than FRAME_MESSAGES data
messages: a slow reader's whole backlog in one frame grew to ~15 MB (120k quotes), past
alpaca-py's 1 MiB frame limit (a 1009 reconnect loop) and froze any reader while it parsed."""

from __future__ import annotations

from typing import Any

from tui_trader.sim.data_socket import FRAME_MESSAGES, Session


async def test_a_backlog_goes_out_in_frames_of_at_most_frame_messages() -> None:
    session = Session.__new__(Session)  # only the writer's framing is under test
    frames: list[list[Any]] = []

    async def send(messages: list[Any]) -> None:
        frames.append(list(messages))

    session._send = send  # type: ignore[method-assign]
    session.sent = 0
    backlog = [{"T": "q", "S": "AAPL", "i": i} for i in range(2 * FRAME_MESSAGES + 17)]
    await session._flush(list(backlog))
    assert [len(f) for f in frames] == [FRAME_MESSAGES, FRAME_MESSAGES, 17]
    assert [m for f in frames for m in f] == backlog  # in order, nothing lost or repeated
    assert session.sent == len(backlog)
