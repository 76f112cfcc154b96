"""The one rule for whether the policy sends orders (review #3), as the screen and headless
each ask it. The broker and the prompt are stand-ins that record whether they were used."""

from __future__ import annotations

from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

import pytest

from tui_trader.config import Mode
from tui_trader.desk.launch.consent import Refused, Request, decide

NUMBER = "PA3KX7Y2B9Q1"


@dataclass
class Broker:
    number: str = NUMBER
    asked: int = 0

    async def __call__(self) -> str:
        self.asked += 1
        return self.number


@dataclass
class Trader:
    answer: str = NUMBER
    prompts: list[str] = field(default_factory=list)

    def __call__(self, text: str) -> str:
        self.prompts.append(text)
        return self.answer + "\n"


def settings(mode: Mode) -> Any:
    url = None if mode is Mode.SIM else "https://paper-api.alpaca.markets"
    return SimpleNamespace(mode=mode, base_url=url)


async def verdict(mode: Mode, request: Request, trader: Trader | None = None) -> bool:
    return (await decide(settings(mode), request, Broker(), trader)).trade


@pytest.mark.parametrize(
    ("mode", "trade", "screen", "expected"),
    [
        (Mode.SIM, None, True, True),  # the emulator trades by default
        (Mode.SIM, False, True, False),  # --watch
        (Mode.SIM, None, False, True),  # headless on the emulator
        (Mode.PAPER, None, True, False),  # paper: only with --trade
        (Mode.PAPER, True, True, True),
        (Mode.PAPER, None, False, False),
        (Mode.PAPER, True, False, True),
    ],
)
async def test_review_03_emulator_by_default_elsewhere_only_with_trade(
    mode: Mode, trade: bool | None, screen: bool, expected: bool
) -> None:
    broker, trader = Broker(), Trader()
    consent = await decide(settings(mode), Request(trade=trade, screen=screen), broker, trader)
    assert consent.trade is expected
    assert broker.asked == 0 and trader.prompts == []  # nothing to confirm off a live account


async def test_review_03_headless_watches_a_live_account_without_asking() -> None:
    broker, trader = Broker(), Trader()
    consent = await decide(settings(Mode.LIVE), Request(), broker, trader)
    assert not consent.trade and "proposes" in consent.reason
    assert broker.asked == 0 and trader.prompts == []


@pytest.mark.parametrize(
    ("request_", "terminal", "missing"),
    [
        (Request(trade=True), False, "--live and --confirm-account NUMBER"),
        (Request(trade=True), True, "--live"),
        (Request(trade=True, account=NUMBER), False, "--live"),
        (Request(trade=True, live=True), False, "--confirm-account NUMBER"),
    ],
)
async def test_review_03_headless_live_trading_names_what_is_missing(
    request_: Request, terminal: bool, missing: str
) -> None:
    broker, trader = Broker(), Trader()
    with pytest.raises(Refused) as refused:
        await decide(settings(Mode.LIVE), request_, broker, trader if terminal else None)
    assert str(refused.value).startswith(f"live trading needs {missing}")
    assert "\n" not in str(refused.value) and refused.value.code == 2
    assert broker.asked == 0 and trader.prompts == []  # refused before asking anyone


async def test_review_03_headless_live_trades_with_the_number_the_broker_reports() -> None:
    given = Request(trade=True, live=True, account=f" {NUMBER} ")
    assert await verdict(Mode.LIVE, given)
    with pytest.raises(Refused, match="does not match"):
        await verdict(Mode.LIVE, Request(trade=True, live=True, account="123"))
    typed = Trader()
    assert await verdict(Mode.LIVE, Request(trade=True, live=True), typed)
    assert typed.prompts and NUMBER in typed.prompts[0]  # it names the account it asks about
    with pytest.raises(Refused, match="not confirmed"):
        await verdict(Mode.LIVE, Request(trade=True, live=True), Trader(answer="12"))


@pytest.mark.parametrize("trade", [None, True, False])
async def test_review_03_the_screen_confirms_a_live_account_even_to_watch(
    trade: bool | None,
) -> None:
    """The screen's behaviour as before: it asks for the number before anything starts,
    whatever the flags; it trades only with --trade."""
    trader = Trader()
    assert await verdict(Mode.LIVE, Request(trade=trade, screen=True), trader) is (trade is True)
    assert len(trader.prompts) == 1 and f"LIVE account {NUMBER}" in trader.prompts[0]
    with pytest.raises(Refused, match="not confirmed"):
        await verdict(Mode.LIVE, Request(trade=trade, screen=True), Trader(answer="nope"))
    with pytest.raises(Refused, match="typed at a terminal"):
        await verdict(Mode.LIVE, Request(trade=trade, screen=True), None)


@pytest.mark.parametrize("mode", [Mode.SIM, Mode.PAPER])
async def test_review_03_live_flags_off_a_live_account_are_refused(mode: Mode) -> None:
    with pytest.raises(Refused, match="--live is for a live account"):
        await verdict(mode, Request(trade=True, live=True))
    with pytest.raises(Refused, match="--confirm-account is for a live account"):
        await verdict(mode, Request(account=NUMBER))
