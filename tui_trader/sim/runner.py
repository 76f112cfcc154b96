"""Starting the emulator's HTTP server: in a background thread (tests, the default app run)
or in the foreground (``tui-trader sim``). Always on a loopback address.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import uvicorn

from tui_trader.sim.emulator import Emulator, EmulatorConfig
from tui_trader.sim.faults import FaultSpec
from tui_trader.sim.server import create_app


def loopback_address(host: str) -> str:
    """The literal loopback address for ``host``; anything else is refused outright.

    Only IP literals (and ``localhost``) are accepted, so no name lookup can ever turn a
    harmless-looking host into an address reachable from the network.
    """
    if host == "localhost":
        return "127.0.0.1"
    try:
        address = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        raise ValueError(f"the emulator only binds to a loopback address, not {host!r}") from None
    if not address.is_loopback:
        raise ValueError(f"the emulator only binds to a loopback address, not {host!r}")
    return str(address)


def bind(host: str = "127.0.0.1", port: int = 0) -> socket.socket:
    """A listening socket on loopback."""
    address = loopback_address(host)
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    # IPPROTO_TCP explicitly: asyncio sets TCP_NODELAY on accepted sockets only when the
    # listener says it is TCP; with protocol 0 every reused connection waited ~40 ms for a
    # delayed ACK (measured by bench/ui.py: 44 ms vs 0.7 ms per request)
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((address, port))
    sock.listen(128)
    sock.setblocking(False)
    return sock


def url_of(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


class _Server(uvicorn.Server):
    """Ends the emulator's streams as soon as shutdown starts, so it never waits on them."""

    def __init__(self, config: uvicorn.Config, emulator: Emulator) -> None:
        super().__init__(config)
        self.emulator = emulator
        self.ready = threading.Event()
        self.on_ready: Callable[[], None] | None = None

    def handle_exit(self, sig: int, frame: Any) -> None:
        self._close_streams()
        super().handle_exit(sig, frame)

    def _close_streams(self) -> None:
        if self.emulator.closing is not None:
            self.emulator.closing.set()
        for log in self.emulator.exchange.logs.values():
            log.wake_all()

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        self.ready.set()
        if self.on_ready is not None and self.started:
            self.on_ready()


def _server(emulator: Emulator, log_level: str) -> _Server:
    config = uvicorn.Config(
        create_app(emulator),
        log_level=log_level,
        access_log=False,
        lifespan="on",
        timeout_graceful_shutdown=2,
        ws="websockets-sansio",
    )
    return _Server(config, emulator)


@dataclass
class RunningEmulator:
    """An emulator serving from a background thread; use as a context manager or stop()."""

    emulator: Emulator
    url: str
    _server: _Server
    _thread: threading.Thread
    _loop: asyncio.AbstractEventLoop | None = None

    def call(self, fn: Any, *args: Any) -> Any:
        """Run ``fn(*args)`` on the server's loop (the emulator is not thread-safe)."""
        assert self._loop is not None

        async def run() -> Any:
            return fn(*args)

        return asyncio.run_coroutine_threadsafe(run(), self._loop).result(timeout=30)

    def stop(self) -> None:
        if self._loop is not None and self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._server._close_streams)
        self._server.should_exit = True
        self._thread.join(timeout=15)

    def __enter__(self) -> RunningEmulator:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def start_in_thread(
    config: EmulatorConfig | None = None,
    host: str = "127.0.0.1",
    port: int = 0,
    log_level: str = "warning",
) -> RunningEmulator:
    sock = bind(host, port)
    emulator = Emulator(config)
    server = _server(emulator, log_level)
    holder: dict[str, asyncio.AbstractEventLoop] = {}

    def run() -> None:
        async def main() -> None:
            holder["loop"] = asyncio.get_running_loop()
            await server.serve(sockets=[sock])

        asyncio.run(main())

    thread = threading.Thread(target=run, name="tui-trader-emulator", daemon=True)
    running = RunningEmulator(emulator, url_of(sock), server, thread)
    thread.start()
    if not server.ready.wait(timeout=30):
        raise RuntimeError("the emulator did not start within 30 s")
    running._loop = holder["loop"]
    return running


async def serve_forever(
    config: EmulatorConfig,
    host: str,
    port: int,
    announce: Any,
    log_level: str = "warning",
    faults: Sequence[FaultSpec] = (),
) -> None:
    """Serve in the current loop until SIGINT/SIGTERM; ``announce(url, emulator)`` once ready."""
    sock = bind(host, port)
    emulator = Emulator(config)
    for spec in faults:
        emulator.arm(spec)
    server = _server(emulator, log_level)
    server.on_ready = lambda: announce(url_of(sock), emulator)
    await server.serve(sockets=[sock])
