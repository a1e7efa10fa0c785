"""The host's seams of Plug & Charge: small protocols the service calls, and their bundle.

The central system owns the protocol; the PKI belongs to the host. Each seam is one method:

=============================  ==========================================================
seam                           serves
=============================  ==========================================================
:class:`ContractValidator`     Authorize with a contract chain or its OCSP data (C07)
:class:`EmaidAuthorizer`       whether an eMAID may charge (default: the id tag store)
:class:`V2GCertificateSigner`  SignCertificate for the V2G certificate (A02, A03)
:class:`ContractCertificateProvider`  Get15118EVCertificate, EXI in and out (M01, M02)
:class:`CertificateStatusProvider`    GetCertificateStatus, an OCSP response (M06)
=============================  ==========================================================

``plug_and_charge.reference`` has implementations over ``cryptography`` (the ``pnc`` extra).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Protocol, runtime_checkable

import attrs

from ...enums import AuthorizationStatus as IdTagStatus
from ...stores.records import IdTagStore
from .datatypes import IdToken, IdTokenInfo, OCSPRequestData
from .enums import AuthorizationStatus, AuthorizeCertificateStatus, CertificateSigningUse
from .messages import AuthorizeRequest, Get15118EVCertificateRequest

__all__ = [
    "CertificateStatusProvider",
    "ContractCertificateProvider",
    "ContractCheck",
    "ContractValidator",
    "EmaidAuthorizer",
    "IdTagEmaidAuthorizer",
    "PncProviders",
    "V2GCertificateSigner",
]


@attrs.frozen(kw_only=True)
class ContractCheck:
    """The verdict on a contract certificate chain (or its OCSP data) of an Authorize.

    ``certificate_status`` is the AuthorizeResponse ``certificateStatus``; anything but
    Accepted makes the id token Invalid. ``valid_until`` says how long the verdict holds (the
    earliest OCSP nextUpdate, never past the leaf's expiry); ``reason`` is for the log.
    """

    certificate_status: AuthorizeCertificateStatus
    valid_until: datetime | None = None
    reason: str = ""


@runtime_checkable
class ContractValidator(Protocol):
    """Checks the contract of an AuthorizeRequest that carries ``certificate`` or
    ``iso15118CertificateHashData`` (2.0.1 C07; reference: ``PkiContractValidator``)."""

    async def validate(
        self, charge_point_id: str, request: AuthorizeRequest, *, now: datetime
    ) -> ContractCheck:
        """The verdict on the request's contract at ``now``; raise only on a bug."""
        ...


@runtime_checkable
class EmaidAuthorizer(Protocol):
    """Decides whether an eMAID may charge, once its contract passed (or none was sent)."""

    async def authorize(
        self, charge_point_id: str, id_token: IdToken, *, now: datetime
    ) -> IdTokenInfo:
        """The ``idTokenInfo`` to answer for ``id_token`` at ``now``."""
        ...


@runtime_checkable
class V2GCertificateSigner(Protocol):
    """Has a V2G (SECC) CSR signed; called in the background after SignCertificate was
    answered Accepted (reference: ``PkiV2GSigner``)."""

    async def sign(
        self, charge_point_id: str, csr_pem: str, certificate_type: CertificateSigningUse
    ) -> str | None:
        """The PEM chain for CertificateSigned (leaf first, without the root), or None to
        refuse the CSR."""
        ...


@runtime_checkable
class ContractCertificateProvider(Protocol):
    """Answers an EV's CertificateInstallationReq / CertificateUpdateReq (2.0.1 M01, M02),
    usually by asking a contract certificate pool; the EXI passes through untouched."""

    async def exi_response(
        self, charge_point_id: str, request: Get15118EVCertificateRequest, exi_request: bytes
    ) -> bytes | None:
        """The EXI response for ``exi_request`` (both decoded from / encoded to base64 by
        the service), or None when there is none (answered Failed)."""
        ...


@runtime_checkable
class CertificateStatusProvider(Protocol):
    """Fetches the OCSP response GetCertificateStatus asks for (2.0.1 M06; reference:
    ``OcspCertificateStatus``)."""

    async def ocsp_response(self, charge_point_id: str, data: OCSPRequestData) -> bytes:
        """The DER OCSP response for the certificate ``data`` names; raise when there is
        none (answered Failed)."""
        ...


class IdTagEmaidAuthorizer:
    """The default :class:`EmaidAuthorizer`: an eMAID is an id tag of the id tag store.

    An unknown eMAID (or one longer than the 20 characters of a 1.6 id tag) is ``Unknown``;
    an Accepted one past its expiry date ``Expired``; otherwise the stored status, with the
    expiry date as ``cacheExpiryDateTime``.
    """

    def __init__(self, id_tags: IdTagStore) -> None:
        self._id_tags = id_tags

    async def authorize(
        self, charge_point_id: str, id_token: IdToken, *, now: datetime
    ) -> IdTokenInfo:
        emaid = id_token.id_token
        record = await self._id_tags.get(emaid) if len(emaid) <= 20 else None
        if record is None:
            return IdTokenInfo(status=AuthorizationStatus.UNKNOWN)
        try:
            status = AuthorizationStatus(str(record.status))
        except ValueError:  # a value a lenient store kept that 2.0.1 does not have either
            status = AuthorizationStatus.INVALID
        if (
            record.status is IdTagStatus.ACCEPTED
            and record.expiry_date is not None
            and record.expiry_date <= now
        ):
            status = AuthorizationStatus.EXPIRED
        return IdTokenInfo(status=status, cache_expiry_date_time=record.expiry_date)


def _seam(protocol: type) -> Any:
    return attrs.validators.optional(attrs.validators.instance_of(protocol))


@attrs.frozen(kw_only=True)
class PncProviders:
    """The host's implementations of the seams; a seam left None is answered by default:

    - no ``contract_validator``: an Authorize carrying a contract is Invalid, CertChainError;
    - no ``emaid_authorizer``: :class:`IdTagEmaidAuthorizer` over the id tag store;
    - no ``v2g_signer``: SignCertificate is Rejected;
    - no ``contract_certificates``: Get15118EVCertificate is Failed;
    - no ``certificate_status``: GetCertificateStatus is Failed.
    """

    contract_validator: ContractValidator | None = attrs.field(
        default=None, validator=_seam(ContractValidator)
    )
    emaid_authorizer: EmaidAuthorizer | None = attrs.field(
        default=None, validator=_seam(EmaidAuthorizer)
    )
    v2g_signer: V2GCertificateSigner | None = attrs.field(
        default=None, validator=_seam(V2GCertificateSigner)
    )
    contract_certificates: ContractCertificateProvider | None = attrs.field(
        default=None, validator=_seam(ContractCertificateProvider)
    )
    certificate_status: CertificateStatusProvider | None = attrs.field(
        default=None, validator=_seam(CertificateStatusProvider)
    )
