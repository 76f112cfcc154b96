"""Alpaca-shaped failures the emulator raises and the server turns into responses."""

from __future__ import annotations

from typing import Any

VALIDATION = 40010001
BAD_REQUEST = 40010000
UNAUTHORIZED = 40110000
FORBIDDEN = 40310000
NOT_FOUND = 40410000
UNPROCESSABLE = 42210000
RATE_LIMITED = 42910000
INTERNAL = 50010000


class ApiFailure(Exception):
    """An HTTP error with Alpaca's ``{code, message}`` body plus any context keys."""

    def __init__(
        self,
        status: int,
        code: int | None,
        message: str,
        headers: dict[str, str] | None = None,
        **context: Any,
    ) -> None:
        super().__init__(message)
        self.headers = headers
        self.status = status
        self.code = code
        self.message = message
        self.context = context

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = dict(self.context)
        if self.code is not None:
            body["code"] = self.code
        body["message"] = self.message
        return dict(sorted(body.items()))


def validation(message: str) -> ApiFailure:
    return ApiFailure(422, VALIDATION, message)


def forbidden(message: str, **context: Any) -> ApiFailure:
    return ApiFailure(403, FORBIDDEN, message, **context)


def not_found(message: str) -> ApiFailure:
    return ApiFailure(404, NOT_FOUND, message)


def unprocessable(message: str) -> ApiFailure:
    return ApiFailure(422, UNPROCESSABLE, message)


def bad_request(message: str) -> ApiFailure:
    return ApiFailure(400, BAD_REQUEST, message)
