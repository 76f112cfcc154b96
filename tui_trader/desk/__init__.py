"""The desk: the program around the pure core, between the broker and the screen.

The :class:`~tui_trader.desk.desk.Desk` turns the broker's events into the ledger and the risk
state, market data into the policy's decisions, and the gate's yes into orders sent once; the
screen reads its immutable snapshot and pulls its levers. One module per job:

* :mod:`.desk`: the ``Desk`` itself (its state and wiring, lifecycle, snapshot);
* :mod:`.base`: the state the jobs share, the risk evaluation, audit and notices;
* :mod:`.events`: the broker's events applied (ledger, working orders, events pane);
* :mod:`.account`: the broker's account read consistently, and the trading day's roll;
* :mod:`.market`: market data, the policy's decisions and its warm-up;
* :mod:`.orders`: the order worker (queue, send, answers that were lost);
* :mod:`.commands`: the trader's levers (pause, resume, flatten, manual orders, resets);
* :mod:`.snapshot`: the immutable types the screen reads;
* :mod:`.target`: where the program connects (Alpaca, or the embedded emulator);
* :mod:`.launch`: the ways the program starts one (screen, headless, backtest, shell levers).

Nothing here imports the screen (``tui_trader.ui``): the UI depends on the desk, never the
reverse. Scripts that want only the events use :mod:`tui_trader.stream`.
"""
