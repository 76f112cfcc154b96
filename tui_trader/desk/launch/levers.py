"""``tui-trader flatten``, ``pause`` and ``resume``: the panic levers from the shell, for when
the screen is not running.

They act on the configured account (Alpaca keys, or ``--base-url`` for any Alpaca-compatible
server). Pausing is always safe and asks nothing; flattening and resuming change what the
account does, so they ask first: type ``yes`` (paper) or the account number (live), unless
``--yes`` is given for paper. The pause flag lives in the account's journal, where a running
desk reads it too.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING

from tui_trader.config import Mode, Settings

if TYPE_CHECKING:
    from tui_trader.broker.journal import Journal
    from tui_trader.broker.ordering import FlattenReport
    from tui_trader.desk.target import Target

EXIT_OK = 0
EXIT_NOT_FLAT = 1
EXIT_USAGE = 2
EXIT_AUTH = 3
PAUSED_KEY = "paused"


def _remote(settings: Settings) -> bool:
    if settings.mode is Mode.SIM:
        print(
            "tui-trader: no account to act on: set APCA_API_KEY_ID and APCA_API_SECRET_KEY "
            "(Alpaca paper) or pass --base-url with keys (any Alpaca-compatible server)",
            file=sys.stderr,
        )
        return False
    return True


def confirm(
    what: str,
    settings: Settings,
    account_number: str,
    *,
    yes: bool,
    ask: Callable[[str], str] = input,
) -> bool:
    """Paper: ``--yes`` or typing yes. Live: typing the account number, always."""
    live = settings.mode is Mode.LIVE
    if yes and not live:
        return True
    if not sys.stdin.isatty() and ask is input:
        print(
            f"tui-trader: {what} needs confirmation; run it in a terminal"
            + ("" if live else " or pass --yes"),
            file=sys.stderr,
        )
        return False
    if live:
        answer = ask(f"LIVE account {account_number}: {what}. Type the account number to confirm: ")
        return answer.strip() == account_number
    answer = ask(f"{what} on {settings.base_url}. Type yes to confirm: ")
    return answer.strip().lower() == "yes"


def _journal(settings: Settings) -> tuple[Target, Journal]:
    from tui_trader.broker.journal import Journal
    from tui_trader.desk.target import resolve

    target = resolve(settings)
    path, _ = target.journal_file(settings.data_dir)
    return target, Journal.open(path)


def _set_paused(settings: Settings, paused: bool) -> Target:
    """Write the flag a running desk polls, with its audit row."""
    target, journal = _journal(settings)
    try:
        journal.set_setting(PAUSED_KEY, paused)
        journal.audit("pause" if paused else "resume", {"by": "command line"})
    finally:
        journal.close()
    return target


def _confirmed(
    settings: Settings, what: str, refused: str, yes: bool, ask: Callable[[str], str]
) -> int | None:
    """None when the account answers and the trader confirms ``what``; else the exit code."""
    if not _remote(settings):
        return EXIT_USAGE
    account = asyncio.run(_account_number(settings))
    if account is None:
        return EXIT_AUTH
    if not confirm(what, settings, account, yes=yes, ask=ask):
        print(refused, file=sys.stderr)
        return EXIT_USAGE
    return None


def cmd_pause(settings: Settings) -> int:
    if not _remote(settings):
        return EXIT_USAGE
    target = _set_paused(settings, True)
    print(
        f"paused: no new exposure on {target.label}; a running desk picks this up"
        " within seconds. Resting orders are untouched."
    )
    return EXIT_OK


def cmd_resume(settings: Settings, yes: bool, ask: Callable[[str], str] = input) -> int:
    refused = _confirmed(
        settings, "resume trading (the policy may open positions)", "not resumed.", yes, ask
    )
    if refused is not None:
        return refused
    target = _set_paused(settings, False)
    print(f"resumed on {target.label}.")
    return EXIT_OK


def cmd_flatten(
    settings: Settings, yes: bool, deadline: float, ask: Callable[[str], str] = input
) -> int:
    refused = _confirmed(
        settings, "cancel every open order and close every position", "not flattened.", yes, ask
    )
    if refused is not None:
        return refused
    _, journal = _journal(settings)
    try:
        journal.set_setting(PAUSED_KEY, True)
        report = asyncio.run(_flatten(settings, deadline))
        journal.audit(
            "flatten", {"by": "command line", "flat": report.flat, "summary": report.summary()}
        )
    finally:
        journal.close()
    print(report.summary())
    print("trading stays paused; `tui-trader resume` when you are ready.")
    return EXIT_OK if report.flat else EXIT_NOT_FLAT


async def _account_number(settings: Settings) -> str | None:
    """The number the broker reports (:func:`tui_trader.desk.launch.consent.broker_account_number`),
    or None after one line on stderr saying why not."""
    from tui_trader.desk.launch.consent import Refused, broker_account_number
    from tui_trader.desk.target import resolve

    try:
        return await broker_account_number(resolve(settings))
    except Refused as exc:
        print(f"tui-trader: {exc}", file=sys.stderr)
        return None


async def _flatten(settings: Settings, deadline: float) -> FlattenReport:
    from tui_trader.broker.ordering import flatten
    from tui_trader.desk.target import resolve

    target = resolve(settings)
    async with target.rest() as rest:
        return await flatten(rest, deadline=deadline)
