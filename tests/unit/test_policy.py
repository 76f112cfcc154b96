"""The online policy: sizing maths, the forgetting ridge model, decisions, and the backtest.

The acceptance experiment runs the emulator's own market model (SPY, MSFT, AAPL; ten sessions,
3 x 3,910 minute bars). Its default drift regime (``regime_drift=0.6``, 60 %/yr) is far too weak
to learn from a few thousand bars: the drift is 0.008-0.013 of a bar's standard deviation for
these symbols, so even an oracle that knows the regime has an annualised Sharpe of only ~2-3
per symbol, while a Sharpe measured over 3,900 bars has a standard error of ~5. (Measured, four
seeds: 2.1 +- 6.2, indistinguishable from zero.) The experiment therefore plants
``regime_drift=10``: 0.13-0.21 of a bar's standard deviation, still invisible bar by bar,
which the default policy learns from the bars alone.
"""

from __future__ import annotations

import math
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tui_trader.config import PolicySettings
from tui_trader.core.backtest import BacktestResult, bars_from_closes, run_backtest
from tui_trader.core.policy import (
    BARS_PER_YEAR,
    Decision,
    ForgettingRidge,
    OnlinePolicy,
    PolicyConfig,
    optimal_weight,
    utility_gain,
)

T0 = datetime(2024, 3, 4, 14, 30, tzinfo=UTC)
MINUTE_VAR = 0.25**2 / BARS_PER_YEAR  # per-bar variance of a 25 %-vol stock
SIZING = {"risk_aversion": 2.0, "aggressiveness": 1.0}
UTILITIES = ("log", "crra", "target")
FAR_TARGET = (1.5, 20 * 390.0)  # +50 % in 20 days: needs more than any small edge gives


def weight(mu: float, var: float = MINUTE_VAR, utility: str = "crra", **kw: float) -> float:
    args: dict[str, float] = {**SIZING, "max_weight": 1e9, **kw}
    target = FAR_TARGET if utility == "target" else None
    return optimal_weight(mu, var, utility=utility, target=target, **args)


# -- sizing -------------------------------------------------------------------------------------


@pytest.mark.parametrize("utility", UTILITIES)
@pytest.mark.parametrize("mu", [0.0, -0.0])
def test_zero_edge_gives_exactly_zero_weight(utility: str, mu: float) -> None:
    assert weight(mu, utility=utility) == 0.0
    assert weight(mu, 1e-12, utility=utility, aggressiveness=100.0) == 0.0


@pytest.mark.parametrize("utility", ["log", "crra"])
def test_weight_grows_with_edge_and_aggressiveness_and_shrinks_with_variance(
    utility: str,
) -> None:
    edges = [weight(mu, utility=utility) for mu in (1e-7, 1e-6, 1e-5)]
    assert 0 < edges[0] < edges[1] < edges[2]
    assert weight(-1e-6, utility=utility) == -edges[1]
    bold = [weight(1e-6, utility=utility, aggressiveness=k) for k in (0.25, 0.5, 1.0, 2.0)]
    assert bold == sorted(bold) and len(set(bold)) == 4
    calm = [weight(1e-6, v, utility=utility) for v in (1e-7, 1e-6, 1e-5)]
    assert calm[0] > calm[1] > calm[2] > 0


def test_log_is_fractional_kelly_and_crra_is_merton() -> None:
    mu, var = 2e-6, MINUTE_VAR
    assert weight(mu, utility="log") == pytest.approx(mu / var)
    assert weight(mu, utility="log", aggressiveness=0.5) == pytest.approx(0.5 * mu / var)
    assert weight(mu, utility="crra", risk_aversion=4.0) == pytest.approx(mu / (4.0 * var))
    assert weight(mu, utility="crra", risk_aversion=1.0) == pytest.approx(weight(mu, utility="log"))


