"""The OCPP 2.0.1 Plug & Charge messages carried inside OCPP 1.6 DataTransfer.

The OCA application note "Using ISO 15118 Plug & Charge with OCPP 1.6" (v1.0, 2020) wraps nine
2.0.1 exchanges in DataTransfer: the ``messageId`` is the 2.0.1 action, ``data`` the JSON text of
the 2.0.1 payload. These classes are those payloads. They are *not* OCPP 1.6 actions: they
derive from :class:`PncRequest` / :class:`PncResponse`, not from the 1.6 message bases, are in
no 1.6 registry, and cannot be sent with ``call``; :mod:`.codec` wraps them in DataTransfer.
"""

# Annotations are evaluated: the constraints in them become validators (see constraints.py).
from collections.abc import Callable, Mapping
from enum import StrEnum
from types import MappingProxyType
from typing import Annotated, Any, ClassVar, Generic, TypeVar, dataclass_transform

import attrs

from ...constraints import MaxItems, MaxLength, MinItems, message_class
from .datatypes import (
    EVSE,
    WIRE_NAME,
    CertificateHashData,
    CertificateHashDataChain,
    CustomData,
    IdToken,
    IdTokenInfo,
    OCSPRequestData,
    StatusInfo,
)
from .enums import (
    AuthorizeCertificateStatus,
    CertificateAction,
    CertificateSignedStatus,
    CertificateSigningUse,
    DeleteCertificateStatus,
    GenericStatus,
    GetCertificateIdUse,
    GetCertificateStatus,
    GetInstalledCertificateStatus,
    InstallCertificateStatus,
    InstallCertificateUse,
    Iso15118EVCertificateStatus,
    MessageTrigger,
    TriggerMessageStatus,
)

__all__ = [
    "PNC_MESSAGES",
    "PNC_REQUESTS",
    "AuthorizeRequest",
    "AuthorizeResponse",
    "CertificateSignedRequest",
    "CertificateSignedResponse",
    "DeleteCertificateRequest",
    "DeleteCertificateResponse",
    "Get15118EVCertificateRequest",
    "Get15118EVCertificateResponse",
    "GetCertificateStatusRequest",
    "GetCertificateStatusResponse",
    "GetInstalledCertificateIdsRequest",
    "GetInstalledCertificateIdsResponse",
    "InstallCertificateRequest",
    "InstallCertificateResponse",
    "PncMessage",
    "PncRequest",
    "PncResponse",
    "Sender",
    "SignCertificateRequest",
    "SignCertificateResponse",
    "TriggerMessageRequest",
    "TriggerMessageResponse",
    "pnc_request",
    "pnc_response",
]


class Sender(StrEnum):
    """Who sends the request of a Plug & Charge exchange."""

    CHARGE_POINT = "ChargePoint"
    CENTRAL_SYSTEM = "CentralSystem"


class PncMessage:
    """A typed OCPP 2.0.1 payload of the Plug & Charge application note."""

    __slots__ = ()
    action: ClassVar[str]
    """The 2.0.1 action name, which is also the DataTransfer ``messageId``."""
    sender: ClassVar[Sender]
    """Who sends the request of this exchange."""
    schema_name: ClassVar[str]
    """Stem of the schema file in ``plug_and_charge/schemas`` that validates this payload."""


_R_co = TypeVar("_R_co", bound="PncResponse", covariant=True)


class PncRequest(PncMessage, Generic[_R_co]):
    """A 2.0.1 request; ``PncRequest[XResponse]`` is answered by an ``XResponse``."""

    __slots__ = ()
    response_type: ClassVar[type["PncResponse"]]


class PncResponse(PncMessage):
    """A 2.0.1 response, carried in the ``data`` of DataTransfer.conf."""

    __slots__ = ()


_Req = TypeVar("_Req", bound=type[PncRequest[Any]])
_Res = TypeVar("_Res", bound=type[PncResponse])


@dataclass_transform(frozen_default=True, kw_only_default=True, field_specifiers=(attrs.field,))
def pnc_request(action: str, sender: Sender) -> Callable[[_Req], _Req]:
    """Class decorator: the frozen request class of the 2.0.1 ``action``."""

    def decorate(cls: _Req) -> _Req:
        built = message_class(cls)
        built.action = action
        built.sender = sender
        built.schema_name = f"{action}Request"
        return built

    return decorate


