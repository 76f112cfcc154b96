"""The ways the program starts, each a command of ``tui_trader.cli``; a package of its own so
that the desk (what a script embeds) stays apart from the entry points around it:

* :mod:`.screen`: ``tui-trader`` with no command, the desk on a screen (the screen itself is
  built by :mod:`tui_trader.ui.launch`, which ``cli.py`` hands in: the desk never imports the UI);
* :mod:`.headless`: ``tui-trader headless``, every event as a JSON line, and the desk without a
  screen when it trades;
* :mod:`.backtest`: ``tui-trader backtest``, the policy over past or synthetic bars through the
  desk's sizing, risk gate and ledger;
* :mod:`.levers`: ``tui-trader pause``, ``resume`` and ``flatten`` from the shell;
* :mod:`.consent`: the one rule of whether the policy may send orders (screen and headless).
"""
