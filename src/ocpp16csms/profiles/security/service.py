"""Security whitepaper operations (OCPP 1.6 security extensions, edition 2, §5) and SignCertificate.

:class:`SecurityService` sends SignedUpdateFirmware, GetLog, InstallCertificate,
DeleteCertificate, GetInstalledCertificateIds and CertificateSigned after checking what can be
checked before sending, and serves SignCertificate with a host-provided
:data:`CertificateSigner`: the charge point is answered first, then the CSR is signed and the
chain sent with CertificateSigned in the background (whitepaper §5.17, use case A02/A03).
``docs/firmware-and-security.md`` has the rules.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Awaitable, Callable
from datetime import UTC

import anyio.to_thread
import attrs

from ..._logging import get_logger, message_context
from ..._trusted import trusted_factory
from ...checks import build_request, check_retries, check_time_span, check_transfer_location
from ...datatypes import CertificateHashData, Firmware, LogParameters
from ...engine import CallContext, Engine, acknowledge
from ...enums import (
    CertificateSignedStatus,
    CertificateUse,
    ConfigurationStatus,
    GenericStatus,
    LogType,
)
from ...errors import InvalidRequest
from ...messages import (
    CertificateSignedRequest,
    CertificateSignedResponse,
    DeleteCertificateRequest,
    DeleteCertificateResponse,
    GetInstalledCertificateIdsRequest,
    GetInstalledCertificateIdsResponse,
    GetLogRequest,
    GetLogResponse,
    InstallCertificateRequest,
    InstallCertificateResponse,
    SecurityEventNotificationRequest,
    SecurityEventNotificationResponse,
    SignCertificateRequest,
    SignCertificateResponse,
    SignedUpdateFirmwareRequest,
    SignedUpdateFirmwareResponse,
)
from ...messages.core import ChangeConfigurationRequest, ChangeConfigurationResponse
from ...pem import CERTIFICATE, CERTIFICATE_REQUEST, pem_problem
from ...stores.device_state import (
    DeviceStateStore,
    SecurityEventRecord,
    TransferKind,
    TransferRequest,
    remember_request,
)
from ...stores.records import ChargePointRecord, ChargePointStore, ConfigurationStore
from .passwords import hash_password, password_problem

__all__ = ["CertificateApprover", "CertificateSigner", "SecurityService"]

log = get_logger("ocpp16csms.security")

_security_event = trusted_factory(SecurityEventRecord)

CertificateSigner = Callable[[str, str], Awaitable[str | None]]
"""``async def signer(charge_point_id, csr_pem) -> str | None``: have the CSR signed (by the
host's certificate authority) and return the PEM certificate chain for CertificateSigned, or
None to refuse. Called in the background, after the charge point got its Accepted."""

CertificateApprover = Callable[[str, str], Awaitable[bool]]
"""``async def approve(charge_point_id, csr_pem) -> bool``: a quick decision awaited *before*
SignCertificate is answered (False answers Rejected, and the signer is not called)."""


# Accepted CSRs waiting for their answer to go out. An entry normally lives only until the
# answer is flushed; one whose answer was dropped (the connection closed) stays, so keep few.
_PENDING_MAX = 256


def check_certificate(text: str, field: str, *, many: bool = False) -> None:
    """Raise :class:`InvalidRequest` unless ``text`` is PEM ``CERTIFICATE`` text: one block, or
    with ``many`` a chain. (The message classes hold the whitepaper's length limits.)"""
    problem = pem_problem(text, CERTIFICATE, many=many)
    if problem is not None:
        raise InvalidRequest(f"{field} {problem}")


class SecurityService:
    """The security whitepaper's operations (``central_system.security``), the
    SignCertificate flow with a host's certificate signer, SecurityEventNotification, and
    the charge point's HTTP Basic password (AuthorizationKey)."""

    def __init__(
        self,
        engine: Engine,
        *,
        charge_points: ChargePointStore,
        configuration: ConfigurationStore,
        device_state: DeviceStateStore | None = None,
    ) -> None:
        self._engine = engine
        self._device_state = device_state
        self._charge_points = charge_points
        self._configuration = configuration
        self._certificate_signer: CertificateSigner | None = None
        self._certificate_approver: CertificateApprover | None = None
        self._signing_requests: dict[tuple[str, str], str] = {}
        engine.set_handler(
            SecurityEventNotificationRequest, acknowledge(SecurityEventNotificationResponse)
        )
        engine.after(SignCertificateRequest)(self._after_sign_certificate)
        if device_state is not None:
            engine.add_answer_hook(SecurityEventNotificationRequest, self._record_security_event)

    async def set_authorization_key(
        self, charge_point_id: str, password: str
    ) -> ChangeConfigurationResponse:
        """Give the charge point a new HTTP Basic password (whitepaper §2.2, AuthorizationKey).

        The password must be 16 to 40 characters. On Accepted only its salted hash is stored,
        in the charge point record, so the next connection must use it; it is never stored or
        logged in plain text.
        """
        if not 16 <= len(password) <= 40:
            raise InvalidRequest("an AuthorizationKey is 16 to 40 characters long")
        problem = password_problem(password)
        if problem is not None:
            raise InvalidRequest(problem)
        known = (await self._configuration.get(charge_point_id)).get("AuthorizationKey")
        if known is not None and known.readonly:
            raise InvalidRequest(f"AuthorizationKey is read-only on {charge_point_id!r}")
        record = await self._charge_points.get(charge_point_id)
        request = build_request(ChangeConfigurationRequest, key="AuthorizationKey", value=password)
        response = await self._engine.call(charge_point_id, request)
        if response.status in (ConfigurationStatus.ACCEPTED, ConfigurationStatus.REBOOT_REQUIRED):
            record = record or ChargePointRecord(charge_point_id=charge_point_id)
            hashed = await anyio.to_thread.run_sync(hash_password, password)
            await self._charge_points.save(attrs.evolve(record, password_hash=hashed))
        return response

    # -- firmware and logs --------------------------------------------------------------------

    async def signed_update_firmware(
        self,
        charge_point_id: str,
        *,
        request_id: int,
        firmware: Firmware,
        retries: int | None = None,
        retry_interval: int | None = None,
    ) -> SignedUpdateFirmwareResponse:
        """Whitepaper §5.21: have the charge point fetch, verify and install signed firmware.

        Checked before sending (:class:`InvalidRequest`, nothing sent): ``firmware.location``
        as for UpdateFirmware (a URI with a host and a file transfer scheme the charge point
        supports, errata 3.90); the install date, when given, not before the retrieve date;
        ``signing_certificate`` one PEM certificate;
        ``signature`` non-empty base64; ``retries`` and ``retry_interval`` at least 0. Progress
        arrives as SignedFirmwareStatusNotification (see ``firmware_status``).
        """
        request = build_request(
            SignedUpdateFirmwareRequest,
            request_id=request_id,
            firmware=firmware,
            retries=retries,
            retry_interval=retry_interval,
        )
        await check_transfer_location(
            self._configuration, charge_point_id, firmware.location, "firmware.location"
        )
        check_time_span(
            firmware.retrieve_date_time,
            firmware.install_date_time,
            ("firmware.retrieve_date_time", "firmware.install_date_time"),
        )
        check_certificate(firmware.signing_certificate, "firmware.signing_certificate")
        try:
            signature = base64.b64decode(firmware.signature, validate=True)
        except (binascii.Error, ValueError):
            signature = b""
        if not signature:
            raise InvalidRequest("firmware.signature must be non-empty base64")
        check_retries(retries, retry_interval)
        response = await self._engine.call(charge_point_id, request)
        await remember_request(
            self._device_state,
            TransferRequest(
                charge_point_id=charge_point_id,
                kind=TransferKind.SIGNED_FIRMWARE,
                request_id=request_id,
                location=firmware.location,
                requested_at=self._engine.clock(),
                retrieve_date=firmware.retrieve_date_time,
                install_date=firmware.install_date_time,
                retries=retries,
                retry_interval=retry_interval,
            ),
        )
        return response

    async def get_log(
        self,
        charge_point_id: str,
        *,
        log_type: LogType,
        request_id: int,
        log: LogParameters,
        retries: int | None = None,
        retry_interval: int | None = None,
    ) -> GetLogResponse:
        """Whitepaper §5.9: have the charge point upload a diagnostics or security log.

        Checked before sending: ``log.remote_location`` as for GetDiagnostics,
        ``log.oldest_timestamp`` not after ``log.latest_timestamp``, ``retries`` and
        ``retry_interval`` at least 0. Progress arrives as LogStatusNotification (see
        ``log_status``).
        """
        request = build_request(
            GetLogRequest,
            log_type=log_type,
            request_id=request_id,
            log=log,
            retries=retries,
            retry_interval=retry_interval,
        )
        await check_transfer_location(
            self._configuration, charge_point_id, log.remote_location, "log.remote_location"
        )
        check_time_span(
            log.oldest_timestamp,
            log.latest_timestamp,
            ("log.oldest_timestamp", "log.latest_timestamp"),
        )
        check_retries(retries, retry_interval)
        response = await self._engine.call(charge_point_id, request)
        await remember_request(
            self._device_state,
            TransferRequest(
                charge_point_id=charge_point_id,
                kind=TransferKind.LOG,
                request_id=request_id,
                location=log.remote_location,
                requested_at=self._engine.clock(),
                retries=retries,
                retry_interval=retry_interval,
                start_time=log.oldest_timestamp,
                stop_time=log.latest_timestamp,
                log_type=log_type,
                file_name=response.filename,
            ),
        )
        return response

    async def _record_security_event(
        self,
        request: SecurityEventNotificationRequest,
        response: object,
        context: CallContext,
    ) -> None:
        # An answer hook: the event is kept before the charge point is told (it retries).
        assert self._device_state is not None
        timestamp, received_at = request.timestamp, context.received_at
        # Both date-times in UTC pass the record's only checks (aware ones): then it is built
        # without running them.
        usual = timestamp.tzinfo is UTC and received_at.tzinfo is UTC
        await self._device_state.add_security_event(
            (_security_event if usual else SecurityEventRecord)(
                charge_point_id=context.charge_point_id,
                type=request.type,
                timestamp=timestamp,
                tech_info=request.tech_info,
                received_at=received_at,
            )
        )

    # -- certificates -------------------------------------------------------------------------

    async def install_certificate(
        self, charge_point_id: str, certificate_type: CertificateUse, certificate_pem: str
    ) -> InstallCertificateResponse:
        """Whitepaper §5.11: install a root certificate (one PEM ``CERTIFICATE`` block, at most
        5500 characters; checked before sending)."""
        request = build_request(
            InstallCertificateRequest,
            certificate_type=certificate_type,
            certificate=certificate_pem,
        )
        check_certificate(certificate_pem, "certificate")
        return await self._engine.call(charge_point_id, request)

    async def delete_certificate(
        self, charge_point_id: str, certificate_hash_data: CertificateHashData
    ) -> DeleteCertificateResponse:
        """Whitepaper §5.3: delete the installed certificate the hash data identify."""
        request = build_request(
            DeleteCertificateRequest, certificate_hash_data=certificate_hash_data
        )
        return await self._engine.call(charge_point_id, request)

    async def get_installed_certificate_ids(
        self, charge_point_id: str, certificate_type: CertificateUse
    ) -> GetInstalledCertificateIdsResponse:
        """Whitepaper §5.7: the hash data of the installed root certificates of one kind."""
        request = build_request(
            GetInstalledCertificateIdsRequest, certificate_type=certificate_type
        )
        return await self._engine.call(charge_point_id, request)

    async def certificate_signed(
        self, charge_point_id: str, certificate_chain_pem: str
    ) -> CertificateSignedResponse:
        """Whitepaper §5.1: deliver a signed charge point certificate, with its sub-CA
        certificates (PEM ``CERTIFICATE`` blocks, at most 10000 characters; checked before
        sending)."""
        request = build_request(CertificateSignedRequest, certificate_chain=certificate_chain_pem)
        check_certificate(certificate_chain_pem, "certificate chain", many=True)
        return await self._engine.call(charge_point_id, request)

    # -- SignCertificate ------------------------------------------------------------------------

    def set_certificate_signer(
        self,
        signer: CertificateSigner | None,
        *,
        approve: CertificateApprover | None = None,
    ) -> None:
        """Serve SignCertificate with ``signer`` (whitepaper §5.17), replacing any handler of
        it; None stops serving it (unless a host handler serves it).

        A CSR is answered Rejected when it is not one PEM ``CERTIFICATE REQUEST`` block, when
        the central system is not running (``async with central_system:``, which owns the
        background tasks), or when ``approve`` (awaited before answering) says False;
        otherwise Accepted. Only once that answer is sent is ``signer`` called, in the
        background; the chain it returns goes to the charge point with CertificateSigned. A
        signer that returns None, raises, or returns no valid chain, and a CertificateSigned
        that fails or is not Accepted, are logged; nothing is retried (the host can ask again
        with ExtendedTriggerMessage SignChargePointCertificate).
        """
        self._certificate_signer = signer
        self._certificate_approver = approve if signer is not None else None
        if signer is None:
            if self._engine.handler_for(SignCertificateRequest) == self._sign_certificate:
                self._engine.set_handler(SignCertificateRequest, None)
        else:
            self._engine.set_handler(SignCertificateRequest, self._sign_certificate)

    async def _sign_certificate(
        self, request: SignCertificateRequest, context: CallContext
    ) -> SignCertificateResponse:
        cp = context.charge_point_id
        reason = pem_problem(request.csr, CERTIFICATE_REQUEST)
        if reason is not None:
            reason = f"the CSR {reason}"
        elif not self._engine.is_running:
            reason = "the central system is not running (async with central_system:)"
        elif self._certificate_approver is not None and not await self._certificate_approver(
            cp, request.csr
        ):
            reason = "the approver refused it"
        if reason is not None:
            log.warning("[%s] SignCertificate rejected: %s", cp, reason)
            return SignCertificateResponse(status=GenericStatus.REJECTED)
        # Signed only once the Accepted has gone out: see _after_sign_certificate.
        pending = self._signing_requests
        pending[(cp, context.message_id)] = request.csr
        while len(pending) > _PENDING_MAX:
            del pending[next(iter(pending))]
        return SignCertificateResponse(status=GenericStatus.ACCEPTED)

    async def _after_sign_certificate(
        self, request: SignCertificateRequest, response: object, context: CallContext
    ) -> None:
        """After hook: start signing once our Accepted answer to a SignCertificate was sent."""
        cp, message_id = context.charge_point_id, context.message_id
        csr = self._signing_requests.pop((cp, message_id), None)
        # Nothing to sign unless this very CSR was answered Accepted: an answer hook may have
        # turned the answer into a CallError, and a charge point may reuse a message id.
        if (
            csr != request.csr
            or not isinstance(response, SignCertificateResponse)
            or response.status is not GenericStatus.ACCEPTED
        ):
            return
        if not self._engine.is_running:
            log.warning(
                "[%s] message %s: CSR accepted but not signed: the central system stopped",
                cp,
                message_id,
            )
            return
        self._engine.spawn(self._sign_and_deliver, cp, message_id, csr)

    async def _sign_and_deliver(self, charge_point_id: str, message_id: str, csr: str) -> None:
        # Runs in the central system's background task group: it must not raise, or the group
        # (and every periodic job in it) would be cancelled.
        with message_context(charge_point_id, message_id):
            signer = self._certificate_signer
            try:
                if signer is None:
                    log.warning("[%s] CSR accepted, but the signer was removed", charge_point_id)
                    return
                chain = await signer(charge_point_id, csr)
                if chain is None:
                    log.warning("[%s] the certificate signer refused the CSR", charge_point_id)
                    return
                response = await self.certificate_signed(charge_point_id, chain)
            except Exception:
                log.exception("[%s] signing the CSR failed", charge_point_id)
                return
            if response.status is not CertificateSignedStatus.ACCEPTED:
                log.warning(
                    "[%s] the charge point answered CertificateSigned with %s",
                    charge_point_id,
                    response.status.value,
                )
            else:
                log.info("[%s] signed certificate delivered", charge_point_id)
