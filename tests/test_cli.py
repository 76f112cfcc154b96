"""The ``tui-trader`` command as a user runs it: a real subprocess, a clean environment.

No APCA_* / TUI_TRADER_* variables leak in from the machine running the tests, and HOME and
the XDG directories point into tmp_path, so no real config file is ever read. Every process
is bounded by a timeout and killed in a ``finally``. Output is drained by threads (never by
``readline`` followed by ``communicate``, which would lose what the reader had buffered).
"""

from __future__ import annotations

import fcntl
import os
import pty
import queue
import re
import select
import signal
import socket
import struct
import subprocess
import sys
import termios
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import httpx
import pytest

from tui_trader import __version__

TUI_TRADER = Path(sys.executable).with_name("tui-trader")
URL = re.compile(r"http://127\.0\.0\.1:(\d+)")
START_TIMEOUT = 20.0  # a cold interpreter importing uvicorn, numpy and pydantic
STOP_TIMEOUT = 5.0
SECRET = "s3cr3t-Value-9f2b7c1e"
ANY_KEY = {"APCA-API-KEY-ID": "whoever", "APCA-API-SECRET-KEY": "whatever"}


@dataclass
class Cli:
    """A running ``tui-trader`` whose stdout and stderr are read by two threads."""

    proc: subprocess.Popen[str]
    out: list[str] = field(default_factory=list)
    err: list[str] = field(default_factory=list)
    lines: queue.Queue[str] = field(default_factory=queue.Queue)
    threads: list[threading.Thread] = field(default_factory=list)

    def start_readers(self) -> None:
        def drain(stream: IO[str] | None, sink: list[str], feed: bool) -> None:
            assert stream is not None
            for line in iter(stream.readline, ""):
                sink.append(line)
                if feed:
                    self.lines.put(line)

        pipes = ((self.proc.stdout, self.out, True), (self.proc.stderr, self.err, False))
        for stream, sink, feed in pipes:
            if stream is None or stream.closed:
                continue
            thread = threading.Thread(target=drain, args=(stream, sink, feed), daemon=True)
            thread.start()
            self.threads.append(thread)

    def wait_for_url(self) -> str:
        """Read stdout until the serving line appears; bounded."""
        deadline = time.monotonic() + START_TIMEOUT
        while (left := deadline - time.monotonic()) > 0:
            try:
                line = self.lines.get(timeout=min(left, 0.5))
            except queue.Empty:
                if self.proc.poll() is not None:
                    break
                continue
            match = URL.search(line)
            if match:
                return match.group(0)
        raise AssertionError(
            f"no http://127.0.0.1:PORT line within {START_TIMEOUT} s "
            f"(exit {self.proc.poll()}); stdout={self.stdout!r} stderr={self.stderr!r}"
        )

    def stop(self, sig: int = signal.SIGINT) -> tuple[int, float]:
        """Send ``sig``; the exit code and how long the process took to end."""
        began = time.monotonic()
        self.proc.send_signal(sig)
        try:
            code = self.proc.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"still running {STOP_TIMEOUT} s after signal {sig}") from None
        took = time.monotonic() - began
        for thread in self.threads:
            thread.join(timeout=STOP_TIMEOUT)
        return code, took

    @property
    def stdout(self) -> str:
        return "".join(self.out)

    @property
    def stderr(self) -> str:
        return "".join(self.err)


@contextmanager
def running(args: list[str], env: dict[str, str], *, close_stdout: bool = False) -> Iterator[Cli]:
    proc = subprocess.Popen(
        [str(TUI_TRADER), *args],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    cli = Cli(proc)
    try:
        if close_stdout:  # nobody will ever read it: writes get EPIPE
            assert proc.stdout is not None
            proc.stdout.close()
        cli.start_readers()
        yield cli
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=STOP_TIMEOUT)
        for stream in (proc.stdout, proc.stderr):
            if stream is not None:
                stream.close()


