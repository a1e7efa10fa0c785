"""Plug & Charge messages: agreement with our 2.0.1 schemas, and round trips through the codec."""

from __future__ import annotations

import copy
import json
import typing
from datetime import UTC, datetime, timedelta, timezone
from enum import Enum
from typing import Any

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from ocpp16csms.constraints import MaxItems, MaxLength, MinItems, constraints_of
from ocpp16csms.enums import DataTransferStatus, HashAlgorithm
from ocpp16csms.profiles.plug_and_charge import (
    PNC_REQUESTS,
    PNC_VENDOR_ID,
    AuthorizationStatus,
    AuthorizeRequest,
    AuthorizeResponse,
    CustomData,
    Get15118EVCertificateRequest,
    IdToken,
    IdTokenEnum,
    IdTokenInfo,
    OCSPRequestData,
    PncCodec,
    Sender,
)
from ocpp16csms.profiles.plug_and_charge.codec import pnc_schema, pnc_schema_names, pnc_wire_name
from ocpp16csms.testing.pnc import pnc_instances, pnc_message_classes
from ocpp16csms.validation import reference_violations

CLASSES = pnc_message_classes()
codec = PncCodec()


def test_nine_exchanges_each_knowing_its_action_sender_and_schemas() -> None:
    assert len(PNC_REQUESTS) == 9
    assert len(CLASSES) == 18
    from_cp = {a for a, r in PNC_REQUESTS.items() if r.sender is Sender.CHARGE_POINT}
    assert from_cp == {
        "Authorize",
        "GetCertificateStatus",
        "SignCertificate",
        "Get15118EVCertificate",
    }
    for action, request in PNC_REQUESTS.items():
        assert request.action == request.response_type.action == action
        assert request.schema_name == f"{action}Request"
        assert request.response_type.schema_name == f"{action}Response"
    assert set(pnc_schema_names()) == {cls.schema_name for cls in CLASSES}


def test_the_inner_messages_are_not_ocpp16_actions() -> None:
    from ocpp16csms.messages import Request
    from ocpp16csms.registry import ACTIONS

    assert not any(issubclass(cls, Request) for cls in CLASSES)
    assert {spec.request for spec in ACTIONS.values()}.isdisjoint(CLASSES)
    assert "Get15118EVCertificate" not in ACTIONS


# --- the classes and the schemas agree -----------------------------------------------------


def _json_type(base: Any) -> str:
    if base is int:
        return "integer"
    if base is str or base is datetime or (isinstance(base, type) and issubclass(base, Enum)):
        return "string"
    if typing.get_origin(base) is tuple:
        return "array"
    return "object"


def _agree(cls: Any, schema: dict[str, Any], where: str) -> None:
    if cls is CustomData:
        assert schema["properties"] == {"vendorId": {"type": "string", "maxLength": 255}}, where
        assert schema["required"] == ["vendorId"], where
        assert schema["additionalProperties"] is True, where
        return
    hints = typing.get_type_hints(cls, include_extras=True)
    fields = {pnc_wire_name(f): f for f in attrs.fields(cls)}
    assert set(fields) == set(schema["properties"]), where
    required = {w for w, f in fields.items() if f.default is attrs.NOTHING}
    assert required == set(schema.get("required", [])), where
    assert schema["additionalProperties"] is False, where
    for wire, field in fields.items():
        _agree_value(hints[field.name], schema["properties"][wire], f"{where}.{wire}")


def _agree_value(tp: Any, prop: dict[str, Any], where: str) -> None:
    base, found, _ = constraints_of(tp)
    assert prop["type"] == _json_type(base), where
    by_kind = {type(c): c.value for c in found}
    assert prop.get("maxLength") == by_kind.get(MaxLength), where
    assert prop.get("minItems") == by_kind.get(MinItems), where
    assert prop.get("maxItems") == by_kind.get(MaxItems), where
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
    _agree(cls, copy.deepcopy(dict(pnc_schema(cls.schema_name))), cls.schema_name)


def test_the_agreement_check_can_fail() -> None:
    schema = copy.deepcopy(dict(pnc_schema("AuthorizeRequest")))
    schema["properties"]["iso15118CertificateHashData"]["maxItems"] = 5
    with pytest.raises(AssertionError):
        _agree(AuthorizeRequest, schema, "AuthorizeRequest")
    schema = copy.deepcopy(dict(pnc_schema("GetCertificateStatusRequest")))
    ocsp = schema["properties"]["ocspRequestData"]["properties"]
    ocsp["responderUrl"] = ocsp.pop("responderURL")
    with pytest.raises(AssertionError):
        _agree(PNC_REQUESTS["GetCertificateStatus"], schema, "GetCertificateStatusRequest")


# --- round trips ---------------------------------------------------------------------------


@pytest.mark.parametrize("cls", CLASSES, ids=lambda c: c.__name__)
@given(data=st.data())
def test_round_trip_through_json_text(cls: Any, data: st.DataObject) -> None:
    message = data.draw(pnc_instances(cls))
    text = codec.to_json(message)
    assert text.isascii()
    assert reference_violations(pnc_schema(cls.schema_name), json.loads(text)) == []
    assert codec.from_json(cls, text) == message
    assert "null" not in json.dumps(_keys(json.loads(text)))  # absent optionals are omitted


