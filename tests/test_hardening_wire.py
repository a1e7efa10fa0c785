"""Hostile input at the wire layer (issue #11): nothing a peer sends can make a reply
unencodable, cost unbounded work per frame, or pass validation and then fail every store."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import assume, example, given
from hypothesis import strategies as st

from ocpp16csms import (
    GenericError,
    PropertyConstraintViolation,
)
from ocpp16csms import validation as validation_module
from ocpp16csms.codec import MessageCodec
from ocpp16csms.converter import parse_datetime
from ocpp16csms.enums import RegistrationStatus
from ocpp16csms.messages import (
    BootNotificationRequest,
    DataTransferRequest,
    DataTransferResponse,
    DataTransferStatus,
    HeartbeatResponse,
    MeterValuesRequest,
    StartTransactionRequest,
)
from ocpp16csms.rpc import CallError, encode_frame
from ocpp16csms.session import CallReceived, CallRejected, Session
from ocpp16csms.validation import (
    PayloadValidator,
    Relaxation,
    RelaxedRule,
    ValidationPolicy,
    schema_for,
)

NOON = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


def frames_of(session: Session) -> list[Any]:
    texts = session.outgoing()
    for text in texts:
        text.encode("utf-8")  # every frame must go out as UTF-8
    return [json.loads(text) for text in texts]


# --- 1. replies are always encodable ---------------------------------------------------------


def test_a_lone_surrogate_in_a_field_name_is_answered_with_an_encodable_callerror() -> None:
    session = Session("CP1")
    events = session.receive_text('[2,"a","Heartbeat",{"\\ud800":1}]', now=0)
    assert [type(e) for e in events] == [CallRejected]
    (frame,) = frames_of(session)
    assert frame[:3] == [4, "a", "FormationViolation"]
    # The name is shown escaped, so the peer still sees which field was refused.
    assert "\\ud800" in frame[3]
    assert frame[4]["field"] == "\\ud800"


def test_callerror_frames_escape_what_utf8_cannot_carry() -> None:
    error = GenericError("bad \udc80 value", {"why": ["x\ud800"], "\udfff": {"k": "\ud801"}})
    frame = CallError.from_error("m1", error)
    text = encode_frame(frame)
    text.encode("utf-8")
    decoded = json.loads(text)
    assert decoded[3] == "bad \\udc80 value"
    assert decoded[4] == {"why": ["x\\ud800"], "\\udfff": {"k": "\\ud801"}}
    # Plain text, non-ASCII included, is left exactly as it was.
    plain = CallError.from_error("m2", GenericError("Ladepunkt überlastet", {"n": 1}))
    assert plain.error_description == "Ladepunkt überlastet"
    assert plain.error_details == {"n": 1}


def test_a_handler_error_whose_details_are_not_json_still_answers_the_call() -> None:
    session = Session("CP1")
    session.receive_text('[2,"m1","Heartbeat",{}]', now=0)
    session.send_error("m1", GenericError("odd", {"when": NOON, "nan": float("nan")}))
    (frame,) = frames_of(session)
    assert frame[:4] == [4, "m1", "GenericError", "odd"]
    assert session.unanswered_calls == frozenset()


def test_an_answer_holding_a_lone_surrogate_is_refused_before_it_is_sent() -> None:
    from ocpp16csms import InvalidRequest

    session = Session("CP1")
    session.receive_text('[2,"m1","DataTransfer",{"vendorId":"v"}]', now=0)
    answer = DataTransferResponse(status=DataTransferStatus.ACCEPTED, data="echo \ud800")
    with pytest.raises(InvalidRequest, match="surrogate"):
        session.send_result("m1", answer)
    # Nothing went out and the CALL can still be answered (the engine sends InternalError).
    assert session.outgoing() == []
    assert session.unanswered_calls == {"m1"}
    with pytest.raises(InvalidRequest, match="surrogate"):
        session.start_call(DataTransferRequest(vendor_id="v", data="\udc00"), now=0)
    assert session.outgoing() == []


def test_a_huge_unknown_action_is_not_echoed_whole() -> None:
    session = Session("CP1")
    session.receive_text(json.dumps([2, "m1", "X" * 100_000, {}]), now=0)
    (frame,) = frames_of(session)
    assert frame[2] == "NotImplemented"
    assert len(frame[3]) < 200


# --- 2. bounded work per frame ---------------------------------------------------------------


def _meter_values_with_bad_units(count: int) -> dict[str, Any]:
    sampled = [{"value": "1", "unit": "bogus"}] * count
    return {
        "connectorId": 1,
        "meterValue": [{"timestamp": "2024-01-01T00:00:00Z", "sampledValue": sampled}],
    }


@pytest.fixture
def counted_validator(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Every validator built from here counts the violations it builds."""
    built = [0]
    original = validation_module._violation

    def counting(*args: Any) -> Any:
        built[0] += 1
        return original(*args)

    monkeypatch.setattr(validation_module, "_violation", counting)
    validator = PayloadValidator(schema_for("MeterValues"), label="MeterValues")
    monkeypatch.setattr(validation_module, "validator_for", lambda name: validator)
    return built


