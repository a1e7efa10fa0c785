"""Reference implementations of the Plug & Charge seams, over ``cryptography`` (``pnc`` extra).

- :class:`PkiContractValidator`: a contract chain (or its OCSP data) against the MO roots the
  host trusts, revocation through OCSP, verdicts cached as long as they hold;
- :class:`PkiV2GSigner`: signs V2G CSRs with a CPO sub-CA key the host holds;
- :class:`OcspCertificateStatus`: GetCertificateStatus through an :class:`~.ocsp.OcspClient`;
- :class:`DemoContractCertificates` and :func:`demo_providers`: everything over a
  :class:`~.demo_pki.DemoPki`, for tests and demos only.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import anyio
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import NameOID

from ..._logging import get_logger
from .datatypes import OCSPRequestData
from .demo_pki import DemoPki
from .enums import AuthorizeCertificateStatus, CertificateSigningUse
from .messages import AuthorizeRequest, Get15118EVCertificateRequest
from .ocsp import CertStatus, Fetch, OcspClient, OcspError, OcspResult, http_post_ocsp
from .pki import (
    CertificateChainError,
    CertifiedKey,
    CsrError,
    certificate_hash_data,
    ocsp_request_data,
    ocsp_responder_url,
    sign_csr,
    verify_contract_chain,
)
from .seams import ContractCheck, PncProviders
from .store import certificate_key

__all__ = [
    "DemoContractCertificates",
    "OcspCertificateStatus",
    "PkiContractValidator",
    "PkiV2GSigner",
    "demo_providers",
]

log = get_logger("ocpp16csms.plug_and_charge")

_ACCEPTED = AuthorizeCertificateStatus.ACCEPTED
_CHAIN_ERROR = AuthorizeCertificateStatus.CERT_CHAIN_ERROR
_Outcome = tuple[str, OcspResult | str]
_Job = tuple[str, OCSPRequestData | None, list[x509.Certificate] | None]


def _utc_now() -> datetime:
    return datetime.now(UTC)


def _normal_emaid(emaid: str) -> str:
    # ISO 15118-2 writes an eMAID with or without its hyphens; letters are case-insensitive.
    return emaid.replace("-", "").casefold()


class PkiContractValidator:
    """:class:`~.seams.ContractValidator` over trusted MO roots and OCSP (2.0.1 C07).

    With ``certificate``: the chain must verify against :attr:`mo_roots` (``pki.verify_chain``:
    signatures, validity, CA flags, path length), its leaf's CN must be the eMAID of the id
    token (hyphens and case ignored), and each certificate below the root must be ``good`` at
    the OCSP responder its AIA names, asked through ``ocsp`` with its issuer as the trusted
    signer. With ``iso15118CertificateHashData``: one entry must have been issued by a trusted
    MO root (its issuer hashes match the root's), and each must be ``good`` (the client's own
    ``trusted_issuers`` then check the signatures). Revoked is CertificateRevoked; an answer
    of ``unknown`` is CertChainError; no answer at all (no client, no responder URL, a failed
    fetch) is CertChainError unless ``soft_fail``, which then accepts and logs it.

    Verdicts with a validity are cached until it ends: the earliest OCSP nextUpdate, never
    past a certificate's expiry, ``default_validity`` when OCSP gave none. Change
    :attr:`mo_roots` and call :meth:`clear_cache` to trust other roots.
    """

    def __init__(
        self,
        mo_roots: Iterable[x509.Certificate],
        *,
        ocsp: OcspClient | None = None,
        soft_fail: bool = False,
        default_validity: timedelta = timedelta(hours=1),
        max_entries: int = 1024,
    ) -> None:
        self.mo_roots = list(mo_roots)
        self.ocsp = ocsp
        self.soft_fail = soft_fail
        self.default_validity = default_validity
        self.max_entries = max_entries
        self._cache: dict[tuple[str, ...], tuple[ContractCheck, datetime]] = {}

    def clear_cache(self) -> None:
        """Forget every cached verdict."""
        self._cache.clear()

    async def validate(
        self, charge_point_id: str, request: AuthorizeRequest, *, now: datetime
    ) -> ContractCheck:
        """The verdict on the request's contract (see the class)."""
        emaid = request.id_token.id_token
        if request.certificate is not None:
            digest = hashlib.sha256(request.certificate.encode("utf-8", "replace")).hexdigest()
            key: tuple[str, ...] = ("chain", digest, _normal_emaid(emaid))
        else:
            data = request.iso15118_certificate_hash_data or ()
            key = ("hash", *("/".join(certificate_key(d)) for d in data))
        hit = self._cache.get(key)
        if hit is not None and now < hit[1]:
            return hit[0]
        if request.certificate is not None:
            check = await self._check_chain(request.certificate, emaid, now)
        else:
            check = await self._check_hash_data(request.iso15118_certificate_hash_data or (), now)
        if check.valid_until is not None and check.valid_until > now:
            self._remember(key, check, now)
        return check

    def _remember(self, key: tuple[str, ...], check: ContractCheck, now: datetime) -> None:
        assert check.valid_until is not None
        self._cache.pop(key, None)
        self._cache[key] = (check, check.valid_until)
        if len(self._cache) > self.max_entries:
            for stale in [k for k, (_, until) in self._cache.items() if until <= now]:
                del self._cache[stale]
            while len(self._cache) > self.max_entries:
                del self._cache[next(iter(self._cache))]

    async def _status(
        self, data: OCSPRequestData | None, issuers: list[x509.Certificate] | None
    ) -> OcspResult | str:
        if self.ocsp is None:
            return "no OCSP client is configured"
        if data is None:
            return "the certificate names no OCSP responder"
        try:
            return await self.ocsp.status(data, trusted_issuers=issuers)
        except OcspError as error:
            return f"{error.problem.value}: {error}"

    async def _statuses(self, jobs: list[_Job]) -> list[_Outcome]:
        # Asked at once: an Authorize waits for one responder timeout at most, not one each.
        outcomes: dict[int, _Outcome] = {}

        async def ask(index: int, name: str, data: OCSPRequestData | None, issuers: Any) -> None:
            outcomes[index] = (name, await self._status(data, issuers))

        async with anyio.create_task_group() as group:
            for index, (name, data, issuers) in enumerate(jobs):
                group.start_soon(ask, index, name, data, issuers)
        return [outcomes[index] for index in range(len(jobs))]

    async def _check_chain(self, certificate: str, emaid: str, now: datetime) -> ContractCheck:
        try:
            contract = verify_contract_chain(certificate, self.mo_roots, now=now)
        except CertificateChainError as error:
            return ContractCheck(certificate_status=error.authorize_status, reason=str(error))
        if _normal_emaid(contract.emaid) != _normal_emaid(emaid):
            return ContractCheck(
                certificate_status=_CHAIN_ERROR,
                reason=f"the contract certificate is for {contract.emaid!r}, not {emaid!r}",
            )
        chain = contract.chain
        below_root = [chain.leaf, *chain.intermediates]
        issuers = [*chain.intermediates, chain.root]
        jobs: list[_Job] = []
        for subject, issuer in zip(below_root, issuers, strict=True):
            url = ocsp_responder_url(subject)
            data = None if url is None else ocsp_request_data(subject, issuer, responder_url=url)
            jobs.append((subject.subject.rfc4514_string(), data, [issuer]))
        outcomes = await self._statuses(jobs)
        ends = [c.not_valid_after_utc for c in [*below_root, chain.root]]
        return self._verdict(outcomes, min(ends), now)

    async def _check_hash_data(
        self, entries: Sequence[OCSPRequestData], now: datetime
    ) -> ContractCheck:
        roots = {
            (h.issuer_name_hash, h.issuer_key_hash)
            for root in self.mo_roots
            for entry in entries
            for h in [certificate_hash_data(root, root, entry.hash_algorithm)]
        }
        if not any(
            (e.issuer_name_hash.lower(), e.issuer_key_hash.lower()) in roots for e in entries
        ):
            return ContractCheck(
                certificate_status=_CHAIN_ERROR,
                reason="no entry of the hash data was issued by a trusted MO root",
            )
        outcomes = await self._statuses([(f"serial {e.serial_number}", e, None) for e in entries])
        return self._verdict(outcomes, now + self.default_validity, now)

    def _verdict(self, outcomes: list[_Outcome], until: datetime, now: datetime) -> ContractCheck:
        unchecked: list[str] = []
        for name, outcome in outcomes:
            if isinstance(outcome, str):
                unchecked.append(f"{name}: {outcome}")
                continue
            until = min(until, outcome.next_update or now + self.default_validity)
            if outcome.status is CertStatus.REVOKED:
                return ContractCheck(
                    certificate_status=AuthorizeCertificateStatus.CERTIFICATE_REVOKED,
                    valid_until=until,
                    reason=f"{name} is revoked",
                )
            if outcome.status is CertStatus.UNKNOWN:
                return ContractCheck(
                    certificate_status=_CHAIN_ERROR,
                    reason=f"the OCSP responder does not know {name}",
                )
        if unchecked and not self.soft_fail:
            return ContractCheck(
                certificate_status=_CHAIN_ERROR,
                reason="revocation not checked: " + "; ".join(unchecked),
            )
        if unchecked:
            log.warning("contract accepted without revocation check: %s", "; ".join(unchecked))
            until = min(until, now + self.default_validity)
        return ContractCheck(certificate_status=_ACCEPTED, valid_until=until)


