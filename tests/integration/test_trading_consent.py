"""``tui-trader headless`` sends orders only where the trader said so (review #3).

A real subprocess against an emulator that is *not* the embedded one: started here on
127.0.0.1 with keys, reached through ``--base-url``, so to headless it is any Alpaca-style
server (paper, unless ``TUI_TRADER_MODE=live`` says it is real money). The market runs at
1200x with an eager policy, so the policy wants to trade within seconds; every order that
reaches the emulator is counted where it arrives (``Exchange.submit``, the handler of
``POST /v2/orders``).
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.integration.conftest import KEY, KEY_HEADERS, SECRET
from tests.test_cli import run, running
from tui_trader.config import load_settings
from tui_trader.desk.launch.consent import Refused
from tui_trader.desk.launch.screen import screen_consent
from tui_trader.sim.runner import RunningEmulator

WAIT = 30.0  # seconds, at most, for the policy to want (or make) its first order


class Counted:
    """The emulator, with the client order id of every order request that reaches it."""

    def __init__(self, sim: RunningEmulator) -> None:
        self.sim = sim
        self.requests: list[str] = []
        exchange = sim.emulator.exchange
        submit = exchange.submit

        def counting(acct: Any, body: Any) -> Any:
            self.requests.append(str(body.get("client_order_id")))
            return submit(acct, body)

        exchange.submit = counting  # type: ignore[method-assign]

    @property
    def orders(self) -> int:
        return len(self.requests)

    def booked(self) -> set[str]:
        """Client order ids in the emulator's books (a second witness)."""
        accounts = list(self.sim.emulator.exchange.accounts.values())
        return set(
            self.sim.call(lambda: [o.client_order_id for a in accounts for o in a.orders.values()])
        )

    def account_number(self) -> str:
        r = httpx.get(f"{self.sim.url}/v2/account", headers=KEY_HEADERS, timeout=10)
        return str(r.json()["account_number"])


@pytest.fixture
def market(sim_with: Callable[..., RunningEmulator]) -> Iterator[Counted]:
    yield Counted(
        sim_with(
            speed=1200,
            history_days=5,
            starting_cash=Decimal(1_000_000),
            rate_limit_per_minute=100_000,
        )
    )


def eager(env: dict[str, str], **more: str) -> dict[str, str]:
    """Keys for the emulator and a policy that trades on the first hint of a signal."""
    return {
        **env,
        "APCA_API_KEY_ID": KEY,
        "APCA_API_SECRET_KEY": SECRET,
        "TUI_TRADER_POLICY__MIN_T": "0.5",
        "TUI_TRADER_POLICY__NO_TRADE_BAND": "0",
        "TUI_TRADER_RISK__MAX_ORDERS_PER_MINUTE": "1000",
        # twins share one account: Alpaca's trading websocket takes one connection per
        # account (the second is refused 429), so these consent tests read trades over SSE
        "TUI_TRADER_STREAM__TRANSPORT": "sse",
        **more,
    }


def read(journal: Path, sql: str) -> list[Any]:
    if not journal.exists():
        return []
    try:
        with sqlite3.connect(f"file:{journal}?mode=ro", uri=True) as db:
            return db.execute(sql).fetchall()
    except sqlite3.OperationalError:  # not created yet
        return []


def proposals(journal: Path) -> int:
    """Signals on record with a quantity the policy wanted to trade."""
    rows = read(journal, "SELECT data FROM audit WHERE kind = 'signal'")
    return sum(1 for (d,) in rows if json.loads(d)["proposed_qty"] not in (None, "0"))


def intents(journal: Path) -> set[str]:
    return {cid for (cid,) in read(journal, "SELECT client_order_id FROM orders")}


def verdicts(journal: Path) -> list[str]:
    """The risk gate's last few verdicts on record: why a desk that wanted to trade did not."""
    rows = read(journal, "SELECT data FROM audit WHERE kind = 'risk' ORDER BY rowid DESC LIMIT 5")
    return [json.loads(d)["verdict"] for (d,) in rows]


def wait_for(
    check: Callable[[], Any],
    what: str,
    seconds: float = WAIT,
    why: Callable[[], str] | None = None,
) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {seconds} s: {what}" + (f"; {why()}" if why else ""))
        time.sleep(0.05)


def headless(market: Counted, journal: Path, *more: str) -> list[str]:
    return ["headless", "--base-url", market.sim.url, "--journal", str(journal), *more]


def twins(market: Counted, env: dict[str, str], tmp_path: Path, trading: list[str]) -> str:
    """Two headless desks on one account at once: one with ``trading`` flags, one without.
    Once the trading twin has sent orders and the other has proposed as many, both stop;
    every order that reached the emulator must be the trading twin's. Returns the watching
    twin's stderr."""
    sends, watches = tmp_path / "sends.sqlite3", tmp_path / "watches.sqlite3"
    with (
        running(headless(market, sends, *trading), env) as sender,
        running(headless(market, watches), env) as watcher,
    ):
        wait_for(
            lambda: market.orders >= 2,
            "two orders from the twin with --trade",
            why=lambda: f"its last verdicts {verdicts(sends)}; stderr {''.join(sender.err)[-800:]}",
        )
        wait_for(lambda: proposals(watches) >= 2, "proposals from the twin without it")
        time.sleep(0.5)  # anything the watcher were about to send would arrive by now
        assert sender.stop()[0] == 0, sender.stderr
        assert watcher.stop()[0] == 0, watcher.stderr
    sent = intents(sends)
    assert market.orders >= 2 and set(market.requests) <= sent  # each order is the sender's
    assert market.booked() <= sent
    assert intents(watches) == set()  # the watcher did not even try
    assert "nothing will be sent" not in sender.stderr
    return watcher.stderr


