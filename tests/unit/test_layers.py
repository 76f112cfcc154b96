"""The layers hold and the import graph has no circles.

The program's layers, bottom up: the **core** (pure: the ledger, the risk engine, the policy),
the **config** (settings, which build the core's plain values), the **broker** (the Alpaca
clients, the journal, the supervisor) and the **sim** (the emulator) beside it, the **desk**
(the engine and its commands, launchers and script API), and the **ui** (the screen). A module
may import from its own layer or below; the rules below name what must never happen.

The graph is read statically from every module's source (``ast``), imports inside functions and
under ``TYPE_CHECKING`` included: a lazy or type-only import still ties two modules together.
Two further checks run in a fresh interpreter, so that what other tests imported does not hide a
leak.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from collections.abc import Iterator
from functools import cache
from pathlib import Path

import pytest

import tui_trader

PACKAGE = "tui_trader"
ROOT = Path(tui_trader.__file__).parent

DESK = ("desk", "stream")
"""The desk package, and ``stream`` (EventStream: the engine as a library for scripts, kept
at its stable public import path)."""

BROKER_TRANSPORT = ("broker.sse", "broker.rest", "broker.supervisor", "broker.journal")
"""The broker's network and storage: the screen reaches them only through the desk."""

CORE_LIBRARIES = {"numpy", "pydantic", "pydantic_core", "msgspec"}
"""Third-party libraries the core may use: numbers and data shapes, no I/O."""

IO_LIBRARIES = ("textual", "httpx", "httpx_sse", "starlette", "uvicorn", "sqlite3", "asyncio")
"""Never loaded by importing the core (``core.backoff`` imports asyncio only when it waits)."""

NETWORK_AND_STORAGE = ("httpx", "httpx_sse", "httpcore", "starlette", "uvicorn", "sqlite3")
"""Never imported by the UI: it reaches the network and the journal only through the desk."""

KNOWN_EXCEPTIONS: dict[str, set[tuple[str, str]]] = {}
"""Edges that break a rule today, each named with its issue; a stale entry fails too."""


# ------------------------------------------------------------------------- the import graph


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


@cache
def modules() -> dict[str, Path]:
    return {module_name(p): p for p in sorted(ROOT.rglob("*.py"))}


def imported_names(name: str, path: Path) -> Iterator[str]:
    """Every module name an import in ``path`` names, absolute, wherever the import stands."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                module = ".".join([*base, *([node.module] if node.module else [])])
            else:
                module = node.module or ""
            yield module
            yield from (f"{module}.{alias.name}" for alias in node.names)


@cache
def graph() -> dict[str, set[str]]:
    """Each of our modules -> the modules of ours it imports (``from a import b`` counts as
    an import of ``a.b`` when that is a module, else of ``a``)."""
    ours = modules()
    return {
        name: {n for n in imported_names(name, path) if n in ours and n != name}
        for name, path in ours.items()
    }


@cache
def third_party(name: str) -> frozenset[str]:
    """The top-level names of everything outside the package that ``name`` imports."""
    return frozenset(
        n.split(".")[0]
        for n in imported_names(name, modules()[name])
        if n and n.split(".")[0] not in (PACKAGE, "__future__")
    )


def short(name: str) -> str:
    return name.removeprefix(f"{PACKAGE}.")


def within(name: str, *prefixes: str) -> bool:
    s = short(name)
    return any(s == p or s.startswith(f"{p}.") for p in prefixes)


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan), each given as
    one closed path through it, so the failure names a circle to break."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in sorted(edges[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(path_through(sorted(component), edges))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return found


def path_through(component: list[str], edges: dict[str, set[str]]) -> list[str]:
    """A shortest circle from the component's first module back to itself."""
    members = set(component)
    start = component[0]
    paths = {start: [start]}
    frontier = [start]
    while frontier:
        nxt = []
        for v in frontier:
            for w in sorted(edges[v] & members):
                if w == start:
                    return [*paths[v], start]
                if w not in paths:
                    paths[w] = [*paths[v], w]
                    nxt.append(w)
        frontier = nxt
    raise AssertionError("a component without a circle")  # pragma: no cover


def violations(rule: str, source: tuple[str, ...], banned: tuple[str, ...]) -> set[tuple[str, str]]:
    found = {
        (short(a), short(b))
        for a, targets in graph().items()
        if within(a, *source)
        for b in targets
        if within(b, *banned)
    }
    return found - KNOWN_EXCEPTIONS.get(rule, set())


# ----------------------------------------------------------------------------- the rules


def test_the_walk_sees_the_whole_package() -> None:
    """Guards the walk itself: every layer found, imports of every kind followed."""
    g = graph()
    assert {"tui_trader.core.risk", "tui_trader.ui.app", "tui_trader.sim.server"} <= set(g)
    assert "tui_trader.core.orders" in g["tui_trader.core.risk.gate"]  # top-level, absolute
    assert "tui_trader.broker.faults" in g["tui_trader.ui.screens.main"]  # inside a function
    assert "tui_trader.ui.port" in g["tui_trader.ui.app"]  # under TYPE_CHECKING
    assert "tui_trader.ui.textual_patches" in g["tui_trader.ui.app"]  # from package import mod


