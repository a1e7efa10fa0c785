"""The OCPP 2.0.1 enumerations that the Plug & Charge messages use (2.0.1 part 2, §3).

Names drop the spec's ``EnumType`` suffix (``AuthorizationStatusEnumType`` is
:class:`AuthorizationStatus`); ``IdTokenEnumType`` becomes :class:`IdTokenEnum` because
:class:`~.datatypes.IdToken` is the datatype. These are 2.0.1 values: several share a name with
an OCPP 1.6 enumeration in :mod:`ocpp16csms.enums` but not its members, so they live here.
``HashAlgorithmEnumType`` has the same members in both versions and is reused from
:mod:`ocpp16csms.enums` (:class:`~ocpp16csms.enums.HashAlgorithm`).
"""

from __future__ import annotations

from enum import StrEnum

__all__ = [
    "AuthorizationStatus",
    "AuthorizeCertificateStatus",
    "CertificateAction",
    "CertificateSignedStatus",
    "CertificateSigningUse",
    "DeleteCertificateStatus",
    "GenericStatus",
    "GetCertificateIdUse",
    "GetCertificateStatus",
    "GetInstalledCertificateStatus",
    "IdTokenEnum",
    "InstallCertificateStatus",
    "InstallCertificateUse",
    "Iso15118EVCertificateStatus",
    "MessageFormat",
    "MessageTrigger",
    "TriggerMessageStatus",
]


class AuthorizationStatus(StrEnum):
    """Status of an id token (AuthorizationStatusEnumType)."""

    ACCEPTED = "Accepted"
    BLOCKED = "Blocked"
    CONCURRENT_TX = "ConcurrentTx"
    EXPIRED = "Expired"
    INVALID = "Invalid"
    NO_CREDIT = "NoCredit"
    NOT_ALLOWED_TYPE_EVSE = "NotAllowedTypeEVSE"
    NOT_AT_THIS_LOCATION = "NotAtThisLocation"
    NOT_AT_THIS_TIME = "NotAtThisTime"
    UNKNOWN = "Unknown"


class AuthorizeCertificateStatus(StrEnum):
    """Outcome of the contract certificate check (AuthorizeCertificateStatusEnumType)."""

    ACCEPTED = "Accepted"
    SIGNATURE_ERROR = "SignatureError"
    CERTIFICATE_EXPIRED = "CertificateExpired"
    CERTIFICATE_REVOKED = "CertificateRevoked"
    NO_CERTIFICATE_AVAILABLE = "NoCertificateAvailable"
    CERT_CHAIN_ERROR = "CertChainError"
    CONTRACT_CANCELLED = "ContractCancelled"


class IdTokenEnum(StrEnum):
    """Kind of an id token (IdTokenEnumType); Plug & Charge uses :attr:`EMAID`."""

    CENTRAL = "Central"
    EMAID = "eMAID"
    ISO14443 = "ISO14443"
    ISO15693 = "ISO15693"
    KEY_CODE = "KeyCode"
    LOCAL = "Local"
    MAC_ADDRESS = "MacAddress"
    NO_AUTHORIZATION = "NoAuthorization"


class MessageFormat(StrEnum):
    """Format of a personal message (MessageFormatEnumType)."""

    ASCII = "ASCII"
    HTML = "HTML"
    URI = "URI"
    UTF8 = "UTF8"


class GetCertificateStatus(StrEnum):
    """Whether the CSMS obtained an OCSP response (GetCertificateStatusEnumType)."""

    ACCEPTED = "Accepted"
    FAILED = "Failed"


class CertificateAction(StrEnum):
    """Install a new contract certificate or update one (CertificateActionEnumType)."""

    INSTALL = "Install"
    UPDATE = "Update"


class Iso15118EVCertificateStatus(StrEnum):
    """Outcome of Get15118EVCertificate (Iso15118EVCertificateStatusEnumType)."""

    ACCEPTED = "Accepted"
    FAILED = "Failed"


