"""``tui-trader headless`` as a real subprocess against the emulator: the fixed contract of
the issue (JSON lines, exit codes 0/2/3), restart after ``kill -9`` with nothing lost or
repeated, and no retry storm on bad keys."""

from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.integration.conftest import KEY, SECRET
from tests.test_cli import STOP_TIMEOUT, run, running
from tui_trader.desk.launch.headless import MARK_SECONDS
from tui_trader.sim.runner import RunningEmulator

BEGINNING = "2026-11-01T00:00:00Z"


def headless_env(env: dict[str, str], secret: str = SECRET) -> dict[str, str]:
    """Trading keys over the SSE transport: these tests pin the SSE contract (cursors,
    ``--since``, replay after kill -9); the websocket's are in test_headless_trade_socket.py."""
    return {
        **env,
        "APCA_API_KEY_ID": KEY,
        "APCA_API_SECRET_KEY": secret,
        "TUI_TRADER_STREAM__TRANSPORT": "sse",
    }


def broker_env(env: dict[str, str], sim: RunningEmulator) -> dict[str, str]:
    """A Broker API account: the only kind that has the accounts and NTA streams."""
    account = sim.emulator.exchange.default_account.id
    return {**headless_env(env), "TUI_TRADER_API": "broker", "TUI_TRADER_ACCOUNT_ID": account}


def lines_of(text_lines: list[str]) -> list[dict[str, Any]]:
    """Complete JSON lines only: a process killed mid-write may leave a torn last line."""
    out = []
    for line in text_lines:
        try:
            out.append(json.loads(line))
        except ValueError:
            continue
    return out


def event_ids(lines: list[dict[str, Any]]) -> list[str]:
    return [x["id"] for x in lines if x["kind"] == "event"]


def emulator_ids(sim: RunningEmulator, stream: str = "trades") -> list[str]:
    log = sim.emulator.exchange.logs[stream]
    return sim.call(lambda: [log.get(i).ulid for i in range(log.end)])  # type: ignore[no-any-return,union-attr]


def produce(sim: RunningEmulator, orders: int) -> None:
    r = httpx.post(f"{sim.url}/_emulator/backlog", json={"orders": orders}, timeout=30)
    assert r.status_code == 200, r.text