def test_target_mode_bets_what_the_target_needs_but_never_beyond_kelly() -> None:
    var, horizon = MINUTE_VAR, 20 * 390.0

    def w(mu: float, ratio: float, aggressiveness: float = 1.0) -> float:
        return optimal_weight(
            mu,
            var,
            utility="target",
            risk_aversion=2.0,
            aggressiveness=aggressiveness,
            max_weight=1e9,
            target=(ratio, horizon),
        )

    needed = math.sqrt(2 * math.log(1.05) / (horizon * var))
    assert w(1e-5, 1.05) == pytest.approx(needed)  # the probability maximiser, below Kelly
    assert w(-1e-5, 1.05) == pytest.approx(-needed)
    assert w(1e-8, 1.05) == pytest.approx(1e-8 / var)  # capped at Kelly for a tiny edge
    assert w(1e-5, 1.10) > w(1e-5, 1.05)  # a further target needs more
    assert w(1e-5, 1.05, aggressiveness=2.0) == pytest.approx(2 * needed)
    assert w(1e-5, 1.0) == 0.0 and w(1e-5, 0.9) == 0.0  # at or above target: cash is certain
    edges = [w(mu, 1.05) for mu in (1e-9, 1e-8, 1e-7, 1e-6, 1e-5)]
    assert edges == sorted(edges)  # weakly monotone in the edge
    with pytest.raises(ValueError, match="target"):
        optimal_weight(1e-5, var, utility="target", **SIZING, max_weight=1.0)


@pytest.mark.parametrize(
    ("mu", "var"),
    [(math.nan, 1e-6), (1e-6, math.nan), (math.inf, 1e-6), (1e-6, math.inf), (1e-6, 0.0)],
)
@pytest.mark.parametrize("utility", UTILITIES)
def test_degenerate_inputs_give_zero(mu: float, var: float, utility: str) -> None:
    assert weight(mu, var, utility=utility) == 0.0


def test_unknown_utility_is_an_error() -> None:
    with pytest.raises(ValueError, match="utility"):
        optimal_weight(1e-6, 1e-6, utility="exp", **SIZING, max_weight=1.0)


finite = st.floats(allow_nan=False, allow_infinity=False)


@settings(max_examples=400, deadline=None)
@given(
    mu=finite,
    var=finite,
    risk_aversion=finite,
    aggressiveness=finite,
    max_weight=finite,
    utility=st.sampled_from(UTILITIES),
    target=st.tuples(finite, finite),
)
def test_caps_always_hold(
    mu: float,
    var: float,
    risk_aversion: float,
    aggressiveness: float,
    max_weight: float,
    utility: str,
    target: tuple[float, float],
) -> None:
    w = optimal_weight(
        mu,
        var,
        utility=utility,
        risk_aversion=risk_aversion,
        aggressiveness=aggressiveness,
        max_weight=max_weight,
        target=target,
    )
    assert math.isfinite(w)
    assert abs(w) <= max(max_weight, 0.0)
    gain = utility_gain(
        w,
        0.1,
        mu,
        var,
        utility=utility,
        risk_aversion=risk_aversion,
        aggressiveness=aggressiveness,
        cost=2e-4,
        holding_bars=30,
        target=target,
    )
    assert math.isfinite(gain)


def test_utility_gain_rewards_moving_to_the_optimum_and_charges_the_cost() -> None:
    mu, var = 2e-6, MINUTE_VAR
    best = weight(mu, utility="crra")
    kw = {"utility": "crra", **SIZING, "holding_bars": 30.0}
    assert utility_gain(best, 0.0, mu, var, cost=0.0, **kw) > 0
    assert utility_gain(best, 0.0, mu, var, cost=0.0, **kw) > utility_gain(
        best / 2, 0.0, mu, var, cost=0.0, **kw
    )
    assert utility_gain(0.3, 0.3, mu, var, cost=1.0, **kw) == 0.0
    free = utility_gain(0.2, 0.0, mu, var, cost=0.0, **kw)
    assert utility_gain(0.2, 0.0, mu, var, cost=2e-4, **kw) == pytest.approx(free - 0.2 * 2e-4)
    # beyond the optimum, moving further away loses
    assert utility_gain(best * 3, best * 2, mu, var, cost=0.0, **kw) < 0


# -- the model ----------------------------------------------------------------------------------


