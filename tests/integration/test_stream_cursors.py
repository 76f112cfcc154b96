"""The SSE cursor rules and wire framing, observed over real HTTP with nothing but httpx.

Contract: ../shared/alpaca/API.md §2.1-§2.3 and the emulator defaults of §9 (exclusive
``since_id``, inclusive ``until_id``, a date means 00:00 UTC, 400 with code 40010000 for a bad
combination, byte-identical replay, ``/v1/events/trades`` answering 410 unless enabled).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import httpx
import pytest

from tests.integration.conftest import BASE_CONFIG, START, client_for
from tests.integration.sse import (
    LiveStream,
    Received,
    advance,
    inject,
    is_event,
    is_heartbeat,
    payload,
    read_stream,
)
from tui_trader.sim.runner import start_in_thread

TRADES = "/v2/events/trades"
TRADES_V2BETA1 = "/v2beta1/events/trades"
TRADES_V1 = "/v1/events/trades"
ACCOUNTS = "/v1/events/accounts/status"
NTA = "/v1/events/nta"
BEFORE_START = "2026-11-01"
STREAM_OF = {TRADES: "trades", TRADES_V2BETA1: "trades", ACCOUNTS: "accounts", NTA: "nta"}
ID_KEY = {TRADES: "event_id", ACCOUNTS: "event_ulid", NTA: "event_ulid"}  # the ULID of each


# --------------------------------------------------------------------------- helpers
EVERYTHING = {"since": BEFORE_START}


def replay(client: httpx.Client, path: str, params: dict[str, Any] | None = EVERYTHING) -> Received:
    """A replay that stays open: everything it replays arrives before the first heartbeat.

    ``params=None`` sends ``path`` as is (its own query string untouched)."""
    got = read_stream(client, path, params, stop=lambda r: bool(r.comments))
    assert got.status == 200 and got.ended == "stopped", got
    return got


def bounded(client: httpx.Client, path: str, params: dict[str, Any]) -> Received:
    """A replay with an end point: the body must end by itself."""
    got = read_stream(client, path, params, max_seconds=5)
    assert got.status == 200, got
    assert got.ended == "eof", got.ended
    return got


def raw_body(client: httpx.Client, path: str, params: dict[str, Any]) -> bytes:
    """The bytes of a replay with an end point; fails if the body does not end within 5 s
    (heartbeats keep chunks coming, so the deadline is checked even on an idle stream)."""
    chunks: list[bytes] = []
    deadline = time.monotonic() + 5.0
    with client.stream("GET", path, params=params, timeout=httpx.Timeout(5.0, read=2.0)) as r:
        assert r.status_code == 200
        for chunk in r.iter_bytes():
            chunks.append(chunk)
            if time.monotonic() > deadline:
                raise AssertionError(f"the body did not end: {b''.join(chunks)[-200:]!r}")
    return b"".join(chunks)


def data_lines(got: Received) -> list[str]:
    return [line for line in got.lines if line.startswith("data:")]


# ------------------------------------------------------------------ starting points
@pytest.mark.parametrize("path", [TRADES, ACCOUNTS, NTA])
def test_no_starting_point_means_live_only(
    client: httpx.Client, admin: httpx.Client, path: str
) -> None:
    inject(admin, STREAM_OF[path])
    key = ID_KEY[path]
    before = replay(client, path).ids(key)
    assert before  # something in the past that a live connection must not send
    with LiveStream(client, path) as s:
        s.read_until(is_heartbeat)
        inject(admin, STREAM_OF[path])
        event = payload(s.read_until(is_event)[-1])
    assert event[key] not in before
    assert replay(client, path).ids(key) == [*before, event[key]]


def test_last_event_id_header_is_ignored(client: httpx.Client, admin: httpx.Client) -> None:
    inject(admin, n=2)
    first = replay(client, TRADES).ids()[0]
    with LiveStream(client, TRADES, headers={"Last-Event-ID": first}) as s:
        lines = s.read_until(is_heartbeat)
    assert lines == [":heartbeat"]  # no replay from the header: live only


def test_since_id_replays_exclusively_then_stays_open(
    client: httpx.Client, admin: httpx.Client
) -> None:
    inject(admin, n=3)
    ids = replay(client, TRADES).ids()
    with LiveStream(client, TRADES, {"since_id": ids[0]}) as s:
        replayed = [payload(x)["event_id"] for x in s.read_until(is_heartbeat) if is_event(x)]
        inject(admin)  # still open: a live event follows the replay
        live = payload(s.read_until(is_event)[-1])["event_id"]
    assert replayed == ids[1:]
    assert live > ids[-1]


def test_since_id_with_until_id_replays_inclusively_then_ends(
    client: httpx.Client, admin: httpx.Client
) -> None:
    inject(admin, n=4)
    ids = replay(client, TRADES).ids()
    got = bounded(client, TRADES, {"since_id": ids[0], "until_id": ids[2]})
    assert got.ids() == ids[1:3]
    assert not got.comments


def test_since_id_older_than_retention_starts_from_the_oldest_kept(
    sim_with: Any, admin_for: Any
) -> None:
    running = sim_with(retention=3)
    adm = admin_for(running)
    with client_for(running) as c:
        inject(adm, n=2)
        trimmed = replay(c, TRADES).ids()[0]
        inject(adm, n=3)
        kept = replay(c, TRADES).ids()
        got = bounded(c, TRADES, {"since_id": trimmed, "until_id": kept[-1]})
    assert len(kept) == 3 and trimmed not in kept
    assert got.ids() == kept


# ------------------------------------------------------------------------ time cursors
@pytest.fixture(scope="module")
def timed() -> Iterator[tuple[httpx.Client, list[str]]]:
    """A frozen-clock emulator with trade events at START, START+10 s and START+20 s;
    sim time then stands at START+40 s. Shared by the module's read-only time tests."""
    with (
        start_in_thread(replace(BASE_CONFIG, speed=0)) as running,
        httpx.Client(base_url=running.url, timeout=10.0) as adm,
        client_for(running) as c,
    ):
        for _ in range(3):
            inject(adm)
            advance(adm, 10)
        advance(adm, 20)
        got = replay(c, TRADES)
        assert [e["at"] for e in got.events] == [
            "2026-11-24T15:00:00.000000Z",
            "2026-11-24T15:00:10.000000Z",
            "2026-11-24T15:00:20.000000Z",
        ]
        yield c, got.ids()