def test_the_cycle_finder_names_a_circle() -> None:
    edges = {"a": {"b"}, "b": {"c"}, "c": {"a", "d"}, "d": set(), "e": {"e"}}
    assert cycles(edges) == [["a", "b", "c", "a"]]


def test_no_import_cycles() -> None:
    found = [" -> ".join(short(m) for m in circle) for circle in cycles(graph())]
    assert found == [], "import cycles (break each by moving what both need below them)"


def test_core_imports_nothing_of_the_program() -> None:
    """The core: only other core modules, the standard library and the libraries of numbers
    and shapes; never the config, the broker, the desk or the screen (it defines the plain
    values it needs; the config builds them). What it loads is checked at run time below."""
    upward = {
        (short(a), short(b))
        for a, targets in graph().items()
        if within(a, "core")
        for b in targets
        if not within(b, "core")
    }
    assert upward == set()
    outside = {
        f"{short(name)}: {lib}"
        for name in modules()
        if within(name, "core")
        for lib in third_party(name)
        if lib not in sys.stdlib_module_names and lib not in CORE_LIBRARIES
    }
    assert outside == set()


def test_config_imports_only_the_core() -> None:
    """Every module of the config package: only the core and the config's own modules."""
    upward = {
        (short(a), short(b))
        for a, targets in graph().items()
        if within(a, "config")
        for b in targets
        if not within(b, "core", "config")
    }
    assert upward == set()


@pytest.mark.parametrize("layer", ["broker", "sim"])
def test_broker_and_sim_never_import_the_desk_or_the_screen(layer: str) -> None:
    assert violations(f"{layer} never imports desk or ui", (layer,), (*DESK, "ui")) == set()


def test_sim_never_imports_the_broker() -> None:
    """The emulator shares only wire models with the rest: it must not test our client
    with our client's own code."""
    assert violations("sim never imports broker", ("sim",), ("broker",)) == set()


def test_ui_never_imports_broker_transport_or_the_emulator() -> None:
    assert violations("ui never imports transport", ("ui",), (*BROKER_TRANSPORT, "sim")) == set()


def test_ui_never_speaks_http() -> None:
    """The screen sends commands to the desk and renders its snapshots: no HTTP client, no
    server, no SQL in any UI module (they reach the network only through the desk)."""
    found = {
        f"{short(name)}: {lib}"
        for name in modules()
        if within(name, "ui")
        for lib in third_party(name)
        if lib in NETWORK_AND_STORAGE
    }
    assert found == set()


def test_the_desk_never_imports_the_screen() -> None:
    rule = "desk never imports ui"
    assert violations(rule, DESK, ("ui",)) == set()


def test_only_the_entry_point_imports_the_command_line() -> None:
    """``cli`` sits on top of everything: argument parsing and the exit codes. Its own
    modules import each other; outside the package only ``__main__`` imports any of it."""
    users = {
        short(a)
        for a, targets in graph().items()
        if not within(a, "cli") and any(within(t, "cli") for t in targets)
    }
    assert users == {"__main__"}


def test_known_exceptions_are_still_needed() -> None:
    """An exception whose edge is gone must be deleted, so the list stays the truth."""
    g = graph()
    stale = {
        (rule, edge)
        for rule, edges in KNOWN_EXCEPTIONS.items()
        for edge in edges
        if f"{PACKAGE}.{edge[1]}" not in g.get(f"{PACKAGE}.{edge[0]}", set())
    }
    assert stale == set()


def test_nothing_imports_another_modules_private_name() -> None:
    """``from x import _name`` across modules: what another module needs is public."""
    found = []
    for name, path in modules().items():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom):
                found += [
                    f"{short(name)}: from {'.' * node.level}{node.module or ''} import {a.name}"
                    for a in node.names
                    if a.name.startswith("_") and not a.name.startswith("__")
                ]
    assert found == []


# ------------------------------------------------------------ what actually loads at run time


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
    leaked = sorted(m for m in loaded if m.split(".")[0] in IO_LIBRARIES)
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


LONG_MODULES: dict[str, str] = {}
"""Modules allowed past 500 lines, each with the reason (docs/architecture.md points here)."""


def test_no_module_is_over_500_lines_unless_named() -> None:
    """Small modules with one job each: a module that grows past 500 lines is split by its
    jobs, or named in LONG_MODULES with the reason one cohesive algorithm needs the room."""
    long = {
        short(name): lines
        for name, path in modules().items()
        if (lines := len(path.read_text().splitlines())) > 500
    }
    assert {name: n for name, n in long.items() if name not in LONG_MODULES} == {}
    assert set(LONG_MODULES) <= set(long), "a named module is no longer long: drop it"