def test_forgetting_ridge_learns_a_planted_linear_signal() -> None:
    rng = np.random.default_rng(1)
    theta = np.array([0.5, -0.3, 0.0, 0.2, 1.0])
    model = ForgettingRidge(5, forgetting=1.0, ridge=1.0)
    for _ in range(3000):
        x = rng.standard_normal(5)
        model.update(x, float(theta @ x + 0.5 * rng.standard_normal()))
    assert np.allclose(model.theta(), theta, atol=0.03)
    assert model.residual_var() == pytest.approx(0.25, rel=0.15)
    x = rng.standard_normal(5)
    y_hat, s2, q = model.predict(x)
    assert y_hat == pytest.approx(float(theta @ x), abs=0.1) and s2 == model.residual_var()
    assert 0 < q < 0.01  # 3000 observations leave little parameter uncertainty


def test_forgetting_tracks_a_changed_signal_and_no_forgetting_does_not() -> None:
    rng = np.random.default_rng(2)
    forgetful = ForgettingRidge(2, forgetting=0.99, ridge=1.0)
    stubborn = ForgettingRidge(2, forgetting=1.0, ridge=1.0)
    for beta in (1.0, -1.0):
        for _ in range(2000):
            x = np.array([rng.standard_normal(), 1.0])
            y = beta * x[0] + 0.3 * rng.standard_normal()
            forgetful.update(x, y)
            stubborn.update(x, y)
    assert forgetful.theta()[0] == pytest.approx(-1.0, abs=0.1)
    assert abs(stubborn.theta()[0]) < 0.1  # averaged the two regimes away


def regime_closes(
    n: int, *, drift: float, seed: int, vol: float = 0.25, symbols: int = 1
) -> dict[str, list[float]]:
    """Minute closes with the emulator's kind of planted edge: a -1/0/+1 drift regime."""
    rng = np.random.default_rng(seed)
    out: dict[str, list[float]] = {}
    for s in range(symbols):
        switches = rng.random(n) < 1 / 120
        fresh = rng.integers(-1, 2, n)
        regime = np.empty(n)
        state = int(rng.integers(-1, 2))
        for i in range(n):
            state = int(fresh[i]) if switches[i] else state
            regime[i] = state
        returns = drift * regime / BARS_PER_YEAR + vol * rng.standard_normal(n) / math.sqrt(
            BARS_PER_YEAR
        )
        out[f"S{s}"] = list(100 * np.exp(np.cumsum(returns)))
    return out


def ar1_closes(n: int, *, phi: float, seed: int) -> list[float]:
    """Closes whose minute returns follow r_t = phi r_{t-1} + noise (a planted linear signal)."""
    rng = np.random.default_rng(seed)
    noise = 0.25 * rng.standard_normal(n) / math.sqrt(BARS_PER_YEAR)
    r = np.zeros(n)
    for i in range(1, n):
        r[i] = phi * r[i - 1] + noise[i]
    return list(100 * np.exp(np.cumsum(r)))


def test_policy_learns_a_planted_predictable_component() -> None:
    closes = ar1_closes(3000, phi=-0.3, seed=3)
    policy = OnlinePolicy(PolicyConfig(forgetting=0.999))
    mus, nexts = [], []
    for i, c in enumerate(closes[:-1]):
        policy.observe("X", c, T0 + timedelta(minutes=i))
        if i >= 1000:
            mus.append(policy.predict("X")[0])
            nexts.append(closes[i + 1] / c - 1)
    assert np.corrcoef(mus, nexts)[0, 1] > 0.2
    features = policy.predict("X")[2]
    assert set(features) == {"ret_1", "ret_5", "ret_15", "ret_60", "vol", "meanrev"} | {
        "convexity",
        "bias",
    }
    assert policy.coefficients("X")["ret_1"] < -0.15  # lag-one mean reversion, found unaided


# -- decisions ----------------------------------------------------------------------------------


def feed(policy: OnlinePolicy, closes: list[float], symbol: str = "X") -> datetime:
    at = T0
    for i, c in enumerate(closes):
        at = T0 + timedelta(minutes=i)
        policy.observe(symbol, c, at)
    return at


def decide(policy: OnlinePolicy, price: float, qty: float = 0, equity: float = 100_000) -> Decision:
    return policy.decide(
        "X", Decimal(repr(price)), Decimal(equity), Decimal(repr(qty)), T0 + timedelta(days=1)
    )


def trending(n: int = 400, step: float = 0.0004) -> list[float]:
    """An uptrend of half a standard deviation a bar: an unmistakable edge."""
    noise = np.random.default_rng(0).standard_normal(n)
    return [float(c) for c in 100 * np.exp(np.cumsum(step + 2 * step * noise))]


