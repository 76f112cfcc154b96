"""Async REST client for Alpaca's Trading and Broker route families and market data.

One class, :class:`AlpacaREST`, because the desk needs both families behind one interface
(API.md §5.1): the Trading API acts on the key's own account under ``/v2``, the Broker API on
``/v1/trading/accounts/{account_id}`` with HTTP Basic. Market data lives on its own host with
the key headers (§7).

Safety rules that shape the code:

* Only idempotent GETs are retried (on 429, 5xx and network failures), paced by
  :class:`~tui_trader.core.backoff.ReconnectStrategy`, honouring ``Retry-After`` and
  ``X-RateLimit-Reset``. A POST, PATCH or DELETE is sent once: an order must never be placed
  twice. After a dropped response, look the order up by its ``client_order_id``.
* Credentials go into each request's headers and nowhere else. Errors, ``repr`` and log lines
  name the route and Alpaca's ``code``/``message``, never a header; any echo of the secret in
  a server's body is masked as well.
* Bodies are parsed with :func:`~tui_trader.core.models.parse_json`, so money stays Decimal.
"""

from __future__ import annotations

import asyncio
import base64
import functools
import logging
import math
import ssl
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from types import TracebackType
from typing import Any, Final, Self, TypeVar
from urllib.parse import quote

import httpx
from pydantic import BaseModel, SecretStr, ValidationError

from tui_trader.config import ApiFamily, Mode, Settings, normalize_url
from tui_trader.core.backoff import BackoffPolicy, ReconnectStrategy, parse_retry_after
from tui_trader.core.models import (
    Account,
    Activity,
    ApiError,
    Bar,
    MultiStatusItem,
    Position,
    Quote,
    WireOrder,
    parse_json,
    parse_multi_status,
)
from tui_trader.core.orders import Number, Order, TimeInForce
from tui_trader.core.types import format_decimal, format_timestamp, to_decimal

__all__ = [
    "AlpacaError",
    "AlpacaREST",
    "AuthenticationError",
    "ForbiddenError",
    "NotFoundError",
    "RateLimit",
    "RateLimitError",
    "ServerError",
    "TransportError",
    "UnprocessableError",
]

log = logging.getLogger("tui_trader.broker.rest")

MAX_PAGES: Final = 1000
"""Most pages one paged call follows; beyond that a server is looping, not paging."""

_ACTIVITY_PAGE_CAP: Final = 100  # Alpaca caps page_size at 100 without `date` (§5.11)
_SIM_CREDENTIAL: Final = "tui-trader-sim"  # the emulator accepts any non-empty key in sim mode
_MASK: Final = "***"

_M = TypeVar("_M", bound=BaseModel)
TimeArg = datetime | date | str


# --- errors -------------------------------------------------------------------------------------


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


def _error_class(status: int, code: int | None, message: str) -> type[AlpacaError]:
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


# --- rate limit ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class RateLimit:
    """The last ``X-RateLimit-*`` headers seen: requests per minute, left, and refill time.

    ``reset`` is Unix seconds. Any field the server did not send (or sent garbled) is None.
    """

    limit: int | None = None
    remaining: int | None = None
    reset: float | None = None

    @classmethod
    def from_headers(cls, headers: httpx.Headers) -> RateLimit | None:
        """None when the response carried none of the three headers."""
        raw = [headers.get(f"x-ratelimit-{name}") for name in ("limit", "remaining", "reset")]
        if all(value is None for value in raw):
            return None
        return cls(limit=_int_header(raw[0]), remaining=_int_header(raw[1]), reset=_float(raw[2]))

    def seconds_to_reset(self, wall_now: float) -> float | None:
        return None if self.reset is None else max(0.0, self.reset - wall_now)


def _int_header(value: str | None) -> int | None:
    if value is None:
        return None
    text = value.strip()
    return int(text) if text.isascii() and text.isdigit() and len(text) <= 18 else None


