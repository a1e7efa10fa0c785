"""The sans-IO session: every rule it enforces, driven with text frames and a fake clock."""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from ocpp16csms import (
    ErrorCode,
    GenericError,
    InvalidRequest,
    LocalProtocolError,
    NotSupported,
    QueueFull,
)
from ocpp16csms.messages import (
    BootNotificationRequest,
    BootNotificationResponse,
    DataTransferRequest,
    DataTransferResponse,
    DataTransferStatus,
    HeartbeatRequest,
    HeartbeatResponse,
    RegistrationStatus,
    ResetRequest,
    ResetResponse,
    ResetStatus,
    ResetType,
)
from ocpp16csms.registry import ACTIONS
from ocpp16csms.rpc import (
    MAX_MESSAGE_ID_LENGTH,
    CallError,
    parse_frame,
)
from ocpp16csms.session import (
    CallAborted,
    CallExpired,
    CallReceived,
    CallRejected,
    CallSent,
    ErrorReceived,
    Event,
    InvalidMessageReceived,
    ResponseInvalid,
    ResultReceived,
    Session,
)
from ocpp16csms.testing import (
    faulty_payloads,
    payloads,
)

RESET = ResetRequest(type=ResetType.SOFT)
RESET_FRAME = [2, "c1", "Reset", {"type": "Soft"}]
NOON = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
HEARTBEAT_ANSWER = HeartbeatResponse(current_time=NOON)
CP_ACTIONS = sorted(name for name, spec in ACTIONS.items() if spec.sent_by_charge_point)
# What ends one of our CALLs: the session is back to "nothing in flight" after each.
TERMINAL = (ResultReceived, ErrorReceived, ResponseInvalid, CallExpired)


def counter_ids(prefix: str = "c") -> Callable[[], str]:
    counter = itertools.count(1)
    return lambda: f"{prefix}{next(counter)}"


def make_session(**options: Any) -> Session:
    """A central-system session whose own message ids are c1, c2, …"""
    options.setdefault("message_id_factory", counter_ids())
    return Session("CP1", **options)


def call(message_id: str, action: str, payload: Any = None) -> str:
    return json.dumps([2, message_id, action, {} if payload is None else payload])


def result(message_id: str, payload: Any) -> str:
    return json.dumps([3, message_id, payload])


def drain(session: Session) -> list[Any]:
    """The outbox as decoded JSON arrays (and the outbox emptied)."""
    return [json.loads(text) for text in session.outgoing()]


def broken_data_transfer_response() -> DataTransferResponse:
    # The class refuses this at construction; the session's own outbound check must too.
    response = DataTransferResponse(status=DataTransferStatus.ACCEPTED)
    object.__setattr__(response, "status", "Bogus")
    return response


def received_heartbeat(session: Session, message_id: str = "m1") -> None:
    assert session.receive_text(call(message_id, "Heartbeat"), now=0) == [
        CallReceived(message_id, HeartbeatRequest())
    ]


# --- inbound CALLs and our replies -----------------------------------------------------------


def test_valid_call_gives_the_typed_request() -> None:
    session = make_session()
    payload = {"chargePointVendor": "Acme", "chargePointModel": "X1"}
    events = session.receive_text(call("m1", "BootNotification", payload), now=0)
    request = BootNotificationRequest(charge_point_vendor="Acme", charge_point_model="X1")
    assert events == [CallReceived("m1", request)]
    assert session.unanswered_calls == {"m1"}
    assert session.outgoing() == []


def test_send_result_puts_exactly_one_callresult_in_the_outbox() -> None:
    session = make_session()
    received_heartbeat(session)
    session.send_result("m1", HEARTBEAT_ANSWER)
    assert drain(session) == [[3, "m1", {"currentTime": "2024-05-01T12:00:00Z"}]]
    assert session.unanswered_calls == frozenset()
    assert session.outgoing() == []


def test_bytes_frames_are_accepted_like_text() -> None:
    session = make_session()
    assert session.receive_text(call("m1", "Heartbeat").encode(), now=0) == [
        CallReceived("m1", HeartbeatRequest())
    ]


