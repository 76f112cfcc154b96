"""The emulator as the retail host: market-data plans and feeds on REST, the Broker-only
streams refused to Trading keys, and the ``sim`` command's options that set them."""

from __future__ import annotations

import base64
import json
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest

from tests.integration.conftest import KEY, KEY_HEADERS, SECRET, client_for
from tui_trader.sim.emulator import EmulatorConfig
from tui_trader.sim.runner import RunningEmulator

RECENT_SIP = {"message": "subscription does not permit querying recent SIP data"}
NOT_FOUND = {"code": 40410000, "message": "endpoint not found"}
BASIC = {"Authorization": "Basic " + base64.b64encode(f"{KEY}:{SECRET}".encode()).decode()}
ROUTES = [
    ("/v2/stocks/quotes/latest", {"symbols": "AAPL"}),
    ("/v2/stocks/trades/latest", {"symbols": "AAPL"}),
    ("/v2/stocks/bars/latest", {"symbols": "AAPL"}),
    ("/v2/stocks/snapshots", {"symbols": "AAPL"}),
    ("/v2/stocks/bars", {"symbols": "AAPL", "timeframe": "1Min"}),
    ("/v2/stocks/AAPL/quotes/latest", {}),
    ("/v2/stocks/AAPL/trades/latest", {}),
    ("/v2/stocks/AAPL/bars/latest", {}),
    ("/v2/stocks/AAPL/snapshot", {}),
    ("/v2/stocks/AAPL/bars", {"timeframe": "1Min"}),
]


def now_of(client: httpx.Client) -> datetime:
    return datetime.fromisoformat(client.get("/v2/clock").json()["timestamp"])


@pytest.mark.parametrize(("path", "params"), ROUTES)
def test_every_data_route_validates_feed(client: httpx.Client, path: str, params: Any) -> None:
    for feed in ("iex", "sip", "delayed_sip"):
        assert client.get(path, params={**params, "feed": feed}).status_code == 200, feed
    bad = client.get(path, params={**params, "feed": "nasdaq"})
    assert bad.status_code == 400
    assert "feed" in bad.json()["message"]


def test_free_plan_refuses_recent_sip_and_serves_iex(sim_with: Any) -> None:
    sim = sim_with(plan="free")
    with client_for(sim) as client:
        for path, params in ROUTES:
            for feed in ("sip", None):  # no feed is answered as SIP (issue 13)
                query = {**params, **({"feed": feed} if feed else {})}
                reply = client.get(path, params=query)
                assert reply.status_code == 403, (path, feed)
                assert reply.json() == RECENT_SIP
            for feed in ("iex", "delayed_sip"):
                assert client.get(path, params={**params, "feed": feed}).status_code == 200


def test_free_plan_serves_sip_bars_older_than_fifteen_minutes(sim_with: Any) -> None:
    sim = sim_with(plan="free")
    with client_for(sim) as client:
        now = now_of(client)
        old = {
            "symbols": "AAPL",
            "timeframe": "1Min",
            "start": (now - timedelta(days=3)).isoformat(),
            "end": (now - timedelta(minutes=16)).isoformat(),
        }
        for feed in ("sip", None):
            query = {**old, **({"feed": feed} if feed else {})}
            reply = client.get("/v2/stocks/bars", params=query)
            assert reply.status_code == 200, reply.text
            assert reply.json()["bars"]["AAPL"]
        recent = {**old, "end": (now - timedelta(minutes=10)).isoformat()}
        assert client.get("/v2/stocks/bars", params=recent).status_code == 403


def test_unlimited_plan_serves_sip_without_a_feed(client: httpx.Client) -> None:
    for path, params in ROUTES:
        assert client.get(path, params=params).status_code == 200, path


# ----------------------------------------------------------------- Broker-only streams
def _status(sim: RunningEmulator, path: str, headers: dict[str, str] | None = None) -> Any:
    """Open an SSE route with Trading key headers (or ``headers`` alone) and report its
    answer without reading the (endless) body of a stream that opened."""
    with (
        httpx.Client(base_url=sim.url, headers=headers or KEY_HEADERS, timeout=10) as client,
        client.stream("GET", path) as reply,
    ):
        return reply.status_code, (json.loads(reply.read()) if reply.status_code != 200 else None)


def test_trading_keys_get_404_on_broker_only_streams_like_the_real_host(sim_with: Any) -> None:
    sim = sim_with(trading_sse=False, broker_streams_for_trading_keys=False)
    for path in (
        "/v1/events/accounts/status",
        "/v1/events/nta",
        "/v1/events/trades",
        "/v2/events/trades",
    ):
        assert _status(sim, path) == (404, NOT_FOUND), path
        assert _status(sim, path, BASIC)[0] in (200, 410), path  # Broker keys: as before


def test_trading_sse_keeps_the_trades_courtesy_for_trading_keys(sim_with: Any) -> None:
    sim = sim_with(trading_sse=True, broker_streams_for_trading_keys=False)
    assert _status(sim, "/v2/events/trades") == (200, None)
    assert _status(sim, "/v1/events/nta") == (404, NOT_FOUND)
    assert _status(sim, "/v1/events/accounts/status", BASIC) == (200, None)


def test_the_emulator_defaults_to_the_real_trading_host(sim: RunningEmulator) -> None:
    """A bare EmulatorConfig answers Trading keys as the real Trading host does; the test
    world's BASE_CONFIG turns the courtesy on for the SSE transport's tests."""
    default = EmulatorConfig()
    assert (default.trading_sse, default.broker_streams_for_trading_keys) == (False, False)
    for path in ("/v2/events/trades", "/v1/events/accounts/status", "/v1/events/nta"):
        assert _status(sim, path) == (200, None), path


# ------------------------------------------------------------------------- the command
def test_sim_command_sets_the_plan_and_the_data_options() -> None:
    from tui_trader.cli.dispatch import build_parser
    from tui_trader.cli.sim import _emulator_config
    from tui_trader.config import Settings

    args = build_parser().parse_args(
        ["sim", "--plan", "free", "--quote-hz", "500", "--late-bars", "0.25"]
    )
    config = _emulator_config(Settings(), args)
    assert (config.plan, config.quote_hz, config.late_bar_probability) == ("free", 500.0, 0.25)
    default = _emulator_config(Settings(), build_parser().parse_args(["sim"]))
    # the embedded emulator's plan comes from sim.plan: free, as most accounts are
    assert (default.plan, default.quote_hz, default.late_bar_probability) == ("free", None, 0.0)
    paid = _emulator_config(Settings(), build_parser().parse_args(["sim", "--plan", "unlimited"]))
    assert paid.plan == "unlimited"
    with pytest.raises(SystemExit):
        build_parser().parse_args(["sim", "--plan", "gold"])
