"""AlpacaREST against the emulator over real HTTP: every method, both route families, typed
errors, retries (GETs only, paced by an injected fake sleep), dropped responses, rate limits,
and that no credential ever shows in an error, a repr or a log line."""

from __future__ import annotations

import contextlib
import logging
import socket
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from email.utils import format_datetime
from typing import Any, TypeVar

import httpx
import pytest
from pydantic import SecretStr

from tests.integration.conftest import KEY, SECRET
from tui_trader.broker.rest import (
    AlpacaError,
    AlpacaREST,
    AuthenticationError,
    ForbiddenError,
    NotFoundError,
    RateLimitError,
    ServerError,
    TransportError,
    UnprocessableError,
)
from tui_trader.config import Settings
from tui_trader.core.models import WireOrder
from tui_trader.core.orders import OrderBuilder
from tui_trader.sim.runner import RunningEmulator

T = TypeVar("T")

LEAKY_SECRET = "S3CRET-canary-7f3a9b"  # recognisable: must never appear in any output


class FakeSleep:
    """Records the delays a retry asked for; never waits."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)


class Requests:
    """Counts requests as they leave the client (an httpx event hook): method and path."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, str]] = []

    async def __call__(self, request: httpx.Request) -> None:
        self.sent.append((request.method, request.url.path))

    def count(self, method: str, path: str) -> int:
        return sum(1 for m, p in self.sent if m == method and p == path)


async def eventually(check: Callable[[], Awaitable[T | None]], max_seconds: float = 10.0) -> T:
    """Poll ``check`` until it returns something truthy; bounded in time."""
    import asyncio

    deadline = time.monotonic() + max_seconds
    while True:
        value = await check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {max_seconds} s")
        await asyncio.sleep(0.02)


@contextlib.asynccontextmanager
async def connect(
    running: RunningEmulator,
    *,
    secret: str = SECRET,
    sleep: FakeSleep | None = None,
    requests: Requests | None = None,
    **kwargs: Any,
) -> AsyncIterator[AlpacaREST]:
    """An AlpacaREST on the emulator whose httpx client reports every request it sends."""
    hooks: dict[str, list[Callable[..., Any]]] = {"request": [requests]} if requests else {}
    async with httpx.AsyncClient(timeout=10.0, event_hooks=hooks) as client:
        rest = AlpacaREST(
            running.url,
            running.url,
            KEY,
            SecretStr(secret),
            client=client,
            sleep=sleep or FakeSleep(),
            **kwargs,
        )
        async with rest:
            yield rest


@pytest.fixture
async def control(sim: RunningEmulator) -> AsyncIterator[httpx.AsyncClient]:
    """The emulator's /_emulator admin routes (no credentials), without blocking the loop."""
    async with httpx.AsyncClient(base_url=sim.url, timeout=10.0) as c:
        yield c


@pytest.fixture
def sleep() -> FakeSleep:
    return FakeSleep()


@pytest.fixture
def requests() -> Requests:
    return Requests()


@pytest.fixture
async def rest(
    sim: RunningEmulator, sleep: FakeSleep, requests: Requests
) -> AsyncIterator[AlpacaREST]:
    async with connect(sim, sleep=sleep, requests=requests) as client:
        yield client


async def filled(rest: AlpacaREST, order_id: str) -> WireOrder | None:
    order = await rest.get_order(order_id)
    return order if order.status == "filled" else None


async def market(rest: AlpacaREST, symbol: str, qty: int, side: str = "buy") -> WireOrder:
    builder = OrderBuilder().symbol(symbol).market().day()
    builder = builder.buy(qty) if side == "buy" else builder.sell(qty)
    order = await rest.submit_order(builder.build())
    return await eventually(lambda: filled(rest, order.id))


async def resting_limit(rest: AlpacaREST, symbol: str, qty: int = 1) -> WireOrder:
    """A buy far below the market: it rests until canceled. Returned once it is ``new``."""
    quote = (await rest.latest_quotes(symbol))[symbol]
    assert quote.bid_price is not None
    price = (quote.bid_price * Decimal("0.7")).quantize(Decimal("0.01"))
    order = await rest.submit_order(
        OrderBuilder().symbol(symbol).buy(qty).limit(price).gtc().build()
    )

    async def is_new() -> WireOrder | None:
        current = await rest.get_order(order.id)
        return current if current.status == "new" else None

    return await eventually(is_new)


