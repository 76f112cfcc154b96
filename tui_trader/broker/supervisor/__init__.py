"""The connection supervisor: keeps every event stream alive and every event exactly once.

Per stream, one loop: connect (resuming a little *before* the last journaled event, because
same-millisecond ULIDs can sort out of order, API.md §2.5), hand each chunk's events to the
journal (which drops duplicates by ``(stream, id)`` and by fact), commit, and only then
publish. A drop backs off (exponential, jittered, Retry-After honoured up to a ceiling); a
``dropped N messages`` comment reconnects at once from the last event before it, and a
second one within ``gap_window`` backs off like any drop; a silence longer than the stream's
bound (3 heartbeat periods of the host, learned from all its streams; see
:class:`~tui_trader.broker.sse.StreamWatch`) ends the connection, and that silence counts
toward the backoff; 401/403 twice in a row end in AUTH_FAILED instead of a retry loop. A
stream the server does not offer (404/410/400) is asked for again slowly (60 s doubling to
15 min). While the trade stream stays down past a threshold, or is not offered, REST
polling (:mod:`tui_trader.broker.poller`) delivers fills and order changes, keyed by the same
facts the stream will carry when it returns, so nothing arrives twice; a recent poll counts
as delivering (:meth:`Supervisor.trades_delivering`). Positions and open orders are
reconciled over REST at start and once per reconnect burst (a burst ends when a connection
has stayed up ``healthy_after``); :attr:`Supervisor.reconciling` says when one is pending.
A reader waits before its next read while the journal writer has too much staged, or while
a listener that applies events later than it hears of them is behind
(:meth:`Supervisor.hold`): a burst waits in the socket and at the broker, not in memory.

The package splits that by job, each a class the next one builds on (read them bottom-up):
:mod:`.options` (the settings), :mod:`.delivered` (what listeners receive),
:mod:`.bookkeeping` (the shared state, per-stream counters and the published status),
:mod:`.handover` (validated events to the journal writer, committed batches to the
listeners), :mod:`.reconciler` (REST snapshots of positions and open orders),
:mod:`.resume` (where a connection or a poll picks up), :mod:`.stream_loop` (connect, read,
back off), :mod:`.polling` (REST standing in for the trade stream) and :mod:`.supervisor`
(the public surface: listeners, run, stop).
"""

from __future__ import annotations

from tui_trader.broker.supervisor.delivered import Delivered
from tui_trader.broker.supervisor.handover import fact_for
from tui_trader.broker.supervisor.options import SupervisorOptions
from tui_trader.broker.supervisor.supervisor import Supervisor

__all__ = ["Delivered", "Supervisor", "SupervisorOptions", "fact_for"]