def test_the_wire_path_stops_at_the_first_violation(counted_validator: list[int]) -> None:
    payload = _meter_values_with_bad_units(20_000)
    with pytest.raises(PropertyConstraintViolation, match="unit"):
        MessageCodec().decode(MeterValuesRequest, payload)
    assert counted_validator[0] == 1


def test_the_python_api_still_lists_every_violation(counted_validator: list[int]) -> None:
    payload = _meter_values_with_bad_units(1_000)
    result = ValidationPolicy().check("MeterValues", payload, action="MeterValues")
    assert len(result.errors) == 1_000
    first = ValidationPolicy().check("MeterValues", payload, action="MeterValues", exhaustive=False)
    assert len(first.errors) == 1
    assert first.errors[0] == result.errors[0]


def test_with_relaxations_the_wire_path_stops_at_the_first_error_not_waived(
    counted_validator: list[int],
) -> None:
    payload = _meter_values_with_bad_units(5_000)
    payload["meterValue"][0]["timestamp"] = "2024-01-01T00:00:00"  # waived below
    policy = ValidationPolicy(relaxations=[Relaxation(rule=RelaxedRule.DATE_TIME_FORMAT)])
    result = policy.check("MeterValues", payload, action="MeterValues", exhaustive=False)
    assert [v.keyword for v in result.relaxed] == ["format"]
    assert [v.keyword for v in result.errors] == ["enum"]
    assert counted_validator[0] == 2


def test_waived_violations_are_logged_a_bounded_number_of_times(
    caplog: pytest.LogCaptureFixture,
) -> None:
    policy = ValidationPolicy(relaxations=[Relaxation(rule=RelaxedRule.ENUM)])
    payload = _meter_values_with_bad_units(500)
    with caplog.at_level("WARNING", logger="ocpp16csms.codec"):
        request = MessageCodec(policy).decode(MeterValuesRequest, payload, charge_point_id="CP1")
    assert len(request.meter_value[0].sampled_value) == 500
    assert 1 < len(caplog.records) <= 11
    assert "490 more" in caplog.records[-1].getMessage()


def test_a_big_frame_from_an_unregistered_charge_point_is_refused_before_validation() -> None:
    class CountingCodec(MessageCodec):
        decoded = 0

        def decode(self, *args: Any, **kwargs: Any) -> Any:
            CountingCodec.decoded += 1
            return super().decode(*args, **kwargs)

    session = Session("UNKNOWN", codec=CountingCodec(), registration=None)
    text = json.dumps([2, "m1", "MeterValues", _meter_values_with_bad_units(50_000)])
    assert len(text) > 1_000_000
    started = time.perf_counter()
    events = session.receive_text(text, now=0)
    elapsed = time.perf_counter() - started
    assert [type(e) for e in events] == [CallRejected]
    assert events[0].error.code == "SecurityError"
    assert CountingCodec.decoded == 0
    assert elapsed < 1.0  # only the JSON parse: a few tens of ms


# --- 3. valid means storable: integers, timestamps ------------------------------------------


@pytest.mark.parametrize("value", [2**63 - 1, -(2**63)])
def test_every_signed_64_bit_integer_is_accepted(value: int) -> None:
    payload = {"connectorId": 1, "transactionId": value, "meterValue": []}
    payload["meterValue"] = [
        {"timestamp": "2024-01-01T00:00:00Z", "sampledValue": [{"value": "1"}]}
    ]
    if value >= 0:
        request = MessageCodec().decode(MeterValuesRequest, payload)
        assert request.transaction_id == value
    start = {
        "connectorId": 1,
        "idTag": "T",
        "meterStart": value,
        "timestamp": "2024-01-01T00:00:00Z",
    }
    assert MessageCodec().decode(StartTransactionRequest, start).meter_start == value


