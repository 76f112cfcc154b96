r"""The online policy: ties the features, the forecaster and the sizing into one decision per bar.

:meth:`OnlinePolicy.observe` feeds a close to the features (:mod:`.features`), trains the
forecaster (:mod:`.ridge`) on the previous bar's features and predicts the next return;
:meth:`OnlinePolicy.decide` sizes that prediction (:mod:`.utility`) into a :class:`Decision`.

Maths
=====

**Prediction.** ``y_hat = theta' x`` and ``q = x' P x``; the predictive variance (standardised)
is ``s^2 (1 + q)``: noise plus parameter uncertainty. The prediction's own t-statistic is
``t = y_hat / (s sqrt(q))``; it is shrunk positive-part James-Stein style,
``y_hat <- y_hat max(0, 1 - t_0^2 / t^2)`` (``t_0 = min_t``), so an insignificant prediction is
exactly zero edge. (With ``lambda < 1``, ``s^2 P`` overstates the estimate's variance by up to
``(1 + lambda)``-fold, which only makes this gate more conservative.) In return units
``mu = sigma_t y_hat`` and ``var = sigma_t^2 s^2 (1 + q)`` per bar.

**Long prior** (``premium_prior`` set; off by default). The equity premium is learned
slowly, apart from the ridge: with ``n`` returns seen (winsorised, ``r = sigma z``), prior
``m_0 = premium_prior / bars_per_year`` per bar and weight ``n_0 = premium_years x
bars_per_year`` pseudo-bars, ``m_t = (sum r + n_0 m_0) / (n + n_0)``: the expanding-window
mean shrunk toward the prior (a normal-normal posterior mean). The ridge then learns what it
does not explain, ``z - m_t / sigma_{t-1}``, and ``mu = m_t + sigma_t y_hat`` (the t-gate
below applies to ``y_hat`` alone; a prior is a belief, not a test). The slow trend features'
coefficients start at ``trend_prior`` (the ridge's prior mean, :mod:`.ridge`) and move off
it as fast as ``ridge`` (pseudo-observations) lets the evidence. With ``utility = "log"`` the
size is fractional Kelly, ``w = kappa mu / var``, which under the volatility target sits at
``vol_target / sigma_annual`` whenever the forecast is confident and shrinks with ``mu``.

**Risk-proportional premium** (``sharpe_prior`` set). Expected return proportional to risk:
``mu_t = s_t sigma_t``, with ``s_t`` a per-bar Sharpe ratio learned slowly from the
standardised returns ``z`` (``n`` seen): ``s_t = (sum z + n_0 s_0) / (n + n_0)``,
``s_0 = sharpe_prior / sqrt(bars_per_year)``, ``n_0 = premium_years x bars_per_year``
(the normal-normal posterior mean of the mean of ``z``, whose variance is about 1). The ridge
learns the rest of ``z``, ``z - s_{t-1}``, on the trend evidence (``tsmom``/``sma`` signs,
``trend_Dd``; :mod:`.features`) whose coefficients ``beta`` start at ``trend_prior`` (a
positive prior: trends persist a little) and are revised by the data, so in all
``mu_t = sigma_t (s_t + y_hat_t)`` and ``var_t = sigma_t^2 s^2 (1 + q)``. Fractional Kelly
(``utility = "log"``) is then ``w = kappa mu / var = kappa (s_t + y_hat_t) / (sigma_t
s^2 (1 + q))``: inversely proportional to volatility, so the position's forecast annual
volatility ``|w| sigma_t sqrt(N) ~ kappa x (forecast annual Sharpe)``. That *is* volatility
targeting, derived from the forecast rather than bolted on, with a target that grows with the
trend evidence (``kappa`` picks the scale); ``vol_target`` stays only as a safety cap above
it. A downtrend whose evidence outweighs the premium gives a negative ``mu``: a short, or flat
with ``long_only``.

**Decision.** ``mu`` and ``var`` are predicted once per bar, in :meth:`OnlinePolicy.observe`;
:meth:`OnlinePolicy.decide` sizes them: ``w* = optimal_weight(...)`` against the current weight
``w_0 = q p / E``, in this order:

1. ``|w* - w_0| < no_trade_band``: keep ``w_0`` (the no-trade band);
2. the position's edge has expired: the last bar whose ``mu`` had the position's sign is more
   than ``H`` bars old (the horizon its entry was priced over) and moving to ``w*`` does not
   pay: go flat. Without this a position would never be closed, because on minute bars the
   risk term ``gamma w^2 var / 2`` is far below any trading cost;
3. gain ``<= 0``: keep ``w_0``;
4. otherwise trade to ``w*``.

**Caps.** ``cap = max_weight``, shrunk by the risk caps when they are set: the volatility
target ``cap <= vol_target / (sigma_t sqrt(bars_per_year))`` (with ``sigma_t`` the clustering
EWMA vol, so the position's own forecast annual vol is at most ``vol_target``), and the
drawdown-aware cap ``cap *= max(drawdown_floor, 1 - dd / drawdown_limit)`` with
``dd = 1 - E / max E`` over the equities this policy has been asked to size (it shrinks as
losses deepen and grows back with the equity; the floor keeps it from freezing flat for good
at a deep drawdown).

The target is the chosen weight clipped to ``+-cap`` (``[0, cap]`` with ``long_only``), so
``|target_weight| <= max_weight`` always and a position grown past the cap is trimmed. The
proposed order is ``trunc(target E / p - q)`` whole shares, ``None`` when that is zero or when
``|target - w_0| < no_trade_band`` (the band applies to trims too, so a position riding a trend
at the cap is not trimmed every bar); none during warm-up (fewer than ``warmup_bars``
observations).
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_DOWN, Decimal, InvalidOperation
from types import MappingProxyType

import numpy as np

from tui_trader.core.policy.config import PolicyConfig
from tui_trader.core.policy.decision import Decision
from tui_trader.core.policy.features import EMPTY, ConvexityLike, Ewma, FeatureSet, FeatureState
from tui_trader.core.policy.numeric import Vector, finite
from tui_trader.core.policy.ridge import ForgettingRidge
from tui_trader.core.policy.utility import optimal_weight, utility_gain

__all__ = ["OnlinePolicy"]


@dataclass(kw_only=True)
class _SymbolState(FeatureState):
    """One symbol: its features' state, plus the model and its last forecast."""

    model: ForgettingRidge
    observations: int = 0
    last_close: float | None = None
    last_at: datetime | None = None
    sigma: float = 0.0  # per-bar vol after the last close
    x: Vector | None = None
    mu: float = 0.0  # the prediction for the next bar, made at the last close
    pred_sigma: float = 0.0
    last_long: int = -(10**9)  # observation count at the last mu > 0
    last_short: int = -(10**9)  # ... and at the last mu < 0
    return_sum: float = 0.0  # sum of the (winsorised) returns seen, for the long prior
    return_count: int = 0
    z_sum: float = 0.0  # sum of the standardised returns seen, for the Sharpe prior


