"""tui-trader: a keyboard-driven terminal trading desk for Alpaca."""

__version__ = "0.1.0"
