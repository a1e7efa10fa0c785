"""Message classes: round trips through JSON and our schemas, and agreement with the schemas."""

from __future__ import annotations

import json
import typing
from datetime import UTC, datetime, timedelta, timezone
from enum import Enum
from typing import Any

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from ocpp16csms import Profile
from ocpp16csms.codec import MessageCodec
from ocpp16csms.constraints import (
    MaxLength,
    Minimum,
    MinItems,
    MultipleOf,
    constraints_of,
)
from ocpp16csms.converter import (
    make_converter,
    wire_name,
)
from ocpp16csms.messages import (
    ChargingSchedulePeriod,
    Direction,
    HeartbeatResponse,
    StartTransactionRequest,
)
from ocpp16csms.registry import ACTIONS
from ocpp16csms.testing import (
    instances,
    message_classes,
)
from ocpp16csms.validation import (
    schema_for,
    validator_for,
)

CLASSES = message_classes()
validated_converter = make_converter(validated=True)
converter = make_converter()


def test_every_action_has_both_classes_and_knows_itself() -> None:
    assert len(ACTIONS) == 39
    assert len(CLASSES) == 78
    security = {a for a, s in ACTIONS.items() if s.profile is Profile.SECURITY}
    assert len(security) == 11
    for action, spec in ACTIONS.items():
        assert spec.request.action == spec.response.action == action
        assert spec.request.schema_name == action
        assert spec.response.schema_name == f"{action}Response"
        assert spec.request.response_type is spec.response
    assert ACTIONS["DataTransfer"].direction is Direction.BOTH
    assert ACTIONS["Reset"].direction is Direction.CENTRAL_SYSTEM_TO_CHARGE_POINT
    assert ACTIONS["Heartbeat"].direction is Direction.CHARGE_POINT_TO_CENTRAL_SYSTEM


@pytest.mark.parametrize("cls", CLASSES, ids=lambda c: c.__name__)
@given(data=st.data())
def test_round_trip_through_json_and_the_schema(cls: Any, data: st.DataObject) -> None:
    message = data.draw(instances(cls))
    payload = converter.unstructure(message)
    text = json.dumps(payload)
    back = json.loads(text)
    assert validator_for(cls.schema_name).violations(back) == []
    assert validator_for(cls.schema_name).encoded_valid_function(payload)
    assert converter.structure(back, cls) == message
    assert "null" not in text.replace('"null"', "")  # absent optionals are omitted
    # What the codec reads valid payloads with: the schema's checks not made twice, the
    # same message built.
    assert validated_converter.structure(back, cls) == message


def _json_type(tp: Any) -> str:
    base, _, _ = constraints_of(tp)
    if base is bool:
        return "boolean"
    if base is int:
        return "integer"
    if base is float:
        return "number"
    if base is str or base is datetime or (isinstance(base, type) and issubclass(base, Enum)):
        return "string"
    if typing.get_origin(base) is tuple:
        return "array"
    return "object"


def _agree(cls: Any, schema: dict[str, Any], where: str) -> None:
    hints = typing.get_type_hints(cls, include_extras=True)
    fields = {wire_name(f.name): f for f in attrs.fields(cls)}
    assert set(fields) == set(schema["properties"]), where
    required = {w for w, f in fields.items() if f.default is attrs.NOTHING}
    assert required == set(schema.get("required", [])), where
    for wire, field in fields.items():
        here = f"{where}.{wire}"
        prop = schema["properties"][wire]
        tp = hints[field.name]
        _agree_value(tp, prop, here)


def _agree_value(tp: Any, prop: dict[str, Any], where: str) -> None:
    base, found, _ = constraints_of(tp)
    assert prop["type"] == _json_type(tp), where
    by_kind = {type(c): c for c in found}
    max_length = by_kind.get(MaxLength)
    assert prop.get("maxLength") == (max_length.value if max_length else None), where
    minimum = by_kind.get(Minimum)
    assert prop.get("minimum") == (minimum.value if minimum else None), where
    multiple = by_kind.get(MultipleOf)
    assert prop.get("multipleOf") == (float(multiple.value) if multiple else None), where
    min_items = by_kind.get(MinItems)
    assert prop.get("minItems") == (min_items.value if min_items else None), where
    assert (prop.get("format") == "date-time") == (base is datetime), where
    if isinstance(base, type) and issubclass(base, Enum):
        assert [m.value for m in base] == prop["enum"], where
    else:
        assert "enum" not in prop, where
    if typing.get_origin(base) is tuple:
        _agree_value(typing.get_args(base)[0], prop["items"], f"{where}[]")
    elif attrs.has(base):
        _agree(base, prop, where)


@pytest.mark.parametrize("cls", CLASSES, ids=lambda c: c.__name__)
def test_classes_and_schemas_agree(cls: Any) -> None:
    _agree(cls, dict(schema_for(cls.schema_name)), cls.schema_name)