def _whole_shares_toward_zero(value: Decimal) -> Decimal:
    return value.quantize(Decimal(1), rounding=ROUND_DOWN)


def _safe(value: float) -> float:
    return value if math.isfinite(value) else 0.0


class OnlinePolicy:
    """Learns each symbol's next-bar return online and sizes positions by expected utility.

    Feed it every bar close with :meth:`observe`; ask :meth:`decide` for a
    :class:`Decision`. A ``convexity`` detector, if given, is updated by :meth:`observe` with
    every close, so give the policy a detector nobody else feeds.
    """

    def __init__(self, config: PolicyConfig, convexity: ConvexityLike | None = None) -> None:
        self.config = config
        self.convexity = convexity
        self._names = config.feature_names
        self._feature_set = FeatureSet(config)
        self._states: dict[str, _SymbolState] = {}
        self._peak_equity = 0.0
        trend = {f"trend_{d:g}d" for d in config.trend_days} | set(config.signal_names)
        self._prior = np.array([config.trend_prior if n in trend else 0.0 for n in self._names])

    def _state(self, symbol: str) -> _SymbolState:
        state = self._states.get(symbol)
        if state is None:
            cfg = self.config
            state = _SymbolState(
                model=ForgettingRidge(len(self._names), cfg.forgetting, cfg.ridge, self._prior),
                fast_var=Ewma(cfg.vol_halflife),
                slow_var=Ewma(cfg.slow_vol_halflife),
                window=deque(maxlen=cfg.lookback_bars + 1),
                sums=dict.fromkeys((*cfg.horizons, *cfg.trend_bars), 0.0),
            )
            self._states[symbol] = state
        return state

    def observations(self, symbol: str) -> int:
        """How many closes of ``symbol`` have been observed."""
        state = self._states.get(symbol)
        return 0 if state is None else state.observations

    def revise(self, symbol: str, close: float, at: datetime) -> bool:
        """A correction of the last bar observed (Alpaca's ``updatedBars``, a late trade):
        the next return is measured from the corrected close. What the model already
        learnt from that bar stays (an online model cannot unlearn). False when ``at`` is not
        the last bar's time or the close is unusable."""
        state = self._states.get(symbol)
        if state is None or state.last_at != at or not finite(close) or close <= 0:
            return False
        state.last_close = close
        return True

    def observe(self, symbol: str, close: float, at: datetime) -> None:
        """One bar: train on the previous features -> this return, then update the features.

        Non-positive or non-finite closes, and bars not after the last one, are ignored.
        """
        if not finite(close) or close <= 0:
            return
        state = self._state(symbol)
        if state.last_at is not None and at <= state.last_at:
            return
        cfg = self.config
        score = 0.0
        if self.convexity is not None:
            reading = self.convexity.update(symbol, close)
            if not reading.warming_up and finite(reading.score):
                score = max(-cfg.clip_z, min(cfg.clip_z, float(reading.score)))
        previous = state.last_close
        state.last_close, state.last_at = close, at
        state.observations += 1
        state.convexity = score
        self._feature_set.push_close(state, close)
        if previous is None:
            return
        r = close / previous - 1.0
        scaled = state.sigma > 0
        if scaled:
            z = max(-cfg.clip_z, min(cfg.clip_z, r / state.sigma))
            if state.x is not None:  # the model learns what the long prior does not explain
                state.model.update(state.x, z - self._premium(state) / state.sigma)
            r = z * state.sigma
            self._feature_set.push(state, z)
            state.return_sum += r
            state.z_sum += z
            state.return_count += 1
        # else: no scale yet, this return only seeds the volatility
        state.fast_var.add(r * r)
        state.slow_var.add(r * r)
        state.sigma = math.sqrt(state.fast_var.value)
        if state.sigma > 0:
            state.x = self._feature_set.vector(state)
            self._predict(state)

    def _premium(self, state: _SymbolState) -> float:
        """The long prior's per-bar return: the expanding mean shrunk toward the prior; with
        ``sharpe_prior``, the learned Sharpe ratio times the current volatility."""
        cfg = self.config
        if cfg.sharpe_prior is not None:
            weight = cfg.premium_years * cfg.bars_per_year
            prior = cfg.sharpe_prior / math.sqrt(cfg.bars_per_year)  # per-bar Sharpe
            return state.sigma * (state.z_sum + weight * prior) / (state.return_count + weight)
        if cfg.premium_prior is None:
            return 0.0
        weight = cfg.premium_years * cfg.bars_per_year  # n_0, in pseudo-bars
        prior = cfg.premium_prior / cfg.bars_per_year
        return (state.return_sum + weight * prior) / (state.return_count + weight)

    def _predict(self, state: _SymbolState) -> None:
        assert state.x is not None
        y_hat, s2, q = state.model.predict(state.x)
        noise = s2 * q
        t2 = y_hat * y_hat / noise if noise > 0 else math.inf
        min_t2 = self.config.min_t**2
        shrink = 0.0 if t2 <= min_t2 else 1.0 - min_t2 / t2
        state.mu = _safe(self._premium(state) + state.sigma * y_hat * shrink)
        state.pred_sigma = _safe(state.sigma * math.sqrt(s2 * (1.0 + q)))
        if state.mu > 0:
            state.last_long = state.observations
        elif state.mu < 0:
            state.last_short = state.observations

    def coefficients(self, symbol: str) -> Mapping[str, float]:
        """The model's current coefficient per feature (empty for an unseen symbol)."""
        state = self._states.get(symbol)
        if state is None:
            return EMPTY
        theta = state.model.theta()
        return MappingProxyType({n: float(v) for n, v in zip(self._names, theta, strict=True)})

    def predict(self, symbol: str) -> tuple[float, float, Mapping[str, float]]:
        """``(mu, sigma, features)`` for the next bar, as of the last observed close."""
        state = self._states.get(symbol)
        if state is None:
            return 0.0, 0.0, EMPTY
        return state.mu, state.pred_sigma, state.features

    def _cap(self, symbol: str, equity: float) -> float:
        """``max_weight`` shrunk by the volatility target and the drawdown cap (module doc)."""
        cfg = self.config
        cap = cfg.max_weight
        if cfg.vol_target is not None:
            state = self._states.get(symbol)
            sigma = state.sigma if state is not None else 0.0
            if sigma > 0:
                cap = min(cap, cfg.vol_target / (sigma * math.sqrt(cfg.bars_per_year)))
        if cfg.drawdown_limit is not None:
            self._peak_equity = max(self._peak_equity, equity)
            fall = 1.0 - equity / self._peak_equity
            cap *= max(cfg.drawdown_floor, 1.0 - fall / cfg.drawdown_limit)
        return cap

    def decide(
        self,
        symbol: str,
        price: Decimal,
        equity: Decimal,
        current_qty: Decimal,
        at: datetime,
    ) -> Decision:
        """The target weight for ``symbol`` and the whole-share order that gets there."""
        cfg = self.config
        try:
            p, e, q = float(price), float(equity), float(current_qty)
        except (InvalidOperation, ValueError, TypeError):
            p = e = q = math.nan
        if not finite(p, e, q) or p <= 0 or e <= 0:
            return Decision(symbol, at, EMPTY, 0.0, 0.0, 0.0, 0.0, 0.0, None, "no valid price")
        current = _safe(q * p / e)
        cap = self._cap(symbol, e)
        if self.observations(symbol) < cfg.warmup_bars:
            held = max(0.0 if cfg.long_only else -cap, min(cap, current))
            _, sigma, features = self.predict(symbol)
            return Decision(
                symbol, at, features, 0.0, sigma, held, current, 0.0, None, "warming up"
            )
        mu, sigma, features = self.predict(symbol)
        var = sigma * sigma
        goal = (cfg.target_equity / e, cfg.horizon_bars) if cfg.target_equity else None
        wanted = optimal_weight(
            mu,
            var,
            utility=cfg.utility,
            risk_aversion=cfg.risk_aversion,
            aggressiveness=cfg.aggressiveness,
            max_weight=cap,
            target=goal,
        )
        gain = utility_gain(
            wanted,
            current,
            mu,
            var,
            utility=cfg.utility,
            risk_aversion=cfg.risk_aversion,
            aggressiveness=cfg.aggressiveness,
            cost=cfg.cost,
            holding_bars=cfg.holding_bars,
            target=goal,
        )
        state = self._states[symbol]
        support = state.last_long if current > 0 else state.last_short
        stale = current != 0 and state.observations - support > cfg.holding_bars
        if abs(wanted - current) < cfg.no_trade_band:
            chosen, reason = current, "inside the no-trade band"
        elif stale and gain <= 0:
            chosen, reason = 0.0, "edge expired"
        elif gain <= 0:
            chosen, reason = current, "gain does not pay the cost"
        else:
            chosen, reason = wanted, "rebalance"
        target = max(0.0 if cfg.long_only else -cap, min(cap, chosen))
        if target != chosen:
            reason = "trim to the cap"
        order: Decimal | None = None
        if target != current:
            if abs(target - current) < cfg.no_trade_band:
                reason = "inside the no-trade band"
            else:
                wanted_qty = Decimal(repr(target)) * equity / price
                delta = _whole_shares_toward_zero(wanted_qty - current_qty)
                order = delta if delta != 0 else None
        return Decision(symbol, at, features, mu, sigma, target, current, gain, order, reason)