def test_replying_twice_is_a_local_error() -> None:
    session = make_session()
    received_heartbeat(session)
    session.send_result("m1", HEARTBEAT_ANSWER)
    session.outgoing()
    with pytest.raises(LocalProtocolError, match="m1"):
        session.send_result("m1", HEARTBEAT_ANSWER)
    with pytest.raises(LocalProtocolError, match="m1"):
        session.send_error("m1", GenericError("late"))
    assert session.outgoing() == []


def test_replying_to_an_unknown_id_is_a_local_error() -> None:
    session = make_session()
    received_heartbeat(session)
    with pytest.raises(LocalProtocolError, match="nope"):
        session.send_result("nope", HEARTBEAT_ANSWER)
    with pytest.raises(LocalProtocolError, match="nope"):
        session.send_error("nope", GenericError("x"))
    assert session.outgoing() == []
    assert session.unanswered_calls == {"m1"}


def test_replying_with_the_wrong_response_type_is_a_local_error() -> None:
    session = make_session()
    received_heartbeat(session)
    with pytest.raises(LocalProtocolError, match="HeartbeatResponse"):
        session.send_result("m1", ResetResponse(status=ResetStatus.ACCEPTED))
    assert session.outgoing() == []
    # The CALL is still ours to answer properly.
    session.send_result("m1", HEARTBEAT_ANSWER)
    assert [frame[:2] for frame in drain(session)] == [[3, "m1"]]


def test_a_response_breaking_its_schema_is_refused_and_the_call_stays_unanswered() -> None:
    session = make_session()
    assert session.receive_text(call("m1", "DataTransfer", {"vendorId": "Acme"}), now=0) == [
        CallReceived("m1", DataTransferRequest(vendor_id="Acme"))
    ]
    with pytest.raises(InvalidRequest, match="status"):
        session.send_result("m1", broken_data_transfer_response())
    assert session.outgoing() == []
    assert session.unanswered_calls == {"m1"}
    session.send_error("m1", GenericError("backend failed", {"why": "test"}))
    assert drain(session) == [[4, "m1", "GenericError", "backend failed", {"why": "test"}]]
    assert session.unanswered_calls == frozenset()


def test_unknown_action_is_answered_not_implemented() -> None:
    session = make_session()
    events = session.receive_text(call("m1", "FlyToTheMoon"), now=0)
    assert len(events) == 1
    event = events[0]
    assert isinstance(event, CallRejected)
    assert (event.message_id, event.action) == ("m1", "FlyToTheMoon")
    assert event.error.code is ErrorCode.NOT_IMPLEMENTED
    assert "FlyToTheMoon" in event.error.description
    description = json.dumps(event.error.description, ensure_ascii=False)
    assert session.outgoing() == [f'[4,"m1","NotImplemented",{description},{{}}]']
    assert session.unanswered_calls == frozenset()


def test_action_only_a_central_system_sends_is_not_supported() -> None:
    session = make_session()
    [event] = session.receive_text(call("m1", "Reset", {"type": "Soft"}), now=0)
    assert isinstance(event, CallRejected)
    assert event.error.code is ErrorCode.NOT_SUPPORTED
    [frame] = drain(session)
    assert frame[:3] == [4, "m1", "NotSupported"]
    assert session.unanswered_calls == frozenset()


@pytest.mark.parametrize(
    ("payload", "code"),
    [
        pytest.param(
            {"chargePointVendor": "Acme"}, ErrorCode.OCCURENCE_CONSTRAINT_VIOLATION, id="missing"
        ),
        pytest.param(
            {"chargePointVendor": "Acme", "chargePointModel": 5},
            ErrorCode.TYPE_CONSTRAINT_VIOLATION,
            id="wrong-type",
        ),
        pytest.param(
            {"chargePointVendor": "Acme", "chargePointModel": "X" * 21},
            ErrorCode.PROPERTY_CONSTRAINT_VIOLATION,
            id="too-long",
        ),
        pytest.param(
            {"chargePointVendor": "Acme", "chargePointModel": "X1", "colour": "red"},
            ErrorCode.FORMATION_VIOLATION,
            id="extra-field",
        ),
    ],
)
def test_schema_violation_is_answered_with_its_code(payload: Any, code: ErrorCode) -> None:
    session = make_session()
    events = session.receive_text(call("m1", "BootNotification", payload), now=0)
    assert len(events) == 1
    event = events[0]
    assert isinstance(event, CallRejected)
    assert (event.message_id, event.action, event.error.code) == ("m1", "BootNotification", code)
    [frame] = drain(session)
    assert frame[:3] == [4, "m1", code.value]
    assert session.unanswered_calls == frozenset()


