"""``feed=`` on every REST market-data request (the emulator ignores it today, so the test
reads what the client sent), and a 403 for SIP falling back to IEX exactly once, said."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest

from tests.integration.conftest import KEY, SECRET, START
from tui_trader.broker.rest import AlpacaError, AlpacaREST
from tui_trader.sim.runner import RunningEmulator


def recording(sent: list[httpx.Request], **kw: object) -> httpx.AsyncClient:
    async def record(request: httpx.Request) -> None:
        sent.append(request)

    return httpx.AsyncClient(event_hooks={"request": [record]}, timeout=10.0, **kw)  # type: ignore[arg-type]


@pytest.mark.parametrize("feed", ["iex", "sip", "delayed_sip"])
async def test_every_market_data_request_names_the_feed(sim: RunningEmulator, feed: str) -> None:
    sent: list[httpx.Request] = []
    async with recording(sent) as client:
        rest = AlpacaREST(sim.url, sim.url, KEY, SECRET, client=client, feed=feed)
        quotes = await rest.latest_quotes(["AAPL", "MSFT"])
        bars = await rest.latest_bars(["AAPL"])
        history = await rest.bars(["AAPL"], "1Min", start=START - timedelta(days=1), limit=20)
    assert quotes and bars and history["AAPL"]
    data = [r for r in sent if r.url.path.startswith("/v2/stocks")]
    assert len(data) >= 4  # bars paged: more than one request
    assert all(r.url.params.get("feed") == feed for r in data), [str(r.url) for r in data]


def refusing(calls: list[httpx.Request]) -> httpx.MockTransport:
    def answer(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        if request.url.params.get("feed") == "sip":
            return httpx.Response(
                403, json={"message": "subscription does not permit querying recent SIP data"}
            )
        if request.url.path.endswith("/quotes/latest"):
            return httpx.Response(
                200,
                json={"quotes": {"AAPL": {"t": "2026-11-24T15:00:00Z", "bp": 1.5, "ap": 1.75}}},
            )
        return httpx.Response(200, json={"bars": {}, "next_page_token": None})

    return httpx.MockTransport(answer)


async def test_sip_refused_falls_back_to_iex_once_with_a_notice() -> None:
    calls: list[httpx.Request] = []
    told: list[tuple[str, str, str]] = []
    async with httpx.AsyncClient(transport=refusing(calls)) as client:
        rest = AlpacaREST("http://h.test", "http://d.test", KEY, SECRET, client=client, feed="sip")
        rest.on_feed_change = lambda old, new, why: told.append((old, new, why))
        quotes = await rest.latest_quotes(["AAPL"])
        await rest.bars(["AAPL"], start=START)
        await rest.latest_quotes(["AAPL"])
    assert str(quotes["AAPL"].bid_price) == "1.5"
    assert [c.url.params["feed"] for c in calls] == ["sip", "iex", "iex", "iex"]
    assert len(told) == 1 and told[0][:2] == ("sip", "iex") and "SIP" in told[0][2]
    assert rest.feed == "iex"


async def test_a_403_on_iex_is_raised_not_retried() -> None:
    calls: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        return httpx.Response(403, json={"message": "forbidden"})

    told: list[object] = []
    async with httpx.AsyncClient(transport=httpx.MockTransport(answer)) as client:
        rest = AlpacaREST("http://h.test", "http://d.test", KEY, SECRET, client=client, feed="sip")
        rest.on_feed_change = lambda *a: told.append(a)
        with pytest.raises(AlpacaError) as caught:
            await rest.latest_quotes(["AAPL"])
        assert caught.value.status == 403
        with pytest.raises(AlpacaError):
            await rest.latest_quotes(["AAPL"])
    assert [c.url.params["feed"] for c in calls] == ["sip", "iex", "iex"]  # never back to sip
    assert len(told) == 1
