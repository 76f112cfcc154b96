"""The desk screen driven by Pilot against the real emulator over real HTTP: the trading keys
do what they say on the broker (pause, flatten, an order from the form), an invalid order never
leaves the form, an injected fault is seen and recovered from, and quitting says what stays."""

from __future__ import annotations

import contextlib
import io
import os
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import replace
from decimal import Decimal
from pathlib import Path
from typing import Any, cast

import httpx
import pytest
from rich.console import Console
from textual.pilot import Pilot
from textual.screen import Screen
from textual.widgets import Button, Input, OptionList, Select, Static

from tests.integration.conftest import BASE_CONFIG, KEY, KEY_HEADERS, SECRET
from tests.waiting import until
from tui_trader.broker.journal import Journal
from tui_trader.broker.status import State
from tui_trader.config import load_settings
from tui_trader.core.risk import TradingState
from tui_trader.desk.desk import Desk, DeskOptions
from tui_trader.desk.target import Target
from tui_trader.sim.runner import RunningEmulator, start_in_thread
from tui_trader.ui.app import TraderApp, build_app
from tui_trader.ui.panes.header import DeskHeader
from tui_trader.ui.screens.choice import ChoiceScreen
from tui_trader.ui.screens.confirm import ConfirmScreen
from tui_trader.ui.screens.main import DeskScreen
from tui_trader.ui.screens.order_entry import OrderEntryScreen

pytestmark = pytest.mark.integration

SYMBOLS = ("AAPL", "MSFT")
SIZE = (160, 50)


# ------------------------------------------------------------------------------ fixtures
@pytest.fixture
def sim() -> Iterator[RunningEmulator]:
    # Heartbeats every second, not the integration tests' 0.1 s: the desk learns its idle
    # timeout from them (3 periods), and here the emulator shares a process and a GIL with a
    # Textual app, whose busy moments read as a dead stream at 0.3 s; the desk then went to
    # REDUCING (cause STREAM) and denied the order tests' orders (1 run in 4 under CI=true).
    running = start_in_thread(replace(BASE_CONFIG, heartbeat_seconds=1.0))
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture
async def broker(sim: RunningEmulator) -> AsyncIterator[httpx.AsyncClient]:
    """The emulator's REST API with the test keys: what the broker really holds."""
    async with httpx.AsyncClient(base_url=sim.url, headers=KEY_HEADERS, timeout=10.0) as c:
        yield c


Started = tuple[TraderApp, Any, Desk]


