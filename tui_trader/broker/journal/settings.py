"""The desk's own settings kept with the account's journal (e.g. the pause flag).

JSON values under text keys, committed at once, so a restart finds what the desk last set.
"""

from __future__ import annotations

import json
from typing import Any

from tui_trader.broker.journal.connection import JournalConnection


class JournalSettings(JournalConnection):
    """The ``settings`` table."""

    def get_setting(self, key: str, default: Any = None) -> Any:
        """The JSON value stored under ``key``, or ``default``."""
        with self._lock:
            row = self._conn.execute("SELECT value FROM settings WHERE key = ?", (key,)).fetchone()
        return default if row is None else json.loads(row[0])

    def set_setting(self, key: str, value: Any) -> None:
        """Store a JSON-serialisable value, committed at once (e.g. the pause flag)."""
        text = json.dumps(value, allow_nan=False, separators=(",", ":"))
        with self._write_now():
            self._conn.execute(
                "INSERT INTO settings (key, value) VALUES (?, ?)"
                " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                (key, text),
            )