def test_repeated_id_of_an_unanswered_call_is_a_protocol_violation() -> None:
    session = make_session()
    received_heartbeat(session)
    events = session.receive_text(call("m1", "Heartbeat"), now=1)
    assert len(events) == 1
    assert isinstance(events[0], InvalidMessageReceived)
    assert events[0].message_id == "m1"
    assert not events[0].replied
    # An answer here would read as the answer to the first CALL.
    assert session.outgoing() == []
    assert session.unanswered_calls == {"m1"}
    # Once answered, the id may be used again.
    session.send_result("m1", HEARTBEAT_ANSWER)
    session.outgoing()
    received_heartbeat(session)


# --- frames that are not OCPP-J --------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "not json",
        "",
        "{}",
        "[]",
        "null",
        '[1,"m1","Heartbeat",{}]',
        '[2,"","Heartbeat",{}]',
        '[2,5,"Heartbeat",{}]',
        f'[2,"{"x" * 37}","Heartbeat",{{}}]',
        '[3,"m1",{}]',  # an answer when nothing of ours is in flight
        '[4,"m1","GenericError","",{}]',
        b"\xff\xfe",
    ],
)
def test_frames_that_are_not_ocpp_j_are_protocol_violations(text: str | bytes) -> None:
    session = make_session()
    events = session.receive_text(text, now=0)
    assert len(events) == 1
    assert isinstance(events[0], InvalidMessageReceived)
    assert not events[0].replied
    assert session.outgoing() == []
    received_heartbeat(session)  # and the session carries on


@pytest.mark.parametrize(
    "text",
    [
        '[2,"m1","Heartbeat"]',
        '[2,"m1","Heartbeat",[]]',
        '[2,"m1",7,{}]',
        '[2,"m1","Heartbeat",{},1]',
        '[2,"m1","Heartbeat",{',  # truncated: the id is read from the text
    ],
)
def test_broken_call_with_a_readable_id_is_answered_formation_violation(text: str) -> None:
    session = make_session()
    events = session.receive_text(text, now=0)
    assert len(events) == 1
    event = events[0]
    assert isinstance(event, InvalidMessageReceived)
    assert (event.message_id, event.replied) == ("m1", True)
    [frame] = drain(session)
    assert frame[:3] == [4, "m1", "FormationViolation"]
    assert session.unanswered_calls == frozenset()


@pytest.mark.parametrize(
    "text",
    [
        '[3,"c1",{"status":"Accepted"},1]',
        '[3,"c1",[]]',
        '[3,"c1",{"status":"Accepted"}',  # truncated
        '[4,"c1",5,"x",{}]',
    ],
)
def test_broken_answer_to_our_call_ends_it_with_response_invalid(text: str) -> None:
    session = make_session()
    session.start_call(RESET, now=0)
    second = session.start_call(RESET, now=0)
    session.outgoing()
    events = session.receive_text(text, now=5)
    assert len(events) == 2
    invalid, sent = events
    assert isinstance(invalid, ResponseInvalid)
    assert (invalid.message_id, invalid.request) == ("c1", RESET)
    assert invalid.error.code is ErrorCode.FORMATION_VIOLATION
    assert sent == CallSent(second, RESET)
    assert drain(session) == [[2, "c2", "Reset", {"type": "Soft"}]]


@pytest.mark.parametrize("text", ['[5,"c1",{}]', '["3","c1",{}]', '[true,"c1"]'])
def test_frame_of_unknown_type_does_not_end_our_call(text: str) -> None:
    session = make_session()
    session.start_call(RESET, now=0)
    session.outgoing()
    events = session.receive_text(text, now=1)
    assert [type(e) for e in events] == [InvalidMessageReceived]
    assert session.next_deadline() == 30.0


