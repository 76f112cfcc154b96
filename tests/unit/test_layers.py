"""The core stays pure: importing it pulls in no UI, network, server or storage library.

Checked in a fresh interpreter, so that what other tests imported does not hide a leak.
"""

from __future__ import annotations

import json
import subprocess
import sys

FORBIDDEN = ("textual", "httpx", "httpx_sse", "starlette", "uvicorn", "sqlite3", "asyncio")


def test_core_imports_no_io_libraries() -> None:
    code = (
        "import json, sys\n"
        "import tui_trader.core.events, tui_trader.core.models, tui_trader.core.orders\n"
        "import tui_trader.core.types, tui_trader.core.backoff, tui_trader.core.risk\n"
        "import tui_trader.core.convexity\n"
        "import tui_trader.core.portfolio\n"
        "import tui_trader.core.policy, tui_trader.core.backtest\n"
        "print(json.dumps(sorted(sys.modules)))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    ).stdout
    loaded = set(json.loads(out))
    leaked = sorted(m for m in loaded if m.split(".")[0] in FORBIDDEN)
    assert leaked == [], f"tui_trader.core imported {leaked}"


def test_sim_does_not_reach_into_future_layers() -> None:
    """The emulator shares only wire models with the rest: no broker, engine or UI code."""
    code = (
        "import json, sys\n"
        "import tui_trader.sim.server, tui_trader.sim.runner\n"
        "print(json.dumps(sorted(sys.modules)))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    ).stdout
    ours = {m for m in json.loads(out) if m.startswith("tui_trader.")}
    allowed = ("tui_trader.sim", "tui_trader.core")
    assert sorted(m for m in ours if not m.startswith(allowed)) == []


def test_ui_never_speaks_http() -> None:
    """The screen sends commands to the desk and renders its snapshots: no HTTP client, no
    server, no SQL in any UI module (they reach the network only through the engine)."""
    import ast
    from pathlib import Path

    import tui_trader.ui

    root = Path(tui_trader.ui.__file__).parent
    banned = {"httpx", "httpx_sse", "starlette", "uvicorn", "sqlite3", "tui_trader.broker.rest"}
    found = []
    for path in sorted(root.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            found += [
                f"{path.name}: {n}" for n in names if n in banned or n.split(".")[0] in banned
            ]
    assert found == []