def test_no_position_during_warm_up() -> None:
    cfg = PolicyConfig(warmup_bars=60)
    policy = OnlinePolicy(cfg)
    closes = trending()
    for i, c in enumerate(closes[:59]):
        policy.observe("X", c, T0 + timedelta(minutes=i))
        d = decide(policy, c)
        assert d.reason == "warming up" and d.proposed_qty is None and d.target_weight == 0.0
    assert decide(OnlinePolicy(cfg), 100.0).reason == "warming up"  # never seen
    feed(policy, closes)
    d = decide(policy, closes[-1])
    assert d.reason == "rebalance" and d.target_weight == cfg.max_weight
    assert d.proposed_qty is not None and d.proposed_qty > 0


def test_decision_record_is_complete_and_orders_are_whole_shares() -> None:
    cfg = PolicyConfig()
    policy = OnlinePolicy(cfg)
    closes = trending()
    feed(policy, closes)
    price = closes[-1]
    d = decide(policy, price, qty=0, equity=100_000)
    assert d.mu > 0 and d.sigma > 0 and d.utility_gain > 0
    assert d.features["bias"] == 1.0 and d.features["ret_60"] > 1
    assert d.proposed_qty == Decimal(math.floor(0.25 * 100_000 / price))
    assert d.proposed_qty == d.proposed_qty.to_integral_value()
    for value in (d.mu, d.sigma, d.target_weight, d.current_weight, d.utility_gain):
        assert math.isfinite(value)
    # short side: the order rounds toward zero too
    down = OnlinePolicy(cfg)
    falling = [100 * 100 / c for c in closes]
    feed(down, falling)
    d = decide(down, falling[-1])
    assert d.target_weight == -cfg.max_weight
    assert d.proposed_qty == -Decimal(math.floor(0.25 * 100_000 / falling[-1]))


def test_no_trade_band_keeps_a_position_close_to_target() -> None:
    policy = OnlinePolicy(PolicyConfig(no_trade_band=0.05))
    closes = trending()
    feed(policy, closes)
    price = closes[-1]
    qty = math.floor(0.21 * 100_000 / price)  # 0.21 held, 0.25 wanted
    d = decide(policy, price, qty=qty)
    assert d.reason == "inside the no-trade band" and d.proposed_qty is None
    assert d.target_weight == d.current_weight
    d = decide(policy, price, qty=math.floor(0.15 * 100_000 / price))
    assert d.reason == "rebalance" and d.target_weight == 0.25


def test_positions_past_the_cap_are_trimmed() -> None:
    policy = OnlinePolicy(PolicyConfig())
    closes = trending()
    feed(policy, closes)
    price = closes[-1]
    qty = math.floor(0.6 * 100_000 / price)
    d = decide(policy, price, qty=qty)
    assert d.target_weight == 0.25 and d.current_weight > 0.5
    assert d.proposed_qty is not None and d.proposed_qty < 0


@settings(max_examples=200, deadline=None)
@given(
    price=st.floats(0.01, 1e6),
    equity=st.floats(-1e6, 1e9),
    qty=st.floats(-1e6, 1e6),
    max_weight=st.floats(0.01, 1.0),
    utility=st.sampled_from(UTILITIES),
)
def test_decisions_respect_the_cap_and_stay_finite(
    price: float, equity: float, qty: float, max_weight: float, utility: str
) -> None:
    cfg = PolicyConfig(utility=utility, max_weight=max_weight, target_equity=150_000.0)  # type: ignore[arg-type]
    policy = OnlinePolicy(cfg)
    feed(policy, trending(120))
    d = policy.decide("X", Decimal(repr(price)), Decimal(repr(equity)), Decimal(repr(qty)), T0)
    assert abs(d.target_weight) <= max_weight
    for value in (d.mu, d.sigma, d.target_weight, d.current_weight, d.utility_gain):
        assert math.isfinite(value)
    assert all(math.isfinite(v) for v in d.features.values())
    if d.proposed_qty is not None:
        assert d.proposed_qty == d.proposed_qty.to_integral_value() and d.proposed_qty != 0


