"""The book: positions, cash and P&L, built from trade events (API.md §3.1, §3.4, §4.1).

Fed by the engine with parsed stream events, quotes and the occasional broker REST
snapshot; read by the UI as immutable :class:`BookSnapshot` objects (cached, so reading
at 20 Hz costs nothing between changes). Pure and synchronous, like the rest of the core.

Streams are replayed with an overlap after every reconnect (§2.4), so every input is
idempotent: fills per execution id, NTA entries per event key. Each symbol keeps the list
of its executions, so that a ``trade_bust`` or ``trade_correct`` simply edits that list and
recomputes the symbol, which undoes quantity, cash and realized P&L together. A reconcile
that finds the broker's position different records the difference (shares and cost) at its
place in that list, so a later bust or correction of an earlier execution still recomputes
the symbol: it moves quantity, basis and cash by its own amount and realizes nothing unless
a sale did. Money stays Decimal; the open cost is kept as an exact sum rather than as an
average, so fills neither create nor destroy money (``cash + cost basis - realized`` is
conserved).

Until the broker's account has been read (``Portfolio(None)``), cash and the day's starting
equity are unknown and the snapshot says so (:attr:`BookSnapshot.account_known`): the risk
engine then cannot measure a loss and holds the desk to reducing orders.

The ledger is one object whose jobs live in modules of this package: the symbol key
(:mod:`.symbols`), the snapshot types (:mod:`.views`), a symbol's line and its replay
(:mod:`.lines`), the shared state (:mod:`.state`), booking (:mod:`.booking`), busts and
corrections (:mod:`.corrections`), reconcile (:mod:`.reconcile`) and the snapshot with the
day's start and peak (:mod:`.snapshots`). This module puts the ledger together and keeps every
name at its import path.
"""

from __future__ import annotations

from tui_trader.core.portfolio.booking import Booking
from tui_trader.core.portfolio.reconcile import Reconciling
from tui_trader.core.portfolio.snapshots import Snapshots
from tui_trader.core.portfolio.symbols import symbol_key
from tui_trader.core.portfolio.views import BookSnapshot, PositionView

__all__ = ["BookSnapshot", "Portfolio", "PositionView", "symbol_key"]


class Portfolio(Booking, Reconciling, Snapshots):
    """The ledger. Feed it :meth:`apply` / :meth:`apply_nta` / :meth:`mark`; read it through
    :meth:`snapshot`. Never raises on odd events: what it cannot book it ignores (returning
    False), and :meth:`reconcile` against the broker repairs whatever drifted.

    ``cash`` None: the account has not been read yet. Cash counts as 0 and the day's start
    is unknown until :meth:`reconcile` brings cash and :meth:`start_day` the day's start.
    """