class PkiV2GSigner:
    """:class:`~.seams.V2GCertificateSigner` with a CPO sub-CA's key (``pki.sign_csr``).

    The chain returned is the new leaf, ``issuer``, then ``chain`` (the sub-CAs above it, not
    the V2G root). ``expected_common_name(charge_point_id)``, when given, names the CN the CSR
    must have. A CSR that does not verify, is not P-256 or has another CN is refused (None).
    """

    def __init__(
        self,
        issuer: CertifiedKey,
        *,
        chain: Sequence[x509.Certificate] = (),
        clock: Callable[[], datetime] = _utc_now,
        validity: timedelta = timedelta(days=365),
        ocsp_url: str | None = None,
        expected_common_name: Callable[[str], str | None] | None = None,
    ) -> None:
        self.issuer = issuer
        self.chain = list(chain)
        self.clock = clock
        self.validity = validity
        self.ocsp_url = ocsp_url
        self.expected_common_name = expected_common_name

    async def sign(
        self, charge_point_id: str, csr_pem: str, certificate_type: CertificateSigningUse
    ) -> str | None:
        """The signed chain, or None for a CSR we will not sign (logged)."""
        expected = self.expected_common_name(charge_point_id) if self.expected_common_name else None
        try:
            return sign_csr(
                csr_pem,
                self.issuer,
                now=self.clock(),
                chain=self.chain,
                validity=self.validity,
                expected_common_name=expected,
                ocsp_url=self.ocsp_url,
            )
        except CsrError as error:
            log.warning("[%s] V2G CSR refused: %s", charge_point_id, error)
            return None