@dataclass_transform(frozen_default=True, kw_only_default=True, field_specifiers=(attrs.field,))
def pnc_response(request_type: type[PncRequest[Any]]) -> Callable[[_Res], _Res]:
    """Class decorator: the frozen response class answering ``request_type``."""

    def decorate(cls: _Res) -> _Res:
        built = message_class(cls)
        built.action = request_type.action
        built.sender = request_type.sender
        built.schema_name = f"{request_type.action}Response"
        request_type.response_type = built
        return built

    return decorate


_CP = Sender.CHARGE_POINT
_CS = Sender.CENTRAL_SYSTEM

# --- from the charge point -----------------------------------------------------------------


@pnc_request("Authorize", _CP)
class AuthorizeRequest(PncRequest["AuthorizeResponse"]):
    """Authorize an eMAID, with the contract certificate or its OCSP data (2.0.1 use case C07)."""

    id_token: IdToken
    certificate: Annotated[str, MaxLength(5500)] | None = None
    """The contract certificate chain, PEM, leaf first, for validation by the CSMS."""
    iso15118_certificate_hash_data: (
        Annotated[tuple[OCSPRequestData, ...], MinItems(1), MaxItems(4)] | None
    ) = None
    custom_data: CustomData | None = None


@pnc_response(AuthorizeRequest)
class AuthorizeResponse(PncResponse):
    """The token's status and, for Plug & Charge, the certificate check's (C07)."""

    id_token_info: IdTokenInfo
    certificate_status: AuthorizeCertificateStatus | None = None
    custom_data: CustomData | None = None


@pnc_request("GetCertificateStatus", _CP)
class GetCertificateStatusRequest(PncRequest["GetCertificateStatusResponse"]):
    """Asks the CSMS to fetch an OCSP response for a certificate (2.0.1 use case M06)."""

    ocsp_request_data: OCSPRequestData
    custom_data: CustomData | None = None


@pnc_response(GetCertificateStatusRequest)
class GetCertificateStatusResponse(PncResponse):
    """The OCSP response, DER then base64 (M06)."""

    status: GetCertificateStatus
    status_info: StatusInfo | None = None
    ocsp_result: Annotated[str, MaxLength(5500)] | None = None
    custom_data: CustomData | None = None


@pnc_request("SignCertificate", _CP)
class SignCertificateRequest(PncRequest["SignCertificateResponse"]):
    """A PEM certificate signing request, here for the V2G (SECC) certificate (2.0.1 A02, A03)."""

    csr: Annotated[str, MaxLength(5500)]
    certificate_type: CertificateSigningUse | None = None
    custom_data: CustomData | None = None


@pnc_response(SignCertificateRequest)
class SignCertificateResponse(PncResponse):
    """Whether the CSMS will have the CSR signed; the chain follows in CertificateSigned."""

    status: GenericStatus
    status_info: StatusInfo | None = None
    custom_data: CustomData | None = None


@pnc_request("Get15118EVCertificate", _CP)
class Get15118EVCertificateRequest(PncRequest["Get15118EVCertificateResponse"]):
    """The EV's CertificateInstallation/UpdateReq, EXI then base64 (2.0.1 use cases M01, M02)."""

    iso15118_schema_version: Annotated[str, MaxLength(50)]
    certificate_action: CertificateAction = attrs.field(metadata={WIRE_NAME: "action"})
    """Install or update; ``action`` on the wire (the class attribute ``action`` is taken)."""
    exi_request: Annotated[str, MaxLength(5600)]
    custom_data: CustomData | None = None


@pnc_response(Get15118EVCertificateRequest)
class Get15118EVCertificateResponse(PncResponse):
    """The CertificateInstallation/UpdateRes for the EV, EXI then base64 (M01, M02)."""

    status: Iso15118EVCertificateStatus
    exi_response: Annotated[str, MaxLength(5600)]
    status_info: StatusInfo | None = None
    custom_data: CustomData | None = None


