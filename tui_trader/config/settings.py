"""The one :class:`Settings`, and the rules that decide where orders go.

The mode rules exist so that real money is only ever traded when someone wrote ``live`` on
purpose, and so that a fresh install runs against the emulator: ``Settings._resolve`` picks
the mode, the API family and the URLs after validation and refuses anything that could trade
live by surprise.
"""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Annotated, Any, Literal, Self
from urllib.parse import urlsplit

from pydantic import BeforeValidator, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from tui_trader.config.errors import ConfigError
from tui_trader.config.modes import ApiFamily, Mode
from tui_trader.config.names import (
    BASE_URL_ENV,
    ENV_PREFIX,
    KEY_ID_ENV,
    SECRET_KEY_ENV,
    default_config_file,
    default_data_dir,
    default_log_dir,
)
from tui_trader.config.parsing import blank_to_none, lower
from tui_trader.config.sections import (
    DataSettings,
    PolicySettings,
    RiskSettings,
    SimSettings,
    StreamSettings,
    UiSettings,
)
from tui_trader.config.sources import AlpacaEnvSource, FileSource

LIVE_HOSTS = frozenset({"api.alpaca.markets", "broker-api.alpaca.markets"})
_PAPER_HOSTS = frozenset({"paper-api.alpaca.markets", "broker-api.sandbox.alpaca.markets"})
_TRADING_HOSTS = frozenset({"api.alpaca.markets", "paper-api.alpaca.markets"})
_DATA_URL = "https://data.alpaca.markets"
_DATA_SANDBOX_URL = "https://data.sandbox.alpaca.markets"
_KEYS_HINT = f"export {KEY_ID_ENV} and {SECRET_KEY_ENV}, or set key_id and secret_key in the file"


def normalize_url(value: str) -> str:
    """Reduce a user-written API root to ``scheme://host[:port][/prefix]``.

    Many Alpaca configs carry a trailing ``/`` or ``/v2``; the client appends ``/v2`` itself.
    Credentials in the URL are refused so that they cannot end up in logs.
    """
    url = value.strip().removesuffix("/").removesuffix("/v2")
    bad = ValueError("must be an http:// or https:// URL with a host, e.g. https://host:port")
    try:
        parts = urlsplit(url)
        _ = parts.port  # raises on a malformed port
    except ValueError:
        raise bad from None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise bad
    if parts.username is not None or parts.password is not None:
        raise ValueError(f"must not contain credentials: set {KEY_ID_ENV} and {SECRET_KEY_ENV}")
    if parts.query or parts.fragment:
        raise ValueError("must not have a query string or fragment")
    return url


def _host(url: str) -> str:
    return (urlsplit(url).hostname or "").lower()


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


_OptionalText = Annotated[str | None, BeforeValidator(blank_to_none)]


_BASE_URLS: dict[tuple[ApiFamily, Mode], str] = {
    (ApiFamily.TRADING, Mode.PAPER): "https://paper-api.alpaca.markets",
    (ApiFamily.TRADING, Mode.LIVE): "https://api.alpaca.markets",
    (ApiFamily.BROKER, Mode.PAPER): "https://broker-api.sandbox.alpaca.markets",
    (ApiFamily.BROKER, Mode.LIVE): "https://broker-api.alpaca.markets",
}