class CertificateSigningUse(StrEnum):
    """What a certificate to sign is for (CertificateSigningUseEnumType)."""

    CHARGING_STATION_CERTIFICATE = "ChargingStationCertificate"
    V2G_CERTIFICATE = "V2GCertificate"


class GenericStatus(StrEnum):
    """Accepted or rejected (GenericStatusEnumType)."""

    ACCEPTED = "Accepted"
    REJECTED = "Rejected"


class CertificateSignedStatus(StrEnum):
    """Whether a signed certificate was accepted (CertificateSignedStatusEnumType)."""

    ACCEPTED = "Accepted"
    REJECTED = "Rejected"


class InstallCertificateUse(StrEnum):
    """Kind of root certificate to install (InstallCertificateUseEnumType)."""

    V2G_ROOT_CERTIFICATE = "V2GRootCertificate"
    MO_ROOT_CERTIFICATE = "MORootCertificate"
    CSMS_ROOT_CERTIFICATE = "CSMSRootCertificate"
    MANUFACTURER_ROOT_CERTIFICATE = "ManufacturerRootCertificate"


class InstallCertificateStatus(StrEnum):
    """Outcome of InstallCertificate (InstallCertificateStatusEnumType)."""

    ACCEPTED = "Accepted"
    REJECTED = "Rejected"
    FAILED = "Failed"


class DeleteCertificateStatus(StrEnum):
    """Outcome of DeleteCertificate (DeleteCertificateStatusEnumType)."""

    ACCEPTED = "Accepted"
    FAILED = "Failed"
    NOT_FOUND = "NotFound"


class GetCertificateIdUse(StrEnum):
    """Kind of installed certificate to list (GetCertificateIdUseEnumType)."""

    V2G_ROOT_CERTIFICATE = "V2GRootCertificate"
    MO_ROOT_CERTIFICATE = "MORootCertificate"
    CSMS_ROOT_CERTIFICATE = "CSMSRootCertificate"
    V2G_CERTIFICATE_CHAIN = "V2GCertificateChain"
    """The charging station's own V2G chain, without the V2G root."""
    MANUFACTURER_ROOT_CERTIFICATE = "ManufacturerRootCertificate"


class GetInstalledCertificateStatus(StrEnum):
    """Outcome of GetInstalledCertificateIds (GetInstalledCertificateStatusEnumType)."""

    ACCEPTED = "Accepted"
    NOT_FOUND = "NotFound"


class MessageTrigger(StrEnum):
    """Message a TriggerMessage asks for (MessageTriggerEnumType).

    Over OCPP 1.6 only the certificate ones make sense inside the Plug & Charge DataTransfer
    (``SignV2GCertificate`` above all); the others have their own 1.6 TriggerMessage.
    """

    BOOT_NOTIFICATION = "BootNotification"
    LOG_STATUS_NOTIFICATION = "LogStatusNotification"
    FIRMWARE_STATUS_NOTIFICATION = "FirmwareStatusNotification"
    HEARTBEAT = "Heartbeat"
    METER_VALUES = "MeterValues"
    SIGN_CHARGING_STATION_CERTIFICATE = "SignChargingStationCertificate"
    SIGN_V2G_CERTIFICATE = "SignV2GCertificate"
    STATUS_NOTIFICATION = "StatusNotification"
    TRANSACTION_EVENT = "TransactionEvent"
    SIGN_COMBINED_CERTIFICATE = "SignCombinedCertificate"
    PUBLISH_FIRMWARE_STATUS_NOTIFICATION = "PublishFirmwareStatusNotification"


class TriggerMessageStatus(StrEnum):
    """Whether the triggered message will be sent (TriggerMessageStatusEnumType)."""

    ACCEPTED = "Accepted"
    REJECTED = "Rejected"
    NOT_IMPLEMENTED = "NotImplemented"