def test_every_outbox_frame_is_utf8_text() -> None:
    session = make_session()
    events = session.receive_text('[2,"\\ud800","Unknown",{}]', now=0)
    events += session.receive_text('[2,"\\udc00","Heartbeat",{}]', now=0)
    # An id that cannot be echoed as UTF-8 is unreadable: reported, not answered.
    assert [type(e) for e in events] == [InvalidMessageReceived, InvalidMessageReceived]
    session.receive_text('[2,"ok","Heartbeat",{}]', now=0)
    for message_id in session.unanswered_calls:
        session.send_result(message_id, HEARTBEAT_ANSWER)
    frames = session.outgoing()
    assert len(frames) == 1
    for text in frames:
        assert text.encode("utf-8")


# --- our CALLs -------------------------------------------------------------------------------


def test_start_call_returns_the_id_and_puts_the_call_in_the_outbox() -> None:
    session = make_session()
    assert session.start_call(RESET, now=0) == "c1"
    assert drain(session) == [RESET_FRAME]
    assert session.next_deadline() == 30.0


def test_second_call_is_queued_and_sent_when_the_first_is_answered() -> None:
    session = make_session()
    first = session.start_call(RESET, now=0)
    session.outgoing()
    hard = ResetRequest(type=ResetType.HARD)
    second = session.start_call(hard, now=1)
    assert session.outgoing() == []
    assert session.queued_calls == 1
    events = session.receive_text(result(first, {"status": "Accepted"}), now=2)
    assert events == [
        ResultReceived(first, RESET, ResetResponse(status=ResetStatus.ACCEPTED)),
        CallSent(second, hard),
    ]
    assert drain(session) == [[2, second, "Reset", {"type": "Hard"}]]
    assert session.queued_calls == 0
    # Its time runs from when it was queued, not from when it was sent.
    assert session.next_deadline() == 31.0


def test_callerror_for_our_call_gives_error_received_and_sends_the_next() -> None:
    session = make_session()
    first = session.start_call(RESET, now=0)
    second = session.start_call(RESET, now=0)
    session.outgoing()
    text = json.dumps([4, first, "NotSupported", "no resets here", {"a": 1}])
    events = session.receive_text(text, now=3)
    assert events == [
        ErrorReceived(first, RESET, CallError(first, "NotSupported", "no resets here", {"a": 1})),
        CallSent(second, RESET),
    ]
    assert [frame[1] for frame in drain(session)] == [second]


def test_timeout_fires_at_the_deadline_and_a_queued_call_keeps_its_own_deadline() -> None:
    session = make_session(call_timeout=10)
    first = session.start_call(RESET, now=100)
    second = session.start_call(RESET, now=101)
    session.outgoing()
    assert session.next_deadline() == 110
    assert session.handle_timers(109.999) == []
    assert session.outgoing() == []
    assert session.next_deadline() == 110
    assert session.handle_timers(110) == [CallExpired(first, RESET), CallSent(second, RESET)]
    assert [frame[1] for frame in drain(session)] == [second]
    # call_timeout counts from start_call, whatever the call's place in the queue.
    assert session.next_deadline() == 111
    # A late answer to the timed-out call answers nothing.
    events = session.receive_text(result(first, {"status": "Accepted"}), now=110.5)
    assert [type(e) for e in events] == [InvalidMessageReceived]
    assert session.next_deadline() == 111
    assert session.handle_timers(111) == [CallExpired(second, RESET)]
    assert session.next_deadline() is None
    assert session.handle_timers(1000) == []


def test_calls_queued_behind_a_mute_charge_point_expire_after_call_timeout() -> None:
    session = make_session(call_timeout=10, max_queued_calls=100)
    ids = [session.start_call(RESET, now=float(i) / 10) for i in range(65)]
    session.outgoing()
    # Nobody answers: every call ends by its start + 10 s, queued or not, none sent meanwhile.
    events = session.handle_timers(10.0 + 6.4)
    assert [type(e) for e in events] == [CallExpired] * 65
    assert [e.message_id for e in events] == ids
    assert session.outgoing() == []
    assert session.next_deadline() is None
    # Only the due ones end: one queued later is sent once those ahead of it expired.
    late = session.start_call(RESET, now=20)
    later = session.start_call(RESET, now=25)
    session.outgoing()
    assert session.handle_timers(30) == [CallExpired(late, RESET), CallSent(later, RESET)]


