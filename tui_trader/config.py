"""Settings for the whole program, from defaults < TOML file < environment < command line.

Alpaca's own variables (``APCA_API_KEY_ID`` and friends, API.md §1.3) are honoured so an
existing Alpaca setup works unchanged; everything else lives under ``TUI_TRADER_`` with ``__``
between a section and its field. The mode rules exist so that real money is only ever traded
when someone wrote ``live`` on purpose, and so that a fresh install runs against the emulator.

Errors leave through :class:`ConfigError`, one line built from where the problem is and what
is wrong with it, never from the offending value: that value may be a secret.
"""

from __future__ import annotations

import difflib
import ipaddress
import json
import os
import re
import tomllib
from collections.abc import Mapping
from contextvars import ContextVar
from decimal import Decimal
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal, Self
from urllib.parse import urlsplit

import platformdirs
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic.fields import FieldInfo
from pydantic_core import ErrorDetails
from pydantic_settings import (
    BaseSettings,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    SettingsError,
)

if TYPE_CHECKING:
    from tui_trader.core.backoff import BackoffPolicy
    from tui_trader.core.policy import PolicyConfig
    from tui_trader.core.risk import RiskLimits

__all__ = [
    "BASE_URL_ENV",
    "CONFIG_ENV",
    "DATA_URL_ENV",
    "ENV_PREFIX",
    "KEY_ID_ENV",
    "LIVE_HOSTS",
    "SECRET_KEY_ENV",
    "ApiFamily",
    "ConfigError",
    "Mode",
    "PolicySettings",
    "RiskSettings",
    "Settings",
    "SimSettings",
    "StreamSettings",
    "UiSettings",
    "default_config_file",
    "load_settings",
    "normalize_url",
]

APP_NAME = "tui-trader"
ENV_PREFIX = "TUI_TRADER_"
CONFIG_ENV = "TUI_TRADER_CONFIG"
KEY_ID_ENV = "APCA_API_KEY_ID"
SECRET_KEY_ENV = "APCA_API_SECRET_KEY"
BASE_URL_ENV = "APCA_API_BASE_URL"
DATA_URL_ENV = "APCA_API_DATA_URL"

# Alpaca's variables, read below the TUI_TRADER_ names and above the file.
_ALPACA_ENV: dict[str, str] = {
    "key_id": KEY_ID_ENV,
    "secret_key": SECRET_KEY_ENV,
    "base_url": BASE_URL_ENV,
    "data_url": DATA_URL_ENV,
}

LIVE_HOSTS = frozenset({"api.alpaca.markets", "broker-api.alpaca.markets"})
_PAPER_HOSTS = frozenset({"paper-api.alpaca.markets", "broker-api.sandbox.alpaca.markets"})
_TRADING_HOSTS = frozenset({"api.alpaca.markets", "paper-api.alpaca.markets"})
_DATA_URL = "https://data.alpaca.markets"
_DATA_SANDBOX_URL = "https://data.sandbox.alpaca.markets"
_KEYS_HINT = f"export {KEY_ID_ENV} and {SECRET_KEY_ENV}, or set key_id and secret_key in the file"


class Mode(StrEnum):
    """Where orders go: the embedded emulator, Alpaca paper, or real money."""

    SIM = "sim"
    PAPER = "paper"
    LIVE = "live"


class ApiFamily(StrEnum):
    """Which Alpaca API the base URL speaks; decides routes and the auth scheme."""

    TRADING = "trading"
    BROKER = "broker"


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


def _blank_to_none(value: Any) -> Any:
    if isinstance(value, SecretStr):
        value = value.get_secret_value()
    if isinstance(value, str):
        return value.strip() or None
    return value


def _lower(value: Any) -> Any:
    return value.strip().lower() if isinstance(value, str) else value


def _split_list(value: Any) -> Any:
    """Accept ``A,B,C`` or a JSON list from the environment; lists from TOML pass through."""
    if not isinstance(value, str):
        return value
    text = value.strip()
    if text.startswith("["):
        try:
            return json.loads(text)
        except ValueError:
            raise ValueError("not a valid JSON list; write A,B,C or a JSON list") from None
    return [item.strip() for item in text.split(",") if item.strip()]


