# ruff: noqa
# Adapted copy of /work/shared/review/backoff_edges.py (review #13): unchanged, plus one line
# that feeds the parsed 2099 HTTP-date to next_delay, since the fix keeps parse_retry_after
# exact (it says how long the server asked for) and applies the ceiling where the wait is
# chosen.
from tui_trader.core.backoff import BackoffPolicy, ReconnectStrategy, parse_retry_after

t = [0.0]
r = ReconnectStrategy(BackoffPolicy(), clock=lambda: t[0], wall=lambda: 1000.0, random=lambda: 0.0)
print("draw=0 (max jitter):", [round(r.next_delay(), 3) for _ in range(9)])
r = ReconnectStrategy(
    BackoffPolicy(), clock=lambda: t[0], wall=lambda: 1000.0, random=lambda: 0.999999
)
print("draw=1 (no jitter):", [round(r.next_delay(), 3) for _ in range(9)])
r = ReconnectStrategy(BackoffPolicy(), clock=lambda: t[0], wall=lambda: 1000.0, random=lambda: 0.5)
print("Retry-After 120 > cap 60:", r.next_delay(retry_after=120))
print("Retry-After 1e11:", r.next_delay(retry_after=parse_retry_after("99999999999", 0)))
print(
    "parse 'Wed, 21 Oct 2099 07:28:00 GMT':",
    parse_retry_after("Wed, 21 Oct 2099 07:28:00 GMT", 1000.0),
)
print("X-RateLimit-Reset in 300s:", r.next_delay(rate_limit_reset=1300))
# healthy reset
r = ReconnectStrategy(
    BackoffPolicy(), clock=lambda: t[0], wall=lambda: 1000.0, random=lambda: 0.999999
)
for _ in range(5):
    r.next_delay()
r.connected()
t[0] += 29.9
print("disconnect after 29.9s resets?", r.disconnected(), "attempt", r.attempt)
r.connected()
t[0] += 30.0
print(
    "disconnect after 30s resets?",
    r.disconnected(),
    "attempt",
    r.attempt,
    "next",
    round(r.next_delay(), 3),
)
r = ReconnectStrategy(BackoffPolicy(), clock=lambda: t[0], wall=lambda: 1000.0, random=lambda: 0.5)
print(
    "next_delay(Retry-After: the 2099 date):",
    r.next_delay(retry_after=parse_retry_after("Wed, 21 Oct 2099 07:28:00 GMT", 1000.0)),
    "cut from",
    r.last_cut,
)
