"""OCTT §3.21 (security whitepaper): certificates, security events, the security log and
secure firmware updates (TC_074–TC_081)."""

from __future__ import annotations

from datetime import UTC, datetime

from ...enums import (
    CertificateSignedStatus,
    CertificateStatus,
    CertificateUse,
    ChargePointStatus,
    FirmwareStatusEnumType,
    GenericStatus,
    LogStatus,
    LogType,
    MessageTriggerExtended,
    TriggerMessageStatus,
    UpdateFirmwareStatus,
    UploadLogStatus,
)
from ...messages import (
    CertificateSignedRequest,
    CertificateSignedResponse,
    DeleteCertificateRequest,
    ExtendedTriggerMessageRequest,
    ExtendedTriggerMessageResponse,
    GetInstalledCertificateIdsRequest,
    GetLogRequest,
    GetLogResponse,
    HeartbeatRequest,
    InstallCertificateRequest,
    InstallCertificateResponse,
    LogStatusNotificationRequest,
    SecurityEventNotificationRequest,
    SignCertificateRequest,
    SignedFirmwareStatusNotificationRequest,
    SignedUpdateFirmwareRequest,
    SignedUpdateFirmwareResponse,
)
from ...messages.base import Profile
from .case import ConformanceCase, conformance_case
from .certificates import (
    TEST_ROOT_1,
    TEST_ROOT_2,
    ClientCertificate,
    KeyPair,
    certificate_facts,
    make_key_and_csr,
    pem_certificates,
    same_hash_data,
)
from .model import Need
from .tool import Step, Tool

__all__ = ["SECURITY_CASES", "chain_problem"]

_SECURITY = Profile.SECURITY
_OPERATOR = (Need.OPERATOR,)
_CENTRAL_ROOT = CertificateUse.CENTRAL_SYSTEM_ROOT_CERTIFICATE


def _same_certificate(pem: str, expected_pem: str) -> bool:
    try:
        return pem_certificates(pem) == pem_certificates(expected_pem)
    except ValueError:
        return False


async def _event(tool: Tool, step: Step, event_type: str) -> None:
    await tool.call(
        step, SecurityEventNotificationRequest(type=event_type, timestamp=datetime.now(UTC))
    )


# -- renewing the charge point certificate ---------------------------------------------------


def chain_problem(chain_pem: str, keys: KeyPair) -> str | None:
    """Why ``chain_pem`` is not a valid certificate for the CSR's key, or None (what the
    charge point verifies before it answers CertificateSigned, whitepaper §5.1)."""
    try:
        leaf = certificate_facts(pem_certificates(chain_pem)[0])
    except ValueError as error:
        return str(error)
    if leaf.public_key_info != keys.public_key_info:
        return "its public key is not the key of the CSR"
    now = datetime.now(UTC)
    if not leaf.not_before <= now <= leaf.not_after:
        return f"it is valid from {leaf.not_before} to {leaf.not_after}, not now"
    return None


async def _renew_certificate(
    tool: Tool, status: CertificateSignedStatus
) -> tuple[KeyPair, CertificateSignedRequest]:
    config = tool.config
    await tool.connect()
    await tool.booted()
    request: ExtendedTriggerMessageRequest = await tool.expect(
        1,
        ExtendedTriggerMessageRequest,
        lambda operator: operator.extended_trigger_message(
            config.charge_point_id,
            requested_message=MessageTriggerExtended.SIGN_CHARGE_POINT_CERTIFICATE,
        ),
        ExtendedTriggerMessageResponse(status=TriggerMessageStatus.ACCEPTED),
    )
    message = "ExtendedTriggerMessage.req"
    tool.check_equal(
        1,
        message,
        "The requestedMessage",
        request.requested_message,
        MessageTriggerExtended.SIGN_CHARGE_POINT_CERTIFICATE,
    )
    tool.check(
        1,
        message,
        "The connectorId is <Omitted>",
        request.connector_id is None,
        request.connector_id,
    )
    keys = make_key_and_csr(config.charge_point_id, config.vendor)

    def answer(signed: CertificateSignedRequest) -> CertificateSignedResponse:
        valid = chain_problem(signed.certificate_chain, keys) is None
        accepted = valid and status is CertificateSignedStatus.ACCEPTED
        return CertificateSignedResponse(
            status=CertificateSignedStatus.ACCEPTED
            if accepted
            else CertificateSignedStatus.REJECTED
        )

    # Ready before the CSR goes out: the central system may sign at once.
    signed = tool.will_answer(CertificateSignedRequest, answer)
    answered = await tool.call(4, SignCertificateRequest(csr=keys.csr_pem))
    tool.check_equal(
        4, "SignCertificate.conf", "The status", answered.status, GenericStatus.ACCEPTED
    )
    delivered: CertificateSignedRequest = await tool.wait_for(5, signed)
    problem = chain_problem(delivered.certificate_chain, keys)
    tool.check(
        5,
        "CertificateSigned.req",
        "The certificate is <Signed ChargePointCertificate> for the key of the CSR",
        problem is None,
        problem,
    )
    return keys, delivered