def test_next_deadline_is_none_when_nothing_is_in_flight() -> None:
    session = make_session(call_timeout=5)
    assert session.next_deadline() is None
    message_id = session.start_call(RESET, now=1)
    assert session.next_deadline() == 6
    session.receive_text(result(message_id, {"status": "Rejected"}), now=2)
    assert session.next_deadline() is None


def test_queue_bound_raises_queue_full() -> None:
    session = make_session(max_queued_calls=2)
    for _ in range(3):
        session.start_call(RESET, now=0)
    with pytest.raises(QueueFull) as caught:
        session.start_call(RESET, now=0)
    assert caught.value.limit == 2
    assert session.queued_calls == 2
    assert [frame[1] for frame in drain(session)] == ["c1"]
    # A refused call takes no id, and room appears once the call in flight is answered.
    session.receive_text(result("c1", {"status": "Accepted"}), now=1)
    assert session.start_call(RESET, now=1) == "c4"
    assert session.queued_calls == 2


def test_callresult_with_an_unknown_id_leaves_our_call_in_flight() -> None:
    session = make_session()
    message_id = session.start_call(RESET, now=0)
    session.outgoing()
    events = session.receive_text(result("someone-else", {"status": "Accepted"}), now=1)
    assert len(events) == 1
    assert isinstance(events[0], InvalidMessageReceived)
    assert events[0].message_id == "someone-else"
    assert session.outgoing() == []
    assert session.next_deadline() == 30.0
    events = session.receive_text(result(message_id, {"status": "Accepted"}), now=2)
    assert events == [ResultReceived(message_id, RESET, ResetResponse(status=ResetStatus.ACCEPTED))]


def test_callresult_breaking_its_schema_gives_response_invalid() -> None:
    session = make_session()
    message_id = session.start_call(RESET, now=0)
    session.outgoing()
    events = session.receive_text(result(message_id, {"status": "Maybe"}), now=1)
    assert len(events) == 1
    event = events[0]
    assert isinstance(event, ResponseInvalid)
    assert (event.message_id, event.request) == (message_id, RESET)
    assert event.error.code is ErrorCode.PROPERTY_CONSTRAINT_VIOLATION
    assert session.next_deadline() is None
    assert session.outgoing() == []  # we never answer a CALLRESULT


def test_close_aborts_the_call_in_flight_and_every_queued_one() -> None:
    session = make_session()
    ids = [session.start_call(RESET, now=0) for _ in range(3)]
    session.outgoing()
    assert session.close() == [CallAborted(message_id, RESET) for message_id in ids]
    assert session.next_deadline() is None
    assert session.queued_calls == 0
    assert session.handle_timers(1000) == []
    with pytest.raises(LocalProtocolError, match="closed"):
        session.start_call(RESET, now=1)
    with pytest.raises(LocalProtocolError, match="closed"):
        session.receive_text(call("m1", "Heartbeat"), now=1)
    assert session.close() == []
    assert session.outgoing() == []


def test_central_system_cannot_start_a_charge_point_request() -> None:
    session = make_session()
    with pytest.raises(InvalidRequest, match="Heartbeat"):
        session.start_call(HeartbeatRequest(), now=0)
    assert session.outgoing() == []
    assert session.next_deadline() is None
    assert session.start_call(RESET, now=0) == "c1"  # no id was spent


def test_start_call_refuses_a_request_breaking_its_schema() -> None:
    session = make_session()
    with attrs.validators.disabled():
        broken = DataTransferRequest(vendor_id="V" * 256)
    with pytest.raises(InvalidRequest, match="vendorId"):
        session.start_call(broken, now=0)
    assert session.outgoing() == []
    assert session.next_deadline() is None


# --- the charge point side -------------------------------------------------------------------


def test_charge_point_side_starts_heartbeat_but_not_reset() -> None:
    session = make_session(charge_point_side=True)
    assert session.start_call(HeartbeatRequest(), now=0) == "c1"
    assert drain(session) == [[2, "c1", "Heartbeat", {}]]
    with pytest.raises(InvalidRequest, match="Reset"):
        session.start_call(RESET, now=0)
    assert session.queued_calls == 0