def test_review_03_headless_on_a_server_that_is_not_embedded_sends_nothing_without_trade(
    market: Counted, env: dict[str, str], tmp_path: Path
) -> None:
    """Against the same market at the same time, the twin with ``--trade`` sends orders
    (so the policy wanted to trade there): the one without sends none."""
    watcher_stderr = twins(market, eager(env), tmp_path, ["--trade"])
    assert "nothing will be sent" in watcher_stderr and "--trade" in watcher_stderr


@pytest.mark.parametrize(
    ("flags", "missing"),
    [
        (["--trade"], "--live and --confirm-account NUMBER"),
        (["--trade", "--live"], "--confirm-account NUMBER"),
    ],
    ids=["trade", "trade-live"],
)
def test_review_03_live_trade_without_the_account_number_exits_2_with_one_line(
    market: Counted, env: dict[str, str], tmp_path: Path, flags: list[str], missing: str
) -> None:
    code, out, err = run(
        headless(market, tmp_path / "j.sqlite3", *flags), eager(env, TUI_TRADER_MODE="live")
    )
    assert code == 2, (code, err)
    assert err.count("\n") == 1 and err.startswith("tui-trader headless: "), err
    assert f"live trading needs {missing}" in err and "nothing was started" in err
    assert out == "" and market.orders == 0
    assert not (tmp_path / "j.sqlite3").exists()  # nothing started: not even the journal


def test_review_03_live_trades_only_with_the_account_number_the_broker_reports(
    market: Counted, env: dict[str, str], tmp_path: Path
) -> None:
    live = eager(env, TUI_TRADER_MODE="live")
    wrong = ["--trade", "--live", "--confirm-account", "999999999"]
    code, _, err = run(headless(market, tmp_path / "wrong.sqlite3", *wrong), live)
    assert code == 2 and err.count("\n") == 1 and "does not match" in err, err
    assert market.orders == 0
    # with the right number it trades; its twin without --trade only watches, asked nothing
    right = ["--trade", "--live", "--confirm-account", market.account_number()]
    watcher_stderr = twins(market, live, tmp_path, right)
    assert "nothing will be sent: live account" in watcher_stderr


@pytest.mark.parametrize(
    ("flags", "needle"),
    [
        (["--live"], "--live is for a live account; the settings say paper"),
        (["--confirm-account", "1"], "--confirm-account is for a live account"),
    ],
    ids=["live-on-paper", "account-on-paper"],
)
def test_review_03_live_flags_on_a_paper_target_are_refused(
    market: Counted, env: dict[str, str], tmp_path: Path, flags: list[str], needle: str
) -> None:
    code, _, err = run(headless(market, tmp_path / "j.sqlite3", "--trade", *flags), eager(env))
    assert code == 2 and err.count("\n") == 1 and needle in err, err
    assert market.orders == 0


def test_review_03_the_screen_asks_the_same_rule(
    market: Counted, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The screen decides through the same function: paper watches unless --trade, asking
    nothing; a live account is confirmed with the number the broker reports, even to
    watch, before anything starts."""
    for name in ("APCA_API_KEY_ID", "APCA_API_SECRET_KEY", "TUI_TRADER_MODE"):
        monkeypatch.delenv(name, raising=False)
    config = tmp_path / "config.toml"
    config.write_text("")

    def settings(mode: str) -> Any:
        return load_settings(
            config, mode=mode, base_url=market.sim.url, key_id=KEY, secret_key=SECRET
        )

    prompts: list[str] = []

    def terminal(answer: str) -> Callable[[], Callable[[str], str]]:
        return lambda: lambda text: prompts.append(text) or answer

    assert not screen_consent(settings("paper"), None, terminal("x")).trade
    assert screen_consent(settings("paper"), True, terminal("x")).trade
    assert prompts == []
    number = market.account_number()
    assert not screen_consent(settings("live"), None, terminal(number)).trade
    assert screen_consent(settings("live"), True, terminal(number)).trade
    assert len(prompts) == 2 and all(f"LIVE account {number}" in p for p in prompts)
    with pytest.raises(Refused, match="not confirmed"):
        screen_consent(settings("live"), True, terminal("000"))
    assert market.orders == 0


def test_review_03_the_screen_without_a_terminal_starts_nothing_on_a_live_account(
    market: Counted, env: dict[str, str]
) -> None:
    live = eager(env, TUI_TRADER_MODE="live", APCA_API_BASE_URL=market.sim.url)
    code, _, err = run(["--trade"], live)
    assert code == 2 and err.count("\n") == 1, err
    assert "the account number typed at a terminal" in err and "nothing was started" in err
    assert market.orders == 0