def _no_duplicates(items: list[str]) -> None:
    seen: set[str] = set()
    for position, item in enumerate(items, start=1):
        if item in seen:
            raise ValueError(f"entry {position} repeats an earlier one")
        seen.add(item)


def default_config_file() -> Path:
    """Per-user config file path (``TUI_TRADER_CONFIG`` or an argument overrides it)."""
    return Path(platformdirs.user_config_dir(APP_NAME, appauthor=False)) / "config.toml"


def _default_data_dir() -> Path:
    return Path(platformdirs.user_data_dir(APP_NAME, appauthor=False))


def _default_log_dir() -> Path:
    return Path(platformdirs.user_log_dir(APP_NAME, appauthor=False))


# The sections the core reads build its plain values (``settings.risk.limits()``,
# ``settings.policy.config()``, ``settings.stream.backoff()``): the core defines what it needs
# and imports nothing of the program above it. Each imports its core module when called, not
# at the top: the policy's module loads numpy, which the settings (read first by every command,
# ``headless`` and scripts) have never needed.


class _Section(BaseModel):
    """Strict base for config sections: typos and NaN/inf must not pass silently."""

    model_config = ConfigDict(
        extra="forbid",
        allow_inf_nan=False,
        str_strip_whitespace=True,
        hide_input_in_errors=True,
    )


_TICKER = re.compile(r"^[A-Z0-9][A-Z0-9./-]{0,20}$")


class SimSettings(_Section):
    """The embedded emulator: what it trades, how fast, and how hard it pushes back."""

    seed: int = Field(42, ge=0)
    speed: float = Field(1.0, gt=0)
    symbols: Annotated[list[str], NoDecode, BeforeValidator(_split_list)] = Field(
        default_factory=lambda: ["AAPL", "MSFT", "NVDA", "TSLA", "SPY"]
    )
    host: str = Field("127.0.0.1", min_length=1)
    port: int = Field(0, ge=0, le=65535)  # 0: let the OS pick a free port
    heartbeat_seconds: float = Field(15.0, gt=0)
    chaos: float = Field(0.0, ge=0, le=1)
    starting_cash: Decimal = Field(Decimal("100000"), gt=0)
    rate_limit_per_minute: int = Field(200, gt=0)

    @field_validator("symbols")
    @classmethod
    def _check_symbols(cls, value: list[str]) -> list[str]:
        symbols = [item.strip().upper() for item in value]
        if not symbols:
            raise ValueError("needs at least one symbol")
        for position, symbol in enumerate(symbols, start=1):
            if not _TICKER.match(symbol):
                raise ValueError(f"entry {position} is not a ticker symbol")
        _no_duplicates(symbols)
        return symbols


StreamName = Literal["trades", "accounts", "nta"]
_ALL_STREAMS: tuple[StreamName, ...] = ("trades", "accounts", "nta")


