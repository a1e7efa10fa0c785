"""A Plug & Charge charge point for tests: the application note's messages over a simulator.

:class:`PncChargePoint` wraps a running :class:`~.simulator.ChargePointSimulator`: it sends the
four requests of a charge point (Authorize, GetCertificateStatus, SignCertificate,
Get15118EVCertificate) inside DataTransfer and answers the five of the central system
(CertificateSigned, InstallCertificate, DeleteCertificate, GetInstalledCertificateIds,
TriggerMessage) like a charge point with a certificate store. Making CSRs, checking a signed
chain against its key and hashing certificates need the ``pnc`` extra (``cryptography``)::

    async with connect_simulator(url, "CP-PNC-1") as sim, PncChargePoint(sim).running() as cp:
        await sim.boot()
        answer = await cp.authorize("DEMO-EMAID-1", certificate=pki.contract_chain_pem())
"""

from __future__ import annotations

import base64
import itertools
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from contextlib import asynccontextmanager
from typing import Any, TypeVar

import anyio
import anyio.abc

from ..enums import DataTransferStatus
from ..messages import DataTransferRequest, DataTransferResponse
from ..profiles.plug_and_charge.codec import PNC_VENDOR_ID, PncCodec
from ..profiles.plug_and_charge.datatypes import (
    CertificateHashData,
    CertificateHashDataChain,
    IdToken,
    OCSPRequestData,
)
from ..profiles.plug_and_charge.enums import (
    CertificateAction,
    CertificateSignedStatus,
    CertificateSigningUse,
    DeleteCertificateStatus,
    GetCertificateIdUse,
    GetInstalledCertificateStatus,
    IdTokenEnum,
    InstallCertificateStatus,
    MessageTrigger,
    TriggerMessageStatus,
)
from ..profiles.plug_and_charge.errors import PncDecodeError
from ..profiles.plug_and_charge.messages import (
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
    Sender,
    SignCertificateRequest,
    SignCertificateResponse,
    TriggerMessageRequest,
    TriggerMessageResponse,
)
from ..profiles.plug_and_charge.store import CertificateKey, certificate_key
from .simulator import ChargePointSimulator

__all__ = ["ISO15118_2_SCHEMA", "PncAnswer", "PncChargePoint"]

ISO15118_2_SCHEMA = "urn:iso:15118:2:2013:MsgDef"
"""The ISO 15118-2 message set namespace, as Get15118EVCertificate names it."""

_R = TypeVar("_R", bound=PncResponse)

PncAnswer = PncResponse | Callable[[Any], PncResponse | Awaitable[PncResponse]]
"""How :class:`PncChargePoint` answers one 2.0.1 action: a response, or a function of the
request returning one (sync or async)."""


def _root_hash(certificate: str) -> CertificateHashData | None:
    try:
        from ..profiles.plug_and_charge import pki
    except ImportError:
        return None
    try:
        loaded = pki.load_pem_certificates(certificate)[0]
    except (pki.CertificateChainError, IndexError):
        return None
    return pki.certificate_hash_data(loaded, loaded)


