"""``python -m tui_trader.cli``, as it ran when the command line was one module."""

from __future__ import annotations

import sys

from tui_trader.cli.dispatch import main

if __name__ == "__main__":
    sys.exit(main())
