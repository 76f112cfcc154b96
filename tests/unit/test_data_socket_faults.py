"""Market-data-websocket fault specs: what the admin route accepts, and who takes them."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from tui_trader.sim.faults import FAULT_SPECS, ConnectFault, DataSocketFault, Faults


def test_specs_parse_as_the_admin_route_takes_them() -> None:
    specs = FAULT_SPECS.validate_python(
        [
            {"kind": "data_socket", "action": "close", "code": 4001, "after_messages": 5},
            {"kind": "data_socket", "action": "error", "error": 406, "feed": "sip"},
            {"kind": "connect", "scope": "data_socket", "status": 429, "retry_after": 3},
        ]
    )
    assert isinstance(specs[0], DataSocketFault) and specs[0].after_messages == 5
    assert isinstance(specs[1], DataSocketFault) and (specs[1].error, specs[1].feed) == (406, "sip")
    assert isinstance(specs[2], ConnectFault) and specs[2].scope == "data_socket"


@pytest.mark.parametrize(
    "bad",
    [
        {"action": "close", "code": 1006},  # no close frame carries it
        {"action": "error", "error": 409},  # not one the fault sends
        {"action": "cut", "feed": "boats"},
    ],
)
def test_what_a_data_socket_fault_cannot_be(bad: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        DataSocketFault.model_validate(bad)


def test_taken_per_feed_in_order_and_cleared() -> None:
    faults = Faults()
    faults.arm(DataSocketFault(action="cut", feed="sip"))
    faults.arm(DataSocketFault(action="silent", count=2))
    assert faults.take_data_socket("iex").action == "silent"  # type: ignore[union-attr]
    assert faults.take_data_socket("sip").action == "cut"  # type: ignore[union-attr]
    assert faults.take_data_socket("sip").action == "silent"  # type: ignore[union-attr]
    assert faults.take_data_socket("iex") is None
    assert faults.take_trade_socket() is None  # the trading socket's queue is its own
    faults.arm(DataSocketFault(action="close"))
    assert [p["kind"] for p in faults.pending()] == ["data_socket"]
    faults.clear()
    assert faults.pending() == []


def test_upgrade_refusals_are_scoped_to_the_data_socket() -> None:
    faults = Faults()
    faults.arm(ConnectFault(scope="data_socket", status=503))
    assert faults.take_connect("trade_socket", None) is None
    assert faults.take_connect("rest", None) is None
    refused = faults.take_connect("data_socket", None)
    assert refused is not None and refused.status == 503
