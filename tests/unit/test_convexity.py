"""Convexity detector: ordering of right-, un- and left-skewed series, scale and mirror
symmetry, warm-up, volatility compression, the flag's two conditions, per-symbol state, bounded
memory, and finiteness under arbitrary (including invalid) prices. Seeded numpy, no I/O."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tui_trader.core.convexity import ConvexityDetector, ConvexityReading

SEEDS = range(8)
NOISE = 0.01


def returns(kind: str, seed: int, n: int = 600, noise: float = NOISE) -> np.ndarray:
    """Gaussian noise plus, for the jump kinds, rare exponential jumps of the given sign."""
    rng = np.random.default_rng(seed)
    r = rng.normal(0.0, noise, n)
    jumps = (rng.random(n) < 0.06) * rng.exponential(5 * noise, n)
    if kind == "up":
        r += jumps
    elif kind == "down":
        r -= jumps
    elif kind == "both":
        r += jumps * rng.choice([-1.0, 1.0], n)
    else:
        assert kind == "gauss"
    return r


def prices(r: np.ndarray, start: float = 100.0) -> list[float]:
    return [start, *(start * np.exp(np.cumsum(r))).tolist()]


def read(kind: str, seed: int) -> ConvexityReading:
    return ConvexityDetector().update_many("X", prices(returns(kind, seed)))


def finite(reading: ConvexityReading) -> bool:
    values = (reading.score, reading.semi_ratio, reading.tail_ratio, reading.skew)
    return all(math.isfinite(v) for v in (*values, reading.vol_ratio))


# --- the acceptance ordering -------------------------------------------------------------


@pytest.mark.parametrize("seed", SEEDS)
def test_up_jumps_score_above_symmetric_above_down_jumps(seed: int) -> None:
    up, gauss, down = (read(kind, seed) for kind in ("up", "gauss", "down"))
    assert up.score > gauss.score > down.score
    assert up.score > 0.5 and abs(gauss.score) < 0.35
    assert down.score < -0.5
    # each ingredient agrees on the direction
    assert up.semi_ratio > 1 > down.semi_ratio
    assert up.tail_ratio > 1 > down.tail_ratio
    assert up.skew > 0 > down.skew


def test_symmetric_jumps_score_between_on_average() -> None:
    """A window can hold more up than down jumps by chance; over seeds they cancel."""
    mean = {k: np.mean([read(k, s).score for s in range(40)]) for k in ("up", "both", "down")}
    assert mean["up"] > mean["both"] > mean["down"]
    assert abs(mean["both"]) < 0.35 < min(mean["up"], -mean["down"])


@pytest.mark.parametrize("seed", SEEDS)
def test_mirrored_prices_negate_the_asymmetry(seed: int) -> None:
    """Prices p -> 1/p negate every return: the score flips sign, the ratios invert."""
    p = prices(returns("up", seed))
    a = ConvexityDetector().update_many("X", p)
    b = ConvexityDetector().update_many("X", [1.0 / x for x in p])
    assert b.score == pytest.approx(-a.score, abs=1e-9)
    assert b.semi_ratio == pytest.approx(1.0 / a.semi_ratio, rel=1e-9)
    assert b.tail_ratio == pytest.approx(1.0 / a.tail_ratio, rel=1e-9)
    assert b.skew == pytest.approx(-a.skew, rel=1e-9)
    assert b.vol_ratio == pytest.approx(a.vol_ratio, rel=1e-9)


@pytest.mark.parametrize("kind", ["up", "gauss", "down"])
@pytest.mark.parametrize("factor", [0.01, 1000.0])
def test_invariant_to_price_scale(kind: str, factor: float) -> None:
    p = prices(returns(kind, 3))
    base = ConvexityDetector().update_many("X", p)
    scaled = ConvexityDetector().update_many("X", [factor * x for x in p])
    for name in ("score", "semi_ratio", "tail_ratio", "skew", "vol_ratio"):
        assert getattr(scaled, name) == pytest.approx(getattr(base, name), rel=1e-9, abs=1e-12)
    assert (scaled.n, scaled.convex, scaled.describe()) == (base.n, base.convex, base.describe())


def test_matches_a_direct_computation_after_the_ring_wraps() -> None:
    """The documented formulas, recomputed from scratch on the last window of log returns."""
    window, long_window = 50, 130
    p = prices(returns("up", 5, n=347))  # not a multiple of either size: the ring has wrapped
    got = ConvexityDetector(window, long_window, min_obs=20).update_many("X", p)
    r = np.diff(np.log(p))
    x = r[-window:]
    d = x - x.mean()
    semi = math.sqrt(np.mean(np.maximum(d, 0) ** 2)) / math.sqrt(np.mean(np.minimum(d, 0) ** 2))
    s = np.sort(d)
    tail = s[-5:].mean() / -s[:5].mean()
    skew = np.mean(d**3) / np.mean(d**2) ** 1.5
    vol = x.std() / r[-long_window:].std()
    score = math.tanh((math.log(semi) + math.log(tail) + math.asinh(skew)) / 3 * (2 - min(vol, 1)))
    assert (got.n, got.warming_up) == (window, False)
    assert got.semi_ratio == pytest.approx(semi, rel=1e-9)
    assert got.tail_ratio == pytest.approx(tail, rel=1e-9)
    assert got.skew == pytest.approx(skew, rel=1e-9)
    assert got.vol_ratio == pytest.approx(vol, rel=1e-9)
    assert got.score == pytest.approx(score, rel=1e-9)


# --- warm-up and degenerate windows ------------------------------------------------------


def test_warming_up_until_min_obs_returns() -> None:
    det = ConvexityDetector(window=40, long_window=100, min_obs=30)
    assert det.reading("X") == det.update("X", -1.0)  # nothing seen yet, nothing stored
    assert det.reading("X").describe() == "warming up 0/30"
    p = prices(returns("up", 1, n=40))
    for i, price in enumerate(p[:30]):  # 30 prices are only 29 returns
        reading = det.update("X", price)
        assert reading.warming_up and reading.n == i
        assert (reading.score, reading.convex) == (0.0, False)
    assert det.reading("X").describe() == "warming up 29/30"
    reading = det.update("X", p[30])
    assert not reading.warming_up and reading.n == 30
    assert reading.score != 0.0


@pytest.mark.parametrize(
    "path",
    [
        [42.0] * 200,  # flat
        [100.0 * 1.01**i for i in range(200)],  # constant return: drift, not convexity
        [1e-300] * 200,
    ],
    ids=["flat", "constant-growth", "tiny-flat"],
)
def test_degenerate_windows_are_neutral(path: list[float]) -> None:
    reading = ConvexityDetector(window=50, long_window=150, min_obs=20).update_many("X", path)
    assert not reading.warming_up
    assert (reading.score, reading.convex, reading.skew) == (0.0, False, 0.0)
    assert (reading.semi_ratio, reading.tail_ratio, reading.vol_ratio) == (1.0, 1.0, 1.0)
    assert reading.describe() == "+0.00"


def test_one_sided_and_single_jump_windows_stay_finite() -> None:
    det = ConvexityDetector(window=30, long_window=60, min_obs=20)
    only_up = det.update_many("up", np.cumprod(1.0 + np.linspace(0.0, 0.05, 80)).tolist())
    one_jump = det.update_many("jump", [1.0] * 40 + [1e6] + [1e6] * 10)
    flat_after_storm = det.update_many("calm", prices(returns("gauss", 0, 40)) + [50.0] * 35)
    for reading in (only_up, one_jump, flat_after_storm):
        assert finite(reading) and -1.0 <= reading.score <= 1.0
    assert one_jump.score > 0.5 and one_jump.semi_ratio > 1
    assert flat_after_storm.vol_ratio == 0.0 and flat_after_storm.score == 0.0


# --- volatility compression and the flag -------------------------------------------------


def test_volatility_compression_is_measured_against_the_long_history() -> None:
    calm_after_storm = np.concatenate([returns("gauss", 1, 480, 0.03), returns("gauss", 2, 120)])
    storm_after_calm = np.concatenate([returns("gauss", 1, 480), returns("gauss", 2, 120, 0.03)])
    compressed = ConvexityDetector().update_many("X", prices(calm_after_storm))
    expanded = ConvexityDetector().update_many("X", prices(storm_after_calm))
    assert compressed.vol_ratio < 0.5
    assert expanded.vol_ratio > 1.5
    steady = read("gauss", 4)
    assert 0.8 < steady.vol_ratio < 1.25


def test_no_compression_verdict_before_the_history_outgrows_the_window() -> None:
    det = ConvexityDetector(window=60, long_window=200, min_obs=30)
    reading = det.update_many("X", prices(returns("up", 0, 60)))
    assert reading.n == 60 and reading.vol_ratio == 1.0 and not reading.convex


def test_flag_needs_both_asymmetry_and_compression() -> None:
    storm = returns("gauss", 7, 480, 0.04)
    quiet = returns("gauss", 7, 480, 0.004)
    convex = ConvexityDetector().update_many(
        "X", prices(np.concatenate([storm, returns("up", 8, 120)]))
    )
    expanding = ConvexityDetector().update_many(
        "X", prices(np.concatenate([quiet, returns("up", 8, 120)]))
    )
    symmetric = ConvexityDetector().update_many(
        "X", prices(np.concatenate([storm, returns("gauss", 8, 120)]))
    )

    assert convex.convex and convex.vol_ratio <= 0.8 and convex.score >= 0.25
    assert convex.describe() == f"convex {convex.score:+.2f}"
    # the same right-skewed window, but volatility is expanding: asymmetric, not a setup
    assert expanding.score >= 0.25 and expanding.vol_ratio > 0.8 and not expanding.convex
    # compressed, but nothing asymmetric about it
    assert symmetric.vol_ratio <= 0.8 and symmetric.score < 0.25 and not symmetric.convex
    # compression amplifies but never creates: same window, smaller score without it
    assert convex.score > expanding.score


def test_threshold_and_compression_parameters_are_honoured() -> None:
    p = prices(np.concatenate([returns("gauss", 7, 480, 0.04), returns("up", 8, 120)]))
    assert not ConvexityDetector(threshold=0.99).update_many("X", p).convex
    assert not ConvexityDetector(compression=0.1).update_many("X", p).convex
    assert ConvexityDetector(threshold=0.1, compression=1.0).update_many("X", p).convex


# --- state handling ----------------------------------------------------------------------


def test_symbols_are_independent() -> None:
    a, b = prices(returns("up", 1)), prices(returns("down", 2))
    mixed = ConvexityDetector()
    for pa, pb in zip(a, b, strict=True):
        mixed.update("A", pa)
        mixed.update("B", pb)
    assert mixed.reading("A") == ConvexityDetector().update_many("A", a)
    assert mixed.reading("B") == ConvexityDetector().update_many("B", b)
    assert mixed.symbols == ("A", "B")
    mixed.forget("A")
    assert list(mixed.symbols) == ["B"] and mixed.reading("A").n == 0


def test_update_many_equals_repeated_update() -> None:
    p = prices(returns("both", 9, 300))
    one = ConvexityDetector(window=50, long_window=200, min_obs=30)
    last = [one.update("X", x) for x in p][-1]
    assert last == ConvexityDetector(window=50, long_window=200, min_obs=30).update_many("X", p)


def test_memory_is_bounded_by_long_window() -> None:
    det = ConvexityDetector(window=20, long_window=50, min_obs=10)
    for i, r in enumerate(returns("gauss", 0, 5000)):
        det.update("X", 100.0 * math.exp(r) if i % 2 else 100.0)
    series = det._series["X"]
    assert series.returns.shape == (50,) and series.count == 50
    assert det.reading("X").n == 20


def test_invalid_prices_are_ignored_without_corrupting_state() -> None:
    p = prices(returns("up", 6, 200))
    junk: list[float] = [0.0, -5.0, math.nan, math.inf, -math.inf, -0.0]
    dirty = ConvexityDetector(window=50, long_window=120, min_obs=30)
    for i, price in enumerate(p):
        dirty.update("X", price)
        before = dirty.reading("X")
        assert dirty.update("X", junk[i % len(junk)]) is before  # nothing recomputed
    assert dirty.reading("X") == ConvexityDetector(50, 120, 30).update_many("X", p)
    assert ConvexityDetector().update_many("Y", junk).n == 0
    assert "Y" not in dirty.symbols


@pytest.mark.parametrize("bad", ["1.0", None, True])
def test_non_numbers_are_rejected(bad: object) -> None:
    with pytest.raises(TypeError):
        ConvexityDetector().update("X", bad)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "kwargs",
    [
        {"window": 5, "min_obs": 5},
        {"window": 50, "long_window": 50},
        {"window": 50, "min_obs": 51},
        {"min_obs": 9},
        {"window": 12.5},
        {"threshold": 0.0},
        {"threshold": 1.0},
        {"threshold": math.nan},
        {"compression": 0.0},
        {"compression": 1.5},
        {"compression": True},
    ],
)
def test_invalid_configuration_is_rejected(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        ConvexityDetector(**kwargs)  # type: ignore[arg-type]


def test_describe_formats() -> None:
    base = ConvexityDetector().reading("X")
    assert base.describe() == "warming up 0/60"
    ready = {"warming_up": False, "n": 120}
    assert ConvexityReading(**{**base.__dict__, **ready, "score": 0.1}).describe() == "+0.10"
    assert ConvexityReading(**{**base.__dict__, **ready, "score": -0.001}).describe() == "+0.00"
    flagged = {**base.__dict__, **ready, "score": 0.4231, "convex": True}
    assert ConvexityReading(**flagged).describe() == "convex +0.42"


# --- never NaN, never inf ----------------------------------------------------------------

WEIRD = st.sampled_from([0.0, -1.0, math.nan, math.inf, -math.inf, 5e-324, 1e-300, 1e300, 1.0])
ANY_PRICE = st.one_of(
    WEIRD, st.floats(allow_nan=True, allow_infinity=True), st.floats(1e-300, 1e300)
)


def small() -> ConvexityDetector:
    return ConvexityDetector(window=10, long_window=16, min_obs=10)


def check(readings: Sequence[ConvexityReading]) -> None:
    for reading in readings:
        assert finite(reading), reading
        assert -1.0 <= reading.score <= 1.0
        assert 0 <= reading.n <= 10
        assert reading.semi_ratio > 0 and reading.tail_ratio > 0 and reading.vol_ratio >= 0
        assert not reading.warming_up or reading.score == 0.0


@settings(max_examples=150, deadline=None)
@given(st.lists(ANY_PRICE, max_size=60))
def test_arbitrary_prices_never_give_nan_or_inf(path: list[float]) -> None:
    det = small()
    check([det.update("X", p) for p in path])
    clean = [p for p in path if math.isfinite(p) and p > 0]
    assert det.reading("X") == small().update_many("X", clean)  # the junk was ignored


@settings(max_examples=100, deadline=None)
@given(
    st.lists(
        st.one_of(st.just(0.0), st.floats(-1.0, 1.0), st.floats(-300.0, 300.0), WEIRD),
        max_size=60,
    )
)
def test_random_walks_with_huge_jumps_never_give_nan_or_inf(steps: list[float]) -> None:
    """Log-price steps, mostly flat or small, some huge; junk values are fed in as prices."""
    det, level, readings = small(), 0.0, []
    for step in steps:
        if not math.isfinite(step) or step in (5e-324, 1e-300, 1e300):
            readings.append(det.update("X", step))  # junk or extreme raw price
            continue
        level = min(max(level + step, -700.0), 700.0)
        readings.append(det.update("X", math.exp(level)))
    check(readings)
