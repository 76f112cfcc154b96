"""Trading-websocket fault specs: what the admin route accepts, and what chaos draws."""

from __future__ import annotations

import random

import pytest
from pydantic import ValidationError

from tui_trader.sim.faults import (
    FAULT_SPECS,
    TRADE_SOCKET_CHAOS,
    ConnectFault,
    Faults,
    TradeSocketFault,
)


def test_specs_parse_as_the_admin_route_takes_them() -> None:
    specs = FAULT_SPECS.validate_python(
        [
            {"kind": "trade_socket", "action": "close", "code": 4001, "reason": "bye"},
            {"kind": "trade_socket", "action": "silent", "seconds": 2, "after_events": 3},
            {"kind": "connect", "scope": "trade_socket", "status": 429, "retry_after": 3},
        ]
    )
    assert isinstance(specs[0], TradeSocketFault) and specs[0].code == 4001
    assert isinstance(specs[1], TradeSocketFault) and specs[1].after_events == 3
    assert isinstance(specs[2], ConnectFault) and specs[2].scope == "trade_socket"


@pytest.mark.parametrize("code", [999, 1005, 1006, 1015, 5000])
def test_close_codes_a_close_frame_cannot_carry_are_refused(code: int) -> None:
    with pytest.raises(ValidationError):
        TradeSocketFault(action="close", code=code)


def test_armed_faults_are_taken_in_order_and_counted_down() -> None:
    faults = Faults()
    faults.arm(TradeSocketFault(action="cut", count=2))
    faults.arm(TradeSocketFault(action="silent"))
    taken = [faults.take_trade_socket() for _ in range(4)]
    assert [t.action if t else None for t in taken] == ["cut", "cut", "silent", None]
    faults.arm(TradeSocketFault(action="close"))
    faults.clear()
    assert faults.take_trade_socket() is None and faults.pending() == []


def test_connect_faults_for_the_socket_leave_sse_and_rest_alone() -> None:
    faults = Faults()
    faults.arm(ConnectFault(scope="trade_socket", status=503))
    assert faults.take_connect("sse", "trades") is None
    assert faults.take_connect("rest", None) is None
    refused = faults.take_connect("trade_socket", None)
    assert refused is not None and refused.status == 503


def test_chaos_draws_every_socket_fault_and_nothing_without_chaos() -> None:
    assert Faults().chaos_trade_socket() is None
    faults = Faults(chaos=1.0, max_stall=0.5, rng=random.Random(3))
    drawn = {f.action for f in (faults.chaos_trade_socket() for _ in range(200)) if f}
    assert drawn == set(TRADE_SOCKET_CHAOS)