def test_bad_bars_are_ignored() -> None:
    policy = OnlinePolicy(PolicyConfig())
    policy.observe("X", 100.0, T0)
    for close in (math.nan, math.inf, 0.0, -5.0):
        policy.observe("X", close, T0 + timedelta(minutes=1))
    policy.observe("X", 101.0, T0)  # not after the last bar
    assert policy.observations("X") == 1
    assert decide(policy, 0.0).reason == "no valid price"


class FakeReading:
    def __init__(self, score: float, warming_up: bool) -> None:
        self.score = score
        self.warming_up = warming_up


class FakeConvexity:
    def __init__(self) -> None:
        self.calls: list[tuple[str, float]] = []

    def update(self, symbol: str, price: float) -> FakeReading:
        self.calls.append((symbol, price))
        return FakeReading(1.5, warming_up=len(self.calls) < 10)


def test_convexity_score_is_a_feature_once_the_detector_is_warm() -> None:
    detector = FakeConvexity()
    policy = OnlinePolicy(PolicyConfig(), convexity=detector)
    closes = trending(9)
    feed(policy, closes)
    assert policy.predict("X")[2]["convexity"] == 0.0
    policy.observe("X", 101.0, T0 + timedelta(hours=1))
    assert policy.predict("X")[2]["convexity"] == 1.5
    assert detector.calls[:2] == [("X", closes[0]), ("X", closes[1])]
    assert len(detector.calls) == 10
    plain = OnlinePolicy(PolicyConfig())
    feed(plain, closes)
    assert plain.predict("X")[2]["convexity"] == 0.0


def test_config_from_settings_and_validation() -> None:
    settings = PolicySettings(utility="target", target_equity=Decimal("120000"), max_weight=0.5)
    cfg = settings.config(cost_bps=1.0)
    assert cfg.utility == "target" and cfg.target_equity == 120_000.0
    assert cfg.max_weight == 0.5 and cfg.cost == 1e-4 and cfg.forgetting == 0.995
    assert cfg.horizon_bars == 20 * 390
    assert PolicySettings().config() == PolicyConfig()
    with pytest.raises(ValueError, match="target_equity"):
        PolicyConfig(utility="target")
    with pytest.raises(ValueError, match="max_weight"):
        PolicyConfig(max_weight=0)
    with pytest.raises(ValueError, match="forgetting"):
        PolicyConfig(forgetting=1.5)


def test_target_mode_decides_toward_the_target() -> None:
    closes = trending()
    near = OnlinePolicy(PolicyConfig(utility="target", target_equity=100_001.0))
    feed(near, closes)
    far = OnlinePolicy(PolicyConfig(utility="target", target_equity=200_000.0))
    feed(far, closes)
    reached = OnlinePolicy(PolicyConfig(utility="target", target_equity=90_000.0))
    feed(reached, closes)
    price = closes[-1]
    assert 0 < decide(near, price).target_weight < decide(far, price).target_weight
    assert decide(reached, price).proposed_qty is None


# -- backtests ----------------------------------------------------------------------------------


def factory(**kw: object) -> OnlinePolicy:
    return OnlinePolicy(replace(PolicyConfig(), **kw))


def test_backtest_is_deterministic_per_seed() -> None:
    bars = bars_from_closes(regime_closes(1500, drift=10.0, seed=4, symbols=2))
    first = run_backtest(bars, factory, seed=7)
    again = run_backtest(bars, factory, seed=7)
    other = run_backtest(bars, factory, seed=8)
    assert first.policy == again.policy and first.shuffled == again.shuffled
    assert np.array_equal(first.equity, again.equity)
    assert other.policy == first.policy  # the policy itself uses no randomness
    assert first.orders > 0 and first.decisions == 2 * 1500


def test_backtest_baselines() -> None:
    up = bars_from_closes({"A": [100 * 1.001**i for i in range(300)]})
    result = run_backtest(up, factory, cost_bps=0.0)
    assert result.flat.total_return == 0.0 and result.flat.trades == 0
    assert result.buy_and_hold.total_return == pytest.approx(1.001**299 - 1, rel=0.01)
    assert result.buy_and_hold.trades == 1 and result.buy_and_hold.max_drawdown == 0.0
    assert len(result.timestamps) == len(result.equity) == 300
    with pytest.raises(ValueError):
        run_backtest({}, factory)