@conformance_case(
    "TC_074_CSMS",
    "Update Charge Point Certificate by request of Central System",
    section="3.21.1",
    checks="ExtendedTriggerMessage SignChargePointCertificate; SignCertificate Accepted; "
    "CertificateSigned for the CSR's key; reconnecting with it (wss://)",
    feature=_SECURITY,
    needs=(Need.OPERATOR, Need.CRYPTOGRAPHY),
)
async def tc_074(tool: Tool) -> None:
    keys, delivered = await _renew_certificate(tool, CertificateSignedStatus.ACCEPTED)
    if not tool.url.startswith("wss://"):
        tool.check(
            7,
            "reconnection",
            "The Charge Point reconnects with the new certificate: not checked, the "
            "connection is not wss://",
            True,
        )
        return
    tool.client_certificate = ClientCertificate(
        certificate_chain_pem=delivered.certificate_chain, private_key_pem=keys.private_key_pem
    )
    await tool.connect(7)
    await tool.call(7, HeartbeatRequest())


@conformance_case(
    "TC_077_CSMS",
    "Invalid ChargePointCertificate Security Event",
    section="3.21.2",
    checks="the certificate renewal flow; the SecurityEventNotification "
    "InvalidChargePointCertificate is answered",
    feature=_SECURITY,
    needs=(Need.OPERATOR, Need.CRYPTOGRAPHY),
)
async def tc_077(tool: Tool) -> None:
    await _renew_certificate(tool, CertificateSignedStatus.REJECTED)
    await _event(tool, 8, "InvalidChargePointCertificate")


# -- root certificates -------------------------------------------------------------------------


async def _install(
    tool: Tool,
    step: Step,
    kind: CertificateUse,
    certificate_pem: str,
    answer: InstallCertificateResponse | None = None,
) -> None:
    cp = tool.config.charge_point_id
    request: InstallCertificateRequest = await tool.expect(
        step,
        InstallCertificateRequest,
        lambda operator: operator.install_certificate(
            cp, certificate_type=kind, certificate_pem=certificate_pem
        ),
        answer,
    )
    message = "InstallCertificate.req"
    tool.check_equal(step, message, "certificateType", request.certificate_type, kind)
    tool.check(
        step,
        message,
        "certificate is <Configured root certificate>",
        _same_certificate(request.certificate, certificate_pem),
        "another certificate",
    )


async def _installed_ids(tool: Tool, step: Step, kind: CertificateUse) -> None:
    cp = tool.config.charge_point_id
    request: GetInstalledCertificateIdsRequest = await tool.expect(
        step,
        GetInstalledCertificateIdsRequest,
        lambda operator: operator.get_installed_certificate_ids(cp, certificate_type=kind),
    )
    tool.check_equal(
        step,
        "GetInstalledCertificateIds.req",
        "The certificateType",
        request.certificate_type,
        kind,
    )


async def _install_and_list(tool: Tool, kind: CertificateUse) -> None:
    await tool.connect()
    await tool.booted()
    await _install(tool, 1, kind, tool.config.root_certificate_pem or TEST_ROOT_1)
    await _installed_ids(tool, 3, kind)


