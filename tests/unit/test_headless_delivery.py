"""headless's stdout as a journal consumer: committed, then printed, then marked (review #7).

Real journal, real batch writer; stdout is a buffer whose writes look at the journal from
a second connection, which is what a crash leaves behind.
"""

from __future__ import annotations

import asyncio
import io
import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.waiting import until
from tui_trader.broker.journal import Journal
from tui_trader.broker.writer import BatchWriter, Row
from tui_trader.desk.launch.headless import CONSUMER, Delivery, Output


def rows(n: int, start: int = 0) -> list[Row]:
    return [
        Row("trades", f"01ID{i:06}", "2026-01-01T00:00:00Z", "new", f'{{"n":{i}}}')
        for i in range(start, start + n)
    ]


class Witness(io.BytesIO):
    """stdout that notes, at each write, what another connection to the journal sees:
    the events committed and the delivery mark."""

    def __init__(self, path: Path) -> None:
        super().__init__()
        self.db = sqlite3.connect(
            path, check_same_thread=False
        )  # writes come on the journal thread
        self.seen: list[tuple[list[str], set[str], int]] = []  # (printed, committed, mark)

    def write(self, data: bytes) -> int:  # type: ignore[override]
        printed = [json.loads(line)["id"] for line in bytes(data).decode().splitlines()]
        committed = {r[0] for r in self.db.execute("SELECT id FROM events")}
        mark = self.db.execute(
            "SELECT coalesce(max(last_rowid), 0) FROM deliveries WHERE consumer = ?", (CONSUMER,)
        ).fetchone()[0]
        self.seen.append((printed, committed, mark))
        return super().write(data)


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "j.sqlite3"


@pytest.fixture
def journal(path: Path) -> Iterator[Journal]:
    with Journal.open(path) as j:
        yield j


def _raise(exc: BaseException) -> None:
    raise AssertionError(f"the journal write failed: {exc!r}")


def rowid_of(journal: Journal, key: str) -> int:
    return next(e.rowid for e in journal.events_after(0) if e.id == key)


async def test_review_07_a_failed_commit_prints_nothing(journal: Journal, path: Path) -> None:
    """``../shared/review/print_before_commit.py``: the COMMIT fails (disk full, I/O
    error); nothing of that batch may reach stdout."""
    out = Output(Witness(path), None)
    failures: list[BaseException] = []
    writer = BatchWriter(journal, asyncio.get_running_loop(), lambda *_: None, failures.append)
    writer.before_commit.append(Delivery(journal, out, lambda: None))

    def fail() -> None:  # as SQLite does on an I/O error at COMMIT: the batch is undone
        journal.rollback()
        raise sqlite3.OperationalError("disk I/O error")

    journal.commit = fail  # type: ignore[method-assign]
    writer.submit(rows(3))
    with pytest.raises(sqlite3.OperationalError):
        await writer.drain()
    writer.close()
    assert failures and "disk I/O error" in str(failures[0])
    assert out.out.getvalue() == b"" and out.printed == 0
    assert journal.count() == 0


async def test_review_07_each_batch_is_printed_after_its_commit_and_marked_by_the_next(
    journal: Journal, path: Path
) -> None:
    """When a batch is printed its events are durable, and every earlier batch is marked:
    whatever moment a kill picks, what is printed but unmarked is part of one batch."""
    witness = Witness(path)
    out = Output(witness, None)
    delivery = Delivery(journal, out, lambda: None)
    writer = BatchWriter(journal, asyncio.get_running_loop(), lambda *_: None, _raise)
    writer.before_commit.append(delivery)
    batches = [rows(5, 0), rows(7, 5), rows(3, 12)]
    for batch in batches:
        writer.submit(batch)
        await writer.drain()  # one batch each
    writer.close()
    assert [printed for printed, _, _ in witness.seen] == [[r.key for r in b] for b in batches]
    previous_last = 0
    for printed, committed, mark in witness.seen:
        assert set(printed) <= committed  # committed, then printed
        assert mark == previous_last  # the batch before is marked, this one not yet
        previous_last = rowid_of(journal, printed[-1])
    assert journal.delivered(CONSUMER) == rowid_of(journal, "01ID000011")  # last one pending
    delivery.flush()  # a stop (or a quiet stream) marks it
    assert journal.delivered(CONSUMER) == rowid_of(journal, "01ID000014")


async def test_review_07_a_quiet_stream_gets_its_mark_soon(journal: Journal, path: Path) -> None:
    out = Output(io.BytesIO(), None)
    delivery = Delivery(journal, out, lambda: None)
    writer = BatchWriter(journal, asyncio.get_running_loop(), lambda *_: None, _raise)
    writer.before_commit.append(delivery)
    marking = asyncio.create_task(delivery.keep_marking(quiet=0.05))
    writer.submit(rows(4))
    await writer.drain()
    other = Journal.open(path)
    try:
        assert other.delivered(CONSUMER) == 0  # printed, not yet marked
        last = rowid_of(journal, "01ID000003")
        await until(lambda: other.delivered(CONSUMER) == last, 5, "the mark of a quiet stream")
    finally:
        other.close()
        marking.cancel()
        writer.close()


def test_review_07_a_restart_prints_past_the_mark_in_marked_chunks(
    journal: Journal, path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What an earlier run journaled but did not mark is printed first, a chunk at a time,
    each chunk marked as soon as it is out (so a kill here repeats at most one chunk)."""
    monkeypatch.setattr("tui_trader.desk.launch.headless.BACKLOG_ROWS", 4)
    journal.add_many([(*r[:5], None, "stream") for r in rows(10)])
    journal.commit()
    journal.mark_delivered(CONSUMER, rowid_of(journal, "01ID000002"))
    witness = Witness(path)
    Delivery(journal, Output(witness, None), lambda: None).backlog()
    assert [printed for printed, _, _ in witness.seen] == [
        [f"01ID{i:06}" for i in range(3, 7)],
        [f"01ID{i:06}" for i in range(7, 10)],
    ]
    assert [mark for _, _, mark in witness.seen] == [
        rowid_of(journal, "01ID000002"),
        rowid_of(journal, "01ID000006"),
    ]
    assert journal.delivered(CONSUMER) == rowid_of(journal, "01ID000009")


def test_max_events_stops_and_marks_only_what_was_printed(journal: Journal) -> None:
    journal.add_many([(*r[:5], None, "stream") for r in rows(10)])
    journal.commit()
    stopped: list[bool] = []
    delivery = Delivery(journal, Output(io.BytesIO(), 6), lambda: stopped.append(True))
    delivery.backlog()
    assert stopped and delivery.out.printed == 6
    assert journal.delivered(CONSUMER) == rowid_of(journal, "01ID000005")
