"""The Plug & Charge codec: what each broken DataTransfer earns, and that nothing else escapes."""

from __future__ import annotations

import json
from typing import Any

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from ocpp16csms.enums import DataTransferStatus, HashAlgorithm
from ocpp16csms.profiles.plug_and_charge import (
    LEGACY_PNC_VENDOR_ID,
    PNC_VENDOR_ID,
    AuthorizeRequest,
    CertificateSignedRequest,
    CertificateSignedResponse,
    CertificateSignedStatus,
    CustomData,
    IdToken,
    IdTokenEnum,
    MessageTrigger,
    PncCallRejected,
    PncCodec,
    PncDataTransferResult,
    PncDecodeError,
    PncEncodeError,
    Sender,
    TriggerMessageRequest,
)
from ocpp16csms.profiles.plug_and_charge.errors import (
    PncDataNotJson,
    PncDataNotObject,
    PncInvalidValue,
    PncMissingData,
    PncSchemaViolation,
    PncUnknownMessageId,
    PncUnknownVendorId,
)

codec = PncCodec()

AUTHORIZE = {"idToken": {"idToken": "ZZDMOC000000011", "type": "eMAID"}}
OCSP_DATA = {
    "hashAlgorithm": "SHA256",
    "issuerNameHash": "00" * 32,
    "issuerKeyHash": "11" * 32,
    "serialNumber": "1a2b",
    "responderURL": "http://127.0.0.1:8080/",
}


@attrs.frozen
class Transfer:
    """Stands for the 1.6 DataTransferRequest (the codec reads only these fields)."""

    vendor_id: str
    message_id: str | None = None
    data: str | None = None


@attrs.frozen
class Result:
    """Stands for the 1.6 DataTransferResponse."""

    status: str
    data: str | None = None


def _decode(message_id: str | None, data: Any, vendor_id: str = PNC_VENDOR_ID) -> Any:
    text = data if isinstance(data, str) or data is None else json.dumps(data)
    return codec.decode_request(Transfer(vendor_id, message_id, text))


def test_a_valid_authorize_decodes_under_both_vendor_ids() -> None:
    for vendor in (PNC_VENDOR_ID, LEGACY_PNC_VENDOR_ID):
        request = _decode("Authorize", AUTHORIZE, vendor)
        assert request == AuthorizeRequest(
            id_token=IdToken(id_token="ZZDMOC000000011", type=IdTokenEnum.EMAID)
        )
    assert codec.is_pnc(LEGACY_PNC_VENDOR_ID)
    assert not codec.is_pnc("com.example")
    # What we send always carries the application note's vendorId.
    assert codec.encode_request(request).vendor_id == PNC_VENDOR_ID


@pytest.mark.parametrize(
    ("message_id", "data", "vendor", "error", "status"),
    [
        ("Authorize", AUTHORIZE, "com.example", PncUnknownVendorId, "UnknownVendorId"),
        ("Nope", AUTHORIZE, PNC_VENDOR_ID, PncUnknownMessageId, "UnknownMessageId"),
        (None, AUTHORIZE, PNC_VENDOR_ID, PncUnknownMessageId, "UnknownMessageId"),
        # Sent by the central system, so never a request a charge point makes.
        (
            "CertificateSigned",
            {"certificateChain": "x"},
            PNC_VENDOR_ID,
            PncUnknownMessageId,
            "UnknownMessageId",
        ),
        ("Authorize", None, PNC_VENDOR_ID, PncMissingData, "Rejected"),
        ("Authorize", "{", PNC_VENDOR_ID, PncDataNotJson, "Rejected"),
        ("Authorize", "", PNC_VENDOR_ID, PncDataNotJson, "Rejected"),
        ("Authorize", '{"idToken": NaN}', PNC_VENDOR_ID, PncDataNotJson, "Rejected"),
        ("Authorize", '{"a": 1e999}', PNC_VENDOR_ID, PncDataNotJson, "Rejected"),
        ("Authorize", "[" * 100_000 + "]" * 100_000, PNC_VENDOR_ID, PncDataNotJson, "Rejected"),
        ("Authorize", "[]", PNC_VENDOR_ID, PncDataNotObject, "Rejected"),
        ("Authorize", '"text"', PNC_VENDOR_ID, PncDataNotObject, "Rejected"),
        ("Authorize", "{}", PNC_VENDOR_ID, PncSchemaViolation, "Rejected"),
    ],
)
def test_each_failure_earns_its_documented_reply(
    message_id: str | None, data: Any, vendor: str, error: type[PncDecodeError], status: str
) -> None:
    with pytest.raises(error) as caught:
        _decode(message_id, data, vendor)
    assert type(caught.value) is error
    assert caught.value.reply() == PncDataTransferResult(status=DataTransferStatus(status))
    assert codec.error_result(caught.value).data is None
    assert caught.value.message_id == message_id


