"""The Plug & Charge service: the application note's nine exchanges over DataTransfer.

:class:`PlugAndChargeService` (``central_system.plug_and_charge``) answers the four requests a
charge point sends inside DataTransfer (Authorize, GetCertificateStatus, SignCertificate,
Get15118EVCertificate) through the host's seams (:mod:`.seams`), and sends the five of the
central system (CertificateSigned, InstallCertificate, DeleteCertificate,
GetInstalledCertificateIds, TriggerMessage) as typed awaitable operations with the DataTransfer
wrapping invisible. It keeps each charge point's certificate state (:mod:`.store`), signs V2G
CSRs in the background with retries, and asks for a new V2G certificate ahead of expiry.
``docs/plug-and-charge.md`` has the flows and the rules.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any, TypeVar, cast

import attrs

from ..._logging import get_logger
from ...checks import build_request
from ...engine import CallContext, Engine
from ...enums import ConfigurationStatus, DataTransferStatus
from ...errors import InvalidRequest
from ...messages.core import (
    ChangeConfigurationRequest,
    DataTransferRequest,
    DataTransferResponse,
    GetConfigurationRequest,
)
from ...pem import CERTIFICATE, CERTIFICATE_REQUEST, pem_problem
from ...stores.records import ConfigurationStore, IdTagStore, StoreError
from ._signing import CertificateState, SigningFlow
from .codec import PncCodec
from .configuration import PNC_CONFIGURATION_KEYS, PncConfiguration, PncSettings
from .datatypes import EVSE, CertificateHashData, IdTokenInfo, StatusInfo
from .enums import (
    AuthorizationStatus,
    AuthorizeCertificateStatus,
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
)
from .errors import PncDecodeError, PncEncodeError, PncSchemaViolation
from .messages import (
    AuthorizeRequest,
    AuthorizeResponse,
    CertificateSignedRequest,
    CertificateSignedResponse,
    DeleteCertificateRequest,
    DeleteCertificateResponse,
    Get15118EVCertificateRequest,
    Get15118EVCertificateResponse,
    GetCertificateStatusRequest,
    GetCertificateStatusResponse,
    GetInstalledCertificateIdsRequest,
    GetInstalledCertificateIdsResponse,
    InstallCertificateRequest,
    InstallCertificateResponse,
    PncRequest,
    PncResponse,
    SignCertificateRequest,
    SignCertificateResponse,
    TriggerMessageRequest,
    TriggerMessageResponse,
)
from .seams import ContractCheck, EmaidAuthorizer, IdTagEmaidAuthorizer, PncProviders
from .store import InstalledCertificate, PncCertificateStore, SigningRequest, V2GCertificateState

__all__ = [
    "RENEWAL_CHECK_INTERVAL",
    "DataTransferHandler",
    "DataTransferRoute",
    "PlugAndChargeService",
]

log = get_logger("ocpp16csms.plug_and_charge")

DataTransferHandler = Callable[[DataTransferRequest, CallContext], Awaitable[DataTransferResponse]]
"""Answers the DataTransfer requests of one vendorId (and optionally one messageId)."""
DataTransferRoute = Callable[[str, str | None, DataTransferHandler], None]
"""``route(vendor_id, message_id, handler)``: how the service registers for inbound DataTransfer
(the central system hands in Core's ``register_data_transfer``; None as messageId: any)."""

RENEWAL_CHECK_INTERVAL = 3600.0
"""Seconds between the runs of :meth:`PlugAndChargeService.renew_expiring_certificates`."""

_R = TypeVar("_R", bound=PncResponse)
_Q = TypeVar("_Q", bound=PncRequest[Any])

# Accepted CSRs whose answer has not gone out yet; normally gone once it is flushed.
_ACCEPTED_MAX = 256
_MAX_OCSP_RESULT = 5500
_MAX_EXI = 5600


def _pnc_request(request_type: type[_Q], **fields: Any) -> _Q:
    try:
        return request_type(**fields)
    except (ValueError, TypeError) as error:
        raise InvalidRequest(f"{request_type.__name__}: {error}") from None


def _status_info(reason_code: str, additional_info: str = "") -> StatusInfo:
    return StatusInfo(reason_code=reason_code, additional_info=additional_info[:512] or None)


def _rule(error: PncDecodeError) -> str:
    """The rule a refused DataTransfer broke, for the log."""
    if isinstance(error, PncSchemaViolation):
        return f"schema keyword '{error.keyword}' at {error.path or '$'}"
    return type(error).__name__


class PlugAndChargeService:
    """ISO 15118 Plug & Charge over OCPP 1.6 DataTransfer (OCA application note), composed by
    the central system as ``central_system.plug_and_charge``.

    Inbound: registers for DataTransfer with every vendorId the codec accepts
    (``org.openchargealliance.iso15118pnc`` and ``iso15118``): a known vendorId with an
    unknown messageId is answered UnknownMessageId, inner data that is not JSON or breaks its
    schema Rejected (logged with the rule); otherwise the answer's ``data`` is the JSON text
    of the typed 2.0.1 response, given by the seams in :attr:`providers`. Outbound: each
    operation returns the typed 2.0.1 response or raises :class:`~.errors.PncCallRejected`
    (DataTransfer not Accepted), a :class:`~.errors.PncDecodeError` (the inner response
    breaks its schema), :class:`~ocpp16csms.errors.InvalidRequest` (nothing sent) or one of
    ``call``'s errors.
    """

    def __init__(
        self,
        engine: Engine,
        *,
        route_data_transfer: DataTransferRoute,
        id_tags: IdTagStore,
        configuration: ConfigurationStore,
        certificates: PncCertificateStore | None = None,
        providers: PncProviders | None = None,
        settings: PncSettings | None = None,
        codec: PncCodec | None = None,
    ) -> None:
        self._engine = engine
        self._id_tags = id_tags
        self._configuration = configuration
        self._certificates = certificates
        #: The host's seams (replace the whole bundle to change them).
        self.providers = providers or PncProviders()
        #: What the service does on its own (renewal, signing retries).
        self.settings = settings or PncSettings()
        self.codec = codec or PncCodec()
        self._default_authorizer = IdTagEmaidAuthorizer(id_tags)
        self._vendor_of: dict[str, str] = {}
        self._accepted: dict[tuple[str, str], SigningRequest] = {}
        self._state = CertificateState(certificates)
        self._signing = SigningFlow(self, self._state)
        self._inbound: Mapping[type[PncRequest[Any]], Callable[..., Awaitable[PncResponse]]] = {
            AuthorizeRequest: self._authorize,
            GetCertificateStatusRequest: self._get_certificate_status,
            SignCertificateRequest: self._sign_certificate,
            Get15118EVCertificateRequest: self._get_15118_ev_certificate,
        }
        for vendor_id in sorted(self.codec.accepted_vendor_ids):
            route_data_transfer(vendor_id, None, self._data_transfer)
        engine.after(DataTransferRequest)(self._after_data_transfer)
        if certificates is not None:
            engine.add_periodic(RENEWAL_CHECK_INTERVAL, self._renewal_job)

    @property
    def engine(self) -> Engine:
        """The central system this service runs in."""
        return self._engine

    # -- inbound: routing -------------------------------------------------------------------

    async def _data_transfer(
        self, request: DataTransferRequest, ctx: CallContext
    ) -> DataTransferResponse:
        try:
            inner = self.codec.decode_request(request)
        except PncDecodeError as error:
            reply = error.reply()
            log.warning(
                "[%s] message %s: Plug & Charge %r answered %s: %s (%s)",
                ctx.charge_point_id,
                ctx.message_id,
                request.message_id,
                reply.status.value,
                error.description,
                _rule(error),
                extra={"charge_point_id": ctx.charge_point_id, "message_id": ctx.message_id},
            )
            return DataTransferResponse(status=reply.status, data=reply.data)
        self._vendor_of[ctx.charge_point_id] = request.vendor_id
        response = await self._inbound[type(inner)](inner, ctx)
        # An answer of ours that breaks its schema is our bug: PncEncodeError, InternalError.
        result = self.codec.encode_result(response)
        return DataTransferResponse(status=result.status, data=result.data)

    # -- inbound: the four requests ---------------------------------------------------------

    def _emaid_authorizer(self) -> EmaidAuthorizer:
        return self.providers.emaid_authorizer or self._default_authorizer

    async def _authorize(self, request: AuthorizeRequest, ctx: CallContext) -> AuthorizeResponse:
        """2.0.1 C07: the contract's verdict first, then whether the eMAID may charge."""
        cp, now = ctx.charge_point_id, ctx.received_at
        authorizer = self._emaid_authorizer()
        if request.certificate is None and request.iso15118_certificate_hash_data is None:
            info = await authorizer.authorize(cp, request.id_token, now=now)
            return AuthorizeResponse(id_token_info=info)
        validator = self.providers.contract_validator
        if validator is None:
            check = ContractCheck(
                certificate_status=AuthorizeCertificateStatus.CERT_CHAIN_ERROR,
                reason="no contract validator is configured",
            )
        else:
            check = await validator.validate(cp, request, now=now)
        if check.certificate_status is not AuthorizeCertificateStatus.ACCEPTED:
            log.info(
                "[%s] message %s: contract of %s refused, %s: %s",
                cp,
                ctx.message_id,
                request.id_token.id_token,
                check.certificate_status.value,
                check.reason,
            )
            return AuthorizeResponse(
                id_token_info=IdTokenInfo(status=AuthorizationStatus.INVALID),
                certificate_status=check.certificate_status,
            )
        info = await authorizer.authorize(cp, request.id_token, now=now)
        until = check.valid_until
        if (
            info.status is AuthorizationStatus.ACCEPTED
            and until is not None
            and (info.cache_expiry_date_time is None or until < info.cache_expiry_date_time)
        ):
            # (mypy does not see that message_class made an attrs class)
            info = attrs.evolve(cast(Any, info), cache_expiry_date_time=until)
        return AuthorizeResponse(
            id_token_info=info, certificate_status=AuthorizeCertificateStatus.ACCEPTED
        )

    async def _get_certificate_status(
        self, request: GetCertificateStatusRequest, ctx: CallContext
    ) -> GetCertificateStatusResponse:
        """2.0.1 M06: the OCSP response, or Failed."""
        provider = self.providers.certificate_status
        problem: StatusInfo | None = None
        result = ""
        if provider is None:
            problem = _status_info("NoProvider", "no certificate status provider is configured")
        else:
            try:
                der = await provider.ocsp_response(ctx.charge_point_id, request.ocsp_request_data)
                result = base64.b64encode(der).decode("ascii")
            except Exception as error:  # the host's code: any failure is a failed fetch
                problem = _status_info("OcspFailed", f"{type(error).__name__}: {error}")
            else:
                if not result or len(result) > _MAX_OCSP_RESULT:
                    problem = _status_info("TooLarge", f"{len(result)} base64 characters")
        if problem is not None:
            log.warning(
                "[%s] message %s: GetCertificateStatus failed: %s",
                ctx.charge_point_id,
                ctx.message_id,
                problem.additional_info or problem.reason_code,
            )
            return GetCertificateStatusResponse(
                status=GetCertificateStatus.FAILED, status_info=problem
            )
        return GetCertificateStatusResponse(
            status=GetCertificateStatus.ACCEPTED, ocsp_result=result
        )

    async def _get_15118_ev_certificate(
        self, request: Get15118EVCertificateRequest, ctx: CallContext
    ) -> Get15118EVCertificateResponse:
        """2.0.1 M01/M02: the EV's EXI request to the provider, its EXI response back."""
        provider = self.providers.contract_certificates
        problem: StatusInfo | None = None
        answer = ""
        if provider is None:
            problem = _status_info("NoProvider", "no contract certificate provider")
        else:
            try:
                exi_request = base64.b64decode(request.exi_request, validate=True)
            except (binascii.Error, ValueError):
                exi_request = b""
            if not exi_request:
                problem = _status_info("InvalidEXI", "exiRequest is not base64 of EXI")
            else:
                try:
                    exi = await provider.exi_response(ctx.charge_point_id, request, exi_request)
                except Exception as error:  # the host's code, often a remote pool
                    exi, problem = None, _status_info("ProviderFailed", repr(error))
                if exi is not None:
                    answer = base64.b64encode(exi).decode("ascii")
                    if not exi or len(answer) > _MAX_EXI:
                        problem, answer = _status_info("TooLarge", f"{len(answer)} chars"), ""
                elif problem is None:
                    problem = _status_info("NoCertificate", "the provider had no answer")
        if problem is not None:
            log.warning(
                "[%s] message %s: Get15118EVCertificate failed: %s %s",
                ctx.charge_point_id,
                ctx.message_id,
                problem.reason_code,
                problem.additional_info or "",
            )
            return Get15118EVCertificateResponse(
                status=Iso15118EVCertificateStatus.FAILED, exi_response="", status_info=problem
            )
        return Get15118EVCertificateResponse(
            status=Iso15118EVCertificateStatus.ACCEPTED, exi_response=answer
        )

    async def _sign_certificate(
        self, request: SignCertificateRequest, ctx: CallContext
    ) -> SignCertificateResponse:
        """2.0.1 A02/A03 for the V2G certificate: answer first, sign in the background."""
        cp = ctx.charge_point_id
        kind = request.certificate_type or CertificateSigningUse.V2G_CERTIFICATE
        problem: StatusInfo | None = None
        csr_problem = pem_problem(request.csr, CERTIFICATE_REQUEST)
        if kind is not CertificateSigningUse.V2G_CERTIFICATE:
            problem = _status_info(
                "UnsupportedCertType", "charge point certificates use the 1.6 SignCertificate"
            )
        elif self.providers.v2g_signer is None:
            problem = _status_info("NoSigner", "no V2G certificate signer is configured")
        elif csr_problem is not None:
            problem = _status_info("InvalidCSR", f"the CSR {csr_problem}")
        elif not self._engine.is_running:
            problem = _status_info("NotRunning", "the central system is not running")
        if problem is not None:
            log.warning(
                "[%s] message %s: SignCertificate rejected: %s",
                cp,
                ctx.message_id,
                problem.additional_info,
            )
            return SignCertificateResponse(status=GenericStatus.REJECTED, status_info=problem)
        signing = SigningRequest(
            charge_point_id=cp,
            request_id=ctx.message_id,
            csr=request.csr,
            certificate_type=kind,
            received_at=ctx.received_at,
        )
        # Kept before the charge point is told; a newer CSR replaces the older ones (each CSR
        # comes with a new key pair, so an older one is of no use any more).
        await self._state.accept_signing_request(signing)
        self._accepted[(cp, ctx.message_id)] = signing
        while len(self._accepted) > _ACCEPTED_MAX:
            del self._accepted[next(iter(self._accepted))]
        return SignCertificateResponse(status=GenericStatus.ACCEPTED)

    async def _after_data_transfer(
        self, request: DataTransferRequest, response: object, ctx: CallContext
    ) -> None:
        """After hook: once our Accepted answer to a SignCertificate went out, sign it."""
        signing = self._accepted.pop((ctx.charge_point_id, ctx.message_id), None)
        if (
            signing is None
            or not isinstance(response, DataTransferResponse)
            or response.status is not DataTransferStatus.ACCEPTED
        ):
            return
        if not self._engine.is_running:
            log.warning(
                "[%s] message %s: CSR accepted but not signed: the central system stopped",
                ctx.charge_point_id,
                ctx.message_id,
            )
            return
        self._engine.spawn(self._signing.sign_and_deliver, signing)

    # -- outbound: the five requests --------------------------------------------------------

    async def send(self, charge_point_id: str, request: PncRequest[_R]) -> _R:
        """Send any central-system Plug & Charge request inside DataTransfer; the typed
        answer, or the errors listed on the class. No certificate state is kept."""
        try:
            transfer = self.codec.encode_request(request)
        except PncEncodeError as error:
            raise InvalidRequest(str(error)) from None
        vendor_id = self._vendor_of.get(charge_point_id, transfer.vendor_id)
        wrapped = build_request(
            DataTransferRequest,
            vendor_id=vendor_id,
            message_id=transfer.message_id,
            data=transfer.data,
        )
        answer = await self._engine.call(charge_point_id, wrapped)
        return self.codec.decode_result(request, answer)

    async def install_certificate(
        self, charge_point_id: str, certificate_type: InstallCertificateUse, certificate: str
    ) -> InstallCertificateResponse:
        """2.0.1 M05: install a root certificate (one PEM block, checked before sending);
        kept as installed on Accepted."""
        request = _pnc_request(
            InstallCertificateRequest, certificate_type=certificate_type, certificate=certificate
        )
        problem = pem_problem(certificate, CERTIFICATE)
        if problem is not None:
            raise InvalidRequest(f"certificate {problem}")
        response = await self.send(charge_point_id, request)
        if response.status is InstallCertificateStatus.ACCEPTED:
            await self._state.installed_root(
                charge_point_id, request.certificate_type, certificate, self._engine.clock()
            )
        return response

    async def delete_certificate(
        self, charge_point_id: str, certificate_hash_data: CertificateHashData
    ) -> DeleteCertificateResponse:
        """2.0.1 M04: delete an installed certificate; forgotten on Accepted or NotFound."""
        request = _pnc_request(
            DeleteCertificateRequest, certificate_hash_data=certificate_hash_data
        )
        response = await self.send(charge_point_id, request)
        if response.status in (DeleteCertificateStatus.ACCEPTED, DeleteCertificateStatus.NOT_FOUND):
            await self._state.deleted(charge_point_id, certificate_hash_data)
        return response

    async def get_installed_certificate_ids(
        self,
        charge_point_id: str,
        certificate_types: Iterable[GetCertificateIdUse] | None = None,
    ) -> GetInstalledCertificateIdsResponse:
        """2.0.1 M03: the installed certificates of some types (None: all); what the charge
        point reports replaces what we knew of those types."""
        kinds = tuple(certificate_types) if certificate_types is not None else None
        request = _pnc_request(GetInstalledCertificateIdsRequest, certificate_type=kinds or None)
        response = await self.send(charge_point_id, request)
        if response.status in (
            GetInstalledCertificateStatus.ACCEPTED,
            GetInstalledCertificateStatus.NOT_FOUND,
        ):
            await self._state.reported(
                charge_point_id,
                request.certificate_type or tuple(GetCertificateIdUse),
                response.certificate_hash_data_chain or (),
                self._engine.clock(),
            )
        return response

    async def certificate_signed(
        self,
        charge_point_id: str,
        certificate_chain: str,
        certificate_type: CertificateSigningUse | None = CertificateSigningUse.V2G_CERTIFICATE,
    ) -> CertificateSignedResponse:
        """2.0.1 A02/A03: deliver a signed chain (PEM blocks, leaf first; checked before
        sending); on Accepted a V2G chain's expiry is kept for the renewal."""
        request = _pnc_request(
            CertificateSignedRequest,
            certificate_chain=certificate_chain,
            certificate_type=certificate_type,
        )
        problem = pem_problem(certificate_chain, CERTIFICATE, many=True)
        if problem is not None:
            raise InvalidRequest(f"certificate chain {problem}")
        response = await self.send(charge_point_id, request)
        if response.status is CertificateSignedStatus.ACCEPTED and certificate_type in (
            None,
            CertificateSigningUse.V2G_CERTIFICATE,
        ):
            await self._state.v2g_delivered(
                charge_point_id, certificate_chain, self._engine.clock()
            )
        return response

    async def trigger_message(
        self, charge_point_id: str, requested_message: MessageTrigger, *, evse: EVSE | None = None
    ) -> TriggerMessageResponse:
        """2.0.1 F06 inside DataTransfer; over 1.6 for ``SignV2GCertificate`` above all (the
        other messages have the 1.6 TriggerMessage)."""
        request = _pnc_request(
            TriggerMessageRequest, requested_message=requested_message, evse=evse
        )
        return await self.send(charge_point_id, request)

    # -- state ------------------------------------------------------------------------------

    def _store(self) -> PncCertificateStore:
        if self._certificates is None:
            raise StoreError("this central system was built without a pnc_certificates store")
        return self._certificates

    async def installed_certificates(self, charge_point_id: str) -> list[InstalledCertificate]:
        """What we know the charge point has installed (StoreError without a store)."""
        return list(await self._store().installed(charge_point_id))

    async def signing_requests(self, charge_point_id: str) -> list[SigningRequest]:
        """The charge point's accepted CSRs whose chain has not been delivered yet."""
        return list(await self._store().signing_requests(charge_point_id))

    async def v2g_certificate(self, charge_point_id: str) -> V2GCertificateState | None:
        """The V2G certificate we last delivered to the charge point, with its expiry."""
        return await self._store().v2g_certificate(charge_point_id)

    async def renew_expiring_certificates(self) -> list[str]:
        """Ask every connected charge point whose V2G certificate expires within
        ``settings.renew_before`` for a new CSR (TriggerMessage SignV2GCertificate), at most
        once per ``settings.renewal_retry``; the charge points that accepted. Runs every
        :data:`RENEWAL_CHECK_INTERVAL` seconds while the central system runs."""
        return await self._signing.renew_expiring()

    async def _renewal_job(self) -> None:
        await self._signing.renew_expiring()

    # -- configuration keys -----------------------------------------------------------------

    async def pnc_configuration(
        self, charge_point_id: str, *, refresh: bool = False
    ) -> PncConfiguration:
        """The application note's keys as the configuration store has them; with
        ``refresh`` they are read from the charge point first (GetConfiguration) and stored."""
        if refresh:
            request = build_request(GetConfigurationRequest, key=PNC_CONFIGURATION_KEYS)
            response = await self._engine.call(charge_point_id, request)
            if response.configuration_key:
                await self._configuration.put(charge_point_id, response.configuration_key)
        return PncConfiguration.from_keys(await self._configuration.get(charge_point_id))

    async def change_pnc_configuration(
        self, charge_point_id: str, changes: PncConfiguration
    ) -> dict[str, ConfigurationStatus]:
        """Set the keys that are not None in ``changes``, one ChangeConfiguration each, in
        the order of :data:`~.configuration.PNC_CONFIGURATION_KEYS`; the store follows on
        Accepted or RebootRequired. A read-only key stops it before anything is sent."""
        pairs = changes.as_keys()
        known = await self._configuration.get(charge_point_id)
        readonly = {name.casefold() for name, entry in known.items() if entry.readonly}
        for key, _ in pairs:
            if key.casefold() in readonly:
                raise InvalidRequest(f"{key} is read-only on {charge_point_id!r}")
        outcome: dict[str, ConfigurationStatus] = {}
        for key, value in pairs:
            request = build_request(ChangeConfigurationRequest, key=key, value=value)
            response = await self._engine.call(charge_point_id, request)
            outcome[key] = response.status
            if response.status in (
                ConfigurationStatus.ACCEPTED,
                ConfigurationStatus.REBOOT_REQUIRED,
            ):
                await self._configuration.set_value(charge_point_id, key, value)
        return outcome
