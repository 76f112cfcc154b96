"""Which streams a desk opens, and over which transport (issue 13): a Trading API account
opens no Broker-only stream (``accounts``, ``nta``) and reads its trades from the trading
websocket unless told ``stream.transport = "sse"``; a Broker account keeps SSE for all."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import SecretStr

from tui_trader.broker.journal import Journal
from tui_trader.config import ApiFamily, Settings
from tui_trader.config.sections import StreamSettings
from tui_trader.desk.desk import Desk, DeskOptions
from tui_trader.desk.target import Target


def target(api: ApiFamily) -> Target:
    return Target(
        "http://127.0.0.1:9", "http://127.0.0.1:9", api, SecretStr("k"), SecretStr("s"), "acct"
    )


def opened(tmp_path: Path, api: ApiFamily, **stream: object) -> dict[str, str]:
    settings = Settings(stream=StreamSettings(**stream))  # type: ignore[arg-type]
    journal = Journal.open(tmp_path / "j.sqlite3")
    try:
        desk = Desk(settings, target(api), journal, DeskOptions())
        return {s.name: s.transport for s in desk.supervisor.status().streams}
    finally:
        journal.close()


def test_a_trading_account_opens_only_trades_over_the_websocket(tmp_path: Path) -> None:
    assert opened(tmp_path, ApiFamily.TRADING) == {"trades": "websocket"}


def test_a_trading_account_may_choose_sse_and_never_gets_broker_streams(tmp_path: Path) -> None:
    got = opened(tmp_path, ApiFamily.TRADING, transport="sse", streams=["trades", "nta"])
    assert got == {"trades": "sse"}


def test_a_broker_account_is_sse_whatever_the_setting_and_honours_stream_streams(
    tmp_path: Path,
) -> None:
    got = opened(tmp_path, ApiFamily.BROKER, transport="websocket", streams=["trades", "nta"])
    assert got == {"trades": "sse", "nta": "sse"}


def test_the_stream_url_comes_from_the_environment_except_for_the_embedded_emulator(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("APCA_API_STREAM_URL", "wss://example.test/stream")
    assert target(ApiFamily.TRADING).stream_url() == "wss://example.test/stream"
    monkeypatch.delenv("APCA_API_STREAM_URL")
    assert target(ApiFamily.TRADING).stream_url() is None


def test_the_transport_setting_is_checked() -> None:
    assert StreamSettings(transport="WebSocket").transport == "websocket"  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="transport"):
        StreamSettings(transport="carrier-pigeon")  # type: ignore[arg-type]
