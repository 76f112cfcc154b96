"""``tui-trader`` with no command: the desk on a screen.

Wires the target (the embedded emulator, or Alpaca with keys), the journal and the desk, asks
for the live-account confirmation before anything connects, then hands the desk to the UI: to
``show``, which ``cli.py`` gives as :func:`tui_trader.ui.launch.show_desk` (the desk never
imports the screen). Whether the policy sends orders is :mod:`tui_trader.desk.launch.consent`'s
rule, headless's too.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING

from tui_trader.config import Settings
from tui_trader.desk.launch.consent import (
    Ask,
    Consent,
    Refused,
    Request,
    broker_account_number,
    decide,
    terminal_prompt,
)

if TYPE_CHECKING:
    from tui_trader.desk.desk import Desk

EXIT_OK, EXIT_USAGE = 0, 2


def run_desk(
    settings: Settings, show: Callable[[Settings, Desk], None], *, trade: bool | None = None
) -> int:
    from tui_trader.broker.journal import Journal
    from tui_trader.desk.desk import Desk, DeskOptions
    from tui_trader.desk.target import resolve

    try:  # before anything connects (and before the emulator starts)
        consent = screen_consent(settings, trade)
    except Refused as exc:
        print(f"tui-trader: {exc}", file=sys.stderr)
        return EXIT_USAGE
    trading = consent.trade
    from tui_trader.sim.persist import StateError

    try:  # the embedded emulator keeps its paper account in the data dir (sim/persist.py)
        target = resolve(settings, persist=True)
    except StateError as exc:
        print(f"tui-trader: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    note = target.embedded.emulator.store_note if target.embedded is not None else None
    if note:
        print(f"tui-trader: {note}", file=sys.stderr)
    path, scratch = target.journal_file(settings.data_dir)
    try:
        journal = Journal.open(path)
    except Exception as exc:
        target.close()
        print(f"tui-trader: error: journal {path}: {exc}", file=sys.stderr)
        return EXIT_USAGE
    try:
        desk = Desk(settings, target, journal, DeskOptions(trade=trading))
        show(settings, desk)
    finally:
        journal.close()
        target.close()
        if scratch is not None:
            scratch.cleanup()
    if note:  # the screen covered it: said again once the terminal is back
        print(f"tui-trader: {note}", file=sys.stderr)
    return EXIT_OK


def screen_consent(
    settings: Settings,
    trade: bool | None,
    prompt: Callable[[], Ask | None] = terminal_prompt,
) -> Consent:
    """The screen's side of the rule: ``--trade`` / ``--watch`` / neither; a live account
    is confirmed at the terminal before anything starts (``prompt`` makes the prompt, None
    when there is no terminal; tests inject one)."""
    from tui_trader.desk.target import resolve

    async def number() -> str:
        target = resolve(settings)  # a live account is remote: this starts nothing
        try:
            return await broker_account_number(target)
        finally:
            target.close()

    return asyncio.run(decide(settings, Request(trade=trade, screen=True), number, prompt()))