class PncChargePoint:
    """A charge point's Plug & Charge side over a running ``simulator`` (see the module).

    ``received`` holds every 2.0.1 request the central system sent; :meth:`answer` replaces
    the default behaviour of one action. By default: CertificateSigned is Accepted when the
    chain's leaf holds the key of the last CSR sent (Rejected otherwise); InstallCertificate
    is Accepted and the root kept; DeleteCertificate removes a kept root (NotFound when there
    is none); GetInstalledCertificateIds lists the kept roots and the V2G chain;
    TriggerMessage SignV2GCertificate is Accepted and, inside :meth:`running`, followed by a
    new CSR (other triggers: NotImplemented).
    """

    def __init__(
        self,
        simulator: ChargePointSimulator,
        *,
        vendor_id: str = PNC_VENDOR_ID,
        common_name: str | None = None,
    ) -> None:
        self.simulator = simulator
        self.codec = PncCodec(vendor_id=vendor_id)
        #: The CN of the CSRs made by :meth:`sign_certificate` (default: the charge point id).
        self.common_name = common_name or simulator.charge_point_id
        self.received: list[PncRequest[Any]] = []
        self.answers: dict[str, PncAnswer] = {}
        #: Installed roots by key: (type, hash data, PEM).
        self.installed: dict[CertificateKey, tuple[GetCertificateIdUse, CertificateHashData, str]]
        self.installed = {}
        #: The V2G chain last accepted (PEM, leaf first), and every one accepted so far.
        self.v2g_chain: str | None = None
        self.accepted_chains: list[str] = []
        self.v2g_key: Any = None
        self._csr_key: Any = None
        self._group: anyio.abc.TaskGroup | None = None
        simulator.answer("DataTransfer", self._data_transfer)

    def answer(self, action: str, response: PncAnswer) -> None:
        """Answer the 2.0.1 ``action`` (``"CertificateSigned"``, …) this way from now on."""
        self.answers[action] = response

    def received_of(self, request_type: type[Any]) -> list[Any]:
        """The 2.0.1 requests of one type the central system sent."""
        return [r for r in self.received if isinstance(r, request_type)]

    @asynccontextmanager
    async def running(self) -> AsyncIterator[PncChargePoint]:
        """Run background work (the CSR a trigger asks for) for the duration of the block."""
        async with anyio.create_task_group() as group:
            self._group = group
            try:
                yield self
            finally:
                self._group = None
                group.cancel_scope.cancel()

    async def wait_signed(self, count: int = 1, timeout: float = 10.0) -> str:
        """Wait until ``count`` chains were accepted in all; the last one."""
        with anyio.fail_after(timeout):
            while len(self.accepted_chains) < count:
                await anyio.sleep(0.005)
        return self.accepted_chains[-1]

    # -- the four requests --------------------------------------------------------------------

    async def send(self, request: PncRequest[_R]) -> _R:
        """Send a 2.0.1 request inside DataTransfer; its typed answer (the codec's errors)."""
        transfer = self.codec.encode_request(request)
        answer = await self.simulator.call(
            DataTransferRequest(
                vendor_id=transfer.vendor_id, message_id=transfer.message_id, data=transfer.data
            )
        )
        return self.codec.decode_result(request, answer)

    async def authorize(
        self,
        emaid: str,
        *,
        certificate: str | None = None,
        hash_data: Iterable[OCSPRequestData] | None = None,
    ) -> AuthorizeResponse:
        """Authorize an eMAID, with its contract chain (PEM) or its OCSP data (2.0.1 C07)."""
        listed = tuple(hash_data) if hash_data is not None else None
        return await self.send(
            AuthorizeRequest(
                id_token=IdToken(id_token=emaid, type=IdTokenEnum.EMAID),
                certificate=certificate,
                iso15118_certificate_hash_data=listed or None,
            )
        )

    async def get_certificate_status(self, data: OCSPRequestData) -> GetCertificateStatusResponse:
        """Ask for the OCSP response about one certificate (2.0.1 M06)."""
        return await self.send(GetCertificateStatusRequest(ocsp_request_data=data))

    async def sign_certificate(
        self,
        csr: str | None = None,
        *,
        certificate_type: CertificateSigningUse | None = CertificateSigningUse.V2G_CERTIFICATE,
    ) -> SignCertificateResponse:
        """Send a CSR (2.0.1 A02/A03); without one, make a P-256 key and its CSR (CN
        :attr:`common_name`), whose key a CertificateSigned must match."""
        if csr is None:
            from ..profiles.plug_and_charge.pki import build_csr

            csr, self._csr_key = build_csr(self.common_name, organization="ocpp16csms simulator")
        return await self.send(SignCertificateRequest(csr=csr, certificate_type=certificate_type))

    async def get_15118_ev_certificate(
        self,
        exi_request: bytes,
        *,
        action: CertificateAction = CertificateAction.INSTALL,
        schema_version: str = ISO15118_2_SCHEMA,
    ) -> Get15118EVCertificateResponse:
        """Forward an EV's EXI CertificateInstallation/UpdateReq (2.0.1 M01/M02)."""
        return await self.send(
            Get15118EVCertificateRequest(
                iso15118_schema_version=schema_version,
                certificate_action=action,
                exi_request=base64.b64encode(exi_request).decode("ascii"),
            )
        )

    # -- the five answers ---------------------------------------------------------------------

    async def _data_transfer(self, request: DataTransferRequest) -> DataTransferResponse:
        try:
            inner = self.codec.decode_request(request, sender=Sender.CENTRAL_SYSTEM)
        except PncDecodeError as error:
            reply = error.reply()
            return DataTransferResponse(status=reply.status, data=reply.data)
        self.received.append(inner)
        chosen = self.answers.get(inner.action)
        if chosen is None:
            response: PncResponse = self._default(inner)
        elif callable(chosen):
            produced = chosen(inner)
            response = await produced if isinstance(produced, Awaitable) else produced
        else:
            response = chosen
        result = self.codec.encode_result(response)
        return DataTransferResponse(status=DataTransferStatus(result.status), data=result.data)

    def _default(self, request: PncRequest[Any]) -> PncResponse:
        if isinstance(request, CertificateSignedRequest):
            return self._certificate_signed(request)
        if isinstance(request, InstallCertificateRequest):
            hashed = _root_hash(request.certificate)
            if hashed is None:
                return InstallCertificateResponse(status=InstallCertificateStatus.REJECTED)
            kind = GetCertificateIdUse(request.certificate_type.value)
            self.installed[certificate_key(hashed)] = (kind, hashed, request.certificate)
            return InstallCertificateResponse(status=InstallCertificateStatus.ACCEPTED)
        if isinstance(request, DeleteCertificateRequest):
            gone = self.installed.pop(certificate_key(request.certificate_hash_data), None)
            status = DeleteCertificateStatus.NOT_FOUND
            return DeleteCertificateResponse(
                status=DeleteCertificateStatus.ACCEPTED if gone else status
            )
        if isinstance(request, GetInstalledCertificateIdsRequest):
            return self._installed_ids(request)
        assert isinstance(request, TriggerMessageRequest)
        if request.requested_message is not MessageTrigger.SIGN_V2G_CERTIFICATE:
            return TriggerMessageResponse(status=TriggerMessageStatus.NOT_IMPLEMENTED)
        if self._group is not None:
            self._group.start_soon(self._triggered_csr)
        return TriggerMessageResponse(status=TriggerMessageStatus.ACCEPTED)

    async def _triggered_csr(self) -> None:
        await self.sign_certificate()

    def _certificate_signed(self, request: CertificateSignedRequest) -> CertificateSignedResponse:
        try:
            from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

            from ..profiles.plug_and_charge.pki import load_pem_certificates

            leaf = load_pem_certificates(request.certificate_chain)[0]
            if self._csr_key is None:
                raise ValueError("no CSR was sent")
            spki = (Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
            matches = leaf.public_key().public_bytes(*spki) == (
                self._csr_key.public_key().public_bytes(*spki)
            )
        except (ImportError, ValueError):
            matches = False
        if not matches:
            return CertificateSignedResponse(status=CertificateSignedStatus.REJECTED)
        self.v2g_chain, self.v2g_key = request.certificate_chain, self._csr_key
        self.accepted_chains.append(request.certificate_chain)
        return CertificateSignedResponse(status=CertificateSignedStatus.ACCEPTED)

    def _installed_ids(
        self, request: GetInstalledCertificateIdsRequest
    ) -> GetInstalledCertificateIdsResponse:
        wanted = set(request.certificate_type or GetCertificateIdUse)
        chains = [
            CertificateHashDataChain(certificate_type=kind, certificate_hash_data=hashed)
            for kind, hashed, _ in self.installed.values()
            if kind in wanted
        ]
        if GetCertificateIdUse.V2G_CERTIFICATE_CHAIN in wanted and self.v2g_chain is not None:
            from ..profiles.plug_and_charge.pki import certificate_hash_data, load_pem_certificates

            certificates = load_pem_certificates(self.v2g_chain)
            # Each certificate hashed with its issuer, the next one in the chain.
            pairs = list(itertools.pairwise(certificates))
            children = tuple(certificate_hash_data(c, issuer) for c, issuer in pairs[1:])
        else:
            pairs = []
        if pairs:
            chains.append(
                CertificateHashDataChain(
                    certificate_type=GetCertificateIdUse.V2G_CERTIFICATE_CHAIN,
                    certificate_hash_data=certificate_hash_data(*pairs[0]),
                    child_certificate_hash_data=children or None,
                )
            )
        if not chains:
            return GetInstalledCertificateIdsResponse(
                status=GetInstalledCertificateStatus.NOT_FOUND
            )
        return GetInstalledCertificateIdsResponse(
            status=GetInstalledCertificateStatus.ACCEPTED,
            certificate_hash_data_chain=tuple(chains),
        )
