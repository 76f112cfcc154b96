"""How fast the emulator serves a backlog over SSE, and what parsing each event costs.

Prints figures (no pass/fail), each beside a baseline measured in the same run:

* backlog build: trade events written per second by ``/_emulator/backlog``;
* SSE replay: events/s a client receives reading raw lines from ``since=`` replay, against
  the same bytes served as a single plain HTTP body (the network + HTTP floor);
* parsing: ``parse_event`` (pydantic, Decimal, UTC timestamps) against bare ``json.loads``.

Run: ``make bench`` or ``.venv/bin/python bench/emulator_stream.py [--orders N]``.
"""

from __future__ import annotations

import argparse
import json
import resource
import time

import httpx

from tui_trader.core.events import parse_event
from tui_trader.sim.emulator import EmulatorConfig
from tui_trader.sim.runner import start_in_thread

HEADERS = {"APCA-API-KEY-ID": "bench", "APCA-API-SECRET-KEY": "bench"}


def read_replay(url: str, expected: int) -> tuple[list[str], float]:
    lines: list[str] = []
    timeout = httpx.Timeout(30.0, read=10.0)
    start = time.perf_counter()
    with (
        httpx.Client(base_url=url, headers=HEADERS, timeout=timeout) as client,
        client.stream("GET", "/v2/events/trades", params={"since": "2000-01-01"}) as response,
    ):
        for line in response.iter_lines():
            if line.startswith("data: "):
                lines.append(line[6:])
                if len(lines) >= expected:
                    break
    return lines, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--orders", type=int, default=20_000, help="orders in the backlog")
    args = parser.parse_args()

    config = EmulatorConfig(history_days=1, heartbeat_seconds=5.0, rate_limit_per_minute=10**6)
    with start_in_thread(config) as sim:
        t0 = time.perf_counter()
        built = httpx.post(
            f"{sim.url}/_emulator/backlog", json={"orders": args.orders}, timeout=600
        ).json()["trade_events"]
        build_s = time.perf_counter() - t0
        lines, sse_s = read_replay(sim.url, built)
        assert len(lines) == built, f"received {len(lines)} of {built}"

    # the floor: the same bytes as one plain body from a trivial loopback HTTP server
    payload = "".join(f"data: {line}\n\n" for line in lines).encode()
    floor_s = _plain_body_seconds(payload)

    t0 = time.perf_counter()
    for line in lines:
        json.loads(line)
    json_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    for line in lines:
        parse_event("trades", line)
    parse_s = time.perf_counter() - t0

    n = len(lines)
    mb = len(payload) / 1e6
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"events: {n:,} trade events ({mb:.1f} MB on the wire)")
    print(f"backlog build:        {n / build_s:>10,.0f} events/s  ({build_s:.2f} s)")
    print(f"SSE replay (emulator):{n / sse_s:>10,.0f} events/s  ({sse_s:.2f} s)")
    print(
        f"  baseline plain body:{n / floor_s:>10,.0f} events/s  ({floor_s:.2f} s)"
        f"  -> emulator at {floor_s / sse_s:.2f}x the floor"
    )
    print(f"parse_event:          {n / parse_s:>10,.0f} events/s  ({parse_s:.2f} s)")
    print(
        f"  baseline json.loads:{n / json_s:>10,.0f} events/s  ({json_s:.2f} s)"
        f"  -> parse_event at {json_s / parse_s:.2f}x json.loads"
    )
    print(f"peak RSS (this process, emulator included): {rss:,.0f} MB")


def _plain_body_seconds(payload: bytes) -> float:
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *args: object) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        port = server.server_address[1]
        t0 = time.perf_counter()
        count = 0
        with (
            httpx.Client(timeout=30) as client,
            client.stream("GET", f"http://127.0.0.1:{port}/") as response,
        ):
            for line in response.iter_lines():
                if line.startswith("data: "):
                    count += 1
        return time.perf_counter() - t0
    finally:
        server.shutdown()


if __name__ == "__main__":
    main()