class StreamSettings(_Section):
    """Reconnect, health and resume behaviour of the SSE streams (API.md §2)."""

    backoff_base_seconds: float = Field(1.0, gt=0)
    backoff_factor: float = Field(2.0, ge=1)
    backoff_cap_seconds: float = Field(60.0, gt=0)
    jitter: bool = True
    healthy_after_seconds: float = Field(30.0, gt=0)
    # the longest Retry-After / rate-limit reset honoured; a longer one is cut, logged, shown
    retry_after_ceiling_seconds: float = Field(600.0, gt=0)
    idle_timeout_ceiling_seconds: float = Field(60.0, gt=0)
    # the longest silence is 3 heartbeat periods of the host once known (from any of its
    # streams); before that, a stream that was delivering r events/s may stay silent for
    # max(stall_events / r, stall_floor_seconds), at most the ceiling above
    stall_events: float = Field(100.0, gt=0)
    stall_floor_seconds: float = Field(20.0, gt=0)
    poll_after_seconds: float = Field(15.0, gt=0)
    poll_interval_seconds: float = Field(2.0, gt=0)  # REST polling while the stream is down
    # a reconciliation (positions, open orders) unanswered by then counts as failed: the
    # STREAM breaker's "reconciling" never holds longer
    reconcile_timeout_seconds: float = Field(30.0, gt=0)
    # a stream the server does not offer (404/410/400): asked again from 60 s, doubling to 15 min
    not_offered_retry_base_seconds: float = Field(60.0, gt=0)
    not_offered_retry_cap_seconds: float = Field(900.0, gt=0)
    resume_overlap_seconds: float = Field(5.0, ge=0)
    # a "dropped N messages" notice reconnects at once; another within this window backs off
    gap_repeat_window_seconds: float = Field(30.0, ge=0)
    gap_backoff_floor_seconds: float = Field(1.0, ge=0)
    streams: Annotated[list[StreamName], NoDecode] = Field(
        default_factory=lambda: list(_ALL_STREAMS)
    )

    @field_validator("streams", mode="before")
    @classmethod
    def _split_streams(cls, value: Any) -> Any:
        value = _split_list(value)
        return [_lower(item) for item in value] if isinstance(value, list) else value

    @field_validator("streams")
    @classmethod
    def _check_streams(cls, value: list[StreamName]) -> list[StreamName]:
        if not value:
            raise ValueError("needs at least one of trades, accounts, nta")
        _no_duplicates(list(value))
        return value

    @model_validator(mode="after")
    def _cap_above_base(self) -> Self:
        if self.backoff_cap_seconds < self.backoff_base_seconds:
            raise ConfigError("backoff_cap_seconds", "must not be below backoff_base_seconds")
        if self.not_offered_retry_cap_seconds < self.not_offered_retry_base_seconds:
            raise ConfigError(
                "not_offered_retry_cap_seconds", "must not be below not_offered_retry_base_seconds"
            )
        return self

    def backoff(self) -> BackoffPolicy:
        """The reconnect schedule, as the core's backoff takes it."""
        from tui_trader.core.backoff import BackoffPolicy

        return BackoffPolicy(
            base=self.backoff_base_seconds,
            factor=self.backoff_factor,
            cap=self.backoff_cap_seconds,
            jitter=self.jitter,
            healthy_after=self.healthy_after_seconds,
            retry_after_ceiling=self.retry_after_ceiling_seconds,
        )


class RiskSettings(_Section):
    """Circuit-breaker limits; money in USD, percentages of start-of-day equity."""

    daily_loss_limit: Decimal = Field(Decimal("2000"), gt=0)
    daily_loss_pct: float = Field(3.0, gt=0, le=100)
    max_drawdown_pct: float = Field(10.0, gt=0, le=100)
    max_orders_per_minute: int = Field(30, gt=0)
    max_reject_streak: int = Field(5, gt=0)
    max_symbol_notional: Decimal = Field(Decimal("25000"), gt=0)
    max_gross_exposure: float = Field(1.5, gt=0, le=4)  # multiple of equity; 4x is Reg T intraday
    stale_data_seconds: float = Field(30.0, gt=0)
    warning_fraction: float = Field(0.8, gt=0, lt=1)
    rate_cooldown_seconds: float = Field(60.0, gt=0)

    def limits(self) -> RiskLimits:
        """The limits as the risk engine takes them: floats become Decimals through their
        shortest text (3.1 stays 3.1)."""
        from tui_trader.core.risk import RiskLimits

        return RiskLimits(
            daily_loss_limit=self.daily_loss_limit,
            daily_loss_pct=_shortest_decimal(self.daily_loss_pct),
            max_drawdown_pct=_shortest_decimal(self.max_drawdown_pct),
            max_orders_per_minute=self.max_orders_per_minute,
            max_reject_streak=self.max_reject_streak,
            max_symbol_notional=self.max_symbol_notional,
            max_gross_exposure=_shortest_decimal(self.max_gross_exposure),
            stale_data_seconds=self.stale_data_seconds,
            warning_fraction=_shortest_decimal(self.warning_fraction),
            rate_cooldown_seconds=self.rate_cooldown_seconds,
        )


def _shortest_decimal(value: float) -> Decimal:
    return Decimal(repr(value))  # as core.types.to_decimal reads a float