def _float(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        result = float(value.strip())
    except ValueError:
        return None
    return result if math.isfinite(result) else None


# --- small helpers ------------------------------------------------------------------------------


def _secret(value: str | SecretStr, name: str) -> SecretStr:
    text = value.get_secret_value() if isinstance(value, SecretStr) else value
    if not isinstance(text, str) or not text.strip():
        raise ValueError(f"{name} must be a non-empty string")
    return SecretStr(text.strip())


def _segment(value: str, name: str) -> str:
    """One path segment, percent-encoded so that an id can never change the route."""
    text = value.strip() if isinstance(value, str) else ""
    if not text:
        raise ValueError(f"{name} must be a non-empty string")
    return quote(text, safe="")


def _symbols_param(symbols: str | Iterable[str]) -> str:
    items = symbols.split(",") if isinstance(symbols, str) else list(symbols)
    cleaned = [s.strip().upper() for s in items if s and s.strip()]
    if not cleaned:
        raise ValueError("at least one symbol is required")
    return ",".join(dict.fromkeys(cleaned))


def _time_param(value: TimeArg) -> str:
    """RFC3339 in UTC with ``Z`` (nothing to encode); a naive datetime is taken as UTC."""
    if isinstance(value, datetime):
        aware = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
        return format_timestamp(aware)
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def _number_param(value: Number, name: str) -> str:
    try:
        parsed = to_decimal(value)
    except ValueError:
        raise ValueError(f"{name} is not a number") from None
    if parsed is None:
        raise ValueError(f"{name} is not a number")
    return format_decimal(parsed)


def _short_validation(exc: ValidationError) -> str:
    first = exc.errors(include_url=False, include_input=False)[0]
    where = ".".join(str(part) for part in first["loc"])
    return f"{where}: {first['msg']}" if where else str(first["msg"])


# --- the client ---------------------------------------------------------------------------------


@functools.cache
def tls_context() -> ssl.SSLContext:
    """httpx's default verifying context, built once: loading the CA bundle takes ~20 ms,
    and every client would otherwise load it again."""
    return httpx.create_ssl_context()


class AlpacaREST:
    """Alpaca REST for one account: orders, positions, account, activities, market data.

    ``api`` picks the route family and auth (Broker: Basic on ``/v1/trading/accounts/{id}``;
    Trading: key headers on ``/v2``). GETs are retried ``retries`` times; nothing else is.
    ``sleep`` is injectable so tests see the retry delays without waiting them out. A retry
    that would have to wait longer than ``max_retry_wait`` (a far ``Retry-After``) is not
    made: the error is raised at once with ``retry_after`` set, so a screen never hangs.
    """

    def __init__(
        self,
        base_url: str,
        data_url: str,
        key_id: str | SecretStr,
        secret_key: str | SecretStr,
        *,
        api: ApiFamily | str = "trading",
        account_id: str | None = None,
        client: httpx.AsyncClient | None = None,  # its own timeout applies then
        retries: int = 3,
        backoff: BackoffPolicy | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        timeout: float = 10.0,
        max_retry_wait: float = 60.0,
    ) -> None:
        self.api = ApiFamily(str(api).strip().lower())
        self.base_url = normalize_url(base_url)
        self.data_url = normalize_url(data_url)
        self._key_id = _secret(key_id, "key_id")
        self._secret_key = _secret(secret_key, "secret_key")
        if self.api is ApiFamily.BROKER:
            if account_id is None or not account_id.strip():
                raise ValueError(
                    "the Broker API needs account_id: its routes are "
                    "/v1/trading/accounts/{account_id}/..."
                )
            self.account_id: str | None = account_id.strip()
            self._prefix = f"/v1/trading/accounts/{_segment(self.account_id, 'account_id')}"
        else:
            self.account_id = account_id.strip() if account_id else None
            self._prefix = "/v2"
        if retries < 0:
            raise ValueError("retries must be >= 0")
        if not (timeout > 0 and math.isfinite(timeout)):
            raise ValueError("timeout must be a positive number of seconds")
        if not max_retry_wait >= 0:
            raise ValueError("max_retry_wait must be >= 0")
        self.retries = retries
        self.max_retry_wait = max_retry_wait
        self.backoff = backoff or BackoffPolicy()
        self._sleep = sleep
        self._owns_client = client is None
        self._client = client or httpx.AsyncClient(
            timeout=httpx.Timeout(timeout), follow_redirects=False, verify=tls_context()
        )
        self._rate_limit: RateLimit | None = None
        self._data_rate_limit: RateLimit | None = None

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        base_url: str | None = None,
        data_url: str | None = None,
        **kwargs: Any,
    ) -> AlpacaREST:
        """Build from resolved settings. In sim mode pass the emulator's URL as ``base_url``:
        it serves market data on the same port, and accepts placeholder keys.
        """
        base = base_url or settings.base_url
        if base is None:
            raise ValueError("no base_url: in sim mode pass the running emulator's URL")
        data = data_url or settings.data_url or base
        key_id, secret_key = settings.key_id, settings.secret_key
        if key_id is None or secret_key is None:
            if settings.mode is not Mode.SIM:
                raise ValueError("key_id and secret_key are required outside sim mode")
            key_id = secret_key = SecretStr(_SIM_CREDENTIAL)
        return cls(
            base,
            data,
            key_id,
            secret_key,
            api=settings.api,
            account_id=settings.account_id,
            **kwargs,
        )

    def __repr__(self) -> str:
        return (
            f"AlpacaREST(api={self.api.value!r}, base_url={self.base_url!r}, "
            f"data_url={self.data_url!r}, account_id={self.account_id!r}, "
            f"retries={self.retries})"
        )

    async def aclose(self) -> None:
        """Close the connection pool, unless the caller handed us their own client."""
        if self._owns_client:
            await self._client.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    # ------------------------------------------------------------------------- rate limits

    @property
    def rate_limit(self) -> RateLimit | None:
        """The trading/broker API's last ``X-RateLimit-*`` headers (None before any)."""
        return self._rate_limit

    @property
    def data_rate_limit(self) -> RateLimit | None:
        """The market-data host's, which Alpaca counts separately."""
        return self._data_rate_limit

    # ---------------------------------------------------------------------------- plumbing

    def _auth_headers(self, market_data: bool) -> dict[str, str]:
        key, secret = self._key_id.get_secret_value(), self._secret_key.get_secret_value()
        if self.api is ApiFamily.BROKER and not market_data:
            token = base64.b64encode(f"{key}:{secret}".encode()).decode("ascii")
            return {"Authorization": f"Basic {token}"}
        return {"APCA-API-KEY-ID": key, "APCA-API-SECRET-KEY": secret}

    def _redact(self, text: str) -> str:
        """Mask the secret (and the Basic token) should a server or proxy echo them back."""
        secret = self._secret_key.get_secret_value()
        token = base64.b64encode(f"{self._key_id.get_secret_value()}:{secret}".encode()).decode(
            "ascii"
        )
        for sensitive in (token, secret):
            # a secret of a letter or two (test keys) would mask ordinary words instead
            if len(sensitive) >= 4 and sensitive in text:
                text = text.replace(sensitive, _MASK)
        return text

    def _route(self, suffix: str) -> str:
        return f"{self.base_url}{self._prefix}{suffix}"

    def _data(self, suffix: str) -> str:
        return f"{self.data_url}/v2/stocks{suffix}"

    def _http_error(self, method: str, path: str, response: httpx.Response) -> AlpacaError:
        body = ApiError.from_body(response.status_code, response.content)
        message = self._redact(body.message)
        context = {
            k: self._redact(v) if isinstance(v, str) else v
            for k, v in (body.model_extra or {}).items()
        }
        retry_after = parse_retry_after(response.headers.get("retry-after"), time.time())
        if retry_after is None and response.status_code == 429:
            limit = RateLimit.from_headers(response.headers)
            retry_after = limit.seconds_to_reset(time.time()) if limit else None
        cls = _error_class(response.status_code, body.code, message)
        return cls(
            message,
            status=response.status_code,
            code=body.code,
            retry_after=retry_after,
            method=method,
            path=path,
            context=context,
        )

    def _transport_error(self, method: str, path: str, exc: httpx.HTTPError) -> TransportError:
        detail = self._redact(" ".join(str(exc).split()))[:200]
        kind = type(exc).__name__
        message = f"{method} {path}: {kind}: {detail}" if detail else f"{method} {path}: {kind}"
        return TransportError(message, method=method, path=path)

    async def _request(
        self,
        method: str,
        url: str,
        *,
        params: dict[str, Any] | None = None,
        json: dict[str, Any] | None = None,
        market_data: bool = False,
    ) -> httpx.Response:
        """Send once, or for a GET up to ``1 + retries`` times; raise AlpacaError on failure."""
        path = httpx.URL(url).path
        retryable = method == "GET"
        strategy = ReconnectStrategy(self.backoff)
        attempts = 1 + (self.retries if retryable else 0)
        for attempt in range(1, attempts + 1):
            try:
                response = await self._client.request(
                    method, url, params=params, json=json, headers=self._auth_headers(market_data)
                )
            except httpx.HTTPError as exc:
                failure = self._transport_error(method, path, exc)
                if attempt >= attempts or not isinstance(exc, httpx.TransportError):
                    raise failure from exc
                await self._pause(strategy, failure, attempt, attempts, exc=exc)
                continue
            limit = RateLimit.from_headers(response.headers)
            if limit is not None:
                if market_data:
                    self._data_rate_limit = limit
                else:
                    self._rate_limit = limit
            status = response.status_code
            if 200 <= status < 300:
                return response
            error = self._http_error(method, path, response)
            if attempt >= attempts or not (status == 429 or status >= 500):
                raise error
            reset = limit.reset if limit is not None and status == 429 else None
            await self._pause(strategy, error, attempt, attempts, reset=reset)
        raise AssertionError("unreachable: the loop returns or raises")  # pragma: no cover

    async def _pause(
        self,
        strategy: ReconnectStrategy,
        error: AlpacaError,
        attempt: int,
        attempts: int,
        *,
        reset: float | None = None,
        exc: BaseException | None = None,
    ) -> None:
        """Sleep before retry ``attempt + 1``, or raise ``error`` if that wait is too long."""
        delay = strategy.next_delay(retry_after=error.retry_after, rate_limit_reset=reset)
        if delay > self.max_retry_wait:
            if error.retry_after is None:
                error.retry_after = delay
            raise error from exc
        where = "" if isinstance(error, TransportError) else f"{error.method} {error.path}: "
        log.warning("%s%s; retry %d/%d in %.2f s", where, error, attempt, attempts - 1, delay)
        await self._sleep(delay)

    def _body(self, response: httpx.Response) -> Any:
        try:
            return parse_json(response.content)
        except (ValueError, RecursionError):
            raise AlpacaError(
                "response body is not JSON",
                status=response.status_code,
                path=response.request.url.path,
            ) from None

    def _model(self, cls: type[_M], data: Any, response: httpx.Response) -> _M:
        try:
            return cls.model_validate(data)
        except (ValidationError, ArithmeticError) as exc:
            detail = _short_validation(exc) if isinstance(exc, ValidationError) else str(exc)
            raise AlpacaError(
                f"unexpected {cls.__name__} in response: {detail}",
                status=response.status_code,
                path=response.request.url.path,
            ) from None

    def _models(self, cls: type[_M], response: httpx.Response) -> list[_M]:
        data = self._body(response)
        if not isinstance(data, list):
            raise AlpacaError(
                f"expected a JSON array of {cls.__name__}",
                status=response.status_code,
                path=response.request.url.path,
            )
        return [self._model(cls, item, response) for item in data]

    def _multi_status(self, response: httpx.Response) -> list[MultiStatusItem]:
        data = self._body(response)
        try:
            return parse_multi_status(data)
        except ValueError as exc:
            raise AlpacaError(
                str(exc), status=response.status_code, path=response.request.url.path
            ) from None

    async def _get(self, url: str, params: dict[str, Any] | None = None) -> httpx.Response:
        return await self._request("GET", url, params=params)

    # ----------------------------------------------------------------------------- account

    async def get_account(self) -> Account:
        response = await self._get(self._route("/account"))
        return self._model(Account, self._body(response), response)

    async def get_clock(self) -> dict[str, Any]:
        """The market clock. The Broker API serves it at ``/v1/clock``, Trading at ``/v2``."""
        path = "/v1/clock" if self.api is ApiFamily.BROKER else "/v2/clock"
        response = await self._get(f"{self.base_url}{path}")
        data = self._body(response)
        if not isinstance(data, dict):
            raise AlpacaError(
                "expected a JSON object for the clock",
                status=response.status_code,
                path=response.request.url.path,
            )
        return data

    # --------------------------------------------------------------------------- positions

    async def list_positions(self) -> list[Position]:
        return self._models(Position, await self._get(self._route("/positions")))

    async def get_position(self, symbol: str) -> Position:
        """``symbol`` may be a ticker, an asset id, or a pair like ``BTC/USD`` (sent ``BTCUSD``)."""
        response = await self._get(self._route(f"/positions/{self._symbol_segment(symbol)}"))
        return self._model(Position, self._body(response), response)

    async def close_position(
        self, symbol: str, *, qty: Number | None = None, percentage: Number | None = None
    ) -> WireOrder:
        """Liquidate all or part of one position; returns the liquidation order (not a fill)."""
        if qty is not None and percentage is not None:
            raise ValueError("give qty or percentage, not both")
        params: dict[str, Any] = {}
        if qty is not None:
            params["qty"] = _number_param(qty, "qty")
        if percentage is not None:
            params["percentage"] = _number_param(percentage, "percentage")
        url = self._route(f"/positions/{self._symbol_segment(symbol)}")
        response = await self._request("DELETE", url, params=params or None)
        return self._model(WireOrder, self._body(response), response)

    async def close_all_positions(self, cancel_orders: bool = True) -> list[MultiStatusItem]:
        """Flatten: one 207 item per symbol; items may mix successes and failures."""
        params = {"cancel_orders": "true"} if cancel_orders else None
        response = await self._request("DELETE", self._route("/positions"), params=params)
        return self._multi_status(response)

    @staticmethod
    def _symbol_segment(symbol: str) -> str:
        return _segment(symbol.strip().upper().replace("/", ""), "symbol")

    # ------------------------------------------------------------------------------ orders

    async def submit_order(self, order: Order) -> WireOrder:
        """Send once. On :class:`TransportError` the order may exist: look it up with
        :meth:`get_order_by_client_id` before sending it again.
        """
        response = await self._request("POST", self._route("/orders"), json=order.to_request())
        return self._model(WireOrder, self._body(response), response)

    async def get_order(self, order_id: str) -> WireOrder:
        response = await self._get(self._route(f"/orders/{_segment(order_id, 'order_id')}"))
        return self._model(WireOrder, self._body(response), response)

    async def get_order_by_client_id(self, client_order_id: str) -> WireOrder:
        if not client_order_id or not client_order_id.strip():
            raise ValueError("client_order_id must be a non-empty string")
        response = await self._get(
            self._route("/orders:by_client_order_id"), {"client_order_id": client_order_id}
        )
        return self._model(WireOrder, self._body(response), response)

    async def list_orders(
        self,
        status: str = "open",
        *,
        after: TimeArg | None = None,
        until: TimeArg | None = None,
        limit: int = 500,
        direction: str = "asc",
        nested: bool = False,
        symbols: str | Iterable[str] | None = None,
    ) -> list[WireOrder]:
        """One page of orders (Alpaca's limit is 500); ``until`` is exclusive."""
        if status not in ("open", "closed", "all"):
            raise ValueError("status must be open, closed or all")
        if direction not in ("asc", "desc"):
            raise ValueError("direction must be asc or desc")
        if not 1 <= limit <= 500:
            raise ValueError("limit must be within 1..500")
        params: dict[str, Any] = {
            "status": status,
            "limit": limit,
            "direction": direction,
            "nested": "true" if nested else "false",
        }
        if after is not None:
            params["after"] = _time_param(after)
        if until is not None:
            params["until"] = _time_param(until)
        if symbols is not None:
            params["symbols"] = _symbols_param(symbols)
        return self._models(WireOrder, await self._get(self._route("/orders"), params))

    async def replace_order(
        self,
        order_id: str,
        *,
        qty: Number | None = None,
        limit_price: Number | None = None,
        stop_price: Number | None = None,
        trail: Number | None = None,
        time_in_force: TimeInForce | str | None = None,
        client_order_id: str | None = None,
    ) -> WireOrder:
        """PATCH the order; returns the *new* order (new id, ``replaces`` = the old id).

        A 200 does not prove the replace happened: the old order may fill first (§5.3).
        """
        body: dict[str, Any] = {}
        for name, value in (
            ("qty", qty),
            ("limit_price", limit_price),
            ("stop_price", stop_price),
            ("trail", trail),
        ):
            if value is not None:
                body[name] = _number_param(value, name)
        if time_in_force is not None:
            body["time_in_force"] = TimeInForce(str(time_in_force).strip().lower()).value
        if client_order_id is not None:
            body["client_order_id"] = client_order_id
        if not body:
            raise ValueError("replace_order needs at least one field to change")
        url = self._route(f"/orders/{_segment(order_id, 'order_id')}")
        response = await self._request("PATCH", url, json=body)
        return self._model(WireOrder, self._body(response), response)

    async def cancel_order(self, order_id: str) -> None:
        """Request a cancel (204). The order is canceled only when the stream says so."""
        await self._request("DELETE", self._route(f"/orders/{_segment(order_id, 'order_id')}"))

    async def cancel_all_orders(self) -> list[MultiStatusItem]:
        """One 207 item per open order, each with the status of its own cancel."""
        return self._multi_status(await self._request("DELETE", self._route("/orders")))

    # -------------------------------------------------------------------------- activities

    async def iter_activities(
        self,
        *,
        activity_types: str | Iterable[str] | None = None,
        category: str | None = None,
        after: TimeArg | None = None,
        until: TimeArg | None = None,
        direction: str = "asc",
        page_size: int = 100,
        max_pages: int = MAX_PAGES,
    ) -> AsyncIterator[Activity]:
        """Account activities, page by page (``page_token`` = last id) until an empty page.

        Ids already seen are skipped, and a page with nothing new ends the walk, so a server
        that ignores ``page_token`` cannot make this loop or repeat itself.
        """
        if direction not in ("asc", "desc"):
            raise ValueError("direction must be asc or desc")
        if category is not None and activity_types is not None:
            raise ValueError("give activity_types or category, not both")
        if category is not None and category not in ("trade_activity", "non_trade_activity"):
            raise ValueError("category must be trade_activity or non_trade_activity")
        if not 1 <= page_size <= _ACTIVITY_PAGE_CAP:
            raise ValueError(f"page_size must be within 1..{_ACTIVITY_PAGE_CAP}")
        if max_pages < 1:
            raise ValueError("max_pages must be >= 1")
        params: dict[str, Any] = {"direction": direction, "page_size": page_size}
        if activity_types is not None:
            params["activity_types"] = _symbols_param(activity_types)
        if category is not None:
            params["category"] = category
        if after is not None:
            params["after"] = _time_param(after)
        if until is not None:
            params["until"] = _time_param(until)
        if self.api is ApiFamily.BROKER:
            url = f"{self.base_url}/v1/accounts/activities"
            params["account_id"] = self.account_id
        else:
            url = f"{self.base_url}/v2/account/activities"
        seen: set[str] = set()
        for _ in range(max_pages):
            page = self._models(Activity, await self._get(url, params))
            fresh = [a for a in page if a.id not in seen]
            if not fresh:
                return
            for activity in fresh:
                seen.add(activity.id)
                yield activity
            params["page_token"] = page[-1].id
        raise AlpacaError(f"activities: still more after {max_pages} pages; narrow the query")

    async def activities(
        self,
        *,
        activity_types: str | Iterable[str] | None = None,
        category: str | None = None,
        after: TimeArg | None = None,
        until: TimeArg | None = None,
        direction: str = "asc",
        page_size: int = 100,
        max_pages: int = MAX_PAGES,
    ) -> list[Activity]:
        """Every matching activity, all pages collected (see :meth:`iter_activities`)."""
        return [
            activity
            async for activity in self.iter_activities(
                activity_types=activity_types,
                category=category,
                after=after,
                until=until,
                direction=direction,
                page_size=page_size,
                max_pages=max_pages,
            )
        ]

    # ------------------------------------------------------------------------- market data

    async def _data_get(self, suffix: str, params: dict[str, Any]) -> tuple[Any, httpx.Response]:
        response = await self._request("GET", self._data(suffix), params=params, market_data=True)
        return self._body(response), response

    def _keyed(self, data: Any, key: str, response: httpx.Response) -> dict[str, Any]:
        inner = data.get(key) if isinstance(data, dict) else None
        if inner is None:
            return {}
        if not isinstance(inner, dict):
            raise AlpacaError(
                f"expected an object under {key!r}",
                status=response.status_code,
                path=response.request.url.path,
            )
        return inner

    async def latest_bars(self, symbols: str | Sequence[str]) -> dict[str, Bar]:
        """The latest minute bar per symbol; symbols without one are left out."""
        data, response = await self._data_get("/bars/latest", {"symbols": _symbols_param(symbols)})
        items = self._keyed(data, "bars", response).items()
        return {s: self._model(Bar, b, response) for s, b in items if b is not None}

    async def latest_quotes(self, symbols: str | Sequence[str]) -> dict[str, Quote]:
        """The latest quote per symbol; unknown symbols are left out."""
        data, response = await self._data_get(
            "/quotes/latest", {"symbols": _symbols_param(symbols)}
        )
        items = self._keyed(data, "quotes", response).items()
        return {s: self._model(Quote, q, response) for s, q in items if q is not None}

    async def bars(
        self,
        symbols: str | Sequence[str],
        timeframe: str = "1Min",
        *,
        start: TimeArg,
        end: TimeArg | None = None,
        limit: int = 10000,
        max_pages: int = MAX_PAGES,
    ) -> dict[str, list[Bar]]:
        """Historical bars, every page followed; ``limit`` is the page size (≤ 10000)."""
        if not 1 <= limit <= 10000:
            raise ValueError("limit must be within 1..10000")
        if max_pages < 1:
            raise ValueError("max_pages must be >= 1")
        params: dict[str, Any] = {
            "symbols": _symbols_param(symbols),
            "timeframe": timeframe,
            "start": _time_param(start),
            "limit": limit,
        }
        if end is not None:
            params["end"] = _time_param(end)
        out: dict[str, list[Bar]] = {}
        tokens: set[str] = set()
        for _ in range(max_pages):
            data, response = await self._data_get("/bars", params)
            for symbol, series in self._keyed(data, "bars", response).items():
                if not isinstance(series, list):
                    raise AlpacaError(
                        f"expected a list of bars for {symbol}",
                        status=response.status_code,
                        path=response.request.url.path,
                    )
                out.setdefault(symbol, []).extend(self._model(Bar, b, response) for b in series)
            token = data.get("next_page_token") if isinstance(data, dict) else None
            if not token:
                return out
            if token in tokens:  # a server repeating a token would loop forever
                raise AlpacaError("bars: the server repeated a next_page_token")
            tokens.add(token)
            params["page_token"] = token
        raise AlpacaError(f"bars: still more after {max_pages} pages; narrow the query")