def free_port() -> int:
    """A loopback port nobody listens on: connecting to it is refused."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


# --- account, clock, orders, positions --------------------------------------------------------


async def test_account_and_clock(rest: AlpacaREST, control: httpx.AsyncClient) -> None:
    account = await rest.get_account()
    state = (await control.get("/_emulator/state")).json()
    assert [account.id] == state["accounts"]
    assert account.cash == Decimal(1_000_000) and account.status == "ACTIVE"
    clock = await rest.get_clock()
    assert clock["is_open"] is True
    assert clock["timestamp"].startswith("2026-11-24")


async def test_market_order_fills_into_a_position(rest: AlpacaREST) -> None:
    order = OrderBuilder().symbol("AAPL").buy(10).market().day().client_order_id().build()
    sent = await rest.submit_order(order)
    assert sent.client_order_id == order.client_order_id
    assert sent.symbol == "AAPL" and sent.qty == 10 and sent.side == "buy"
    done = await eventually(lambda: filled(rest, sent.id))
    assert done.filled_qty == 10 and done.filled_avg_price is not None
    assert (await rest.get_order_by_client_id(order.client_order_id)).id == sent.id

    positions = await rest.list_positions()
    assert [(p.symbol, p.qty, p.side) for p in positions] == [("AAPL", 10, "long")]
    position = await rest.get_position("aapl")
    assert position.qty == 10 and position.avg_entry_price == done.filled_avg_price


async def test_limit_order_list_replace_and_cancel(rest: AlpacaREST) -> None:
    old = await resting_limit(rest, "AAPL", 1)
    assert old.limit_price is not None
    open_orders = await rest.list_orders()
    assert [o.id for o in open_orders] == [old.id]
    assert await rest.list_orders(symbols=["MSFT"]) == []
    assert [o.id for o in await rest.list_orders("all", symbols="AAPL")] == [old.id]

    lower = old.limit_price - Decimal("1.00")
    new = await rest.replace_order(old.id, qty=2, limit_price=lower)
    assert new.id != old.id and new.replaces == old.id
    assert new.qty == 2 and new.limit_price == lower

    async def replaced() -> WireOrder | None:
        current = await rest.get_order(old.id)
        return current if current.status == "replaced" else None

    assert (await eventually(replaced)).replaced_by == new.id

    assert await rest.cancel_order(new.id) is None

    async def canceled() -> WireOrder | None:
        current = await rest.get_order(new.id)
        return current if current.status == "canceled" else None

    await eventually(canceled)
    with pytest.raises(UnprocessableError) as err:
        await rest.cancel_order(new.id)
    assert err.value.status == 422 and "not cancelable" in err.value.message
    closed = await rest.list_orders("closed", direction="desc")
    assert [o.id for o in closed] == [new.id, old.id]
    assert await rest.list_orders() == []


async def test_cancel_all_returns_one_item_per_open_order(rest: AlpacaREST) -> None:
    a = await resting_limit(rest, "AAPL")
    b = await resting_limit(rest, "MSFT")
    items = await rest.cancel_all_orders()
    assert {i.id for i in items} == {a.id, b.id}
    assert all(i.ok and i.status == 200 and i.error is None for i in items)

    async def none_open() -> bool:
        return await rest.list_orders() == []

    await eventually(none_open)


async def test_close_one_position_then_close_all(rest: AlpacaREST) -> None:
    await market(rest, "AAPL", 10)
    await market(rest, "MSFT", 4)
    partial = await rest.close_position("AAPL", qty=4)
    assert partial.side == "sell" and partial.qty == 4

    async def aapl_is_six() -> bool:
        return (await rest.get_position("AAPL")).qty == 6

    await eventually(aapl_is_six)
    with pytest.raises(ValueError, match="not both"):
        await rest.close_position("AAPL", qty=1, percentage=5)

    items = await rest.close_all_positions()
    assert {i.symbol for i in items} == {"AAPL", "MSFT"}
    assert all(i.ok for i in items)
    orders = {i.symbol: i.order for i in items}
    assert all(o is not None and o.side == "sell" for o in orders.values())
    assert orders["AAPL"] is not None and orders["AAPL"].qty == 6

    async def flat() -> bool:
        return await rest.list_positions() == []

    await eventually(flat)
    with pytest.raises(NotFoundError):
        await rest.get_position("AAPL")


# --- activities and market data ----------------------------------------------------------------


async def test_activities_follow_pages_until_empty(rest: AlpacaREST, requests: Requests) -> None:
    orders = [await market(rest, "AAPL", 1) for _ in range(5)]
    path = "/v2/account/activities"
    before = requests.count("GET", path)
    fills = await rest.activities(activity_types=["FILL"], page_size=2)
    assert requests.count("GET", path) - before == 4  # pages of 2, 2, 1, then the empty one
    assert [a.order_id for a in fills] == [o.id for o in orders]  # each fill once, in order
    ids = [a.id for a in fills]
    assert ids == sorted(ids) and len(set(ids)) == 5
    assert all(a.is_fill and a.account_id is None for a in fills)  # Trading omits account_id

    streamed = [a.id async for a in rest.iter_activities(category="trade_activity", page_size=3)]
    assert streamed == ids
    newest_first = await rest.activities(direction="desc", page_size=100)
    assert [a.id for a in newest_first] == ids[::-1]
    assert await rest.activities(category="non_trade_activity") == []


async def test_latest_quotes_and_bars(rest: AlpacaREST) -> None:
    quotes = await rest.latest_quotes(["AAPL", "TSLA", "NOPE"])
    assert set(quotes) == {"AAPL", "TSLA"}  # unknown symbols are left out
    q = quotes["AAPL"]
    assert q.ask_price is not None and q.bid_price is not None
    assert q.ask_price > q.bid_price > 0
    bars = await rest.latest_bars("AAPL,SPY")
    assert set(bars) == {"AAPL", "SPY"}
    bar = bars["SPY"]
    assert bar.low <= min(bar.open, bar.close) and bar.high >= max(bar.open, bar.close)
    assert rest.data_rate_limit is not None and rest.data_rate_limit.limit == 200


async def test_historical_bars_across_pages(rest: AlpacaREST, requests: Requests) -> None:
    start = datetime(2026, 11, 23, 14, 30, tzinfo=UTC)
    end = datetime(2026, 11, 23, 15, 30, tzinfo=UTC)
    series = await rest.bars(["AAPL", "MSFT"], "1Min", start=start, end=end, limit=25)
    assert requests.count("GET", "/v2/stocks/bars") == 5  # 122 bars in pages of 25
    assert {s: len(b) for s, b in series.items()} == {"AAPL": 61, "MSFT": 61}
    for bars in series.values():
        stamps = [b.timestamp for b in bars]
        assert stamps == sorted(set(stamps))
        assert stamps[0] == start and stamps[-1] == end
    assert all(isinstance(b.close, Decimal) for b in series["AAPL"])


# --- the Broker family ----------------------------------------------------------------------------


async def test_broker_family_uses_basic_auth_and_account_routes(sim_with: Any) -> None:
    running: RunningEmulator = sim_with(strict_auth=True, accounts=2)  # strict: schemes checked
    async with httpx.AsyncClient(base_url=running.url, auth=(KEY, SECRET)) as plain:
        accounts = [a["id"] for a in (await plain.get("/v1/accounts")).json()]
    assert len(accounts) == 2
    requests = Requests()
    async with (
        connect(running, api="broker", account_id=accounts[1], requests=requests) as broker,
        connect(running, api="broker", account_id=accounts[0]) as other,
    ):
        assert (await broker.get_account()).id == accounts[1]
        order = await market(broker, "NVDA", 3)
        assert order.client_order_id is not None
        assert (await broker.get_order_by_client_id(order.client_order_id)).id == order.id
        assert [p.symbol for p in await broker.list_positions()] == ["NVDA"]
        assert await other.list_positions() == []  # the other account is untouched
        acts = await broker.activities(page_size=1)
        assert [(a.account_id, a.order_id) for a in acts] == [(accounts[1], order.id)]
        assert await other.activities() == []
        assert "AAPL" in await broker.latest_quotes("AAPL")  # data: key headers, even here
        items = await broker.close_all_positions()
        assert [(i.symbol, i.status) for i in items] == [("NVDA", 200)]
    prefix = f"/v1/trading/accounts/{accounts[1]}"
    assert requests.count("GET", f"{prefix}/account") == 1
    assert requests.count("DELETE", f"{prefix}/positions") == 1
    assert requests.count("GET", "/v1/accounts/activities") == 2
    with pytest.raises(ValueError, match="account_id"):
        AlpacaREST(running.url, running.url, KEY, SECRET, api="broker")


async def test_from_settings(sim: RunningEmulator, sim_with: Any) -> None:
    paper = Settings(
        mode="paper", base_url=sim.url + "/v2/", data_url=sim.url, key_id=KEY, secret_key=SECRET
    )
    async with AlpacaREST.from_settings(paper, sleep=FakeSleep()) as rest:
        assert rest.base_url == sim.url
        assert (await rest.get_account()).id
    simulated = Settings(mode="sim")
    with pytest.raises(ValueError, match="base_url"):
        AlpacaREST.from_settings(simulated)
    open_emulator: RunningEmulator = sim_with(key_id=None, secret_key=None)
    async with AlpacaREST.from_settings(simulated, base_url=open_emulator.url) as rest:
        assert (await rest.get_account()).id
        assert "SPY" in await rest.latest_bars(["SPY"])  # data on the emulator's own port


# --- errors, retries, faults --------------------------------------------------------------------


async def test_wrong_secret_is_authentication_error_without_retry_or_leak(
    sim: RunningEmulator, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    sleep, requests = FakeSleep(), Requests()
    async with connect(sim, secret=LEAKY_SECRET, sleep=sleep, requests=requests) as rest:
        with pytest.raises(AuthenticationError) as err:
            await rest.get_account()
        assert err.value.status == 401 and err.value.code == 40110000
        assert str(err.value) == "HTTP 401 40110000: request is not authorized"
        assert sleep.delays == [] and requests.count("GET", "/v2/account") == 1
        shown = [str(err.value), repr(err.value), str(rest), repr(rest), caplog.text]
        assert not [s for s in shown if LEAKY_SECRET in s]
    async with connect(sim, secret=LEAKY_SECRET, api="broker", account_id="x") as broker:
        assert LEAKY_SECRET not in repr(broker) and LEAKY_SECRET not in str(vars(broker))


async def test_forbidden_without_code_is_an_authentication_error(
    rest: AlpacaREST, control: httpx.AsyncClient, sleep: FakeSleep
) -> None:
    await control.post("/_emulator/faults", json={"kind": "reject_auth", "status": 403, "count": 1})
    with pytest.raises(AuthenticationError) as err:
        await rest.get_account()
    assert err.value.status == 403 and err.value.code is None
    assert str(err.value) == "HTTP 403: forbidden."
    assert sleep.delays == []
    assert (await rest.get_account()).id  # the fault was for one request


async def test_refused_connection_is_a_transport_error_without_leak(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    url = f"http://127.0.0.1:{free_port()}"
    sleep = FakeSleep()
    async with AlpacaREST(url, url, KEY, LEAKY_SECRET, retries=2, sleep=sleep, timeout=2.0) as rest:
        with pytest.raises(TransportError) as err:
            await rest.get_account()
        assert len(sleep.delays) == 2  # a GET is retried...
        assert isinstance(err.value.__cause__, httpx.ConnectError)
        assert err.value.status is None and "/v2/account" in str(err.value)
        shown = [str(err.value), repr(err.value), repr(rest), caplog.text]
        assert not [s for s in shown if LEAKY_SECRET in s]
        with pytest.raises(TransportError):
            await rest.submit_order(OrderBuilder().symbol("AAPL").buy(1).market().day().build())
        assert len(sleep.delays) == 2  # ...an order never is


async def test_typed_errors_carry_code_and_message(rest: AlpacaREST) -> None:
    with pytest.raises(NotFoundError) as missing:
        await rest.get_order(str(uuid.uuid4()))
    assert (missing.value.code, missing.value.message) == (40410000, "order not found")
    assert str(missing.value) == "HTTP 404 40410000: order not found"

    order = OrderBuilder().symbol("AAPL").buy(1).market().day().client_order_id().build()
    await rest.submit_order(order)
    with pytest.raises(UnprocessableError) as duplicate:
        await rest.submit_order(order)
    assert duplicate.value.code == 40010001
    assert duplicate.value.message == "client_order_id must be unique"

    with pytest.raises(ForbiddenError) as poor:
        await rest.submit_order(OrderBuilder().symbol("SPY").buy(1_000_000).market().day().build())
    assert poor.value.status == 403 and poor.value.code == 40310000
    assert str(poor.value) == "HTTP 403 40310000: insufficient buying power"
    assert Decimal(poor.value.context["buying_power"]) > 0
    assert isinstance(poor.value, AlpacaError)


async def test_connect_fault_on_get_is_retried_after_retry_after(
    rest: AlpacaREST, control: httpx.AsyncClient, sleep: FakeSleep, requests: Requests
) -> None:
    await control.post(
        "/_emulator/faults",
        json={"kind": "connect", "status": 503, "retry_after": 1, "scope": "rest", "count": 2},
    )
    account = await rest.get_account()
    assert account.id
    assert requests.count("GET", "/v2/account") == 3  # third time lucky
    assert len(sleep.delays) == 2 and all(d >= 1 for d in sleep.delays)
    state = (await control.get("/_emulator/state")).json()
    assert state["injected"]["connect_503"] == 2


async def test_connect_fault_on_post_is_not_retried(
    rest: AlpacaREST, control: httpx.AsyncClient, sleep: FakeSleep, requests: Requests
) -> None:
    await control.post(
        "/_emulator/faults",
        json={"kind": "connect", "status": 503, "retry_after": 1, "scope": "rest", "count": 2},
    )
    order = OrderBuilder().symbol("AAPL").buy(1).market().day().build()
    with pytest.raises(ServerError) as err:
        await rest.submit_order(order)
    assert err.value.status == 503 and err.value.retry_after == 1
    assert requests.count("POST", "/v2/orders") == 1 and sleep.delays == []
    await control.delete("/_emulator/faults")
    assert await rest.list_orders("all") == []  # no order was placed
    with pytest.raises(NotFoundError):
        await rest.get_order_by_client_id(order.client_order_id)


async def test_dropped_order_response_then_lookup_by_client_id(
    rest: AlpacaREST, control: httpx.AsyncClient, requests: Requests, sleep: FakeSleep
) -> None:
    await control.post("/_emulator/faults", json={"kind": "drop_order_response"})
    order = OrderBuilder().symbol("MSFT").buy(2).limit("1.00").gtc().build()
    with pytest.raises(TransportError) as err:
        await rest.submit_order(order)
    assert isinstance(err.value.__cause__, httpx.TransportError)
    assert requests.count("POST", "/v2/orders") == 1 and sleep.delays == []
    found = await rest.get_order_by_client_id(order.client_order_id)
    assert found.symbol == "MSFT" and found.qty == 2 and found.limit_price == Decimal("1.00")
    assert [o.id for o in await rest.list_orders("all")] == [found.id]  # exactly once


async def test_rate_limit_tracking_and_429_after_retries(sim_with: Any) -> None:
    running: RunningEmulator = sim_with(rate_limit_per_minute=3)
    frozen = time.time()
    # pin the emulator's minute window so the test cannot straddle a window boundary
    running.call(setattr, running.emulator.limiter, "wall", lambda: frozen)
    sleep, requests = FakeSleep(), Requests()
    async with connect(running, sleep=sleep, requests=requests, retries=2) as rest:
        assert rest.rate_limit is None
        remaining = []
        for _ in range(3):
            await rest.get_account()
            assert rest.rate_limit is not None and rest.rate_limit.limit == 3
            remaining.append(rest.rate_limit.remaining)
        assert remaining == [2, 1, 0]
        with pytest.raises(RateLimitError) as err:
            await rest.get_account()
        assert err.value.status == 429 and err.value.code == 42910000
        assert err.value.retry_after is not None and err.value.retry_after >= 1
        assert requests.count("GET", "/v2/account") == 6  # 3 allowed, 1 + 2 retries refused
        assert len(sleep.delays) == 2 and all(d >= 1 for d in sleep.delays)
        assert rest.rate_limit.remaining == 0
        assert rest.rate_limit.reset is not None and rest.rate_limit.reset > frozen


async def test_unreadable_bodies_far_retry_after_and_header_casing() -> None:
    """What the emulator never sends: an HTML 502 from a proxy with an HTTP-date Retry-After
    an hour away, mixed-case rate-limit headers, and a 200 that is not JSON."""
    calls: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request.url.path)
        headers = {"X-Ratelimit-Limit": "200", "X-Ratelimit-Remaining": "17"}
        if request.url.path == "/v2/account":
            later = format_datetime(datetime.now(UTC) + timedelta(hours=1), usegmt=True)
            return httpx.Response(
                502,
                headers={**headers, "Retry-After": later},
                text="<html><title>502 Bad Gateway</title><body>nginx</body></html>",
            )
        return httpx.Response(200, headers=headers, text="not json")

    sleep = FakeSleep()
    async with (
        httpx.AsyncClient(transport=httpx.MockTransport(handler)) as client,
        AlpacaREST(
            "https://paper-api.alpaca.markets/v2",
            "https://data.alpaca.markets",
            KEY,
            SECRET,
            client=client,
            sleep=sleep,
        ) as rest,
    ):
        with pytest.raises(ServerError) as err:
            await rest.get_account()
        assert str(err.value) == "HTTP 502 (non-JSON body): 502 Bad Gateway"
        assert err.value.code is None
        assert err.value.retry_after is not None and 3500 < err.value.retry_after <= 3600
        assert sleep.delays == []  # an hour is too long to hold a GET: raised at once
        assert rest.rate_limit is not None and rest.rate_limit.remaining == 17
        with pytest.raises(AlpacaError, match="not JSON"):
            await rest.list_positions()
    assert calls == ["/v2/account", "/v2/positions"]