# --- from the central system ---------------------------------------------------------------


@pnc_request("CertificateSigned", _CS)
class CertificateSignedRequest(PncRequest["CertificateSignedResponse"]):
    """The signed certificate chain, PEM, leaf first (2.0.1 use cases A02, A03)."""

    certificate_chain: Annotated[str, MaxLength(10000)]
    certificate_type: CertificateSigningUse | None = None
    custom_data: CustomData | None = None


@pnc_response(CertificateSignedRequest)
class CertificateSignedResponse(PncResponse):
    """Whether the charge point accepted the chain (A02, A03)."""

    status: CertificateSignedStatus
    status_info: StatusInfo | None = None
    custom_data: CustomData | None = None


@pnc_request("InstallCertificate", _CS)
class InstallCertificateRequest(PncRequest["InstallCertificateResponse"]):
    """Installs a root certificate, PEM (2.0.1 use case M05)."""

    certificate_type: InstallCertificateUse
    certificate: Annotated[str, MaxLength(5500)]
    custom_data: CustomData | None = None


@pnc_response(InstallCertificateRequest)
class InstallCertificateResponse(PncResponse):
    """Outcome of InstallCertificate (M05)."""

    status: InstallCertificateStatus
    status_info: StatusInfo | None = None
    custom_data: CustomData | None = None


@pnc_request("DeleteCertificate", _CS)
class DeleteCertificateRequest(PncRequest["DeleteCertificateResponse"]):
    """Deletes an installed certificate (2.0.1 use case M04)."""

    certificate_hash_data: CertificateHashData
    custom_data: CustomData | None = None


@pnc_response(DeleteCertificateRequest)
class DeleteCertificateResponse(PncResponse):
    """Outcome of DeleteCertificate (M04)."""

    status: DeleteCertificateStatus
    status_info: StatusInfo | None = None
    custom_data: CustomData | None = None


@pnc_request("GetInstalledCertificateIds", _CS)
class GetInstalledCertificateIdsRequest(PncRequest["GetInstalledCertificateIdsResponse"]):
    """Lists installed certificates of the given kinds, or of all kinds (2.0.1 use case M03)."""

    certificate_type: Annotated[tuple[GetCertificateIdUse, ...], MinItems(1)] | None = None
    custom_data: CustomData | None = None


@pnc_response(GetInstalledCertificateIdsRequest)
class GetInstalledCertificateIdsResponse(PncResponse):
    """The installed certificates' hash data (M03)."""

    status: GetInstalledCertificateStatus
    status_info: StatusInfo | None = None
    certificate_hash_data_chain: (
        Annotated[tuple[CertificateHashDataChain, ...], MinItems(1)] | None
    ) = None
    custom_data: CustomData | None = None


@pnc_request("TriggerMessage", _CS)
class TriggerMessageRequest(PncRequest["TriggerMessageResponse"]):
    """Asks for a message; over 1.6 used for ``SignV2GCertificate`` (2.0.1 use case F06)."""

    requested_message: MessageTrigger
    evse: EVSE | None = None
    custom_data: CustomData | None = None


@pnc_response(TriggerMessageRequest)
class TriggerMessageResponse(PncResponse):
    """Whether the charge point will send the message (F06)."""

    status: TriggerMessageStatus
    status_info: StatusInfo | None = None
    custom_data: CustomData | None = None


PNC_REQUESTS: Mapping[str, type[PncRequest[Any]]] = MappingProxyType(
    {
        cls.action: cls
        for cls in (
            AuthorizeRequest,
            GetCertificateStatusRequest,
            SignCertificateRequest,
            Get15118EVCertificateRequest,
            CertificateSignedRequest,
            InstallCertificateRequest,
            DeleteCertificateRequest,
            GetInstalledCertificateIdsRequest,
            TriggerMessageRequest,
        )
    }
)
"""The nine request classes of the application note by 2.0.1 action (= DataTransfer messageId)."""

PNC_MESSAGES: tuple[type[PncMessage], ...] = tuple(
    cls for request in PNC_REQUESTS.values() for cls in (request, request.response_type)
)
"""All eighteen request and response classes, in pairs."""
