"""The per-account event journal: one SQLite file that decides "seen it?" and "resume where?".

Every broker event is stored once, keyed by ``(stream, id)`` and optionally by a *fact* key
(e.g. ``fill:<order_id>:<cum_qty>``) that lets an event synthesised by REST polling and the
same fact arriving later on the stream de-duplicate each other (API.md §2.4; facts are
compared in memory over a recent window, and fills durably at any age, see
:mod:`tui_trader.broker.facts`). A stream's cursor is written in the same transaction as
the event it points at, so after any crash, ``kill -9`` included, the cursor is never ahead
of what is stored: the supervisor resumes a little before it and the journal drops the
overlap (§2.4-2.5).

Writes are batched: the caller decides when to :meth:`Journal.commit`. WAL with
``synchronous=NORMAL`` makes a commit survive the process dying at any point; a power cut may
take back the last few commits, but never half of one, and the resume overlap fetches them
again. Event reads (:meth:`~Journal.events_after`, :meth:`~Journal.last_rowid`,
:meth:`~Journal.count`) show committed events only, even on the writer's own connection, so
a consumer can never deliver an event that a crash could still take back.

Nothing secret belongs here: payloads are broker event lines. Callers must never journal
request headers, API keys or anything read from the credential store.

The package holds one job per module: :mod:`~tui_trader.broker.journal.schema` (the file, its
schema and migrations), :mod:`~tui_trader.broker.journal.connection` (the connection, its
lock, the batch transaction), :mod:`~tui_trader.broker.journal.events` (storing events),
:mod:`~tui_trader.broker.journal.reading` (reading them, cursors, delivery marks),
:mod:`~tui_trader.broker.journal.intents` (order intents),
:mod:`~tui_trader.broker.journal.audit` (the audit trail) and
:mod:`~tui_trader.broker.journal.settings` (the desk's settings). :class:`Journal` joins
them as mixins over one connection: one object, one lock, one transaction, and a method
call costs what it did when the journal was one class.
"""

from __future__ import annotations

from tui_trader.broker.journal.audit import AuditEntry, AuditTrail
from tui_trader.broker.journal.events import SOURCES, EventStore
from tui_trader.broker.journal.intents import IntentRow, OrderIntents
from tui_trader.broker.journal.reading import EventReader, JournalEvent
from tui_trader.broker.journal.schema import (
    APPLICATION_ID,
    SCHEMA_VERSION,
    JournalError,
    journal_path,
)
from tui_trader.broker.journal.settings import JournalSettings

__all__ = [
    "APPLICATION_ID",
    "SCHEMA_VERSION",
    "SOURCES",
    "AuditEntry",
    "IntentRow",
    "Journal",
    "JournalError",
    "JournalEvent",
    "journal_path",
]


class Journal(EventStore, EventReader, OrderIntents, AuditTrail, JournalSettings):
    """A connection to one account's journal. Use :meth:`open`; close it or use ``with``.

    One process writes (the streaming supervisor); consumers may open their own. Calls are
    serialised by a lock, so the object may move between threads (e.g. ``to_thread``).
    """