class Settings(BaseSettings):
    """Everything the program can be told. Build it with :func:`load_settings`.

    ``mode``, ``api``, ``base_url`` and ``data_url`` are resolved after validation (see
    ``_resolve``), so after construction they are always concrete except that ``sim`` has no
    URLs: the emulator's address is known only once it runs.
    """

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_nested_delimiter="__",
        case_sensitive=False,
        env_ignore_empty=True,
        extra="forbid",
        validate_default=True,
        allow_inf_nan=False,
        hide_input_in_errors=True,
    )

    mode: Annotated[Mode, BeforeValidator(lower)] = Mode.SIM
    api: Annotated[ApiFamily, BeforeValidator(lower)] = ApiFamily.TRADING
    base_url: _OptionalText = None
    data_url: _OptionalText = None
    # the market-data websocket (APCA_API_DATA_STREAM_URL); derived from data_url when unset
    data_stream_url: _OptionalText = None
    account_id: _OptionalText = None
    key_id: Annotated[SecretStr | None, BeforeValidator(blank_to_none)] = None
    secret_key: Annotated[SecretStr | None, BeforeValidator(blank_to_none)] = None
    data_dir: Path = Field(default_factory=default_data_dir)
    log_dir: Path = Field(default_factory=default_log_dir)
    config_file: Path = Field(default_factory=default_config_file)
    sim: SimSettings = Field(default_factory=SimSettings)
    stream: StreamSettings = Field(default_factory=StreamSettings)
    risk: RiskSettings = Field(default_factory=RiskSettings)
    policy: PolicySettings = Field(default_factory=PolicySettings)
    ui: UiSettings = Field(default_factory=UiSettings)
    data: DataSettings = Field(default_factory=DataSettings)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Command line > TUI_TRADER_* > APCA_* > TOML file; no .env or secrets dir."""
        return (
            init_settings,
            env_settings,
            AlpacaEnvSource(settings_cls),
            FileSource(settings_cls),
        )

    @field_validator("base_url", "data_url")
    @classmethod
    def _normalize_urls(cls, value: str | None) -> str | None:
        return None if value is None else normalize_url(value)

    @field_validator("data_stream_url")
    @classmethod
    def _check_stream_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        parts = urlsplit(value.strip())
        if parts.scheme.lower() not in ("ws", "wss") or not parts.hostname:
            raise ValueError("must be a ws:// or wss:// URL with a host")
        if parts.username is not None or parts.password is not None:
            raise ValueError(f"must not contain credentials: set {KEY_ID_ENV} and {SECRET_KEY_ENV}")
        return value.strip().removesuffix("/")

    @field_validator("data_dir", "log_dir", "config_file", mode="before")
    @classmethod
    def _non_empty_path(cls, value: Any) -> Any:
        if isinstance(value, str) and not value.strip():
            raise ValueError("must not be empty")
        return value

    @field_validator("data_dir", "log_dir", "config_file")
    @classmethod
    def _expand_user(cls, value: Path) -> Path:
        return value.expanduser()

    @property
    def auth_scheme(self) -> Literal["basic", "headers"]:
        """HTTP Basic for the Broker API, the two APCA key headers for Trading (API.md §1.2)."""
        return "basic" if self.api is ApiFamily.BROKER else "headers"

    @model_validator(mode="after")
    def _resolve(self) -> Self:
        """Pick mode, API family and URLs; refuse anything that could trade live by surprise."""
        given = self.model_fields_set
        if "mode" not in given:
            remote = self.key_id or self.secret_key or self.base_url
            self.mode = Mode.PAPER if remote else Mode.SIM
        if self.mode is Mode.SIM:
            # The emulator needs no keys and its URL is known only at run time; dropping the
            # real ones here means no code path can send them anywhere.
            self.key_id = self.secret_key = None
            self.base_url = self.data_url = self.data_stream_url = None
            return self

        if self.base_url is not None:
            host = _host(self.base_url)
            if "api" not in given:
                broker = host.startswith("broker-api.")
                self.api = ApiFamily.BROKER if broker else ApiFamily.TRADING
            elif self.api is ApiFamily.TRADING and host.startswith("broker-api."):
                raise ConfigError("api", "is trading but base_url is a Broker API host")
            elif self.api is ApiFamily.BROKER and host in _TRADING_HOSTS:
                raise ConfigError("api", "is broker but base_url is a Trading API host")
        else:
            self.base_url = _BASE_URLS[self.api, self.mode]
        host = _host(self.base_url)
        if host in LIVE_HOSTS and self.mode is not Mode.LIVE:
            raise ConfigError(
                "base_url",
                f"{host} trades real money but mode is {self.mode.value}",
                'set mode = "live" / TUI_TRADER_MODE=live to mean it, or use a paper URL',
            )
        if host in _PAPER_HOSTS and self.mode is Mode.LIVE:
            raise ConfigError(
                "base_url",
                f"{host} is a paper host but mode is live",
                f'unset {BASE_URL_ENV} for the live default, or choose mode = "paper"',
            )

        if self.key_id is None and self.secret_key is None:
            raise ConfigError(
                "mode",
                f"{self.mode.value} trading needs {KEY_ID_ENV} and {SECRET_KEY_ENV}",
                f'{_KEYS_HINT}; mode = "sim" needs no keys',
            )
        if self.secret_key is None:
            raise ConfigError(
                "secret_key", f"{SECRET_KEY_ENV} is not set but {KEY_ID_ENV} is", _KEYS_HINT
            )
        if self.key_id is None:
            raise ConfigError(
                "key_id", f"{KEY_ID_ENV} is not set but {SECRET_KEY_ENV} is", _KEYS_HINT
            )

        if self.data_url is None:
            sandbox = self.api is ApiFamily.BROKER and self.mode is Mode.PAPER
            if _is_loopback(host):  # a local emulator serves market data on the same port
                self.data_url = self.base_url
            else:
                self.data_url = _DATA_SANDBOX_URL if sandbox else _DATA_URL
        if self.api is ApiFamily.BROKER and self.account_id is None:
            raise ConfigError(
                "account_id",
                "the Broker API needs the account to trade",
                "set TUI_TRADER_ACCOUNT_ID or account_id in the config file",
            )
        return self