@pytest.fixture
async def desk_app(
    sim: RunningEmulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[Callable[..., contextlib.AbstractAsyncContextManager[Started]]]:
    """``async with desk_app() as (app, pilot, desk)``: the real app over a real desk, running
    and streaming, with prices; the desk is shut down and the journal closed afterwards."""
    for name in list(os.environ):
        if name.upper().startswith(("APCA_", "TUI_TRADER_")):
            monkeypatch.delenv(name)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("APCA_API_KEY_ID", KEY)
    monkeypatch.setenv("APCA_API_SECRET_KEY", SECRET)
    journals: list[Journal] = []

    @contextlib.asynccontextmanager
    async def run(*, embedded: bool = False, **overrides: Any) -> AsyncIterator[Started]:
        # at the default 10 Hz the screen repaints non-stop once prices flow, which keeps the
        # process busy, and Pilot waits up to 1 s after every key for it to go idle
        settings = load_settings(base_url=sim.url, **{"ui": {"refresh_hz": 4}, **overrides})
        assert settings.key_id is not None and settings.secret_key is not None
        target = Target(
            sim.url,
            sim.url,
            settings.api,
            settings.key_id,
            settings.secret_key,
            embedded=sim if embedded else None,
        )
        journal = Journal.open(tmp_path / f"j{len(journals)}.sqlite3")
        journals.append(journal)
        desk = Desk(
            settings, target, journal, DeskOptions(trade=False, poll_interval=0.5, symbols=SYMBOLS)
        )
        app = build_app(settings, desk, user_themes=tmp_path / "themes")
        try:
            async with app.run_test(size=SIZE) as pilot:
                try:
                    await until(lambda: desk.snapshot().connection.state is State.STREAMING, 15)
                    await until(lambda: set(desk.snapshot().prices) == set(SYMBOLS), 10)
                    await pilot.pause()
                    yield app, pilot, desk
                finally:
                    await app.shutdown()
        finally:
            # Target.close() would stop the emulator: the sim fixture stops it, once
            target.embedded = None

    yield run
    for journal in journals:
        journal.close()


# ------------------------------------------------------------------------------- helpers
async def until_screen(app: TraderApp, kind: type[Screen[Any]], seconds: float = 10) -> Any:
    return await until(
        lambda: app.screen if isinstance(app.screen, kind) else None, seconds, kind.__name__
    )


async def send_when_allowed(
    app: TraderApp, pilot: Pilot[Any], form: OrderEntryScreen, preview: Static
) -> ConfirmScreen:
    """``ctrl+s`` until the confirm opens: the form asks the risk gate again on the press,
    and on a loaded machine a breaker can deny for a moment (seen once in CI); a trader
    would press again. Bounded; the last gate verdict is in the failure."""
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        await until(lambda: not form.query_one("#send", Button).disabled, 10, "Send enabled")
        await pilot.press("ctrl+s")
        with contextlib.suppress(AssertionError):
            confirm: ConfirmScreen = await until_screen(app, ConfirmScreen, 2)
            return confirm
    raise AssertionError(f"the order was never confirmable; last preview: {preview.content}")


async def settled(app: TraderApp, group: str) -> None:
    """Wait until the screen's worker for one key (``flatten``, ``order``) has finished (a
    finished worker leaves the manager; ``wait_for_complete([])`` would wait for the desk)."""
    await until(lambda: not any(w.group == group for w in app.workers), 10, f"{group} done")


def text_of(screen: Screen[Any]) -> str:
    """Every Static's text on the screen (labels, dialog lines)."""
    return "\n".join(str(s.content) for s in screen.query(Static))


def rendered(static: Static) -> str:
    console = Console(width=120, file=io.StringIO(), record=True, color_system=None)
    console.print(static.content)
    return console.export_text()


def connection_text(app: TraderApp) -> str:
    assert app.desk_screen is not None
    return rendered(app.desk_screen.query_one("#connection-body", Static))


def json_of(r: httpx.Response) -> Any:
    assert r.status_code == 200, r.text
    return r.json()


async def place(broker: httpx.AsyncClient, **order: Any) -> dict[str, Any]:
    request = {"side": "buy", "type": "market", "time_in_force": "day", **order}
    return cast(dict[str, Any], json_of(await broker.post("/v2/orders", json=request)))


async def positions(broker: httpx.AsyncClient) -> list[dict[str, Any]]:
    return cast(list[dict[str, Any]], json_of(await broker.get("/v2/positions")))


async def orders(broker: httpx.AsyncClient, status: str) -> list[dict[str, Any]]:
    r = await broker.get("/v2/orders", params={"status": status})
    return cast(list[dict[str, Any]], json_of(r))


def below(desk: Desk, symbol: str) -> str:
    """A buy limit well under the market: it rests."""
    return str((desk.snapshot().prices[symbol] / 2).quantize(Decimal("0.01")))


async def type_into(app: TraderApp, pilot: Any, selector: str, text: str) -> None:
    box = app.screen.query_one(selector, Input)
    box.focus()
    box.value = ""
    await pilot.press(*text)


async def holding(desk: Desk, broker: httpx.AsyncClient, symbol: str, qty: int) -> None:
    """A filled market buy, seen by the desk over its stream."""
    await place(broker, symbol=symbol, qty=str(qty))
    await until(
        lambda: (p := desk.snapshot().book.positions.get(symbol)) is not None and p.qty == qty,
        15,
        f"the desk sees {qty} {symbol}",
    )


# --------------------------------------------------------------------------------- tests
async def test_p_pauses_into_reducing_and_p_again_resumes(desk_app: Any) -> None:
    async with desk_app() as (app, pilot, desk):
        assert desk.snapshot().risk.state is TradingState.ACTIVE

        await pilot.press("p")

        risk = desk.snapshot().risk
        assert risk.paused and risk.state is TradingState.REDUCING
        assert desk.journal.get_setting("paused") is True
        assert "REDUCING PAUSED" in str(app.desk_screen.query_one(DeskHeader).content)

        await pilot.press("p")

        risk = desk.snapshot().risk
        assert not risk.paused and risk.state is TradingState.ACTIVE
        assert desk.journal.get_setting("paused") is False
        assert "PAUSED" not in str(app.desk_screen.query_one(DeskHeader).content)


async def test_f_then_y_leaves_the_broker_flat(desk_app: Any, broker: httpx.AsyncClient) -> None:
    async with desk_app() as (app, pilot, desk):
        await holding(desk, broker, "AAPL", 5)
        resting = await place(
            broker, symbol="MSFT", qty="1", type="limit", limit_price=below(desk, "MSFT")
        )
        assert resting["status"] in ("new", "accepted")

        await pilot.press("f")
        confirm = await until_screen(app, ConfirmScreen)
        text = text_of(confirm)
        assert "Cancel 1 open orders" in text and "Close 1 positions" in text
        assert "AAPL +5" in text
        await pilot.press("y")

        await until_screen(app, DeskScreen)
        await until(lambda: any(e.kind == "flatten" for e in desk.journal.audit_entries()), 15)
        assert await positions(broker) == []
        assert await orders(broker, "open") == []
        assert desk.snapshot().risk.paused  # flatten leaves trading paused


@pytest.mark.parametrize("key", ["n", "escape"])
async def test_f_then_no_sends_nothing(desk_app: Any, broker: httpx.AsyncClient, key: str) -> None:
    async with desk_app() as (app, pilot, desk):
        await holding(desk, broker, "AAPL", 5)
        sent = [o["id"] for o in await orders(broker, "all")]

        await pilot.press("f")
        await until_screen(app, ConfirmScreen)
        await pilot.press(key)
        await until_screen(app, DeskScreen)
        await settled(app, "flatten")

        # flatten pauses (and journals it) before it sends anything: it never started
        assert not desk.journal.audit_entries(kind="pause")
        assert [(p["symbol"], p["qty"]) for p in await positions(broker)] == [("AAPL", "5")]
        assert [o["id"] for o in await orders(broker, "all")] == sent
        assert not desk.journal.audit_entries(kind="flatten")
        assert not desk.snapshot().risk.paused


async def test_an_invalid_order_never_leaves_the_form(
    desk_app: Any, broker: httpx.AsyncClient
) -> None:
    async with desk_app() as (app, pilot, desk):
        await pilot.press("o")
        form: OrderEntryScreen = await until_screen(app, OrderEntryScreen)
        send = form.query_one("#send", Button)
        error = form.query_one("#order-error", Static)
        await type_into(app, pilot, "#symbol", "AAPL")

        cases = [
            ("abc", "market", "qty: not a decimal number", "#qty"),
            ("-5", "market", "qty: must be greater than 0", "#qty"),
            ("2", "limit", "limit_price: a price is required", "#limit"),
        ]
        for qty, kind, message, field in cases:
            await type_into(app, pilot, "#qty", qty)
            form.query_one("#type", Select).value = kind
            await pilot.pause()

            assert message in str(error.content), (qty, kind)
            assert error.has_class("-shown") and form.query_one(field).has_class("-invalid")
            assert send.disabled

            await pilot.press("ctrl+s")
            await pilot.click("#send")
            assert app.screen is form, "an invalid order left the form"

        await pilot.press("escape")
        await until_screen(app, DeskScreen)
        await settled(app, "order")

        assert await orders(broker, "all") == []
        assert not desk.journal.audit_entries(kind="risk")  # nothing even reached the gate


async def test_a_valid_order_from_the_form_reaches_the_emulator_as_typed(
    desk_app: Any, broker: httpx.AsyncClient
) -> None:
    async with desk_app() as (app, pilot, desk):
        limit = below(desk, "AAPL")
        await pilot.press("o")
        form: OrderEntryScreen = await until_screen(app, OrderEntryScreen)
        await type_into(app, pilot, "#symbol", "AAPL")
        await type_into(app, pilot, "#qty", "3")
        form.query_one("#type", Select).value = "limit"
        await type_into(app, pilot, "#limit", limit)
        form.query_one("#tif", Select).value = "gtc"
        preview = form.query_one("#order-preview", Static)
        await until(
            lambda: not form.query_one("#send", Button).disabled,
            10,
            f"Send enabled; preview: {preview.content}; risk: {desk.snapshot().risk.state}",
        )
        assert "gate: allowed" in str(preview.content)

        confirm = await send_when_allowed(app, pilot, form, preview)
        assert "Send this order?" in text_of(confirm)
        assert await orders(broker, "all") == []  # not before the confirm
        await pilot.press("y")

        placed = await until(
            lambda: desk.journal.audit_entries(kind="order"), 10, "the order is sent"
        )
        assert len(placed) == 1 and placed[0].data["outcome"] == "submitted"
        on_broker = await orders(broker, "all")
        assert len(on_broker) == 1
        got = on_broker[0]
        assert got["client_order_id"] == placed[0].data["client_order_id"]
        assert (got["symbol"], got["side"], got["qty"], got["type"]) == (
            "AAPL",
            "buy",
            "3",
            "limit",
        )
        assert Decimal(got["limit_price"]) == Decimal(limit)
        assert got["time_in_force"] == "gtc"


async def test_the_fault_menu_is_offered_only_on_the_embedded_emulator(desk_app: Any) -> None:
    async with desk_app() as (app, pilot, desk):
        assert desk.fault_keys == ()
        await pilot.press("x")
        await pilot.pause()
        assert app.screen is app.desk_screen


async def test_a_dropped_connection_backs_off_then_streams_again(desk_app: Any) -> None:
    stream = {"jitter": False, "backoff_base_seconds": 1.0}
    async with desk_app(embedded=True, stream=stream) as (app, pilot, desk):
        assert "drop" in desk.fault_keys
        seen: list[State] = []
        desk.supervisor.on_status(lambda _t, status: seen.append(status.state))

        await pilot.press("x")
        menu: ChoiceScreen = await until_screen(app, ChoiceScreen)
        choices = menu.query_one("#choices", OptionList)
        choices.highlighted = next(
            i for i in range(choices.option_count) if choices.get_option_at_index(i).id == "drop"
        )
        await pilot.press("enter")
        await until_screen(app, DeskScreen)

        await until(lambda: "BACKOFF" in connection_text(app), 10, "the pane shows BACKOFF")
        assert State.BACKOFF in seen
        await until(
            lambda: (
                desk.snapshot().connection.state is State.STREAMING
                and app.desk_screen.snap is not None
                and app.desk_screen.snap.connection.state is State.STREAMING
            ),
            15,
            "streaming again",
        )
        await until(
            lambda: "STREAMING" in (text := connection_text(app)) and "BACKOFF" not in text,
            5,
            "the pane shows STREAMING again",
        )
        snap = desk.snapshot()
        assert snap.connection.reconnects >= 1
        # the drop's own delay comes first; a reconnect inside the emulator's hold of the
        # vanished trading socket meets 429 and waits longer, as Alpaca makes a client wait
        assert snap.backoff_delays and snap.backoff_delays[0][1] == pytest.approx(1.0)
        assert any(e.kind == "fault" for e in desk.journal.audit_entries())


async def test_q_says_what_stays_resting_n_keeps_running_y_quits(
    desk_app: Any, broker: httpx.AsyncClient
) -> None:
    async with desk_app() as (app, pilot, desk):
        resting = await place(
            broker, symbol="AAPL", qty="1", type="limit", limit_price=below(desk, "AAPL")
        )

        await pilot.press("q")
        confirm = await until_screen(app, ConfirmScreen)
        text = text_of(confirm)
        assert "1 open order stay resting" not in text  # one order, said as one
        assert "1 open order stays resting" in text and "Nothing is canceled" in text
        await pilot.press("n")
        await until_screen(app, DeskScreen)
        await pilot.pause()
        assert app.is_running

        await pilot.press("q")
        await until_screen(app, ConfirmScreen)
        await pilot.press("y")
        await until(lambda: not app.is_running, 10, "the app exits")

        assert desk.supervisor.status().state is not State.STREAMING
        assert [o["id"] for o in await orders(broker, "open")] == [resting["id"]]
