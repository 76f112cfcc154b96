"""The event journal: exactly-once storage, cursors that never run ahead, crash safety.

Crash safety is tested for real: a child process journals in batches and is killed with
SIGKILL, then the file is reopened and checked.
"""

from __future__ import annotations

import json
import os
import queue
import signal
import sqlite3
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import tui_trader
from tui_trader.broker.facts import RECENT_FACTS, FactMemory
from tui_trader.broker.journal import (
    APPLICATION_ID,
    SCHEMA_VERSION,
    Journal,
    JournalError,
    JournalEvent,
    journal_path,
)
from tui_trader.core.events import parse_event

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "alpaca"
REPO = Path(tui_trader.__file__).resolve().parents[1]
AT = "2024-03-01T14:30:00.123456789Z"


@pytest.fixture
def journal(tmp_path: Path) -> Iterator[Journal]:
    with Journal.open(tmp_path / "j.sqlite3") as j:
        yield j


def add(j: Journal, stream: str, id: str, **kw: Any) -> int | None:
    """An add with a payload derived from the id, so tests can check what was stored."""
    return j.add(stream, id, kw.pop("at", f"at-{id}"), "new", f'{{"id":"{id}"}}', **kw)


def ids(j: Journal, stream: str | None = None) -> list[str]:
    return [e.id for e in j.events_after(0, stream)]


# -- new vs duplicate ------------------------------------------------------------------------


def test_same_stream_and_id_is_a_duplicate(journal: Journal) -> None:
    first = add(journal, "trades", "01A")
    assert first is not None
    assert add(journal, "trades", "01A") is None
    second = add(journal, "nta", "01A")  # ids are per stream
    assert second is not None and second > first
    journal.commit()
    assert add(journal, "trades", "01A") is None  # also across batches
    journal.commit()
    assert [(e.stream, e.id) for e in journal.events_after(0)] == [
        ("trades", "01A"),
        ("nta", "01A"),
    ]


def test_same_fact_is_a_duplicate_whatever_the_source(journal: Journal) -> None:
    """A fill seen first by REST polling and later on the stream is one fact (API.md §2.4)."""
    fact = "fill:bb2403bc-88ec-430b-b41c-f9ee80c8f0e1:0.5"
    polled = add(journal, "trades", "poll:1", fact=fact, source="poll", advance_cursor=False)
    assert polled is not None
    assert add(journal, "trades", "01STREAM", fact=fact) is None
    assert add(journal, "trades", "01OTHER", fact=None) is not None  # null facts never clash
    assert add(journal, "trades", "01MORE", fact=None) is not None
    journal.commit()
    stored = journal.events_after(0)
    assert [(e.id, e.fact, e.source) for e in stored] == [
        ("poll:1", fact, "poll"),
        ("01OTHER", None, "stream"),
        ("01MORE", None, "stream"),
    ]
    assert journal.duplicates == {"trades": 1}


def test_facts_still_meet_after_a_restart(tmp_path: Path) -> None:
    """Facts live in memory (no index): a reopened journal loads them before its first write,
    polled facts included, so a fill polled before a restart is not stored again when the
    stream replays it after."""
    path = tmp_path / "j.sqlite3"
    polled_fact, streamed_fact = "fill:poll-order:1", "fill:stream-order:2"
    with Journal.open(path) as j:
        add(j, "trades", "poll:1", fact=polled_fact, source="poll", advance_cursor=False)
        add(j, "trades", "01A", fact=streamed_fact)
        for i in range(50):  # newer rows between them and the restart
            add(j, "trades", f"01B{i:02}", fact=f"new:o{i}")
    with Journal.open(path) as j:
        rows = [
            ("trades", "01S", AT, "fill", "{}", polled_fact, "stream"),
            ("trades", "poll:2", AT, "fill", "{}", streamed_fact, "poll"),
            ("trades", "01T", AT, "fill", "{}", "fill:other:1", "stream"),
        ]
        assert j.add_many(rows)[:2] == [None, None]
        assert add(j, "trades", "01U", fact=polled_fact) is None
        j.commit()
        assert j.duplicates == {"trades": 3}
        assert ids(j)[-1] == "01T"


def test_a_rolled_back_fact_may_come_again(journal: Journal) -> None:
    fact = "fill:o1:1"
    assert add(journal, "trades", "01A", fact=fact) is not None
    assert journal.add_many([("trades", "01B", AT, "fill", "{}", "fill:o2:1", "stream")])[0]
    journal.rollback()
    # neither the rows nor their facts were stored: both are new again
    assert add(journal, "trades", "01A", fact=fact) is not None
    assert journal.add_many([("trades", "01C", AT, "fill", "{}", "fill:o2:1", "stream")])[0]
    journal.commit()
    assert ids(journal) == ["01A", "01C"]