class PolicySettings(_Section):
    """The sizing policy's utility and how eagerly it trades toward its target weights."""

    utility: Annotated[Literal["log", "crra", "target"], BeforeValidator(_lower)] = "crra"
    risk_aversion: float = Field(2.0, gt=0)
    aggressiveness: float = Field(1.0, gt=0)
    target_equity: Decimal | None = Field(None, gt=0)
    horizon_days: int = Field(20, gt=0)
    no_trade_band: float = Field(0.02, ge=0, lt=1)
    max_weight: float = Field(0.25, gt=0, le=1)
    forgetting: float = Field(0.995, ge=0.9, le=1)
    warmup_bars: int = Field(60, ge=10)
    # how sure a prediction must be (its t-statistic) before it counts as an edge at all
    min_t: float = Field(2.0, ge=0, le=10)

    @model_validator(mode="after")
    def _target_needs_equity(self) -> Self:
        if self.utility == "target" and self.target_equity is None:
            raise ConfigError("target_equity", 'is required when utility = "target"')
        return self

    def config(self, **extra: Any) -> PolicyConfig:
        """The policy's config; ``extra`` sets fields the settings do not have."""
        from tui_trader.core.policy import PolicyConfig

        target = self.target_equity
        return PolicyConfig(
            utility=self.utility,
            risk_aversion=self.risk_aversion,
            aggressiveness=self.aggressiveness,
            target_equity=None if target is None else float(target),
            horizon_days=self.horizon_days,
            no_trade_band=self.no_trade_band,
            max_weight=self.max_weight,
            forgetting=self.forgetting,
            warmup_bars=self.warmup_bars,
            **{"min_t": self.min_t, **extra},
        )


class UiSettings(_Section):
    """Look and paint rate of the terminal desk."""

    theme: str = Field("desk-dark", min_length=1)
    refresh_hz: float = Field(10.0, ge=1, le=60)


_SECTIONS: dict[str, type[_Section]] = {
    "sim": SimSettings,
    "stream": StreamSettings,
    "risk": RiskSettings,
    "policy": PolicySettings,
    "ui": UiSettings,
}

# The parsed TOML file for the Settings being built by load_settings (empty otherwise).
_FILE_DATA: ContextVar[Mapping[str, Any] | None] = ContextVar("tui_trader_file_data", default=None)


class _FileSource(PydanticBaseSettingsSource):
    """The already-parsed TOML file, so that parse errors are reported before validation."""

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        data = _FILE_DATA.get() or {}
        return data.get(field_name), field_name, False

    def __call__(self) -> dict[str, Any]:
        return dict(_FILE_DATA.get() or {})


class _AlpacaEnvSource(PydanticBaseSettingsSource):
    """Alpaca's unprefixed variables; blank ones count as unset, like the prefixed ones."""

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        name = _ALPACA_ENV.get(field_name)
        value = os.environ.get(name) if name else None
        return (value if value and value.strip() else None), field_name, False

    def __call__(self) -> dict[str, Any]:
        data: dict[str, Any] = {}
        for field_name, field in self.settings_cls.model_fields.items():
            value, key, _ = self.get_field_value(field, field_name)
            if value is not None:
                data[key] = value
        return data


_OptionalText = Annotated[str | None, BeforeValidator(_blank_to_none)]


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

    mode: Annotated[Mode, BeforeValidator(_lower)] = Mode.SIM
    api: Annotated[ApiFamily, BeforeValidator(_lower)] = ApiFamily.TRADING
    base_url: _OptionalText = None
    data_url: _OptionalText = None
    account_id: _OptionalText = None
    key_id: Annotated[SecretStr | None, BeforeValidator(_blank_to_none)] = None
    secret_key: Annotated[SecretStr | None, BeforeValidator(_blank_to_none)] = None
    data_dir: Path = Field(default_factory=_default_data_dir)
    log_dir: Path = Field(default_factory=_default_log_dir)
    config_file: Path = Field(default_factory=default_config_file)
    sim: SimSettings = Field(default_factory=SimSettings)
    stream: StreamSettings = Field(default_factory=StreamSettings)
    risk: RiskSettings = Field(default_factory=RiskSettings)
    policy: PolicySettings = Field(default_factory=PolicySettings)
    ui: UiSettings = Field(default_factory=UiSettings)

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
            _AlpacaEnvSource(settings_cls),
            _FileSource(settings_cls),
        )

    @field_validator("base_url", "data_url")
    @classmethod
    def _normalize_urls(cls, value: str | None) -> str | None:
        return None if value is None else normalize_url(value)

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
            self.base_url = self.data_url = None
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