def test_charge_point_side_accepts_reset_and_rejects_heartbeat() -> None:
    session = make_session(charge_point_side=True)
    assert session.receive_text(call("m1", "Reset", {"type": "Hard"}), now=0) == [
        CallReceived("m1", ResetRequest(type=ResetType.HARD))
    ]
    [event] = session.receive_text(call("m2", "Heartbeat"), now=0)
    assert isinstance(event, CallRejected)
    assert event.error.code is ErrorCode.NOT_SUPPORTED
    [frame] = drain(session)
    assert frame[:3] == [4, "m2", "NotSupported"]
    session.send_result("m1", ResetResponse(status=ResetStatus.ACCEPTED))
    assert drain(session) == [[3, "m1", {"status": "Accepted"}]]


@pytest.mark.parametrize("charge_point_side", [False, True])
def test_data_transfer_goes_both_ways(charge_point_side: bool) -> None:
    session = make_session(charge_point_side=charge_point_side)
    request = DataTransferRequest(vendor_id="Acme", data="hi")
    assert session.start_call(request, now=0) == "c1"
    assert session.receive_text(call("m1", "DataTransfer", {"vendorId": "Acme"}), now=0) == [
        CallReceived("m1", DataTransferRequest(vendor_id="Acme"))
    ]


def pump(source: Session, target: Session, now: float) -> list[Event]:
    events: list[Event] = []
    for text in source.outgoing():
        events.extend(target.receive_text(text, now))
    return events


def test_round_trip_between_a_charge_point_and_a_central_system() -> None:
    central = make_session()
    charge_point = make_session(charge_point_side=True, message_id_factory=counter_ids("cp"))
    boot = BootNotificationRequest(
        charge_point_vendor="Acme", charge_point_model="X1", firmware_version="1.0"
    )
    message_id = charge_point.start_call(boot, now=0)
    [received] = pump(charge_point, central, now=0)
    assert received == CallReceived(message_id, boot)
    answer = BootNotificationResponse(
        current_time=NOON, interval=300, status=RegistrationStatus.ACCEPTED
    )
    central.send_result(message_id, answer)
    assert pump(central, charge_point, now=1) == [ResultReceived(message_id, boot, answer)]
    # And the other way round.
    reset_id = central.start_call(RESET, now=2)
    assert pump(central, charge_point, now=2) == [CallReceived(reset_id, RESET)]
    charge_point.send_result(reset_id, ResetResponse(status=ResetStatus.REJECTED))
    assert pump(charge_point, central, now=3) == [
        ResultReceived(reset_id, RESET, ResetResponse(status=ResetStatus.REJECTED))
    ]
    # A CALLERROR travels too.
    transfer = DataTransferRequest(vendor_id="Acme")
    transfer_id = charge_point.start_call(transfer, now=4)
    pump(charge_point, central, now=4)
    central.send_error(transfer_id, NotSupported("no vendor data"))
    assert pump(central, charge_point, now=5) == [
        ErrorReceived(
            transfer_id, transfer, CallError(transfer_id, "NotSupported", "no vendor data", {})
        )
    ]
    assert central.outgoing() == charge_point.outgoing() == []


# --- message ids -----------------------------------------------------------------------------


def test_default_message_ids_are_unique_and_short() -> None:
    session = Session("CP1")
    seen: set[str] = set()
    answer = DataTransferResponse(status=DataTransferStatus.ACCEPTED)
    for _ in range(1000):
        message_id = session.start_call(DataTransferRequest(vendor_id="Acme"), now=0)
        [frame] = drain(session)
        assert frame[1] == message_id
        assert 0 < len(message_id) <= MAX_MESSAGE_ID_LENGTH
        seen.add(message_id)
        events = session.receive_text(result(message_id, {"status": "Accepted"}), now=0)
        assert events == [ResultReceived(message_id, DataTransferRequest(vendor_id="Acme"), answer)]
    assert len(seen) == 1000


# --- properties ------------------------------------------------------------------------------

