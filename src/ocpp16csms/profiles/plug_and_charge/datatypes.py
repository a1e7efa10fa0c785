"""The OCPP 2.0.1 datatypes inside the Plug & Charge messages (2.0.1 part 2, §2).

Frozen, slotted, keyword-only attrs classes whose constraints are declared once in their
annotations, as for the OCPP 1.6 datatypes. Names drop the spec's ``Type`` suffix
(``IdTokenType`` is :class:`IdToken`). Every datatype has the optional ``customData`` of 2.0.1.
"""

# Annotations are evaluated: the constraints in them become validators (see constraints.py).
from collections.abc import Mapping
from datetime import datetime
from types import MappingProxyType
from typing import Annotated, Any

import attrs

from ...constraints import MaxItems, MaxLength, MinItems, message_class
from ...enums import HashAlgorithm
from .enums import AuthorizationStatus, GetCertificateIdUse, IdTokenEnum, MessageFormat

__all__ = [
    "EVSE",
    "WIRE_NAME",
    "AdditionalInfo",
    "CertificateHashData",
    "CertificateHashDataChain",
    "CustomData",
    "IdToken",
    "IdTokenInfo",
    "MessageContent",
    "OCSPRequestData",
    "StatusInfo",
]

WIRE_NAME = "wire_name"
"""Field metadata key naming a wire name that is not the camelCase of the attribute name."""


def _frozen_mapping(value: Mapping[str, Any]) -> Mapping[str, Any]:
    return MappingProxyType(dict(value))


def _check_extra(_: Any, attribute: "attrs.Attribute[Any]", value: Mapping[str, Any]) -> None:
    for key in value:
        if not isinstance(key, str):
            raise TypeError(f"{attribute.name} keys must be strings, got {key!r}")
        if key == "vendorId":
            raise ValueError(f"{attribute.name} must not repeat 'vendorId'")


@message_class
class CustomData:
    """Vendor extension data allowed in every 2.0.1 payload and datatype (CustomDataType).

    ``vendor_id`` is the only defined field; whatever else the object holds is kept, as parsed
    JSON values, in ``extra`` (the schema allows any other property here and nowhere else).
    """

    vendor_id: Annotated[str, MaxLength(255)]
    extra: Mapping[str, Any] = attrs.field(
        factory=dict, converter=_frozen_mapping, validator=_check_extra, hash=False
    )


@message_class
class AdditionalInfo:
    """An extra identifier to validate along with an id token (AdditionalInfoType)."""

    additional_id_token: Annotated[str, MaxLength(36)]
    type: Annotated[str, MaxLength(50)]
    custom_data: CustomData | None = None


@message_class
class IdToken:
    """An identifier for authorization; an eMAID for Plug & Charge (IdTokenType)."""

    id_token: Annotated[str, MaxLength(36)]
    type: IdTokenEnum
    additional_info: Annotated[tuple[AdditionalInfo, ...], MinItems(1)] | None = None
    custom_data: CustomData | None = None


@message_class
class MessageContent:
    """A message to show to the driver (MessageContentType)."""

    format: MessageFormat
    content: Annotated[str, MaxLength(512)]
    language: Annotated[str, MaxLength(8)] | None = None
    custom_data: CustomData | None = None


@message_class
class IdTokenInfo:
    """Status and details of an id token (IdTokenInfoType)."""

    status: AuthorizationStatus
    cache_expiry_date_time: datetime | None = None
    charging_priority: int | None = None
    language1: Annotated[str, MaxLength(8)] | None = None
    evse_id: Annotated[tuple[int, ...], MinItems(1)] | None = None
    group_id_token: IdToken | None = None
    language2: Annotated[str, MaxLength(8)] | None = None
    personal_message: MessageContent | None = None
    custom_data: CustomData | None = None


@message_class
class OCSPRequestData:
    """What an OCSP request for one certificate needs, and where to send it (OCSPRequestDataType).

    The hashes are hex strings; the wire name of :attr:`responder_url` is ``responderURL``.
    """

    hash_algorithm: HashAlgorithm
    issuer_name_hash: Annotated[str, MaxLength(128)]
    issuer_key_hash: Annotated[str, MaxLength(128)]
    serial_number: Annotated[str, MaxLength(40)]
    responder_url: Annotated[str, MaxLength(512)] = attrs.field(
        metadata={WIRE_NAME: "responderURL"}
    )
    custom_data: CustomData | None = None


@message_class
class CertificateHashData:
    """Identifies a certificate by hashes of its issuer and its serial (CertificateHashDataType)."""

    hash_algorithm: HashAlgorithm
    issuer_name_hash: Annotated[str, MaxLength(128)]
    issuer_key_hash: Annotated[str, MaxLength(128)]
    serial_number: Annotated[str, MaxLength(40)]
    custom_data: CustomData | None = None


@message_class
class CertificateHashDataChain:
    """An installed certificate and its child certificates (CertificateHashDataChainType)."""

    certificate_type: GetCertificateIdUse
    certificate_hash_data: CertificateHashData
    child_certificate_hash_data: (
        Annotated[tuple[CertificateHashData, ...], MinItems(1), MaxItems(4)] | None
    ) = None
    custom_data: CustomData | None = None


@message_class
class StatusInfo:
    """More detail about a status in a response (StatusInfoType)."""

    reason_code: Annotated[str, MaxLength(20)]
    additional_info: Annotated[str, MaxLength(512)] | None = None
    custom_data: CustomData | None = None


@message_class
class EVSE:
    """An EVSE, and optionally one of its connectors (EVSEType)."""

    id: int
    connector_id: int | None = None
    custom_data: CustomData | None = None
