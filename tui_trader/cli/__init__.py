"""The ``tui-trader`` command.

Exit codes: 0 clean stop (Ctrl-C and SIGTERM included), 2 bad usage or configuration (one
line on stderr, never a traceback).

The package's parts: :mod:`~tui_trader.cli.dispatch` (the top-level parser, and which
command runs), :mod:`~tui_trader.cli.sim` (the emulator's subcommand),
:mod:`~tui_trader.cli.desk` (the desk's subcommands, and the desk on a screen by default),
:mod:`~tui_trader.cli.arguments` (what their parsers share). ``main`` is the entry point
(``tui_trader.cli:main``).
"""

from __future__ import annotations

from tui_trader.cli.dispatch import main

__all__ = ["main"]
