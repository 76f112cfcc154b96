"""The long prior (equity premium learned slowly) and the ridge's prior mean (issue 14)."""

from __future__ import annotations

import math
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import numpy as np
import pytest

from tui_trader.config import Settings
from tui_trader.core.policy import ForgettingRidge, OnlinePolicy, PolicyConfig


def test_the_ridge_starts_at_its_prior_mean_and_data_move_it() -> None:
    prior = np.array([0.5, 0.0])
    model = ForgettingRidge(2, 1.0, 10.0, prior)
    assert model.theta() == pytest.approx(prior)
    rng = np.random.default_rng(1)
    for _ in range(5000):  # the truth is 0 for both: evidence outweighs the prior
        x = rng.standard_normal(2)
        model.update(x, float(rng.standard_normal()))
    assert abs(model.theta()[0]) < 0.1


def test_the_premium_is_the_expanding_mean_shrunk_toward_the_prior() -> None:
    cfg = PolicyConfig(bars_per_year=252, premium_prior=0.04, premium_years=1.0, min_t=0.0)
    policy = OnlinePolicy(cfg)
    at = datetime(2020, 1, 1, tzinfo=UTC)
    assert policy._premium(policy._state("X")) == pytest.approx(0.04 / 252)
    price = 100.0
    for i in range(253):  # a steady fall of 0.1% a bar, every return counted
        policy.observe("X", price, at + timedelta(days=i))
        price *= 0.999
    state = policy._states["X"]
    n = state.return_count
    expected = (state.return_sum + 252 * 0.04 / 252) / (n + 252)
    assert policy._premium(state) == pytest.approx(expected)
    assert policy._premium(state) < 0  # a year of evidence against one year of prior


def test_without_the_prior_the_premium_is_zero() -> None:
    policy = OnlinePolicy(PolicyConfig(bars_per_year=252))
    assert policy._premium(policy._state("X")) == 0.0


def test_the_policy_settings_reach_the_config() -> None:
    settings = Settings.model_validate(
        {
            "policy": {
                "premium_prior": 0.03,
                "trend_days": [252],
                "trend_prior": 0.02,
                "vol_target": 0.05,
                "drawdown_limit": 0.2,
                "drawdown_floor": 0.1,
            }
        }
    )
    cfg = settings.policy.config(bars_per_year=252)
    assert (cfg.premium_prior, cfg.trend_days, cfg.trend_prior) == (0.03, (252.0,), 0.02)
    assert (cfg.vol_target, cfg.drawdown_limit, cfg.drawdown_floor) == (0.05, 0.2, 0.1)
    with pytest.raises(ValueError):
        PolicyConfig(premium_prior=2.0)


def test_the_walk_forward_report_reads_what_the_risk_gate_denied() -> None:
    from collections import Counter

    from tui_trader.desk.launch.walkforward import _denials

    class Gate:
        denied = Counter({"HALTED": 3})

    class Bare:  # a policy without a gate: nothing to report
        pass

    assert _denials({"a": Gate(), "b": Bare()}) == {"a": {"HALTED": 3}, "b": {}}  # type: ignore[dict-item]


def _risk_premium(**extra: object) -> PolicyConfig:
    fields: dict[str, object] = {
        "bars_per_year": 252,
        "sharpe_prior": 0.4,
        "premium_years": 1_000.0,  # the prior alone: the data barely move it
        "utility": "log",
        "aggressiveness": 1.0,
        "min_t": 0.0,
        "horizons": (1,),
        "ridge": 1e9,
        "max_weight": 10.0,
        "warmup_bars": 20,
        "no_trade_band": 0.0,
        **extra,
    }
    return PolicyConfig(**fields)  # type: ignore[arg-type]


def _fed(config: PolicyConfig, daily_vol: float, n: int = 300) -> OnlinePolicy:
    policy = OnlinePolicy(config)
    price, at = 100.0, datetime(2001, 1, 2, 21, tzinfo=UTC)
    for i in range(n):
        price *= 1.0 + (daily_vol if i % 2 else -daily_vol)
        policy.observe("X", price, at + timedelta(days=i))
    return policy


def test_risk_proportional_premium_makes_kelly_a_volatility_target() -> None:
    """mu = s sigma, so Kelly's w = kappa mu / var = kappa s / sigma: the position's annual
    vol, w sigma sqrt(252), is kappa times the annual Sharpe prior at any volatility."""
    at = datetime(2003, 1, 1, 21, tzinfo=UTC)
    for vol in (0.005, 0.02):
        policy = _fed(_risk_premium(), vol)
        sigma = policy._states["X"].sigma
        d = policy.decide("X", Decimal(100), Decimal(1_000_000), Decimal(0), at)
        assert d.mu == pytest.approx(sigma * 0.4 / math.sqrt(252), rel=0.05)
        assert d.target_weight * sigma * math.sqrt(252) == pytest.approx(0.4, rel=0.1)


def test_sign_features_follow_the_trend_and_long_only_never_shorts() -> None:
    config = _risk_premium(tsmom_days=20.0, sma_days=10.0, trend_prior=0.2, sharpe_prior=0.0)
    assert config.feature_names[1:3] == ("tsmom_20d", "sma_10d")
    at = datetime(2001, 1, 2, 21, tzinfo=UTC)
    for long_only in (False, True):
        policy = OnlinePolicy(replace(config, long_only=long_only))
        price = 100.0
        for i in range(60):  # a steady fall with noise: both signs -1
            price *= 0.995 + (0.01 if i % 2 else -0.01)
            policy.observe("X", price, at + timedelta(days=i))
        d = policy.decide("X", Decimal(100), Decimal(100_000), Decimal(0), at + timedelta(days=60))
        assert (d.features["tsmom_20d"], d.features["sma_10d"]) == (-1.0, -1.0)
        assert d.mu < 0
        assert (d.target_weight == 0.0) if long_only else (d.target_weight < 0)
