"""headless's stdout: JSON lines, exactly the events asked for, whatever the pipe does."""

from __future__ import annotations

import io
import json
import os
import threading
from pathlib import Path
from typing import Any

import pytest

from tui_trader.broker.writer import Record, Row
from tui_trader.desk.launch import headless
from tui_trader.desk.launch.headless import Output


def records(n: int, start: int = 1) -> list[Record]:
    payload = '{"event":"fill","note":"quote \\" and \\u00e9"}'
    return [
        (i, Row("trades", f"01ID{i:06}", f"2024-03-01T14:30:{i % 60:02}Z", "fill", payload))
        for i in range(start, start + n)
    ]


def parse(data: bytes) -> list[dict[str, Any]]:
    return [json.loads(line) for line in data.decode().splitlines()]


def test_lines_carry_the_payload_as_received_and_stop_at_max_events() -> None:
    out = io.BytesIO()  # no file descriptor: the joined path
    printer = Output(out, max_events=5)
    assert printer.events(records(3)) == 3
    assert printer.events(records(4, start=4)) == 5  # only two more fit
    assert printer.full and printer.events(records(1, start=8)) is None
    lines = parse(out.getvalue())
    assert [line["id"] for line in lines] == [f"01ID{i:06}" for i in range(1, 6)]
    assert lines[0]["data"] == {"event": "fill", "note": 'quote " and é'}
    assert out.getvalue().count(b'"data":{"event":"fill","note":"quote \\" and \\u00e9"}') == 5


def test_a_real_pipe_gets_every_line_in_order_through_writev(tmp_path: Path) -> None:
    read_fd, write_fd = os.pipe()
    chunks: list[bytes] = []
    reader = threading.Thread(
        target=lambda: chunks.extend(iter(lambda: os.read(read_fd, 1 << 16), b"")), daemon=True
    )
    reader.start()
    with os.fdopen(write_fd, "wb") as pipe:
        printer = Output(pipe, max_events=None)
        printer.events(records(3000))  # more lines than one writev takes
        printer.events(records(10, start=3001))
    reader.join(timeout=10)
    os.close(read_fd)
    lines = parse(b"".join(chunks))
    assert [line["id"] for line in lines] == [f"01ID{i:06}" for i in range(1, 3011)]


def test_a_partial_writev_is_finished(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    real = os.writev
    monkeypatch.setattr(headless.os, "writev", lambda fd, parts: real(fd, [parts[0][:7]]))
    with (tmp_path / "out").open("wb") as f:
        Output(f, max_events=None).events(records(3))
    assert [line["id"] for line in parse((tmp_path / "out").read_bytes())] == [
        "01ID000001",
        "01ID000002",
        "01ID000003",
    ]


def test_a_closed_pipe_stops_printing_but_not_counting() -> None:
    read_fd, write_fd = os.pipe()
    os.close(read_fd)
    with os.fdopen(write_fd, "wb") as pipe:
        printer = Output(pipe, max_events=None)
        assert printer.events(records(2)) == 2  # the journal goes on; delivery is marked
        assert printer.broken and printer.printed == 2