@conformance_case(
    "TC_075_1_CSMS",
    "Install a certificate on the Charge Point - ManufacturerRootCertificate",
    section="3.21.1",
    checks="InstallCertificate of the configured ManufacturerRootCertificate, then "
    "GetInstalledCertificateIds of that type",
    feature=_SECURITY,
    needs=_OPERATOR,
)
async def tc_075_1(tool: Tool) -> None:
    await _install_and_list(tool, CertificateUse.MANUFACTURER_ROOT_CERTIFICATE)


@conformance_case(
    "TC_075_2_CSMS",
    "Install a certificate on the Charge Point - CentralSystemRootCertificate",
    section="3.21.1",
    checks="InstallCertificate of the configured CentralSystemRootCertificate, then "
    "GetInstalledCertificateIds of that type",
    feature=_SECURITY,
    needs=_OPERATOR,
)
async def tc_075_2(tool: Tool) -> None:
    await _install_and_list(tool, _CENTRAL_ROOT)


@conformance_case(
    "TC_076_CSMS",
    "Delete a specific certificate from the Charge Point",
    section="3.21.1",
    checks="after installing Root 2: GetInstalledCertificateIds, then DeleteCertificate with "
    "its hash data",
    feature=_SECURITY,
    needs=_OPERATOR,
)
async def tc_076(tool: Tool) -> None:
    cp = tool.config.charge_point_id
    await tool.connect()
    await tool.booted()
    # Memory state: the central system had the charge point install Root 2.
    await _install(tool, "Memory state", _CENTRAL_ROOT, TEST_ROOT_2)
    await _installed_ids(tool, 1, _CENTRAL_ROOT)
    reported = tool.certificate_hash_data(TEST_ROOT_2)
    request: DeleteCertificateRequest = await tool.expect(
        3,
        DeleteCertificateRequest,
        lambda operator: operator.delete_certificate(cp, certificate_hash_data=reported),
    )
    sent = request.certificate_hash_data
    message = "DeleteCertificate.req"
    tool.check_equal(3, message, "hashAlgorithm", sent.hash_algorithm, tool.config.hash_algorithm)
    tool.check(
        3,
        message,
        "certificateHashData is that of the installed CentralSystemRootCertificate",
        same_hash_data(sent, reported),
        sent,
    )


@conformance_case(
    "TC_078_CSMS",
    "Invalid CentralSystemCertificate Security Event",
    section="3.21.2",
    checks="InstallCertificate CentralSystemRootCertificate (Rejected); the "
    "SecurityEventNotification InvalidCentralSystemCertificate is answered",
    feature=_SECURITY,
    needs=_OPERATOR,
)
async def tc_078(tool: Tool) -> None:
    await tool.connect()
    await tool.booted()
    await _install(
        tool,
        1,
        _CENTRAL_ROOT,
        tool.config.root_certificate_pem or TEST_ROOT_1,
        InstallCertificateResponse(status=CertificateStatus.REJECTED),
    )
    await _event(tool, 4, "InvalidCentralSystemCertificate")


@conformance_case(
    "TC_079_CSMS",
    "Get Security Log",
    section="3.21.2",
    checks="GetLog SecurityLog to the configured location; Uploading and Uploaded answered",
    feature=_SECURITY,
    needs=_OPERATOR,
)
async def tc_079(tool: Tool) -> None:
    config = tool.config
    await tool.connect()
    await tool.booted()
    request: GetLogRequest = await tool.expect(
        1,
        GetLogRequest,
        lambda operator: operator.get_log(
            config.charge_point_id, log_type=LogType.SECURITY_LOG, location=config.log_location
        ),
        GetLogResponse(status=LogStatus.ACCEPTED, filename="octt-security.log"),
    )
    tool.check_equal(
        1, "GetLog.req", "The log.remoteLocation", request.log.remote_location, config.log_location
    )
    tool.check_equal(1, "GetLog.req", "The logType", request.log_type, LogType.SECURITY_LOG)
    for step, status in ((4, UploadLogStatus.UPLOADING), (6, UploadLogStatus.UPLOADED)):
        await tool.call(
            step, LogStatusNotificationRequest(status=status, request_id=request.request_id)
        )


