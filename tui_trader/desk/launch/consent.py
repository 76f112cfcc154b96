"""Whether the policy may send orders: one rule, for the screen and ``tui-trader headless``.

* **The embedded emulator** (mode ``sim``): the policy trades, unless told to watch
  (``--watch``; headless ``--no-trade`` runs no desk at all).
* **Any other server that is not live** (mode ``paper``: Alpaca paper, or an emulator of
  your own at ``--base-url``): only with ``--trade``.
* **A live account** (mode ``live``): only with ``--trade``, and only once the account
  number is confirmed against the one the broker reports: given as
  ``--confirm-account NUMBER`` (headless) or typed at a prompt, which is offered only when
  stdin is a terminal. headless must also say ``--live``, since no one may be watching it;
  the screen instead names the LIVE account in its prompt, and asks for the number before
  anything connects, even to watch.

Asked to trade (``--trade``) without all that live trading needs, nothing starts: the
caller exits 2 with :class:`Refused`'s one line, which names what is missing. Not asked,
the policy proposes and logs (the desk's ``DeskOptions(trade=False)``); nothing is sent.
``--live`` or ``--confirm-account`` aimed at a target that is not live is refused too: it
says the trader believes something about the account that the settings contradict.
"""

from __future__ import annotations

import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from tui_trader.config import Mode

if TYPE_CHECKING:
    from tui_trader.config import Settings
    from tui_trader.desk.target import Target

EXIT_USAGE = 2
EXIT_AUTH = 3


@dataclass(frozen=True)
class Request:
    """What the trader said on the command line."""

    trade: bool | None = None  # --trade (True), --watch (False), neither (None)
    live: bool = False  # --live
    account: str | None = None  # --confirm-account NUMBER
    screen: bool = False  # the screen (its prompt says LIVE; it confirms live even to watch)


@dataclass(frozen=True)
class Consent:
    trade: bool
    reason: str  # one line for the log: why the policy does or does not send


class Refused(Exception):
    """Nothing may start. ``str()`` is one line for stderr; ``code`` the exit code."""

    def __init__(self, message: str, code: int = EXIT_USAGE) -> None:
        super().__init__(message)
        self.code = code


AccountNumber = Callable[[], Awaitable[str]]
Ask = Callable[[str], str]


async def decide(
    settings: Settings, request: Request, account_number: AccountNumber, ask: Ask | None
) -> Consent:
    """The rule above. ``account_number`` asks the broker (called only for a live account
    that must be confirmed); ``ask`` prompts the trader (None: no terminal to ask at)."""
    mode = settings.mode
    if mode is not Mode.LIVE and (request.live or request.account is not None):
        flag = "--live" if request.live else "--confirm-account"
        where = "the embedded emulator" if mode is Mode.SIM else settings.base_url
        raise Refused(f"{flag} is for a live account; the settings say {mode.value} ({where})")
    if mode is Mode.SIM:
        if request.trade is False:
            return Consent(False, "embedded emulator, --watch: the policy only proposes")
        return Consent(True, "embedded emulator: the policy trades")
    if mode is Mode.PAPER:
        if request.trade:
            return Consent(True, f"{settings.base_url}, --trade: the policy trades")
        return Consent(False, f"{settings.base_url}: the policy only proposes (--trade to trade)")
    wants = request.trade is True
    if not wants and not request.screen and request.account is None:
        return Consent(False, "live account: the policy only proposes (see --trade --live)")
    missing = []
    if wants and not request.screen and not request.live:
        missing.append("--live")
    if request.account is None and ask is None:
        missing.append(
            "the account number typed at a terminal"
            if request.screen
            else "--confirm-account NUMBER (or the number typed at a terminal)"
        )
    if missing:
        what = "live trading" if wants else "the live desk"
        raise Refused(f"{what} needs {' and '.join(missing)}; nothing was started")
    number = await account_number()
    if request.account is not None:
        if request.account.strip() != number:
            raise Refused(
                "--confirm-account does not match the account the broker reports;"
                " nothing was started"
            )
    else:
        assert ask is not None
        what = "trade it with the policy" if wants else "start the desk on real money"
        answer = ask(f"LIVE account {number}: {what}. Type the account number to confirm: ")
        if answer.strip() != number:
            raise Refused("live trading not confirmed (the number typed does not match)")
    if wants:
        return Consent(True, f"live account {number}, confirmed: the policy trades")
    return Consent(False, f"live account {number}, confirmed: the policy only proposes")


def terminal_prompt() -> Ask | None:
    """A prompt on the terminal (to stderr: headless's stdout is JSON lines), or None when
    stdin is not a terminal: a pipe or a script cannot confirm real money."""
    try:
        if not sys.stdin.isatty():
            return None
    except (AttributeError, ValueError):  # stdin closed or replaced
        return None

    def ask(text: str) -> str:
        sys.stderr.write(text)
        sys.stderr.flush()
        return sys.stdin.readline()

    return ask


async def broker_account_number(target: Target) -> str:
    """The account number the broker reports for ``target`` (its id when it has none)."""
    from tui_trader.broker.rest import AlpacaError, AuthenticationError

    async with target.rest() as rest:
        try:
            account = await rest.get_account()
        except AuthenticationError as exc:
            raise Refused(f"credentials rejected by {target.label}: {exc}", EXIT_AUTH) from None
        except AlpacaError as exc:
            raise Refused(f"cannot reach {target.label}: {exc}") from None
    return str(getattr(account, "account_number", None) or account.id)
