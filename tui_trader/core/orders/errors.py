"""The one error every order rule raises: the broken field as Alpaca spells it, and why."""

from __future__ import annotations

from typing import NoReturn


class OrderValidationError(ValueError):
    """A rule Alpaca would reject the order for, tied to the request field that breaks it.

    ``field`` uses the request body's spelling (``take_profit.limit_price``) so the order
    form can highlight the input and the emulator can put it in a 422 message unchanged.
    """

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message

    def __reduce__(self) -> tuple[type[OrderValidationError], tuple[str, str]]:
        # The default pickling replays args (one string) into a two-argument __init__.
        return (type(self), (self.field, self.message))


def fail(field: str, message: str) -> NoReturn:
    """Raise the error for ``field``; typed ``NoReturn`` so each rule reads as a guard."""
    raise OrderValidationError(field, message)
