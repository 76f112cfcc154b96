"""The long prior (equity premium learned slowly) and the ridge's prior mean (issue 14)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

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
