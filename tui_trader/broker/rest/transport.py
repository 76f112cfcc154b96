"""What every call shares: credentials and auth headers, retries, rate limits, errors, and
turning a response body into models.

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
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Final, Self, TypeVar

import httpx
from pydantic import BaseModel, SecretStr, ValidationError

from tui_trader.broker.rest.errors import AlpacaError, TransportError, error_class
from tui_trader.broker.rest.routes import route_prefix
from tui_trader.config import ApiFamily, Mode, Settings, normalize_url
from tui_trader.core.backoff import BackoffPolicy, ReconnectStrategy, parse_retry_after
from tui_trader.core.models import ApiError, MultiStatusItem, parse_json, parse_multi_status

log = logging.getLogger("tui_trader.broker.rest")

_SIM_CREDENTIAL: Final = "tui-trader-sim"  # the emulator accepts any non-empty key in sim mode
_MASK: Final = "***"

_M = TypeVar("_M", bound=BaseModel)


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


def _secret(value: str | SecretStr, name: str) -> SecretStr:
    text = value.get_secret_value() if isinstance(value, SecretStr) else value
    if not isinstance(text, str) or not text.strip():
        raise ValueError(f"{name} must be a non-empty string")
    return SecretStr(text.strip())


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


class RESTTransport:
    """One account's connection to Alpaca, and the plumbing every call goes through;
    :class:`~tui_trader.broker.rest.AlpacaREST` adds the calls."""

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
        feed: str = "iex",
    ) -> None:
        self.api = ApiFamily(str(api).strip().lower())
        self.base_url = normalize_url(base_url)
        self.data_url = normalize_url(data_url)
        self._key_id = _secret(key_id, "key_id")
        self._secret_key = _secret(secret_key, "secret_key")
        self.account_id, self._prefix = route_prefix(self.api, account_id)
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
        self.feed = feed  # market data's ``feed=`` (marketdata.py falls back to iex once)
        self.on_feed_change: Callable[[str, str, str], None] | None = None

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        base_url: str | None = None,
        data_url: str | None = None,
        **kwargs: Any,
    ) -> Self:
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
            **{"feed": settings.data.feed, **kwargs},
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
        cls = error_class(response.status_code, body.code, message)
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

    def _object(self, response: httpx.Response, what: str) -> dict[str, Any]:
        """The body as a JSON object (the clock, an asset), or an error naming ``what``."""
        data = self._body(response)
        if not isinstance(data, dict):
            raise AlpacaError(
                f"expected a JSON object for the {what}",
                status=response.status_code,
                path=response.request.url.path,
            )
        return data

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
