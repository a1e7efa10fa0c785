"""Security whitepaper (OCPP 1.6 security extensions, edition 2) messages (§5)."""

# Annotations are evaluated: the constraints in them become validators (see constraints.py).
from datetime import datetime
from typing import Annotated

from ..constraints import MaxLength, PositiveConnectorId
from ..datatypes import CertificateHashData, Firmware, LogParameters
from ..enums import (
    CertificateSignedStatus,
    CertificateStatus,
    CertificateUse,
    DeleteCertificateStatus,
    FirmwareStatusEnumType,
    GenericStatus,
    GetInstalledCertificateStatus,
    LogStatus,
    LogType,
    MessageTriggerExtended,
    TriggerMessageStatus,
    UpdateFirmwareStatus,
    UploadLogStatus,
)
from .base import Direction, Profile, Request, Response, request, response

__all__ = [
    "CertificateSignedRequest",
    "CertificateSignedResponse",
    "DeleteCertificateRequest",
    "DeleteCertificateResponse",
    "ExtendedTriggerMessageRequest",
    "ExtendedTriggerMessageResponse",
    "GetInstalledCertificateIdsRequest",
    "GetInstalledCertificateIdsResponse",
    "GetLogRequest",
    "GetLogResponse",
    "InstallCertificateRequest",
    "InstallCertificateResponse",
    "LogStatusNotificationRequest",
    "LogStatusNotificationResponse",
    "SecurityEventNotificationRequest",
    "SecurityEventNotificationResponse",
    "SignCertificateRequest",
    "SignCertificateResponse",
    "SignedFirmwareStatusNotificationRequest",
    "SignedFirmwareStatusNotificationResponse",
    "SignedUpdateFirmwareRequest",
    "SignedUpdateFirmwareResponse",
]

_FROM_CP = Direction.CHARGE_POINT_TO_CENTRAL_SYSTEM
_TO_CP = Direction.CENTRAL_SYSTEM_TO_CHARGE_POINT
_SECURITY = Profile.SECURITY


@request("CertificateSigned", _TO_CP, _SECURITY)
class CertificateSignedRequest(Request["CertificateSignedResponse"]):
    """Delivers the signed charge point certificate chain, PEM encoded (§5.1)."""

    certificate_chain: Annotated[str, MaxLength(10000)]


@response(CertificateSignedRequest)
class CertificateSignedResponse(Response):
    """Whether the charge point accepted the certificate (§5.2)."""

    status: CertificateSignedStatus


@request("DeleteCertificate", _TO_CP, _SECURITY)
class DeleteCertificateRequest(Request["DeleteCertificateResponse"]):
    """Deletes an installed certificate (§5.3)."""

    certificate_hash_data: CertificateHashData


@response(DeleteCertificateRequest)
class DeleteCertificateResponse(Response):
    """Whether the certificate was deleted (§5.4)."""

    status: DeleteCertificateStatus


@request("ExtendedTriggerMessage", _TO_CP, _SECURITY)
class ExtendedTriggerMessageRequest(Request["ExtendedTriggerMessageResponse"]):
    """TriggerMessage extended with the security messages (§5.5)."""

    requested_message: MessageTriggerExtended
    connector_id: PositiveConnectorId | None = None


@response(ExtendedTriggerMessageRequest)
class ExtendedTriggerMessageResponse(Response):
    """Whether the charge point will send the message (§5.6)."""

    status: TriggerMessageStatus


@request("GetInstalledCertificateIds", _TO_CP, _SECURITY)
class GetInstalledCertificateIdsRequest(Request["GetInstalledCertificateIdsResponse"]):
    """Asks for the installed root certificates of one kind (§5.7)."""

    certificate_type: CertificateUse


@response(GetInstalledCertificateIdsRequest)
class GetInstalledCertificateIdsResponse(Response):
    """The installed certificates' hash data (§5.8)."""

    status: GetInstalledCertificateStatus
    certificate_hash_data: tuple[CertificateHashData, ...] | None = None


@request("GetLog", _TO_CP, _SECURITY)
class GetLogRequest(Request["GetLogResponse"]):
    """Asks the charge point to upload a diagnostics or security log (§5.9)."""

    log_type: LogType
    request_id: int
    log: LogParameters
    retries: int | None = None
    retry_interval: int | None = None


@response(GetLogRequest)
class GetLogResponse(Response):
    """Whether the upload will happen, and the file name (§5.10)."""

    status: LogStatus
    filename: Annotated[str, MaxLength(255)] | None = None


@request("InstallCertificate", _TO_CP, _SECURITY)
class InstallCertificateRequest(Request["InstallCertificateResponse"]):
    """Installs a root certificate, PEM encoded (§5.11)."""

    certificate_type: CertificateUse
    certificate: Annotated[str, MaxLength(5500)]


@response(InstallCertificateRequest)
class InstallCertificateResponse(Response):
    """Whether the certificate was installed (§5.12)."""

    status: CertificateStatus


@request("LogStatusNotification", _FROM_CP, _SECURITY)
class LogStatusNotificationRequest(Request["LogStatusNotificationResponse"]):
    """Progress of a log upload (§5.13)."""

    status: UploadLogStatus
    request_id: int | None = None


@response(LogStatusNotificationRequest)
class LogStatusNotificationResponse(Response):
    """Acknowledges the notification (§5.14)."""


@request("SecurityEventNotification", _FROM_CP, _SECURITY)
class SecurityEventNotificationRequest(Request["SecurityEventNotificationResponse"]):
    """A security event happened on the charge point (§5.15)."""

    type: Annotated[str, MaxLength(50)]
    timestamp: datetime
    tech_info: Annotated[str, MaxLength(255)] | None = None


@response(SecurityEventNotificationRequest)
class SecurityEventNotificationResponse(Response):
    """Acknowledges the notification (§5.16)."""


@request("SignCertificate", _FROM_CP, _SECURITY)
class SignCertificateRequest(Request["SignCertificateResponse"]):
    """A certificate signing request from the charge point, PEM encoded (§5.17)."""

    csr: Annotated[str, MaxLength(5500)]


@response(SignCertificateRequest)
class SignCertificateResponse(Response):
    """Whether the central system will process the CSR (§5.18)."""

    status: GenericStatus


@request("SignedFirmwareStatusNotification", _FROM_CP, _SECURITY)
class SignedFirmwareStatusNotificationRequest(Request["SignedFirmwareStatusNotificationResponse"]):
    """Progress of a signed firmware update (§5.19)."""

    status: FirmwareStatusEnumType
    request_id: int | None = None


@response(SignedFirmwareStatusNotificationRequest)
class SignedFirmwareStatusNotificationResponse(Response):
    """Acknowledges the notification (§5.20)."""


@request("SignedUpdateFirmware", _TO_CP, _SECURITY)
class SignedUpdateFirmwareRequest(Request["SignedUpdateFirmwareResponse"]):
    """Asks the charge point to fetch, verify and install signed firmware (§5.21)."""

    request_id: int
    firmware: Firmware
    retries: int | None = None
    retry_interval: int | None = None


@response(SignedUpdateFirmwareRequest)
class SignedUpdateFirmwareResponse(Response):
    """Whether the firmware update will happen (§5.22)."""

    status: UpdateFirmwareStatus