def test_the_agreement_check_can_fail() -> None:
    schema = json.loads(json.dumps(schema_for("StartTransaction")))
    schema["properties"]["idTag"]["maxLength"] = 21
    with pytest.raises(AssertionError):
        _agree(StartTransactionRequest, schema, "StartTransaction")


def test_datetimes_go_out_as_utc_with_z_and_come_in_in_any_offset() -> None:
    plus_two = timezone(timedelta(hours=2))
    message = HeartbeatResponse(current_time=datetime(2026, 1, 1, 2, 0, 0, 250000, tzinfo=plus_two))
    assert converter.unstructure(message) == {"currentTime": "2026-01-01T00:00:00.250Z"}
    back = converter.structure({"currentTime": "2026-01-01T02:00:00.25+02:00"}, HeartbeatResponse)
    assert back.current_time == datetime(2026, 1, 1, tzinfo=UTC) + timedelta(milliseconds=250)
    with pytest.raises(ValueError, match="no UTC offset"):
        converter.structure({"currentTime": "2026-01-01T02:00:00"}, HeartbeatResponse)
    with pytest.raises(ValueError, match="timezone-aware"):
        HeartbeatResponse(current_time=datetime(2026, 1, 1))


@given(st.integers(-(10**6), 10**6))
def test_decimal_limits_round_trip_exactly(tenths: int) -> None:
    limit = tenths / 10
    period = ChargingSchedulePeriod(start_period=0, limit=limit)
    text = json.dumps(converter.unstructure(period))
    assert json.loads(text)["limit"] == limit
    assert str(abs(tenths) // 10) in text
    assert (
        validator_for("SetChargingProfile").violations(
            {
                "connectorId": 0,
                "csChargingProfiles": {
                    "chargingProfileId": 1,
                    "stackLevel": 0,
                    "chargingProfilePurpose": "TxDefaultProfile",
                    "chargingProfileKind": "Relative",
                    "chargingSchedule": {
                        "chargingRateUnit": "A",
                        "chargingSchedulePeriod": [json.loads(text)],
                    },
                },
            }
        )
        == []
    )


def test_codec_refuses_a_bad_outbound_payload_before_anything_is_sent() -> None:
    from ocpp16csms import InvalidRequest
    from ocpp16csms.messages import ResetRequest

    request = ResetRequest(type="Soft")  # type: ignore[arg-type]
    object.__setattr__(request, "type", "Sideways")  # past the class's own check
    with pytest.raises(InvalidRequest, match="enum"):
        MessageCodec().encode(request)


def test_an_enum_field_takes_the_member_or_its_wire_value_and_refuses_others() -> None:
    from ocpp16csms.messages import (
        AuthorizationStatus,
        CertificateUse,
        GetInstalledCertificateIdsRequest,
        IdTagInfo,
        ResetRequest,
        ResetType,
    )

    assert ResetRequest(type="Hard").type is ResetType.HARD  # type: ignore[arg-type]
    assert IdTagInfo(status=AuthorizationStatus.BLOCKED).status is AuthorizationStatus.BLOCKED
    with pytest.raises(ValueError, match="'Bogus' is not a AuthorizationStatus"):
        IdTagInfo(status="Bogus")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="ResetType"):
        ResetRequest(type=None)  # type: ignore[arg-type]
    request = GetInstalledCertificateIdsRequest(
        certificate_type="CentralSystemRootCertificate"  # type: ignore[arg-type]
    )
    assert request.certificate_type is CertificateUse.CENTRAL_SYSTEM_ROOT_CERTIFICATE


def test_a_relaxed_date_time_without_offset_is_read_as_utc() -> None:
    from ocpp16csms import PropertyConstraintViolation
    from ocpp16csms.messages import StatusNotificationRequest
    from ocpp16csms.validation import (
        Relaxation,
        RelaxedRule,
        ValidationPolicy,
    )

    payload = {
        "connectorId": 1,
        "errorCode": "NoError",
        "status": "Available",
        "timestamp": "2026-01-01T10:00:00",
    }
    strict = MessageCodec()
    with pytest.raises(PropertyConstraintViolation, match="timestamp"):
        strict.decode(StatusNotificationRequest, payload)
    relaxed = MessageCodec(
        ValidationPolicy(relaxations=[Relaxation(rule=RelaxedRule.DATE_TIME_FORMAT)])
    )
    message = relaxed.decode(StatusNotificationRequest, payload)
    assert message.timestamp == datetime(2026, 1, 1, 10, tzinfo=UTC)
    with pytest.raises(PropertyConstraintViolation):
        relaxed.decode(StatusNotificationRequest, {**payload, "timestamp": "yesterday"})