@pytest.fixture(scope="module")
def shared() -> Iterator[tuple[httpx.Client, httpx.Client]]:
    """One emulator for the tests that only read refusals and headers: (client, admin)."""
    with (
        start_in_thread(replace(BASE_CONFIG)) as running,
        httpx.Client(base_url=running.url, timeout=10.0) as adm,
        client_for(running) as c,
    ):
        yield c, adm


SINCE_FORMS = [
    ("2026-11-24T15:00:05Z", 1),
    ("2026-11-24T10:00:05-05:00", 1),
    ("2026-11-24T20:00:05%2B05:00", 1),  # '+' encoded as the docs ask
    ("2026-11-24T20:00:05+05:00", 1),  # a literal '+': the server decodes it as a space
    ("2026-11-24T20:00:05 05:00", 1),  # the space itself
    ("2026-11-24T15:00:05.123456789Z", 1),
    ("2026-11-24T15:00:10.000000000Z", 1),  # at an event's exact time: included
    ("2026-11-24T15:00:10.000001Z", 2),  # a microsecond later: excluded
    ("2026-11-24", 0),  # a bare date: 00:00 UTC
    ("2026-11-25", 3),
]


@pytest.mark.parametrize(("since", "first"), SINCE_FORMS, ids=[s for s, _ in SINCE_FORMS])
def test_since_replays_by_event_time(
    timed: tuple[httpx.Client, list[str]], since: str, first: int
) -> None:
    c, ids = timed
    url = f"{TRADES}?since={since.replace(' ', '%20')}"
    if "+" in since:  # the literal '+' really goes out unencoded
        assert "+" in str(c.build_request("GET", url).url.query, "ascii")
    got = replay(c, url, None)
    assert got.ids() == ids[first:]


def test_since_in_the_future_sends_no_older_live_event(
    client: httpx.Client, admin: httpx.Client
) -> None:
    with LiveStream(client, TRADES, {"since": "2030-01-01"}) as s:
        s.read_until(is_heartbeat)
        inject(admin)  # stamped 2026-11-24: before the requested starting point
        lines = [line for _ in range(3) for line in s.read_until(is_heartbeat)]
    assert not [x for x in lines if is_event(x)], "an event older than `since` was sent"


def test_since_with_until_replays_the_window_then_ends(
    timed: tuple[httpx.Client, list[str]],
) -> None:
    c, ids = timed
    got = bounded(c, TRADES, {"since": "2026-11-24T15:00:05Z", "until": "2026-11-24T15:00:15Z"})
    assert got.ids() == [ids[1]]
    inclusive = bounded(
        c, TRADES, {"since": "2026-11-24T15:00:10Z", "until": "2026-11-24T15:00:20Z"}
    )
    assert inclusive.ids() == ids[1:]
    # an end point past the last event but before sim time ends once the replay is done
    tail = bounded(c, TRADES, {"since": "2026-11-24", "until": "2026-11-24T15:00:30Z"})
    assert tail.ids() == ids