def wait_until(check: Any, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {seconds} s")
        time.sleep(0.02)


def test_max_events_prints_exactly_n_events_then_exits_0(
    sim: RunningEmulator, env: dict[str, str], tmp_path: Path
) -> None:
    produce(sim, 20)  # 60 trade events
    code, out, err = run(
        [
            "headless",
            "--base-url",
            sim.url,
            "--streams",
            "trades",
            "--since",
            BEGINNING,
            "--max-events",
            "25",
            "--no-trade",
            "--journal",
            str(tmp_path / "j.sqlite3"),
        ],
        headless_env(env),
    )
    assert code == 0, err
    lines = lines_of(out.splitlines())
    events = [x for x in lines if x["kind"] == "event"]
    assert len(events) == 25
    assert event_ids(lines) == emulator_ids(sim)[:25]  # in order, from the beginning
    first = events[0]
    assert set(first) == {"kind", "stream", "id", "type", "at", "data"}
    assert first["stream"] == "trades" and first["data"]["event_id"] == first["id"]
    assert first["type"] == first["data"]["event"]
    statuses = [x for x in lines if x["kind"] == "status"]
    assert statuses and all({"state", "stream", "reason", "at"} <= set(s) for s in statuses)
    assert any(s["stream_state"] == "STREAMING" for s in statuses)
    # a second run on the same journal starts where the first stopped printing
    code, out2, err = run(
        [
            "headless",
            "--base-url",
            sim.url,
            "--streams",
            "trades",
            "--max-events",
            "35",
            "--no-trade",
            "--journal",
            str(tmp_path / "j.sqlite3"),
        ],
        headless_env(env),
    )
    assert code == 0, err
    assert event_ids(lines_of(out2.splitlines())) == emulator_ids(sim)[25:60]


def test_v1_streams_use_the_ulid_as_id(sim: RunningEmulator, env: dict[str, str]) -> None:
    r = httpx.post(f"{sim.url}/_emulator/events", json={"stream": "nta"}, timeout=10)
    assert r.status_code == 200
    code, out, err = run(
        [
            "headless",
            "--base-url",
            sim.url,
            "--streams",
            "accounts,nta",
            "--since",
            BEGINNING,
            "--max-events",
            "2",
            "--no-trade",
        ],
        broker_env(env, sim),
    )
    assert code == 0, err
    events = [x for x in lines_of(out.splitlines()) if x["kind"] == "event"]
    assert {e["stream"] for e in events} == {"accounts", "nta"}
    for e in events:
        assert e["id"] == e["data"]["event_ulid"] and isinstance(e["data"]["event_id"], int)
    nta = next(e for e in events if e["stream"] == "nta")
    assert nta["type"] == nta["data"]["entry_type"]


def test_bad_keys_exit_3_fast_with_one_line_and_no_retry_storm(
    sim: RunningEmulator, env: dict[str, str]
) -> None:
    started = time.monotonic()
    code, out, err = run(
        ["headless", "--base-url", sim.url, "--no-trade"],
        headless_env(env, secret="wrong"),
        timeout=30,
    )
    took = time.monotonic() - started
    assert code == 3, (code, err)
    assert took < 15
    errors = [line for line in err.splitlines() if "credentials rejected" in line]
    assert len(errors) == 1 and "401" in errors[0]
    assert "Traceback" not in err and "wrong" not in err
    stats = httpx.get(f"{sim.url}/_emulator/state", timeout=10).json()["stats"]
    assert stats.get("auth_rejected", 0) <= 12  # a couple of tries per stream, no storm
    states = [x["stream_state"] for x in lines_of(out.splitlines()) if x["kind"] == "status"]
    assert "AUTH_FAILED" in states


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--streams", "trades,bogus"], "bogus"),
        (["--since", "yesterday"], "--since"),
        (["--max-events", "0"], "--max-events"),
        (["--api", "broker"], "account_id"),
    ],
    ids=["bad-stream", "bad-since", "zero-events", "broker-without-account"],
)
def test_bad_usage_exits_2(
    sim: RunningEmulator, env: dict[str, str], args: list[str], needle: str
) -> None:
    code, out, err = run(["headless", "--base-url", sim.url, *args], headless_env(env))
    assert code == 2, (code, err)
    assert needle in err and "Traceback" not in err
    assert out == ""


def test_base_url_without_keys_exits_2(sim: RunningEmulator, env: dict[str, str]) -> None:
    code, out, err = run(["headless", "--base-url", sim.url], env)
    assert code == 2 and "APCA_API_KEY_ID" in err and out == ""


def test_sigint_and_exit_after_stop_cleanly(sim: RunningEmulator, env: dict[str, str]) -> None:
    started = time.monotonic()
    code, _, err = run(
        ["headless", "--base-url", sim.url, "--exit-after", "1.5"], headless_env(env)
    )
    assert code == 0, err
    assert time.monotonic() - started < 15
    with running(["headless", "--base-url", sim.url], headless_env(env)) as cli:
        wait_until(lambda: any('"STREAMING"' in line for line in cli.out), 15)
        code, took = cli.stop(signal.SIGINT)
        assert code == 0, cli.stderr
        assert took < STOP_TIMEOUT
        final = lines_of(cli.out)
        assert final[-1]["kind"] == "status" and final[-1]["state"] == "STOPPED"


