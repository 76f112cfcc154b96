"""Adapted from ../shared/review/print_before_commit.py (review finding #7).

What changed and why: the original installs its own ``before_commit`` hook that prints
(``lambda records: out.events(records)``), which was what headless did at e75a428. headless
no longer prints in a hook of its own making: it installs ``headless.Delivery`` (prints
after the COMMIT succeeded, marks in the next transaction). This copy installs exactly that,
so it checks what headless does now. What it checks is unchanged: when the COMMIT fails,
how many lines reached stdout, and how many events the journal holds.
"""

import asyncio
import io
import sqlite3
import tempfile
from pathlib import Path

from tui_trader.broker.journal import Journal
from tui_trader.broker.writer import BatchWriter, Row
from tui_trader.desk.launch.headless import Delivery, Output


async def main():
    j = Journal.open(Path(tempfile.mkdtemp()) / "j.sqlite3")
    out = Output(io.BytesIO(), None)
    failures = []

    def fail_commit():
        raise sqlite3.OperationalError("disk I/O error")

    j.commit = fail_commit  # the COMMIT fails (disk full / I/O error)
    w = BatchWriter(j, asyncio.get_running_loop(), lambda new, dup: None, failures.append)
    w.before_commit = [Delivery(j, out, lambda: None)]  # what headless.run installs now
    w.submit([Row("trades", f"id{i}", "2026-01-01T00:00:00Z", "new", '{"x":1}') for i in range(3)])
    await asyncio.sleep(0.2)
    j.rollback()
    print("printed lines:", out.out.getvalue().decode().count("\n"))
    print("journal count after the failed commit:", j.count())
    print("writer failure:", failures)


asyncio.run(main())