class OcspCertificateStatus:
    """:class:`~.seams.CertificateStatusProvider` through an :class:`~.ocsp.OcspClient`:
    the DER response as the responder gave it, good or revoked (the charge point reads it);
    an :class:`~.ocsp.OcspError` makes GetCertificateStatus Failed."""

    def __init__(self, client: OcspClient) -> None:
        self.client = client

    async def ocsp_response(self, charge_point_id: str, data: OCSPRequestData) -> bytes:
        """The DER OCSP response for ``data``, cached by the client until its nextUpdate."""
        return (await self.client.status(data)).der


class DemoContractCertificates:
    """:class:`~.seams.ContractCertificateProvider` for demos: **not ISO 15118**.

    It issues a fresh contract certificate for ``emaid`` from the demo MO sub-CA 2 and answers
    with the DER chain (leaf, sub-CA 2, sub-CA 1) as the "EXI" bytes. A real provider forwards
    the EV's EXI CertificateInstallationReq to a contract certificate pool and returns its EXI
    CertificateInstallationRes, which this library never looks into.
    """

    def __init__(
        self, pki: DemoPki, *, emaid: str | None = None, clock: Callable[[], datetime] = _utc_now
    ) -> None:
        if emaid is None:
            names = pki.contract.certificate.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
            emaid = str(names[0].value)
        self.pki = pki
        self.emaid = emaid
        self.clock = clock

    async def exi_response(
        self, charge_point_id: str, request: Get15118EVCertificateRequest, exi_request: bytes
    ) -> bytes | None:
        """A new contract chain for :attr:`emaid`, DER (see the class)."""
        contract = self.pki.issue_contract(self.emaid, now=self.clock())
        chain = [
            contract.certificate,
            self.pki.mo_sub_ca2.certificate,
            self.pki.mo_sub_ca1.certificate,
        ]
        return b"".join(c.public_bytes(Encoding.DER) for c in chain)


def demo_providers(
    pki: DemoPki, *, fetch: Fetch = http_post_ocsp, clock: Callable[[], datetime] = _utc_now
) -> PncProviders:
    """Every seam over a :class:`DemoPki`, OCSP through ``fetch`` to the responder its
    certificates name (run ``testing.ocsp_responder.serve_ocsp`` for it). Demos only."""
    cas = (pki.v2g_root, pki.cpo_sub_ca1, pki.cpo_sub_ca2, pki.mo_root, pki.mo_sub_ca1)
    authorities = [k.certificate for k in (*cas, pki.mo_sub_ca2)]
    ocsp = OcspClient(fetch, clock=clock, trusted_issuers=authorities)
    return PncProviders(
        contract_validator=PkiContractValidator([pki.mo_root.certificate], ocsp=ocsp),
        v2g_signer=PkiV2GSigner(
            pki.cpo_sub_ca2, chain=[pki.cpo_sub_ca1.certificate], clock=clock, ocsp_url=pki.ocsp_url
        ),
        contract_certificates=DemoContractCertificates(pki, clock=clock),
        certificate_status=OcspCertificateStatus(ocsp),
    )
