"""Where the program connects: Alpaca (paper or live) or the embedded emulator.

Both are reached through the very same client code; the only difference is that the
embedded emulator is started here first, on 127.0.0.1 with throwaway credentials.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import os
import secrets
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
from pydantic import SecretStr

from tui_trader.config import ApiFamily, Mode, Settings
from tui_trader.logs import register_secret

log = logging.getLogger("tui_trader.desk")

BROKER_ONLY_STREAMS = ("accounts", "nta")
DEMO_MIN_T = 1.0
"""The policy's significance bar (``[policy] min_t``) on the embedded emulator's planted demo
market, unless the trader set one. At the default 2.0 the policy on the planted market sends
about one order per 400 decisions (``tui-trader backtest --planted --bars 2400``: 30 orders in
12,000), so a new user's first minute (five symbols, a bar a second each at the demo pace)
mostly showed none; at 1.0 about one per 55 (220 in 12,000), still earning what was planted
(Sharpe 11 against buy-and-hold's -3 there). The desk says so in a notice at start."""

if TYPE_CHECKING:
    from tui_trader.broker.rest import AlpacaREST
    from tui_trader.sim.emulator import EmulatorConfig
    from tui_trader.sim.runner import RunningEmulator


@dataclass
class Target:
    base_url: str
    data_url: str
    api: ApiFamily
    key_id: SecretStr
    secret_key: SecretStr
    account_id: str | None = None
    embedded: RunningEmulator | None = field(default=None, repr=False)
    feed: str = "iex"  # market data's feed (settings.data.feed)
    data_stream_url: str | None = None  # the market-data websocket; None: from data_url

    @property
    def label(self) -> str:
        if self.embedded is None:
            return self.base_url
        if self.embedded.emulator.config.planted:  # a demo's market: never read it as evidence
            return "embedded emulator, planted drift (a demo)"
        return "embedded emulator"

    def auth_headers(self) -> dict[str, str]:
        """Basic for the Broker API (REST and SSE); the APCA key headers for Trading."""
        key, secret = self.key_id.get_secret_value(), self.secret_key.get_secret_value()
        if self.api is ApiFamily.BROKER:
            token = base64.b64encode(f"{key}:{secret}".encode()).decode()
            return {"Authorization": f"Basic {token}"}
        return {"APCA-API-KEY-ID": key, "APCA-API-SECRET-KEY": secret}

    def streams_for(self, wanted: tuple[str, ...]) -> tuple[str, ...]:
        """The streams to open of those asked for: ``accounts`` and ``nta`` are Broker API
        paths (API.md §11.0), never opened for a Trading API account (Alpaca answers 404)."""
        if self.api is ApiFamily.BROKER:
            return wanted
        kept = tuple(name for name in wanted if name not in BROKER_ONLY_STREAMS)
        if kept != wanted:
            dropped = ", ".join(n for n in wanted if n in BROKER_ONLY_STREAMS)
            log.info("not opened on a Trading API account (Broker API only): %s", dropped)
        return kept or ("trades",)

    def policy_overrides(self, settings: Settings) -> dict[str, float]:
        """What the policy's config takes from the target rather than the settings: on the
        planted demo market, :data:`DEMO_MIN_T` unless ``[policy] min_t`` is set."""
        if self.embedded is None or not self.embedded.emulator.config.planted:
            return {}
        if "min_t" in settings.policy.model_fields_set:
            return {}
        return {"min_t": DEMO_MIN_T}

    def stream_url(self) -> str | None:
        """The trading websocket's URL when ``APCA_API_STREAM_URL`` says it (never for the
        embedded emulator, whose address the environment cannot know); None: derived from
        the base URL (:func:`tui_trader.broker.trade_socket.stream_url`)."""
        if self.embedded is not None:
            return None
        return os.environ.get("APCA_API_STREAM_URL", "").strip() or None

    def account_key(self) -> str:
        """A stable name for this account's journal; the key id stands in for the
        account on the Trading API (one key, one account), hashed so it is not on disk."""
        if self.embedded is not None:
            return f"sim-{self.base_url}"
        who = self.account_id or hashlib.sha256(self.key_id.get_secret_value().encode())
        who = who if isinstance(who, str) else who.hexdigest()[:16]
        return f"{self.api.value}-{httpx.URL(self.base_url).host}-{who}"

    def journal_file(
        self, data_dir: Path, explicit: Path | None = None
    ) -> tuple[Path, tempfile.TemporaryDirectory[str] | None]:
        """Where this target's journal lives, and a scratch dir to remove afterwards.

        An embedded emulator that keeps its paper account has its journal in the data dir,
        named for that account (a reset makes a new one, so a journal never resumes from
        cursors its emulator never issued). One that keeps nothing has a fresh history each
        time: it gets a throwaway journal.
        """
        if explicit is not None:
            return explicit, None
        if self.embedded is not None and self.embedded.emulator.instance is not None:
            from tui_trader.broker.journal import journal_path

            return journal_path(data_dir, f"sim-{self.embedded.emulator.instance}"), None
        if self.embedded is not None:
            scratch = tempfile.TemporaryDirectory(prefix="tui-trader-")
            return Path(scratch.name) / "journal.sqlite3", scratch
        from tui_trader.broker.journal import journal_path

        return journal_path(data_dir, self.account_key()), None

    def rest(self) -> AlpacaREST:
        from tui_trader.broker.rest import AlpacaREST

        return AlpacaREST(
            self.base_url,
            self.data_url,
            self.key_id,
            self.secret_key,
            api=self.api,
            account_id=self.account_id,
            feed=self.feed,
        )

    def http(self) -> httpx.AsyncClient:
        """The client for the event streams (no read timeout: the stream's idle timer rules)."""
        from tui_trader.broker.rest import tls_context

        return httpx.AsyncClient(
            base_url=self.base_url, follow_redirects=False, verify=tls_context()
        )

    def close(self) -> None:
        if self.embedded is not None:
            self.embedded.stop()
            self.embedded = None


def resolve(settings: Settings, *, persist: bool = False) -> Target:
    """The remote target the settings describe, or a freshly started embedded emulator
    (``persist``: one that keeps its paper account in the data dir and resumes it)."""
    if settings.mode is not Mode.SIM:
        assert settings.base_url and settings.key_id and settings.secret_key
        register_secret(settings.secret_key.get_secret_value())
        return Target(
            base_url=settings.base_url,
            data_url=settings.data_url or settings.base_url,
            api=settings.api,
            key_id=settings.key_id,
            secret_key=settings.secret_key,
            account_id=settings.account_id,
            feed=settings.data.feed,
            data_stream_url=settings.data_stream_url,
        )
    return start_embedded(settings, persist=persist)


def embedded_config(
    settings: Settings, *, key: str, secret: str, persist: bool = False
) -> EmulatorConfig:
    """The embedded emulator's configuration: the settings' market at the demo pace, keys of
    its own, and a bounded memory (it runs in the desk's process, which a trader keeps open)."""
    from decimal import Decimal

    from tui_trader.sim.emulator import EmulatorConfig
    from tui_trader.sim.market import KEEP_BARS, listed
    from tui_trader.sim.persist import state_path

    s = settings.sim
    return EmulatorConfig(
        symbols=listed(s.symbols),  # the watched ones and more to add (+ on the watchlist)
        seed=s.seed,
        speed=s.speed_for(embedded=True),
        heartbeat_seconds=s.heartbeat_seconds,
        key_id=key,
        secret_key=secret,
        rate_limit_per_minute=s.rate_limit_per_minute,
        chaos=s.chaos,
        starting_cash=Decimal(s.starting_cash),
        plan=s.plan,
        planted=s.planted_for(embedded=True),
        # a trader who chose the SSE transport gets /v2/events/trades, Alpaca's courtesy
        trading_sse=settings.stream.transport == "sse",
        state_path=state_path(settings.data_dir) if persist else None,
        retention=s.retention_for(embedded=True),
        keep_bars=KEEP_BARS if s.keep_bars is None else s.keep_bars,
    )


def start_embedded(settings: Settings, *, persist: bool = False) -> Target:
    from tui_trader.sim.runner import start_in_thread

    s = settings.sim
    key, secret = "desk-" + secrets.token_hex(4), secrets.token_urlsafe(24)
    register_secret(secret)
    config = embedded_config(settings, key=key, secret=secret, persist=persist)
    running = start_in_thread(config, s.host, s.port)
    api = settings.api
    account_id = settings.account_id
    if api is ApiFamily.BROKER and account_id is None:
        account_id = running.emulator.exchange.default_account.id
    return Target(
        base_url=running.url,
        data_url=running.url,
        api=api,
        key_id=SecretStr(key),
        secret_key=SecretStr(secret),
        account_id=account_id,
        embedded=running,
        feed=settings.data.feed,
    )
