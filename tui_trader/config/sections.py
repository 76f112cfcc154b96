"""The sections of the settings (``[sim]``, ``[stream]``, ``[risk]``, ``[policy]``, ``[ui]``),
each a strict model of its own, and the builders of the core's plain values from them.
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import TYPE_CHECKING, Annotated, Any, Literal, Self

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator, model_validator
from pydantic_settings import NoDecode

from tui_trader.config.errors import ConfigError
from tui_trader.config.parsing import lower, no_duplicates, split_list

if TYPE_CHECKING:
    from tui_trader.core.backoff import BackoffPolicy
    from tui_trader.core.policy import PolicyConfig
    from tui_trader.core.risk import RiskLimits


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


DEMO_SPEED = 60.0
"""The embedded emulator's default pace: a minute bar every second, so the policy (warm from
the emulator's history at start) decides within a second or two and trades within a minute."""

EMBEDDED_RETENTION = 10_000
"""Events the embedded emulator keeps per stream for a reconnecting reader's replay: about
nine hours at the demo pace (200 trade events in 11 minutes of `make run`), 16 MB at most
(some 1.6 KB an event). It runs in the desk's process, and the desk's journal holds every
event it read; an SSE reader further behind gets Alpaca's "dropped N messages" notice, a
trading-websocket reader an error and a close, and either reconnects and catches up."""

_TICKER = re.compile(r"^[A-Z0-9][A-Z0-9./-]{0,20}$")


