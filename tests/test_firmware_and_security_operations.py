"""Firmware Management and the security whitepaper, central system → charge point: typed
operations, their checks, the reported-status views and the SignCertificate flow."""

from __future__ import annotations

import base64
import functools
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any

import anyio
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from harness import T0, FakeClock, connected, wait_until
from ocpp16csms import (
    CallErrorReceived,
    CentralSystem,
    CentralSystemOptions,
    ErrorCode,
    Exchange,
    InvalidRequest,
    memory_stores,
)
from ocpp16csms.messages import (
    CertificateHashData,
    CertificateSignedRequest,
    CertificateSignedResponse,
    CertificateSignedStatus,
    CertificateStatus,
    CertificateUse,
    DeleteCertificateRequest,
    DeleteCertificateResponse,
    DeleteCertificateStatus,
    DiagnosticsStatus,
    DiagnosticsStatusNotificationRequest,
    Firmware,
    FirmwareStatus,
    FirmwareStatusEnumType,
    FirmwareStatusNotificationRequest,
    FirmwareStatusNotificationResponse,
    GenericStatus,
    GetDiagnosticsRequest,
    GetDiagnosticsResponse,
    GetInstalledCertificateIdsRequest,
    GetInstalledCertificateIdsResponse,
    GetInstalledCertificateStatus,
    GetLogRequest,
    GetLogResponse,
    HashAlgorithm,
    InstallCertificateRequest,
    InstallCertificateResponse,
    KeyValue,
    LogParameters,
    LogStatus,
    LogStatusNotificationRequest,
    LogType,
    RegistrationStatus,
    SignCertificateRequest,
    SignedFirmwareStatusNotificationRequest,
    SignedUpdateFirmwareRequest,
    SignedUpdateFirmwareResponse,
    UpdateFirmwareRequest,
    UpdateFirmwareResponse,
    UpdateFirmwareStatus,
    UploadLogStatus,
)
from ocpp16csms.profiles.firmware.service import (
    DiagnosticsStatusReport,
    FirmwareStatusReport,
    LogStatusReport,
)
from ocpp16csms.stores import ChargePointRecord

pytestmark = pytest.mark.anyio


_CS = CentralSystem


def make_cs(charge_points: tuple[str, ...] = ("CP1",), **options: Any) -> _CS:
    """As harness.make_central_system builds a CentralSystem."""
    stores = memory_stores(
        charge_points=[
            ChargePointRecord(charge_point_id=cp, registration_status=RegistrationStatus.ACCEPTED)
            for cp in charge_points
        ]
    )
    options.setdefault("handler_grace", 1.0)
    return _CS(stores, CentralSystemOptions(**options), clock=FakeClock())


# -- PEM material, made with a throwaway CA --------------------------------------------------


def _pem(item: x509.Certificate | x509.CertificateSigningRequest) -> str:
    return item.public_bytes(serialization.Encoding.PEM).decode()


@functools.cache
def _ca() -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Test CPO CA")])
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(T0 - timedelta(days=1))
        .not_valid_after(T0 + timedelta(days=365))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    return key, certificate


@functools.cache
def csr_pem(charge_point_id: str = "CP1") -> str:
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, charge_point_id),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Test CPO"),
        ]
    )
    return _pem(
        x509.CertificateSigningRequestBuilder().subject_name(subject).sign(key, hashes.SHA256())
    )


