"""What can go wrong talking to Alpaca: :class:`AlpacaError` and one subclass per kind.

Callers decide by class what a failure means (retry, look the order up, ask for new keys),
so the HTTP status and Alpaca's code map to a class in one place, :func:`error_class`.
"""

from __future__ import annotations

from typing import Any


class AlpacaError(Exception):
    """Anything that went wrong talking to Alpaca, as one line a status bar can show.

    ``status`` is the HTTP status (None for a network failure), ``code`` Alpaca's error code
    when the body had one, ``retry_after`` the seconds the server asked us to wait, when it
    said. ``context`` keeps the body's extra keys (``buying_power``, ``available``...).
    Never carries a request header: nothing here can leak a credential.
    """

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        code: int | None = None,
        retry_after: float | None = None,
        method: str | None = None,
        path: str | None = None,
        context: dict[str, Any] | None = None,
    ) -> None:
        self.status = status
        self.code = code
        self.message = message
        self.retry_after = retry_after
        self.method = method
        self.path = path
        self.context: dict[str, Any] = context or {}
        super().__init__(str(self))

    def __str__(self) -> str:
        if self.status is None or self.message.startswith("HTTP "):
            return self.message
        parts = [f"HTTP {self.status}"]
        if self.code is not None:
            parts.append(str(self.code))
        return f"{' '.join(parts)}: {self.message}"

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(status={self.status!r}, code={self.code!r}, "
            f"message={self.message!r}, retry_after={self.retry_after!r})"
        )

    def __reduce__(self) -> Any:
        # keyword-only fields do not survive the default pickling of Exception.args
        return (
            _rebuild_error,
            (
                type(self),
                self.message,
                self.status,
                self.code,
                self.retry_after,
                self.method,
                self.path,
                self.context,
            ),
        )


def _rebuild_error(cls: type[AlpacaError], *args: Any) -> AlpacaError:
    message, status, code, retry_after, method, path, context = args
    return cls(
        message,
        status=status,
        code=code,
        retry_after=retry_after,
        method=method,
        path=path,
        context=context,
    )


class AuthenticationError(AlpacaError):
    """401, or 403 without a code (``forbidden.``): the keys are wrong; retrying won't help."""


class ForbiddenError(AlpacaError):
    """403 with a code: the request is understood but refused (buying power, quantity...)."""


class NotFoundError(AlpacaError):
    """404: no such order, position, account or route."""


class UnprocessableError(AlpacaError):
    """422: a parameter Alpaca did not accept, or a state that forbids the action."""


class RateLimitError(AlpacaError):
    """429: slow down; ``retry_after`` says for how long when the server told us."""


class ServerError(AlpacaError):
    """5xx: Alpaca (or a proxy in front of it) failed."""


class TransportError(AlpacaError):
    """No HTTP answer at all: refused, reset, timed out. The httpx error is ``__cause__``.

    For an order submission this means "unknown", not "failed": the order may exist.
    """


def error_class(status: int, code: int | None, message: str) -> type[AlpacaError]:
    """The kind of error an HTTP status means (a 403 also by Alpaca's code and message)."""
    if status == 401:
        return AuthenticationError
    if status == 403:
        if code is None or message.strip().lower() == "forbidden.":
            return AuthenticationError
        return ForbiddenError
    if status == 404:
        return NotFoundError
    if status == 422:
        return UnprocessableError
    if status == 429:
        return RateLimitError
    if status >= 500:
        return ServerError
    return AlpacaError
