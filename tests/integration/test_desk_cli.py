"""The desk's command-line levers and the backtest, as a user runs them."""

from __future__ import annotations

import json
import sqlite3
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.integration.conftest import KEY, KEY_HEADERS, SECRET
from tests.test_cli import run
from tui_trader.sim.runner import RunningEmulator


def with_keys(env: dict[str, str], **more: str) -> dict[str, str]:
    return {**env, "APCA_API_KEY_ID": KEY, "APCA_API_SECRET_KEY": SECRET, **more}


def fill_position(sim: RunningEmulator, symbol: str, qty: str, side: str = "buy") -> None:
    with httpx.Client(base_url=sim.url, headers=KEY_HEADERS, timeout=10) as c:
        r = c.post(
            "/v2/orders",
            json={
                "symbol": symbol,
                "qty": qty,
                "side": side,
                "type": "market",
                "time_in_force": "day",
            },
        )
        assert r.status_code == 200, r.text
        deadline = time.monotonic() + 10
        while c.get(f"/v2/orders/{r.json()['id']}").json()["status"] != "filled":
            assert time.monotonic() < deadline
            time.sleep(0.02)


def positions(sim: RunningEmulator) -> list[Any]:
    with httpx.Client(base_url=sim.url, headers=KEY_HEADERS, timeout=10) as c:
        return list(c.get("/v2/positions").json())


def test_flatten_asks_then_closes_everything_and_stays_paused(
    sim: RunningEmulator, env: dict[str, str]
) -> None:
    fill_position(sim, "AAPL", "5")
    fill_position(sim, "TSLA", "3", side="sell")
    code, out, err = run(["flatten", "--base-url", sim.url], with_keys(env))
    assert code == 2 and "confirmation" in err  # no terminal, no --yes: nothing happens
    assert len(positions(sim)) == 2
    code, out, err = run(["flatten", "--base-url", sim.url, "--yes"], with_keys(env))
    assert code == 0, err
    assert "flat in" in out and "stays paused" in out
    assert positions(sim) == []
    journals = list(Path(env["HOME"]).rglob("journal-*.sqlite3"))
    assert len(journals) == 1
    with sqlite3.connect(journals[0]) as db:
        paused = db.execute("SELECT value FROM settings WHERE key = 'paused'").fetchone()[0]
        kinds = [k for (k,) in db.execute("SELECT kind FROM audit ORDER BY rowid")]
    assert json.loads(paused) is True and kinds == ["flatten"]


def test_flatten_that_cannot_get_flat_exits_1_and_says_why(
    sim: RunningEmulator, env: dict[str, str]
) -> None:
    fill_position(sim, "MSFT", "4")
    httpx.post(f"{sim.url}/_emulator/halt", json={"symbols": ["MSFT"]}, timeout=10)
    code, out, err = run(
        ["flatten", "--base-url", sim.url, "--yes", "--deadline", "2"], with_keys(env)
    )
    assert code == 1, err
    assert "NOT flat" in out and "MSFT" in out and "not tradable" in out


def test_pause_and_resume_write_the_flag_a_desk_reads(
    sim: RunningEmulator, env: dict[str, str]
) -> None:
    code, out, err = run(["pause", "--base-url", sim.url], with_keys(env))
    assert code == 0 and "paused" in out, err
    code, out, err = run(["resume", "--base-url", sim.url, "--yes"], with_keys(env))
    assert code == 0 and "resumed" in out, err
    journal = next(Path(env["HOME"]).rglob("journal-*.sqlite3"))
    with sqlite3.connect(journal) as db:
        assert (
            json.loads(db.execute("SELECT value FROM settings WHERE key = 'paused'").fetchone()[0])
            is False
        )
        assert [k for (k,) in db.execute("SELECT kind FROM audit ORDER BY rowid")] == [
            "pause",
            "resume",
        ]


def test_levers_need_an_account_and_good_keys(sim: RunningEmulator, env: dict[str, str]) -> None:
    code, _, err = run(["flatten", "--yes"], env)
    assert code == 2 and "no account" in err
    code, _, err = run(
        ["flatten", "--base-url", sim.url, "--yes"], with_keys(env, APCA_API_SECRET_KEY="wrong")
    )
    assert code == 3 and "credentials rejected" in err and "wrong" not in err