def load_settings(config_file: Path | None = None, **overrides: Any) -> Settings:
    """Build the settings: defaults < TOML file < environment < ``overrides``.

    ``overrides`` are field values (sections as nested dicts); ``None`` means "not given", so
    a CLI can pass its parsed options straight through. Every problem, wherever it comes
    from, is raised as one :class:`ConfigError`.
    """
    path, how = _config_path(config_file)
    file_data = _read_toml(path, how)
    if "config_file" in file_data:
        raise ConfigError(
            f"{path}: config_file", "cannot be set inside the config file", f"use {CONFIG_ENV}"
        )
    _check_env_names()
    given = _drop_none(overrides)
    token = _FILE_DATA.set(file_data)
    try:
        return Settings(**given, config_file=path)
    except ValidationError as exc:
        raise _from_validation_error(exc, path, file_data, given) from None
    except SettingsError as exc:
        raise _from_settings_error(exc) from None
    finally:
        _FILE_DATA.reset(token)


def _config_path(argument: Path | None) -> tuple[Path, str | None]:
    """The file to read, and for an explicitly named one, how the user named it."""
    if argument is not None:
        return Path(argument).expanduser(), "check the config file path given"
    from_env = os.environ.get(CONFIG_ENV, "").strip()
    if from_env:
        return Path(from_env).expanduser(), f"check {CONFIG_ENV}"
    return default_config_file(), None


_TOML_WHERE = re.compile(
    r"^(?P<msg>.*) \(at (?:line (?P<line>\d+), column (?P<col>\d+)|end of document)\)$"
)


