# Adapted copy of ../shared/review/shuffles.py (review finding #8).
# What changed and why: the original captured the 200 shuffled-control runs by patching
# core.backtest._mean_stats, which no longer exists: the control is now a permutation test
# over the policy's stored positions (core/stats.py) and reports its own distribution. This
# copy asks run_backtest for 200 permutations and prints the same figures from the result
# (mean, sd, spread and the share of shuffles at least as good as the policy), plus the
# p-value, the percentile and the direction (sign-flip) null. What it checks is unchanged:
# where the policy's Sharpe falls among shuffles of its own signal, and that the ledger
# agrees with the backtest. Since issue 12 the settings build the policy's config and the risk
# limits (``s.policy.config()``, ``s.risk.limits()``): the core no longer reads the settings.
import numpy as np
import tui_trader.core.backtest as bt
from tui_trader.desk.launch.backtest import GatedPolicy, synthetic_bars, synthetic_clock
from tui_trader.core.policy import OnlinePolicy, PolicyConfig
from tui_trader.core.convexity import ConvexityDetector
from tui_trader.core.risk import RiskEngine, RiskLimits
from tui_trader.config import Settings
from tui_trader.sim.regimes import PLANTED  # the regime the review measured
s = Settings()
bars = synthetic_bars(s.sim.symbols, 7, 3000, PLANTED.drift, PLANTED.minutes)
gates = []
def f():
    g = GatedPolicy(OnlinePolicy(s.policy.config(), ConvexityDetector()), RiskEngine(s.risk.limits()), 1e5); gates.append(g); return g
res = bt.run_backtest(bars, f, seed=7, permutations=200, annualisation=synthetic_clock(), on_fill=lambda *x: gates[0].fill(*x))
t = res.shuffled
print(f"policy sharpe {res.policy.sharpe:.2f}; 200 shuffles: mean {t.mean:.2f} sd {t.sd:.2f} 5% {t.p05:.2f} 95% {t.p95:.2f}; share >= policy: {t.exceed / t.permutations:.3f}; p = {t.p_value:.3f}, percentile {t.percentile:.1f}")
d = res.signs
print(f"direction null, 200 sign flips: mean {d.mean:.2f} sd {d.sd:.2f}; share >= policy: {d.exceed / d.permutations:.3f}; p = {d.p_value:.3f}, percentile {d.percentile:.1f}")
print(f"policy trades {res.policy.trades}, exposed share of steps {np.mean(np.diff(res.equity)!=0):.2f}")
print(f"ledger equity {float(gates[0].ledger.snapshot().equity):.2f} vs backtest equity {res.equity[-1]:.2f}")