def test_a_validated_converter_is_never_lenient() -> None:
    with pytest.raises(ValueError, match="lenient"):
        make_converter(validated=True, lenient=True)


def test_a_validated_converter_still_fails_on_a_value_outside_an_enumeration() -> None:
    # Only a schema-valid payload should reach it; should anything else, it fails rather
    # than build a message holding a value its class refuses.
    with pytest.raises(KeyError):
        validated_converter.structure({"status": "Bogus"}, ACTIONS["Reset"].response)


def _typed_fields(cls: Any, schema: dict[str, Any], path: str) -> list[tuple[str, Any, Any]]:
    """(path, the field's base type, its property schema) for every field, nested included."""
    from ocpp16csms.constraints import sequence_type

    found = []
    properties = schema.get("properties", {})
    for field in attrs.fields(cls):
        base, _, _ = constraints_of(field.type)
        sub = properties.get(wire_name(field.name), {})
        item = sequence_type(base)
        if item is not None:
            base, _, _ = constraints_of(item)
            sub = sub.get("items", {})
        if attrs.has(base):
            found += _typed_fields(base, sub, f"{path}.{field.name}")
        else:
            found.append((f"{path}.{field.name}", base, sub))
    return found


@pytest.mark.parametrize("cls", CLASSES, ids=lambda c: c.__name__)
def test_the_schema_checks_what_the_validated_converter_takes_unchecked(cls: Any) -> None:
    """The codec structures schema-valid payloads without checking enumerations and
    date-times again: every enumeration field's schema lists exactly its enum's values, and
    every date-time field's schema has the date-time format."""
    for path, base, sub in _typed_fields(cls, schema_for(cls.schema_name), cls.__name__):
        if isinstance(base, type) and issubclass(base, Enum):
            assert set(sub.get("enum", ())) == {member.value for member in base}, path
        if base is datetime:
            assert sub.get("format") == "date-time", path
        if sub.get("format") == "date-time":
            # ... and the converse: the codec's outbound check takes a date-time field's
            # string unparsed, as only the RFC 3339 formatter writes one (from a datetime).
            assert base is datetime, path
        if base in (str, bool):
            assert sub.get("type") == _json_type(base), path


@pytest.mark.parametrize("cls", CLASSES, ids=lambda c: c.__name__)
@given(data=st.data())
def test_a_trusted_factory_builds_what_the_class_builds(cls: Any, data: st.DataObject) -> None:
    from ocpp16csms._trusted import trusted_factory

    message = data.draw(instances(cls))
    values = [getattr(message, field.name) for field in attrs.fields(cls)]
    made = trusted_factory(cls)(*values)
    assert type(made) is cls
    assert made == message
    assert hash(made) == hash(message)
    assert repr(made) == repr(message)
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        made.action = "x"


@pytest.mark.parametrize("cls", [c for c in CLASSES if attrs.fields(c)], ids=lambda c: c.__name__)
@given(data=st.data())
def test_a_trusted_replacer_builds_what_evolve_builds(cls: Any, data: st.DataObject) -> None:
    from ocpp16csms._trusted import trusted_replacer

    message, other = data.draw(instances(cls)), data.draw(instances(cls))
    name = data.draw(st.sampled_from([field.name for field in attrs.fields(cls)]))
    before = repr(message)
    made = trusted_replacer(cls, name)(message, getattr(other, name))
    evolved = attrs.evolve(message, **{name: getattr(other, name)})
    assert type(made) is cls
    assert made == evolved
    assert repr(made) == repr(evolved)
    assert repr(message) == before  # the original is left as it was


def test_a_trusted_replacer_names_a_field_of_the_class() -> None:
    from ocpp16csms._trusted import trusted_replacer

    with pytest.raises(ValueError, match="no field 'nope'"):
        trusted_replacer(HeartbeatResponse, "nope")


def test_the_hot_path_classes_built_trusted_equal_their_checked_twins() -> None:
    from ocpp16csms._trusted import trusted_factory
    from ocpp16csms.rpc import Call
    from ocpp16csms.session import CallReceived

    call = trusted_factory(Call)("id1", "Heartbeat", {})
    assert call == Call("id1", "Heartbeat", {})
    request = HeartbeatResponse(current_time=datetime(2026, 1, 1, tzinfo=UTC))
    assert trusted_factory(CallReceived)("id1", request) == CallReceived("id1", request)


def test_a_date_time_field_holding_no_datetime_is_refused_not_sent() -> None:
    from ocpp16csms.codec import MessageCodec
    from ocpp16csms.errors import InvalidRequest

    response = HeartbeatResponse(current_time=datetime(2026, 1, 1, tzinfo=UTC))
    object.__setattr__(response, "current_time", "2026-01-01T00:00:00Z")  # around the checks
    with pytest.raises(InvalidRequest, match="cannot be written"):
        MessageCodec().encode(response)