@pytest.mark.parametrize(
    ("action", "payload", "keyword", "path"),
    [
        ("Authorize", {}, "required", "$"),
        ("Authorize", {"idToken": {"idToken": "x", "type": "emaid"}}, "enum", "$.idToken.type"),
        (
            "Authorize",
            {"idToken": {"idToken": "x" * 37, "type": "eMAID"}},
            "maxLength",
            "$.idToken.idToken",
        ),
        ("Authorize", {**AUTHORIZE, "extra": 1}, "additionalProperties", "$"),
        (
            "Authorize",
            {**AUTHORIZE, "iso15118CertificateHashData": [OCSP_DATA] * 5},
            "maxItems",
            "$.iso15118CertificateHashData",
        ),
        (
            "Authorize",
            {**AUTHORIZE, "iso15118CertificateHashData": []},
            "minItems",
            "$.iso15118CertificateHashData",
        ),
        (
            "Authorize",
            {**AUTHORIZE, "iso15118CertificateHashData": [{**OCSP_DATA, "responderURL": 5}]},
            "type",
            "$.iso15118CertificateHashData[0].responderURL",
        ),
        ("Authorize", {**AUTHORIZE, "customData": {}}, "required", "$.customData"),
        (
            "GetCertificateStatus",
            {"ocspRequestData": {**OCSP_DATA, "serialNumber": "f" * 41}},
            "maxLength",
            "$.ocspRequestData.serialNumber",
        ),
        (
            "GetCertificateStatus",
            {"ocspRequestData": {k: v for k, v in OCSP_DATA.items() if k != "responderURL"}},
            "required",
            "$.ocspRequestData",
        ),
        ("SignCertificate", {"csr": "x" * 5501}, "maxLength", "$.csr"),
        ("SignCertificate", {"csr": "x", "certificateType": "V2G"}, "enum", "$.certificateType"),
        (
            "Get15118EVCertificate",
            {"iso15118SchemaVersion": "v", "action": "Install"},
            "required",
            "$",
        ),
        (
            "Get15118EVCertificate",
            {"iso15118SchemaVersion": "v", "action": "install", "exiRequest": "x"},
            "enum",
            "$.action",
        ),
    ],
)
def test_schema_violations_name_the_rule_and_the_path(
    action: str, payload: dict[str, Any], keyword: str, path: str
) -> None:
    with pytest.raises(PncSchemaViolation) as caught:
        _decode(action, payload)
    assert caught.value.keyword == keyword
    assert caught.value.path == path
    assert path in str(caught.value)
    assert caught.value.reply().status is DataTransferStatus.REJECTED


def test_custom_data_may_carry_anything_besides_its_vendor_id() -> None:
    payload = {**AUTHORIZE, "customData": {"vendorId": "acme", "nested": {"a": [1, None]}}}
    request = _decode("Authorize", payload)
    assert request.custom_data == CustomData(vendor_id="acme", extra={"nested": {"a": [1, None]}})
    assert json.loads(codec.to_json(request)) == payload


def test_a_value_the_schema_allows_but_the_model_cannot_hold_is_rejected() -> None:
    # RFC 3339 allows this offset; its UTC instant lies past the year 9999 datetime can hold.
    data = json.dumps(
        {
            "idTokenInfo": {
                "status": "Accepted",
                "cacheExpiryDateTime": "9999-12-31T23:59:59-23:59",
            }
        }
    )
    from ocpp16csms.profiles.plug_and_charge import AuthorizeResponse

    with pytest.raises(PncInvalidValue) as caught:
        codec.from_json(AuthorizeResponse, data)
    assert caught.value.reply().status is DataTransferStatus.REJECTED


def test_the_charge_point_side_decodes_central_system_requests() -> None:
    request = TriggerMessageRequest(requested_message=MessageTrigger.SIGN_V2G_CERTIFICATE)
    transfer = codec.encode_request(request)
    assert json.loads(transfer.data) == {"requestedMessage": "SignV2GCertificate"}
    assert codec.decode_request(transfer, sender=Sender.CENTRAL_SYSTEM) == request
    with pytest.raises(PncUnknownMessageId):
        codec.decode_request(transfer)  # a charge point never sends TriggerMessage


def test_replies_to_our_requests() -> None:
    request = CertificateSignedRequest(certificate_chain="-----BEGIN CERTIFICATE-----")
    accepted = Result("Accepted", json.dumps({"status": "Accepted"}))
    assert codec.decode_result(request, accepted) == CertificateSignedResponse(
        status=CertificateSignedStatus.ACCEPTED
    )
    with pytest.raises(PncCallRejected) as caught:
        codec.decode_result(request, Result("UnknownVendorId"))
    assert caught.value.status == "UnknownVendorId"
    assert caught.value.message_id == "CertificateSigned"
    with pytest.raises(PncMissingData):
        codec.decode_result(request, Result("Accepted"))
    with pytest.raises(PncSchemaViolation, match=r"\$\.status"):
        codec.decode_result(request, Result("Accepted", '{"status": "Maybe"}'))