@pytest.mark.timeout(300)  # two 3,000-bar runs of five symbols: ~45 s alone, more under load
def test_backtest_beats_its_baselines_with_drift_and_stays_quiet_without(
    env: dict[str, str],
) -> None:
    # the strong regime, asked for: the emulator's default market is realistic (nothing to find)
    code, out, err = run(
        ["backtest", "--bars", "3000", "--seed", "7", "--json", "--planted"], env, timeout=120
    )
    assert code == 0, err
    result = json.loads(out)
    assert result["source"]["planted"] is True
    # planted data: the report says so, in one line, and the figures are judged as finding
    # what was planted (against permutations of the policy's own positions), nothing more
    assert "planted" in result["note"] and "not evidence of an edge" in result["note"]
    assert result["annualisation"]["periods_per_year"] == 98_280  # the generator's clock
    policy, hold = result["policy"], result["buy_and_hold"]
    assert policy["sharpe"] > 3 and policy["sharpe"] > hold["sharpe"]
    for name in ("shuffled_control", "sign_control"):
        test = result[name]
        assert test["permutations"] == 1000 and test["p_value"] == (test["exceed"] + 1) / 1001
    # it finds the planted direction: p < 0.01 against 1,000 sign flips of its own positions
    # (0.005 at seed 7; the timing null is not significant, p 0.11: what it earns is direction)
    assert result["sign_control"]["p_value"] < 0.01
    # the ledger beside the vectorised accounting: same fills, same equity to the cent
    assert result["ledger"]["fills"] == policy["trades"]
    assert abs(result["ledger"]["equity"] - 100_000 * (1 + policy["total_return"])) < 0.01
    code, out, err = run(
        ["backtest", "--bars", "3000", "--seed", "7", "--json", "--no-drift"], env, timeout=120
    )
    assert code == 0, err
    walk_report = json.loads(out)
    assert "random walk" in walk_report["note"]
    walk = walk_report["policy"]
    assert walk["turnover"] < policy["turnover"]  # nothing to learn: it trades less
    assert walk["total_return"] > -0.01  # and loses no more than costs and noise
    # the same test finds nothing where nothing was planted (p 0.73 at seed 7): it can fail
    assert walk_report["sign_control"]["p_value"] > 0.05


def test_backtest_plots_and_says_what_its_synthetic_bars_are(env: dict[str, str]) -> None:
    code, out, err = run(["backtest", "--bars", "400", "--plot"], env, timeout=120)
    assert code == 0, err
    figure = out.split("equity (log scale)")[1]  # plotext's panels, after the table
    assert all(name in figure for name in ("policy", "buy_and_hold", "flat", "drawdown"))
    assert "\x1b[" not in out  # a pipe gets no colour
    # the default market is the realistic one, and the report still says it proves nothing
    assert out.startswith("note: synthetic bars with realistic drift regimes of +-5%/yr")
    assert "not evidence of an edge" in out.splitlines()[0]
    code, out, err = run(["backtest", "--bars", "400", "--planted", "--no-drift"], env)
    assert code == 2 and "not allowed with" in err


def test_backtest_reads_a_csv_and_refuses_a_bad_one(env: dict[str, str], tmp_path: Path) -> None:
    rows = ["timestamp,symbol,open,high,low,close,volume"]
    price = 100.0
    for i in range(300):
        minute = f"2026-11-24T{14 + (30 + i) // 60:02d}:{(30 + i) % 60:02d}:00Z"
        rows.append(f"{minute},ABC,{price},{price + 0.2},{price - 0.2},{price + 0.05},1000")
        price += 0.05
    good = tmp_path / "bars.csv"
    good.write_text("\n".join(rows) + "\n")
    code, out, err = run(["backtest", "--csv", str(good), "--json"], env, timeout=60)
    assert code == 0, err
    assert json.loads(out)["bars"] == {"ABC": 300}
    bad = tmp_path / "bad.csv"
    bad.write_text("when,what\n1,2\n")
    code, out, err = run(["backtest", "--csv", str(bad)], env)
    assert code == 2 and "header" in err and "Traceback" not in err


def test_headless_trades_the_policy_and_the_journal_explains_every_order(
    sim_with: Any, env: dict[str, str], tmp_path: Path
) -> None:
    sim: RunningEmulator = sim_with(
        speed=1200, history_days=5, starting_cash=Decimal(1_000_000), rate_limit_per_minute=100_000
    )
    journal = tmp_path / "journal.sqlite3"
    eager = with_keys(
        env,
        TUI_TRADER_POLICY__MIN_T="0.5",
        TUI_TRADER_POLICY__NO_TRADE_BAND="0",
        TUI_TRADER_RISK__MAX_ORDERS_PER_MINUTE="1000",
    )
    code, out, err = run(
        [
            "headless",
            "--base-url",
            sim.url,
            "--trade",  # not the embedded emulator: it trades only when told to
            "--journal",
            str(journal),
            "--exit-after",
            "20",
        ],
        eager,
        timeout=60,
    )
    assert code == 0, err
    assert "Traceback" not in err and "error" not in err.lower(), err
    lines = [json.loads(line) for line in out.splitlines()]
    fills = [x for x in lines if x["kind"] == "event" and x["type"] == "fill"]
    assert fills, "the policy traded nothing in 20 s of a 1200x market"
    with sqlite3.connect(journal) as db:
        intents = db.execute("SELECT client_order_id, state, source FROM orders").fetchall()
        verdicts = {
            json.loads(d)["client_order_id"]: json.loads(d)
            for (d,) in db.execute("SELECT data FROM audit WHERE kind = 'risk'")
        }
        sent = {
            json.loads(d)["client_order_id"]
            for (d,) in db.execute("SELECT data FROM audit WHERE kind = 'order'")
        }
        signals = db.execute("SELECT count(*) FROM audit WHERE kind = 'signal'").fetchone()[0]
    assert intents and signals > len(intents)
    for cid, state, source in intents:
        assert source == "policy"
        assert verdicts[cid]["allowed"]  # every order passed the risk gate, on record
        assert cid in sent or state == "pending"
        assert state in ("submitted", "pending")