def _read_toml(path: Path, how: str | None) -> dict[str, Any]:
    """Parse the file; missing is fine only for the default path."""
    setting = str(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        if how is None:
            return {}
        raise ConfigError(setting, "config file not found", how) from None
    except OSError as exc:
        raise ConfigError(
            setting, f"cannot read the config file: {exc.strerror}", how or ""
        ) from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(setting, f"not UTF-8 text (byte {exc.start})") from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        match = _TOML_WHERE.match(str(exc))
        if match is None:
            problem = f"invalid TOML: {exc}"
        elif match["line"]:
            problem = f"invalid TOML at line {match['line']}, column {match['col']}: {match['msg']}"
        else:
            problem = f"invalid TOML at end of file: {match['msg']}"
        raise ConfigError(setting, problem) from None


def _env_names(parts: tuple[str, ...]) -> list[str]:
    """Environment variables that can set ``parts``, highest priority first."""
    if not parts:
        return []
    head = parts[0]
    if len(parts) == 1 or head not in _SECTIONS:
        names = [f"{ENV_PREFIX}{head.upper()}"]
        return [*names, _ALPACA_ENV[head]] if head in _ALPACA_ENV else names
    return [f"{ENV_PREFIX}{head.upper()}__{parts[1].upper()}", f"{ENV_PREFIX}{head.upper()}"]


def _all_env_names() -> list[str]:
    names = [f"{ENV_PREFIX}{name.upper()}" for name in Settings.model_fields]
    for section, model in _SECTIONS.items():
        names += [f"{ENV_PREFIX}{section.upper()}__{name.upper()}" for name in model.model_fields]
    return [*names, CONFIG_ENV]


def _check_env_names() -> None:
    """Reject TUI_TRADER_* variables that name nothing; pydantic-settings ignores them."""
    for name in sorted(os.environ):
        upper = name.upper()
        if not upper.startswith(ENV_PREFIX) or upper == CONFIG_ENV:
            continue
        rest = upper[len(ENV_PREFIX) :]
        head, nested, _ = rest.partition("__")
        field = head.lower()
        if field == "config_file" and not nested:
            raise ConfigError(name, "is not read", f"set {CONFIG_ENV} to choose the config file")
        if field in Settings.model_fields and (not nested or field in _SECTIONS):
            continue  # unknown fields inside a section are caught by extra="forbid"
        close = difflib.get_close_matches(upper, _all_env_names(), n=1, cutoff=0.75)
        hint = f"did you mean {close[0]}?" if close else "unset it or fix the spelling"
        raise ConfigError(name, "unknown setting in the environment", hint)


def _drop_none(values: Mapping[str, Any]) -> dict[str, Any]:
    return {
        key: _drop_none(value) if isinstance(value, Mapping) else value
        for key, value in values.items()
        if value is not None
    }


def _lookup(data: Mapping[str, Any], parts: tuple[str, ...]) -> bool:
    node: Any = data
    for part in parts:
        if not isinstance(node, Mapping) or part not in node:
            return False
        node = node[part]
    return True


def _model_for(parts: tuple[str, ...]) -> type[BaseModel]:
    return _SECTIONS[parts[0]] if len(parts) > 1 and parts[0] in _SECTIONS else Settings


def _origin_hint(
    parts: tuple[str, ...], path: Path, file_data: Mapping[str, Any], given: Mapping[str, Any]
) -> str:
    """Say where the offending value came from, so the user knows what to edit."""
    key = parts[:2]
    if _lookup(given, key):
        return "given on the command line"
    environ = {name.upper(): value for name, value in os.environ.items() if value.strip()}
    for name in _env_names(key):
        if name in environ:
            return f"set by {name} in the environment"
    if _lookup(file_data, key):
        return f"set in {path}"
    names = _env_names(key)
    return f"set in {path} or {names[-1] if len(key) == 1 else names[0]}" if names else ""


def _setting_parts(error: ErrorDetails) -> tuple[str, ...]:
    """Dotted path of the field at fault; our validators name a field relative to their model."""
    parts = tuple(part for part in error["loc"] if isinstance(part, str))
    cause = (error.get("ctx") or {}).get("error")
    return (*parts, *cause.setting.split(".")) if isinstance(cause, ConfigError) else parts


def _from_validation_error(
    exc: ValidationError, path: Path, file_data: Mapping[str, Any], given: Mapping[str, Any]
) -> ConfigError:
    """Turn pydantic's report into one line: location and message only, never the input."""
    errors = exc.errors(include_url=False, include_input=False)
    first = errors[0]
    parts = _setting_parts(first)
    cause = (first.get("ctx") or {}).get("error")
    if isinstance(cause, ConfigError):
        problem, hint = cause.problem, cause.hint
    elif first["type"] == "extra_forbidden":
        known = list(_model_for(parts).model_fields)
        close = difflib.get_close_matches(parts[-1].lower(), known, n=1, cutoff=0.6)
        problem = "unknown setting" + (f"; did you mean {close[0]}?" if close else "")
        hint = ""
    else:
        problem = first["msg"].removeprefix("Value error, ").removeprefix("Assertion failed, ")
        hint = ""
    setting = ".".join(parts) or "settings"
    setting += "".join(f"[{part}]" for part in first["loc"] if isinstance(part, int))
    hint = hint or _origin_hint(parts, path, file_data, given)
    others = dict.fromkeys(".".join(_setting_parts(err)) or "settings" for err in errors[1:])
    others.pop(setting, None)
    if others:
        hint = f"{hint}; also wrong: {', '.join(others)}".lstrip("; ")
    return ConfigError(setting, problem, hint)


_SETTINGS_ERROR = re.compile(r'field "(?P<field>[^"]+)" from source "(?P<source>\w+)"')


def _from_settings_error(exc: SettingsError) -> ConfigError:
    """pydantic-settings failed to decode an environment value (a section given as JSON)."""
    match = _SETTINGS_ERROR.search(str(exc))
    field = match["field"] if match else "environment"
    hint = f"{ENV_PREFIX}{field.upper()} must be a JSON object" if match else ""
    return ConfigError(field, "could not parse the value from the environment", hint)
