"""The journal batch writer: order, backpressure, and never a busy wait."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from tui_trader.broker.journal import Journal
from tui_trader.broker.writer import STAGE_ROWS, BatchWriter, Record, Row


def rows(n: int, start: int = 0, stream: str = "trades") -> list[Row]:
    return [
        Row(stream, f"id{i:06d}", f"2026-01-01T00:00:{i % 60:02d}Z", "new", f'{{"n":{i}}}')
        for i in range(start, start + n)
    ]


@pytest.fixture
def journal(tmp_path: Path) -> Journal:
    j = Journal.open(tmp_path / "j.sqlite3")
    yield j  # type: ignore[misc]
    j.close()


async def test_batches_are_written_in_order_with_hooks_before_the_commit(
    journal: Journal,
) -> None:
    loop = asyncio.get_running_loop()
    written: list[tuple[int, Row]] = []
    seen_by_hook: list[int] = []
    writer = BatchWriter(
        journal, loop, lambda new, dups: written.extend(new), lambda exc: pytest.fail(str(exc))
    )

    def hook(records: list[Record]) -> None:
        # the events are not committed yet: another reader cannot see them
        seen_by_hook.extend(rowid for rowid, _ in records)
        assert journal.last_rowid() < records[-1][0]

    writer.before_commit.append(hook)
    for start in range(0, 3 * STAGE_ROWS, 137):
        writer.submit(rows(137, start))
    writer.submit(rows(5, 0))  # duplicates of the first five
    await writer.drain()
    writer.close()
    ids = [row.key for _, row in written]
    assert ids == sorted(set(ids)) and len(ids) == len(range(0, 3 * STAGE_ROWS, 137)) * 137
    assert seen_by_hook == [rowid for rowid, _ in written]
    assert journal.count() == len(ids)
    assert journal.duplicates == {"trades": 5}


@pytest.mark.timeout(10)
async def test_backpressure_waits_without_spinning(journal: Journal) -> None:
    """A write that has finished but whose callback has not run yet must not make room()
    spin: awaiting a done future does not yield to the loop."""
    loop = asyncio.get_running_loop()
    writer = BatchWriter(journal, loop, lambda new, dups: None, lambda exc: None)
    finished: asyncio.Future[tuple[list[tuple[int, Row]], dict[str, int]]] = loop.create_future()
    finished.add_done_callback(writer._done)
    writer._inflight = finished
    writer._staged = rows(4 * STAGE_ROWS)
    assert writer.congested
    finished.set_result(([], {}))  # its callback is queued, not run
    async with asyncio.timeout(5):  # (a spinning room() never yields: pytest's timeout ends it)
        await writer.room()  # in this task, before the queued callback has had its turn
    await writer.drain()
    writer.close()
    assert journal.count() == 4 * STAGE_ROWS


def test_a_lower_staging_bound_makes_the_reader_wait_sooner(journal: Journal) -> None:
    """With a listener that holds the readers (Supervisor.hold) every staged row reaches it
    at the next commit: the supervisor lowers the bound to one transaction's worth."""
    loop = asyncio.new_event_loop()
    writer = BatchWriter(journal, loop, lambda new, dups: None, lambda exc: None)
    writer._staged = rows(STAGE_ROWS)
    assert not writer.congested and writer.unwritten == STAGE_ROWS
    writer.max_staged = STAGE_ROWS
    assert writer.congested
    writer.close()
    loop.close()