@pytest.mark.parametrize("value", [2**63, -(2**63) - 1, 10**30, -(10**400)])
def test_an_integer_beyond_64_bits_is_refused_up_front(value: int) -> None:
    start = {
        "connectorId": 1,
        "idTag": "T",
        "meterStart": value,
        "timestamp": "2024-01-01T00:00:00Z",
    }
    with pytest.raises(PropertyConstraintViolation, match="64-bit"):
        MessageCodec().decode(StartTransactionRequest, start)


def test_a_number_too_big_for_its_field_is_refused_not_crashing() -> None:
    from ocpp16csms.messages import GetCompositeScheduleResponse

    session = Session("CP1")
    text = (
        '[2,"m1","MeterValues",{"connectorId":1,"meterValue":[{"timestamp":'
        '"2024-01-01T00:00:00Z","sampledValue":[{"value":"1"}]}],"transactionId":'
        + "9" * 400
        + "}]"
    )
    events = session.receive_text(text, now=0)
    assert [type(e) for e in events] == [CallRejected]
    assert events[0].error.code == "PropertyConstraintViolation"
    # A float field given an integer no float can hold.
    schedule = {
        "chargingRateUnit": "W",
        "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 10**400}],
    }
    answer = {"status": "Accepted", "connectorId": 1, "chargingSchedule": schedule}
    with pytest.raises(PropertyConstraintViolation):
        MessageCodec().decode(GetCompositeScheduleResponse, answer)


@pytest.mark.parametrize(
    "text",
    [
        "9999-12-31T23:59:59-23:59",
        "9999-12-31T23:00:00-01:00",
        "0001-01-01T00:00:00+00:01",
        "0001-01-01T00:30:00+01:00",
    ],
)
def test_a_timestamp_whose_utc_instant_is_out_of_range_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match="outside"):
        parse_datetime(text)
    boot_time = {"connectorId": 1, "idTag": "T", "meterStart": 0, "timestamp": text}
    with pytest.raises(PropertyConstraintViolation, match="outside"):
        MessageCodec().decode(StartTransactionRequest, boot_time)


@pytest.mark.parametrize(
    "text", ["9999-12-31T23:59:59.999999Z", "0001-01-01T00:00:00Z", "9999-12-31T22:00:00-01:00"]
)
def test_the_extreme_instants_datetime_can_hold_are_accepted(text: str) -> None:
    parsed = parse_datetime(text)
    assert parsed.astimezone(UTC).year in (1, 9999)


# --- 12. RFC 3339 forms ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2024-05-01t12:00:00z", NOON),
        ("2024-05-01T12:00:00z", NOON),
        ("2024-05-01t14:00:00+02:00", NOON),
        ("2024-05-01T12:00:00.000000001Z", NOON),
    ],
)
def test_lower_case_t_and_z_are_rfc_3339(text: str, expected: datetime) -> None:
    assert parse_datetime(text) == expected
    payload = {"connectorId": 1, "idTag": "T", "meterStart": 0, "timestamp": text}
    assert MessageCodec().decode(StartTransactionRequest, payload).timestamp == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2016-12-31T23:59:60Z", datetime(2016, 12, 31, 23, 59, 59, 999_999, tzinfo=UTC)),
        ("2016-12-31T23:59:60.5Z", datetime(2016, 12, 31, 23, 59, 59, 999_999, tzinfo=UTC)),
        (
            "2016-12-31T18:59:60-05:00",
            datetime(2016, 12, 31, 23, 59, 59, 999_999, tzinfo=UTC),
        ),
    ],
)
def test_a_leap_second_is_clamped_to_the_last_microsecond_before_it(
    text: str, expected: datetime
) -> None:
    assert parse_datetime(text) == expected
    payload = {"connectorId": 1, "idTag": "T", "meterStart": 0, "timestamp": text}
    assert MessageCodec().decode(StartTransactionRequest, payload).timestamp == expected


@pytest.mark.parametrize(
    "text", ["2024-05-01 12:00:00Z", "20240501T120000Z", "2024-05-01T12:00Z", "2024-W18-3"]
)
def test_parse_datetime_refuses_what_rfc_3339_does_not_allow(text: str) -> None:
    with pytest.raises(ValueError, match="RFC 3339"):
        parse_datetime(text)