def test_facts_are_compared_within_the_newest_window(tmp_path: Path) -> None:
    """The documented bound: facts older than the window are no longer compared (polling
    and the stream only overlap around an outage); ``(stream, id)`` is compared forever."""
    memory = FactMemory(limit=4)
    memory.remember(["f0"], polled=["f0"])
    memory.remember(["f1", "f2"], polled=[])
    memory.remember(["f3", "f4", "f5"], polled=[])
    assert len(memory) == 6  # up to 1.5x the limit before a trim
    memory.remember(["f6"], polled=[])  # past it: the newest 4 stay
    assert "f0" in memory  # polled facts are kept apart
    assert not any(f"f{i}" in memory for i in (1, 2))
    assert all(f"f{i}" in memory for i in range(3, 7))
    assert len(memory) == 4


def test_schema_2_journals_lose_the_fact_index_and_keep_their_facts(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite3"
    with Journal.open(path) as j:
        add(j, "trades", "poll:1", fact="fill:o1:1", source="poll", advance_cursor=False)
    conn = sqlite3.connect(path)  # make it what schema 2 looked like
    conn.execute("DROP INDEX events_poll_fact")
    conn.execute("DROP INDEX events_fill_at")
    conn.execute("CREATE UNIQUE INDEX events_fact ON events (fact) WHERE fact IS NOT NULL")
    conn.execute("PRAGMA user_version = 2")
    conn.commit()
    conn.close()
    with Journal.open(path) as j:
        indexes = {r[0] for r in j._conn.execute("SELECT name FROM sqlite_schema")}
        assert "events_fact" not in indexes and "events_poll_fact" in indexes
        assert add(j, "trades", "01A", fact="fill:o1:1") is None


def _newer_status_facts(j: Journal, n: int, source: str = "stream") -> None:
    """``n`` rows with status facts (the bulk of a trade stream), committed in chunks."""
    prefix = "poll:s" if source == "poll" else "01S"
    rows = [("trades", f"{prefix}{i:023d}", AT, "new", "{}", f"new:o{i}", source) for i in range(n)]
    for k in range(0, n, 5000):
        j.add_many(rows[k : k + 5000])
        j.commit()


PAST_THE_WINDOW = RECENT_FACTS + RECENT_FACTS // 2 + 1  # newer facts than memory keeps


def test_review_11_a_streamed_fill_polled_long_after_counts_once(tmp_path: Path) -> None:
    """``../shared/review/fact_window.py``: a fill seen on the stream, then more newer facts
    than the memory window holds, then the same fill from REST polling (whose activity
    stamp is milliseconds off the stream's ``at``): one fill, stored once, before and
    after a restart."""
    path = tmp_path / "j.sqlite3"
    fact = "fill:bb2403bc-88ec-430b-b41c-f9ee80c8f0e1:10"
    polled = ("trades", "poll:act-1", "2024-03-01T14:30:00.118Z", "fill", "{}", fact, "poll")
    with Journal.open(path) as j:
        j.add_many([("trades", "01AAAAAAAAAAAAAAAAAAAAAAAA", AT, "fill", "{}", fact, "stream")])
        j.commit()
        _newer_status_facts(j, PAST_THE_WINDOW)
        assert fact not in j._facts()  # out of memory: only the durable tier can tell
        assert j.add_many([polled]) == [None]
        assert j.add(*polled[:5], fact=fact, source="poll", advance_cursor=False) is None
        j.commit()
        assert j.duplicates == {"trades": 2}
    with Journal.open(path) as j:  # a restart loads only the newest facts
        again = ("trades", "poll:act-2", "2024-03-01T14:29:59Z", "fill", "{}", fact, "poll")
        assert j.add_many([again, polled]) == [None, None]
        other = ("trades", "poll:act-3", AT, "fill", "{}", "fill:other-order:10", "poll")
        assert j.add_many([other])[0] is not None  # a new fill is still new
        j.commit()
        count = j._conn.execute("SELECT count(*) FROM events WHERE fact = ?", (fact,))
        assert count.fetchone()[0] == 1


def test_review_11_a_polled_fill_streamed_long_after_counts_once(tmp_path: Path) -> None:
    """The other way round, with more polled facts than memory keeps (a stream that is
    never offered leaves polling as the only transport for the whole session)."""
    path = tmp_path / "j.sqlite3"
    fact = "fill:0f0e0d0c-88ec-430b-b41c-f9ee80c8f0e1:3"
    with Journal.open(path, recent_facts=100) as j:
        j.add_many([("trades", "poll:act-1", AT, "fill", "{}", fact, "poll")])
        j.commit()
        _newer_status_facts(j, 400, source="poll")
        memory = j._facts()
        assert fact not in memory and not memory.polled_complete
        streamed = ("trades", "01ZZZZZZZZZZZZZZZZZZZZZZZZ", AT, "fill", "{}", fact, "stream")
        assert j.add_many([streamed]) == [None]
        j.commit()
    with Journal.open(path, recent_facts=100) as j:
        assert j.add(*streamed[:5], fact=fact) is None
        j.commit()
        count = j._conn.execute("SELECT count(*) FROM events WHERE fact = ?", (fact,))
        assert count.fetchone()[0] == 1


def test_review_11_fills_are_compared_near_their_time_only(journal: Journal) -> None:
    """The durable tier looks a polled fill up among stored fills within a day of its stamp
    (one execution's stamps are milliseconds apart); further off, or a status fact out of
    the window, is not compared (documented in broker/facts.py)."""
    fact = "fill:order-far:1"
    journal.add_many([("trades", "01A", "2024-03-01T14:30:00Z", "fill", "{}", fact, "stream")])
    journal.commit()
    journal._fact_memory = FactMemory(limit=1)  # as if the window had moved on
    near = ("trades", "poll:1", "2024-03-02T14:29:59+00:00", "fill", "{}", fact, "poll")
    far = ("trades", "poll:2", "2024-03-03T14:30:02Z", "fill", "{}", fact, "poll")
    assert journal.add_many([near]) == [None]
    assert journal.add_many([far])[0] is not None
    unreadable = ("trades", "poll:3", "", "fill", "{}", fact, "poll")
    assert journal.add_many([unreadable]) == [None]  # no stamp: every stored fill compared


def test_review_11_the_durable_tier_keeps_ingest_off_random_pages(journal: Journal) -> None:
    """The index behind it is on ``at`` of fill rows only (appends, not random inserts
    like a unique index on the random fact), and the query uses it."""
    sql = journal._conn.execute(
        "SELECT sql FROM sqlite_schema WHERE name = 'events_fill_at'"
    ).fetchone()[0]
    assert "(at)" in sql and "fill:" in sql
    plan = journal._conn.execute(
        "EXPLAIN QUERY PLAN SELECT fact FROM events WHERE fact >= 'fill:' AND fact < 'fill;'"
        " AND at >= '2024-01-01' AND at < '2024-01-02'"
    ).fetchall()
    assert any("events_fill_at" in row[-1] for row in plan), plan


def test_schema_3_journals_gain_the_fill_index_and_keep_their_rows(tmp_path: Path) -> None:
    """Migration 3 -> 4, on a journal that the old window already let a duplicate into."""
    path = tmp_path / "old.sqlite3"
    fact = "fill:o1:1"
    with Journal.open(path) as j:
        j.add_many([("trades", "01A", AT, "fill", "{}", fact, "stream")])
    conn = sqlite3.connect(path)  # make it what schema 3 looked like, with the doubled fill
    conn.execute("DROP INDEX events_fill_at")
    conn.execute(
        "INSERT INTO events (stream, id, fact, at, type, payload, source, received_at)"
        " VALUES ('trades', 'poll:1', ?, ?, 'fill', '{}', 'poll', 0)",
        (fact, AT),
    )
    conn.execute("PRAGMA user_version = 3")
    conn.commit()
    conn.close()
    with Journal.open(path, recent_facts=1) as j:
        indexes = {r[0] for r in j._conn.execute("SELECT name FROM sqlite_schema")}
        assert "events_fill_at" in indexes
        assert j._conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 4
        assert ids(j) == ["01A", "poll:1"]  # history is kept as it was
        _newer_status_facts(j, 5)
        assert j.add_many([("trades", "poll:2", AT, "fill", "{}", fact, "poll")]) == [None]


def test_duplicates_are_counted_per_stream(journal: Journal) -> None:
    assert journal.duplicates == {}
    add(journal, "trades", "a")
    add(journal, "nta", "a")
    for _ in range(3):
        add(journal, "trades", "a")
    add(journal, "nta", "a")
    assert journal.duplicates == {"trades": 3, "nta": 1}
    journal.duplicates["trades"] = 0  # a copy: the display cannot reset the counter
    assert journal.duplicates["trades"] == 3


def test_a_broken_row_raises_rather_than_passing_as_a_duplicate(journal: Journal) -> None:
    with pytest.raises(sqlite3.IntegrityError):
        journal.add("trades", "x", AT, None, "{}")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="source"):
        journal.add("trades", "x", AT, "new", "{}", source="rest")
    assert journal.duplicates == {}
    assert add(journal, "trades", "x") is not None  # the batch is still usable