_json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=10),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner),
    max_leaves=8,
)
_words = st.sampled_from(["c1", "c2", "m1", "Heartbeat", "Reset", "BootNotification", "", "x" * 37])
_ocpp_ish = st.builds(
    lambda kind, message_id, rest: json.dumps([kind, message_id, *rest]),
    st.sampled_from([2, 3, 4]),
    _words | _json_values,
    st.lists(_words | _json_values | st.dictionaries(_words, _json_values, max_size=3), max_size=4),
)
_truncated = _ocpp_ish.flatmap(lambda text: st.integers(0, len(text)).map(lambda n: text[:n]))
inbound_garbage = st.text() | st.binary() | _ocpp_ish | _truncated


@given(st.lists(inbound_garbage, min_size=1, max_size=4))
def test_garbage_never_raises_and_the_session_carries_on(texts: list[str | bytes]) -> None:
    session = make_session()
    session.start_call(RESET, now=0)
    session.start_call(RESET, now=0)
    session.outgoing()
    for text in texts:
        events = session.receive_text(text, now=1)
        assert all(isinstance(event, Event) for event in events)
        for frame in session.outgoing():
            parse_frame(frame)  # whatever we send back is OCPP-J
    probe = next(
        message_id
        for message_id in (f"probe{n}" for n in itertools.count())
        if message_id not in session.unanswered_calls
    )
    assert session.receive_text(call(probe, "Heartbeat"), now=2) == [
        CallReceived(probe, HeartbeatRequest())
    ]
    session.send_result(probe, HEARTBEAT_ANSWER)
    assert [frame[:2] for frame in drain(session)] == [[3, probe]]


@pytest.mark.parametrize("action", CP_ACTIONS)
@given(data=st.data())
def test_every_valid_payload_is_received(action: str, data: st.DataObject) -> None:
    payload = data.draw(payloads(action))
    session = make_session()
    events = session.receive_text(call("m1", action, payload), now=0)
    assert len(events) == 1, events
    event = events[0]
    assert isinstance(event, CallReceived), event
    assert type(event.request) is ACTIONS[action].request
    assert session.outgoing() == []


@pytest.mark.parametrize("action", CP_ACTIONS)
@given(data=st.data())
def test_every_faulty_payload_earns_its_code(action: str, data: st.DataObject) -> None:
    payload, code, keyword = data.draw(faulty_payloads(action))
    session = make_session()
    events = session.receive_text(call("m1", action, payload), now=0)
    assert [type(e) for e in events] == [CallRejected], (keyword, events)
    [frame] = drain(session)
    assert frame[:3] == [4, "m1", code.value], keyword
    assert session.unanswered_calls == frozenset()


_operations = st.lists(
    st.one_of(
        st.tuples(st.just("start"), st.just(0.0)),
        st.tuples(st.sampled_from(["result", "error", "invalid", "broken", "stray"]), st.just(0.0)),
        st.tuples(st.just("tick"), st.floats(0, 20)),
    ),
    max_size=40,
)


def _answer(kind: str, message_id: str) -> str:
    if kind == "result":
        return result(message_id, {"status": "Accepted"})
    if kind == "error":
        return json.dumps([4, message_id, "InternalError", "", {}])
    if kind == "invalid":
        return result(message_id, {"status": "Sometimes"})
    return f'[3,"{message_id}",{{"status"'  # broken


