"""What the central system knows of each charge point's Plug & Charge certificates.

Three kinds of record, per charge point: the certificates it has installed (from its
GetInstalledCertificateIds answers and our acknowledged Install/DeleteCertificate), the V2G
(SECC) certificate signing requests we accepted and have not delivered yet, and its V2G
certificate's expiry, which the renewal job watches. :class:`PncCertificateStore` is the
protocol a host implements; :class:`MemoryPncCertificateStore` keeps it in memory,
``ocpp16csms.stores.sqlite`` in SQLite and ``ocpp16csms.stores.postgresql`` in PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any, Protocol, runtime_checkable

import attrs

from .datatypes import CertificateHashData, OCSPRequestData
from .enums import CertificateSigningUse, GetCertificateIdUse

__all__ = [
    "CertificateKey",
    "InstalledCertificate",
    "MemoryPncCertificateStore",
    "PncCertificateStore",
    "SigningRequest",
    "V2GCertificateState",
    "certificate_key",
]

CertificateKey = tuple[str, str, str, str]
"""A certificate's identity from its hash data: algorithm, both hashes, serial (normalised)."""


def certificate_key(data: CertificateHashData | OCSPRequestData) -> CertificateKey:
    """The identity of the certificate ``data`` names: hex without case, the serial without
    leading zeros (peers differ on both); ``customData`` plays no part."""
    return (
        str(data.hash_algorithm),
        data.issuer_name_hash.strip().lower(),
        data.issuer_key_hash.strip().lower(),
        data.serial_number.strip().lower().lstrip("0") or "0",
    )


def _aware(_: object, attribute: attrs.Attribute[Any], value: datetime | None) -> None:
    if value is not None and (value.tzinfo is None or value.utcoffset() is None):
        raise ValueError(f"{attribute.name} must be timezone-aware, got {value!r}")


@attrs.frozen(kw_only=True)
class InstalledCertificate:
    """A certificate installed on a charge point (2.0.1 M03, M04, M05).

    ``certificate`` is the PEM text when we installed it ourselves; a certificate known only
    from a GetInstalledCertificateIds answer has its hash data alone.
    """

    charge_point_id: str
    certificate_type: GetCertificateIdUse
    hash_data: CertificateHashData
    child_hash_data: tuple[CertificateHashData, ...] = ()
    certificate: str | None = attrs.field(default=None, repr=False)
    updated_at: datetime = attrs.field(validator=_aware)

    @property
    def key(self) -> CertificateKey:
        """The identity of the certificate (see :func:`certificate_key`)."""
        return certificate_key(self.hash_data)


@attrs.frozen(kw_only=True)
class SigningRequest:
    """A SignCertificate we answered Accepted whose chain has not been delivered (A02, A03).

    ``request_id`` is the message id of the DataTransfer that carried the CSR; ``attempts``
    counts the CertificateSigned calls made for it so far.
    """

    charge_point_id: str
    request_id: str
    csr: str = attrs.field(repr=False)
    certificate_type: CertificateSigningUse
    received_at: datetime = attrs.field(validator=_aware)
    attempts: int = 0
    last_error: str | None = None


@attrs.frozen(kw_only=True)
class V2GCertificateState:
    """A charge point's V2G (SECC) certificate as we delivered it, and its renewal.

    ``not_after`` is the end of the leaf's validity; ``renewal_requested_at`` is when we last
    asked for a new CSR (TriggerMessage SignV2GCertificate) for this certificate.
    """

    charge_point_id: str
    not_after: datetime = attrs.field(validator=_aware)
    installed_at: datetime = attrs.field(validator=_aware)
    certificate_chain: str | None = attrs.field(default=None, repr=False)
    renewal_requested_at: datetime | None = attrs.field(default=None, validator=_aware)


