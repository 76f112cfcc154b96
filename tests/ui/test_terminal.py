"""``tui-trader`` as a user runs it: in a real pseudo-terminal, on the embedded emulator,
keys typed, and ``q`` leaves the terminal as it found it (alternate screen left, cursor shown).
"""

from __future__ import annotations

import fcntl
import os
import pty
import select
import signal
import struct
import sys
import termios
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="needs a POSIX pty")


class Terminal:
    def __init__(self, argv: list[str], env: dict[str, str], cols: int = 100, rows: int = 30):
        self.pid, self.fd = pty.fork()
        if self.pid == 0:  # the child: becomes tui-trader on the pty
            os.execvpe(argv[0], argv, env)
        fcntl.ioctl(self.fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
        self.out = b""

    def read_until(self, needle: bytes, seconds: float) -> bool:
        deadline = time.monotonic() + seconds
        while needle not in self.out and time.monotonic() < deadline:
            ready, _, _ = select.select([self.fd], [], [], 0.2)
            if ready:
                try:
                    chunk = os.read(self.fd, 65536)
                except OSError:
                    break
                if not chunk:
                    break
                self.out += chunk
        return needle in self.out

    def type(self, keys: str) -> None:
        os.write(self.fd, keys.encode())

    def wait(self, seconds: float) -> int | None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            self.read_until(b"\x00never", 0.2)  # keep draining so the child never blocks
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                return os.waitstatus_to_exitcode(status)
        return None

    def kill(self) -> None:
        try:
            os.kill(self.pid, signal.SIGKILL)
            os.waitpid(self.pid, 0)
        except (ProcessLookupError, ChildProcessError):
            pass
        os.close(self.fd)


def test_tui_trader_opens_takes_keys_and_quits_cleanly(tmp_path: Path) -> None:
    exe = Path(sys.executable).with_name("tui-trader")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("APCA_", "TUI_TRADER_"))}
    (tmp_path / "cfg.toml").write_text("")
    env.update(
        TERM="xterm-256color",
        TUI_TRADER_CONFIG=str(tmp_path / "cfg.toml"),
        XDG_STATE_HOME=str(tmp_path / "state"),
        XDG_DATA_HOME=str(tmp_path / "data"),
        XDG_CONFIG_HOME=str(tmp_path / "config"),
    )
    term = Terminal([str(exe)], env)
    try:
        assert term.read_until(b"STREAMING", 60), term.out[-2000:]
        assert b"Breakers" in term.out and b"Positions" in term.out
        term.out = b""
        term.type("p")  # pause: the header says so
        assert term.read_until(b"PAUSED", 10), term.out[-2000:]
        term.type("p")
        term.out = b""
        term.type("q")  # quit says what happens to resting orders first
        # "0 open orders", "1 open order", "3 open orders": the policy may have one resting
        assert term.read_until(b"open order", 10), term.out[-2000:]
        term.type("y")
        code = term.wait(20)
        assert code == 0, term.out[-2000:]
        tail = term.out[-400:]
        assert b"\x1b[?1049l" in tail  # left the alternate screen
        assert b"\x1b[?25h" in tail  # cursor shown again
    finally:
        term.kill()
