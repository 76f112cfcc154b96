"""``tui-trader`` with no command: the desk on a screen.

Wires the target (the embedded emulator, or Alpaca with keys), the journal and the desk, asks
for the live-account confirmation before anything connects, then hands the desk to the UI.
"""

from __future__ import annotations

import asyncio
import sys

from tui_trader.config import Mode, Settings

EXIT_OK, EXIT_USAGE = 0, 2


def run_desk(settings: Settings, *, trade: bool | None = None) -> int:
    from tui_trader.broker.journal import Journal
    from tui_trader.engine import Desk, DeskOptions
    from tui_trader.target import resolve
    from tui_trader.ui.app import build_app
    from tui_trader.ui.themes import ThemeMemory

    if settings.mode is Mode.LIVE and not _live_confirmed(settings):
        print("tui-trader: live trading not confirmed; nothing was started.", file=sys.stderr)
        return EXIT_USAGE
    # the policy trades on the emulator by default; with real money only when asked
    trading = trade if trade is not None else settings.mode is Mode.SIM
    target = resolve(settings)
    path, scratch = target.journal_file(settings.data_dir)
    try:
        journal = Journal.open(path)
    except Exception as exc:
        target.close()
        print(f"tui-trader: error: journal {path}: {exc}", file=sys.stderr)
        return EXIT_USAGE
    try:
        desk = Desk(settings, target, journal, DeskOptions(trade=trading))
        app = build_app(settings, desk, memory=ThemeMemory(), freeze_gc=True)
        app.run()
    finally:
        journal.close()
        target.close()
        if scratch is not None:
            scratch.cleanup()
    return EXIT_OK


def _live_confirmed(settings: Settings) -> bool:
    from tui_trader.commands import _account_number, confirm

    number = asyncio.run(_account_number(settings))
    if number is None:
        return False
    return confirm("start the desk on real money", settings, number, yes=False)
