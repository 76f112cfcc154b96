"""``tui-trader headless``: the streaming engine without a screen.

stdout carries JSON lines only: an ``event`` line per new event after de-duplication and a
``status`` line on each state change.

Each batch of events is committed to the journal, then printed, then marked delivered
(:class:`Delivery`): a commit that fails prints nothing, and nothing printed can be taken
back by a crash. The mark rides in the next batch's transaction (free), or is written on
its own once the stream has been quiet for :data:`MARK_SECONDS`, and at every stop; so the
events printed but not yet marked are at most the last batch printed, and a restart after
``kill -9`` repeats at most that batch. A restart prints first what the journal holds past
the mark.

Whether the policy sends orders is :mod:`tui_trader.desk.launch.consent`'s rule, the screen's too.

Exit codes: 0 clean stop, 1 the journal could not be written (what it did not hold was not
printed), 2 bad usage or configuration (live trading not confirmed included), 3 credentials
rejected.
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
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from json.encoder import encode_basestring_ascii
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from tui_trader.broker.status import ConnectionStatus, Transition
from tui_trader.broker.writer import Record, Row

if TYPE_CHECKING:
    from tui_trader.broker.journal import Journal

GC_THRESHOLDS = (10_000, 20, 20)
EXIT_OK = 0
EXIT_JOURNAL = 1
EXIT_USAGE = 2
EXIT_AUTH = 3
CONSUMER = "headless"
MARK_SECONDS = 0.5
"""Longest a printed batch waits for its delivery mark when no later batch carries it."""
BACKLOG_ROWS = 1000  # printed (then marked) at a time at start: a kill repeats at most these

log = logging.getLogger("tui_trader.headless")


@dataclass
class HeadlessArgs:
    streams: tuple[str, ...]
    journal: Path | None
    since: datetime | None
    no_trade: bool
    exit_after: float | None
    max_events: int | None
    trade: bool = False  # --trade
    live: bool = False  # --live
    confirm_account: str | None = None  # --confirm-account NUMBER


class Output:
    """Writes event and status lines to stdout; counts events against --max-events."""

    def __init__(self, stream: IO[bytes], max_events: int | None) -> None:
        self.out = stream
        self.max_events = max_events
        self.printed = 0
        self.broken = False
        self._lock = threading.Lock()  # event lines (journal thread) and status lines (loop)
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
            f'"at":{"null" if r.at is None else _q(r.at)},"data":{r.payload}'
            f"{_REST if r.source == 'poll' else ''}}}\n".encode()
            for _, r in records
        ]
        self.printed += len(records)
        self._write_lines(lines)
        return records[-1][0]

    def _write_lines(self, lines: list[bytes]) -> None:
        """Lines out without joining them first (to a real file): a batch joined is
        megabytes of fresh memory, and its page faults cost more than the formatting."""
        with self._lock:  # whole lines: a status line never lands inside a batch
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


class Delivery:
    """stdout as a consumer of the journal writer: commit, then print, then mark.

    ``__call__`` runs in each batch's transaction, before its COMMIT, and puts there the
    mark of what the previous batches printed; ``committed`` prints the batch once the
    COMMIT succeeded (:class:`~tui_trader.broker.writer.Consumer`). Writes are one batch at
    a time on the journal thread, so when a batch is printed every earlier batch's mark is
    durable: what is printed but unmarked is part of the last batch printed, whatever
    moment a ``kill -9`` picks. A quiet stream gets its mark from :meth:`keep_marking`
    (after :data:`MARK_SECONDS`), and every stop from :meth:`flush`.
    """

    def __init__(self, journal: Journal, out: Output, stop: Callable[[], None]) -> None:
        self.journal = journal
        self.out = out
        self.stop = stop
        self.printed = self.marked = journal.delivered(CONSUMER)  # rowids
        self._riding = 0  # the mark in the open transaction
        self._printed_at = 0.0

    def __call__(self, records: list[Record]) -> None:
        self._riding = self.printed
        if self._riding > self.marked:
            self.journal.mark_delivered(CONSUMER, self._riding, commit=False)

    def committed(self, records: list[Record]) -> None:
        self.marked = max(self.marked, self._riding)
        self.show(records)

    def show(self, records: Sequence[Record]) -> None:
        if self.out.full:
            return
        last = self.out.events(records)
        if last is not None:
            self.printed = last
            self._printed_at = time.monotonic()
        if self.out.full:
            self.stop()

    def backlog(self) -> None:
        """Print what the journal holds past the mark (an earlier run's last batch, or what
        another process journaled), marking each chunk as soon as it is out."""
        while not self.out.full:
            chunk = self.journal.events_after(self.printed, limit=BACKLOG_ROWS)
            if not chunk:
                return
            self.show(
                [
                    (e.rowid, Row(e.stream, e.id, e.at, e.type, e.payload, source=e.source))
                    for e in chunk
                ]
            )
            self.flush()

    def flush(self) -> None:
        """Mark what is printed, now, in a transaction of its own."""
        printed = self.printed
        if printed > self.marked:
            self.journal.mark_delivered(CONSUMER, printed)
            self.marked = max(self.marked, printed)

    async def keep_marking(self, quiet: float = MARK_SECONDS) -> None:
        """Mark a printed batch that no later batch has carried for ``quiet`` seconds (off
        the loop: the journal may be busy with a batch)."""
        while True:
            await asyncio.sleep(quiet / 4)
            if self.printed > self.marked and time.monotonic() - self._printed_at >= quiet:
                await asyncio.to_thread(self.flush)


_REST = ',"source":"rest"'  # an event recovered over REST (a poll or a catch-up)
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
    from tui_trader.desk.launch.consent import (
        Refused,
        Request,
        broker_account_number,
        decide,
        terminal_prompt,
    )
    from tui_trader.desk.target import resolve

    out = Output(stdout or sys.stdout.buffer, args.max_events)
    try:
        target = await asyncio.to_thread(resolve, settings)
    except (OSError, ValueError) as exc:
        print(f"tui-trader headless: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    scratch = None
    try:
        consent = None
        if not args.no_trade:
            try:
                consent = await decide(
                    settings,
                    Request(trade=args.trade or None, live=args.live, account=args.confirm_account),
                    lambda: broker_account_number(target),
                    terminal_prompt(),
                )
            except Refused as exc:
                print(f"tui-trader headless: {exc}", file=sys.stderr)
                return exc.code
        path, scratch = target.journal_file(settings.data_dir, args.journal)
        try:
            journal = Journal.open(path)
        except Exception as exc:
            print(f"tui-trader headless: error: journal {path}: {exc}", file=sys.stderr)
            return EXIT_USAGE
        streams = target.streams_for(args.streams)
        log.info(
            "headless start",
            extra={
                "target": target.label,
                "journal": str(path),
                "streams": ",".join(streams),
                "trading": "no desk (--no-trade)" if consent is None else consent.reason,
            },
        )
        if consent is not None and not consent.trade:
            log.warning("nothing will be sent: %s", consent.reason)
        desk = None
        if consent is None:
            options = SupervisorOptions.from_settings(
                settings.stream,
                streams=streams,
                since=args.since,
                api=target.api.value,
                stream_url=target.stream_url(),
            )
            rest = target.rest()
            http = target.http()
            supervisor = Supervisor(rest, journal, http, target.auth_headers(), options)
        else:  # the whole desk: the policy proposes, and trades through the risk gate if
            # the trader said so (tui_trader.desk.launch.consent)
            from tui_trader.desk.desk import Desk, DeskOptions

            desk = Desk(
                settings,
                target,
                journal,
                DeskOptions(trade=consent.trade, streams=streams, since=args.since),
            )
            supervisor = desk.supervisor
            rest, http = desk.rest, desk.http
        loop = asyncio.get_running_loop()
        delivery = Delivery(journal, out, supervisor.stop)
        delivery.backlog()  # what an earlier run journaled but had not printed
        supervisor.on_commit(delivery)  # then every batch: committed, printed, marked
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
        marking = asyncio.create_task(delivery.keep_marking(), name="delivery-marks")
        try:
            if not out.full:
                await (desk.run() if desk is not None else supervisor.run())
        finally:
            marking.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await marking
            for sig in (signal.SIGINT, signal.SIGTERM):
                with contextlib.suppress(NotImplementedError, RuntimeError):
                    loop.remove_signal_handler(sig)
            try:
                delivery.flush()  # a stop marks everything printed: a restart repeats nothing
            except Exception as exc:  # the journal broke: the next run repeats the last batch
                log.warning("delivery mark not written", extra={"error": str(exc)[:200]})
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
        if supervisor.journal_error is not None:
            print(f"tui-trader headless: {supervisor.journal_error}; stopped", file=sys.stderr)
            return EXIT_JOURNAL
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


__all__ = ["EXIT_AUTH", "EXIT_JOURNAL", "EXIT_OK", "EXIT_USAGE", "Delivery", "HeadlessArgs", "main"]