class SimSettings(_Section):
    """The embedded emulator: what it trades, how fast, and how hard it pushes back."""

    seed: int = Field(42, ge=0)
    # sim seconds per real second; unset: DEMO_SPEED for the embedded emulator (a minute
    # bar a second: the desk is visibly trading within a minute, its header says DEMO),
    # real time for `tui-trader sim` (a market to test clients against)
    speed: float | None = Field(None, gt=0)
    symbols: Annotated[list[str], NoDecode, BeforeValidator(split_list)] = Field(
        default_factory=lambda: ["AAPL", "MSFT", "NVDA", "TSLA", "SPY"]
    )
    host: str = Field("127.0.0.1", min_length=1)
    port: int = Field(0, ge=0, le=65535)  # 0: let the OS pick a free port
    heartbeat_seconds: float = Field(15.0, gt=0)
    chaos: float = Field(0.0, ge=0, le=1)
    starting_cash: Decimal = Field(Decimal("100000"), gt=0)
    rate_limit_per_minute: int = Field(200, gt=0)
    # the market-data plan it grants: "free" (most accounts) refuses real-time SIP, so the
    # embedded desk exercises the IEX path a new user's keys get
    plan: Literal["free", "unlimited"] = "free"
    # the market's drift (sim/regimes.py): true plants the strong regime (+-800 %/yr switching
    # every ~2 trading hours) a demo's policy visibly learns, false the realistic one (+-5 %/yr
    # switching about weekly: nothing to learn in a session); unset: planted for the embedded
    # emulator (`tui-trader`, `make run`, headless without --base-url: a demo that trades,
    # and its screen says so), realistic for `tui-trader sim` (a market to test clients against)
    planted: bool | None = None
    # events kept per stream for replay; unset: EMBEDDED_RETENTION for the embedded emulator
    # (it runs in the desk's process: a desk kept open all day must not grow with its
    # history), the whole session for `tui-trader sim` (API.md §9 #6)
    retention: int | None = Field(None, ge=100)
    # minute bars kept per symbol (390 a session); unset: the emulator's window, seven
    # sessions (sim/market.py KEEP_BARS), more than the desk's five-day warm-up asks for
    keep_bars: int | None = Field(None, ge=390)

    def retention_for(self, *, embedded: bool) -> int | None:
        """Events this emulator keeps per stream (see ``retention``; None: all)."""
        if self.retention is not None:
            return self.retention
        return EMBEDDED_RETENTION if embedded else None

    def speed_for(self, *, embedded: bool) -> float:
        """This emulator's pace (see ``speed``)."""
        if self.speed is not None:
            return self.speed
        return DEMO_SPEED if embedded else 1.0

    def planted_for(self, *, embedded: bool) -> bool:
        """Whether this emulator plants the strong regime (see ``planted``)."""
        return embedded if self.planted is None else self.planted

    @field_validator("symbols")
    @classmethod
    def _check_symbols(cls, value: list[str]) -> list[str]:
        symbols = [item.strip().upper() for item in value]
        if not symbols:
            raise ValueError("needs at least one symbol")
        for position, symbol in enumerate(symbols, start=1):
            if not _TICKER.match(symbol):
                raise ValueError(f"entry {position} is not a ticker symbol")
        no_duplicates(symbols)
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
    # the trade stream's transport; unset: the trading websocket on a Trading API account
    # (API.md §11.3), SSE on the Broker API (which has no websocket: always SSE there)
    transport: Annotated[Literal["websocket", "sse"] | None, BeforeValidator(lower)] = None
    # the websocket's liveness: a ping every interval, and no pong within the timeout is dead
    ping_interval_seconds: float = Field(10.0, gt=0)
    ping_timeout_seconds: float = Field(20.0, gt=0)
    # a 429 on the websocket upgrade (one connection per account) waits at least this long
    refused_floor_seconds: float = Field(5.0, ge=0)

    @field_validator("streams", mode="before")
    @classmethod
    def _split_streams(cls, value: Any) -> Any:
        value = split_list(value)
        return [lower(item) for item in value] if isinstance(value, list) else value

    @field_validator("streams")
    @classmethod
    def _check_streams(cls, value: list[StreamName]) -> list[StreamName]:
        if not value:
            raise ValueError("needs at least one of trades, accounts, nta")
        no_duplicates(list(value))
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

    utility: Annotated[Literal["log", "crra", "target"], BeforeValidator(lower)] = "crra"
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
    # the long prior and the risk caps (core/policy/config.py); None / empty / 0: off
    premium_prior: float | None = Field(None, gt=-1, lt=1)  # annual, e.g. 0.04
    premium_years: float = Field(10.0, gt=0)
    trend_days: tuple[float, ...] = ()
    trend_prior: float = Field(0.0, gt=-1, lt=1)
    vol_target: float | None = Field(None, gt=0)
    drawdown_limit: float | None = Field(None, gt=0, le=1)
    drawdown_floor: float = Field(0.25, ge=0, le=1)
    # the risk-proportional premium and the slow trend signs (core/policy/online.py)
    sharpe_prior: float | None = Field(None, gt=-3, lt=3)  # annual, e.g. 0.3
    tsmom_days: float | None = Field(None, ge=2)
    sma_days: float | None = Field(None, ge=2)
    long_only: bool = False

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
            **{
                "min_t": self.min_t,
                "premium_prior": self.premium_prior,
                "premium_years": self.premium_years,
                "trend_days": self.trend_days,
                "trend_prior": self.trend_prior,
                "vol_target": self.vol_target,
                "drawdown_limit": self.drawdown_limit,
                "drawdown_floor": self.drawdown_floor,
                "sharpe_prior": self.sharpe_prior,
                "tsmom_days": self.tsmom_days,
                "sma_days": self.sma_days,
                "long_only": self.long_only,
                **extra,
            },
        )


class UiSettings(_Section):
    """Look and paint rate of the terminal desk."""

    theme: str = Field("desk-dark", min_length=1)
    refresh_hz: float = Field(10.0, ge=1, le=60)


DataFeed = Literal["iex", "sip", "delayed_sip"]


class DataSettings(_Section):
    """Market data: the feed asked for on every REST data request and on the data stream
    (API.md §11.4), and how the stream is kept alive. ``iex`` is the free plan's feed; a
    refused ``sip`` falls back to ``iex`` once, with a notice."""

    feed: Annotated[DataFeed, BeforeValidator(lower)] = "iex"
    stream: bool = True  # False: poll prices and bars over REST only
    # no data message for this long while the market is open: the socket is mute, reconnect
    silence_seconds: float = Field(75.0, gt=0)
    ping_interval_seconds: float = Field(10.0, gt=0)
    ping_timeout_seconds: float = Field(20.0, gt=0)
    # 406 connection limit exceeded: Alpaca reaps a half-dead socket after 90 s (§11.5.4)
    connection_limit_wait_seconds: float = Field(90.0, ge=0)


SECTIONS: dict[str, type[_Section]] = {
    "sim": SimSettings,
    "stream": StreamSettings,
    "risk": RiskSettings,
    "policy": PolicySettings,
    "ui": UiSettings,
    "data": DataSettings,
}