@runtime_checkable
class PncCertificateStore(Protocol):
    """Plug & Charge certificate state per charge point.

    Installed certificates are identified by charge point, certificate type and
    :func:`certificate_key`; signing requests by charge point and request id; V2G certificates
    by charge point. Every method may raise :class:`~ocpp16csms.stores.StoreError` when the
    backing store fails.
    """

    async def installed(self, charge_point_id: str) -> Sequence[InstalledCertificate]:
        """The charge point's installed certificates, ordered by type, then by the key's
        parts joined with ``/``."""
        ...

    async def put_installed(self, certificate: InstalledCertificate) -> None:
        """Add the certificate, or replace the one with the same charge point, type and key."""
        ...

    async def replace_installed(
        self,
        charge_point_id: str,
        certificate_types: Iterable[GetCertificateIdUse],
        certificates: Iterable[InstalledCertificate],
    ) -> None:
        """Forget every installed certificate of ``certificate_types``, then add
        ``certificates`` (which belong to this charge point), in one step."""
        ...

    async def remove_installed(self, charge_point_id: str, hash_data: CertificateHashData) -> bool:
        """Forget the certificate with this key (of any type); whether there was one."""
        ...

    async def save_signing_request(self, request: SigningRequest) -> None:
        """Add the request, or replace the one with the same charge point and request id."""
        ...

    async def signing_requests(
        self, charge_point_id: str | None = None
    ) -> Sequence[SigningRequest]:
        """Pending requests (of one charge point, or all), ordered by charge point, time
        received, then request id."""
        ...

    async def delete_signing_request(self, charge_point_id: str, request_id: str) -> bool:
        """Forget a pending request; whether there was one."""
        ...

    async def save_v2g_certificate(self, state: V2GCertificateState) -> None:
        """Set the charge point's V2G certificate state (replacing any)."""
        ...

    async def v2g_certificate(self, charge_point_id: str) -> V2GCertificateState | None:
        """The charge point's V2G certificate state, if we know one."""
        ...

    async def v2g_expiring(self, before: datetime) -> Sequence[V2GCertificateState]:
        """V2G certificates whose ``not_after`` is at or before ``before``, ordered by
        ``not_after``, then charge point."""
        ...


_InstalledKey = tuple[str, str, CertificateKey]


def _installed_key(certificate: InstalledCertificate) -> _InstalledKey:
    return (certificate.charge_point_id, str(certificate.certificate_type), certificate.key)


class MemoryPncCertificateStore:
    """:class:`PncCertificateStore` in memory."""

    def __init__(self) -> None:
        self._installed: dict[_InstalledKey, InstalledCertificate] = {}
        self._signing: dict[tuple[str, str], SigningRequest] = {}
        self._v2g: dict[str, V2GCertificateState] = {}

    async def installed(self, charge_point_id: str) -> Sequence[InstalledCertificate]:
        mine = [(k, c) for k, c in self._installed.items() if k[0] == charge_point_id]
        return [c for k, c in sorted(mine, key=lambda item: (item[0][1], "/".join(item[0][2])))]

    async def put_installed(self, certificate: InstalledCertificate) -> None:
        self._installed[_installed_key(certificate)] = certificate

    async def replace_installed(
        self,
        charge_point_id: str,
        certificate_types: Iterable[GetCertificateIdUse],
        certificates: Iterable[InstalledCertificate],
    ) -> None:
        added = list(certificates)
        for certificate in added:
            if certificate.charge_point_id != charge_point_id:
                raise ValueError("replace_installed takes certificates of its charge point only")
        kinds = {str(kind) for kind in certificate_types}
        for key in [k for k in self._installed if k[0] == charge_point_id and k[1] in kinds]:
            del self._installed[key]
        for certificate in added:
            self._installed[_installed_key(certificate)] = certificate

    async def remove_installed(self, charge_point_id: str, hash_data: CertificateHashData) -> bool:
        wanted = certificate_key(hash_data)
        gone = [k for k in self._installed if k[0] == charge_point_id and k[2] == wanted]
        for key in gone:
            del self._installed[key]
        return bool(gone)

    async def save_signing_request(self, request: SigningRequest) -> None:
        self._signing[(request.charge_point_id, request.request_id)] = request

    async def signing_requests(
        self, charge_point_id: str | None = None
    ) -> Sequence[SigningRequest]:
        chosen = [
            r
            for r in self._signing.values()
            if charge_point_id is None or r.charge_point_id == charge_point_id
        ]
        return sorted(chosen, key=lambda r: (r.charge_point_id, r.received_at, r.request_id))

    async def delete_signing_request(self, charge_point_id: str, request_id: str) -> bool:
        return self._signing.pop((charge_point_id, request_id), None) is not None

    async def save_v2g_certificate(self, state: V2GCertificateState) -> None:
        self._v2g[state.charge_point_id] = state

    async def v2g_certificate(self, charge_point_id: str) -> V2GCertificateState | None:
        return self._v2g.get(charge_point_id)

    async def v2g_expiring(self, before: datetime) -> Sequence[V2GCertificateState]:
        due = [s for s in self._v2g.values() if s.not_after <= before]
        return sorted(due, key=lambda s: (s.not_after, s.charge_point_id))
