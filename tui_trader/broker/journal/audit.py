"""The desk's audit trail: every signal, risk verdict, order and denial, with why.

Each entry is committed at once, so the trail holds what the desk decided even if the
process dies right after.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from tui_trader.broker.journal.connection import JournalConnection


@dataclass(frozen=True, slots=True)
class AuditEntry:
    rowid: int
    at: float
    kind: str
    symbol: str | None
    data: dict[str, Any]


class AuditTrail(JournalConnection):
    """The ``audit`` table, appended to and read in order."""

    def audit(self, kind: str, data: Mapping[str, Any], symbol: str | None = None) -> int:
        """Append to the audit trail (committed at once); returns the entry's rowid."""
        text = json.dumps(dict(data), default=str, separators=(",", ":"))
        with self._write_now():
            cur = self._conn.execute(
                "INSERT INTO audit (at, kind, symbol, data) VALUES (?, ?, ?, ?)",
                (self._clock(), kind, symbol, text),
            )
            return int(cur.lastrowid or 0)

    def audit_entries(self, after: int = 0, kind: str | None = None) -> list[AuditEntry]:
        sql = "SELECT rowid, at, kind, symbol, data FROM audit WHERE rowid > ?"
        params: list[Any] = [after]
        if kind is not None:
            sql += " AND kind = ?"
            params.append(kind)
        with self._lock:
            rows = self._conn.execute(sql + " ORDER BY rowid", params).fetchall()
        return [AuditEntry(r[0], r[1], r[2], r[3], json.loads(r[4])) for r in rows]
