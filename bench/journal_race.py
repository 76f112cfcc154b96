"""The journal under its worst checkpoint timing: does the file survive, and what do the turns cost?

The desk's journal writes on one connection and checkpoints on another, in the background
(:meth:`Journal.checkpoint_in_background`). SQLite 3.7.0-3.51.2 has the WAL-reset bug
(https://www.sqlite.org/wal.html#walresetbug): a checkpoint that starts just after a complete
one, while the other connection commits the transaction that starts the WAL over, can leave
the database corrupt. The journal makes every COMMIT take turns with the background rounds;
this bench runs the same work with and without those turns, interleaved in one run, with the
rounds back to back (as a slow disk makes them) and the WAL restarted past a small limit.

Each run: a fresh journal, 80 batches of 100 events of 1 KB, then ``count()`` and
``PRAGMA integrity_check``. Prints, for each way: runs, corrupt runs, and the median and
90th-percentile time of a run. No pass/fail: with the turns the corrupt count must be 0;
without them it is the bug's rate on this machine's SQLite (0 on 3.51.3 and later).

Run: ``.venv/bin/python bench/journal_race.py [--runs N] [--processes P]`` (P processes
compete for the CPU, as the suite's workers do; the bug needed contention to show here).
"""

from __future__ import annotations

import argparse
import contextlib
import sqlite3
import statistics
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from tui_trader.broker.journal import Journal
from tui_trader.broker.journal import connection as journal_connection

AT = "2024-03-01T14:30:00.123456789Z"
BATCHES = 80
PER_BATCH = 100


def one_run(guarded: bool) -> tuple[bool, float]:
    """One journal's life: (corrupt, seconds)."""
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "j.sqlite3"
        try:
            with Journal.open(path) as journal:
                journal.checkpoint_in_background(every=0.0)
                if not guarded:  # the journal as it was: commits free, big ones may spill
                    journal._commit_turn = contextlib.nullcontext()
                    journal._conn.execute("PRAGMA cache_spill = ON")
                for batch in range(BATCHES):
                    with journal.batch():
                        journal.add_many(
                            [
                                (
                                    "trades",
                                    f"{batch:06}-{k:03}",
                                    AT,
                                    "new",
                                    "x" * 1000,
                                    None,
                                    "stream",
                                )
                                for k in range(PER_BATCH)
                            ]
                        )
                        journal.commit()
                if journal.count() != BATCHES * PER_BATCH:
                    return True, time.perf_counter() - started
            with contextlib.closing(sqlite3.connect(path)) as db:
                ok = db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        except sqlite3.DatabaseError:
            ok = False
    return not ok, time.perf_counter() - started


def worker(runs: int) -> dict[bool, list[tuple[bool, float]]]:
    journal_connection._WAL_RESTART_BYTES = 256 * 1024  # type: ignore[misc]
    out: dict[bool, list[tuple[bool, float]]] = {True: [], False: []}
    for i in range(runs):
        for guarded in (True, False) if i % 2 else (False, True):
            out[guarded].append(one_run(guarded))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=400, help="runs of each way, per process")
    parser.add_argument("--processes", type=int, default=2)
    args = parser.parse_args()
    print(
        f"SQLite {sqlite3.sqlite_version}, {args.processes} processes x {args.runs} runs each way"
    )
    results: dict[bool, list[tuple[bool, float]]] = {True: [], False: []}
    with ProcessPoolExecutor(args.processes) as pool:
        for part in pool.map(worker, [args.runs] * args.processes):
            for guarded, rows in part.items():
                results[guarded].extend(rows)
    for guarded, label in ((True, "commits take turns (the journal)"), (False, "unguarded")):
        rows = results[guarded]
        times = sorted(t for _, t in rows)
        corrupt = sum(1 for bad, _ in rows if bad)
        p90 = times[int(0.9 * (len(times) - 1))]
        print(
            f"{label:34} runs {len(rows):5}  corrupt {corrupt:4}  "
            f"run median {statistics.median(times) * 1000:6.1f} ms  p90 {p90 * 1000:6.1f} ms"
        )


if __name__ == "__main__":
    main()