def sign_csr(csr_text: str) -> str:
    """What a CA does: the charge point certificate followed by the CA certificate."""
    ca_key, ca_certificate = _ca()
    csr = x509.load_pem_x509_csr(csr_text.encode())
    leaf = (
        x509.CertificateBuilder()
        .subject_name(csr.subject)
        .issuer_name(ca_certificate.subject)
        .public_key(csr.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(T0)
        .not_valid_after(T0 + timedelta(days=90))
        .sign(ca_key, hashes.SHA256())
    )
    return _pem(leaf) + _pem(ca_certificate)


def ca_pem() -> str:
    return _pem(_ca()[1])


def pem_block(label: str, body: bytes = b"\x30\x03\x02\x01\x01") -> str:
    return f"-----BEGIN {label}-----\n{base64.b64encode(body).decode()}\n-----END {label}-----\n"


def pem_of_length(length: int, blocks: int = 1) -> str:
    """``blocks`` CERTIFICATE blocks padded with newlines to exactly ``length`` characters."""
    body = b"\x30" + b"\x00" * ((length // blocks - 60) * 3 // 4 - 1)
    text = pem_block("CERTIFICATE", body) * blocks
    assert len(text) <= length
    return text + "\n" * (length - len(text))


SIGNATURE = base64.b64encode(b"\x01" * 64).decode()
HASH_DATA = CertificateHashData(
    hash_algorithm=HashAlgorithm.SHA256,
    issuer_name_hash="a" * 64,
    issuer_key_hash="b" * 64,
    serial_number="0123abcd",
)


def firmware(**fields: Any) -> Firmware:
    values: dict[str, Any] = {
        "location": "https://fw.example.com/volt22/2.1.bin",
        "retrieve_date_time": T0,
        "install_date_time": T0 + timedelta(hours=2),
        "signing_certificate": ca_pem(),
        "signature": SIGNATURE,
    }
    values.update(fields)
    return Firmware(**values)


def log_parameters(**fields: Any) -> LogParameters:
    values: dict[str, Any] = {
        "remote_location": "ftps://logs.example.com/upload/",
        "oldest_timestamp": T0 - timedelta(days=1),
        "latest_timestamp": T0,
    }
    values.update(fields)
    return LogParameters(**values)


# -- every operation, sent and answered ------------------------------------------------------


async def test_firmware_operations_are_sent_and_answered() -> None:
    cs = make_cs()
    async with connected(cs) as cp:
        cp.answer("GetDiagnostics", GetDiagnosticsResponse(file_name="diag-CP1.zip"))
        updated = await cs.firmware.update_firmware(
            "CP1",
            "ftp://user:secret@fw.example.com:2121/volt22.bin",
            T0 + timedelta(hours=1),
            retries=3,
            retry_interval=60,
        )
        diagnostics = await cs.firmware.get_diagnostics(
            "CP1",
            "HTTPS://diag.example.com/upload/",
            retries=0,
            retry_interval=0,
            start_time=T0 - timedelta(hours=1),
            stop_time=T0 - timedelta(hours=1),  # an empty span is allowed
        )
        plain = await cs.firmware.get_diagnostics("CP1", "sftp://diag.example.com/in")
    assert updated == UpdateFirmwareResponse()
    assert diagnostics == GetDiagnosticsResponse(file_name="diag-CP1.zip")
    assert plain.file_name == "diag-CP1.zip"
    assert cp.received == [
        UpdateFirmwareRequest(
            location="ftp://user:secret@fw.example.com:2121/volt22.bin",
            retrieve_date=T0 + timedelta(hours=1),
            retries=3,
            retry_interval=60,
        ),
        GetDiagnosticsRequest(
            location="HTTPS://diag.example.com/upload/",
            retries=0,
            retry_interval=0,
            start_time=T0 - timedelta(hours=1),
            stop_time=T0 - timedelta(hours=1),
        ),
        GetDiagnosticsRequest(location="sftp://diag.example.com/in"),
    ]


async def test_security_operations_are_sent_and_answered() -> None:
    cs = make_cs()
    chain = sign_csr(csr_pem())
    installed = GetInstalledCertificateIdsResponse(
        status=GetInstalledCertificateStatus.ACCEPTED, certificate_hash_data=(HASH_DATA,)
    )
    async with connected(cs) as cp:
        cp.answer(
            "SignedUpdateFirmware",
            SignedUpdateFirmwareResponse(status=UpdateFirmwareStatus.INVALID_CERTIFICATE),
        )
        cp.answer("GetLog", GetLogResponse(status=LogStatus.ACCEPTED, filename="security.log"))
        cp.answer(
            "InstallCertificate", InstallCertificateResponse(status=CertificateStatus.REJECTED)
        )
        cp.answer(
            "DeleteCertificate", DeleteCertificateResponse(status=DeleteCertificateStatus.NOT_FOUND)
        )
        cp.answer("GetInstalledCertificateIds", installed)
        cp.answer(
            "CertificateSigned", CertificateSignedResponse(status=CertificateSignedStatus.REJECTED)
        )
        answers = [
            await cs.security.signed_update_firmware(
                "CP1", request_id=7, firmware=firmware(), retries=2, retry_interval=30
            ),
            await cs.security.get_log(
                "CP1", log_type=LogType.SECURITY_LOG, request_id=8, log=log_parameters(), retries=1
            ),
            await cs.security.install_certificate(
                "CP1", CertificateUse.CENTRAL_SYSTEM_ROOT_CERTIFICATE, ca_pem()
            ),
            await cs.security.delete_certificate("CP1", HASH_DATA),
            await cs.security.get_installed_certificate_ids(
                "CP1", CertificateUse.MANUFACTURER_ROOT_CERTIFICATE
            ),
            await cs.security.certificate_signed("CP1", chain),
        ]
    assert answers == [
        SignedUpdateFirmwareResponse(status=UpdateFirmwareStatus.INVALID_CERTIFICATE),
        GetLogResponse(status=LogStatus.ACCEPTED, filename="security.log"),
        InstallCertificateResponse(status=CertificateStatus.REJECTED),
        DeleteCertificateResponse(status=DeleteCertificateStatus.NOT_FOUND),
        installed,
        CertificateSignedResponse(status=CertificateSignedStatus.REJECTED),
    ]
    assert cp.received == [
        SignedUpdateFirmwareRequest(
            request_id=7, firmware=firmware(), retries=2, retry_interval=30
        ),
        GetLogRequest(log_type=LogType.SECURITY_LOG, request_id=8, log=log_parameters(), retries=1),
        InstallCertificateRequest(
            certificate_type=CertificateUse.CENTRAL_SYSTEM_ROOT_CERTIFICATE, certificate=ca_pem()
        ),
        DeleteCertificateRequest(certificate_hash_data=HASH_DATA),
        GetInstalledCertificateIdsRequest(
            certificate_type=CertificateUse.MANUFACTURER_ROOT_CERTIFICATE
        ),
        CertificateSignedRequest(certificate_chain=chain),
    ]


# -- checks before sending -------------------------------------------------------------------

NAIVE = datetime(2026, 11, 24, 12, 0)
LATER = T0 + timedelta(hours=1)

Operation = Callable[[_CS], Awaitable[Any]]

REFUSED: dict[str, Operation] = {
    # UpdateFirmware: the location rule, retries, aware datetimes
    "update: empty location": lambda cs: cs.firmware.update_firmware("CP1", "", T0),
    "update: not a URI": lambda cs: cs.firmware.update_firmware("CP1", "volt22.bin", T0),
    "update: file scheme": lambda cs: cs.firmware.update_firmware(
        "CP1", "file://server/volt22.bin", T0
    ),
    "update: unknown scheme": lambda cs: cs.firmware.update_firmware(
        "CP1", "gopher://h/volt22.bin", T0
    ),
    "update: no host": lambda cs: cs.firmware.update_firmware("CP1", "https:///volt22.bin", T0),
    "update: bad port": lambda cs: cs.firmware.update_firmware(
        "CP1", "http://h:99999/volt22.bin", T0
    ),
    "update: space": lambda cs: cs.firmware.update_firmware("CP1", "http://h/volt 22.bin", T0),
    "update: newline": lambda cs: cs.firmware.update_firmware("CP1", "http://h/v.bin\n", T0),
    "update: negative retries": lambda cs: cs.firmware.update_firmware(
        "CP1", "http://h/v.bin", T0, retries=-1
    ),
    "update: negative interval": lambda cs: cs.firmware.update_firmware(
        "CP1", "http://h/v.bin", T0, retry_interval=-1
    ),
    "update: naive retrieve date": lambda cs: cs.firmware.update_firmware(
        "CP1", "http://h/v.bin", NAIVE
    ),
    # GetDiagnostics
    "diagnostics: bad location": lambda cs: cs.firmware.get_diagnostics("CP1", "ftp:/nohost"),
    "diagnostics: negative retries": lambda cs: cs.firmware.get_diagnostics(
        "CP1", "ftp://h/", retries=-2
    ),
    "diagnostics: negative interval": lambda cs: cs.firmware.get_diagnostics(
        "CP1", "ftp://h/", retry_interval=-5
    ),
    "diagnostics: start after stop": lambda cs: cs.firmware.get_diagnostics(
        "CP1", "ftp://h/", start_time=LATER, stop_time=T0
    ),
    "diagnostics: naive start": lambda cs: cs.firmware.get_diagnostics(
        "CP1", "ftp://h/", start_time=NAIVE
    ),
    "diagnostics: naive stop": lambda cs: cs.firmware.get_diagnostics(
        "CP1", "ftp://h/", stop_time=NAIVE
    ),
    # SignedUpdateFirmware
    "signed: bad location": lambda cs: cs.security.signed_update_firmware(
        "CP1", request_id=1, firmware=firmware(location="fw.example.com/v.bin")
    ),
    "signed: install before retrieve": lambda cs: cs.security.signed_update_firmware(
        "CP1", request_id=1, firmware=firmware(install_date_time=T0 - timedelta(seconds=1))
    ),
    "signed: certificate not PEM": lambda cs: cs.security.signed_update_firmware(
        "CP1", request_id=1, firmware=firmware(signing_certificate="MIIB...")
    ),
    "signed: two certificates": lambda cs: cs.security.signed_update_firmware(
        "CP1", request_id=1, firmware=firmware(signing_certificate=ca_pem() * 2)
    ),
    "signed: signature not base64": lambda cs: cs.security.signed_update_firmware(
        "CP1", request_id=1, firmware=firmware(signature="not base64!")
    ),
    "signed: empty signature": lambda cs: cs.security.signed_update_firmware(
        "CP1", request_id=1, firmware=firmware(signature="")
    ),
    "signed: negative retries": lambda cs: cs.security.signed_update_firmware(
        "CP1", request_id=1, firmware=firmware(), retries=-1
    ),
    "signed: negative interval": lambda cs: cs.security.signed_update_firmware(
        "CP1", request_id=1, firmware=firmware(), retry_interval=-1
    ),
    # GetLog
    "log: bad location": lambda cs: cs.security.get_log(
        "CP1",
        log_type=LogType.DIAGNOSTICS_LOG,
        request_id=1,
        log=log_parameters(remote_location="mailto:ops@example.com"),
    ),
    "log: oldest after latest": lambda cs: cs.security.get_log(
        "CP1",
        log_type=LogType.DIAGNOSTICS_LOG,
        request_id=1,
        log=log_parameters(oldest_timestamp=LATER, latest_timestamp=T0),
    ),
    "log: negative retries": lambda cs: cs.security.get_log(
        "CP1", log_type=LogType.SECURITY_LOG, request_id=1, log=log_parameters(), retries=-1
    ),
    "log: negative interval": lambda cs: cs.security.get_log(
        "CP1",
        log_type=LogType.SECURITY_LOG,
        request_id=1,
        log=log_parameters(),
        retry_interval=-1,
    ),
    # InstallCertificate
    "install: not PEM": lambda cs: cs.security.install_certificate(
        "CP1", CertificateUse.CENTRAL_SYSTEM_ROOT_CERTIFICATE, "a certificate"
    ),
    "install: a CSR": lambda cs: cs.security.install_certificate(
        "CP1", CertificateUse.CENTRAL_SYSTEM_ROOT_CERTIFICATE, csr_pem()
    ),
    "install: two certificates": lambda cs: cs.security.install_certificate(
        "CP1", CertificateUse.CENTRAL_SYSTEM_ROOT_CERTIFICATE, ca_pem() + ca_pem()
    ),
    "install: text around": lambda cs: cs.security.install_certificate(
        "CP1", CertificateUse.CENTRAL_SYSTEM_ROOT_CERTIFICATE, "subject=CN\n" + ca_pem()
    ),
    "install: body not base64": lambda cs: cs.security.install_certificate(
        "CP1",
        CertificateUse.CENTRAL_SYSTEM_ROOT_CERTIFICATE,
        "-----BEGIN CERTIFICATE-----\n%%%%\n-----END CERTIFICATE-----",
    ),
    "install: body not DER": lambda cs: cs.security.install_certificate(
        "CP1", CertificateUse.CENTRAL_SYSTEM_ROOT_CERTIFICATE, pem_block("CERTIFICATE", b"hello")
    ),
    "install: mismatched armour": lambda cs: cs.security.install_certificate(
        "CP1",
        CertificateUse.CENTRAL_SYSTEM_ROOT_CERTIFICATE,
        pem_block("CERTIFICATE").replace("END CERTIFICATE", "END X509 CRL"),
    ),
    "install: too long": lambda cs: cs.security.install_certificate(
        "CP1", CertificateUse.CENTRAL_SYSTEM_ROOT_CERTIFICATE, pem_of_length(5501)
    ),
    # CertificateSigned
    "signed chain: not PEM": lambda cs: cs.security.certificate_signed("CP1", "chain"),
    "signed chain: a CSR": lambda cs: cs.security.certificate_signed("CP1", csr_pem()),
    "signed chain: too long": lambda cs: cs.security.certificate_signed(
        "CP1", pem_of_length(10001, blocks=2)
    ),
}


@pytest.mark.parametrize("operation", REFUSED.values(), ids=REFUSED.keys())
async def test_a_request_failing_a_check_is_refused_and_not_sent(operation: Operation) -> None:
    cs = make_cs()
    async with connected(cs) as cp:
        with pytest.raises(InvalidRequest):
            await operation(cs)
        await cs.core.clear_cache("CP1")  # a later call goes out: the check sent nothing before it
    assert [r.action for r in cp.received] == ["ClearCache"]


async def test_the_longest_allowed_pem_texts_are_sent() -> None:
    cs = make_cs()
    async with connected(cs) as cp:
        await cs.security.install_certificate(
            "CP1", CertificateUse.MANUFACTURER_ROOT_CERTIFICATE, pem_of_length(5500)
        )
        await cs.security.certificate_signed("CP1", pem_of_length(10000, blocks=2))
    assert [r.action for r in cp.received] == ["InstallCertificate", "CertificateSigned"]


# -- errata 3.90: SupportedFileTransferProtocols ---------------------------------------------


def transfers(location: str) -> dict[str, Operation]:
    """The four operations that send a file location, each sending ``location``."""
    return {
        "UpdateFirmware": lambda cs: cs.firmware.update_firmware("CP1", location, T0),
        "GetDiagnostics": lambda cs: cs.firmware.get_diagnostics("CP1", location),
        "SignedUpdateFirmware": lambda cs: cs.security.signed_update_firmware(
            "CP1", request_id=1, firmware=firmware(location=location)
        ),
        "GetLog": lambda cs: cs.security.get_log(
            "CP1",
            log_type=LogType.DIAGNOSTICS_LOG,
            request_id=1,
            log=log_parameters(remote_location=location),
        ),
    }


async def reported_protocols(cs: _CS, value: str) -> None:
    await cs.stores.configuration.put(
        "CP1", [KeyValue(key="SupportedFileTransferProtocols", readonly=True, value=value)]
    )


@pytest.mark.parametrize(
    "action", ["UpdateFirmware", "GetDiagnostics", "SignedUpdateFirmware", "GetLog"]
)
async def test_errata_3_90_a_location_must_use_a_protocol_the_charge_point_reported(
    action: str,
) -> None:
    cs = make_cs()
    await reported_protocols(cs, "HTTPS, ftps")  # a CSL, any case, spaces around
    async with connected(cs) as cp:
        for location in ("http://h/f", "ftp://h/f", "sftp://h/f"):
            with pytest.raises(InvalidRequest, match="SupportedFileTransferProtocols"):
                await transfers(location)[action](cs)
        await transfers("https://h/f")[action](cs)
        await transfers("FTPS://h/f")[action](cs)
    assert [r.action for r in cp.received] == [action, action]


@pytest.mark.parametrize(
    "action", ["UpdateFirmware", "GetDiagnostics", "SignedUpdateFirmware", "GetLog"]
)
async def test_errata_3_90_without_the_key_the_fixed_schemes_apply(action: str) -> None:
    cs = make_cs()
    async with connected(cs) as cp:
        for location in ("http://h/f", "ftp://h/f", "sftp://h/f"):
            await transfers(location)[action](cs)
        with pytest.raises(InvalidRequest, match="schemes"):
            await transfers("gopher://h/f")[action](cs)
        # A key naming no protocol we know tells nothing: the fixed list applies.
        await reported_protocols(cs, "SCP, TFTP")
        await transfers("http://h/f")[action](cs)
        # SFTP, which later OCPP versions add, is understood too; the general rule still holds.
        await reported_protocols(cs, "SFTP")
        await transfers("sftp://h/f")[action](cs)
        with pytest.raises(InvalidRequest, match="names no host"):
            await transfers("sftp:///f")[action](cs)
    assert [r.action for r in cp.received] == [action] * 5


# -- status views ----------------------------------------------------------------------------


async def test_status_views_keep_the_newest_report_per_charge_point() -> None:
    cs = make_cs(("CP1", "CP2"))
    clock = cs.clock
    assert isinstance(clock, FakeClock)
    assert cs.firmware.firmware_status("CP1") is None
    assert cs.firmware.diagnostics_status("CP1") is None
    assert cs.firmware.log_status("CP1") is None
    async with connected(cs, "CP1") as cp1, connected(cs, "CP2") as cp2:
        await cp1.call(FirmwareStatusNotificationRequest(status=FirmwareStatus.DOWNLOADING))
        clock.advance(60)
        await cp2.call(FirmwareStatusNotificationRequest(status=FirmwareStatus.DOWNLOAD_FAILED))
        clock.advance(60)
        await cp1.call(FirmwareStatusNotificationRequest(status=FirmwareStatus.INSTALLED))
        await cp1.call(DiagnosticsStatusNotificationRequest(status=DiagnosticsStatus.UPLOADING))
        clock.advance(5)
        await cp1.call(DiagnosticsStatusNotificationRequest(status=DiagnosticsStatus.UPLOADED))
        assert cs.firmware.firmware_status("CP1") == FirmwareStatusReport(
            status=FirmwareStatus.INSTALLED, signed=False, received_at=T0 + timedelta(seconds=120)
        )
        assert cs.firmware.firmware_status("CP2") == FirmwareStatusReport(
            status=FirmwareStatus.DOWNLOAD_FAILED,
            signed=False,
            received_at=T0 + timedelta(seconds=60),
        )
        assert cs.firmware.diagnostics_status("CP1") == DiagnosticsStatusReport(
            status=DiagnosticsStatus.UPLOADED, received_at=T0 + timedelta(seconds=125)
        )
        assert cs.firmware.diagnostics_status("CP2") is None
        # A signed update's notification replaces an unsigned one: it is the newest.
        await cp2.call(
            SignedFirmwareStatusNotificationRequest(
                status=FirmwareStatusEnumType.INVALID_SIGNATURE, request_id=9
            )
        )
        assert cs.firmware.firmware_status("CP2") == FirmwareStatusReport(
            status=FirmwareStatusEnumType.INVALID_SIGNATURE,
            signed=True,
            request_id=9,
            received_at=T0 + timedelta(seconds=125),
        )
        assert cs.firmware.firmware_status("CP1").status is FirmwareStatus.INSTALLED  # type: ignore[union-attr]
    # Connection-independent: the views outlive the connections.
    assert not cs.is_connected("CP1")
    assert cs.firmware.firmware_status("CP1").status is FirmwareStatus.INSTALLED  # type: ignore[union-attr]
    assert cs.firmware.diagnostics_status("CP1").status is DiagnosticsStatus.UPLOADED  # type: ignore[union-attr]


async def test_log_status_is_kept_per_request_id() -> None:
    cs = make_cs(("CP1", "CP2"))
    async with connected(cs, "CP1") as cp1, connected(cs, "CP2") as cp2:
        for request_id, status in (
            (1, UploadLogStatus.UPLOADING),
            (2, UploadLogStatus.UPLOADING),
            (1, UploadLogStatus.UPLOADED),
            (2, UploadLogStatus.PERMISSION_DENIED),
        ):
            await cp1.call(LogStatusNotificationRequest(status=status, request_id=request_id))
        await cp2.call(LogStatusNotificationRequest(status=UploadLogStatus.IDLE))
    at = T0
    assert cs.firmware.log_status("CP1", 1) == LogStatusReport(
        status=UploadLogStatus.UPLOADED, request_id=1, received_at=at
    )
    assert cs.firmware.log_status("CP1", 2) == LogStatusReport(
        status=UploadLogStatus.PERMISSION_DENIED, request_id=2, received_at=at
    )
    assert cs.firmware.log_status("CP1") == cs.firmware.log_status(
        "CP1", 2
    )  # the newest of any request
    assert cs.firmware.log_status("CP1", 3) is None
    assert cs.firmware.log_status("CP2") == LogStatusReport(
        status=UploadLogStatus.IDLE, received_at=at
    )
    assert cs.firmware.log_status("CP2", 1) is None


async def test_log_status_keeps_the_sixteen_newest_request_ids() -> None:
    cs = make_cs()
    async with connected(cs) as cp:
        for request_id in range(1, 18):
            await cp.call(
                LogStatusNotificationRequest(
                    status=UploadLogStatus.UPLOADING, request_id=request_id
                )
            )
        assert cs.firmware.log_status("CP1", 1) is None  # the 17th pushed out the oldest
        assert cs.firmware.log_status("CP1", 2) is not None
        # Reporting on an old request again makes it one of the newest: 3 goes next.
        await cp.call(LogStatusNotificationRequest(status=UploadLogStatus.UPLOADED, request_id=2))
        assert cs.firmware.log_status("CP1").request_id == 2  # type: ignore[union-attr]
        await cp.call(LogStatusNotificationRequest(status=UploadLogStatus.IDLE))
    assert cs.firmware.log_status("CP1", 3) is None
    assert cs.firmware.log_status("CP1", 2).status is UploadLogStatus.UPLOADED  # type: ignore[union-attr]
    assert cs.firmware.log_status("CP1", 4) is not None
    assert cs.firmware.log_status("CP1") == LogStatusReport(
        status=UploadLogStatus.IDLE, received_at=T0
    )


async def test_status_views_follow_a_host_handler_too() -> None:
    cs = make_cs()
    seen: list[FirmwareStatus] = []

    @cs.on(FirmwareStatusNotificationRequest)
    async def firmware_status(
        request: FirmwareStatusNotificationRequest, context: Any
    ) -> FirmwareStatusNotificationResponse:
        seen.append(request.status)
        return FirmwareStatusNotificationResponse()

    async with connected(cs) as cp:
        await cp.call(FirmwareStatusNotificationRequest(status=FirmwareStatus.INSTALLING))
    assert seen == [FirmwareStatus.INSTALLING]
    assert cs.firmware.firmware_status("CP1").status is FirmwareStatus.INSTALLING  # type: ignore[union-attr]


# -- SignCertificate -------------------------------------------------------------------------


def security_records(caplog: pytest.LogCaptureFixture, level: int) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "ocpp16csms.security" and r.levelno == level]


async def test_sign_certificate_without_a_signer_is_not_supported() -> None:
    cs = make_cs()
    async with cs, connected(cs) as cp:
        with pytest.raises(CallErrorReceived) as raised:
            await cp.call(SignCertificateRequest(csr=csr_pem()))
    assert raised.value.code == ErrorCode.NOT_SUPPORTED


async def test_a_signed_chain_is_sent_after_the_accepted_answer() -> None:
    cs = make_cs()
    order: list[str] = []
    calls: list[tuple[str, str]] = []
    chains: list[str] = []

    async def signer(charge_point_id: str, csr: str) -> str:
        order.append("signer called")
        calls.append((charge_point_id, csr))
        chains.append(sign_csr(csr))
        return chains[-1]

    @cs.observe
    def answered(event: object) -> None:
        if isinstance(event, Exchange) and isinstance(event.request, SignCertificateRequest):
            order.append("answer sent")

    cs.security.set_certificate_signer(signer)
    async with cs, connected(cs) as cp:
        answer = await cp.call(SignCertificateRequest(csr=csr_pem()))
        await wait_until(lambda: cp.received_of(CertificateSignedRequest))
    assert answer.status is GenericStatus.ACCEPTED
    assert order == ["answer sent", "signer called"]
    assert calls == [("CP1", csr_pem())]
    (delivered,) = cp.received_of(CertificateSignedRequest)
    assert [delivered.certificate_chain] == chains
    leaf, ca = x509.load_pem_x509_certificates(delivered.certificate_chain.encode())
    assert leaf.subject == x509.load_pem_x509_csr(csr_pem().encode()).subject
    assert leaf.issuer == ca.subject == _ca()[1].subject


async def test_signing_requests_of_two_charge_points_go_to_each() -> None:
    cs = make_cs(("CP1", "CP2"))

    async def signer(charge_point_id: str, csr: str) -> str:
        return sign_csr(csr)

    cs.security.set_certificate_signer(signer)
    async with cs, connected(cs, "CP1") as cp1, connected(cs, "CP2") as cp2:
        await cp1.call(SignCertificateRequest(csr=csr_pem("CP1")))
        await cp2.call(SignCertificateRequest(csr=csr_pem("CP2")))
        await wait_until(
            lambda: (
                cp1.received_of(CertificateSignedRequest)
                and cp2.received_of(CertificateSignedRequest)
            )
        )
    for cp, name in ((cp1, "CP1"), (cp2, "CP2")):
        (delivered,) = cp.received_of(CertificateSignedRequest)
        leaf = x509.load_pem_x509_certificates(delivered.certificate_chain.encode())[0]
        assert leaf.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == name


@pytest.mark.parametrize(
    "csr",
    [
        "not a CSR",
        pem_block("CERTIFICATE"),  # a certificate, not a request
        pem_block("CERTIFICATE REQUEST", b"not DER"),
        "-----BEGIN CERTIFICATE REQUEST-----\n%%%\n-----END CERTIFICATE REQUEST-----",
    ],
    ids=["text", "certificate", "not DER", "not base64"],
)
async def test_a_csr_that_is_not_pem_is_rejected(
    csr: str, caplog: pytest.LogCaptureFixture
) -> None:
    cs = make_cs()
    called: list[str] = []

    async def signer(charge_point_id: str, csr: str) -> str:
        called.append(csr)
        return sign_csr(csr)

    cs.security.set_certificate_signer(signer)
    async with cs, connected(cs) as cp:
        answer = await cp.call(SignCertificateRequest(csr=csr))
        await anyio.sleep(0.05)
    assert answer.status is GenericStatus.REJECTED
    assert called == []
    assert cp.received_of(CertificateSignedRequest) == []
    assert "the CSR" in security_records(caplog, logging.WARNING)[0].getMessage()


async def test_the_legacy_new_certificate_request_label_is_accepted() -> None:
    cs = make_cs()

    async def signer(charge_point_id: str, csr: str) -> str:
        return ca_pem()

    cs.security.set_certificate_signer(signer)
    legacy = csr_pem().replace("CERTIFICATE REQUEST", "NEW CERTIFICATE REQUEST")
    async with cs, connected(cs) as cp:
        answer = await cp.call(SignCertificateRequest(csr=legacy))
        await wait_until(lambda: cp.received_of(CertificateSignedRequest))
    assert answer.status is GenericStatus.ACCEPTED


async def test_an_approver_that_refuses_answers_rejected_and_nothing_is_signed() -> None:
    cs = make_cs(("CP1", "CP2"))
    signed: list[str] = []

    async def signer(charge_point_id: str, csr: str) -> str:
        signed.append(charge_point_id)
        return sign_csr(csr)

    async def approve(charge_point_id: str, csr: str) -> bool:
        return charge_point_id == "CP2"

    cs.security.set_certificate_signer(signer, approve=approve)
    async with cs, connected(cs, "CP1") as cp1, connected(cs, "CP2") as cp2:
        refused = await cp1.call(SignCertificateRequest(csr=csr_pem("CP1")))
        approved = await cp2.call(SignCertificateRequest(csr=csr_pem("CP2")))
        await wait_until(lambda: cp2.received_of(CertificateSignedRequest))
    assert (refused.status, approved.status) == (GenericStatus.REJECTED, GenericStatus.ACCEPTED)
    assert signed == ["CP2"]
    assert cp1.received_of(CertificateSignedRequest) == []


async def test_a_signer_that_refuses_sends_nothing(caplog: pytest.LogCaptureFixture) -> None:
    cs = make_cs()

    async def signer(charge_point_id: str, csr: str) -> str | None:
        return None

    cs.security.set_certificate_signer(signer)
    async with cs, connected(cs) as cp:
        # The answer goes out before the signer is asked (whitepaper §5.17).
        answer = await cp.call(SignCertificateRequest(csr=csr_pem()))
        await wait_until(lambda: security_records(caplog, logging.WARNING))
        await cs.core.clear_cache("CP1")
    assert answer.status is GenericStatus.ACCEPTED
    assert "refused" in security_records(caplog, logging.WARNING)[0].getMessage()
    assert [r.action for r in cp.received] == ["ClearCache"]


async def test_a_failing_signer_is_logged_and_the_central_system_keeps_running(
    caplog: pytest.LogCaptureFixture,
) -> None:
    cs = make_cs()
    attempts: list[int] = []

    async def signer(charge_point_id: str, csr: str) -> str:
        attempts.append(1)
        if len(attempts) == 1:
            raise ConnectionError("the CA is down")
        return sign_csr(csr)

    cs.security.set_certificate_signer(signer)
    answered: list[Exchange] = []

    @cs.observe
    def certificate_signed(event: object) -> None:
        if isinstance(event, Exchange) and isinstance(event.request, CertificateSignedRequest):
            answered.append(event)

    async with cs, connected(cs) as cp:
        first = await cp.call(SignCertificateRequest(csr=csr_pem()))
        await wait_until(lambda: security_records(caplog, logging.ERROR))
        assert cp.received_of(CertificateSignedRequest) == []
        # The background task group survived: the next CSR is signed.
        second = await cp.call(SignCertificateRequest(csr=csr_pem()))
        # Until the answer is back: closing earlier would fail that call (another error).
        await wait_until(lambda: answered)
    assert answered[0].response is not None
    assert (first.status, second.status) == (GenericStatus.ACCEPTED, GenericStatus.ACCEPTED)
    (error,) = security_records(caplog, logging.ERROR)
    assert error.exc_info is not None
    assert isinstance(error.exc_info[1], ConnectionError)
    assert error.charge_point_id == "CP1"  # type: ignore[attr-defined]


async def test_a_chain_that_is_not_pem_is_logged_and_not_sent(
    caplog: pytest.LogCaptureFixture,
) -> None:
    cs = make_cs()

    async def signer(charge_point_id: str, csr: str) -> str:
        return "not a chain"

    cs.security.set_certificate_signer(signer)
    async with cs, connected(cs) as cp:
        await cp.call(SignCertificateRequest(csr=csr_pem()))
        await wait_until(lambda: security_records(caplog, logging.ERROR))
    assert cp.received_of(CertificateSignedRequest) == []
    (error,) = security_records(caplog, logging.ERROR)
    assert isinstance(error.exc_info[1], InvalidRequest)  # type: ignore[index]


async def test_a_chain_the_charge_point_rejects_is_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    cs = make_cs()

    async def signer(charge_point_id: str, csr: str) -> str:
        return sign_csr(csr)

    cs.security.set_certificate_signer(signer)
    async with cs, connected(cs) as cp:
        cp.answer(
            "CertificateSigned", CertificateSignedResponse(status=CertificateSignedStatus.REJECTED)
        )
        await cp.call(SignCertificateRequest(csr=csr_pem()))
        await wait_until(lambda: security_records(caplog, logging.WARNING))
    assert len(cp.received_of(CertificateSignedRequest)) == 1
    assert "Rejected" in security_records(caplog, logging.WARNING)[0].getMessage()


async def test_an_accepted_answer_that_fails_afterwards_signs_nothing() -> None:
    cs = make_cs()
    signed: list[str] = []
    failures = [RuntimeError("the store is down")]

    async def signer(charge_point_id: str, csr: str) -> str:
        signed.append(csr)
        return sign_csr(csr)

    async def hook(request: Any, response: Any, context: Any) -> None:
        if failures:
            raise failures.pop()

    cs.security.set_certificate_signer(signer)
    cs.add_answer_hook(SignCertificateRequest, hook)  # runs after our handler's Accepted
    async with cs, connected(cs) as cp:
        with pytest.raises(CallErrorReceived) as raised:
            await cp.call(SignCertificateRequest(csr=csr_pem("CP1")))
        retried = await cp.call(SignCertificateRequest(csr=csr_pem("CP1-retry")))
        await wait_until(lambda: cp.received_of(CertificateSignedRequest))
    assert raised.value.code == ErrorCode.INTERNAL_ERROR
    assert retried.status is GenericStatus.ACCEPTED
    assert signed == [csr_pem("CP1-retry")]


async def test_sign_certificate_is_rejected_while_the_central_system_is_not_running(
    caplog: pytest.LogCaptureFixture,
) -> None:
    cs = make_cs()
    called: list[str] = []

    async def signer(charge_point_id: str, csr: str) -> str:
        called.append(csr)
        return sign_csr(csr)

    cs.security.set_certificate_signer(signer)
    async with connected(cs) as cp:  # served, but not under `async with cs`
        answer = await cp.call(SignCertificateRequest(csr=csr_pem()))
    assert answer.status is GenericStatus.REJECTED
    assert called == []
    assert "not running" in security_records(caplog, logging.WARNING)[0].getMessage()


async def test_removing_the_signer_makes_sign_certificate_not_supported_again() -> None:
    cs = make_cs()

    async def signer(charge_point_id: str, csr: str) -> str:
        return sign_csr(csr)

    cs.security.set_certificate_signer(signer)
    cs.security.set_certificate_signer(None)
    async with cs, connected(cs) as cp:
        with pytest.raises(CallErrorReceived) as raised:
            await cp.call(SignCertificateRequest(csr=csr_pem()))
    assert raised.value.code == ErrorCode.NOT_SUPPORTED


async def test_removing_the_signer_keeps_a_host_handler() -> None:
    cs = make_cs()

    @cs.on(SignCertificateRequest)
    async def host_handler(request: SignCertificateRequest, context: Any) -> Any:
        raise AssertionError("not called")  # pragma: no cover

    cs.security.set_certificate_signer(None)
    assert cs.handler_for(SignCertificateRequest) is host_handler