def test_payload_is_stored_byte_for_byte(journal: Journal) -> None:
    payload = '{"b":1, "a":"caf\\u00e9 é \u2028 \\"q\\"" }  '
    rowid = journal.add("trades", "id", AT, "fill", payload)
    journal.commit()
    assert journal.events_after(0) == [
        JournalEvent(rowid or 0, "trades", "id", None, AT, "fill", payload, "stream")
    ]


def test_add_event_journals_a_parsed_event_as_received(journal: Journal) -> None:
    line = json.dumps(json.loads((FIXTURES / "trade_event_fill.json").read_text()))
    event = parse_event("trades", line)
    assert journal.add_event(event, fact="fill:x:1") is not None
    assert journal.add_event(event) is None
    journal.commit()
    (stored,) = journal.events_after(0)
    assert (stored.stream, stored.id, stored.at, stored.type, stored.payload) == (
        "trades",
        event.key,
        event.at_raw,
        "fill",
        line,
    )
    assert journal.cursor("trades") == (event.key, event.at_raw)


# -- cursors ---------------------------------------------------------------------------------


def test_cursor_moves_only_with_a_new_stored_event(journal: Journal) -> None:
    assert journal.cursor("trades") is None
    add(journal, "trades", "01B", at=AT)
    assert journal.cursor("trades") == ("01B", AT)
    add(journal, "trades", "01A", at="earlier")  # arrival order, not id order
    assert journal.cursor("trades") == ("01A", "earlier")
    add(journal, "trades", "01B", at="dup")  # a duplicate leaves it
    add(journal, "trades", "poll:9", source="poll", advance_cursor=False)
    add(journal, "trades", "01C", at=None, fact="f")
    add(journal, "trades", "01D", fact="f")  # a fact duplicate leaves it too
    assert journal.cursor("trades") == ("01C", None)
    assert journal.cursor("nta") is None
    journal.commit()
    assert journal.cursor("trades") == ("01C", None)


