"""What a cluster sends between processes, without NATS: subjects, envelopes, presence parts."""

from __future__ import annotations

import json
import re

import anyio
import pytest
from hypothesis import given
from hypothesis import strategies as st

from harness import connected, make_central_system
from ocpp16csms import (
    CallErrorReceived,
    CallTimeout,
    ChargePointDisconnected,
    ChargePointNotAccepted,
    ChargePointNotConnected,
    ConnectionLost,
    InvalidRequest,
    NotSupported,
    QueueFull,
)
from ocpp16csms.converter import make_converter
from ocpp16csms.engine import ChargePointConnected, Exchange, PeerViolationObserved
from ocpp16csms.messages import Direction, ResetRequest, ResetResponse, ResetStatus, ResetType
from ocpp16csms.profiles.local_auth_list import LocalListError
from ocpp16csms.profiles.smart_charging import ChargingProfileError
from ocpp16csms.routers import (
    ClusterUnavailable,
    RoutedCallFailed,
    Subjects,
    charge_point_from_token,
    subject_token,
)
from ocpp16csms.routers._presence import Gathering, NodeTable, presence_chunks
from ocpp16csms.routers.envelope import (
    decode_call,
    decode_reply,
    dumps,
    encode_call,
    encode_error,
    encode_result,
    error_from_json,
    event_body,
)

TOKEN = re.compile(r"[A-Za-z0-9_~-]+")


@given(st.text(min_size=1))
def test_a_charge_point_id_makes_one_token_and_comes_back(charge_point_id: str) -> None:
    token = subject_token(charge_point_id)
    assert TOKEN.fullmatch(token)
    assert charge_point_from_token(token) == charge_point_id


def test_tokens_keep_plain_ids_and_escape_the_rest() -> None:
    assert subject_token("CP-01_a") == "CP-01_a"
    assert subject_token("a.b*c>d e~") == "a~2Eb~2Ac~3Ed~20e~7E"
    assert subject_token("é") == "~C3~A9"
    with pytest.raises(ValueError, match="non-empty"):
        subject_token("")
    for bad in ("", "a.b", "~2", "~zz", "~FF"):
        with pytest.raises(ValueError, match=r"token|UTF-8"):
            charge_point_from_token(bad)


def test_subjects() -> None:
    subjects = Subjects("acme.csms")
    assert subjects.call("CP 1") == "acme.csms.cp.CP~201.call"
    assert subjects.charge_point("CP 1") == "acme.csms.cp.CP~201.*"
    assert subjects.event("CP 1", "Reset") == "acme.csms.events.CP~201.Reset"
    assert subjects.events == "acme.csms.events.>"
    assert subjects.parse_charge_point("acme.csms.cp.CP~201.takeover") == ("CP 1", "takeover")
    assert subjects.parse_charge_point("other.cp.CP.call") is None
    assert subjects.parse_charge_point("acme.csms.cp.~Z.call") is None
    for prefix in ("", "a..b", "a.*", "a b", "a.>"):
        with pytest.raises(ValueError, match="prefix"):
            Subjects(prefix)


ERRORS = [
    CallErrorReceived("CP", "Reset", "NotSupported", "no", {"why": [1]}),
    CallErrorReceived("CP", "Reset", "VendorCode", "a code outside the enumeration"),
    CallTimeout("CP", "Reset", "m-1", 0.5),
    ConnectionLost("CP", "Reset", "m-2"),
    ConnectionLost("CP", "Reset"),
    QueueFull("CP", 3),
    ChargePointNotAccepted("CP", "Reset", "Pending"),
    ChargePointNotAccepted("CP", "Reset", None),
    ChargePointNotConnected("CP"),
    InvalidRequest("no unlocking today"),
    LocalListError("version 0 is reserved"),
    ChargingProfileError("remote_start_purpose", "must be a TxProfile"),
    RoutedCallFailed("CP", "the answer is too big"),
]


@pytest.mark.parametrize("error", ERRORS, ids=lambda e: type(e).__name__)
def test_every_outcome_error_comes_back_as_it_was(error: Exception) -> None:
    back = decode_reply(encode_error(error), "CP")
    assert type(back) is type(error)
    assert str(back) == str(error)
    assert vars(back) == vars(error)


def test_an_unexpected_error_becomes_routed_call_failed() -> None:
    back = decode_reply(encode_error(KeyError("x")), "CP")
    assert isinstance(back, RoutedCallFailed)
    assert "KeyError" in back.reason


@pytest.mark.parametrize(
    "fields",
    [
        {"type": "Nonsense"},
        {"type": "QueueFull", "limit": "3"},
        {"type": "CallTimeout", "action": "Reset", "message_id": "m", "timeout": True},
        {"type": "CallErrorReceived", "action": "Reset", "code": 1, "description": ""},
        {"type": "CallErrorReceived", "action": "R", "code": "X", "description": "", "details": 1},
    ],
)
def test_an_unreadable_error_becomes_routed_call_failed(fields: dict[str, object]) -> None:
    assert isinstance(error_from_json("CP", fields), RoutedCallFailed)


def test_a_routed_call_and_its_result() -> None:
    call = decode_call(encode_call("Reset", {"type": "Soft"}, 30, "node-a"))
    assert (call.action, call.payload, call.timeout, call.origin) == (
        "Reset",
        {"type": "Soft"},
        30.0,
        "node-a",
    )
    assert decode_reply(encode_result({"status": "Accepted"}), "CP") == {"status": "Accepted"}


