"""Fixtures: a real emulator on 127.0.0.1 (a free port) per test, and plain httpx clients."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest

from tui_trader.sim.emulator import EmulatorConfig
from tui_trader.sim.runner import RunningEmulator, start_in_thread

KEY, SECRET = "test-key", "test-secret"
KEY_HEADERS = {"APCA-API-KEY-ID": KEY, "APCA-API-SECRET-KEY": SECRET}
# a Tuesday at 10:00 New York: inside a session, far from the close
START = datetime(2026, 11, 24, 15, 0, tzinfo=UTC)

BASE_CONFIG = EmulatorConfig(
    seed=7,
    speed=1.0,
    start=START,
    heartbeat_seconds=0.1,
    tick_seconds=0.02,
    key_id=KEY,
    secret_key=SECRET,
    history_days=2,
    starting_cash=Decimal(1_000_000),
    # these tests drive the SSE transport with Trading-key headers: the courtesy of serving
    # /v2/events/trades and the Broker-only streams to them (off by default, as the real
    # Trading host); the websocket tests turn both off
    trading_sse=True,
    broker_streams_for_trading_keys=True,
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "/integration/" in str(item.fspath):
            item.add_marker(pytest.mark.integration)


@pytest.fixture
def emulator_config() -> EmulatorConfig:
    """Override in a test module (or use ``sim_with``) to change the emulator's setup."""
    return replace(BASE_CONFIG)


@pytest.fixture
def sim(emulator_config: EmulatorConfig) -> Iterator[RunningEmulator]:
    running = start_in_thread(emulator_config)
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture
def sim_with() -> Iterator[Any]:
    """Start emulators with custom settings: ``sim_with(speed=0, accounts=2)``."""
    started: list[RunningEmulator] = []

    def start(**changes: Any) -> RunningEmulator:
        running = start_in_thread(replace(BASE_CONFIG, **changes))
        started.append(running)
        return running

    yield start
    for running in started:
        running.stop()


@pytest.fixture
def client(sim: RunningEmulator) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=sim.url, headers=KEY_HEADERS, timeout=10.0) as c:
        yield c


@pytest.fixture
def admin(sim: RunningEmulator) -> Iterator[httpx.Client]:
    """No credentials: the /_emulator routes need none."""
    with httpx.Client(base_url=sim.url, timeout=10.0) as c:
        yield c


def client_for(running: RunningEmulator, **kwargs: Any) -> httpx.Client:
    return httpx.Client(base_url=running.url, headers=KEY_HEADERS, timeout=10.0, **kwargs)


@pytest.fixture
def admin_for() -> Iterator[Callable[[RunningEmulator], httpx.Client]]:
    opened: list[httpx.Client] = []

    def make(running: RunningEmulator) -> httpx.Client:
        c = httpx.Client(base_url=running.url, timeout=10.0)
        opened.append(c)
        return c

    yield make
    for c in opened:
        c.close()


@pytest.fixture
def clean_env(tmp_path: Path) -> dict[str, str]:
    """A child process's environment: no Alpaca keys, no tui-trader settings; home and XDG
    dirs under tmp_path, so nothing of the user's machine leaks in."""
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.upper().startswith(("APCA_", "TUI_TRADER_", "XDG_"))
    }
    env["HOME"] = str(tmp_path / "home")
    for name in ("XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_STATE_HOME", "XDG_CACHE_HOME"):
        env[name] = str(tmp_path / name.lower())
    return env
