"""What the conformance suite reports and reads: validations, results, settings.

Every tool validation of the OCA's "Test case document OCTT for OCPP 1.6" (section 3, System
Under Test: Central System) becomes a :class:`Validation`; the first one that fails ends the
case. :class:`SuiteConfig` holds the document's ``<Configured …>`` values.
"""

from __future__ import annotations

import ssl
from collections.abc import Iterable
from datetime import timedelta
from enum import StrEnum
from typing import Any

import attrs

from ...enums import ChargingRateUnitType, HashAlgorithm
from ...errors import CsmsError
from ...messages.base import Profile
from .certificates import ClientCertificate, client_context

__all__ = [
    "CaseResult",
    "CaseStatus",
    "Need",
    "NeedsOperator",
    "NotApplicable",
    "SuiteConfig",
    "Validation",
    "ValidationFailed",
]


class CaseStatus(StrEnum):
    """How a case ended."""

    PASSED = "passed"
    FAILED = "failed"
    NEEDS_OPERATOR = "needs operator"
    """A step needs the central system to act (a "Manual Action") and no operator driver
    could make it."""
    NOT_APPLICABLE = "not applicable"
    """A prerequisite is missing: a feature profile the central system does not offer, a
    security profile the connection does not use, or a package the step needs."""


class Need(StrEnum):
    """What a case needs beyond a connection to run."""

    OPERATOR = "operator"
    """The central system must send requests on command (an operator driver)."""
    PASSWORD = "password"
    """HTTP Basic authentication (security profile 1 or 2)."""
    TLS = "tls"
    """A ``wss://`` connection (security profile 2 or 3)."""
    CLIENT_CERTIFICATE = "client certificate"
    """A TLS client certificate (security profile 3)."""
    CRYPTOGRAPHY = "cryptography"
    """The ``cryptography`` package (to make a key pair and a CSR)."""


@attrs.frozen(kw_only=True)
class Validation:
    """One tool validation of the document, as checked."""

    step: str
    """Where the document puts it: ``"Step 2"``, ``"Reusable state Charging, step 4"``."""
    message: str
    """The message it is about (``"BootNotification.conf"``), or what else it checks."""
    expectation: str
    """What must hold, in the document's words (``"status is Accepted"``)."""
    passed: bool
    observed: str = ""
    """What was seen instead, when it failed."""

    def __str__(self) -> str:
        text = f"{self.step} ({self.message}): {self.expectation}"
        return text if self.passed else f"{text}; got {self.observed}"


class ValidationFailed(CsmsError):
    """A tool validation failed; the case ends FAILED with it."""

    def __init__(self, validation: Validation) -> None:
        super().__init__(str(validation))
        self.validation = validation


class NeedsOperator(CsmsError):
    """The operator driver cannot make the central system do what a step asks."""


class NotApplicable(CsmsError):
    """A prerequisite of the case is not met by the suite's settings."""


@attrs.frozen(kw_only=True)
class CaseResult:
    """The outcome of one case."""

    case_id: str
    name: str
    status: CaseStatus
    reason: str = ""
    """The first failed validation (FAILED), or why the case did not run."""
    validations: tuple[Validation, ...] = ()
    """Every validation checked, in order."""
    duration: float = 0.0
    """Seconds the case took."""

    def as_dict(self) -> dict[str, Any]:
        """The result as JSON-ready data (the CLI's ``--json``)."""
        return {
            "case": self.case_id,
            "name": self.name,
            "status": self.status.value,
            "reason": self.reason,
            "duration": round(self.duration, 3),
            "validations": [
                {
                    "step": v.step,
                    "message": v.message,
                    "expectation": v.expectation,
                    "passed": v.passed,
                    "observed": v.observed,
                }
                for v in self.validations
            ],
        }


def _profiles(value: Iterable[Profile | str]) -> frozenset[Profile]:
    return frozenset(Profile(profile) for profile in value)


def _base_url(value: str) -> str:
    if not value.startswith(("ws://", "wss://")):
        raise ValueError(f"the central system's URL must start with ws:// or wss://: {value!r}")
    return value.rstrip("/")


@attrs.frozen(kw_only=True)
class SuiteConfig:
    """The suite's settings: where the central system is, and the document's test data.

    The charge point connects to ``url`` + ``/`` + ``charge_point_id`` (OCPP-J §3.1.1). The
    ``<Configured …>`` values of the document are the fields below; the defaults are ours.
    """

    url: str = attrs.field(converter=_base_url)
    charge_point_id: str
    password: str | None = attrs.field(default=None, repr=False)
    """HTTP Basic password (the AuthorizationKey), for security profiles 1 and 2."""
    ca_pem: str | None = attrs.field(default=None, repr=False)
    """PEM certificates to trust for ``wss://`` (None: the system's trust store)."""
    client_certificate: ClientCertificate | None = None
    features: frozenset[Profile] = attrs.field(default=frozenset(Profile), converter=_profiles)
    """The feature profiles the central system offers; cases of the others are not run."""
    vendor: str = "ocpp16csms"
    model: str = "OCTT conformance"
    connector_id: int = 1
    number_of_connectors: int = 2
    valid_id_tag: str = "OCTT-VALID"
    invalid_id_tag: str = "OCTT-UNKNOWN"
    blocked_id_tag: str = "OCTT-BLOCKED"
    expired_id_tag: str = "OCTT-EXPIRED"
    parent_id_tag: str = "OCTT-PARENT"
    second_id_tag: str = "OCTT-SIBLING"
    """Another id tag under ``parent_id_tag`` (TC_053_CSMS)."""
    data_transfer_vendor_id: str = "org.openchargealliance.octt"
    firmware_location: str = "https://firmware.example.com/ocpp16csms/firmware.bin"
    diagnostics_location: str = "ftp://diagnostics.example.com/upload/"
    log_location: str = "https://logs.example.com/upload/"
    reservation_expiry: timedelta = timedelta(minutes=10)
    """<Configured Expiry Date Offset> of the reservation cases."""
    stack_level: int = 1
    charging_rate_unit: ChargingRateUnitType = ChargingRateUnitType.A
    schedule_duration: int = 3600
    number_phases: int = 3
    hash_algorithm: HashAlgorithm = HashAlgorithm.SHA256
    root_certificate_pem: str | None = attrs.field(default=None, repr=False)
    """The root certificate to install (TC_075, TC_078); None: a built-in test root."""
    signing_certificate_pem: str | None = attrs.field(default=None, repr=False)
    """The firmware signing certificate (TC_080, TC_081); None: a built-in test root."""
    firmware_signature: str = "b2NwcDE2Y3NtcyBPQ1RUIGZpcm13YXJlIHNpZ25hdHVyZQ=="
    """<Configured signature> (base64) of TC_080_CSMS."""
    invalid_firmware_signature: str = "aW52YWxpZCBzaWduYXR1cmU="
    """The invalid signature (base64) of TC_081_CSMS."""
    timeout: float = 10.0
    """Seconds to wait for each answer or request of the central system."""
    operator_timeout: float | None = None
    """Seconds to wait for a request the operator was asked for (default: ``timeout``)."""
    case_timeout: float = 120.0

    def tls_context(self, client_certificate: ClientCertificate | None = None) -> ssl.SSLContext:
        """A client TLS context trusting ``ca_pem`` (or the system), with a client
        certificate when one is given (default: ``client_certificate``)."""
        return client_context(self.ca_pem, client_certificate or self.client_certificate)