def stored(journal: Path) -> tuple[int, dict[str, tuple[int, float]]]:
    """What a crash left in the journal: headless's delivery mark, and each event's rowid
    and ``received_at`` (one value per batch: a batch is one multi-row INSERT)."""
    with sqlite3.connect(f"file:{journal}?mode=ro", uri=True) as db:
        row = db.execute("SELECT last_rowid FROM deliveries WHERE consumer = 'headless'")
        mark = (row.fetchone() or (0,))[0]
        events = {
            key: (rowid, received)
            for rowid, key, received in db.execute("SELECT rowid, id, received_at FROM events")
        }
    return mark, events


def one_batch(ids: list[str], events: dict[str, tuple[int, float]]) -> bool:
    return len({events[i][1] for i in ids}) <= 1


def test_review_07_kill_9_mid_stream_loses_nothing_and_repeats_at_most_one_batch(
    sim: RunningEmulator, env: dict[str, str], tmp_path: Path
) -> None:
    """A kill at a moment unrelated to anything, while events keep coming: every event is
    printed, and what the restart prints again is one batch at most (the one whose mark
    was still to be written), at the end of the first run and the start of the second."""
    journal = tmp_path / "journal.sqlite3"
    args = [
        "headless",
        "--base-url",
        sim.url,
        "--streams",
        "trades",
        "--since",
        BEGINNING,
        "--no-trade",
        "--journal",
        str(journal),
    ]
    stop = threading.Event()

    def producer() -> None:
        while not stop.is_set():
            produce(sim, 2)  # 6 events every ~20 ms
            stop.wait(0.02)

    thread = threading.Thread(target=producer, daemon=True)
    thread.start()
    try:
        with running(args, headless_env(env)) as first:
            wait_until(lambda: len(event_ids(lines_of(first.out))) >= 60, 20)
            time.sleep(0.137)  # mid-stream, at a moment unrelated to any line boundary
            first.proc.send_signal(signal.SIGKILL)
            first.proc.wait(timeout=STOP_TIMEOUT)
            time.sleep(0.2)  # the readers drain what the pipe still held
            run1 = event_ids(lines_of(first.out))
        assert first.proc.returncode == -signal.SIGKILL
        mark, events = stored(journal)
        assert set(run1) <= set(events)  # committed, then printed
        with running(args, headless_env(env)) as second:
            time.sleep(0.5)
            stop.set()
            thread.join(10)
            expected = emulator_ids(sim)
            wait_until(
                lambda: set(run1) | set(event_ids(lines_of(second.out))) >= set(expected), 30
            )
            time.sleep(0.3)  # anything extra (another repeat) would show up by now
            code, _ = second.stop(signal.SIGINT)
            assert code == 0, second.stderr
            run2 = event_ids(lines_of(second.out))
    finally:
        stop.set()
        thread.join(10)
    assert sorted(set(run1 + run2)) == sorted(expected)  # nothing lost
    repeated = [i for i in run2 if i in set(run1)]
    assert len(run2) == len(set(run2)) and len(run1) == len(set(run1))
    assert repeated == run1[len(run1) - len(repeated) :] == run2[: len(repeated)]
    assert one_batch(repeated, events), "more than one batch was printed again"
    assert all(events[i][0] > mark for i in repeated)  # exactly what had no mark yet


