import sys

from tui_trader.cli import main

sys.exit(main())