# -- secure firmware update --------------------------------------------------------------------


async def _signed_update(tool: Tool, signature: str) -> SignedUpdateFirmwareRequest:
    config = tool.config
    certificate = config.signing_certificate_pem or TEST_ROOT_1
    await tool.connect()
    await tool.booted()
    request: SignedUpdateFirmwareRequest = await tool.expect(
        1,
        SignedUpdateFirmwareRequest,
        lambda operator: operator.signed_update_firmware(
            config.charge_point_id,
            location=config.firmware_location,
            retrieve_date=datetime.now(UTC),
            signing_certificate_pem=certificate,
            signature=signature,
        ),
        SignedUpdateFirmwareResponse(status=UpdateFirmwareStatus.ACCEPTED),
    )
    firmware = request.firmware
    message = "SignedUpdateFirmware.req"
    tool.check_equal(1, message, "firmware.location", firmware.location, config.firmware_location)
    tool.check_equal(1, message, "firmware.signature", firmware.signature, signature)
    tool.check(
        1,
        message,
        "firmware.signingCertificate is <Configured signingCertificate>",
        _same_certificate(firmware.signing_certificate, certificate),
        "another certificate",
    )
    return request


async def _firmware_status(
    tool: Tool, step: Step, request: SignedUpdateFirmwareRequest, status: FirmwareStatusEnumType
) -> None:
    await tool.call(
        step,
        SignedFirmwareStatusNotificationRequest(status=status, request_id=request.request_id),
    )


@conformance_case(
    "TC_080_CSMS",
    "Secure Firmware Update",
    section="3.21.3",
    checks="SignedUpdateFirmware with the configured location, signature and signing "
    "certificate; every status through Installed, the reboot and FirmwareUpdated answered",
    feature=_SECURITY,
    needs=_OPERATOR,
)
async def tc_080(tool: Tool) -> None:
    request = await _signed_update(tool, tool.config.firmware_signature)
    await _firmware_status(tool, 4, request, FirmwareStatusEnumType.DOWNLOADING)
    await _firmware_status(tool, 6, request, FirmwareStatusEnumType.DOWNLOADED)
    await _firmware_status(tool, 8, request, FirmwareStatusEnumType.SIGNATURE_VERIFIED)
    # Before installing, the connectors become Unavailable (after step 2, before step 9).
    await tool.statuses("After step 2 and before step 9", ChargePointStatus.UNAVAILABLE)
    await _firmware_status(tool, 10, request, FirmwareStatusEnumType.INSTALLING)
    await _firmware_status(tool, 12, request, FirmwareStatusEnumType.INSTALL_REBOOTING)
    await tool.connect(13)
    await tool.boot(14)
    await _event(tool, 16, "FirmwareUpdated")
    await tool.statuses(18)
    await _firmware_status(tool, 20, request, FirmwareStatusEnumType.INSTALLED)


@conformance_case(
    "TC_081_CSMS",
    "Secure Firmware Update - Invalid Signature",
    section="3.21.3",
    checks="SignedUpdateFirmware with an invalid signature; Downloading, Downloaded and "
    "InvalidSignature answered",
    feature=_SECURITY,
    needs=_OPERATOR,
)
async def tc_081(tool: Tool) -> None:
    request = await _signed_update(tool, tool.config.invalid_firmware_signature)
    await _firmware_status(tool, 4, request, FirmwareStatusEnumType.DOWNLOADING)
    await _firmware_status(tool, 6, request, FirmwareStatusEnumType.DOWNLOADED)
    await _firmware_status(tool, 8, request, FirmwareStatusEnumType.INVALID_SIGNATURE)


SECURITY_CASES: tuple[ConformanceCase, ...] = (
    tc_074,
    tc_075_1,
    tc_075_2,
    tc_076,
    tc_077,
    tc_078,
    tc_079,
    tc_080,
    tc_081,
)
"""OCTT §3.21 (TC_074–TC_081), in the document's order."""
