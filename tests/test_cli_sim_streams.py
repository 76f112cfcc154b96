"""``tui-trader sim`` flags for the stream conditions a real host may present: a stream it
does not offer (``--not-offered``) and heartbeats on a timer (``--heartbeat-mode fixed``)."""

from __future__ import annotations

import base64
import time

from tests.test_cli import ANY_KEY, http, running

# the NTA stream is the Broker API's: Broker keys authenticate with Basic
BROKER_KEY = {"Authorization": "Basic " + base64.b64encode(b"whoever:whatever").decode()}


def test_not_offered_and_heartbeat_mode_from_the_command_line(env: dict[str, str]) -> None:
    args = ["sim", "--port", "0", "--trading-sse", "--not-offered", "trades", "--heartbeat", "0.1"]
    with running([*args, "--heartbeat-mode", "fixed"], env) as cli:
        url = cli.wait_for_url()
        with http(url) as c:
            for _ in range(2):  # not offered for good, as a Trading-API host may answer
                refused = c.get("/v2/events/trades", headers=ANY_KEY)
                assert refused.status_code == 404
                assert refused.json() == {"code": 40410000, "message": "endpoint not found"}
            with c.stream("GET", "/v1/events/nta", headers=BROKER_KEY) as other:
                assert other.status_code == 200  # the others are
                started, beats = time.monotonic(), 0
                for line in other.iter_lines():
                    beats += line == ":heartbeat"
                    if beats == 3 or time.monotonic() - started > 5:
                        break
                assert beats == 3
        code, _ = cli.stop()
        assert code == 0