def test_no_trade_band_suppresses_churn() -> None:
    """Riding a trend at the cap, the held weight drifts every bar; at this size each drift
    is whole shares, so without a band nearly every bar tops up or trims."""
    bars = bars_from_closes({"X": trending(600)})
    churny = run_backtest(bars, lambda: factory(no_trade_band=0.0), starting_equity=1e8)
    banded = run_backtest(bars, factory, starting_equity=1e8)
    assert churny.orders > 400
    assert 0 < banded.orders < churny.orders / 20
    assert banded.policy.turnover < churny.policy.turnover


# -- acceptance on the emulator's market model --------------------------------------------------


SESSIONS = 10
SYMBOLS = ("SPY", "MSFT", "AAPL")
PLANTED_DRIFT = 10.0


def emulator_bars(regime_drift: float, seed: int) -> dict[str, list[tuple[datetime, float]]]:
    """Ten sessions of the emulator's minute bars (3 x 3,910 bars), closes only, its regimes
    switching as the planted market's do (every ~2 trading hours), asked for explicitly: the
    emulator's default is the realistic market, where there is nothing to learn."""
    from tui_trader.sim.clock import SESSION_SECONDS, next_trading_day, session_open
    from tui_trader.sim.market import MarketModel
    from tui_trader.sim.regimes import PLANTED

    day = date(2024, 3, 4)
    market = MarketModel(
        list(SYMBOLS),
        seed,
        session_open(day),
        regime_drift=regime_drift,
        regime_minutes=PLANTED.minutes,
        history_days=0,
    )
    for _ in range(SESSIONS):
        opened = session_open(day)
        market.step(SESSION_SECONDS, opened + timedelta(seconds=SESSION_SECONDS))
        day = next_trading_day(day)
        market.session_break(session_open(day))
    return {s: [(b.t, b.c) for b in market.minute_bars(s)] for s in SYMBOLS}


@pytest.fixture(scope="module")
def planted() -> BacktestResult:
    return run_backtest(
        emulator_bars(PLANTED_DRIFT, seed=0), lambda: OnlinePolicy(PolicyConfig()), seed=0
    )


@pytest.fixture(scope="module")
def random_walk() -> BacktestResult:
    return run_backtest(emulator_bars(0.0, seed=0), lambda: OnlinePolicy(PolicyConfig()), seed=0)


def test_learns_the_emulators_planted_regime(planted: BacktestResult) -> None:
    """Planted data: this checks that the policy finds what was planted, not that it has an
    edge anywhere else. Significance is judged against the permutation distribution of its
    own positions (timing and direction), not against a mean."""
    # the emulator's sessions hold 391 one-minute stamps (a bar at the close): 391 x 252
    assert planted.annualisation.periods_per_year == pytest.approx(BARS_PER_YEAR, rel=0.01)
    policy = planted.policy
    se = policy.sharpe_se
    assert policy.sharpe > 3 * se  # clearly positive
    assert policy.sharpe > planted.buy_and_hold.sharpe + se
    assert planted.shuffled.permutations >= 200 and planted.shuffled.p_value < 0.01
    assert planted.signs.p_value < 0.01
    assert policy.total_return > 0 and policy.max_drawdown < 0.02


def test_random_walk_neither_overtrades_nor_loses_beyond_costs(
    random_walk: BacktestResult, planted: BacktestResult
) -> None:
    policy = random_walk.policy
    per_day = policy.turnover / SESSIONS
    assert per_day < 0.5  # trades less than half its equity a day
    assert policy.turnover < planted.policy.turnover / 4
    assert policy.costs < 0.001 * 100_000
    # its gross P&L (return before costs) is consistent with zero edge: within two standard
    # errors of the equity curve's own noise, so the loss is costs plus noise and nothing else
    returns = np.diff(random_walk.equity) / random_walk.equity[:-1]
    noise = float(returns.std()) * math.sqrt(len(returns))
    gross = policy.total_return + policy.costs / 100_000
    assert gross > -2 * noise
    assert policy.total_return > -0.01 and policy.max_drawdown < 0.01
    # and its timing and direction are no better than its own positions shuffled
    assert random_walk.shuffled.p_value > 0.01 and random_walk.signs.p_value > 0.01
