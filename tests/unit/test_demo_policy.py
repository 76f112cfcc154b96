"""The planted demo market lowers the policy's significance bar, and only there: a remote
account, an emulator of the realistic market, or a ``[policy] min_t`` the trader set keep
the settings' bar."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from pydantic import SecretStr

from tui_trader.config import ApiFamily, Settings
from tui_trader.desk.target import DEMO_MIN_T, Target


def target(planted: bool | None) -> Target:
    """A target on an embedded emulator of the planted (or realistic) market; None: remote."""
    embedded: Any = (
        None
        if planted is None
        else SimpleNamespace(emulator=SimpleNamespace(config=SimpleNamespace(planted=planted)))
    )
    return Target(
        "http://x", "http://x", ApiFamily.TRADING, SecretStr("k"), SecretStr("s"), embedded=embedded
    )


def test_the_planted_demo_lowers_the_bar_unless_the_trader_set_one() -> None:
    default = Settings()
    assert target(True).policy_overrides(default) == {"min_t": DEMO_MIN_T}
    assert default.policy.min_t > DEMO_MIN_T
    assert default.policy.config(**target(True).policy_overrides(default)).min_t == DEMO_MIN_T
    chosen = Settings(policy={"min_t": 2.5})
    assert target(True).policy_overrides(chosen) == {}
    assert target(False).policy_overrides(default) == {}  # the realistic market
    assert target(None).policy_overrides(default) == {}  # Alpaca