# ------------------------------------------------------------------------------ errors
RULE_VIOLATIONS = [
    (TRADES, {"until": "2026-11-25"}),
    (TRADES, {"until_id": "01M87149C0FCP5XMTFWMX0JS9M"}),
    (TRADES, {"since": "2026-11-24", "since_id": "01M87149C0FCP5XMTFWMX0JS9M"}),
    (TRADES, {"since_ulid": "01M87149C0FCP5XMTFWMX0JS9M"}),
    (TRADES, {"since": "yesterday"}),
    (TRADES, {"since": "2026-11-24", "until": "2026-13-40"}),
    (TRADES_V2BETA1, {"until": "2026-11-25"}),
    (ACCOUNTS, {"since": "2026-11-24", "since_ulid": "01M87149C0FCP5XMTFWMX0JS9M"}),
    (ACCOUNTS, {"since_id": "12000001", "since_ulid": "01M87149C0FCP5XMTFWMX0JS9M"}),
    (ACCOUNTS, {"since_id": "01M87149C0FCP5XMTFWMX0JS9M"}),
    (ACCOUNTS, {"since_id": "12000001", "until_id": "later"}),
    (ACCOUNTS, {"until_ulid": "01M87149C0FCP5XMTFWMX0JS9M"}),
    (ACCOUNTS, {"until_id": "12000005"}),
    (NTA, {"since": "2026-11-24", "since_id": "14000001"}),
    (NTA, {"since_id": "1.5"}),
    (NTA, {"since": "not-a-time"}),
]


@pytest.mark.parametrize(
    ("path", "params"),
    RULE_VIOLATIONS,
    ids=[f"{p.split('/')[1]}-{p.split('/')[-1]}-{'+'.join(q)}" for p, q in RULE_VIOLATIONS],
)
def test_cursor_rule_violation_is_a_400_with_an_error_body(
    shared: tuple[httpx.Client, httpx.Client], path: str, params: dict[str, str]
) -> None:
    client, admin = shared
    with client.stream("GET", path, params=params) as r:
        r.read()
    assert r.status_code == 400
    assert r.headers["content-type"].startswith("application/json")
    body = r.json()
    assert set(body) == {"code", "message"}
    assert body["code"] == 40010000
    assert isinstance(body["message"], str) and body["message"]
    assert admin.get("/_emulator/state").json()["connections"].get(STREAM_OF[path], 0) == 0


# -------------------------------------------------------------------------- v1 streams
@pytest.mark.parametrize("path", [ACCOUNTS, NTA])
def test_v1_streams_carry_integer_ids_and_take_both_cursor_kinds(
    client: httpx.Client, admin: httpx.Client, path: str
) -> None:
    inject(admin, STREAM_OF[path], n=3)
    events = replay(client, path).events
    assert len(events) >= 3
    ints = [e["event_id"] for e in events]
    ulids = [e["event_ulid"] for e in events]
    assert all(type(i) is int for i in ints)
    assert ints == list(range(ints[0], ints[0] + len(ints)))
    assert all(isinstance(u, str) and len(u) == 26 for u in ulids)
    assert ulids == sorted(ulids) and len(set(ulids)) == len(ulids)
    by_ulid = bounded(client, path, {"since_ulid": ulids[-3], "until_ulid": ulids[-2]})
    by_int = bounded(client, path, {"since_id": str(ints[-3]), "until_id": str(ints[-2])})
    assert by_ulid.ids("event_ulid") == [ulids[-2]]
    assert data_lines(by_int) == data_lines(by_ulid)  # the same event, byte for byte
    open_ended = replay(client, path, {"since_id": str(ints[-3])})
    assert open_ended.ids() == ints[-2:]


def test_v2beta1_trades_is_an_alias_of_v2(client: httpx.Client, admin: httpx.Client) -> None:
    inject(admin, n=3)
    ids = replay(client, TRADES).ids()
    params = {"since_id": ids[0], "until_id": ids[2]}
    v2 = bounded(client, TRADES, params)
    beta = bounded(client, TRADES_V2BETA1, params)
    assert v2.ids() == ids[1:]
    assert data_lines(beta) == data_lines(v2)


def test_v1_trades_is_gone_by_default(client: httpx.Client) -> None:
    with client.stream("GET", TRADES_V1) as r:
        r.read()
    assert r.status_code == 410
    assert r.headers["content-type"].startswith("application/json")
    body = r.json()
    assert body["code"] == 41010000
    assert "/v2/events/trades" in body["message"]