def test_review_07_kill_9_right_after_a_print_repeats_that_batch_and_no_more(
    sim: RunningEmulator, env: dict[str, str], tmp_path: Path
) -> None:
    """The worst moment, on purpose: killed just after a batch reached stdout and before
    any later batch or the quiet-stream timer marked it. The restart prints exactly that
    batch again. Then, killed after the stream was quiet for a while (its mark written by
    the timer), a restart prints nothing again."""
    journal = tmp_path / "journal.sqlite3"
    args = ["headless", "--base-url", sim.url, "--streams", "trades", "--no-trade"]
    args += ["--since", BEGINNING, "--journal", str(journal)]
    with running(args, headless_env(env)) as first:
        for _ in range(3):  # a few batches that later ones mark
            before = len(emulator_ids(sim))
            produce(sim, 3)
            wait_until(lambda b=before: len(event_ids(lines_of(first.out))) >= b + 9, 20)
        last = set(emulator_ids(sim))
        produce(sim, 2)
        burst = [i for i in emulator_ids(sim) if i not in last]
        wait_until(lambda: set(burst) <= set(event_ids(lines_of(first.out))), 20)
        first.proc.send_signal(signal.SIGKILL)  # well within MARK_SECONDS of that print
        first.proc.wait(timeout=STOP_TIMEOUT)
        time.sleep(0.2)
        run1 = event_ids(lines_of(first.out))
    mark, events = stored(journal)
    unmarked = [i for i in run1 if events[i][0] > mark]
    assert set(run1) == set(events) and len(run1) == len(events)  # all committed, all printed
    assert unmarked and unmarked == run1[-len(unmarked) :], "not killed between print and mark"
    assert set(unmarked) <= set(burst) and one_batch(unmarked, events)
    with running(args, headless_env(env)) as second:
        wait_until(lambda: len(event_ids(lines_of(second.out))) >= len(unmarked), 20)
        time.sleep(3 * MARK_SECONDS)  # quiet: the timer marks what it printed
        second.proc.send_signal(signal.SIGKILL)
        second.proc.wait(timeout=STOP_TIMEOUT)
        time.sleep(0.2)
        run2 = event_ids(lines_of(second.out))
    assert run2 == unmarked  # that batch again, and nothing else
    code, out, err = run([*args, "--exit-after", "1.5"], headless_env(env))
    assert code == 0, err
    assert event_ids(lines_of(out.splitlines())) == []  # a quiet kill repeats nothing
    assert sorted(run1) == sorted(emulator_ids(sim))


FAILING_COMMIT = """
import sqlite3, sys, threading
from tui_trader.broker.journal import Journal

def commit(self):
    # the batch writer's COMMIT fails as on a full disk: SQLite undoes the batch
    if threading.current_thread().name.startswith("journal"):
        self.rollback()
        raise sqlite3.OperationalError("database or disk is full")
    real(self)

real, Journal.commit = Journal.commit, commit
from tui_trader.cli import main
sys.exit(main(sys.argv[1:]))
"""


def test_review_07_a_commit_that_fails_prints_nothing(
    sim: RunningEmulator, env: dict[str, str], tmp_path: Path
) -> None:
    """``../shared/review/print_before_commit.py`` end to end: every batch COMMIT fails.
    Nothing is printed that the journal does not hold, and headless says why it stopped."""
    produce(sim, 5)
    journal = tmp_path / "journal.sqlite3"
    argv = [sys.executable, "-c", FAILING_COMMIT, "headless", "--base-url", sim.url]
    argv += ["--streams", "trades", "--since", BEGINNING, "--no-trade", "--journal", str(journal)]
    done = subprocess.run(
        argv, env=headless_env(env), capture_output=True, text=True, timeout=30, check=False
    )
    printed = event_ids(lines_of(done.stdout.splitlines()))
    _, events = stored(journal)
    assert set(printed) <= set(events), f"printed {len(printed)}, journal holds {len(events)}"
    assert done.returncode == 1, done.stderr
    assert "journal write failed" in done.stderr and "disk is full" in done.stderr


def test_structured_logs_to_stderr_and_the_log_file_without_secrets(
    sim: RunningEmulator, env: dict[str, str]
) -> None:
    code, out, err = run(
        ["headless", "--base-url", sim.url, "--exit-after", "1", "--log-format", "json"],
        broker_env(env, sim),
    )
    assert code == 0, err
    logged = [json.loads(line) for line in err.splitlines()]
    transitions = [e for e in logged if e["msg"] == "transition"]
    assert {e["stream"] for e in transitions} == {"trades", "accounts", "nta"}
    assert all(e["state"] for e in transitions)
    files = list(Path(env["HOME"]).rglob("tui-trader.log"))
    assert len(files) == 1
    text = files[0].read_text()
    assert '"msg":"transition"' in text
    assert SECRET not in text and SECRET not in err and SECRET not in out