def test_a_boot_with_ordinary_text_still_decodes() -> None:
    payload = {"chargePointVendor": "Äcme", "chargePointModel": "X1"}
    request = MessageCodec().decode(BootNotificationRequest, payload)
    assert request.charge_point_vendor == "Äcme"
    session = Session("CP1", registration=RegistrationStatus.ACCEPTED)
    session.receive_text('[2,"h","Heartbeat",{}]', now=0)
    session.send_result("h", HeartbeatResponse(current_time=NOON))
    assert [f[0] for f in frames_of(session)] == [3]


def test_callreceived_is_still_given_for_a_valid_call() -> None:
    session = Session("CP1")
    events = session.receive_text('[2,"h","Heartbeat",{}]', now=0)
    assert [type(e) for e in events] == [CallReceived]


_rfc3339 = st.builds(
    lambda y, mo, d, h, mi, s, frac, t, offset: (
        f"{y:04d}-{mo:02d}-{d:02d}{t}{h:02d}:{mi:02d}:{s:02d}{frac}{offset}"
    ),
    st.integers(1, 9999),
    st.integers(1, 12),
    st.integers(1, 28),
    st.integers(0, 23),
    st.integers(0, 59),
    st.integers(0, 60),  # 60: a leap second
    st.sampled_from(["", ".5", ".123", ".123456", ".1234567891"]),
    st.sampled_from(["T", "t"]),
    st.sampled_from(["Z", "z", "+00:00", "-23:59", "+14:00", "+05:30"]),
)


@given(_rfc3339)
def test_validated_date_times_parse_as_checked_ones_do(text: str) -> None:
    """The codec's reader for text the schema accepted gives what parse_datetime gives,
    refusals of an instant beyond the years 1 to 9999 included."""
    from ocpp16csms.converter import parse_validated_datetime
    from ocpp16csms.validation import validator_for

    # The schema's date-time format is the gate the validated reader relies on.
    assert validator_for("StartTransaction").is_valid(
        {"connectorId": 1, "idTag": "T", "meterStart": 0, "timestamp": text}
    )
    try:
        expected = parse_datetime(text)
    except ValueError:
        with pytest.raises(ValueError, match="outside the years"):
            parse_validated_datetime(text)
    else:
        assert parse_validated_datetime(text) == expected


@given(
    st.datetimes(
        min_value=datetime(1, 1, 2),
        max_value=datetime(9999, 12, 30),
        timezones=st.one_of(st.just(UTC), st.timezones()),
    )
)
# A local time in the gap of its zone's first transition (found by the ci profile).
@example(datetime(1919, 12, 10, tzinfo=ZoneInfo("Asia/Barnaul")))
def test_date_times_go_out_as_utc_with_the_fraction_they_need(value: datetime) -> None:
    from ocpp16csms.converter import datetime_to_wire
    from ocpp16csms.validation import is_rfc3339_date_time

    assume(value.utcoffset() is not None)
    try:
        utc = value.astimezone(UTC)
    except OverflowError:
        return  # no UTC instant in the years 1 to 9999
    text = datetime_to_wire(value)
    assert text.endswith("Z")
    assert is_rfc3339_date_time(text)
    # The same instant, compared in UTC: an aware time in a gap or a fold of its zone never
    # compares equal to one in another zone (PEP 495), though it names the same instant.
    assert parse_datetime(text) == utc
    assert text.startswith(utc.replace(tzinfo=None, microsecond=0).isoformat())
    fraction = text[20:-1] if len(text) > 20 else ""
    micro = utc.microsecond
    expected = "" if micro == 0 else f"{micro:06d}"[: 3 if micro % 1000 == 0 else 6]
    assert fraction == expected


@given(st.lists(st.integers(0, 3_000_000), min_size=1, max_size=20))
def test_date_times_close_together_are_each_written_right(offsets: list[int]) -> None:
    # The writer reuses the text of the last second it wrote: any order of instants within
    # and across seconds must still give each one its own text.
    from datetime import timedelta

    from ocpp16csms.converter import datetime_to_wire

    base = datetime(2026, 12, 31, 23, 59, 58, tzinfo=UTC)
    for offset in offsets:
        value = base + timedelta(microseconds=offset)
        micro = value.microsecond
        fraction = "" if not micro else "." + f"{micro:06d}"[: 3 if micro % 1000 == 0 else 6]
        expected = value.replace(tzinfo=None, microsecond=0).isoformat() + fraction + "Z"
        assert datetime_to_wire(value) == expected