def test_v1_trades_with_the_legacy_flag_serves_integer_ids(sim_with: Any, admin_for: Any) -> None:
    running = sim_with(legacy_v1_trades=True)
    adm = admin_for(running)
    inject(adm, n=3)
    with client_for(running) as c:
        v2 = replay(c, TRADES).events
        v1 = replay(c, TRADES_V1).events
        ints = [e["event_id"] for e in v1]
        by_id = bounded(c, TRADES_V1, {"since_id": str(ints[0]), "until_id": str(ints[1])})
        by_ulid = bounded(
            c, TRADES_V1, {"since_ulid": v2[0]["event_id"], "until_ulid": v2[1]["event_id"]}
        )
        with c.stream("GET", TRADES_V1) as r:
            assert r.headers["content-type"].startswith("text/event-stream")
    assert all(type(i) is int for i in ints) and ints == sorted(ints)
    assert [e["event_ulid"] for e in v1] == [e["event_id"] for e in v2]
    for old, new in zip(v1, v2, strict=True):
        assert {k: v for k, v in old.items() if k not in ("event_id", "event_ulid")} == {
            k: v for k, v in new.items() if k != "event_id"
        }
    assert by_id.ids() == [ints[1]]
    assert data_lines(by_ulid) == data_lines(by_id)


# ------------------------------------------------------------------ replay and framing
def test_replay_is_byte_identical_to_the_first_delivery(
    client: httpx.Client, admin: httpx.Client
) -> None:
    order = {"symbol": "AAPL", "qty": "3", "side": "buy", "type": "market"}
    with LiveStream(client, TRADES) as s:
        s.read_until(is_heartbeat)
        r = client.post("/v2/orders", json={**order, "time_in_force": "day"})
        assert r.status_code == 200, r.text
        advance(admin, 1)
        live = [x for x in s.read_until(lambda x: '"event":"fill"' in x) if is_event(x)]
    assert [payload(x)["event"] for x in live] == ["pending_new", "new", "fill"]
    ids = [payload(x)["event_id"] for x in live]
    again = raw_body(client, TRADES, {"since_id": "0", "until_id": ids[-1]})
    assert again == b"".join(b"%s\n\n" % x.encode() for x in live)


def test_every_account_starts_with_one_activation_event(
    client: httpx.Client,
) -> None:
    account = client.get("/v2/account").json()
    got = replay(client, ACCOUNTS, {"since": "2026-11-23"})
    assert len(got.events) == 1
    event = got.events[0]
    assert event["account_id"] == account["id"]
    assert event["account_number"] == account["account_number"]
    assert (event["status_from"], event["status_to"]) == ("APPROVED", "ACTIVE")
    assert type(event["event_id"]) is int and isinstance(event["event_ulid"], str)
    assert event["at"].startswith(START.strftime("%Y-%m-%dT%H:%M:%S"))
    # and it is in the past for a live connection
    live = read_stream(client, ACCOUNTS, stop=lambda r: bool(r.comments))
    assert live.ended == "stopped" and not live.events


@pytest.mark.parametrize("path", [TRADES, TRADES_V2BETA1, ACCOUNTS, NTA])
def test_content_type_is_event_stream(shared: tuple[httpx.Client, httpx.Client], path: str) -> None:
    client, _ = shared
    with client.stream("GET", path) as r:
        assert r.status_code == 200
        assert r.headers["content-type"].split(";")[0].strip() == "text/event-stream"


@pytest.mark.parametrize("path", [TRADES, ACCOUNTS, NTA])
def test_each_event_is_one_compact_data_line_and_a_blank_line(
    client: httpx.Client, admin: httpx.Client, path: str
) -> None:
    if path == TRADES:
        r = client.post(
            "/v2/orders",
            json={
                "symbol": "MSFT",
                "qty": "1",
                "side": "buy",
                "type": "market",
                "time_in_force": "day",
            },
        )
        assert r.status_code == 200, r.text
        advance(admin, 1)
    inject(admin, STREAM_OF[path], n=2)
    events = replay(client, path).events
    key = ID_KEY[path]
    cursor = "since_id" if path == TRADES else "since_ulid"
    until = "until_id" if path == TRADES else "until_ulid"
    body = raw_body(client, path, {cursor: "0", until: events[-1][key]})
    assert b"\r" not in body
    blocks = body.split(b"\n\n")
    assert blocks[-1] == b""  # ends with a blank line
    blocks = blocks[:-1]
    assert len(blocks) == len(events)
    for block, event in zip(blocks, events, strict=True):
        assert b"\n" not in block  # one line per event
        assert block.startswith(b"data: {")
        text = block[len(b"data: ") :].decode()
        assert json.loads(text) == event
        assert json.dumps(json.loads(text), separators=(",", ":")) == text  # compact
    for field in (b"event:", b"id:", b"retry:"):
        assert not any(line.startswith(field) for line in body.splitlines())


def test_stream_lines_are_only_data_or_comments(client: httpx.Client, admin: httpx.Client) -> None:
    deadline = time.monotonic() + 0.5
    with LiveStream(client, TRADES) as s:
        s.read_until(is_heartbeat)
        inject(admin, n=2)
        lines = s.read_until(lambda _: time.monotonic() > deadline)
    assert sum(is_event(x) for x in lines) == 2
    assert all(is_event(x) or is_heartbeat(x) for x in lines), lines
