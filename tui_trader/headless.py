"""``tui-trader headless``: the streaming engine without a screen.

stdout carries JSON lines only: an ``event`` line per new event after de-duplication and a
``status`` line on each state change. Output is exactly-once across restarts (``kill -9``
included) up to one tiny window: events are committed to the journal before they are
printed, and the journal records how far stdout got right after each flush, so a restart
prints only what the previous run had not.

Exit codes: 0 clean stop, 2 bad usage or configuration, 3 credentials rejected.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import gc
import json
import logging
import os
import signal
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from json.encoder import encode_basestring_ascii
from pathlib import Path
from typing import IO, Any

from tui_trader.broker.status import ConnectionStatus, Transition
from tui_trader.broker.writer import Record

GC_THRESHOLDS = (10_000, 20, 20)
EXIT_OK = 0
EXIT_USAGE = 2
EXIT_AUTH = 3
CONSUMER = "headless"

log = logging.getLogger("tui_trader.headless")


@dataclass
class HeadlessArgs:
    streams: tuple[str, ...]
    journal: Path | None
    since: datetime | None
    no_trade: bool
    exit_after: float | None
    max_events: int | None


class Output:
    """Writes event and status lines to stdout; counts events against --max-events."""

    def __init__(self, stream: IO[bytes], max_events: int | None) -> None:
        self.out = stream
        self.max_events = max_events
        self.printed = 0
        self.broken = False
        self._fd: int | None = None  # a real file: lines go out with writev, unjoined
        with contextlib.suppress(AttributeError, OSError, ValueError):
            self._fd = stream.fileno()

    @property
    def full(self) -> bool:
        return self.max_events is not None and self.printed >= self.max_events

    def events(self, records: Sequence[Record]) -> int | None:
        """Print ``(rowid, Row)`` records (the journal writer's own shape, so a batch needs
        no copy); return the last rowid printed."""
        room = len(records) if self.max_events is None else self.max_events - self.printed
        if room <= 0 or not records:
            return None
        if room < len(records):
            records = records[:room]
        q = _quoted
        # the raw payload goes in as received: byte-identical, and no re-serialisation
        lines = [
            f'{{"kind":"event","stream":{q(r.stream)},"id":{_q(r.key)},"type":{q(r.kind)},'
            f'"at":{"null" if r.at is None else _q(r.at)},"data":{r.payload}}}\n'.encode()
            for _, r in records
        ]
        self.printed += len(records)
        self._write_lines(lines)
        return records[-1][0]

    def _write_lines(self, lines: list[bytes]) -> None:
        """Lines out without joining them first (to a real file): a batch joined is
        megabytes of fresh memory, and its page faults cost more than the formatting."""
        if self.broken:
            return
        try:
            if self._fd is None:
                self.out.write(b"".join(lines))
                self.out.flush()
                return
            self.out.flush()  # anything written through the buffer goes first
            for start in range(0, len(lines), _IOV_MAX):
                _writev_all(self._fd, lines[start : start + _IOV_MAX])
        except OSError:  # BrokenPipeError included
            self.broken = True  # nobody is reading: keep journaling, stop printing

    def status(self, transition: Transition, status: ConnectionStatus) -> None:
        stream = next((s for s in status.streams if s.name == transition.stream), None)
        line: dict[str, Any] = {
            "kind": "status",
            "state": str(status.state),
            "stream": transition.stream,
            "stream_state": str(transition.state),
            "reason": transition.reason,
            "at": _iso(transition.at),
        }
        if transition.next_retry_at is not None:
            line["attempt"] = transition.attempt
            line["next_retry_at"] = _iso(transition.next_retry_at)
            line["delay"] = None if transition.delay is None else round(transition.delay, 3)
        if stream is not None:
            line.update(
                events=stream.events,
                reconnects=stream.reconnects,
                duplicates=stream.duplicates,
                gaps=stream.gaps,
                gaps_recovered=stream.gaps_recovered,
                quarantined=stream.quarantined,
                polled=stream.polled,
                last_event_id=stream.last_event_id,
                downtime=round(stream.downtime, 3),
                idle_timeout=stream.idle_timeout,
            )
        rec = status.reconciliation
        if rec is not None:
            line["reconciled"] = {
                "at": _iso(rec.at),
                "positions": rec.positions,
                "open_orders": rec.open_orders,
                **({"error": rec.error} if rec.error else {}),
            }
        self._write_lines([(json.dumps(line, separators=(",", ":")) + "\n").encode()])


_q = encode_basestring_ascii  # a JSON string literal, escaped (json's own C encoder)
_IOV_MAX = 1024


def _writev_all(fd: int, parts: list[bytes]) -> None:
    """``os.writev`` until every byte is out (a pipe may take only part of it)."""
    written = os.writev(fd, parts)
    if written < sum(map(len, parts)):  # rare: the rest, joined, a write at a time
        rest = memoryview(b"".join(parts))[written:]
        while rest:
            rest = rest[os.write(fd, rest) :]


@functools.lru_cache(maxsize=256)
def _quoted(text: str) -> str:
    """:func:`_q` for the few values that repeat on every line (stream names, types)."""
    return _q(text)


def _iso(value: datetime) -> str:
    return value.isoformat().replace("+00:00", "Z")


async def run(settings: Any, args: HeadlessArgs, stdout: IO[bytes] | None = None) -> int:
    from tui_trader.broker.journal import Journal
    from tui_trader.broker.supervisor import Supervisor, SupervisorOptions
    from tui_trader.broker.writer import Row
    from tui_trader.target import resolve

    out = Output(stdout or sys.stdout.buffer, args.max_events)
    try:
        target = await asyncio.to_thread(resolve, settings)
    except (OSError, ValueError) as exc:
        print(f"tui-trader headless: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    scratch = None
    try:
        path, scratch = target.journal_file(settings.data_dir, args.journal)
        try:
            journal = Journal.open(path)
        except Exception as exc:
            print(f"tui-trader headless: error: journal {path}: {exc}", file=sys.stderr)
            return EXIT_USAGE
        log.info(
            "headless start",
            extra={"target": target.label, "journal": str(path), "streams": ",".join(args.streams)},
        )
        desk = None
        if args.no_trade:
            options = SupervisorOptions.from_settings(
                settings.stream, streams=args.streams, since=args.since
            )
            rest = target.rest()
            http = target.http()
            supervisor = Supervisor(rest, journal, http, target.auth_headers(), options)
        else:  # the whole desk: the policy trades through the risk gate
            from tui_trader.engine import Desk, DeskOptions

            desk = Desk(
                settings,
                target,
                journal,
                DeskOptions(trade=True, streams=args.streams, since=args.since),
            )
            supervisor = desk.supervisor
            rest, http = desk.rest, desk.http
        loop = asyncio.get_running_loop()

        def deliver(records: Sequence[Record], commit: bool) -> None:
            last = out.events(records)
            if last is not None:
                journal.mark_delivered(CONSUMER, last, commit=commit)
            if out.full:
                supervisor.stop()

        # what an earlier run journaled but had not printed when it stopped
        backlog = journal.events_after(journal.delivered(CONSUMER))
        deliver([(e.rowid, Row(e.stream, e.id, e.at, e.type, e.payload)) for e in backlog], True)

        def on_commit(records: list[Record]) -> None:
            # printed just before the batch's commit, which carries the delivery mark too
            if not out.full:
                deliver(records, False)

        supervisor.on_commit(on_commit)
        supervisor.on_status(out.status)
        # Start-up objects (modules, models, settings) leave the collector's scans, and young
        # collections run every 10,000 allocations instead of 700: an event allocates dozens
        # of short-lived objects, and at tens of thousands a second the default collected
        # every few events (bench/ingest.py: ~10% less wall time, A/B). Headless has no
        # screen to pause, so rarer, longer full collections cost nothing here (the UI keeps
        # smaller ones, tui_trader/ui/app.py).
        gc.freeze()
        gc.set_threshold(*GC_THRESHOLDS)
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, RuntimeError):  # not the main thread
                loop.add_signal_handler(sig, supervisor.stop)
        if args.exit_after is not None:
            loop.call_later(args.exit_after, supervisor.stop)
        try:
            if not out.full:
                await (desk.run() if desk is not None else supervisor.run())
        finally:
            for sig in (signal.SIGINT, signal.SIGTERM):
                with contextlib.suppress(NotImplementedError, RuntimeError):
                    loop.remove_signal_handler(sig)
            await http.aclose()
            await rest.aclose()
            journal.close()
        if supervisor.auth_failure is not None:
            print(
                f"tui-trader headless: credentials rejected by {target.label}: "
                f"{supervisor.auth_failure}",
                file=sys.stderr,
            )
            return EXIT_AUTH
        return EXIT_OK
    finally:
        await asyncio.to_thread(target.close)
        if scratch is not None:
            scratch.cleanup()


def main(settings: Any, args: HeadlessArgs) -> int:
    try:
        return asyncio.run(run(settings, args))
    except KeyboardInterrupt:
        return EXIT_OK


__all__ = ["EXIT_AUTH", "EXIT_OK", "EXIT_USAGE", "HeadlessArgs", "main"]