def run(args: list[str], env: dict[str, str], timeout: float = 30.0) -> tuple[int, str, str]:
    """Run to completion: (exit code, stdout, stderr)."""
    proc = subprocess.Popen(
        [str(TUI_TRADER), *args],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        out, err = proc.communicate(timeout=timeout)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate(timeout=STOP_TIMEOUT)
    return proc.returncode, out, err


def http(url: str) -> httpx.Client:
    return httpx.Client(base_url=url, timeout=5.0, trust_env=False)


def assert_one_line_error(code: int, out: str, err: str, *needles: str) -> None:
    assert code == 2, (code, out, err)
    assert "Traceback" not in err and "Traceback" not in out
    assert err.strip() and "\n" not in err.strip(), f"want one line on stderr, got {err!r}"
    assert out == "", out
    for needle in needles:
        assert needle in err, (needle, err)


def test_executable_is_next_to_the_interpreter() -> None:
    assert TUI_TRADER.is_file() and os.access(TUI_TRADER, os.X_OK), TUI_TRADER


# ------------------------------------------------------------------------------------ serve
def test_sim_serves_then_stops_cleanly_on_sigint(env: dict[str, str]) -> None:
    with running(["sim", "--port", "0", "--speed", "5"], env) as cli:
        url = cli.wait_for_url()
        assert not url.endswith(":0")  # the port the OS picked, not the 0 asked for
        with http(url) as c:
            ok = c.get("/v2/account", headers=ANY_KEY)
            assert ok.status_code == 200, ok.text
            assert ok.json()["status"] == "ACTIVE"
            denied = c.get("/v2/account")
            assert denied.status_code == 401
            assert denied.json() == {"code": 40110000, "message": "request is not authorized"}
            half = c.get("/v2/account", headers={"APCA-API-KEY-ID": "only-a-key"})
            assert half.status_code == 401
        code, took = cli.stop(signal.SIGINT)
        assert code == 0, (cli.stdout, cli.stderr)
        assert took < STOP_TIMEOUT
        assert "stopped" in cli.stdout.splitlines()[-1]
        assert ok.json()["id"] in cli.stdout  # the announced account is the one served
        assert "speed 5.0x" in cli.stdout
        assert cli.stderr == ""  # log level warning: a clean run says nothing there
    with pytest.raises(httpx.ConnectError), http(url) as c:
        c.get("/v2/account", headers=ANY_KEY)


def test_sigint_with_an_open_event_stream(env: dict[str, str]) -> None:
    """A connected SSE client (15 s heartbeat: nothing to read) must not hold up the exit."""
    with running(["sim", "--port", "0", "--trading-sse"], env) as cli:
        url = cli.wait_for_url()
        ended = threading.Event()
        status: list[int] = []

        def listen() -> None:
            try:
                with (
                    http(url) as c,
                    c.stream(
                        "GET",
                        "/v2/events/trades",
                        headers=ANY_KEY,
                        timeout=httpx.Timeout(5.0, read=30.0),
                    ) as response,
                ):
                    status.append(response.status_code)
                    for _ in response.iter_lines():
                        pass
            except httpx.HTTPError:
                pass
            finally:
                ended.set()

        reader = threading.Thread(target=listen, daemon=True)
        reader.start()
        with http(url) as admin:

            def connected() -> bool:
                return admin.get("/_emulator/state").json()["connections"].get("trades") == 1

            deadline = time.monotonic() + 5
            while not connected():
                assert time.monotonic() < deadline, "the stream never registered"
                time.sleep(0.02)
        assert not ended.is_set(), "the stream ended before the signal"
        code, took = cli.stop(signal.SIGINT)
        assert code == 0, (cli.stdout, cli.stderr)
        assert took < 3.0, f"exit took {took:.1f} s with a stream open"
        assert ended.wait(timeout=3.0), "the client's stream did not end with the server"
        assert status == [200]
        assert "stopped" in cli.stdout
        assert "Traceback" not in cli.stderr, cli.stderr
        reader.join(timeout=1)


def test_sigterm_stops_the_server_without_a_traceback(env: dict[str, str]) -> None:
    with running(["sim", "--port", "0"], env) as cli:
        url = cli.wait_for_url()
        with http(url) as c:
            assert c.get("/v2/account", headers=ANY_KEY).status_code == 200
        code, took = cli.stop(signal.SIGTERM)
        # SIGTERM is a clean stop, like Ctrl-C (uvicorn's re-raised signal is absorbed)
        assert code == 0, (code, cli.stderr)
        assert took < STOP_TIMEOUT
        assert "Traceback" not in cli.stderr, cli.stderr


def test_fixed_credentials(env: dict[str, str]) -> None:
    args = ["sim", "--port", "0", "--key", "K", "--secret", SECRET, "--log-level", "debug"]
    with running(args, env) as cli:
        url = cli.wait_for_url()
        right = {"APCA-API-KEY-ID": "K", "APCA-API-SECRET-KEY": SECRET}
        with http(url) as c:
            assert c.get("/v2/account", headers=right).status_code == 200
            assert c.get("/v2/account", auth=("K", SECRET)).status_code == 200  # Basic
            wrong_secret = {**right, "APCA-API-SECRET-KEY": SECRET[:-1]}
            assert c.get("/v2/account", headers=wrong_secret).status_code == 401
            wrong_key = {**right, "APCA-API-KEY-ID": "L"}
            assert c.get("/v2/account", headers=wrong_key).status_code == 401
            assert c.get("/v2/positions", auth=("K", "nope")).status_code == 401
            assert c.get("/v2/account").status_code == 401
        code, _ = cli.stop(signal.SIGINT)
        assert code == 0
        assert "'K'" in cli.stdout  # the key id is announced ...
        assert SECRET not in cli.stdout and SECRET not in cli.stderr  # ... the secret never


def test_fault_armed_from_the_command_line(env: dict[str, str]) -> None:
    spec = '{"kind": "connect", "status": 503, "retry_after": 2, "count": 1}'
    with running(["sim", "--port", "0", "--trading-sse", "--fault", spec], env) as cli:
        url = cli.wait_for_url()
        with http(url) as c:
            first = c.get("/v2/events/trades", headers=ANY_KEY)
            assert first.status_code == 503 and first.headers["Retry-After"] == "2"
            with c.stream("GET", "/v2/events/trades", headers=ANY_KEY) as second:
                assert second.status_code == 200
        code, _ = cli.stop()
        assert code == 0


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_serving_survives_a_closed_stdout(env: dict[str, str]) -> None:
    """``tui-trader sim | head -1``, or a parent that stops reading: the server must go on."""
    port = _free_port()
    with running(["sim", "--port", str(port)], env, close_stdout=True) as cli:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + START_TIMEOUT
        serving = False
        with http(url) as c:
            while not serving and cli.proc.poll() is None and time.monotonic() < deadline:
                try:
                    serving = c.get("/v2/account", headers=ANY_KEY).status_code == 200
                except httpx.TransportError:
                    time.sleep(0.05)
        if not serving and cli.proc.poll() is not None:
            for thread in cli.threads:  # collect all of stderr for the message
                thread.join(timeout=STOP_TIMEOUT)
        assert serving, f"exit {cli.proc.poll()}; stderr={cli.stderr!r}"
        code, _ = cli.stop(signal.SIGINT)
        assert "Traceback" not in cli.stderr, cli.stderr
        assert code == 0, cli.stderr


def test_port_in_use_exits_2(env: dict[str, str]) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = str(taken.getsockname()[1])
        assert_one_line_error(*run(["sim", "--port", port], env), "in use")


# -------------------------------------------------------------------------------- bad usage
@pytest.mark.parametrize(
    ("args", "needles"),
    [
        (["sim", "--speed", "-1"], ["--speed"]),
        (["sim", "--speed", "0"], ["--speed"]),
        (["sim", "--port", "abc"], ["--port"]),
        (["sim", "--port", "65536"], ["--port"]),
        (["sim", "--host", "10.1.2.3"], ["10.1.2.3", "loopback"]),
        (["sim", "--host", "0.0.0.0"], ["0.0.0.0", "loopback"]),
        (["sim", "--key", "K"], ["--key", "--secret"]),
        (["sim", "--no-such-option"], ["--no-such-option"]),
        (["sim", "--fault", '{"kind": "nope"}'], ["--fault", "nope"]),
        (["sim", "--fault", "{oops"], ["--fault", "not JSON"]),
    ],
    ids=[
        "speed-neg",
        "speed-zero",
        "port-abc",
        "port-big",
        "host-lan",
        "host-any",
        "key-alone",
        "unknown-option",
        "fault-unknown-kind",
        "fault-not-json",
    ],
)
def test_bad_usage_exits_2_with_one_line(
    env: dict[str, str], args: list[str], needles: list[str]
) -> None:
    assert_one_line_error(*run(args, env), *needles)


def test_invalid_toml_config_file(env: dict[str, str], tmp_path: Path) -> None:
    config = tmp_path / "broken.toml"
    config.write_text('[sim]\nspeed = 2\nsymbols = ["AAPL",\n')
    assert_one_line_error(*run(["--config", str(config), "sim"], env), str(config), "TOML")


def test_missing_config_file_named_explicitly(env: dict[str, str], tmp_path: Path) -> None:
    missing = tmp_path / "nowhere.toml"
    assert_one_line_error(*run(["--config", str(missing), "sim"], env), str(missing), "not found")


def test_bad_environment_value(env: dict[str, str]) -> None:
    env["TUI_TRADER_SIM__SPEED"] = "fast"
    assert_one_line_error(*run(["sim"], env), "sim.speed", "TUI_TRADER_SIM__SPEED")


@pytest.mark.parametrize(
    "bad",
    [
        {"TUI_TRADER_SIM__SPEED": "fast"},
        {"APCA_API_KEY_ID": "kid", "TUI_TRADER_SIM__PORT": "-5"},
        {"APCA_API_KEY_ID": "kid", "TUI_TRADER_MODE": "paperr"},
        {"TUI_TRADER_SIM": "{not json"},
        {"TUI_TRADER_SECRETKEY": "typo"},
        {"APCA_API_BASE_URL": f"https://kid:{SECRET}@paper-api.alpaca.markets"},
        {"TUI_TRADER_MODE": SECRET},
        {},  # a secret without its key id is itself a configuration error
    ],
    ids=[
        "speed",
        "port",
        "mode",
        "section-json",
        "unknown-name",
        "url-creds",
        "secret-as-mode",
        "secret-alone",
    ],
)
def test_secret_never_leaks_into_errors(env: dict[str, str], bad: dict[str, str]) -> None:
    env["APCA_API_SECRET_KEY"] = SECRET
    env.update(bad)
    # headless reads every setting (sim ignores the Alpaca ones, so it would just serve)
    code, out, err = run(["headless", "--exit-after", "5"], env)
    assert_one_line_error(code, out, err, "config error")
    assert SECRET not in err and SECRET not in out


def test_secret_in_a_bad_config_file_does_not_leak(env: dict[str, str], tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text(f'key_id = "kid"\nsecret_key = "{SECRET}"\n[sim]\nspeed = "{SECRET}"\n')
    code, out, err = run(["--config", str(config), "headless", "--exit-after", "5"], env)
    assert_one_line_error(code, out, err, "sim.speed", str(config))
    assert SECRET not in err and SECRET not in out


# ---------------------------------------------------------------------------------- version
def test_sim_ignores_alpaca_settings_it_does_not_use(env: dict[str, str]) -> None:
    """Live keys and a live URL in the environment neither stop the emulator nor reach it."""
    env.update(
        APCA_API_KEY_ID="kid",
        APCA_API_SECRET_KEY=SECRET,
        APCA_API_BASE_URL="https://api.alpaca.markets",
    )
    with running(["sim", "--port", "0"], env) as cli:
        url = cli.wait_for_url()
        with http(url) as c:
            assert c.get("/v2/account", headers=ANY_KEY).status_code == 200
        code, _ = cli.stop()
        assert code == 0
        assert SECRET not in cli.stdout and SECRET not in cli.stderr


# ------------------------------------------------------------------ the screen at a terminal
ESCAPES = re.compile(
    r"\x1b(\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(\x07|\x1b\\)|[PX^_][^\x1b]*\x1b\\|.)"
)


def run_on_a_terminal(
    args: list[str], env: dict[str, str], timeout: float = 30.0
) -> tuple[int, str]:
    """Run to completion on a pseudo-terminal of 100x30: (exit code, what the terminal got,
    escapes taken out)."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 30, 100, 0, 0))
    proc = subprocess.Popen(
        [str(TUI_TRADER), *args],
        stdin=slave,
        stdout=slave,
        stderr=slave,
        env={**env, "TERM": "xterm-256color"},
        start_new_session=True,
    )
    os.close(slave)
    got = b""
    try:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 0.1)
            chunk = b""
            if ready:
                try:
                    chunk = os.read(master, 65536)
                except OSError:  # the child's side closed
                    chunk = b""
            got += chunk
            if not chunk and proc.poll() is not None:
                break
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=STOP_TIMEOUT)
        os.close(master)
    return proc.returncode, ESCAPES.sub("", got.decode("utf-8", "replace"))


def test_at_a_terminal_a_wrong_setting_found_behind_the_first_frame_is_said_once_back(
    env: dict[str, str],
) -> None:
    """Settings that cannot be live: the start screen is drawn before they are read; a wrong
    one ends it and is said in the terminal, the same line as before any screen, exit 2."""
    env["TUI_TRADER_SIM__SPEED"] = "fast"
    code, screen = run_on_a_terminal([], env)
    assert code == 2, screen[-600:]
    assert "reading the settings" in screen, screen[-600:]  # the first frame came first
    assert "config error: sim.speed" in screen and "Traceback" not in screen, screen[-600:]


def test_at_a_terminal_settings_that_could_be_live_are_read_before_any_screen(
    env: dict[str, str],
) -> None:
    """A live account is confirmed at the terminal before anything is drawn: here the live
    settings lack their keys, which is said before any screen."""
    env["TUI_TRADER_MODE"] = "live"
    code, screen = run_on_a_terminal([], env)
    assert code == 2, screen[-600:]
    assert "reading the settings" not in screen, screen[-600:]
    assert "config error: mode: live trading needs" in screen, screen[-600:]


def test_version(env: dict[str, str]) -> None:
    code, out, err = run(["--version"], env)
    assert code == 0, err
    assert out.strip() == f"tui-trader {__version__}"
    assert err == ""


def daily_csv(path: Path, years: range, seed: int = 0) -> Path:
    """Two symbols' daily closes, 252 sessions in each calendar year, a seeded random walk."""
    import random
    from datetime import date, timedelta

    rng = random.Random(seed)
    prices = {"AAA": 100.0, "BBB": 50.0}
    rows = ["timestamp,symbol,open,high,low,close,volume"]
    for year in years:
        day, sessions = date(year, 1, 2), 0
        while sessions < 252:
            if day.weekday() < 5:
                sessions += 1
                for symbol in prices:
                    prices[symbol] *= 1 + rng.gauss(0.0003, 0.012)
                    c = prices[symbol]
                    rows.append(f"{day}T21:00:00Z,{symbol},{c},{c},{c},{c},1000")
            day += timedelta(days=1)
    path.write_text("\n".join(rows) + "\n")
    return path


def test_review_08_backtest_annualises_from_the_timestamps_and_reports_p_values(
    env: dict[str, str], tmp_path: Path
) -> None:
    """Daily bars are annualised with 252 (the old code used 98,280, minute bars), and the
    shuffled control is a permutation test with a p-value, not the mean of 8 shuffles."""
    import json

    bars = daily_csv(tmp_path / "daily.csv", range(2019, 2022))
    code, out, err = run(["backtest", "--csv", str(bars), "--json", "--permutations", "200"], env)
    assert code == 0, err
    result = json.loads(out)
    year = result["annualisation"]
    assert year["periods_per_year"] == 252 and year["source"] == "inferred"
    assert "1 day" in year["reason"] and "2020" in year["reason"]
    assert result["note"] is None  # real-looking bars: no planted-data warning
    for name, null in (("shuffled_control", "timing"), ("sign_control", "direction")):
        test = result[name]
        assert test["null"] == null and test["permutations"] == 200
        assert test["p_value"] == (test["exceed"] + 1) / 201
        assert 0 <= test["percentile"] <= 100
    assert result["policy"]["sharpe_se"] >= 0 and "sortino" in result["buy_and_hold"]

    code, out, err = run(["backtest", "--csv", str(bars), "--periods-per-year", "52"], env)
    assert code == 0, err
    assert "annualised with 52 periods a year: given with --periods-per-year" in out
    control = next(line for line in out.splitlines() if line.startswith("shuffled_control"))
    assert "1,000 permutations" in control  # the default
    assert "percentile" in control and "p = " in control


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--periods-per-year", "0"], "--periods-per-year"),
        (["--periods-per-year", "nan"], "--periods-per-year"),
        (["--permutations", "10"], "at least 200"),
    ],
    ids=["periods-zero", "periods-nan", "too-few-permutations"],
)
def test_backtest_refuses_bad_statistics_options(
    env: dict[str, str], args: list[str], needle: str
) -> None:
    assert_one_line_error(*run(["backtest", *args], env), needle)