def test_we_never_send_what_breaks_the_schema() -> None:
    with pytest.raises(ValueError, match="'Nope' is not a MessageTrigger"):
        TriggerMessageRequest(requested_message="Nope")  # type: ignore[arg-type]
    bad = TriggerMessageRequest(requested_message="Heartbeat")  # type: ignore[arg-type]
    object.__setattr__(bad, "requested_message", "Nope")  # past the class's own check
    with pytest.raises(PncEncodeError, match="enum"):
        codec.encode_request(bad)
    odd = CustomData(vendor_id="acme", extra={"when": object()})
    with pytest.raises(PncEncodeError):
        codec.encode_request(CertificateSignedRequest(certificate_chain="x", custom_data=odd))
    not_a_number = CustomData(vendor_id="acme", extra={"x": float("nan")})
    with pytest.raises(PncEncodeError):
        codec.encode_request(
            CertificateSignedRequest(certificate_chain="x", custom_data=not_a_number)
        )


def test_non_ascii_and_lone_surrogates_travel_as_escapes() -> None:
    token = IdToken(id_token="é\ud800", type=IdTokenEnum.LOCAL)
    text = codec.to_json(AuthorizeRequest(id_token=token))
    assert text.isascii()
    text.encode("utf-8")
    assert codec.from_json(AuthorizeRequest, text).id_token == token


_ACTIONS = st.sampled_from(
    [
        "Authorize",
        "GetCertificateStatus",
        "SignCertificate",
        "Get15118EVCertificate",
        "Heartbeat",
        "",
    ]
)
_JSONISH = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(
            st.sampled_from(
                ["idToken", "type", "csr", "ocspRequestData", "hashAlgorithm", "action", "x"]
            ),
            inner,
            max_size=4,
        )
    ),
    max_leaves=10,
)


@given(
    action=_ACTIONS,
    vendor=st.sampled_from([PNC_VENDOR_ID, LEGACY_PNC_VENDOR_ID, "x"]),
    data=st.none() | st.text(max_size=40) | _JSONISH.map(lambda v: json.dumps(v)),
)
def test_whatever_arrives_decodes_or_raises_a_decode_error(
    action: str, vendor: str, data: str | None
) -> None:
    outcome: Any
    try:
        outcome = codec.decode_request(Transfer(vendor, action, data))
    except PncDecodeError as error:
        outcome = error
    if isinstance(outcome, PncDecodeError):
        assert outcome.reply().status is not DataTransferStatus.ACCEPTED
        assert outcome.reply().data is None
    else:
        assert outcome.action == action
        assert codec.decode_request(codec.encode_request(outcome)) == outcome


def test_boundaries_of_the_long_strings() -> None:
    at_limit = {"iso15118SchemaVersion": "v" * 50, "action": "Update", "exiRequest": "A" * 5600}
    request = _decode("Get15118EVCertificate", at_limit)
    assert len(request.exi_request) == 5600
    with pytest.raises(PncSchemaViolation):
        _decode("Get15118EVCertificate", {**at_limit, "exiRequest": "A" * 5601})
    ocsp = {
        "ocspRequestData": {
            **OCSP_DATA,
            "hashAlgorithm": HashAlgorithm.SHA512.value,
            "issuerNameHash": "a" * 128,
        }
    }
    assert _decode("GetCertificateStatus", ocsp).ocsp_request_data.issuer_name_hash == "a" * 128


def test_the_ocpp16_data_transfer_classes_fit_the_codec() -> None:
    # The codec reads and writes the 1.6 DataTransfer fields; the 1.6 classes carry them as is.
    from ocpp16csms.messages import DataTransferRequest, DataTransferResponse

    inbound = DataTransferRequest(
        vendor_id=PNC_VENDOR_ID, message_id="Authorize", data=json.dumps(AUTHORIZE)
    )
    assert isinstance(codec.decode_request(inbound), AuthorizeRequest)
    outbound = codec.encode_request(CertificateSignedRequest(certificate_chain="x"))
    DataTransferRequest(
        vendor_id=outbound.vendor_id, message_id=outbound.message_id, data=outbound.data
    )
    result = codec.encode_result(CertificateSignedResponse(status=CertificateSignedStatus.REJECTED))
    conf = DataTransferResponse(status=result.status, data=result.data)
    answer = codec.decode_result(CertificateSignedRequest(certificate_chain="x"), conf)
    assert answer.status is CertificateSignedStatus.REJECTED
    refusal = PncUnknownMessageId("x").reply()
    assert DataTransferResponse(status=refusal.status, data=refusal.data).data is None