def _keys(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _keys(v) for k, v in value.items() if k != "customData"}
    if isinstance(value, list):
        return [_keys(v) for v in value]
    return 0


@pytest.mark.parametrize("cls", list(PNC_REQUESTS.values()), ids=lambda c: c.__name__)
@given(data=st.data())
def test_requests_wrap_into_data_transfer_and_back(cls: Any, data: st.DataObject) -> None:
    request = data.draw(pnc_instances(cls))
    transfer = codec.encode_request(request)
    assert transfer.vendor_id == PNC_VENDOR_ID
    assert transfer.message_id == cls.action
    assert codec.decode_request(transfer, sender=cls.sender) == request
    response = data.draw(pnc_instances(cls.response_type))
    result = codec.encode_result(response)
    assert result.status is DataTransferStatus.ACCEPTED
    assert codec.decode_result(request, result) == response
    assert codec.decode_result(cls, result) == response


def test_wire_names_follow_2_0_1() -> None:
    request = AuthorizeRequest(
        id_token=IdToken(id_token="ZZDMOC000000011", type=IdTokenEnum.EMAID),
        iso15118_certificate_hash_data=(
            OCSPRequestData(
                hash_algorithm=HashAlgorithm.SHA256,
                issuer_name_hash="ab",
                issuer_key_hash="cd",
                serial_number="1f",
                responder_url="http://127.0.0.1/ocsp",
                custom_data=CustomData(vendor_id="acme", extra={"depth": 2}),
            ),
        ),
    )
    payload = json.loads(codec.to_json(request))
    assert payload == {
        "idToken": {"idToken": "ZZDMOC000000011", "type": "eMAID"},
        "iso15118CertificateHashData": [
            {
                "hashAlgorithm": "SHA256",
                "issuerNameHash": "ab",
                "issuerKeyHash": "cd",
                "serialNumber": "1f",
                "responderURL": "http://127.0.0.1/ocsp",
                "customData": {"vendorId": "acme", "depth": 2},
            }
        ],
    }
    ev = Get15118EVCertificateRequest(
        iso15118_schema_version="urn:iso:15118:2:2013:MsgDef",
        certificate_action="Install",  # type: ignore[arg-type]
        exi_request="gAAA",
    )
    assert json.loads(codec.to_json(ev))["action"] == "Install"
    assert ev.action == "Get15118EVCertificate"


def test_date_times_go_out_in_utc_and_come_in_with_any_offset() -> None:
    plus_two = timezone(timedelta(hours=2))
    response = AuthorizeResponse(
        id_token_info=IdTokenInfo(
            status=AuthorizationStatus.ACCEPTED,
            cache_expiry_date_time=datetime(2030, 1, 1, 2, 0, tzinfo=plus_two),
        )
    )
    text = codec.to_json(response)
    assert json.loads(text)["idTokenInfo"]["cacheExpiryDateTime"] == "2030-01-01T00:00:00Z"
    back = codec.from_json(
        AuthorizeResponse,
        '{"idTokenInfo":{"status":"Accepted","cacheExpiryDateTime":"2030-01-01T02:00:00+02:00"}}',
    )
    assert back.id_token_info.cache_expiry_date_time == datetime(2030, 1, 1, tzinfo=UTC)


def test_constraints_hold_at_construction() -> None:
    data = OCSPRequestData(
        hash_algorithm=HashAlgorithm.SHA256,
        issuer_name_hash="a",
        issuer_key_hash="b",
        serial_number="c",
        responder_url="http://x",
    )
    with pytest.raises(ValueError, match="at most 4"):
        AuthorizeRequest(
            id_token=IdToken(id_token="x", type=IdTokenEnum.EMAID),
            iso15118_certificate_hash_data=(data,) * 5,
        )
    with pytest.raises(ValueError, match="at least 1"):
        AuthorizeRequest(
            id_token=IdToken(id_token="x", type=IdTokenEnum.EMAID),
            iso15118_certificate_hash_data=(),
        )
    with pytest.raises(ValueError, match="36"):
        IdToken(id_token="x" * 37, type=IdTokenEnum.EMAID)
    with pytest.raises(ValueError, match="vendorId"):
        CustomData(vendor_id="acme", extra={"vendorId": "other"})


@pytest.mark.parametrize("name", pnc_schema_names())
def test_schemas_are_valid_draft_06_and_both_validators_agree(name: str) -> None:
    import jsonschema  # type: ignore[import-untyped]

    from ocpp16csms.profiles.plug_and_charge.codec import pnc_validator

    schema = pnc_schema(name)
    jsonschema.Draft6Validator.check_schema(schema)
    assert schema["$schema"] == "http://json-schema.org/draft-06/schema#"
    broken: dict[str, Any] = {"customData": {"vendorId": 5}, "unexpected": True}
    compiled = pnc_validator(name).violations(broken)
    assert compiled == reference_violations(schema, broken)
    assert {v.keyword for v in compiled} >= {"additionalProperties", "type"}
