"""examples/paper_trading.py end to end, in a subprocess with a clean environment: it trades
the embedded emulator by default, only watches an Alpaca-style target without --trade, and
fails fast, in one line, when the target cannot be reached."""

from __future__ import annotations

import re
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.integration.conftest import KEY, KEY_HEADERS, SECRET
from tui_trader.sim.runner import RunningEmulator

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "paper_trading.py"


def run_example(
    env: dict[str, str], *args: str, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(EXAMPLE), *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def lines(out: str, prefix: str) -> list[str]:
    return [line for line in out.splitlines() if line.startswith(prefix)]


def test_trades_the_embedded_emulator_prints_fills_and_pnl_and_ends_flat(
    clean_env: dict[str, str],
) -> None:
    proc = run_example(clean_env, "--seconds", "8", "--every", "2", "--qty", "5")
    out, err = proc.stdout, proc.stderr
    assert proc.returncode == 0, out + err
    assert "Traceback" not in err and not err.strip(), err
    assert "connected to embedded emulator at 600x (demo settings)" in out, out
    assert "; trading" in out.splitlines()[0], out

    # the manual order, built with OrderBuilder, passed the risk gate and filled
    assert "manual order: buy 5 AAPL market day" in out, out
    assert "risk verdict: allowed" in out, out
    fills = lines(out, "fill #")
    assert fills, out
    assert all(re.match(r"fill #\d+: [A-Z]+ (partial_)?fill \S+ @ \S+ \(", f) for f in fills)
    assert any("(buy 5 AAPL)" in f for f in fills), out
    numbers = [int(f.split("#")[1].split(":")[0]) for f in fills]
    assert numbers == list(range(1, len(fills) + 1)), "each fill printed once, in order"

    assert len(lines(out, "P&L: equity ")) >= 3, out  # every 2 s, and once at the end
    flatten = lines(out, "flatten: ")
    assert len(flatten) == 1 and flatten[0].startswith("flatten: flat in "), out

    orders = re.search(r"^  orders sent: (\d+) \((.*)\)$", out, re.MULTILINE)
    assert orders and int(orders[1]) >= 1 and "1 manual" in orders[2], out
    fill_count = re.search(r"^  fills: (\d+)$", out, re.MULTILINE)
    assert fill_count and int(fill_count[1]) >= len(fills) > 0, out
    assert re.search(r"^  realized P&L: [+-][\d,]+\.\d\d$", out, re.MULTILINE), out
    assert "  unrealized P&L: +0.00" in out, "flat at the end: nothing unrealized"
    journal = re.search(r"^  journal: (\S+) \(temporary", out, re.MULTILINE)
    assert journal, out
    assert not Path(journal[1]).exists(), "the emulator's temporary journal is removed"


def test_only_watches_an_alpaca_target_without_trade(
    sim: RunningEmulator, clean_env: dict[str, str], tmp_path: Path
) -> None:
    env = {
        **clean_env,
        "APCA_API_KEY_ID": KEY,
        "APCA_API_SECRET_KEY": SECRET,
        "APCA_API_BASE_URL": sim.url,
    }
    proc = run_example(env, "--seconds", "1", "--every", "1")
    out, err = proc.stdout, proc.stderr
    assert proc.returncode == 0, out + err
    assert "Traceback" not in err and not err.strip(), err
    assert f"connected to {sim.url}" in out and "watching only" in out, out
    assert "(not sent: watching)" in out and "risk verdict: " in out, out
    assert "watching only: nothing to flatten" in out, out
    assert "flatten: " not in out and "  orders sent: 0" in out, out
    with httpx.Client(base_url=sim.url, headers=KEY_HEADERS, timeout=10) as client:
        placed = client.get("/v2/orders", params={"status": "all"}).json()
    assert placed == [], "nothing reached the broker"
    journal = re.search(r"^  journal: (\S+)$", out, re.MULTILINE)
    assert journal and Path(journal[1]).is_relative_to(tmp_path), out


def test_an_unreachable_target_exits_2_at_once_with_one_line(clean_env: dict[str, str]) -> None:
    env = {
        **clean_env,
        "APCA_API_KEY_ID": "fake-key",
        "APCA_API_SECRET_KEY": "fake-secret",
        "APCA_API_BASE_URL": "http://127.0.0.1:9",  # the discard port: nothing listens
    }
    started = time.monotonic()
    proc = run_example(env, "--seconds", "5", timeout=30)
    elapsed = time.monotonic() - started
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert elapsed < 10, f"took {elapsed:.1f} s"
    err = proc.stderr.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("paper_trading: cannot reach "), proc.stderr
    assert "fake-secret" not in proc.stderr
    assert "Traceback" not in proc.stderr and "orders sent" not in proc.stdout