def test_cursor_and_events_commit_or_vanish_together(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite3"
    with Journal.open(path) as writer, Journal.open(path) as reader:
        add(writer, "trades", "1")
        writer.commit()
        add(writer, "trades", "2")
        assert reader.cursor("trades") == ("1", "at-1")
        writer.rollback()
        assert writer.cursor("trades") == ("1", "at-1")
        assert ids(writer) == ["1"]
        assert add(writer, "trades", "2") is not None  # lost, not stuck as "seen"


def test_the_schema_forbids_a_cursor_on_a_missing_event(journal: Journal) -> None:
    with pytest.raises(sqlite3.IntegrityError):
        journal._conn.execute("INSERT INTO cursors VALUES ('trades', 'ghost', NULL)")


# -- batches ---------------------------------------------------------------------------------


def test_uncommitted_events_are_invisible_elsewhere_and_committed_ones_survive(
    tmp_path: Path,
) -> None:
    path = tmp_path / "j.sqlite3"
    writer = Journal.open(path)
    reader = Journal.open(path)  # opening does not wait for the writer's batch
    try:
        add(writer, "trades", "1")
        add(writer, "trades", "1")
        writer.quarantine("trades", "data: null", "null payload")
        assert writer.pending == 3
        assert (reader.count(), reader.last_rowid(), reader.cursor("trades")) == (0, 0, None)
        assert reader.quarantined_count() == 0
        # not even the writer's own event reads show the open batch
        assert (writer.events_after(0), writer.count(), writer.last_rowid()) == ([], 0, 0)
        writer.commit()
        assert writer.pending == 0
        assert ids(reader) == ["1"] and reader.cursor("trades") == ("1", "at-1")
        assert reader.quarantined_count() == 1
        add(writer, "trades", "2")
        assert reader.last_rowid() == writer.last_rowid() == 1
    finally:
        reader.close()
        writer._conn.close()  # dies without committing: the open batch is lost
    with Journal.open(path) as again:
        assert ids(again) == ["1"]
        assert again.cursor("trades") == ("1", "at-1")


def test_close_and_a_with_block_keep_the_open_batch(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite3"
    with pytest.raises(RuntimeError), Journal.open(path) as j:
        add(j, "trades", "1")
        raise RuntimeError("stream loop stopped")
    j.close()  # idempotent
    j2 = Journal.open(path)
    add(j2, "trades", "2")
    j2.close()
    with Journal.open(path) as j3:
        assert ids(j3) == ["1", "2"]


def test_events_after_filters_and_limits(journal: Journal) -> None:
    for n in range(5):
        add(journal, "trades" if n % 2 == 0 else "nta", str(n))
    journal.commit()
    assert ids(journal) == ["0", "1", "2", "3", "4"]
    assert [e.rowid for e in journal.events_after(2)] == [3, 4, 5]
    assert ids(journal, "trades") == ["0", "2", "4"]
    assert [e.id for e in journal.events_after(1, "trades", limit=1)] == ["2"]
    assert journal.events_after(0, limit=0) == []
    assert (journal.count(), journal.count("nta"), journal.count("x")) == (5, 2, 0)
    assert journal.last_rowid() == 5
    with pytest.raises(ValueError):
        journal.events_after(0, limit=-1)


# -- quarantine, deliveries, settings --------------------------------------------------------


def test_quarantine_is_kept_and_counted(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite3"
    with Journal.open(path) as j:
        j.quarantine("trades", "data: null", "null payload")
        j.quarantine("nta", "{not json", "not JSON")
        assert j.quarantined_count() == 2
    with Journal.open(path) as j:
        assert j.quarantined_count() == 2
        rows = j._conn.execute("SELECT stream, line, reason FROM quarantine ORDER BY rowid")
        assert rows.fetchall() == [
            ("trades", "data: null", "null payload"),
            ("nta", "{not json", "not JSON"),
        ]


def test_deliveries_resume_after_the_last_mark(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite3"
    with Journal.open(path) as j:
        for n in range(4):
            add(j, "trades", str(n))
        j.commit()
        assert j.delivered("stdout") == 0
        printed = [e.rowid for e in j.events_after(j.delivered("stdout"), limit=2)]
        j.mark_delivered("stdout", printed[-1])
        j.mark_delivered("stdout", 1)  # a stale mark never moves it back
        with pytest.raises(ValueError):
            j.mark_delivered("stdout", -1)
    with Journal.open(path) as j:
        assert j.delivered("stdout") == 2
        assert j.delivered("ui") == 0
        assert ids_after(j, j.delivered("stdout")) == ["2", "3"]


def ids_after(j: Journal, rowid: int) -> list[str]:
    return [e.id for e in j.events_after(rowid)]


def test_a_mark_commits_at_once_taking_the_open_batch_along(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite3"
    with Journal.open(path) as j, Journal.open(path) as other:
        add(j, "trades", "1")
        j.mark_delivered("stdout", 0)
        assert j.pending == 0
        assert other.delivered("stdout") == 0 and ids(other) == ["1"]
        other.mark_delivered("stdout", 1)  # a consumer with its own connection
        assert j.delivered("stdout") == 1


def test_settings_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite3"
    with Journal.open(path) as j:
        assert j.get_setting("paused") is None
        assert j.get_setting("paused", False) is False
        j.set_setting("paused", True)
        j.set_setting("layout", {"panes": ["orders", "positions"], "ratio": 0.5})
        j.set_setting("paused", False)
        with pytest.raises(TypeError):
            j.set_setting("bad", object())
        with pytest.raises(ValueError):
            j.set_setting("bad", float("nan"))
    with Journal.open(path) as j:
        assert j.get_setting("paused") is False
        assert j.get_setting("layout") == {"panes": ["orders", "positions"], "ratio": 0.5}
        assert j.get_setting("bad", "absent") == "absent"


# -- files and schema ------------------------------------------------------------------------


def test_schema_version_and_pragmas_and_reopening(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "missing" / "j.sqlite3"
    with Journal.open(path) as j:
        add(j, "trades", "1")
        conn = j._conn
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 4
        assert conn.execute("PRAGMA application_id").fetchone()[0] == APPLICATION_ID
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert conn.execute("PRAGMA synchronous").fetchone()[0] == 1  # NORMAL
        assert conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1
        assert conn.execute("PRAGMA busy_timeout").fetchone()[0] > 0
    assert path.stat().st_mode & 0o077 == 0  # account activity: owner only
    with Journal.open(path) as j:
        assert ids(j) == ["1"] and j.cursor("trades") == ("1", "at-1")


def test_refuses_files_it_must_not_touch(tmp_path: Path) -> None:
    newer = tmp_path / "newer.sqlite3"
    Journal.open(newer).close()
    with sqlite3.connect(newer) as conn:
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    with pytest.raises(JournalError, match="schema"):
        Journal.open(newer)

    foreign = tmp_path / "foreign.sqlite3"
    with sqlite3.connect(foreign) as conn:
        conn.execute("CREATE TABLE t (x)")
    with pytest.raises(JournalError, match="not a journal"):
        Journal.open(foreign)

    garbage = tmp_path / "garbage.sqlite3"
    garbage.write_bytes(b"not a database at all, just text" * 100)
    with pytest.raises(JournalError):
        Journal.open(garbage)


def test_journal_path_is_safe_stable_and_distinct(tmp_path: Path) -> None:
    data_dir = tmp_path / "missing" / "data"
    account = "aa4439c3-cf7d-4251-8689-a575a169d6d3"
    assert journal_path(data_dir, account) == data_dir / f"journal-{account}.sqlite3"
    assert data_dir.is_dir()
    keys = [
        "http://127.0.0.1:8765",
        "http://127.0.0.1:8765/",
        "HTTP://127.0.0.1:8765",
        "../../etc/passwd",
        "C:\\x",
        "é" * 200,
        "con",
    ]
    paths = [journal_path(data_dir, key) for key in keys]
    assert len(set(paths)) == len(keys)
    assert paths == [journal_path(data_dir, key) for key in keys]  # stable
    for path in paths:
        assert path.parent == data_dir
        assert path.name.startswith("journal-") and path.name.endswith(".sqlite3")
        assert len(path.name) < 100
        assert all(c.isascii() and (c.isalnum() or c in "._-") for c in path.name)
    assert "127.0.0.1-8765" in paths[0].name
    with pytest.raises(ValueError):
        journal_path(data_dir, "  ")
    with Journal.open(paths[0]) as j:
        assert j.path == paths[0]


# -- property: any interleaving --------------------------------------------------------------

STREAMS = ("trades", "nta")
Add = tuple[str, str, str, str | None, bool]  # ("add", stream, id, fact, advance_cursor)
op_strategy = st.one_of(
    st.tuples(
        st.just("add"),
        st.sampled_from(STREAMS),
        st.sampled_from(("a", "b", "c", "d", "e")),
        st.sampled_from((None, None, "f1", "f2", "f3")),
        st.booleans(),
    ),
    st.just(("commit",)),
    st.just(("crash",)),
)


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(ops=st.lists(op_strategy, max_size=60))
def test_any_interleaving_stores_each_distinct_event_once(
    tmp_path: Path, ops: list[tuple[Any, ...]]
) -> None:
    path = tmp_path / uuid.uuid4().hex / "j.sqlite3"
    committed: list[tuple[str, str, str | None, bool]] = []
    pending: list[tuple[str, str, str | None, bool]] = []
    dups: dict[str, int] = {}
    last_rowid = 0
    j = Journal.open(path)
    try:
        for op in ops:
            if op[0] == "commit":
                j.commit()
                committed += pending
                pending = []
            elif op[0] == "crash":  # the process dies: the open batch is lost
                j._conn.close()
                j = Journal.open(path)
                pending, dups = [], {}
                # rowids of lost events are reused; harmless, since no reader ever saw them
                last_rowid = j.last_rowid()
            else:
                _, stream, id_, fact, advance = op
                seen = committed + pending
                is_new = all(s != stream or i != id_ for s, i, _, _ in seen) and (
                    fact is None or all(f != fact for _, _, f, _ in seen)
                )
                rowid = j.add(stream, id_, f"at-{id_}", "t", id_, fact=fact, advance_cursor=advance)
                if is_new:
                    assert rowid is not None and rowid > last_rowid
                    last_rowid = rowid
                    pending.append((stream, id_, fact, advance))
                else:
                    assert rowid is None
                    dups[stream] = dups.get(stream, 0) + 1
                assert j.duplicates == dups
        j.commit()
        committed += pending
        stored = j.events_after(0)
        assert [(e.stream, e.id, e.fact) for e in stored] == [(s, i, f) for s, i, f, _ in committed]
        assert j.count() == len(committed)
        for stream in STREAMS:
            moved = [i for s, i, _, adv in committed if s == stream and adv]
            assert j.cursor(stream) == ((moved[-1], f"at-{moved[-1]}") if moved else None)
    finally:
        j.close()


# -- crash safety with a real SIGKILL --------------------------------------------------------


def spawn(code: str, *args: str) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.Popen(
        [sys.executable, "-c", code, *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


def line_reader(proc: subprocess.Popen[str]) -> queue.Queue[str]:
    """Child stdout lines on a queue, so the test can wait with a timeout."""
    lines: queue.Queue[str] = queue.Queue()

    def pump() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.put(line.strip())
        lines.put("")  # end of output

    threading.Thread(target=pump, daemon=True).start()
    return lines


def next_line(proc: subprocess.Popen[str], lines: queue.Queue[str], timeout: float = 20) -> str:
    try:
        line = lines.get(timeout=timeout)
    except queue.Empty:
        line = ""
    if not line:
        proc.kill()
        proc.wait(timeout=10)
        assert proc.stderr is not None
        pytest.fail(f"child printed no line in {timeout}s; stderr: {proc.stderr.read()}")
    return line


def kill9(proc: subprocess.Popen[str]) -> None:
    os.kill(proc.pid, signal.SIGKILL)
    assert proc.wait(timeout=10) == -signal.SIGKILL
    assert proc.stderr is not None
    proc.stderr.close()


def check_integrity(path: Path) -> None:
    conn = sqlite3.connect(path)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
    finally:
        conn.close()


HOLD_UNCOMMITTED = """
import sys, time
from pathlib import Path
from tui_trader.broker.journal import Journal
j = Journal.open(Path(sys.argv[1]))
pad = "x" * 1000
for k in range(10):
    j.add("trades", f"c{k:04d}", f"at{k}", "new", f'{{"k":{k},"pad":"{pad}"}}')
j.commit()
for k in range(10, 5010):  # ~5 MB: spills uncommitted pages into the WAL
    j.add("trades", f"c{k:04d}", f"at{k}", "new", f'{{"k":{k},"pad":"{pad}"}}')
j.quarantine("trades", "data: null", "null payload")
print("ready", j.cursor("trades")[0], flush=True)
time.sleep(60)
"""


@pytest.mark.timeout(60)
def test_kill9_between_add_and_commit_loses_events_and_cursor_together(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite3"
    proc = spawn(HOLD_UNCOMMITTED, str(path))
    try:
        lines = line_reader(proc)
        assert next_line(proc, lines) == "ready c5009"  # the child's cursor moved in its batch
        with Journal.open(path) as reader:  # another process sees only the commit
            assert reader.count() == 10 and reader.cursor("trades") == ("c0009", "at9")
        kill9(proc)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)
    check_integrity(path)
    with Journal.open(path) as j:
        assert ids(j) == [f"c{k:04d}" for k in range(10)]
        assert j.cursor("trades") == ("c0009", "at9")
        assert j.quarantined_count() == 0
        assert add(j, "trades", "c0010") is not None  # the lost event is new again
        assert add(j, "trades", "c0009") is None


BATCH_LOOP = """
import sys
from pathlib import Path
from tui_trader.broker.journal import Journal
j = Journal.open(Path(sys.argv[1]))
batch = int(sys.argv[2])
pad = "x" * 1000
i = 0
while i < 1_000_000:
    # every batch starts by re-adding the last 3 events, like a resume with overlap
    for k in range(max(0, i - 3), i + batch):
        j.add("trades", f"{k:09d}", f"at{k}", "fill", f'{{"k":{k},"pad":"{pad}"}}',
              fact=f"fill:{k}")
    i += batch
    j.commit()
    print(f"{i - 1:09d}", flush=True)
"""


@pytest.mark.timeout(90)
@pytest.mark.parametrize("delay", [0.0, 0.003, 0.011, 0.029])
def test_kill9_in_a_batch_loop_keeps_a_consistent_prefix(tmp_path: Path, delay: float) -> None:
    path = tmp_path / "j.sqlite3"
    batch = 50
    proc = spawn(BATCH_LOOP, str(path), str(batch))
    try:
        lines = line_reader(proc)
        printed = [next_line(proc, lines) for _ in range(5)]
        time.sleep(delay)  # land the kill somewhere in a later batch
        kill9(proc)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)
    while line := lines.get(timeout=10):  # lines written before the kill, read after it
        printed.append(line)
    check_integrity(path)
    with Journal.open(path) as j:
        stored = j.events_after(0)
        n = len(stored)
        # every id reported as committed is stored, and at most the one batch after it
        assert int(printed[-1]) + 1 <= n <= int(printed[-1]) + 1 + batch
        assert n % batch == 0  # batches are atomic
        assert [e.id for e in stored] == [f"{k:09d}" for k in range(n)]  # a prefix, once each
        assert [e.rowid for e in stored] == list(range(1, n + 1))
        assert stored[-1].payload == f'{{"k":{n - 1},"pad":"{"x" * 1000}"}}'
        assert j.cursor("trades") == (stored[-1].id, f"at{n - 1}")
        assert j.count() == n
        assert j.add("trades", f"{n:09d}", None, "fill", "{}") == n + 1  # resumes cleanly


# --- add_many: the batch path the supervisor uses must decide exactly as add() does --------
_many_rows = st.lists(
    st.tuples(
        st.sampled_from(["trades", "nta"]),
        st.sampled_from(["A", "B", "C", "D"]),
        st.one_of(st.none(), st.sampled_from(["f1", "f2"])),
        st.sampled_from(["stream", "poll"]),
    ),
    max_size=30,
)


@settings(max_examples=120, deadline=None)
@given(batches=st.lists(_many_rows, max_size=4))
def test_add_many_decides_like_add(tmp_path_factory: pytest.TempPathFactory, batches: Any) -> None:
    base = tmp_path_factory.mktemp("many")
    one = Journal.open(base / "one.sqlite3")
    many = Journal.open(base / "many.sqlite3")
    try:
        for batch in batches:
            rows = [
                (s, i, f"at-{i}", "fill", f"{{{s}{i}}}", fact, src) for s, i, fact, src in batch
            ]
            expected = [
                one.add(s, i, at, t, p, fact=fact, source=src, advance_cursor=src == "stream")
                for s, i, at, t, p, fact, src in rows
            ]
            got = many.add_many(rows)
            assert [r is None for r in got] == [r is None for r in expected]
            one.commit()
            many.commit()
            for stream in ("trades", "nta"):
                assert many.cursor(stream) == one.cursor(stream)
        assert many.count() == one.count()
        assert many.duplicates == one.duplicates
        assert [(e.stream, e.id, e.fact) for e in many.events_after(0)] == [
            (e.stream, e.id, e.fact) for e in one.events_after(0)
        ]
    finally:
        one.close()
        many.close()


def test_order_intents_and_the_audit_trail(tmp_path: Path) -> None:
    journal = Journal.open(tmp_path / "j.sqlite3")
    try:
        journal.record_intent("cid-1", "AAPL", {"symbol": "AAPL", "qty": "1"}, "policy")
        journal.record_intent("cid-2", "MSFT", {"symbol": "MSFT", "qty": "2"}, "manual")
        with pytest.raises(sqlite3.IntegrityError):  # one client_order_id, one order, ever
            journal.record_intent("cid-1", "AAPL", {}, "policy")
        journal.update_intent("cid-1", "submitted", order_id="o-1")
        journal.update_intent("cid-1", "submitted", detail="seen on the stream")
        pending = journal.intents(["pending"])
        assert [i.client_order_id for i in pending] == ["cid-2"]
        done = journal.intents(["submitted"])[0]
        assert done.order_id == "o-1" and done.detail == "seen on the stream"
        assert done.intent == {"symbol": "AAPL", "qty": "1"} and done.source == "policy"
        first = journal.audit("signal", {"mu": 0.001}, symbol="AAPL")
        journal.audit("denied", {"verdict": "HALTED: state=HALTED"}, symbol="MSFT")
        assert [e.kind for e in journal.audit_entries()] == ["signal", "denied"]
        assert [e.kind for e in journal.audit_entries(after=first)] == ["denied"]
        assert journal.audit_entries(kind="signal")[0].data == {"mu": 0.001}
    finally:
        journal.close()
    with Journal.open(tmp_path / "j.sqlite3") as again:  # durable, reopened
        assert len(again.intents()) == 2 and len(again.audit_entries()) == 2


def test_add_many_takes_rows_with_extra_items_of_any_shape(journal: Journal) -> None:
    """The writer's rows carry two more items (symbol, quarantine); they are ignored, in
    one shape or mixed, and the first seven land in the right columns."""
    nine = [
        ("trades", f"01N{i}", AT, "fill", f'{{"n":{i}}}', f"f:n{i}", "stream", "X", None)
        for i in range(3)
    ]
    mixed: list[tuple[Any, ...]] = [
        ("nta", "01M0", None, "csd", '{"m":0}', None, "stream"),
        ("nta", "01M1", AT, "csd", '{"m":1}', "f:m1", "stream", "extra"),
    ]
    assert all(journal.add_many(nine))
    assert all(journal.add_many(mixed))
    with pytest.raises(ValueError, match="7 items"):
        journal.add_many([("trades", "01S", AT, "fill", "{}", None)])
    journal.commit()
    stored = [(e.stream, e.id, e.at, e.type, e.payload, e.fact) for e in journal.events_after(0)]
    assert stored == [
        ("trades", "01N0", AT, "fill", '{"n":0}', "f:n0"),
        ("trades", "01N1", AT, "fill", '{"n":1}', "f:n1"),
        ("trades", "01N2", AT, "fill", '{"n":2}', "f:n2"),
        ("nta", "01M0", None, "csd", '{"m":0}', None),
        ("nta", "01M1", AT, "csd", '{"m":1}', "f:m1"),
    ]


def test_a_steady_writer_does_not_grow_the_wal_without_bound(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Passive checkpoints never let the WAL start over while batches follow each other
    with no gap (measured: 141 MB after 100,000 events); past the limit the writer restarts
    it between two batches, and the file is cut back.

    The checkpointer here runs its rounds back to back, as it does in effect when fsyncs are
    slow (a CI machine's disk): a restart tried while a round held SQLite's checkpoint lock
    came back busy, and the WAL grew to 5.3 MB in CI and 8-14 MB here before the writer and
    the rounds took turns. Rounds back to back are also the WAL-reset bug's timing (see
    :meth:`Journal.checkpoint_in_background`): it corrupted this very file once in CI."""
    from tui_trader.broker.journal import connection as journal_module

    limit = 256 * 1024
    monkeypatch.setattr(journal_module, "_WAL_RESTART_BYTES", limit)
    path = tmp_path / "j.sqlite3"
    wal = Path(f"{path}-wal")
    biggest = 0
    with Journal.open(path) as j:
        j.checkpoint_in_background(every=0.0)
        for batch in range(80):  # ~8 MB of events, back to back
            with j.batch():
                j.add_many(
                    [
                        ("trades", f"{batch:06}-{k:03}", AT, "new", "x" * 1000, None, "stream")
                        for k in range(100)
                    ]
                )
                j.commit()
            biggest = max(biggest, wal.stat().st_size)
        assert j.count() == 8000
    # without restarts it ends near 8 MB; with them it stays within a few batches of 256 KB
    assert biggest < 4 * 1024 * 1024, f"the WAL grew to {biggest:,} bytes"
    # and the file is whole: commits take turns with the rounds (SQLite's WAL-reset bug made
    # this run "database disk image is malformed" once in CI; bench/journal_race.py)
    db = sqlite3.connect(path)
    try:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    finally:
        db.close()


def test_batches_of_any_size_use_a_few_statement_shapes(journal: Journal) -> None:
    """sqlite3 keeps the last 128 prepared statements, and a multi-row INSERT of a few
    hundred rows weighs a few hundred KB: batches cut to every length 1..400 held ~43 MB
    in SQLite and grew the UI's RSS for minutes. Every size still stores every row, in
    order, through at most nine shapes (powers of two)."""
    shapes: set[int] = set()

    def traced(sql: str) -> None:
        if sql.startswith("INSERT INTO events") and "),(" in sql:
            shapes.add(sql.count("),(") + 1)

    journal._conn.set_trace_callback(traced)
    n = 0
    for size in range(1, 301):
        rows = [("trades", f"{n + k:07}", AT, "new", "{}", None, "stream") for k in range(size)]
        stored = journal.add_many(rows)
        assert stored == list(range(n + 1, n + size + 1))
        n += size
    journal.commit()
    assert ids(journal) == [f"{k:07}" for k in range(n)]
    assert shapes and shapes <= {2**k for k in range(1, 9)}