@given(_operations)
def test_at_most_one_call_is_ever_in_flight(operations: list[tuple[str, float]]) -> None:
    session = make_session(call_timeout=10, max_queued_calls=3)
    now = 0.0
    started: dict[str, float] = {}
    sent: list[str] = []
    ended: set[str] = set()
    for kind, step in operations:
        events: list[Event] = []
        if kind == "start":
            try:
                started[session.start_call(RESET, now)] = now
            except QueueFull:
                assert session.queued_calls == 3
        elif kind == "tick":
            now += step
            events = session.handle_timers(now)
        elif kind == "stray":
            events = session.receive_text(result("stray", {"status": "Accepted"}), now)
            assert [type(e) for e in events] == [InvalidMessageReceived]
        else:
            unanswered = [m for m in sent if m not in ended]
            target = unanswered[-1] if unanswered else "nobody"
            events = session.receive_text(_answer(kind, target), now)
        for frame in drain(session):
            assert frame[0] == 2
            sent.append(frame[1])
        for event in events:
            if isinstance(event, TERMINAL):
                assert event.message_id not in ended
                ended.add(event.message_id)
                if isinstance(event, CallExpired):
                    assert now >= started[event.message_id] + 10
        in_flight = len([m for m in sent if m not in ended])
        assert in_flight in (0, 1)
        assert (session.next_deadline() is not None) == (in_flight == 1)
        if in_flight == 0:
            assert session.queued_calls == 0
        else:
            deadline = session.next_deadline()
            assert deadline is not None
            assert deadline > now
        if kind == "tick":
            # No call outlives its call_timeout, counted from start_call.
            assert all(m in ended for m, at in started.items() if at + 10 <= now)
    order = list(started)
    assert sent == [m for m in order if m in sent]
    waiting = [m for m in order if m not in ended and m not in sent]
    assert len(waiting) == session.queued_calls


@pytest.mark.parametrize("anyio_backend", ["asyncio", "trio"])
@pytest.mark.anyio
async def test_a_simulator_ignores_a_frame_that_arrives_while_it_closes(anyio_backend: str) -> None:
    import anyio

    from ocpp16csms.connection import MemoryConnection
    from ocpp16csms.testing import (
        ChargePointSimulator,
        memory_connection_pair,
    )

    class LateFrame(MemoryConnection):
        """Hands over one frame only once the simulator began to close."""

        def __init__(self, inner: MemoryConnection) -> None:
            super().__init__(inner._incoming, inner._outgoing)
            self.closing = anyio.Event()
            self.delivered = False

        async def receive(self) -> str:
            if self.delivered:
                return await super().receive()
            await self.closing.wait()
            self.delivered = True
            return '[2,"late","Reset",{"type":"Soft"}]'

        async def close(self, code: int = 1000, reason: str = "") -> None:
            self.closing.set()
            await anyio.sleep(0.01)  # the late frame is read during the close
            await super().close(code, reason)

    mine, peer = memory_connection_pair()
    connection = LateFrame(mine)
    with anyio.fail_after(5):
        async with ChargePointSimulator("CP1", connection).running() as sim:
            pass
    assert connection.delivered
    assert sim.received == []
    await peer.close()


@pytest.mark.parametrize("bad_id", ["", "x" * 37, 42])
def test_a_message_id_factory_giving_no_valid_id_is_refused(bad_id: Any) -> None:
    from ocpp16csms.errors import LocalProtocolError

    session = make_session(message_id_factory=lambda: bad_id)
    with pytest.raises(LocalProtocolError, match="message id factory"):
        session.start_call(RESET, 0.0)
    assert session.outgoing() == []
    assert session.queued_calls == 0


_ids = st.text(min_size=1, max_size=36).filter(
    lambda text: not any("\ud800" <= c <= "\udfff" for c in text)
)


@given(_ids, st.sampled_from(["StatusNotification", "Heartbeat"]))
def test_an_answer_is_the_frame_the_encoder_writes_whatever_the_id(
    message_id: str, action: str
) -> None:
    # Empty answers are written without the encoder; the text must be the encoder's anyway.
    from ocpp16csms.messages import HeartbeatResponse, StatusNotificationResponse
    from ocpp16csms.rpc import encode_json

    payload: dict[str, Any] = (
        {"connectorId": 1, "errorCode": "NoError", "status": "Available"}
        if action == "StatusNotification"
        else {}
    )
    session = Session("CP1")
    (event,) = session.receive_text(json.dumps([2, message_id, action, payload]), 0.0)
    assert isinstance(event, CallReceived)
    now = datetime(2026, 1, 1, tzinfo=UTC)
    response = (
        StatusNotificationResponse()
        if action == "StatusNotification"
        else HeartbeatResponse(current_time=now)
    )
    session.send_result(message_id, response)
    (text,) = session.outgoing()
    body = {} if action == "StatusNotification" else {"currentTime": "2026-01-01T00:00:00Z"}
    assert text == encode_json([3, message_id, body])
    assert json.loads(text) == [3, message_id, body]
