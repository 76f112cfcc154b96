"""Order intents: every order written down before it is sent.

A restart, a timeout or a dropped response is resolved by looking the ``client_order_id``
up, never by sending again blind (:mod:`tui_trader.broker.ordering`). Each write is
committed at once.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from tui_trader.broker.journal.connection import JournalConnection


@dataclass(frozen=True, slots=True)
class IntentRow:
    client_order_id: str
    created_at: float
    updated_at: float
    state: str
    symbol: str
    source: str
    intent: dict[str, Any]
    order_id: str | None
    detail: str | None


class OrderIntents(JournalConnection):
    """The ``orders`` table: one row per client_order_id, its state as it is learnt."""

    def record_intent(
        self, client_order_id: str, symbol: str, intent: Mapping[str, Any], source: str
    ) -> None:
        """Write an order intent before it is sent (committed at once); a repeat is an error:
        one client_order_id is one order, ever."""
        now = self._clock()
        with self._write_now():
            self._conn.execute(
                "INSERT INTO orders (client_order_id, created_at, updated_at, state, symbol,"
                " source, intent) VALUES (?, ?, ?, 'pending', ?, ?, ?)",
                (client_order_id, now, now, symbol, source, json.dumps(dict(intent))),
            )

    def update_intent(
        self,
        client_order_id: str,
        state: str,
        *,
        order_id: str | None = None,
        detail: str | None = None,
    ) -> None:
        with self._write_now():
            self._conn.execute(
                "UPDATE orders SET state = ?, updated_at = ?,"
                " order_id = coalesce(?, order_id), detail = coalesce(?, detail)"
                " WHERE client_order_id = ?",
                (state, self._clock(), order_id, detail, client_order_id),
            )

    def intents(self, states: Sequence[str] | None = None) -> list[IntentRow]:
        """Order intents, oldest first (all, or those in ``states``)."""
        sql = (
            "SELECT client_order_id, created_at, updated_at, state, symbol, source, intent,"
            " order_id, detail FROM orders"
        )
        params: tuple[Any, ...] = ()
        if states is not None:
            sql += f" WHERE state IN ({','.join('?' * len(states))})"
            params = tuple(states)
        with self._lock:
            rows = self._conn.execute(sql + " ORDER BY created_at, rowid", params).fetchall()
        return [
            IntentRow(r[0], r[1], r[2], r[3], r[4], r[5], json.loads(r[6]), r[7], r[8])
            for r in rows
        ]