@pytest.mark.parametrize(
    "data",
    [
        b"not json",
        b"[]",
        b'{"v": 2, "action": "Reset", "payload": {}, "timeout": 1}',
        b'{"v": 1, "action": 3, "payload": {}, "timeout": 1}',
        b'{"v": 1, "action": "Reset", "payload": [], "timeout": 1}',
        b'{"v": 1, "action": "Reset", "payload": {}, "timeout": 0}',
        b'{"v": 1, "action": "Reset", "payload": {}, "timeout": true}',
        b"\xff",
    ],
)
def test_a_malformed_call_is_refused(data: bytes) -> None:
    with pytest.raises(ValueError, match=r"JSON|version|routed call"):
        decode_call(data)


@pytest.mark.parametrize("data", [b"{", b'{"v": 1}', b'{"v": 9, "payload": {}}'])
def test_a_malformed_reply_becomes_routed_call_failed(data: bytes) -> None:
    assert isinstance(decode_reply(data, "CP"), RoutedCallFailed)


def test_a_reply_refuses_what_json_cannot_carry() -> None:
    with pytest.raises(ValueError, match="JSON"):
        encode_result({"x": float("nan")})


def test_cluster_unavailable_is_a_not_connected() -> None:
    error = ClusterUnavailable("CP", "not connected to NATS")
    assert isinstance(error, ChargePointNotConnected)
    assert "not connected to NATS" in str(error)


def test_event_bodies() -> None:
    unstructure = make_converter(lenient=True).unstructure
    request = ResetRequest(type=ResetType.HARD)
    exchange = Exchange(
        "CP", "m-1", Direction.CENTRAL_SYSTEM_TO_CHARGE_POINT, request,
        ResetResponse(status=ResetStatus.REJECTED), None,
    )  # fmt: skip
    name, body = event_body(exchange, "a", "T", unstructure) or ("", {})
    assert name == "Reset"
    assert body == {
        "event": "exchange",
        "node": "a",
        "charge_point_id": "CP",
        "at": "T",
        "message_id": "m-1",
        "direction": "CentralSystemToChargePoint",
        "action": "Reset",
        "request": {"type": "Hard"},
        "response": {"status": "Rejected"},
        "error": None,
    }
    failed = Exchange(
        "CP", "m-2", Direction.CHARGE_POINT_TO_CENTRAL_SYSTEM, request, None, NotSupported("no")
    )
    _, body = event_body(failed, "a", "T", unstructure) or ("", {})
    assert body["error"] == {
        "type": "CallError",
        "code": "NotSupported",
        "description": "no",
        "details": {},
    }
    assert event_body(ChargePointConnected("CP"), "a", "T", unstructure) == (
        "connected",
        {"event": "connected", "charge_point_id": "CP", "node": "a", "at": "T"},
    )
    name, body = event_body(ChargePointDisconnected("CP", True), "a", "T", unstructure) or ("", {})
    assert (name, body["replaced"]) == ("disconnected", True)
    name, body = event_body(PeerViolationObserved("CP", "bad", None), "a", "T", unstructure) or (
        "",
        {},
    )
    assert (name, body["description"], body["message_id"]) == ("violation", "bad", None)
    assert event_body(object(), "a", "T", unstructure) is None


@given(st.dictionaries(st.text(min_size=1, max_size=40), st.floats(0, 2e9), max_size=200))
def test_presence_parts_fit_and_gather_back(held: dict[str, float]) -> None:
    parts = presence_chunks("a", held, budget=600)
    for part in parts:
        assert len(dumps(part["charge_points"])) <= 600 or len(part["charge_points"]) == 1
    gathering = Gathering()
    for part in reversed(parts):
        assert "a" not in gathering.complete
        gathering.add(json.dumps(part).encode())
    assert gathering.complete == {"a"}
    assert gathering.holders() == dict.fromkeys(sorted(held), "a")


def test_the_newer_holder_wins_a_gathering() -> None:
    gathering = Gathering()
    for node, since in (("a", 10.0), ("b", 20.0), ("c", 15.0)):
        part = {"node": node, "part": 0, "parts": 1, "charge_points": {"CP": since}}
        gathering.add(json.dumps(part).encode())
    gathering.add(b"garbage")
    assert gathering.holders() == {"CP": "b"}
    assert gathering.complete == {"a", "b", "c"}


def test_the_node_table_forgets_silent_and_leaving_processes() -> None:
    table = NodeTable()
    beat = {"node": "a", "interval": 1.0, "charge_points": 4}
    table.record(json.dumps(beat).encode(), now=100.0)
    table.record(json.dumps({**beat, "node": "b", "interval": 2.0}).encode(), now=100.0)
    table.record(b"{}", now=100.0)
    assert table.live(102.9) == {"a": 4, "b": 4}
    assert table.live(103.1) == {"b": 4}  # three heartbeats of a missed
    assert table.slowest_interval(0.5) == 2.0
    table.record(json.dumps({**beat, "node": "b", "state": "leaving"}).encode(), now=101.0)
    assert table.live(101.0) == {"a": 4}


def test_details_json_cannot_carry_are_dropped_not_fatal() -> None:
    error = CallErrorReceived("CP", "Reset", "GenericError", "odd", {"reading": float("nan")})
    back = decode_reply(encode_error(error), "CP")
    assert isinstance(back, CallErrorReceived)
    assert (back.code, back.description, back.details) == ("GenericError", "odd", {})


@pytest.mark.anyio
async def test_a_router_can_say_a_disconnection_is_a_replacement() -> None:
    cs = make_central_system()
    events: list[object] = []
    cs.observe(events.append)
    async with connected(cs, "CP1") as sim:
        await cs.disconnect("CP1", "replaced by a connection to another process", replaced=True)
        with anyio.fail_after(5):
            await sim.closed.wait()
    gone = [e for e in events if isinstance(e, ChargePointDisconnected)]
    assert gone == [ChargePointDisconnected("CP1", replaced=True)]
