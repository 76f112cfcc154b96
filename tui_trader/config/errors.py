"""The one error every settings problem leaves through.

Its text is one line built from where the problem is and what is wrong with it, never from the
offending value: that value may be a secret. Its own module because every other part of the
config raises it, and :mod:`tui_trader.config.messages` builds it from pydantic's reports.
"""

from __future__ import annotations


class ConfigError(ValueError):
    """A setting is wrong. ``str()`` is one line for a terminal and never holds a value."""

    def __init__(self, setting: str, problem: str, hint: str = "") -> None:
        self.setting = setting
        self.problem = _one_line(problem)
        self.hint = _one_line(hint)
        super().__init__(str(self))

    def __str__(self) -> str:
        text = f"config error: {self.setting}: {self.problem}"
        return f"{text} ({self.hint})" if self.hint else text


def _one_line(text: str) -> str:
    return " ".join(text.split())
